/* core.c - MAPILogonEx, bearer-token authentication, Logoff, admin ends;
 * the core's life (new/free). Housekeeping and listings: core_ops.c. */
#include "core_internal.h"
#include "profile_admin.h"
#include "profile_edit.h"

#include "mapi_flags.h"
#include "provider_inst.h"
#include "session_internal.h"
#include "session_store.h"
#include "throttle.h"

#include <sodium.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The failed-password budgets: this gateway's own, or the shared ones.
 * *clear tells whether a success has anything to clear (always in memory,
 * where it costs nothing; in Redis only when the key holds failures, so that
 * a logon makes no round trip it does not need). */
static HRESULT fails_check(core *c, const char *key, const char *client, time_t now,
                           unsigned *wait_s, bool *clear)
{
    *clear = true;
    if (c->shared)
        return shared_store_throttle_check(c->shared, key, client, wait_s, clear);
    *wait_s = throttle_check(c->failures, key, client, now);
    return S_OK;
}

static void fails_count(core *c, const char *key, const char *client, time_t now)
{
    if (c->shared)
        shared_store_throttle_failure(c->shared, key, client);
    else
        throttle_failure(c->failures, key, client, now);
}

static void fails_clear(core *c, const char *key, const char *client, bool clear)
{
    if (!clear)
        return;
    if (c->shared)
        shared_store_throttle_success(c->shared, key, client);
    else
        throttle_success(c->failures, key, client);
}

