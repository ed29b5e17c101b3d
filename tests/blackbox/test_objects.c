/* Black-box: objects reached through the session (docs/contract/http.md 6, objects reached
 * through the session"): GET /stores, GET /stores/<eid>, GET /addressbook,
 * GET /entries/<eid>, POST /entries/compare, on the local providers
 * (maildir, abfile) of tests/profiles/main.json. */
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

TestSuite(objects, .fini = fini_gw, .timeout = 90);

#define MAIL "[\"MAPI_NEW_SESSION\"]"

/* GET path asserting 200 and a JSON object; the caller frees r. */
static json_t *get_ok(const char *path, const char *token, gw_resp *r)
{
    gw_get(G, path, token, r);
    cr_assert_eq(r->status, 200, "GET %s: %ld %s", path, r->status, r->body);
    cr_assert(json_is_object(r->json), "GET %s: not a JSON object: %s", path, r->body);
    gw_assert_no_store(r);
    return r->json;
}

static void expect_problem(const char *path, const char *token, long status, const char *err)
{
    gw_resp r;
    gw_get(G, path, token, &r);
    gw_assert_problem(&r, status, err);
    gw_resp_free(&r);
}

/* object_type {"value": v, "name": name} */
static void expect_type(json_t *obj, unsigned v, const char *name)
{
    json_t *t = json_object_get(obj, "object_type");
    cr_expect(json_is_object(t), "no object_type");
    cr_expect_eq(gw_jvalue(t), v);
    cr_expect_str_eq(gw_jstr(t, "name"), name);
}

/* The entry id of alice's only store (malloc'd). */
static char *store_id(const char *token)
{
    gw_resp r;
    json_t *j = get_ok("/stores", token, &r);
    json_t *row = json_array_get(json_object_get(j, "rows"), 0);
    cr_assert(row, "no store row: %s", r.body);
    char *id = strdup(gw_jstr(row, "entry_id"));
    gw_resp_free(&r);
    return id;
}

Test(objects, stores_table_lists_the_maildir_store)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    gw_resp r;
    json_t *j = get_ok("/stores", s.token, &r);
    json_t *rows = json_object_get(j, "rows");
    cr_assert(json_is_array(rows));
    cr_expect_eq(json_array_size(rows), 1u, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(j, "row_count")), 1);
    json_t *row = json_array_get(rows, 0);
    expect_type(row, 1, "MAPI_STORE");
    cr_expect_str_eq(gw_jstr(row, "display_name"), "Alice Mailbox");
    cr_expect(gw_is_upper_hex(gw_jstr(row, "entry_id")));
    cr_expect(json_is_true(json_object_get(row, "default_store")));
    cr_expect(gw_jnames_has(json_object_get(row, "resource_flags"), "STATUS_DEFAULT_STORE"));
    cr_expect(gw_jnames_has(json_object_get(row, "status_code"), "STATUS_AVAILABLE"));
    gw_resp_free(&r);

    /* No query parameters here. */
    char path[64] = "/stores?x=1";
    expect_problem(path, s.token, 400, "MAPI_E_INVALID_PARAMETER");
    expect_problem("/stores", NULL, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&s);
}

