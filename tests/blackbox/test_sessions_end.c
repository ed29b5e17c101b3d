/* Black-box suite "sessions", how a session ends: DELETE /sessions/<id>
 * (its flags, another session's id, the token dead afterwards), the idle
 * timeout and the absolute lifetime. docs/contract/http.md 3,
 * docs/contract/mapi.md 2.7; shared sessions and MAPI_LOGOFF_SHARED are in
 * test_sessions_shared.c, logon rules in test_sessions_logon.c. */
#include "sessions_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(sessions, logoff_unknown_flags_rejected)
{
    start(NULL);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    const char *queries[] = {"?flags=MAPI_BOGUS", "?flags=4", "?flags=MAPI_NEW_SESSION"};
    for (size_t i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, "/sessions/%s%s", a.id, queries[i]);
        gw_resp r;
        gw_delete(G, path, a.token, &r);
        gw_assert_problem(&r, 400, "MAPI_E_UNKNOWN_FLAGS");
        gw_resp_free(&r);
        cr_expect_eq(get_status(a.token), 200, "session ended by a rejected logoff (%s)",
                     queries[i]);
    }
    /* LOGOFF_UI is accepted and ignored */
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s?flags=MAPI_LOGOFF_UI", a.id);
    gw_resp r;
    gw_delete(G, path, a.token, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    expect_dead(a.token, "/status");
    gw_session_free(&a);
}

Test(sessions, delete_other_session_404)
{
    start(NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &b);
    char pb[256], pa[256];
    snprintf(pb, sizeof pb, "/sessions/%s", b.id);
    snprintf(pa, sizeof pa, "/sessions/%s", a.id);
    gw_resp r;
    gw_delete(G, pb, a.token, &r);
    gw_assert_problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    gw_get(G, pb, a.token, &r);
    gw_assert_problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    cr_expect_eq(get_status(b.token), 200, "B was ended by A's DELETE");
    gw_delete(G, pa, a.token, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    gw_delete(G, pa, a.token, &r);
    assert_end_of_session(&r);
    gw_resp_free(&r);
    cr_expect_eq(get_status(b.token), 200);
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(sessions, token_dead_after_delete)
{
    start(NULL);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    cr_assert_eq(get_status(a.token), 200);
    char pa[256];
    snprintf(pa, sizeof pa, "/sessions/%s", a.id);
    gw_resp r;
    gw_delete(G, pa, a.token, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    cr_expect_eq(r.body_len, 0u, "204 with a body");
    gw_resp_free(&r);
    expect_dead(a.token, "/status");
    expect_dead(a.token, "/identity");
    expect_dead(a.token, pa);
    gw_session_free(&a);
}

Test(sessions, idle_timeout_ends_session)
{
    /* At least 2 s, stretched with the run: the first GET /status must come
     * within the idle timeout of the logon, which a loaded or instrumented
     * machine can delay by more than a second (seen once in a parallel run). */
    int idle_s = gw_ms(2000) / 1000;
    char idle_arg[16];
    snprintf(idle_arg, sizeof idle_arg, "%d", idle_s);
    const char *args[] = {"--idle-timeout", idle_arg, "--reap-interval", "1", NULL};
    start(args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    json_t *idle = json_object_get(a.resp.json, "idle_timeout_s");
    cr_expect(json_is_integer(idle) && json_integer_value(idle) == idle_s, "%s", a.resp.body);
    cr_expect_eq(get_status(a.token), 200);
    /* idle (whole seconds: up to one more) and one reap tick */
    gw_sleep_ms(idle_s * 1000 + 1000 + gw_ms(1200));
    expect_dead(a.token, "/status");
    gw_session_free(&a);
}

Test(sessions, lifetime_ends_busy_session)
{
    /* At least 2 s, stretched with the run: the first GET /status must come
     * within the lifetime of the logon. */
    char lifetime[16];
    snprintf(lifetime, sizeof lifetime, "%d", gw_ms(2000) / 1000);
    const char *args[] = {"--lifetime", lifetime, "--reap-interval", "1", NULL};
    start(args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    cr_expect_eq(get_status(a.token), 200);
    /* keep it busy; it must still end (bounded wait) */
    long st = 200;
    for (int waited = 0; waited < gw_ms(2000) + gw_ms(5500) && st == 200; waited += 250) {
        gw_sleep_ms(250);
        st = get_status(a.token);
    }
    cr_expect_eq(st, 401, "a busy session outlived its %s s lifetime by seconds", lifetime);
    if (st == 401)
        expect_dead(a.token, "/status");
    gw_session_free(&a);
}
