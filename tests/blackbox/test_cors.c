/* Black-box: CORS (DECISIONS.md "CORS") over real HTTP with libcurl:
 * --cors-origins and MAPIGW_CORS_ORIGINS, preflights, the headers on
 * answers to allowed and other origins, and no CORS headers by default. */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN "http://127.0.0.1:5173"

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(cors, .fini = fini_gw, .timeout = 60);

static const char *const CORS_ARGS[] = {"--cors-origins", "https://a.example," ORIGIN, NULL};

Test(cors, preflight_allowed_origin)
{
    G = gw_start("main.json", CORS_ARGS);
    const char *const h[] = {"Origin: " ORIGIN, "Access-Control-Request-Method: POST",
                             "Access-Control-Request-Headers: content-type", NULL};
    gw_resp r;
    cr_assert_eq(gw_request(G, "OPTIONS", "/sessions", h, NULL, &r), 204, "%s", r.body);
    cr_expect_str_eq(gw_header(&r, "Access-Control-Allow-Origin"), ORIGIN);
    cr_expect_str_eq(gw_header(&r, "Access-Control-Allow-Methods"), "DELETE, GET, HEAD, POST");
    const char *ah = gw_header(&r, "Access-Control-Allow-Headers");
    cr_assert_not_null(ah);
    cr_expect(strstr(ah, "Authorization") && strstr(ah, "Content-Type"), "allow-headers %s", ah);
    cr_expect_str_eq(gw_header(&r, "Access-Control-Max-Age"), "600");
    cr_expect_str_eq(gw_header(&r, "Vary"), "Origin");
    cr_expect_null(gw_header(&r, "Access-Control-Allow-Credentials"));
    gw_resp_free(&r);

    /* A bearer route: the preflight itself needs no token. */
    const char *const h2[] = {"Origin: " ORIGIN, "Access-Control-Request-Method: GET",
                              "Access-Control-Request-Headers: authorization", NULL};
    cr_assert_eq(gw_request(G, "OPTIONS", "/status", h2, NULL, &r), 204, "%s", r.body);
    cr_expect_str_eq(gw_header(&r, "Access-Control-Allow-Methods"), "GET, HEAD");
    gw_resp_free(&r);

    cr_assert_eq(gw_request(G, "OPTIONS", "/no/such/path", h2, NULL, &r), 404, "%s", r.body);
    gw_assert_problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
}

Test(cors, preflight_other_origin_refused)
{
    G = gw_start("main.json", CORS_ARGS);
    const char *const h[] = {"Origin: http://127.0.0.1:9999", "Access-Control-Request-Method: POST",
                             NULL};
    gw_resp r;
    cr_assert_eq(gw_request(G, "OPTIONS", "/sessions", h, NULL, &r), 403, "%s", r.body);
    gw_assert_problem(&r, 403, "MAPI_E_NO_ACCESS");
    cr_expect_null(gw_header(&r, "Access-Control-Allow-Origin"));
    cr_expect_null(gw_header(&r, "Access-Control-Allow-Methods"));
    gw_resp_free(&r);
}

Test(cors, bearer_flow_from_allowed_origin)
{
    G = gw_start("main.json", CORS_ARGS);
    const char *const h[] = {"Origin: " ORIGIN, NULL};
    gw_resp r;
    cr_assert_eq(gw_request(G, "POST", "/sessions", h,
                            "{\"profile\":\"alice\",\"password\":\"alice-pw\","
                            "\"flags\":[\"MAPI_NEW_SESSION\"]}",
                            &r),
                 201, "%s", r.body);
    gw_add_secret(G, "alice-pw");
    cr_expect_str_eq(gw_header(&r, "Access-Control-Allow-Origin"), ORIGIN);
    const char *expose = gw_header(&r, "Access-Control-Expose-Headers");
    cr_assert_not_null(expose);
    cr_expect(strstr(expose, "Location") && strstr(expose, "ETag"), "expose %s", expose);
    cr_expect_str_eq(gw_header(&r, "Vary"), "Origin");
    const char *token = gw_jstr(r.json, "token");
    cr_assert_not_null(token);
    gw_add_secret(G, token);
    char auth[200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    gw_resp_free(&r);

    const char *const h2[] = {"Origin: " ORIGIN, auth, NULL};
    cr_assert_eq(gw_request(G, "GET", "/identity", h2, NULL, &r), 200, "%s", r.body);
    cr_expect_str_eq(gw_header(&r, "Access-Control-Allow-Origin"), ORIGIN);
    gw_resp_free(&r);

    /* Another origin gets the answer but no Access-Control-Allow-Origin, so
     * a browser hides it from the page. */
    const char *const h3[] = {"Origin: https://evil.example", auth, NULL};
    cr_assert_eq(gw_request(G, "GET", "/status", h3, NULL, &r), 200, "%s", r.body);
    cr_expect_null(gw_header(&r, "Access-Control-Allow-Origin"));
    cr_expect_str_eq(gw_header(&r, "Vary"), "Origin");
    gw_resp_free(&r);
}

Test(cors, environment_twin)
{
    setenv("MAPIGW_CORS_ORIGINS", ORIGIN, 1);
    G = gw_start("main.json", NULL);
    unsetenv("MAPIGW_CORS_ORIGINS");
    const char *const h[] = {"Origin: " ORIGIN, NULL};
    gw_resp r;
    cr_assert_eq(gw_request(G, "GET", "/healthz", h, NULL, &r), 200, "%s", r.body);
    cr_expect_str_eq(gw_header(&r, "Access-Control-Allow-Origin"), ORIGIN);
    gw_resp_free(&r);
}

Test(cors, off_by_default)
{
    G = gw_start("main.json", NULL);
    const char *const h[] = {"Origin: " ORIGIN, "Access-Control-Request-Method: GET", NULL};
    gw_resp r;
    cr_assert_eq(gw_request(G, "GET", "/healthz", h, NULL, &r), 200, "%s", r.body);
    for (size_t i = 0; i < r.nheaders; i++)
        cr_expect(strncasecmp(r.hname[i], "Access-Control-", 15) != 0, "header %s", r.hname[i]);
    cr_expect_null(gw_header(&r, "Vary"));
    gw_resp_free(&r);
    cr_assert_eq(gw_request(G, "OPTIONS", "/healthz", h, NULL, &r), 403, "%s", r.body);
    cr_expect_null(gw_header(&r, "Access-Control-Allow-Origin"));
    gw_resp_free(&r);
}

Test(cors, bad_origin_refused_at_start)
{
    const char *const args[] = {"--cors-origins", "*", NULL};
    G = gw_spawn("main.json", args);
    int st = gw_wait_exit(G, 10000);
    cr_expect_eq(st, 2, "exit status %d for --cors-origins '*'", st);
    char *log = gw_read_log(G);
    cr_expect(strstr(log, "--cors-origins") != NULL, "no message naming the flag: %s", log);
    free(log);
    gw_free(G);
    G = NULL;
}
