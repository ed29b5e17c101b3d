/* h_ops.c - the operations endpoints, open without a bearer: GET /healthz,
 * GET /readyz, GET /metrics (Prometheus text format 0.0.4), GET /openapi.yaml.
 */
#include "api_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void h_healthz(api_ctx *x)
{
    json_t *out = json_object();
    bool ok = out != NULL;
    ok &= json_set(out, "status", json_string("ok"));
    ok &= json_set(out, "version", json_string(x->a->version));
    if (!ok) {
        json_decref(out);
        api_reply_oom(x);
        return;
    }
    api_reply_json(x, 200, out);
}

void h_readyz(api_ctx *x)
{
    profile_store *store = core_profiles(x->a->core);
    if (!atomic_load(&x->a->ready) || !store) {
        profile_store_unref(store);
        api_problem(x, MAPI_E_NOT_INITIALIZED, 0, "the gateway is starting or shutting down");
        return;
    }
    size_t n = profile_store_count(store);
    profile_store_unref(store);
    json_t *out = json_object();
    bool ok = out != NULL;
    ok &= json_set(out, "status", json_string("ready"));
    ok &= json_set(out, "profiles", json_integer((json_int_t)n));
    if (!ok) {
        json_decref(out);
        api_reply_oom(x);
        return;
    }
    api_reply_json(x, 200, out);
}

/* A growable text buffer that remembers a failure, so the metrics writer can
 * append blindly and check once. */
typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} text_buf;

static void tb_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(text_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n =
            vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->data && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len <= (size_t)n)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
}

static void metric_line(void *ctx, const char *route, int status, uint64_t count)
{
    /* Route labels are our own patterns: no characters need escaping. */
    tb_printf(ctx, "mapigw_http_requests_total{route=\"%s\",status=\"%d\"} %" PRIu64 "\n", route,
              status, count);
}

void h_metrics(api_ctx *x)
{
    core_stats st;
    memset(&st, 0, sizeof st);
    core_get_stats(x->a->core, &st);
    text_buf b = {NULL, 0, 0, false};
    tb_printf(&b,
              "# HELP mapigw_sessions Live MAPI sessions.\n"
              "# TYPE mapigw_sessions gauge\n"
              "mapigw_sessions %zu\n",
              st.sessions);
    tb_printf(&b,
              "# HELP mapigw_handles Live session handles (bearer tokens).\n"
              "# TYPE mapigw_handles gauge\n"
              "mapigw_handles %zu\n",
              st.handles);
    tb_printf(&b,
              "# HELP mapigw_logons_total Logon attempts by result.\n"
              "# TYPE mapigw_logons_total counter\n"
              "mapigw_logons_total{result=\"ok\"} %" PRIu64 "\n"
              "mapigw_logons_total{result=\"failed\"} %" PRIu64 "\n",
              st.logons_ok, st.logons_failed);
    tb_printf(&b, "# HELP mapigw_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE mapigw_http_requests_total counter\n");
    api_metrics_foreach(x->a, metric_line, &b);
    if (b.failed || !b.data) {
        free(b.data);
        api_reply_oom(x);
        return;
    }
    x->resp->status = 200;
    x->resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    x->resp->body = b.data;
    x->resp->body_len = b.len;
}

void h_openapi(api_ctx *x)
{
    if (!x->a->openapi_yaml) {
        api_problem(x, MAPI_E_NOT_FOUND, 0, "this build carries no OpenAPI document");
        return;
    }
    api_reply_bytes(x, 200, "application/yaml", x->a->openapi_yaml, x->a->openapi_yaml_len);
}
