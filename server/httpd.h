/* httpd.h - the HTTP daemon: libmicrohttpd in front of the api floor.
 *
 * It reads each request (body capped at max_body_bytes), hands it to
 * api_handle, sends the answer back, and writes one access-log line per
 * request. Streaming answers (GET /events) are sent without a thread each:
 * the connection is suspended while the stream has nothing to say and
 * resumed by the stream's wake callback or the keep-alive timer. It is the
 * only module that includes <microhttpd.h>.
 *
 * Ownership: httpd_start borrows the api (it must outlive the daemon);
 * httpd_stop frees the daemon.
 *
 * Thread-safety: start, quiesce and stop belong to one thread (main); the
 * request handlers run on libmicrohttpd's thread pool.
 */
#pragma once

#include "../api/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct httpd httpd;

/* Every field as given: the daemon has no defaults of its own (the options
 * table in config.c fills them all but password_workers). */
typedef struct {
    const char *listen; /* IPv4 or IPv6 literal */
    bool listen_is_ipv6;
    uint16_t port; /* 0: any free port */
    unsigned threads;
    unsigned connection_timeout_s;
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0: no limit */
    size_t max_body_bytes;
    size_t max_header_bytes;     /* header names + values: the api answers 431 past it */
    size_t max_url_bytes;        /* decoded path + query: the api answers 414 past it */
    unsigned request_timeout_s;  /* headers and body must arrive within this: else 408, close */
    unsigned events_keepalive_s; /* comment on every open event stream this often */
    unsigned password_workers;   /* threads answering requests that may check a password
                                    (0: none, they run on the HTTP threads) */
} httpd_config;

/* Binds and starts serving. On failure returns NULL and writes a message to
 * err (libmicrohttpd's own reason, e.g. "Address already in use", is logged
 * as it happens). */
httpd *httpd_start(const httpd_config *cfg, api *a, char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
uint16_t httpd_port(const httpd *h);

/* Graceful stop: closes the listening socket (new connections are refused),
 * ends every open event stream (each gets a final critical_error event with
 * reason "shutdown"), waits up to grace_s seconds for requests being served
 * to finish, then stops the daemon and frees it. Idle keep-alive connections
 * are simply closed. */
void httpd_stop(httpd *h, unsigned grace_s);
