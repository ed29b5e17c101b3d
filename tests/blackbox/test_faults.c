/* Black-box: faults (issue 4, "Faults").
 *
 * - SIGTERM under load: client threads hammer GET /status and POST /sessions;
 *   SIGTERM arrives mid-way. Every request that got an answer got a complete,
 *   valid one (no truncated JSON, no half response); the gateway exits 0
 *   within a bounded time and its log stays clean.
 * - A profiles file that becomes invalid (unparsable, empty, unknown key,
 *   gone), then SIGHUP: each reload is refused with a log line naming the
 *   problem, the old profiles keep serving (new logons work, sessions live);
 *   a later valid file and SIGHUP is taken.
 * - Full disk: the gateway runs under `prlimit --fsize=N` (RLIMIT_FSIZE, the
 *   way a full file system looks to a writer: EFBIG, plus SIGXFSZ) and a
 *   spool transport holds a message larger than N: the flush answers an
 *   error, the message is still queued byte for byte, nothing half-written is
 *   visible in the Maildir's new/, and the gateway lives on.
 * - An unwritable deliver_to (the Maildir's tmp/ replaced by a regular file):
 *   the flush answers an error and loses nothing; once tmp/ is back the next
 *   flush delivers each message exactly once.
 */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static gw *G;

static void fini_gw(void)
{
    unsetenv("MAPIGW_BIN_WRAPPER");
    gw_finish(G);
    G = NULL;
}

TestSuite(faults, .fini = fini_gw, .timeout = 120);

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

/* ------------------------------------------------------- SIGTERM under load */

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

Test(faults, sigterm_under_load_answers_completely_and_exits_zero)
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

/* -------------------------------------------------- invalid profiles reload */

/* Log lines whose msg starts with prefix; the last one's "detail" (or the
 * whole line) is copied to last. */
static size_t count_log_msgs(const char *prefix, char *last, size_t lastlen)
{
    char *log = gw_read_log(G);
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        const char *msg = json_string_value(json_object_get(j, "msg"));
        if (msg && strncmp(msg, prefix, strlen(prefix)) == 0) {
            n++;
            if (last) {
                const char *d = json_string_value(json_object_get(j, "detail"));
                snprintf(last, lastlen, "%s", d ? d : line);
            }
        }
        json_decref(j);
    }
    free(log);
    return n;
}

/* Sends SIGHUP and waits (bounded) for one more log line starting with
 * prefix; returns its detail in detail. */
static bool sighup_and_wait(const char *prefix, char *detail, size_t len)
{
    size_t before = count_log_msgs(prefix, NULL, 0);
    cr_assert_eq(kill(gw_pid(G), SIGHUP), 0);
    for (long long end = now_ms() + gw_ms(5000); now_ms() < end; gw_sleep_ms(20))
        if (count_log_msgs(prefix, detail, len) > before)
            return true;
    return false;
}

static void expect_old_profiles_serve(const gw_session *a, const char *case_name)
{
    gw_session n;
    long st = gw_logon(G, "alice", "alice-pw", MAIL, &n);
    cr_expect_eq(st, 201, "%s: a new logon to a loaded profile after the refused reload: %ld %s",
                 case_name, st, n.resp.body);
    gw_session_free(&n);
    gw_resp r;
    cr_expect_eq(gw_get(G, "/status", a->token, &r), 200, "%s: the live session: %ld", case_name,
                 r.status);
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, "/readyz", NULL, &r), 200, "%s: not ready", case_name);
    json_t *p = r.json ? json_object_get(r.json, "profiles") : NULL;
    cr_expect(json_is_integer(p) && json_integer_value(p) == 10, "%s: /readyz %s", case_name,
              r.body);
    gw_resp_free(&r);
    /* the refused file's profile does not exist (401; 429 once the failed
     * logons of the earlier cases throttle the name) */
    st = gw_logon(G, "zed", NULL, MAIL, &n);
    cr_expect(st == 401 || st == 429, "%s: a profile of the refused file: %ld %s", case_name, st,
              n.resp.body);
    gw_session_free(&n);
}

