/* provider_smtp.c - the "smtp" transport provider.
 *
 * Outbound messages wait in a durable queue folder (outq.c: one RFC 5322
 * file per message). FlushQueues (upload) sends each one to an SMTP server
 * with libcurl and removes it only after the server accepted it (CURLE_OK),
 * so a server that is down or refuses loses nothing: the message stays queued
 * and the status row says why. ValidateState connects for real (EHLO, AUTH
 * when credentials are configured, NOOP).
 *
 * Envelope: the sender is the "from" setting, else the first From address;
 * the recipients are the To, Cc and Bcc addresses (envelope_parse). The
 * Bcc header itself is not sent.
 *
 * Status: AVAILABLE|OUTBOUND_ENABLED while the server answers;
 * OUTBOUND_ACTIVE|OUTBOUND_FLUSH are added during a flush; OFFLINE (still
 * OUTBOUND_ENABLED: messages keep queueing) when the last contact found the
 * server unreachable; FAILURE when it refused the credentials or the queue
 * folder is unusable. The string says what is true now: the server's state
 * as last contacted ("server unreachable: <why>", "server refused the
 * login: <why>") wins over how the last flush went, and a flush that failed
 * only because of the server leaves no "last delivery failed" of its own
 * behind, so a later contact that finds the server back clears it all.
 *
 * Settings: url (smtp://host:port or smtps://), username, password,
 * timeout_ms, ca_file, tls_verify (provider_net.h), from, starttls ("true":
 * require STARTTLS on smtp://), queue (folder), create ("true": create the
 * queue folder at logon, mode 0700).
 */
#include "envelope.h"
#include "../mapi_flags.h"
#include "outq.h"
#include "../provider.h"
#include "provider_fs.h"
#include "provider_net.h"
#include "spool_outcome.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SMTP_DIR_MODE 0700
#define SMTP_MAX_MESSAGE (32L * 1024 * 1024) /* aiosmtpd's and many servers' default */
#define SMTP_REPLY_MAX 4096                  /* what we keep of a server's answer */
#define SMTP_POLL_RECHECK_S 10               /* an offline server is retried this often */
#define SMTP_RETRY_FIRST_S 2 /* the spooler's first retry after a 4xx or no server */
#define SMTP_RETRY_MAX_S 300 /* ... doubling up to this */

typedef enum { NET_UNKNOWN, NET_OK, NET_OFFLINE, NET_REFUSED } net_state;

typedef struct {
    pnet_account acct;
    char *from; /* the "from" setting, or NULL */
    bool starttls;
    outq *q;
    char create_error[PROVIDER_STATUS_STRING_MAX]; /* why create failed, "" if it did not */
    char *shown_queue;                             /* the queue folder as status strings show it */
    net_state net;
    char net_why[PROVIDER_STATUS_STRING_MAX]; /* why the server is offline or refused */
    /* Why the last flush left messages queued, when not because of the
     * server (a message it refused, one that cannot be read or sent, the
     * queue folder): "" after a flush that delivered everything. */
    char last_fail[PROVIDER_STATUS_STRING_MAX];
    /* During a flush: the first message-level failure, and whether the
     * server itself failed (unreachable, login refused). */
    char msg_fail[PROVIDER_STATUS_STRING_MAX];
    bool server_failed;
    time_t last_check;
    /* The spooler's side: messages it queued (or found queued at logon) are
     * delivered by the poller, retried with backoff after a temporary
     * failure; finished ones wait in outcomes for take_outcomes. */
    bool pending;
    long queued_n;    /* as the last refresh counted */
    unsigned retry_s; /* 0: no failure since the last success */
    time_t next_try;
    outcome_list outcomes;
    provider_status st;
} smtp_state;

static void smtp_free(smtp_state *s)
{
    if (!s)
        return;
    pnet_account_clear(&s->acct);
    free(s->from);
    free(s->shown_queue);
    outq_free(s->q);
    outcome_list_clear(&s->outcomes);
    free(s);
}

/* ", next attempt at <UTC time>" while a retry is due, else "". */
static void retry_note(const smtp_state *s, long queued, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!s->pending || !s->retry_s || queued <= 0)
        return;
    struct tm tm;
    char when[32];
    if (gmtime_r(&s->next_try, &tm) && strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "; retrying at %s (backoff %u s)", when, s->retry_s);
}

