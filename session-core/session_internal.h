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
    void *state;        /* the kind's, freed by ops->logoff */
    size_t row;         /* index of its row in session.rows */
    bool authenticates; /* checks logon passwords (profile auth "upstream") */
    uint8_t uid[MAPIUID_LEN];
} session_provider;

extern const uint8_t SESSION_STATUS_UID[MAPIUID_LEN];

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
    size_t ab_failures; /* address-book providers lost at logon */

    /* Subscriptions (session_events.c), under their own lock so that an
     * event can be queued from inside a provider call. */
    pthread_mutex_t ev_lock;
    struct session_sub *subs;
};

/* A new session (one reference, no providers yet); takes a new reference to
 * store. */
HRESULT session_create(profile_store *store, const profile *p, uint32_t flags,
                       unsigned idle_timeout_s, unsigned lifetime_s, time_t now, session **out);

/* Logs the profile's providers on as MAPILogonEx does (address books, stores,
 * then transports unless MAPI_NO_MAIL; UNCONFIGURED retried once, then the
 * service disabled; FAILONEPROVIDER drops only that provider) and builds the
 * status table. Fails only when out of memory. */
HRESULT session_logon_providers(session *s, const char *password);

/* For a logon joining s: checks password with the provider that
 * authenticated the session (profile auth "upstream"). */
HRESULT session_check_password(session *s, const char *password);

/* Ends the session: tells subscribers why (a critical-error event), marks
 * it ended and logs its providers off. Idempotent. The registry must already
 * have dropped it. reason: a static string (session_event.reason). */
void session_end(session *s, const char *reason);

/* Queues a TABLE_MODIFIED event with a copy of row for every subscriber
 * (called with s->lock held, when a row changed). */
void session_events_row_modified(session *s, const status_row *row);
/* Queues the critical error and closes every subscription's queue. */
void session_events_end(session *s, const char *reason);

/* Re-reads every provider's status into its row (s->lock held); queues a
 * TABLE_MODIFIED event per changed row and bumps the version. */
HRESULT session_refresh_rows(session *s);

/* Polls the session's providers (provider_ops.poll) and queues events for
 * rows that changed. */
void session_poll(session *s);

void session_touch(session *s, time_t now);
bool session_expired(const session *s, time_t now);