Test(faults, profiles_file_turned_invalid_is_refused_on_sighup)
{
    G = gw_start("main.json", NULL);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    const char *path = gw_profiles_path(G);
    const char *base = strrchr(path, '/') + 1;
    char *good = NULL;
    {
        FILE *f = fopen(path, "rb");
        cr_assert(f);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        good = calloc(1, (size_t)n + 1);
        cr_assert(good && fread(good, 1, (size_t)n, f) == (size_t)n);
        fclose(f);
    }
    /* each case: what the file becomes, and a word the log line must hold */
    char truncated[512];
    snprintf(truncated, sizeof truncated, "%.200s", good);
    const struct {
        const char *name, *content, *must_name;
    } cases[] = {
        {"cut short", truncated, base},
        {"empty", "", base},
        {"an unknown key",
         "{\"profiles\":[{\"name\":\"zed\",\"auth\":{\"type\":\"none\"},\"colourz\":1,"
         "\"services\":[]}]}",
         "colourz"},
        {"a bad provider kind",
         "{\"profiles\":[{\"name\":\"zed\",\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":"
         "\"s\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"floppy\","
         "\"display_name\":\"d\",\"settings\":{\"path\":\"p\"}}]}]}]}",
         "floppy"},
        {"not an object", "[1,2,3]", base},
        {"gone", NULL, base},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].content)
            gw_write_file(path, cases[i].content);
        else
            cr_assert_eq(unlink(path), 0);
        char detail[2048] = "";
        bool refused = sighup_and_wait("profiles reload failed", detail, sizeof detail);
        cr_expect(refused, "%s: no \"profiles reload failed\" log line after SIGHUP",
                  cases[i].name);
        if (refused)
            cr_expect(strstr(detail, cases[i].must_name) != NULL,
                      "%s: the refusal does not name \"%s\": %s", cases[i].name, cases[i].must_name,
                      detail);
        cr_expect_eq(count_log_msgs("profiles reloaded", NULL, 0), 0u, "%s: a reload was taken",
                     cases[i].name);
        expect_old_profiles_serve(&a, cases[i].name);
    }
    /* the gateway is still the same process, still serving */
    cr_assert_eq(gw_wait_exit(G, 0), -1, "the gateway exited over a bad reload");

    /* a valid file again, now with one more profile: taken */
    gw_copy_profiles("reload-valid.json", path);
    char detail[512];
    cr_expect(sighup_and_wait("profiles reloaded", detail, sizeof detail),
              "the valid file was not reloaded");
    gw_session n;
    cr_expect_eq(gw_logon(G, "newbie", NULL, MAIL, &n), 201, "the new profile: %s", n.resp.body);
    gw_session_free(&n);
    gw_resp r;
    cr_expect_eq(gw_get(G, "/status", a.token, &r), 200, "the session did not survive");
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, "/readyz", NULL, &r), 200);
    json_t *p = r.json ? json_object_get(r.json, "profiles") : NULL;
    cr_expect(json_is_integer(p) && json_integer_value(p) == 11, "after the reload: %s", r.body);
    gw_resp_free(&r);
    free(good);
    gw_session_free(&a);
}

/* ------------------------------------------------------- spool flush faults */

#define ROW "Fault Outbox"

/* A gateway whose profile "spool" has a Maildir store and a spool transport
 * delivering into it, under the data dir. */
static void start_spool(void)
{
    char dir[] = "/tmp/mapigw-bb-faults-XXXXXX";
    cr_assert(mkdtemp(dir) != NULL);
    char file[128];
    snprintf(file, sizeof file, "%s/spool-profiles.json", dir);
    gw_write_file(file,
                  "{\"default_profile\":\"spool\",\"profiles\":[{\"name\":\"spool\","
                  "\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"Local\",\"providers\":["
                  "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":"
                  "\"Fault Mailbox\",\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],"
                  "\"settings\":{\"path\":\"spool/Maildir\",\"create\":true}},"
                  "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"" ROW
                  "\",\"settings\":{\"path\":\"spool/queue\",\"deliver_to\":\"spool/Maildir\","
                  "\"create\":true}}]}]}]}");
    G = gw_start(file, NULL);
    gw_rmrf(dir);
}

/* Queues a message the way a client of the folder does: under a dot name,
 * then renamed. */
static void queue_message(const char *name, const char *text, size_t len)
{
    char *tmp = gw_data_path(G, "spool/queue/.%s.tmp", name);
    char *final = gw_data_path(G, "spool/queue/%s", name);
    FILE *f = fopen(tmp, "wb");
    cr_assert(f, "%s: %s", tmp, strerror(errno));
    cr_assert_eq(fwrite(text, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, final), 0);
    free(tmp);
    free(final);
}

