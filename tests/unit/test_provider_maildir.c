/* Unit suite for the "maildir" store provider (provider_maildir.c,
 * maildir_store.c): logon outcomes, the status row from what is really on
 * disk, ValidateState, and object access: the store and its Maildir++
 * hierarchy, folders and messages by entry key, and keys that try to leave
 * the Maildir. Real
 * folders under a fresh /tmp/mgw-prov-XXXXXX per test (provider_fixture.h). */
#include "provider_fixture.h"

#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile.h"
#include "../../session-core/provider.h"
#include "../../session-core/providers/provider_fs.h"
#include "../../session-core/provider_inst.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

TestSuite(provider_maildir, .init = fx_setup, .fini = fx_teardown);

static const provider_config *maildir_config(const char *path, const char *create)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"Mailbox\","
             "\"settings\":{\"path\":\"%s\"%s%s}}",
             path, create ? ",\"create\":" : "", create ? create : "");
    return fx_load_provider(json);
}

Test(provider_maildir, maildir_create_makes_folders_and_is_available)
{
    char md[512], sub[600];
    fx_path(md, "deep/er/Maildir");
    const provider_config *cfg = maildir_config(md, "true");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_assert_not_null(fx.state);
    const char *subs[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", md, subs[i]);
        cr_assert(fx_is_dir_mode(sub, 0700), "%s is not a 0700 folder", sub);
    }
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "0 messages (0 new)");

    /* Two new, one read, one dot file that is not a message. */
    fx_write_file(fx_path(sub, "deep/er/Maildir/new/1.a.host"), "a");
    fx_write_file(fx_path(sub, "deep/er/Maildir/new/2.b.host"), "b");
    fx_write_file(fx_path(sub, "deep/er/Maildir/cur/3.c.host:2,S"), "c");
    fx_write_file(fx_path(sub, "deep/er/Maildir/cur/.hidden"), "d");
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "3 messages (2 new)");
}

Test(provider_maildir, maildir_relative_path_resolves_against_base)
{
    const provider_config *cfg = maildir_config("rel/Maildir", "true");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    char sub[512];
    cr_assert(fx_is_dir_mode(fx_path(sub, "rel/Maildir/new"), 0700));
    cr_assert_eq(fx_status().status_code, STATUS_AVAILABLE);

    /* Status strings name it relative to the base (the data folder), as
     * configured: never by its absolute path on the server. */
    cr_assert_eq(rmdir(sub), 0);
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    cr_assert_str_eq(st.status_string, "folder missing: rel/Maildir/new");
}

Test(provider_maildir, maildir_missing_folder_logs_on_with_failure)
{
    char md[512], want[600];
    fx_path(md, "absent");
    const provider_config *cfg = maildir_config(md, "false");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_assert_not_null(fx.state);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    /* An absolute path is shown by its last component only. */
    snprintf(want, sizeof want, "folder missing: .../absent/cur");
    cr_assert_str_eq(st.status_string, want);

    /* Created after logon: ValidateState finds it for real. */
    char sub[512];
    cr_assert_eq(mkdir(md, 0700), 0);
    cr_assert_eq(mkdir(fx_path(sub, "absent/cur"), 0700), 0);
    cr_assert_eq(mkdir(fx_path(sub, "absent/new"), 0700), 0);
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: .../absent/tmp");
    cr_assert_str_eq(st.status_string, want);

    cr_assert_eq(mkdir(fx_path(sub, "absent/tmp"), 0700), 0);
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "0 messages (0 new)");
}

Test(provider_maildir, maildir_folder_removed_after_logon_fails_on_validate)
{
    char md[512], sub[512], want[600];
    fx_path(md, "Maildir");
    const provider_config *cfg = maildir_config(md, "true");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_assert_eq(fx_status().status_code, STATUS_AVAILABLE);

    cr_assert_eq(rmdir(fx_path(sub, "Maildir/new")), 0);
    /* status is cheap and does no I/O: still the last check's answer. */
    cr_assert_eq(fx_status().status_code, STATUS_AVAILABLE);
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: .../Maildir/new");
    cr_assert_str_eq(st.status_string, want);

    /* A file where a folder belongs is named as such. */
    fx_write_file(sub, "x");
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "not a folder: .../Maildir/new");
    cr_assert_str_eq(st.status_string, want);
}

