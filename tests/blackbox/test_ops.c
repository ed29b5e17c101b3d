/* Black-box: operations endpoints, start-up, signals and logs
 * (docs/contract/http.md section 8). The command line: test_config.c. */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(ops, .fini = fini_gw, .timeout = 90);

Test(ops, healthz)
{
    G = gw_start("main.json", NULL);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/healthz", NULL, &r), 200, "%s", r.body);
    cr_assert(json_is_object(r.json), "healthz not JSON: %s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "status"), "ok");
    const char *v = gw_jstr(r.json, "version");
    cr_expect(v && *v, "no version");
    gw_assert_no_store(&r);
    gw_resp_free(&r);
}

/* Access lines are batched (server/log.c): they must still reach the log
 * while the gateway runs, within a fraction of a second, not at shutdown. */
Test(ops, access_lines_reach_the_log_while_running)
{
    G = gw_start("main.json", NULL);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/healthz", NULL, &r), 200, "%s", r.body);
    gw_resp_free(&r);
    /* No event line follows to flush the batch: only the flusher can. */
    cr_expect(gw_wait_log(G, "\"path\":\"/healthz\"", 2000),
              "no access line for GET /healthz within 2 s of the request");
}

Test(ops, readyz)
{
    G = gw_start("main.json", NULL);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/readyz", NULL, &r), 200, "%s", r.body);
    cr_assert(json_is_object(r.json), "readyz not JSON: %s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "status"), "ready");
    json_t *p = json_object_get(r.json, "profiles");
    cr_expect(json_is_integer(p) && json_integer_value(p) == 10, "profiles: %s", r.body);
    gw_resp_free(&r);
}

Test(ops, metrics)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/metrics", NULL, &r), 200, "%s", r.body);
    const char *ct = gw_header(&r, "Content-Type");
    cr_expect(ct && strncmp(ct, "text/plain", 10) == 0, "metrics Content-Type %s", ct);
    cr_expect(strstr(r.body, "mapigw_sessions") != NULL, "no mapigw_sessions in %s", r.body);
    cr_expect(strstr(r.body, s.token + 4) == NULL, "metrics show a token");
    cr_expect(strstr(r.body, "alice-pw") == NULL, "metrics show a password");
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(ops, openapi)
{
    G = gw_start("main.json", NULL);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/openapi.yaml", NULL, &r), 200, "%s", r.body);
    cr_expect(strncmp(r.body, "openapi:", 8) == 0, "document starts with %.20s", r.body);
    const char *ct = gw_header(&r, "Content-Type");
    cr_expect(ct && strstr(ct, "yaml"), "Content-Type %s", ct ? ct : "(none)");
    gw_resp_free(&r);
}

Test(ops, invalid_profiles_refused)
{
    G = gw_spawn("invalid.json", NULL);
    int st = gw_wait_exit(G, 10000);
    cr_assert_neq(st, -1, "the gateway kept running on an invalid profiles file");
    cr_expect_neq(st, 0, "exit status 0 on an invalid profiles file");
    cr_expect(st < 128, "killed by signal %d instead of exiting", st - 128);
    char *log = gw_read_log(G);
    cr_expect(strstr(log, "invalid.json") != NULL, "the message does not name the file:\n%s", log);
    cr_expect(strstr(log, "typo-profile") != NULL, "the message does not name the profile:\n%s",
              log);
    cr_expect(strstr(log, "kind") != NULL, "the message does not name the field:\n%s", log);
    cr_expect(strstr(log, "foo") != NULL, "the message does not name the bad value:\n%s", log);
    free(log);
    gw_free(G); /* exited non-zero on purpose */
    G = NULL;
}

Test(ops, unparsable_profiles_refused)
{
    char dir[] = "/tmp/mapigw-bb-src-XXXXXX";
    cr_assert(mkdtemp(dir) != NULL);
    char file[128];
    snprintf(file, sizeof file, "%s/broken-syntax.json", dir);
    gw_write_file(file, "{\"profiles\": [ {\"name\": \"x\", ");
    G = gw_spawn(file, NULL);
    gw_rmrf(dir);
    int st = gw_wait_exit(G, 10000);
    cr_assert_neq(st, -1, "the gateway kept running on an unparsable profiles file");
    cr_expect_neq(st, 0, "exit status 0 on an unparsable profiles file");
    char *log = gw_read_log(G);
    cr_expect(strstr(log, "broken-syntax.json") != NULL, "the message does not name the file:\n%s",
              log);
    free(log);
    gw_free(G);
    G = NULL;
}

static void logon_poll(const char *profile, long want, int timeout_ms)
{
    long st = 0;
    for (int waited = 0; waited <= gw_ms(timeout_ms); waited += 50) {
        gw_session s;
        st = gw_logon(G, profile, NULL, "[\"MAPI_NEW_SESSION\"]", &s);
        gw_session_free(&s);
        if (st == want)
            return;
        gw_sleep_ms(50);
    }
    cr_expect_eq(st, want, "logon %s after SIGHUP: %ld", profile, st);
}

Test(ops, sighup_invalid_keeps_old_profiles)
{
    G = gw_start("main.json", NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    gw_copy_profiles("reload-invalid.json", gw_profiles_path(G));
    cr_assert_eq(kill(gw_pid(G), SIGHUP), 0);
    /* the rejected reload is logged, naming the profile and field */
    bool logged = gw_wait_log(G, "alice2", 5000);
    cr_expect(logged, "no log line names the bad profile \"alice2\" after SIGHUP");
    if (logged)
        cr_expect(gw_wait_log(G, "colour", 100), "the reload error does not name the field");
    gw_resp r;
    cr_expect_eq(gw_get(G, "/readyz", NULL, &r), 200, "not ready after a failed reload");
    gw_resp_free(&r);
    /* old profiles still served: alice exists, alice2 does not */
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &b);
    gw_session c;
    gw_logon(G, "alice2", NULL, "[\"MAPI_NEW_SESSION\"]", &c);
    gw_assert_problem(&c.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&c);
    cr_expect_eq(gw_get(G, "/status", a.token, &r), 200, "session lost over a failed reload");
    gw_resp_free(&r);
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(ops, sighup_valid_reloads)
{
    G = gw_start("main.json", NULL);
    gw_session a, n;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    gw_logon(G, "newbie", NULL, "[\"MAPI_NEW_SESSION\"]", &n);
    cr_expect_eq(n.status, 401, "newbie exists before the reload");
    gw_session_free(&n);
    gw_copy_profiles("reload-valid.json", gw_profiles_path(G));
    cr_assert_eq(kill(gw_pid(G), SIGHUP), 0);
    logon_poll("newbie", 201, 5000);
    gw_resp r;
    cr_expect_eq(gw_get(G, "/status", a.token, &r), 200, "session lost over a reload");
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, "/readyz", NULL, &r), 200);
    json_t *p = r.json ? json_object_get(r.json, "profiles") : NULL;
    cr_expect(json_is_integer(p) && json_integer_value(p) == 11, "profiles after reload: %s",
              r.body);
    gw_resp_free(&r);
    gw_session_free(&a);
}

Test(ops, sigterm_exits_zero_and_logs_json)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_resp r;
    gw_get(G, "/healthz", NULL, &r);
    gw_resp_free(&r);
    gw_get(G, "/status", s.token, &r);
    gw_resp_free(&r);
    gw_session_free(&s);
    gw_logon(G, "alice", "wrong-pw-ops", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_session_free(&s);
    int st = gw_stop(G);
    cr_expect_eq(st, 0, "exit status %d after SIGTERM", st);
    char *log = gw_read_log(G);
    cr_expect(strlen(log) > 0, "empty log");
    size_t lines = 0, json_lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!*line)
            continue;
        lines++;
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (json_is_object(j))
            json_lines++;
        else
            cr_log_error("log line is not a JSON object: %s", line);
        json_decref(j);
    }
    cr_expect(json_lines > 0, "no JSON log line");
    cr_expect_eq(json_lines, lines, "%zu of %zu log lines are not JSON objects", lines - json_lines,
                 lines);
    free(log);
    log = gw_read_log(G);
    cr_expect(strstr(log, "/status") != NULL, "the access log does not show GET /status");
    free(log);
    /* gw_finish in fini: already stopped, checks status 0 and secrets */
}

