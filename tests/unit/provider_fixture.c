/* provider_fixture.c - the provider suites' shared fixture (see
 * provider_fixture.h). */
#include "provider_fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

provider_fixture fx;

const uint8_t FX_UID[16] = {0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
                            0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF};

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

void fx_setup(void)
{
    strcpy(fx.root, "/tmp/mgw-prov-XXXXXX");
    cr_assert_not_null(mkdtemp(fx.root), "mkdtemp: %s", strerror(errno));
    fx.store = NULL;
    fx.ops = NULL;
    fx.state = NULL;
    memset(&fx.args, 0, sizeof fx.args);
    memcpy(fx.args.uid, FX_UID, sizeof FX_UID);
}

void fx_teardown(void)
{
    if (fx.ops && fx.state)
        fx.ops->logoff(fx.state);
    profile_store_unref(fx.store);
    nftw(fx.root, make_writable, 16, FTW_PHYS);
    nftw(fx.root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fx_path(char buf[512], const char *rel)
{
    snprintf(buf, 512, "%s/%s", fx.root, rel);
    return buf;
}

const provider_config *fx_load_provider(const char *provider_json)
{
    char json[4096];
    snprintf(json, sizeof json,
             "{\"default_profile\":\"p\",\"profiles\":[{\"name\":\"p\",\"auth\":{\"type\":"
             "\"none\"},\"services\":[{\"name\":\"s\",\"providers\":[%s]}]}]}",
             provider_json);
    char err[512] = "";
    HRESULT hr = profile_store_load_string(json, "test.json", fx.root, &fx.store, err, sizeof err,
                                           NULL, NULL);
    cr_assert_eq(hr, S_OK, "load failed: %s", err);
    const profile *p = profile_store_find(fx.store, "p");
    cr_assert_not_null(p);
    cr_assert_eq(profile_service_count(p), 1);
    const service_config *svc = profile_service(p, 0);
    cr_assert_eq(service_provider_count(svc), 1);
    const provider_config *cfg = service_provider(svc, 0);
    fx.ops = provider_kind_find(provider_config_kind(cfg));
    cr_assert_not_null(fx.ops);
    return cfg;
}

provider_status fx_status(void)
{
    provider_status st;
    memset(&st, 0, sizeof st);
    fx.ops->status(fx.state, &st);
    return st;
}

void fx_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
    cr_assert_eq(fputs(text, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
}

char *fx_read_file(const char *path)
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

bool fx_is_dir_mode(const char *path, mode_t mode)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == mode;
}

size_t fx_list_dir(const char *dir, char names[][128], size_t max)
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

bool fx_is_entry_id(const uint8_t *eid, size_t len, const void *key, size_t key_len)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    return len == 4 + 16 + key_len && memcmp(eid, zero, 4) == 0 &&
           memcmp(eid + 4, FX_UID, 16) == 0 && memcmp(eid + 20, key, key_len) == 0;
}

const mapi_prop *fx_prop(const mapi_object *o, uint32_t tag)
{
    const mapi_prop *p = mapi_object_find(o, tag);
    cr_assert_not_null(p, "property 0x%08X missing", tag);
    return p;
}

const char *fx_str(const mapi_object *o, uint32_t tag) { return fx_prop(o, tag)->v.str; }

uint32_t fx_long(const mapi_object *o, uint32_t tag) { return fx_prop(o, tag)->v.l; }

bool fx_bool(const mapi_object *o, uint32_t tag) { return fx_prop(o, tag)->v.b; }

const mapi_object *fx_row(const mapi_rows *rows, const char *display)
{
    for (size_t i = 0; i < rows->count; i++) {
        const mapi_prop *p = mapi_object_find(&rows->rows[i], PR_DISPLAY_NAME);
        if (p && strcmp(p->v.str, display) == 0)
            return &rows->rows[i];
    }
    return NULL;
}
