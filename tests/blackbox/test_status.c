/* Black-box: the status table (GET /status, /status/<ik>, IMAPIStatus
 * methods), docs/contract/http.md 4, docs/contract/mapi.md 6 and checklist 40-51. */
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

TestSuite(status, .fini = fini_gw, .timeout = 90);

#define MAIL "[\"MAPI_NEW_SESSION\"]"
#define NOMAIL "[\"MAPI_NEW_SESSION\",\"MAPI_NO_MAIL\"]"

static const char *const REQUIRED[] = {
    "instance_key",   "row_id",           "entry_id",          "object_type",
    "display_name",   "provider_display", "provider_dll_name", "resource_type",
    "resource_flags", "resource_methods", "status_code",       "status_string",
};

/* GET /status, asserting 200; the caller frees r. */
static json_t *status_table(const char *token, const char *query, gw_resp *r)
{
    char path[512];
    snprintf(path, sizeof path, "/status%s", query ? query : "");
    gw_get(G, path, token, r);
    cr_assert_eq(r->status, 200, "GET %s: %ld %s", path, r->status, r->body);
    cr_assert(json_is_object(r->json), "GET %s: not a JSON object", path);
    json_t *rows = json_object_get(r->json, "rows");
    cr_assert(json_is_array(rows), "no rows array: %s", r->body);
    json_t *rc = json_object_get(r->json, "row_count");
    cr_expect(json_is_integer(rc) && (size_t)json_integer_value(rc) == json_array_size(rows),
              "row_count does not match the rows: %s", r->body);
    gw_assert_no_store(r);
    return r->json;
}

static const char *ik_of(json_t *row)
{
    const char *ik = gw_jstr(row, "instance_key");
    cr_assert(ik != NULL, "row without instance_key");
    return ik;
}

static long call_method(const char *token, json_t *row, const char *method, const char *body,
                        gw_resp *r)
{
    char path[512];
    snprintf(path, sizeof path, "/status/%s/%s", ik_of(row), method);
    return gw_post(G, path, token, body, r);
}

static void logon(const char *profile, const char *pw, const char *flags, gw_session *s)
{
    gw_logon_ok(G, profile, pw, flags, s);
}

