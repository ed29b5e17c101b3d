/* Black-box suite "sessions", shared sessions: MAPI_ALLOW_OTHERS and
 * joining (by name and nameless), a member's plain logoff and
 * MAPI_LOGOFF_SHARED. docs/contract/http.md 3, docs/contract/mapi.md 2.3, 2.7
 * and conformance tests 4-30; logon rules are in test_sessions_logon.c, how
 * a session ends (logoff, idle timeout, lifetime) in test_sessions_end.c. */
#include "sessions_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(sessions, shared_join_same_profile)
{
    start(NULL);
    gw_session a, b, w;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    cr_expect(json_is_true(json_object_get(a.resp.json, "shared")), "%s", a.resp.body);
    cr_expect(json_is_false(json_object_get(a.resp.json, "joined")));
    /* joining still needs the password */
    gw_logon(G, "alice", "wrong-pw-2", "[]", &w);
    gw_assert_problem(&w.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_logon_ok(G, "alice", "alice-pw", "[]", &b);
    cr_expect(json_is_true(json_object_get(b.resp.json, "joined")), "%s", b.resp.body);
    cr_expect(json_is_true(json_object_get(b.resp.json, "shared")), "%s", b.resp.body);
    cr_expect_str_eq(b.id, a.id);
    cr_expect_str_neq(b.token, a.token);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", a.id);
    gw_resp r;
    cr_assert_eq(gw_get(G, path, a.token, &r), 200, "%s", r.body);
    json_t *h = json_object_get(r.json, "handles");
    cr_expect(json_is_integer(h) && json_integer_value(h) == 2, "handles: %s", r.body);
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, path, b.token, &r), 200, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&a);
    gw_session_free(&b);
    gw_session_free(&w);
}

Test(sessions, shared_join_other_profile_not_joined)
{
    start(NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    /* shared sessions are per profile: bob gets his own session */
    gw_logon_ok(G, "bob", "bob-pw", "[]", &b);
    cr_expect(json_is_false(json_object_get(b.resp.json, "joined")), "%s", b.resp.body);
    cr_expect_str_neq(b.id, a.id);
    cr_expect_str_eq(gw_jstr(b.resp.json, "profile"), "bob");
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(sessions, null_name_joins_the_shared_session)
{
    start(NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    gw_logon_ok(G, NULL, "alice-pw", "[]", &b);
    cr_expect(json_is_true(json_object_get(b.resp.json, "joined")), "%s", b.resp.body);
    cr_expect_str_eq(b.id, a.id);
    cr_expect_str_eq(gw_jstr(b.resp.json, "profile"), "alice");
    cr_expect_eq(get_status(b.token), 200);
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(sessions, null_name_without_shared_fails)
{
    start(NULL);
    gw_session a, b;
    gw_logon(G, NULL, "alice-pw", "[]", &b);
    gw_assert_problem(&b.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&b);
    /* an unshared session is not joinable */
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    gw_logon(G, NULL, "alice-pw", "[]", &b);
    gw_assert_problem(&b.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&b);
    gw_session_free(&a);
}

Test(sessions, member_plain_logoff_leaves_others)
{
    start(NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[]", &b);
    cr_assert_str_eq(a.id, b.id);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", b.id);
    gw_resp r;
    gw_delete(G, path, b.token, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    expect_dead(b.token, "/status");
    cr_expect_eq(get_status(a.token), 200);
    gw_session_free(&a);
    gw_session_free(&b);
}

static void logoff_shared_case(const char *query)
{
    start(NULL);
    gw_session a, b, c;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[]", &b);
    cr_assert_str_eq(a.id, b.id);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s%s", b.id, query);
    gw_resp r;
    gw_delete(G, path, b.token, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    expect_dead(a.token, "/status");
    expect_dead(b.token, "/status");
    expect_dead(a.token, "/identity");
    /* the shared session is gone: a new logon does not join it */
    gw_logon_ok(G, "alice", "alice-pw", "[]", &c);
    cr_expect(json_is_false(json_object_get(c.resp.json, "joined")), "%s", c.resp.body);
    cr_expect_str_neq(c.id, a.id);
    gw_session_free(&a);
    gw_session_free(&b);
    gw_session_free(&c);
}

Test(sessions, logoff_shared_ends_every_handle) { logoff_shared_case("?flags=MAPI_LOGOFF_SHARED"); }

Test(sessions, logoff_shared_as_bit_value) { logoff_shared_case("?flags=1"); }

Test(sessions, logoff_shared_on_unshared_is_plain)
{
    start(NULL);
    gw_session a, o;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &o);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s?flags=MAPI_LOGOFF_SHARED", a.id);
    gw_resp r;
    gw_delete(G, path, a.token, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    expect_dead(a.token, "/status");
    cr_expect_eq(get_status(o.token), 200);
    gw_session_free(&a);
    gw_session_free(&o);
}

Test(sessions, null_name_with_two_shared_sessions_fails)
{
    start(NULL);
    gw_session a, b, n;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    gw_logon_ok(G, "bob", "bob-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &b);
    cr_expect(json_is_true(json_object_get(b.resp.json, "shared")), "%s", b.resp.body);
    /* not exactly one shared session: no "the shared session" to join */
    gw_logon(G, NULL, "alice-pw", "[]", &n);
    gw_assert_problem(&n.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&n);
    /* a second ALLOW_OTHERS session of a profile stays private */
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &n);
    cr_expect(json_is_false(json_object_get(n.resp.json, "shared")), "%s", n.resp.body);
    cr_expect_str_neq(n.id, a.id);
    gw_session_free(&n);
    gw_logon_ok(G, "alice", "alice-pw", "[]", &n);
    cr_expect_str_eq(n.id, a.id, "a join went to the wrong session");
    gw_session_free(&n);
    gw_session_free(&a);
    gw_session_free(&b);
}
