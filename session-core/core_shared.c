/* core_shared.c - logon, authentication, logoff and ends when several
 * gateways share their sessions through a Redis store (shared_store.h).
 *
 * Redis is the truth: records, handles, caps, deadlines. Each gateway keeps
 * the session objects it has built (with their providers logged on) in its
 * own session store, the cache every authenticated request reads without
 * leaving the process. A handle seen for the first time here is looked up in
 * Redis and its session built from the record: same id, same serial (so
 * the same instance keys), providers logged on again. Ends arrive on the
 * shared stream (the listener below) and drop what this cache holds; while
 * Redis is out of reach for longer than the grace, nothing is served from
 * the cache either (fail closed).
 *
 * A profile that authenticates upstream needs the user's password to log its
 * providers on, and this gateway may never have seen it: each handle's
 * record carries the password sealed (XSalsa20-Poly1305) under a key derived
 * from the handle's token, which only its bearer holds (Redis has the
 * token's SHA-256, from which the key cannot be derived). */
#include "core_internal.h"
#include "mapi_flags.h"
#include "redis_link.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_CONTEXT "mapigw seal v1"
#define PASSWORD_MAX 1024

/* ---- sealed passwords --------------------------------------------------- */

static void seal_key(const char *token, uint8_t key[crypto_secretbox_KEYBYTES])
{
    crypto_generichash(key, crypto_secretbox_KEYBYTES, (const unsigned char *)token, strlen(token),
                       (const unsigned char *)SEAL_CONTEXT, sizeof SEAL_CONTEXT - 1);
}

/* nonce || box; NULL (and *len 0) for no password. */
static uint8_t *seal(const char *password, const char *token, size_t *len)
{
    *len = 0;
    if (!password || !password[0])
        return NULL;
    size_t plen = strlen(password);
    if (plen > PASSWORD_MAX)
        return NULL;
    uint8_t *out = malloc(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen);
    if (!out)
        return NULL;
    uint8_t key[crypto_secretbox_KEYBYTES];
    seal_key(token, key);
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, (const unsigned char *)password, plen,
                          out, key);
    sodium_memzero(key, sizeof key);
    *len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    return out;
}

/* The password, NUL-terminated in a malloc'd buffer (wipe and free it), or
 * NULL when none was sealed or it does not open with this token. */
static char *unseal(const uint8_t *box, size_t len, const char *token)
{
    if (!box || len <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return NULL;
    size_t plen = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *out = malloc(plen + 1);
    if (!out)
        return NULL;
    uint8_t key[crypto_secretbox_KEYBYTES];
    seal_key(token, key);
    int rc = crypto_secretbox_open_easy((unsigned char *)out, box + crypto_secretbox_NONCEBYTES,
                                        len - crypto_secretbox_NONCEBYTES, box, key);
    sodium_memzero(key, sizeof key);
    if (rc != 0) {
        free(out);
        return NULL;
    }
    out[plen] = '\0';
    return out;
}

static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

/* ---- the cache follows the shared stream --------------------------------- */

/* Ends that came on the stream are taken out of the cache by the store's
 * worker at once, and finished (subscribers told, providers logged off,
 * which may wait on a server) by this thread, so that a slow IMAP logout
 * never holds up the stream, the store's pulse. */
struct ended_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    session_store_ended *items;
    size_t count, cap;
    bool stop;
    pthread_t thread;
};

static void *finisher_main(void *arg)
{
    struct ended_queue *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->count && !q->stop)
            pthread_cond_wait(&q->cond, &q->lock);
        if (!q->count)
            break; /* stopping, and nothing left */
        session_store_ended *items = q->items;
        size_t n = q->count;
        q->items = NULL;
        q->count = q->cap = 0;
        pthread_mutex_unlock(&q->lock);
        for (size_t i = 0; i < n; i++)
            session_store_ended_finish(&items[i]);
        free(items);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static struct ended_queue *finisher_start(void)
{
    struct ended_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    if (pthread_mutex_init(&q->lock, NULL) != 0) {
        free(q);
        return NULL;
    }
    if (pthread_cond_init(&q->cond, NULL) != 0 ||
        pthread_create(&q->thread, NULL, finisher_main, q) != 0) {
        pthread_mutex_destroy(&q->lock);
        free(q);
        return NULL;
    }
    return q;
}

