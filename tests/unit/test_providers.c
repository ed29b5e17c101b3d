/* Unit suite for the provider kinds (provider_maildir.c, provider_abfile.c,
 * provider_spool.c): logon outcomes, status rows from what is really on disk,
 * ValidateState, the abfile identity entry id and the spool's Maildir
 * delivery. Real folders under a fresh /tmp/mgw-prov-XXXXXX per test; the
 * provider configurations come from profile_store_load_string, as in the
 * gateway. */
#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile.h"
#include "../../session-core/provider.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];             /* this test's folder */
static profile_store *store;      /* the loaded profiles */
static const provider_ops *ops;   /* the provider under test */
static void *pstate;              /* its logged-on state, logged off in teardown */

/* nftw callbacks: first make every folder writable again (a test may have
 * chmod'ed one), then remove everything depth-first. */
static int make_writable(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_D || type == FTW_DNR)
        chmod(path, (sb->st_mode & 07777) | 0700);
    return 0;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    remove(path);
    return 0;
}

static void setup(void)
{
    strcpy(root, "/tmp/mgw-prov-XXXXXX");
    cr_assert_not_null(mkdtemp(root), "mkdtemp: %s", strerror(errno));
    store = NULL;
    ops = NULL;
    pstate = NULL;
}

static void teardown(void)
{
    if (ops && pstate)
        ops->logoff(pstate);
    profile_store_unref(store);
    nftw(root, make_writable, 16, FTW_PHYS);
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(providers, .init = setup, .fini = teardown);

/* root + "/" + rel in a static buffer per call site slot (tests need a few). */
static const char *in_root(char buf[512], const char *rel)
{
    snprintf(buf, 512, "%s/%s", root, rel);
    return buf;
}

/* Loads a profile "p" with one service holding provider_json, and returns that
 * provider's configuration; ops is set to its kind. */
static const provider_config *load_provider(const char *provider_json)
{
    char json[4096];
    snprintf(json, sizeof json,
             "{\"default_profile\":\"p\",\"profiles\":[{\"name\":\"p\",\"auth\":{\"type\":"
             "\"none\"},\"services\":[{\"name\":\"s\",\"providers\":[%s]}]}]}",
             provider_json);
    char err[512] = "";
    HRESULT hr = profile_store_load_string(json, "test.json", root, &store, err, sizeof err,
                                           NULL, NULL);
    cr_assert_eq(hr, S_OK, "load failed: %s", err);
    const profile *p = profile_store_find(store, "p");
    cr_assert_not_null(p);
    cr_assert_eq(profile_service_count(p), 1);
    const service_config *svc = profile_service(p, 0);
    cr_assert_eq(service_provider_count(svc), 1);
    const provider_config *cfg = service_provider(svc, 0);
    ops = provider_kind_find(provider_config_kind(cfg));
    cr_assert_not_null(ops);
    return cfg;
}

static provider_status status_now(void)
{
    provider_status st;
    memset(&st, 0, sizeof st);
    ops->status(pstate, &st);
    return st;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
    cr_assert_eq(fputs(text, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
}

/* The whole file in a malloc'd string (test files are small). */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
    char *buf = calloc(1, 65536);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool is_dir_mode(const char *path, mode_t mode)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == mode;
}

/* Names in dir not starting with '.', sorted; returns the count. */
static size_t list_dir(const char *dir, char names[][128], size_t max)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        cr_assert_lt(n, max);
        size_t len = strlen(e->d_name);
        cr_assert_lt(len, 128);
        memcpy(names[n++], e->d_name, len + 1);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    return n;
}

/* ---- kinds ---------------------------------------------------------- */

Test(providers, kind_table)
{
    const provider_ops *m = provider_kind_find("maildir");
    const provider_ops *a = provider_kind_find("abfile");
    const provider_ops *s = provider_kind_find("spool");
    cr_assert_not_null(m);
    cr_assert_not_null(a);
    cr_assert_not_null(s);
    cr_assert_eq(m->resource_type, MAPI_STORE_PROVIDER);
    cr_assert_eq(a->resource_type, MAPI_AB_PROVIDER);
    cr_assert_eq(s->resource_type, MAPI_TRANSPORT_PROVIDER);
    cr_assert_str_eq(m->dll_name, "mgwmdir");
    cr_assert_str_eq(a->dll_name, "mgwab");
    cr_assert_str_eq(s->dll_name, "mgwspool");
    cr_assert_str_eq(m->provider_display, "mapigw");
    cr_assert_eq(m->resource_methods, STATUS_VALIDATE_STATE);
    cr_assert_eq(a->resource_methods, STATUS_VALIDATE_STATE);
    cr_assert_eq(s->resource_methods, STATUS_VALIDATE_STATE | STATUS_FLUSH_QUEUES);
    cr_assert_null(m->flush_queues);
    cr_assert_not_null(s->flush_queues);
}

Test(providers, create_must_be_boolean)
{
    char json[] = "{\"profiles\":[{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":"
                  "[{\"name\":\"s\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"
                  "\"maildir\",\"display_name\":\"M\",\"settings\":{\"path\":\"m\","
                  "\"create\":\"yes\"}}]}]}]}";
    char err[512] = "";
    HRESULT hr = profile_store_load_string(json, "test.json", root, &store, err, sizeof err,
                                           NULL, NULL);
    cr_assert_eq(hr, MAPI_E_INVALID_PARAMETER);
    cr_assert_not_null(strstr(err, "settings.create"), "error was: %s", err);
}

/* A missing path (or deliver_to) is MAPI_E_UNCONFIGURED for every kind, and
 * the state stays NULL. */
Test(providers, missing_path_is_unconfigured)
{
    static const char *const PROVIDERS[] = {
        "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"M\","
        "\"settings\":{\"create\":true}}",
        "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"A\"}",
        "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"S\","
        "\"settings\":{\"path\":\"spool\",\"create\":true}}",
        "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"S\","
        "\"settings\":{\"deliver_to\":\"md\"}}",
    };
    for (size_t i = 0; i < sizeof PROVIDERS / sizeof PROVIDERS[0]; i++) {
        const provider_config *cfg = load_provider(PROVIDERS[i]);
        pstate = (void *)&pstate; /* must be reset to NULL */
        cr_assert_eq(ops->logon(cfg, &pstate), MAPI_E_UNCONFIGURED, "%s", PROVIDERS[i]);
        cr_assert_null(pstate);
        profile_store_unref(store);
        store = NULL;
    }
    /* Nothing was created on the way. */
    char p[512];
    cr_assert_eq(access(in_root(p, "spool"), F_OK), -1);
}

/* ---- maildir -------------------------------------------------------- */

static const provider_config *maildir_config(const char *path, const char *create)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"Mailbox\","
             "\"settings\":{\"path\":\"%s\"%s%s}}",
             path, create ? ",\"create\":" : "", create ? create : "");
    return load_provider(json);
}

