#include "throttle.h"

#include "htab.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define THROTTLE_FORGET_S (15 * 60)
#define STRIPES 16
/* Below this many entries per stripe a table is not striped: small tables
 * (tests) then evict in one exact order. */
#define STRIPE_MIN_ENTRIES 64
/* The longest key: a kind byte, a profile name (64 characters of up to 4
 * bytes), '\n' and a client. Longer ones are counted by client only. */
#define KEY_MAX 512

typedef enum { KEY_PAIR = 'P', KEY_CLIENT = 'C' } key_kind;

typedef struct entry {
    htab_node node;
    struct entry *prev, *next; /* in the stripe's cold or hot list */
    bool hot;                  /* at or past its threshold */
    unsigned failures;
    time_t last_failure;
    time_t blocked_until;
    time_t leak_from; /* client keys: failures have leaked up to here */
    size_t key_len;
    char key[]; /* kind byte, then profile '\n' client, or client */
} entry;

/* Most recent failure at the head; eviction takes the tail. */
typedef struct {
    entry *head, *tail;
} lru;

typedef struct {
    pthread_mutex_t lock;
    htab entries;
    lru cold, hot;
    size_t count, cap;
} stripe;

struct throttle {
    unsigned threshold;
    unsigned client_threshold;
    unsigned max_delay_s;
    unsigned nstripes;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    stripe stripes[STRIPES];
};

typedef struct {
    char data[KEY_MAX];
    size_t len;
    uint64_t hash;
} key_buf;

static void lru_unlink(lru *l, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(lru *l, entry *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head)
        l->head->prev = e;
    else
        l->tail = e;
    l->head = e;
}

static bool entry_eq(const htab_node *n, const void *key)
{
    const entry *e = CONTAINER_OF(n, entry, node);
    const key_buf *k = key;
    return e->key_len == k->len && memcmp(e->key, k->data, k->len) == 0;
}

/* The client as the budgets see it: an IPv6 address's /64, the IPv4 address
 * inside an IPv4-mapped one, anything else as given. */
_Static_assert(THROTTLE_CLIENT_ID_MAX >= INET6_ADDRSTRLEN + 4, "room for an address and /64");

const char *throttle_client_id(const char *client, char buf[THROTTLE_CLIENT_ID_MAX])
{
    if (!client)
        return "";
    unsigned char a[16];
    if (!strchr(client, ':') || inet_pton(AF_INET6, client, a) != 1)
        return client;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, sizeof mapped) == 0)
        return inet_ntop(AF_INET, a + 12, buf, INET6_ADDRSTRLEN) ? buf : client;
    memset(a + 8, 0, 8);
    if (!inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN))
        return client;
    strcat(buf, "/64");
    return buf;
}

static bool make_key(const throttle *t, key_kind kind, const char *profile, const char *client,
                     key_buf *k)
{
    size_t p = kind == KEY_PAIR && profile ? strlen(profile) : 0, c = strlen(client);
    size_t len = 1 + (kind == KEY_PAIR ? p + 1 : 0) + c;
    if (len > sizeof k->data)
        return false;
    char *o = k->data;
    *o++ = (char)kind;
    if (kind == KEY_PAIR) {
        memcpy(o, profile ? profile : "", p);
        o += p;
        *o++ = '\n';
    }
    memcpy(o, client, c);
    k->len = len;
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)k->data, k->len, t->hash_key);
    memcpy(&k->hash, h, sizeof k->hash);
    return true;
}

static stripe *stripe_of(throttle *t, const key_buf *k)
{
    return &t->stripes[t->nstripes > 1 ? (unsigned)(k->hash >> 60) % t->nstripes : 0];
}

static entry *find(stripe *s, const key_buf *k)
{
    htab_node *n = htab_find(&s->entries, k->hash, k, entry_eq);
    return n ? CONTAINER_OF(n, entry, node) : NULL;
}

static void drop(stripe *s, entry *e)
{
    lru_unlink(e->hot ? &s->hot : &s->cold, e);
    htab_remove(&s->entries, &e->node);
    s->count--;
    free(e);
}

throttle *throttle_new(unsigned threshold, unsigned client_threshold, unsigned max_delay_s,
                       size_t max_entries)
{
    if (sodium_init() < 0)
        return NULL;
    throttle *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->threshold = threshold ? threshold : 1;
    t->client_threshold = client_threshold ? client_threshold : 1;
    t->max_delay_s = max_delay_s ? max_delay_s : 1;
    if (max_entries < 2)
        max_entries = 2;
    t->nstripes = max_entries >= STRIPES * STRIPE_MIN_ENTRIES ? STRIPES : 1;
    randombytes_buf(t->hash_key, sizeof t->hash_key);
    for (unsigned i = 0; i < t->nstripes; i++) {
        stripe *s = &t->stripes[i];
        if (pthread_mutex_init(&s->lock, NULL) != 0) {
            while (i--)
                pthread_mutex_destroy(&t->stripes[i].lock);
            free(t);
            return NULL;
        }
        htab_init(&s->entries);
        s->cap = (max_entries + t->nstripes - 1) / t->nstripes;
    }
    return t;
}

void throttle_free(throttle *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < t->nstripes; i++) {
        stripe *s = &t->stripes[i];
        while (s->cold.head)
            drop(s, s->cold.head);
        while (s->hot.head)
            drop(s, s->hot.head);
        htab_destroy(&s->entries);
        pthread_mutex_destroy(&s->lock);
    }
    free(t);
}

