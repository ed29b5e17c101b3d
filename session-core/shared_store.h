/* shared_store.h - the session store that several gateways share, on Redis
 * (--store redis://... or redis-sentinel://...).
 *
 * It keeps what every replica must agree on: session records and their
 * handles (token hashes only), each profile's shared session and session
 * count, deadlines (idle and lifetime, on Redis's clock), the caps, the
 * failed-logon budgets, the instance-key serial, and a stream of ends (a
 * session or one handle gone, and why). The session objects with their
 * logged-on providers stay in each process (session_store.h is their local
 * index); a replica that meets a handle it has not seen builds the session
 * from the record (core_shared.c).
 *
 * Changes are Lua scripts (shared_scripts.h), one step each; a handle's
 * lookup is two plain reads. A worker thread reads the stream of ends and
 * tells the listener of each, flushes the uses queued by shared_store_touch
 * every SHARED_TOUCH_MS, runs the reaper every SHARED_REAP_MS, and is the
 * store's pulse: shared_store_usable turns false when it has not heard from
 * Redis for the grace, and true again once it has.
 *
 * Ownership: records are copied out into the caller's structs; a sealed
 * password handed out is malloc'd and the caller's.
 *
 * Thread-safety: every verb may be called concurrently. The listener is
 * called from the worker thread only, never with a lock of the store held.
 */
#pragma once

#include "hresult.h"
#include "profile.h"
#include "token.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SHARED_TOUCH_MS 250
#define SHARED_REAP_MS 1000
#define SHARED_PROFILE_MAX (PROFILE_NAME_MAX_CHARS * 4 + 1)

typedef struct shared_store shared_store;

typedef struct {
    const char *url;        /* redis://... or redis-sentinel://... */
    const char *password;   /* NULL: none */
    const char *prefix;     /* of every key */
    unsigned grace_ms;      /* unreachable for longer: not usable */
    unsigned wait_replicas; /* WAIT for that many replicas after an end (bounded) */
    unsigned max_sessions, max_sessions_per_profile, max_handles_per_session;
    unsigned throttle_threshold, throttle_client_threshold, throttle_max_delay_s;
} shared_store_config;

/* A session record as Redis has it. */
typedef struct {
    char id[SESSION_ID_LEN + 1];
    char profile[SHARED_PROFILE_MAX];
    uint32_t flags;
    time_t created_at, last_used_at, expires_at;
    unsigned idle_timeout_s, lifetime_s;
    uint64_t serial;
    bool shared;
    size_t handles;
    unsigned throttled_s; /* shared_store_logon refused a throttled client: its wait */
} shared_session;

typedef enum {
    SHARED_EVENT_SESSION_END, /* id ended, every handle with it */
    SHARED_EVENT_HANDLE_END,  /* handle of id logged off; the session lives on */
    SHARED_EVENT_RESYNC,      /* events may have been missed: check every cached one */
} shared_event_kind;

typedef struct {
    shared_event_kind kind;
    const char *id;
    const token_hash *handle; /* HANDLE_END */
    const char *reason;       /* static: "logoff", "logoff_shared", "expired", "admin", ... */
} shared_event;

typedef struct {
    void (*on_event)(void *ctx, const shared_event *ev);
    void *ctx;
} shared_store_listener;

/* Parses the URL and starts the worker (which connects, and keeps trying):
 * S_OK even while Redis is down. MAPI_E_INVALID_PARAMETER with *why (static)
 * for a malformed URL. */
HRESULT shared_store_open(const shared_store_config *cfg, const shared_store_listener *listener,
                          shared_store **out, const char **why);
/* Stops the worker; sessions stay in Redis for the other replicas. */
void shared_store_close(shared_store *st);

/* Heard from Redis within the grace. */
bool shared_store_usable(shared_store *st);
const char *shared_store_describe(const shared_store *st);
uint64_t shared_store_errors(shared_store *st);

