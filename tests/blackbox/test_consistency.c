/* Black-box: one behaviour across the API and the daemon (issue 14 item 6):
 * Retry-After on every 429 and 503, unknown query parameters refused on
 * every endpoint, a newline after every JSON body, start-up errors as JSON
 * lines under JSON logs, a warning for unknown MAPIGW_* variables, the
 * default profiles file found beside the binary whatever the working folder,
 * and mapigw_build_info with the process_* metrics. */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ADMIN "consistency-admin-key-0123456789abcdef"

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(consistency, .fini = fini_gw, .timeout = 120);

static void expect_retry_after(const gw_resp *r, long status, const char *mapi_error)
{
    gw_assert_problem(r, status, mapi_error);
    const char *ra = gw_header(r, "Retry-After");
    cr_expect(ra && atoi(ra) >= 1, "%ld %s without a Retry-After", status, mapi_error);
}

Test(consistency, retry_after_on_every_429_and_503)
{
    const char *const args[] = {"--max-sessions-per-profile", "1", "--max-sessions", "2", NULL};
    G = gw_start("main.json", args);
    gw_add_secret(G, "alice-pw");
    gw_add_secret(G, "bob-pw");
    gw_add_secret(G, "carol-pw");
    gw_session a, b, c;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    gw_logon(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &b);
    expect_retry_after(&b.resp, 429, "MAPI_E_SESSION_LIMIT");
    gw_session_free(&b);
    gw_logon_ok(G, "bob", "bob-pw", "[\"MAPI_NEW_SESSION\"]", &b);
    gw_logon(G, "carol", "carol-pw", "[\"MAPI_NEW_SESSION\"]", &c);
    expect_retry_after(&c.resp, 503, "MAPI_E_NOT_ENOUGH_RESOURCES");
    gw_session_free(&a);
    gw_session_free(&b);
    gw_session_free(&c);
}

