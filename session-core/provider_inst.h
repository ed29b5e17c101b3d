/* provider_inst.h - a logged-on provider: its kind, configuration and state.
 *
 * Kinds that only read and write local files (provider_ops.shared_instance)
 * serve every session of a profile from one instance: a million idle sessions
 * then cost one Maildir check, not a million. Network kinds, and any provider
 * that checks the logon password, get one instance per session (their
 * connections and credentials are the session's own).
 *
 * A shared instance whose last session ended stays in the pool, idle, until
 * pinst_pool_sweep frees it: a profile whose sessions come and go (a script
 * that logs on, reads and logs off) then pays for one Maildir check per
 * second, not for a full logon of every provider each time.
 *
 * A pool is an object: each core has one (in its session_env), and every
 * instance, shared or not, belongs to the pool it logged on through (its
 * reference count is guarded by that pool's lock).
 *
 * Threading: pinst_logon, pinst_ref, pinst_unref, pinst_pool_sweep and
 * pinst_pool_maintain may be called concurrently. Calls on an instance's
 * state go between pinst_lock and pinst_unlock; for a session's own instance
 * these do nothing, since the session's lock already serialises them. Lock
 * order: session lock, then instance lock.
 */
#pragma once

#include "profile.h"
#include "provider.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct pinst_pool pinst_pool;

typedef struct provider_inst {
    const provider_ops *ops;
    const provider_config *cfg;
    void *state;        /* the kind's, freed by ops->logoff with the last reference */
    bool authenticates; /* checks logon passwords (profile auth "upstream") */
    bool shared;        /* in the pool: serves every session of its profile */
    uint8_t uid[MAPIUID_LEN];
    /* Changes after every call that may have changed the state (every
     * pinst_lock..pinst_unlock of a shared instance): a view built at one
     * generation still shows the instance as it is while it stays the same. */
    atomic_uint gen;
    /* Private to provider_inst.c. */
    pinst_pool *pool; /* the pool it logged on through */
    unsigned refs;
    profile_store *store;    /* reference: keeps cfg valid while pooled */
    long long idle_since_ns; /* refs fell to 0 (monotonic), under the pool lock */
    long long maintained_ns; /* logon or last ops->maintain (monotonic), under the pool lock */
    long long checked_at_ns; /* last logon check (monotonic), under lock */
    pthread_mutex_t lock;
    struct provider_inst *next;
} provider_inst;

/* An empty pool; NULL when out of memory. */
pinst_pool *pinst_pool_new(void);
/* Frees the idle shared instances and the pool. Every instance of the pool
 * must have been released (pinst_unref) before. NULL is fine. */
void pinst_pool_free(pinst_pool *pool);

/* Logs on through pool, or takes a new reference to its shared instance of
 * cfg when the kind allows it and authenticates is false (re-checking its
 * resource with validate_state when the last check is over a second old).
 * Returns the kind's logon result (provider.h) and, on S_OK, *out with one
 * reference. */
HRESULT pinst_logon(pinst_pool *pool, profile_store *store, const provider_ops *ops,
                    const provider_config *cfg, const provider_logon_args *args, bool authenticates,
                    provider_inst **out);

provider_inst *pinst_ref(provider_inst *pi);
/* Drops a reference; the last one logs the provider off, or for a shared
 * instance leaves it idle in the pool. NULL is fine. */
void pinst_unref(provider_inst *pi);

/* How long the core's reaper leaves an idle shared instance pooled. */
#define PINST_IDLE_MS 60000

/* Logs off and frees the shared instances idle for max_idle_ms or longer
 * (0: every idle one). Returns how many. */
size_t pinst_pool_sweep(pinst_pool *pool, long long max_idle_ms);

/* How often pinst_pool_maintain runs a pooled instance's ops->maintain. */
#define PINST_MAINTAIN_MS (60LL * 60 * 1000)

/* Runs ops->maintain of every pooled shared instance (busy or idle) whose
 * last maintenance (or logon) is min_interval_ms or more ago, each under its
 * lock and outside the pool lock; logons go on meanwhile. Returns how many
 * ran. Called from the core's poller; an instance is never freed while its
 * maintenance runs. */
size_t pinst_pool_maintain(pinst_pool *pool, long long min_interval_ms);

void pinst_lock(provider_inst *pi);
void pinst_unlock(provider_inst *pi); /* bumps gen */

/* ops->status under the instance's lock (gen unchanged: a read). */
void pinst_status(provider_inst *pi, provider_status *out);
