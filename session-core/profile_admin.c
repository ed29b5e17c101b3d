/* profile_admin.c - reads, versions and durable writes of the profiles file
 * (profile_admin.h). */
#include "profile_admin.h"

#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Profiles files are trusted input of the operator, but not unbounded. */
#define PROFILES_FILE_MAX ((size_t)256 << 20)
/* The parsed document of a file up to this size stays in memory between
 * calls. A larger one (an organisation's 50,000 profiles: 31 MB of text,
 * several times that parsed) is read again by each call instead: a second
 * per administration call rather than the memory the store saves. */
#define DOC_CACHE_MAX ((off_t)4 << 20)

struct profile_admin {
    core *core;
    char *path, *dir, *base_dir;
    profile_admin_config cfg;
    pthread_mutex_t lock;
    /* The document as last read or written, and the file it came from:
     * reused while the file is the same (a 50,000-profile file takes a
     * second to parse). Guarded by lock. */
    json_t *doc;
    struct stat seen;
    /* The file as last installed or tried (profile_admin_changed). Guarded
     * by lock. */
    struct stat tried;
};

/* Text from json_dumps goes back through jansson's own allocator (the
 * server installs a wiping one: server/secmem.h). */
static void json_text_release(char *text)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    if (text)
        f(text);
}

static char *dup_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

HRESULT profile_admin_new(core *c, const profile_admin_config *cfg, profile_admin **out)
{
    *out = NULL;
    profile_admin *a = calloc(1, sizeof *a);
    if (!a)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    a->core = c;
    a->cfg = *cfg;
    a->path = strdup(cfg->path);
    a->dir = dup_dir(cfg->path);
    a->base_dir = cfg->base_dir ? strdup(cfg->base_dir) : NULL;
    if (!a->path || !a->dir || (cfg->base_dir && !a->base_dir) ||
        pthread_mutex_init(&a->lock, NULL) != 0) {
        free(a->path);
        free(a->dir);
        free(a->base_dir);
        free(a);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    a->cfg.path = a->path;
    a->cfg.base_dir = a->base_dir;
    (void)stat(a->path, &a->tried); /* the file the server loaded at start */
    *out = a;
    return S_OK;
}

void profile_admin_free(profile_admin *a)
{
    if (!a)
        return;
    json_decref(a->doc);
    pthread_mutex_destroy(&a->lock);
    free(a->path);
    free(a->dir);
    free(a->base_dir);
    free(a);
}

static bool same_file(const struct stat *x, const struct stat *y)
{
    return x->st_dev == y->st_dev && x->st_ino == y->st_ino && x->st_size == y->st_size &&
           x->st_mtim.tv_sec == y->st_mtim.tv_sec && x->st_mtim.tv_nsec == y->st_mtim.tv_nsec;
}

/* The file's text (malloc'd, NUL-terminated) and its stat; NULL with err. */
static char *read_text(profile_admin *a, size_t *len, struct stat *st, char *err, size_t errlen)
{
    int fd = open(a->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", a->path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || (size_t)st->st_size > PROFILES_FILE_MAX) {
        snprintf(err, errlen, "%s: not a regular file of at most 256 MiB", a->path);
        goto done;
    }
    size_t want = (size_t)st->st_size, got = 0;
    text = malloc(want + 1);
    if (!text) {
        snprintf(err, errlen, "%s: out of memory", a->path);
        goto done;
    }
    while (got < want) {
        ssize_t n = read(fd, text + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: cannot read: %s", a->path,
                     n < 0 ? strerror(errno) : "the file shrank");
            free(text);
            text = NULL;
            goto done;
        }
        got += (size_t)n;
    }
    text[got] = '\0';
    *len = got;
done:
    close(fd);
    return text;
}

static bool is_large(const profile_admin *a) { return a->seen.st_size > DOC_CACHE_MAX; }

/* Drops a large file's document at the end of a call (DOC_CACHE_MAX), and
 * gives the memory its parse took back to the system (tens of megabytes of
 * small blocks that malloc would otherwise keep). */
static void release_if_large(profile_admin *a)
{
    if (a->doc && is_large(a)) {
        json_decref(a->doc);
        a->doc = NULL;
    }
#ifdef __GLIBC__
    if (is_large(a))
        malloc_trim(0);
#endif
}

/* The cached document, brought up to the file on disk. Under lock. */
static HRESULT current_doc(profile_admin *a, char *err, size_t errlen)
{
    struct stat st;
    if (a->doc && stat(a->path, &st) == 0 && same_file(&st, &a->seen))
        return S_OK;
    size_t len = 0;
    char *text = read_text(a, &len, &st, err, errlen);
    if (!text)
        return MAPI_E_DISK_ERROR;
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!json_is_object(doc)) {
        if (doc)
            snprintf(err, errlen, "%s: the top level must be an object", a->path);
        else
            snprintf(err, errlen, "%s:%d:%d: %s", a->path, je.line, je.column, je.text);
        json_decref(doc);
        return MAPI_E_INVALID_PARAMETER;
    }
    json_decref(a->doc);
    a->doc = doc;
    a->seen = st;
    return S_OK;
}

