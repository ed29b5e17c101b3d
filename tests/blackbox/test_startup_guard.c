/* Black-box suite "startup_guard": well-known credentials on a public address.
 *
 * - A profile anyone can log on to (`auth: none`, or the published demo
 *   verifier of server/profiles.default.json) on an address other machines
 *   can reach: the gateway refuses to start (exit 2, a message naming the
 *   profile, the address and the opt-in) unless --allow-insecure-profiles
 *   (or MAPIGW_ALLOW_INSECURE_PROFILES) is given; on 127.0.0.1 it starts.
 * - A SIGHUP reload that would bring such a profile onto a public listener is
 *   refused and logged; the loaded profiles keep serving.
 *
 * The tests that must start on a public address bind 0.0.0.0 on a port the
 * kernel picks, for a few seconds, with profiles of known test passwords;
 * they still talk to 127.0.0.1 only. The refusals never bind at all. */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gw *G;

static void fini_gw(void)
{
    if (G)
        gw_finish(G);
    G = NULL;
    gw_test_files_clean();
}

TestSuite(startup_guard, .fini = fini_gw, .timeout = 120);

/* One argon2id profile "alice" (password "alice-pw", as in
 * tests/profiles/main.json): nothing anyone could log on to. */
static const char SAFE[] =
    "{\"profiles\":[{\"name\":\"alice\",\"auth\":{\"type\":\"argon2id\",\"verifier\":"
    "\"$argon2id$v=19$m=8,t=1,p=1$rjWtAEzXKbZKNVhWl10Gvg$qcOgblrQlbpzbn9AWA0ag/"
    "rRFNGw5JP9BH72Unr/3jw\"},\"services\":[{\"name\":\"Mail\",\"providers\":[{\"type\":"
    "\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"Mailbox\",\"settings\":"
    "{\"path\":\"alice/Maildir\",\"create\":true}}]}]}]}";
/* The same with a second profile without authentication. */
static const char OPEN[] =
    "{\"profiles\":[{\"name\":\"alice\",\"auth\":{\"type\":\"argon2id\",\"verifier\":"
    "\"$argon2id$v=19$m=8,t=1,p=1$rjWtAEzXKbZKNVhWl10Gvg$qcOgblrQlbpzbn9AWA0ag/"
    "rRFNGw5JP9BH72Unr/3jw\"},\"services\":[]},{\"name\":\"open\",\"auth\":{\"type\":\"none\"},"
    "\"services\":[]}]}";

/* server/profiles.default.json, the file the image and `make run` serve. */
static const char *demo_profiles(void)
{
    static char path[4096];
    const char *profiles = getenv("MAPIGW_TEST_PROFILES");
    cr_assert_not_null(profiles, "MAPIGW_TEST_PROFILES is not set");
    snprintf(path, sizeof path, "%s/../../server/profiles.default.json", profiles);
    cr_assert_eq(access(path, R_OK), 0, "%s", path);
    return path;
}

/* Logs on to the demo profile: its password is the profile's name, so it
 * is not recorded as a secret (every log naming the profile would "leak"
 * it). Returns the status. */
static long logon_demo(void)
{
    gw_resp r;
    long st = gw_post(
        G, "/sessions", NULL,
        "{\"profile\":\"demo\",\"password\":\"demo\",\"flags\":[\"MAPI_NEW_SESSION\"]}", &r);
    gw_resp_free(&r);
    return st;
}

Test(startup_guard, demo_verifier_on_a_public_address_is_refused)
{
    const char *const v4[] = {"--listen", "0.0.0.0", NULL};
    const char *const v6[] = {"--listen", "::", NULL};
    const char *const needles4[] = {"refusing to start",           "profile \"demo\"",
                                    "the published demo password", "0.0.0.0",
                                    "--allow-insecure-profiles",   NULL};
    const char *const needles6[] = {"refusing to start", "profile \"demo\"", " on ::,", NULL};
    gw_expect_start_refused(demo_profiles(), v4, needles4);
    gw_expect_start_refused(demo_profiles(), v6, needles6);
    /* The IPv4 wildcard written as an IPv4-mapped IPv6 address. */
    const char *const mapped[] = {"--listen", "::ffff:0.0.0.0", NULL};
    const char *const needles_mapped[] = {"refusing to start", "on ::ffff:0.0.0.0,", NULL};
    gw_expect_start_refused(demo_profiles(), mapped, needles_mapped);
}

Test(startup_guard, auth_none_on_a_public_address_is_refused)
{
    const char *const args[] = {"--listen", "0.0.0.0", NULL};
    const char *const needles[] = {"refusing to start", "profile \"open\" (auth: none)", NULL};
    gw_expect_start_refused(gw_test_file("open.json", OPEN), args, needles);
    /* Explicitly declined opt-in: the same. */
    const char *const no[] = {"--listen", "0.0.0.0", "--allow-insecure-profiles=no", NULL};
    gw_expect_start_refused(gw_test_file("open.json", OPEN), no, needles);
}

