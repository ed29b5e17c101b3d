/* Unit suite "api", objects and events: routing of /stores, /addressbook,
 * /entries and /events, the entry-id form checks (400
 * MAPI_E_INVALID_ENTRYID), generic rendering of MAPI objects, and the event
 * stream's SSE framing. api_handle is called directly on the shared fixture
 * (api_fixture.h). */
#include "../../api/api_internal.h"
#include "../../session-core/mapi_flags.h"
#include "api_fixture.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- routing and authentication ----------------------------------------- */

Test(api, object_routes_need_a_bearer)
{
    static const char *const PATHS[] = {"/stores", "/stores/00", "/addressbook", "/entries/00",
                                        "/events"};
    for (size_t i = 0; i < sizeof PATHS / sizeof PATHS[0]; i++)
        afx_expect_problem((rq){.method = "GET", .path = PATHS[i]}, 401, "MAPI_E_LOGON_FAILED");
    afx_expect_problem((rq){.method = "POST",
                            .path = "/entries/compare",
                            .ctype = "application/json",
                            .body = "{}"},
                       401, "MAPI_E_LOGON_FAILED");
    afx_expect_problem((rq){.method = "GET", .path = "/stores", .auth = "Bearer mgw_nope"}, 401,
                       "MAPI_E_END_OF_SESSION");
}