Test(status, rows_and_columns)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    logon("alice", "alice-pw", MAIL, &s);
    gw_resp r;
    json_t *t = status_table(s.token, NULL, &r);
    json_t *rows = json_object_get(t, "rows");
    cr_expect_eq(gw_count_rows_of_type(t, 39), 1u, "subsystem rows");
    cr_expect_eq(gw_count_rows_of_type(t, 37), 1u, "spooler rows");
    cr_expect_eq(gw_count_rows_of_type(t, 34), 1u, "integrated AB rows");
    cr_expect_eq(gw_count_rows_of_type(t, 33), 1u, "store rows");
    cr_expect_eq(gw_count_rows_of_type(t, 35), 1u, "AB provider rows");
    cr_expect_eq(gw_count_rows_of_type(t, 36), 1u, "transport rows");
    cr_expect_eq(json_array_size(rows), 6u, "%s", r.body);
    /* order: subsystem, spooler, integrated AB, then providers in file order */
    static const unsigned order[] = {39, 37, 34, 33, 36, 35};
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (i < 6)
            cr_expect_eq(gw_jvalue(json_object_get(row, "resource_type")), order[i],
                         "row %zu has type %llu", i,
                         gw_jvalue(json_object_get(row, "resource_type")));
        for (size_t k = 0; k < sizeof REQUIRED / sizeof REQUIRED[0]; k++)
            cr_expect(json_object_get(row, REQUIRED[k]) != NULL, "row %zu lacks %s", i,
                      REQUIRED[k]);
        json_t *ot = json_object_get(row, "object_type");
        cr_expect(json_is_integer(ot) && json_integer_value(ot) == 10, "row %zu object_type", i);
        const char *ik = gw_jstr(row, "instance_key");
        cr_expect(gw_is_upper_hex(ik), "row %zu instance_key %s", i, ik);
        const char *eid = gw_jstr(row, "entry_id");
        cr_expect(gw_is_upper_hex(eid), "row %zu entry_id %s", i, eid);
        if (eid && ik) {
            size_t el = strlen(eid), il = strlen(ik);
            cr_expect(el > il && strcmp(eid + el - il, ik) == 0,
                      "entry_id %s does not end with the instance key %s", eid, ik);
            cr_expect(strncmp(eid, "00000000", 8) == 0, "entry_id %s flags not zero", eid);
        }
        const char *dll = gw_jstr(row, "provider_dll_name");
        cr_expect(dll && *dll, "row %zu without a dll name", i);
        if (dll && strlen(dll) >= 2)
            cr_expect(strcmp(dll + strlen(dll) - 2, "32") != 0, "dll name %s ends in 32", dll);
        const char *rtn = gw_jstr(json_object_get(row, "resource_type"), "name");
        cr_expect(rtn && strncmp(rtn, "MAPI_", 5) == 0, "resource_type name %s", rtn);
        for (size_t j = 0; j < i; j++)
            cr_expect_str_neq(gw_jstr(json_array_get(rows, j), "instance_key"), ik,
                              "instance key %s repeated", ik);
    }
    /* MAPI's own rows */
    json_t *sub = gw_row_of_type(t, 39), *sp = gw_row_of_type(t, 37), *ab = gw_row_of_type(t, 34);
    cr_assert(sub && sp && ab);
    cr_expect_eq(gw_jvalue(json_object_get(sub, "resource_methods")), 0x1u);
    cr_expect_eq(gw_jvalue(json_object_get(ab, "resource_methods")), 0x1u);
    cr_expect_eq(gw_jvalue(json_object_get(sp, "resource_methods")), 0x9u);
    cr_expect(gw_jnames_has(json_object_get(sp, "resource_methods"), "STATUS_FLUSH_QUEUES"));
    cr_expect_str_eq(gw_jstr(sub, "provider_dll_name"), "MAPI");
    cr_expect_str_eq(gw_jstr(sp, "provider_dll_name"), "MAPISP");
    cr_expect_str_eq(gw_jstr(ab, "provider_dll_name"), "MAPIAB");
    /* the transport row */
    json_t *xp = gw_find_row(t, "Alice Outbox");
    cr_assert(xp != NULL, "no row for the spool transport: %s", r.body);
    json_t *sc = json_object_get(xp, "status_code");
    cr_expect(gw_jvalue(sc) & 0x100000u, "transport without OUTBOUND_ENABLED: %s", r.body);
    cr_expect(gw_jnames_has(sc, "STATUS_OUTBOUND_ENABLED"));
    cr_expect(gw_jnames_has(sc, "STATUS_AVAILABLE"));
    cr_expect(gw_jvalue(json_object_get(xp, "resource_methods")) & 0x8u,
              "transport lacks FLUSH_QUEUES");
    /* spooler is fine in a messaging session */
    cr_expect_eq(gw_jvalue(json_object_get(sp, "status_code")) & 0x4u, 0u, "spooler FAILURE: %s",
                 r.body);
    /* provider rows: exactly one of PRIMARY_IDENTITY / NO_PRIMARY_IDENTITY */
    const char *provs[] = {"Alice Mailbox", "Alice Outbox", "Alice Contacts"};
    for (size_t k = 0; k < 3; k++) {
        json_t *p = gw_find_row(t, provs[k]);
        cr_assert(p != NULL, "no row %s", provs[k]);
        unsigned long long rf = gw_jvalue(json_object_get(p, "resource_flags"));
        cr_expect(((rf & 0x4u) != 0) != ((rf & 0x20u) != 0), "%s resource_flags 0x%llx", provs[k],
                  rf);
        cr_expect_str_eq(gw_jstr(p, "provider_display"), "mapigw");
    }
    cr_expect(gw_jnames_has(json_object_get(gw_find_row(t, "Alice Mailbox"), "resource_flags"),
                            "STATUS_DEFAULT_STORE"));
    cr_expect_eq(gw_jvalue(json_object_get(gw_find_row(t, "Alice Mailbox"), "status_code")) & 0x5u,
                 0x1u, "store not AVAILABLE");

    /* stable instance keys across reads */
    gw_resp r2;
    json_t *t2 = status_table(s.token, NULL, &r2);
    json_t *rows2 = json_object_get(t2, "rows");
    cr_expect_eq(json_array_size(rows2), json_array_size(rows));
    json_array_foreach(rows, i, row)
    {
        json_t *o = json_array_get(rows2, i);
        if (o)
            cr_expect_str_eq(gw_jstr(o, "instance_key"), gw_jstr(row, "instance_key"));
    }
    gw_resp_free(&r2);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(status, no_mail_session)
{
    G = gw_start("main.json", NULL);
    gw_session s, d;
    logon("alice", "alice-pw", NOMAIL, &s);
    gw_resp r;
    json_t *t = status_table(s.token, NULL, &r);
    cr_expect_eq(gw_count_rows_of_type(t, 36), 0u, "transport rows in a NO_MAIL session");
    cr_expect_eq(gw_count_rows_of_type(t, 37), 1u);
    json_t *sp = gw_row_of_type(t, 37);
    cr_assert(sp);
    json_t *sc = json_object_get(sp, "status_code");
    cr_expect(gw_jvalue(sc) & 0x4u, "spooler without STATUS_FAILURE: %s", r.body);
    cr_expect(gw_jnames_has(sc, "STATUS_FAILURE"));
    const char *ss = gw_jstr(sp, "status_string");
    cr_expect(ss && *ss, "spooler without a status string");
    cr_expect(gw_find_row(t, "Alice Mailbox") != NULL);
    gw_resp_free(&r);
    /* the default flags include NO_MAIL */
    logon("alice", "alice-pw", NULL, &d);
    t = status_table(d.token, NULL, &r);
    cr_expect_eq(gw_count_rows_of_type(t, 36), 0u, "transport rows with default flags");
    gw_resp_free(&r);
    gw_session_free(&s);
    gw_session_free(&d);
}

