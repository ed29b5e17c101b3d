/* ticker.c - an interval thread (see ticker.h).
 *
 * The wait is a condition variable on CLOCK_MONOTONIC, so ticker_stop wakes
 * the thread at once instead of waiting out the interval, and a change of
 * the wall clock neither skips nor doubles ticks.
 */
#include "ticker.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ticker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop; /* under lock */
    unsigned interval_s;
    void (*fn)(void *ctx);
    void *ctx;
    const char *name;
};

static void *ticker_main(void *arg)
{
    ticker *t = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&t->lock);
    for (;;) {
        next.tv_sec += (time_t)t->interval_s;
        while (!t->stop) {
            int rc = pthread_cond_timedwait(&t->cond, &t->lock, &next);
            if (rc == ETIMEDOUT)
                break;
        }
        if (t->stop)
            break;
        /* fn may block (provider timeouts): never hold the lock meanwhile,
         * so that ticker_stop can at least ask. */
        pthread_mutex_unlock(&t->lock);
        t->fn(t->ctx);
        pthread_mutex_lock(&t->lock);
        /* A slow fn must not cause a burst of catch-up calls. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec)
            next = now;
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

ticker *ticker_start(const char *name, unsigned interval_s, void (*fn)(void *ctx), void *ctx)
{
    ticker *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->interval_s = interval_s ? interval_s : 1;
    t->fn = fn;
    t->ctx = ctx;
    t->name = name;
    pthread_condattr_t attr;
    bool attr_ok = pthread_condattr_init(&attr) == 0;
    bool ok = attr_ok && pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0;
    ok = ok && pthread_cond_init(&t->cond, &attr) == 0;
    if (attr_ok)
        pthread_condattr_destroy(&attr);
    if (!ok) {
        free(t);
        return NULL;
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        pthread_cond_destroy(&t->cond);
        free(t);
        return NULL;
    }
    int rc = pthread_create(&t->thread, NULL, ticker_main, t);
    if (rc != 0) {
        log_msg(LOG_ERROR, name, strerror(rc));
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->cond);
        free(t);
        return NULL;
    }
    return t;
}

void ticker_stop(ticker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    free(t);
}
