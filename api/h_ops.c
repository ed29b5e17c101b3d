/* h_ops.c - the operations endpoints, open without a bearer: GET /healthz,
 * GET /readyz, GET /metrics (Prometheus text format 0.0.4), GET /openapi.yaml,
 * and the request latency histogram behind GET /metrics.
 */
#include "api_internal.h"

#include "../session-core/session_stats.h"

#include <inttypes.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void h_healthz(api_ctx *x)
{
    json_t *out = json_object();
    bool ok = out != NULL;
    ok &= json_set(out, "status", json_string("ok"));
    ok &= json_set(out, "version", json_string(x->a->version));
    api_reply_json(x, 200, json_built(out, ok));
}

void h_readyz(api_ctx *x)
{
    profile_store *store = core_profiles(x->a->core);
    if (!atomic_load(&x->a->ready) || !store) {
        profile_store_unref(store);
        api_problem(x, MAPI_E_NOT_INITIALIZED, 0, "the gateway is starting or shutting down");
        return;
    }
    if (!core_store_ready(x->a->core)) {
        profile_store_unref(store);
        api_problem(x, MAPI_E_NETWORK_ERROR, 503, API_STORE_UNREACHABLE);
        return;
    }
    size_t n = profile_store_count(store);
    profile_store_unref(store);
    json_t *out = json_object();
    bool ok = out != NULL;
    ok &= json_set(out, "status", json_string("ready"));
    ok &= json_set(out, "profiles", json_integer((json_int_t)n));
    api_reply_json(x, 200, json_built(out, ok));
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

const uint64_t API_LATENCY_BOUNDS_NS[API_LATENCY_BUCKETS] = {
    1000000,   2500000,   5000000,   10000000,   25000000,   50000000,
    100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000,
};

void api_latency_observe(api *a, size_t slot, uint64_t ns)
{
    if (slot >= api_route_slots())
        return;
    size_t b = 0;
    while (b < API_LATENCY_BUCKETS && ns > API_LATENCY_BOUNDS_NS[b])
        b++;
    api_latency *l = &a->latency[slot];
    atomic_fetch_add_explicit(&l->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->sum_ns, ns, memory_order_relaxed);
}

/* When the process started, in seconds since the epoch: its start in clock
 * ticks after boot (/proc/self/stat, field 22) plus the boot time
 * (/proc/stat, btime). 0 when either cannot be read. */
static double process_start_time(void)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold blanks and ')': count from the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long long ticks = 0;
    int field = 2;
    char *save = NULL; /* scrapes run on several threads at once: strtok_r */
    for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (++field == 22) {
            ticks = strtoull(tok, NULL, 10);
            break;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long btime = 0;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    fclose(f);
    if (!btime || hz <= 0 || field != 22)
        return 0;
    return (double)btime + (double)ticks / (double)hz;
}

/* One histogram per route label (rows sharing a pattern are summed). */
static void latency_metrics(api *a, text_buf *b)
{
    tb_printf(b, "# HELP mapigw_http_request_duration_seconds Time to answer an HTTP request "
                 "(for GET /events: until the stream starts), by route.\n"
                 "# TYPE mapigw_http_request_duration_seconds histogram\n");
    size_t slots = api_route_slots();
    for (size_t i = 0; i < slots; i++) {
        const char *label = api_route_label(i);
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(api_route_label(j), label) == 0)
                seen = true;
        if (seen)
            continue;
        uint64_t counts[API_LATENCY_BUCKETS + 1] = {0}, sum_ns = 0;
        for (size_t k = i; k < slots; k++) {
            if (strcmp(api_route_label(k), label) != 0)
                continue;
            for (size_t n = 0; n <= API_LATENCY_BUCKETS; n++)
                counts[n] += atomic_load_explicit(&a->latency[k].buckets[n], memory_order_relaxed);
            sum_ns += atomic_load_explicit(&a->latency[k].sum_ns, memory_order_relaxed);
        }
        uint64_t total = 0;
        for (size_t n = 0; n <= API_LATENCY_BUCKETS; n++)
            total += counts[n];
        if (total == 0)
            continue;
        uint64_t cum = 0;
        for (size_t n = 0; n < API_LATENCY_BUCKETS; n++) {
            cum += counts[n];
            tb_printf(b,
                      "mapigw_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %" PRIu64
                      "\n",
                      label, (double)API_LATENCY_BOUNDS_NS[n] / 1e9, cum);
        }
        tb_printf(b,
                  "mapigw_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64
                  "\n"
                  "mapigw_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n"
                  "mapigw_http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n",
                  label, total, label, (double)sum_ns / 1e9, label, total);
    }
}

