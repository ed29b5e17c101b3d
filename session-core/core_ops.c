/* core_ops.c - the core's housekeeping and what operators and the admin
 * endpoints ask of it: reloading the profiles, finding and listing sessions,
 * polling providers, reaping, counters, the session store's identity. The
 * logon, authentication and logoff paths are in core.c. */
#include "core_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Which sessions a reload ends: those whose profile is gone from the new
 * store or authenticates differently there. Sessions of one profile share
 * the verdict, so it is worked out once per profile (the predicate runs under
 * the session store's lock, over every session). */
#define RELOAD_MEMO 256
typedef struct {
    const profile_store *store;
    struct {
        const profile *old;
        bool ends;
    } memo[RELOAD_MEMO];
} reload_ctx;

static bool auth_changed(const session *s, void *ctx)
{
    reload_ctx *r = ctx;
    size_t i = ((uintptr_t)s->profile >> 4) % RELOAD_MEMO;
    for (size_t n = 0; n < RELOAD_MEMO && r->memo[i].old; n++, i = (i + 1) % RELOAD_MEMO)
        if (r->memo[i].old == s->profile)
            return r->memo[i].ends;
    const profile *now = profile_store_find(r->store, profile_name(s->profile));
    bool ends = !now || !profile_same_auth(s->profile, now);
    if (!r->memo[i].old) {
        r->memo[i].old = s->profile;
        r->memo[i].ends = ends;
    }
    return ends;
}

size_t core_replace_profiles(core *c, profile_store *profiles)
{
    pthread_mutex_lock(&c->profiles_lock);
    profile_store *old = c->profiles;
    c->profiles = profiles;
    pthread_mutex_unlock(&c->profiles_lock);
    size_t shared_ended = c->shared ? core_shared_profiles_changed(c, old, profiles) : 0;
    /* A password changed or removed in the file must stop working at once:
     * the sessions it opened end (joins already check the new store). */
    reload_ctx *ctx = calloc(1, sizeof *ctx);
    size_t ended_count = 0;
    if (ctx) {
        ctx->store = profiles;
        session_store_ended ended = SESSION_STORE_ENDED_INIT("profile_changed");
        session_store_remove_where(c->sessions, auth_changed, ctx, &ended);
        ended_count = ended.count + shared_ended; /* ended here, or there first */
        session_store_ended_finish(&ended);
        free(ctx);
    }
    profile_store_unref(old);
    return ended_count;
}

profile_store *core_profiles(core *c)
{
    pthread_mutex_lock(&c->profiles_lock);
    profile_store *p = profile_store_ref(c->profiles);
    pthread_mutex_unlock(&c->profiles_lock);
    return p;
}

session *core_find_session(core *c, const char *session_id)
{
    if (c->shared)
        return core_shared_find(c, session_id);
    return session_store_find(c->sessions, session_id);
}

void core_get_session_facts(core *c, const session *s, core_session_facts *out)
{
    if (c->shared) {
        core_shared_facts(c, s, out);
        return;
    }
    session_store_facts f;
    session_store_facts_of(c->sessions, session_id(s), &f); /* gone: zeros */
    out->shared = f.shared;
    out->handles = f.handles;
}

void core_foreach_session(core *c, void (*fn)(void *ctx, session *s), void *ctx)
{
    if (c->shared) {
        core_shared_foreach(c, fn, ctx);
        return;
    }
    session **all = NULL;
    size_t n = 0;
    if (session_store_snapshot(c->sessions, &all, &n) != S_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        fn(ctx, all[i]);
        session_unref(all[i]);
    }
    free(all);
}

void core_poll(core *c)
{
    /* Shared instances' housekeeping (Maildir tmp/ sweeps): per instance,
     * hourly, never per session or per request. */
    pinst_pool_maintain(c->env->pool, PINST_MAINTAIN_MS);
    session **all = NULL;
    size_t n = 0;
    if (session_store_snapshot(c->sessions, &all, &n) != S_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        session_poll(all[i]);
        session_unref(all[i]);
    }
    free(all);
}

size_t core_reap(core *c, time_t now)
{
    session_store_ended ended = SESSION_STORE_ENDED_INIT("expired");
    /* With a shared store, Redis's reaper ends sessions (its worker runs it)
     * and the ends come back on the stream. */
    if (!c->shared)
        session_store_reap(c->sessions, now, &ended);
    throttle_sweep(c->failures, now);
    pinst_pool_sweep(c->env->pool, PINST_IDLE_MS);
    size_t n = ended.count;
    session_store_ended_finish(&ended);
    return n;
}

void core_get_stats(core *c, core_stats *out)
{
    session_store_totals t;
    session_store_counts(c->sessions, &t);
    out->sessions = t.sessions;
    out->handles = t.handles;
    if (c->shared && shared_store_counts(c->shared, &out->sessions, &out->handles) != S_OK)
        out->sessions = out->handles = 0;
    out->session_walks = t.walks;
    out->logons_ok = atomic_load(&c->logons_ok);
    out->logons_failed = atomic_load(&c->logons_failed);
    out->events_coalesced = atomic_load(&c->env->events_coalesced);
    out->events_overflowed = atomic_load(&c->env->events_overflowed);
}

uint64_t core_provider_status(core *c, size_t kind, session_stats_state state)
{
    return session_stats_provider_status(c->env->stats, kind, state);
}

bool core_store_ready(core *c) { return !c->shared || shared_store_usable(c->shared); }

bool core_store_shared(const core *c) { return c->shared != NULL; }

void core_set_profile_admin(core *c, struct profile_admin *admin) { c->admin = admin; }

struct profile_admin *core_profile_admin(core *c) { return c->admin; }

uint64_t core_store_errors(core *c) { return c->shared ? shared_store_errors(c->shared) : 0; }

const char *core_store_describe(const core *c)
{
    return c->shared ? shared_store_describe(c->shared) : "memory";
}

bool core_store_key(core *c, const char *purpose, uint8_t out[32])
{
    uint8_t secret[32];
    if (!c->shared || !shared_store_secret(c->shared, secret))
        return false;
    crypto_generichash(out, 32, (const unsigned char *)purpose, strlen(purpose), secret,
                       sizeof secret);
    sodium_memzero(secret, sizeof secret);
    return true;
}
