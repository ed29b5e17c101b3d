/* Unit: the request limits of the api floor (README "Limits"): JSON nesting
 * depth and string lengths on every request body, passwords' own bound,
 * and the limits the server measures (headers, URL, body) answered before
 * any route handler. api_handle is called directly. */
#include "api_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The documented defaults (README "Limits"), which the fixture's api gets
 * from the options table (server/config.c). */
#define DEFAULT_JSON_DEPTH 16
#define DEFAULT_JSON_STRING 4096

/* POSTs body to /sessions and returns the problem's detail (malloc'd)
 * after asserting status and mapi_error. */
static char *post_problem(const char *body, int status, const char *mapi_error)
{
    api_response r = afx_post_sessions(body);
    json_t *j = afx_assert_problem(&r, status, mapi_error);
    char *detail = strdup(afx_jstr(j, "detail"));
    cr_assert_not_null(detail);
    json_decref(j);
    api_response_clear(&r);
    return detail;
}

/* {"x": <depth-1 nested arrays>} : depth arrays/objects in all. */
static char *nested_body(unsigned depth)
{
    size_t n = 2 * depth + 32;
    char *b = malloc(n);
    cr_assert_not_null(b);
    size_t used = (size_t)snprintf(b, n, "{\"x\":");
    for (unsigned i = 1; i < depth; i++)
        b[used++] = '[';
    for (unsigned i = 1; i < depth; i++)
        b[used++] = ']';
    b[used++] = '}';
    b[used] = '\0';
    return b;
}

/* A string of n copies of c (malloc'd). */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* pre + arg + post (malloc'd). */
static char *body_with(const char *pre, const char *arg, const char *post)
{
    size_t n = strlen(pre) + strlen(arg) + strlen(post) + 1;
    char *b = malloc(n);
    cr_assert_not_null(b);
    snprintf(b, n, "%s%s%s", pre, arg, post);
    return b;
}

Test(api, json_depth_default_16)
{
    char *deep = nested_body(DEFAULT_JSON_DEPTH + 1);
    char *detail = post_problem(deep, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail, "--max-json-depth") && strstr(detail, "16"), "detail: %s", detail);
    free(detail);
    free(deep);
    /* at the limit: parsed, and refused for what it says (an unknown key) */
    char *ok = nested_body(DEFAULT_JSON_DEPTH);
    detail = post_problem(ok, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail, "max-json-depth") == NULL && strstr(detail, "unknown key"),
              "a body of depth 16 was refused: %s", detail);
    free(detail);
    free(ok);
}

Test(api, json_depth_configurable_and_checked_on_every_route)
{
    api_set_limits(afx.api, &(api_limits){.max_json_depth = 2});
    /* {"flags":[...]} is depth 2: fine */
    api_response r = afx_post_sessions("{\"profile\":\"p\",\"flags\":[\"MAPI_NEW_SESSION\"]}");
    cr_assert_eq(r.status, 201, "%.*s", (int)r.body_len, r.body);
    api_response_clear(&r);
    char *detail =
        post_problem("{\"flags\":[[\"MAPI_NEW_SESSION\"]]}", 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail, "deeper than 2 levels"), "detail: %s", detail);
    free(detail);
    /* another route that reads a body */
    afx_logon_p();
    r = afx_call((rq){.method = "POST",
                      .path = "/entries/compare",
                      .auth = afx.bearer,
                      .ctype = "application/json",
                      .body = "{\"entry_id_1\":{\"a\":{\"b\":1}},\"entry_id_2\":\"00\"}"});
    json_t *j = afx_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(afx_jstr(j, "detail"), "--max-json-depth"), "detail: %s",
              afx_jstr(j, "detail"));
    json_decref(j);
    api_response_clear(&r);
}

Test(api, json_depth_prescan_ignores_brackets_in_strings)
{
    api_set_limits(afx.api, &(api_limits){.max_json_depth = 2});
    /* 30 brackets and an escaped quote inside strings are not nesting: the
     * logon is judged on its merits (unknown profile: 401). */
    api_response r = afx_post_sessions("{\"profile\":\"[[[[[[[[[[[[[[[\\\"{{{{{{{{{{{{{{{\","
                                       "\"password\":\"x\"}");
    json_decref(afx_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED"));
    api_response_clear(&r);
}

Test(api, json_string_length_default_4096)
{
    char *big = repeat('a', DEFAULT_JSON_STRING + 1);
    char *body = body_with("{\"profile\":\"p\",\"flags\":[\"", big, "\"]}");
    char *detail = post_problem(body, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail, "--max-json-string") && strstr(detail, "4096"), "detail: %s", detail);
    cr_expect(strstr(detail, "aaaaaaaa") == NULL, "the detail echoes the value");
    free(detail);
    free(body);
    free(big);
    /* at the limit: parsed, and judged on its merits (unknown flag name) */
    big = repeat('a', DEFAULT_JSON_STRING);
    body = body_with("{\"profile\":\"p\",\"flags\":[\"", big, "\"]}");
    api_response r = afx_post_sessions(body);
    json_decref(afx_assert_problem(&r, 400, "MAPI_E_UNKNOWN_FLAGS"));
    api_response_clear(&r);
    free(body);
    free(big);
}