Test(providers, maildir_create_makes_folders_and_is_available)
{
    char md[512], sub[600];
    in_root(md, "deep/er/Maildir");
    const provider_config *cfg = maildir_config(md, "true");
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    cr_assert_not_null(pstate);
    const char *subs[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", md, subs[i]);
        cr_assert(is_dir_mode(sub, 0700), "%s is not a 0700 folder", sub);
    }
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "0 messages (0 new)");

    /* Two new, one read, one dot file that is not a message. */
    write_file(in_root(sub, "deep/er/Maildir/new/1.a.host"), "a");
    write_file(in_root(sub, "deep/er/Maildir/new/2.b.host"), "b");
    write_file(in_root(sub, "deep/er/Maildir/cur/3.c.host:2,S"), "c");
    write_file(in_root(sub, "deep/er/Maildir/cur/.hidden"), "d");
    cr_assert_eq(ops->validate_state(pstate, 0), S_OK);
    st = status_now();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "3 messages (2 new)");
}

Test(providers, maildir_relative_path_resolves_against_base)
{
    const provider_config *cfg = maildir_config("rel/Maildir", "true");
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    char sub[512];
    cr_assert(is_dir_mode(in_root(sub, "rel/Maildir/new"), 0700));
    cr_assert_eq(status_now().status_code, STATUS_AVAILABLE);
}

