/* sessions_fixture.h - the shared fixture of the black-box "sessions" suite
 * (test_sessions_*.c). The suite itself is defined once, in
 * sessions_fixture.c (criterion matches tests to suites by name); its .fini
 * finishes G, the gateway the running test started. Criterion runs each test
 * in its own process, so G is never shared between tests. */
#pragma once

#include "../support/gw.h"

#include <criterion/criterion.h>
#include <string.h>

/* The gateway of the running test; gw_finish'ed by the suite's .fini. */
extern gw *G;

/* Starts the gateway on main.json with extra arguments args (or NULL). */
static inline gw *start(const char *const *args)
{
    G = gw_start("main.json", args);
    return G;
}

/* The HTTP status of GET /status with token. */
static inline long get_status(const char *token)
{
    gw_resp r;
    long st = gw_get(G, "/status", token, &r);
    gw_resp_free(&r);
    return st;
}

/* A 401 MAPI_E_END_OF_SESSION with an invalid_token bearer challenge. */
static inline void assert_end_of_session(const gw_resp *r)
{
    gw_assert_problem(r, 401, "MAPI_E_END_OF_SESSION");
    const char *wa = gw_header(r, "WWW-Authenticate");
    cr_expect(wa && strstr(wa, "Bearer") && strstr(wa, "realm=\"mapigw\"") &&
                  strstr(wa, "error=\"invalid_token\""),
              "WWW-Authenticate: %s", wa ? wa : "(none)");
}

/* GET path with token answers assert_end_of_session. */
static inline void expect_dead(const char *token, const char *path)
{
    gw_resp r;
    gw_get(G, path, token, &r);
    assert_end_of_session(&r);
    gw_resp_free(&r);
}
