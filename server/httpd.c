/* httpd.c - libmicrohttpd daemon in front of api_handle (see httpd.h).
 *
 * Request life cycle (libmicrohttpd's access handler is called repeatedly):
 *   1st call   allocate the per-request state, answer nothing yet;
 *   next calls body pieces arrive: keep up to max_body_bytes, beyond that keep
 *              reading but drop the bytes and remember body_too_large (the api
 *              answers 413);
 *   last call  (no more upload data) build the api_request, call api_handle,
 *              queue the response. A request that may run a password check
 *              (api_may_check_password) is handed to the password workers
 *              instead, its connection suspended; the worker calls api_handle
 *              and resumes it, and the call that follows queues the answer.
 *              libmicrohttpd's threads each serve many connections: one
 *              argon2id check (tens of milliseconds) on them would stall
 *              every other request they carry.
 * We never queue on the first call: libmicrohttpd 0.9.75 then answers with
 * "Connection: close", which would defeat keep-alive for every request.
 * The completion callback writes the access-log line and frees the state.
 */
#include "httpd_internal.h"

#include "log.h"
#include "secmem.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    struct timespec start;
    char method[16];
    char *path;
    char *body;
    size_t body_len;
    size_t body_cap;
    bool body_too_large;
    bool headers_too_large; /* measured on the first call: answered at once */
    bool url_too_long;
    const char *bad_framing; /* static: why the body's length is ambiguous, or NULL */
    bool url_has_nul;        /* the path or query decoded a "%00" */
    bool answered;           /* api_handle ran: status/route/mapi_error are set */
    int status;
    const char *route;      /* static, from the api */
    const char *mapi_error; /* static, from the api */
    char client[INET6_ADDRSTRLEN];
    char request_id[API_REQUEST_ID_SIZE]; /* "" until the request is complete */
    sse_conn *sse;                        /* a streaming answer's connection state, or NULL */
    /* Handed to the password workers: what they answer with. */
    bool deferred;
    httpd *h;
    struct MHD_Connection *conn;
    api_request req;
    void *query; /* query_args items, freed when answered */
    api_response resp;
} request_state;

static double elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) * 1000.0 +
           (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

void httpd_client_address(struct MHD_Connection *conn, char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

static request_state *request_state_new(struct MHD_Connection *conn, const char *url,
                                        const char *method)
{
    request_state *rs = calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    rs->path = strdup(url ? url : "");
    if (!rs->path) {
        free(rs);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &rs->start);
    snprintf(rs->method, sizeof rs->method, "%s", method ? method : "");
    /* Formatted once per connection (inet_ntop per request showed in
     * profiles), else here. */
    const char *client = limits_client(conn);
    if (client)
        snprintf(rs->client, sizeof rs->client, "%s", client);
    else
        httpd_client_address(conn, rs->client, sizeof rs->client);
    return rs;
}

/* Request bodies carry passwords (logon, change-password): they live in
 * secmem blocks, wiped when freed. */
static void drop_body(request_state *rs)
{
    secmem_free(rs->body);
    rs->body = NULL;
    rs->body_len = rs->body_cap = 0;
}

static void request_state_free(request_state *rs)
{
    if (!rs)
        return;
    free(rs->path);
    drop_body(rs);
    free(rs);
}

/* Keeps body bytes up to the limit. Past it the stored part is dropped at
 * once: the answer will be 413 whatever it held, and a client streaming a
 * huge body must not make us hold max_body_bytes for the whole upload. */
static void append_body(request_state *rs, size_t limit, const char *data, size_t size)
{
    if (rs->body_too_large)
        return;
    if (size > limit - rs->body_len) {
        rs->body_too_large = true;
        drop_body(rs);
        return;
    }
    if (rs->body_len + size > rs->body_cap) {
        size_t cap = rs->body_cap ? rs->body_cap : 1024;
        while (cap < rs->body_len + size)
            cap = cap > limit / 2 ? limit : cap * 2;
        /* Copied, the old block wiped: no password left behind. */
        char *grown = secmem_grow(rs->body, rs->body_len, cap);
        if (!grown) {
            /* Out of memory: the same answer as an oversized body is the
             * honest one we can still give (the request cannot be read). */
            rs->body_too_large = true;
            drop_body(rs);
            return;
        }
        rs->body = grown;
        rs->body_cap = cap;
    }
    memcpy(rs->body + rs->body_len, data, size);
    rs->body_len += size;
}

typedef struct {
    api_kv *items;
    size_t count;
    size_t cap;
} query_args;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    query_args *q = cls;
    if (q->count < q->cap) {
        q->items[q->count].key = key;
        q->items[q->count].value = value;
        q->count++;
    }
    return MHD_YES;
}

static bool has_header(const api_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->header_count; i++)
        if (resp->headers[i].name && strcasecmp(resp->headers[i].name, name) == 0)
            return true;
    return false;
}

