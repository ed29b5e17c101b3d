/* httpd_limits.c - the limits libmicrohttpd does not enforce the way we need
 * (see httpd_internal.h): the per-request deadline, and measuring headers
 * and URL for the api's 431 / 414.
 *
 * Why a deadline of our own: MHD_OPTION_CONNECTION_TIMEOUT is an idle
 * timeout, reset by every byte received, so a client sending one header
 * byte per second holds a connection (and a slot of --max-connections)
 * forever. libmicrohttpd 0.9.75 has no "whole request" timeout and no call
 * to close a connection from another thread; but shutdown(2) on its socket
 * is safe from any thread (unlike close: the descriptor stays valid) and
 * makes libmicrohttpd see end of file and close the connection itself.
 * The descriptor cannot be reused under us: libmicrohttpd's CLOSED
 * notification, which unregisters the connection under conns_lock, runs
 * before it closes the socket, and the ticker only touches sockets of
 * registered connections, under the same lock.
 */
#include "httpd_internal.h"

#include "log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* How often deadlines are checked: a client is cut at most this late. */
#define DEADLINE_TICK_S 1u

struct conn_track {
    conn_track *prev, *next; /* h->conns, under h->conns_lock */
    MHD_socket fd;
    double deadline; /* monotonic seconds; 0: no request being received */
    double since;    /* when the current deadline started, for the log */
    bool cut;        /* the 408 was sent and the socket shut down */
    /* The request being parsed decoded a %00 in its path or query; only
     * the connection's own thread touches it (limits_unescape,
     * limits_take_nul). */
    bool nul;
    char client[INET6_ADDRSTRLEN];
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

size_t limits_memory_limit(size_t max_header_bytes, size_t max_url_bytes)
{
    /* libmicrohttpd parses headers in place in its read buffer, which
     * shares the connection's memory pool with the parsed header list and
     * the response headers: twice our limits and 8 KiB leave room for all
     * of them. Nothing more, not even libmicrohttpd's own default (32 KiB):
     * the pool is most of what an open connection costs (an event stream
     * with the default limits: about 28 KB, 1.5 KB of it the gateway's), so
     * a deployment with many streams lowers --max-header-bytes to pay less.
     * And libmicrohttpd 0.9.75 zeroes the whole pool between two
     * requests of a connection, so every KiB here costs every request
     * (4x, the old factor, was 11% of the CPU of GET /identity). */
    return 2 * (max_header_bytes + max_url_bytes) + 8192;
}

static enum MHD_Result add_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    size_t *n = cls;
    *n += (key ? strlen(key) : 0) + (value ? strlen(value) : 0);
    return MHD_YES;
}

void limits_measure(struct MHD_Connection *conn, const char *url, size_t *header_bytes,
                    size_t *url_bytes)
{
    size_t h = 0, q = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_field, &h);
    int args = MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_field, &q);
    /* Each argument had a "?" or "&" and an "=" in the request line. */
    if (args > 0)
        q += 2 * (size_t)args;
    *header_bytes = h;
    *url_bytes = (url ? strlen(url) : 0) + q;
}

static conn_track *track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t limits_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    conn_track *c = track_of(conn);
    char *w = s;
    for (const char *r = s; *r;) {
        int hi = r[0] == '%' ? hex_digit(r[1]) : -1;
        int lo = hi >= 0 ? hex_digit(r[2]) : -1;
        if (lo < 0) {
            *w++ = *r++; /* libmicrohttpd's rule too: a bad escape stays as it is */
            continue;
        }
        if (hi == 0 && lo == 0) {
            if (c) {
                c->nul = true;
            } else { /* no place to flag it: kept undecoded, never cut short */
                memmove(w, r, 3);
                w += 3, r += 3;
                continue;
            }
        }
        *w++ = (char)(hi << 4 | lo);
        r += 3;
    }
    *w = '\0';
    return (size_t)(w - s);
}

bool limits_take_nul(struct MHD_Connection *conn)
{
    conn_track *c = track_of(conn);
    if (!c)
        return false;
    bool nul = c->nul;
    c->nul = false;
    return nul;
}

const char *limits_client(struct MHD_Connection *conn)
{
    const conn_track *c = track_of(conn);
    return c ? c->client : NULL;
}

void limits_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    httpd *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_track *c = calloc(1, sizeof *c);
        if (!c)
            return; /* untracked: only the idle timeout applies to it */
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = info ? info->connect_fd : MHD_INVALID_SOCKET;
        httpd_client_address(conn, c->client, sizeof c->client);
        c->since = mono_now();
        c->deadline = c->since + h->request_timeout_s;
        pthread_mutex_lock(&h->conns_lock);
        c->next = h->conns;
        if (h->conns)
            h->conns->prev = c;
        h->conns = c;
        pthread_mutex_unlock(&h->conns_lock);
        *socket_context = c;
        return;
    }
    conn_track *c = *socket_context;
    if (!c)
        return;
    *socket_context = NULL;
    pthread_mutex_lock(&h->conns_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&h->conns_lock);
    free(c);
}

