/* Unit suite "profile_admin": the changes of profile_edit.c on a parsed
 * profiles document (names taken, merge patches, what a session may set)
 * and profile_admin.c's writes (If-Match, the loader's refusal leaves the
 * file alone, the file replaced whole, the core gets the new store). */
#include "../../session-core/core.h"
#include "../../session-core/profile_admin.h"
#include "../../session-core/profile_edit.h"
#include "../../server/config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char DOC[] =
    "{\"default_profile\":\"p\",\"profiles\":["
    "{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":["
    "{\"name\":\"Mail\",\"providers\":[{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"smtp\","
    "\"display_name\":\"SMTP\",\"settings\":{\"url\":\"smtp://127.0.0.1:1\",\"queue\":\"q\","
    "\"timeout_ms\":1000}}]}]},"
    "{\"name\":\"q\",\"auth\":{\"type\":\"none\"},\"services\":[]}]}";

static json_t *doc(void)
{
    json_t *d = json_loads(DOC, 0, NULL);
    cr_assert_not_null(d);
    return d;
}

static char *mail_uid(void)
{
    static char uid[PROFILE_SERVICE_UID_LEN + 1];
    profile_service_uid("Mail", uid);
    return uid;
}

Test(profile_admin, service_uid_is_32_upper_hex_and_names_one_service)
{
    char a[PROFILE_SERVICE_UID_LEN + 1], b[PROFILE_SERVICE_UID_LEN + 1];
    profile_service_uid("Mail", a);
    profile_service_uid("Contacts", b);
    cr_expect_eq(strlen(a), 32);
    cr_expect_eq(strspn(a, "0123456789ABCDEF"), 32);
    cr_expect_str_neq(a, b);
    json_t *d = doc();
    cr_expect_not_null(profile_entry_service(profile_admin_find(d, "p"), a));
    cr_expect_null(profile_entry_service(profile_admin_find(d, "p"), b));
    json_decref(d);
}

Test(profile_admin, create_copy_rename_and_delete)
{
    json_t *d = doc();
    char err[256];
    profile_change c = {.op = PROFILE_CHANGE_CREATE, .new_name = "p", .set_default = -1};
    cr_expect_eq(profile_change_apply(&c, d, err, sizeof err), MAPI_E_COLLISION);
    profile_change cp = {.op = PROFILE_CHANGE_COPY, .from = "p", .new_name = "p2", .set_default = 1};
    cr_assert_eq(profile_change_apply(&cp, d, err, sizeof err), S_OK, "%s", err);
    json_t *p2 = profile_admin_find(d, "p2");
    cr_assert_not_null(p2);
    cr_expect_eq(json_array_size(json_object_get(p2, "services")), 1, "a copy has the services");
    cr_expect(profile_admin_is_default(d, "p2"));
    profile_change rn = {.op = PROFILE_CHANGE_UPDATE, .name = "p2", .new_name = "q", .set_default = -1};
    cr_expect_eq(profile_change_apply(&rn, d, err, sizeof err), MAPI_E_COLLISION);
    rn.new_name = "p3";
    cr_assert_eq(profile_change_apply(&rn, d, err, sizeof err), S_OK, "%s", err);
    cr_expect(profile_admin_is_default(d, "p3"), "the default follows a rename");
    profile_change del = {.op = PROFILE_CHANGE_DELETE, .name = "p3", .set_default = -1};
    cr_assert_eq(profile_change_apply(&del, d, err, sizeof err), S_OK);
    cr_expect_null(profile_admin_find(d, "p3"));
    cr_expect_null(json_object_get(d, "default_profile"), "deleting the default clears it");
    del.name = "nobody";
    cr_expect_eq(profile_change_apply(&del, d, err, sizeof err), MAPI_E_NOT_FOUND);
    json_decref(d);
}

Test(profile_admin, merge_patch_sets_and_removes_settings)
{
    json_t *d = doc();
    char err[256];
    json_t *patches = json_loads("[{\"settings\":{\"timeout_ms\":null,\"from\":\"a@b\"}}]", 0, NULL);
    profile_change c = {.op = SERVICE_CHANGE_UPDATE, .name = "p", .service_uid = mail_uid(),
                        .patches = patches, .set_default = -1};
    cr_assert_eq(profile_change_apply(&c, d, err, sizeof err), S_OK, "%s", err);
    json_t *settings = json_object_get(
        json_array_get(json_object_get(profile_entry_service(profile_admin_find(d, "p"),
                                                             mail_uid()),
                                       "providers"),
                       0),
        "settings");
    cr_expect_null(json_object_get(settings, "timeout_ms"));
    cr_expect_str_eq(json_string_value(json_object_get(settings, "from")), "a@b");
    cr_expect_str_eq(json_string_value(json_object_get(settings, "url")), "smtp://127.0.0.1:1");
    json_decref(patches);
    /* One patch per provider, no more, no less. */
    patches = json_loads("[{}, {}]", 0, NULL);
    c.patches = patches;
    cr_expect_eq(profile_change_apply(&c, d, err, sizeof err), MAPI_E_INVALID_PARAMETER);
    json_decref(patches);
    json_decref(d);
}

Test(profile_admin, a_session_sets_only_its_user_settings)
{
    json_t *d = doc();
    char err[256];
    json_t *ok = json_loads("[{\"settings\":{\"timeout_ms\":5}}]", 0, NULL);
    json_t *url = json_loads("[{\"settings\":{\"url\":\"smtp://evil:25\"}}]", 0, NULL);
    json_t *name = json_loads("[{\"display_name\":\"X\"}]", 0, NULL);
    profile_change c = {.op = SERVICE_CHANGE_UPDATE, .name = "p", .service_uid = mail_uid(),
                        .user_only = true, .set_default = -1};
    c.patches = url;
    cr_expect_eq(profile_change_apply(&c, d, err, sizeof err), MAPI_E_NO_ACCESS);
    cr_expect(strstr(err, "settings.url") != NULL, "%s", err);
    c.patches = name;
    cr_expect_eq(profile_change_apply(&c, d, err, sizeof err), MAPI_E_NO_ACCESS);
    c.patches = ok;
    cr_expect_eq(profile_change_apply(&c, d, err, sizeof err), S_OK, "%s", err);
    json_decref(ok);
    json_decref(url);
    json_decref(name);
    json_decref(d);
}

Test(profile_admin, secrets_and_default_user_settings)
{
    cr_expect(profile_setting_is_secret("password"));
    cr_expect(profile_setting_is_secret("bind_password"));
    cr_expect(!profile_setting_is_secret("passwords"));
    cr_expect(!profile_setting_is_secret("username"));
    json_t *imap = json_pack("{s:s}", "kind", "imap");
    json_t *list = profile_provider_user_settings(imap);
    cr_expect_eq(json_array_size(list), 3);
    json_decref(list);
    json_object_set_new(imap, "user_settings", json_pack("[s]", "url"));
    list = profile_provider_user_settings(imap);
    cr_expect_eq(json_array_size(list), 1, "the file's own list wins");
    json_decref(list);
    json_decref(imap);
}

/* ---- profile_admin.c against a real file and core ----------------------- */

static char dir[64], path[96];
static core *C;
static profile_admin *A;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    snprintf(dir, sizeof dir, "/tmp/mapigw-padmin-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/profiles.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(DOC, f);
    fclose(f);
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(profile_store_load(path, dir, &st, err, sizeof err, NULL, NULL), S_OK, "%s", err);
    config defaults;
    cr_assert(config_defaults(&defaults));
    cr_assert_eq(core_new(&defaults.core, st, &C), S_OK);
    profile_admin_config cfg = {.path = path, .base_dir = dir};
    cr_assert_eq(profile_admin_new(C, &cfg, &A), S_OK);
    core_set_profile_admin(C, A);
}

static void teardown(void)
{
    core_free(C);
    profile_admin_free(A);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

static int files_in_dir(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    if (d)
        closedir(d);
    return n;
}

Test(profile_admin, a_write_lands_in_the_file_and_the_core, .init = setup, .fini = teardown)
{
    char err[512] = "", version[PROFILE_VERSION_LEN + 1];
    size_t ended;
    profile_change c = {.op = PROFILE_CHANGE_CREATE, .new_name = "r", .set_default = -1};
    cr_assert_eq(profile_admin_edit(A, NULL, NULL, profile_change_apply, &c, &ended, err, sizeof err),
                 S_OK, "%s", err);
    profile_store *st = core_profiles(C);
    cr_expect_not_null(profile_store_find(st, "r"), "the core has the new store");
    profile_store_unref(st);
    json_t *entry;
    bool def;
    cr_assert_eq(profile_admin_get(A, "r", &entry, &def, version, err, sizeof err), S_OK);
    json_decref(entry);
    json_error_t je;
    json_t *on_disk = json_load_file(path, 0, &je);
    cr_assert_not_null(on_disk, "%s", je.text);
    cr_expect_not_null(profile_admin_find(on_disk, "r"));
    json_decref(on_disk);
    cr_expect_eq(files_in_dir(), 1, "no temporary file left");
}

Test(profile_admin, if_match_and_the_loaders_refusal_change_nothing, .init = setup,
     .fini = teardown)
{
    char err[512] = "", version[PROFILE_VERSION_LEN + 1], quoted[24];
    size_t ended;
    json_t *entry;
    bool def;
    cr_assert_eq(profile_admin_get(A, "q", &entry, &def, version, err, sizeof err), S_OK);
    json_decref(entry);
    profile_change c = {.op = PROFILE_CHANGE_UPDATE, .name = "q", .set_default = 1};
    cr_expect_eq(profile_admin_edit(A, "q", "\"0123456789abcdef\"", profile_change_apply, &c,
                                    &ended, err, sizeof err),
                 MAPI_E_OBJECT_CHANGED);
    cr_expect_eq(profile_admin_edit(A, "q", "W/\"0123\", \"ffff\"", profile_change_apply, &c,
                                    &ended, err, sizeof err),
                 MAPI_E_OBJECT_CHANGED);
    snprintf(quoted, sizeof quoted, "\"%s\"", version);
    cr_expect_eq(profile_admin_edit(A, "q", quoted, profile_change_apply, &c, &ended, err,
                                    sizeof err),
                 S_OK, "%s", err);
    cr_expect_eq(profile_admin_edit(A, "q", quoted, profile_change_apply, &c, &ended, err,
                                    sizeof err),
                 MAPI_E_OBJECT_CHANGED, "the version moved with the default");
    char *before = NULL;
    size_t blen = 0;
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert(getdelim(&before, &blen, '\0', f) > 0);
    fclose(f);
    json_t *svc = json_loads("{\"name\":\"X\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\","
                             "\"kind\":\"nope\",\"display_name\":\"X\"}]}",
                             0, NULL);
    profile_change bad = {.op = SERVICE_CHANGE_CREATE, .name = "q", .service = svc,
                          .set_default = -1};
    cr_expect_eq(profile_admin_edit(A, "q", "*", profile_change_apply, &bad, &ended, err,
                                    sizeof err),
                 MAPI_E_INVALID_PARAMETER);
    cr_expect(strstr(err, "kind") != NULL, "the loader's message: %s", err);
    json_decref(svc);
    char *after = NULL;
    size_t alen = 0;
    f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert(getdelim(&after, &alen, '\0', f) > 0);
    fclose(f);
    cr_expect_str_eq(after, before, "a refused change leaves the file as it was");
    free(before);
    free(after);
}

Test(profile_admin, the_loader_refuses_two_services_of_one_name)
{
    const char *text = "{\"profiles\":[{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":["
                       "{\"name\":\"S\",\"providers\":[]},{\"name\":\"S\",\"providers\":[]}]}]}";
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(profile_store_load_string(text, "t.json", "/tmp", &st, err, sizeof err, NULL, NULL),
                 MAPI_E_INVALID_PARAMETER);
    cr_expect(strstr(err, "services[1].name") != NULL, "%s", err);
    const char *user = "{\"profiles\":[{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":["
                       "{\"name\":\"S\",\"providers\":[{\"type\":\"MAPI_TRANSPORT_PROVIDER\","
                       "\"kind\":\"smtp\",\"display_name\":\"T\",\"user_settings\":[1]}]}]}]}";
    cr_expect_eq(profile_store_load_string(user, "t.json", "/tmp", &st, err, sizeof err, NULL, NULL),
                 MAPI_E_INVALID_PARAMETER);
    cr_expect(strstr(err, "user_settings[0]") != NULL, "%s", err);
}

Test(profile_admin, names_no_url_can_reach_are_refused)
{
    json_t *d = doc();
    char err[256];
    static const char *const BAD[] = {"a/b", "line\nbreak", "tab\there", "del\x7f"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        profile_change c = {.op = PROFILE_CHANGE_CREATE, .new_name = BAD[i], .set_default = -1};
        cr_expect_eq(profile_change_apply(&c, d, err, sizeof err), MAPI_E_INVALID_PARAMETER,
                     "create %zu", i);
        profile_change r = {.op = PROFILE_CHANGE_UPDATE, .name = "q", .new_name = BAD[i],
                            .set_default = -1};
        cr_expect_eq(profile_change_apply(&r, d, err, sizeof err), MAPI_E_INVALID_PARAMETER,
                     "rename %zu", i);
    }
    cr_expect_not_null(profile_admin_find(d, "q"), "a refused rename left q alone");
    profile_change ok = {.op = PROFILE_CHANGE_CREATE, .new_name = "bob smith@example.org",
                         .set_default = -1};
    cr_expect_eq(profile_change_apply(&ok, d, err, sizeof err), S_OK, "%s", err);
    json_decref(d);
}

Test(profile_admin, a_masked_secret_sent_back_keeps_its_value)
{
    json_t *d = json_loads(
        "{\"profiles\":[{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"Mail\","
        "\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"imap\",\"display_name\":\"I\","
        "\"settings\":{\"url\":\"imap://127.0.0.1:1\",\"password\":\"s3cret\"}}]}]}]}",
        0, NULL);
    cr_assert_not_null(d);
    char err[256];
    json_t *patches = json_loads("[{\"settings\":{\"password\":\"" PROFILE_SECRET_SHOWN "\"}}]", 0,
                                 NULL);
    profile_change c = {.op = SERVICE_CHANGE_UPDATE, .name = "p", .service_uid = mail_uid(),
                        .patches = patches, .user_only = true, .set_default = -1};
    cr_assert_eq(profile_change_apply(&c, d, err, sizeof err), S_OK, "%s", err);
    json_t *settings = json_object_get(
        json_array_get(json_object_get(profile_entry_service(profile_admin_find(d, "p"), mail_uid()),
                                       "providers"),
                       0),
        "settings");
    cr_expect_str_eq(json_string_value(json_object_get(settings, "password")), "s3cret");
    json_decref(patches);
    json_decref(d);
}

/* A file over DOC_CACHE_MAX (4 MiB) is parsed per call and its document is
 * taken, not copied, for a write: the same answers as a small file's, and
 * an edit by hand between two calls is seen. */
Test(profile_admin, a_large_file_is_read_and_written_alike, .init = setup, .fini = teardown)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"default_profile\":\"p\",\"profiles\":[", f);
    fputs("{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":[]}", f);
    for (int i = 0; i < 40000; i++) /* 40,000 entries of about 120 bytes */
        fprintf(f, ",{\"name\":\"%056d\",\"auth\":{\"type\":\"none\"},\"services\":[]}", i);
    fputs("]}", f);
    long size = ftell(f);
    fclose(f);
    cr_assert_gt(size, 4L << 20, "the file must be past the cache limit: %ld", size);
    char err[512] = "", v1[PROFILE_VERSION_LEN + 1], v2[PROFILE_VERSION_LEN + 1];
    json_t *entry;
    bool def;
    cr_assert_eq(profile_admin_get(A, "p", &entry, &def, v1, err, sizeof err), S_OK, "%s", err);
    cr_expect(def);
    json_decref(entry);
    size_t ended;
    profile_change c = {.op = PROFILE_CHANGE_UPDATE, .name = "p", .new_name = "p2",
                        .set_default = -1};
    cr_assert_eq(profile_admin_edit(A, "p", v1, profile_change_apply, &c, &ended, err, sizeof err),
                 S_OK, "%s", err);
    cr_expect_eq(profile_admin_get(A, "p", &entry, &def, v2, err, sizeof err), MAPI_E_NOT_FOUND);
    cr_assert_eq(profile_admin_get(A, "p2", &entry, &def, v2, err, sizeof err), S_OK, "%s", err);
    cr_expect(def, "the default followed the rename");
    json_decref(entry);
    profile_store *st = core_profiles(C);
    cr_expect_not_null(profile_store_find(st, "p2"), "the core has the written store");
    cr_expect_eq(profile_store_count(st), 40001);
    profile_store_unref(st);
    /* A refused write (stale version) leaves the next call a whole file. */
    cr_expect_eq(profile_admin_edit(A, "p2", v1, profile_change_apply, &c, &ended, err,
                                    sizeof err),
                 MAPI_E_OBJECT_CHANGED);
    cr_expect_eq(profile_admin_get(A, "p2", &entry, &def, v1, err, sizeof err), S_OK, "%s", err);
    cr_expect_str_eq(v1, v2);
    json_decref(entry);
    /* A change refused after the document was taken (a name in use). */
    char taken[64];
    snprintf(taken, sizeof taken, "%056d", 7);
    profile_change clash = {.op = PROFILE_CHANGE_UPDATE, .name = "p2", .new_name = taken,
                            .set_default = -1};
    cr_expect_eq(profile_admin_edit(A, "p2", NULL, profile_change_apply, &clash, &ended, err,
                                    sizeof err),
                 MAPI_E_COLLISION);
    cr_expect_eq(profile_admin_get(A, "p2", &entry, &def, v1, err, sizeof err), S_OK, "%s", err);
    cr_expect_str_eq(v1, v2, "the refused change reached the file");
    json_decref(entry);
}