HRESULT core_new(const core_config *cfg, profile_store *profiles, core **out)
{
    *out = NULL;
    if (sodium_init() < 0) {
        profile_store_unref(profiles);
        return MAPI_E_NOT_INITIALIZED;
    }
    core *c = calloc(1, sizeof *c);
    if (!c) {
        profile_store_unref(profiles);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    c->cfg = *cfg;
    /* With a shared store the caps are Redis's; the local store is a cache. */
    session_store_limits limits = {cfg->max_sessions, cfg->max_sessions_per_profile,
                                   cfg->max_handles_per_session};
    bool shared = cfg->store_url && cfg->store_url[0] && strcmp(cfg->store_url, "memory") != 0;
    if (shared)
        limits = (session_store_limits){UINT_MAX, UINT_MAX, UINT_MAX};
    c->sessions = session_store_new(&limits);
    c->env = session_env_new();
    if (c->env)
        c->env->events_replay = cfg->events_replay;
    unsigned threshold = cfg->throttle_threshold ? cfg->throttle_threshold : 1;
    c->failures = throttle_new(threshold, threshold * THROTTLE_CLIENT_FACTOR,
                               cfg->throttle_max_delay_s, THROTTLE_MAX_ENTRIES);
    c->max_hashing = cfg->max_password_checks;
    if (c->max_hashing == 0) {
        /* Half the CPUs: the other half stays with the requests that carry
         * a token, whatever the logons do. At least two, so that two people
         * logging on to different profiles at the same moment both get in
         * on a small machine (DECISIONS.md). */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        c->max_hashing = cpus >= 4 ? (unsigned)(cpus / 2) : 2;
    }
    atomic_init(&c->hashing, 0);
    const char *why = NULL;
    HRESULT hr = MAPI_E_NOT_ENOUGH_MEMORY;
    bool made =
        c->sessions && c->env && c->failures && pthread_mutex_init(&c->profiles_lock, NULL) == 0;
    c->profiles = profiles;
    atomic_init(&c->logons_ok, 0);
    atomic_init(&c->logons_failed, 0);
    /* Last: its worker calls into everything above as soon as it runs. */
    if (made && HR_SUCCEEDED(hr = core_shared_open(c, cfg, &why))) {
        *out = c;
        return S_OK;
    }
    if (made)
        pthread_mutex_destroy(&c->profiles_lock);
    session_store_free(c->sessions);
    session_env_unref(c->env);
    throttle_free(c->failures);
    free(c);
    profile_store_unref(profiles);
    return hr;
}

void core_free(core *c)
{
    if (!c)
        return;
    shared_store_close(c->shared);     /* its worker calls into the local store */
    core_shared_finisher_stop(c);      /* and hands ends to this thread */
    session_store_free(c->sessions);   /* logs off every session (here) */
    pinst_pool_sweep(c->env->pool, 0); /* and the shared providers they left idle */
    session_env_unref(c->env);         /* the rest goes with the last session reference */
    throttle_free(c->failures);
    pthread_mutex_destroy(&c->profiles_lock);
    profile_store_unref(c->profiles);
    free(c);
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static unsigned bit_count(uint32_t v)
{
    unsigned n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* Which profile a logon addresses (docs/contract/mapi.md 2.3, with the
 * gateway's per-profile shared sessions), always in the current store: a
 * nameless logon joining a shared session is checked against that profile as
 * it is now, and fails when the profile is gone. *via_shared is the session a
 * nameless logon joins. NULL when MAPI would need a dialog: LOGON_FAILED.
 * A name a template takes (profile_store_resolve) replaces *store with the
 * derived profile's own store, which the session then keeps. */
static const profile *resolve_profile(core *c, profile_store **store, const char *name,
                                      uint32_t flags, session **via_shared)
{
    *via_shared = NULL;
    if (name)
        return profile_store_resolve(store, name);
    if (flags & MAPI_USE_DEFAULT)
        return profile_store_default(*store);
    if (!(flags & MAPI_NEW_SESSION) &&
        (c->shared ? core_shared_sole_shared(c, *store, via_shared)
                   : session_store_sole_shared(c->sessions, via_shared)) == S_OK)
        return profile_store_resolve(store, session_profile_name(*via_shared));
    return NULL;
}

/* The bound on argon2id verifications running at once: each costs a CPU and
 * its memory parameter for tens of milliseconds, and anyone may ask for one.
 * Past it the caller answers MAPI_E_BUSY at once instead of queueing. */
static bool hashing_enter(core *c)
{
    unsigned n = atomic_load(&c->hashing);
    while (n < c->max_hashing)
        if (atomic_compare_exchange_weak(&c->hashing, &n, n + 1))
            return true;
    return false;
}

static void hashing_leave(core *c) { atomic_fetch_sub(&c->hashing, 1); }

/* The one argon2id verification a logon that found no password to check
 * spends (docs/contract/http.md 3.1: timing must not tell whether a profile exists). */
static HRESULT dummy_check(core *c, profile_store *store, const char *password, bool *hashed)
{
    if (!hashing_enter(c))
        return MAPI_E_BUSY;
    profile_store_dummy_check(store, password);
    hashing_leave(c);
    *hashed = true;
    return S_OK;
}

/* The logon's password check: exactly one argon2id verification for a
 * profile with a password, against its verifier (argon2id) or the dummy
 * (upstream: the upstream server's answer adds its round trip, which no
 * local work can hide; see DECISIONS.md). S_OK, LOGON_FAILED or BUSY. */
static HRESULT check_password(core *c, const profile *p, profile_store *store, const char *password,
                              bool *hashed)
{
    switch (profile_auth(p)) {
    case PROFILE_AUTH_NONE:
        return S_OK;
    case PROFILE_AUTH_UPSTREAM: {
        HRESULT hr = dummy_check(c, store, password, hashed);
        if (HR_FAILED(hr))
            return hr;
        /* Never handed to a provider that might bind anonymously. */
        return password && password[0] ? S_OK : MAPI_E_LOGON_FAILED;
    }
    case PROFILE_AUTH_ARGON2ID:
        break;
    }
    if (c->shared)
        core_shared_sync_password(c, p);
    if (!hashing_enter(c))
        return MAPI_E_BUSY;
    HRESULT hr = profile_check_password(p, password);
    hashing_leave(c);
    *hashed = true;
    return hr;
}

/* Drops the handle just added to a shared session that this logon must not
 * join after all. */
static void undo_join(core *c, const token_hash *h, core_logon_result *out)
{
    session_store_ended ended = SESSION_STORE_ENDED_INIT("logoff");
    session_store_remove_handle(c->sessions, h, false, &ended);
    session_store_ended_finish(&ended);
    session_unref(out->session);
    out->session = NULL;
}

/* The logon proper, with the profile's logon lock held. */
static HRESULT logon_locked(core *c, const profile *p, profile_store *store, uint32_t flags,
                            const core_logon_request *req, bool nameless_join, bool inline_check,
                            const token_hash *token, bool *hashed, core_logon_result *out)
{
    HRESULT hr = check_password(c, p, store, req->password, hashed);
    if (HR_FAILED(hr))
        return hr;
    const token_hash h = *token;

    if (c->shared) {
        if (!(flags & MAPI_NEW_SESSION)) {
            hr = core_shared_join(c, p, req->password, &h, out);
            if (hr != MAPI_E_NOT_FOUND || nameless_join)
                return hr == MAPI_E_NOT_FOUND ? MAPI_E_LOGON_FAILED : hr;
        }
        return core_shared_new_session(c, p, store, flags, req->password,
                                       inline_check ? (req->client ? req->client : "") : NULL, &h,
                                       out);
    }

    if (!(flags & MAPI_NEW_SESSION)) {
        hr = session_store_join_shared(c->sessions, profile_name(p), &h, &out->session);
        /* Upstream authentication: the session's own provider knows the
         * password it logged on with; a joiner must present the same. */
        if (hr == S_OK && profile_auth(p) == PROFILE_AUTH_UPSTREAM &&
            session_check_password(out->session, req->password) != S_OK) {
            undo_join(c, &h, out);
            return MAPI_E_LOGON_FAILED;
        }
        /* A session opened under another authentication of this profile (a
         * reload changed it) is being ended by that reload: not joinable. */
        if (hr == S_OK && !profile_same_auth(out->session->profile, p)) {
            undo_join(c, &h, out);
            hr = MAPI_E_NOT_FOUND;
        }
        if (hr == S_OK && session_expired(out->session, time(NULL))) {
            /* Expired but not reaped yet: it is gone for MAPI, so this
             * logon must not hand out a handle that is dead on arrival. */
            session_store_ended ended = SESSION_STORE_ENDED_INIT("expired");
            session_store_remove_session(c->sessions, out->session->id, &ended);
            session_store_ended_finish(&ended);
            session_unref(out->session);
            out->session = NULL;
            hr = MAPI_E_NOT_FOUND;
        }
        if (hr == S_OK) {
            session_touch(out->session, time(NULL)); /* a join is a use */
            out->joined = true;
            out->shared = true;
            return S_OK;
        }
        /* The shared session a nameless logon chose ended meanwhile: MAPI would
         * now need a dialog to pick a profile. */
        if (hr != MAPI_E_NOT_FOUND || nameless_join)
            return hr == MAPI_E_NOT_FOUND ? MAPI_E_LOGON_FAILED : hr;
    }

    session *s = NULL;
    hr = session_create(c->env, store, p, flags, c->cfg.idle_timeout_s, c->cfg.lifetime_s,
                        time(NULL), &s);
    if (HR_FAILED(hr))
        return hr;
    hr = session_store_add(c->sessions, s, &h, (flags & MAPI_ALLOW_OTHERS) != 0, &out->shared);
    if (HR_FAILED(hr)) {
        session_unref(s);
        return hr;
    }
    hr = session_logon_providers(s, req->password);
    if (HR_FAILED(hr)) {
        session_store_ended ended = SESSION_STORE_ENDED_INIT("logoff");
        session_store_remove_session(c->sessions, s->id, &ended);
        session_store_ended_finish(&ended);
        session_unref(s);
        out->shared = false;
        return hr;
    }
    out->session = s;
    return S_OK;
}

HRESULT core_logon(core *c, const core_logon_request *req, core_logon_result *out)
{
    memset(out, 0, sizeof *out);
    uint32_t flags = req->flags;
    if (!mapi_flags_known(&MAPI_LOGON_FLAG_NAMES, flags))
        return MAPI_E_UNKNOWN_FLAGS;
    if (bit_count(flags & MAPI_LOGON_UI_FLAGS) > 1)
        return MAPI_E_INVALID_PARAMETER;
    flags |= MAPI_EXTENDED | MAPI_UNICODE;

    const char *name = req->profile && *req->profile ? req->profile : NULL;
    time_t now = time(NULL);
    profile_store *store = core_profiles(c);
    session *via_shared = NULL;
    const profile *p = NULL;
    if (!name || utf8_chars(name) <= PROFILE_NAME_MAX_CHARS)
        p = resolve_profile(c, &store, name, flags, &via_shared);
    /* Failures count against the profile a logon reached, however it was
     * named (by name, MAPI_USE_DEFAULT or a nameless join), so that naming
     * one profile two ways does not double the guesses. */
    const char *key = p ? profile_name(p) : name;
    /* A throttled client is answered before any password check: guessing
     * costs it time and costs the gateway nothing. */
    /* With a shared store, a new session of a profile that checks no
     * password has the budgets checked by the logon's own script: one round
     * trip to Redis instead of two. */
    bool inline_check =
        c->shared && p && profile_auth(p) == PROFILE_AUTH_NONE && (flags & MAPI_NEW_SESSION);
    bool clear = false;
    HRESULT th =
        inline_check ? S_OK : fails_check(c, key, req->client, now, &out->retry_after_s, &clear);
    out->store_unreachable = th == MAPI_E_NETWORK_ERROR;
    if (HR_FAILED(th) || out->retry_after_s) {
        session_unref(via_shared);
        profile_store_unref(store);
        atomic_fetch_add(&c->logons_failed, 1);
        return HR_FAILED(th) ? th : MAPI_E_LOGON_FAILED;
    }

    HRESULT hr = MAPI_E_LOGON_FAILED;
    bool hashed = false;
    if (p) {
        long wait = (flags & MAPI_TIMEOUT_SHORT) ? c->cfg.logon_timeout_short_ms : -1;
        /* The token before the lock: the logons of one profile queue on it,
         * and drawing random bytes needs nothing the lock guards. */
        token_hash h;
        hr = token_new(out->token, &h); /* fails only without randomness */
        if (HR_SUCCEEDED(hr)) {
            if (profile_logon_lock(p, wait) == 0) {
                hr = logon_locked(c, p, store, flags, req, via_shared != NULL, inline_check, &h,
                                  &hashed, out);
                profile_logon_unlock(p);
            } else {
                hr = MAPI_E_TIMEOUT;
            }
        }
        sodium_memzero(&h, sizeof h);
    }
    /* The logon's own script found the client throttled: answered as the
     * check above answers, nothing hashed, nothing counted. */
    if (hr == MAPI_E_LOGON_FAILED && out->retry_after_s) {
        session_unref(via_shared);
        profile_store_unref(store);
        sodium_memzero(out->token, sizeof out->token);
        atomic_fetch_add(&c->logons_failed, 1);
        return hr;
    }
    /* Every refusal costs one verification, whatever the reason: an unknown
     * profile, no profile, a `none` profile's vanished shared session. */
    if (hr == MAPI_E_LOGON_FAILED && !hashed) {
        HRESULT dh = dummy_check(c, store, req->password, &hashed);
        if (HR_FAILED(dh))
            hr = dh;
    }
    session_unref(via_shared);
    if (HR_FAILED(hr)) {
        sodium_memzero(out->token, sizeof out->token);
        atomic_fetch_add(&c->logons_failed, 1);
        /* The block runs from the refusal, not the logon's start: an
         * upstream server's answer can take longer than the first block. */
        if (hr == MAPI_E_LOGON_FAILED)
            fails_count(c, key, req->client, time(NULL));
    } else {
        atomic_fetch_add(&c->logons_ok, 1);
        fails_clear(c, key, req->client, clear);
    }
    profile_store_unref(store); /* after the last use of key, which it owns */
    return hr;
}

bool core_logon_checks_password(core *c, const char *name, const char *client)
{
    if (name && !name[0])
        name = NULL;
    /* A profile without authentication checks nothing, throttled or not (the
     * logon itself answers a throttled client): no need to ask the budgets,
     * which with a shared store is a round trip. */
    if (name) {
        profile_store *store = core_profiles(c);
        const profile *p = profile_store_find(store, name);
        bool none = p && profile_auth(p) == PROFILE_AUTH_NONE;
        profile_store_unref(store);
        if (none)
            return false;
    }
    unsigned wait = 0;
    bool clear;
    if (fails_check(c, name, client, time(NULL), &wait, &clear) == S_OK && wait)
        return false;
    return true; /* a password to check, the default profile, a shared session, or a refusal */
}

unsigned core_max_password_checks(const core *c) { return c->max_hashing; }

/* With the memory store, a changed password lasts only as long as the
 * profiles file says so: it is written there (profile_admin), or undone.
 * A profile the file no longer has keeps the change until the next reload
 * (which ends its sessions anyway). */
static HRESULT persist_password(core *c, session *s, const char *before, status_row *row_out)
{
    char now[PROFILE_VERIFIER_MAX];
    if (!profile_verifier_copy(s->profile, now))
        return S_OK;
    profile_change chg = {.op = PROFILE_CHANGE_PASSWORD, .name = profile_name(s->profile),
                          .verifier = now, .set_default = -1};
    char err[512];
    size_t ended;
    HRESULT hr = profile_admin_edit(c->admin, chg.name, NULL, profile_change_apply, &chg, &ended,
                                    err, sizeof err);
    if (hr != S_OK && hr != MAPI_E_NOT_FOUND) {
        (void)profile_verifier_adopt(s->profile, now, before);
        status_row_clear(row_out);
        hr = MAPI_E_DISK_ERROR;
    } else {
        hr = S_OK;
    }
    sodium_memzero(now, sizeof now);
    return hr;
}

HRESULT core_change_password(core *c, session *s, const char *client,
                             const uint8_t ik[STATUS_INSTANCE_KEY_LEN], const char *old_password,
                             const char *new_password, status_row *row_out, unsigned *retry_after_s)
{
    *retry_after_s = 0;
    /* A call the object will refuse before any password is looked at (no
     * such row, the method's bit clear, a session that ended) is answered
     * by the session as usual: it guesses nothing and hashes nothing. */
    status_row probe;
    memset(&probe, 0, sizeof probe);
    bool hashes = session_status_row(s, ik, &probe) == S_OK &&
                  (probe.resource_methods & STATUS_CHANGE_PASSWORD);
    status_row_clear(&probe);
    if (!hashes)
        return session_change_password(s, ik, old_password, new_password, row_out);

    /* A wrong old password is a password guess: the logon throttle counts
     * it, and a throttled client gets the throttled logon's answer. */
    const char *name = session_profile_name(s);
    time_t now = time(NULL);
    bool clear;
    HRESULT th = fails_check(c, name, client, now, retry_after_s, &clear);
    if (HR_FAILED(th))
        return th;
    if (*retry_after_s)
        return MAPI_E_LOGON_FAILED;
    if (!hashing_enter(c))
        return MAPI_E_BUSY;
    char before[PROFILE_VERIFIER_MAX] = "";
    if (c->shared)
        core_shared_sync_password(c, s->profile);
    profile_verifier_copy(s->profile, before);
    HRESULT hr = session_change_password(s, ik, old_password, new_password, row_out);
    hashing_leave(c);
    if (hr == S_OK && c->shared && before[0])
        core_shared_password_changed(c, s->profile, before);
    else if (hr == S_OK && c->admin && before[0])
        hr = persist_password(c, s, before, row_out);
    sodium_memzero(before, sizeof before);
    if (hr == MAPI_E_NO_ACCESS)
        fails_count(c, name, client, now);
    else if (hr == S_OK)
        fails_clear(c, name, client, clear);
    return hr;
}

HRESULT core_authenticate(core *c, const char *token, size_t len, session **out, token_hash *handle)
{
    *out = NULL;
    token_hash h;
    if (!token_parse(token, len, &h))
        return MAPI_E_END_OF_SESSION;
    if (c->shared) {
        /* token_parse checked the form: the text is exactly a token. */
        char tok[TOKEN_STRING_LEN + 1];
        memcpy(tok, token, TOKEN_STRING_LEN);
        tok[TOKEN_STRING_LEN] = '\0';
        HRESULT hr = core_shared_authenticate(c, tok, &h, out);
        sodium_memzero(tok, sizeof tok);
        if (hr == S_OK && handle)
            *handle = h;
        return hr;
    }
    session *s;
    if (session_store_lookup(c->sessions, &h, &s) != S_OK)
        return MAPI_E_END_OF_SESSION;
    time_t now = time(NULL);
    if (session_expired(s, now)) {
        /* Expiry is enforced on use, not only by the reaper. */
        session_store_ended ended = SESSION_STORE_ENDED_INIT("expired");
        session_store_remove_session(c->sessions, s->id, &ended);
        session_store_ended_finish(&ended);
        session_unref(s);
        return MAPI_E_END_OF_SESSION;
    }
    session_touch(s, now);
    *out = s;
    if (handle)
        *handle = h;
    return S_OK;
}

HRESULT core_logoff(core *c, const token_hash *handle, uint32_t flags)
{
    if (!mapi_flags_known(&MAPI_LOGOFF_FLAG_NAMES, flags))
        return MAPI_E_UNKNOWN_FLAGS;
    bool all = (flags & MAPI_LOGOFF_SHARED) != 0;
    if (c->shared)
        return core_shared_logoff(c, handle, all);
    session_store_ended ended = SESSION_STORE_ENDED_INIT(all ? "logoff_shared" : "logoff");
    HRESULT hr = session_store_remove_handle(c->sessions, handle, all, &ended);
    session_store_ended_finish(&ended);
    return hr;
}

HRESULT core_end_session(core *c, const char *session_id)
{
    if (c->shared)
        return core_shared_end(c, session_id, "admin");
    session_store_ended ended = SESSION_STORE_ENDED_INIT("admin");
    HRESULT hr = session_store_remove_session(c->sessions, session_id, &ended);
    session_store_ended_finish(&ended);
    return hr;
}

/* The ids of one profile's sessions (core_foreach_session's snapshot). */
typedef struct {
    const char *profile;
    char (*ids)[SESSION_ID_LEN + 1];
    size_t count, cap;
    bool oom;
} profile_ids;

static void collect_profile(void *ctx, session *s)
{
    profile_ids *p = ctx;
    if (p->oom || session_is_ended(s) || strcmp(session_profile_name(s), p->profile) != 0)
        return;
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        void *bigger = realloc(p->ids, cap * sizeof *p->ids);
        if (!bigger) {
            p->oom = true;
            return;
        }
        p->ids = bigger;
        p->cap = cap;
    }
    snprintf(p->ids[p->count++], SESSION_ID_LEN + 1, "%s", session_id(s));
}

HRESULT core_end_profile_sessions(core *c, const char *name, size_t *ended)
{
    *ended = 0;
    /* Ids first, ends after: an end must not run inside the walk (it takes
     * the store's locks, and with Redis it is a round trip). A session that
     * ends meanwhile answers NOT_FOUND and is not counted. */
    profile_ids p = {name, NULL, 0, 0, false};
    core_foreach_session(c, collect_profile, &p);
    HRESULT hr = p.oom ? MAPI_E_NOT_ENOUGH_MEMORY : S_OK;
    for (size_t i = 0; i < p.count; i++) {
        HRESULT one = core_end_session(c, p.ids[i]);
        if (one == S_OK)
            (*ended)++;
        else if (one != MAPI_E_NOT_FOUND && hr == S_OK)
            hr = one;
    }
    free(p.ids);
    return hr;
}

unsigned core_events_replay(const core *c) { return c->cfg.events_replay; }
