#include "throttle.h"

#include "htab.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define THROTTLE_FORGET_S (15 * 60)

typedef struct {
    htab_node node;
    unsigned failures;
    time_t last_failure;
    time_t blocked_until;
    size_t key_len;
    char key[]; /* profile, '\n', client */
} throttle_entry;

struct throttle {
    pthread_mutex_t lock;
    htab entries;
    unsigned threshold;
    unsigned max_delay_s;
    size_t max_entries;
};

typedef struct {
    const char *data;
    size_t len;
} key_view;

static bool entry_eq(const htab_node *n, const void *key)
{
    const throttle_entry *e = CONTAINER_OF(n, throttle_entry, node);
    const key_view *k = key;
    return e->key_len == k->len && memcmp(e->key, k->data, k->len) == 0;
}

/* Builds "profile\nclient" into buf; false when it does not fit (then the
 * attempt is not throttled: such keys are longer than any valid logon's). */
static bool make_key(const char *profile, const char *client, char *buf, size_t cap, key_view *out)
{
    size_t p = profile ? strlen(profile) : 0, c = client ? strlen(client) : 0;
    if (p + c + 1 > cap)
        return false;
    if (p)
        memcpy(buf, profile, p);
    buf[p] = '\n';
    if (c)
        memcpy(buf + p + 1, client, c);
    out->data = buf;
    out->len = p + c + 1;
    return true;
}

static throttle_entry *find(throttle *t, const key_view *k, uint64_t *hash)
{
    *hash = htab_hash_bytes(k->data, k->len);
    htab_node *n = htab_find(&t->entries, *hash, k, entry_eq);
    return n ? CONTAINER_OF(n, throttle_entry, node) : NULL;
}

throttle *throttle_new(unsigned threshold, unsigned max_delay_s, size_t max_entries)
{
    throttle *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    htab_init(&t->entries);
    t->threshold = threshold ? threshold : 1;
    t->max_delay_s = max_delay_s ? max_delay_s : 1;
    t->max_entries = max_entries;
    return t;
}

static void free_entry(htab_node *n, void *ctx)
{
    (void)ctx;
    free(CONTAINER_OF(n, throttle_entry, node));
}

void throttle_free(throttle *t)
{
    if (!t)
        return;
    htab_foreach(&t->entries, free_entry, NULL);
    htab_destroy(&t->entries);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

unsigned throttle_check(throttle *t, const char *profile, const char *client, time_t now)
{
    char buf[512];
    key_view k;
    if (!make_key(profile, client, buf, sizeof buf, &k))
        return 0;
    uint64_t hash;
    pthread_mutex_lock(&t->lock);
    throttle_entry *e = find(t, &k, &hash);
    unsigned wait = (e && e->blocked_until > now) ? (unsigned)(e->blocked_until - now) : 0;
    pthread_mutex_unlock(&t->lock);
    return wait;
}

typedef struct {
    time_t now;
    throttle_entry **stale;
    size_t count;
} sweep_ctx;

static void collect_stale(htab_node *n, void *ctx)
{
    sweep_ctx *s = ctx;
    throttle_entry *e = CONTAINER_OF(n, throttle_entry, node);
    if (s->now - e->last_failure >= THROTTLE_FORGET_S && s->now >= e->blocked_until)
        s->stale[s->count++] = e;
}

static void sweep_locked(throttle *t, time_t now)
{
    sweep_ctx s = {now, calloc(t->entries.count ? t->entries.count : 1, sizeof(throttle_entry *)),
                   0};
    if (!s.stale)
        return;
    htab_foreach(&t->entries, collect_stale, &s);
    for (size_t i = 0; i < s.count; i++) {
        htab_remove(&t->entries, &s.stale[i]->node);
        free(s.stale[i]);
    }
    free(s.stale);
}

void throttle_failure(throttle *t, const char *profile, const char *client, time_t now)
{
    char buf[512];
    key_view k;
    if (!make_key(profile, client, buf, sizeof buf, &k))
        return;
    uint64_t hash;
    pthread_mutex_lock(&t->lock);
    throttle_entry *e = find(t, &k, &hash);
    if (!e) {
        if (t->entries.count >= t->max_entries)
            sweep_locked(t, now);
        /* Still full: this key goes unthrottled rather than evicting a key
         * that is being slowed down right now. */
        if (t->entries.count < t->max_entries && (e = calloc(1, sizeof *e + k.len))) {
            memcpy(e->key, k.data, k.len);
            e->key_len = k.len;
            if (!htab_insert(&t->entries, &e->node, hash)) {
                free(e);
                e = NULL;
            }
        }
    }
    if (e) {
        e->failures++;
        e->last_failure = now;
        if (e->failures >= t->threshold) {
            unsigned over = e->failures - t->threshold, delay = 1;
            while (over-- && delay < t->max_delay_s)
                delay *= 2;
            e->blocked_until = now + (time_t)(delay < t->max_delay_s ? delay : t->max_delay_s);
        }
    }
    pthread_mutex_unlock(&t->lock);
}

void throttle_success(throttle *t, const char *profile, const char *client)
{
    char buf[512];
    key_view k;
    if (!make_key(profile, client, buf, sizeof buf, &k))
        return;
    uint64_t hash;
    pthread_mutex_lock(&t->lock);
    throttle_entry *e = find(t, &k, &hash);
    if (e) {
        htab_remove(&t->entries, &e->node);
        free(e);
    }
    pthread_mutex_unlock(&t->lock);
}

void throttle_sweep(throttle *t, time_t now)
{
    pthread_mutex_lock(&t->lock);
    sweep_locked(t, now);
    pthread_mutex_unlock(&t->lock);
}
