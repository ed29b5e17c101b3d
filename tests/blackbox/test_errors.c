/* Black-box: request validation, HTTP-level errors and bearer
 * authentication (docs/contract/http.md 1, 2, DECISIONS.md
 * "Errors"). */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(errors, .fini = fini_gw, .timeout = 90);

static void post_expect(const char *body, long status, const char *mapi_error)
{
    gw_resp r;
    gw_post(G, "/sessions", NULL, body, &r);
    if (r.status != status)
        cr_log_error("body: %s", body);
    gw_assert_problem(&r, status, mapi_error);
    gw_resp_free(&r);
}

Test(errors, malformed_json)
{
    G = gw_start("main.json", NULL);
    post_expect("{\"profile\": \"alice\", ", 400, "MAPI_E_INVALID_PARAMETER");
    post_expect("not json at all", 400, "MAPI_E_INVALID_PARAMETER");
    post_expect("", 400, "MAPI_E_INVALID_PARAMETER");
    post_expect("[]", 400, "MAPI_E_INVALID_PARAMETER");
    post_expect("\"alice\"", 400, "MAPI_E_INVALID_PARAMETER");
    post_expect("{\"profile\":\"alice\"} trailing", 400, "MAPI_E_INVALID_PARAMETER");
}

Test(errors, wrong_types)
{
    G = gw_start("main.json", NULL);
    gw_add_secret(G, "alice-pw");
    post_expect("{\"profile\":42,\"password\":\"alice-pw\"}", 400, "MAPI_E_INVALID_PARAMETER");
    post_expect(
        "{\"profile\":\"alice\",\"password\":\"alice-pw\",\"flags\":{\"MAPI_NEW_SESSION\":true}}",
        400, "MAPI_E_INVALID_PARAMETER");
    post_expect("{\"profile\":\"alice\",\"password\":7}", 400, "MAPI_E_INVALID_PARAMETER");
    post_expect("{\"profile\":\"alice\",\"password\":\"alice-pw\",\"flags\":\"MAPI_NEW_SESSION\"}",
                400, "MAPI_E_INVALID_PARAMETER");
    post_expect(
        "{\"profile\":\"alice\",\"password\":\"alice-pw\",\"flags\":[\"MAPI_NEW_SESSION\",2]}", 400,
        "MAPI_E_INVALID_PARAMETER");
    post_expect("{\"profile\":\"alice\",\"password\":\"alice-pw\",\"flags\":-1}", 400,
                "MAPI_E_INVALID_PARAMETER");
    post_expect("{\"profile\":[\"alice\"],\"password\":\"alice-pw\"}", 400,
                "MAPI_E_INVALID_PARAMETER");
    /* the good request still works afterwards */
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_session_free(&s);
}

Test(errors, unknown_key)
{
    G = gw_start("main.json", NULL);
    gw_add_secret(G, "alice-pw");
    post_expect("{\"profile\":\"alice\",\"password\":\"alice-pw\",\"flagz\":[]}", 400,
                "MAPI_E_INVALID_PARAMETER");
    post_expect("{\"profile\":\"alice\",\"password\":\"alice-pw\",\"ui_param\":0}", 400,
                "MAPI_E_INVALID_PARAMETER");
}

