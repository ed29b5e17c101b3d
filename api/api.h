/* api.h - the HTTP API floor: maps one HTTP request to the session core and
 * renders the answer (JSON, problem+json). It knows no sockets: server/ fills
 * an api_request from libmicrohttpd and sends the api_response back, and tests
 * can call api_handle directly.
 *
 * Ownership: api_new borrows the core (it must outlive the api). Responses own
 * their body and header values; api_response_clear frees them.
 *
 * Thread-safety: api_handle may be called concurrently from any number of
 * threads; api_new/api_free may not.
 */
#pragma once

#include "../session-core/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct api api;

/* A streaming answer (GET /events): produced piece by piece by
 * api_stream_read, without a thread waiting for it. Opaque. */
typedef struct api_stream api_stream;

typedef struct {
    const char *key;
    const char *value; /* may be NULL ("?flag" without "=") */
} api_kv;

typedef struct {
    const char *method;  /* "GET", ... */
    const char *path;    /* decoded path, without the query string */
    const api_kv *query; /* decoded query arguments */
    size_t query_count;
    const char *authorization; /* Authorization header or NULL */
    const char *content_type;  /* Content-Type header or NULL */
    const char *if_none_match; /* If-None-Match header or NULL */
    const char *last_event_id; /* Last-Event-ID header (GET /events) or NULL */
    const char *if_match;      /* If-Match header (profile administration) or NULL */
    const char *body;          /* request body (not NUL-terminated) */
    size_t body_len;
    bool body_too_large;     /* the server stopped reading past the limit */
    const char *client_addr; /* for logs and throttling */
    /* Limits the server measured before the api saw the request (each
     * answered before routing): the header fields add up to more than
     * --max-header-bytes (431), the decoded path and query to more than
     * --max-url-bytes (414). body_too_large answers 413 on every route. */
    bool headers_too_large;
    bool url_too_long;
    /* The length of the request's body is ambiguous (RFC 9112 6.1, 6.3: say,
     * both Content-Length and Transfer-Encoding): why, or NULL. Answered 400
     * before routing; the server closes the connection after the answer. */
    const char *bad_framing;
    /* The path or a query key or value decoded a NUL byte ("%00"): the C
     * strings above end there, so they would say less than was sent. 400
     * before routing. */
    bool url_has_nul;
    /* CORS (api_set_cors): the Origin, Access-Control-Request-Method and
     * Access-Control-Request-Headers headers, or NULL. */
    const char *origin;
    const char *ac_request_method;
    const char *ac_request_headers;
    /* The request id (api_request_id's answer for the X-Request-Id header),
     * or NULL: api_handle then makes one. Echoed as X-Request-Id on the
     * answer and quoted in every problem body ("instance"). */
    const char *request_id;
} api_request;

#define API_MAX_HEADERS 12

/* Request ids (docs/contract/http.md "Request ids"): a client's X-Request-Id
 * is kept when it is 1..API_REQUEST_ID_MAX visible ASCII characters
 * (0x21..0x7E) and holds no "mgw_" (a token pasted there would reach the
 * access log); anything else, or none, gets a fresh random one (32 hex
 * digits). Thread-safe. */
#define API_REQUEST_ID_MAX 64
#define API_REQUEST_ID_SIZE (API_REQUEST_ID_MAX + 1)
/* true when sent is kept as it is. */
bool api_request_id_ok(const char *sent);
/* out: sent when api_request_id_ok, else a fresh id. */
void api_request_id(const char *sent, char out[API_REQUEST_ID_SIZE]);

typedef struct {
    int status;
    const char *content_type; /* static string */
    char *body;               /* owned, may be NULL; api_response_clear frees it */
    size_t body_len;
    size_t header_count;
    struct {
        const char *name; /* static string */
        char *value;      /* malloc'd */
    } headers[API_MAX_HEADERS];
    /* For the access log: the MAPI error name of an error answer, or NULL.
     * Static string. */
    const char *mapi_error;
    /* For the access log: the route pattern ("/sessions/{id}"), static. */
    const char *route;
    /* Set for a streaming answer: the body is produced by api_stream_read
     * (body is NULL, there is no Content-Length). The response owns it until
     * the server takes it (copy the pointer, then set this field to NULL);
     * api_response_clear frees a stream still here. */
    api_stream *stream;
} api_response;

/* A file compiled into the binary (the web console, the built API docs),
 * served by name (api/h_console.c says which path serves which name). */
typedef struct {
    const char *name; /* "console.html", "console.js", "console.css", "docs.html",
                         "docs-init.js", "redoc.standalone.js" */
    const char *data; /* borrowed; NULL: not in this build (404) */
    size_t len;
} api_asset;

/* Request limits. The first two only shape error details (the server
 * measures them); the JSON ones are enforced on every request body. The api
 * has no defaults of its own: the server's options table (server/config.c)
 * gives every one. */
