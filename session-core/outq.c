/* outq.c - the durable outbound queue and the envelope of queued messages
 * (see outq.h).
 */
#include "outq.h"

#include "provider_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUTQ_FILE_MODE 0600
#define UNIQUE_ATTEMPTS 100

struct outq {
    char *dir;
};

/* snprintf into a reason buffer: paths may truncate a reason on purpose (a
 * status string has a fixed size); vsnprintf keeps the compiler's truncation
 * check quiet about it. */
static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

outq *outq_new(const char *dir)
{
    outq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    if (!(q->dir = strdup(dir))) {
        free(q);
        return NULL;
    }
    return q;
}

void outq_free(outq *q)
{
    if (!q)
        return;
    free(q->dir);
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
        if (!(e[n].name = strdup(de->d_name))) {
            err = ENOMEM;
            break;
        }
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
        say(rep->why, sizeof rep->why, "%s", why);
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
        say(why, sizeof why, "cannot open %s/%s: %s", q->dir, name, pfs_errtext(e, eb, sizeof eb));
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
        say(why, sizeof why, "cannot remove %s/%s: %s", q->dir, name,
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
        say(why, sizeof why, "cannot read %s: %s", q->dir, pfs_errtext(err, eb, sizeof eb));
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

/* ---- the envelope of a queued message ----------------------------------- */

/* A growable byte string, kept NUL-terminated. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static bool sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (n >= SIZE_MAX / 2 - b->len)
        return false;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np)
            return false;
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

static bool sbuf_addc(sbuf *b, char c) { return sbuf_add(b, &c, 1); }

typedef struct {
    char **v;
    size_t n, cap;
} addr_list;

static void addr_list_free(addr_list *l)
{
    outq_names_free(l->v, l->n);
    memset(l, 0, sizeof *l);
}

/* Hostile text goes into a status string: printable ASCII only, shortened. */
static void say_address(char *why, size_t whylen, const char *a, size_t n)
{
    char safe[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof safe - 4; i++)
        safe[k++] = (a[i] >= 0x20 && a[i] < 0x7f) ? a[i] : '?';
    if (k < n)
        safe[k++] = '.', safe[k++] = '.', safe[k++] = '.';
    safe[k] = '\0';
    say(why, whylen, "malformed address \"%s\"", safe);
}

/* An address we are willing to hand to RCPT TO / MAIL FROM: no control
 * characters anywhere (they would end the SMTP command), no space or
 * specials outside a quoted local part, one '@' with text on both sides. */
static bool valid_address(const char *a, size_t n)
{
    if (n == 0 || n > OUTQ_MAX_ADDRESS)
        return false;
    bool quoted = false;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (quoted) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '"')
                quoted = false;
            continue;
        }
        if (c == '"')
            quoted = true;
        else if (c == '@')
            at = i;
        else if (strchr(" <>(),;:\\", c))
            return false;
    }
    return !quoted && at > 0 && at + 1 < n;
}

/* Adds one element's address (or nothing for an empty element such as the
 * end of "undisclosed-recipients:;"). */
static HRESULT finish_element(const sbuf *elem, const sbuf *ang, bool has_angle, addr_list *out,
                              char *why, size_t whylen)
{
    const char *a = has_angle ? ang->p : elem->p;
    size_t n = has_angle ? ang->len : elem->len;
    if (!a)
        return S_OK;
    while (n && (*a == ' ' || *a == '\t'))
        a++, n--;
    while (n && (a[n - 1] == ' ' || a[n - 1] == '\t'))
        n--;
    /* An obsolete source route "<@relay:user@host>": only the mailbox counts. */
    if (has_angle && n && a[0] == '@') {
        const char *colon = memchr(a, ':', n);
        if (!colon) {
            say_address(why, whylen, a, n);
            return MAPI_E_INVALID_PARAMETER;
        }
        n -= (size_t)(colon + 1 - a);
        a = colon + 1;
    }
    if (n == 0)
        return S_OK;
    if (!valid_address(a, n)) {
        say_address(why, whylen, a, n);
        return MAPI_E_INVALID_PARAMETER;
    }
    for (size_t i = 0; i < out->n; i++)
        if (strlen(out->v[i]) == n && strncasecmp(out->v[i], a, n) == 0)
            return S_OK; /* one RCPT per mailbox */
    if (out->n >= OUTQ_MAX_RECIPIENTS) {
        say(why, whylen, "more than %d recipients", OUTQ_MAX_RECIPIENTS);
        return MAPI_E_INVALID_PARAMETER;
    }
    if (out->n == out->cap) {
        size_t ncap = out->cap ? out->cap * 2 : 8;
        char **nv = realloc(out->v, ncap * sizeof *nv);
        if (!nv)
            return MAPI_E_NOT_ENOUGH_MEMORY;
        out->v = nv;
        out->cap = ncap;
    }
    if (!(out->v[out->n] = strndup(a, n)))
        return MAPI_E_NOT_ENOUGH_MEMORY;
    out->n++;
    return S_OK;
}