Test(providers, maildir_missing_folder_logs_on_with_failure)
{
    char md[512], want[600];
    in_root(md, "absent");
    const provider_config *cfg = maildir_config(md, "false");
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    cr_assert_not_null(pstate);
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: %s/cur", md);
    cr_assert_str_eq(st.status_string, want);

    /* Created after logon: ValidateState finds it for real. */
    char sub[512];
    cr_assert_eq(mkdir(md, 0700), 0);
    cr_assert_eq(mkdir(in_root(sub, "absent/cur"), 0700), 0);
    cr_assert_eq(mkdir(in_root(sub, "absent/new"), 0700), 0);
    cr_assert_eq(ops->validate_state(pstate, 0), S_OK);
    st = status_now();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: %s/tmp", md);
    cr_assert_str_eq(st.status_string, want);

    cr_assert_eq(mkdir(in_root(sub, "absent/tmp"), 0700), 0);
    cr_assert_eq(ops->validate_state(pstate, 0), S_OK);
    st = status_now();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "0 messages (0 new)");
}

Test(providers, maildir_folder_removed_after_logon_fails_on_validate)
{
    char md[512], sub[512], want[600];
    in_root(md, "Maildir");
    const provider_config *cfg = maildir_config(md, "true");
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    cr_assert_eq(status_now().status_code, STATUS_AVAILABLE);

    cr_assert_eq(rmdir(in_root(sub, "Maildir/new")), 0);
    /* status is cheap and does no I/O: still the last check's answer. */
    cr_assert_eq(status_now().status_code, STATUS_AVAILABLE);
    cr_assert_eq(ops->validate_state(pstate, 0), S_OK);
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: %s/new", md);
    cr_assert_str_eq(st.status_string, want);

    /* A file where a folder belongs is named as such. */
    write_file(sub, "x");
    cr_assert_eq(ops->validate_state(pstate, 0), S_OK);
    st = status_now();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "not a folder: %s/new", md);
    cr_assert_str_eq(st.status_string, want);
}

/* ---- abfile --------------------------------------------------------- */

static const provider_config *abfile_config(const char *path, const char *create,
                                            const char *identity)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"Contacts\""
             "%s%s,\"settings\":{\"path\":\"%s\",\"create\":%s}}",
             identity ? ",\"identity\":" : "", identity ? identity : "", path, create);
    return load_provider(json);
}

#define DEMO_IDENTITY                                                                    \
    "{\"display\":\"Demo User\",\"address_type\":\"SMTP\",\"address\":\"demo@example.invalid\"}"

/* The documented abfile MAPIUID (provider_abfile.c). */
static const uint8_t ABFILE_UID[16] = {0xFF, 0xAE, 0x7B, 0x1D, 0x3F, 0x3C, 0x7C, 0xED,
                                       0x4F, 0x16, 0x4A, 0xB4, 0x96, 0x9A, 0x37, 0xFA};

static void assert_ab_entry_id(const provider_entry_id *id, const char *tail)
{
    size_t tl = strlen(tail);
    cr_assert_eq(id->entry_id_len, 4 + 16 + tl);
    const uint8_t zero[4] = {0, 0, 0, 0};
    cr_assert_eq(memcmp(id->entry_id, zero, 4), 0);
    cr_assert_eq(memcmp(id->entry_id + 4, ABFILE_UID, 16), 0);
    cr_assert_eq(memcmp(id->entry_id + 20, tail, tl), 0);
}

Test(providers, abfile_create_writes_identity_and_entry_id)
{
    char ab[512];
    in_root(ab, "demo/contacts.json");
    const provider_config *cfg = abfile_config(ab, "true", DEMO_IDENTITY);
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "1 entry");

    struct stat sb;
    cr_assert_eq(stat(ab, &sb), 0);
    cr_assert(S_ISREG(sb.st_mode));
    cr_assert_eq(sb.st_mode & 0777, 0600);
    char dir[512];
    cr_assert(is_dir_mode(in_root(dir, "demo"), 0700));
    json_error_t jerr;
    json_t *doc = json_load_file(ab, 0, &jerr);
    cr_assert_not_null(doc, "%s", jerr.text);
    json_t *entries = json_object_get(doc, "entries");
    cr_assert_eq(json_array_size(entries), 1);
    json_t *e = json_array_get(entries, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "display")), "Demo User");
    cr_assert_str_eq(json_string_value(json_object_get(e, "address_type")), "SMTP");
    cr_assert_str_eq(json_string_value(json_object_get(e, "address")), "demo@example.invalid");
    json_decref(doc);
    /* No temp file left next to it. */
    char names[8][128];
    cr_assert_eq(list_dir(dir, names, 8), 1);
    cr_assert_str_eq(names[0], "contacts.json");

    provider_entry_id id = {NULL, 0};
    cr_assert_eq(ops->identity_entry_id(pstate, cfg, &id), S_OK);
    assert_ab_entry_id(&id, "SMTP:demo@example.invalid");
    free(id.entry_id);
}

