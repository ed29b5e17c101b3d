/* Unit suite "api", routing and operations: unknown paths and methods,
 * HEAD, bearer challenges, /healthz, /metrics, /openapi.yaml, and
 * well-formed answers when jansson runs out of memory. api_handle is called
 * directly on the shared fixture (api_fixture.h). */
#include "api_fixture.h"
#include "../../api/api_internal.h"
#include "../../server/config.h"
#include "../../session-core/mapi_flags.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- routing ------------------------------------------------------------ */

Test(api, unknown_paths_are_404)
{
    afx_expect_problem((rq){.method = "GET", .path = "/nope"}, 404, "MAPI_E_NOT_FOUND");
    afx_expect_problem((rq){.method = "GET", .path = "/"}, 404, "MAPI_E_NOT_FOUND");
    afx_expect_problem((rq){.method = "GET", .path = "/healthz/"}, 404, "MAPI_E_NOT_FOUND");
    afx_expect_problem((rq){.method = "GET", .path = "//healthz"}, 404, "MAPI_E_NOT_FOUND");
    afx_expect_problem((rq){.method = "GET", .path = "/sessions//x"}, 404, "MAPI_E_NOT_FOUND");
    afx_expect_problem((rq){.method = "GET", .path = "/status/a/b/c"}, 404, "MAPI_E_NOT_FOUND");
}

