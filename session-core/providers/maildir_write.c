/* maildir_write.c - what the spooler writes into a Maildir++ store
 * (provider_maildir.c's put_message / move_message / message_key): the
 * Outbox copy of a submitted message, its move to Sent Items, and the
 * non-delivery reports put into INBOX.
 *
 * A message is written with the Maildir protocol: tmp/<unique>, fsync,
 * rename to new/<unique>, fsync of new/; a folder that does not exist yet is
 * created as a Maildir++ folder (".Name" with cur/ new/ tmp/, mode 0700).
 * Names come from the spooler (fixed folder names, names this file made)
 * and are still checked: no '/', no leading '.', no NUL.
 */
#include "maildir_store.h"
#include "provider_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WRITE_DIR_MODE 0700
#define WRITE_FILE_MODE 0600
#define UNIQUE_ATTEMPTS 100

static atomic_uint write_counter;

static bool plain_name(const char *n)
{
    return n && n[0] && n[0] != '.' && !strchr(n, '/') && !strchr(n, ':') && strlen(n) < 128;
}

static bool folder_ok(const char *n)
{
    return n && n[0] && n[0] != '.' && !strchr(n, '/') && strlen(n) < 128 &&
           n[strlen(n) - 1] != '.' && !strstr(n, "..");
}

/* The folder's directory (malloc'd): the root for INBOX, else root/.name. */
static char *dir_of(const maildir_view *v, const char *folder)
{
    if (strcmp(folder, "INBOX") == 0)
        return strdup(v->root);
    size_t n = strlen(v->root) + strlen(folder) + 3;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/.%s", v->root, folder);
    return p;
}

/* Makes dir a Maildir (cur/ new/ tmp/), as far as it is not one yet. */
static int ensure_maildir(const char *dir)
{
    static const char *const SUBS[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        char *p = pfs_path_join(dir, SUBS[i]);
        if (!p)
            return ENOMEM;
        int err = pfs_mkdir_p(p, WRITE_DIR_MODE);
        free(p);
        if (err)
            return err;
    }
    return 0;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return err;
}

HRESULT maildir_store_put(const maildir_view *v, const char *folder, const char *msg, size_t len,
                          char *name, size_t namelen)
{
    if (!folder_ok(folder) || namelen < 64)
        return MAPI_E_INVALID_PARAMETER;
    char *dir = dir_of(v, folder);
    if (!dir)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    HRESULT hr = S_OK;
    char tmp[8192], fin[8192], newdir[4200];
    int err = strlen(dir) > 4000 ? ENAMETOOLONG : ensure_maildir(dir);
    if (err) {
        hr = err == ENOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_CALL_FAILED;
        goto out;
    }
    snprintf(newdir, sizeof newdir, "%s/new", dir);
    int fd = -1;
    for (int i = 0; i < UNIQUE_ATTEMPTS && fd < 0; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(name, namelen, "%lld.M%ldP%dQ%u.mapigw", (long long)ts.tv_sec, ts.tv_nsec / 1000,
                 (int)getpid(), atomic_fetch_add(&write_counter, 1));
        snprintf(tmp, sizeof tmp, "%s/tmp/%s", dir, name);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, WRITE_FILE_MODE);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        hr = MAPI_E_CALL_FAILED;
        goto out;
    }
    err = pfs_write_all(fd, msg, len);
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    snprintf(fin, sizeof fin, "%s/%s", newdir, name);
    if (!err && rename(tmp, fin) != 0)
        err = errno;
    if (err) {
        unlink(tmp);
        hr = err == ENOSPC || err == EDQUOT ? MAPI_E_NOT_ENOUGH_RESOURCES : MAPI_E_CALL_FAILED;
        goto out;
    }
    if (sync_dir(newdir) != 0)
        hr = MAPI_E_CALL_FAILED; /* written, but not known to survive a crash */
out:
    free(dir);
    return hr;
}

/* The path of message name in folder dir (new/ or cur/, any flags). */
static bool find_file(const char *dir, const char *name, char *out, size_t outlen)
{
    static const char *const SUBS[] = {"new", "cur"};
    for (size_t i = 0; i < 2; i++) {
        struct stat sb;
        snprintf(out, outlen, "%s/%s/%s", dir, SUBS[i], name);
        if (lstat(out, &sb) == 0 && S_ISREG(sb.st_mode))
            return true;
        snprintf(out, outlen, "%s/%s/%s:2,", dir, SUBS[i], name);
        if (lstat(out, &sb) == 0 && S_ISREG(sb.st_mode))
            return true;
    }
    return false;
}

HRESULT maildir_store_move(const maildir_view *v, const char *from, const char *name,
                           const char *to)
{
    if (!folder_ok(from) || !plain_name(name) || (to && !folder_ok(to)))
        return MAPI_E_INVALID_PARAMETER;
    char *src = dir_of(v, from), *dst = to ? dir_of(v, to) : NULL;
    char path[8192], target[8192];
    HRESULT hr = S_OK;
    if (!src || (to && !dst)) {
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    } else if (!find_file(src, name, path, sizeof path)) {
        hr = MAPI_E_NOT_FOUND;
    } else if (!to) {
        hr = unlink(path) == 0 ? S_OK : MAPI_E_CALL_FAILED;
    } else if (ensure_maildir(dst) != 0) {
        hr = MAPI_E_CALL_FAILED;
    } else {
        /* Sent mail is read mail: cur/ with the Seen flag. */
        snprintf(target, sizeof target, "%s/cur/%s:2,S", dst, name);
        if (rename(path, target) != 0)
            hr = MAPI_E_CALL_FAILED;
        else {
            snprintf(target, sizeof target, "%s/cur", dst);
            (void)sync_dir(target);
        }
    }
    free(src);
    free(dst);
    return hr;
}

HRESULT maildir_store_message_key(const char *folder, const char *name, uint8_t **key,
                                  size_t *key_len)
{
    size_t lf = strlen(folder), ln = strlen(name);
    uint8_t *k = malloc(1 + lf + 1 + ln);
    if (!k)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    k[0] = 'M';
    memcpy(k + 1, folder, lf);
    k[1 + lf] = '\0';
    memcpy(k + 2 + lf, name, ln);
    *key = k;
    *key_len = 2 + lf + ln;
    return S_OK;
}
