/* Unit suite for the "maildir" provider's contents tables (maildir_contents.c):
 * order (newest first, ties by name), max, the summary properties and flags,
 * entry ids that open the very message again, folder keys that name no
 * folder, and hostile files (FIFO, symbolic links, huge headers, duplicate
 * base names). Real Maildirs under a fresh /tmp/mgw-prov-XXXXXX per test
 * (provider_fixture.h). */
#include "provider_fixture.h"

#include "../../session-core/entryid.h"
#include "../../session-core/provider.h"
#include "../../session-core/providers/provider_fs.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

TestSuite(maildir_contents, .init = fx_setup, .fini = fx_teardown);

static void mkdirs(const char *rel)
{
    char p[512];
    fx_path(p, rel);
    cr_assert_eq(pfs_mkdir_p(p, 0700), 0, "mkdir %s", p);
}

static void make_maildir(const char *rel)
{
    char sub[512];
    const char *subs[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", rel, subs[i]);
        mkdirs(sub);
    }
}

/* Writes rel and sets its mtime (seconds since the epoch). */
static void put_at(const char *rel, const char *text, time_t mtime)
{
    char p[512];
    fx_write_file(fx_path(p, rel), text);
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    cr_assert_eq(utimes(p, tv), 0, "utimes %s", p);
}

static void logon_maildir(void)
{
    char md[512], json[1024];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"Mailbox\","
             "\"settings\":{\"path\":\"%s\",\"create\":true}}",
             fx_path(md, "Maildir"));
    const provider_config *cfg = fx_load_provider(json);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_assert_not_null(fx.ops->contents);
}

/* The places offset .. offset + max - 1; *total the number of places. */
static HRESULT contents_page(const void *key, size_t len, size_t offset, size_t max, mapi_rows *out,
                             size_t *total)
{
    memset(out, 0, sizeof *out);
    return fx.ops->contents(fx.state, key, len, offset, max, out, total);
}

static HRESULT contents(const void *key, size_t len, size_t max, mapi_rows *out)
{
    size_t total;
    return contents_page(key, len, 0, max, out, &total);
}

#define KEY(s) s, sizeof s - 1

/* Whether row's PR_ENTRYID is ours with key 'M' + folder + NUL + base. */
static bool row_is(const mapi_object *row, const char *folder, const char *base)
{
    char key[512];
    size_t lf = strlen(folder), lb = strlen(base);
    key[0] = 'M';
    memcpy(key + 1, folder, lf);
    key[1 + lf] = '\0';
    memcpy(key + 2 + lf, base, lb);
    const mapi_prop *p = fx_prop(row, PR_ENTRYID);
    return fx_is_entry_id(p->v.bin.data, p->v.bin.len, key, 2 + lf + lb);
}

/* Opens every row's entry id and checks it is the same message. */
static void assert_round_trip(const mapi_rows *rows)
{
    for (size_t i = 0; i < rows->count; i++) {
        const mapi_object *row = &rows->rows[i];
        const mapi_prop *eid = fx_prop(row, PR_ENTRYID);
        const uint8_t *uid, *key;
        size_t key_len;
        cr_assert(entryid_split(eid->v.bin.data, eid->v.bin.len, &uid, &key, &key_len));
        cr_assert_eq(memcmp(uid, FX_UID, MAPIUID_LEN), 0);
        mapi_object o = {0};
        cr_assert_eq(fx.ops->open_entry(fx.state, key, key_len, &o), S_OK, "row %zu", i);
        cr_assert_eq(o.object_type, MAPI_MESSAGE);
        const mapi_prop *oid = fx_prop(&o, PR_ENTRYID);
        cr_assert_eq(oid->v.bin.len, eid->v.bin.len);
        cr_assert_eq(memcmp(oid->v.bin.data, eid->v.bin.data, eid->v.bin.len), 0);
        cr_assert_eq(fx_long(&o, PR_MESSAGE_SIZE), fx_long(row, PR_MESSAGE_SIZE), "row %zu", i);
        cr_assert_eq(fx_long(&o, PR_MESSAGE_FLAGS), fx_long(row, PR_MESSAGE_FLAGS), "row %zu", i);
        cr_assert_eq(fx_prop(&o, PR_MESSAGE_DELIVERY_TIME)->v.time,
                     fx_prop(row, PR_MESSAGE_DELIVERY_TIME)->v.time, "row %zu", i);
        const mapi_prop *s1 = mapi_object_find(&o, PR_SUBJECT);
        const mapi_prop *s2 = mapi_object_find(row, PR_SUBJECT);
        cr_assert_eq(s1 == NULL, s2 == NULL, "row %zu", i);
        if (s1)
            cr_assert_str_eq(s1->v.str, s2->v.str);
        mapi_object_clear(&o);
    }
}