HRESULT profile_admin_get(profile_admin *a, const char *name, json_t **entry, bool *is_default,
                          char version[PROFILE_VERSION_LEN + 1], char *err, size_t errlen)
{
    *entry = NULL;
    *is_default = false;
    pthread_mutex_lock(&a->lock);
    HRESULT hr = current_doc(a, err, errlen);
    json_t *found = hr == S_OK ? profile_admin_find(a->doc, name) : NULL;
    if (hr == S_OK && !found) {
        snprintf(err, errlen, "no profile \"%s\"", name);
        hr = MAPI_E_NOT_FOUND;
    }
    if (found) {
        *is_default = profile_admin_is_default(a->doc, name);
        profile_admin_version(found, *is_default, version);
        if (!(*entry = json_deep_copy(found)))
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
    }
    release_if_large(a);
    pthread_mutex_unlock(&a->lock);
    return hr;
}

json_t *profile_admin_find(json_t *doc, const char *name)
{
    json_t *list = json_object_get(doc, "profiles");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

bool profile_admin_is_default(json_t *doc, const char *name)
{
    const char *d = json_string_value(json_object_get(doc, "default_profile"));
    return d && strcmp(d, name) == 0;
}

void profile_admin_version(json_t *entry, bool is_default, char out[PROFILE_VERSION_LEN + 1])
{
    /* Keys sorted: the version names the content, not the file's layout. */
    char *text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
    uint8_t h[PROFILE_VERSION_LEN / 2];
    crypto_generichash_state gs;
    crypto_generichash_init(&gs, NULL, 0, sizeof h);
    if (text)
        crypto_generichash_update(&gs, (const uint8_t *)text, strlen(text));
    crypto_generichash_update(&gs, (const uint8_t *)(is_default ? "\1" : "\0"), 1);
    crypto_generichash_final(&gs, h, sizeof h);
    json_text_release(text);
    sodium_bin2hex(out, PROFILE_VERSION_LEN + 1, h, sizeof h);
}

/* Whether if_match names the current version of name (see the header). */
static HRESULT check_if_match(json_t *doc, const char *name, const char *if_match, char *err,
                              size_t errlen)
{
    json_t *entry = profile_admin_find(doc, name);
    if (!entry) {
        snprintf(err, errlen, "no profile \"%s\"", name);
        return MAPI_E_NOT_FOUND;
    }
    if (!if_match)
        return S_OK;
    /* Several values may be listed (RFC 9110 13.1.1): any one may match. */
    char version[PROFILE_VERSION_LEN + 1];
    profile_admin_version(entry, profile_admin_is_default(doc, name), version);
    for (const char *p = if_match; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        if (*p == '*')
            return S_OK;
        const char *v = p;
        if (v[0] == 'W' && v[1] == '/')
            v += 2; /* weak comparison is not allowed for If-Match: no match */
        const char *q = v + (*v == '"');
        size_t n = strcspn(q, "\", \t");
        if (v == p && n == PROFILE_VERSION_LEN && strncmp(q, version, n) == 0)
            return S_OK;
        p = q + n;
        if (*p == '"')
            p++;
        while (*p && *p != ',')
            p++;
    }
    snprintf(err, errlen, "profile \"%s\" changed: its version is now \"%s\"", name, version);
    return MAPI_E_OBJECT_CHANGED;
}

static bool write_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t n = write(fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        s += n;
        len -= (size_t)n;
    }
    return true;
}

static HRESULT replace_file(const char *path, const char *dir, const char *text, size_t len,
                            char *err, size_t errlen);

/* text over the profiles file. */
static HRESULT write_durably(profile_admin *a, const char *text, size_t len, char *err,
                             size_t errlen)
{
    /* Through a symbolic link (a file kept elsewhere, a mounted secret):
     * the file it names is replaced, in its own folder, and the link stays. */
    char *target = realpath(a->path, NULL);
    char *tdir = target ? dup_dir(target) : NULL;
    const char *file = target && tdir ? target : a->path;
    const char *dir = target && tdir ? tdir : a->dir;
    HRESULT hr = replace_file(file, dir, text, len, err, errlen);
    free(target);
    free(tdir);
    return hr;
}