Test(api, json_key_length_limited)
{
    api_set_limits(afx.api, &(api_limits){.max_json_string = 100});
    char *key = repeat('k', 101);
    char *body = body_with("{\"", key, "\":1}");
    char *detail = post_problem(body, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail, "object key") && strstr(detail, "100"), "detail: %s", detail);
    free(detail);
    free(body);
    free(key);
}

Test(api, profile_name_keeps_its_own_limit)
{
    api_set_limits(afx.api, &(api_limits){.max_json_string = 100});
    char *name = repeat('n', 80); /* under 100 bytes, over 64 characters */
    char *body = body_with("{\"profile\":\"", name, "\"}");
    char *detail = post_problem(body, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail, "64 characters"), "detail: %s", detail);
    free(detail);
    free(body);
    free(name);
    name = repeat('n', 101);
    body = body_with("{\"profile\":\"", name, "\"}");
    detail = post_problem(body, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail, "--max-json-string"), "detail: %s", detail);
    free(detail);
    free(body);
    free(name);
}

Test(api, password_at_most_1024_bytes_never_echoed)
{
    char *pw = repeat('s', API_MAX_PASSWORD_BYTES + 1);
    char *body = body_with("{\"profile\":\"secret\",\"password\":\"", pw, "\"}");
    api_response r = afx_post_sessions(body);
    json_t *j = afx_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(afx_jstr(j, "detail"), "password: at most 1024 bytes"), "detail: %s",
              afx_jstr(j, "detail"));
    cr_expect(strstr(r.body, "ssssssss") == NULL, "the answer echoes the password");
    json_decref(j);
    api_response_clear(&r);
    free(body);
    free(pw);
    /* 1024 bytes: checked (and wrong) */
    pw = repeat('s', API_MAX_PASSWORD_BYTES);
    body = body_with("{\"profile\":\"secret\",\"password\":\"", pw, "\"}");
    r = afx_post_sessions(body);
    json_decref(afx_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED"));
    api_response_clear(&r);
    free(body);
    free(pw);
}

/* api_handle with the limit flags the server sets. */
static api_response call_flags(const char *method, const char *path, bool headers, bool url,
                               bool body)
{
    api_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    req.body = "";
    req.client_addr = "127.0.0.1";
    req.headers_too_large = headers;
    req.url_too_long = url;
    req.body_too_large = body;
    api_response resp;
    api_handle(afx.api, &req, &resp);
    return resp;
}

Test(api, server_measured_limits_answered_before_routing)
{
    api_set_limits(afx.api, &(api_limits){.max_header_bytes = 2048, .max_url_bytes = 512});
    api_response r = call_flags("GET", "/healthz", true, false, false);
    json_t *j = afx_assert_problem(&r, 431, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(afx_jstr(j, "detail"), "2048 bytes (limit --max-header-bytes)"), "%s",
              afx_jstr(j, "detail"));
    cr_expect_str_eq(afx_header(&r, "Cache-Control"), "no-store");
    json_decref(j);
    api_response_clear(&r);

    r = call_flags("GET", "/healthz", false, true, false);
    j = afx_assert_problem(&r, 414, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(afx_jstr(j, "detail"), "512 bytes (limit --max-url-bytes)"), "%s",
              afx_jstr(j, "detail"));
    json_decref(j);
    api_response_clear(&r);

    /* a body past the limit is 413 on any route, also one that reads none */
    r = call_flags("GET", "/healthz", false, false, true);
    j = afx_assert_problem(&r, 413, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(afx_jstr(j, "detail"), "--max-body-bytes"), "%s", afx_jstr(j, "detail"));
    json_decref(j);
    api_response_clear(&r);

    /* also on unknown paths, and before authentication */
    r = call_flags("GET", "/nope", true, false, false);
    json_decref(afx_assert_problem(&r, 431, "MAPI_E_INVALID_PARAMETER"));
    api_response_clear(&r);
    r = call_flags("GET", "/status", true, false, false);
    json_decref(afx_assert_problem(&r, 431, "MAPI_E_INVALID_PARAMETER"));
    api_response_clear(&r);

    /* without flags the same request is served */
    r = call_flags("GET", "/healthz", false, false, false);
    cr_expect_eq(r.status, 200);
    api_response_clear(&r);
}

Test(api, limit_answer_408)
{
    api_response r;
    api_limit_answer(afx.api, 408, MAPI_E_TIMEOUT, "too slow", &r);
    json_t *j = afx_assert_problem(&r, 408, "MAPI_E_TIMEOUT");
    cr_expect_str_eq(afx_jstr(j, "detail"), "too slow");
    cr_expect_str_eq(afx_header(&r, "Cache-Control"), "no-store");
    json_decref(j);
    api_response_clear(&r);
}

Test(api, entry_ids_keep_their_own_rule)
{
    afx_logon_p();
    /* 8194 hex digits: past the string limit, but an entry id's problem */
    char *hex = repeat('0', 8194);
    char *body = body_with("{\"entry_id_1\":\"00\",\"entry_id_2\":\"", hex, "\"}");
    api_response r = afx_call((rq){.method = "POST",
                                   .path = "/entries/compare",
                                   .auth = afx.bearer,
                                   .ctype = "application/json",
                                   .body = body});
    json_decref(afx_assert_problem(&r, 400, "MAPI_E_INVALID_ENTRYID"));
    api_response_clear(&r);
    free(body);
    free(hex);
}
