/* provider_spool.c - the "spool" transport provider.
 *
 * An outbound queue folder holding one regular file per message. FlushQueues
 * (upload) delivers each one into a local Maildir with the Maildir protocol:
 * write deliver_to/tmp/<unique>, fsync, rename to deliver_to/new/<unique>, and
 * only then remove the queued file. Every failure leaves the message queued, so
 * a message is never lost; the worst a crash can do is deliver it twice.
 *
 * The queue itself (listing, per-message locks so two flushes never deliver
 * one message both, removal only after delivery) is outq.c; this file is the
 * Maildir end of it.
 *
 * Settings: path (the queue folder), deliver_to (the Maildir), create ("true":
 * create the queue folder and deliver_to/{cur,new,tmp} at logon, mode 0700),
 * address_types (comma-separated address types it takes from the spooler,
 * e.g. "SMTP"; none when unset).
 *
 * The spooler's messages (session_submit.c: headed by X-Mapigw-* fields) are
 * delivered by the poller, without those fields and without Bcc
 * (envelope.h), and each delivery becomes an outcome for the spooler (Sent
 * Items). Files dropped into the queue by others are copied byte for byte, as
 * before.
 *
 * A delivery cut short (a crash between tmp/ and new/) leaves its copy in
 * deliver_to/tmp; such files are removed once 36 hours old (the Maildir
 * convention), at logon and hourly (provider_ops.maintain). Status strings
 * name folders as pfs_shown_path shows them, never by their server path.
 */
#include "../mapi_flags.h"
#include "envelope.h"
#include "outq.h"
#include "../provider.h"
#include "provider_fs.h"
#include "spool_outcome.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_DIR_MODE 0700
#define SPOOL_FILE_MODE 0600
/* Attempts at a fresh unique name before giving up (each bumps the counter,
 * so a clash needs another writer using our pid: practically never). */
#define UNIQUE_ATTEMPTS 100
#define SPOOL_MAX_MESSAGE (32L * 1024 * 1024)
#define SPOOL_ADDRTYPES_MAX 256

typedef struct {
    char *queue;      /* the queue folder */
    char *deliver_to; /* the Maildir */
    char *dcur, *dnew, *dtmp;
    /* The same as status strings show them (pfs_shown_path). */
    char *shown_queue, *shown_to, *shown_cur, *shown_new, *shown_tmp;
    outq *q;                                       /* over queue */
    char create_error[PROVIDER_STATUS_STRING_MAX]; /* why create failed, "" if it did not */
    char addrtypes[SPOOL_ADDRTYPES_MAX];           /* ",SMTP,X400," or "" */
    bool pending;  /* spooler messages to deliver at the next poll */
    long queued_n; /* as the last refresh counted */
    outcome_list outcomes;
    provider_status st;
} spool_state;