Test(consistency, unknown_query_parameters_are_refused_everywhere)
{
    const char *const args[] = {"--admin-key", ADMIN, NULL};
    G = gw_start("main.json", args);
    gw_add_secret(G, "alice-pw");
    gw_add_secret(G, ADMIN);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200);
    const char *ik = gw_jstr(json_array_get(json_object_get(r.json, "rows"), 0), "instance_key");
    cr_assert_not_null(ik);
    char ikbuf[64];
    snprintf(ikbuf, sizeof ikbuf, "%s", ik);
    gw_resp_free(&r);

    char auth[256], admin[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    snprintf(admin, sizeof admin, "Authorization: Bearer %s", ADMIN);
    char p_session[256], p_row[128], p_method[160];
    snprintf(p_session, sizeof p_session, "/sessions/%s?bogus=1", s.id);
    snprintf(p_row, sizeof p_row, "/status/%s?bogus=1", ikbuf);
    snprintf(p_method, sizeof p_method, "/status/%s/validate-state?bogus=1", ikbuf);
    struct {
        const char *method, *path, *auth, *body;
    } eps[] = {
        {"POST", "/sessions?bogus=1", NULL, "{\"profile\":\"nopw\"}"},
        {"GET", "/sessions?bogus=1", admin, NULL},
        {"GET", p_session, auth, NULL},
        {"DELETE", p_session, auth, NULL},
        {"GET", "/status?bogus=1", auth, NULL},
        {"GET", p_row, auth, NULL},
        {"POST", p_method, auth, NULL},
        {"GET", "/identity?bogus=1", auth, NULL},
        {"GET", "/stores?bogus=1", auth, NULL},
        {"GET", "/addressbook?bogus=1", auth, NULL},
        {"GET", "/events?bogus=1", auth, NULL},
        {"GET", "/healthz?bogus=1", NULL, NULL},
        {"GET", "/readyz?bogus=1", NULL, NULL},
        {"GET", "/metrics?bogus=1", NULL, NULL},
        {"GET", "/openapi.yaml?bogus=1", NULL, NULL},
        {"GET", "/?bogus=1", NULL, NULL},
        {"GET", "/console.js?bogus=1", NULL, NULL},
        {"GET", "/docs?bogus=1", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        const char *const hdr[] = {eps[i].auth, NULL};
        gw_request(G, eps[i].method, eps[i].path, eps[i].auth ? hdr : NULL, eps[i].body, &r);
        if (r.status != 400)
            cr_log_error("%s %s: %ld %s", eps[i].method, eps[i].path, r.status, r.body);
        gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
        const char *detail = gw_jstr(r.json, "detail");
        cr_expect(detail && strstr(detail, "\"bogus\""), "%s %s: detail %s", eps[i].method,
                  eps[i].path, detail ? detail : "(none)");
        gw_resp_free(&r);
    }
    /* The session is still there: DELETE with a bad query did not log off. */
    cr_expect_eq(gw_get(G, "/identity", s.token, &r), 200);
    gw_resp_free(&r);
    /* access_token stays ignored, never an error. */
    cr_expect_eq(gw_get(G, "/healthz?access_token=x", NULL, &r), 200);
    gw_resp_free(&r);
    gw_session_free(&s);
}

static void expect_newline(const char *what, const gw_resp *r)
{
    const char *ct = gw_header(r, "Content-Type");
    cr_assert(ct && strstr(ct, "json"), "%s: Content-Type %s", what, ct ? ct : "(none)");
    cr_expect(r->body_len > 0 && r->body[r->body_len - 1] == '\n',
              "%s: the JSON body does not end with a newline: %s", what, r->body);
    cr_expect_not_null(r->json, "%s: still one JSON value", what);
}

Test(consistency, every_json_body_ends_with_a_newline)
{
    G = gw_start("main.json", NULL);
    gw_add_secret(G, "alice-pw");
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    expect_newline("POST /sessions 201", &s.resp);
    static const char *const PATHS[] = {"/status",  "/identity", "/stores", "/addressbook",
                                        "/healthz", "/readyz",   "/nowhere"};
    for (size_t i = 0; i < sizeof PATHS / sizeof PATHS[0]; i++) {
        gw_resp r;
        gw_get(G, PATHS[i], s.token, &r);
        expect_newline(PATHS[i], &r);
        gw_resp_free(&r);
    }
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", s.id);
    gw_resp r;
    gw_get(G, path, s.token, &r);
    expect_newline("GET /sessions/{id}", &r);
    gw_resp_free(&r);
    gw_post(G, "/sessions", NULL, "{\"profile\":\"alice\",\"password\":\"wrong\"}", &r);
    expect_newline("401 problem", &r);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* Every non-empty line of text parses as a JSON object; the count. */
static size_t json_lines(const char *text, const char *want_msg, bool *found)
{
    size_t n = 0;
    *found = false;
    char *copy = strdup(text);
    cr_assert_not_null(copy);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        cr_expect(j && json_is_object(j), "not a JSON line: %s", line);
        if (j && json_is_string(json_object_get(j, "msg")) &&
            strcmp(json_string_value(json_object_get(j, "msg")), want_msg) == 0 &&
            strcmp(json_string_value(json_object_get(j, "level")), "error") == 0)
            *found = true;
        json_decref(j);
        n++;
    }
    free(copy);
    return n;
}

Test(consistency, startup_errors_are_json_lines_under_json_logs)
{
    const char *const bad_port[] = {"--port", "not-a-port", NULL};
    gw *g = gw_spawn("main.json", bad_port);
    cr_expect_eq(gw_wait_exit(g, 10000), 2);
    char *log = gw_read_log(g);
    bool found = false;
    cr_expect_gt(json_lines(log, "invalid configuration", &found), 0);
    cr_expect(found, "no \"invalid configuration\" error line: %s", log);
    cr_expect(strstr(log, "not-a-port") != NULL, "the line names the value: %s", log);
    free(log);
    gw_free(g);

    const char *const bad_profiles[] = {"--profiles", "/nonexistent/profiles.json", NULL};
    g = gw_spawn("main.json", bad_profiles);
    cr_expect_eq(gw_wait_exit(g, 10000), 2);
    log = gw_read_log(g);
    cr_expect_gt(json_lines(log, "start-up failed", &found), 0);
    cr_expect(found, "no \"start-up failed\" error line: %s", log);
    free(log);
    gw_free(g);
}

Test(consistency, unknown_mapigw_variables_are_warned_about)
{
    setenv("MAPIGW_IDLE_TIMOUT", "5", 1); /* a typo of MAPIGW_IDLE_TIMEOUT */
    G = gw_start("main.json", NULL);
    unsetenv("MAPIGW_IDLE_TIMOUT");
    cr_expect(gw_wait_log(G, "\"detail\":\"MAPIGW_IDLE_TIMOUT\"", 5000),
              "no warning names the unknown variable");
    char *log = gw_read_log(G);
    cr_expect_null(strstr(log, "\"detail\":\"MAPIGW_LOG_FORMAT\""), "a known variable was named");
    free(log);
}

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* The binary started without --profiles, from a folder that holds no
 * server/profiles.default.json, still serves the demo profile: the default
 * is found beside the binary (the build copies it there). */
Test(consistency, default_profiles_are_found_beside_the_binary)
{
    const char *bin = getenv("MAPIGW_BIN");
    cr_assert_not_null(bin);
    char dir[] = "/tmp/mapigw-defprof-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char portfile[128], data[128], logpath[128];
    snprintf(portfile, sizeof portfile, "%s/port", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || chdir(dir) != 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        unsetenv("MAPIGW_PROFILES");
        execl(bin, bin, "--listen", "127.0.0.1", "--port", "0", "--port-file", portfile,
              "--data-dir", data, (char *)NULL);
        _exit(127);
    }
    int port = 0;
    for (int waited = 0; waited < gw_ms(10000) && port == 0; waited += 50) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port == 0)
            gw_sleep_ms(50);
    }
    long code = 0;
    if (port) {
        CURL *c = curl_easy_init();
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/sessions", port);
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"profile\":\"demo\",\"password\":\"demo\"}");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)gw_ms(10000));
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
    }
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "cat %s/log >&2; rm -rf %s", dir, dir);
    if (port == 0 || code != 201)
        cr_log_error("gateway log follows");
    cr_expect_neq(port, 0, "the gateway did not start without --profiles");
    cr_expect_eq(code, 201, "the demo profile was not served");
    if (port == 0 || code != 201)
        (void)system(cmd);
    else {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void)system(cmd);
    }
}

