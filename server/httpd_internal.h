/* httpd_internal.h - what httpd.c (requests) and httpd_stream.c (streaming
 * answers) share: the daemon object and the event-stream connections.
 * Only server/ includes it (it includes <microhttpd.h>).
 */
#pragma once

#include "httpd.h"
#include "ticker.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct sse_conn sse_conn;

struct httpd {
    struct MHD_Daemon *daemon;
    api *api;
    size_t max_body_bytes;
    uint16_t port;
    /* Requests between their first handler call and their completion: the
     * graceful stop waits for this to reach zero. */
    atomic_uint in_flight;
    /* Set once stopping: responses then carry "Connection: close" so that
     * clients do not send more requests on connections about to close. */
    atomic_bool draining;
    /* Open event streams, for keep-alives and shutdown. */
    pthread_mutex_t streams_lock;
    sse_conn *streams;
    ticker *keepalive;
};

/* A libmicrohttpd response reading from st (taken: freed on failure too),
 * and the stream connection that tracks it in *out (registered in
 * h->streams). NULL when out of memory. */
struct MHD_Response *sse_response_new(httpd *h, struct MHD_Connection *conn, api_stream *st,
                                      sse_conn **out);
/* Unregisters and frees a stream connection and its stream (the request
 * completed, or its response could not be queued). NULL is fine. */
void sse_conn_free(httpd *h, sse_conn *sc);
/* Keep-alive tick: every open stream sends a comment. */
void sse_keepalive_all(void *h);
/* Shutdown: every open stream ends after a final critical_error. */
void sse_close_all(httpd *h, const char *reason);
/* Before MHD_stop_daemon: no stream may stay suspended, and none may be
 * resumed any more by its session. */
void sse_release_all(httpd *h);
