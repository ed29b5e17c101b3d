/* Unit suite "api", sessions: POST /sessions (body, content type and flag
 * parsing, the 201 shape, identical logon failures, readiness),
 * GET/DELETE /sessions/<id> with logoff flags, and the admin endpoints.
 * api_handle is called directly on the shared fixture (api_fixture.h). */
#include "api_fixture.h"
#include "../../api/json_write.h"
#include "../../session-core/mapi_flags.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- POST /sessions: body checks ---------------------------------------- */

Test(api, logon_needs_json_content_type)
{
    afx_expect_problem((rq){.method = "POST", .path = "/sessions", .body = "{}"}, 415,
                       "MAPI_E_INVALID_PARAMETER");
    afx_expect_problem(
        (rq){.method = "POST", .path = "/sessions", .ctype = "text/plain", .body = "{}"}, 415,
        "MAPI_E_INVALID_PARAMETER");
    afx_expect_problem(
        (rq){.method = "POST", .path = "/sessions", .ctype = "application/jsonx", .body = "{}"},
        415, "MAPI_E_INVALID_PARAMETER");
    api_response r = afx_call((rq){.method = "POST",
                                   .path = "/sessions",
                                   .ctype = "Application/JSON; charset=utf-8",
                                   .body = "{\"profile\":\"p\"}"});
    cr_assert_eq(r.status, 201);
    api_response_clear(&r);
}

Test(api, logon_body_too_large_is_413)
{
    afx_expect_problem((rq){.method = "POST",
                            .path = "/sessions",
                            .ctype = "application/json",
                            .body = "{\"profile\":",
                            .too_large = true},
                       413, "MAPI_E_INVALID_PARAMETER");
}

Test(api, malformed_json_is_400_without_echo)
{
    api_response r = afx_post_sessions("{\"profile\":\"p\",\"password\":\"hunter2");
    json_t *j = afx_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_assert_not_null(strstr(afx_jstr(j, "detail"), "line 1"), "%s", afx_jstr(j, "detail"));
    cr_assert_null(strstr(r.body, "hunter2"), "the detail echoes the password");
    json_decref(j);
    api_response_clear(&r);

    afx_expect_problem(
        (rq){.method = "POST", .path = "/sessions", .ctype = "application/json", .body = "[]"}, 400,
        "MAPI_E_INVALID_PARAMETER");
    afx_expect_problem((rq){.method = "POST",
                            .path = "/sessions",
                            .ctype = "application/json",
                            .body = "{\"profile\":\"p\",\"profile\":\"q\"}"},
                       400, "MAPI_E_INVALID_PARAMETER");
}

Test(api, unknown_key_is_400_naming_it)
{
    api_response r = afx_post_sessions("{\"profile\":\"p\",\"profil\":\"x\"}");
    json_t *j = afx_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_assert_not_null(strstr(afx_jstr(j, "detail"), "profil\""));
    json_decref(j);
    api_response_clear(&r);
}

Test(api, wrong_types_and_lengths_are_400)
{
    const char *bodies[] = {
        "{\"profile\":5}",
        "{\"password\":true}",
        "{\"flags\":\"MAPI_NEW_SESSION\"}",
        "{\"flags\":[1]}",
        "{\"flags\":-1}",
        "{\"flags\":1.5}",
        "{\"flags\":4294967296}",
        /* 65 characters (two-byte ones, to count code points, not bytes) */
        "{\"profile\":\"ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        api_response r = afx_post_sessions(bodies[i]);
        json_decref(afx_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER"));
        api_response_clear(&r);
    }
    /* 64 two-byte characters are fine (and name no profile: 401). */
    api_response r = afx_post_sessions(
        "{\"profile\":\"éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\"}");
    cr_assert_eq(r.status, 401);
    api_response_clear(&r);
}

Test(api, unknown_flags_are_400_unknown_flags)
{
    api_response r =
        afx_post_sessions("{\"profile\":\"p\",\"flags\":[\"MAPI_NEW_SESSION\",\"MAPI_BOGUS\"]}");
    json_t *j = afx_assert_problem(&r, 400, "MAPI_E_UNKNOWN_FLAGS");
    cr_assert_not_null(strstr(afx_jstr(j, "detail"), "MAPI_BOGUS"));
    json_decref(j);
    api_response_clear(&r);
    /* 0x4 is no logon flag. */
    r = afx_post_sessions("{\"profile\":\"p\",\"flags\":6}");
    json_decref(afx_assert_problem(&r, 400, "MAPI_E_UNKNOWN_FLAGS"));
    api_response_clear(&r);
}

Test(api, two_ui_flags_are_400_invalid_parameter)
{
    api_response r =
        afx_post_sessions("{\"profile\":\"p\",\"flags\":[\"MAPI_LOGON_UI\",\"MAPI_PASSWORD_UI\"]}");
    json_decref(afx_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER"));
    api_response_clear(&r);
}

/* ---- POST /sessions: outcomes ------------------------------------------- */

Test(api, logon_201_shape)
{
    api_response r = afx_post_sessions("{\"profile\":\"p\",\"password\":null}");
    cr_assert_eq(r.status, 201);
    cr_assert_str_eq(r.content_type, "application/json");
    json_t *j = afx_json(&r);
    const char *id = afx_jstr(j, "id");
    char loc[128];
    snprintf(loc, sizeof loc, "/sessions/%s", id);
    cr_assert_str_eq(afx_header(&r, "Location"), loc);
    cr_assert_eq(strncmp(afx_jstr(j, "token"), "mgw_", 4), 0);
    cr_assert_str_eq(afx_jstr(j, "token_type"), "Bearer");
    cr_assert_str_eq(afx_jstr(j, "profile"), "p");
    json_t *flags = json_object_get(j, "flags");
    uint32_t v = (uint32_t)json_integer_value(json_object_get(flags, "value"));
    cr_assert_eq(v & MAPI_LOGON_DEFAULT_FLAGS, MAPI_LOGON_DEFAULT_FLAGS);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(flags, "names"), 0)),
                     "MAPI_NEW_SESSION");
    cr_assert(json_is_false(json_object_get(j, "shared")));
    cr_assert(json_is_false(json_object_get(j, "joined")));
    cr_assert_eq(strlen(afx_jstr(j, "created_at")), 20);
    cr_assert_eq(afx_jstr(j, "created_at")[19], 'Z');
    cr_assert(json_is_string(json_object_get(j, "expires_at")));
    cr_assert_eq(json_integer_value(json_object_get(j, "idle_timeout_s")), 1800);
    cr_assert_eq(json_object_size(j), 10);
    json_decref(j);
    api_response_clear(&r);
}

