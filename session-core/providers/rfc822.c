/* rfc822.c - header fields from the start of a message file (see rfc822.h).
 *
 * Every buffer is sized from the input before it is filled (decoding never
 * grows a byte into more than 3), so no step can run past its end whatever
 * the file holds.
 */
#include "rfc822.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

HRESULT rfc822_read_head(int fd, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    char *b = malloc(RFC822_HEAD_MAX + 1);
    if (!b)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    size_t n = 0;
    while (n < RFC822_HEAD_MAX) {
        ssize_t got = read(fd, b + n, RFC822_HEAD_MAX - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            free(b);
            return MAPI_E_CALL_FAILED;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return S_OK;
}

static bool is_wsp(char c) { return c == ' ' || c == '\t'; }

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Byte-wise ASCII case-insensitive equality (no locale, NULs compare as bytes). */
static bool same_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

/* ---- RFC 2047 encoded words -------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = ascii_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Appends one decoded byte; ISO-8859-1 bytes become their UTF-8 form (at most
 * 2 bytes: the caller's buffer allows for it). */
static void emit(char *out, size_t *n, uint8_t b, bool latin1)
{
    if (latin1 && b >= 0x80) {
        out[(*n)++] = (char)(0xC0 | b >> 6);
        out[(*n)++] = (char)(0x80 | (b & 0x3F));
    } else {
        out[(*n)++] = (char)b;
    }
}

/* Whether charset (the label up to an RFC 2231 "*language") is one we decode. */
static bool known_charset(const char *cs, size_t len, bool *latin1)
{
    const char *star = memchr(cs, '*', len);
    if (star)
        len = (size_t)(star - cs);
    *latin1 = len == 10 && same_nocase(cs, "iso-8859-1", 10);
    return *latin1 || (len == 5 && same_nocase(cs, "utf-8", 5)) ||
           (len == 8 && same_nocase(cs, "us-ascii", 8));
}

/* Decodes the encoded word "=?cs?X?text?=" at s into out; returns the input
 * length it spans, or 0 (out unchanged) when s is not one we can decode. */
static size_t encoded_word(const char *s, const char *end, char *out, size_t *n)
{
    const char *cs = s + 2, *p = cs;
    while (p < end && *p != '?' && !is_wsp(*p))
        p++;
    bool latin1;
    if (p == cs || end - p < 4 || *p != '?' || p[2] != '?' ||
        !known_charset(cs, (size_t)(p - cs), &latin1))
        return 0;
    char enc = ascii_lower(p[1]);
    const char *text = p + 3, *t = text;
    while (t < end && *t != '?' && !is_wsp(*t))
        t++;
    if (end - t < 2 || t[0] != '?' || t[1] != '=' || (enc != 'b' && enc != 'q'))
        return 0;

    size_t start = *n;
    if (enc == 'q') {
        for (const char *q = text; q < t; q++) {
            if (*q == '_') {
                emit(out, n, ' ', latin1);
            } else if (*q == '=') {
                int hi = t - q > 2 ? hex_value(q[1]) : -1, lo = hi >= 0 ? hex_value(q[2]) : -1;
                if (lo < 0)
                    goto bad;
                emit(out, n, (uint8_t)(hi << 4 | lo), latin1);
                q += 2;
            } else {
                emit(out, n, (uint8_t)*q, latin1);
            }
        }
    } else {
        uint32_t bits = 0;
        int nbits = 0;
        for (const char *q = text; q < t && *q != '='; q++) {
            int v = base64_value(*q);
            if (v < 0)
                goto bad;
            bits = (bits << 6 | (uint32_t)v) & 0xFFFFFF;
            nbits += 6;
            if (nbits >= 8) {
                nbits -= 8;
                emit(out, n, (uint8_t)(bits >> nbits), latin1);
            }
        }
    }
    return (size_t)(t + 2 - s);
bad:
    *n = start;
    return 0;
}

/* Decodes the encoded words of raw[0..len) into out (room for 2 * len bytes:
 * nothing decodes longer than it is written except ISO-8859-1, which at most
 * doubles). White space between two encoded words is dropped (RFC 2047 6.2). */
static size_t decode_words(const char *raw, size_t len, char *out)
{
    const char *p = raw, *end = raw + len;
    size_t n = 0, after_word = SIZE_MAX; /* out position after the last word */
    while (p < end) {
        size_t before = n;
        size_t used =
            end - p >= 2 && p[0] == '=' && p[1] == '?' ? encoded_word(p, end, out, &n) : 0;
        if (used == 0) {
            out[n++] = *p++;
            continue;
        }
        if (after_word != SIZE_MAX) {
            bool gap_is_space = true;
            for (size_t i = after_word; i < before; i++)
                gap_is_space &= is_wsp(out[i]);
            if (gap_is_space) {
                memmove(out + after_word, out + before, n - before);
                n -= before - after_word;
            }
        }
        after_word = n;
        p += used;
    }
    return n;
}

/* ---- UTF-8 clean-up ----------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_sequence(const uint8_t *s, size_t left)
{
    uint8_t c = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (left < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

bool rfc822_is_utf8(const char *s, size_t len)
{
    const uint8_t *u = (const uint8_t *)s;
    for (size_t i = 0; i < len;) {
        size_t seq = u[i] < 0x80 ? (u[i] != 0) : utf8_sequence(u + i, len - i);
        if (seq == 0)
            return false;
        i += seq;
    }
    return true;
}

/* in[0..len) as trimmed, valid UTF-8 without control characters (a tab is a
 * space); a malloc'd string or NULL when out of memory. */
static char *clean_utf8(const char *in, size_t len)
{
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    const uint8_t *s = (const uint8_t *)in;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            if (s[i] == '\t')
                out[n++] = ' ';
            else if (s[i] >= 0x20 && s[i] != 0x7F) /* DEL is a control too */
                out[n++] = (char)s[i];
            i++;
            continue;
        }
        size_t seq = utf8_sequence(s + i, len - i);
        if (seq == 0) {
            memcpy(out + n, "\xEF\xBF\xBD", 3); /* U+FFFD for each bad byte */
            n += 3;
            i++;
        } else {
            memcpy(out + n, s + i, seq);
            n += seq;
            i += seq;
        }
    }
    size_t first = 0;
    while (first < n && out[first] == ' ')
        first++;
    while (n > first && out[n - 1] == ' ')
        n--;
    memmove(out, out + first, n - first);
    out[n - first] = '\0';
    return out;
}

