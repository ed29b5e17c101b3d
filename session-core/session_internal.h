/* session_internal.h - the session struct, what the sessions of one core
 * share (session_env), and the verbs only the core's own modules (core.c,
 * session_store.c, session_*.c) use. Not for api/ or server/.
 */
#pragma once

#include "provider_inst.h"
#include "session.h"
#include "session_stats.h"
#include "session_view.h"
#include "token.h"

#include <pthread.h>
#include <stdatomic.h>

extern const uint8_t SESSION_STATUS_UID[MAPIUID_LEN];

/* Locks of sessions without their own: enough that two busy sessions rarely
 * share one, few enough to cost nothing per session. */
#define SESSION_LOCK_POOL 1024

/* What the sessions of one core share: the pool of provider instances, the
 * interned views, the locks of sessions without their own, the
 * provider-status gauges and the serials of instance keys. The core makes
 * one (session_env_new) and each of its sessions holds a reference, so a
 * session reference kept past core_free still works (as an ended session)
 * and the shared state goes with the last one. Nothing of it is process-wide:
 * two cores share nothing. */
typedef struct session_env {
    atomic_uint refs;
    /* Serials make instance keys unique within the core, never reused while
     * it lives (docs/contract/mapi.md, PR_INSTANCE_KEY; the gateway has one
     * core): a key is the serial and the row's index. */
    atomic_uint_fast64_t next_serial;
    pinst_pool *pool;
    view_table *views;
    session_stats *stats;
    pthread_mutex_t locks[SESSION_LOCK_POOL];
    pthread_mutex_t ev_locks[SESSION_LOCK_POOL];
    /* Events (session_events.c): the replay window of each session (0: none,
     * every reconnect gets a RESYNC), and what the subscriber queues
     * dropped, coalesced (a newer change of the same row) or for lack of
     * room. Set before the first session; the counters only grow. */
    unsigned events_replay;
    unsigned sub_queue_max; /* 1..SESSION_SUB_QUEUE_MAX (tests make it small) */
    atomic_uint_fast64_t events_coalesced;
    atomic_uint_fast64_t events_overflowed;
} session_env;

/* One reference; NULL when out of memory. */
session_env *session_env_new(void);
session_env *session_env_ref(session_env *env);
/* The last reference frees the pool (its idle instances), the view table,
 * the gauges and the locks. NULL is fine. */
void session_env_unref(session_env *env);

/* An idle session is this struct and the store's two records (a session
 * record and a handle record, session_store.c): the providers and rows it
 * logged on to are in a view it shares with sessions of the same profile
 * (session_view.h), and its locks come from its env's pool unless it owns
 * network connections. Keep it small: a million of them is a normal day
 * (bench/RESULTS.md). What the store knows of it (handles, shared) is the
 * store's, not here. */
struct session {
    atomic_uint refs;
    uint32_t flags;
    char id[SESSION_ID_LEN + 1];
    atomic_bool ended;
    session_env *env;     /* reference */
    profile_store *store; /* reference: keeps profile alive */
    const profile *profile;
    time_t created_at;
    atomic_llong last_used_at;
    atomic_llong shared_touched_at; /* the last use second queued to a shared store */
    uint32_t idle_timeout_s;
    uint32_t lifetime_s;
    uint64_t serial; /* the high bits of its rows' instance keys */

    /* Guarded by the session lock (session_lock). */
    session_view *view; /* NULL until the providers logged on */
    uint64_t version;

    /* Subscriptions (session_events.c), under the events lock so that an
     * event can be queued from inside a provider call. */
    struct session_sub *subs;
    /* The replay window and the event sequence, also under the events lock;
     * NULL until the first subscription (most sessions never have one). */
    struct session_replay *replay;

    /* The session's own lock when it has its own provider instances (their
     * calls may block on the network for seconds, which must not stall
     * other sessions); NULL: a lock of the pool. */
    pthread_mutex_t *own_lock;
};

/* The session's lock: guards view and version, and serialises calls on its
 * own provider instances. Never held while taking another session's. */
void session_lock(session *s);
void session_unlock(session *s);
/* The events lock: guards subs. Taken after the session lock, never before. */
void session_ev_lock(session *s);
void session_ev_unlock(session *s);

/* The view under the session's lock: never NULL (an empty one before the
 * providers logged on). */
const session_view *session_view_of(const session *s);

/* Row i of the session's table as the caller's own copy, with the session's
 * instance key and entry id. 0, or -1 when out of memory. */
int session_row_copy(const session *s, size_t i, status_row *dst);
/* The session's instance key of row i, and the row an instance key names
 * (SIZE_MAX when none). */
void session_row_key(const session *s, size_t i, uint8_t ik[STATUS_INSTANCE_KEY_LEN]);
size_t session_row_index(const session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN]);

/* A new session of env (one reference, no providers yet); takes a new
 * reference to env and to store. */
HRESULT session_create(session_env *env, profile_store *store, const profile *p, uint32_t flags,
                       unsigned idle_timeout_s, unsigned lifetime_s, time_t now, session **out);

/* The same with the id and serial given: a session another gateway created
 * (shared_store.h), built here from its record. */
HRESULT session_create_as(session_env *env, profile_store *store, const profile *p, uint32_t flags,
                          unsigned idle_timeout_s, unsigned lifetime_s, time_t created,
                          const char *id, uint64_t serial, session **out);

/* Logs the profile's providers on as MAPILogonEx does (address books, stores,
 * then transports unless MAPI_NO_MAIL; UNCONFIGURED retried once, then the
 * service disabled; FAILONEPROVIDER drops only that provider) and builds the
 * status table. Fails only when out of memory. */
HRESULT session_logon_providers(session *s, const char *password);

/* For a logon joining s: checks password with the provider that
 * authenticated the session (profile auth "upstream"). */
HRESULT session_check_password(session *s, const char *password);

/* Ends the session: tells subscribers why (a critical-error event), marks
 * it ended and logs its providers off. Idempotent. The session store must
 * already have dropped it. reason: a static string (session_event.reason). */
void session_end(session *s, const char *reason);

/* Queues a TABLE_MODIFIED event with a copy of row i for every subscriber
 * (called with the session lock held, when the row changed). */
void session_events_row_modified(session *s, size_t i);
/* Queues the critical error and closes every subscription's queue. */
void session_events_end(session *s, const char *reason);
/* The same for the subscriptions opened with one handle only (that handle
 * logged off while the session lives on for its other handles). */
void session_events_handle_end(session *s, const token_hash *handle, const char *reason);
/* Frees the replay window (the last reference is going). */
void session_events_free(session *s);

/* Re-reads every provider's status into its row (session lock held); queues a
 * TABLE_MODIFIED event per changed row and bumps the version. */
HRESULT session_refresh_rows(session *s);

/* Polls the session's providers (provider_ops.poll) and queues events for
 * rows that changed. */
void session_poll(session *s);

/* The spooler's second half (session_submit.c), with the session lock held,
 * after transports ran (poll, FlushQueues): files their finished deliveries
 * into Sent Items, non-delivery and delivery reports into the Inbox. */
void session_spool_outcomes(session *s);

void session_touch(session *s, time_t now);
bool session_expired(const session *s, time_t now);
