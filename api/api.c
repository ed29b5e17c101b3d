/* api.c - the api object, the route table and the dispatcher, and the helpers
 * that fill an api_response.
 *
 * Routing is a static table {method, pattern, handler}. A pattern is a list
 * of "/"-separated segments where "{name}" matches any one non-empty segment.
 * Of the patterns that match a path, the most specific one owns it: a fixed
 * segment beats a template at the first place where they differ, whatever
 * the method ("/entries/compare" is never an entry id, so GET on it is 405,
 * not an OpenEntry of "compare"). A path that matches no pattern is 404; a
 * path whose owning pattern has other methods only is 405 with Allow.
 */
#include "api_internal.h"
#include "status_cache.h"
#include "profile_views.h"
#include "json_write.h"

#include "../session-core/analyzer.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    const char *method;
    const char *pattern;
    api_handler handler;
    /* The route takes no query parameter and needs no token: any parameter
     * is refused here, before the handler (docs/contract/http.md 1.1). Routes
     * with a token check theirs after authenticating, so that a bad token is
     * a 401 whatever the query. */
    bool no_query;
} api_route;

static const api_route ROUTES[] = {
    {"POST", "/sessions", h_sessions_post, true},
    {"GET", "/sessions", h_sessions_list, false},
    {"GET", "/profiles", h_profiles_list, false},
    {"POST", "/profiles", h_profile_create, false},
    {"GET", "/profiles/{name}", h_profile_get, false},
    {"PATCH", "/profiles/{name}", h_profile_patch, false},
    {"DELETE", "/profiles/{name}", h_profile_delete, false},
    {"PUT", "/profiles/{name}/password", h_profile_password, false},
    {"GET", "/profiles/{name}/services", h_profile_services, false},
    {"POST", "/profiles/{name}/services", h_profile_service_add, false},
    {"GET", "/profiles/{name}/services/{uid}", h_profile_service, false},
    {"PATCH", "/profiles/{name}/services/{uid}", h_profile_service_patch, false},
    {"DELETE", "/profiles/{name}/services/{uid}", h_profile_service_delete, false},
    {"GET", "/profiles/{name}/services/{uid}/providers", h_profile_service_providers, false},
    {"GET", "/services", h_own_services, false},
    {"GET", "/services/{uid}", h_own_service, false},
    {"PATCH", "/services/{uid}", h_own_service_patch, false},
    {"GET", "/services/{uid}/providers", h_own_service_providers, false},
    {"GET", "/sessions/{id}", h_session_get, false},
    {"DELETE", "/sessions", h_sessions_end, false},
    {"DELETE", "/sessions/{id}", h_session_delete, false},
    {"GET", "/status", h_status_table, false},
    {"GET", "/status/{ik}", h_status_row, false},
    {"POST", "/status/{ik}/{method}", h_status_method, false},
    {"GET", "/identity", h_identity, false},
    {"GET", "/stores", h_stores_table, false},
    {"GET", "/stores/{eid}", h_store_open, false},
    {"GET", "/addressbook", h_address_book, false},
    {"POST", "/entries/compare", h_entries_compare, false},
    {"GET", "/entries/{eid}", h_entry_open, false},
    {"GET", "/entries/{eid}/contents", h_entry_contents, false},
    {"POST", "/messages", h_messages_post, false},
    {"GET", "/message-options", h_message_options, false},
    {"GET", "/events", h_events, false},
    {"POST", "/events/tickets", h_event_tickets_post, false},
    {"GET", "/healthz", h_healthz, true},
    {"GET", "/readyz", h_readyz, true},
    {"GET", "/metrics", h_metrics, true},
    {"GET", "/openapi.yaml", h_openapi, true},
    {"GET", "/", h_asset, true},
    {"GET", "/console.js", h_asset, true},
    {"GET", "/console.css", h_asset, true},
    {"GET", "/favicon.svg", h_asset, true},
    {"GET", "/docs", h_asset, true},
    {"GET", "/docs/init.js", h_asset, true},
    {"GET", "/docs/redoc.standalone.js", h_asset, true},
};
#define ROUTE_COUNT (sizeof ROUTES / sizeof ROUTES[0])
/* Requests for no known path are counted under this extra slot. */
#define ROUTE_UNMATCHED ROUTE_COUNT
static const char ROUTE_UNMATCHED_LABEL[] = "unmatched";

