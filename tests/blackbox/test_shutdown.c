/* Black-box suite "shutdown": SIGTERM while clients hammer the gateway.
 *
 * Client threads send GET /status and POST /sessions; SIGTERM arrives
 * mid-way. Every request that got an answer got a complete, valid one (no
 * truncated JSON, no half response); the gateway exits 0 within a bounded
 * time and its log stays clean. (The plain SIGTERM exit is in ops, the end
 * of open event streams in events.)
 */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(shutdown, .fini = fini_gw, .timeout = 120);

#define MAIL "[\"MAPI_NEW_SESSION\"]"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every log line is a JSON object (a line cut short by a dying process or
 * interleaved writes would not be). */
static void expect_log_lines_json(void)
{
    char *log = gw_read_log(G);
    size_t bad = 0;
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (!json_is_object(j)) {
            if (bad++ < 3)
                cr_log_error("log line is not a JSON object: %.300s", line);
        }
        json_decref(j);
    }
    cr_expect_eq(bad, 0u, "%zu log lines of %s are not JSON objects", bad, gw_log_path(G));
    free(log);
}

#define LOAD_THREADS 8
#define MAX_TOKENS 20000

typedef struct {
    char *data;
    size_t len;
} sbuf;

static size_t sbuf_write(char *p, size_t size, size_t n, void *ud)
{
    sbuf *b = ud;
    size_t k = size * n;
    char *d = realloc(b->data, b->len + k + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, p, k);
    b->len += k;
    d[b->len] = '\0';
    b->data = d;
    return k;
}

static struct {
    pthread_mutex_t lock;
    atomic_bool stop;
    atomic_bool signalled;
    int port;
    char token[200];
    /* outcomes */
    long answered, answered_after_signal, no_answer, bad;
    long dropped_in_flight; /* started before the signal, connected, no answer */
    char first_dropped[256];
    long status_200, logon_201, shutting_down_503;
    char first_bad[1024];
    char *tokens[MAX_TOKENS];
    size_t ntokens;
} L = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void load_bad(const char *what, long code, CURLcode rc, const char *body)
{
    pthread_mutex_lock(&L.lock);
    if (L.bad++ == 0)
        snprintf(L.first_bad, sizeof L.first_bad, "%s: HTTP %ld, curl %d (%s), body %.600s", what,
                 code, (int)rc, curl_easy_strerror(rc), body ? body : "(none)");
    pthread_mutex_unlock(&L.lock);
}

/* Is this a complete, valid answer to the request? Returns a reason when
 * not. */
static const char *judge(bool logon, long code, const char *ctype, json_t *j, size_t *rows)
{
    if (code == 503) {
        /* starting or stopping: a complete problem answer */
        if (!ctype || strncasecmp(ctype, "application/problem+json", 24) != 0)
            return "503 without problem+json";
        if (!json_is_object(j) || !json_is_string(json_object_get(j, "mapi_error")))
            return "503 body is not a problem object";
        return NULL;
    }
    if (!json_is_object(j))
        return "the body is not a complete JSON object";
    if (logon) {
        if (code != 201)
            return "logon not 201";
        const char *t = json_string_value(json_object_get(j, "token"));
        if (!t || strncmp(t, "mgw_", 4) != 0 || !json_is_string(json_object_get(j, "id")))
            return "201 without id and token";
        return NULL;
    }
    if (code != 200)
        return "GET /status not 200";
    json_t *r = json_object_get(j, "rows");
    json_t *n = json_object_get(j, "row_count");
    if (!json_is_array(r) || !json_is_integer(n) ||
        (size_t)json_integer_value(n) != json_array_size(r) || json_array_size(r) == 0)
        return "status table rows/row_count inconsistent";
    *rows = json_array_size(r);
    return NULL;
}

