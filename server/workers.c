/* workers.c - a fixed set of threads running queued jobs (see workers.h). */
#include "workers.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct job {
    struct job *next;
    void (*fn)(void *arg);
    void *arg;
} job;

struct workers {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    job *head, *tail;
    bool stopping;
    int nice;
    unsigned count;
    pthread_t threads[];
};

static void *run(void *arg)
{
    workers *w = arg;
    if (w->nice) {
        /* On Linux a thread id names one thread for setpriority. */
        pid_t tid = (pid_t)syscall(SYS_gettid);
        errno = 0;
        int now = getpriority(PRIO_PROCESS, (id_t)tid);
        if (errno != 0 || setpriority(PRIO_PROCESS, (id_t)tid, now + w->nice) != 0)
            log_msg(LOG_WARN, "worker thread priority not lowered", strerror(errno));
    }
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        job *j = w->head;
        if (!j)
            break; /* stopping, and nothing left to run */
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

workers *workers_start(const char *name, unsigned count, int nice)
{
    if (count == 0)
        count = 1;
    workers *w = calloc(1, sizeof *w + count * sizeof(pthread_t));
    if (!w)
        return NULL;
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w);
        return NULL;
    }
    w->nice = nice;
    if (pthread_cond_init(&w->wake, NULL) != 0) {
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    for (; w->count < count; w->count++)
        if (pthread_create(&w->threads[w->count], NULL, run, w) != 0)
            break;
    if (w->count == 0) {
        workers_free(w);
        return NULL;
    }
    if (w->count < count)
        log_event(LOG_WARN, "fewer worker threads than asked",
                  (log_field[]){LOG_STR("pool", name), LOG_INT("started", w->count),
                                LOG_INT("asked", count)},
                  3);
    return w;
}

bool workers_submit(workers *w, void (*fn)(void *arg), void *arg)
{
    job *j = malloc(sizeof *j);
    if (!j)
        return false;
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        free(j);
        return false;
    }
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return true;
}

void workers_stop(workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    bool joined = w->stopping;
    w->stopping = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (joined)
        return;
    for (unsigned i = 0; i < w->count; i++)
        pthread_join(w->threads[i], NULL);
}

void workers_free(workers *w)
{
    if (!w)
        return;
    workers_stop(w);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