/* The response that is left when memory runs out must not need malloc:
 * api_response_clear knows its static body (api_problem_oom_body) and this
 * header value, and does not free them. */
static char OOM_NO_STORE[] = "no-store";
static char OOM_RETRY_AFTER[] = "1";

/* RFC 9110 10.2.3 and 6585 4: every 429 and 503 says when to come back. The
 * handlers that know better (a throttled logon's wait) set their own; the
 * rest are short-lived conditions (a cap, a busy lock, start-up), where a
 * second is the shortest useful wait. */
static const char DEFAULT_RETRY_AFTER[] = "1";

static bool has_header(const api_response *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (r->headers[i].name && strcasecmp(r->headers[i].name, name) == 0)
            return true;
    return false;
}

static void add_retry_after(api_ctx *x)
{
    if ((x->resp->status == 429 || x->resp->status == 503) && !has_header(x->resp, "Retry-After"))
        api_add_header(x, "Retry-After", DEFAULT_RETRY_AFTER);
}

static bool is_oom_body(const char *body)
{
    size_t len;
    return body == api_problem_oom_body(&len);
}

api *api_new(core *c, const api_config *cfg)
{
    if (!api_problem_init())
        return NULL;
    api *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->core = c;
    a->max_body_bytes = cfg->max_body_bytes;
    a->max_header_bytes = cfg->limits.max_header_bytes;
    a->max_url_bytes = cfg->limits.max_url_bytes;
    a->max_json_depth = cfg->limits.max_json_depth;
    a->max_json_string = cfg->limits.max_json_string;
    a->openapi_yaml = cfg->openapi_yaml;
    a->openapi_yaml_len = cfg->openapi_yaml_len;
    a->version = strdup(cfg->version ? cfg->version : "0.0.0");
    randombytes_buf(a->cursor_key, sizeof a->cursor_key);
    a->status_cache = status_cache_new();
    a->tickets = tickets_new(cfg->events_ticket_ttl_s);
    a->git_commit = cfg->git_commit && cfg->git_commit[0] ? cfg->git_commit : "unknown";
    a->requests = calloc(ROUTE_COUNT + 1, sizeof *a->requests);
    a->latency = calloc(ROUTE_COUNT + 1, sizeof *a->latency);
    if (cfg->admin_key && cfg->admin_key[0]) {
        a->admin_key = strdup(cfg->admin_key);
        a->admin_key_len = strlen(cfg->admin_key);
        if (!a->admin_key)
            goto fail;
    }
    if (!a->version || !a->requests || !a->latency || !a->status_cache || !a->tickets)
        goto fail;
    /* The api exists only once the core (and so the profiles) is loaded: it
     * starts ready, and the server clears the flag when shutting down. */
    atomic_init(&a->ready, true);
    return a;
fail:
    api_free(a);
    return NULL;
}

void api_set_limits(api *a, const api_limits *lim)
{
    if (lim->max_header_bytes)
        a->max_header_bytes = lim->max_header_bytes;
    if (lim->max_url_bytes)
        a->max_url_bytes = lim->max_url_bytes;
    if (lim->max_json_depth)
        a->max_json_depth = lim->max_json_depth;
    if (lim->max_json_string)
        a->max_json_string = lim->max_json_string;
}

void api_free(api *a)
{
    if (!a)
        return;
    if (a->admin_key) {
        /* The api's own copy, from malloc (not request memory): wiped by hand. */
        sodium_memzero(a->admin_key, a->admin_key_len);
        free(a->admin_key);
    }
    sodium_memzero(a->cursor_key, sizeof a->cursor_key);
    status_cache_free(a->status_cache);
    tickets_free(a->tickets);
    free(a->version);
    free(a->requests);
    free(a->latency);
    api_cors_clear(a);
    free(a);
}

void api_set_ready(api *a, bool ready) { atomic_store(&a->ready, ready); }

void api_response_clear(api_response *resp)
{
    /* Bodies come from jansson's allocator (json_text_alloc), which wipes
     * them in the gateway: the logon answer holds a token. */
    if (!is_oom_body(resp->body))
        json_text_free(resp->body);
    for (size_t i = 0; i < resp->header_count; i++)
        if (resp->headers[i].value != OOM_NO_STORE && resp->headers[i].value != OOM_RETRY_AFTER)
            free(resp->headers[i].value);
    api_stream_free(resp->stream);
    memset(resp, 0, sizeof *resp);
}

