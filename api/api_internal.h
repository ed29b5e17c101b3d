/* api_internal.h - what the api floor's files share: the api object, the
 * per-request context, the response helpers (api.c), problem+json (problem.c),
 * JSON rendering (render.c), request parsing (request.c), bearer
 * authentication (auth.c) and the route handlers (h_*.c).
 *
 * Ownership rules, as in jansson: a function taking a json_t "_new" or named
 * "steal" consumes the reference even on failure; getters return borrowed
 * values. Every function that writes the response either succeeds or marks
 * the context out of memory (x->oom), and api_handle turns that into the
 * static 503 answer, so handlers need not unwind half-built responses.
 */
#pragma once

#include "api.h"
#include "json_write.h"

#include "../session-core/mapi_flags.h"
#include "../session-core/status_row.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Status codes 100..599 are counted per route; anything else is clamped. */
#define API_STATUS_MIN 100
#define API_STATUS_SLOTS 500

/* mapigw_http_request_duration_seconds: upper bounds of the finite buckets,
 * in nanoseconds (h_ops.c prints them as seconds), then +Inf. */
#define API_LATENCY_BUCKETS 12
extern const uint64_t API_LATENCY_BOUNDS_NS[API_LATENCY_BUCKETS];

/* One route's latency histogram: counts per bucket (not cumulative; the last
 * slot is +Inf) and the sum of durations in nanoseconds. */
typedef struct {
    _Atomic uint_least64_t buckets[API_LATENCY_BUCKETS + 1];
    _Atomic uint_least64_t sum_ns;
} api_latency;

struct api {
    core *core;
    char *admin_key; /* NULL: admin endpoints off */
    size_t admin_key_len;
    size_t max_body_bytes;
    size_t max_header_bytes;
    size_t max_url_bytes;
    unsigned max_json_depth;
    size_t max_json_string;
    const char *openapi_yaml; /* borrowed from the server */
    size_t openapi_yaml_len;
    const api_asset *assets; /* borrowed from the server */
    size_t asset_count;
    char *version;
    const char *git_commit; /* borrowed from the server */
    atomic_bool ready;
    /* mapigw_http_requests_total: [route index][status - 100]. Relaxed atomics
     * are enough: each counter is independent and only ever grows. */
    _Atomic uint_least64_t (*requests)[API_STATUS_SLOTS];
    /* mapigw_http_request_duration_seconds: one histogram per route slot. */
    api_latency *latency;
    /* Allowed CORS origins (api_set_cors); none: CORS off. */
    char **cors_origins;
    size_t cors_count;
    /* GET /events tickets (tickets.c). */
    struct api_tickets *tickets;
    /* Keys the tags of list cursors (page.c); random per process. */
    uint8_t cursor_key[32];
    /* Rendered GET /status bodies by session, version and query. */
    struct status_cache *status_cache;
};

/* A path segment captured by "{...}" in a route pattern; points into the
 * request path (not NUL-terminated). */
typedef struct {
    const char *s;
    size_t len;
} api_span;

#define API_MAX_PARAMS 2

typedef struct {
    api *a;
    const api_request *req;
    api_response *resp;
    api_span params[API_MAX_PARAMS];
    size_t param_count;
    bool oom; /* building the response ran out of memory */
    /* This request's id ("": none, as for api_limit_answer's answers). */
    char request_id[API_REQUEST_ID_SIZE];
} api_ctx;

typedef void (*api_handler)(api_ctx *x);

/* ---- api.c: response helpers -------------------------------------------- */

/* Adds a header (the value is copied). false, and x->oom, on failure. */
bool api_add_header(api_ctx *x, const char *name, const char *value);
/* Sets a JSON answer; steals body (NULL counts as out of memory). */
void api_reply_json(api_ctx *x, int status, json_t *body);
/* Sets a body-less answer (204). */
void api_reply_empty(api_ctx *x, int status);
/* Turns the 200 just built into its 304: the body stays (api_handle in
 * api.h: only its length goes out), the Content-Type goes (RFC 9110 15.4.5:
 * a 304 sends no representation metadata). Headers added so far stay. */
void api_reply_not_modified(api_ctx *x);
/* Like api_reply_json with the JSON already written: takes text, from
 * jansson's allocator as every body is (json_text_finish; NULL: out of
 * memory). */
