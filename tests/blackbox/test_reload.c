/* Black-box suite "reload": what SIGHUP does to the profiles and to the
 * sessions of a running gateway.
 *
 * - A profiles file that becomes invalid (unparsable, empty, unknown key,
 *   gone): each reload is refused with a log line naming the problem, the
 *   old profiles keep serving (new logons work, sessions live); a later
 *   valid file is taken.
 * - A changed, removed or newly required password is enforced after the
 *   reload, also through a nameless join, and the sessions of the changed
 *   profiles are ended; other sessions live on.
 * (The reload of insecure profiles on a public address is in startup_guard,
 * the reload steps of ops are in ops.)
 */
#include "profiles_fixture.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(reload, .fini = fini_gw, .timeout = 120);

#define MAIL "[\"MAPI_NEW_SESSION\"]"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------- a profiles file turned invalid */

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

Test(reload, profiles_file_turned_invalid_is_refused_on_sighup)
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

/* -------------------------------------------- passwords changed in the file */

static void sighup_and_wait_reload(void)
{
    cr_assert_eq(kill(gw_pid(G), SIGHUP), 0);
    cr_assert(gw_wait_log(G, "profiles reloaded", 10000), "no \"profiles reloaded\" log line");
}

static void expect_logon(const char *profile, const char *password, const char *flags, long want,
                         const char *what)
{
    gw_session s;
    gw_logon(G, profile, password, flags, &s);
    cr_expect_eq(s.status, want, "%s: %ld %s", what, s.status, s.resp.body);
    gw_session_free(&s);
}

/* The password of a profile with a shared session changes in the file.
 * Before: a nameless join with the OLD password still got 201 (checked
 * against the session's old profile), and the session lived on. */
Test(reload, changed_password_is_enforced_after_sighup)
{
    char v_old[crypto_pwhash_STRBYTES], v_new[crypto_pwhash_STRBYTES];
    char v_keep[crypto_pwhash_STRBYTES], e1[512], e2[512], both[1100];
    pf_verifier(v_old, "hub-old-pw", crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    pf_verifier(v_new, "hub-new-pw", crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    pf_verifier(v_keep, "keep-pw", crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    pf_argon_profile(e1, sizeof e1, "hub", v_old);
    pf_argon_profile(e2, sizeof e2, "keep", v_keep);
    snprintf(both, sizeof both, "%s,%s", e1, e2);
    G = pf_start_with(both, NULL);
    gw_add_secret(G, "hub-new-pw");
    gw_session hub, keep;
    gw_logon_ok(G, "hub", "hub-old-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &hub);
    gw_logon_ok(G, "keep", "keep-pw", "[\"MAPI_NEW_SESSION\"]", &keep);
    expect_logon(NULL, "hub-old-pw", "[]", 201, "a nameless join before the reload");

    pf_argon_profile(e1, sizeof e1, "hub", v_new);
    snprintf(both, sizeof both, "{\"profiles\":[%s,%s]}", e1, e2);
    gw_write_file(gw_profiles_path(G), both);
    sighup_and_wait_reload();

    expect_logon(NULL, "hub-old-pw", "[]", 401, "a nameless join with the old password");
    expect_logon("hub", "hub-old-pw", "[]", 401, "a named logon with the old password");
    gw_resp r;
    gw_get(G, "/status", hub.token, &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, "/status", keep.token, &r), 200, "an unchanged profile's session");
    gw_resp_free(&r);
    char *log = gw_read_log(G);
    cr_expect(strstr(log, "\"sessions_ended\":1"), "the reload log line counts 1 ended session");
    free(log);
    expect_logon("hub", "hub-new-pw", "[\"MAPI_NEW_SESSION\"]", 201, "the new password");
    gw_session_free(&hub);
    gw_session_free(&keep);
}

/* A profile without a password gets one, another is removed. Before: a
 * nameless join without any password still got 201. */
Test(reload, password_added_or_profile_removed_on_sighup)
{
    char v[crypto_pwhash_STRBYTES], e1[512], json[1200];
    pf_verifier(v, "now-locked-pw", crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    G = pf_start_with("{\"name\":\"open\",\"auth\":{\"type\":\"none\"},\"services\":[]},"
                      "{\"name\":\"gone\",\"auth\":{\"type\":\"none\"},\"services\":[]}",
                      NULL);
    gw_add_secret(G, "now-locked-pw");
    gw_session open, gone;
    gw_logon_ok(G, "open", NULL, "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &open);
    gw_logon_ok(G, "gone", NULL, "[\"MAPI_NEW_SESSION\"]", &gone);

    pf_argon_profile(e1, sizeof e1, "open", v);
    snprintf(json, sizeof json, "{\"profiles\":[%s]}", e1);
    gw_write_file(gw_profiles_path(G), json);
    sighup_and_wait_reload();

    expect_logon(NULL, NULL, "[]", 401, "a nameless join without a password");
    expect_logon("open", NULL, "[]", 401, "a named join without a password");
    gw_resp r;
    gw_get(G, "/status", open.token, &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    gw_get(G, "/status", gone.token, &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    expect_logon("open", "now-locked-pw", "[\"MAPI_NEW_SESSION\"]", 201, "the new password");
    gw_session_free(&open);
    gw_session_free(&gone);
}