/* A message of about len bytes (headers, then lines of text). */
static char *make_message(const char *subject, size_t len, size_t *out_len)
{
    char *m = malloc(len + 512);
    cr_assert(m);
    int n = snprintf(
        m, 512, "From: spool@example.invalid\r\nTo: bob@example.invalid\r\nSubject: %s\r\n\r\n",
        subject);
    size_t l = (size_t)n;
    while (l + 80 < len) {
        for (size_t i = 0; i < 76; i++, l++)
            m[l] = (char)('a' + (int)((l * 7 + i) % 26));
        m[l++] = '\r';
        m[l++] = '\n';
    }
    m[l] = '\0';
    *out_len = l;
    return m;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)(n > 0 ? n : 0) + 1);
    cr_assert(d);
    size_t got = fread(d, 1, (size_t)(n > 0 ? n : 0), f);
    fclose(f);
    d[got] = '\0';
    *len = got;
    return d;
}

typedef struct {
    const char *name;
    char *text;
    size_t len;
} qmsg;

/* Where each message is now: in the queue (byte-identical), delivered into
 * new/ (byte-identical), both or neither; anything else in new/ or tmp/ is
 * a half-written file. Sets queued[i] and delivered[i] (counts). */
static void locate(const qmsg *m, size_t nm, int *queued, int *delivered)
{
    char *qdir = gw_data_path(G, "spool/queue");
    char *ndir = gw_data_path(G, "spool/Maildir/new");
    char *tdir = gw_data_path(G, "spool/Maildir/tmp");
    for (size_t i = 0; i < nm; i++) {
        queued[i] = delivered[i] = 0;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", qdir, m[i].name);
        size_t l;
        char *d = read_file(p, &l);
        if (d) {
            cr_expect(l == m[i].len && memcmp(d, m[i].text, l) == 0,
                      "queued message %s changed: %zu bytes, was %zu", m[i].name, l, m[i].len);
            queued[i] = 1;
            free(d);
        }
    }
    DIR *dd = opendir(ndir);
    cr_assert(dd, "cannot open %s", ndir);
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", ndir, e->d_name);
        size_t l;
        char *d = read_file(p, &l);
        cr_assert(d);
        bool known = false;
        /* the delivered copy holds the message's bytes (a delivery may add
         * trace headers in front: look for the original at the end) */
        for (size_t i = 0; i < nm && !known; i++) {
            if (l >= m[i].len && memcmp(d + l - m[i].len, m[i].text, m[i].len) == 0) {
                delivered[i]++;
                known = true;
            }
        }
        cr_expect(known, "new/%s (%zu bytes) is not a complete queued message: half-written?",
                  e->d_name, l);
        free(d);
    }
    closedir(dd);
    struct stat sb;
    if (stat(tdir, &sb) == 0 && S_ISDIR(sb.st_mode))
        cr_expect_eq(gw_count_dir(tdir), 0, "the failed delivery left files in tmp/");
    free(qdir);
    free(ndir);
    free(tdir);
}

/* POST flush-queues (upload) on the transport row; returns the status, r
 * holds the answer. */
static long flush(const char *token, gw_resp *r)
{
    gw_resp t;
    cr_assert_eq(gw_get(G, "/status", token, &t), 200, "%s", t.body);
    json_t *row = gw_find_row(t.json, ROW);
    cr_assert(row, "no row %s: %s", ROW, t.body);
    char path[128];
    snprintf(path, sizeof path, "/status/%s/flush-queues", gw_jstr(row, "instance_key"));
    gw_resp_free(&t);
    return gw_post(G, path, token, "{\"flags\":[\"FLUSH_UPLOAD\"]}", r);
}

/* The flush failed with a complete problem answer. */
static void expect_flush_error(const gw_resp *r, const char *what)
{
    cr_assert(r->status >= 400, "%s: the flush answered %ld: %s", what, r->status, r->body);
    const char *me = r->json ? gw_jstr(r->json, "mapi_error") : NULL;
    cr_assert(me && strncmp(me, "MAPI_E_", 7) == 0, "%s: no MAPI error in %s", what, r->body);
    gw_assert_problem(r, r->status, me);
}

static void expect_transport_failure(const char *token)
{
    gw_resp t;
    cr_assert_eq(gw_get(G, "/status", token, &t), 200);
    json_t *row = gw_find_row(t.json, ROW);
    cr_assert(row);
    cr_expect(gw_jvalue(json_object_get(row, "status_code")) & 0x4u,
              "the transport row does not show STATUS_FAILURE after a failed flush: %s", t.body);
    gw_resp_free(&t);
}

#define FSIZE_LIMIT 65536