/* Recomputes s->st from the queue folder and what the server last said. */
static bool smtp_refresh(smtp_state *s)
{
    char eb[128];
    const char *dir = outq_dir(s->q);
    if (!pfs_check_folder(dir, s->shown_queue, PFS_FOLDER_WRITABLE, &s->st)) {
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
    const char *plural = n == 1 ? "" : "s";
    char retry[96];
    retry_note(s, n, retry, sizeof retry);
    uint32_t code = STATUS_AVAILABLE | STATUS_OUTBOUND_ENABLED;
    if (s->net == NET_OFFLINE)
        code = STATUS_OFFLINE | STATUS_OUTBOUND_ENABLED;
    else if (s->net == NET_REFUSED)
        code = STATUS_FAILURE;
    /* The count first, so a long reason cannot truncate it away. What the
     * server is now wins over how the last flush went; a failure with
     * nothing left queued is over. */
    if (s->net == NET_OFFLINE)
        pfs_set_status(&s->st, code, "%ld message%s queued%s; server unreachable: %s", n, plural,
                       retry, s->net_why);
    else if (s->net == NET_REFUSED)
        pfs_set_status(&s->st, code, "%ld message%s queued%s; server refused the login: %s", n,
                       plural, retry, s->net_why);
    else if (s->last_fail[0] && n > 0)
        pfs_set_status(&s->st, code, "%ld message%s queued%s; last delivery failed: %s", n, plural,
                       retry, s->last_fail);
    else
        pfs_set_status(&s->st, code, "%ld message%s queued%s", n, plural, retry);
    return true;
}

/* A handle for one SMTP conversation; reply collects what the server says
 * (libcurl would otherwise print it on stdout). */
static CURL *smtp_easy(const smtp_state *s, pnet_buffer *reply, char *errbuf)
{
    CURL *c = pnet_easy(&s->acct, "smtp,smtps");
    if (!c)
        return NULL;
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, s->acct.url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pnet_buffer_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
    if (s->starttls)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    return c;
}

/* Records what a conversation's result says about the server. A server that
 * answered with an error code was reached: that is not "offline", even when
 * libcurl words the refusal as a send error. */
static void note_contact(smtp_state *s, CURL *c, CURLcode rc, const char *errbuf)
{
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    char text[CURL_ERROR_SIZE];
    pnet_why(rc, errbuf, text, sizeof text);
    if (rc == CURLE_OK || (code >= 200 && rc != CURLE_LOGIN_DENIED)) {
        s->net = NET_OK;
        s->net_why[0] = '\0';
    } else if (rc == CURLE_LOGIN_DENIED) {
        s->net = NET_REFUSED;
        snprintf(s->net_why, sizeof s->net_why, "%s", text);
    } else if (pnet_unreachable(rc) || rc == CURLE_UNSUPPORTED_PROTOCOL ||
               rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_USE_SSL_FAILED) {
        s->net = NET_OFFLINE;
        snprintf(s->net_why, sizeof s->net_why, "%s", text);
    }
    s->last_check = time(NULL);
}

/* Connects, authenticates when credentials are set, and says NOOP. */
static HRESULT smtp_check(smtp_state *s)
{
    char errbuf[CURL_ERROR_SIZE];
    pnet_buffer reply = {.max = SMTP_REPLY_MAX};
    CURL *c = smtp_easy(s, &reply, errbuf);
    if (!c)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    /* Without recipients libcurl sends the custom command after EHLO/AUTH
     * and hands its answer to the write callback. */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "NOOP");
    CURLcode rc = curl_easy_perform(c);
    note_contact(s, c, rc, errbuf);
    curl_easy_cleanup(c);
    pnet_buffer_free(&reply);
    return rc == CURLE_OK ? S_OK : pnet_hresult(rc);
}