/* ---- response helpers --------------------------------------------------- */

bool api_add_header(api_ctx *x, const char *name, const char *value)
{
    api_response *r = x->resp;
    if (r->header_count >= API_MAX_HEADERS) {
        /* A programming error, not a client's: answer 503 rather than drop
         * a header silently. */
        x->oom = true;
        return false;
    }
    char *copy = strdup(value);
    if (!copy) {
        x->oom = true;
        return false;
    }
    /* The response owns copy: api_response_clear frees every header value. */
    ANALYZER_STORE_FP_BEGIN
    r->headers[r->header_count].name = name;
    r->headers[r->header_count].value = copy;
    r->header_count++;
    return true;
    ANALYZER_STORE_FP_END
}

char *api_dump_json(const json_t *json, size_t *len) { return json_write_compact(json, len); }

char *api_dump_json_body(const json_t *json, size_t *len) { return json_write_line(json, len); }

static void replace_body(api_response *r, char *body, size_t len)
{
    if (!is_oom_body(r->body))
        json_text_free(r->body);
    r->body = body;
    r->body_len = len;
}

void api_reply_json(api_ctx *x, int status, json_t *body)
{
    if (!body) {
        x->oom = true;
        return;
    }
    size_t len = 0;
    char *text = api_dump_json_body(body, &len);
    json_decref(body);
    if (!text) {
        x->oom = true;
        return;
    }
    replace_body(x->resp, text, len);
    x->resp->status = status;
    x->resp->content_type = "application/json";
}

void api_reply_json_text(api_ctx *x, int status, char *text, size_t len)
{
    if (!text) {
        x->oom = true;
        return;
    }
    replace_body(x->resp, text, len);
    x->resp->status = status;
    x->resp->content_type = "application/json";
}

void api_reply_empty(api_ctx *x, int status)
{
    replace_body(x->resp, NULL, 0);
    x->resp->status = status;
    x->resp->content_type = NULL;
}

void api_reply_not_modified(api_ctx *x)
{
    x->resp->status = 304;
    x->resp->content_type = NULL;
}

void api_reply_bytes(api_ctx *x, int status, const char *content_type, const char *data, size_t len)
{
    /* malloc(0) may return NULL: always allocate at least one byte. */
    char *copy = json_text_alloc(len ? len : 1);
    if (!copy) {
        x->oom = true;
        return;
    }
    if (len)
        memcpy(copy, data, len);
    replace_body(x->resp, copy, len);
    x->resp->status = status;
    x->resp->content_type = content_type;
}

void api_reply_oom(api_ctx *x) { x->oom = true; }

/* Heap copies first, so that the usual ownership holds; the static strings
 * when even those fail. */
void api_finish_oom(api_response *r)
{
    const char *route = r->route;
    api_response_clear(r);
    r->route = route;
    r->status = api_problem_status(MAPI_E_NOT_ENOUGH_MEMORY);
    r->content_type = "application/problem+json";
    r->mapi_error = hresult_name(MAPI_E_NOT_ENOUGH_MEMORY);
    size_t len = 0;
    const char *oom = api_problem_oom_body(&len);
    char *body = json_text_alloc(len + 1);
    if (body)
        memcpy(body, oom, len + 1);
    r->body = body;
    if (!r->body)
        r->body = (char *)oom;
    r->body_len = len;
    r->headers[0].name = "Cache-Control";
    r->headers[0].value = strdup("no-store");
    if (!r->headers[0].value)
        r->headers[0].value = OOM_NO_STORE;
    r->headers[1].name = "Retry-After";
    r->headers[1].value = strdup(DEFAULT_RETRY_AFTER);
    if (!r->headers[1].value)
        r->headers[1].value = OOM_RETRY_AFTER;
    r->header_count = 2;
}

/* The out-of-memory answer of a request with an id: its body with the
 * "instance" too when memory allows (the static body has none). */