void limits_request_received(httpd *h, struct MHD_Connection *conn)
{
    conn_track *c = track_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&h->conns_lock);
    c->deadline = 0;
    pthread_mutex_unlock(&h->conns_lock);
}

void limits_request_done(httpd *h, struct MHD_Connection *conn)
{
    conn_track *c = track_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&h->conns_lock);
    c->since = mono_now();
    c->deadline = c->since + h->request_timeout_s;
    pthread_mutex_unlock(&h->conns_lock);
}

/* Deadline tick: every connection past its deadline gets the 408 (best
 * effort: a non-blocking send of what fits) and its socket shut down. */
static void limits_tick(void *ctx)
{
    httpd *h = ctx;
    double now = mono_now();
    pthread_mutex_lock(&h->conns_lock);
    for (conn_track *c = h->conns; c; c = c->next) {
        if (c->cut || c->deadline <= 0 || now < c->deadline || c->fd == MHD_INVALID_SOCKET)
            continue;
        c->cut = true;
        (void)!send(c->fd, h->timeout_answer, h->timeout_answer_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        shutdown(c->fd, SHUT_RDWR);
        log_event(LOG_WARN, "request timeout: connection closed",
                  (log_field[]){LOG_STR("client", c->client),
                                LOG_INT("elapsed_ms", (long long)((now - c->since) * 1000.0)),
                                LOG_INT("limit_s", h->request_timeout_s)},
                  3);
    }
    pthread_mutex_unlock(&h->conns_lock);
}

/* The api's 408 problem as a complete HTTP/1.1 answer that closes. */
static bool render_timeout_answer(httpd *h)
{
    char detail[128];
    snprintf(detail, sizeof detail,
             "the request did not arrive within %u seconds (limit --request-timeout)",
             h->request_timeout_s);
    api_response resp;
    api_limit_answer(h->api, 408, MAPI_E_TIMEOUT, detail, &resp);
    size_t cap = 256 + resp.body_len;
    for (size_t i = 0; i < resp.header_count; i++)
        cap += strlen(resp.headers[i].name) + strlen(resp.headers[i].value) + 4;
    char *out = malloc(cap);
    if (!out) {
        api_response_clear(&resp);
        return false;
    }
    int n =
        snprintf(out, cap,
                 "HTTP/1.1 408 Request Timeout\r\nContent-Type: %s\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n",
                 resp.content_type ? resp.content_type : "application/problem+json", resp.body_len);
    size_t used = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < resp.header_count && used < cap; i++) {
        n = snprintf(out + used, cap - used, "%s: %s\r\n", resp.headers[i].name,
                     resp.headers[i].value);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used + 2 + resp.body_len > cap) {
        free(out);
        api_response_clear(&resp);
        return false;
    }
    memcpy(out + used, "\r\n", 2);
    used += 2;
    if (resp.body_len)
        memcpy(out + used, resp.body, resp.body_len);
    used += resp.body_len;
    api_response_clear(&resp);
    h->timeout_answer = out;
    h->timeout_answer_len = used;
    return true;
}

bool limits_start(httpd *h, char *err, size_t errlen)
{
    if (pthread_mutex_init(&h->conns_lock, NULL) != 0) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    if (!render_timeout_answer(h)) {
        snprintf(err, errlen, "out of memory");
        pthread_mutex_destroy(&h->conns_lock);
        return false;
    }
    h->deadlines = ticker_start("request deadlines", DEADLINE_TICK_S, limits_tick, h);
    if (!h->deadlines) {
        snprintf(err, errlen, "cannot start the request deadline thread");
        free(h->timeout_answer);
        h->timeout_answer = NULL;
        pthread_mutex_destroy(&h->conns_lock);
        return false;
    }
    return true;
}

void limits_stop(httpd *h)
{
    ticker_stop(h->deadlines);
    h->deadlines = NULL;
    free(h->timeout_answer);
    h->timeout_answer = NULL;
    /* Connections still listed were never closed by libmicrohttpd (it
     * notifies every close, also in MHD_stop_daemon): free what is left. */
    pthread_mutex_lock(&h->conns_lock);
    while (h->conns) {
        conn_track *c = h->conns;
        h->conns = c->next;
        free(c);
    }
    pthread_mutex_unlock(&h->conns_lock);
    pthread_mutex_destroy(&h->conns_lock);
}