void core_shared_finisher_stop(core *c)
{
    struct ended_queue *q = c->ended;
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
    c->ended = NULL;
}

/* Hands a list to the finisher; finishes it here when out of memory. */
static void finish_later(core *c, session_store_ended *ended)
{
    struct ended_queue *q = c->ended;
    if (!ended->count && !ended->handle_session) {
        session_store_ended_finish(ended); /* nothing to tell: frees the list */
        return;
    }
    pthread_mutex_lock(&q->lock);
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        session_store_ended *n = realloc(q->items, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&q->lock);
            session_store_ended_finish(ended);
            return;
        }
        q->items = n;
        q->cap = cap;
    }
    q->items[q->count++] = *ended;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* Here and now: the caller's own logoff, or a logon undone. */
static void drop_session(core *c, const char *id, const char *reason)
{
    session_store_ended ended = SESSION_STORE_ENDED_INIT(reason);
    session_store_remove_session(c->sessions, id, &ended);
    session_store_ended_finish(&ended);
}

static void drop_handle(core *c, const token_hash *h, const char *reason)
{
    session_store_ended ended = SESSION_STORE_ENDED_INIT(reason);
    session_store_remove_handle(c->sessions, h, false, &ended);
    session_store_ended_finish(&ended);
}

/* After a gap in the stream: every cached session and handle is checked
 * against Redis, and what is gone there goes here. */
static void resync(core *c)
{
    session **all = NULL;
    size_t n = 0;
    if (session_store_snapshot(c->sessions, &all, &n) == S_OK) {
        for (size_t i = 0; i < n; i++) {
            shared_session rec;
            if (shared_store_get(c->shared, session_id(all[i]), &rec) == MAPI_E_NOT_FOUND)
                drop_session(c, session_id(all[i]), "expired");
            session_unref(all[i]);
        }
        free(all);
    }
    token_hash *hs = NULL;
    if (session_store_handles(c->sessions, &hs, &n) == S_OK) {
        for (size_t i = 0; i < n; i++) {
            shared_session rec;
            if (shared_store_handle(c->shared, &hs[i], &rec, NULL, NULL) == MAPI_E_END_OF_SESSION)
                drop_handle(c, &hs[i], "logoff");
        }
        sodium_memzero(hs, n * sizeof *hs);
        free(hs);
    }
}

static void on_event(void *ctx, const shared_event *ev)
{
    core *c = ctx;
    session_store_ended ended = SESSION_STORE_ENDED_INIT(ev->reason);
    switch (ev->kind) {
    case SHARED_EVENT_SESSION_END:
        session_store_remove_session(c->sessions, ev->id, &ended);
        finish_later(c, &ended);
        break;
    case SHARED_EVENT_HANDLE_END:
        session_store_remove_handle(c->sessions, ev->handle, false, &ended);
        finish_later(c, &ended);
        break;
    case SHARED_EVENT_RESYNC:
        resync(c);
        break;
    }
}