/* INBOX: five messages at known times (two at the same second) and a dot
 * file. */
static void populate_inbox(void)
{
    put_at("Maildir/cur/100.a.host:2,S",
           "From: \"Doe, Jane\" <jane@example.org>\r\nSubject: =?UTF-8?Q?r=C3=A9sum=C3=A9?=\r\n"
           "Message-ID: <a@example.org>\r\n\r\nbody\r\n",
           1000);
    put_at("Maildir/new/200.b.host", "From: bob@example.org\nSubject: newest\n\nhi\n", 3000);
    put_at("Maildir/cur/300.c.host:2,FR", "Subject: flagged, unread\n\n", 2000);
    put_at("Maildir/new/401.e.host", "Subject: tie e\n\n", 1500);
    put_at("Maildir/new/400.d.host", "Subject: tie d\n\n", 1500);
    put_at("Maildir/cur/.hidden", "Subject: not a message\n\n", 9000);
}

Test(maildir_contents, lists_newest_first_with_summary_properties)
{
    logon_maildir();
    populate_inbox();
    mapi_rows rows;
    cr_assert_eq(contents(KEY("FINBOX"), 100, &rows), S_OK);
    cr_assert_eq(rows.count, 5);
    static const char *const order[] = {"200.b.host", "300.c.host", "400.d.host", "401.e.host",
                                        "100.a.host"};
    static const time_t times[] = {3000, 2000, 1500, 1500, 1000};
    static const uint32_t flags[] = {0, 0, 0, 0, MSGFLAG_READ};
    for (size_t i = 0; i < 5; i++) {
        const mapi_object *r = &rows.rows[i];
        cr_assert_eq(r->object_type, MAPI_MESSAGE);
        cr_assert(row_is(r, "INBOX", order[i]), "row %zu is not %s", i, order[i]);
        cr_assert_eq(fx_prop(r, PR_MESSAGE_DELIVERY_TIME)->v.time, times[i], "row %zu", i);
        cr_assert_eq(fx_long(r, PR_MESSAGE_FLAGS), flags[i], "row %zu", i);
        cr_assert_null(mapi_object_find(r, PR_INTERNET_MESSAGE_ID), "not a table column");
    }
    const mapi_object *b = &rows.rows[0], *a = &rows.rows[4];
    cr_assert_str_eq(fx_str(b, PR_SUBJECT), "newest");
    /* No display name: the address stands in (as for OpenEntry). */
    cr_assert_str_eq(fx_str(b, PR_SENDER_NAME), "bob@example.org");
    cr_assert_str_eq(fx_str(b, PR_SENDER_EMAIL_ADDRESS), "bob@example.org");
    cr_assert_eq(fx_long(b, PR_MESSAGE_SIZE),
                 strlen("From: bob@example.org\nSubject: newest\n\nhi\n"));
    cr_assert_str_eq(fx_str(a, PR_SUBJECT), "résumé");
    cr_assert_str_eq(fx_str(a, PR_SENDER_NAME), "Doe, Jane");
    cr_assert_str_eq(fx_str(a, PR_SENDER_EMAIL_ADDRESS), "jane@example.org");
    cr_assert_null(mapi_object_find(&rows.rows[1], PR_SENDER_NAME)); /* no From: */
    cr_assert_str_eq(fx_str(&rows.rows[1], PR_SUBJECT), "flagged, unread");
    assert_round_trip(&rows);
    mapi_rows_clear(&rows);
}

Test(maildir_contents, max_bounds_the_rows)
{
    logon_maildir();
    populate_inbox();
    mapi_rows rows;
    cr_assert_eq(contents(KEY("FINBOX"), 2, &rows), S_OK);
    cr_assert_eq(rows.count, 2);
    cr_assert(row_is(&rows.rows[0], "INBOX", "200.b.host"));
    cr_assert(row_is(&rows.rows[1], "INBOX", "300.c.host"));
    mapi_rows_clear(&rows);
    cr_assert_eq(contents(KEY("FINBOX"), 1, &rows), S_OK);
    cr_assert_eq(rows.count, 1);
    cr_assert(row_is(&rows.rows[0], "INBOX", "200.b.host"));
    mapi_rows_clear(&rows);
    cr_assert_eq(contents(KEY("FINBOX"), 0, &rows), S_OK);
    cr_assert_eq(rows.count, 0);
    mapi_rows_clear(&rows);
    /* max == 0 still checks the folder. */
    cr_assert_eq(contents(KEY("FNope"), 0, &rows), MAPI_E_NOT_FOUND);
}

