/* fuzz_message.c - RFC 5322 messages from nobody vetted: the transport's
 * envelope (session-core/providers/envelope.h) and the summary's header reading
 * (session-core/providers/rfc822.h).
 *
 * Input: a selector byte, then the message.
 *   selector % 3: 0 envelope_parse; 1 rfc822_header for a field chosen by the
 *   next byte, then rfc822_mailbox on its value; 2 rfc822_is_utf8 against an
 *   independent validator.
 * Properties: the envelope's data has CRLF line ends only, at most
 * ENVELOPE_MAX_RECIPIENTS recipients, no duplicate (case-insensitive) and
 * none longer than ENVELOPE_MAX_ADDRESS; a failure leaves it empty and says
 * why. rfc822 results are valid UTF-8 without NUL bytes (rfc822.h).
 */
#include "fuzz_common.h"

#include "../../session-core/providers/envelope.h"
#include "../../session-core/providers/rfc822.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_utf8(const char *what, const char *s)
{
    if (s && !fz_utf8_valid(s, strlen(s), false))
        fz_fail("%s: not valid UTF-8: \"%s\"", what, s);
}

static void check_envelope(const char *msg, size_t len)
{
    envelope e;
    char why[256] = "";
    HRESULT hr = envelope_parse(msg, len, &e, why, sizeof why);
    if (hr == S_OK) {
        if (e.rcpt_count > ENVELOPE_MAX_RECIPIENTS)
            fz_fail("envelope: %zu recipients", e.rcpt_count);
        for (size_t i = 0; i < e.rcpt_count; i++) {
            if (!e.rcpt[i] || strlen(e.rcpt[i]) > ENVELOPE_MAX_ADDRESS)
                fz_fail("envelope: recipient %zu missing or too long", i);
            for (size_t j = 0; j < i; j++)
                if (strcasecmp(e.rcpt[i], e.rcpt[j]) == 0)
                    fz_fail("envelope: recipient %s twice", e.rcpt[i]);
        }
        if (e.from && strlen(e.from) > ENVELOPE_MAX_ADDRESS)
            fz_fail("envelope: sender too long");
        if (e.len && !e.data)
            fz_fail("envelope: len without data");
        for (size_t i = 0; i < e.len; i++)
            if (e.data[i] == '\n' && (i == 0 || e.data[i - 1] != '\r'))
                fz_fail("envelope: a bare LF at byte %zu of the data", i);
        envelope_free(&e);
    } else {
        if (e.from || e.rcpt || e.data || e.rcpt_count || e.len)
            fz_fail("envelope: failure 0x%08X left data behind", (unsigned)hr);
        if (hr == MAPI_E_INVALID_PARAMETER && !why[0])
            fz_fail("envelope: refused without a reason");
    }
}

static void header(unsigned which, const char *buf, size_t len)
{
    static const char *const NAMES[] = {"Subject", "From", "Message-ID", "To", "Date", "Sender"};
    char *value = NULL;
    if (rfc822_header(buf, len, NAMES[which % 6], &value) != S_OK) {
        free(value);
        return;
    }
    check_utf8("rfc822_header", value);
    if (value) {
        char *display = NULL, *address = NULL;
        if (rfc822_mailbox(value, &display, &address) == S_OK) {
            check_utf8("rfc822_mailbox display", display);
            check_utf8("rfc822_mailbox address", address);
        }
        free(display);
        free(address);
    }
    free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = data[0] % 3;
    size_t n = size - 1;
    /* Exactly n bytes on the heap, so ASan sees any read past the end. */
    char *exact = malloc(n);
    if (!exact)
        abort();
    memcpy(exact, data + 1, n);
    if (sel == 0)
        check_envelope(exact, n);
    else if (sel == 1)
        header(data[1], exact + 1, n - 1);
    else if (rfc822_is_utf8(exact, n) != fz_utf8_valid(exact, n, false))
        fz_fail("rfc822_is_utf8 disagrees with a strict validator");
    free(exact);
    return 0;
}
