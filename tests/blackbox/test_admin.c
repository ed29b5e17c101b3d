/* Black-box suite "admin": the admin key - what it opens (GET /sessions
 * lists every session without tokens, DELETE /sessions/<id> ends any; a
 * session token opens neither, and without a key the admin endpoints are
 * off) and where it comes from (--admin-key, --admin-key-file and their
 * MAPIGW_* twins: a file's trailing newline dropped, checked like the flag,
 * never echoed; bad files refused at start). */
#include "../support/gw.h"

#include <criterion/criterion.h>
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

TestSuite(admin, .fini = fini_gw, .timeout = 120);

#define KEY "k3y-from-a-file-0123456789abcdef0123456789"

/* ------------------------------------------------------ what the key opens */

Test(admin, admin_endpoints_off)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_resp r;
    gw_get(G, "/sessions", s.token, &r);
    gw_assert_problem(&r, 403, "MAPI_E_NO_ACCESS");
    cr_expect(strstr(r.body, s.id) == NULL, "session list leaked");
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(admin, admin_key_lists_and_ends_sessions)
{
    const char *key = "test-admin-key-0123456789abcdefghijklmnop";
    const char *args[] = {"--admin-key", key, NULL};
    G = gw_start("main.json", args);
    gw_add_secret(G, key);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[]", &b);
    gw_resp r;
    gw_get(G, "/sessions", a.token, &r); /* a session token is no admin key */
    gw_assert_problem(&r, 403, "MAPI_E_NO_ACCESS");
    gw_resp_free(&r);
    gw_get(G, "/sessions", key, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *c = json_object_get(r.json, "count");
    cr_expect(json_is_integer(c) && json_integer_value(c) == 1, "%s", r.body);
    cr_expect(strstr(r.body, a.token + 4) == NULL && strstr(r.body, b.token + 4) == NULL,
              "admin listing shows tokens");
    gw_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", a.id);
    gw_delete(G, path, key, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    gw_get(G, "/status", b.token, &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    gw_delete(G, path, key, &r);
    gw_assert_problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    gw_session_free(&a);
    gw_session_free(&b);
}

/* ------------------------------------------------ where the key comes from */

/* GET /sessions with the admin key: 200 (admin endpoints on). */
static void expect_admin(const char *key)
{
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    const char *const h[] = {auth, NULL};
    gw_resp r;
    gw_request(G, "GET", "/sessions", h, NULL, &r);
    cr_expect_eq(r.status, 200, "GET /sessions with the key from the file: %ld %s", r.status,
                 r.body);
    gw_resp_free(&r);
}

Test(admin, admin_key_from_a_file)
{
    /* The flag, with the newline `echo` leaves. */
    const char *path = gw_test_file("admin_key", KEY "\n");
    const char *const args[] = {"--admin-key-file", path, NULL};
    G = gw_start("main.json", args);
    gw_add_secret(G, KEY);
    expect_admin(KEY);
    gw_finish(G);

    /* The variable, a container secret's usual form (CRLF too). */
    path = gw_test_file("admin_key2", KEY "\r\n");
    cr_assert_eq(setenv("MAPIGW_ADMIN_KEY_FILE", path, 1), 0);
    G = gw_start("main.json", NULL);
    gw_add_secret(G, KEY);
    expect_admin(KEY);
    gw_finish(G);

    /* A flag beats the other kind's variable: --admin-key wins over
     * MAPIGW_ADMIN_KEY_FILE. */
    const char *const flag[] = {"--admin-key", "another-key-0123456789abcdef-0123456789", NULL};
    G = gw_start("main.json", flag);
    gw_add_secret(G, KEY);
    gw_add_secret(G, "another-key-0123456789abcdef-0123456789");
    expect_admin("another-key-0123456789abcdef-0123456789");
    unsetenv("MAPIGW_ADMIN_KEY_FILE");
}

Test(admin, bad_admin_key_files_are_refused)
{
    const char *shortkey = gw_test_file("short", "too-short\n");
    const char *const a1[] = {"--admin-key-file", shortkey, NULL};
    const char *const n1[] = {"--admin-key-file", "at least 32 characters", NULL};
    gw_expect_start_refused("main.json", a1, n1);

    const char *const a2[] = {"--admin-key-file", "/nonexistent/mapigw-admin-key", NULL};
    const char *const n2[] = {"--admin-key-file", "cannot read", NULL};
    gw_expect_start_refused("main.json", a2, n2);

    const char *empty = gw_test_file("empty", "\n");
    const char *const a3[] = {"--admin-key-file", empty, NULL};
    const char *const n3[] = {"empty", NULL};
    gw_expect_start_refused("main.json", a3, n3);

    const char *good = gw_test_file("good", KEY);
    const char *const a4[] = {"--admin-key-file", good, "--admin-key", KEY, NULL};
    const char *const n4[] = {"give the admin key once", NULL};
    gw_expect_start_refused("main.json", a4, n4);
}
