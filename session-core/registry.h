/* registry.h - where live sessions and their handles are kept.
 *
 * The core talks to the registry only through this vtable, so a shared store
 * (Redis, for several gateways behind one balancer) can replace the in-memory
 * one later without touching core.c. The in-memory registry keeps three
 * indexes: token hash -> handle, session id -> session, profile name -> that
 * profile's session count and shared session.
 *
 * Ownership: the registry holds one session reference per handle. Sessions
 * handed out are new references. Sessions it removes are returned to the
 * caller (with the registry's reference) so that the caller ends them outside
 * the registry's lock.
 *
 * Thread-safety: every operation may be called concurrently.
 */
#pragma once

#include "session.h"
#include "token.h"

typedef struct registry registry;

typedef struct {
    unsigned max_sessions;             /* MAPI_E_NOT_ENOUGH_RESOURCES past it */
    unsigned max_sessions_per_profile; /* MAPI_E_SESSION_LIMIT past it */
    unsigned max_handles_per_session;  /* MAPI_E_SESSION_LIMIT past it */
} registry_limits;

/* A list of sessions removed from the registry; the caller ends and unrefs
 * each (registry_ended_finish does both). */
typedef struct {
    session **items;
    size_t count;
    const char *reason; /* told to their subscribers; static */
} registry_ended;

typedef struct registry_ops {
    /* Adds a new session with its first handle. publish_shared: make it the
     * profile's shared session if the profile has none. */
    HRESULT (*add_session)(registry *r, session *s, const token_hash *h, bool publish_shared);
    /* Adds a handle to the profile's shared session: S_OK and a new reference,
     * MAPI_E_NOT_FOUND when the profile has no shared session. */
    HRESULT (*join_shared)(registry *r, const char *profile, const token_hash *h, session **out);
    /* The only shared session of the whole gateway: S_OK and a new reference,
     * MAPI_E_NOT_FOUND when there is none or more than one. */
    HRESULT (*sole_shared)(registry *r, session **out);
    /* The session of a handle (new reference) or MAPI_E_END_OF_SESSION. */
    HRESULT (*lookup)(registry *r, const token_hash *h, session **out);
    /* Removes one handle; the session too when it was its last handle, or
     * every handle when end_all. MAPI_E_END_OF_SESSION if the handle is gone.
     * A handle removed alone has its event subscriptions ended at once
     * (ended->reason), before this returns. */
    HRESULT (*remove_handle)(registry *r, const token_hash *h, bool end_all, registry_ended *ended);
    /* Removes a session and all its handles; MAPI_E_NOT_FOUND if absent. */
    HRESULT (*remove_session)(registry *r, const char *id, registry_ended *ended);
    /* A new reference to the session with that id, or NULL. */
    session *(*find)(registry *r, const char *id);
    /* Removes every session for which pred is true (or all when pred NULL). */
    void (*remove_where)(registry *r, bool (*pred)(const session *s, void *ctx), void *ctx,
                         registry_ended *ended);
    /* New references to every session (a snapshot), malloc'd array. */
    HRESULT (*snapshot)(registry *r, session ***out, size_t *count);
    void (*counts)(registry *r, size_t *sessions, size_t *handles);
    void (*free)(registry *r);
} registry_ops;

struct registry {
    const registry_ops *ops;
};

registry *registry_memory_new(const registry_limits *limits);

/* Ends every session in ended (session_end), drops the references, frees the
 * list. */
void registry_ended_finish(registry_ended *ended);
