/* session_internal.h - the session struct and the verbs only the core's own
 * modules (core.c, registry.c) use. Not for api/ or server/.
 */
#pragma once

#include "htab.h"
#include "provider.h"
#include "session.h"
#include "token.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct session_provider {
    const provider_ops *ops;
    const provider_config *cfg;
    void *state; /* the kind's, freed by ops->logoff */
    size_t row;  /* index of its row in session.rows */
} session_provider;

/* A handle: one bearer token on a session. Owned by the registry. */
typedef struct session_handle {
    htab_node node; /* in the registry's token table */
    token_hash hash;
    struct session *session; /* counted reference */
    struct session_handle *next_in_session;
} session_handle;

struct session {
    atomic_uint refs;
    char id[SESSION_ID_LEN + 1];
    profile_store *store; /* reference: keeps profile alive */
    const profile *profile;
    uint32_t flags;
    time_t created_at;
    unsigned idle_timeout_s;
    unsigned lifetime_s;
    atomic_llong last_used_at;
    atomic_bool ended;

    /* Registry-owned: changed only under the registry's lock. */
    htab_node by_id;
    session_handle *handles;
    atomic_size_t handle_count;
    atomic_bool shared;

    /* Guarded by lock: the providers and the rows they feed. */
    pthread_mutex_t lock;
    session_provider *providers;
    size_t provider_count;
    status_row *rows;
    size_t row_count;
    uint64_t version;
};

/* A new session (one reference, no providers yet); takes a new reference to
 * store. */
HRESULT session_create(profile_store *store, const profile *p, uint32_t flags,
                       unsigned idle_timeout_s, unsigned lifetime_s, time_t now, session **out);

/* Logs the profile's providers on as MAPILogonEx does (address books, stores,
 * then transports unless MAPI_NO_MAIL; UNCONFIGURED retried once, then the
 * service disabled; FAILONEPROVIDER drops only that provider) and builds the
 * status table. Fails only when out of memory. */
HRESULT session_logon_providers(session *s);

/* Ends the session: marks it ended and logs its providers off. Idempotent.
 * The registry must already have dropped it. */
void session_end(session *s);

void session_touch(session *s, time_t now);
bool session_expired(const session *s, time_t now);