Test(api, wrong_method_is_405_with_allow)
{
    api_response r = afx_call((rq){.method = "PUT", .path = "/sessions"});
    json_decref(afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    cr_assert_str_eq(afx_header(&r, "Allow"), "DELETE, GET, HEAD, POST");
    cr_assert_str_eq(r.route, "/sessions");
    api_response_clear(&r);

    r = afx_call((rq){.method = "POST", .path = "/sessions/abc"});
    json_decref(afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    cr_assert_str_eq(afx_header(&r, "Allow"), "DELETE, GET, HEAD");
    api_response_clear(&r);

    r = afx_call((rq){.method = "DELETE", .path = "/healthz"});
    json_decref(afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    cr_assert_str_eq(afx_header(&r, "Allow"), "GET, HEAD");
    api_response_clear(&r);
}

/* /entries/compare is a resource of its own, not an entry
 * id; any other method on it is 405 with its Allow, never an OpenEntry. */
Test(api, fixed_path_beats_template)
{
    afx_logon_p();
    const char *methods[] = {"GET", "HEAD", "DELETE", "PUT"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        api_response r =
            afx_call((rq){.method = methods[i], .path = "/entries/compare", .auth = afx.bearer});
        json_decref(afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
        cr_assert_str_eq(afx_header(&r, "Allow"), "POST", "%s /entries/compare", methods[i]);
        cr_assert_str_eq(r.route, "/entries/compare");
        api_response_clear(&r);
    }
    /* The template still serves every other segment. */
    api_response r = afx_call((rq){.method = "GET", .path = "/entries/zz", .auth = afx.bearer});
    json_decref(afx_assert_problem(&r, 400, "MAPI_E_INVALID_ENTRYID"));
    cr_assert_str_eq(r.route, "/entries/{eid}");
    api_response_clear(&r);
    r = afx_call((rq){.method = "POST", .path = "/entries/zz", .auth = afx.bearer});
    json_decref(afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    cr_assert_str_eq(afx_header(&r, "Allow"), "GET, HEAD");
    api_response_clear(&r);
}

/* Every route of the table, with every method: the path is owned by its own
 * pattern (the route label says which), never by a templated pattern that
 * happens to match it too. A template is filled with "x0" (a fixed pattern
 * of the same shape then owns it, when there is one). */
Test(api, every_route_owns_its_path)
{
    const char *methods[] = {"GET", "POST", "DELETE", "PUT"};
    size_t checked = 0;
    for (size_t slot = 0; slot + 1 < api_route_slots(); slot++) {
        const char *pattern = api_route_label(slot);
        if (strchr(pattern, '{'))
            continue;
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            api_response r = afx_call((rq){.method = methods[m], .path = pattern});
            cr_expect_str_eq(r.route, pattern, "%s %s was routed to %s (status %d)", methods[m],
                             pattern, r.route, r.status);
            api_response_clear(&r);
            checked++;
        }
    }
    cr_assert_gt(checked, 40u);
}

Test(api, head_is_answered_as_get)
{
    api_response g = afx_call((rq){.method = "GET", .path = "/healthz"});
    api_response r = afx_call((rq){.method = "HEAD", .path = "/healthz"});
    cr_assert_eq(r.status, 200);
    /* The body stays so that Content-Length matches GET; the server drops it. */
    cr_assert_eq(r.body_len, g.body_len);
    api_response_clear(&r);
    api_response_clear(&g);
}

/* ---- bearer ------------------------------------------------------------- */

Test(api, missing_and_invalid_bearer)
{
    api_response r = afx_call((rq){.method = "GET", .path = "/status"});
    json_decref(afx_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED"));
    cr_assert_str_eq(afx_header(&r, "WWW-Authenticate"), "Bearer realm=\"mapigw\"");
    api_response_clear(&r);

    r = afx_call((rq){.method = "GET", .path = "/status", .auth = "Basic dXNlcjpwdw=="});
    json_decref(afx_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED"));
    cr_assert_str_eq(afx_header(&r, "WWW-Authenticate"), "Bearer realm=\"mapigw\"");
    api_response_clear(&r);

    const char *bad[] = {"Bearer mgw_nope", "Bearer x",
                         "bearer   mgw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA  "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = afx_call((rq){.method = "GET", .path = "/identity", .auth = bad[i]});
        json_decref(afx_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION"));
        cr_assert_str_eq(afx_header(&r, "WWW-Authenticate"),
                         "Bearer realm=\"mapigw\", error=\"invalid_token\"");
        api_response_clear(&r);
    }
}

Test(api, bearer_scheme_case_and_spaces)
{
    afx_logon_p();
    char h[200];
    snprintf(h, sizeof h, "bEaReR   %s  ", afx.token);
    api_response r = afx_call((rq){.method = "GET", .path = "/identity", .auth = h});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
    /* Never from the query string. */
    api_kv q[] = {{"access_token", afx.token}};
    r = afx_call((rq){.method = "GET", .path = "/identity", .query = q, .nquery = 1});
    cr_assert_eq(r.status, 401);
    api_response_clear(&r);
}

/* ---- operations --------------------------------------------------------- */

Test(api, healthz_metrics_openapi)
{
    api_response r = afx_call((rq){.method = "GET", .path = "/healthz"});
    cr_assert_eq(r.status, 200);
    json_t *j = afx_json(&r);
    cr_assert_str_eq(afx_jstr(j, "status"), "ok");
    cr_assert_str_eq(afx_jstr(j, "version"), "9.9.9");
    json_decref(j);
    api_response_clear(&r);

    afx_logon_p();
    afx_expect_problem((rq){.method = "GET", .path = "/nowhere"}, 404, "MAPI_E_NOT_FOUND");
    r = afx_call((rq){.method = "GET", .path = "/metrics"});
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    char *text = strndup(r.body, r.body_len);
    cr_assert_not_null(strstr(text, "\nmapigw_sessions 1\n"), "%s", text);
    cr_assert_not_null(strstr(text, "\nmapigw_handles 1\n"));
    cr_assert_not_null(strstr(text, "mapigw_logons_total{result=\"ok\"} 1\n"));
    cr_assert_not_null(strstr(text, "mapigw_logons_total{result=\"failed\"} 0\n"));
    cr_assert_not_null(
        strstr(text, "mapigw_http_requests_total{route=\"/sessions\",status=\"201\"} 1\n"));
    cr_assert_not_null(
        strstr(text, "mapigw_http_requests_total{route=\"/healthz\",status=\"200\"} 1\n"));
    cr_assert_not_null(
        strstr(text, "mapigw_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
    free(text);
    api_response_clear(&r);

    afx_expect_problem((rq){.method = "GET", .path = "/openapi.yaml"}, 404, "MAPI_E_NOT_FOUND");
}

Test(api, openapi_served_when_configured)
{
    static const char yaml[] = "openapi: 3.1.0\n";
    config defaults;
    cr_assert(config_defaults(&defaults));
    api_config cfg = defaults.api;
    cfg.max_body_bytes = 1024;
    cfg.openapi_yaml = yaml;
    cfg.openapi_yaml_len = sizeof yaml - 1;
    cfg.version = "1";
    api *b = api_new(afx.core, &cfg);
    cr_assert_not_null(b);
    api_request req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.path = "/openapi.yaml";
    api_response r;
    api_handle(b, &req, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "application/yaml");
    cr_assert_eq(r.body_len, sizeof yaml - 1);
    cr_assert_eq(memcmp(r.body, yaml, r.body_len), 0);
    api_response_clear(&r);
    /* Admin endpoints are off without a key. */
    req.path = "/sessions";
    req.authorization = "Bearer " ADMIN_KEY;
    api_handle(b, &req, &r);
    cr_assert_eq(r.status, 403);
    api_response_clear(&r);
    api_free(b);
}

/* ---- out of memory ------------------------------------------------------ */

/* jansson's allocator fails after `budget` allocations: every JSON building
 * step of the api then meets a failure somewhere, and each answer must still
 * be a well-formed response (the normal one, or the 503 problem). It wraps
 * the fixture's allocator (secmem), whose free releases every block. */
static long budget = -1;
static json_malloc_t real_malloc;

static void *failing_malloc(size_t n)
{
    if (budget == 0)
        return NULL;
    if (budget > 0)
        budget--;
    return real_malloc(n);
}

Test(api, out_of_memory_answers_503)
{
    afx_logon_p();
    char ik[17], path[64];
    afx_row_key(MAPI_SUBSYSTEM, ik);
    snprintf(path, sizeof path, "/status/%s/validate-state", ik);
    json_free_t real_free;
    json_get_alloc_funcs(&real_malloc, &real_free);
    json_set_alloc_funcs(failing_malloc, real_free);
    const rq reqs[] = {
        {.method = "GET", .path = "/status", .auth = afx.bearer},
        {.method = "GET", .path = "/identity", .auth = afx.bearer},
        {.method = "GET", .path = "/nope"},
        {.method = "POST",
         .path = path,
         .auth = afx.bearer,
         .ctype = "application/json",
         .body = "{\"flags\":[\"SUPPRESS_UI\"]}"},
        {.method = "POST",
         .path = "/sessions",
         .ctype = "application/json",
         .body = "{\"profile\":\"bare\",\"flags\":[\"MAPI_NEW_SESSION\"]}"},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        bool saw_503 = false;
        for (long n = 0; n < 400; n++) {
            budget = n;
            api_response r = afx_call(reqs[i]);
            budget = -1;
            if (r.status == 503) {
                saw_503 = true;
                cr_assert_str_eq(r.content_type, "application/problem+json");
                cr_assert_str_eq(r.mapi_error, "MAPI_E_NOT_ENOUGH_MEMORY");
                json_t *j = afx_json(&r);
                cr_assert_str_eq(afx_jstr(j, "mapi_code"), "0x8007000E");
                json_decref(j);
            } else {
                cr_assert(r.status < 500, "%s %s with %ld allocations: %d", reqs[i].method,
                          reqs[i].path, n, r.status);
            }
            api_response_clear(&r);
        }
        cr_assert(saw_503, "%s %s never ran out of memory", reqs[i].method, reqs[i].path);
    }
    json_set_alloc_funcs(real_malloc, real_free);
}