HRESULT core_shared_open(core *c, const core_config *cfg, const char **why)
{
    *why = NULL;
    if (!cfg->store_url || !cfg->store_url[0] || strcmp(cfg->store_url, "memory") == 0)
        return S_OK;
    unsigned threshold = cfg->throttle_threshold ? cfg->throttle_threshold : 1;
    shared_store_config sc = {
        .url = cfg->store_url,
        .password = cfg->store_password,
        .prefix = cfg->store_prefix ? cfg->store_prefix : "mapigw:",
        .grace_ms = cfg->store_grace_ms,
        .wait_replicas = cfg->store_wait_replicas,
        .max_sessions = cfg->max_sessions,
        .max_sessions_per_profile = cfg->max_sessions_per_profile,
        .max_handles_per_session = cfg->max_handles_per_session,
        .throttle_threshold = threshold,
        .throttle_client_threshold = threshold * THROTTLE_CLIENT_FACTOR,
        .throttle_max_delay_s = cfg->throttle_max_delay_s,
    };
    if (!(c->ended = finisher_start()))
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    shared_store_listener l = {on_event, c};
    HRESULT hr = shared_store_open(&sc, &l, &c->shared, why);
    if (HR_FAILED(hr))
        core_shared_finisher_stop(c);
    return hr;
}

const char *core_store_url_problem(const char *url)
{
    if (strcmp(url, "memory") == 0)
        return NULL;
    redis_link *l = NULL;
    const char *why = NULL;
    redis_link_config lc = {url, NULL, 1000};
    HRESULT hr = redis_link_new(&lc, &l, &why);
    redis_link_free(l);
    return HR_FAILED(hr) ? (why ? why : "out of memory") : NULL;
}

/* ---- building a session another gateway opened --------------------------- */

/* The session of rec as this gateway's object, with the handle h in the
 * cache: found, or built and logged on with password (the caller's or the
 * one sealed for h). END_OF_SESSION when its profile is gone from the
 * current store. */
static HRESULT materialize(core *c, const shared_session *rec, const token_hash *h,
                           const char *password, const profile *held, session **out)
{
    *out = NULL;
    if (session_store_add_handle(c->sessions, rec->id, h, out) == S_OK)
        return S_OK;
    profile_store *store = core_profiles(c);
    const profile *p = profile_store_resolve(&store, rec->profile);
    if (!p) {
        profile_store_unref(store);
        return MAPI_E_END_OF_SESSION;
    }
    /* The profile's logon lock: two requests meeting the same new session
     * build it once, as two logons of one profile run one at a time. A
     * joining logon already holds it (held). */
    bool lock = p != held;
    if (lock)
        profile_logon_lock(p, -1);
    HRESULT hr = session_store_add_handle(c->sessions, rec->id, h, out);
    if (hr == MAPI_E_NOT_FOUND) {
        session *s = NULL;
        hr = session_create_as(c->env, store, p, rec->flags, rec->idle_timeout_s, rec->lifetime_s,
                               rec->created_at, rec->id, rec->serial, &s);
        if (HR_SUCCEEDED(hr)) {
            session_touch(s, rec->last_used_at);
            hr = session_store_add(c->sessions, s, h, false, NULL);
        }
        if (HR_SUCCEEDED(hr))
            hr = session_logon_providers(s, password);
        if (HR_SUCCEEDED(hr))
            *out = s;
        else if (s) {
            drop_session(c, rec->id, "logoff");
            session_unref(s);
        }
    }
    if (lock)
        profile_logon_unlock(p);
    profile_store_unref(store);
    if (HR_FAILED(hr))
        return hr;
    /* An end that came on the stream while this was being built found
     * nothing to drop: look again now that the cache has it. */
    shared_session again;
    hr = shared_store_handle(c->shared, h, &again, NULL, NULL);
    if (hr == MAPI_E_END_OF_SESSION)
        drop_session(c, rec->id, "logoff");
    if (HR_FAILED(hr)) {
        session_unref(*out);
        *out = NULL;
    }
    return hr;
}

/* Queues the use for Redis once per second per session: the shared idle
 * deadline moves with uses on any gateway. */
static void touch(core *c, session *s, time_t now)
{
    session_touch(s, now);
    long long seen = atomic_load(&s->shared_touched_at);
    if (seen < (long long)now && atomic_compare_exchange_strong(&s->shared_touched_at, &seen, now))
        shared_store_touch(c->shared, s->id, now);
}