Test(objects, open_store_counts_and_round_trips)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    /* Three messages: two new (unread), one seen in cur/. */
    const char *files[] = {"new/1.a.host", "new/2.b.host", "cur/3.c.host:2,S"};
    for (size_t i = 0; i < 3; i++) {
        char *p = gw_data_path(G, "alice/Maildir/%s", files[i]);
        gw_write_file(p, "From: a@example.invalid\r\nSubject: hi\r\n\r\nbody\r\n");
        free(p);
    }
    char *sid = store_id(s.token);
    char path[512];
    snprintf(path, sizeof path, "/stores/%s", sid);
    gw_resp r;
    json_t *j = get_ok(path, s.token, &r);
    json_t *store = json_object_get(j, "store");
    expect_type(store, 1, "MAPI_STORE");
    cr_expect_str_eq(gw_jstr(store, "entry_id"), sid);
    json_t *folders = json_object_get(j, "folders");
    cr_assert(json_is_array(folders), "%s", r.body);
    json_t *inbox = NULL, *f;
    size_t i;
    json_array_foreach(folders, i, f)
    {
        if (gw_jstr(f, "display_name") && strcmp(gw_jstr(f, "display_name"), "INBOX") == 0)
            inbox = f;
    }
    cr_assert(inbox, "no INBOX: %s", r.body);
    expect_type(inbox, 3, "MAPI_FOLDER");
    cr_expect_eq(json_integer_value(json_object_get(inbox, "content_count")), 3, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(inbox, "content_unread")), 2, "%s", r.body);
    char *fid = strdup(gw_jstr(inbox, "entry_id"));
    gw_resp_free(&r);

    /* The folder's id opens the same folder; the store's id the store. */
    snprintf(path, sizeof path, "/entries/%s", fid);
    j = get_ok(path, s.token, &r);
    expect_type(j, 3, "MAPI_FOLDER");
    cr_expect_str_eq(gw_jstr(j, "entry_id"), fid);
    cr_expect_str_eq(gw_jstr(j, "display_name"), "INBOX");
    gw_resp_free(&r);
    /* Lower-case hex is the same id. */
    for (char *p = fid; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    snprintf(path, sizeof path, "/entries/%s", fid);
    j = get_ok(path, s.token, &r);
    expect_type(j, 3, "MAPI_FOLDER");
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/entries/%s", sid);
    j = get_ok(path, s.token, &r);
    expect_type(j, 1, "MAPI_STORE");
    gw_resp_free(&r);

    /* A folder id is not a store id. */
    snprintf(path, sizeof path, "/stores/%s", fid);
    expect_problem(path, s.token, 404, "MAPI_E_UNKNOWN_ENTRYID");
    free(fid);
    free(sid);
    gw_session_free(&s);
}

Test(objects, folder_contents_list_messages_that_open)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    char *p = gw_data_path(G, "alice/Maildir/cur/5.x.host:2,S");
    gw_write_file(p, "From: Bob <bob@example.invalid>\r\nSubject: lunch\r\n\r\nbody\r\n");
    free(p);
    char *sid = store_id(s.token);
    char path[512];
    snprintf(path, sizeof path, "/stores/%s", sid);
    gw_resp r;
    json_t *j = get_ok(path, s.token, &r);
    char *fid = strdup(gw_jstr(json_array_get(json_object_get(j, "folders"), 0), "entry_id"));
    gw_resp_free(&r);

    snprintf(path, sizeof path, "/entries/%s/contents", fid);
    j = get_ok(path, s.token, &r);
    cr_assert_eq(json_integer_value(json_object_get(j, "row_count")), 1, "%s", r.body);
    json_t *msg = json_array_get(json_object_get(j, "rows"), 0);
    expect_type(msg, 5, "MAPI_MESSAGE");
    cr_expect_str_eq(gw_jstr(msg, "subject"), "lunch");
    cr_expect_str_eq(gw_jstr(msg, "sender_email_address"), "bob@example.invalid");
    char *mid = strdup(gw_jstr(msg, "entry_id"));
    gw_resp_free(&r);

    /* The row's entry id opens the message itself. */
    snprintf(path, sizeof path, "/entries/%s", mid);
    j = get_ok(path, s.token, &r);
    expect_type(j, 5, "MAPI_MESSAGE");
    cr_expect_str_eq(gw_jstr(j, "subject"), "lunch");
    gw_resp_free(&r);

    /* Only folders have contents; max is bounded. */
    snprintf(path, sizeof path, "/entries/%s/contents", sid);
    expect_problem(path, s.token, 404, "MAPI_E_UNKNOWN_ENTRYID");
    snprintf(path, sizeof path, "/entries/%s/contents?max=0", fid);
    expect_problem(path, s.token, 400, "MAPI_E_INVALID_PARAMETER");
    free(mid);
    free(fid);
    free(sid);
    gw_session_free(&s);
}