static void oom_add_request_id(api_response *r, const char *request_id)
{
    char instance[API_INSTANCE_SIZE];
    api_problem_instance(request_id, instance);
    size_t len = 0;
    const char *oom = api_problem_oom_body(&len);
    if (len < 2 || r->header_count >= API_MAX_HEADERS)
        return;
    char *value = strdup(request_id);
    if (!value)
        return;
    r->headers[r->header_count].name = "X-Request-Id";
    r->headers[r->header_count].value = value;
    r->header_count++;
    /* The member goes before the closing brace. */
    const char *brace = memrchr(oom, '}', len);
    if (!brace)
        return;
    size_t head = (size_t)(brace - oom),
           cap = len + sizeof ",\"instance\":\"\"" + strlen(instance) + 1;
    char *body = json_text_alloc(cap);
    if (!body)
        return;
    int n = snprintf(body, cap, "%.*s,\"instance\":\"%s\"%s", (int)head, oom, instance, brace);
    if (n < 0 || (size_t)n >= cap) {
        json_text_free(body);
        return;
    }
    if (!is_oom_body(r->body))
        json_text_free(r->body);
    r->body = body;
    r->body_len = (size_t)n;
}

bool api_request_id_ok(const char *sent)
{
    if (!sent || !sent[0])
        return false;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)sent; *p; p++, n++)
        if (*p < 0x21 || *p > 0x7E || n >= API_REQUEST_ID_MAX)
            return false;
    return strcasestr(sent, "mgw_") == NULL;
}

void api_request_id(const char *sent, char out[API_REQUEST_ID_SIZE])
{
    if (api_request_id_ok(sent)) {
        memcpy(out, sent, strlen(sent) + 1);
        return;
    }
    uint8_t raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, API_REQUEST_ID_SIZE, raw, sizeof raw);
}

/* ---- routing ------------------------------------------------------------ */

/* How specific a matching pattern is: one bit per segment, set for a fixed
 * one, the first segment in the highest bit. Patterns that match one path
 * have as many segments as it, so the larger value is the one with a fixed
 * segment where the other first has a template. */
typedef uint64_t route_rank;
#define RANK_SEGMENTS 63u

/* Matches path against pattern, capturing "{...}" segments into x->params,
 * and ranks the match (*rank). Empty segments (a trailing slash, "//") never
 * match anything. */
static bool match_pattern(const char *pattern, const char *path, api_ctx *x, route_rank *rank)
{
    size_t params = 0, segments = 0;
    route_rank fixed = 0;
    const char *p = pattern, *s = path;
    if (*s != '/')
        return false;
    if (strcmp(pattern, "/") == 0) { /* the root: the one empty segment that matches */
        if (strcmp(path, "/") != 0)
            return false;
        x->param_count = 0;
        *rank = 1;
        return true;
    }
    while (*p) {
        /* Both are at a '/'. */
        if (*p != '/' || *s != '/')
            return false;
        p++, s++;
        const char *pend = strchr(p, '/');
        const char *send = strchr(s, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        size_t slen = send ? (size_t)(send - s) : strlen(s);
        if (slen == 0)
            return false;
        if (++segments > RANK_SEGMENTS)
            return false; /* longer than any pattern of the table */
        fixed <<= 1;
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (params >= API_MAX_PARAMS)
                return false;
            x->params[params].s = s;
            x->params[params].len = slen;
            params++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return false;
        } else {
            fixed |= 1;
        }
        p += plen;
        s += slen;
    }
    if (*s != '\0')
        return false;
    x->param_count = params;
    *rank = fixed;
    return true;
}

/* The routing decision for a path: the first row of the most specific
 * matching pattern (owner) and that pattern's row for the method (route),
 * ROUTE_UNMATCHED when there is none. */
typedef struct {
    size_t owner;
    size_t route;
    route_rank rank;
} route_choice;

/* Fills x->params with the captures of the chosen route. */
static route_choice choose_route(const char *path, const char *method, api_ctx *x)
{
    route_choice c = {ROUTE_UNMATCHED, ROUTE_UNMATCHED, 0};
    size_t last = ROUTE_UNMATCHED; /* the row whose captures x->params hold */
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        route_rank rank = 0;
        if (!match_pattern(ROUTES[i].pattern, path, x, &rank))
            continue;
        last = i;
        if (c.owner != ROUTE_UNMATCHED && rank < c.rank)
            continue;
        if (c.owner == ROUTE_UNMATCHED || rank > c.rank) {
            c.owner = i;
            c.rank = rank;
            c.route = ROUTE_UNMATCHED;
        }
        if (c.route == ROUTE_UNMATCHED && strcmp(ROUTES[i].method, method) == 0) {
            c.route = i;
            if (x->param_count == 0)
                break; /* all fixed: no pattern can be more specific */
        }
    }
    if (c.route != ROUTE_UNMATCHED && c.route != last) {
        route_rank rank = 0;
        match_pattern(ROUTES[c.route].pattern, path, x, &rank);
    }
    return c;
}

