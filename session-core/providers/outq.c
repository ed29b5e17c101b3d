/* outq.c - the durable outbound queue (see outq.h).
 */
#include "outq.h"

#include "../analyzer.h"
#include "provider_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUTQ_FILE_MODE 0600
#define UNIQUE_ATTEMPTS 100

struct outq {
    char *dir;
    char *shown; /* dir as reasons name it */
};

outq *outq_new(const char *dir, const char *shown)
{
    outq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->dir = strdup(dir);
    q->shown = strdup(shown ? shown : "the queue folder");
    if (!q->dir || !q->shown) {
        outq_free(q);
        return NULL;
    }
    return q;
}

void outq_free(outq *q)
{
    if (!q)
        return;
    free(q->dir);
    free(q->shown);
    free(q);
}

const char *outq_dir(const outq *q) { return q->dir; }

/* A queued message: a regular file whose name does not start with a dot. */
static bool is_message(int dfd, const char *name, struct stat *sb)
{
    return name[0] != '.' && fstatat(dfd, name, sb, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(sb->st_mode);
}

typedef struct {
    char *name;
    struct timespec mtime;
} entry;

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void entries_free(entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}

/* Reads the folder into a sorted array. 0 or an errno value. */
static int read_entries(const char *dir, entry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno;
    entry *e = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (!is_message(dirfd(d), de->d_name, &sb)) {
            errno = 0; /* only readdir's errno is an error */
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            entry *ne = realloc(e, ncap * sizeof *ne);
            if (!ne) {
                err = ENOMEM;
                break;
            }
            e = ne;
            cap = ncap;
        }
        /* e owns the copy (entries_free frees it): the analyzer reports the
         * previous turn's copy as leaked here; see analyzer.h. */
        ANALYZER_STORE_FP_BEGIN
        if (!(e[n].name = strdup(de->d_name))) {
            err = ENOMEM;
            break;
        }
        ANALYZER_STORE_FP_END
        e[n++].mtime = sb.st_mtim;
        errno = 0;
    }
    if (!err && errno)
        err = errno;
    closedir(d);
    if (err) {
        entries_free(e, n);
        return err;
    }
    if (n > 1)
        qsort(e, n, sizeof *e, entry_cmp);
    *out = e;
    *count = n;
    return 0;
}

long outq_count(const outq *q)
{
    entry *e;
    size_t n;
    int err = read_entries(q->dir, &e, &n);
    if (err) {
        errno = err;
        return -1;
    }
    entries_free(e, n);
    return (long)n;
}

int outq_list(const outq *q, char ***names, size_t *count)
{
    *names = NULL;
    *count = 0;
    entry *e;
    size_t n;
    int err = read_entries(q->dir, &e, &n);
    if (err)
        return err;
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        entries_free(e, n);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = e[i].name; /* moved: only the array is freed below */
    free(e);
    *names = v;
    *count = n;
    return 0;
}

void outq_names_free(char **names, size_t count)
{
    if (!names)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int outq_enqueue(outq *q, const void *data, size_t len, char *name, size_t namelen)
{
    static atomic_ulong counter;
    int dfd = open(q->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno;
    char final[96], tmp[104];
    int fd = -1, err = EEXIST;
    for (int i = 0; i < UNIQUE_ATTEMPTS && fd < 0; i++) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        /* Zero-padded time first: names sort in enqueue order too. */
        snprintf(final, sizeof final, "%012lld.%09ld.%ld_%lu.eml", (long long)now.tv_sec,
                 now.tv_nsec, (long)getpid(), atomic_fetch_add(&counter, 1));
        snprintf(tmp, sizeof tmp, ".tmp.%s", final);
        struct stat sb;
        if (fstatat(dfd, final, &sb, AT_SYMLINK_NOFOLLOW) == 0)
            continue; /* rename would replace a queued message */
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, OUTQ_FILE_MODE);
        if (fd < 0 && (err = errno) != EEXIST)
            break;
    }
    if (fd < 0) {
        close(dfd);
        return err;
    }
    err = pfs_write_all(fd, data, len);
    /* On disk before the name makes it a message. */
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && renameat(dfd, tmp, dfd, final) != 0)
        err = errno;
    /* File systems that cannot sync a folder say EINVAL: nothing more to be
     * had there; the message is queued either way. */
    if (!err && fsync(dfd) != 0 && errno != EINVAL)
        err = errno;
    if (err) {
        unlinkat(dfd, tmp, 0);
        unlinkat(dfd, final, 0);
    } else if (name && namelen) {
        snprintf(name, namelen, "%s", final);
    }
    close(dfd);
    return err;
}