Test(objects, status_row_entry_id_opens_a_status_object)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    gw_resp st;
    json_t *t = get_ok("/status", s.token, &st);
    json_t *row;
    size_t i;
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        char path[256];
        snprintf(path, sizeof path, "/entries/%s", gw_jstr(row, "entry_id"));
        gw_resp r;
        json_t *o = get_ok(path, s.token, &r);
        expect_type(o, 10, "MAPI_STATUS");
        cr_expect_eq(gw_jvalue(json_object_get(o, "status_code")),
                     gw_jvalue(json_object_get(row, "status_code")), "row %zu", i);
        cr_expect_str_eq(gw_jstr(o, "instance_key"), gw_jstr(row, "instance_key"));
        gw_resp_free(&r);
    }
    gw_resp_free(&st);
    gw_session_free(&s);
}

Test(objects, malformed_unknown_and_foreign_ids)
{
    G = gw_start("main.json", NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    gw_logon_ok(G, "bob", "bob-pw", MAIL, &b);
    static const char *const BAD[] = {"ABC", "ZZ", "00G0", "0x00"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/entries/%s", BAD[i]);
        expect_problem(path, a.token, 400, "MAPI_E_INVALID_ENTRYID");
        snprintf(path, sizeof path, "/stores/%s", BAD[i]);
        expect_problem(path, a.token, 400, "MAPI_E_INVALID_ENTRYID");
    }
    /* Right form, but nobody's MAPIUID. */
    expect_problem("/entries/000000000123456789ABCDEF0123456789ABCDEF46", a.token, 404,
                   "MAPI_E_UNKNOWN_ENTRYID");
    expect_problem("/stores/000000000123456789ABCDEF0123456789ABCDEF", a.token, 404,
                   "MAPI_E_UNKNOWN_ENTRYID");
    /* Bob's store is not in alice's session. */
    char *bob_store = store_id(b.token);
    char path[256];
    snprintf(path, sizeof path, "/stores/%s", bob_store);
    expect_problem(path, a.token, 404, "MAPI_E_UNKNOWN_ENTRYID");
    snprintf(path, sizeof path, "/entries/%s", bob_store);
    expect_problem(path, a.token, 404, "MAPI_E_UNKNOWN_ENTRYID");
    free(bob_store);
    gw_session_free(&a);
    gw_session_free(&b);
}

static long compare(const char *token, const char *body, gw_resp *r)
{
    return gw_post(G, "/entries/compare", token, body, r);
}

Test(objects, compare_entry_ids)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    char *sid = store_id(s.token);
    char body[1024];
    gw_resp r;
    snprintf(body, sizeof body, "{\"entry_id_1\":\"%s\",\"entry_id_2\":\"%s\"}", sid, sid);
    cr_assert_eq(compare(s.token, body, &r), 200, "%s", r.body);
    cr_expect(json_is_true(json_object_get(r.json, "equal")), "%s", r.body);
    gw_resp_free(&r);

    gw_resp st;
    json_t *t = get_ok("/status", s.token, &st);
    const char *row_eid = gw_jstr(json_array_get(json_object_get(t, "rows"), 0), "entry_id");
    snprintf(body, sizeof body, "{\"entry_id_1\":\"%s\",\"entry_id_2\":\"%s\"}", sid, row_eid);
    gw_resp_free(&st);
    cr_assert_eq(compare(s.token, body, &r), 200, "%s", r.body);
    cr_expect(json_is_false(json_object_get(r.json, "equal")), "%s", r.body);
    gw_resp_free(&r);

    snprintf(body, sizeof body, "{\"entry_id_1\":\"%s\",\"entry_id_2\":\"XYZ\"}", sid);
    compare(s.token, body, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_ENTRYID");
    gw_resp_free(&r);
    snprintf(body, sizeof body, "{\"entry_id_1\":\"%s\"}", sid);
    compare(s.token, body, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    snprintf(body, sizeof body, "{\"entry_id_1\":\"%s\",\"entry_id_2\":\"%s\",\"x\":1}", sid, sid);
    compare(s.token, body, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    compare(s.token, "{\"entry_id_1\":1,\"entry_id_2\":\"00\"}", &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"entry_id_1\":\"000000000123456789ABCDEF0123456789ABCDEF\",\"entry_id_2\":\"%s\"}",
             sid);
    compare(s.token, body, &r);
    gw_assert_problem(&r, 404, "MAPI_E_UNKNOWN_ENTRYID");
    gw_resp_free(&r);
    /* Longer than any entry id can be (8192 hex digits). */
    size_t hl = 8194;
    char *huge = malloc(hl + 64);
    cr_assert(huge);
    int n = snprintf(huge, hl + 64, "{\"entry_id_1\":\"00\",\"entry_id_2\":\"");
    memset(huge + n, '0', hl);
    strcpy(huge + n + hl, "\"}");
    compare(s.token, huge, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_ENTRYID");
    cr_expect(strstr(gw_jstr(r.json, "detail"), "entry_id_2") != NULL, "%s", r.body);
    gw_resp_free(&r);
    free(huge);
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    const char *const text[] = {"Content-Type: text/plain", auth, NULL};
    gw_request(G, "POST", "/entries/compare", text, "{}", &r);
    gw_assert_problem(&r, 415, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    free(sid);
    gw_session_free(&s);
}

Test(objects, address_book_entries_and_search)
{
    G = gw_start("main.json", NULL);
    char *dir = gw_data_path(G, "alice");
    gw_mkdirs(dir);
    free(dir);
    char *f = gw_data_path(G, "alice/contacts.json");
    gw_write_file(f, "{\"entries\":["
                     "{\"display\":\"Zed Zulu\",\"address_type\":\"SMTP\","
                     "\"address\":\"zed@example.invalid\"},"
                     "{\"display\":\"Yan Young\",\"address_type\":\"SMTP\","
                     "\"address\":\"yan@example.invalid\"}]}");
    free(f);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    gw_resp r;
    json_t *j = get_ok("/addressbook", s.token, &r);
    json_t *containers = json_object_get(j, "containers");
    json_t *entries = json_object_get(j, "entries");
    cr_assert(json_is_array(containers) && json_is_array(entries), "%s", r.body);
    cr_expect_eq(json_array_size(containers), 1u, "%s", r.body);
    expect_type(json_array_get(containers, 0), 4, "MAPI_ABCONT");
    cr_expect_geq(json_array_size(entries), 2u, "%s", r.body);
    cr_expect_eq((size_t)json_integer_value(json_object_get(j, "entry_count")),
                 json_array_size(entries));
    cr_expect_null(json_object_get(j, "warning"));
    char *zed = NULL;
    json_t *e;
    size_t i;
    json_array_foreach(entries, i, e)
    {
        if (gw_jstr(e, "display_name") && strcmp(gw_jstr(e, "display_name"), "Zed Zulu") == 0)
            zed = strdup(gw_jstr(e, "entry_id"));
    }
    cr_assert(zed, "Zed Zulu missing: %s", r.body);
    gw_resp_free(&r);

    /* The entry's id opens it. */
    char path[512];
    snprintf(path, sizeof path, "/entries/%s", zed);
    j = get_ok(path, s.token, &r);
    expect_type(j, 6, "MAPI_MAILUSER");
    cr_expect_str_eq(gw_jstr(j, "display_name"), "Zed Zulu");
    gw_resp_free(&r);
    free(zed);

    j = get_ok("/addressbook?search=Zed", s.token, &r);
    entries = json_object_get(j, "entries");
    cr_expect_eq(json_array_size(entries), 1u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(entries, 0), "display_name"), "Zed Zulu");
    gw_resp_free(&r);
    j = get_ok("/addressbook?max=1", s.token, &r);
    cr_expect_eq(json_array_size(json_object_get(j, "entries")), 1u, "%s", r.body);
    gw_resp_free(&r);

    expect_problem("/addressbook?max=0", s.token, 400, "MAPI_E_INVALID_PARAMETER");
    expect_problem("/addressbook?max=10001", s.token, 400, "MAPI_E_INVALID_PARAMETER");
    expect_problem("/addressbook?max=-1", s.token, 400, "MAPI_E_INVALID_PARAMETER");
    expect_problem("/addressbook?other=1", s.token, 400, "MAPI_E_INVALID_PARAMETER");
    char longq[400] = "/addressbook?search=";
    memset(longq + strlen(longq), 'a', 257);
    expect_problem(longq, s.token, 400, "MAPI_E_INVALID_PARAMETER");
    gw_session_free(&s);
}

/* An encoded NUL would end the C string the value
 * becomes: "Zed%00" searched "Zed", "%00zz" everything, and a NUL in the
 * path made /entries/<id>%00/contents open the entry itself. Each is 400. */
Test(objects, an_encoded_nul_in_query_or_path_is_refused)
{
    G = gw_start("main.json", NULL);
    char *dir = gw_data_path(G, "alice");
    gw_mkdirs(dir);
    free(dir);
    char *f = gw_data_path(G, "alice/contacts.json");
    gw_write_file(f, "{\"entries\":["
                     "{\"display\":\"Zed Zulu\",\"address_type\":\"SMTP\","
                     "\"address\":\"zed@example.invalid\"},"
                     "{\"display\":\"Yan Young\",\"address_type\":\"SMTP\","
                     "\"address\":\"yan@example.invalid\"}]}");
    free(f);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    static const char *const REFUSED[] = {
        "/addressbook?search=Zed%00",       "/addressbook?search=%00zz",
        "/addressbook?search=Z%00ed&max=5", "/addressbook?max=1%000",
        "/addressbook?sea%00rch=Zed",       "/status?columns=display_name%00,status_code",
    };
    for (size_t i = 0; i < sizeof REFUSED / sizeof REFUSED[0]; i++) {
        gw_resp r;
        gw_get(G, REFUSED[i], s.token, &r);
        gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
        cr_expect(strstr(gw_jstr(r.json, "detail") ? gw_jstr(r.json, "detail") : "", "NUL"),
                  "%s: %s", REFUSED[i], r.body);
        gw_resp_free(&r);
    }

    /* A path with a NUL names nothing: not the entry the part before it is. */
    gw_resp r;
    json_t *j = get_ok("/addressbook?search=Zed", s.token, &r);
    char *zed = strdup(gw_jstr(json_array_get(json_object_get(j, "entries"), 0), "entry_id"));
    gw_resp_free(&r);
    char path[512];
    snprintf(path, sizeof path, "/entries/%s%%00/contents", zed);
    expect_problem(path, s.token, 400, "MAPI_E_INVALID_PARAMETER");
    snprintf(path, sizeof path, "/entries/%s%%00", zed);
    expect_problem(path, s.token, 400, "MAPI_E_INVALID_PARAMETER");

    /* The text "%00" itself (sent as %2500) is an ordinary search: no match. */
    j = get_ok("/addressbook?search=%2500", s.token, &r);
    cr_expect_eq(json_array_size(json_object_get(j, "entries")), 0u, "%s", r.body);
    gw_resp_free(&r);
    /* Other escapes still decode: "Z%65d" is "Zed". */
    j = get_ok("/addressbook?search=Z%65d", s.token, &r);
    cr_expect_eq(json_array_size(json_object_get(j, "entries")), 1u, "%s", r.body);
    gw_resp_free(&r);
    free(zed);
    gw_session_free(&s);
}

Test(objects, failed_address_book_provider_warns)
{
    G = gw_start("main.json", NULL);
    char *dir = gw_data_path(G, "badab");
    gw_mkdirs(dir);
    free(dir);
    char *f = gw_data_path(G, "badab/contacts.json");
    gw_write_file(f, "{\"entries\": [ {\"display\": \"x\", ");
    free(f);
    gw_session s;
    gw_logon_ok(G, "badab", NULL, MAIL, &s);
    gw_resp r;
    json_t *j = get_ok("/addressbook", s.token, &r);
    json_t *w = json_object_get(j, "warning");
    cr_assert(json_is_object(w), "no warning: %s", r.body);
    cr_expect_str_eq(gw_jstr(w, "mapi_error"), "MAPI_W_ERRORS_RETURNED");
    cr_expect_str_eq(gw_jstr(w, "mapi_code"), "0x00040380");
    cr_expect(json_is_array(json_object_get(j, "entries")));
    gw_resp_free(&r);
    gw_session_free(&s);
}
