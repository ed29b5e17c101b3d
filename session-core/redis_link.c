/* redis_link.c - the pool of connections to the Redis master (redis_link.h).
 *
 * A handful of connections, each under its own mutex: a call takes the first
 * free one (try-lock round the pool from a per-thread start), or waits on its
 * own. A connection that fails is closed and made again on the next call that
 * takes it, after re-asking the sentinels where the master is; so a failover
 * or a Redis restart heals without anyone telling the pool. */
#include "redis_link.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define POOL_SIZE 8
#define MAX_SENTINELS 8
#define HOST_MAX 256

typedef struct {
    char host[HOST_MAX];
    int port;
} endpoint;

typedef struct {
    pthread_mutex_t lock;
    redisContext *ctx; /* NULL: (re)connect on next use */
} pooled;

struct redis_link {
    bool sentinel;
    char master_name[HOST_MAX];
    endpoint direct;                   /* redis:// */
    endpoint sentinels[MAX_SENTINELS]; /* redis-sentinel:// */
    size_t sentinel_count;
    int db;
    char *password;
    unsigned timeout_ms;
    char describe[HOST_MAX * 3];
    pooled pool[POOL_SIZE];
    atomic_uint next;
    atomic_uint_fast64_t errors; /* failed calls so far */
};

static bool parse_endpoint(const char *s, size_t len, endpoint *out)
{
    const char *colon = memchr(s, ':', len);
    size_t hlen = colon ? (size_t)(colon - s) : len;
    if (hlen == 0 || hlen >= HOST_MAX)
        return false;
    memcpy(out->host, s, hlen);
    out->host[hlen] = '\0';
    out->port = 6379;
    if (colon) {
        size_t plen = len - hlen - 1;
        if (plen == 0 || plen > 5)
            return false;
        int port = 0;
        for (size_t i = 0; i < plen; i++) {
            if (colon[1 + i] < '0' || colon[1 + i] > '9')
                return false;
            port = port * 10 + (colon[1 + i] - '0');
        }
        if (port < 1 || port > 65535)
            return false;
        out->port = port;
    }
    return true;
}

static HRESULT parse_url(redis_link *l, const char *url, const char **why)
{
    static const char DIRECT[] = "redis://", SENTINEL[] = "redis-sentinel://";
    const char *rest;
    if (strncmp(url, DIRECT, sizeof DIRECT - 1) == 0) {
        rest = url + sizeof DIRECT - 1;
    } else if (strncmp(url, SENTINEL, sizeof SENTINEL - 1) == 0) {
        rest = url + sizeof SENTINEL - 1;
        l->sentinel = true;
    } else {
        *why = "must be memory, redis://HOST[:PORT][/DB] or "
               "redis-sentinel://MASTER@HOST[:PORT][,HOST[:PORT]...][/DB]";
        return MAPI_E_INVALID_PARAMETER;
    }
    const char *slash = strchr(rest, '/');
    size_t hostpart = slash ? (size_t)(slash - rest) : strlen(rest);
    if (slash) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || db < 0 || db > 1000000) {
            *why = "the database after '/' must be a number";
            return MAPI_E_INVALID_PARAMETER;
        }
        l->db = (int)db;
    }
    if (l->sentinel) {
        const char *at = memchr(rest, '@', hostpart);
        size_t nlen = at ? (size_t)(at - rest) : 0;
        if (!at || nlen == 0 || nlen >= HOST_MAX) {
            *why = "redis-sentinel:// needs MASTER@HOST[:PORT],...";
            return MAPI_E_INVALID_PARAMETER;
        }
        memcpy(l->master_name, rest, nlen);
        l->master_name[nlen] = '\0';
        const char *p = at + 1, *end = rest + hostpart;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);
            if (l->sentinel_count == MAX_SENTINELS ||
                !parse_endpoint(p, len, &l->sentinels[l->sentinel_count])) {
                *why = "a sentinel address must be HOST[:PORT] (at most 8 of them)";
                return MAPI_E_INVALID_PARAMETER;
            }
            l->sentinel_count++;
            p += len + (comma ? 1 : 0);
        }
        if (l->sentinel_count == 0) {
            *why = "redis-sentinel:// needs at least one sentinel address";
            return MAPI_E_INVALID_PARAMETER;
        }
        snprintf(l->describe, sizeof l->describe, "redis-sentinel://%s@%s:%d/%d", l->master_name,
                 l->sentinels[0].host, l->sentinels[0].port, l->db);
    } else {
        if (memchr(rest, '@', hostpart)) {
            *why = "no password in the URL (it would show in the process list): use "
                   "--store-password-file";
            return MAPI_E_INVALID_PARAMETER;
        }
        if (!parse_endpoint(rest, hostpart, &l->direct)) {
            *why = "the address must be HOST[:PORT]";
            return MAPI_E_INVALID_PARAMETER;
        }
        snprintf(l->describe, sizeof l->describe, "redis://%s:%d/%d", l->direct.host,
                 l->direct.port, l->db);
    }
    return S_OK;
}