/* A response sending a copy of the api's body. Not MHD_RESPMEM_MUST_COPY:
 * libmicrohttpd would free its copy unwiped, and the logon answer carries a
 * token; this copy is a secmem block, wiped when the response is destroyed. */
static struct MHD_Response *body_response(const api_response *resp)
{
    if (!resp->body || resp->body_len == 0)
        return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    char *copy = secmem_alloc(resp->body_len);
    if (!copy)
        return NULL;
    memcpy(copy, resp->body, resp->body_len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(resp->body_len, copy, secmem_free);
    if (!r)
        secmem_free(copy);
    return r;
}

/* Turns the api's answer into a queued libmicrohttpd response. A streaming
 * answer's stream is taken from resp (into rs->sse). */
static enum MHD_Result send_response(httpd *h, struct MHD_Connection *conn, request_state *rs,
                                     api_response *resp)
{
    struct MHD_Response *r;
    if (resp->stream) {
        api_stream *st = resp->stream;
        resp->stream = NULL;
        r = sse_response_new(h, conn, st, &rs->sse);
    } else {
        r = body_response(resp);
    }
    if (!r)
        return MHD_NO;
    bool ok = true;
    for (size_t i = 0; i < resp->header_count && i < API_MAX_HEADERS; i++)
        if (resp->headers[i].name && resp->headers[i].value)
            ok = ok && MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value) ==
                           MHD_YES;
    if (resp->content_type && !has_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE))
        ok = ok && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type) ==
                       MHD_YES;
    /* docs/contract/http.md 1.5: every response is no-store; the api sets it, this is the net
     * under it for answers that did not. */
    if (!has_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL))
        ok = ok && MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
    /* After a request whose framing was ambiguous, the next bytes on the
     * connection cannot be trusted to start a request (RFC 9112 6.3). */
    if (atomic_load(&h->draining) || rs->bad_framing)
        ok = ok && MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    enum MHD_Result ret = ok ? MHD_queue_response(conn, (unsigned)resp->status, r) : MHD_NO;
    MHD_destroy_response(r);
    if (ret != MHD_YES) {
        /* Never queued: no completion will read from it. */
        sse_conn_free(h, rs->sse);
        rs->sse = NULL;
    }
    return ret;
}

/* Queues the api's answer and drops what the request no longer needs. */
static enum MHD_Result answer(httpd *h, struct MHD_Connection *conn, request_state *rs,
                              api_response *resp)
{
    rs->answered = true;
    rs->status = resp->status;
    rs->route = resp->route;
    rs->mapi_error = resp->mapi_error;
    enum MHD_Result ret = send_response(h, conn, rs, resp);
    if (ret != MHD_YES)
        rs->status = 0; /* nothing went out: the log says so */
    api_response_clear(resp);

    /* The body is not needed any more; free it now rather than when the
     * response has been sent to a possibly slow client. */
    drop_body(rs);
    return ret;
}

/* On a password worker: the request's answer, then back to libmicrohttpd. */
static void run_deferred(void *arg)
{
    request_state *rs = arg;
    api_handle(rs->h->api, &rs->req, &rs->resp);
    /* After this the worker touches nothing of the request: once resumed,
     * libmicrohttpd may answer and complete it at any moment. */
    MHD_resume_connection(rs->conn);
}

/* Hands a request that may run a password check to the workers; false when
 * it is to be answered here (not such a request, or no worker available). The
 * strings req points to (headers in libmicrohttpd's connection memory, the
 * body, the client address) stay put while the connection is suspended. */
