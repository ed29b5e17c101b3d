/* Black-box suite "auth_hardening": password checks against the real binary.
 * - spraying profile names from one client is throttled (per-client budget);
 * - every refused logon costs one argon2id verification: missing, empty and
 *   wrong passwords, known and unknown profiles, local and upstream
 *   authentication take comparable time;
 * - password checks beyond --max-password-checks are answered 503
 *   MAPI_E_BUSY with Retry-After at once, and run off the HTTP threads;
 * - wrong old passwords of change-password count in the logon throttle.
 * (What a reload does to changed passwords is in the reload suite.)
 * Profiles files with fresh verifiers are written by each test. */
#include "profiles_fixture.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

TestSuite(auth_hardening, .fini = fini_gw, .timeout = 240);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void expect_throttled(const gw_session *s, const char *what)
{
    gw_assert_problem(&s->resp, 429, "MAPI_E_LOGON_FAILED");
    const char *ra = gw_header(&s->resp, "Retry-After");
    cr_expect(ra && atoi(ra) >= 1, "%s: 429 without Retry-After", what);
}

/* ----------------------------------------------------------------- throttle */

/* Each made-up name is a new (profile, client) key: before, a client could
 * spray names forever (and fill the table). Now the client's own budget,
 * 4 x --throttle-after failures over any names, ends in 429; from then on
 * even a real profile with its right password waits. */
