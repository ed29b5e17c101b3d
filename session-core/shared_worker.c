/* shared_worker.c - the shared store's life: open and close, the queue of
 * uses, and the worker thread that reads the stream of ends, flushes uses,
 * reaps, and so tells whether Redis is there at all. */
#include "shared_store_internal.h"

#include "shared_scripts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The worker blocks this long on the stream, then flushes and reaps: it
 * hears from Redis at least this often while Redis is there. */
#define READ_BLOCK_MS 250
#define READ_COUNT 512
#define RETRY_MS 200
#define REAP_BATCH 500
#define TOUCH_PAIRS 30 /* uses per TOUCH script call (its ARGV stays short) */

long long shared_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

HRESULT shared_store_open(const shared_store_config *cfg, const shared_store_listener *listener,
                          shared_store **out, const char **why)
{
    *out = NULL;
    *why = NULL;
    if (!cfg->prefix || strlen(cfg->prefix) > SHARED_PREFIX_MAX) {
        *why = "the key prefix must be at most 128 bytes";
        return MAPI_E_INVALID_PARAMETER;
    }
    shared_store *st = calloc(1, sizeof *st);
    if (!st)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    st->cfg = *cfg;
    memcpy(st->prefix, cfg->prefix, strlen(cfg->prefix) + 1);
    st->cfg.prefix = st->prefix;
    st->cfg.password = NULL; /* the link keeps its own copy */
    st->cfg.url = NULL;
    st->listener = *listener;
    redis_link_config lc = {cfg->url, cfg->password, 1000};
    HRESULT hr = redis_link_new(&lc, &st->link, why);
    if (HR_FAILED(hr)) {
        free(st);
        return hr;
    }
    atomic_init(&st->stop, false);
    atomic_init(&st->last_ok_ms, 0);
    if (pthread_mutex_init(&st->uses_lock, NULL) != 0) {
        redis_link_free(st->link);
        free(st);
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    }
    if (pthread_create(&st->worker, NULL, shared_worker_main, st) != 0) {
        pthread_mutex_destroy(&st->uses_lock);
        redis_link_free(st->link);
        free(st);
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    }
    *out = st;
    return S_OK;
}

static void flush_uses(shared_store *st);

void shared_store_close(shared_store *st)
{
    if (!st)
        return;
    atomic_store(&st->stop, true);
    pthread_join(st->worker, NULL);
    flush_uses(st); /* the last uses count too */
    pthread_mutex_destroy(&st->uses_lock);
    free(st->uses);
    redis_link_free(st->link);
    free(st);
}

bool shared_store_usable(shared_store *st)
{
    long long ok = atomic_load(&st->last_ok_ms);
    return ok && shared_now_ms() - ok <= (long long)st->cfg.grace_ms;
}

const char *shared_store_describe(const shared_store *st) { return redis_link_describe(st->link); }

uint64_t shared_store_errors(shared_store *st) { return redis_link_errors(st->link); }

void shared_store_touch(shared_store *st, const char *id, time_t when)
{
    pthread_mutex_lock(&st->uses_lock);
    if (st->uses_count == st->uses_cap) {
        size_t cap = st->uses_cap ? st->uses_cap * 2 : 256;
        shared_use *n = realloc(st->uses, cap * sizeof *n);
        if (!n) {
            /* The use is lost, not the session: its next use queues again. */
            pthread_mutex_unlock(&st->uses_lock);
            return;
        }
        st->uses = n;
        st->uses_cap = cap;
    }
    shared_use *u = &st->uses[st->uses_count++];
    memcpy(u->id, id, SESSION_ID_LEN + 1);
    u->when = when;
    pthread_mutex_unlock(&st->uses_lock);
}

static void flush_uses(shared_store *st)
{
    pthread_mutex_lock(&st->uses_lock);
    shared_use *uses = st->uses;
    size_t n = st->uses_count;
    st->uses = NULL;
    st->uses_count = st->uses_cap = 0;
    pthread_mutex_unlock(&st->uses_lock);
    for (size_t base = 0; base < n; base += TOUCH_PAIRS) {
        size_t m = n - base < TOUCH_PAIRS ? n - base : TOUCH_PAIRS;
        const char *argv[1 + 2 * TOUCH_PAIRS];
        size_t lens[1 + 2 * TOUCH_PAIRS];
        char times[TOUCH_PAIRS][24];
        argv[0] = st->prefix;
        lens[0] = strlen(st->prefix);
        for (size_t i = 0; i < m; i++) {
            argv[1 + 2 * i] = uses[base + i].id;
            lens[1 + 2 * i] = SESSION_ID_LEN;
            snprintf(times[i], sizeof times[i], "%lld", (long long)uses[base + i].when);
            argv[2 + 2 * i] = times[i];
            lens[2 + 2 * i] = strlen(times[i]);
        }
        redisReply *r;
        if (redis_link_script(st->link, &SHARED_TOUCH, (int)(1 + 2 * m), argv, lens, &r) == S_OK)
            freeReplyObject(r);
    }
    free(uses);
}

static void reap(shared_store *st)
{
    char limit[16];
    snprintf(limit, sizeof limit, "%d", REAP_BATCH);
    for (int round = 0; round < 20; round++) {
        const char *argv[] = {st->prefix, limit};
        size_t lens[] = {strlen(st->prefix), strlen(limit)};
        redisReply *r;
        if (redis_link_script(st->link, &SHARED_REAP, 2, argv, lens, &r) != S_OK)
            return;
        long long ended = r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
                                  r->element[1]->type == REDIS_REPLY_INTEGER
                              ? r->element[1]->integer
                              : 0;
        freeReplyObject(r);
        if (ended < REAP_BATCH)
            return;
    }
}