/* text over file (in folder dir): temporary file, fsync, rename, folder fsync. */
static HRESULT replace_file(const char *path, const char *dir, const char *text, size_t len,
                            char *err, size_t errlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t tlen = strlen(dir) + strlen(base) + 16;
    char *tmp = malloc(tlen);
    if (!tmp)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    snprintf(tmp, tlen, "%s/.%s.XXXXXX", dir, base);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot write the profiles file's folder: %s", path,
                 strerror(errno));
        free(tmp);
        return MAPI_E_DISK_ERROR;
    }
    struct stat st;
    bool ok = true;
    const char *step = "write";
    if (stat(path, &st) == 0 && fchmod(fd, st.st_mode & 07777) != 0)
        ok = false, step = "chmod";
    if (ok && !write_all(fd, text, len))
        ok = false, step = "write";
    if (ok && fsync(fd) != 0)
        ok = false, step = "fsync";
    int saved = errno;
    if (close(fd) != 0 && ok)
        ok = false, step = "close", saved = errno;
    if (ok && rename(tmp, path) != 0)
        ok = false, step = "rename", saved = errno;
    if (!ok) {
        unlink(tmp);
        snprintf(err, errlen, "%s: cannot %s the new profiles file: %s", path, step,
                 strerror(saved));
        free(tmp);
        return MAPI_E_DISK_ERROR;
    }
    free(tmp);
    /* The rename is durable once the folder is: until then a crash could
     * bring the old file back, which is allowed; the answer waits for it. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return S_OK;
}

/* Loads text and asks the guard; the store (a new reference) or NULL. */
static profile_store *load_checked(profile_admin *a, const char *text, HRESULT *hr, char *err,
                                   size_t errlen)
{
    profile_store *st = NULL;
    *hr = profile_store_load_string(text, a->path, a->base_dir ? a->base_dir : a->dir, &st, err,
                                    errlen, a->cfg.warn, a->cfg.ctx);
    if (HR_FAILED(*hr))
        return NULL;
    if (a->cfg.accept && !a->cfg.accept(a->cfg.ctx, st, err, errlen)) {
        profile_store_unref(st);
        *hr = MAPI_E_NO_ACCESS;
        return NULL;
    }
    return st;
}

HRESULT profile_admin_edit(profile_admin *a, const char *name, const char *if_match,
                           profile_admin_edit_fn edit, void *ctx, size_t *ended, char *err,
                           size_t errlen)
{
    *ended = 0;
    err[0] = '\0';
    pthread_mutex_lock(&a->lock);
    json_t *doc = NULL;
    char *text = NULL;
    HRESULT hr = current_doc(a, err, errlen);
    if (hr == S_OK && name)
        hr = check_if_match(a->doc, name, if_match, err, errlen);
    /* The edit needs a private copy; a large file's document is not kept
     * anyway, so it is taken rather than copied. */
    if (hr == S_OK && is_large(a)) {
        doc = a->doc;
        a->doc = NULL;
    } else if (hr == S_OK && !(doc = json_deep_copy(a->doc))) {
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    }
    if (hr == S_OK)
        hr = edit(ctx, doc, err, errlen);
    size_t len = 0;
    if (hr == S_OK) {
        char *dumped = json_dumps(doc, JSON_INDENT(2));
        len = dumped ? strlen(dumped) : 0;
        if (dumped && (text = malloc(len + 2))) {
            memcpy(text, dumped, len);
            memcpy(text + len, "\n", 2);
            len++;
        }
        json_text_release(dumped);
        if (!text)
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
    }
    profile_store *st = NULL;
    if (hr == S_OK)
        st = load_checked(a, text, &hr, err, errlen);
    if (hr == S_OK)
        hr = write_durably(a, text, len, err, errlen);
    if (hr == S_OK) {
        struct stat sb;
        json_decref(a->doc);
        a->doc = doc;
        doc = NULL;
        if (stat(a->path, &sb) == 0)
            a->seen = a->tried = sb;
        else
            memset(&a->seen, 0, sizeof a->seen); /* read again next time */
        *ended = core_replace_profiles(a->core, st);
        st = NULL;
    }
    release_if_large(a);
    pthread_mutex_unlock(&a->lock);
    profile_store_unref(st);
    json_decref(doc);
    free(text);
    return hr;
}

HRESULT profile_admin_reload(profile_admin *a, size_t *profiles, size_t *ended, char *err,
                             size_t errlen)
{
    *profiles = *ended = 0;
    pthread_mutex_lock(&a->lock);
    /* Taken before the load: a change made meanwhile is seen again. */
    if (stat(a->path, &a->tried) != 0)
        memset(&a->tried, 0, sizeof a->tried);
    profile_store *st = NULL;
    HRESULT hr = profile_store_load(a->path, a->base_dir, &st, err, errlen, a->cfg.warn,
                                    a->cfg.ctx);
    if (hr == S_OK && a->cfg.accept && !a->cfg.accept(a->cfg.ctx, st, err, errlen)) {
        profile_store_unref(st);
        st = NULL;
        hr = MAPI_E_NO_ACCESS;
    }
    if (hr == S_OK) {
        *profiles = profile_store_count(st);
        *ended = core_replace_profiles(a->core, st);
    }
    pthread_mutex_unlock(&a->lock);
    return hr;
}

bool profile_admin_changed(profile_admin *a)
{
    struct stat st;
    if (stat(a->path, &st) != 0)
        return false; /* a file being replaced by hand: wait for the new one */
    pthread_mutex_lock(&a->lock);
    bool changed = !same_file(&st, &a->tried);
    pthread_mutex_unlock(&a->lock);
    return changed;
}