/* ---- the verbs ----------------------------------------------------------- */

HRESULT core_shared_new_session(core *c, const profile *p, profile_store *store, uint32_t flags,
                                const char *password, const char *throttle_client,
                                const token_hash *h, core_logon_result *out)
{
    char id[SESSION_ID_LEN + 1];
    HRESULT hr = session_id_new(id);
    if (HR_FAILED(hr))
        return hr;
    size_t sealed_len = 0;
    uint8_t *sealed =
        profile_auth(p) == PROFILE_AUTH_UPSTREAM ? seal(password, out->token, &sealed_len) : NULL;
    shared_session rec;
    shared_logon in = {id,
                       profile_name(p),
                       flags,
                       c->cfg.idle_timeout_s,
                       c->cfg.lifetime_s,
                       h,
                       sealed,
                       sealed_len,
                       (flags & MAPI_ALLOW_OTHERS) != 0,
                       throttle_client != NULL,
                       throttle_client};
    hr = shared_store_logon(c->shared, &in, &rec);
    free(sealed);
    out->store_unreachable = hr == MAPI_E_NETWORK_ERROR;
    if (hr == MAPI_E_LOGON_FAILED)
        out->retry_after_s = rec.throttled_s;
    if (HR_FAILED(hr))
        return hr;
    session *s = NULL;
    hr = session_create_as(c->env, store, p, flags, rec.idle_timeout_s, rec.lifetime_s,
                           rec.created_at, id, rec.serial, &s);
    if (HR_SUCCEEDED(hr)) {
        hr = session_store_add(c->sessions, s, h, false, NULL);
        if (HR_FAILED(hr)) {
            session_unref(s);
            s = NULL;
        }
    }
    if (HR_SUCCEEDED(hr))
        hr = session_logon_providers(s, password);
    if (HR_FAILED(hr)) {
        shared_store_end(c->shared, id, "logoff");
        if (s) {
            drop_session(c, id, "logoff");
            session_unref(s);
        }
        return hr;
    }
    atomic_store(&s->shared_touched_at, (long long)rec.created_at);
    out->session = s;
    out->shared = rec.shared;
    return S_OK;
}

HRESULT core_shared_join(core *c, const profile *p, const char *password, const token_hash *h,
                         core_logon_result *out)
{
    size_t sealed_len = 0;
    uint8_t *sealed =
        profile_auth(p) == PROFILE_AUTH_UPSTREAM ? seal(password, out->token, &sealed_len) : NULL;
    shared_session rec;
    HRESULT hr = shared_store_join(c->shared, profile_name(p), h, sealed, sealed_len, &rec);
    free(sealed);
    out->store_unreachable = hr == MAPI_E_NETWORK_ERROR;
    if (HR_FAILED(hr))
        return hr;
    session *s = NULL;
    hr = materialize(c, &rec, h, password, p, &s);
    /* Upstream authentication: the joiner must present the password the
     * session's own provider logged on with; and a session opened under
     * another authentication of this profile is being ended by a reload. */
    if (hr == S_OK && ((profile_auth(p) == PROFILE_AUTH_UPSTREAM &&
                        session_check_password(s, password) != S_OK) ||
                       !profile_same_auth(s->profile, p)))
        hr = profile_same_auth(s->profile, p) ? MAPI_E_LOGON_FAILED : MAPI_E_NOT_FOUND;
    if (HR_FAILED(hr)) {
        shared_store_logoff(c->shared, h, false, NULL, NULL);
        drop_handle(c, h, "logoff");
        session_unref(s);
        return hr == MAPI_E_END_OF_SESSION ? MAPI_E_NOT_FOUND : hr;
    }
    touch(c, s, time(NULL));
    out->session = s;
    out->joined = true;
    out->shared = true;
    return S_OK;
}

