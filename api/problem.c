/* problem.c - every error answer of the gateway: RFC 9457 problem details
 * carrying the MAPI error name and code (docs/contract/http.md 1).
 *
 * The only place that turns an HRESULT into HTTP, so that headers tied to a
 * status (WWW-Authenticate on 401, Retry-After on TIMEOUT/BUSY) can never be
 * forgotten by a handler.
 */
#include "api_internal.h"
#include "json_write.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The answer and the short human title of each value (RFC 9457: the title of
 * a type does not change from occurrence to occurrence), from hresult.h's one
 * list. */
typedef struct {
    HRESULT hr;
    int status;
    const char *title;
} problem_row;

#define PROBLEM_ROW(name, value, status, title) {name, status, title},
static const problem_row PROBLEMS[] = {MAPI_HRESULTS(PROBLEM_ROW)};
#undef PROBLEM_ROW

static const problem_row *find(HRESULT hr)
{
    for (size_t i = 0; i < sizeof PROBLEMS / sizeof PROBLEMS[0]; i++)
        if (PROBLEMS[i].hr == hr)
            return &PROBLEMS[i];
    return NULL;
}

int api_problem_status(HRESULT hr)
{
    const problem_row *row = find(hr);
    if (row)
        return row->status;
    return HR_FAILED(hr) ? 500 : 200;
}

static const char *problem_title(HRESULT hr)
{
    const problem_row *row = find(hr);
    return row ? row->title : "MAPI error";
}

/* The problem+json text for hr, a failure of the list (callers normalise
 * it first), or NULL when out of memory. */
static char *problem_text(HRESULT hr, int status, const char *detail, const char *request_id,
                          json_t *extra, size_t *len)
{
    const char *name = hresult_name(hr);
    char type[96], code[16];
    snprintf(type, sizeof type, "urn:mapigw:problem:%s", name);
    snprintf(code, sizeof code, "0x%08X", (unsigned)(uint32_t)hr);

    json_t *body = json_object();
    bool ok = body != NULL;
    ok &= json_set(body, "type", json_string(type));
    ok &= json_set(body, "title", json_string(problem_title(hr)));
    ok &= json_set(body, "status", json_integer(status));
    /* Details may carry client text that is not valid UTF-8 (a query
     * value, or a name cut by %.64s): render_string_or_null repairs it. */
    ok &= json_set(body, "detail", render_string_or_null(detail));
    if (request_id && request_id[0]) {
        char instance[API_INSTANCE_SIZE];
        api_problem_instance(request_id, instance);
        ok &= json_set(body, "instance", json_string(instance));
    }
    ok &= json_set(body, "mapi_error", json_string(name));
    ok &= json_set(body, "mapi_code", json_string(code));
    if (extra && ok)
        ok = json_object_update(body, extra) == 0;
    char *text = ok ? api_dump_json_body(body, len) : NULL;
    json_decref(body);
    return text;
}

/* The out-of-memory answer's body, rendered once by the code above and kept
 * where using it needs no memory. Written once (pthread_once), read-only
 * afterwards: one per process, like the list it comes from. */
static pthread_once_t oom_once = PTHREAD_ONCE_INIT;
static char oom_body[512];
static size_t oom_len;

static void oom_build(void)
{
    size_t len = 0;
    char *text =
        problem_text(MAPI_E_NOT_ENOUGH_MEMORY, api_problem_status(MAPI_E_NOT_ENOUGH_MEMORY),
                     API_OOM_DETAIL, NULL, NULL, &len);
    if (text && len < sizeof oom_body) {
        memcpy(oom_body, text, len + 1);
        oom_len = len;
    }
    json_text_free(text);
}

void api_problem_instance(const char *request_id, char out[API_INSTANCE_SIZE])
{
    /* RFC 9457 3.1.5: a URI reference that identifies this occurrence; RFC
     * 8141's NSS keeps unreserved, sub-delims, ':', '@' and '/' as they are. */
    static const char KEEP[] = "-._~!$&'()*+,;=:@/";
    static const char HEX[] = "0123456789ABCDEF";
    size_t o = (size_t)snprintf(out, API_INSTANCE_SIZE, "urn:mapigw:request:");
    for (const unsigned char *p = (const unsigned char *)request_id;
         *p && o + 4 <= API_INSTANCE_SIZE; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr(KEEP, *p)) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = HEX[*p >> 4];
            out[o++] = HEX[*p & 15];
        }
    }
    out[o] = '\0';
}

bool api_problem_init(void)
{
    pthread_once(&oom_once, oom_build);
    return oom_len > 0;
}

const char *api_problem_oom_body(size_t *len)
{
    *len = oom_len;
    return oom_body;
}

static void problem_v(api_ctx *x, HRESULT hr, int status, json_t *extra, const char *fmt,
                      va_list ap) __attribute__((format(printf, 5, 0)));

void api_problem(api_ctx *x, HRESULT hr, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem_v(x, hr, status, NULL, fmt, ap);
    va_end(ap);
}

void api_problem_with(api_ctx *x, HRESULT hr, int status, json_t *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem_v(x, hr, status, extra, fmt, ap);
    va_end(ap);
}

static void problem_v(api_ctx *x, HRESULT hr, int status, json_t *extra, const char *fmt,
                      va_list ap)
{
    /* A success code is not a problem; callers only get here by mistake. */
    if (!HR_FAILED(hr))
        hr = MAPI_E_CALL_FAILED;
    /* hresult_name maps unknown failures to MAPI_E_CALL_FAILED; keep the
     * name, the code and the type consistent by using that code too. */
    const char *name = hresult_name(hr);
    HRESULT named;
    if (hresult_from_name(name, &named) == 0)
        hr = named;
    if (status == 0)
        status = api_problem_status(hr);

    char detail[512];
    vsnprintf(detail, sizeof detail, fmt, ap);

    size_t len = 0;
    char *text = problem_text(hr, status, detail, x->request_id, extra, &len);
    if (!text) {
        x->oom = true;
        return;
    }
    /* Start from a clean response: a handler may fail after setting parts. */
    api_response *r = x->resp;
    const char *route = r->route;
    api_response_clear(r);
    r->route = route;
    r->status = status;
    r->content_type = "application/problem+json";
    r->body = text;
    r->body_len = len;
    r->mapi_error = name;

    if (status == 401) {
        /* RFC 6750 3.1: error="invalid_token" only when a token was
         * presented and refused; a missing credential gets the bare
         * challenge. RFC 9110 requires a challenge on every 401. */
        api_add_header(x, "WWW-Authenticate",
                       hr == MAPI_E_END_OF_SESSION
                           ? "Bearer realm=\"mapigw\", error=\"invalid_token\""
                           : "Bearer realm=\"mapigw\"");
    }
    /* Every 503 says when to come back, and so do the two "try again" ones. */
    if (hr == MAPI_E_TIMEOUT || hr == MAPI_E_BUSY || status == 503)
        api_add_header(x, "Retry-After", "1");
}
