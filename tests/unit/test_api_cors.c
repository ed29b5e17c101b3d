/* Unit suite "api", CORS and the latency histogram: api_set_cors parsing,
 * headers on allowed and other origins, preflights (no bearer needed, 403
 * for other origins, 404 on unknown paths) and the metrics text. api_handle
 * is called directly on the shared fixture (api_fixture.h). */
#include "api_fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN "http://127.0.0.1:5173"

static api_response call(const char *method, const char *path, const char *origin, const char *acrm,
                         const char *auth)
{
    api_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    req.origin = origin;
    req.ac_request_method = acrm;
    req.authorization = auth;
    req.body = "";
    req.client_addr = "127.0.0.1";
    api_response r;
    memset(&r, 0, sizeof r);
    api_handle(afx.api, &req, &r);
    return r;
}

Test(api, cors_origin_syntax)
{
    static const char *const good[] = {"http://127.0.0.1:5173", "https://example.com",
                                       "http://localhost", "http://[::1]:8080"};
    static const char *const bad[] = {
        "*",           "null",       "http://",         "ftp://x",     "http://x/",   "http://x:",
        "http://x:1a", "http://a b", "http://x:123456", "http://[]:1", "127.0.0.1:80"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect(api_cors_origin_ok(good[i], strlen(good[i])), "%s refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect(!api_cors_origin_ok(bad[i], strlen(bad[i])), "%s accepted", bad[i]);
    cr_expect(!api_set_cors(afx.api, ORIGIN ",http://x/"));
    cr_expect(api_set_cors(afx.api, " " ORIGIN " , ,https://b.example "));
    cr_expect(api_set_cors(afx.api, NULL));
}

Test(api, cors_off_by_default)
{
    api_response r = call("GET", "/healthz", ORIGIN, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_expect_null(afx_header(&r, "Access-Control-Allow-Origin"));
    cr_expect_null(afx_header(&r, "Vary"));
    api_response_clear(&r);
    /* Without configured origins a preflight is refused like any origin. */
    r = call("OPTIONS", "/sessions", ORIGIN, "POST", NULL);
    json_decref(afx_assert_problem(&r, 403, "MAPI_E_NO_ACCESS"));
    cr_expect_null(afx_header(&r, "Access-Control-Allow-Origin"));
    api_response_clear(&r);
}

Test(api, cors_allowed_origin_headers)
{
    cr_assert(api_set_cors(afx.api, "https://other.example, " ORIGIN));
    api_response r = call("GET", "/status", ORIGIN, NULL, NULL);
    json_decref(afx_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED"));
    cr_expect_str_eq(afx_header(&r, "Access-Control-Allow-Origin"), ORIGIN);
    cr_expect_str_eq(afx_header(&r, "Vary"), "Origin");
    const char *expose = afx_header(&r, "Access-Control-Expose-Headers");
    cr_assert_not_null(expose);
    cr_expect(strstr(expose, "Location") && strstr(expose, "ETag") &&
                  strstr(expose, "WWW-Authenticate") && strstr(expose, "Retry-After"),
              "expose: %s", expose);
    cr_expect_null(afx_header(&r, "Access-Control-Allow-Credentials"));
    api_response_clear(&r);

    /* Another origin, or none: Vary only. */
    r = call("GET", "/healthz", "http://127.0.0.1:5174", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_expect_null(afx_header(&r, "Access-Control-Allow-Origin"));
    cr_expect_str_eq(afx_header(&r, "Vary"), "Origin");
    api_response_clear(&r);
    r = call("GET", "/healthz", NULL, NULL, NULL);
    cr_expect_null(afx_header(&r, "Access-Control-Allow-Origin"));
    cr_expect_str_eq(afx_header(&r, "Vary"), "Origin");
    api_response_clear(&r);
}

Test(api, cors_preflight)
{
    cr_assert(api_set_cors(afx.api, ORIGIN));
    api_response r = call("OPTIONS", "/sessions", ORIGIN, "POST", NULL);
    cr_assert_eq(r.status, 204);
    cr_expect_eq(r.body_len, 0);
    cr_expect_str_eq(afx_header(&r, "Access-Control-Allow-Origin"), ORIGIN);
    cr_expect_str_eq(afx_header(&r, "Access-Control-Allow-Methods"), "DELETE, GET, HEAD, POST");
    cr_expect_str_eq(afx_header(&r, "Access-Control-Allow-Headers"),
                     "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id");
    cr_expect_str_eq(afx_header(&r, "Access-Control-Max-Age"), "600");
    cr_expect_str_eq(afx_header(&r, "Vary"), "Origin");
    cr_expect_str_eq(r.route, "/sessions");
    api_response_clear(&r);

    /* A bearer route needs no bearer for its preflight. */
    r = call("OPTIONS", "/sessions/abc", ORIGIN, "DELETE", NULL);
    cr_assert_eq(r.status, 204);
    cr_expect_str_eq(afx_header(&r, "Access-Control-Allow-Methods"), "DELETE, GET, HEAD");
    api_response_clear(&r);
    /* Profile administration's methods (PATCH, PUT) are listed too. */
    r = call("OPTIONS", "/profiles/p", ORIGIN, "PATCH", NULL);
    cr_assert_eq(r.status, 204);
    cr_expect_str_eq(afx_header(&r, "Access-Control-Allow-Methods"), "DELETE, GET, HEAD, PATCH");
    api_response_clear(&r);
    r = call("OPTIONS", "/profiles/p/password", ORIGIN, "PUT", NULL);
    cr_assert_eq(r.status, 204);
    cr_expect_str_eq(afx_header(&r, "Access-Control-Allow-Methods"), "PUT");
    api_response_clear(&r);

    r = call("OPTIONS", "/sessions", "http://evil.example", "POST", NULL);
    json_decref(afx_assert_problem(&r, 403, "MAPI_E_NO_ACCESS"));
    cr_expect_null(afx_header(&r, "Access-Control-Allow-Origin"));
    cr_expect_null(afx_header(&r, "Access-Control-Allow-Methods"));
    api_response_clear(&r);

    r = call("OPTIONS", "/nope", ORIGIN, "GET", NULL);
    json_decref(afx_assert_problem(&r, 404, "MAPI_E_NOT_FOUND"));
    api_response_clear(&r);

    /* OPTIONS that is no preflight (no Access-Control-Request-Method). */
    r = call("OPTIONS", "/sessions", ORIGIN, NULL, NULL);
    json_decref(afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    api_response_clear(&r);
}

Test(api, metrics_histogram_and_providers)
{
    afx_logon_p();
    api_response r = call("GET", "/healthz", NULL, NULL, NULL);
    api_response_clear(&r);
    r = call("GET", "/metrics", NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    char *text = strndup(r.body, r.body_len);
    cr_assert_not_null(text);
    static const char *const want[] = {
        "# TYPE mapigw_http_request_duration_seconds histogram\n",
        "mapigw_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.001\"} ",
        "mapigw_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 1\n",
        "mapigw_http_request_duration_seconds_count{route=\"/healthz\"} 1\n",
        "mapigw_http_request_duration_seconds_sum{route=\"/healthz\"} ",
        "# TYPE mapigw_provider_status gauge\n",
        "mapigw_provider_status{kind=\"abfile\",state=\"available\"} 1\n",
        "mapigw_provider_status{kind=\"imap\",state=\"failure\"} 0\n",
        "mapigw_sessions 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(text, want[i]) != NULL, "no %s in\n%s", want[i], text);
    free(text);
    api_response_clear(&r);
}
