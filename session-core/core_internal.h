/* core_internal.h - the core's struct, for core.c (the gateway on its own)
 * and core_shared.c (the same verbs when replicas share a Redis store).
 * Not for api/ or server/. */
#pragma once

#include "core.h"
#include "session_internal.h"
#include "session_store.h"
#include "shared_store.h"
#include "throttle.h"

#include <pthread.h>
#include <stdatomic.h>

/* Keys of the failed-password table: (profile, client) and client keys. */
#define THROTTLE_MAX_ENTRIES 65536
/* A client may fail this many times the per-(profile, client) threshold, over
 * any profile names, before it is throttled as a whole. */
#define THROTTLE_CLIENT_FACTOR 4

struct core {
    core_config cfg;
    pthread_mutex_t profiles_lock;
    profile_store *profiles;
    session_store *sessions;   /* every session; with a shared store, the ones built here */
    shared_store *shared;      /* NULL: the gateway keeps its sessions alone */
    struct ended_queue *ended; /* with shared: ends from the stream, finished off its thread */
    session_env *env;          /* what its sessions share: instance pool, views, locks, gauges */
    throttle *failures;
    unsigned max_hashing;
    atomic_uint hashing; /* argon2id verifications running now */
    atomic_uint_fast64_t logons_ok;
    atomic_uint_fast64_t logons_failed;
    /* The profiles file's administrator (core_set_profile_admin): set once
     * before serving, then only read. */
    struct profile_admin *admin;
};

/* ---- with a shared store (core_shared.c) -------------------------------- */

/* Opens c->shared when cfg names one: S_OK (also for none),
 * MAPI_E_INVALID_PARAMETER with *why for a malformed store URL. */
HRESULT core_shared_open(core *c, const core_config *cfg, const char **why);

/* Finishes what the stream ended and stops the thread that does it (after
 * shared_store_close, before the local store goes). */
void core_shared_finisher_stop(core *c);

/* The verbs of core.h for a core with a shared store. */
/* throttle_client: check the failed-password budgets of (p, client) in the
 * same step (a logon that checks no password and did not check them
 * before); NULL when they were checked. LOGON_FAILED with out->retry_after_s
 * when blocked. */
HRESULT core_shared_new_session(core *c, const profile *p, profile_store *store, uint32_t flags,
                                const char *password, const char *throttle_client,
                                const token_hash *h, core_logon_result *out);
HRESULT core_shared_join(core *c, const profile *p, const char *password, const token_hash *h,
                         core_logon_result *out);
HRESULT core_shared_sole_shared(core *c, profile_store *store, session **out);
HRESULT core_shared_authenticate(core *c, const char *token, const token_hash *h, session **out);
HRESULT core_shared_logoff(core *c, const token_hash *handle, bool all);
HRESULT core_shared_end(core *c, const char *session_id, const char *reason);
session *core_shared_find(core *c, const char *session_id);
void core_shared_facts(core *c, const session *s, core_session_facts *out);
void core_shared_foreach(core *c, void (*fn)(void *ctx, session *s), void *ctx);
/* Ends, everywhere, the sessions of every profile of old that new no longer
 * has or that authenticates differently there; returns how many ended. */
size_t core_shared_profiles_changed(core *c, const profile_store *old, const profile_store *now);

/* Before a password check of an argon2id profile: adopts a password changed
 * on any gateway (while the file still has the verifier it replaced). */
void core_shared_sync_password(core *c, const profile *p);
/* After a successful change: tells every gateway (before: the verifier the
 * profile had until the change). */
void core_shared_password_changed(core *c, const profile *p, const char *before);