/* A 32-byte secret every gateway of the store shares (drawn once, kept in
 * Redis): false until the worker has read it. For keys that must verify on
 * every replica (list cursors). */
bool shared_store_secret(shared_store *st, uint8_t out[32]);

/* Every verb answers MAPI_E_NETWORK_ERROR when Redis cannot be reached. */

/* A new session with its first handle; caps as session_store_add. Fills
 * out (serial, created, shared). */
typedef struct {
    const char *id, *pname;
    uint32_t flags;
    unsigned idle_s, lifetime_s;
    const token_hash *handle;
    const uint8_t *sealed; /* the password sealed for this handle, or NULL */
    size_t sealed_len;
    bool publish_shared;
    /* Check the failed-password budgets of (pname, client) in the same step,
     * for a logon that checks no password (one round trip instead of two):
     * MAPI_E_LOGON_FAILED with out->throttled_s when blocked. */
    bool throttle;
    const char *client;
} shared_logon;
HRESULT shared_store_logon(shared_store *st, const shared_logon *in, shared_session *out);
/* A handle on the profile's shared session: NOT_FOUND, SESSION_LIMIT. */
HRESULT shared_store_join(shared_store *st, const char *pname, const token_hash *h,
                          const uint8_t *sealed, size_t sealed_len, shared_session *out);
/* The only shared session of the store, or NOT_FOUND. */
HRESULT shared_store_sole_shared(shared_store *st, shared_session *out);
/* The session of a handle: END_OF_SESSION for none (or past its deadline).
 * *sealed (may be NULL) gets the handle's sealed password. */
HRESULT shared_store_handle(shared_store *st, const token_hash *h, shared_session *out,
                            uint8_t **sealed, size_t *sealed_len);
/* The record of a session: NOT_FOUND. */
HRESULT shared_store_get(shared_store *st, const char *id, shared_session *out);
/* Logoff of one handle (its session too if it was the last, or all of
 * them when all): END_OF_SESSION when the handle is unknown. *session_ended
 * tells which (may be NULL); *id (may be NULL) gets the session id. */
HRESULT shared_store_logoff(shared_store *st, const token_hash *h, bool all,
                            char id[SESSION_ID_LEN + 1], bool *session_ended);
/* Ends a session with every handle: NOT_FOUND. reason: static. */
HRESULT shared_store_end(shared_store *st, const char *id, const char *reason);
/* Every record (a snapshot), malloc'd. */
HRESULT shared_store_list(shared_store *st, shared_session **out, size_t *count);
HRESULT shared_store_counts(shared_store *st, size_t *sessions, size_t *handles);

/* A use of session id at when (unix seconds): queued, sent with others by
 * the worker. Never blocks on Redis. */
void shared_store_touch(shared_store *st, const char *id, time_t when);

/* The failed-password budgets of throttle.h, shared. check: seconds to wait
 * (0: may try) and whether the (profile, client) key holds failures (a
 * success then clears it; otherwise there is nothing to clear, and no round
 * trip); on NETWORK_ERROR the logon cannot run anyway. */
HRESULT shared_store_throttle_check(shared_store *st, const char *pname, const char *client,
                                    unsigned *wait_s, bool *has_failures);
void shared_store_throttle_failure(shared_store *st, const char *pname, const char *client);
void shared_store_throttle_success(shared_store *st, const char *pname, const char *client);

/* Passwords changed through a status row (IMAPIStatus::ChangePassword):
 * per profile, the verifier the profiles file had (base) and the one now.
 * A gateway adopts "now" while its file still has "base"; a file that
 * changed since wins (docs/contract/mapi.md). get: NOT_FOUND when none. */
HRESULT shared_store_password_get(shared_store *st, const char *pname, char *base, char *now,
                                  size_t size);
HRESULT shared_store_password_set(shared_store *st, const char *pname, const char *base,
                                  const char *now);
void shared_store_password_forget(shared_store *st, const char *pname);