Test(api, object_routes_methods)
{
    afx_logon_p();
    api_response r = afx_call((rq){.method = "DELETE", .path = "/stores", .auth = afx.bearer});
    json_decref(afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    cr_assert_str_eq(afx_header(&r, "Allow"), "GET, HEAD");
    api_response_clear(&r);
    r = afx_call((rq){.method = "POST", .path = "/entries/00", .auth = afx.bearer});
    json_decref(afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    api_response_clear(&r);
    r = afx_call((rq){.method = "POST", .path = "/events", .auth = afx.bearer});
    json_decref(afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    api_response_clear(&r);
}

/* ---- entry-id form ------------------------------------------------------ */

Test(api, malformed_entry_ids_are_400)
{
    afx_logon_p();
    /* "compare" under /entries is a path of its own (405 for GET, see
     * api/fixed_path_beats_template); under /stores it is a bad id. */
    afx_expect_problem((rq){.method = "GET", .path = "/stores/compare", .auth = afx.bearer}, 400,
                       "MAPI_E_INVALID_ENTRYID");
    static const char *const BAD[] = {"A", "ABC", "ZZ", "0G", "00 0", "+0"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/entries/%s", BAD[i]);
        afx_expect_problem((rq){.method = "GET", .path = path, .auth = afx.bearer}, 400,
                           "MAPI_E_INVALID_ENTRYID");
        snprintf(path, sizeof path, "/stores/%s", BAD[i]);
        afx_expect_problem((rq){.method = "GET", .path = path, .auth = afx.bearer}, 400,
                           "MAPI_E_INVALID_ENTRYID");
    }
    /* 8192 hex digits pass the form check (the core then finds no owner
     * for the all-zero MAPIUID); 8194 do not. */
    char *path = malloc(16 + 8194 + 1);
    cr_assert(path);
    strcpy(path, "/entries/");
    memset(path + 9, '0', 8192);
    path[9 + 8192] = '\0';
    afx_expect_problem((rq){.method = "GET", .path = path, .auth = afx.bearer}, 404,
                       "MAPI_E_UNKNOWN_ENTRYID");
    memset(path + 9, '0', 8194);
    path[9 + 8194] = '\0';
    api_response r = afx_call((rq){.method = "GET", .path = path, .auth = afx.bearer});
    json_t *j = afx_assert_problem(&r, 400, "MAPI_E_INVALID_ENTRYID");
    cr_assert_not_null(strstr(afx_jstr(j, "detail"), "8192"), "%s", afx_jstr(j, "detail"));
    json_decref(j);
    api_response_clear(&r);
    free(path);
}

Test(api, unknown_entry_ids_are_404_and_case_does_not_matter)
{
    afx_logon_p();
    /* The status row's entry id opens a status object, in either case. */
    char ik[17];
    afx_row_key(MAPI_AB_PROVIDER, ik);
    char eid[128], path[160];
    eid[0] = '\0';
    api_response r = afx_call((rq){.method = "GET", .path = "/status", .auth = afx.bearer});
    json_t *t = afx_json(&r);
    json_t *row;
    size_t i;
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        if (strcmp(afx_jstr(row, "instance_key"), ik) == 0)
            snprintf(eid, sizeof eid, "%s", afx_jstr(row, "entry_id"));
    }
    json_decref(t);
    api_response_clear(&r);
    for (char *p = eid; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    snprintf(path, sizeof path, "/entries/%s", eid);
    r = afx_call((rq){.method = "GET", .path = path, .auth = afx.bearer});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    json_t *o = afx_json(&r);
    json_t *type = json_object_get(o, "object_type");
    cr_assert_eq(json_integer_value(json_object_get(type, "value")), 10);
    cr_assert_str_eq(afx_jstr(type, "name"), "MAPI_STATUS");
    cr_assert_str_eq(afx_jstr(o, "instance_key"), ik);
    cr_assert(json_is_array(json_object_get(json_object_get(o, "status_code"), "names")));
    json_decref(o);
    api_response_clear(&r);

    afx_expect_problem((rq){.method = "GET",
                            .path = "/entries/000000000123456789ABCDEF0123456789ABCDEF",
                            .auth = afx.bearer},
                       404, "MAPI_E_UNKNOWN_ENTRYID");
    /* Non-zero flag bytes: the core's INVALID_ENTRYID. */
    afx_expect_problem((rq){.method = "GET",
                            .path = "/entries/010000000123456789ABCDEF0123456789ABCDEF",
                            .auth = afx.bearer},
                       400, "MAPI_E_INVALID_ENTRYID");
    afx_expect_problem((rq){.method = "GET",
                            .path = "/stores/0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
                                    "0123456789ABCDEF",
                            .auth = afx.bearer},
                       400, "MAPI_E_INVALID_ENTRYID");
}

/* ---- stores, address book, compare -------------------------------------- */

Test(api, stores_table_of_a_storeless_profile_is_empty)
{
    afx_logon_p();
    api_response r = afx_call((rq){.method = "GET", .path = "/stores", .auth = afx.bearer});
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "application/json");
    json_t *j = afx_json(&r);
    cr_assert_eq(json_array_size(json_object_get(j, "rows")), 0);
    cr_assert_eq(json_integer_value(json_object_get(j, "row_count")), 0);
    json_decref(j);
    api_response_clear(&r);
    api_kv q[] = {{"x", "1"}};
    afx_expect_problem(
        (rq){.method = "GET", .path = "/stores", .auth = afx.bearer, .query = q, .nquery = 1}, 400,
        "MAPI_E_INVALID_PARAMETER");
}

Test(api, address_book_query_checks)
{
    afx_logon_p();
    api_response r = afx_call((rq){.method = "GET", .path = "/addressbook", .auth = afx.bearer});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    json_t *j = afx_json(&r);
    cr_assert(json_is_array(json_object_get(j, "containers")));
    cr_assert(json_is_array(json_object_get(j, "entries")));
    cr_assert_eq((size_t)json_integer_value(json_object_get(j, "entry_count")),
                 json_array_size(json_object_get(j, "entries")));
    json_decref(j);
    api_response_clear(&r);

    static const char *const BAD_MAX[] = {"0", "10001", "-1", "1e3", "", " 5", "99999999999"};
    for (size_t i = 0; i < sizeof BAD_MAX / sizeof BAD_MAX[0]; i++) {
        api_kv q[] = {{"max", BAD_MAX[i]}};
        afx_expect_problem((rq){.method = "GET",
                                .path = "/addressbook",
                                .auth = afx.bearer,
                                .query = q,
                                .nquery = 1},
                           400, "MAPI_E_INVALID_PARAMETER");
    }
    api_kv ok[] = {{"max", "10000"}, {"search", "Pat"}};
    r = afx_call((rq){
        .method = "GET", .path = "/addressbook", .auth = afx.bearer, .query = ok, .nquery = 2});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
    char longs[300];
    memset(longs, 'x', 257);
    longs[257] = '\0';
    api_kv lq[] = {{"search", longs}};
    afx_expect_problem(
        (rq){.method = "GET", .path = "/addressbook", .auth = afx.bearer, .query = lq, .nquery = 1},
        400, "MAPI_E_INVALID_PARAMETER");
    longs[256] = '\0'; /* exactly 256: fine */
    r = afx_call((rq){
        .method = "GET", .path = "/addressbook", .auth = afx.bearer, .query = lq, .nquery = 1});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
    api_kv bad_utf8[] = {{"search", "\xff\xfe"}};
    afx_expect_problem((rq){.method = "GET",
                            .path = "/addressbook",
                            .auth = afx.bearer,
                            .query = bad_utf8,
                            .nquery = 1},
                       400, "MAPI_E_INVALID_PARAMETER");
}

static void compare_expect(const char *body, const char *ctype, int status, const char *err)
{
    afx_expect_problem((rq){.method = "POST",
                            .path = "/entries/compare",
                            .auth = afx.bearer,
                            .ctype = ctype,
                            .body = body},
                       status, err);
}

Test(api, compare_body_checks)
{
    afx_logon_p();
    const char *J = "application/json";
    compare_expect("{\"entry_id_1\":\"00\",\"entry_id_2\":\"ABC\"}", J, 400,
                   "MAPI_E_INVALID_ENTRYID");
    compare_expect("{\"entry_id_1\":\"\",\"entry_id_2\":\"00\"}", J, 400, "MAPI_E_INVALID_ENTRYID");
    compare_expect("{\"entry_id_1\":\"00\"}", J, 400, "MAPI_E_INVALID_PARAMETER");
    compare_expect("{\"entry_id_1\":\"00\",\"entry_id_2\":null}", J, 400,
                   "MAPI_E_INVALID_PARAMETER");
    compare_expect("{\"entry_id_1\":\"00\",\"entry_id_2\":\"00\",\"flags\":0}", J, 400,
                   "MAPI_E_INVALID_PARAMETER");
    compare_expect("[]", J, 400, "MAPI_E_INVALID_PARAMETER");
    compare_expect("{", J, 400, "MAPI_E_INVALID_PARAMETER");
    compare_expect("{}", "text/plain", 415, "MAPI_E_INVALID_PARAMETER");
    /* Well-formed hex, but too short for an entry id: the core says so. */
    compare_expect("{\"entry_id_1\":\"00\",\"entry_id_2\":\"00\"}", J, 400,
                   "MAPI_E_INVALID_ENTRYID");

    /* The same status entry id twice is equal; two rows are not. */
    api_response r = afx_call((rq){.method = "GET", .path = "/status", .auth = afx.bearer});
    json_t *t = afx_json(&r);
    api_response_clear(&r);
    json_t *rows = json_object_get(t, "rows");
    char body[512];
    const char *e0 = afx_jstr(json_array_get(rows, 0), "entry_id");
    const char *e1 = afx_jstr(json_array_get(rows, 1), "entry_id");
    const char *pairs[2][2] = {{e0, e0}, {e0, e1}};
    for (int k = 0; k < 2; k++) {
        snprintf(body, sizeof body, "{\"entry_id_1\":\"%s\",\"entry_id_2\":\"%s\"}", pairs[k][0],
                 pairs[k][1]);
        r = afx_call((rq){.method = "POST",
                          .path = "/entries/compare",
                          .auth = afx.bearer,
                          .ctype = J,
                          .body = body});
        cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
        json_t *j = afx_json(&r);
        cr_assert_eq(json_is_true(json_object_get(j, "equal")), k == 0);
        json_decref(j);
        api_response_clear(&r);
    }
    json_decref(t);
}

/* ---- rendering ---------------------------------------------------------- */

Test(api, render_object_types_and_flag_sets)
{
    mapi_object o = {0};
    o.object_type = MAPI_FOLDER;
    const uint8_t bin[] = {0x00, 0xAB, 0x0f};
    cr_assert_eq(mapi_object_add_string(&o, PR_DISPLAY_NAME, "display_name", "Inbox \xc3\xa9"),
                 S_OK);
    cr_assert_eq(mapi_object_add_long(&o, PR_CONTENT_COUNT, "content_count", 7), S_OK);
    cr_assert_eq(mapi_object_add_bool(&o, PR_SUBFOLDERS, "subfolders", true), S_OK);
    cr_assert_eq(mapi_object_add_i8(&o, 0x0E080014u, "size_64", 5000000000LL), S_OK);
    cr_assert_eq(mapi_object_add_time(&o, PR_MESSAGE_DELIVERY_TIME, "delivered", 0), S_OK);
    cr_assert_eq(mapi_object_add_binary(&o, PR_ENTRYID, "entry_id", bin, sizeof bin), S_OK);
    cr_assert_eq(mapi_object_add_long(&o, PR_RESOURCE_FLAGS, "resource_flags",
                                      STATUS_DEFAULT_STORE | STATUS_NO_PRIMARY_IDENTITY),
                 S_OK);
    cr_assert_eq(mapi_object_add_long(&o, PR_STATUS_CODE, "status_code", STATUS_FAILURE), S_OK);
    json_t *j = render_object(&o);
    cr_assert_not_null(j);
    json_t *type = json_object_get(j, "object_type");
    cr_assert_eq(json_integer_value(json_object_get(type, "value")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(type, "name")), "MAPI_FOLDER");
    cr_assert_str_eq(json_string_value(json_object_get(j, "display_name")), "Inbox \xc3\xa9");
    cr_assert_eq(json_integer_value(json_object_get(j, "content_count")), 7);
    cr_assert(json_is_true(json_object_get(j, "subfolders")));
    cr_assert_eq(json_integer_value(json_object_get(j, "size_64")), 5000000000LL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "delivered")), "1970-01-01T00:00:00Z");
    cr_assert_str_eq(json_string_value(json_object_get(j, "entry_id")), "00AB0F");
    json_t *rf = json_object_get(j, "resource_flags");
    cr_assert_eq(json_integer_value(json_object_get(rf, "value")), 0x22);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(rf, "names"), 0)),
                     "STATUS_DEFAULT_STORE");
    json_t *sc = json_object_get(j, "status_code");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(sc, "names"), 0)),
                     "STATUS_FAILURE");
    json_decref(j);
    mapi_object_clear(&o);

    static const struct {
        uint32_t v;
        const char *name;
    } TYPES[] = {{1, "MAPI_STORE"},    {2, "MAPI_ADDRBOOK"}, {3, "MAPI_FOLDER"},
                 {4, "MAPI_ABCONT"},   {5, "MAPI_MESSAGE"},  {6, "MAPI_MAILUSER"},
                 {8, "MAPI_DISTLIST"}, {10, "MAPI_STATUS"}};
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        o.object_type = TYPES[i].v;
        j = render_object(&o);
        cr_assert_str_eq(
            json_string_value(json_object_get(json_object_get(j, "object_type"), "name")),
            TYPES[i].name);
        json_decref(j);
    }
    o.object_type = 99; /* unknown: a number without a name */
    j = render_object(&o);
    cr_assert(json_is_null(json_object_get(json_object_get(j, "object_type"), "name")));
    json_decref(j);

    json_t *w = render_warning(MAPI_W_ERRORS_RETURNED);
    cr_assert_str_eq(json_string_value(json_object_get(w, "mapi_error")), "MAPI_W_ERRORS_RETURNED");
    cr_assert_str_eq(json_string_value(json_object_get(w, "mapi_code")), "0x00040380");
    json_decref(w);
}

