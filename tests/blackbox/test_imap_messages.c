/* Black-box: the "imap" store provider's messages against a real dovecot on
 * 127.0.0.1 ("IMAP message store", "Tests with real servers"):
 * messages opened by UID through GET /entries, and folder contents tables
 * (order, decoded headers, max, read flags left alone).
 *
 * The suite and its fixture: imap_fixture.h. */
#include "imap_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A message entry id: the store's id + hex("M" folder NUL uid). */
static char *message_eid(const char *store, const char *folder, const char *uid)
{
    char key[256];
    size_t n = (size_t)snprintf(key, sizeof key, "M%s", folder) + 1; /* keeps the NUL */
    n += (size_t)snprintf(key + n, sizeof key - n, "%s", uid);
    char *hex = gw_hex(key, n);
    char *eid = malloc(strlen(store) + strlen(hex) + 1);
    cr_assert_not_null(eid);
    sprintf(eid, "%s%s", store, hex);
    free(hex);
    return eid;
}

Test(imap, messages_open_by_uid)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(imap_gw, "cfg", NULL, MAIL, &s);
    const char *store = store_eid(s.token);
    /* dovecot numbers a folder's messages from UID 1 up; which of the two
     * got 1 depends on its directory scan, so check the pair. */
    bool got_first = false, got_second = false;
    for (int uid = 1; uid <= 2; uid++) {
        char u[16], path[700];
        snprintf(u, sizeof u, "%d", uid);
        char *eid = message_eid(store, "INBOX", u);
        snprintf(path, sizeof path, "/entries/%s", eid);
        gw_resp r;
        gw_get(imap_gw, path, s.token, &r);
        cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
        cr_expect_str_eq(gw_jstr(r.json, "entry_id"), eid);
        cr_expect_str_eq(gw_jstr(json_object_get(r.json, "object_type"), "name"), "MAPI_MESSAGE",
                         "%s", r.body);
        const char *subject = gw_jstr(r.json, "subject");
        cr_assert_not_null(subject, "%s", r.body);
        long flags = jlong(r.json, "message_flags");
        cr_expect(jlong(r.json, "message_size") > 0, "%s", r.body);
        cr_expect_not_null(gw_jstr(r.json, "message_delivery_time"), "%s", r.body);
        if (strcmp(subject, "First hello") == 0) {
            got_first = true;
            cr_expect_eq(flags & 1, 0, "unseen message is MSGFLAG_READ: %s", r.body);
            cr_expect_str_eq(gw_jstr(r.json, "sender_name"), "Bob Example");
            cr_expect_str_eq(gw_jstr(r.json, "sender_email_address"), "bob@example.com");
        } else if (strcmp(subject, "Second hello") == 0) {
            got_second = true;
            cr_expect_eq(flags & 1, 1, "seen message without MSGFLAG_READ: %s", r.body);
            cr_expect_str_eq(gw_jstr(r.json, "sender_email_address"), "carol@example.com");
        }
        gw_resp_free(&r);
        free(eid);
    }
    cr_expect(got_first && got_second, "the two INBOX messages were not found by UID");
    /* Reading did not mark the unseen message as read on the server. */
    gw_resp r;
    cr_expect(wait_row(s.token, "STATUS_AVAILABLE", "(1 unseen)", &r), "%s", r.body);
    gw_resp_free(&r);

    /* No such UID, a malformed UID, a missing folder: unknown entry ids. */
    const char *const bad[][2] = {{"INBOX", "99"}, {"INBOX", "01"}, {"INBOX", "x"}, {"Nope", "1"}};
    for (size_t k = 0; k < 4; k++) {
        char path[700];
        char *eid = message_eid(store, bad[k][0], bad[k][1]);
        snprintf(path, sizeof path, "/entries/%s", eid);
        gw_get(imap_gw, path, s.token, &r);
        gw_assert_problem(&r, 404, "MAPI_E_UNKNOWN_ENTRYID");
        gw_resp_free(&r);
        free(eid);
    }
    gw_session_free(&s);
}

/* The rows of GET <path> (200 asserted; the caller frees r). */
static json_t *contents_rows(const char *path, const char *token, gw_resp *r)
{
    gw_get(imap_gw, path, token, r);
    cr_assert_eq(r->status, 200, "%s: %ld %s", path, r->status, r->body);
    return json_object_get(r->json, "rows");
}
/* 8-bit and quotes: dovecot sends this subject as a literal. */
static const char MSG_LIT[] = "From: \"Zoë \\\"Z\\\" Q\" <zoe@example.com>\r\n"
                              "Subject: Say \"hi\" \xe2\x80\x93 caf\xc3\xa9\r\n"
                              "\r\nLiteral.\r\n";
static const char MSG_2047[] = "From: =?ISO-8859-1?Q?J=F6rg?= <jorg@example.com>\r\n"
                               "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?B?S8O2bG4=?=\r\n"
                               "\r\nEncoded.\r\n";