Test(ops, no_secret_in_log)
{
    G = gw_start("main.json", NULL);
    gw_session a, b, w;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[]", &b);
    gw_logon(G, "alice", "wrong-pw-secret-3", "[\"MAPI_NEW_SESSION\"]", &w);
    gw_session_free(&w);
    gw_logon(G, "nosuch", "unknown-profile-pw-4", "[\"MAPI_NEW_SESSION\"]", &w);
    gw_session_free(&w);
    gw_resp r;
    gw_get(G, "/status", a.token, &r);
    gw_resp_free(&r);
    gw_get(G, "/identity", b.token, &r);
    gw_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/status?access_token=%s", a.token);
    gw_get(G, path, NULL, &r);
    gw_resp_free(&r);
    /* a client that puts its token in the path must not get it logged */
    snprintf(path, sizeof path, "/sessions/%s", a.token);
    gw_get(G, path, a.token, &r);
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/status/%s", b.token);
    gw_get(G, path, b.token, &r);
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/nowhere/%s", a.token);
    gw_get(G, path, NULL, &r);
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/sessions/%s", b.id);
    gw_delete(G, path, b.token, &r);
    gw_resp_free(&r);
    gw_get(G, "/status", b.token, &r); /* a dead token */
    gw_resp_free(&r);
    int st = gw_stop(G);
    cr_expect_eq(st, 0);
    gw_check_log_secrets(G); /* tokens, passwords; again in fini */
    gw_session_free(&a);
    gw_session_free(&b);
}