/* An `auth: none` template lets anybody in under any name it takes. */
Test(startup_guard, open_template_on_a_public_address_is_refused)
{
    static const char TEMPLATE[] =
        "{\"profiles\":[],\"templates\":[{\"name\":\"staff\",\"match\":[\"*@example.org\"],"
        "\"auth\":{\"type\":\"none\"},\"services\":[]}]}";
    const char *const args[] = {"--listen", "0.0.0.0", NULL};
    const char *const needles[] = {"refusing to start", "profile \"staff\" (auth: none)", NULL};
    gw_expect_start_refused(gw_test_file("template.json", TEMPLATE), args, needles);
}

Test(startup_guard, loopback_serves_the_demo)
{
    /* gw_start listens on 127.0.0.1: the demo is fine there (make run). */
    G = gw_start(demo_profiles(), NULL);
    cr_expect_eq(logon_demo(), 201);
}

Test(startup_guard, opt_in_serves_on_a_public_address)
{
    const char *const args[] = {"--listen", "0.0.0.0", "--allow-insecure-profiles", NULL};
    G = gw_start(demo_profiles(), args);
    cr_expect(gw_wait_log(G, "serving profiles anyone can log on to", 5000),
              "no warning about the opt-in in the log");
    cr_expect_eq(logon_demo(), 201);
    gw_finish(G);

    /* The variable, as a container sets it. */
    cr_assert_eq(setenv("MAPIGW_ALLOW_INSECURE_PROFILES", "yes", 1), 0);
    const char *const listen[] = {"--listen", "0.0.0.0", NULL};
    G = gw_start(gw_test_file("open.json", OPEN), listen);
    gw_session s;
    gw_logon_ok(G, "open", NULL, NULL, &s);
    gw_session_free(&s);
    unsetenv("MAPIGW_ALLOW_INSECURE_PROFILES");
}

Test(startup_guard, safe_profiles_serve_on_a_public_address)
{
    const char *const args[] = {"--listen", "0.0.0.0", NULL};
    G = gw_start(gw_test_file("safe.json", SAFE), args);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", NULL, &s);
    gw_session_free(&s);
}

/* Sends SIGHUP and waits (bounded) until the log holds needle. */
static bool sighup_until(const char *needle)
{
    cr_assert_eq(kill(gw_pid(G), SIGHUP), 0);
    return gw_wait_log(G, needle, 5000);
}

Test(startup_guard, reload_refuses_open_profiles_on_a_public_address)
{
    const char *const args[] = {"--listen", "0.0.0.0", NULL};
    G = gw_start(gw_test_file("safe.json", SAFE), args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", NULL, &a);

    /* The demo file: refused, the demo profile is not there. */
    gw_copy_profiles(demo_profiles(), gw_profiles_path(G));
    cr_assert(sighup_until("(the published demo password)"),
              "no refusal of the demo profile after SIGHUP:\n%s", gw_read_log(G));
    char *log = gw_read_log(G);
    cr_expect(strstr(log, "profiles reload refused, keeping the loaded profiles") != NULL, "%s",
              log);
    cr_expect(strstr(log, "profiles reloaded") == NULL, "a reload was taken:\n%s", log);
    free(log);
    cr_expect_eq(logon_demo(), 401, "demo after a refused reload");
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", NULL, &s);
    gw_session_free(&s);

    /* A profile without authentication: refused too. */
    gw_copy_profiles(gw_test_file("open.json", OPEN), gw_profiles_path(G));
    cr_assert(sighup_until("(auth: none)"), "no refusal of the open profile after SIGHUP:\n%s",
              gw_read_log(G));
    cr_expect_eq(gw_logon(G, "open", NULL, NULL, &s), 401, "open after a refused reload: %s",
                 s.resp.body);
    gw_session_free(&s);

    /* The session from before lives on; a safe file is taken again. */
    gw_resp r;
    cr_expect_eq(gw_get(G, "/identity", a.token, &r), 200, "%s", r.body);
    gw_resp_free(&r);
    gw_copy_profiles(gw_test_file("safe.json", SAFE), gw_profiles_path(G));
    cr_expect(sighup_until("profiles reloaded"), "the safe file was not taken:\n%s",
              gw_read_log(G));
    gw_session_free(&a);
}

Test(startup_guard, reload_with_opt_in_takes_open_profiles)
{
    const char *const args[] = {"--listen", "0.0.0.0", "--allow-insecure-profiles", NULL};
    G = gw_start(gw_test_file("safe.json", SAFE), args);
    gw_copy_profiles(gw_test_file("open.json", OPEN), gw_profiles_path(G));
    cr_assert(sighup_until("profiles reloaded"), "%s", gw_read_log(G));
    gw_session s;
    gw_logon_ok(G, "open", NULL, NULL, &s);
    gw_session_free(&s);
}