Test(imap, contents_lists_newest_first)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(imap_gw, "cfg", NULL, MAIL, &s);
    const char *store = store_eid(s.token);
    char *hex = gw_hex("FINBOX", 6);
    char path[700];
    snprintf(path, sizeof path, "/entries/%s%s/contents", store, hex);
    free(hex);
    gw_resp r;
    /* Each listing has dovecot number what came before it: UIDs in order. */
    const char *const add[] = {MSG_LIT, MSG_2047};
    json_t *rows;
    for (size_t k = 0; k < 2; k++) {
        rows = contents_rows(path, s.token, &r);
        cr_expect_eq(json_array_size(rows), 2 + k, "%s", r.body);
        gw_resp_free(&r);
        srv_dovecot_deliver(&imap_dovecot, "alice", NULL, add[k], k == 1);
    }
    rows = contents_rows(path, s.token, &r);
    cr_assert_eq(json_array_size(rows), 4u, "%s", r.body);
    static const char *const want[][3] = {
        {"Grüße aus Köln", "Jörg", "jorg@example.com"},
        {"Say \"hi\" \xe2\x80\x93 café", "Zoë \"Z\" Q", "zoe@example.com"},
    };
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *subject = gw_jstr(row, "subject");
        cr_assert_not_null(subject, "row %zu: %s", i, r.body);
        if (i < 2) {
            cr_expect_str_eq(subject, want[i][0], "row %zu: %s", i, r.body);
            cr_expect_str_eq(gw_jstr(row, "sender_name"), want[i][1], "%s", r.body);
            cr_expect_str_eq(gw_jstr(row, "sender_email_address"), want[i][2], "%s", r.body);
            cr_expect_eq(jlong(row, "message_flags") & 1, i == 0 ? 1 : 0, "%s", r.body);
        } else {
            cr_expect(strcmp(subject, "First hello") == 0 || strcmp(subject, "Second hello") == 0,
                      "row %zu: %s", i, subject);
        }
        cr_expect(jlong(row, "message_size") > 0 && gw_jstr(row, "message_delivery_time"), "%s",
                  r.body);
        /* Each row's entry id opens the same message. */
        char mpath[700];
        snprintf(mpath, sizeof mpath, "/entries/%s", gw_jstr(row, "entry_id"));
        gw_resp m;
        gw_get(imap_gw, mpath, s.token, &m);
        cr_expect_str_eq(gw_jstr(m.json, "subject"), subject, "%s: %ld %s", mpath, m.status,
                         m.body);
        gw_resp_free(&m);
    }
    gw_resp_free(&r);

    /* max bounds the rows: the newest one, with the folder's total and a
     * cursor to the next page (a slice of the same UID search). */
    size_t base = strlen(path);
    rows = contents_rows(strcat(path, "?max=1"), s.token, &r);
    cr_assert_eq(json_array_size(rows), 1u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(rows, 0), "subject"), want[0][0], "%s", r.body);
    cr_expect_eq(jlong(r.json, "total"), 4, "%s", r.body);
    cr_assert_not_null(gw_jstr(r.json, "next"), "%s", r.body);
    char next[64];
    snprintf(next, sizeof next, "%s", gw_jstr(r.json, "next"));
    gw_resp_free(&r);
    snprintf(path + base, sizeof path - base, "?max=3&cursor=%s", next);
    rows = contents_rows(path, s.token, &r);
    cr_assert_eq(json_array_size(rows), 3u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(rows, 0), "subject"), want[1][0], "%s", r.body);
    cr_expect_null(json_object_get(r.json, "next"), "the last page has no next: %s", r.body);
    gw_resp_free(&r);

    /* Listing did not mark the unseen messages read (First hello, MSG_LIT).
     * Asked of a fresh sync (validate-state reconnects and counts anew), not
     * of the row as the last listing left it: polls only send NOOP, and a
     * count taken while dovecot had not yet noticed a message just written
     * into the Maildir would stay until the next sync. */
    json_t *irow = imap_row(s.token, &r);
    char vpath[300];
    snprintf(vpath, sizeof vpath, "/status/%s/validate-state", gw_jstr(irow, "instance_key"));
    gw_resp_free(&r);
    gw_post(imap_gw, vpath, s.token, "{\"flags\":[]}", &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", vpath, r.status, r.body);
    cr_expect(gw_jnames_has(json_object_get(r.json, "status_code"), "STATUS_AVAILABLE"), "%s",
              r.body);
    cr_expect(strstr(gw_jstr(r.json, "status_string"), "(2 unseen)") != NULL, "%s", r.body);
    gw_resp_free(&r);

    /* A folder the server does not have: "FNope". */
    snprintf(path, sizeof path, "/entries/%s464E6F7065/contents", store);
    gw_get(imap_gw, path, s.token, &r);
    gw_assert_problem(&r, 404, "MAPI_E_UNKNOWN_ENTRYID");
    gw_resp_free(&r);
    gw_session_free(&s);
}