static bool defer(httpd *h, struct MHD_Connection *conn, request_state *rs, const api_request *req,
                  void *query)
{
    if (!h->password_workers || !api_may_check_password(h->api, req))
        return false;
    rs->deferred = true;
    rs->h = h;
    rs->conn = conn;
    rs->req = *req;
    rs->query = query;
    memset(&rs->resp, 0, sizeof rs->resp);
    MHD_suspend_connection(conn);
    if (workers_submit(h->password_workers, run_deferred, rs))
        return true;
    MHD_resume_connection(conn);
    rs->deferred = false;
    return false;
}

static enum MHD_Result handle_complete_request(httpd *h, struct MHD_Connection *conn,
                                               request_state *rs, bool may_defer)
{
    query_args q = {0};
    int n = MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);
    if (n > 0) {
        q.items = calloc((size_t)n, sizeof *q.items);
        if (!q.items)
            return MHD_NO; /* closes the connection: nothing better to do */
        q.cap = (size_t)n;
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    }

    api_request_id(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id"),
                   rs->request_id);
    api_request req = {
        .request_id = rs->request_id,
        .method = rs->method,
        .path = rs->path,
        .query = q.items,
        .query_count = q.count,
        .authorization =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .content_type =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .if_none_match =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .last_event_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID"),
        .if_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH),
        .body = rs->body ? rs->body : "",
        .body_len = rs->body_len,
        .body_too_large = rs->body_too_large,
        .client_addr = rs->client,
        .headers_too_large = rs->headers_too_large,
        .url_too_long = rs->url_too_long,
        .bad_framing = rs->bad_framing,
        .url_has_nul = rs->url_has_nul,
        .origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin"),
        .ac_request_method =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Method"),
        .ac_request_headers =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Headers"),
    };
    if (may_defer && defer(h, conn, rs, &req, q.items))
        return MHD_YES;
    api_response resp;
    memset(&resp, 0, sizeof resp);
    api_handle(h->api, &req, &resp);
    free(q.items);
    return answer(h, conn, rs, &resp);
}

typedef struct {
    unsigned te_fields, cl_fields;
    bool te_not_chunked;   /* a Transfer-Encoding other than exactly "chunked" */
    bool cl_differ;        /* Content-Length values that are not one number */
    unsigned long long cl; /* the first Content-Length value */
} framing;

/* 1*DIGIT, nothing else (libmicrohttpd trims the blanks around values). */
static bool parse_length(const char *s, unsigned long long *out)
{
    unsigned long long v = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (ULLONG_MAX - 9) / 10)
            return false;
        v = v * 10 + (unsigned long long)(*s - '0');
    }
    *out = v;
    return true;
}

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    framing *f = cls;
    if (!key)
        return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->te_fields++;
        if (!value || strcasecmp(value, "chunked") != 0)
            f->te_not_chunked = true;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        unsigned long long n = 0;
        if (!parse_length(value, &n) || (f->cl_fields > 0 && n != f->cl))
            f->cl_differ = true;
        if (f->cl_fields++ == 0)
            f->cl = n;
    }
    return MHD_YES;
}

/* Why the length of this request's body is ambiguous (RFC 9112 6.1, 6.3),
 * or NULL. libmicrohttpd 0.9.75 goes by Transfer-Encoding when both fields
 * are present, by the first of several Content-Length fields, and reads a
 * body of any other coding until the connection closes; a proxy in front
 * may count differently and smuggle a second request inside the body. Two
 * equal Content-Length fields are one length (RFC 9110 8.6 lets a recipient
 * take them as one): accepted. */
static const char *framing_problem(struct MHD_Connection *conn, const char *version)
{
    framing f;
    memset(&f, 0, sizeof f);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.te_fields > 0 && f.cl_fields > 0)
        return "both Transfer-Encoding and Content-Length";
    if (f.te_fields > 0 && (f.te_fields > 1 || f.te_not_chunked))
        return "a Transfer-Encoding other than chunked";
    if (f.te_fields > 0 && version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0)
        return "Transfer-Encoding in an HTTP/1.0 request";
    if (f.cl_differ)
        return "Content-Length fields that differ or are not a number";
    return NULL;
}

/* The limits known once the headers are in: ambiguous framing, header and
 * URL size, and a declared Content-Length over max_body_bytes (answered at
 * once rather than after reading it; a chunked body past the limit is read,
 * dropped and answered 413 at its end). true when the request must be
 * answered now. */
