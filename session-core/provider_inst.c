/* provider_inst.c - provider instances and the pool of shared ones.
 *
 * A pool is keyed by the provider_config pointer: a reloaded profiles file
 * has new configurations, so its sessions get new instances while sessions of
 * the old file keep theirs. Shared instances' reference counts change only
 * under the pool lock, so a lookup never revives an instance being freed. */
#include "provider_inst.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A logon finding a shared instance re-checks its resource when the last
 * check is older than this: a new session sees a Maildir's count as it is,
 * and a burst of logons costs one check per second, not one per logon. */
#define SHARED_RECHECK_NS 1000000000LL

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Re-checks a shared instance found by a logon (see SHARED_RECHECK_NS). */
static void recheck(provider_inst *pi)
{
    pthread_mutex_lock(&pi->lock);
    long long now = now_ns();
    if (pi->ops->validate_state && now - pi->checked_at_ns >= SHARED_RECHECK_NS) {
        /* Out of memory keeps the last status: the next logon tries again. */
        (void)pi->ops->validate_state(pi->state, 0);
        pi->checked_at_ns = now;
        atomic_fetch_add(&pi->gen, 1);
    }
    pthread_mutex_unlock(&pi->lock);
}

#define POOL_BUCKETS 256

struct pinst_pool {
    /* Guards the buckets and every reference count of the pool's
     * instances, shared or not. */
    pthread_mutex_t lock;
    provider_inst *buckets[POOL_BUCKETS];
};

pinst_pool *pinst_pool_new(void)
{
    pinst_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        return NULL;
    }
    return pool;
}

