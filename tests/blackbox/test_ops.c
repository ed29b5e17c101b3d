/* Black-box: operations endpoints, start-up, signals, configuration and
 * logs (api.md "Operations", "Configuration"; DECISIONS.md command line). */
#include "../support/gw.h"

#include <criterion/criterion.h>
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
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
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

Test(ops, env_twins_and_flag_precedence)
{
    setenv("MAPIGW_IDLE_TIMEOUT", "77", 1);
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    json_t *idle = json_object_get(s.resp.json, "idle_timeout_s");
    cr_expect(json_is_integer(idle) && json_integer_value(idle) == 77, "env twin ignored: %s",
              s.resp.body);
    gw_session_free(&s);
    gw_finish(G);
    const char *args[] = {"--idle-timeout", "99", NULL};
    G = gw_start("main.json", args);
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    idle = json_object_get(s.resp.json, "idle_timeout_s");
    cr_expect(json_is_integer(idle) && json_integer_value(idle) == 99,
              "the flag does not win over the variable: %s", s.resp.body);
    gw_session_free(&s);
    unsetenv("MAPIGW_IDLE_TIMEOUT");
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