/* Provider status rows of live sessions, one count per (kind, state): the
 * core keeps the counts as sessions log on, change and end, so a scrape reads
 * a few counters and walks no session. */
static const char *const STATES[SESSION_STATS_STATES] = {"available", "offline", "failure"};

static void provider_metrics(text_buf *b, core *c)
{
    tb_printf(b, "# HELP mapigw_provider_status Provider status rows of live sessions by kind and "
                 "state (STATUS_FAILURE, else STATUS_OFFLINE, else STATUS_AVAILABLE).\n"
                 "# TYPE mapigw_provider_status gauge\n");
    for (size_t k = 0; k < session_stats_kind_count(); k++)
        for (size_t st = 0; st < SESSION_STATS_STATES; st++)
            tb_printf(b, "mapigw_provider_status{kind=\"%s\",state=\"%s\"} %" PRIu64 "\n",
                      session_stats_kind_name(k), STATES[st],
                      core_provider_status(c, k, (session_stats_state)st));
}

/* The build, as Prometheus' *_build_info convention has it: a gauge of 1
 * whose labels say what runs. */
static void build_metrics(text_buf *b, const api *a)
{
    tb_printf(b,
              "# HELP mapigw_build_info The running build: version and git commit.\n"
              "# TYPE mapigw_build_info gauge\n"
              "mapigw_build_info{version=\"%s\",commit=\"%s\"} 1\n",
              a->version, a->git_commit);
}

/* The process_* metrics of Prometheus' client conventions, from getrusage
 * and /proc (Linux). A value that cannot be read is left out, never made up. */
static void process_metrics(text_buf *b)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        tb_printf(b,
                  "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                  "seconds.\n"
                  "# TYPE process_cpu_seconds_total counter\n"
                  "process_cpu_seconds_total %.6f\n",
                  cpu);
    }
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f && fscanf(f, "%llu %llu", &size, &resident) == 2 && page > 0)
        tb_printf(b,
                  "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                  "# TYPE process_resident_memory_bytes gauge\n"
                  "process_resident_memory_bytes %llu\n",
                  resident * (unsigned long long)page);
    if (f)
        fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        unsigned long fds = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            if (e->d_name[0] != '.')
                fds++;
        closedir(d);
        tb_printf(b,
                  "# HELP process_open_fds Number of open file descriptors.\n"
                  "# TYPE process_open_fds gauge\n"
                  "process_open_fds %lu\n",
                  fds > 0 ? fds - 1 : 0); /* less the one opendir holds */
    }
    double start = process_start_time();
    if (start > 0)
        tb_printf(b,
                  "# HELP process_start_time_seconds Start time of the process since unix epoch "
                  "in seconds.\n"
                  "# TYPE process_start_time_seconds gauge\n"
                  "process_start_time_seconds %.2f\n",
                  start);
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
    tb_printf(&b,
              "# HELP mapigw_events_dropped_total Events a subscriber's queue dropped: "
              "coalesced (a newer change of the same row replaced it) or overflow (the "
              "queue was full; the reader got a resync).\n"
              "# TYPE mapigw_events_dropped_total counter\n"
              "mapigw_events_dropped_total{reason=\"coalesced\"} %" PRIu64 "\n"
              "mapigw_events_dropped_total{reason=\"overflow\"} %" PRIu64 "\n",
              st.events_coalesced, st.events_overflowed);
    if (core_store_shared(x->a->core))
        tb_printf(
            &b,
            "# HELP mapigw_store_up Whether the shared session store answered within the "
            "grace.\n"
            "# TYPE mapigw_store_up gauge\n"
            "mapigw_store_up %d\n"
            "# HELP mapigw_store_errors_total Calls to the shared session store that failed.\n"
            "# TYPE mapigw_store_errors_total counter\n"
            "mapigw_store_errors_total %" PRIu64 "\n",
            core_store_ready(x->a->core) ? 1 : 0, core_store_errors(x->a->core));
    tb_printf(&b, "# HELP mapigw_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE mapigw_http_requests_total counter\n");
    api_metrics_foreach(x->a, metric_line, &b);
    latency_metrics(x->a, &b);
    provider_metrics(&b, x->a->core);
    build_metrics(&b, x->a);
    process_metrics(&b);
    if (b.failed || !b.data) {
        free(b.data);
        api_reply_oom(x);
        return;
    }
    /* Copied: a response body comes from jansson's allocator. */
    api_reply_bytes(x, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    free(b.data);
}

void h_openapi(api_ctx *x)
{
    if (!x->a->openapi_yaml) {
        api_problem(x, MAPI_E_NOT_FOUND, 0, "this build carries no OpenAPI document");
        return;
    }
    api_reply_bytes(x, 200, "application/yaml", x->a->openapi_yaml, x->a->openapi_yaml_len);
}
