/* Unit suite "api", status table and identity: GET /status (ETag and
 * If-None-Match, columns, resource_type filter), GET /status/<ik> and its
 * methods (validate-state, settings-dialog, change-password), and
 * GET /identity. api_handle is called directly on the shared fixture
 * (api_fixture.h). */
#include "api_fixture.h"
#include "../../session-core/mapi_flags.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- status table ------------------------------------------------------- */

Test(api, status_table_rows_and_etag)
{
    afx_logon_p();
    api_response r = afx_call((rq){.method = "GET", .path = "/status", .auth = afx.bearer});
    cr_assert_eq(r.status, 200);
    const char *etag = afx_header(&r, "ETag");
    cr_assert_not_null(etag);
    cr_assert_eq(strncmp(etag, "\"", 1), 0);
    cr_assert_eq(strncmp(etag + 1, afx.sid, strlen(afx.sid)), 0);
    json_t *j = afx_json(&r);
    json_t *rows = json_object_get(j, "rows");
    cr_assert_eq((size_t)json_integer_value(json_object_get(j, "row_count")),
                 json_array_size(rows));
    cr_assert_geq(json_array_size(rows), 4); /* subsystem, spooler, AB, abfile */
    json_t *row0 = json_array_get(rows, 0);
    json_t *type = json_object_get(row0, "resource_type");
    cr_assert_eq(json_integer_value(json_object_get(type, "value")), 39);
    cr_assert_str_eq(afx_jstr(type, "name"), "MAPI_SUBSYSTEM");
    cr_assert_eq(strlen(afx_jstr(row0, "instance_key")), 16);
    cr_assert_eq(json_integer_value(json_object_get(row0, "object_type")), 10);
    cr_assert(json_is_object(json_object_get(row0, "status_code")));
    cr_assert(json_is_array(json_object_get(json_object_get(row0, "resource_methods"), "names")));
    char saved[128];
    snprintf(saved, sizeof saved, "%s", etag);
    size_t full_len = r.body_len;
    json_decref(j);
    api_response_clear(&r);

    char weak[200];
    snprintf(weak, sizeof weak, "\"x\", W/%s", saved);
    const char *matches[] = {saved, "*", weak};
    for (size_t i = 0; i < 3; i++) {
        const char *inm = matches[i];
        r = afx_call((rq){.method = "GET", .path = "/status", .auth = afx.bearer, .inm = inm});
        cr_assert_eq(r.status, 304, "If-None-Match %s", inm);
        /* The 200's body, for its Content-Length only;
         * no Content-Type. */
        cr_assert_eq(r.body_len, full_len);
        cr_assert_null(r.content_type);
        cr_assert_null(afx_header(&r, "Content-Type"));
        cr_assert_str_eq(afx_header(&r, "ETag"), saved);
        api_response_clear(&r);
    }
    r = afx_call(
        (rq){.method = "GET", .path = "/status", .auth = afx.bearer, .inm = "\"other-1\""});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
}

Test(api, status_columns_and_resource_type)
{
    afx_logon_p();
    api_kv q[] = {{"columns", "display_name"}, {"resource_type", "MAPI_SPOOLER"}};
    api_response r = afx_call(
        (rq){.method = "GET", .path = "/status", .auth = afx.bearer, .query = q, .nquery = 2});
    cr_assert_eq(r.status, 200);
    json_t *j = afx_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "row_count")), 1);
    json_t *row = json_array_get(json_object_get(j, "rows"), 0);
    cr_assert_eq(json_object_size(row), 2);
    cr_assert(json_is_string(json_object_get(row, "instance_key")));
    cr_assert(json_is_string(json_object_get(row, "display_name")));
    json_decref(j);
    api_response_clear(&r);

    api_kv byn[] = {{"resource_type", "35"}};
    r = afx_call(
        (rq){.method = "GET", .path = "/status", .auth = afx.bearer, .query = byn, .nquery = 1});
    j = afx_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "row_count")), 1);
    json_decref(j);
    api_response_clear(&r);

    api_kv bad1[] = {{"columns", "display_name,nope"}};
    api_kv bad2[] = {{"resource_type", "MAPI_NOTHING"}};
    api_kv bad3[] = {{"sort", "1"}};
    afx_expect_problem(
        (rq){.method = "GET", .path = "/status", .auth = afx.bearer, .query = bad1, .nquery = 1},
        400, "MAPI_E_INVALID_PARAMETER");
    afx_expect_problem(
        (rq){.method = "GET", .path = "/status", .auth = afx.bearer, .query = bad2, .nquery = 1},
        400, "MAPI_E_INVALID_PARAMETER");
    afx_expect_problem(
        (rq){.method = "GET", .path = "/status", .auth = afx.bearer, .query = bad3, .nquery = 1},
        400, "MAPI_E_INVALID_PARAMETER");
}

