/* provider_spool.c - the "spool" transport provider.
 *
 * An outbound queue folder holding one regular file per message. FlushQueues
 * (upload) delivers each one into a local Maildir with the Maildir protocol:
 * write deliver_to/tmp/<unique>, fsync, rename to deliver_to/new/<unique>, and
 * only then remove the queued file. Every failure leaves the message queued, so
 * a message is never lost; the worst a crash can do is deliver it twice.
 *
 * Concurrency: sessions of one profile each log on their own instance over the
 * same folders, so two flushes may run at once. Each queued file is taken
 * under flock(LOCK_EX|LOCK_NB) and re-checked (still linked) before delivery,
 * so no message is delivered by both.
 *
 * Settings: path (the queue folder), deliver_to (the Maildir), create ("true":
 * create the queue folder and deliver_to/{cur,new,tmp} at logon, mode 0700).
 */
#include "mapi_flags.h"
#include "provider.h"
#include "provider_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_DIR_MODE 0700
#define SPOOL_FILE_MODE 0600
/* Attempts at a fresh unique name before giving up (each bumps the counter,
 * so a clash needs another writer using our pid: practically never). */
#define UNIQUE_ATTEMPTS 100

typedef struct {
    char *queue;      /* the queue folder */
    char *deliver_to; /* the Maildir */
    char *dcur, *dnew, *dtmp;
    char create_error[PROVIDER_STATUS_STRING_MAX]; /* why create failed, "" if it did not */
    provider_status st;
} spool_state;

/* What delivering one queued file came to. */
typedef enum { DELIVER_OK, DELIVER_SKIPPED, DELIVER_FAILED, DELIVER_NOMEM } deliver_result;

/* snprintf into a reason buffer. Long paths truncate the reason on purpose
 * (a status string has a fixed size); going through vsnprintf says so to the
 * compiler's truncation check. */
static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* A queued message: a regular file whose name does not start with a dot. */
static bool is_message(int dirfd_, const char *name)
{
    struct stat sb;
    return name[0] != '.' && fstatat(dirfd_, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(sb.st_mode);
}

/* The number of queued messages, or -1 with errno. */
static long count_queue(const char *queue) { return pfs_count_entries(queue, is_message); }

/* Re-checks the folders and the queue length into s->st; true when usable. */
static bool spool_refresh(spool_state *s)
{
    char eb[128];
    if (!pfs_check_folder(s->queue, PFS_FOLDER_WRITABLE, &s->st) ||
        !pfs_check_folder(s->dcur, 0, &s->st) ||
        !pfs_check_folder(s->dnew, PFS_FOLDER_WRITABLE, &s->st) ||
        !pfs_check_folder(s->dtmp, PFS_FOLDER_WRITABLE, &s->st)) {
        /* A failed create at logon explains a missing folder better. */
        if (s->create_error[0])
            pfs_set_status(&s->st, STATUS_FAILURE, "%s", s->create_error);
        return false;
    }
    long n = count_queue(s->queue);
    if (n < 0) {
        pfs_set_status(&s->st, STATUS_FAILURE, "folder not readable: %s: %s", s->queue,
                       pfs_errtext(errno, eb, sizeof eb));
        return false;
    }
    pfs_set_status(&s->st, STATUS_AVAILABLE | STATUS_OUTBOUND_ENABLED, "%ld message%s queued", n,
                   n == 1 ? "" : "s");
    return true;
}

static void spool_free(spool_state *s)
{
    if (!s)
        return;
    free(s->queue);
    free(s->deliver_to);
    free(s->dcur);
    free(s->dnew);
    free(s->dtmp);
    free(s);
}

static void spool_create(spool_state *s)
{
    char eb[128];
    const char *dirs[] = {s->queue, s->deliver_to, s->dcur, s->dnew, s->dtmp};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        int err = pfs_mkdir_p(dirs[i], SPOOL_DIR_MODE);
        if (err) {
            snprintf(s->create_error, sizeof s->create_error, "cannot create folder %s: %s",
                     dirs[i], pfs_errtext(err, eb, sizeof eb));
            return;
        }
    }
}

/* Copies everything from in to out. Returns 0 or an errno value. */
static int copy_fd(int in, int out)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        int err = pfs_write_all(out, buf, (size_t)n);
        if (err)
            return err;
    }
}

/* Creates tmp/<unique> (O_EXCL) with a name also free in new/. Returns the
 * descriptor, or -1 with errno. */
