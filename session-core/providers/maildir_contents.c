/* maildir_contents.c - contents tables of Maildir++ folders (see
 * maildir_store.h).
 *
 * The folder's new/ and cur/ are listed first (names and lstat-like stats
 * only, nothing is opened), the candidates sorted, and only the rows that are
 * returned have their files opened (O_NOFOLLOW | O_NONBLOCK, regular files
 * only) and their headers read, each at most RFC822_HEAD_MAX bytes.
 */
#include "maildir_store.h"

#include "../analyzer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INBOX "INBOX"

/* new/ first: the order OpenEntry looks for a base name in. */
static const char *const SUBS[] = {"new", "cur"};
#define NSUBS (sizeof SUBS / sizeof SUBS[0])

typedef struct {
    char *name;      /* the file name in its sub-folder */
    size_t base_len; /* the base name: name up to ':' */
    size_t order;    /* listing order: new/ then cur/, each in directory order */
    size_t sub;      /* index into SUBS */
    time_t mtime;
    bool dup; /* a base name listed earlier: not a row */
} candidate;

typedef struct {
    candidate *v;
    size_t count, cap;
} candidates;

static void candidates_free(candidates *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->v[i].name);
    free(c->v);
    memset(c, 0, sizeof *c);
}

static HRESULT candidates_add(candidates *c, const char *name, size_t sub, time_t mtime)
{
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *c->v)
            return MAPI_E_NOT_ENOUGH_MEMORY;
        candidate *bigger = realloc(c->v, cap * sizeof *bigger);
        if (!bigger)
            return MAPI_E_NOT_ENOUGH_MEMORY;
        c->v = bigger;
        c->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    const char *colon = strchr(copy, ':');
    /* c owns copy from here (candidates_free frees it); see analyzer.h. */
    ANALYZER_STORE_FP_BEGIN
    c->v[c->count] = (candidate){.name = copy,
                                 .base_len = colon ? (size_t)(colon - copy) : strlen(copy),
                                 .order = c->count,
                                 .sub = sub,
                                 .mtime = mtime};
    c->count++;
    return S_OK;
    ANALYZER_STORE_FP_END
}

/* Compares the base names of two candidates (bytes, then length). */
static int cmp_base(const candidate *a, const candidate *b)
{
    size_t n = a->base_len < b->base_len ? a->base_len : b->base_len;
    int r = memcmp(a->name, b->name, n);
    if (r != 0)
        return r;
    return (a->base_len > b->base_len) - (a->base_len < b->base_len);
}

/* By base name, then listing order: the first of a run is what OpenEntry
 * finds. */
static int cmp_base_order(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    int r = cmp_base(a, b);
    return r != 0 ? r : (a->order > b->order) - (a->order < b->order);
}

/* Newest first, ties by base name ascending. */
static int cmp_newest(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    if (a->mtime != b->mtime)
        return a->mtime < b->mtime ? 1 : -1;
    return cmp_base(a, b);
}

