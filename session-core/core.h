/* core.h - the session core's front door: logon, authentication of bearer
 * tokens, logoff, expiry, caps.
 *
 * Ownership: core_new steals the profile store reference; core_free logs off
 * every session. Sessions returned to callers are new references
 * (session_unref them); one kept past core_free stays valid (ended).
 *
 * A core is an object: it owns its session store and everything its
 * sessions share (the pool of shared provider instances, the interned
 * views, the session locks, the provider-status gauges, the serials of
 * instance keys). Two cores in one process share nothing; the gateway makes
 * one.
 *
 * Thread-safety: every function except core_new/core_free may be called
 * concurrently from any number of threads.
 */
#pragma once

#include "hresult.h"
#include "profile.h"
#include "session.h"
#include "session_stats.h"
#include "token.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct core core;

/* Every field as given: the core has no defaults of its own (the gateway's
 * options table, server/config.c, gives them; tests take config_defaults). */
typedef struct {
    unsigned idle_timeout_s;           /* a session unused this long ends */
    unsigned lifetime_s;               /* a session ends this long after logon */
    unsigned max_sessions;             /* gateway-wide: NOT_ENOUGH_RESOURCES past it */
    unsigned max_sessions_per_profile; /* SESSION_LIMIT past it */
    unsigned max_handles_per_session;  /* SESSION_LIMIT past it (shared joins) */
    long logon_timeout_short_ms;       /* MAPI_TIMEOUT_SHORT's "a few seconds" */
    unsigned throttle_threshold;       /* failed logons per (profile, client) before 429;
                                          4x that per client, any profile */
    unsigned throttle_max_delay_s;     /* the longest wait a throttled client is given */
    unsigned max_password_checks;      /* argon2id verifications at once (0: half the CPUs,
                                          at least 2);
                                          past it MAPI_E_BUSY at once */
    /* Where sessions live: NULL or "memory" (this process alone), or a
     * shared Redis store (shared_store.h) for several gateways. */
    const char *store_url;
    const char *store_password;   /* NULL: none */
    const char *store_prefix;     /* of every Redis key */
    unsigned store_grace_ms;      /* Redis out of reach this long: fail closed */
    unsigned store_wait_replicas; /* WAIT for replicas after an end */
    unsigned events_replay;       /* table events each session keeps for a
                                     reconnecting subscriber (0: none) */
} core_config;

/* MAPI_E_INVALID_PARAMETER for a malformed store URL (the gateway's options
 * check it first). A shared store is not reached here: the core starts
 * while Redis is away and is ready once it answers (core_store_ready). */
HRESULT core_new(const core_config *cfg, profile_store *profiles, core **out);
void core_free(core *c);

/* Replaces the profile store (SIGHUP). New logons (joins too) use it; open
 * sessions keep the store they logged on with, except that every session
 * whose profile is gone from the new store or authenticates differently
 * there (another kind, another verifier) is ended (reason "profile_changed"):
 * a password changed or removed stops working at once. Returns how many
 * sessions ended. Steals the reference. */
size_t core_replace_profiles(core *c, profile_store *profiles);
/* A new reference to the current store. */
profile_store *core_profiles(core *c);

typedef struct {
    const char *profile;  /* NULL or "" for none */
    const char *password; /* NULL for none */
    uint32_t flags;       /* MAPILogonEx flags, as sent */
    const char *client;   /* the caller's address, for throttling; may be NULL */
} core_logon_request;

typedef struct {
    char token[TOKEN_STRING_LEN + 1]; /* the new handle: show it once, then wipe */
    session *session;                 /* a new reference */
    bool joined;                      /* joined an existing shared session */
    bool shared;                      /* the session is its profile's shared session */
    unsigned retry_after_s;           /* with LOGON_FAILED: throttled, retry then */
    bool store_unreachable;           /* with NETWORK_ERROR: the shared store's, not a provider's */
} core_logon_result;

/* MAPILogonEx (docs/contract/mapi.md 2.3, docs/contract/http.md 3.1). Errors: UNKNOWN_FLAGS,
 * INVALID_PARAMETER (several UI flags), LOGON_FAILED (unknown profile, bad
 * password, no profile and no default, a prompt would be needed; with
 * out->retry_after_s set when too many failures from this client are being
 * throttled and the password was not even checked), BUSY (as many password
 * checks as allowed are running: answered at once), TIMEOUT,
 * SESSION_LIMIT, NOT_ENOUGH_RESOURCES, NOT_ENOUGH_MEMORY.
 * Every LOGON_FAILED that was not throttled costs exactly one argon2id
 * verification, whatever the reason, so its timing does not tell which. */
HRESULT core_logon(core *c, const core_logon_request *req, core_logon_result *out);

/* Whether a logon naming profile (NULL or "": none) from client may run a
 * password check: false for a profile of the current store without
 * authentication, and while the client is throttled for that profile (the
 * answer is then a 429 without any check). Lets the HTTP layer answer those
 * on its own threads and hand the others to threads that may hash. */