Test(providers, abfile_create_keeps_an_existing_file)
{
    char ab[512];
    in_root(ab, "ab.json");
    const char *mine = "{\"entries\":[{\"display\":\"A\",\"address_type\":\"X400\",\"address\":"
                       "\"a\"},{\"display\":\"B\",\"address_type\":\"SMTP\",\"address\":\"b@x\"}]}";
    write_file(ab, mine);
    const provider_config *cfg = abfile_config(ab, "true", DEMO_IDENTITY);
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    cr_assert_str_eq(status_now().status_string, "2 entries");
    char *now = read_file(ab);
    cr_assert_str_eq(now, mine);
    free(now);
    /* The identity is not in this file. */
    provider_entry_id id = {NULL, 0};
    cr_assert_eq(ops->identity_entry_id(pstate, cfg, &id), MAPI_E_NOT_FOUND);
    cr_assert_null(id.entry_id);
}

Test(providers, abfile_create_without_identity_has_no_entries)
{
    char ab[512];
    in_root(ab, "ab.json");
    const provider_config *cfg = abfile_config(ab, "true", NULL);
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "0 entries");
    json_t *doc = json_load_file(ab, 0, NULL);
    cr_assert_not_null(doc);
    cr_assert(json_is_array(json_object_get(doc, "entries")));
    cr_assert_eq(json_array_size(json_object_get(doc, "entries")), 0);
    json_decref(doc);
    provider_entry_id id = {NULL, 0};
    cr_assert_eq(ops->identity_entry_id(pstate, cfg, &id), MAPI_E_NOT_FOUND);
}

Test(providers, abfile_identity_matches_without_case)
{
    char ab[512];
    in_root(ab, "ab.json");
    write_file(ab, "{\"entries\":[{\"display\":\"D\",\"address_type\":\"SMTP\",\"address\":"
                   "\"Demo@Example.invalid\",\"note\":\"extra keys are fine\"}]}");
    const provider_config *cfg = abfile_config(
        ab, "false",
        "{\"display\":\"Demo\",\"address_type\":\"smtp\",\"address\":\"DEMO@example.INVALID\"}");
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    provider_entry_id id = {NULL, 0};
    cr_assert_eq(ops->identity_entry_id(pstate, cfg, &id), S_OK);
    /* Spelled as the address book entry spells it. */
    assert_ab_entry_id(&id, "SMTP:Demo@Example.invalid");
    free(id.entry_id);
}

Test(providers, abfile_malformed_fails_one_provider)
{
    char ab[512];
    in_root(ab, "ab.json");
    write_file(ab, "{\"entries\":[ not json");
    const provider_config *cfg = abfile_config(ab, "true", DEMO_IDENTITY);
    pstate = (void *)&pstate;
    cr_assert_eq(ops->logon(cfg, &pstate), MAPI_E_FAILONEPROVIDER);
    cr_assert_null(pstate);
}

Test(providers, abfile_wrong_shape_fails_one_provider)
{
    char ab[512];
    in_root(ab, "ab.json");
    const provider_config *cfg = abfile_config(ab, "false", NULL);
    const char *bad[] = {
        "[]",
        "{\"entries\":{}}",
        "{\"entries\":[\"x\"]}",
        "{\"entries\":[{\"display\":\"D\",\"address_type\":\"SMTP\"}]}",
        "{\"entries\":[{\"display\":1,\"address_type\":\"SMTP\",\"address\":\"a\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(ab, bad[i]);
        cr_assert_eq(ops->logon(cfg, &pstate), MAPI_E_FAILONEPROVIDER, "accepted %s", bad[i]);
        cr_assert_null(pstate);
    }
}

