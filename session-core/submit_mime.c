/* submit_mime.c - see submit_mime.h. */
#include "submit_mime.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void mime_buf_free(mime_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static bool grow(mime_buf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void add_n(mime_buf *b, const char *s, size_t n)
{
    if (!grow(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void mime_add(mime_buf *b, const char *s) { add_n(b, s, strlen(s)); }

void mime_addf(mime_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = true; /* callers only format short fields */
        return;
    }
    add_n(b, tmp, (size_t)n);
}

/* Whether s is valid UTF-8 (no overlongs, no surrogates). */
static bool utf8_ok(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s;
        size_t n = c < 0x80             ? 0
                   : (c & 0xE0) == 0xC0 ? 1
                   : (c & 0xF0) == 0xE0 ? 2
                   : (c & 0xF8) == 0xF0 ? 3
                                        : 9;
        if (n == 9 || (n == 1 && c < 0xC2) || (n == 3 && c > 0xF4))
            return false;
        for (size_t i = 1; i <= n; i++)
            if ((s[i] & 0xC0) != 0x80)
                return false;
        if (n == 2 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)))
            return false;
        if (n == 3 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)))
            return false;
        s += n + 1;
    }
    return true;
}

bool mime_header_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return false;
    return utf8_ok((const unsigned char *)s);
}

bool mime_smtp_address(const char *a)
{
    size_t n = strlen(a);
    const char *at = strrchr(a, '@');
    if (n < 3 || n > 320 || !at || at == a || !at[1] || at - a > 64)
        return false;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p <= 0x20 || *p >= 0x7F || strchr("<>()[],;:\\\"", *p))
            return false;
    return true;
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* RFC 2047 B words of s, each at most 75 characters, separated by CRLF SP;
 * never splits a UTF-8 sequence. */
static void add_encoded_words(mime_buf *b, const char *s)
{
    size_t n = strlen(s), pos = 0;
    bool first = true;
    while (pos < n) {
        size_t take = n - pos > 45 ? 45 : n - pos; /* 45 bytes -> 60 base64 + 12 = 72 */
        while (take < n - pos && take > 0 && ((unsigned char)s[pos + take] & 0xC0) == 0x80)
            take--;
        char enc[64];
        sodium_bin2base64(enc, sizeof enc, (const unsigned char *)s + pos, take,
                          sodium_base64_VARIANT_ORIGINAL);
        mime_add(b, first ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?");
        mime_add(b, enc);
        mime_add(b, "?=");
        first = false;
        pos += take;
    }
}

void mime_add_unstructured(mime_buf *b, const char *value)
{
    if (is_ascii(value) && strlen(value) <= 900)
        mime_add(b, value);
    else
        add_encoded_words(b, value);
}

void mime_add_mailbox(mime_buf *b, const char *display, const char *addr)
{
    if (display && *display) {
        if (!is_ascii(display) || strlen(display) > 200) {
            add_encoded_words(b, display);
        } else {
            mime_add(b, "\"");
            for (const char *p = display; *p; p++) {
                if (*p == '"' || *p == '\\')
                    add_n(b, "\\", 1);
                add_n(b, p, 1);
            }
            mime_add(b, "\"");
        }
        mime_add(b, " ");
    }
    mime_add(b, "<");
    mime_add(b, addr);
    mime_add(b, ">");
}

void mime_add_qp(mime_buf *b, const char *body)
{
    static const char HEX[] = "0123456789ABCDEF";
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)body; *p; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue; /* CRLF: the LF ends the line */
        if (*p == '\n') {
            mime_add(b, "\r\n");
            col = 0;
            continue;
        }
        char enc[4];
        size_t n;
        bool at_eol = p[1] == '\0' || p[1] == '\n' || (p[1] == '\r' && p[2] == '\n');
        /* "." alone at a line's start is left to the SMTP client's
         * dot-stuffing; '=' and bytes outside printable ASCII are encoded, so
         * is white space that ends a line. */
        if ((*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !at_eol)) {
            enc[0] = (char)*p;
            n = 1;
        } else {
            enc[0] = '=';
            enc[1] = HEX[*p >> 4];
            enc[2] = HEX[*p & 15];
            n = 3;
        }
        if (col + n > 75) {
            mime_add(b, "=\r\n");
            col = 0;
        }
        add_n(b, enc, n);
        col += n;
    }
    if (col)
        mime_add(b, "\r\n");
}

void mime_add_date(mime_buf *b)
{
    time_t now = time(NULL);
    struct tm tm;
    char buf[64];
    if (!gmtime_r(&now, &tm) || !strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm)) {
        b->oom = true;
        return;
    }
    mime_add(b, buf);
}

void mime_add_base64(mime_buf *b, const uint8_t *data, size_t len)
{
    /* 57 bytes -> one 76-character line (RFC 2045 6.8). */
    for (size_t pos = 0; pos < len; pos += 57) {
        size_t n = len - pos < 57 ? len - pos : 57;
        char line[80];
        sodium_bin2base64(line, sizeof line, data + pos, n, sodium_base64_VARIANT_ORIGINAL);
        mime_add(b, line);
        mime_add(b, "\r\n");
    }
}

void mime_boundary(char out[MIME_BOUNDARY_LEN])
{
    uint8_t rnd[12];
    randombytes_buf(rnd, sizeof rnd);
    memcpy(out, "=_mapigw_", 9);
    sodium_bin2hex(out + 9, MIME_BOUNDARY_LEN - 9, rnd, sizeof rnd);
}

bool mime_content_type_ok(const char *t)
{
    static const char TOKEN[] = "!#$&^_.+-";
    size_t n = strlen(t), slash = 0;
    if (n == 0 || n > 127)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '/' && i > 0 && i + 1 < n && !slash)
            slash = i;
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   strchr(TOKEN, c)))
            return false;
    }
    return slash != 0;
}

void mime_add_filename_params(mime_buf *b, const char *name)
{
    bool plain = true;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p >= 0x7F || *p == '"' || *p == '\\')
            plain = false;
    if (plain) {
        mime_addf(b, "; filename=\"%.255s\"", name);
        return;
    }
    /* RFC 2231: UTF-8, percent-encoded. */
    static const char HEX[] = "0123456789ABCDEF";
    mime_add(b, "; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            char c[2] = {(char)*p, 0};
            mime_add(b, c);
        } else {
            char e[4] = {'%', HEX[*p >> 4], HEX[*p & 15], 0};
            mime_add(b, e);
        }
    }
}