typedef struct {
    size_t max_header_bytes; /* header names + values */
    size_t max_url_bytes;    /* decoded path + query */
    unsigned max_json_depth; /* nesting of arrays/objects */
    size_t max_json_string;  /* bytes of any string or key */
} api_limits;

typedef struct {
    const char *admin_key;    /* NULL: admin endpoints are off */
    size_t max_body_bytes;    /* for error details; the server enforces it */
    const char *openapi_yaml; /* served at GET /openapi.yaml (borrowed), or NULL */
    size_t openapi_yaml_len;
    const char *version;          /* reported by /healthz and mapigw_build_info */
    const char *git_commit;       /* mapigw_build_info's commit (borrowed; NULL: "unknown") */
    unsigned events_ticket_ttl_s; /* POST /events/tickets: a ticket's life */
    api_limits limits;            /* every one > 0 */
} api_config;

/* Password members ("password", "old_password", "new_password") are
 * limited to this many bytes whatever --max-json-string says. */
#define API_MAX_PASSWORD_BYTES 1024

/* Copies what it needs from cfg. NULL when out of memory. */
api *api_new(core *c, const api_config *cfg);
void api_free(api *a);
/* Changes request limits after api_new; a 0 leaves that limit as it is.
 * Call before the first api_handle: not thread-safe. */
void api_set_limits(api *a, const api_limits *lim);
/* The files served to browsers (the web console, the built API docs): borrowed,
 * they must outlive the api. Without them (the default) their paths answer
 * 404. Call before the first api_handle: not thread-safe. */
void api_set_assets(api *a, const api_asset *assets, size_t count);

/* CORS (docs/DECISIONS.md "CORS"): origins is a comma-separated list of exact
 * origins ("http://127.0.0.1:5173"); NULL or "" turns CORS off (the default:
 * no CORS header at all). Blanks around items are ignored. Returns false
 * when out of memory, or when an item is not a valid origin (api_cors_origin_ok);
 * the api keeps its previous list then. Call before the first api_handle:
 * not thread-safe. */
bool api_set_cors(api *a, const char *origins);
/* true when s (len bytes) is an origin as browsers send it: "http://" or
 * "https://", a host, an optional ":port", no path, no "*", no blanks. */
bool api_cors_origin_ok(const char *s, size_t len);

/* Handles one complete request; *resp is overwritten (zero it first or clear
 * a previous one). Always produces a response, even when out of memory (a
 * static 503 body then: release responses only with api_response_clear).
 * HEAD is answered as GET, body included so that Content-Length matches; a
 * 304 likewise keeps the body of the 200 it stands for (RFC 9110 8.6: its
 * Content-Length, if any, is the 200's). The server must send neither body. */
void api_handle(api *a, const api_request *req, api_response *resp);
/* Whether api_handle of req may run a password check (argon2id, or an
 * upstream server's answer): POST /sessions unless it names a profile without
 * authentication, and POST /status/{key}/change-password. Cheap (it reads the
 * body's profile name): the server calls it to keep such requests off the
 * threads that serve the others. Thread-safe. */
bool api_may_check_password(api *a, const api_request *req);
void api_response_clear(api_response *resp);

/* An error answer that belongs to no request the api could route: the
 * server's own limits (408 when a client is too slow to send its request).
 * problem+json with hr's name and code and the detail (which must hold no
 * secret); *resp is overwritten. Not counted in the request metrics. */
void api_limit_answer(api *a, int status, HRESULT hr, const char *detail, api_response *resp);

/* For the server's readiness and shutdown: true while the api answers
 * logons (profiles loaded, not shutting down). api_new returns a ready api;
 * while not ready, /readyz and POST /sessions answer 503
 * MAPI_E_NOT_INITIALIZED. */
void api_set_ready(api *a, bool ready);

/* ---- streaming answers ----------------------------------------------------
 * The server calls api_stream_read whenever it can send; 0 means "nothing now"
 * and the server should stop asking (suspend the connection) until the wake
 * callback runs. Thread-safety: read, keepalive and close may be called from
 * different threads, but read from one thread at a time; the wake callback is
 * called from any thread (with a core lock held: it must only signal, never
 * call into the api or the core); api_stream_free must not race with any of
 * them.
 */

/* Copies up to max bytes of the stream into buf: the number of bytes, 0 when
 * nothing is ready now, -1 when the stream has ended (after its last byte). */
long api_stream_read(api_stream *st, char *buf, size_t max);

/* Sets (or, with NULL, clears) the callback run when the stream has
 * something new to read. May run before set_wake returns. */
void api_stream_set_wake(api_stream *st, void (*wake)(void *ctx), void *ctx);

/* The next read starts with a keep-alive comment (an SSE line that clients
 * ignore), so idle streams survive proxies and detect dead clients. */
void api_stream_keepalive(api_stream *st);

/* The gateway is stopping: once the queued events are read, the stream sends
 * a final critical_error event with this reason (static string) and ends. */
void api_stream_close(api_stream *st, const char *reason);

/* Unsubscribes and frees; no wake callback runs once it returns. NULL ok. */
void api_stream_free(api_stream *st);
