/* imap_mutf7.c - IMAP mailbox names from modified UTF-7 (RFC 3501 5.1.3) to
 * UTF-8 for display (imap_parse.h).
 *
 * Strict, because a name that is not what the RFC allows is better shown as
 * the server sent it than as a guess: printable ASCII but '&' stands for
 * itself, "&-" is '&', and "&" + modified base64 (',' for '/') of UTF-16BE +
 * "-" is anything else. Refused: any byte outside 0x20..0x7e, an unterminated
 * or empty shift, a character outside the base64 set, more than five
 * left-over bits or left-over bits that are not zero, a lone or reversed
 * surrogate, and an encoded printable ASCII character or NUL (never written
 * by a conforming encoder; NUL would end the C string).
 */
#include "imap_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == ',')
        return 63;
    return -1;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the base64 run in [p, end) (between '&' and '-') into out.
 * Returns the bytes written, or (size_t)-1 when it is not valid. */
static size_t decode_shift(const char *p, const char *end, char *out)
{
    uint32_t bits = 0, high = 0;
    int nbits = 0;
    size_t w = 0;
    for (; p < end; p++) {
        int v = b64_value(*p);
        if (v < 0)
            return (size_t)-1;
        bits = (bits << 6 | (uint32_t)v) & 0xFFFFFF;
        nbits += 6;
        if (nbits < 16)
            continue;
        nbits -= 16;
        uint32_t unit = bits >> nbits & 0xFFFF;
        if (high) {
            if (unit < 0xDC00 || unit > 0xDFFF)
                return (size_t)-1; /* a high surrogate not followed by a low one */
            w += put_utf8(out + w, 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00));
            high = 0;
        } else if (unit >= 0xD800 && unit <= 0xDBFF) {
            high = unit;
        } else if ((unit >= 0xDC00 && unit <= 0xDFFF) || unit == 0 ||
                   (unit >= 0x20 && unit <= 0x7E)) {
            return (size_t)-1; /* lone low surrogate, NUL, or ASCII that stands for itself */
        } else {
            w += put_utf8(out + w, unit);
        }
    }
    /* A conforming encoder pads the last unit with fewer than six zero bits. */
    if (high || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0 || w == 0)
        return (size_t)-1;
    return w;
}

HRESULT imap_mutf7_decode(const char *name, char **out)
{
    *out = NULL;
    size_t len = strlen(name);
    /* Three base64 characters make at most one 3-byte character, a shift
     * of k characters at most k UTF-8 bytes plus framing: 2 * len + 1 is
     * room enough with margin. */
    char *buf = malloc(2 * len + 1);
    if (!buf)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    size_t w = 0;
    for (const char *p = name; *p;) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c > 0x7E)
            goto invalid;
        if (c != '&') {
            buf[w++] = (char)c;
            p++;
            continue;
        }
        const char *end = strchr(p + 1, '-');
        if (!end)
            goto invalid;
        if (end == p + 1) {
            buf[w++] = '&';
        } else {
            size_t n = decode_shift(p + 1, end, buf + w);
            if (n == (size_t)-1)
                goto invalid;
            w += n;
        }
        p = end + 1;
    }
    buf[w] = '\0';
    *out = buf;
    return S_OK;

invalid:
    free(buf);
    return MAPI_E_INVALID_PARAMETER;
}
