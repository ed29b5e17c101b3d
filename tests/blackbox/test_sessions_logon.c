/* Black-box suite "sessions", logon rules: POST /sessions (the 201 shape,
 * flags, identical failures, MAPI_USE_DEFAULT, profile names, UI and unknown
 * flags), session caps, the profile's logon lock and throttling of failed
 * attempts. docs/contract/http.md 3, docs/contract/mapi.md 2.2-2.4 and
 * conformance tests 4-30; shared sessions are in test_sessions_shared.c,
 * logoff and expiry in test_sessions_end.c. */
#include "sessions_fixture.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool token_shape_ok(const char *t)
{
    if (strncmp(t, "mgw_", 4) != 0 || strlen(t) != 47)
        return false;
    for (const char *p = t + 4; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return false;
    return true;
}

Test(sessions, logon_201_shape)
{
    start(NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    json_t *b = s.resp.json;
    cr_assert(json_is_object(b));
    const char *ct = gw_header(&s.resp, "Content-Type");
    cr_expect(ct && strncmp(ct, "application/json", 16) == 0, "Content-Type %s", ct);
    gw_assert_no_store(&s.resp);
    cr_expect(token_shape_ok(s.token), "token \"%s\" is not mgw_ + 43 URL-safe chars", s.token);
    char loc[256];
    snprintf(loc, sizeof loc, "/sessions/%s", s.id);
    const char *l = gw_header(&s.resp, "Location");
    cr_expect(l && strcmp(l, loc) == 0, "Location %s, expected %s", l ? l : "(none)", loc);
    cr_expect_str_eq(gw_jstr(b, "token_type"), "Bearer");
    cr_expect_str_eq(gw_jstr(b, "profile"), "alice");
    json_t *flags = json_object_get(b, "flags");
    unsigned long long v = gw_jvalue(flags);
    cr_expect_eq(v & 0x80000022ull, 0x80000022ull,
                 "flags value 0x%llx lacks EXTENDED|UNICODE|NEW_SESSION", v);
    cr_expect(gw_jnames_has(flags, "MAPI_EXTENDED"));
    cr_expect(gw_jnames_has(flags, "MAPI_UNICODE"));
    cr_expect(gw_jnames_has(flags, "MAPI_NEW_SESSION"));
    cr_expect(json_is_false(json_object_get(b, "shared")));
    cr_expect(json_is_false(json_object_get(b, "joined")));
    cr_expect(gw_is_rfc3339_utc(gw_jstr(b, "created_at")), "created_at %s",
              gw_jstr(b, "created_at"));
    cr_expect(gw_is_rfc3339_utc(gw_jstr(b, "expires_at")), "expires_at %s",
              gw_jstr(b, "expires_at"));
    json_t *idle = json_object_get(b, "idle_timeout_s");
    cr_expect(json_is_integer(idle) && json_integer_value(idle) == 1800, "idle_timeout_s");

    /* GET /sessions/<id>: the session, no token */
    gw_resp r;
    cr_assert_eq(gw_get(G, loc, s.token, &r), 200, "%s", r.body);
    gw_assert_no_store(&r);
    cr_expect_str_eq(gw_jstr(r.json, "id"), s.id);
    cr_expect_str_eq(gw_jstr(r.json, "profile"), "alice");
    json_t *h = json_object_get(r.json, "handles");
    cr_expect(json_is_integer(h) && json_integer_value(h) == 1, "handles: %s", r.body);
    cr_expect(json_object_get(r.json, "token") == NULL, "GET /sessions/<id> shows a token");
    cr_expect(strstr(r.body, s.token + 4) == NULL, "GET /sessions/<id> body holds the token");
    cr_expect(gw_is_rfc3339_utc(gw_jstr(r.json, "last_used_at")));
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(sessions, default_flags_when_absent)
{
    start(NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", NULL, &s);
    /* EXTENDED|NEW_SESSION|EXPLICIT_PROFILE|NO_MAIL|NT_SERVICE|UNICODE */
    cr_expect_eq(gw_jvalue(json_object_get(s.resp.json, "flags")), 0x80018032ull, "%s",
                 s.resp.body);
    gw_session_free(&s);
}

Test(sessions, flags_as_bit_mask)
{
    start(NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "2", &s);
    json_t *f = json_object_get(s.resp.json, "flags");
    cr_expect_eq(gw_jvalue(f), 0x80000022ull, "%s", s.resp.body);
    cr_expect(gw_jnames_has(f, "MAPI_NEW_SESSION"));
    gw_session_free(&s);
}

Test(sessions, repeated_new_session_differs)
{
    start(NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &b);
    cr_expect_str_neq(a.id, b.id);
    cr_expect_str_neq(a.token, b.token);
    cr_expect_eq(get_status(a.token), 200);
    cr_expect_eq(get_status(b.token), 200);
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(sessions, logon_failures_identical)
{
    start(NULL);
    gw_session u, w, n;
    gw_logon(G, "nosuchprofile", "some-pw-1", "[\"MAPI_NEW_SESSION\"]", &u);
    gw_logon(G, "alice", "wrong-pw-1", "[\"MAPI_NEW_SESSION\"]", &w);
    gw_logon(G, NULL, "alice-pw", "[\"MAPI_NEW_SESSION\"]", &n);
    gw_assert_problem(&u.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_assert_problem(&w.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_assert_problem(&n.resp, 401, "MAPI_E_LOGON_FAILED");
    /* "instance" names each request (its id); everything else is one body. */
    json_object_del(u.resp.json, "instance");
    json_object_del(w.resp.json, "instance");
    json_object_del(n.resp.json, "instance");
    cr_expect(json_equal(u.resp.json, w.resp.json), "unknown profile %s vs wrong password %s",
              u.resp.body, w.resp.body);
    cr_expect(json_equal(u.resp.json, n.resp.json), "unknown profile %s vs no profile %s",
              u.resp.body, n.resp.body);
    cr_expect(strstr(u.resp.body, "nosuchprofile") == NULL, "detail echoes the profile name");
    gw_session_free(&u);
    gw_session_free(&w);
    gw_session_free(&n);
}

Test(sessions, use_default_null_empty_absent)
{
    start(NULL);
    const char *bodies[] = {
        "{\"profile\":null,\"password\":\"carol-pw\",\"flags\":[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_"
        "SESSION\"]}",
        "{\"profile\":\"\",\"password\":\"carol-pw\",\"flags\":[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_"
        "SESSION\"]}",
        "{\"password\":\"carol-pw\",\"flags\":[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_SESSION\"]}",
        "{\"profile\":null,\"password\":\"carol-pw\",\"flags\":[\"MAPI_USE_DEFAULT\",\"MAPI_"
        "EXPLICIT_PROFILE\",\"MAPI_NEW_SESSION\"]}",
    };
    gw_add_secret(G, "carol-pw");
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        gw_resp r;
        gw_post(G, "/sessions", NULL, bodies[i], &r);
        cr_expect_eq(r.status, 201, "body %s: %ld %s", bodies[i], r.status, r.body);
        cr_expect(r.json && gw_jstr(r.json, "profile") &&
                      strcmp(gw_jstr(r.json, "profile"), "carol") == 0,
                  "body %s: not the default profile: %s", bodies[i], r.body);
        gw_resp_free(&r);
    }
}

Test(sessions, use_default_without_default_profile)
{
    G = gw_start("nodefault.json", NULL);
    gw_resp r;
    gw_post(G, "/sessions", NULL,
            "{\"profile\":null,\"flags\":[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_SESSION\"]}", &r);
    gw_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED");
    gw_resp_free(&r);
    gw_session s;
    gw_logon_ok(G, "solo", NULL, "[\"MAPI_NEW_SESSION\"]", &s);
    gw_session_free(&s);
}

Test(sessions, profile_name_length)
{
    start(NULL);
    char name[200];
    memset(name, 'a', 65);
    name[65] = '\0';
    gw_session s;
    gw_logon(G, name, "x-pw-65", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_assert_problem(&s.resp, 400, "MAPI_E_INVALID_PARAMETER");
    gw_session_free(&s);
    /* 64 characters is a valid length: an unknown profile, 401 */
    name[64] = '\0';
    gw_logon(G, name, "x-pw-64", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&s);
    /* 64 code points of two bytes each: still a valid length */
    name[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(name, "\xc3\xa9");
    gw_logon(G, name, "x-pw-64u", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&s);
}

Test(sessions, non_ascii_profile_round_trips)
{
    start(NULL);
    const char *name = "\xc3\x9cn\xc3\xaf"
                       "c\xc3\xb8"
                       "d\xc3\xa9-\xe3\x83\x97\xe3\x83\xad\xe3\x83\x95"
                       "\xe3\x82\xa1\xe3\x82\xa4\xe3\x83\xab";
    gw_session s;
    gw_logon_ok(G, name, NULL, "[\"MAPI_NEW_SESSION\"]", &s);
    cr_expect_str_eq(gw_jstr(s.resp.json, "profile"), name);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", s.id);
    gw_resp r;
    cr_assert_eq(gw_get(G, path, s.token, &r), 200, "%s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "profile"), name);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(sessions, two_ui_flags_rejected)
{
    start(NULL);
    gw_session s;
    gw_logon(G, "alice", "alice-pw",
             "[\"MAPI_LOGON_UI\",\"MAPI_PASSWORD_UI\",\"MAPI_NEW_SESSION\"]", &s);
    gw_assert_problem(&s.resp, 400, "MAPI_E_INVALID_PARAMETER");
    gw_session_free(&s);
    /* LOGON_UI|SERVICE_UI_ALWAYS|NEW_SESSION as a number */
    gw_logon(G, "alice", "alice-pw", "8195", &s);
    gw_assert_problem(&s.resp, 400, "MAPI_E_INVALID_PARAMETER");
    gw_session_free(&s);
}

Test(sessions, logon_ui_unknown_profile_fails_fast)
{
    start(NULL);
    gw_session s;
    gw_logon(G, "nosuchprofile", "some-pw-2", "[\"MAPI_LOGON_UI\",\"MAPI_NEW_SESSION\"]", &s);
    gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&s);
    /* one UI flag alone changes nothing for a good logon */
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_LOGON_UI\",\"MAPI_NEW_SESSION\"]", &s);
    gw_session_free(&s);
}

Test(sessions, unknown_flags_rejected)
{
    start(NULL);
    gw_session s;
    gw_logon(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_BOGUS\"]", &s);
    gw_assert_problem(&s.resp, 400, "MAPI_E_UNKNOWN_FLAGS");
    gw_session_free(&s);
    gw_logon(G, "alice", "alice-pw", "[\"MAPI_LOGOFF_SHARED\"]", &s);
    gw_assert_problem(&s.resp, 400, "MAPI_E_UNKNOWN_FLAGS");
    gw_session_free(&s);
    gw_logon(G, "alice", "alice-pw", "6", &s); /* 0x4 is no logon flag */
    gw_assert_problem(&s.resp, 400, "MAPI_E_UNKNOWN_FLAGS");
    gw_session_free(&s);
}

Test(sessions, per_profile_cap)
{
    const char *args[] = {"--max-sessions-per-profile", "2", NULL};
    start(args);
    gw_session a, b, c, d, e;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &b);
    gw_logon(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &c);
    gw_assert_problem(&c.resp, 429, "MAPI_E_SESSION_LIMIT");
    gw_session_free(&c);
    gw_logon_ok(G, "nopw", NULL, "[\"MAPI_NEW_SESSION\"]", &d);
    /* logging off frees a slot */
    char pa[256];
    snprintf(pa, sizeof pa, "/sessions/%s", a.id);
    gw_resp r;
    gw_delete(G, pa, a.token, &r);
    cr_expect_eq(r.status, 204);
    gw_resp_free(&r);
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &e);
    gw_session_free(&a);
    gw_session_free(&b);
    gw_session_free(&d);
    gw_session_free(&e);
}

Test(sessions, gateway_cap)
{
    const char *args[] = {"--max-sessions", "2", NULL};
    start(args);
    gw_session a, b, c;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    gw_logon_ok(G, "nopw", NULL, "[\"MAPI_NEW_SESSION\"]", &b);
    gw_logon(G, "bob", "bob-pw", "[\"MAPI_NEW_SESSION\"]", &c);
    gw_assert_problem(&c.resp, 503, "MAPI_E_NOT_ENOUGH_RESOURCES");
    gw_session_free(&a);
    gw_session_free(&b);
    gw_session_free(&c);
}

/* ---- concurrency: the profile's logon lock */

typedef struct {
    gw *g;
    const char *flags;
    gw_session s;
} logon_job;

static void *logon_thread(void *arg)
{
    logon_job *j = arg;
    gw_logon(j->g, "slow", "slow-pw", j->flags, &j->s);
    return NULL;
}

Test(sessions, timeout_short_while_logon_runs)
{
    const char *args[] = {"--logon-timeout-ms", "200", NULL};
    start(args);
    gw_add_secret(G, "slow-pw");
    logon_job a = {G, "[\"MAPI_NEW_SESSION\"]", {0}};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, logon_thread, &a), 0);
    gw_sleep_ms(300);
    /* If our logon wins the lock (A not yet there), it runs the slow check
     * itself and A queues behind it; the next try then meets A. */
    gw_session b;
    bool timed_out = false;
    for (int i = 0; i < 4 && !timed_out; i++) {
        gw_logon(G, "slow", "slow-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_TIMEOUT_SHORT\"]", &b);
        if (b.status == 503) {
            timed_out = true;
            gw_assert_problem(&b.resp, 503, "MAPI_E_TIMEOUT");
            const char *ra = gw_header(&b.resp, "Retry-After");
            cr_expect(ra && atoi(ra) >= 1, "Retry-After %s", ra ? ra : "(none)");
        } else {
            cr_expect_eq(b.status, 201, "TIMEOUT_SHORT logon: %ld %s", b.status, b.resp.body);
        }
        gw_session_free(&b);
    }
    pthread_join(t, NULL);
    cr_expect(timed_out, "MAPI_TIMEOUT_SHORT never got 503 while a slow logon held the lock");
    cr_expect_eq(a.s.status, 201, "the slow logon itself: %ld %s", a.s.status, a.s.resp.body);
    gw_session_free(&a.s);
}

Test(sessions, concurrent_logons_both_succeed)
{
    start(NULL);
    gw_add_secret(G, "slow-pw");
    logon_job a = {G, "[\"MAPI_NEW_SESSION\"]", {0}}, b = {G, "[\"MAPI_NEW_SESSION\"]", {0}};
    pthread_t ta, tb;
    cr_assert_eq(pthread_create(&ta, NULL, logon_thread, &a), 0);
    cr_assert_eq(pthread_create(&tb, NULL, logon_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_expect_eq(a.s.status, 201, "%ld %s", a.s.status, a.s.resp.body);
    cr_expect_eq(b.s.status, 201, "%ld %s", b.s.status, b.s.resp.body);
    if (a.s.status == 201 && b.s.status == 201)
        cr_expect_str_neq(a.s.id, b.s.id);
    gw_session_free(&a.s);
    gw_session_free(&b.s);
}

/* docs/contract/http.md 3.1: "Too many failed attempts: 429 with Retry-After". The contract
 * gives no threshold; 30 consecutive failures for one profile from one
 * client must be "too many". */
Test(sessions, failed_attempts_throttled)
{
    start(NULL);
    gw_session s;
    bool throttled = false;
    for (int i = 0; i < 30 && !throttled; i++) {
        char pw[32];
        snprintf(pw, sizeof pw, "guess-pw-%02d", i);
        gw_logon(G, "alice", pw, "[\"MAPI_NEW_SESSION\"]", &s);
        if (s.status == 429) {
            throttled = true;
            const char *ra = gw_header(&s.resp, "Retry-After");
            cr_expect(ra && atoi(ra) >= 1, "429 without Retry-After");
            cr_expect(s.resp.json && gw_jstr(s.resp.json, "mapi_error") &&
                          gw_jstr(s.resp.json, "mapi_code"),
                      "429 is not a MAPI problem: %s", s.resp.body);
        } else {
            cr_expect_eq(s.status, 401, "failed attempt %d: %ld", i, s.status);
        }
        gw_session_free(&s);
    }
    cr_expect(throttled, "30 failed logons in a row were never throttled (429)");
}