Test(maildir_contents, pages_are_windows_on_one_order_with_a_total)
{
    logon_maildir();
    populate_inbox();
    static const char *const order[] = {"200.b.host", "300.c.host", "400.d.host", "401.e.host",
                                        "100.a.host"};
    /* Pages of two: every message once, in the order of the whole list. */
    size_t seen = 0;
    for (size_t offset = 0; offset < 6; offset += 2) {
        mapi_rows rows;
        size_t total = 0;
        cr_assert_eq(contents_page(KEY("FINBOX"), offset, 2, &rows, &total), S_OK);
        cr_assert_eq(total, 5, "offset %zu", offset);
        cr_assert_eq(rows.count, offset < 4 ? 2 : 1, "offset %zu", offset);
        for (size_t i = 0; i < rows.count; i++, seen++)
            cr_assert(row_is(&rows.rows[i], "INBOX", order[seen]), "place %zu", seen);
        mapi_rows_clear(&rows);
    }
    cr_assert_eq(seen, 5);
    /* Past the end: no rows, the total still told. */
    mapi_rows rows;
    size_t total = 0;
    cr_assert_eq(contents_page(KEY("FINBOX"), 99, 2, &rows, &total), S_OK);
    cr_assert_eq(rows.count, 0);
    cr_assert_eq(total, 5);
    /* Places are counted at each call: a message removed between two pages
     * moves the later ones up by one (docs/contract/http.md, Paging). */
    char p[512];
    cr_assert_eq(unlink(fx_path(p, "Maildir/cur/300.c.host:2,FR")), 0);
    cr_assert_eq(contents_page(KEY("FINBOX"), 2, 2, &rows, &total), S_OK);
    cr_assert_eq(total, 4);
    cr_assert_eq(rows.count, 2);
    cr_assert(row_is(&rows.rows[0], "INBOX", "401.e.host"));
    mapi_rows_clear(&rows);
}

Test(maildir_contents, subfolders_and_empty_folders)
{
    logon_maildir();
    make_maildir("Maildir/.Work");
    make_maildir("Maildir/.Work.Projects");
    put_at("Maildir/.Work/cur/5.e.host:2,RS", "Subject: work\n\n", 500);
    put_at("Maildir/.Work/new/6.f.host", "Subject: more work\n\n", 600);
    mapi_rows rows;
    cr_assert_eq(contents(KEY("FWork"), 10, &rows), S_OK);
    cr_assert_eq(rows.count, 2);
    cr_assert(row_is(&rows.rows[0], "Work", "6.f.host"));
    cr_assert(row_is(&rows.rows[1], "Work", "5.e.host"));
    cr_assert_eq(fx_long(&rows.rows[1], PR_MESSAGE_FLAGS), MSGFLAG_READ);
    assert_round_trip(&rows);
    mapi_rows_clear(&rows);
    cr_assert_eq(contents(KEY("FWork.Projects"), 10, &rows), S_OK);
    cr_assert_eq(rows.count, 0);
    cr_assert_eq(contents(KEY("FINBOX"), 10, &rows), S_OK);
    cr_assert_eq(rows.count, 0); /* subfolders' messages are not INBOX's */
}

Test(maildir_contents, keys_that_name_no_folder_are_not_found)
{
    logon_maildir();
    make_maildir("Maildir/.Work");
    mkdirs("Maildir/.Half/cur");
    make_maildir("Maildir/.Bad..Name");
    make_maildir("Maildir/.INBOX");
    make_maildir("Outside");
    put_at("Outside/new/7.g.host", "Subject: secret\n\n", 100);
    char target[512], link_path[512];
    cr_assert_eq(symlink(fx_path(target, "Outside"), fx_path(link_path, "Maildir/.Link")), 0);
    static const struct {
        const char *key;
        size_t len;
    } bad[] = {
        {KEY("")},           {KEY("F")},           {KEY("F..")},
        {KEY("F.")},         {KEY("F../Outside")}, {KEY("F/etc")},
        {KEY("FWork/..")},   {KEY("F.Work")},      {KEY("FWork.")},
        {KEY("FBad..Name")}, {KEY("FWork\0x")},    {KEY("FHalf")},
        {KEY("FLink")},      {KEY("FNope")},       {KEY("Finbox")},
        {KEY("MINBOX\0x")},  {KEY("X")},           {KEY("FINBOX\0")},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mapi_rows rows;
        cr_assert_eq(contents(bad[i].key, bad[i].len, 10, &rows), MAPI_E_NOT_FOUND, "key #%zu %s",
                     i, bad[i].key);
        cr_assert_eq(rows.count, 0);
    }
}

