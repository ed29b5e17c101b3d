/* session_view.h - what a session has logged on to: its provider instances
 * and its status table, as one value that sessions share.
 *
 * A million sessions of one profile usually have identical views (the same
 * shared provider instances, the same rows), so a finished view is interned:
 * sessions with equal views hold one copy. A view is never changed while
 * shared: a session changing its rows first takes its own copy (view_own),
 * then interns the result again (view_intern).
 *
 * Rows hold view-local instance keys (the row's index); the session turns
 * them into its own never-reused keys when it hands rows out (session.c).
 *
 * Views are interned in a view_table: each core has one (in its
 * session_env), and a view keeps a pointer to the table it belongs to.
 *
 * Threading: view_intern, view_find, view_own and view_unref may be called
 * concurrently on different sessions' views; a view reached through a
 * session is read and replaced under that session's lock.
 */
#pragma once

#include "htab.h"
#include "provider_inst.h"
#include "status_row.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct view_table view_table;

typedef struct session_view {
    provider_inst **providers; /* counted references */
    size_t *provider_row;      /* providers[i]'s row in rows */
    size_t provider_count;
    status_row *rows;
    size_t row_count;
    size_t ab_failures; /* address-book providers lost at logon */
    bool no_mail;       /* built for a MAPI_NO_MAIL logon (the spooler's row) */
    /* providers[i]->gen when the rows were read from them: while every
     * instance is still at its generation, the rows are what a new logon
     * would build (view_find). Guarded by the intern lock once interned. */
    unsigned *gens;
    /* Private to session_view.c. */
    view_table *table; /* where it is (or would be) interned */
    unsigned refs;
    bool interned;
    htab_node node;       /* by content */
    htab_node probe_node; /* by instances and logon shape */
} session_view;

/* An empty intern table; NULL when out of memory. */
view_table *view_table_new(void);
/* Frees the table; every view of it must have been released. NULL is fine. */
void view_table_free(view_table *t);

/* An empty view (no rows, no providers) of table t owned by the caller; NULL
 * when out of memory. Room for nprov providers and nrows rows (counts stay
 * 0). */
session_view *view_new(view_table *t, size_t nprov, size_t nrows);

/* Takes v (the caller's own) and returns the view to use instead: v itself,
 * or an equal view interned in v's table (v is then freed). Views with a session's own
 * provider instances are never interned (nobody else could share them). */
session_view *view_intern(session_view *v);

/* A logon's shortcut: the interned view that logging on to exactly these
 * shared instances (in this order), with this NO_MAIL flag and address-book
 * failure count, would build now, with a new reference; NULL when there is
 * none (then build one and intern it). */
session_view *view_find(view_table *t, provider_inst *const *providers, size_t n, bool no_mail,
                        size_t ab_failures);

/* Records providers[i]->gen into gens (after the rows were read). */
void view_capture_gens(session_view *v);

/* Makes *vp the caller's own, copying it when shared. S_OK or
 * MAPI_E_NOT_ENOUGH_MEMORY (*vp unchanged). */
HRESULT view_own(session_view **vp);

void view_unref(session_view *v); /* NULL is fine */