Test(errors, oversized_body)
{
    const char *args[] = {"--max-body-bytes", "1024", NULL};
    G = gw_start("main.json", args);
    size_t n = 4096;
    char *body = malloc(n + 64);
    cr_assert(body);
    strcpy(body, "{\"profile\":\"nopw\",\"flags\":[\"MAPI_NEW_SESSION\"]");
    size_t len = strlen(body);
    memset(body + len, ' ', n - len - 1);
    body[n - 1] = '}';
    body[n] = '\0';
    gw_resp r;
    gw_post(G, "/sessions", NULL, body, &r);
    gw_assert_problem(&r, 413, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    /* under the limit: accepted */
    memset(body + len, ' ', 900);
    body[len + 900] = '}';
    body[len + 901] = '\0';
    gw_post(G, "/sessions", NULL, body, &r);
    cr_expect_eq(r.status, 201, "a %zu-byte body under a 1024-byte limit: %ld %s", strlen(body),
                 r.status, r.body);
    gw_resp_free(&r);
    free(body);
    /* the gateway still serves */
    gw_get(G, "/healthz", NULL, &r);
    cr_expect_eq(r.status, 200);
    gw_resp_free(&r);
}

Test(errors, wrong_content_type)
{
    G = gw_start("main.json", NULL);
    const char *body = "{\"profile\":\"nopw\",\"flags\":[\"MAPI_NEW_SESSION\"]}";
    const char *text[] = {"Content-Type: text/plain", NULL};
    gw_resp r;
    gw_request(G, "POST", "/sessions", text, body, &r);
    gw_assert_problem(&r, 415, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    const char *none[] = {"Content-Type:", NULL};
    gw_request(G, "POST", "/sessions", none, body, &r);
    gw_assert_problem(&r, 415, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    gw_request(G, "POST", "/sessions", form, body, &r);
    gw_assert_problem(&r, 415, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    const char *charset[] = {"Content-Type: application/json; charset=utf-8", NULL};
    gw_request(G, "POST", "/sessions", charset, body, &r);
    cr_expect_eq(r.status, 201, "application/json with a charset: %ld %s", r.status, r.body);
    gw_resp_free(&r);
}

Test(errors, unknown_path_404)
{
    G = gw_start("main.json", NULL);
    const char *paths[] = {"/nope", "/v2/sessions", "/sessions/x/y", "/healthz/extra"};
    for (size_t i = 0; i < 4; i++) {
        gw_resp r;
        gw_get(G, paths[i], NULL, &r);
        if (r.status != 404)
            cr_log_error("path %s", paths[i]);
        gw_assert_problem(&r, 404, "MAPI_E_NOT_FOUND");
        gw_resp_free(&r);
    }
}

static void expect_405(const char *method, const char *path, const char *allowed)
{
    gw_resp r;
    gw_request(G, method, path, NULL, NULL, &r);
    if (r.status != 405)
        cr_log_error("%s %s", method, path);
    gw_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT");
    const char *allow = gw_header(&r, "Allow");
    cr_expect(allow && strstr(allow, allowed), "%s %s: Allow %s, expected it to list %s", method,
              path, allow ? allow : "(none)", allowed);
    if (allow)
        cr_expect(strstr(allow, method) == NULL, "%s %s: Allow lists %s itself", method, path,
                  method);
    gw_resp_free(&r);
}

Test(errors, wrong_method_405)
{
    G = gw_start("main.json", NULL);
    expect_405("DELETE", "/healthz", "GET");
    expect_405("POST", "/readyz", "GET");
    expect_405("PUT", "/sessions", "POST");
    expect_405("PATCH", "/status", "GET");
    expect_405("PUT", "/identity", "GET");
}

/* A fixed path is matched before a templated one, so
 * GET /entries/compare is 405 (Allow: POST), not an OpenEntry of the entry
 * id "compare" (400), with or without a token; POST still compares. */
Test(errors, fixed_path_before_template)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "nopw", NULL, NULL, &s);
    const char *tokens[] = {NULL, s.token};
    const char *methods[] = {"GET", "DELETE", "PUT"};
    for (size_t t = 0; t < 2; t++) {
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            char auth[256];
            snprintf(auth, sizeof auth, "Authorization: Bearer %s", tokens[t] ? tokens[t] : "");
            const char *h[] = {auth, NULL};
            gw_resp r;
            gw_request(G, methods[m], "/entries/compare", tokens[t] ? h : NULL, NULL, &r);
            gw_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT");
            const char *allow = gw_header(&r, "Allow");
            cr_expect(allow && strcmp(allow, "POST") == 0, "%s /entries/compare: Allow %s",
                      methods[m], allow ? allow : "(none)");
            gw_resp_free(&r);
        }
    }
    gw_resp r;
    gw_post(G, "/entries/compare", s.token, "{}", &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(errors, missing_authorization)
{
    G = gw_start("main.json", NULL);
    const char *paths[] = {"/status", "/identity"};
    for (size_t i = 0; i < 2; i++) {
        gw_resp r;
        gw_get(G, paths[i], NULL, &r);
        gw_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED");
        const char *wa = gw_header(&r, "WWW-Authenticate");
        cr_expect(wa && strcmp(wa, "Bearer realm=\"mapigw\"") == 0,
                  "WWW-Authenticate \"%s\", expected Bearer realm=\"mapigw\" only",
                  wa ? wa : "(none)");
        gw_resp_free(&r);
    }
    /* another scheme counts as missing */
    const char *basic[] = {"Authorization: Basic YWxpY2U6YWxpY2UtcHc=", NULL};
    gw_add_secret(G, "YWxpY2U6YWxpY2UtcHc=");
    gw_resp r;
    gw_request(G, "GET", "/status", basic, NULL, &r);
    gw_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED");
    const char *wa = gw_header(&r, "WWW-Authenticate");
    cr_expect(wa && strstr(wa, "realm=\"mapigw\"") && !strstr(wa, "invalid_token"),
              "WWW-Authenticate %s", wa ? wa : "(none)");
    gw_resp_free(&r);
}

static void expect_invalid_token(const char *auth_header)
{
    const char *hdr[] = {auth_header, NULL};
    gw_resp r;
    gw_request(G, "GET", "/status", hdr, NULL, &r);
    if (r.status != 401)
        cr_log_error("%s", auth_header);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    const char *wa = gw_header(&r, "WWW-Authenticate");
    cr_expect(wa && strstr(wa, "Bearer") && strstr(wa, "realm=\"mapigw\"") &&
                  strstr(wa, "error=\"invalid_token\""),
              "WWW-Authenticate %s", wa ? wa : "(none)");
    gw_resp_free(&r);
}

Test(errors, malformed_and_forged_tokens)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    char forged[128] = "mgw_";
    memset(forged + 4, 'A', 43);
    forged[47] = '\0';
    char mutated[160];
    strcpy(mutated, s.token);
    size_t ml = strlen(mutated);
    mutated[ml - 1] = mutated[ml - 1] == 'A' ? 'B' : 'A';
    char longer[200];
    strcpy(longer, s.token);
    strcat(longer, "A");
    char prefixless[160];
    strcpy(prefixless, s.token + 4);
    gw_add_secret(G, forged);
    gw_add_secret(G, mutated);
    gw_add_secret(G, longer);
    char h[6][512];
    snprintf(h[0], sizeof h[0], "Authorization: Bearer garbage-token-xyz");
    snprintf(h[1], sizeof h[1], "Authorization: Bearer %s", forged);
    snprintf(h[2], sizeof h[2], "Authorization: Bearer %s", mutated);
    snprintf(h[3], sizeof h[3], "Authorization: Bearer %s", longer);
    snprintf(h[4], sizeof h[4], "Authorization: Bearer %s", prefixless);
    snprintf(h[5], sizeof h[5], "Authorization: Bearer mgw_");
    for (size_t i = 0; i < 6; i++)
        expect_invalid_token(h[i]);
    /* the real token still works */
    gw_resp r;
    cr_expect_eq(gw_get(G, "/status", s.token, &r), 200);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(errors, token_never_from_query_or_cookie)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    char path[256];
    snprintf(path, sizeof path, "/status?access_token=%s", s.token);
    gw_resp r;
    gw_get(G, path, NULL, &r);
    cr_expect_eq(r.status, 401, "token accepted from the query string: %ld", r.status);
    cr_expect(r.status != 200);
    gw_resp_free(&r);
    char cookie[512];
    snprintf(cookie, sizeof cookie, "Cookie: token=%s; access_token=%s", s.token, s.token);
    const char *hdr[] = {cookie, NULL};
    gw_request(G, "GET", "/identity", hdr, NULL, &r);
    cr_expect_eq(r.status, 401, "token accepted from a cookie: %ld", r.status);
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, "/status", s.token, &r), 200);
    gw_resp_free(&r);
    gw_session_free(&s);
}