Test(api, logon_flags_as_integer)
{
    char body[128];
    snprintf(body, sizeof body, "{\"profile\":\"bare\",\"flags\":%u}",
             (unsigned)(MAPI_NEW_SESSION | MAPI_EXPLICIT_PROFILE));
    api_response r = afx_post_sessions(body);
    cr_assert_eq(r.status, 201);
    api_response_clear(&r);
}

/* The body without its "instance" (which names the request, not the failure). */
static void drop_instance(api_response *r)
{
    json_t *j = afx_json(r);
    json_object_del(j, "instance");
    json_text_free(r->body);
    r->body = json_dumps(j, JSON_COMPACT);
    cr_assert_not_null(r->body);
    r->body_len = strlen(r->body);
    json_decref(j);
}

Test(api, logon_failures_share_one_body)
{
    api_response a = afx_post_sessions("{\"profile\":\"nobody-here\"}");
    json_decref(afx_assert_problem(&a, 401, "MAPI_E_LOGON_FAILED"));
    cr_assert_null(strstr(a.body, "nobody-here"));
    api_response b = afx_post_sessions("{\"profile\":\"secret\",\"password\":\"wrong\"}");
    json_decref(afx_assert_problem(&b, 401, "MAPI_E_LOGON_FAILED"));
    cr_assert_null(strstr(b.body, "wrong"));
    api_response c = afx_post_sessions("{\"flags\":[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_SESSION\"]}");
    json_decref(afx_assert_problem(&c, 401, "MAPI_E_LOGON_FAILED"));
    drop_instance(&a);
    drop_instance(&b);
    drop_instance(&c);
    cr_assert_eq(a.body_len, b.body_len);
    cr_assert_eq(memcmp(a.body, b.body, a.body_len), 0);
    cr_assert_eq(a.body_len, c.body_len);
    cr_assert_eq(memcmp(a.body, c.body, a.body_len), 0);
    api_response_clear(&a);
    api_response_clear(&b);
    api_response_clear(&c);

    api_response ok = afx_post_sessions("{\"profile\":\"secret\",\"password\":\"right\"}");
    cr_assert_eq(ok.status, 201);
    api_response_clear(&ok);
}

Test(api, logon_refused_when_not_ready)
{
    api_set_ready(afx.api, false);
    afx_expect_problem((rq){.method = "POST",
                            .path = "/sessions",
                            .ctype = "application/json",
                            .body = "{\"profile\":\"p\"}"},
                       503, "MAPI_E_NOT_INITIALIZED");
    afx_expect_problem((rq){.method = "GET", .path = "/readyz"}, 503, "MAPI_E_NOT_INITIALIZED");
    api_set_ready(afx.api, true);
    api_response r = afx_call((rq){.method = "GET", .path = "/readyz"});
    cr_assert_eq(r.status, 200);
    json_t *j = afx_json(&r);
    cr_assert_str_eq(afx_jstr(j, "status"), "ready");
    cr_assert_eq(json_integer_value(json_object_get(j, "profiles")), 3);
    json_decref(j);
    api_response_clear(&r);
}

/* ---- session resource and logoff ---------------------------------------- */