bool core_logon_checks_password(core *c, const char *profile, const char *client);

/* The bound on password checks running at once (config 0 resolved). */
unsigned core_max_password_checks(const core *c);

/* IMAPIStatus::ChangePassword on session s for a caller at client (see
 * session_change_password), with the logon's defences: a wrong old password
 * counts as a failed logon of the session's profile from client, a throttled
 * client gets LOGON_FAILED with *retry_after_s set (nothing checked), and
 * the check takes a password-check slot (BUSY when none is free). Calls the
 * object would refuse anyway (unknown row, method bit clear) are passed on
 * untouched. */
HRESULT core_change_password(core *c, session *s, const char *client,
                             const uint8_t ik[STATUS_INSTANCE_KEY_LEN], const char *old_password,
                             const char *new_password, status_row *row_out,
                             unsigned *retry_after_s);

/* Resolves a bearer token: S_OK with a new session reference and the handle's
 * hash, or MAPI_E_END_OF_SESSION for anything that is not a live handle
 * (malformed, unknown, logged off, expired). Marks the session used. With a
 * shared store: MAPI_E_NETWORK_ERROR while it is out of reach (past the
 * grace, or at once for a handle this gateway has not seen). Every verb that
 * changes sessions answers NETWORK_ERROR then too. */
HRESULT core_authenticate(core *c, const char *token, size_t len, session **out,
                          token_hash *handle);

/* IMAPISession::Logoff of one handle. flags: MAPI_LOGOFF_SHARED ends every
 * handle of a shared session; MAPI_LOGOFF_UI is ignored. Unknown flags:
 * MAPI_E_UNKNOWN_FLAGS (nothing ends). */
HRESULT core_logoff(core *c, const token_hash *handle, uint32_t flags);

/* Admin: ends a session with all its handles; MAPI_E_NOT_FOUND if unknown. */
HRESULT core_end_session(core *c, const char *session_id);

/* Admin: ends every session of the profile called name (exact), with
 * all their handles, on every replica with a shared store; subscribers get
 * the reason "admin". *ended: how many this call ended. S_OK (also for
 * none), or MAPI_E_NETWORK_ERROR when the shared store is out of reach
 * (some may have ended). */
HRESULT core_end_profile_sessions(core *c, const char *name, size_t *ended);

/* Admin: a new reference to the session with that id, or NULL. */
session *core_find_session(core *c, const char *session_id);

/* What the session store says of a session now: whether it is its
 * profile's shared session and how many handles it has (false and 0 once
 * it left the store). */
typedef struct {
    bool shared;
    size_t handles;
} core_session_facts;
void core_get_session_facts(core *c, const session *s, core_session_facts *out);

/* Calls fn for every live session (a snapshot; fn may call session_*). */
void core_foreach_session(core *c, void (*fn)(void *ctx, session *s), void *ctx);

/* The replay window of every session's events (core_config.events_replay). */
unsigned core_events_replay(const core *c);

/* Polls every session's network providers (provider_ops.poll): status rows
 * that changed are updated and their subscribers told. Also runs the shared
 * provider instances' hourly housekeeping (provider_ops.maintain: stale
 * Maildir tmp/ files). Call it every few seconds from one thread; it may
 * block on provider timeouts and file systems. */
void core_poll(core *c);

/* Ends sessions past their idle timeout or lifetime; returns how many. */
size_t core_reap(core *c, time_t now);

typedef struct {
    size_t sessions;
    size_t handles;
    uint64_t logons_ok;
    uint64_t logons_failed;
    uint64_t session_walks;     /* times the core went over every session (snapshots, sweeps) */
    uint64_t events_coalesced;  /* queued table events replaced by a newer one of the row */
    uint64_t events_overflowed; /* events dropped from a full subscriber queue */
} core_stats;
void core_get_stats(core *c, core_stats *out);

/* Provider status rows of this core's live sessions of one kind
 * (session_stats_kind_name) in one state: a few counters, no walk. */
uint64_t core_provider_status(core *c, size_t kind, session_stats_state state);

/* Whether sessions can be served: always in memory; with a shared store,
 * while it has answered within the grace. */
bool core_store_ready(core *c);
bool core_store_shared(const core *c);

/* The profiles file's administrator (profile_admin.h), borrowed: set once by
 * the server before it serves (NULL, as in unit tests: none). With one,
 * change-password writes the new verifier into the profiles file. */
struct profile_admin;
void core_set_profile_admin(core *c, struct profile_admin *admin);
struct profile_admin *core_profile_admin(core *c);
/* "memory", or the store's URL without anything secret. */
const char *core_store_describe(const core *c);
/* Shared-store calls that failed so far (0 in memory). */
uint64_t core_store_errors(core *c);
/* Why a --store value is malformed (static text), or NULL when it is fine. */
const char *core_store_url_problem(const char *url);
/* A 32-byte key for purpose that every gateway sharing the store derives
 * alike: false in memory (use a key of the process's own) or before the
 * shared store was first reached. */
bool core_store_key(core *c, const char *purpose, uint8_t out[32]);
