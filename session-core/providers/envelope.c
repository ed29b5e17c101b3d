/* envelope.c - the envelope of a queued RFC 5322 message (see envelope.h).
 */
#include "envelope.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A growable byte string, kept NUL-terminated. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static bool sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (n >= SIZE_MAX / 2 - b->len)
        return false;
    /* !b->p: p is NULL only while cap is 0, which the size test covers
     * already; said outright so that gcc -fanalyzer, which loses that
     * invariant across loop turns, sees no memcpy to NULL below. */
    if (!b->p || b->len + n + 1 > b->cap) {
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
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
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
    snprintf(why, whylen, "malformed address \"%s\"", safe);
}

/* An address we are willing to hand to RCPT TO / MAIL FROM: no control
 * characters anywhere (they would end the SMTP command), no space or
 * specials outside a quoted local part, one '@' with text on both sides. */
static bool valid_address(const char *a, size_t n)
{
    if (n == 0 || n > ENVELOPE_MAX_ADDRESS)
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
    if (out->n >= ENVELOPE_MAX_RECIPIENTS) {
        snprintf(why, whylen, "more than %d recipients", ENVELOPE_MAX_RECIPIENTS);
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
                snprintf(why, whylen, "unbalanced %s in an address list",
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
                snprintf(why, whylen, "comments nested too deep");
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
                snprintf(why, whylen, "'<' inside an angle address");
                hr = MAPI_E_INVALID_PARAMETER;
            }
            in_angle = has_angle = true;
            ang.len = 0;
            break;
        case '>':
            if (!in_angle) {
                snprintf(why, whylen, "'>' without '<' in an address list");
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

HRESULT envelope_parse(const char *msg, size_t len, envelope *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    sbuf data = {0}, value = {0};
    addr_list rcpt = {0}, from = {0}, spooled = {0};
    sbuf outbox = {0};
    bool delete_after = false, report = false;
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
        /* The spooler's own fields (X-Mapigw-*) are never sent. */
        bool is_gw = nlen > 9 && strncasecmp(msg + pos, "x-mapigw-", 9) == 0;
        bool is_gw_rcpt = name_is(msg, pos, nlen, "x-mapigw-rcpt");
        bool is_gw_outbox = name_is(msg, pos, nlen, "x-mapigw-outbox");
        bool is_gw_options = name_is(msg, pos, nlen, "x-mapigw-options");
        /* One field: this line and every folded line after it, unfolded into
         * value (the CRLF goes, the leading white space stays). */
        value.len = 0;
        size_t vstart = pos + nlen + 1;
        for (;;) {
            ok = ok && sbuf_add(&value, msg + vstart, eol - vstart);
            /* Bcc must not reach the other recipients: it is not sent. */
            if (!is_bcc && !is_gw)
                ok = ok && sbuf_add(&data, msg + pos, eol - pos) && sbuf_add(&data, "\r\n", 2);
            pos = next;
            if (pos >= len || (msg[pos] != ' ' && msg[pos] != '\t'))
                break;
            next_line(msg, len, pos, &eol, &next);
            vstart = pos;
        }
        if (!ok)
            break;
        if (is_gw_rcpt && value.p)
            hr = parse_list(value.p, value.len, &spooled, why, whylen);
        else if (is_gw_outbox && value.p && !outbox.p) {
            size_t b = 0;
            while (b < value.len && (value.p[b] == ' ' || value.p[b] == '\t'))
                b++;
            ok = sbuf_add(&outbox, value.p + b, value.len - b) && sbuf_addc(&outbox, '\0');
        } else if (is_gw_options && value.p) {
            delete_after = delete_after || memmem(value.p, value.len, "delete", 6) != NULL;
            report = report || memmem(value.p, value.len, "delivery-report", 15) != NULL;
        } else if (is_rcpt && value.p)
            hr = parse_list(value.p, value.len, &rcpt, why, whylen);
        else if (is_from && !from.n && value.p) {
            /* A malformed From is no reason to hold the message: the
             * transport's own "from" setting may stand in for it. */
            char ignored[256];
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
    /* A message the spooler queued names its recipients itself: those this
     * transport is to take, which may be fewer than To, Cc and Bcc hold. */
    if (spooled.n) {
        addr_list_free(&rcpt);
        rcpt = spooled;
        spooled = (addr_list){0};
    }
    addr_list_free(&spooled);
    if (hr == S_OK && outbox.p && strlen(outbox.p) > 0) {
        out->outbox = outbox.p;
        outbox.p = NULL;
    }
    free(outbox.p);
    out->delete_after = delete_after;
    out->delivery_report = report;
    if (hr != S_OK) {
        if (hr == MAPI_E_NOT_ENOUGH_MEMORY)
            snprintf(why, whylen, "out of memory");
        free(data.p);
        free(out->from);
        free(out->outbox);
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

void envelope_free(envelope *e)
{
    if (!e)
        return;
    free(e->from);
    free(e->outbox);
    addr_list rcpt = {e->rcpt, e->rcpt_count, e->rcpt_count};
    addr_list_free(&rcpt);
    free(e->data);
    memset(e, 0, sizeof *e);
}