/* Builds "GET, HEAD, POST" into buf: the methods of the pattern that owns
 * path (rank: its rank, from choose_route). */
static void allowed_methods(const char *path, route_rank rank, char *buf, size_t size)
{
    static const char *const ORDER[] = {"DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"};
#define METHOD_COUNT (sizeof ORDER / sizeof ORDER[0])
    bool allowed[METHOD_COUNT] = {false};
    api_ctx scratch;
    memset(&scratch, 0, sizeof scratch);
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        route_rank r = 0;
        if (!match_pattern(ROUTES[i].pattern, path, &scratch, &r) || r != rank)
            continue;
        for (size_t m = 0; m < METHOD_COUNT; m++)
            if (strcmp(ROUTES[i].method, ORDER[m]) == 0)
                allowed[m] = true;
        /* HEAD is served as GET without a body. */
        if (strcmp(ROUTES[i].method, "GET") == 0)
            allowed[2] = true;
    }
    buf[0] = '\0';
    size_t used = 0;
    for (size_t m = 0; m < METHOD_COUNT; m++) {
        if (!allowed[m])
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", ORDER[m]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
#undef METHOD_COUNT
}

static void count_request(api *a, size_t route, int status)
{
    if (status < API_STATUS_MIN)
        status = API_STATUS_MIN;
    if (status >= API_STATUS_MIN + API_STATUS_SLOTS)
        status = API_STATUS_MIN + API_STATUS_SLOTS - 1;
    atomic_fetch_add_explicit(&a->requests[route][status - API_STATUS_MIN], 1,
                              memory_order_relaxed);
}

size_t api_route_slots(void) { return ROUTE_COUNT + 1; }

const char *api_route_label(size_t slot)
{
    return slot < ROUTE_COUNT ? ROUTES[slot].pattern : ROUTE_UNMATCHED_LABEL;
}

void api_metrics_foreach(api *a,
                         void (*fn)(void *ctx, const char *route, int status, uint64_t count),
                         void *ctx)
{
    /* Several table rows share a pattern (GET and POST /sessions): the label
     * is the pattern, so sum over the rows that carry it. */
    for (size_t i = 0; i <= ROUTE_COUNT; i++) {
        const char *label = i < ROUTE_COUNT ? ROUTES[i].pattern : ROUTE_UNMATCHED_LABEL;
        bool seen = false;
        for (size_t j = 0; j < i && i < ROUTE_COUNT; j++)
            if (strcmp(ROUTES[j].pattern, label) == 0)
                seen = true;
        if (seen)
            continue;
        for (int st = 0; st < API_STATUS_SLOTS; st++) {
            uint64_t sum = atomic_load_explicit(&a->requests[i][st], memory_order_relaxed);
            for (size_t k = i + 1; k < ROUTE_COUNT && i < ROUTE_COUNT; k++)
                if (strcmp(ROUTES[k].pattern, label) == 0)
                    sum += atomic_load_explicit(&a->requests[k][st], memory_order_relaxed);
            if (sum)
                fn(ctx, label, st + API_STATUS_MIN, sum);
        }
    }
}

/* The limits the server measured (api.h): answered before any handler runs,
 * so that no route can forget them. true when answered. */
