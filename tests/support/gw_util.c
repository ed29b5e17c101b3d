/* gw_util.c - filesystem, URL and string helpers of the black-box support
 * (see gw.h), and the file reading the other gw_*.c files share. */
#include "gw_private.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *gw_xstrdup(const char *s)
{
    char *d = strdup(s);
    cr_assert(d != NULL, "out of memory");
    return d;
}

char *gw_read_whole(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (len_out)
            *len_out = 0;
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    cr_assert(buf != NULL);
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(buf != NULL);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

void gw_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "cannot write %s: %s", path, strerror(errno));
    size_t n = strlen(content);
    cr_assert(fwrite(content, 1, n, f) == n, "short write to %s", path);
    cr_assert(fclose(f) == 0, "cannot close %s", path);
}

void gw_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    cr_assert(strlen(path) < sizeof buf);
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                cr_assert_fail("mkdir %s: %s", buf, strerror(errno));
            *p = '/';
        }
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        cr_assert_fail("mkdir %s: %s", buf, strerror(errno));
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int gw_rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

int gw_count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static void resolve_profiles(const char *profiles_file, char *out, size_t outsz)
{
    if (profiles_file[0] == '/') {
        cr_assert(strlen(profiles_file) < outsz);
        strcpy(out, profiles_file);
        return;
    }
    const char *dir = getenv("MAPIGW_TEST_PROFILES");
    cr_assert(dir != NULL && *dir, "MAPIGW_TEST_PROFILES is not set");
    int n = snprintf(out, outsz, "%s/%s", dir, profiles_file);
    cr_assert(n > 0 && (size_t)n < outsz);
}

void gw_copy_profiles(const char *profiles_file, const char *dest)
{
    char src[PATH_MAX];
    resolve_profiles(profiles_file, src, sizeof src);
    size_t len;
    char *content = gw_read_whole(src, &len);
    cr_assert(content != NULL, "cannot read profiles file %s", src);
    /* write to a temp name and rename, so a reload never sees half a file */
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", dest);
    gw_write_file(tmp, content);
    cr_assert(rename(tmp, dest) == 0, "rename %s: %s", tmp, strerror(errno));
    free(content);
}

char *gw_data_path(const gw *g, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof rel);
    size_t sz = strlen(g->data) + 1 + strlen(rel) + 1;
    char *p = malloc(sz);
    cr_assert(p != NULL);
    snprintf(p, sz, "%s/%s", g->data, rel);
    return p;
}

char *gw_urlencode(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    cr_assert(out != NULL);
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            sprintf(o, "%%%02X", *p);
            o += 3;
        }
    }
    *o = '\0';
    return out;
}

/* ---------------------------------------------------------------- misc */

bool gw_is_upper_hex(const char *s)
{
    if (!s || !*s || strlen(s) % 2)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'F')))
            return false;
    return true;
}

bool gw_is_rfc3339_utc(const char *s)
{
    if (!s)
        return false;
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; i < sizeof pat - 1; i++) {
        if (pat[i] == 'd') {
            if (s[i] < '0' || s[i] > '9')
                return false;
        } else if (s[i] != pat[i]) {
            return false;
        }
    }
    const char *p = s + sizeof pat - 1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return strcmp(p, "Z") == 0;
}

char *gw_hex(const void *data, size_t len)
{
    char *out = malloc(2 * len + 1);
    cr_assert(out != NULL);
    const unsigned char *d = data;
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02X", d[i]);
    out[2 * len] = '\0';
    return out;
}

static char test_files_dir[64];

const char *gw_test_file(const char *name, const char *content)
{
    static char path[4][160];
    static int next;
    if (!test_files_dir[0]) {
        snprintf(test_files_dir, sizeof test_files_dir, "/tmp/mapigw-files-XXXXXX");
        cr_assert_not_null(mkdtemp(test_files_dir), "mkdtemp: %s", strerror(errno));
    }
    char *p = path[next++ % 4];
    int n = snprintf(p, sizeof path[0], "%s/%s", test_files_dir, name);
    cr_assert(n > 0 && (size_t)n < sizeof path[0], "test file name too long: %s", name);
    gw_write_file(p, content);
    return p;
}

void gw_test_files_clean(void)
{
    if (test_files_dir[0])
        gw_rmrf(test_files_dir);
    test_files_dir[0] = '\0';
}