Test(faults, full_disk_fails_the_flush_and_keeps_the_message)
{
    cr_assert_eq(access("/usr/bin/prlimit", X_OK), 0, "/usr/bin/prlimit is needed");
    char wrapper[64];
    snprintf(wrapper, sizeof wrapper, "/usr/bin/prlimit --fsize=%d --", FSIZE_LIMIT);
    setenv("MAPIGW_BIN_WRAPPER", wrapper, 1);
    start_spool();
    unsetenv("MAPIGW_BIN_WRAPPER");
    gw_session s;
    gw_logon_ok(G, "spool", NULL, MAIL, &s);

    qmsg m[2] = {{"1-large.eml", NULL, 0}, {"2-small.eml", NULL, 0}};
    m[0].text = make_message("larger than the file size limit", 4 * FSIZE_LIMIT, &m[0].len);
    m[1].text = make_message("small", 600, &m[1].len);
    cr_assert_gt(m[0].len, (size_t)FSIZE_LIMIT);
    queue_message(m[0].name, m[0].text, m[0].len);
    queue_message(m[1].name, m[1].text, m[1].len);

    gw_resp r;
    flush(s.token, &r);
    int st = gw_wait_exit(G, 200);
    cr_assert_eq(st, -1,
                 "the gateway died during a flush onto a full disk: exit status %d%s (log %s)", st,
                 st == 128 + SIGXFSZ ? " = SIGXFSZ (not ignored)" : "", gw_log_path(G));
    expect_flush_error(&r, "a flush onto a full disk");
    gw_resp_free(&r);

    int queued[2], delivered[2];
    locate(m, 2, queued, delivered);
    cr_expect_eq(queued[0], 1, "the large message is no longer queued");
    cr_expect_eq(delivered[0], 0, "the large message was delivered in spite of the limit");
    /* the small one fits: delivered or still queued, exactly once */
    cr_expect_eq(queued[1] + delivered[1], 1, "the small message: %d queued, %d delivered",
                 queued[1], delivered[1]);
    expect_transport_failure(s.token);

    /* the gateway lives on */
    cr_expect_eq(gw_get(G, "/healthz", NULL, &r), 200);
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, "/status", s.token, &r), 200);
    gw_resp_free(&r);
    /* a second attempt fails the same way and still loses nothing */
    flush(s.token, &r);
    cr_assert_eq(gw_wait_exit(G, 200), -1, "the gateway died on the second flush");
    expect_flush_error(&r, "a second flush onto a full disk");
    gw_resp_free(&r);
    locate(m, 2, queued, delivered);
    cr_expect_eq(queued[0], 1, "the large message is no longer queued after a second flush");
    cr_expect_eq(queued[1] + delivered[1], 1);
    free(m[0].text);
    free(m[1].text);
    gw_session_free(&s);
}

Test(faults, unwritable_deliver_to_fails_the_flush_and_loses_nothing)
{
    start_spool();
    gw_session s;
    gw_logon_ok(G, "spool", NULL, MAIL, &s);
    qmsg m[2] = {{"a.eml", NULL, 0}, {"b.eml", NULL, 0}};
    m[0].text = make_message("first", 3000, &m[0].len);
    m[1].text = make_message("second", 700, &m[1].len);
    queue_message(m[0].name, m[0].text, m[0].len);
    queue_message(m[1].name, m[1].text, m[1].len);

    /* tmp/ becomes a regular file: nothing can be written there (also as
     * root, unlike a chmod) */
    char *tmp = gw_data_path(G, "spool/Maildir/tmp");
    cr_assert_eq(gw_rmrf(tmp), 0);
    gw_write_file(tmp, "not a folder\n");

    gw_resp r;
    flush(s.token, &r);
    expect_flush_error(&r, "a flush into an unwritable Maildir");
    gw_resp_free(&r);
    int queued[2], delivered[2];
    locate(m, 2, queued, delivered);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(queued[i], 1, "%s is no longer queued", m[i].name);
        cr_expect_eq(delivered[i], 0, "%s was delivered without tmp/", m[i].name);
    }
    expect_transport_failure(s.token);

    /* tmp/ back: the next flush delivers each message exactly once */
    cr_assert_eq(unlink(tmp), 0);
    cr_assert_eq(mkdir(tmp, 0700), 0);
    cr_expect_eq(flush(s.token, &r), 200, "the flush after the repair: %s", r.body);
    gw_resp_free(&r);
    locate(m, 2, queued, delivered);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(queued[i], 0, "%s still queued after a good flush", m[i].name);
        cr_expect_eq(delivered[i], 1, "%s delivered %d times", m[i].name, delivered[i]);
    }
    free(tmp);
    free(m[0].text);
    free(m[1].text);
    gw_session_free(&s);
}