Test(status, open_status_object)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    logon("alice", "alice-pw", MAIL, &s);
    gw_resp r;
    json_t *t = status_table(s.token, NULL, &r);
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        char path[256];
        snprintf(path, sizeof path, "/status/%s", ik_of(row));
        gw_resp o;
        cr_expect_eq(gw_get(G, path, s.token, &o), 200, "GET %s: %s", path, o.body);
        if (o.status == 200) {
            cr_expect_str_eq(gw_jstr(o.json, "instance_key"), ik_of(row));
            cr_expect_eq(gw_jvalue(json_object_get(o.json, "status_code")),
                         gw_jvalue(json_object_get(row, "status_code")));
            cr_expect_str_eq(gw_jstr(o.json, "display_name"), gw_jstr(row, "display_name"));
        }
        gw_resp_free(&o);
    }
    gw_resp o;
    gw_get(G, "/status/XYZ", s.token, &o);
    gw_assert_problem(&o, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&o);
    gw_get(G, "/status/7FFFFFFFFFFFFFF0", s.token, &o);
    gw_assert_problem(&o, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&o);
    /* another session's rows are not ours */
    gw_session b;
    logon("bob", "bob-pw", MAIL, &b);
    char path[256];
    snprintf(path, sizeof path, "/status/%s", ik_of(gw_row_of_type(t, 39)));
    gw_get(G, path, b.token, &o);
    gw_assert_problem(&o, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&o);
    gw_session_free(&b);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(status, unsupported_methods_501)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    logon("alice", "alice-pw", MAIL, &s);
    gw_resp r, o;
    json_t *t = status_table(s.token, NULL, &r);
    json_t *mapi_rows[] = {gw_row_of_type(t, 39), gw_row_of_type(t, 37), gw_row_of_type(t, 34)};
    json_t *store = gw_find_row(t, "Alice Mailbox");
    cr_assert(mapi_rows[0] && mapi_rows[1] && mapi_rows[2] && store);
    for (size_t i = 0; i < 3; i++) {
        call_method(s.token, mapi_rows[i], "settings-dialog", NULL, &o);
        gw_assert_problem(&o, 501, "MAPI_E_NO_SUPPORT");
        gw_resp_free(&o);
        call_method(s.token, mapi_rows[i], "change-password",
                    "{\"old_password\":\"alice-pw\",\"new_password\":\"never-set-pw\"}", &o);
        gw_assert_problem(&o, 501, "MAPI_E_NO_SUPPORT");
        gw_resp_free(&o);
    }
    gw_add_secret(G, "never-set-pw");
    /* settings-dialog is never supported, not even on a provider */
    call_method(s.token, store, "settings-dialog", NULL, &o);
    gw_assert_problem(&o, 501, "MAPI_E_NO_SUPPORT");
    gw_resp_free(&o);
    /* flush-queues where bit 0x8 is clear */
    cr_assert_eq(gw_jvalue(json_object_get(store, "resource_methods")) & 0x8u, 0u);
    call_method(s.token, store, "flush-queues", NULL, &o);
    gw_assert_problem(&o, 501, "MAPI_E_NO_SUPPORT");
    gw_resp_free(&o);
    call_method(s.token, mapi_rows[0], "flush-queues", NULL, &o);
    gw_assert_problem(&o, 501, "MAPI_E_NO_SUPPORT");
    gw_resp_free(&o);
    /* unknown method */
    call_method(s.token, store, "reboot", NULL, &o);
    gw_assert_problem(&o, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&o);
    /* the old password still works: change-password was not called */
    gw_session again;
    logon("alice", "alice-pw", MAIL, &again);
    gw_session_free(&again);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(status, validate_state_flags)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    logon("alice", "alice-pw", MAIL, &s);
    gw_resp r, o;
    json_t *t = status_table(s.token, NULL, &r);
    json_t *targets[] = {gw_row_of_type(t, 39), gw_find_row(t, "Alice Outbox")};
    cr_assert(targets[0] && targets[1]);
    for (size_t i = 0; i < 2; i++) {
        call_method(s.token, targets[i], "validate-state", "{\"flags\":2}", &o);
        gw_assert_problem(&o, 400, "MAPI_E_UNKNOWN_FLAGS");
        gw_resp_free(&o);
        call_method(s.token, targets[i], "validate-state", "{\"flags\":[\"FLUSH_UPLOAD\"]}", &o);
        gw_assert_problem(&o, 400, "MAPI_E_UNKNOWN_FLAGS");
        gw_resp_free(&o);
        call_method(s.token, targets[i], "validate-state", "{\"flags\":[\"SUPPRESS_UI\"]}", &o);
        cr_expect_eq(o.status, 200, "%ld %s", o.status, o.body);
        cr_expect_str_eq(gw_jstr(o.json, "instance_key"), ik_of(targets[i]));
        gw_resp_free(&o);
        /* an empty body without a Content-Type means no flags */
        const char *hdr[] = {NULL, NULL};
        char auth[256], path[256];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
        hdr[0] = auth;
        snprintf(path, sizeof path, "/status/%s/validate-state", ik_of(targets[i]));
        gw_request(G, "POST", path, hdr, NULL, &o);
        cr_expect_eq(o.status, 200, "empty body: %ld %s", o.status, o.body);
        gw_resp_free(&o);
        call_method(s.token, targets[i], "validate-state", "{\"flags\":0,\"extra\":1}", &o);
        gw_assert_problem(&o, 400, "MAPI_E_INVALID_PARAMETER");
        gw_resp_free(&o);
    }
    gw_resp_free(&r);
    gw_session_free(&s);
}