static bool answer_request_limits(api_ctx *x)
{
    const api_request *req = x->req;
    if (req->bad_framing) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 400,
                    "the request's framing is ambiguous: %s (RFC 9112 section 6); the "
                    "connection closes",
                    req->bad_framing);
        return true;
    }
    if (req->url_too_long) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 414,
                    "the request path and query exceed %zu bytes (limit --max-url-bytes)",
                    x->a->max_url_bytes);
        return true;
    }
    if (req->url_has_nul) {
        /* The path or a value would be cut short at the NUL and name
         * something other than was asked ("Alice%00" would search "Alice",
         * "%00zz" nothing at all). */
        api_problem(x, MAPI_E_INVALID_PARAMETER, 400,
                    "the request path or query holds an encoded NUL byte (%%00)");
        return true;
    }
    if (req->headers_too_large) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 431,
                    "the request header fields exceed %zu bytes (limit --max-header-bytes)",
                    x->a->max_header_bytes);
        return true;
    }
    if (req->body_too_large) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 413,
                    "the request body exceeds %zu bytes (limit --max-body-bytes)",
                    x->a->max_body_bytes);
        return true;
    }
    return false;
}

void api_limit_answer(api *a, int status, HRESULT hr, const char *detail, api_response *resp)
{
    memset(resp, 0, sizeof *resp);
    api_ctx x;
    memset(&x, 0, sizeof x);
    x.a = a;
    x.resp = resp;
    api_problem(&x, hr, status, "%s", detail ? detail : "");
    if (!x.oom)
        add_retry_after(&x);
    if (!x.oom)
        api_add_header(&x, "Cache-Control", "no-store");
    if (x.oom)
        api_finish_oom(resp);
}

void api_handle(api *a, const api_request *req, api_response *resp)
{
    memset(resp, 0, sizeof *resp);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    api_ctx x;
    memset(&x, 0, sizeof x);
    x.a = a;
    x.req = req;
    x.resp = resp;
    api_request_id(req->request_id, x.request_id);

    const char *method = req->method ? req->method : "";
    const char *path = req->path ? req->path : "";
    const char *effective = strcmp(method, "HEAD") == 0 ? "GET" : method;

    route_choice choice = choose_route(path, effective, &x);
    size_t route = choice.route;
    size_t path_match = choice.owner;

    if (answer_request_limits(&x)) {
        /* Answered: the route (if any) only labels the metrics. */
        if (route == ROUTE_UNMATCHED && path_match != ROUTE_UNMATCHED)
            route = path_match;
        resp->route = route != ROUTE_UNMATCHED ? ROUTES[route].pattern : ROUTE_UNMATCHED_LABEL;
    } else if (route != ROUTE_UNMATCHED) {
        resp->route = ROUTES[route].pattern;
        if (!ROUTES[route].no_query || request_check_query(&x, API_NO_QUERY))
            ROUTES[route].handler(&x);
    } else if (path_match != ROUTE_UNMATCHED && api_cors_is_preflight(req)) {
        route = path_match;
        resp->route = ROUTES[route].pattern;
        char allow[64];
        allowed_methods(path, choice.rank, allow, sizeof allow);
        api_cors_preflight(&x, allow);
    } else if (path_match != ROUTE_UNMATCHED) {
        route = path_match;
        resp->route = ROUTES[route].pattern;
        char allow[64];
        allowed_methods(path, choice.rank, allow, sizeof allow);
        api_problem(&x, MAPI_E_NO_SUPPORT, 405, "method %.16s is not allowed on %s; allowed: %s",
                    method, ROUTES[route].pattern, allow);
        api_add_header(&x, "Allow", allow);
    } else {
        resp->route = ROUTE_UNMATCHED_LABEL;
        api_problem(&x, MAPI_E_NOT_FOUND, 0, "no resource at this path");
    }

    if (resp->status == 0 && !x.oom) {
        /* A handler that forgot to answer is a bug; never send status 0. */
        api_problem(&x, MAPI_E_CALL_FAILED, 0, "the request produced no answer");
    }
    if (!x.oom)
        add_retry_after(&x);
    if (!x.oom)
        api_add_header(&x, "Cache-Control", "no-store");
    if (!x.oom)
        api_add_header(&x, "X-Request-Id", x.request_id);
    if (!x.oom)
        api_cors_finish(&x);
    if (x.oom) {
        api_finish_oom(resp);
        oom_add_request_id(resp, x.request_id);
    }
    /* HEAD keeps the GET body, and a 304 the body of its 200: RFC 9110
     * 9.3.2 and 8.6 want their Content-Length, and the server never sends
     * either body (libmicrohttpd drops it itself). */
    count_request(a, route, resp->status);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
    api_latency_observe(a, route, ns > 0 ? (uint64_t)ns : 0);
}