/* The reasons an end may carry, as the static strings session events use. */
static const char *reason_of(const char *s, size_t len)
{
    static const char *const KNOWN[] = {"logoff", "logoff_shared",   "expired",
                                        "admin",  "profile_changed", "shutdown"};
    for (size_t i = 0; i < sizeof KNOWN / sizeof *KNOWN; i++)
        if (strlen(KNOWN[i]) == len && memcmp(KNOWN[i], s, len) == 0)
            return KNOWN[i];
    return "admin";
}

static void apply_entry(shared_store *st, const redisReply *fields)
{
    if (fields->type != REDIS_REPLY_ARRAY)
        return;
    const redisReply *t = NULL, *i = NULL, *h = NULL, *r = NULL;
    for (size_t j = 0; j + 1 < fields->elements; j += 2) {
        const redisReply *f = fields->element[j], *v = fields->element[j + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len != 1)
            continue;
        switch (f->str[0]) {
        case 't':
            t = v;
            break;
        case 'i':
            i = v;
            break;
        case 'h':
            h = v;
            break;
        case 'r':
            r = v;
            break;
        default:
            break;
        }
    }
    if (!t || !i || i->len != SESSION_ID_LEN || t->len != 1)
        return;
    char id[SESSION_ID_LEN + 1];
    memcpy(id, i->str, SESSION_ID_LEN);
    id[SESSION_ID_LEN] = '\0';
    token_hash handle;
    shared_event ev = {SHARED_EVENT_SESSION_END, id, NULL, r ? reason_of(r->str, r->len) : "admin"};
    if (t->str[0] == 'h') {
        if (!h || h->len != TOKEN_HASH_LEN)
            return;
        memcpy(handle.bytes, h->str, TOKEN_HASH_LEN);
        ev.kind = SHARED_EVENT_HANDLE_END;
        ev.handle = &handle;
    } else if (t->str[0] != 's') {
        return;
    }
    st->listener.on_event(st->listener.ctx, &ev);
}

/* XREAD's answer: [[stream, [[id, [field, value, ...]], ...]]]. */
static void apply_read(shared_store *st, const redisReply *r, char *last_id, size_t size)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return;
    const redisReply *stream = r->element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2 ||
        stream->element[1]->type != REDIS_REPLY_ARRAY)
        return;
    const redisReply *entries = stream->element[1];
    for (size_t k = 0; k < entries->elements; k++) {
        const redisReply *e = entries->element[k];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= size)
            continue;
        apply_entry(st, e->element[1]);
        memcpy(last_id, e->element[0]->str, e->element[0]->len);
        last_id[e->element[0]->len] = '\0';
    }
}

/* Where the stream ends now: new ends are read from there. */
static bool stream_end(shared_store *st, redisContext *c, const char *xk, size_t xkl, char *last_id,
                       size_t size)
{
    redisReply *r = redisCommand(c, "XREVRANGE %b + - COUNT 1", xk, xkl);
    bool ok = r && r->type == REDIS_REPLY_ARRAY;
    snprintf(last_id, size, "0-0");
    if (ok && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements >= 1 && r->element[0]->element[0]->type == REDIS_REPLY_STRING &&
        r->element[0]->element[0]->len < size)
        snprintf(last_id, size, "%s", r->element[0]->element[0]->str);
    if (r)
        freeReplyObject(r);
    (void)st;
    return ok;
}

void *shared_worker_main(void *arg)
{
    shared_store *st = arg;
    char xk[SHARED_KEY_MAX];
    size_t xkl = strlen(st->prefix);
    memcpy(xk, st->prefix, xkl);
    xk[xkl++] = 'x';
    char last_id[64] = "";
    bool connected_before = false;
    redisContext *c = NULL;
    long long next_flush = 0, next_reap = 0;
    while (!atomic_load(&st->stop)) {
        if (!c) {
            c = redis_link_connect(st->link, READ_BLOCK_MS + 1000);
            if (!c) {
                sleep_ms(RETRY_MS);
                continue;
            }
            if (!last_id[0] && !stream_end(st, c, xk, xkl, last_id, sizeof last_id)) {
                redisFree(c);
                c = NULL;
                last_id[0] = '\0';
                sleep_ms(RETRY_MS);
                continue;
            }
            if (connected_before) {
                /* Cut off for a while: ends may have been missed (or
                 * trimmed from the stream). The stream is read on from
                 * where it was, and every cached handle is checked. */
                shared_event ev = {SHARED_EVENT_RESYNC, NULL, NULL, "expired"};
                st->listener.on_event(st->listener.ctx, &ev);
            }
            connected_before = true;
        }
        redisReply *r = redisCommand(c, "XREAD COUNT %d BLOCK %d STREAMS %b %s", READ_COUNT,
                                     READ_BLOCK_MS, xk, xkl, last_id);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            if (r)
                freeReplyObject(r);
            redisFree(c);
            c = NULL;
            continue;
        }
        atomic_store(&st->last_ok_ms, shared_now_ms());
        apply_read(st, r, last_id, sizeof last_id);
        freeReplyObject(r);
        long long now = shared_now_ms();
        if (now >= next_flush) {
            flush_uses(st);
            next_flush = now + SHARED_TOUCH_MS;
        }
        if (now >= next_reap) {
            reap(st);
            next_reap = now + SHARED_REAP_MS;
        }
    }
    if (c)
        redisFree(c);
    return NULL;
}