/* Lists the message files of the sub-folder open as d into c. */
static HRESULT list_sub(DIR *d, size_t sub, candidates *c)
{
    /* The caller lists only after opening every sub-folder; the analyzer
     * cannot follow that across its loops, hence the explicit test. */
    if (!d)
        return MAPI_E_CALL_FAILED;
    HRESULT hr = S_OK;
    struct dirent *e;
    errno = 0;
    while (HR_SUCCEEDED(hr) && (e = readdir(d)) != NULL) {
        struct stat sb;
        /* Dot files are not messages; nor is a name with an empty base. */
        if (e->d_name[0] != '.' && e->d_name[0] != ':' &&
            fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
            hr = candidates_add(c, e->d_name, sub, sb.st_mtime);
        errno = 0;
    }
    if (HR_SUCCEEDED(hr) && errno != 0)
        hr = MAPI_E_CALL_FAILED;
    return hr;
}

/* 'M' + folder + NUL + base, malloc'd. */
static uint8_t *message_key(const char *folder, const candidate *m, size_t *len)
{
    size_t lf = strlen(folder);
    uint8_t *k = malloc(1 + lf + 1 + m->base_len);
    if (!k)
        return NULL;
    k[0] = 'M';
    memcpy(k + 1, folder, lf);
    k[1 + lf] = '\0';
    memcpy(k + 2 + lf, m->name, m->base_len);
    *len = 2 + lf + m->base_len;
    return k;
}

/* The row of candidate m of the sub-folder open as d, into *row.
 * MAPI_E_NOT_FOUND when it is no longer a readable regular file. */
static HRESULT message_row(const maildir_view *v, const char *folder, DIR *d, const candidate *m,
                           mapi_object *row)
{
    /* O_NONBLOCK: a FIFO swapped in since the listing must not hang us. */
    int fd = openat(dirfd(d), m->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return MAPI_E_NOT_FOUND;
    struct stat sb;
    HRESULT hr = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? S_OK : MAPI_E_NOT_FOUND;
    size_t key_len = 0;
    uint8_t *key = NULL;
    if (HR_SUCCEEDED(hr) && !(key = message_key(folder, m, &key_len)))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (HR_SUCCEEDED(hr)) {
        row->object_type = MAPI_MESSAGE;
        hr = maildir_add_entry_id(v, row, PR_ENTRYID, "entry_id", key, key_len);
    }
    if (HR_SUCCEEDED(hr)) {
        bool seen = strcmp(SUBS[m->sub], "cur") == 0 && maildir_name_seen(m->name);
        hr = maildir_message_props(row, fd, &sb, seen, false);
        if (hr == MAPI_E_CALL_FAILED)
            hr = MAPI_E_NOT_FOUND; /* unreadable: left out */
    }
    free(key);
    close(fd);
    return hr;
}

/* Builds the rows of places offset .. offset + max - 1 of the sorted
 * candidates (duplicates hold no place); an unreadable file keeps its place
 * but yields no row, so that pages stay where the total says. */
static HRESULT build_rows(const maildir_view *v, const char *folder, DIR *const dirs[NSUBS],
                          const candidates *c, size_t offset, size_t max, mapi_rows *out)
{
    size_t place = 0, end = offset > SIZE_MAX - max ? SIZE_MAX : offset + max;
    HRESULT hr = S_OK;
    for (size_t i = 0; i < c->count && place < end && HR_SUCCEEDED(hr); i++) {
        if (c->v[i].dup)
            continue;
        if (place++ < offset)
            continue;
        mapi_object one = {0};
        hr = message_row(v, folder, dirs[c->v[i].sub], &c->v[i], &one);
        if (hr == MAPI_E_NOT_FOUND) {
            hr = S_OK;
        } else if (HR_SUCCEEDED(hr)) {
            mapi_object *row;
            hr = mapi_rows_add(out, &row);
            if (HR_SUCCEEDED(hr)) {
                *row = one;
                memset(&one, 0, sizeof one);
            }
        }
        mapi_object_clear(&one);
    }
    return hr;
}

HRESULT maildir_store_contents(const maildir_view *v, const uint8_t *key, size_t key_len,
                               size_t offset, size_t max, mapi_rows *out, size_t *total)
{
    *total = 0;
    char *folder = NULL, *dir = NULL;
    HRESULT hr = maildir_folder_of_key(v, key, key_len, &folder, &dir);
    if (HR_FAILED(hr))
        return hr;
    DIR *dirs[NSUBS] = {NULL};
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (size_t i = 0; i < NSUBS && HR_SUCCEEDED(hr); i++) {
        /* As OpenEntry: the sub-folders of a listed folder are real ones. */
        int fd = dfd < 0 ? -1 : openat(dfd, SUBS[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        dirs[i] = fd < 0 ? NULL : fdopendir(fd);
        if (!dirs[i]) {
            if (fd >= 0)
                close(fd);
            /* A listed folder gone since: not found; a broken INBOX is a
             * store that cannot be read. */
            hr = strcmp(folder, INBOX) == 0 ? MAPI_E_CALL_FAILED : MAPI_E_NOT_FOUND;
        }
    }
    if (dfd >= 0)
        close(dfd);

    candidates c = {0};
    for (size_t i = 0; i < NSUBS && HR_SUCCEEDED(hr); i++)
        hr = list_sub(dirs[i], i, &c);
    if (HR_SUCCEEDED(hr) && c.count > 1) {
        qsort(c.v, c.count, sizeof *c.v, cmp_base_order);
        for (size_t i = 1; i < c.count; i++)
            c.v[i].dup = cmp_base(&c.v[i - 1], &c.v[i]) == 0;
        qsort(c.v, c.count, sizeof *c.v, cmp_newest);
    }
    for (size_t i = 0; i < c.count; i++)
        *total += !c.v[i].dup;
    size_t before = out->count;
    if (HR_SUCCEEDED(hr))
        hr = build_rows(v, folder, dirs, &c, offset, max, out);
    if (HR_FAILED(hr)) {
        for (size_t i = before; i < out->count; i++)
            mapi_object_clear(&out->rows[i]);
        out->count = before;
    }
    candidates_free(&c);
    for (size_t i = 0; i < NSUBS; i++)
        if (dirs[i])
            closedir(dirs[i]);
    free(folder);
    free(dir);
    return hr;
}