static bool over_limits(httpd *h, struct MHD_Connection *conn, const char *url, const char *version,
                        request_state *rs)
{
    rs->bad_framing = framing_problem(conn, version);
    size_t header_bytes = 0, url_bytes = 0;
    limits_measure(conn, url, &header_bytes, &url_bytes);
    rs->url_too_long = url_bytes > h->max_url_bytes;
    rs->headers_too_large = header_bytes > h->max_header_bytes;
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && n > h->max_body_bytes)
            rs->body_too_large = true;
    }
    return rs->bad_framing || rs->url_too_long || rs->headers_too_large || rs->body_too_large;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    httpd *h = cls;
    request_state *rs = *con_cls;
    if (!rs) {
        rs = request_state_new(conn, url, method);
        if (!rs)
            return MHD_NO;
        *con_cls = rs;
        atomic_fetch_add(&h->in_flight, 1);
        rs->url_has_nul = limits_take_nul(conn);
        if (!over_limits(h, conn, url, version, rs))
            return MHD_YES;
        /* Answered on this first call: libmicrohttpd then skips any body
         * and closes the connection after the answer, which is what a
         * client past a limit should get. */
        limits_request_received(h, conn);
        return handle_complete_request(h, conn, rs, false);
    }
    if (rs->deferred) {
        /* Resumed by its worker: the answer is ready. */
        rs->deferred = false;
        free(rs->query);
        rs->query = NULL;
        return answer(h, conn, rs, &rs->resp);
    }
    if (*upload_data_size > 0) {
        append_body(rs, h->max_body_bytes, upload_data, *upload_data_size);
        *upload_data_size = 0; /* consumed (or dropped): keep reading */
        return MHD_YES;
    }
    if (rs->answered)
        return MHD_YES; /* defensive: libmicrohttpd does not call again after a queue */
    limits_request_received(h, conn);
    return handle_complete_request(h, conn, rs, true);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    httpd *h = cls;
    request_state *rs = *con_cls;
    if (!rs)
        return;
    *con_cls = NULL;
    log_access_entry e = {
        .method = rs->method,
        .path = rs->path,
        .route = rs->route,
        /* A response that did not make it out completely is logged without a
         * status: the client never saw it. */
        .status = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? rs->status : 0,
        .mapi_error = rs->mapi_error,
        .duration_ms = elapsed_ms(&rs->start),
        .client = rs->client,
        .request_id = rs->request_id[0] ? rs->request_id : NULL,
    };
    log_access(&e);
    limits_request_done(h, conn);
    sse_conn_free(h, rs->sse);
    if (rs->deferred) { /* resumed, then closed before it was answered */
        free(rs->query);
        api_response_clear(&rs->resp);
    }
    request_state_free(rs);
    atomic_fetch_sub(&h->in_flight, 1);
}

/* libmicrohttpd's error log (bind failures, out-of-memory, ...) goes through
 * our log, so it stays one structured line per event. */
__attribute__((format(printf, 2, 0))) static void on_mhd_error(void *cls, const char *fmt,
                                                               va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* Some of its messages quote the request URL; a client may have put a
     * token there, and tokens never reach the log. */
    for (char *p = msg; (p = strcasestr(p, "mgw_")) != NULL;) {
        size_t len = strcspn(p, " \t'`\"/?");
        memset(p, '*', len);
        p += len;
    }
    log_msg(strncmp(msg, "Warning", 7) == 0 ? LOG_WARN : LOG_ERROR, "libmicrohttpd", msg);
}