/* ---- the event stream ---------------------------------------------------- */

static int wakes;
static void count_wake(void *ctx)
{
    (void)ctx;
    wakes++;
}

/* Reads everything available now into out (NUL-terminated); returns the
 * last api_stream_read result (0: nothing more now, -1: ended). */
static long drain(api_stream *st, char *out, size_t cap)
{
    size_t used = 0;
    long n;
    while ((n = api_stream_read(st, out + used, cap - 1 - used)) > 0)
        used += (size_t)n;
    out[used] = '\0';
    return n;
}

Test(api, events_stream_frames_and_ends)
{
    afx_logon_p();
    api_response r = afx_call((rq){.method = "GET", .path = "/events", .auth = afx.bearer});
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/event-stream");
    cr_assert_null(r.body);
    cr_assert_not_null(r.stream);
    api_stream *st = r.stream;
    r.stream = NULL; /* taken, as the server does */
    api_response_clear(&r);
    api_stream_set_wake(st, count_wake, NULL);

    char buf[8192];
    cr_assert_eq(drain(st, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, ": mapigw events\nretry: 3000\n\n");
    api_stream_keepalive(st);
    cr_assert_eq(drain(st, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, ": keep-alive\n\n");

    /* A status change: validate-state on the address book after its file
     * went away turns the row to STATUS_FAILURE. */
    char ik[17];
    afx_row_key(MAPI_AB_PROVIDER, ik);
    unlink(afx.abpath);
    char path[96];
    snprintf(path, sizeof path, "/status/%s/validate-state", ik);
    r = afx_call((rq){.method = "POST", .path = path, .auth = afx.bearer});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    api_response_clear(&r);
    cr_assert_gt(wakes, 0, "the stream was not woken");
    cr_assert_eq(drain(st, buf, sizeof buf), 0);
    /* id: <the session object's tag, 16 hex digits>-<its first event> */
    cr_assert(strncmp(buf, "id: ", 4) == 0 && strspn(buf + 4, "0123456789ABCDEF") == 16, "%s", buf);
    cr_assert(strncmp(buf + 20, "-1\nevent: table_modified\ndata: {", 32) == 0, "%s", buf);
    cr_assert(strstr(buf, "\"table_event\":\"TABLE_ROW_MODIFIED\""), "%s", buf);
    cr_assert(strstr(buf, "STATUS_FAILURE"), "%s", buf);
    cr_assert(strstr(buf, ik), "%s", buf);
    cr_assert_str_eq(buf + strlen(buf) - 3, "}\n\n");

    /* Logoff: the critical error, then the end. Reads in small pieces
     * work as well as large ones. */
    char del[128];
    snprintf(del, sizeof del, "/sessions/%s", afx.sid);
    r = afx_call((rq){.method = "DELETE", .path = del, .auth = afx.bearer});
    cr_assert_eq(r.status, 204);
    api_response_clear(&r);
    size_t used = 0;
    long n;
    while ((n = api_stream_read(st, buf + used, 7)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    cr_assert_eq(n, -1);
    cr_assert(strstr(buf, "event: critical_error\n"), "%s", buf);
    cr_assert(strstr(buf, "\"reason\":\"logoff\""), "%s", buf);
    cr_assert(strstr(buf, "\"mapi_code\":\"0x80040200\""), "%s", buf);
    cr_assert_eq(api_stream_read(st, buf, sizeof buf), -1);
    api_stream_free(st);
}

Test(api, events_close_sends_shutdown)
{
    afx_logon_p();
    api_response r = afx_call((rq){.method = "GET", .path = "/events", .auth = afx.bearer});
    api_stream *st = r.stream;
    r.stream = NULL;
    api_response_clear(&r);
    char buf[4096];
    drain(st, buf, sizeof buf);
    api_stream_close(st, "shutdown");
    cr_assert_eq(drain(st, buf, sizeof buf), -1);
    cr_assert(strstr(buf, "event: critical_error"), "%s", buf);
    cr_assert(strstr(buf, "\"reason\":\"shutdown\""), "%s", buf);
    api_stream_free(st);

    /* A response cleared with its stream frees it (no leak, no crash). */
    r = afx_call((rq){.method = "GET", .path = "/events", .auth = afx.bearer});
    cr_assert_not_null(r.stream);
    api_response_clear(&r);
    /* HEAD subscribes to nothing. */
    r = afx_call((rq){.method = "HEAD", .path = "/events", .auth = afx.bearer});
    cr_assert_eq(r.status, 200);
    cr_assert_null(r.stream);
    api_response_clear(&r);
}
