/* sse_fixture.h - black-box event streams: GET /events read by libcurl on
 * a thread of the test, everything received kept as text. Every wait is
 * bounded (gw_ms). */
#pragma once

#include "../support/gw.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* One open event stream. */
typedef struct {
    pthread_t thread;
    char url[256];
    char auth[256];
    char last_id[160]; /* a Last-Event-ID header line, or "" */
    pthread_mutex_t lock;
    char *buf; /* everything received, NUL-terminated */
    size_t len;
    long status;
    char content_type[128];
    atomic_bool stop; /* ask the reader to hang up */
    atomic_bool done; /* the transfer is over */
    CURLcode rc;
} sse;

/* GET /events on g with a bearer token (NULL: none), a query ("" or
 * "?..."), and a Last-Event-ID (NULL: none). */
sse *sse_open_with(gw *g, const char *token, const char *query, const char *last_id);
/* The same, then waits for the opening comment (the subscription exists). */
sse *sse_open_ready_with(gw *g, const char *token, const char *query, const char *last_id);
/* Waits up to gw_ms(timeout_ms) for needle in what the stream received. */
bool sse_wait(sse *s, const char *needle, int timeout_ms);
/* Waits up to gw_ms(timeout_ms) for the server to end the stream. */
bool sse_wait_done(sse *s, int timeout_ms);
/* A copy of what was received so far (free it). */
char *sse_text(sse *s);
/* Hangs up and frees. */
void sse_close(sse *s);