Test(auth_hardening, sprayed_names_from_one_client_are_throttled)
{
    char v[crypto_pwhash_STRBYTES], entry[512];
    pf_verifier(v, "real-pw", crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    pf_argon_profile(entry, sizeof entry, "real", v);
    static const char *const ARGS[] = {"--throttle-after", "3", NULL};
    G = pf_start_with(entry, ARGS);
    gw_session s;
    int refused = 0;
    bool throttled = false;
    for (int i = 0; i < 40 && !throttled; i++) {
        char name[32];
        snprintf(name, sizeof name, "made-up-%02d", i);
        gw_logon(G, name, "spray-pw", "[\"MAPI_NEW_SESSION\"]", &s);
        if (s.status == 429) {
            throttled = true;
            expect_throttled(&s, name);
        } else {
            gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
            refused++;
        }
        gw_session_free(&s);
    }
    cr_assert(throttled, "40 logons to made-up names from one client were never throttled");
    cr_expect_eq(refused, 12, "the budget is 4 x --throttle-after: %d refusals first", refused);
    gw_logon(G, "real", "real-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    expect_throttled(&s, "a real profile from the throttled client");
    gw_session_free(&s);
}

/* --------------------------------------------------------------------- cost */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Before: "" or no password on a real profile was refused at once, an
 * unknown profile after a 64 MiB dummy hash, a wrong password after the
 * profile's own hash: all three told apart by timing. Now each refusal runs
 * one verification of the profile's cost, so their medians are close; the
 * bound (a quarter) is generous so that load and valgrind do not flake it. */
Test(auth_hardening, refusals_cost_the_same)
{
    char v[crypto_pwhash_STRBYTES], entries[2048];
    /* About 10 ms natively: well above the cost of the HTTP exchange. */
    pf_verifier(v, "timed-pw", 3, 8u << 20);
    snprintf(entries, sizeof entries,
             "{\"name\":\"timed\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},"
             "\"services\":[]},"
             "{\"name\":\"up\",\"auth\":{\"type\":\"upstream\"},\"services\":[{\"name\":\"Mail\","
             "\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"imap\","
             "\"display_name\":\"Mail\","
             "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\",\"STATUS_DEFAULT_STORE\"],"
             "\"settings\":{\"url\":\"imap://127.0.0.1:1\",\"username\":\"u\","
             "\"timeout_ms\":1000}}]}]}",
             v);
    static const char *const ARGS[] = {"--throttle-after", "1000", NULL};
    G = pf_start_with(entries, ARGS);
    static const struct {
        const char *what, *profile, *password;
    } cases[] = {
        {"unknown profile", "no-such-profile", "some-pw"},
        {"wrong password", "timed", "wrong-pw"},
        {"empty password", "timed", ""},
        {"no password", "timed", NULL},
        {"upstream, no password", "up", NULL},
        {"upstream, empty password", "up", ""},
    };
    enum { NCASES = sizeof cases / sizeof cases[0], ROUNDS = 5 };
    double ms[NCASES][ROUNDS];
    /* Interleaved, so that a burst of load slows every case alike. */
    for (int r = 0; r < ROUNDS; r++) {
        for (int c = 0; c < NCASES; c++) {
            gw_session s;
            double t0 = now_ms();
            gw_logon(G, cases[c].profile, cases[c].password, "[\"MAPI_NEW_SESSION\"]", &s);
            ms[c][r] = now_ms() - t0;
            gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
            gw_session_free(&s);
        }
    }
    double median[NCASES];
    for (int c = 0; c < NCASES; c++) {
        qsort(ms[c], ROUNDS, sizeof ms[c][0], cmp_double);
        median[c] = ms[c][ROUNDS / 2];
        cr_log_info("%-26s median %.2f ms", cases[c].what, median[c]);
    }
    for (int c = 1; c < NCASES; c++) {
        cr_expect_geq(median[c] * 4, median[0], "%s: %.2f ms, unknown profile %.2f ms",
                      cases[c].what, median[c], median[0]);
        cr_expect_geq(median[0] * 4, median[c], "unknown profile: %.2f ms, %s %.2f ms", median[0],
                      cases[c].what, median[c]);
    }
}

/* -------------------------------------------------------------------- bound */

typedef struct {
    const char *profile;
    gw_session s;
} logon_job;

static void *logon_thread(void *arg)
{
    logon_job *j = arg;
    gw_logon(G, j->profile, "not-the-pw", "[\"MAPI_NEW_SESSION\"]", &j->s);
    return NULL;
}

/* With one password check allowed, two checks at once: the second is
 * answered 503 MAPI_E_BUSY with Retry-After instead of queueing for the CPU.
 * Before: both always ran (401 each). */
Test(auth_hardening, password_checks_past_the_bound_are_busy)
{
    char v1[crypto_pwhash_STRBYTES], v2[crypto_pwhash_STRBYTES], e1[512], e2[512], both[1100];
    /* Tens of milliseconds each natively, so that two logons sent together
     * overlap. */
    pf_verifier(v1, "slow-one", 4, 32u << 20);
    pf_verifier(v2, "slow-two", 4, 32u << 20);
    pf_argon_profile(e1, sizeof e1, "slow1", v1);
    pf_argon_profile(e2, sizeof e2, "slow2", v2);
    snprintf(both, sizeof both, "%s,%s", e1, e2);
    static const char *const ARGS[] = {"--max-password-checks", "1", "--throttle-after", "1000",
                                       NULL};
    G = pf_start_with(both, ARGS);
    gw_add_secret(G, "not-the-pw");
    bool busy = false;
    for (int round = 0; round < 10 && !busy; round++) {
        logon_job a = {"slow1", {0}}, b = {"slow2", {0}};
        pthread_t ta, tb;
        cr_assert_eq(pthread_create(&ta, NULL, logon_thread, &a), 0);
        cr_assert_eq(pthread_create(&tb, NULL, logon_thread, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        logon_job *jobs[] = {&a, &b};
        for (int i = 0; i < 2; i++) {
            gw_session *s = &jobs[i]->s;
            if (s->status == 503) {
                busy = true;
                gw_assert_problem(&s->resp, 503, "MAPI_E_BUSY");
                const char *ra = gw_header(&s->resp, "Retry-After");
                cr_expect(ra && atoi(ra) >= 1, "503 without Retry-After");
            } else {
                gw_assert_problem(&s->resp, 401, "MAPI_E_LOGON_FAILED");
            }
        }
        cr_expect(a.s.status == 401 || b.s.status == 401, "round %d: neither was checked", round);
        gw_session_free(&a.s);
        gw_session_free(&b.s);
    }
    cr_expect(busy, "two password checks at once never got 503 with --max-password-checks 1");
}

typedef struct {
    const char *profile;
    gw_session s;
    atomic_bool done;
} timed_logon;

static void *timed_logon_thread(void *arg)
{
    timed_logon *j = arg;
    gw_logon(G, j->profile, "not-the-pw", "[\"MAPI_NEW_SESSION\"]", &j->s);
    atomic_store(&j->done, true);
    return NULL;
}

/* Password checks run off the HTTP threads: with one libmicrohttpd thread,
 * GET /identity keeps being answered while a slow check runs. Before, the
 * GETs sent during the check waited on the one thread until it ended, so at
 * most the one or two sent before the check began were answered meanwhile.
 * Counted, not timed. */
Test(auth_hardening, password_checks_do_not_hold_up_other_requests)
{
    char v[crypto_pwhash_STRBYTES], entries[1024];
    /* Tens of milliseconds natively, seconds under valgrind. */
    pf_verifier(v, "slow-check-pw", 4, 32u << 20);
    snprintf(entries, sizeof entries,
             "{\"name\":\"slow\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},"
             "\"services\":[]},"
             "{\"name\":\"open\",\"auth\":{\"type\":\"none\"},\"services\":[]}",
             v);
    static const char *const ARGS[] = {"--threads", "1", "--throttle-after", "1000", NULL};
    G = pf_start_with(entries, ARGS);
    gw_add_secret(G, "not-the-pw");
    gw_session open;
    gw_logon_ok(G, "open", NULL, "[\"MAPI_NEW_SESSION\"]", &open);
    timed_logon slow = {"slow", {0}, false};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, timed_logon_thread, &slow), 0);
    int answered = 0;
    double deadline = now_ms() + gw_ms(60000);
    while (!atomic_load(&slow.done) && now_ms() < deadline) {
        gw_resp r;
        long st = gw_get(G, "/identity", open.token, &r);
        gw_resp_free(&r);
        if (!atomic_load(&slow.done)) {
            cr_expect_eq(st, 200);
            answered++;
        }
    }
    pthread_join(t, NULL);
    cr_log_info("%d GET /identity answered during the check", answered);
    gw_assert_problem(&slow.s.resp, 401, "MAPI_E_LOGON_FAILED");
    cr_expect_geq(answered, 10, "only %d GET /identity answered while a password check ran",
                  answered);
    gw_session_free(&slow.s);
    gw_session_free(&open);
}

/* ---------------------------------------------------------- change-password */

/* Before: wrong old passwords of change-password were never counted, so a
 * session's holder could guess its profile's password without limit. */
Test(auth_hardening, change_password_guesses_are_throttled)
{
    G = gw_start("main.json", NULL);
    gw_add_secret(G, "guess-old-pw");
    gw_add_secret(G, "never-set-pw");
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200);
    const char *ik = gw_row_with_method(r.json, 0x4u);
    cr_assert_not_null(ik, "no row offers change-password: %s", r.body);
    char path[128];
    snprintf(path, sizeof path, "/status/%s/change-password", ik);
    gw_resp_free(&r);

    const char *body = "{\"old_password\":\"guess-old-pw\",\"new_password\":\"never-set-pw\"}";
    bool throttled = false;
    int refused = 0;
    for (int k = 0; k < 30 && !throttled; k++) {
        gw_post(G, path, s.token, body, &r);
        if (r.status == 429) {
            throttled = true;
            gw_assert_problem(&r, 429, "MAPI_E_LOGON_FAILED");
            const char *ra = gw_header(&r, "Retry-After");
            cr_expect(ra && atoi(ra) >= 1, "429 without Retry-After");
        } else {
            gw_assert_problem(&r, 403, "MAPI_E_NO_ACCESS");
            refused++;
        }
        gw_resp_free(&r);
    }
    cr_assert(throttled, "30 wrong old passwords were never throttled");
    cr_expect_eq(refused, 5, "--throttle-after 5: %d refusals first", refused);
    /* The same throttle as logons: the right password waits as well. */
    gw_session again;
    gw_logon(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &again);
    expect_throttled(&again, "a logon after the guesses");
    gw_session_free(&again);
    gw_session_free(&s);
}