static unsigned wait_of(throttle *t, const key_buf *k, time_t now)
{
    stripe *s = stripe_of(t, k);
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, k);
    unsigned wait = (e && e->blocked_until > now) ? (unsigned)(e->blocked_until - now) : 0;
    pthread_mutex_unlock(&s->lock);
    return wait;
}

unsigned throttle_check(throttle *t, const char *profile, const char *client, time_t now)
{
    char cbuf[THROTTLE_CLIENT_ID_MAX];
    const char *cid = throttle_client_id(client, cbuf);
    key_buf k;
    unsigned wait = 0;
    if (make_key(t, KEY_PAIR, profile, cid, &k))
        wait = wait_of(t, &k, now);
    if (make_key(t, KEY_CLIENT, NULL, cid, &k)) {
        unsigned w = wait_of(t, &k, now);
        if (w > wait)
            wait = w;
    }
    return wait;
}

/* 1 s at the threshold, doubling per failure past it, capped. */
static time_t delay_past(const throttle *t, unsigned over)
{
    unsigned delay = 1;
    while (over-- && delay < t->max_delay_s)
        delay *= 2;
    return (time_t)(delay < t->max_delay_s ? delay : t->max_delay_s);
}

/* The key's entry, created when absent; evicts when the stripe is full
 * (see throttle.h for the order). NULL only when out of memory. */
static entry *find_or_add(stripe *s, const key_buf *k, time_t now)
{
    entry *e = find(s, k);
    if (e)
        return e;
    if (s->count >= s->cap) {
        entry *victim = s->cold.tail ? s->cold.tail : s->hot.tail;
        if (victim)
            drop(s, victim);
    }
    e = calloc(1, sizeof *e + k->len);
    if (!e)
        return NULL;
    memcpy(e->key, k->data, k->len);
    e->key_len = k->len;
    e->leak_from = now;
    if (!htab_insert(&s->entries, &e->node, k->hash)) {
        free(e);
        return NULL;
    }
    lru_push(&s->cold, e);
    s->count++;
    return e;
}

static void count_failure(throttle *t, const key_buf *k, time_t now)
{
    bool client = k->data[0] == KEY_CLIENT;
    unsigned threshold = client ? t->client_threshold : t->threshold;
    stripe *s = stripe_of(t, k);
    pthread_mutex_lock(&s->lock);
    entry *e = find_or_add(s, k, now);
    if (e) {
        if (client && now > e->leak_from) {
            time_t leaked = (now - e->leak_from) / THROTTLE_CLIENT_LEAK_S;
            if ((time_t)e->failures <= leaked) {
                e->failures = 0;
                e->leak_from = now;
            } else {
                e->failures -= (unsigned)leaked;
                e->leak_from += leaked * THROTTLE_CLIENT_LEAK_S;
            }
        }
        if (e->failures < UINT_MAX)
            e->failures++;
        e->last_failure = now;
        if (e->failures >= threshold)
            e->blocked_until = now + delay_past(t, e->failures - threshold);
        lru_unlink(e->hot ? &s->hot : &s->cold, e);
        e->hot = e->failures >= threshold;
        lru_push(e->hot ? &s->hot : &s->cold, e);
    }
    pthread_mutex_unlock(&s->lock);
}

void throttle_failure(throttle *t, const char *profile, const char *client, time_t now)
{
    char cbuf[THROTTLE_CLIENT_ID_MAX];
    const char *cid = throttle_client_id(client, cbuf);
    key_buf k;
    if (make_key(t, KEY_PAIR, profile, cid, &k))
        count_failure(t, &k, now);
    if (make_key(t, KEY_CLIENT, NULL, cid, &k))
        count_failure(t, &k, now);
}

void throttle_success(throttle *t, const char *profile, const char *client)
{
    char cbuf[THROTTLE_CLIENT_ID_MAX];
    key_buf k;
    if (!make_key(t, KEY_PAIR, profile, throttle_client_id(client, cbuf), &k))
        return;
    stripe *s = stripe_of(t, &k);
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, &k);
    if (e)
        drop(s, e);
    pthread_mutex_unlock(&s->lock);
}

static bool stale(const entry *e, time_t now)
{
    return now - e->last_failure >= THROTTLE_FORGET_S && now >= e->blocked_until;
}

void throttle_sweep(throttle *t, time_t now)
{
    /* From the tails (oldest failures) only, so a sweep costs what it
     * removes; a stale key behind a fresher blocked one waits for the next
     * sweep or an eviction. */
    for (unsigned i = 0; i < t->nstripes; i++) {
        stripe *s = &t->stripes[i];
        pthread_mutex_lock(&s->lock);
        while (s->cold.tail && stale(s->cold.tail, now))
            drop(s, s->cold.tail);
        while (s->hot.tail && stale(s->hot.tail, now))
            drop(s, s->hot.tail);
        pthread_mutex_unlock(&s->lock);
    }
}

size_t throttle_size(throttle *t)
{
    size_t n = 0;
    for (unsigned i = 0; i < t->nstripes; i++) {
        pthread_mutex_lock(&t->stripes[i].lock);
        n += t->stripes[i].count;
        pthread_mutex_unlock(&t->stripes[i].lock);
    }
    return n;
}