/* A session object for a record this gateway has not built: its facts only,
 * no providers (admin listings, a nameless logon's choice). */
static session *shadow(core *c, profile_store *store, const shared_session *rec)
{
    /* A templated name resolves to its derived profile, in a store of its
     * own (profile_store_resolve); the session keeps that store. */
    profile_store *own = profile_store_ref(store);
    const profile *p = profile_store_resolve(&own, rec->profile);
    session *s = NULL;
    if (p && session_create_as(c->env, own, p, rec->flags, rec->idle_timeout_s, rec->lifetime_s,
                               rec->created_at, rec->id, rec->serial, &s) == S_OK)
        session_touch(s, rec->last_used_at);
    profile_store_unref(own);
    return s;
}

HRESULT core_shared_sole_shared(core *c, profile_store *store, session **out)
{
    *out = NULL;
    shared_session rec;
    HRESULT hr = shared_store_sole_shared(c->shared, &rec);
    if (HR_FAILED(hr))
        return hr;
    *out = session_store_find(c->sessions, rec.id);
    if (!*out)
        *out = shadow(c, store, &rec);
    return *out ? S_OK : MAPI_E_NOT_FOUND;
}

HRESULT core_shared_authenticate(core *c, const char *token, const token_hash *h, session **out)
{
    *out = NULL;
    if (!shared_store_usable(c->shared))
        return MAPI_E_NETWORK_ERROR; /* fail closed: the cache may be stale */
    time_t now = time(NULL);
    session *s;
    if (session_store_lookup(c->sessions, h, &s) == S_OK) {
        /* The lifetime is known here; the idle deadline is Redis's (uses
         * on other gateways move it), enforced by its reaper. */
        if (now >= s->created_at + (time_t)s->lifetime_s) {
            session_unref(s);
            return MAPI_E_END_OF_SESSION;
        }
        touch(c, s, now);
        *out = s;
        return S_OK;
    }
    shared_session rec;
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    HRESULT hr = shared_store_handle(c->shared, h, &rec, &sealed, &sealed_len);
    if (HR_FAILED(hr))
        return hr;
    char *password = unseal(sealed, sealed_len, token);
    free(sealed);
    hr = materialize(c, &rec, h, password, NULL, &s);
    wipe_free(password);
    if (HR_FAILED(hr))
        return hr;
    touch(c, s, now);
    *out = s;
    return S_OK;
}

HRESULT core_shared_logoff(core *c, const token_hash *handle, bool all)
{
    char id[SESSION_ID_LEN + 1] = "";
    bool ended = false;
    HRESULT hr = shared_store_logoff(c->shared, handle, all, id, &ended);
    if (hr == MAPI_E_END_OF_SESSION)
        drop_handle(c, handle, "logoff"); /* gone there: gone here */
    if (HR_FAILED(hr))
        return hr;
    /* Here at once; the other gateways from the stream. */
    if (ended)
        drop_session(c, id, all ? "logoff_shared" : "logoff");
    else
        drop_handle(c, handle, "logoff");
    return S_OK;
}

HRESULT core_shared_end(core *c, const char *session_id, const char *reason)
{
    HRESULT hr = shared_store_end(c->shared, session_id, reason);
    if (HR_SUCCEEDED(hr) || hr == MAPI_E_NOT_FOUND)
        drop_session(c, session_id, reason);
    return hr;
}

session *core_shared_find(core *c, const char *session_id)
{
    shared_session rec;
    if (shared_store_get(c->shared, session_id, &rec) != S_OK)
        return NULL;
    session *s = session_store_find(c->sessions, session_id);
    if (!s) {
        profile_store *store = core_profiles(c);
        s = shadow(c, store, &rec);
        profile_store_unref(store);
    } else {
        session_touch(s, rec.last_used_at > session_last_used_at(s) ? rec.last_used_at
                                                                    : session_last_used_at(s));
    }
    return s;
}