/* An RFC 5322 address list (unfolded header value, vlen bytes) into out. */
static HRESULT parse_list(const char *v, size_t vlen, addr_list *out, char *why, size_t whylen)
{
    sbuf elem = {0}, ang = {0};
    bool has_angle = false, in_angle = false, in_quote = false, ok = true;
    int depth = 0; /* comment nesting */
    HRESULT hr = S_OK;
    for (size_t i = 0; i <= vlen && hr == S_OK && ok; i++) {
        if (i == vlen) {
            if (depth || in_quote || in_angle) {
                say(why, whylen, "unbalanced %s in an address list",
                    depth      ? "comment"
                    : in_quote ? "quote"
                               : "angle bracket");
                hr = MAPI_E_INVALID_PARAMETER;
            } else {
                hr = finish_element(&elem, &ang, has_angle, out, why, whylen);
            }
            break;
        }
        char c = v[i];
        if (depth > 0) { /* comments are whitespace, wherever they are */
            if (c == '\\' && i + 1 < vlen)
                i++;
            else if (c == '(' && ++depth > 64) {
                say(why, whylen, "comments nested too deep");
                hr = MAPI_E_INVALID_PARAMETER;
            } else if (c == ')')
                depth--;
            continue;
        }
        sbuf *t = in_angle ? &ang : &elem;
        if (in_quote) {
            ok = sbuf_addc(t, c);
            if (c == '\\' && i + 1 < vlen)
                ok = ok && sbuf_addc(t, v[++i]);
            else if (c == '"')
                in_quote = false;
            continue;
        }
        switch (c) {
        case '(':
            depth = 1;
            break;
        case '"':
            in_quote = true;
            ok = sbuf_addc(t, c);
            break;
        case '<':
            if (in_angle) {
                say(why, whylen, "'<' inside an angle address");
                hr = MAPI_E_INVALID_PARAMETER;
            }
            in_angle = has_angle = true;
            ang.len = 0;
            break;
        case '>':
            if (!in_angle) {
                say(why, whylen, "'>' without '<' in an address list");
                hr = MAPI_E_INVALID_PARAMETER;
            }
            in_angle = false;
            break;
        case ':':
            if (in_angle) {
                ok = sbuf_addc(t, c); /* a source route */
            } else {                  /* "group:" - the group's name is no address */
                elem.len = 0;
                has_angle = false;
            }
            break;
        case ',':
        case ';':
            if (in_angle) {
                ok = sbuf_addc(t, c);
                break;
            }
            hr = finish_element(&elem, &ang, has_angle, out, why, whylen);
            elem.len = ang.len = 0;
            has_angle = false;
            break;
        default:
            ok = sbuf_addc(t, c);
        }
    }
    free(elem.p);
    free(ang.p);
    return !ok ? MAPI_E_NOT_ENOUGH_MEMORY : hr;
}

/* The line at pos: its content ends at *eol (before "\r\n" or "\n"), the
 * next line starts at *next. */