static void *load_thread(void *arg)
{
    long id = (long)(intptr_t)arg;
    CURL *c = curl_easy_init();
    if (!c) {
        load_bad("curl_easy_init", 0, CURLE_FAILED_INIT, NULL);
        return NULL;
    }
    char url_status[128], url_sessions[128], auth[300];
    snprintf(url_status, sizeof url_status, "http://127.0.0.1:%d/status", L.port);
    snprintf(url_sessions, sizeof url_sessions, "http://127.0.0.1:%d/sessions", L.port);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", L.token);
    struct curl_slist *h_status = curl_slist_append(NULL, auth);
    struct curl_slist *h_logon = curl_slist_append(NULL, "Content-Type: application/json");
    static const char LOGON[] =
        "{\"profile\":\"alice\",\"password\":\"alice-pw\",\"flags\":[\"MAPI_NEW_SESSION\"]}";
    size_t expected_rows = 0;
    for (long i = 0; !atomic_load(&L.stop); i++) {
        bool logon = ((i + id) % 3) == 0;
        bool after = atomic_load(&L.signalled);
        sbuf b = {0};
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sbuf_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        if (logon) {
            curl_easy_setopt(c, CURLOPT_URL, url_sessions);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h_logon);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, LOGON);
        } else {
            curl_easy_setopt(c, CURLOPT_URL, url_status);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h_status);
        }
        CURLcode rc = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        const char *what = logon ? "POST /sessions" : "GET /status";
        if (rc != CURLE_OK) {
            if (code != 0) {
                /* a status line arrived, then the answer broke off */
                load_bad(what, code, rc, b.data);
            } else {
                pthread_mutex_lock(&L.lock);
                L.no_answer++;
                if (!after && rc != CURLE_COULDNT_CONNECT && rc != CURLE_OPERATION_TIMEDOUT &&
                    L.dropped_in_flight++ == 0)
                    snprintf(L.first_dropped, sizeof L.first_dropped, "%s: curl %d (%s)", what,
                             (int)rc, curl_easy_strerror(rc));
                pthread_mutex_unlock(&L.lock);
                if (atomic_load(&L.signalled))
                    gw_sleep_ms(5); /* refused while stopping: do not spin */
            }
            free(b.data);
            continue;
        }
        char *ctype = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
        json_error_t err;
        json_t *j = b.data ? json_loadb(b.data, b.len, 0, &err) : NULL;
        size_t rows = 0;
        const char *why = judge(logon, code, ctype, j, &rows);
        if (!why && !logon && code == 200) {
            if (expected_rows == 0)
                expected_rows = rows;
            else if (rows != expected_rows)
                why = "the status table changed its number of rows";
        }
        if (why) {
            char w[256];
            snprintf(w, sizeof w, "%s: %s", what, why);
            load_bad(w, code, rc, b.data);
        } else {
            pthread_mutex_lock(&L.lock);
            L.answered++;
            if (after)
                L.answered_after_signal++;
            if (code == 200)
                L.status_200++;
            else if (code == 201) {
                L.logon_201++;
                if (L.ntokens < MAX_TOKENS)
                    L.tokens[L.ntokens++] = strdup(json_string_value(json_object_get(j, "token")));
            } else
                L.shutting_down_503++;
            pthread_mutex_unlock(&L.lock);
        }
        json_decref(j);
        free(b.data);
    }
    curl_slist_free_all(h_status);
    curl_slist_free_all(h_logon);
    curl_easy_cleanup(c);
    return NULL;
}

Test(shutdown, sigterm_under_load_answers_completely_and_exits_zero)
{
    const char *args[] = {"--max-sessions",
                          "1000000",
                          "--max-sessions-per-profile",
                          "1000000",
                          "--threads",
                          "4",
                          "--max-connections-per-ip",
                          "0",
                          NULL};
    G = gw_start("main.json", args);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    L.port = gw_port(G);
    snprintf(L.token, sizeof L.token, "%s", s.token);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t th[LOAD_THREADS];
    for (long i = 0; i < LOAD_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, load_thread, (void *)(intptr_t)i), 0);

    /* under load: wait for a good number of answers (bounded) */
    long long start = now_ms(), deadline = start + gw_ms(10000);
    long answered = 0;
    while (now_ms() < deadline) {
        pthread_mutex_lock(&L.lock);
        answered = L.answered;
        pthread_mutex_unlock(&L.lock);
        if (answered >= 300 && now_ms() - start >= 500)
            break;
        gw_sleep_ms(10);
    }
    atomic_store(&L.signalled, true);
    long long t0 = now_ms();
    cr_assert_eq(kill(gw_pid(G), SIGTERM), 0);
    int st = gw_wait_exit(G, 15000);
    long long took = now_ms() - t0;
    atomic_store(&L.stop, true);
    for (int i = 0; i < LOAD_THREADS; i++)
        pthread_join(th[i], NULL);

    for (size_t i = 0; i < L.ntokens; i++) {
        gw_add_secret(G, L.tokens[i]);
        free(L.tokens[i]);
    }
    cr_log_info("SIGTERM under load: %ld complete answers (%ld status, %ld logons, %ld 503; %ld "
                "to requests sent after the signal), %ld requests without an answer (%ld of "
                "them sent before the signal: %s), %ld bad; exit %d after %lld ms",
                L.answered, L.status_200, L.logon_201, L.shutting_down_503, L.answered_after_signal,
                L.no_answer, L.dropped_in_flight, L.first_dropped, L.bad, st, took);
    cr_expect_geq(answered, 300, "only %ld answers in 10 s before the signal", answered);
    cr_expect_gt(L.status_200, 0);
    cr_expect_gt(L.logon_201, 0);
    cr_expect_eq(L.bad, 0, "%ld answers were cut short or invalid; first: %s", L.bad, L.first_bad);
    /* in flight when the signal came: answered, not dropped */
    cr_expect_eq(L.dropped_in_flight, 0,
                 "%ld requests sent before SIGTERM got no answer at all; first: %s",
                 L.dropped_in_flight, L.first_dropped);
    cr_assert_neq(st, -1, "the gateway still runs %lld ms after SIGTERM under load", took);
    cr_expect_eq(st, 0, "exit status %d after SIGTERM under load", st);
    cr_expect_lt(took, gw_ms(12000), "the stop took %lld ms", took);
    cr_expect(gw_wait_log(G, "\"stopped\"", 100), "no \"stopped\" line in the log");
    expect_log_lines_json();
    gw_session_free(&s);
    /* fini: gw_finish (status 0 again, secrets) */
}
