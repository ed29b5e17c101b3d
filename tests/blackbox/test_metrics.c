/* Black-box: GET /metrics (Prometheus text format 0.0.4): every family has
 * HELP and TYPE lines, every sample line is well formed, and the counters
 * move with the traffic (requests, latency histogram, logons, sessions and
 * handles, provider status). */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(metrics, .fini = fini_gw, .timeout = 60);

/* The value of the sample line that starts with "name " or "name{...} "
 * exactly as given in series; -1 when absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static char *scrape(void)
{
    gw_resp r;
    cr_assert_eq(gw_get(G, "/metrics", NULL, &r), 200, "%s", r.body);
    const char *ct = gw_header(&r, "Content-Type");
    cr_expect(ct && strstr(ct, "text/plain") && strstr(ct, "version=0.0.4"), "Content-Type %s",
              ct ? ct : "(none)");
    char *text = strdup(r.body);
    cr_assert_not_null(text);
    gw_resp_free(&r);
    return text;
}

Test(metrics, format)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    char *text = scrape();
    regex_t sample_re, help_re, type_re;
    cr_assert_eq(regcomp(&sample_re,
                         "^[a-z_:][a-z0-9_:]*(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? "
                         "[0-9.e+-]+$",
                         REG_EXTENDED | REG_NOSUB),
                 0);
    cr_assert_eq(regcomp(&help_re, "^# HELP [a-z_:][a-z0-9_:]* .+$", REG_EXTENDED | REG_NOSUB), 0);
    cr_assert_eq(regcomp(&type_re, "^# TYPE [a-z_:][a-z0-9_:]* (counter|gauge|histogram)$",
                         REG_EXTENDED | REG_NOSUB),
                 0);
    size_t lines = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), lines++) {
        if (strncmp(line, "# HELP ", 7) == 0)
            cr_expect_eq(regexec(&help_re, line, 0, NULL, 0), 0, "bad HELP: %s", line);
        else if (strncmp(line, "# TYPE ", 7) == 0)
            cr_expect_eq(regexec(&type_re, line, 0, NULL, 0), 0, "bad TYPE: %s", line);
        else
            cr_expect_eq(regexec(&sample_re, line, 0, NULL, 0), 0, "bad sample: %s", line);
    }
    cr_expect_gt(lines, 20);
    regfree(&sample_re);
    regfree(&help_re);
    regfree(&type_re);
    free(text);

    text = scrape();
    static const char *const families[] = {
        "mapigw_sessions gauge",        "mapigw_handles gauge",
        "mapigw_logons_total counter",  "mapigw_http_requests_total counter",
        "mapigw_provider_status gauge", "mapigw_http_request_duration_seconds histogram",
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "# TYPE %s\n", families[i]);
        cr_expect(strstr(text, want) != NULL, "no %s", want);
        snprintf(want, sizeof want, "# HELP %.*s ", (int)strcspn(families[i], " "), families[i]);
        cr_expect(strstr(text, want) != NULL, "no %s", want);
    }
    cr_expect(strstr(text, s.token + 4) == NULL, "metrics show a token");
    free(text);
    gw_session_free(&s);
}

Test(metrics, counters_move)
{
    G = gw_start("main.json", NULL);
    char *before = scrape();
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_session bad;
    cr_assert_eq(gw_logon(G, "alice", "wrong-pw", "[\"MAPI_NEW_SESSION\"]", &bad), 401);
    gw_session_free(&bad);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200, "%s", r.body);
    gw_resp_free(&r);
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200, "%s", r.body);
    gw_resp_free(&r);
    char *after = scrape();

    cr_expect_eq(sample(after, "mapigw_sessions"), 1);
    cr_expect_eq(sample(after, "mapigw_handles"), 1);
    cr_expect_eq(sample(after, "mapigw_logons_total{result=\"ok\"}"),
                 sample(before, "mapigw_logons_total{result=\"ok\"}") + 1);
    cr_expect_eq(sample(after, "mapigw_logons_total{result=\"failed\"}"),
                 sample(before, "mapigw_logons_total{result=\"failed\"}") + 1);
    cr_expect_eq(sample(after, "mapigw_http_requests_total{route=\"/status\",status=\"200\"}"), 2);
    cr_expect_eq(sample(after, "mapigw_http_requests_total{route=\"/sessions\",status=\"201\"}"),
                 1);
    cr_expect_eq(sample(after, "mapigw_http_request_duration_seconds_count{route=\"/status\"}"), 2);
    cr_expect_eq(
        sample(after, "mapigw_http_request_duration_seconds_bucket{route=\"/status\",le=\"+Inf\"}"),
        2);
    cr_expect_geq(sample(after, "mapigw_http_request_duration_seconds_sum{route=\"/status\"}"), 0);
    /* The previous scrape counts too: /metrics is a route like any other. */
    cr_expect_geq(sample(after, "mapigw_http_request_duration_seconds_count{route=\"/metrics\"}"),
                  1);
    /* alice: a Maildir store, a spool transport and an address book. */
    cr_expect_eq(sample(before, "mapigw_provider_status{kind=\"maildir\",state=\"available\"}"), 0);
    cr_expect_eq(sample(after, "mapigw_provider_status{kind=\"maildir\",state=\"available\"}"), 1);
    cr_expect_eq(sample(after, "mapigw_provider_status{kind=\"imap\",state=\"available\"}"), 0);
    free(before);
    free(after);

    cr_assert_eq(gw_delete(G, "/sessions/", NULL, &r), 404);
    gw_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", s.id);
    cr_assert_eq(gw_delete(G, path, s.token, &r), 204, "%s", r.body);
    gw_resp_free(&r);
    after = scrape();
    cr_expect_eq(sample(after, "mapigw_sessions"), 0);
    cr_expect_eq(sample(after, "mapigw_handles"), 0);
    cr_expect_eq(sample(after, "mapigw_provider_status{kind=\"maildir\",state=\"available\"}"), 0);
    free(after);
    gw_session_free(&s);
}

