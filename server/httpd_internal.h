/* httpd_internal.h - what httpd.c (requests) and httpd_stream.c (streaming
 * answers) share: the daemon object and the event-stream connections.
 * Only server/ includes it (it includes <microhttpd.h>).
 */
#pragma once

#include "httpd.h"
#include "ticker.h"
#include "workers.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct sse_conn sse_conn;
typedef struct conn_track conn_track;

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
    /* Limits (httpd_limits.c). */
    size_t max_header_bytes;
    size_t max_url_bytes;
    unsigned request_timeout_s;
    /* Every open connection, for the request deadline. */
    pthread_mutex_t conns_lock;
    conn_track *conns;
    ticker *deadlines;
    /* Requests that may run a password check (httpd.c). */
    workers *password_workers;
    /* The 408 answer as raw HTTP, rendered once at start-up. */
    char *timeout_answer;
    size_t timeout_answer_len;
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

/* The client's IP address as text ("unknown" when libmicrohttpd has none). */
void httpd_client_address(struct MHD_Connection *conn, char *out, size_t cap);

/* ---- httpd_limits.c ------------------------------------------------------
 * The request deadline: every connection is tracked from accept to close;
 * while a request is being received (from accept, or from the end of the
 * previous answer on a keep-alive connection, to the last body byte) it must
 * arrive within request_timeout_s. The deadline ticker sends the 408 answer
 * to a connection past it and shuts its socket down, which makes
 * libmicrohttpd close it: a client trickling bytes (which resets the idle
 * timeout each time) cannot hold a connection. */

/* Sets up h->conns_lock, the 408 answer and the ticker. false on failure
 * (err written). */
bool limits_start(httpd *h, char *err, size_t errlen);
/* Stops the ticker and frees what limits_start made (connections still
 * tracked are freed by libmicrohttpd's close notifications, which
 * MHD_stop_daemon runs first). NULL-safe parts. */
void limits_stop(httpd *h);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the httpd). */
void limits_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code);
/* The client address of conn as text, formatted once when it connected;
 * NULL when the connection is not tracked (out of memory then). Valid for
 * the connection's life, on its own thread. */
const char *limits_client(struct MHD_Connection *conn);
/* The request on conn has arrived completely (or is answered early): its
 * deadline stops. */
void limits_request_received(httpd *h, struct MHD_Connection *conn);
/* The request on conn has completed: the next one on the same connection
 * gets a fresh deadline. */
void limits_request_done(httpd *h, struct MHD_Connection *conn);
/* Bytes of the header fields (names + values) and of the decoded path and
 * query of the request on conn. */
void limits_measure(struct MHD_Connection *conn, const char *url, size_t *header_bytes,
                    size_t *url_bytes);
/* MHD_OPTION_UNESCAPE_CALLBACK: percent-decodes the path and each query
 * key and value as libmicrohttpd does, and notes a decoded NUL ("%00") on
 * the connection: the C strings the api gets would end at it, so a value
 * would silently mean less than was sent (limits_take_nul). On an untracked
 * connection "%00" is left undecoded instead. */
size_t limits_unescape(void *cls, struct MHD_Connection *conn, char *s);
/* Whether the request now on conn decoded a NUL; clears the note (call it
 * once per request, on its first handler call). */
bool limits_take_nul(struct MHD_Connection *conn);
/* libmicrohttpd's per-connection memory: comfortably above the header and
 * URL limits, so that our 431/414 answer comes first. */
size_t limits_memory_limit(size_t max_header_bytes, size_t max_url_bytes);