/* Reads the whole queued file (bounded). 0 or an errno value (EFBIG). */
static int read_message(int fd, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return errno;
    if (sb.st_size > SMTP_MAX_MESSAGE)
        return EFBIG;
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return ENOMEM;
    for (;;) {
        if (n == cap - 1) { /* grew since the fstat: read on, within the bound */
            if (cap > (size_t)SMTP_MAX_MESSAGE) {
                free(buf);
                return EFBIG;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            return e;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Sends one envelope. S_OK when the server accepted it. */
static HRESULT smtp_send(smtp_state *s, const envelope *env, const char *sender, char *why,
                         size_t whylen, bool *stop, bool *permanent)
{
    *permanent = false;
    char errbuf[CURL_ERROR_SIZE];
    pnet_buffer reply = {.max = SMTP_REPLY_MAX};
    struct curl_slist *rcpt = NULL;
    CURL *c = smtp_easy(s, &reply, errbuf);
    HRESULT hr = c ? S_OK : MAPI_E_NOT_ENOUGH_MEMORY;
    for (size_t i = 0; i < env->rcpt_count && hr == S_OK; i++) {
        struct curl_slist *n = curl_slist_append(rcpt, env->rcpt[i]);
        if (!n)
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
        else
            rcpt = n;
    }
    if (hr != S_OK) {
        snprintf(why, whylen, "out of memory");
        *stop = true;
        goto out;
    }
    pnet_upload u = {env->data, env->len, 0};
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, sender);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, pnet_upload_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)env->len);
    CURLcode rc = curl_easy_perform(c);
    note_contact(s, c, rc, errbuf);
    if (rc != CURLE_OK) {
        pnet_why(rc, errbuf, why, whylen);
        /* Down or refusing our login: the other messages would fare alike.
         * A refusal of this one message (a recipient, its size) is its own. */
        if (s->net == NET_OFFLINE) {
            *stop = true;
            s->server_failed = true;
            hr = MAPI_E_NETWORK_ERROR;
        } else if (s->net == NET_REFUSED) {
            *stop = true;
            s->server_failed = true;
            hr = MAPI_E_NO_ACCESS;
        } else {
            hr = pnet_hresult(rc) == MAPI_E_NOT_ENOUGH_MEMORY ? MAPI_E_NOT_ENOUGH_MEMORY
                                                              : MAPI_E_CALL_FAILED;
            /* A 5xx reply refuses this message for good (RFC 5321 4.2.1);
             * a 4xx one asks us to try again later. */
            long code = 0;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
            *permanent = code >= 500 && code < 600;
            if (reply.len && reply.data) {
                size_t used = strlen(why), n = 0;
                while (n < reply.len && n < 200 && reply.data[n] != '\r' && reply.data[n] != '\n')
                    n++;
                snprintf(why + used, whylen - used, " (%.*s)", (int)n, reply.data);
            }
        }
    }
out:
    curl_slist_free_all(rcpt);
    if (c)
        curl_easy_cleanup(c);
    pnet_buffer_free(&reply);
    return hr;
}

static HRESULT smtp_deliver_one(smtp_state *s, const outq_msg *m, char *why, size_t whylen,
                                bool *stop);

/* outq delivery callback: read, work out the envelope, send; remembers the
 * first failure that was the message's own (not the server's). */
static HRESULT smtp_deliver(void *ctx, const outq_msg *m, char *why, size_t whylen, bool *stop)
{
    smtp_state *s = ctx;
    bool server_before = s->server_failed;
    HRESULT hr = smtp_deliver_one(s, m, why, whylen, stop);
    if (HR_FAILED(hr) && s->server_failed == server_before && !s->msg_fail[0])
        snprintf(s->msg_fail, sizeof s->msg_fail, "%s", why[0] ? why : "delivery failed");
    return hr;
}

/* outq undo: the message stays queued after all, so its outcome is not one. */
static void smtp_undo(void *ctx, const outq_msg *m)
{
    smtp_state *s = ctx;
    (void)m;
    outcome_drop_last(&s->outcomes);
}

static HRESULT smtp_deliver_one(smtp_state *s, const outq_msg *m, char *why, size_t whylen,
                                bool *stop)
{
    char eb[128], pwhy[OUTQ_WHY_MAX] = "";
    char *msg;
    size_t len;
    int err = read_message(m->fd, &msg, &len);
    if (err) {
        snprintf(why, whylen, "%s: %s", m->name,
                 err == EFBIG ? "larger than 32 MiB" : pfs_errtext(err, eb, sizeof eb));
        *stop = err == ENOMEM;
        return err == ENOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_CALL_FAILED;
    }
    envelope env;
    HRESULT hr = envelope_parse(msg, len, &env, pwhy, sizeof pwhy);
    free(msg);
    if (hr != S_OK) {
        snprintf(why, whylen, "%s: %s", m->name, pwhy);
        *stop = hr == MAPI_E_NOT_ENOUGH_MEMORY;
        return hr == MAPI_E_NOT_ENOUGH_MEMORY ? hr : MAPI_E_CALL_FAILED;
    }
    const char *sender = s->from ? s->from : env.from;
    if (!sender) {
        snprintf(why, whylen, "%s: no sender (no From address and no \"from\" setting)", m->name);
        hr = MAPI_E_CALL_FAILED;
    } else if (env.rcpt_count == 0) {
        snprintf(why, whylen, "%s: no recipients in To, Cc or Bcc", m->name);
        hr = MAPI_E_CALL_FAILED;
    } else {
        bool permanent = false;
        hr = smtp_send(s, &env, sender, why, whylen, stop, &permanent);
        /* A spooler message leaves the queue once the server decided: sent,
         * or refused for good (the spooler then writes the NDR). */
        if (env.outbox && (hr == S_OK || permanent)) {
            HRESULT oh = outcome_record(&s->outcomes, &env, hr == S_OK, why);
            if (oh != S_OK)
                hr = oh;
            else if (permanent)
                hr = S_OK;
        }
    }
    envelope_free(&env);
    return hr;
}

static HRESULT smtp_check_config(const provider_config *cfg, char *err, size_t errlen)
{
    HRESULT hr = pfs_check_create_setting(cfg, err, errlen);
    if (HR_FAILED(hr))
        return hr;
    const char *url = provider_config_setting(cfg, "url");
    if (url && strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) {
        snprintf(err, errlen, "settings.url: must start with smtp:// or smtps://");
        return MAPI_E_INVALID_PARAMETER;
    }
    const char *t = provider_config_setting(cfg, "timeout_ms");
    if (t) {
        char *end;
        errno = 0;
        long v = strtol(t, &end, 10);
        if (errno || *end || v <= 0 || v > 600000) {
            snprintf(err, errlen, "settings.timeout_ms: must be 1..600000");
            return MAPI_E_INVALID_PARAMETER;
        }
    }
    static const char *const BOOLS[] = {"tls_verify", "starttls"};
    for (size_t i = 0; i < sizeof BOOLS / sizeof BOOLS[0]; i++) {
        const char *b = provider_config_setting(cfg, BOOLS[i]);
        if (b && strcmp(b, "true") != 0 && strcmp(b, "false") != 0) {
            snprintf(err, errlen, "settings.%s: must be true or false", BOOLS[i]);
            return MAPI_E_INVALID_PARAMETER;
        }
    }
    return S_OK;
}

static HRESULT smtp_logon(const provider_config *cfg, const provider_logon_args *args, void **state)
{
    *state = NULL;
    const char *queue = provider_config_path(cfg, "queue");
    if (!queue || !*queue)
        return MAPI_E_UNCONFIGURED;
    smtp_state *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    /* A transport never authenticates the profile: only its own password. */
    HRESULT hr = pnet_account_load(cfg, NULL, &s->acct);
    if (HR_FAILED(hr)) {
        free(s);
        return hr; /* MAPI_E_UNCONFIGURED without a url */
    }
    (void)args;
    const char *from = provider_config_setting(cfg, "from");
    const char *starttls = provider_config_setting(cfg, "starttls");
    s->starttls = starttls && strcmp(starttls, "true") == 0;
    if (!(s->shown_queue = pfs_shown_path(cfg, "queue")) ||
        !(s->q = outq_new(queue, s->shown_queue)) || (from && *from && !(s->from = strdup(from)))) {
        smtp_free(s);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    if (pfs_create_requested(cfg)) {
        char eb[128];
        int err = pfs_mkdir_p(queue, SMTP_DIR_MODE);
        if (err)
            snprintf(s->create_error, sizeof s->create_error, "cannot create folder %s: %s",
                     s->shown_queue, pfs_errtext(err, eb, sizeof eb));
    }
    /* The row shows what the server really says; an unreachable one still
     * logs on (messages queue) and shows OFFLINE. */
    if (smtp_check(s) == MAPI_E_NOT_ENOUGH_MEMORY) {
        smtp_free(s);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    /* Messages a crash or a stop left queued go out with this logon. */
    s->pending = outq_count(s->q) > 0;
    smtp_refresh(s);
    *state = s;
    return S_OK;
}

static void smtp_logoff(void *state) { smtp_free(state); }

static void smtp_status(void *state, provider_status *out)
{
    const smtp_state *s = state;
    *out = s->st;
}

static HRESULT smtp_validate_state(void *state, uint32_t flags)
{
    smtp_state *s = state;
    s->create_error[0] = '\0';
    if (flags & FORCE_XP_DISCONNECT) {
        /* No connection is kept between calls: nothing to drop. */
        smtp_refresh(s);
        return S_OK;
    }
    HRESULT hr = smtp_check(s);
    smtp_refresh(s);
    /* The answer is in the row (OFFLINE, FAILURE); the check itself worked. */
    return hr == MAPI_E_NOT_ENOUGH_MEMORY ? hr : S_OK;
}

static HRESULT smtp_flush_queues(void *state, uint32_t flags)
{
    smtp_state *s = state;
    /* No inbound queue: a download-only flush has nothing to do but show
     * the queue as it is now. */
    if ((flags & FLUSH_DOWNLOAD) && !(flags & FLUSH_UPLOAD)) {
        smtp_refresh(s);
        return S_OK;
    }
    s->create_error[0] = '\0';
    if (!smtp_refresh(s))
        return MAPI_E_CALL_FAILED; /* the status already says which folder */

    /* Shown while the flush runs, cleared by the refresh below. */
    s->st.status_code |= STATUS_OUTBOUND_ACTIVE | STATUS_OUTBOUND_FLUSH;
    outq_sink sink = {smtp_deliver, smtp_undo, s};
    outq_report rep;
    s->msg_fail[0] = '\0';
    s->server_failed = false;
    HRESULT hr = outq_deliver_all(s->q, &sink, &rep);
    /* A failure of the server's is the net state's to tell (and to clear
     * when the server is back); the messages' own and the queue's stay. */
    const char *fail = hr == S_OK         ? ""
                       : s->msg_fail[0]   ? s->msg_fail
                       : s->server_failed ? ""
                                          : rep.why;
    snprintf(s->last_fail, sizeof s->last_fail, "%s", fail);
    /* The spooler's backoff: doubling from the first failure, reset by a
     * flush that left nothing behind. */
    long left = outq_count(s->q);
    if (hr == S_OK || left == 0) {
        s->retry_s = 0;
        s->next_try = 0;
        s->pending = left > 0;
    } else if (s->pending) {
        /* Only the spooler's work is retried by itself: files dropped into
         * the queue by others wait for a FlushQueues, as before. */
        s->retry_s = s->retry_s
                         ? (s->retry_s * 2 > SMTP_RETRY_MAX_S ? SMTP_RETRY_MAX_S : s->retry_s * 2)
                         : SMTP_RETRY_FIRST_S;
        s->next_try = time(NULL) + s->retry_s;
    }
    smtp_refresh(s);
    return hr;
}

/* Cheap: recounts the queue; an offline server is tried again now and then
 * so the row turns AVAILABLE by itself when it comes back. */
static void smtp_poll(void *state)
{
    smtp_state *s = state;
    if (s->pending && time(NULL) >= s->next_try) {
        (void)smtp_flush_queues(s, FLUSH_UPLOAD); /* the outcome is in the row */
        return;
    }
    if (s->net == NET_OFFLINE && time(NULL) - s->last_check >= SMTP_POLL_RECHECK_S)
        (void)smtp_check(s); /* the answer is in s->net; out of memory: next poll */
    smtp_refresh(s);
}

static bool smtp_handles(void *state, const char *addrtype)
{
    (void)state;
    return strcasecmp(addrtype, "SMTP") == 0;
}

static HRESULT smtp_submit(void *state, const char *msg, size_t len, char *why, size_t whylen)
{
    smtp_state *s = state;
    char eb[128];
    if ((long)len > SMTP_MAX_MESSAGE) {
        snprintf(why, whylen, "larger than 32 MiB");
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    }
    int err = outq_enqueue(s->q, msg, len, NULL, 0);
    if (err) {
        snprintf(why, whylen, "cannot queue in %s: %s", s->shown_queue,
                 pfs_errtext(err, eb, sizeof eb));
        return err == ENOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_CALL_FAILED;
    }
    /* A new message is tried at the next poll, backoff or not: the server
     * may be back, and the client expects its mail to go now. */
    s->pending = true;
    s->next_try = 0;
    smtp_refresh(s);
    return S_OK;
}

static long smtp_queued(void *state)
{
    const smtp_state *s = state;
    return s->queued_n;
}

static bool smtp_sending_due(void *state)
{
    const smtp_state *s = state;
    return s->pending && time(NULL) >= s->next_try;
}

static size_t smtp_take_outcomes(void *state, provider_outcome *out, size_t max)
{
    smtp_state *s = state;
    return outcome_take(&s->outcomes, out, max);
}

static const char *const REQUIRED_SETTINGS[] = {"url", "queue", NULL};

const provider_ops PROVIDER_SMTP = {
    .kind = "smtp",
    .resource_type = MAPI_TRANSPORT_PROVIDER,
    .dll_name = "mgwsmtp",
    .provider_display = "mapigw",
    .resource_methods = STATUS_VALIDATE_STATE | STATUS_FLUSH_QUEUES,
    .required_settings = REQUIRED_SETTINGS,
    .check_config = smtp_check_config,
    .logon = smtp_logon,
    .logoff = smtp_logoff,
    .status = smtp_status,
    .validate_state = smtp_validate_state,
    .flush_queues = smtp_flush_queues,
    .poll = smtp_poll,
    .handles = smtp_handles,
    .submit = smtp_submit,
    .take_outcomes = smtp_take_outcomes,
    .sending_due = smtp_sending_due,
    .queued = smtp_queued,
};