static char *mkpath(const char *base, const char *sub)
{
    size_t n = strlen(base) + strlen(sub) + 2;
    char *p = malloc(n);
    cr_assert(p);
    snprintf(p, n, "%s/%s", base, sub);
    return p;
}

Test(status, maildir_failure_and_recovery)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    logon("alice", "alice-pw", MAIL, &s);
    gw_resp r, o;
    json_t *t = status_table(s.token, NULL, &r);
    json_t *store = gw_find_row(t, "Alice Mailbox");
    cr_assert(store);
    char *ik = strdup(ik_of(store));
    const char *etag0 = gw_header(&r, "ETag");
    cr_assert(etag0 && *etag0, "GET /status without an ETag");
    char *etag = strdup(etag0);

    char *md = gw_data_path(G, "alice/Maildir");
    cr_assert_eq(gw_count_dir(md), 3, "the maildir store did not create cur/new/tmp in %s", md);
    cr_assert_eq(gw_rmrf(md), 0);
    call_method(s.token, store, "validate-state", NULL, &o);
    cr_assert_eq(o.status, 200, "%ld %s", o.status, o.body);
    json_t *sc = json_object_get(o.json, "status_code");
    cr_expect(gw_jvalue(sc) & 0x4u, "missing maildir not reported: %s", o.body);
    cr_expect(gw_jnames_has(sc, "STATUS_FAILURE"));
    cr_expect_eq(gw_jvalue(sc) & 0x1u, 0u, "still AVAILABLE: %s", o.body);
    const char *ss = gw_jstr(o.json, "status_string");
    cr_expect(ss && *ss, "FAILURE without a status string");
    gw_resp_free(&o);

    /* the table shows it, with a new ETag */
    char inm[512];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    const char *hdr[] = {auth, inm, NULL};
    gw_request(G, "GET", "/status", hdr, NULL, &o);
    cr_expect_eq(o.status, 200, "If-None-Match with the old ETag after a change: %ld", o.status);
    const char *etag1 = gw_header(&o, "ETag");
    cr_expect(etag1 && strcmp(etag1, etag) != 0, "ETag unchanged after a status change");
    json_t *st = o.json ? gw_find_row(o.json, "Alice Mailbox") : NULL;
    cr_expect(st && (gw_jvalue(json_object_get(st, "status_code")) & 0x4u));
    gw_resp_free(&o);

    /* recreate */
    char *cur = mkpath(md, "cur"), *nw = mkpath(md, "new"), *tm = mkpath(md, "tmp");
    gw_mkdirs(cur);
    gw_mkdirs(nw);
    gw_mkdirs(tm);
    char path[256];
    snprintf(path, sizeof path, "/status/%s/validate-state", ik);
    gw_post(G, path, s.token, "{\"flags\":[]}", &o);
    cr_assert_eq(o.status, 200, "%ld %s", o.status, o.body);
    sc = json_object_get(o.json, "status_code");
    cr_expect(gw_jvalue(sc) & 0x1u, "not AVAILABLE after recreating: %s", o.body);
    cr_expect(gw_jnames_has(sc, "STATUS_AVAILABLE"));
    cr_expect_eq(gw_jvalue(sc) & 0x4u, 0u, "still FAILURE: %s", o.body);
    gw_resp_free(&o);
    free(cur);
    free(nw);
    free(tm);
    free(md);
    free(ik);
    free(etag);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(status, etag_304)
{
    G = gw_start("main.json", NULL);
    gw_session s, b;
    logon("alice", "alice-pw", MAIL, &s);
    gw_resp r, o;
    status_table(s.token, NULL, &r);
    const char *etag = gw_header(&r, "ETag");
    cr_assert(etag && *etag, "no ETag");
    char inm[512], auth[256];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    const char *hdr[] = {auth, inm, NULL};
    gw_request(G, "GET", "/status", hdr, NULL, &o);
    cr_expect_eq(o.status, 304, "If-None-Match with the current ETag: %ld", o.status);
    cr_expect_eq(o.body_len, 0u, "304 with a body");
    gw_resp_free(&o);
    /* a different session has a different ETag; ours does not match it */
    logon("alice", "alice-pw", MAIL, &b);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", b.token);
    gw_request(G, "GET", "/status", hdr, NULL, &o);
    cr_expect_eq(o.status, 200, "another session's ETag matched: %ld", o.status);
    gw_resp_free(&o);
    /* a non-matching tag */
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.token);
    snprintf(inm, sizeof inm, "If-None-Match: \"nope\"");
    gw_request(G, "GET", "/status", hdr, NULL, &o);
    cr_expect_eq(o.status, 200);
    gw_resp_free(&o);
    gw_resp_free(&r);
    gw_session_free(&s);
    gw_session_free(&b);
}

