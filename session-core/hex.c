#include "hex.h"

#include <stdlib.h>

static const char HEX_DIGITS[] = "0123456789ABCDEF";

void hex_encode(const uint8_t *data, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = HEX_DIGITS[data[i] >> 4];
        out[2 * i + 1] = HEX_DIGITS[data[i] & 0xF];
    }
    out[2 * len] = '\0';
}

char *hex_encode_alloc(const uint8_t *data, size_t len)
{
    /* 2*len+1 must not wrap: a value that large cannot be a MAPI binary. */
    if (len > (SIZE_MAX - 1) / 2)
        return NULL;
    char *out = malloc(2 * len + 1);
    if (!out)
        return NULL;
    hex_encode(data, len, out);
    return out;
}

/* -1 for anything that is not a hex digit; no locale, no isxdigit(). */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool hex_decode(const char *s, size_t slen, uint8_t *out, size_t outlen)
{
    if (!s || outlen > SIZE_MAX / 2 || slen != 2 * outlen)
        return false;
    for (size_t i = 0; i < outlen; i++) {
        int hi = hex_value(s[2 * i]);
        int lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}
