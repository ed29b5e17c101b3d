/* imap_fetch.c - FETCH answers (UID, FLAGS, RFC822.SIZE, INTERNALDATE,
 * ENVELOPE) and IMAP date-times (imap_parse.h). */
#include "imap_lex.h"
#include "imap_parse.h"
#include "rfc822.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- FETCH ---- */

bool imap_parse_date_time(const char *s, time_t *out)
{
    static const char MONTHS[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    /* "dd-Mon-yyyy hh:mm:ss +zzzz", the day possibly space-padded. */
    if (strlen(s) != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' || s[14] != ':' ||
        s[17] != ':' || s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
        return false;
    static const int DIGITS[] = {1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25};
    for (size_t i = 0; i < sizeof DIGITS / sizeof DIGITS[0]; i++)
        if (s[DIGITS[i]] < '0' || s[DIGITS[i]] > '9')
            return false;
    if (s[0] != ' ' && (s[0] < '0' || s[0] > '9'))
        return false;
    int month = -1;
    for (int m = 0; m < 12; m++)
        if (strncasecmp(s + 3, MONTHS + 3 * m, 3) == 0)
            month = m;
    if (month < 0)
        return false;
#define D2(i) ((s[i] - '0') * 10 + (s[(i) + 1] - '0'))
    struct tm tm = {0};
    tm.tm_mday = (s[0] == ' ' ? 0 : (s[0] - '0') * 10) + (s[1] - '0');
    tm.tm_mon = month;
    tm.tm_year = D2(7) * 100 + D2(9) - 1900;
    tm.tm_hour = D2(12);
    tm.tm_min = D2(15);
    tm.tm_sec = D2(18);
    int zone = (D2(22) * 60 + D2(24)) * 60;
#undef D2
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out = s[21] == '+' ? t - zone : t + zone;
    return true;
}

/* Reads the first address of an address list: (name adl mailbox host). */
static imap_tok first_address(imap_lex *l, imap_message *m)
{
    char *name = NULL, *mbox = NULL, *host = NULL;
    imap_tok t = imap_lex_string(l, &name, IMAP_STRING_MAX, true, true, false);
    if (t == IMAP_TOK_STRING || t == IMAP_TOK_NIL)
        t = imap_lex_string(l, NULL, 0, true, true, false); /* source route */
    if (t == IMAP_TOK_STRING || t == IMAP_TOK_NIL)
        t = imap_lex_string(l, &mbox, IMAP_STRING_MAX, true, true, false);
    if (t == IMAP_TOK_STRING || t == IMAP_TOK_NIL)
        t = imap_lex_string(l, &host, IMAP_STRING_MAX, true, true, false);
    if (t == IMAP_TOK_STRING || t == IMAP_TOK_NIL) {
        t = imap_lex_eat(l, ')') ? IMAP_TOK_STRING : IMAP_TOK_ERROR;
    }
    if (t == IMAP_TOK_STRING) {
        if (mbox && host) {
            size_t n = strlen(mbox) + 1 + strlen(host) + 1;
            m->from_address = malloc(n);
            if (!m->from_address)
                t = IMAP_TOK_OOM;
            else
                snprintf(m->from_address, n, "%s@%s", mbox, host);
        }
        if (name && *name && t == IMAP_TOK_STRING) {
            m->from_name = name;
            name = NULL;
        }
    }
    free(name);
    free(mbox);
    free(host);
    return t;
}

/* ENVELOPE: (date subject from sender reply-to to cc bcc in-reply-to
 * message-id); only subject and the first From address are kept. */
static imap_tok envelope(imap_lex *l, imap_message *m)
{
    if (!imap_lex_eat(l, '('))
        return IMAP_TOK_ERROR;
    /* A server may send ENVELOPE twice in one FETCH: the last one wins, and
     * what the first one set must not leak. */
    free(m->subject);
    free(m->from_address);
    free(m->from_name);
    m->subject = m->from_address = m->from_name = NULL;
    imap_tok t = imap_lex_string(l, NULL, 0, true, true, false); /* date */
    if (t == IMAP_TOK_STRING || t == IMAP_TOK_NIL)
        t = imap_lex_string(l, &m->subject, IMAP_STRING_MAX, true, true, false);
    if (t != IMAP_TOK_STRING && t != IMAP_TOK_NIL)
        return t;
    /* from: NIL or ((addr) ...) */
    if (imap_lex_eat(l, '(')) {
        if (!imap_lex_eat(l, '('))
            return IMAP_TOK_ERROR;
        t = first_address(l, m);
        while (t == IMAP_TOK_STRING && !imap_lex_peek(l, ')'))
            t = imap_lex_skip_value(l);
        if (t != IMAP_TOK_STRING)
            return t;
        l->p++;
    } else if ((t = imap_lex_string(l, NULL, 0, true, true, false)) != IMAP_TOK_NIL) {
        return t == IMAP_TOK_STRING ? IMAP_TOK_ERROR : t;
    }
    while (!imap_lex_peek(l, ')'))
        if ((t = imap_lex_skip_value(l)) != IMAP_TOK_STRING)
            return t;
    l->p++;
    return IMAP_TOK_STRING;
}

/* A fetch attribute name; section specs ("BODY[HEADER.FIELDS (A B)]") may
 * hold spaces and parentheses inside their brackets. */
static bool att_name(imap_lex *l, const char **s, size_t *n)
{
    imap_lex_skip_sp(l);
    *s = l->p;
    int bracket = 0;
    while (l->p < l->end) {
        char c = *l->p;
        if (c == '[')
            bracket = 1;
        else if (c == ']')
            bracket = 0;
        else if (!bracket && !imap_atom_char((unsigned char)c))
            break;
        else if (bracket && (c == '\r' || c == '\n' || c == '\0'))
            return false;
        l->p++;
    }
    *n = (size_t)(l->p - *s);
    return *n > 0 && !bracket;
}

#define ATT(s, n, w) ((n) == sizeof(w) - 1 && strncasecmp((s), (w), (n)) == 0)

/* One FETCH response's attributes into m (a BODY[HEADER.FIELDS ...] section
 * into *header, when header is not NULL). IMAP_TOK_STRING when it parsed to
 * the end, IMAP_TOK_LITERAL when it stopped at a literal (what came before
 * is kept). */
static imap_tok fetch_atts(imap_lex *l, imap_message *m, bool *has_uid, char **header)
{
    if (!imap_lex_eat(l, '('))
        return IMAP_TOK_ERROR;
    while (!imap_lex_peek(l, ')')) {
        const char *s;
        size_t n;
        imap_tok t = IMAP_TOK_STRING;
        if (!att_name(l, &s, &n))
            return IMAP_TOK_ERROR;
        if (ATT(s, n, "UID")) {
            if (!imap_lex_number(l, &m->uid))
                return IMAP_TOK_ERROR;
            *has_uid = true;
        } else if (ATT(s, n, "RFC822.SIZE")) {
            if (!imap_lex_number(l, &m->size))
                return IMAP_TOK_ERROR;
            m->has_size = true;
        } else if (ATT(s, n, "FLAGS")) {
            if (!imap_lex_eat(l, '('))
                return IMAP_TOK_ERROR;
            m->seen = false;
            m->has_flags = true;
            const char *f;
            size_t fn;
            while (!imap_lex_peek(l, ')')) {
                if (!imap_lex_atom(l, &f, &fn))
                    return IMAP_TOK_ERROR;
                if (fn == 5 && strncasecmp(f, "\\Seen", 5) == 0)
                    m->seen = true;
            }
            l->p++;
        } else if (ATT(s, n, "INTERNALDATE")) {
            char *d = NULL;
            t = imap_lex_string(l, &d, 64, false, false, false);
            if (t == IMAP_TOK_STRING)
                m->has_date = imap_parse_date_time(d, &m->internal_date);
            free(d);
        } else if (ATT(s, n, "ENVELOPE")) {
            t = envelope(l, m);
        } else if (header && !*header && n > 18 && strncasecmp(s, "BODY[HEADER.FIELDS", 18) == 0) {
            t = imap_lex_string(l, header, RFC822_HEAD_MAX, true, true, false);
            t = t == IMAP_TOK_NIL ? IMAP_TOK_STRING : t;
        } else {
            t = imap_lex_skip_value(l);
        }
        if (t != IMAP_TOK_STRING)
            return t;
    }
    return IMAP_TOK_STRING;
}

/* Moves the fields src has and dst lacks (a server may answer in pieces,
 * or send an unsolicited FETCH with flags only). */
static void merge(imap_message *dst, imap_message *src)
{
    if (src->has_flags) { /* the latest FLAGS are the current ones */
        dst->has_flags = true;
        dst->seen = src->seen;
    }
    if (src->has_size && !dst->has_size) {
        dst->has_size = true;
        dst->size = src->size;
    }
    if (src->has_date && !dst->has_date) {
        dst->has_date = true;
        dst->internal_date = src->internal_date;
    }
#define TAKE(f)                                                                                    \
    if (src->f && !dst->f) {                                                                       \
        dst->f = src->f;                                                                           \
        src->f = NULL;                                                                             \
    }
    TAKE(subject)
    TAKE(from_name)
    TAKE(from_address)
#undef TAKE
}

typedef struct {
    const uint32_t *uids;
    size_t n;
    imap_message *out;
    bool raw;
    bool oom;
} fetch_ctx;

/* Subject and From of a fetched header section replace the envelope's: they
 * come decoded (RFC 2047) and whole. */
static HRESULT apply_header(imap_message *m, const char *h)
{
    size_t len = strlen(h);
    char *subject = NULL, *from = NULL, *name = NULL, *addr = NULL;
    HRESULT hr = rfc822_header(h, len, "Subject", &subject);
    if (HR_SUCCEEDED(hr))
        hr = rfc822_header(h, len, "From", &from);
    if (HR_SUCCEEDED(hr) && from)
        hr = rfc822_mailbox(from, &name, &addr);
    if (HR_SUCCEEDED(hr)) {
        free(m->subject);
        m->subject = subject;
        subject = NULL;
        if (from) {
            free(m->from_name);
            free(m->from_address);
            m->from_name = name;
            m->from_address = addr;
            name = addr = NULL;
        }
    }
    free(subject);
    free(from);
    free(name);
    free(addr);
    return hr;
}

static bool fetch_line(imap_lex *l, void *vctx)
{
    fetch_ctx *c = vctx;
    uint32_t seq;
    if (!imap_lex_number(l, &seq) || !imap_lex_atom_is(l, "FETCH"))
        return true;
    imap_message m;
    memset(&m, 0, sizeof m);
    bool has_uid = false;
    char *header = NULL;
    imap_tok t = fetch_atts(l, &m, &has_uid, c->raw ? &header : NULL);
    if (t != IMAP_TOK_OOM && t != IMAP_TOK_ERROR && header &&
        apply_header(&m, header) == MAPI_E_NOT_ENOUGH_MEMORY)
        t = IMAP_TOK_OOM;
    free(header);
    if (t == IMAP_TOK_OOM) {
        c->oom = true;
    } else if (t != IMAP_TOK_ERROR && has_uid) {
        for (size_t i = 0; i < c->n; i++) {
            if (c->uids[i] == m.uid) {
                merge(&c->out[i], &m);
                c->out[i].uid = m.uid;
                c->out[i].answered = true;
                break;
            }
        }
    }
    imap_message_clear(&m);
    return !c->oom;
}

static HRESULT parse_fetch(const char *buf, size_t len, bool raw, const uint32_t *uids, size_t n,
                           imap_message *out)
{
    for (size_t i = 0; i < n; i++)
        memset(&out[i], 0, sizeof out[i]);
    fetch_ctx c = {uids, n, out, raw, false};
    if (raw)
        imap_each_response(buf, len, fetch_line, &c);
    else
        imap_each_untagged(buf, len, fetch_line, &c);
    if (c.oom) {
        imap_messages_clear(out, n);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        imap_utf8_sanitize(out[i].subject);
        imap_utf8_sanitize(out[i].from_name);
        imap_utf8_sanitize(out[i].from_address);
    }
    return S_OK;
}

HRESULT imap_parse_fetch(const char *buf, size_t len, uint32_t uid, imap_message *out)
{
    HRESULT hr = parse_fetch(buf, len, false, &uid, 1, out);
    if (HR_SUCCEEDED(hr) && !out->answered) {
        imap_message_clear(out);
        hr = MAPI_E_NOT_FOUND;
    }
    return hr;
}

HRESULT imap_parse_fetch_raw(const char *buf, size_t len, const uint32_t *uids, size_t n,
                             imap_message *out)
{
    return parse_fetch(buf, len, true, uids, n, out);
}

void imap_messages_clear(imap_message *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        imap_message_clear(&m[i]);
}

void imap_message_clear(imap_message *m)
{
    free(m->subject);
    free(m->from_name);
    free(m->from_address);
    memset(m, 0, sizeof *m);
}