/* --log-output stdout: each line on stdout one JSON object (split on
 * newlines only, so two lines run together fail to parse), nothing on
 * stderr. Returns the number of access lines for method + path with status. */
static size_t count_access_lines(const char *out, const char *method, const char *path, long status,
                                 size_t *lines_out)
{
    char *copy = strdup(out);
    cr_assert_not_null(copy);
    size_t lines = 0, hits = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lines++;
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        cr_expect(json_is_object(j), "stdout line %zu is not one JSON object (%s): %.200s", lines,
                  err.text, line);
        const char *msg = gw_jstr(j, "msg"), *m = gw_jstr(j, "method"), *p = gw_jstr(j, "path");
        json_t *st = json_object_get(j, "status");
        if (msg && strcmp(msg, "request") == 0 && m && strcmp(m, method) == 0 && p &&
            strcmp(p, path) == 0 && json_is_integer(st) && json_integer_value(st) == status)
            hits++;
        json_decref(j);
    }
    free(copy);
    if (lines_out)
        *lines_out = lines;
    return hits;
}

#define LOG_THREADS 4
#define LOG_REQUESTS 25

static char long_path[1024];

static void *get_long_path(void *arg)
{
    gw *g = arg;
    for (int i = 0; i < LOG_REQUESTS; i++) {
        gw_resp r;
        gw_get(g, long_path, NULL, &r);
        gw_resp_free(&r);
    }
    return NULL;
}

Test(ops, log_output_stdout_json_lines)
{
    const char *args[] = {"--log-output", "stdout", NULL};
    G = gw_start_split("main.json", args);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_resp r;
    cr_expect_eq(gw_get(G, "/status", s.token, &r), 200, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
    /* Lines of about 1 KiB from several connections at once stay whole. */
    memset(long_path, 'x', sizeof long_path - 1);
    memcpy(long_path, "/nowhere/", 9);
    long_path[900] = '\0';
    pthread_t th[LOG_THREADS];
    for (int i = 0; i < LOG_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, get_long_path, G), 0);
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(gw_stop(G), 0);

    char *out = gw_read_stdout(G);
    char *errs = gw_read_log(G);
    cr_expect_str_eq(errs, "", "stderr is not empty with --log-output stdout:\n%.2000s", errs);
    size_t lines = 0;
    cr_expect_eq(count_access_lines(out, "GET", "/status", 200, &lines), 1,
                 "no access line for GET /status 200 on stdout:\n%.3000s", out);
    cr_expect_eq(count_access_lines(out, "POST", "/sessions", 201, NULL), 1);
    cr_expect_eq(count_access_lines(out, "GET", long_path, 404, NULL), LOG_THREADS * LOG_REQUESTS);
    cr_expect(strstr(out, "\"msg\":\"listening\"") && strstr(out, "\"msg\":\"stopped\""),
              "no start or stop event on stdout");
    cr_log_info("%zu lines on stdout", lines);
    free(out);
    free(errs);
    /* gw_finish in fini: exit status 0, secrets in stderr and stdout */
}

Test(ops, data_dir_created_private)
{
    G = gw_start("main.json", NULL);
    cr_expect_eq(gw_count_dir(gw_data_dir(G)) >= 0, 1, "data dir %s not created", gw_data_dir(G));
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    char *md = gw_data_path(G, "alice/Maildir/cur");
    cr_expect(gw_count_dir(md) >= 0, "relative provider path not resolved against --data-dir");
    char *ab = gw_data_path(G, "alice/contacts.json");
    FILE *f = fopen(ab, "rb");
    cr_expect(f != NULL, "abfile with create:true did not write %s", ab);
    if (f)
        fclose(f);
    free(md);
    free(ab);
    gw_session_free(&s);
}