/* ---- object access: store, folders, messages (maildir_store.c) ---- */

static void mkdirs(const char *rel)
{
    char p[512];
    fx_path(p, rel);
    cr_assert_eq(pfs_mkdir_p(p, 0700), 0, "mkdir %s", p);
}

/* A Maildir++ folder: rel with cur/, new/ and tmp/. */
static void make_maildir(const char *rel)
{
    char sub[512];
    const char *subs[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", rel, subs[i]);
        mkdirs(sub);
    }
}

static void put(const char *rel, const char *text)
{
    char p[512];
    fx_write_file(fx_path(p, rel), text);
}

static void logon_maildir(void)
{
    char md[512];
    const provider_config *cfg = maildir_config(fx_path(md, "Maildir"), "true");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
}

static HRESULT open_key(const void *key, size_t len, mapi_object *out)
{
    memset(out, 0, sizeof *out);
    return fx.ops->open_entry(fx.state, key, len, out);
}

static void assert_key(const mapi_object *o, uint32_t tag, const void *key, size_t len)
{
    const mapi_prop *p = fx_prop(o, tag);
    cr_assert(fx_is_entry_id(p->v.bin.data, p->v.bin.len, key, len), "wrong entry id");
}

static void assert_folder(const mapi_object *o, const char *key, uint32_t count, uint32_t unread,
                          bool children)
{
    cr_assert_eq(o->object_type, MAPI_FOLDER);
    assert_key(o, PR_ENTRYID, key, strlen(key));
    cr_assert_eq(fx_long(o, PR_CONTENT_COUNT), count, "%s count", key);
    cr_assert_eq(fx_long(o, PR_CONTENT_UNREAD), unread, "%s unread", key);
    cr_assert_eq(fx_bool(o, PR_SUBFOLDERS), children, "%s subfolders", key);
}

/* INBOX: 2 new, 1 seen, 1 flagged but unseen, a dot file; Work (1 unseen)
 * with Work.Projects (empty); Archive (1 seen); and things that are not
 * folders. */
static void populate(void)
{
    put("Maildir/new/1.a.host", "a");
    put("Maildir/new/2.b.host", "b");
    put("Maildir/cur/3.c.host:2,S", "c");
    put("Maildir/cur/4.d.host:2,FR", "d");
    put("Maildir/cur/.hidden", "e");
    make_maildir("Maildir/.Work");
    put("Maildir/.Work/cur/5.e.host:2,", "f");
    make_maildir("Maildir/.Work.Projects");
    make_maildir("Maildir/.Archive");
    put("Maildir/.Archive/cur/6.f.host:2,RS", "g");
    mkdirs("Maildir/.Half/cur"); /* no new/ or tmp/: not a folder */
    put("Maildir/.File", "not a folder");
    make_maildir("Maildir/.Bad..Name");
    make_maildir("Maildir/.INBOX");
    make_maildir("Outside");
    put("Outside/new/7.g.host", "secret");
    char target[512], link_path[512];
    cr_assert_eq(symlink(fx_path(target, "Outside"), fx_path(link_path, "Maildir/.Link")), 0);
}