void api_reply_json_text(api_ctx *x, int status, char *text, size_t len);
/* Sets an answer with a copy of bytes and a static content type. */
void api_reply_bytes(api_ctx *x, int status, const char *content_type, const char *data,
                     size_t len);
/* Marks the response as failed for lack of memory (answered with a 503). */
void api_reply_oom(api_ctx *x);

/* Serialises json compactly into a fresh buffer from jansson's allocator
 * (release it with json_text_free; growing it leaves no copy of a secret:
 * json_write.c). NULL when out of memory. */
char *api_dump_json(const json_t *json, size_t *len);
/* The same with the newline that ends every answer's body. */
char *api_dump_json_body(const json_t *json, size_t *len);

/* The route slots of the metrics: api_route_slots() patterns (index
 * api_route_slots() - 1 is "unmatched"). Several slots may share a label. */
size_t api_route_slots(void);
const char *api_route_label(size_t slot);
/* Adds one request of ns nanoseconds to the route slot's histogram. */
void api_latency_observe(api *a, size_t slot, uint64_t ns);

/* ---- cors.c ------------------------------------------------------------- */

/* Answers a CORS preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) on a known path whose methods are
 * allow_methods. */
void api_cors_preflight(api_ctx *x, const char *allow_methods);
/* true when the request is a preflight (OPTIONS + Origin + ACRM). */
bool api_cors_is_preflight(const api_request *req);
/* Adds Vary and, for an allowed Origin, the CORS headers to a finished
 * answer (nothing when CORS is off). */
void api_cors_finish(api_ctx *x);
void api_cors_clear(api *a);

/* ---- problem.c ---------------------------------------------------------- */

/* The HTTP status of hr (hresult.h's MAPI_HRESULTS): 500 for a failure the
 * list does not know, 200 for a success. */
int api_problem_status(HRESULT hr);

/* Answers with problem+json for hr. status 0 takes api_problem_status(hr);
 * HTTP-level errors (405, 413, 415) pass their own. Adds WWW-Authenticate to
 * every 401 and Retry-After to TIMEOUT/BUSY. The detail must never hold a
 * secret. */
/* The detail of every 503 MAPI_E_NETWORK_ERROR a shared session store out
 * of reach causes. */
#define API_STORE_UNREACHABLE "the session store (Redis) is out of reach: retry later"