Test(consistency, build_info_and_process_metrics)
{
    G = gw_start("main.json", NULL);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/metrics", NULL, &r), 200);
    static const char *const WANT[] = {
        "# TYPE mapigw_build_info gauge\n",
        "mapigw_build_info{version=\"",
        "# TYPE process_cpu_seconds_total counter\n",
        "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_open_fds gauge\n",
        "# TYPE process_start_time_seconds gauge\n",
    };
    for (size_t i = 0; i < sizeof WANT / sizeof WANT[0]; i++)
        cr_expect(strstr(r.body, WANT[i]) != NULL, "no %s", WANT[i]);
    const char *rss = strstr(r.body, "\nprocess_resident_memory_bytes ");
    cr_expect(rss && strtod(rss + 31, NULL) > 1e6, "resident memory is not plausible");
    const char *start = strstr(r.body, "\nprocess_start_time_seconds ");
    double now = (double)time(NULL);
    double t = start ? strtod(start + 28, NULL) : 0;
    cr_expect(t > now - 3600 && t <= now + 5, "start time %f is not within the last hour", t);
    const char *fds = strstr(r.body, "\nprocess_open_fds ");
    cr_expect(fds && atoi(fds + 18) >= 3, "open fds");
    const char *bi = strstr(r.body, "mapigw_build_info{version=\"");
    cr_expect(bi && strstr(bi, ",commit=\"") && strstr(bi, "\"} 1\n"), "build info labels");
    gw_resp_free(&r);
}