httpd *httpd_start(const httpd_config *cfg, api *a, char *err, size_t errlen)
{
    httpd *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->api = a;
    h->max_body_bytes = cfg->max_body_bytes;
    h->max_header_bytes = cfg->max_header_bytes;
    h->max_url_bytes = cfg->max_url_bytes;
    h->request_timeout_s = cfg->request_timeout_s;
    atomic_init(&h->in_flight, 0);
    atomic_init(&h->draining, false);
    if (pthread_mutex_init(&h->streams_lock, NULL) != 0) {
        snprintf(err, errlen, "out of memory");
        free(h);
        return NULL;
    }
    if (!limits_start(h, err, errlen)) {
        pthread_mutex_destroy(&h->streams_lock);
        free(h);
        return NULL;
    }

    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (cfg->listen_is_ipv6) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(cfg->port);
        if (inet_pton(AF_INET6, cfg->listen, &sin6.sin6_addr) != 1)
            goto bad_address;
        sa = (const struct sockaddr *)&sin6;
    } else {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(cfg->port);
        if (inet_pton(AF_INET, cfg->listen, &sin.sin_addr) != 1)
            goto bad_address;
        sa = (const struct sockaddr *)&sin;
    }

    /* MHD_USE_ITC: MHD_quiesce_daemon needs it with a thread pool.
     * MHD_ALLOW_SUSPEND_RESUME: event streams park their connection while
     * they have nothing to send (httpd_stream.c). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    else if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    if (cfg->listen_is_ipv6)
        flags |= MHD_USE_IPv6;

    /* One thread means no pool, and libmicrohttpd warns about a pool size of
     * 1 (or 0): leave the option out then, through an option array that is
     * empty in that case. */
    struct MHD_OptionItem pool[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* Before the daemon, whose threads read it. Without them password
     * checks run on libmicrohttpd's threads, as before: slower for everyone
     * under a logon flood, not wrong. */
    h->password_workers =
        cfg->password_workers ? workers_start("password checks", cfg->password_workers, 10) : NULL;
    if (cfg->password_workers && !h->password_workers)
        log_msg(LOG_WARN, "password workers not started: checks run on the HTTP threads", NULL);
    h->daemon = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
        MHD_OPTION_ARRAY, cfg->threads > 1 ? pool : pool + 1, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)cfg->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)cfg->max_connections_per_ip, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
        limits_notify_connection, h, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        limits_memory_limit(h->max_header_bytes, h->max_url_bytes), MHD_OPTION_UNESCAPE_CALLBACK,
        limits_unescape, h, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen,
                 "cannot serve HTTP on %s%s%s port %u (address in use or not available? "
                 "see the libmicrohttpd message above)",
                 cfg->listen_is_ipv6 ? "[" : "", cfg->listen, cfg->listen_is_ipv6 ? "]" : "",
                 (unsigned)cfg->port);
        workers_free(h->password_workers);
        limits_stop(h);
        pthread_mutex_destroy(&h->streams_lock);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;

    h->keepalive = ticker_start("events keep-alive", cfg->events_keepalive_s, sse_keepalive_all, h);
    if (!h->keepalive) {
        snprintf(err, errlen, "cannot start the event keep-alive thread");
        MHD_stop_daemon(h->daemon);
        workers_free(h->password_workers);
        limits_stop(h);
        pthread_mutex_destroy(&h->streams_lock);
        free(h);
        return NULL;
    }
    return h;

bad_address:
    snprintf(err, errlen, "'%s' is not an IP address literal", cfg->listen);
    limits_stop(h);
    pthread_mutex_destroy(&h->streams_lock);
    free(h);
    return NULL;
}

uint16_t httpd_port(const httpd *h) { return h->port; }

void httpd_stop(httpd *h, unsigned grace_s)
{
    if (!h)
        return;
    atomic_store(&h->draining, true);
    /* After quiesce the listening socket is ours to close; closing it at once
     * makes new clients fail fast instead of waiting in the backlog. */
    MHD_socket listen_fd = MHD_quiesce_daemon(h->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    /* Event streams never finish on their own: end each one with a last
     * critical_error, so that clients learn why rather than see a cut. */
    sse_close_all(h, "shutdown");

    /* MHD_stop_daemon closes every connection, including ones whose answer
     * is still being computed or sent; let those finish first. */
    struct timespec start, tick = {0, 10 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&h->in_flight) > 0 && elapsed_ms(&start) < grace_s * 1000.0)
        nanosleep(&tick, NULL);
    unsigned left = atomic_load(&h->in_flight);
    if (left > 0)
        log_event(LOG_WARN, "requests cut at shutdown", (log_field[]){LOG_INT("count", left)}, 1);

    /* libmicrohttpd must not be stopped with suspended connections; after
     * this none is suspended and nothing resumes one any more. */
    ticker_stop(h->keepalive);
    sse_release_all(h);
    /* Every handed-over request is answered and resumed before the daemon
     * stops (its jobs are bounded: a password check, a provider timeout). */
    workers_stop(h->password_workers);
    MHD_stop_daemon(h->daemon);
    workers_free(h->password_workers); /* after: its threads may still submit (refused) */
    limits_stop(h);                    /* after: libmicrohttpd's close notifications use its lock */
    pthread_mutex_destroy(&h->streams_lock);
    free(h);
}