static void write_msgs(const char *dir, int n)
{
    for (int i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/msg-%d.eml", dir, i);
        char body[256];
        snprintf(body, sizeof body,
                 "From: alice@example.invalid\r\nTo: bob@example.invalid\r\nSubject: test %d\r\n"
                 "\r\nhello %d\r\n",
                 i, i);
        gw_write_file(p, body);
    }
}

static void spool_flush_case(bool via_spooler)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    logon("alice", "alice-pw", MAIL, &s);
    char *spool = gw_data_path(G, "alice/spool");
    char *mnew = gw_data_path(G, "alice/Maildir/new");
    cr_assert_eq(gw_count_dir(spool), 0, "spool folder %s missing or not empty", spool);
    cr_assert_eq(gw_count_dir(mnew), 0, "maildir new/ %s missing or not empty", mnew);
    write_msgs(spool, 2);
    gw_resp r, o;
    json_t *t = status_table(s.token, NULL, &r);
    json_t *target = via_spooler ? gw_row_of_type(t, 37) : gw_find_row(t, "Alice Outbox");
    cr_assert(target);
    call_method(s.token, target, "flush-queues", "{\"flags\":[\"FLUSH_UPLOAD\"]}", &o);
    cr_expect_eq(o.status, 200, "%ld %s", o.status, o.body);
    if (o.status == 200)
        cr_expect_str_eq(gw_jstr(o.json, "instance_key"), ik_of(target));
    gw_resp_free(&o);
    cr_expect_eq(gw_count_dir(spool), 0, "spool not emptied by the flush");
    cr_expect_eq(gw_count_dir(mnew), 2, "messages not delivered to Maildir/new");
    gw_resp r2;
    json_t *t2 = status_table(s.token, NULL, &r2);
    json_t *store = gw_find_row(t2, "Alice Mailbox");
    cr_assert(store);
    cr_expect_eq(gw_jvalue(json_object_get(store, "status_code")) & 0x5u, 0x1u,
                 "store not AVAILABLE after delivery");
    json_t *xp = gw_find_row(t2, "Alice Outbox");
    cr_assert(xp);
    cr_expect_eq(gw_jvalue(json_object_get(xp, "status_code")) & 0x4u, 0u, "transport FAILURE");
    gw_resp_free(&r2);
    gw_resp_free(&r);
    free(spool);
    free(mnew);
    gw_session_free(&s);
}

