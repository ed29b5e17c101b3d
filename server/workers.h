/* workers.h - a fixed set of threads running queued jobs in arrival order.
 *
 * The HTTP daemon hands requests that may run a password check (argon2id,
 * tens of milliseconds of CPU, or an upstream server's round trip) to these,
 * so that libmicrohttpd's threads, each serving many connections, never
 * block on one (httpd.c).
 *
 * Ownership: workers_start returns a pool that workers_free frees; a job's
 * argument belongs to the job.
 *
 * Thread-safety: workers_submit may be called from any thread, also during
 * and after workers_stop (it then refuses); workers_start, workers_stop and
 * workers_free belong to one thread (main), and nothing may call
 * workers_submit once workers_free has begun.
 */
#pragma once

#include <stdbool.h>

typedef struct workers workers;

/* Starts count threads (at least one) at niceness nice above the process's
 * (Linux schedules threads one by one: 10 lets every other thread of the
 * process run first); name is for logs. NULL when not even one thread could
 * be started. */
workers *workers_start(const char *name, unsigned count, int nice);

/* Queues fn(arg); false when the pool is stopping or out of memory (fn is
 * then not called). */
bool workers_submit(workers *w, void (*fn)(void *arg), void *arg);

/* Refuses new jobs, runs every job already queued and joins the threads.
 * NULL is fine. */
void workers_stop(workers *w);

/* Frees a stopped pool (stops it first if needed). NULL is fine. */
void workers_free(workers *w);