static void next_line(const char *msg, size_t len, size_t pos, size_t *eol, size_t *next)
{
    const char *nl = memchr(msg + pos, '\n', len - pos);
    *next = nl ? (size_t)(nl - msg) + 1 : len;
    *eol = nl ? (size_t)(nl - msg) : len;
    if (nl && *eol > pos && msg[*eol - 1] == '\r')
        (*eol)--;
}

/* The length of the header name at the start of line [pos, eol), or 0 when
 * the line is not a header field ("name:" with printable ASCII names). */
static size_t field_name_len(const char *msg, size_t pos, size_t eol)
{
    for (size_t i = pos; i < eol; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c == ':')
            return i - pos;
        if (c <= 0x20 || c >= 0x7f)
            return 0;
    }
    return 0;
}

static bool name_is(const char *msg, size_t pos, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(msg + pos, name, n) == 0;
}

HRESULT outq_envelope_parse(const char *msg, size_t len, outq_envelope *out, char *why,
                            size_t whylen)
{
    memset(out, 0, sizeof *out);
    sbuf data = {0}, value = {0};
    addr_list rcpt = {0}, from = {0};
    HRESULT hr = S_OK;
    bool ok = true, in_headers = true;
    size_t pos = 0;
    while (pos < len && ok && hr == S_OK) {
        size_t eol, next;
        next_line(msg, len, pos, &eol, &next);
        size_t nlen = in_headers ? field_name_len(msg, pos, eol) : 0;
        if (!nlen) {
            /* The first line that is no header field (normally the empty
             * one) starts the body, which goes as it is, CRLF-terminated. */
            in_headers = false;
            ok = sbuf_add(&data, msg + pos, eol - pos) && sbuf_add(&data, "\r\n", 2);
            pos = next;
            continue;
        }
        bool is_bcc = name_is(msg, pos, nlen, "bcc");
        bool is_rcpt = is_bcc || name_is(msg, pos, nlen, "to") || name_is(msg, pos, nlen, "cc");
        bool is_from = name_is(msg, pos, nlen, "from");
        /* One field: this line and every folded line after it, unfolded into
         * value (the CRLF goes, the leading white space stays). */
        value.len = 0;
        size_t vstart = pos + nlen + 1;
        for (;;) {
            ok = ok && sbuf_add(&value, msg + vstart, eol - vstart);
            /* Bcc must not reach the other recipients: it is not sent. */
            if (!is_bcc)
                ok = ok && sbuf_add(&data, msg + pos, eol - pos) && sbuf_add(&data, "\r\n", 2);
            pos = next;
            if (pos >= len || (msg[pos] != ' ' && msg[pos] != '\t'))
                break;
            next_line(msg, len, pos, &eol, &next);
            vstart = pos;
        }
        if (!ok)
            break;
        if (is_rcpt && value.p)
            hr = parse_list(value.p, value.len, &rcpt, why, whylen);
        else if (is_from && !from.n && value.p) {
            /* A malformed From is no reason to hold the message: the
             * transport's own "from" setting may stand in for it. */
            char ignored[OUTQ_WHY_MAX];
            HRESULT fh = parse_list(value.p, value.len, &from, ignored, sizeof ignored);
            if (fh == MAPI_E_NOT_ENOUGH_MEMORY)
                hr = fh;
        }
    }
    free(value.p);
    if (!ok)
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (hr == S_OK && !data.p && !(data.p = strdup("")))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (hr == S_OK && from.n && !(out->from = strdup(from.v[0])))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    addr_list_free(&from);
    if (hr != S_OK) {
        if (hr == MAPI_E_NOT_ENOUGH_MEMORY)
            say(why, whylen, "out of memory");
        free(data.p);
        free(out->from);
        addr_list_free(&rcpt);
        memset(out, 0, sizeof *out);
        return hr;
    }
    out->rcpt = rcpt.v;
    out->rcpt_count = rcpt.n;
    out->data = data.p;
    out->len = data.len;
    return S_OK;
}

void outq_envelope_free(outq_envelope *e)
{
    if (!e)
        return;
    free(e->from);
    outq_names_free(e->rcpt, e->rcpt_count);
    free(e->data);
    memset(e, 0, sizeof *e);
}