Test(status, spool_flush_on_transport) { spool_flush_case(false); }

Test(status, spool_flush_on_spooler) { spool_flush_case(true); }

Test(status, change_password)
{
    G = gw_start("main.json", NULL);
    gw_add_secret(G, "alice-new-pw");
    gw_add_secret(G, "wrong-old-pw");
    gw_session s, n, bad;
    logon("alice", "alice-pw", MAIL, &s);
    gw_resp r, o;
    json_t *t = status_table(s.token, NULL, &r);
    /* exactly one row offers CHANGE_PASSWORD: the primary identity provider */
    json_t *target = NULL;
    size_t i, count = 0;
    json_t *row;
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        if (gw_jvalue(json_object_get(row, "resource_methods")) & 0x4u) {
            target = row;
            count++;
        }
    }
    cr_assert_eq(count, 1u, "rows with STATUS_CHANGE_PASSWORD: %zu (%s)", count, r.body);
    cr_expect_str_eq(gw_jstr(target, "display_name"), "Alice Contacts");
    call_method(s.token, target, "change-password",
                "{\"old_password\":\"wrong-old-pw\",\"new_password\":\"alice-new-pw\"}", &o);
    gw_assert_problem(&o, 403, "MAPI_E_NO_ACCESS");
    gw_resp_free(&o);
    call_method(s.token, target, "change-password", "{\"old_password\":\"alice-pw\"}", &o);
    gw_assert_problem(&o, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&o);
    call_method(s.token, target, "change-password",
                "{\"old_password\":\"alice-pw\",\"new_password\":\"alice-new-pw\"}", &o);
    cr_assert_eq(o.status, 200, "%ld %s", o.status, o.body);
    cr_expect(strstr(o.body, "alice-new-pw") == NULL, "response echoes the password");
    gw_resp_free(&o);
    gw_logon(G, "alice", "alice-pw", MAIL, &bad);
    gw_assert_problem(&bad.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&bad);
    logon("alice", "alice-new-pw", MAIL, &n);
    cr_expect_eq(gw_get(G, "/status", s.token, &o), 200, "the changing session ended");
    gw_resp_free(&o);
    gw_resp_free(&r);
    gw_session_free(&s);
    gw_session_free(&n);
}

