/* Black-box: what the local-file providers (maildir, spool, abfile of
 * tests/profiles/main.json) do with their files beyond reading them (issue
 * 10 item 8): copies an interrupted delivery left in a Maildir's tmp/ are
 * removed once 36 hours old, and status strings and problem details, which
 * clients read, name files relative to the data folder, never by their
 * absolute path on the server. */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(provider_files, .fini = fini_gw, .timeout = 60);

#define MAIL "[\"MAPI_NEW_SESSION\"]"

/* data/<rel>, written and aged hours_ago (access and modification). */
static void aged_file(const char *rel, long hours_ago)
{
    char *p = gw_data_path(G, "%s", rel);
    gw_write_file(p, "From: a@example.invalid\r\n\r\npartial delivery\r\n");
    struct timespec t[2] = {{time(NULL) - hours_ago * 3600, 0}, {time(NULL) - hours_ago * 3600, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0, "utimensat %s", p);
    free(p);
}

static bool exists(const char *rel)
{
    char *p = gw_data_path(G, "%s", rel);
    bool there = access(p, F_OK) == 0;
    free(p);
    return there;
}

Test(provider_files, stale_maildir_tmp_files_go_at_start)
{
    G = gw_start("main.json", NULL);
    static const char *const DIRS[] = {"alice/Maildir/cur", "alice/Maildir/new",
                                       "alice/Maildir/tmp"};
    for (size_t i = 0; i < 3; i++) {
        char *d = gw_data_path(G, "%s", DIRS[i]);
        gw_mkdirs(d);
        free(d);
    }
    aged_file("alice/Maildir/tmp/1.crashed.mapigw", 37);
    aged_file("alice/Maildir/tmp/2.stale.elsewhere", 24 * 30);
    aged_file("alice/Maildir/tmp/3.recent.mapigw", 35);
    aged_file("alice/Maildir/tmp/4.now.mapigw", 0);
    aged_file("alice/Maildir/new/5.old.delivered", 24 * 365);

    /* The logon opens the Maildir store and the spool delivering into it. */
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    cr_expect(!exists("alice/Maildir/tmp/1.crashed.mapigw"), "a 37 h old tmp/ file survived");
    cr_expect(!exists("alice/Maildir/tmp/2.stale.elsewhere"));
    cr_expect(exists("alice/Maildir/tmp/3.recent.mapigw"), "a 35 h old tmp/ file was removed");
    cr_expect(exists("alice/Maildir/tmp/4.now.mapigw"), "a fresh tmp/ file was removed");
    cr_expect(exists("alice/Maildir/new/5.old.delivered"), "delivered mail was removed");
    gw_resp r;
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200);
    json_t *row = gw_find_row(r.json, "Alice Mailbox");
    cr_assert_not_null(row, "%s", r.body);
    cr_expect_str_eq(gw_jstr(row, "status_string"), "1 message (1 new)");
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* POSTs method to the row called display; r holds the answer. */
static long call(const char *token, const char *display, const char *method, gw_resp *r)
{
    gw_resp t;
    cr_assert_eq(gw_get(G, "/status", token, &t), 200);
    json_t *row = gw_find_row(t.json, display);
    cr_assert_not_null(row, "no row %s: %s", display, t.body);
    char path[256];
    snprintf(path, sizeof path, "/status/%s/%s", gw_jstr(row, "instance_key"), method);
    gw_resp_free(&t);
    return gw_post(G, path, token, method[0] == 'f' ? "{\"flags\":[\"FLUSH_UPLOAD\"]}" : NULL, r);
}

/* The answer names no server path: neither the data folder nor anything
 * above it. */
static void expect_no_server_path(const gw_resp *r, const char *what)
{
    cr_expect_null(strstr(r->body, gw_tmp_dir(G)), "%s shows a server path: %s", what, r->body);
    char real[4096];
    if (realpath(gw_data_dir(G), real))
        cr_expect_null(strstr(r->body, real), "%s shows a server path: %s", what, r->body);
}

static void expect_row(const char *token, const char *display, const char *method, const char *want)
{
    gw_resp r;
    long st = call(token, display, method, &r);
    expect_no_server_path(&r, display);
    if (st == 200) {
        cr_expect_str_eq(gw_jstr(r.json, "status_string"), want, "%s", display);
    } else {
        gw_resp t;
        gw_get(G, "/status", token, &t);
        expect_no_server_path(&t, "GET /status");
        json_t *row = gw_find_row(t.json, display);
        cr_expect_str_eq(gw_jstr(row, "status_string"), want, "%s", display);
        gw_resp_free(&t);
    }
    gw_resp_free(&r);
}

Test(provider_files, status_strings_name_files_relative_to_the_data_folder)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);

    /* A Maildir folder gone. */
    char *p = gw_data_path(G, "alice/Maildir/new");
    cr_assert_eq(gw_rmrf(p), 0);
    expect_row(s.token, "Alice Mailbox", "validate-state", "folder missing: alice/Maildir/new");
    /* The spool delivering into it says the same of its folder. */
    expect_row(s.token, "Alice Outbox", "validate-state", "folder missing: alice/Maildir/new");
    /* Reading the store fails; its problem detail shows no path either. */
    gw_resp r;
    cr_assert_eq(gw_get(G, "/stores", s.token, &r), 200);
    char sp[512];
    snprintf(sp, sizeof sp, "/stores/%s",
             gw_jstr(json_array_get(json_object_get(r.json, "rows"), 0), "entry_id"));
    gw_resp_free(&r);
    gw_get(G, sp, s.token, &r);
    gw_assert_problem(&r, 500, "MAPI_E_CALL_FAILED");
    expect_no_server_path(&r, "GET /stores/<id>");
    gw_resp_free(&r);
    gw_mkdirs(p);

    /* A queued message that cannot be delivered: tmp/ is a file. */
    char *q = gw_data_path(G, "alice/spool/m1.eml");
    gw_write_file(q, "From: a@example.invalid\r\n\r\nhello\r\n");
    free(q);
    char *tmp = gw_data_path(G, "alice/Maildir/tmp");
    cr_assert_eq(gw_rmrf(tmp), 0);
    gw_write_file(tmp, "in the way");
    expect_row(s.token, "Alice Outbox", "flush-queues", "not a folder: alice/Maildir/tmp");
    cr_assert_eq(unlink(tmp), 0);
    gw_mkdirs(tmp);
    free(tmp);

    /* The address book file broken. */
    char *ab = gw_data_path(G, "alice/contacts.json");
    gw_write_file(ab, "{oops");
    free(ab);
    gw_resp v;
    call(s.token, "Alice Contacts", "validate-state", &v);
    cr_assert_eq(v.status, 200, "%s", v.body);
    const char *text = gw_jstr(v.json, "status_string");
    cr_expect(text && strncmp(text, "address book file invalid: alice/contacts.json: ", 48) == 0,
              "%s", v.body);
    expect_no_server_path(&v, "Alice Contacts");
    gw_resp_free(&v);
    gw_get(G, "/addressbook", s.token, &r);
    expect_no_server_path(&r, "GET /addressbook");
    gw_resp_free(&r);

    /* Last: the whole table. */
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200);
    expect_no_server_path(&r, "GET /status");
    gw_resp_free(&r);
    free(p);
    gw_session_free(&s);
}