HRESULT redis_link_new(const redis_link_config *cfg, redis_link **out, const char **why)
{
    *out = NULL;
    *why = NULL;
    redis_link *l = calloc(1, sizeof *l);
    if (!l)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    HRESULT hr = parse_url(l, cfg->url, why);
    if (HR_FAILED(hr)) {
        free(l);
        return hr;
    }
    l->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 1000;
    if (cfg->password && !(l->password = strdup(cfg->password))) {
        free(l);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    for (size_t i = 0; i < POOL_SIZE; i++)
        pthread_mutex_init(&l->pool[i].lock, NULL);
    atomic_init(&l->next, 0);
    atomic_init(&l->errors, 0);
    *out = l;
    return S_OK;
}

void redis_link_free(redis_link *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < POOL_SIZE; i++) {
        if (l->pool[i].ctx)
            redisFree(l->pool[i].ctx);
        pthread_mutex_destroy(&l->pool[i].lock);
    }
    if (l->password) {
        memset(l->password, 0, strlen(l->password));
        free(l->password);
    }
    free(l);
}

const char *redis_link_describe(const redis_link *l) { return l->describe; }

static struct timeval tv_of(unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static redisContext *open_plain(const endpoint *e, unsigned timeout_ms)
{
    redisContext *c = redisConnectWithTimeout(e->host, e->port, tv_of(timeout_ms));
    if (!c)
        return NULL;
    if (c->err || redisSetTimeout(c, tv_of(timeout_ms)) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    redisEnableKeepAlive(c);
    return c;
}

/* Asks the sentinels, in order, where the master is. */
static bool find_master(redis_link *l, endpoint *out)
{
    for (size_t i = 0; i < l->sentinel_count; i++) {
        redisContext *c = open_plain(&l->sentinels[i], l->timeout_ms);
        if (!c)
            continue;
        redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", l->master_name);
        bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                  r->element[0]->type == REDIS_REPLY_STRING &&
                  r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len < HOST_MAX;
        if (ok) {
            memcpy(out->host, r->element[0]->str, r->element[0]->len);
            out->host[r->element[0]->len] = '\0';
            out->port = atoi(r->element[1]->str);
        }
        if (r)
            freeReplyObject(r);
        redisFree(c);
        if (ok)
            return true;
    }
    return false;
}

static bool reply_ok(redisReply *r) { return r && r->type != REDIS_REPLY_ERROR; }

redisContext *redis_link_connect(redis_link *l, unsigned timeout_ms)
{
    endpoint e;
    if (l->sentinel) {
        if (!find_master(l, &e))
            return NULL;
    } else {
        e = l->direct;
    }
    redisContext *c = open_plain(&e, timeout_ms ? timeout_ms : l->timeout_ms);
    if (!c)
        return NULL;
    redisReply *r;
    if (l->password) {
        r = redisCommand(c, "AUTH %s", l->password);
        bool ok = reply_ok(r);
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    if (l->db) {
        r = redisCommand(c, "SELECT %d", l->db);
        bool ok = reply_ok(r);
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    if (l->sentinel) {
        /* The sentinels may lag a failover: only a master will do. */
        r = redisCommand(c, "ROLE");
        bool master = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                      r->element[0]->type == REDIS_REPLY_STRING &&
                      strcmp(r->element[0]->str, "master") == 0;
        if (r)
            freeReplyObject(r);
        if (!master) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

static pooled *take(redis_link *l)
{
    static _Thread_local unsigned start = UINT32_MAX;
    if (start == UINT32_MAX)
        start = atomic_fetch_add(&l->next, 1);
    for (unsigned i = 0; i < POOL_SIZE; i++) {
        pooled *p = &l->pool[(start + i) % POOL_SIZE];
        if (pthread_mutex_trylock(&p->lock) == 0)
            return p;
    }
    pooled *p = &l->pool[start % POOL_SIZE];
    pthread_mutex_lock(&p->lock);
    return p;
}

static void give_back(pooled *p) { pthread_mutex_unlock(&p->lock); }

static void drop(pooled *p)
{
    if (p->ctx)
        redisFree(p->ctx);
    p->ctx = NULL;
}

/* The error replies that mean "not the master you want, now": the
 * connection is dropped and the next call finds the master again. */
static bool error_means_unreachable(const redisReply *r)
{
    return strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "LOADING", 7) == 0 ||
           strncmp(r->str, "MASTERDOWN", 10) == 0 || strncmp(r->str, "NOAUTH", 6) == 0;
}

static HRESULT run(redis_link *l, pooled *p, int argc, const char **argv, const size_t *lens,
                   redisReply **reply)
{
    *reply = NULL;
    if (!p->ctx && !(p->ctx = redis_link_connect(l, l->timeout_ms)))
        return MAPI_E_NETWORK_ERROR;
    redisReply *r = redisCommandArgv(p->ctx, argc, argv, lens);
    if (!r) {
        drop(p);
        return MAPI_E_NETWORK_ERROR;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        HRESULT hr = error_means_unreachable(r) ? MAPI_E_NETWORK_ERROR : MAPI_E_CALL_FAILED;
        if (hr == MAPI_E_NETWORK_ERROR)
            drop(p);
        *reply = r; /* the caller may look at it (NOSCRIPT) before freeing */
        return hr;
    }
    *reply = r;
    return S_OK;
}

HRESULT redis_link_command(redis_link *l, int argc, const char **argv, const size_t *lens,
                           redisReply **reply)
{
    pooled *p = take(l);
    HRESULT hr = run(l, p, argc, argv, lens, reply);
    give_back(p);
    if (HR_FAILED(hr))
        atomic_fetch_add(&l->errors, 1);
    if (HR_FAILED(hr) && *reply) {
        freeReplyObject(*reply);
        *reply = NULL;
    }
    return hr;
}

HRESULT redis_link_pipeline(redis_link *l, size_t n, const redis_cmd *cmds, redisReply **replies)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    pooled *p = take(l);
    HRESULT hr = S_OK;
    if (!p->ctx && !(p->ctx = redis_link_connect(l, l->timeout_ms)))
        hr = MAPI_E_NETWORK_ERROR;
    for (size_t i = 0; HR_SUCCEEDED(hr) && i < n; i++)
        if (redisAppendCommandArgv(p->ctx, cmds[i].argc, cmds[i].argv, cmds[i].lens) != REDIS_OK)
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
    for (size_t i = 0; HR_SUCCEEDED(hr) && i < n; i++) {
        void *r = NULL;
        if (redisGetReply(p->ctx, &r) != REDIS_OK || !r)
            hr = MAPI_E_NETWORK_ERROR;
        else
            replies[i] = r;
    }
    if (HR_FAILED(hr)) {
        drop(p); /* a half-read pipeline leaves the connection unusable */
        for (size_t i = 0; i < n; i++) {
            if (replies[i])
                freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
        atomic_fetch_add(&l->errors, 1);
    }
    give_back(p);
    return hr;
}

uint64_t redis_link_errors(redis_link *l) { return atomic_load(&l->errors); }

static HRESULT load_script(redis_link *l, pooled *p, redis_script *s)
{
    const char *argv[] = {"SCRIPT", "LOAD", s->text};
    size_t lens[] = {6, 4, strlen(s->text)};
    redisReply *r;
    HRESULT hr = run(l, p, 3, argv, lens, &r);
    if (HR_SUCCEEDED(hr) && r->type == REDIS_REPLY_STRING && r->len == 40) {
        memcpy(s->sha, r->str, 40);
        s->sha[40] = '\0';
        __atomic_store_n(&s->loaded, 1, __ATOMIC_RELEASE);
    } else if (HR_SUCCEEDED(hr)) {
        hr = MAPI_E_CALL_FAILED;
    }
    if (r)
        freeReplyObject(r);
    return hr;
}

#define SCRIPT_MAX_ARGS 64

HRESULT redis_link_script(redis_link *l, redis_script *s, int argc, const char **argv,
                          const size_t *lens, redisReply **reply)
{
    *reply = NULL;
    if (argc + 3 > SCRIPT_MAX_ARGS)
        return MAPI_E_INVALID_PARAMETER;
    const char *av[SCRIPT_MAX_ARGS];
    size_t al[SCRIPT_MAX_ARGS];
    pooled *p = take(l);
    HRESULT hr = S_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!__atomic_load_n(&s->loaded, __ATOMIC_ACQUIRE) && HR_FAILED(hr = load_script(l, p, s)))
            break;
        av[0] = "EVALSHA";
        al[0] = 7;
        av[1] = s->sha;
        al[1] = 40;
        av[2] = "0";
        al[2] = 1;
        for (int i = 0; i < argc; i++) {
            av[3 + i] = argv[i];
            al[3 + i] = lens[i];
        }
        hr = run(l, p, argc + 3, av, al, reply);
        if (hr == MAPI_E_CALL_FAILED && *reply && strncmp((*reply)->str, "NOSCRIPT", 8) == 0) {
            /* Redis restarted (or flushed its scripts): load it again. */
            freeReplyObject(*reply);
            *reply = NULL;
            __atomic_store_n(&s->loaded, 0, __ATOMIC_RELEASE);
            continue;
        }
        break;
    }
    give_back(p);
    if (HR_FAILED(hr))
        atomic_fetch_add(&l->errors, 1);
    if (HR_FAILED(hr) && *reply) {
        freeReplyObject(*reply);
        *reply = NULL;
    }
    return hr;
}