Test(api, status_row_and_methods)
{
    afx_logon_p();
    char ik[17], path[64];
    afx_row_key(MAPI_SUBSYSTEM, ik);
    snprintf(path, sizeof path, "/status/%s", ik);
    api_response r = afx_call((rq){.method = "GET", .path = path, .auth = afx.bearer});
    cr_assert_eq(r.status, 200);
    json_t *j = afx_json(&r);
    cr_assert_str_eq(afx_jstr(j, "instance_key"), ik);
    json_decref(j);
    api_response_clear(&r);

    afx_expect_problem((rq){.method = "GET", .path = "/status/XYZ", .auth = afx.bearer}, 400,
                       "MAPI_E_INVALID_PARAMETER");
    afx_expect_problem(
        (rq){.method = "GET", .path = "/status/FFFFFFFFFFFFFFFF", .auth = afx.bearer}, 404,
        "MAPI_E_NOT_FOUND");

    snprintf(path, sizeof path, "/status/%s/validate-state", ik);
    r = afx_call((rq){.method = "POST", .path = path, .auth = afx.bearer});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body ? r.body : "");
    api_response_clear(&r);
    r = afx_call((rq){.method = "POST",
                      .path = path,
                      .auth = afx.bearer,
                      .ctype = "application/json",
                      .body = "{\"flags\":[\"SUPPRESS_UI\"]}"});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
    afx_expect_problem((rq){.method = "POST", .path = path, .auth = afx.bearer, .body = "{}"}, 415,
                       "MAPI_E_INVALID_PARAMETER");
    afx_expect_problem((rq){.method = "POST",
                            .path = path,
                            .auth = afx.bearer,
                            .ctype = "application/json",
                            .body = "{\"flags\":[\"FLUSH_FORCE\"]}"},
                       400, "MAPI_E_UNKNOWN_FLAGS");
    afx_expect_problem((rq){.method = "POST",
                            .path = path,
                            .auth = afx.bearer,
                            .ctype = "application/json",
                            .body = "{\"flags\":2}"},
                       400, "MAPI_E_UNKNOWN_FLAGS");
    afx_expect_problem((rq){.method = "POST",
                            .path = path,
                            .auth = afx.bearer,
                            .ctype = "application/json",
                            .body = "{\"flag\":0}"},
                       400, "MAPI_E_INVALID_PARAMETER");

    snprintf(path, sizeof path, "/status/%s/settings-dialog", ik);
    afx_expect_problem((rq){.method = "POST", .path = path, .auth = afx.bearer}, 501,
                       "MAPI_E_NO_SUPPORT");
    /* The subsystem row has no STATUS_CHANGE_PASSWORD: 501 before the
     * missing passwords are noticed. */
    snprintf(path, sizeof path, "/status/%s/change-password", ik);
    afx_expect_problem((rq){.method = "POST", .path = path, .auth = afx.bearer}, 501,
                       "MAPI_E_NO_SUPPORT");
    snprintf(path, sizeof path, "/status/%s/reboot", ik);
    afx_expect_problem((rq){.method = "POST", .path = path, .auth = afx.bearer}, 404,
                       "MAPI_E_NOT_FOUND");
}

/* A method whose PR_RESOURCE_METHODS bit is clear is 501
 * MAPI_E_NO_SUPPORT whatever its request holds (MAPI never calls it): bad
 * JSON, unknown flag names or bits, unknown keys, another content type. The
 * subsystem row supports ValidateState only. */