/* Every mapigw_provider_status sample exactly: the given (kind, state) pairs
 * with their values, every other pair zero. want is "kind/state=value", ... */
static void expect_providers(const char *text, const char *const *want, size_t n, const char *when)
{
    static const char *const kinds[] = {"maildir", "abfile", "spool", "imap", "smtp", "ldap"};
    static const char *const states[] = {"available", "offline", "failure"};
    for (size_t k = 0; k < 6; k++)
        for (size_t s = 0; s < 3; s++) {
            char key[64], series[128];
            snprintf(key, sizeof key, "%s/%s=", kinds[k], states[s]);
            double v = 0;
            for (size_t i = 0; i < n; i++)
                if (strncmp(want[i], key, strlen(key)) == 0)
                    v = strtod(want[i] + strlen(key), NULL);
            snprintf(series, sizeof series, "mapigw_provider_status{kind=\"%s\",state=\"%s\"}",
                     kinds[k], states[s]);
            cr_expect_eq(sample(text, series), v, "%s: %s is %g, expected %g", when, series,
                         sample(text, series), v);
        }
}

#define WANT(...)                                                                                  \
    (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

/* The gauges are kept as sessions change (no walk per
 * scrape); they stay exact across logon, join, plain logoff, admin end, a
 * provider failing and the last logoff. */
Test(metrics, provider_gauges_follow_the_sessions)
{
    const char *key = "test-admin-key-0123456789abcdefghijklmnop";
    const char *args[] = {"--admin-key", key, NULL};
    G = gw_start("main.json", args);
    gw_add_secret(G, key);
    char *t = scrape();
    expect_providers(t, WANT("none/none=0"), "at start");
    free(t);

    gw_session a, b, c;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    t = scrape();
    /* alice: a Maildir store, a spool transport and an address book. */
    expect_providers(t, WANT("maildir/available=1", "spool/available=1", "abfile/available=1"),
                     "after A's logon");
    free(t);

    gw_logon_ok(G, "alice", "alice-pw", "[]", &b);
    cr_assert_str_eq(a.id, b.id);
    t = scrape();
    expect_providers(t, WANT("maildir/available=1", "spool/available=1", "abfile/available=1"),
                     "after B joined");
    cr_expect_eq(sample(t, "mapigw_sessions"), 1);
    cr_expect_eq(sample(t, "mapigw_handles"), 2);
    free(t);

    gw_resp r;
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", b.id);
    cr_assert_eq(gw_delete(G, path, b.token, &r), 204, "%s", r.body);
    gw_resp_free(&r);
    t = scrape();
    expect_providers(t, WANT("maildir/available=1", "spool/available=1", "abfile/available=1"),
                     "after B's plain logoff");
    cr_expect_eq(sample(t, "mapigw_handles"), 1);
    free(t);

    gw_logon_ok(G, "bob", "bob-pw", "[\"MAPI_NEW_SESSION\"]", &c);
    t = scrape();
    expect_providers(t, WANT("maildir/available=2", "spool/available=1", "abfile/available=1"),
                     "after C's logon");
    free(t);
    snprintf(path, sizeof path, "/sessions/%s", c.id);
    cr_assert_eq(gw_delete(G, path, key, &r), 204, "%s", r.body);
    gw_resp_free(&r);
    t = scrape();
    expect_providers(t, WANT("maildir/available=1", "spool/available=1", "abfile/available=1"),
                     "after the admin ended C");
    free(t);

    /* A's store fails: its row moves from available to failure. */
    gw_get(G, "/status", a.token, &r);
    json_t *row = gw_find_row(r.json, "Alice Mailbox");
    cr_assert(row, "%s", r.body);
    snprintf(path, sizeof path, "/status/%s/validate-state", gw_jstr(row, "instance_key"));
    gw_resp_free(&r);
    char *md = gw_data_path(G, "alice/Maildir");
    cr_assert_eq(gw_rmrf(md), 0);
    free(md);
    gw_post(G, path, a.token, NULL, &r);
    gw_resp_free(&r);
    t = scrape();
    expect_providers(t, WANT("maildir/failure=1", "spool/available=1", "abfile/available=1"),
                     "after A's store failed");
    free(t);

    snprintf(path, sizeof path, "/sessions/%s", a.id);
    cr_assert_eq(gw_delete(G, path, a.token, &r), 204, "%s", r.body);
    gw_resp_free(&r);
    t = scrape();
    expect_providers(t, WANT("none/none=0"), "after A's logoff");
    cr_expect_eq(sample(t, "mapigw_sessions"), 0);
    cr_expect_eq(sample(t, "mapigw_handles"), 0);
    free(t);
    gw_session_free(&a);
    gw_session_free(&b);
    gw_session_free(&c);
}

/* ... and expiry takes an expired session's rows out of them. */
Test(metrics, provider_gauges_drop_expired_sessions)
{
    const char *const args[] = {"--idle-timeout", "1", "--reap-interval", "1", NULL};
    G = gw_start("main.json", args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    char *t = NULL;
    for (int waited = 0;; waited += 100) {
        free(t);
        t = scrape();
        if (sample(t, "mapigw_sessions") == 0 || waited >= gw_ms(10000))
            break;
        gw_sleep_ms(100);
    }
    cr_assert_eq(sample(t, "mapigw_sessions"), 0, "the session was not reaped");
    expect_providers(t, WANT("none/none=0"), "after the session expired");
    free(t);
    gw_session_free(&a);
}