/* Re-checks the folders and the queue length into s->st; true when usable. */
static bool spool_refresh(spool_state *s)
{
    char eb[128];
    if (!pfs_check_folder(s->queue, s->shown_queue, PFS_FOLDER_WRITABLE, &s->st) ||
        !pfs_check_folder(s->dcur, s->shown_cur, 0, &s->st) ||
        !pfs_check_folder(s->dnew, s->shown_new, PFS_FOLDER_WRITABLE, &s->st) ||
        !pfs_check_folder(s->dtmp, s->shown_tmp, PFS_FOLDER_WRITABLE, &s->st)) {
        /* A failed create at logon explains a missing folder better. */
        if (s->create_error[0])
            pfs_set_status(&s->st, STATUS_FAILURE, "%s", s->create_error);
        return false;
    }
    long n = outq_count(s->q);
    s->queued_n = n;
    if (n < 0) {
        pfs_set_status(&s->st, STATUS_FAILURE, "folder not readable: %s: %s", s->shown_queue,
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
    outq_free(s->q);
    free(s->queue);
    free(s->deliver_to);
    free(s->dcur);
    free(s->dnew);
    free(s->dtmp);
    free(s->shown_queue);
    free(s->shown_to);
    free(s->shown_cur);
    free(s->shown_new);
    free(s->shown_tmp);
    outcome_list_clear(&s->outcomes);
    free(s);
}

static void spool_create(spool_state *s)
{
    char eb[128];
    const char *dirs[] = {s->queue, s->deliver_to, s->dcur, s->dnew, s->dtmp};
    const char *shown[] = {s->shown_queue, s->shown_to, s->shown_cur, s->shown_new, s->shown_tmp};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        int err = pfs_mkdir_p(dirs[i], SPOOL_DIR_MODE);
        if (err) {
            snprintf(s->create_error, sizeof s->create_error, "cannot create folder %s: %s",
                     shown[i], pfs_errtext(err, eb, sizeof eb));
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

/* Reads the whole queued file (bounded). 0 or an errno value. */
static int read_all(int fd, char **out, size_t *len)
{
    struct stat sb;
    *out = NULL;
    if (fstat(fd, &sb) != 0)
        return errno;
    if (sb.st_size > SPOOL_MAX_MESSAGE)
        return EFBIG;
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf)
        return ENOMEM;
    size_t n = 0;
    while (n < (size_t)sb.st_size) {
        ssize_t r = pread(fd, buf + n, (size_t)sb.st_size - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* shrank meanwhile: what is there */
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* A spooler message (X-Mapigw-* fields first): *env holds what to deliver.
 * false for any other file (copied as it is). */
static HRESULT spooler_message(int fd, envelope *env, bool *is_spooler)
{
    char head[9];
    *is_spooler = pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head &&
                  strncasecmp(head, "x-mapigw-", sizeof head) == 0;
    if (!*is_spooler)
        return S_OK;
    char *msg;
    size_t len = 0;
    int err = read_all(fd, &msg, &len);
    if (err)
        return err == ENOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_CALL_FAILED;
    char why[OUTQ_WHY_MAX];
    HRESULT hr = envelope_parse(msg, len, env, why, sizeof why);
    free(msg);
    if (hr == MAPI_E_NOT_ENOUGH_MEMORY)
        return hr;
    if (hr != S_OK || !env->outbox) {
        /* X-Mapigw fields, but not a spooler message this can read: copied
         * as it is, like any other file. */
        envelope_free(env);
        *is_spooler = false;
    }
    return S_OK;
}

/* One flush's Maildir sink: the folders stay open for the whole run. */
typedef struct {
    spool_state *s;
    int tmpfd, newfd;
    char uniq[96]; /* the last delivery's name in new/, for undo */
    bool recorded; /* the last delivery left an outcome (taken back on undo) */
} maildir_sink;

static void drop_recorded(maildir_sink *k)
{
    if (k->recorded)
        outcome_drop_last(&k->s->outcomes);
    k->recorded = false;
}

/* outq delivery callback: the Maildir protocol (tmp/, fsync, rename into
 * new/, fsync new/). Any failure removes what it wrote, so the message is
 * delivered once, later. */
static HRESULT maildir_deliver(void *ctx, const outq_msg *m, char *why, size_t whylen, bool *stop)
{
    maildir_sink *k = ctx;
    spool_state *s = k->s;
    char eb[128];
    envelope env;
    memset(&env, 0, sizeof env);
    bool spooled = false;
    k->recorded = false;
    if (spooler_message(m->fd, &env, &spooled) == MAPI_E_NOT_ENOUGH_MEMORY) {
        pfs_say(why, whylen, "out of memory");
        *stop = true;
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    int out = create_unique(k->tmpfd, k->newfd, k->uniq, sizeof k->uniq);
    if (out < 0) {
        int e = errno;
        pfs_say(why, whylen, "cannot create a file in %s: %s", s->shown_tmp,
                pfs_errtext(e, eb, sizeof eb));
        if (spooled)
            envelope_free(&env);
        if (e == ENOMEM) {
            *stop = true;
            return MAPI_E_NOT_ENOUGH_MEMORY;
        }
        return MAPI_E_CALL_FAILED;
    }
    int err = spooled ? pfs_write_all(out, env.data, env.len) : copy_fd(m->fd, out);
    if (!err && spooled) {
        HRESULT oh = outcome_record(&s->outcomes, &env, true, NULL);
        err = oh == S_OK ? 0 : oh == MAPI_E_NOT_ENOUGH_MEMORY ? ENOMEM : ENOSPC;
        k->recorded = oh == S_OK;
    }
    if (spooled)
        envelope_free(&env);
    if (!err && fsync(out) != 0) /* on disk before new/ can show it */
        err = errno;
    if (close(out) != 0 && !err)
        err = errno;
    if (err) {
        pfs_say(why, whylen, "cannot copy %s/%s to %s/%s: %s", s->shown_queue, m->name,
                s->shown_tmp, k->uniq, pfs_errtext(err, eb, sizeof eb));
        unlinkat(k->tmpfd, k->uniq, 0);
        drop_recorded(k);
        return MAPI_E_CALL_FAILED;
    }
    if (renameat(k->tmpfd, k->uniq, k->newfd, k->uniq) != 0) {
        pfs_say(why, whylen, "cannot move %s/%s to %s: %s", s->shown_tmp, k->uniq, s->shown_new,
                pfs_errtext(errno, eb, sizeof eb));
        unlinkat(k->tmpfd, k->uniq, 0);
        drop_recorded(k);
        return MAPI_E_CALL_FAILED;
    }
    /* The rename must be durable before the queue removes its copy. File
     * systems that cannot sync a folder say EINVAL: nothing more to be had. */
    if (fsync(k->newfd) != 0 && errno != EINVAL) {
        pfs_say(why, whylen, "cannot sync %s: %s", s->shown_new, pfs_errtext(errno, eb, sizeof eb));
        unlinkat(k->newfd, k->uniq, 0); /* still queued: deliver it once, later */
        drop_recorded(k);
        return MAPI_E_CALL_FAILED;
    }
    return S_OK;
}

/* The queue could not remove a delivered message: take the delivery back so
 * the next flush does not deliver it twice. */
static void maildir_undo(void *ctx, const outq_msg *m)
{
    (void)m;
    maildir_sink *k = ctx;
    unlinkat(k->newfd, k->uniq, 0);
    drop_recorded(k);
}

/* Delivers every queued message. S_OK when all went, otherwise why says why
 * and the result is MAPI_E_CALL_FAILED or MAPI_E_NOT_ENOUGH_MEMORY. */
static HRESULT deliver_all(spool_state *s, char *why, size_t whylen)
{
    char eb[128];
    maildir_sink k = {s, open(s->dtmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                      open(s->dnew, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "", false};
    HRESULT hr = S_OK;
    if (k.tmpfd < 0 || k.newfd < 0) {
        hr = errno == ENOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_CALL_FAILED;
        pfs_say(why, whylen, "cannot open %s: %s", k.tmpfd < 0 ? s->shown_tmp : s->shown_new,
                pfs_errtext(errno, eb, sizeof eb));
    } else {
        outq_sink sink = {maildir_deliver, maildir_undo, &k};
        outq_report rep;
        hr = outq_deliver_all(s->q, &sink, &rep);
        if (hr != S_OK) {
            pfs_say(why, whylen, "%s", rep.why);
            if (hr != MAPI_E_NOT_ENOUGH_MEMORY)
                hr = MAPI_E_CALL_FAILED;
        }
    }
    if (k.tmpfd >= 0)
        close(k.tmpfd);
    if (k.newfd >= 0)
        close(k.newfd);
    return hr;
}

/* Removes what interrupted deliveries left in deliver_to/tmp (36 hours
 * untouched; this instance's own delivery in progress is never that old). A
 * tmp/ that cannot be read is the status's to report, not this. */
static void spool_maintain(void *state)
{
    const spool_state *s = state;
    size_t removed;
    (void)pfs_sweep_stale(s->dtmp, time(NULL) - PFS_MAILDIR_TMP_MAX_AGE_S, &removed);
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
    s->shown_queue = pfs_shown_path(cfg, "path");
    s->shown_to = pfs_shown_path(cfg, "deliver_to");
    s->shown_cur = s->shown_to ? pfs_path_join(s->shown_to, "cur") : NULL;
    s->shown_new = s->shown_to ? pfs_path_join(s->shown_to, "new") : NULL;
    s->shown_tmp = s->shown_to ? pfs_path_join(s->shown_to, "tmp") : NULL;
    s->q = s->shown_queue ? outq_new(queue, s->shown_queue) : NULL;
    if (!s->queue || !s->deliver_to || !s->dcur || !s->dnew || !s->dtmp || !s->shown_cur ||
        !s->shown_new || !s->shown_tmp || !s->q) {
        spool_free(s);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    const char *types = provider_config_setting(cfg, "address_types");
    if (types)
        snprintf(s->addrtypes, sizeof s->addrtypes, ",%s,", types);
    if (pfs_create_requested(cfg))
        spool_create(s);
    s->pending = outq_count(s->q) > 0 && s->addrtypes[0];
    /* Broken folders still log on: the row says what is wrong. */
    spool_refresh(s);
    spool_maintain(s);
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
    s->pending = hr != S_OK && outq_count(s->q) > 0 && s->pending;
    if (hr == S_OK)
        return S_OK;

    /* The count first, so a long path cannot truncate it away. */
    long n = outq_count(s->q);
    pfs_set_status(&s->st, STATUS_FAILURE, "flush failed, %ld message%s still queued: %s", n,
                   n == 1 ? "" : "s", why);
    return hr;
}

static bool spool_handles(void *state, const char *addrtype)
{
    const spool_state *s = state;
    size_t n = strlen(addrtype);
    if (!n || strchr(addrtype, ','))
        return false;
    for (const char *p = s->addrtypes; (p = strchr(p, ',')) != NULL && p[1]; p++)
        if (strncasecmp(p + 1, addrtype, n) == 0 && p[1 + n] == ',')
            return true;
    return false;
}

static HRESULT spool_submit(void *state, const char *msg, size_t len, char *why, size_t whylen)
{
    spool_state *s = state;
    char eb[128];
    int err = outq_enqueue(s->q, msg, len, NULL, 0);
    if (err) {
        pfs_say(why, whylen, "cannot queue in %s: %s", s->shown_queue,
                pfs_errtext(err, eb, sizeof eb));
        return err == ENOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_CALL_FAILED;
    }
    s->pending = true;
    spool_refresh(s);
    return S_OK;
}

static long spool_queued(void *state)
{
    const spool_state *s = state;
    return s->queued_n;
}

static bool spool_sending_due(void *state)
{
    const spool_state *s = state;
    return s->pending;
}

/* Local folders: a failed delivery is retried at every poll, no backoff
 * (the row shows the failure). */
static void spool_poll(void *state)
{
    spool_state *s = state;
    if (s->pending)
        (void)spool_flush_queues(s, FLUSH_UPLOAD);
}

static size_t spool_take_outcomes(void *state, provider_outcome *out, size_t max)
{
    spool_state *s = state;
    return outcome_take(&s->outcomes, out, max);
}

static const char *const REQUIRED_SETTINGS[] = {"path", "deliver_to", NULL};

const provider_ops PROVIDER_SPOOL = {
    .kind = "spool",
    .shared_instance = true,
    .resource_type = MAPI_TRANSPORT_PROVIDER,
    .dll_name = "mgwspool",
    .provider_display = "mapigw",
    .resource_methods = STATUS_VALIDATE_STATE | STATUS_FLUSH_QUEUES,
    .required_settings = REQUIRED_SETTINGS,
    .check_config = pfs_check_create_setting,
    .logon = spool_logon,
    .logoff = spool_logoff,
    .status = spool_status,
    .validate_state = spool_validate_state,
    .flush_queues = spool_flush_queues,
    .maintain = spool_maintain,
    .poll = spool_poll,
    .handles = spool_handles,
    .submit = spool_submit,
    .take_outcomes = spool_take_outcomes,
    .sending_due = spool_sending_due,
    .queued = spool_queued,
};