void api_problem(api_ctx *x, HRESULT hr, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same with extra members (extra is borrowed: the caller frees it; NULL:
 * none) added to the problem object, such as the candidates of an
 * ambiguous recipient. */
void api_problem_with(api_ctx *x, HRESULT hr, int status, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The detail of the out-of-memory answer. */
#define API_OOM_DETAIL "the gateway ran out of memory while answering"
/* Renders the out-of-memory answer's body once per process, with the code
 * api_problem uses, so that answering it later needs no memory. false when
 * it could not (api_new fails then). Thread-safe. */
bool api_problem_init(void);
/* That body (api_problem_init first): static, never freed. */
const char *api_problem_oom_body(size_t *len);
/* Replaces whatever r holds with the out-of-memory answer (503 problem+json
 * for MAPI_E_NOT_ENOUGH_MEMORY, Cache-Control: no-store); heap copies when
 * memory allows, the static body otherwise. */
void api_finish_oom(api_response *r);
/* The problem's "instance" for a request id: "urn:mapigw:request:" and the id,
 * percent-encoding what a URN may not hold as it is. */
#define API_INSTANCE_SIZE (24 + 3 * API_REQUEST_ID_MAX)
void api_problem_instance(const char *request_id, char out[API_INSTANCE_SIZE]);

/* ---- render.c ----------------------------------------------------------- */

/* Each returns a new reference, or NULL when out of memory. */
json_t *render_flags(const mapi_name_set *set, uint32_t value);
json_t *render_enum(const mapi_name_set *set, uint32_t value);
/* Text twins of render_flags and render_time, for answers written with
 * json_write.h's builder. */
void render_flags_text(json_text *out, const mapi_name_set *set, uint32_t value);
#define RENDER_TIME_MAX 32
/* t as "YYYY-MM-DDTHH:MM:SSZ"; false for a time beyond the calendar. */
bool render_time_format(time_t t, char buf[RENDER_TIME_MAX]);
void render_time_text(json_text *out, time_t t);
json_t *render_hex(const uint8_t *data, size_t len);
json_t *render_string_or_null(const char *s);
json_t *render_time(time_t t);
json_t *render_status_row(const status_row *row);
/* The session resource of DECISIONS.md (no token), with what the session
 * store says of it (core_get_session_facts). */
json_t *render_session(session *s, const core_session_facts *facts);
/* The identity answer as JSON text (malloc'd; NULL when out of memory). */
char *render_identity(const identity *id, size_t *len);

/* A MAPI object (OpenEntry, OpenMsgStore, a table row) generically:
 * {"object_type":{"value","name"}, <prop name>: <value>, ...}; flag-valued
 * properties (resource_flags, status_code) as flag sets. */
json_t *render_object(const mapi_object *o);
/* {"rows":[...], "<count_key>":N}-style array of rendered objects. */
json_t *render_rows(const mapi_rows *rows);
/* {"mapi_error","mapi_code"} for a warning. */
json_t *render_warning(HRESULT hr);

/* The end of building an object with json_set: obj when every step went
 * well (ok), else NULL with obj freed. api_reply_json turns NULL into the
 * out-of-memory answer, so a handler ends with
 * api_reply_json(x, 200, json_built(out, ok)). */
json_t *json_built(json_t *obj, bool ok);

/* Sets key on obj, stealing value (also on failure, and NULL obj/value are
 * failures). Lets builders chain "ok &= json_set(...)". */
bool json_set(json_t *obj, const char *key, json_t *value);

/* ---- request.c ---------------------------------------------------------- */

/* true when ct is application/json, case-insensitive, parameters allowed. */
bool content_type_is_json(const char *ct);
/* The request body as a JSON object: checks Content-Type (415), size (413),
 * nesting depth (before parsing), syntax and duplicate keys, then the length
 * of every string and key (passwords: API_MAX_PASSWORD_BYTES) (400). NULL
 * with the problem written. */
json_t *request_json_object(api_ctx *x);
/* Every key of obj must be in allowed (NULL-terminated); else 400 naming it. */
bool request_check_keys(api_ctx *x, json_t *obj, const char *const *allowed);
/* Flags given as an array of names of set, or a non-negative integer. Unknown
 * names: 400 UNKNOWN_FLAGS; unknown bits of an integer too when check_bits
 * (else the callee checks them, in MAPI's order of checks); wrong types or
 * ranges: 400 INVALID_PARAMETER. */
bool request_json_flags(api_ctx *x, const mapi_name_set *set, const json_t *v, const char *key,
                        bool check_bits, uint32_t *out);
/* Flags in a query value: comma-separated names, or a decimal/0x-hex number. */
bool request_query_flags(api_ctx *x, const mapi_name_set *set, const char *value, const char *key,
                         uint32_t *out);
/* Every query key must be in allowed (NULL-terminated) and appear once;
 * access_token is ignored (never a credential, never an error). */
bool request_check_query(api_ctx *x, const char *const *allowed);
/* The allowed list of a route that takes no query parameter. */
extern const char *const API_NO_QUERY[];
/* The value of a query key, or NULL (also for "?key" without "="). */
const char *request_query(const api_ctx *x, const char *key, bool *present);
/* The {ik} path segment: exactly 16 hex digits, else 400. */
bool request_instance_key(api_ctx *x, const api_span *ik, uint8_t out[STATUS_INSTANCE_KEY_LEN]);
/* An entry id in hex (path segment or body string): even length, 2..8192
 * digits of either case, else 400 MAPI_E_INVALID_ENTRYID naming what. *out is
 * malloc'd (the caller frees it). */
bool request_entry_id(api_ctx *x, const char *hex, size_t len, const char *what, uint8_t **out,
                      size_t *out_len);
/* Number of UTF-8 code points in a valid UTF-8 string. */
size_t utf8_length(const char *s, size_t len);

/* ---- page.c: cursors of lists ------------------------------------------- */

/* max= of every paged list: default and bound. */
#define PAGE_MAX_DEFAULT 1000u
#define PAGE_MAX_LIMIT 10000u

typedef enum {
    PAGE_CONTENTS = 1,
    PAGE_ADDRESS_BOOK = 2,
    PAGE_SESSIONS = 3,
    PAGE_PROFILES = 4
} page_list;

/* What a cursor is bound to: the list, the session (NULL for the admin's
 * list) and what the list is of (a folder's entry id, a search text; may
 * be empty). Borrowed. */
typedef struct {
    page_list list;
    const char *session_id;
    const void *what;
    size_t what_len;
} page_scope;

typedef struct {
    size_t offset; /* the first place of the page */
    size_t max;    /* rows at most */
} page_window;

/* The window asked by the max= (1..10000, default 1000) and cursor= query
 * parameters; false with a 400 MAPI_E_INVALID_PARAMETER written for a bad
 * max or a cursor not issued for this scope. */
bool page_parse(api_ctx *x, const page_scope *sc, page_window *out);
/* Sets "total" (unless total is SIZE_MAX: unknown) and, when places remain
 * after the window, "next": the cursor of the following page. rows: how
 * many the page holds (tells more from a full page when total is unknown). */
bool page_render(api_ctx *x, json_t *out, const page_scope *sc, const page_window *w, size_t rows,
                 size_t total);

/* ---- tickets.c: GET /events tickets -------------------------------------- */

#define TICKET_PREFIX "mgt_"
#define TICKET_PREFIX_LEN 4
#define TICKET_STRING_LEN (TICKET_PREFIX_LEN + 43)

/* The table of outstanding tickets; thread-safe. NULL when out of memory. */
typedef struct api_tickets api_tickets;
api_tickets *tickets_new(unsigned ttl_s);
void tickets_free(api_tickets *t);
unsigned tickets_ttl(const api_tickets *t);
/* A new ticket for the bearer of token (its handle: handle), good once until
 * *expires_at. MAPI_E_NOT_ENOUGH_RESOURCES when the table is full. */
HRESULT tickets_issue(api_tickets *t, const char *token, size_t token_len, const token_hash *handle,
                      time_t now, char out[TICKET_STRING_LEN + 1], time_t *expires_at);
/* Takes the ticket (gone after this call, whatever it answers) and gives
 * back its handle's token (wipe it): S_OK, or MAPI_E_END_OF_SESSION for an
 * unknown, used, expired or malformed ticket alike. */
HRESULT tickets_redeem(api_tickets *t, const char *ticket, size_t len, time_t now,
                       char token[TOKEN_STRING_LEN + 1]);
/* Drops every ticket of a handle that logged off. */
void tickets_forget_handle(api_tickets *t, const token_hash *handle);

/* ---- auth.c ------------------------------------------------------------- */

typedef struct {
    bool admin;       /* the admin key was presented: session is NULL */
    session *session; /* a new reference, or NULL for admin */
    token_hash handle;
} api_auth;

/* Authenticates the bearer. allow_admin: the admin key is accepted too. false
 * with the 401 written. On success the caller must api_auth_release. */
bool api_authenticate(api_ctx *x, bool allow_admin, api_auth *out);
/* The same for a token at hand (a ticket's, tickets.c). */
bool api_authenticate_token(api_ctx *x, const char *token, size_t len, api_auth *out);
/* The Authorization header's bearer value (borrowed): false when none. */
bool api_bearer(api_ctx *x, const char **value, size_t *len);
/* true when the Authorization header carries the configured admin key. */
bool api_is_admin(api_ctx *x);
void api_auth_release(api_auth *auth);

/* ---- handlers ----------------------------------------------------------- */

/* h_sessions.c */
void h_sessions_post(api_ctx *x);
void h_sessions_list(api_ctx *x);
void h_profiles_list(api_ctx *x);
void h_session_get(api_ctx *x);
void h_session_delete(api_ctx *x);
void h_sessions_end(api_ctx *x);
/* h_status.c */
void h_status_table(api_ctx *x);
void h_status_row(api_ctx *x);
void h_identity(api_ctx *x);
/* h_methods.c */
void h_status_method(api_ctx *x);
/* h_objects.c */
void h_stores_table(api_ctx *x);
void h_store_open(api_ctx *x);
void h_address_book(api_ctx *x);
void h_entry_open(api_ctx *x);
void h_entry_contents(api_ctx *x);
void h_entries_compare(api_ctx *x);
/* h_submit.c */
void h_messages_post(api_ctx *x);
void h_message_options(api_ctx *x);
/* h_events.c */
void h_events(api_ctx *x);
void h_event_tickets_post(api_ctx *x);
/* h_ops.c */
void h_healthz(api_ctx *x);
void h_readyz(api_ctx *x);
void h_metrics(api_ctx *x);
void h_openapi(api_ctx *x);
/* h_console.c */
void h_asset(api_ctx *x);

/* api.c: for /metrics, the route labels and their counters. */
void api_metrics_foreach(api *a,
                         void (*fn)(void *ctx, const char *route, int status, uint64_t count),
                         void *ctx);
