/* fuzz_imap.c - the IMAP answer readers (session-core/providers/imap_parse.h): LIST,
 * STATUS, FETCH (line and raw forms), SEARCH, date-time, quoting, the
 * UTF-8 clean-up and the modified UTF-7 decoding of LIST names, on whatever
 * a hostile server could send.
 *
 * Input: a selector byte, then the server's bytes. For FETCH the first four
 * bytes after the selector are the UID asked for (raw: up to four UIDs).
 * Properties, as imap_parse.h promises: every string handed back is valid
 * UTF-8 without control characters, names are at most IMAP_NAME_MAX
 * bytes, strings at most IMAP_STRING_MAX, SEARCH UIDs strictly decreasing and
 * non-zero, imap_quote's output a well-formed quoted string.
 */
#include "fuzz_common.h"

#include "../../session-core/providers/imap_parse.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void check_string(const char *what, const char *s, size_t max)
{
    if (!s)
        return;
    size_t len = strlen(s);
    if (len > max)
        fz_fail("%s: %zu bytes, more than %zu", what, len, max);
    if (!fz_utf8_valid(s, len, false))
        fz_fail("%s: not valid UTF-8: \"%s\"", what, s);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            fz_fail("%s: control character 0x%02X", what, (unsigned char)s[i]);
}

static void check_message(const imap_message *m)
{
    check_string("subject", m->subject, IMAP_STRING_MAX);
    check_string("from_name", m->from_name, IMAP_STRING_MAX);
    check_string("from_address", m->from_address, IMAP_STRING_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0] % 8;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    /* A heap copy of exactly len bytes, so ASan sees any read past it. */
    char *exact = malloc(len ? len : 1);
    if (!exact)
        abort();
    if (len)
        memcpy(exact, buf, len);

    switch (sel) {
    case 0: {
        imap_list_entry *e = NULL;
        size_t n = 0;
        if (imap_parse_list(exact, len, &e, &n) == S_OK) {
            if (n > IMAP_LIST_MAX)
                fz_fail("LIST: %zu entries", n);
            for (size_t i = 0; i < n; i++) {
                if (!e[i].name || strlen(e[i].name) > IMAP_NAME_MAX)
                    fz_fail("LIST: entry %zu: no name or too long", i);
                /* The display decoding of the name (modified UTF-7): strict
                 * UTF-8 out, or refused. */
                char *shown = NULL;
                HRESULT hr = imap_mutf7_decode(e[i].name, &shown);
                if (hr == S_OK && !fz_utf8_valid(shown, strlen(shown), false))
                    fz_fail("LIST: entry %zu: decoded name not valid UTF-8", i);
                if (hr != S_OK &&
                    (shown || (hr != MAPI_E_INVALID_PARAMETER && hr != MAPI_E_NOT_ENOUGH_MEMORY)))
                    fz_fail("LIST: entry %zu: decoding failed badly", i);
                free(shown);
            }
            imap_list_free(e, n);
        }
        break;
    }
    case 1: {
        uint32_t messages = 0, unseen = 0;
        (void)imap_parse_status(exact, len, &messages, &unseen);
        break;
    }
    case 2: {
        if (len < 4)
            break;
        imap_message m;
        memset(&m, 0, sizeof m);
        if (imap_parse_fetch(exact + 4, len - 4, u32(data + 1), &m) == S_OK)
            check_message(&m);
        imap_message_clear(&m);
        break;
    }
    case 3: {
        if (len < 1)
            break;
        size_t n = (size_t)(data[1] % 4) + 1;
        if (len < 1 + 4 * n)
            break;
        uint32_t uids[4];
        for (size_t i = 0; i < n; i++)
            uids[i] = u32(data + 2 + 4 * i);
        imap_message m[4];
        memset(m, 0, sizeof m);
        if (imap_parse_fetch_raw(exact + 1 + 4 * n, len - 1 - 4 * n, uids, n, m) == S_OK)
            for (size_t i = 0; i < n; i++)
                check_message(&m[i]);
        imap_messages_clear(m, n);
        break;
    }
    case 4: {
        uint32_t *uids = NULL;
        size_t n = 0;
        if (imap_parse_search(exact, len, &uids, &n) == S_OK) {
            if (n > IMAP_SEARCH_MAX)
                fz_fail("SEARCH: %zu uids", n);
            for (size_t i = 0; i < n; i++)
                if (uids[i] == 0 || (i && uids[i] >= uids[i - 1]))
                    fz_fail("SEARCH: uid %zu out of order or zero", i);
            free(uids);
        }
        break;
    }
    case 5: {
        char *s = fz_strndup(data + 1, len);
        time_t t;
        (void)imap_parse_date_time(s, &t);
        free(s);
        break;
    }
    case 6: {
        if (len < 1)
            break;
        size_t outlen = data[1];
        char *name = fz_strndup(data + 2, len - 1);
        char *out = malloc(outlen ? outlen : 1);
        if (!out)
            abort();
        if (imap_quote(name, out, outlen)) {
            size_t ol = strnlen(out, outlen);
            if (ol == outlen)
                fz_fail("imap_quote: no NUL within %zu bytes", outlen);
            if (ol < 2 || out[0] != '"' || out[ol - 1] != '"')
                fz_fail("imap_quote: not a quoted string: %s", out);
            for (size_t i = 1; i + 1 < ol; i++) {
                unsigned char c = (unsigned char)out[i];
                if (c < 0x20 || c >= 0x7f)
                    fz_fail("imap_quote: byte 0x%02X in a quoted string", c);
                if (c == '\\') {
                    if (i + 2 >= ol || (out[i + 1] != '\\' && out[i + 1] != '"'))
                        fz_fail("imap_quote: a bad escape in %s", out);
                    i++;
                } else if (c == '"') {
                    fz_fail("imap_quote: an unescaped quote in %s", out);
                }
            }
        }
        free(out);
        free(name);
        break;
    }
    case 7: {
        char *s = fz_strndup(data + 1, len);
        imap_utf8_sanitize(s);
        check_string("imap_utf8_sanitize", s, len);
        free(s);
        break;
    }
    }
    free(exact);
    return 0;
}