static int create_unique(int tmpfd, int newfd, char *name, size_t namelen)
{
    static atomic_ulong counter;
    for (int i = 0; i < UNIQUE_ATTEMPTS; i++) {
        snprintf(name, namelen, "%lld.%ld_%lu.mapigw", (long long)time(NULL), (long)getpid(),
                 atomic_fetch_add(&counter, 1));
        struct stat sb;
        if (fstatat(newfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
            continue; /* rename would replace a delivered message */
        int fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, SPOOL_FILE_MODE);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* Delivers the queued file name (in the folder qfd) through tmpfd/newfd. On
 * DELIVER_FAILED writes the reason into why; the message stays queued. */
static deliver_result deliver_one(const spool_state *s, int qfd, int tmpfd, int newfd,
                                  const char *name, char *why, size_t whylen)
{
    char eb[128];
    char uniq[96];
    int in = openat(qfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        int e = errno;
        if (e == ENOENT)
            return DELIVER_SKIPPED; /* gone: another instance delivered it */
        say(why, whylen, "cannot open %s/%s: %s", s->queue, name, pfs_errtext(e, eb, sizeof eb));
        return e == ENOMEM ? DELIVER_NOMEM : DELIVER_FAILED;
    }
    /* Another instance delivering it holds the lock; once it is done the file
     * is unlinked (st_nlink 0). Either way it is not ours to deliver. */
    struct stat sb;
    if (flock(in, LOCK_EX | LOCK_NB) != 0 || fstat(in, &sb) != 0 || sb.st_nlink == 0 ||
        !S_ISREG(sb.st_mode)) {
        close(in);
        return DELIVER_SKIPPED;
    }
    deliver_result r = DELIVER_FAILED;
    int out = create_unique(tmpfd, newfd, uniq, sizeof uniq);
    if (out < 0) {
        int e = errno;
        r = e == ENOMEM ? DELIVER_NOMEM : DELIVER_FAILED;
        say(why, whylen, "cannot create a file in %s: %s", s->dtmp, pfs_errtext(e, eb, sizeof eb));
        goto out;
    }
    int err = copy_fd(in, out);
    if (!err && fsync(out) != 0) /* on disk before new/ can show it */
        err = errno;
    if (close(out) != 0 && !err)
        err = errno;
    if (err) {
        say(why, whylen, "cannot copy %s/%s to %s/%s: %s", s->queue, name, s->dtmp, uniq,
            pfs_errtext(err, eb, sizeof eb));
        unlinkat(tmpfd, uniq, 0);
        goto out;
    }
    if (renameat(tmpfd, uniq, newfd, uniq) != 0) {
        say(why, whylen, "cannot move %s/%s to %s: %s", s->dtmp, uniq, s->dnew,
            pfs_errtext(errno, eb, sizeof eb));
        unlinkat(tmpfd, uniq, 0);
        goto out;
    }
    /* The rename must be durable before the queued copy goes. File systems
     * that cannot sync a folder say EINVAL: nothing more to be had there. */
    if (fsync(newfd) != 0 && errno != EINVAL) {
        say(why, whylen, "cannot sync %s: %s", s->dnew, pfs_errtext(errno, eb, sizeof eb));
        unlinkat(newfd, uniq, 0); /* still queued: deliver it once, later */
        goto out;
    }
    if (unlinkat(qfd, name, 0) != 0) {
        say(why, whylen, "cannot remove %s/%s: %s", s->queue, name,
            pfs_errtext(errno, eb, sizeof eb));
        /* Take the delivery back so the next flush does not deliver it twice. */
        unlinkat(newfd, uniq, 0);
        goto out;
    }
    r = DELIVER_OK;
out:
    close(in); /* releases the lock */
    return r;
}

/* Delivers every queued message. S_OK when all went, otherwise the status
 * says why and the result is MAPI_E_CALL_FAILED or MAPI_E_NOT_ENOUGH_MEMORY. */
static HRESULT deliver_all(spool_state *s, char *why, size_t whylen)
{
    char eb[128];
    int tmpfd = open(s->dtmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int newfd = open(s->dnew, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *q = opendir(s->queue);
    HRESULT hr = S_OK;
    if (tmpfd < 0 || newfd < 0 || !q) {
        hr = errno == ENOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_CALL_FAILED;
        say(why, whylen, "cannot open %s: %s",
            tmpfd < 0   ? s->dtmp
            : newfd < 0 ? s->dnew
                        : s->queue,
            pfs_errtext(errno, eb, sizeof eb));
        goto out;
    }
    struct dirent *e;
    errno = 0;
    while ((e = readdir(q)) != NULL) {
        if (!is_message(dirfd(q), e->d_name)) {
            errno = 0;
            continue;
        }
        char one[PROVIDER_STATUS_STRING_MAX];
        deliver_result r = deliver_one(s, dirfd(q), tmpfd, newfd, e->d_name, one, sizeof one);
        if (r == DELIVER_FAILED || r == DELIVER_NOMEM) {
            /* The first reason is the one worth showing; keep going so one
             * bad message does not hold the others back. */
            if (hr == S_OK)
                say(why, whylen, "%s", one);
            hr = MAPI_E_CALL_FAILED;
            if (r == DELIVER_NOMEM) {
                hr = MAPI_E_NOT_ENOUGH_MEMORY;
                break;
            }
        }
        errno = 0;
    }
    if (errno && hr == S_OK) {
        hr = MAPI_E_CALL_FAILED;
        say(why, whylen, "cannot read %s: %s", s->queue, pfs_errtext(errno, eb, sizeof eb));
    }
out:
    if (q)
        closedir(q);
    if (tmpfd >= 0)
        close(tmpfd);
    if (newfd >= 0)
        close(newfd);
    return hr;
}

static HRESULT spool_logon(const provider_config *cfg, const provider_logon_args *args,
                           void **state)
{
    (void)args;
    *state = NULL;
    const char *queue = provider_config_path(cfg, "path");
    const char *deliver_to = provider_config_path(cfg, "deliver_to");
    if (!queue || !*queue || !deliver_to || !*deliver_to)
        return MAPI_E_UNCONFIGURED;
    spool_state *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    s->queue = strdup(queue);
    s->deliver_to = strdup(deliver_to);
    s->dcur = pfs_path_join(deliver_to, "cur");
    s->dnew = pfs_path_join(deliver_to, "new");
    s->dtmp = pfs_path_join(deliver_to, "tmp");
    if (!s->queue || !s->deliver_to || !s->dcur || !s->dnew || !s->dtmp) {
        spool_free(s);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    if (pfs_create_requested(cfg))
        spool_create(s);
    /* Broken folders still log on: the row says what is wrong. */
    spool_refresh(s);
    *state = s;
    return S_OK;
}

static void spool_logoff(void *state) { spool_free(state); }

static void spool_status(void *state, provider_status *out)
{
    const spool_state *s = state;
    *out = s->st;
}

static HRESULT spool_validate_state(void *state, uint32_t flags)
{
    (void)flags; /* local folders: no connect/disconnect or header cache */
    spool_state *s = state;
    s->create_error[0] = '\0'; /* the logon's create error is history now */
    spool_refresh(s);
    return S_OK;
}

static HRESULT spool_flush_queues(void *state, uint32_t flags)
{
    spool_state *s = state;
    /* There is no inbound queue: a download-only flush has nothing to do. */
    if ((flags & FLUSH_DOWNLOAD) && !(flags & FLUSH_UPLOAD))
        return S_OK;
    s->create_error[0] = '\0';
    if (!spool_refresh(s))
        return MAPI_E_CALL_FAILED; /* the status already says which folder */

    /* Shown while the flush runs (transient, cleared by the refresh below). */
    s->st.status_code |= STATUS_OUTBOUND_FLUSH;
    char why[PROVIDER_STATUS_STRING_MAX] = "";
    HRESULT hr = deliver_all(s, why, sizeof why);
    /* Everything went: the flush succeeded, whatever the recount finds. */
    spool_refresh(s);
    if (hr == S_OK)
        return S_OK;

    /* The count first, so a long path cannot truncate it away. */
    long n = count_queue(s->queue);
    pfs_set_status(&s->st, STATUS_FAILURE, "flush failed, %ld message%s still queued: %s", n,
                   n == 1 ? "" : "s", why);
    return hr;
}

const provider_ops PROVIDER_SPOOL = {
    .kind = "spool",
    .resource_type = MAPI_TRANSPORT_PROVIDER,
    .dll_name = "mgwspool",
    .provider_display = "mapigw",
    .resource_methods = STATUS_VALIDATE_STATE | STATUS_FLUSH_QUEUES,
    .check_config = pfs_check_create_setting,
    .logon = spool_logon,
    .logoff = spool_logoff,
    .status = spool_status,
    .validate_state = spool_validate_state,
    .flush_queues = spool_flush_queues,
};