void pinst_pool_free(pinst_pool *pool)
{
    if (!pool)
        return;
    pinst_pool_sweep(pool, 0);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

static size_t bucket_of(const provider_config *cfg)
{
    uintptr_t p = (uintptr_t)cfg;
    return (size_t)((p >> 4) ^ (p >> 12)) % POOL_BUCKETS;
}

static provider_inst *pool_find(pinst_pool *pool, const provider_config *cfg)
{
    for (provider_inst *pi = pool->buckets[bucket_of(cfg)]; pi; pi = pi->next)
        if (pi->cfg == cfg)
            return pi;
    return NULL;
}

HRESULT pinst_logon(pinst_pool *pool, profile_store *store, const provider_ops *ops,
                    const provider_config *cfg, const provider_logon_args *args, bool authenticates,
                    provider_inst **out)
{
    *out = NULL;
    bool share = ops->shared_instance && !authenticates;
    if (share) {
        /* Logons of one profile are serialised by the core (the profile's
         * logon lock), so no second instance of cfg can appear while this
         * one logs on outside the pool lock. */
        pthread_mutex_lock(&pool->lock);
        provider_inst *pi = pool_find(pool, cfg);
        if (pi)
            pi->refs++; /* an idle one comes back to life here */
        pthread_mutex_unlock(&pool->lock);
        if (pi) {
            recheck(pi);
            *out = pi;
            return S_OK;
        }
    }
    provider_inst *pi = calloc(1, sizeof *pi);
    if (!pi)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    if (pthread_mutex_init(&pi->lock, NULL) != 0) {
        free(pi);
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    }
    HRESULT hr = ops->logon(cfg, args, &pi->state);
    if (hr != S_OK) {
        pthread_mutex_destroy(&pi->lock);
        free(pi);
        return hr;
    }
    pi->ops = ops;
    pi->cfg = cfg;
    pi->pool = pool;
    pi->authenticates = authenticates;
    pi->shared = share;
    pi->refs = 1;
    pi->store = profile_store_ref(store);
    pi->checked_at_ns = now_ns();
    pi->maintained_ns = pi->checked_at_ns; /* a kind's logon does its own */
    memcpy(pi->uid, args->uid, MAPIUID_LEN);
    if (share) {
        pthread_mutex_lock(&pool->lock);
        size_t b = bucket_of(cfg);
        pi->next = pool->buckets[b];
        pool->buckets[b] = pi;
        pthread_mutex_unlock(&pool->lock);
    }
    *out = pi;
    return S_OK;
}

provider_inst *pinst_ref(provider_inst *pi)
{
    pthread_mutex_lock(&pi->pool->lock);
    pi->refs++;
    pthread_mutex_unlock(&pi->pool->lock);
    return pi;
}

static void pinst_free(provider_inst *pi)
{
    pi->ops->logoff(pi->state);
    profile_store_unref(pi->store);
    pthread_mutex_destroy(&pi->lock);
    free(pi);
}

void pinst_unref(provider_inst *pi)
{
    if (!pi)
        return;
    pinst_pool *pool = pi->pool;
    pthread_mutex_lock(&pool->lock);
    bool last = --pi->refs == 0;
    if (last && pi->shared)
        pi->idle_since_ns = now_ns(); /* stays pooled: pinst_pool_sweep */
    pthread_mutex_unlock(&pool->lock);
    if (last && !pi->shared)
        pinst_free(pi);
}

size_t pinst_pool_sweep(pinst_pool *pool, long long max_idle_ms)
{
    provider_inst *gone = NULL;
    long long now = now_ns();
    pthread_mutex_lock(&pool->lock);
    for (size_t b = 0; b < POOL_BUCKETS; b++) {
        for (provider_inst **p = &pool->buckets[b]; *p;) {
            provider_inst *pi = *p;
            if (pi->refs == 0 && now - pi->idle_since_ns >= max_idle_ms * 1000000LL) {
                *p = pi->next;
                pi->next = gone;
                gone = pi;
            } else {
                p = &pi->next;
            }
        }
    }
    pthread_mutex_unlock(&pool->lock);
    size_t n = 0;
    while (gone) { /* logged off outside the pool lock: it may touch files */
        provider_inst *next = gone->next;
        pinst_free(gone);
        gone = next;
        n++;
    }
    return n;
}

size_t pinst_pool_maintain(pinst_pool *pool, long long min_interval_ms)
{
    long long now = now_ns();
    size_t n = 0, cap = 0;
    provider_inst **due = NULL;
    bool *was_idle = NULL;
    pthread_mutex_lock(&pool->lock);
    for (size_t b = 0; b < POOL_BUCKETS; b++)
        for (provider_inst *pi = pool->buckets[b]; pi; pi = pi->next)
            if (pi->ops->maintain && now - pi->maintained_ns >= min_interval_ms * 1000000LL)
                cap++;
    if (cap) {
        due = malloc(cap * sizeof *due);
        was_idle = malloc(cap * sizeof *was_idle);
    }
    /* Out of memory: nothing this round; the next poll tries again. */
    for (size_t b = 0; due && was_idle && b < POOL_BUCKETS; b++) {
        for (provider_inst *pi = pool->buckets[b]; pi && n < cap; pi = pi->next) {
            if (!pi->ops->maintain || now - pi->maintained_ns < min_interval_ms * 1000000LL)
                continue;
            /* A reference of our own keeps the sweeper from freeing it. */
            was_idle[n] = pi->refs == 0;
            pi->refs++;
            pi->maintained_ns = now;
            due[n++] = pi;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < n; i++) {
        /* Under the instance's lock like any call on its state; gen stays:
         * maintenance does not change what the status shows. */
        pthread_mutex_lock(&due[i]->lock);
        due[i]->ops->maintain(due[i]->state);
        pthread_mutex_unlock(&due[i]->lock);
    }
    pthread_mutex_lock(&pool->lock);
    for (size_t i = 0; i < n; i++) {
        /* An instance idle before keeps its idle time; one whose sessions
         * ended meanwhile starts idling now. */
        if (--due[i]->refs == 0 && !was_idle[i])
            due[i]->idle_since_ns = now_ns();
    }
    pthread_mutex_unlock(&pool->lock);
    free(due);
    free(was_idle);
    return n;
}

void pinst_lock(provider_inst *pi)
{
    if (pi->shared)
        pthread_mutex_lock(&pi->lock);
}

void pinst_unlock(provider_inst *pi)
{
    if (pi->shared) {
        atomic_fetch_add(&pi->gen, 1);
        pthread_mutex_unlock(&pi->lock);
    }
}

void pinst_status(provider_inst *pi, provider_status *out)
{
    if (pi->shared)
        pthread_mutex_lock(&pi->lock);
    pi->ops->status(pi->state, out);
    if (pi->shared)
        pthread_mutex_unlock(&pi->lock);
}