Test(providers, abfile_missing_then_invalid_is_a_status_only)
{
    char ab[512], want[600];
    in_root(ab, "ab.json");
    const provider_config *cfg = abfile_config(ab, "false", DEMO_IDENTITY);
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "address book file missing: %s", ab);
    cr_assert_str_eq(st.status_string, want);

    write_file(ab, "{\"entries\":[{\"display\":\"Demo\",\"address_type\":\"SMTP\","
                   "\"address\":\"demo@example.invalid\"}]}");
    cr_assert_eq(ops->validate_state(pstate, 0), S_OK);
    st = status_now();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "1 entry");
    provider_entry_id id = {NULL, 0};
    cr_assert_eq(ops->identity_entry_id(pstate, cfg, &id), S_OK);
    free(id.entry_id);

    /* Broken while logged on: FAILURE with the reason, not an error. */
    write_file(ab, "{oops");
    cr_assert_eq(ops->validate_state(pstate, 0), S_OK);
    st = status_now();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "address book file invalid: %s", ab);
    cr_assert_eq(strncmp(st.status_string, want, strlen(want)), 0, "was: %s", st.status_string);
    id.entry_id = NULL;
    cr_assert_eq(ops->identity_entry_id(pstate, cfg, &id), MAPI_E_NOT_FOUND);
}

/* ---- spool ---------------------------------------------------------- */

static const provider_config *spool_config(const char *queue, const char *deliver_to)
{
    char json[1200];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"Out\","
             "\"settings\":{\"path\":\"%s\",\"deliver_to\":\"%s\",\"create\":true}}",
             queue, deliver_to);
    return load_provider(json);
}

static const char *const BODIES[3] = {
    "From: a@x\r\n\r\nfirst\r\n",
    "From: b@x\r\n\r\nsecond, a little longer\r\n",
    "From: c@x\r\n\r\nthird\r\n",
};

/* A spool logged on with create=true and the three BODIES queued. */
static void spool_with_three(char queue[512], char md[512])
{
    in_root(queue, "spool");
    in_root(md, "Maildir");
    const provider_config *cfg = spool_config(queue, md);
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    char p[600];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/msg%d.eml", queue, i);
        write_file(p, BODIES[i]);
    }
    cr_assert_eq(ops->validate_state(pstate, 0), S_OK);
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE | STATUS_OUTBOUND_ENABLED);
    cr_assert_str_eq(st.status_string, "3 messages queued");
}

/* Contents of every file in dir, sorted, compared with BODIES (sorted). */
static void assert_holds_bodies(const char *dir, size_t want)
{
    char names[8][128];
    size_t n = list_dir(dir, names, 8);
    cr_assert_eq(n, want, "%s holds %zu files", dir, n);
    char *got[3];
    char p[700];
    for (size_t i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        got[i] = read_file(p);
    }
    qsort(got, n, sizeof got[0], (int (*)(const void *, const void *))strcmp);
    int matched = 0;
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < 3; b++)
            if (strcmp(got[i], BODIES[b]) == 0)
                matched++;
        free(got[i]);
    }
    cr_assert_eq((size_t)matched, want);
}

Test(providers, spool_flush_delivers_into_maildir_new)
{
    char queue[512], md[512], p[700];
    spool_with_three(queue, md);
    /* Neither a dot file nor a folder is a message. */
    snprintf(p, sizeof p, "%s/.partial", queue);
    write_file(p, "not yet");
    snprintf(p, sizeof p, "%s/subdir", queue);
    cr_assert_eq(mkdir(p, 0700), 0);

    cr_assert_eq(ops->flush_queues(pstate, FLUSH_UPLOAD), S_OK);
    snprintf(p, sizeof p, "%s/new", md);
    assert_holds_bodies(p, 3);
    char names[8][128];
    size_t n = list_dir(p, names, 8);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        cr_assert(l > 7 && strcmp(names[i] + l - 7, ".mapigw") == 0, "name %s", names[i]);
        cr_assert_not_null(strchr(names[i], '_'));
    }
    snprintf(p, sizeof p, "%s/tmp", md);
    cr_assert_eq(list_dir(p, names, 8), 0);
    cr_assert_eq(list_dir(queue, names, 8), 1); /* subdir only */
    cr_assert_str_eq(names[0], "subdir");
    snprintf(p, sizeof p, "%s/.partial", queue);
    cr_assert_eq(access(p, F_OK), 0);

    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE | STATUS_OUTBOUND_ENABLED);
    cr_assert_str_eq(st.status_string, "0 messages queued");
}

