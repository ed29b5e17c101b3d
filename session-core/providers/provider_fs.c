/* provider_fs.c - the provider kinds' shared file-system helpers (see
 * provider_fs.h).
 */
#include "provider_fs.h"

#include "../mapi_flags.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void pfs_set_status(provider_status *st, uint32_t code, const char *fmt, ...)
{
    va_list ap;
    st->status_code = code;
    va_start(ap, fmt);
    vsnprintf(st->status_string, sizeof st->status_string, fmt, ap);
    va_end(ap);
}

/* strerror is not thread-safe and sessions run concurrently: use the GNU
 * strerror_r (the Makefile defines _GNU_SOURCE), which returns the text. */
const char *pfs_errtext(int err, char *buf, size_t len) { return strerror_r(err, buf, len); }

char *pfs_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + 1 + lb + 1);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

int pfs_mkdir_p(const char *path, mode_t mode)
{
    char *copy = strdup(path);
    if (!copy)
        return ENOMEM;
    int rc = 0;
    /* Start after a leading '/' so the root itself is never created. */
    for (char *p = copy + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (p[-1] != '/' && mkdir(copy, mode) != 0 && errno != EEXIST) {
            rc = errno;
            break;
        }
        if (end)
            break;
        *p = '/';
    }
    free(copy);
    return rc;
}

int pfs_mkdir_parent(const char *path, mode_t mode)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return ENOMEM;
    int rc = pfs_mkdir_p(dir, mode);
    free(dir);
    return rc;
}

bool pfs_check_folder(const char *dir, const char *shown, unsigned flags, provider_status *st)
{
    char eb[128];
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOTDIR && (flags & PFS_FOLDER_SAY_NOTDIR))
            pfs_set_status(st, STATUS_FAILURE, "folder missing: %s (a parent is not a folder)",
                           shown);
        else if (errno == ENOENT || errno == ENOTDIR)
            pfs_set_status(st, STATUS_FAILURE, "folder missing: %s", shown);
        else
            pfs_set_status(st, STATUS_FAILURE, "cannot check folder %s: %s", shown,
                           pfs_errtext(errno, eb, sizeof eb));
        return false;
    }
    if (!S_ISDIR(sb.st_mode)) {
        pfs_set_status(st, STATUS_FAILURE, "not a folder: %s", shown);
        return false;
    }
    if (access(dir, R_OK | X_OK) != 0) {
        pfs_set_status(st, STATUS_FAILURE, "folder not readable: %s", shown);
        return false;
    }
    if ((flags & PFS_FOLDER_WRITABLE) && access(dir, W_OK) != 0) {
        pfs_set_status(st, STATUS_FAILURE, "folder not writable: %s", shown);
        return false;
    }
    return true;
}

char *pfs_shown_path(const provider_config *cfg, const char *key)
{
    const char *raw = provider_config_setting(cfg, key);
    if (!raw)
        return NULL;
    if (raw[0] != '/')
        return strdup(raw);
    /* The last component, trailing slashes ignored. */
    size_t end = strlen(raw);
    while (end > 1 && raw[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && raw[start - 1] != '/')
        start--;
    size_t n = end - start;
    char *out = malloc(4 + n + 1);
    if (!out)
        return NULL;
    memcpy(out, ".../", 4);
    memcpy(out + 4, raw + start, n);
    out[4 + n] = '\0';
    return out;
}

int pfs_sweep_stale(const char *dir, time_t older_than, size_t *removed)
{
    *removed = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return e;
    }
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
            sb.st_mtime < older_than && sb.st_atime < older_than && unlinkat(fd, e->d_name, 0) == 0)
            (*removed)++;
        errno = 0; /* only readdir's errno is an error */
    }
    int err = errno;
    closedir(d); /* closes fd */
    return err;
}

long pfs_count_entries(const char *dir, bool (*counts)(int dirfd, const char *name))
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (counts(dirfd(d), e->d_name))
            n++;
        errno = 0; /* counts may stat: only readdir's errno is an error */
    }
    int err = errno;
    closedir(d);
    if (err) {
        errno = err;
        return -1;
    }
    return n;
}

int pfs_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

HRESULT pfs_check_create_setting(const provider_config *cfg, char *err, size_t errlen)
{
    const char *create = provider_config_setting(cfg, "create");
    if (create && strcmp(create, "true") != 0 && strcmp(create, "false") != 0) {
        snprintf(err, errlen, "settings.create: must be true or false, not \"%s\"", create);
        return MAPI_E_INVALID_PARAMETER;
    }
    return S_OK;
}

bool pfs_create_requested(const provider_config *cfg)
{
    const char *create = provider_config_setting(cfg, "create");
    return create && strcmp(create, "true") == 0;
}

void pfs_say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}