Test(api, session_get_and_delete)
{
    afx_logon_p();
    char path[96];
    snprintf(path, sizeof path, "/sessions/%s", afx.sid);
    api_response r = afx_call((rq){.method = "GET", .path = path, .auth = afx.bearer});
    cr_assert_eq(r.status, 200);
    json_t *j = afx_json(&r);
    cr_assert_str_eq(afx_jstr(j, "id"), afx.sid);
    cr_assert_null(json_object_get(j, "token"));
    cr_assert_eq(json_integer_value(json_object_get(j, "handles")), 1);
    json_decref(j);
    api_response_clear(&r);

    afx_expect_problem((rq){.method = "GET", .path = "/sessions/0123", .auth = afx.bearer}, 404,
                       "MAPI_E_NOT_FOUND");
    afx_expect_problem((rq){.method = "DELETE", .path = "/sessions/0123", .auth = afx.bearer}, 404,
                       "MAPI_E_NOT_FOUND");
    api_kv bad[] = {{"flags", "MAPI_LOGOFF_BOGUS"}};
    afx_expect_problem(
        (rq){.method = "DELETE", .path = path, .auth = afx.bearer, .query = bad, .nquery = 1}, 400,
        "MAPI_E_UNKNOWN_FLAGS");
    api_kv badbits[] = {{"flags", "0x4"}};
    afx_expect_problem(
        (rq){.method = "DELETE", .path = path, .auth = afx.bearer, .query = badbits, .nquery = 1},
        400, "MAPI_E_UNKNOWN_FLAGS");
    api_kv other[] = {{"shared", "1"}};
    afx_expect_problem(
        (rq){.method = "DELETE", .path = path, .auth = afx.bearer, .query = other, .nquery = 1},
        400, "MAPI_E_INVALID_PARAMETER");

    api_kv ok[] = {{"flags", "MAPI_LOGOFF_SHARED,MAPI_LOGOFF_UI"}};
    r = afx_call(
        (rq){.method = "DELETE", .path = path, .auth = afx.bearer, .query = ok, .nquery = 1});
    cr_assert_eq(r.status, 204);
    cr_assert_null(r.body);
    api_response_clear(&r);

    r = afx_call((rq){.method = "GET", .path = "/status", .auth = afx.bearer});
    json_decref(afx_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION"));
    cr_assert_str_eq(afx_header(&r, "WWW-Authenticate"),
                     "Bearer realm=\"mapigw\", error=\"invalid_token\"");
    api_response_clear(&r);
    afx_expect_problem((rq){.method = "DELETE", .path = path, .auth = afx.bearer}, 401,
                       "MAPI_E_END_OF_SESSION");
}

Test(api, admin_endpoints)
{
    afx_logon_p();
    afx_expect_problem((rq){.method = "GET", .path = "/sessions", .auth = afx.bearer}, 403,
                       "MAPI_E_NO_ACCESS");
    afx_expect_problem((rq){.method = "GET", .path = "/sessions"}, 403, "MAPI_E_NO_ACCESS");
    const char *admin = "Bearer " ADMIN_KEY;
    api_response r = afx_call((rq){.method = "GET", .path = "/sessions", .auth = admin});
    cr_assert_eq(r.status, 200);
    json_t *j = afx_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "count")), 1);
    cr_assert_str_eq(afx_jstr(json_array_get(json_object_get(j, "sessions"), 0), "id"), afx.sid);
    json_decref(j);
    api_response_clear(&r);

    char path[96];
    snprintf(path, sizeof path, "/sessions/%s", afx.sid);
    r = afx_call((rq){.method = "GET", .path = path, .auth = admin});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
    r = afx_call((rq){.method = "DELETE", .path = path, .auth = admin});
    cr_assert_eq(r.status, 204);
    api_response_clear(&r);
    afx_expect_problem((rq){.method = "DELETE", .path = path, .auth = admin}, 404,
                       "MAPI_E_NOT_FOUND");
    afx_expect_problem((rq){.method = "GET", .path = "/identity", .auth = afx.bearer}, 401,
                       "MAPI_E_END_OF_SESSION");
}

/* A core without a profiles file behind it (as the api fixture's, loaded
 * from a string): the administration routes say so, after their own
 * authentication, instead of crashing on the missing administrator. */
Test(api, profile_administration_without_a_profiles_file)
{
    afx_logon_p();
    const char *admin = "Bearer " ADMIN_KEY;
    afx_expect_problem((rq){.method = "GET", .path = "/profiles/p", .auth = admin}, 501,
                       "MAPI_E_NO_SUPPORT");
    afx_expect_problem((rq){.method = "POST", .path = "/profiles", .auth = admin,
                            .ctype = "application/json", .body = "{\"name\":\"x\"}"},
                       501, "MAPI_E_NO_SUPPORT");
    afx_expect_problem((rq){.method = "GET", .path = "/services", .auth = afx.bearer}, 501,
                       "MAPI_E_NO_SUPPORT");
    afx_expect_problem((rq){.method = "GET", .path = "/profiles/p", .auth = afx.bearer}, 403,
                       "MAPI_E_NO_ACCESS");
    afx_expect_problem((rq){.method = "GET", .path = "/services"}, 401, "MAPI_E_LOGON_FAILED");
}