Test(provider_maildir, store_lists_hierarchy_with_counts)
{
    logon_maildir();
    populate();
    mapi_object store = {0};
    mapi_rows rows = {0};
    cr_assert_eq(fx.ops->store(fx.state, &store, &rows), S_OK);
    cr_assert_eq(store.object_type, MAPI_STORE);
    cr_assert_str_eq(fx_str(&store, PR_DISPLAY_NAME), "Mailbox");
    assert_key(&store, PR_ENTRYID, "", 0);

    cr_assert_eq(rows.count, 4);
    const char *order[] = {"INBOX", "Archive", "Work", "Work/Projects"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_str_eq(fx_str(&rows.rows[i], PR_DISPLAY_NAME), order[i]);
    assert_folder(&rows.rows[0], "FINBOX", 4, 3, false);
    assert_folder(&rows.rows[1], "FArchive", 1, 0, false);
    assert_folder(&rows.rows[2], "FWork", 1, 1, true);
    assert_folder(&rows.rows[3], "FWork.Projects", 0, 0, false);
    mapi_object_clear(&store);
    mapi_rows_clear(&rows);

    /* The status row learnt what the store read found. */
    cr_assert_str_eq(fx_status().status_string, "4 messages (2 new)");
}

Test(provider_maildir, store_of_a_broken_maildir_fails)
{
    logon_maildir();
    char p[512];
    cr_assert_eq(rmdir(fx_path(p, "Maildir/tmp")), 0);
    mapi_object store = {0};
    mapi_rows rows = {0};
    cr_assert_eq(fx.ops->store(fx.state, &store, &rows), MAPI_E_CALL_FAILED);
    cr_assert_eq(rows.count, 0);
    cr_assert_eq(fx_status().status_code, STATUS_FAILURE);
    mapi_object_clear(&store);
}

Test(provider_maildir, open_entry_opens_folders)
{
    logon_maildir();
    populate();
    mapi_object o;
    cr_assert_eq(open_key("FWork", 5, &o), S_OK);
    cr_assert_str_eq(fx_str(&o, PR_DISPLAY_NAME), "Work");
    assert_folder(&o, "FWork", 1, 1, true);
    mapi_object_clear(&o);
    cr_assert_eq(open_key("FWork.Projects", 14, &o), S_OK);
    cr_assert_str_eq(fx_str(&o, PR_DISPLAY_NAME), "Work/Projects");
    mapi_object_clear(&o);
    cr_assert_eq(open_key("FINBOX", 6, &o), S_OK);
    assert_folder(&o, "FINBOX", 4, 3, false);
    mapi_object_clear(&o);
}

#define MESSAGE                                                                                    \
    "Return-Path: <jane@example.org>\r\n"                                                          \
    "Received: from mx.example.org by host;\r\n"                                                   \
    "\tMon, 2 Mar 2026 10:00:00 +0000\r\n"                                                         \
    "From: \"Doe, Jane\" <jane@example.org>\r\n"                                                   \
    "To: demo@example.invalid\r\n"                                                                 \
    "subject: Quarterly =?UTF-8?Q?r=C3=A9sum=C3=A9?=\r\n"                                          \
    " and plans\r\n"                                                                               \
    "Message-ID: <20260302.1@example.org>\r\n"                                                     \
    "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n"                                                     \
    "\r\n"                                                                                         \
    "Subject: not a header, the body\r\n"

Test(provider_maildir, open_entry_reads_message_properties)
{
    logon_maildir();
    make_maildir("Maildir/.Work");
    put("Maildir/cur/1700000000.M1P2.host:2,RS", MESSAGE);
    put("Maildir/.Work/new/1700000001.M2P3.host", "From: bob@example.org (Bob B)\n\nhi\n");
    char p[512];
    struct timeval tv[2] = {{1700000000, 0}, {1700000000, 0}};
    cr_assert_eq(utimes(fx_path(p, "Maildir/cur/1700000000.M1P2.host:2,RS"), tv), 0);

    static const char key[] = "MINBOX\0"
                              "1700000000.M1P2.host";
    mapi_object o;
    cr_assert_eq(open_key(key, sizeof key - 1, &o), S_OK);
    cr_assert_eq(o.object_type, MAPI_MESSAGE);
    assert_key(&o, PR_ENTRYID, key, sizeof key - 1);
    cr_assert_str_eq(fx_str(&o, PR_SUBJECT), "Quarterly résumé and plans");
    cr_assert_str_eq(fx_str(&o, PR_SENDER_NAME), "Doe, Jane");
    cr_assert_str_eq(fx_str(&o, PR_SENDER_EMAIL_ADDRESS), "jane@example.org");
    cr_assert_str_eq(fx_str(&o, PR_INTERNET_MESSAGE_ID), "<20260302.1@example.org>");
    cr_assert_eq(fx_prop(&o, PR_MESSAGE_DELIVERY_TIME)->v.time, 1700000000);
    cr_assert_eq(fx_long(&o, PR_MESSAGE_SIZE), strlen(MESSAGE));
    cr_assert_eq(fx_long(&o, PR_MESSAGE_FLAGS), MSGFLAG_READ);
    assert_key(&o, PR_PARENT_ENTRYID, "FINBOX", 6);
    mapi_object_clear(&o);

    static const char key2[] = "MWork\0"
                               "1700000001.M2P3.host";
    cr_assert_eq(open_key(key2, sizeof key2 - 1, &o), S_OK);
    cr_assert_str_eq(fx_str(&o, PR_SENDER_NAME), "Bob B");
    cr_assert_str_eq(fx_str(&o, PR_SENDER_EMAIL_ADDRESS), "bob@example.org");
    cr_assert_null(mapi_object_find(&o, PR_SUBJECT));
    cr_assert_eq(fx_long(&o, PR_MESSAGE_FLAGS), 0); /* in new/: unread */
    assert_key(&o, PR_PARENT_ENTRYID, "FWork", 5);
    mapi_object_clear(&o);
}

Test(provider_maildir, open_entry_survives_hostile_message_files)
{
    logon_maildir();
    /* No blank line, NUL bytes, invalid UTF-8, control characters, and a
     * header longer than what is read. */
    char *big = malloc(200000);
    cr_assert_not_null(big);
    int n = snprintf(big, 200000, "Subject: a\x01\xff\xc3(b\x7f\nX-Long: ");
    memset(big + n, 'x', 200000 - (size_t)n - 1);
    big[199999] = '\0';
    put("Maildir/new/1.big.host", big);
    free(big);
    char p[512];
    FILE *f = fopen(fx_path(p, "Maildir/new/2.nul.host"), "w");
    cr_assert_not_null(f);
    fwrite("Subject: x\0y\nFrom: <\0>\n", 1, 24, f);
    fclose(f);
    cr_assert_eq(mkfifo(fx_path(p, "Maildir/new/3.fifo.host"), 0600), 0);

    mapi_object o;
    static const char k1[] = "MINBOX\0"
                             "1.big.host";
    cr_assert_eq(open_key(k1, sizeof k1 - 1, &o), S_OK);
    cr_assert_str_eq(fx_str(&o, PR_SUBJECT), "a\xEF\xBF\xBD\xEF\xBF\xBD(b");
    cr_assert_eq(fx_long(&o, PR_MESSAGE_SIZE), 199999);
    mapi_object_clear(&o);
    static const char k2[] = "MINBOX\0"
                             "2.nul.host";
    cr_assert_eq(open_key(k2, sizeof k2 - 1, &o), S_OK);
    cr_assert_str_eq(fx_str(&o, PR_SUBJECT), "xy");
    mapi_object_clear(&o);
    /* A FIFO is not a message, and opening it does not block. */
    static const char k3[] = "MINBOX\0"
                             "3.fifo.host";
    cr_assert_eq(open_key(k3, sizeof k3 - 1, &o), MAPI_E_NOT_FOUND);
}

Test(provider_maildir, open_entry_rejects_path_tricks)
{
    logon_maildir();
    populate();
    put("Maildir/new/1.a.host:2,S", "x"); /* a name with ':' in new/ */
    put("Maildir/new/.dot", "x");
    static const struct {
        const char *key;
        size_t len;
    } bad[] = {
#define K(s) {s, sizeof s - 1}
        K("F../x"),
        K("F.."),
        K("F."),
        K("F"),
        K(""),
        K("F/etc"),
        K("FWork/../Archive"),
        K("F.Work"),
        K("FWork."),
        K("FBad..Name"),
        K("FWork\0x"),
        K("FHalf"),
        K("FFile"),
        K("FLink"),
        K("FNope"),
        K("Finbox"),
        K("M..\0x"),
        K("MINBOX\0../../Outside/new/7.g.host"),
        K("MINBOX\0.dot"),
        K("MINBOX\0."),
        K("MINBOX\0.."),
        K("MINBOX\0new/1.a.host"),
        K("MINBOX\0001.a.host:2,S"),
        K("MINBOX\0"),
        K("MINBOX"),
        K("MINBOX\0001.a.host\0"),
        K("MLink\0007.g.host"),
        K("M../Outside\0007.g.host"),
        K("MWork\0001.a.host"),
        K("X1.a.host"),
#undef K
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mapi_object o;
        cr_assert_eq(open_key(bad[i].key, bad[i].len, &o), MAPI_E_NOT_FOUND, "opened key #%zu %s",
                     i, bad[i].key);
        cr_assert_eq(o.count, 0);
    }
    /* The real one still opens (new/ names are matched up to ':'). */
    mapi_object o;
    static const char good[] = "MINBOX\0"
                               "1.a.host";
    cr_assert_eq(open_key(good, sizeof good - 1, &o), S_OK);
    mapi_object_clear(&o);
}

/* ---- stale tmp/ files ---- */

/* A file at rel whose access and modification times are hours_ago old. */
static void aged_file(const char *rel, double hours_ago)
{
    char p[512];
    fx_write_file(fx_path(p, rel), "partial delivery");
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= (time_t)(hours_ago * 3600);
    t[1] = t[0];
    cr_assert_eq(utimensat(AT_FDCWD, p, t, AT_SYMLINK_NOFOLLOW), 0, "utimensat %s", p);
}

static bool exists(const char *rel)
{
    char p[512];
    struct stat sb;
    return lstat(fx_path(p, rel), &sb) == 0;
}

Test(provider_maildir, stale_tmp_files_are_removed_at_logon_and_by_maintenance)
{
    mkdirs("Maildir/cur");
    mkdirs("Maildir/new");
    mkdirs("Maildir/tmp/sub");
    aged_file("Maildir/tmp/1.crashed.host", 37);
    aged_file("Maildir/tmp/.dotted", 100);
    aged_file("Maildir/tmp/2.recent.host", 35); /* younger than 36 h: may still be written */
    aged_file("Maildir/tmp/3.fresh.host", 0);
    aged_file("Maildir/new/4.old.message", 1000); /* delivered mail is never touched */
    char p[512], target[512];
    cr_assert_eq(
        symlink(fx_path(target, "Maildir/new/4.old.message"), fx_path(p, "Maildir/tmp/link")), 0);
    const provider_config *cfg = maildir_config(fx_path(p, "Maildir"), NULL);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_expect(!exists("Maildir/tmp/1.crashed.host"), "a 37 h old tmp file survived logon");
    cr_expect(!exists("Maildir/tmp/.dotted"));
    cr_expect(exists("Maildir/tmp/2.recent.host"));
    cr_expect(exists("Maildir/tmp/3.fresh.host"));
    cr_expect(exists("Maildir/tmp/sub"), "a folder is not a stale file");
    cr_expect(exists("Maildir/tmp/link"), "links are left alone");
    cr_expect(exists("Maildir/new/4.old.message"));
    cr_assert_eq(fx_status().status_code, STATUS_AVAILABLE);

    /* While logged on: the hourly maintenance does the same. */
    cr_assert_not_null(fx.ops->maintain);
    aged_file("Maildir/tmp/5.crashed.later", 40);
    fx.ops->maintain(fx.state);
    cr_expect(!exists("Maildir/tmp/5.crashed.later"));
    cr_expect(exists("Maildir/tmp/3.fresh.host"));
    cr_expect_str_eq(fx_status().status_string, "1 message (1 new)");
}

/* The core's poller reaches pooled (shared) instances, also idle ones, on
 * the hour and not before (provider_inst.c). */
Test(provider_maildir, the_pool_maintains_shared_instances_hourly)
{
    mkdirs("Maildir/cur");
    mkdirs("Maildir/new");
    mkdirs("Maildir/tmp");
    char p[512];
    const provider_config *cfg = maildir_config(fx_path(p, "Maildir"), NULL);
    provider_inst *pi;
    pinst_pool *pool = pinst_pool_new();
    cr_assert_not_null(pool);
    cr_assert_eq(pinst_logon(pool, fx.store, fx.ops, cfg, &fx.args, false, &pi), S_OK);
    cr_assert(pi->shared);
    aged_file("Maildir/tmp/1.crashed.host", 48);
    cr_expect_eq(pinst_pool_maintain(pool, PINST_MAINTAIN_MS), 0u, "not due yet: logon just swept");
    cr_expect(exists("Maildir/tmp/1.crashed.host"));
    pinst_unref(pi); /* idle in the pool: still maintained */
    cr_expect_geq(pinst_pool_maintain(pool, 0), 1u);
    cr_expect(!exists("Maildir/tmp/1.crashed.host"));
    cr_expect_eq(pinst_pool_sweep(pool, 0), 1u, "the maintenance kept the instance idle, not busy");
    pinst_pool_free(pool);
}