Test(maildir_contents, broken_inbox_fails)
{
    logon_maildir();
    char p[512];
    cr_assert_eq(rmdir(fx_path(p, "Maildir/new")), 0);
    mapi_rows rows;
    cr_assert_eq(contents(KEY("FINBOX"), 10, &rows), MAPI_E_CALL_FAILED);
    cr_assert_eq(rows.count, 0);
}

Test(maildir_contents, hostile_files_are_skipped_or_bounded, .timeout = 10)
{
    logon_maildir();
    char p[512], t[512];
    /* A header far longer than what is read: the row still comes, bounded. */
    size_t big_len = 300000;
    char *big = malloc(big_len + 1);
    cr_assert_not_null(big);
    int n = snprintf(big, big_len + 1, "Subject: big\nX-Long: ");
    memset(big + n, 'x', big_len - (size_t)n);
    big[big_len] = '\0';
    put_at("Maildir/cur/1.big.host:2,S", big, 100);
    free(big);
    /* A FIFO (must not block), a directory, symbolic links to a message
     * outside and to one inside, a dot file and a name with an empty base:
     * none is a row. */
    cr_assert_eq(mkfifo(fx_path(p, "Maildir/new/2.fifo.host"), 0600), 0);
    mkdirs("Maildir/cur/3.dir.host:2,S");
    make_maildir("Outside");
    put_at("Outside/new/7.g.host", "Subject: secret\n\n", 900);
    cr_assert_eq(symlink(fx_path(t, "Outside/new/7.g.host"), fx_path(p, "Maildir/new/4.link.host")),
                 0);
    put_at("Maildir/new/5.real.host", "Subject: real\n\n", 200);
    cr_assert_eq(
        symlink(fx_path(t, "Maildir/new/5.real.host"), fx_path(p, "Maildir/cur/6.inlink.host:2,S")),
        0);
    put_at("Maildir/new/.dot", "Subject: dot\n\n", 900);
    put_at("Maildir/cur/:2,S", "Subject: no base\n\n", 900);

    mapi_rows rows;
    cr_assert_eq(contents(KEY("FINBOX"), 100, &rows), S_OK);
    cr_assert_eq(rows.count, 2);
    cr_assert(row_is(&rows.rows[0], "INBOX", "5.real.host"));
    cr_assert(row_is(&rows.rows[1], "INBOX", "1.big.host"));
    cr_assert_str_eq(fx_str(&rows.rows[1], PR_SUBJECT), "big");
    cr_assert_eq(fx_long(&rows.rows[1], PR_MESSAGE_SIZE), big_len);
    cr_assert_eq(fx_long(&rows.rows[1], PR_MESSAGE_FLAGS), MSGFLAG_READ);
    assert_round_trip(&rows);
    mapi_rows_clear(&rows);
}

Test(maildir_contents, duplicate_base_names_are_one_row_that_opens_itself)
{
    logon_maildir();
    /* The same base name in new/ and cur/ (a half-finished move), and twice
     * in cur/: OpenEntry opens the new/ one, so that is the row. */
    put_at("Maildir/new/9.dup.host", "Subject: in new\n\n", 300);
    put_at("Maildir/cur/9.dup.host:2,S", "Subject: in cur\n\n", 400);
    put_at("Maildir/cur/8.two.host:2,S", "Subject: two\n\n", 100);
    put_at("Maildir/cur/8.two.host:2,FS", "Subject: two\n\n", 100);
    mapi_rows rows;
    cr_assert_eq(contents(KEY("FINBOX"), 100, &rows), S_OK);
    cr_assert_eq(rows.count, 2);
    cr_assert(row_is(&rows.rows[0], "INBOX", "9.dup.host"));
    cr_assert_str_eq(fx_str(&rows.rows[0], PR_SUBJECT), "in new");
    cr_assert_eq(fx_long(&rows.rows[0], PR_MESSAGE_FLAGS), 0);
    cr_assert_eq(fx_prop(&rows.rows[0], PR_MESSAGE_DELIVERY_TIME)->v.time, 300);
    cr_assert(row_is(&rows.rows[1], "INBOX", "8.two.host"));
    assert_round_trip(&rows);
    mapi_rows_clear(&rows);
}