Test(status, resource_type_filter)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    logon("alice", "alice-pw", MAIL, &s);
    gw_resp r;
    json_t *t = status_table(s.token, "?resource_type=MAPI_TRANSPORT_PROVIDER", &r);
    json_t *rows = json_object_get(t, "rows");
    cr_expect_eq(json_array_size(rows), 1u, "%s", r.body);
    cr_expect_eq(gw_count_rows_of_type(t, 36), json_array_size(rows));
    gw_resp_free(&r);
    t = status_table(s.token, "?resource_type=39", &r);
    rows = json_object_get(t, "rows");
    cr_expect_eq(json_array_size(rows), 1u, "%s", r.body);
    cr_expect_eq(gw_count_rows_of_type(t, 39), 1u);
    gw_resp_free(&r);
    t = status_table(s.token, "?resource_type=MAPI_HOOK_PROVIDER", &r);
    cr_expect_eq(json_array_size(json_object_get(t, "rows")), 0u, "%s", r.body);
    gw_resp_free(&r);
    gw_get(G, "/status?resource_type=MAPI_BOGUS", s.token, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    gw_get(G, "/status?resource_type=12345", s.token, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    gw_get(G, "/status?colour=blue", s.token, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(status, columns_select)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    logon("alice", "alice-pw", MAIL, &s);
    gw_resp r;
    json_t *t = status_table(s.token, "?columns=display_name,status_code", &r);
    size_t i;
    json_t *row;
    cr_expect(json_array_size(json_object_get(t, "rows")) >= 4u);
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        cr_expect_eq(json_object_size(row), 3u, "row %zu has other columns", i);
        cr_expect(gw_jstr(row, "instance_key") != NULL);
        cr_expect(gw_jstr(row, "display_name") != NULL);
        cr_expect(json_object_get(row, "status_code") != NULL);
    }
    gw_resp_free(&r);
    gw_get(G, "/status?columns=display_name,nope", s.token, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* Rendered tables are kept per session and version (api/status_cache.c):
 * a second session of the same profile, whose rows look alike but for their
 * instance keys and entry ids, gets its own; a change is never answered
 * with the rendering from before it. */
Test(status, cached_tables_stay_per_session)
{
    G = gw_start("main.json", NULL);
    gw_session a, b;
    logon("alice", "alice-pw", MAIL, &a);
    logon("alice", "alice-pw", MAIL, &b);
    gw_resp a1, a2, b1;
    json_t *ta = status_table(a.token, NULL, &a1);
    status_table(a.token, NULL, &a2);
    cr_expect_str_eq(a2.body, a1.body, "the same version rendered twice differently");
    cr_expect_str_eq(gw_header(&a2, "ETag"), gw_header(&a1, "ETag"));
    json_t *tb = status_table(b.token, NULL, &b1);
    cr_assert_eq(json_array_size(json_object_get(tb, "rows")),
                 json_array_size(json_object_get(ta, "rows")));
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(ta, "rows"), i, row)
    {
        const char *ika = ik_of(row);
        json_t *other = json_array_get(json_object_get(tb, "rows"), i);
        cr_expect_str_neq(ika, ik_of(other), "row %zu: session b got session a's instance key", i);
        cr_expect_str_neq(gw_jstr(row, "entry_id"), gw_jstr(other, "entry_id"),
                          "row %zu: session b got session a's entry id", i);
    }
    cr_expect_str_neq(gw_header(&b1, "ETag"), gw_header(&a1, "ETag"));

    /* A change to a's table (the flush marks the transport's row) is sent
     * as it is now, not as it was rendered before. */
    json_t *xp = gw_find_row(ta, "Alice Outbox");
    cr_assert(xp);
    gw_resp o, a3, b2;
    call_method(a.token, xp, "flush-queues", "{\"flags\":[\"FLUSH_UPLOAD\"]}", &o);
    cr_expect_eq(o.status, 200, "%ld %s", o.status, o.body);
    gw_resp_free(&o);
    status_table(a.token, NULL, &a3);
    cr_expect_str_neq(gw_header(&a3, "ETag"), gw_header(&a1, "ETag"),
                      "a's table changed but kept its ETag");
    status_table(b.token, NULL, &b2);
    cr_expect_str_eq(gw_header(&b2, "ETag"), gw_header(&b1, "ETag"),
                     "a's change moved b's version");
    json_t *brow = json_array_get(json_object_get(b2.json, "rows"), 0);
    json_t *arow = json_array_get(json_object_get(a3.json, "rows"), 0);
    cr_expect_str_neq(ik_of(brow), ik_of(arow));
    gw_resp_free(&a1);
    gw_resp_free(&a2);
    gw_resp_free(&a3);
    gw_resp_free(&b1);
    gw_resp_free(&b2);
    gw_session_free(&a);
    gw_session_free(&b);
}