/* ---- header fields ------------------------------------------------------ */

HRESULT rfc822_header(const char *buf, size_t len, const char *name, char **out)
{
    *out = NULL;
    size_t name_len = strlen(name);
    const char *p = buf, *end = buf + len;
    char *raw = NULL; /* the field's unfolded value; never longer than len */
    size_t raw_len = 0;
    bool in_field = false;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end, *line_end = eol ? eol : end;
        if (line_end > p && line_end[-1] == '\r')
            line_end--;
        if (line_end == p)
            break; /* the empty line that ends the header section */
        if (is_wsp(*p)) {
            /* Unfolding (RFC 5322 2.2.3) drops only the line break: the
             * continuation's leading white space stays. */
            if (in_field) {
                memcpy(raw + raw_len, p, (size_t)(line_end - p));
                raw_len += (size_t)(line_end - p);
            }
        } else if (raw) {
            break; /* the field we want is complete */
        } else {
            const char *colon = memchr(p, ':', (size_t)(line_end - p)), *name_end = colon;
            while (name_end && name_end > p && is_wsp(name_end[-1]))
                name_end--; /* obsolete syntax allows "Subject :" */
            if (colon && (size_t)(name_end - p) == name_len && same_nocase(p, name, name_len)) {
                raw = malloc(len + 1);
                if (!raw)
                    return MAPI_E_NOT_ENOUGH_MEMORY;
                raw_len = (size_t)(line_end - colon - 1);
                memcpy(raw, colon + 1, raw_len);
                in_field = true;
            }
        }
        p = next;
    }
    if (!raw)
        return S_OK;
    char *decoded = malloc(raw_len * 2 + 1);
    if (!decoded) {
        free(raw);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    size_t decoded_len = decode_words(raw, raw_len, decoded);
    free(raw);
    *out = clean_utf8(decoded, decoded_len);
    free(decoded);
    return *out ? S_OK : MAPI_E_NOT_ENOUGH_MEMORY;
}

/* ---- mailboxes ---------------------------------------------------------- */

/* [a, b) trimmed, with quotes removed and backslash escapes resolved; NULL in
 * *out when nothing is left. false when out of memory. */
static bool unquote_dup(const char *a, const char *b, char **out)
{
    *out = NULL;
    while (a < b && is_wsp(*a))
        a++;
    while (b > a && is_wsp(b[-1]))
        b--;
    char *s = malloc((size_t)(b - a) + 1);
    if (!s)
        return false;
    size_t n = 0;
    for (const char *p = a; p < b; p++) {
        if (*p == '\\' && p + 1 < b)
            s[n++] = *++p;
        else if (*p != '"')
            s[n++] = *p;
    }
    while (n > 0 && is_wsp(s[n - 1]))
        n--;
    s[n] = '\0';
    if (n == 0)
        free(s);
    else
        *out = s;
    return true;
}

/* The first byte of value equal to one of stop outside a quoted string, or
 * the terminating NUL. */
static const char *find_unquoted(const char *value, const char *stop)
{
    bool quoted = false;
    const char *p = value;
    for (; *p; p++) {
        if (quoted && *p == '\\' && p[1])
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (!quoted && strchr(stop, *p))
            break;
    }
    return p;
}

HRESULT rfc822_mailbox(const char *value, char **display, char **address)
{
    *display = NULL;
    *address = NULL;
    const char *lt = find_unquoted(value, "<,");
    bool ok;
    if (*lt == '<') {
        const char *gt = strchr(lt + 1, '>');
        if (!gt)
            gt = lt + strlen(lt);
        ok = unquote_dup(lt + 1, gt, address) && unquote_dup(value, lt, display);
    } else {
        /* "a@b (Name)": the comment is the only name there is. */
        const char *stop = find_unquoted(value, "(,");
        ok = unquote_dup(value, stop, address);
        if (ok && *stop == '(') {
            const char *close = strchr(stop + 1, ')');
            ok = unquote_dup(stop + 1, close ? close : stop + strlen(stop), display);
        }
    }
    if (ok)
        return S_OK;
    free(*display);
    free(*address);
    *display = *address = NULL;
    return MAPI_E_NOT_ENOUGH_MEMORY;
}