Test(providers, spool_flush_with_no_flags_uploads_and_download_alone_does_nothing)
{
    char queue[512], md[512], p[700];
    spool_with_three(queue, md);
    cr_assert_eq(ops->flush_queues(pstate, FLUSH_DOWNLOAD), S_OK);
    assert_holds_bodies(queue, 3);
    cr_assert_str_eq(status_now().status_string, "3 messages queued");

    cr_assert_eq(ops->flush_queues(pstate, 0), S_OK);
    snprintf(p, sizeof p, "%s/new", md);
    assert_holds_bodies(p, 3);
    assert_holds_bodies(queue, 0);
}

Test(providers, spool_unwritable_tmp_keeps_everything_queued)
{
    char queue[512], md[512], tmp[600], p[700];
    spool_with_three(queue, md);
    snprintf(tmp, sizeof tmp, "%s/tmp", md);
    cr_assert_eq(chmod(tmp, 0500), 0);
    /* root ignores the mode: then a regular file where tmp/ belongs. */
    snprintf(p, sizeof p, "%s/probe", tmp);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        close(fd);
        cr_assert_eq(unlink(p), 0);
        cr_assert_eq(rmdir(tmp), 0);
        write_file(tmp, "in the way");
    }

    HRESULT hr = ops->flush_queues(pstate, FLUSH_UPLOAD);
    cr_assert_eq(hr, MAPI_E_CALL_FAILED);
    assert_holds_bodies(queue, 3);
    snprintf(p, sizeof p, "%s/new", md);
    assert_holds_bodies(p, 0);
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    cr_assert_not_null(strstr(st.status_string, tmp), "was: %s", st.status_string);

    /* Repaired: the next flush delivers all three. */
    if (fd >= 0) {
        cr_assert_eq(unlink(tmp), 0);
        cr_assert_eq(mkdir(tmp, 0700), 0);
    } else {
        cr_assert_eq(chmod(tmp, 0700), 0);
    }
    cr_assert_eq(ops->validate_state(pstate, 0), S_OK);
    cr_assert_str_eq(status_now().status_string, "3 messages queued");
    cr_assert_eq(ops->flush_queues(pstate, FLUSH_UPLOAD), S_OK);
    assert_holds_bodies(p, 3);
    assert_holds_bodies(queue, 0);
}

/* A copy that fails half-way (a file size limit binds root too): that message
 * stays queued and nothing half-written shows in new/ or tmp/; the others go. */
Test(providers, spool_failed_copy_keeps_that_message_queued)
{
    char queue[512], md[512], p[700];
    spool_with_three(queue, md);
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(p, sizeof p, "%s/big.eml", queue);
    write_file(p, big);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1024;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    HRESULT hr = ops->flush_queues(pstate, FLUSH_UPLOAD);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

    cr_assert_eq(hr, MAPI_E_CALL_FAILED);
    char names[8][128];
    cr_assert_eq(list_dir(queue, names, 8), 1);
    cr_assert_str_eq(names[0], "big.eml");
    char *still = read_file(p);
    cr_assert_str_eq(still, big);
    free(still);
    snprintf(p, sizeof p, "%s/new", md);
    assert_holds_bodies(p, 3);
    snprintf(p, sizeof p, "%s/tmp", md);
    cr_assert_eq(list_dir(p, names, 8), 0);
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    cr_assert_eq(strncmp(st.status_string, "flush failed, 1 message still queued: cannot copy ",
                         50),
                 0, "was: %s", st.status_string);
}

Test(providers, spool_missing_folder_is_failure)
{
    char queue[512], json[1200], md[512], want[700];
    in_root(queue, "q");
    in_root(md, "md");
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"Out\","
             "\"settings\":{\"path\":\"%s\",\"deliver_to\":\"%s\"}}",
             queue, md);
    const provider_config *cfg = load_provider(json);
    cr_assert_eq(ops->logon(cfg, &pstate), S_OK);
    provider_status st = status_now();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: %s", queue);
    cr_assert_str_eq(st.status_string, want);
    cr_assert_eq(ops->flush_queues(pstate, FLUSH_UPLOAD), MAPI_E_CALL_FAILED);
    cr_assert_eq(status_now().status_code, STATUS_FAILURE);
}