Test(api, unsupported_method_is_501_before_its_body)
{
    afx_logon_p();
    char ik[17], path[96];
    afx_row_key(MAPI_SUBSYSTEM, ik);
    static const struct {
        const char *ctype, *body;
    } BAD[] = {
        {"application/json", "{"},
        {"application/json", "{\"flags\":[\"NO_SUCH_FLAG\"]}"},
        {"application/json", "{\"flags\":4096}"},
        {"application/json", "{\"flags\":\"FLUSH_FORCE\"}"},
        {"application/json", "{\"nope\":1}"},
        {"application/json", "[]"},
        {"text/plain", "x"},
        {NULL, NULL},
    };
    static const char *const METHODS[] = {"flush-queues", "change-password", "settings-dialog"};
    for (size_t m = 0; m < sizeof METHODS / sizeof METHODS[0]; m++) {
        snprintf(path, sizeof path, "/status/%s/%s", ik, METHODS[m]);
        for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
            api_response r = afx_call((rq){.method = "POST",
                                           .path = path,
                                           .auth = afx.bearer,
                                           .ctype = BAD[i].ctype,
                                           .body = BAD[i].body});
            cr_expect_eq(r.status, 501, "%s with %s %s: %d %.*s", METHODS[m],
                         BAD[i].ctype ? BAD[i].ctype : "-", BAD[i].body ? BAD[i].body : "-",
                         r.status, (int)r.body_len, r.body ? r.body : "");
            json_decref(afx_assert_problem(&r, 501, "MAPI_E_NO_SUPPORT"));
            api_response_clear(&r);
        }
    }
    /* The supported method still checks its body, and an unknown row is
     * still 404 first. */
    snprintf(path, sizeof path, "/status/%s/validate-state", ik);
    afx_expect_problem((rq){.method = "POST",
                            .path = path,
                            .auth = afx.bearer,
                            .ctype = "application/json",
                            .body = "{\"flags\":4096}"},
                       400, "MAPI_E_UNKNOWN_FLAGS");
    afx_expect_problem((rq){.method = "POST",
                            .path = "/status/FFFFFFFFFFFFFFFF/flush-queues",
                            .auth = afx.bearer,
                            .ctype = "application/json",
                            .body = "{"},
                       404, "MAPI_E_NOT_FOUND");
}

Test(api, identity_from_the_primary_row)
{
    afx_logon_p();
    api_response r = afx_call((rq){.method = "GET", .path = "/identity", .auth = afx.bearer});
    cr_assert_eq(r.status, 200);
    json_t *j = afx_json(&r);
    cr_assert_str_eq(afx_jstr(j, "display"), "Pat");
    cr_assert(json_is_object(json_object_get(j, "source")));
    cr_assert_null(json_object_get(j, "warning"));
    json_decref(j);
    api_response_clear(&r);
}

Test(api, identity_warning_without_providers)
{
    api_response l = afx_post_sessions("{\"profile\":\"bare\"}");
    json_t *lj = afx_json(&l);
    char h[200];
    snprintf(h, sizeof h, "Bearer %s", afx_jstr(lj, "token"));
    json_decref(lj);
    api_response_clear(&l);
    api_response r = afx_call((rq){.method = "GET", .path = "/identity", .auth = h});
    cr_assert_eq(r.status, 200);
    json_t *j = afx_json(&r);
    json_t *w = json_object_get(j, "warning");
    cr_assert_str_eq(afx_jstr(w, "mapi_error"), "MAPI_W_NO_SERVICE");
    cr_assert_str_eq(afx_jstr(w, "mapi_code"), "0x00040203");
    cr_assert(json_is_null(json_object_get(j, "source")));
    cr_assert(strlen(afx_jstr(j, "entry_id")) > 0);
    json_decref(j);
    api_response_clear(&r);
}

Test(api, change_password_on_the_identity_row)
{
    api_response l = afx_post_sessions("{\"profile\":\"secret\",\"password\":\"right\"}");
    cr_assert_eq(l.status, 201);
    json_t *lj = afx_json(&l);
    snprintf(afx.bearer, sizeof afx.bearer, "Bearer %s", afx_jstr(lj, "token"));
    json_decref(lj);
    api_response_clear(&l);
    char ik[17], path[64];
    afx_row_key(MAPI_AB_PROVIDER, ik);
    snprintf(path, sizeof path, "/status/%s/change-password", ik);

    afx_expect_problem((rq){.method = "POST",
                            .path = path,
                            .auth = afx.bearer,
                            .ctype = "application/json",
                            .body = "{\"old_password\":\"right\"}"},
                       400, "MAPI_E_INVALID_PARAMETER");
    api_response r =
        afx_call((rq){.method = "POST",
                      .path = path,
                      .auth = afx.bearer,
                      .ctype = "application/json",
                      .body = "{\"old_password\":\"wrong\",\"new_password\":\"new\"}"});
    json_decref(afx_assert_problem(&r, 403, "MAPI_E_NO_ACCESS"));
    cr_assert_null(strstr(r.body, "wrong"));
    api_response_clear(&r);
    r = afx_call((rq){.method = "POST",
                      .path = path,
                      .auth = afx.bearer,
                      .ctype = "application/json",
                      .body = "{\"old_password\":\"right\",\"new_password\":\"new\","
                              "\"flags\":[\"MAPI_UNICODE\"]}"});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body ? r.body : "");
    json_t *j = afx_json(&r);
    cr_assert_str_eq(afx_jstr(j, "instance_key"), ik);
    json_decref(j);
    api_response_clear(&r);

    r = afx_post_sessions("{\"profile\":\"secret\",\"password\":\"new\"}");
    cr_assert_eq(r.status, 201);
    api_response_clear(&r);
}