/* Keeps the first reason; a later out-of-memory still wins the result. */
static void note_failure(outq_report *rep, HRESULT hr, const char *why)
{
    if (rep->hr == S_OK)
        pfs_say(rep->why, sizeof rep->why, "%s", why);
    if (rep->hr == S_OK || hr == MAPI_E_NOT_ENOUGH_MEMORY)
        rep->hr = hr;
    rep->failed++;
}

typedef enum { ONE_DONE, ONE_SKIPPED, ONE_FAILED, ONE_STOP } one_result;

static one_result deliver_one(outq *q, int dfd, const char *name, const outq_sink *sink,
                              outq_report *rep)
{
    char eb[128], why[OUTQ_WHY_MAX] = "";
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return ONE_SKIPPED; /* gone: another flush delivered it */
        pfs_say(why, sizeof why, "cannot open %s/%s: %s", q->shown, name,
                pfs_errtext(e, eb, sizeof eb));
        note_failure(rep, e == ENOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_CALL_FAILED, why);
        return e == ENOMEM ? ONE_STOP : ONE_FAILED;
    }
    /* Another flush delivering it holds the lock; once it is done the file is
     * unlinked (st_nlink 0). Either way it is not ours to deliver. */
    struct stat sb;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &sb) != 0 || sb.st_nlink == 0 ||
        !S_ISREG(sb.st_mode)) {
        close(fd);
        return ONE_SKIPPED;
    }
    outq_msg m = {name, fd};
    bool stop = false;
    one_result r = ONE_DONE;
    HRESULT hr = sink->deliver(sink->ctx, &m, why, sizeof why, &stop);
    if (HR_FAILED(hr)) {
        note_failure(rep, hr, why[0] ? why : "delivery failed");
        r = stop ? ONE_STOP : ONE_FAILED;
    } else if (unlinkat(dfd, name, 0) != 0) {
        pfs_say(why, sizeof why, "cannot remove %s/%s: %s", q->shown, name,
                pfs_errtext(errno, eb, sizeof eb));
        if (sink->undo)
            sink->undo(sink->ctx, &m);
        note_failure(rep, MAPI_E_CALL_FAILED, why);
        r = ONE_FAILED;
    } else {
        rep->delivered++;
    }
    close(fd); /* releases the lock */
    return r;
}

HRESULT outq_deliver_all(outq *q, const outq_sink *sink, outq_report *rep)
{
    char eb[128], why[OUTQ_WHY_MAX];
    memset(rep, 0, sizeof *rep);
    rep->hr = S_OK;
    int dfd = open(q->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    entry *e = NULL;
    size_t n = 0;
    int err = dfd < 0 ? errno : read_entries(q->dir, &e, &n);
    if (err) {
        pfs_say(why, sizeof why, "cannot read %s: %s", q->shown, pfs_errtext(err, eb, sizeof eb));
        note_failure(rep, err == ENOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_CALL_FAILED, why);
        rep->failed = 0; /* no message failed: the folder did */
    }
    for (size_t i = 0; i < n; i++) {
        one_result r = deliver_one(q, dfd, e[i].name, sink, rep);
        if (r == ONE_SKIPPED)
            rep->skipped++;
        if (r == ONE_STOP) {
            /* The rest were not tried: still queued all the same. */
            rep->failed += n - i - 1;
            break;
        }
    }
    entries_free(e, n);
    if (dfd >= 0)
        close(dfd);
    return rep->hr;
}