void core_shared_facts(core *c, const session *s, core_session_facts *out)
{
    shared_session rec;
    memset(out, 0, sizeof *out);
    if (shared_store_get(c->shared, session_id(s), &rec) == S_OK) {
        out->shared = rec.shared;
        out->handles = rec.handles;
    }
}

void core_shared_foreach(core *c, void (*fn)(void *ctx, session *s), void *ctx)
{
    shared_session *all = NULL;
    size_t n = 0;
    if (shared_store_list(c->shared, &all, &n) != S_OK)
        return;
    profile_store *store = core_profiles(c);
    for (size_t i = 0; i < n; i++) {
        session *s = session_store_find(c->sessions, all[i].id);
        if (s)
            session_touch(s, all[i].last_used_at > session_last_used_at(s)
                                 ? all[i].last_used_at
                                 : session_last_used_at(s));
        else
            s = shadow(c, store, &all[i]);
        if (s) {
            fn(ctx, s);
            session_unref(s);
        }
    }
    profile_store_unref(store);
    free(all);
}

size_t core_shared_profiles_changed(core *c, const profile_store *old, const profile_store *now)
{
    size_t n = profile_store_count(old), changed = 0, ended = 0;
    for (size_t i = 0; i < n; i++) {
        const profile *was = profile_store_at(old, i);
        const profile *is = profile_store_find(now, profile_name(was));
        /* A password changed through the API lives in Redis, not in the
         * file: the new store adopts it before it is compared, or every
         * reload would end the sessions it opened. */
        if (is && !profile_same_auth(was, is))
            core_shared_sync_password(c, is);
        changed += !is || !profile_same_auth(was, is);
    }
    if (!changed)
        return 0;
    shared_session *all = NULL;
    size_t count = 0;
    if (shared_store_list(c->shared, &all, &count) != S_OK)
        return 0;
    for (size_t i = 0; i < count; i++) {
        const profile *was = profile_store_find(old, all[i].profile);
        const profile *is = profile_store_find(now, all[i].profile);
        if (was && (!is || !profile_same_auth(was, is)) &&
            core_shared_end(c, all[i].id, "profile_changed") == S_OK)
            ended++;
    }
    free(all);
    return ended;
}

/* ---- passwords changed on any gateway ------------------------------------ */

void core_shared_sync_password(core *c, const profile *p)
{
    char base[PROFILE_VERIFIER_MAX], now[PROFILE_VERIFIER_MAX], mine[PROFILE_VERIFIER_MAX];
    if (profile_auth(p) != PROFILE_AUTH_ARGON2ID || !profile_verifier_copy(p, mine) ||
        shared_store_password_get(c->shared, profile_name(p), base, now, sizeof base) != S_OK)
        return;
    if (strcmp(mine, base) == 0)
        profile_verifier_adopt(p, mine, now);
    else if (strcmp(mine, now) != 0)
        /* The file's verifier is neither: the file changed since, and wins. */
        shared_store_password_forget(c->shared, profile_name(p));
    sodium_memzero(base, sizeof base);
    sodium_memzero(now, sizeof now);
    sodium_memzero(mine, sizeof mine);
}

void core_shared_password_changed(core *c, const profile *p, const char *before)
{
    char base[PROFILE_VERIFIER_MAX], now[PROFILE_VERIFIER_MAX], mine[PROFILE_VERIFIER_MAX];
    if (!profile_verifier_copy(p, mine))
        return;
    /* The base stays the file's verifier however many changes follow. */
    bool had =
        shared_store_password_get(c->shared, profile_name(p), base, now, sizeof base) == S_OK &&
        strcmp(now, before) == 0;
    shared_store_password_set(c->shared, profile_name(p), had ? base : before, mine);
    sodium_memzero(base, sizeof base);
    sodium_memzero(now, sizeof now);
    sodium_memzero(mine, sizeof mine);
}
