/* shared_store_internal.h - the shared store's struct, for its two halves
 * (shared_store.c: the verbs; shared_worker.c: the worker thread). */
#pragma once

#include "redis_link.h"
#include "shared_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* The longest key: prefix, kind, and a profile name or a handle. */
#define SHARED_PREFIX_MAX 128
#define SHARED_KEY_MAX (SHARED_PREFIX_MAX + 8 + SHARED_PROFILE_MAX)
/* How long an end waits for replicas (--store-wait-replicas). */
#define SHARED_WAIT_MS_TEXT "100"

typedef struct {
    char id[SESSION_ID_LEN + 1];
    time_t when;
} shared_use;

struct shared_store {
    shared_store_config cfg;
    char prefix[SHARED_PREFIX_MAX + 1];
    redis_link *link;
    shared_store_listener listener;

    pthread_t worker;
    atomic_bool stop;
    atomic_llong last_ok_ms; /* the worker last heard from Redis (monotonic ms; 0: never) */

    uint8_t secret[32]; /* shared by every gateway of the store (valid once has_secret) */
    atomic_bool has_secret;

    pthread_mutex_t uses_lock; /* guards uses */
    shared_use *uses;
    size_t uses_count, uses_cap;
};

/* The worker thread (shared_worker.c). */
void *shared_worker_main(void *arg);
long long shared_now_ms(void);
