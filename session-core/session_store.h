/* session_store.h - where live sessions and their handles are kept: the
 * session store.
 *
 * What the store keeps, in records it owns: a handle record per bearer token
 * (by the token's hash; the store never sees a token), a session record per
 * session (by id: its handles, whether it is its profile's shared session)
 * and a profile record per profile name (its session count, its shared
 * session). struct session holds none of it: a session is reached by its id
 * and its profile name (session_id, session_profile_name), and the only
 * thing the store keeps of it is a reference. Every verb names what it acts
 * on by value (a token hash, a session id, a profile name), checks the caps
 * and changes the records in one step, and returns sessions to end rather
 * than ending them itself: the operations a shared store (one that several
 * gateways use) does atomically on its side, while the session objects, with
 * their logged-on providers, stay in the process that holds them.
 *
 * This in-memory store holds every session of a gateway on its own; with a
 * shared store (shared_store.h) it is each replica's index of the sessions
 * it has built.
 *
 * Ownership: the store holds one session reference per session record.
 * Sessions handed out are new references. Sessions it removes come back in a
 * session_store_ended list (with the store's reference), and so does the
 * session of a handle removed alone: the caller ends them outside the store
 * (session_store_ended_finish).
 *
 * Thread-safety: every verb but session_store_new/free may be called
 * concurrently. session_store_lookup (every request that carries a token)
 * takes a read lock and allocates nothing; only the predicate of
 * session_store_remove_where runs under the store's lock (it must only read
 * the session it is given).
 */
#pragma once

#include "session.h"
#include "token.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct session_store session_store;

typedef struct {
    unsigned max_sessions;             /* MAPI_E_NOT_ENOUGH_RESOURCES past it */
    unsigned max_sessions_per_profile; /* MAPI_E_SESSION_LIMIT past it */
    unsigned max_handles_per_session;  /* MAPI_E_SESSION_LIMIT past it */
} session_store_limits;

/* What to do once out of the store: the sessions it removed (end and unref
 * each) and the session of a handle removed alone, whose event streams end
 * (the session lives on for its other handles). Start it empty with
 * SESSION_STORE_ENDED_INIT(reason) (reason static, told to subscribers;
 * NULL: "shutdown" for sessions, "logoff" for a handle);
 * session_store_ended_finish does the rest. */
typedef struct {
    session **items;
    size_t count;
    const char *reason;
    session *handle_session; /* a new reference, or NULL */
    token_hash handle;       /* the handle removed alone */
} session_store_ended;
#define SESSION_STORE_ENDED_INIT(reason)                                                           \
    {                                                                                              \
        NULL, 0, (reason), NULL,                                                                   \
        {                                                                                          \
            {                                                                                      \
                0                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* What the store knows of one session. */
typedef struct {
    bool shared;    /* its profile's shared session */
    size_t handles; /* live handles (bearer tokens) */
} session_store_facts;

typedef struct {
    size_t sessions;
    size_t handles;
    uint64_t walks; /* verbs that went over every session so far (snapshot, remove_where) */
} session_store_totals;

/* An empty store; NULL when out of memory. */
session_store *session_store_new(const session_store_limits *limits);
/* Ends every session still in it ("shutdown") and frees the store. */
void session_store_free(session_store *st);

/* Adds a new session with its first handle. publish_shared: make it the
 * profile's shared session if the profile has none; *shared (may be NULL)
 * tells whether it became that. NOT_ENOUGH_RESOURCES, SESSION_LIMIT,
 * NOT_ENOUGH_MEMORY; nothing added then. */
HRESULT session_store_add(session_store *st, session *s, const token_hash *h, bool publish_shared,
                          bool *shared);
/* Adds a handle to the profile's shared session: S_OK and a new reference,
 * MAPI_E_NOT_FOUND when the profile has no shared session, SESSION_LIMIT
 * when it has as many handles as it may. */
HRESULT session_store_join_shared(session_store *st, const char *profile_name, const token_hash *h,
                                  session **out);
/* Adds a handle to the session with that id, without caps (a shared store
 * checked them): S_OK and a new reference (also when the handle is there
 * already), MAPI_E_NOT_FOUND when no such session. */
HRESULT session_store_add_handle(session_store *st, const char *id, const token_hash *h,
                                 session **out);
/* The hashes of every handle (a snapshot), in a malloc'd array. */
HRESULT session_store_handles(session_store *st, token_hash **out, size_t *count);
/* The only shared session of the whole store: S_OK and a new reference,
 * MAPI_E_NOT_FOUND when there is none or more than one. */
HRESULT session_store_sole_shared(session_store *st, session **out);

/* The session of a handle (new reference) or MAPI_E_END_OF_SESSION. */
HRESULT session_store_lookup(session_store *st, const token_hash *h, session **out);
/* A new reference to the session with that id, or NULL. */
session *session_store_find(session_store *st, const char *id);
/* The facts of the session with that id: S_OK, or MAPI_E_NOT_FOUND when it
 * is not in the store (any more). */
HRESULT session_store_facts_of(session_store *st, const char *id, session_store_facts *out);

/* Removes one handle; its session too when it was the last handle, or with
 * every handle when end_all. MAPI_E_END_OF_SESSION if the handle is gone. */
HRESULT session_store_remove_handle(session_store *st, const token_hash *h, bool end_all,
                                    session_store_ended *ended);
/* Removes a session and all its handles; MAPI_E_NOT_FOUND if absent. */
HRESULT session_store_remove_session(session_store *st, const char *id, session_store_ended *ended);
/* Removes every session for which pred is true (all when pred is NULL).
 * Out of memory: removes nothing (the caller's next sweep tries again). */
void session_store_remove_where(session_store *st, bool (*pred)(const session *s, void *ctx),
                                void *ctx, session_store_ended *ended);

/* New references to every session (a snapshot), in a malloc'd array. */
HRESULT session_store_snapshot(session_store *st, session ***out, size_t *count);
void session_store_counts(session_store *st, session_store_totals *out);

/* Ends every session of the list (session_end with its reason) and drops
 * the references, ends the event streams of the handle removed alone, and
 * empties the list. */
void session_store_ended_finish(session_store_ended *ended);
