/* envelope.h - what a transport needs from a queued RFC 5322 message (see
 * outq.h for the queue): its envelope (sender and recipients from the
 * headers) and the bytes to send (CRLF line ends, Bcc removed). Used by
 * provider_smtp.c; spool does not need it.
 *
 * Everything here expects hostile input: any bytes, of any length.
 *
 * Ownership: every string and array in an envelope is malloc'd and the
 * caller's, freed with envelope_free. Thread-safety: no shared state.
 */
#pragma once

#include "../hresult.h"

#include <stdbool.h>
#include <stddef.h>

#define ENVELOPE_MAX_RECIPIENTS 1000
#define ENVELOPE_MAX_ADDRESS 320 /* RFC 5321: 64 + 1 + 255 */

typedef struct {
    char *from;  /* envelope sender: the first address of From, or NULL */
    char **rcpt; /* To, Cc and Bcc addresses, each once (case-insensitive) */
    size_t rcpt_count;
    char *data; /* the message to send: CRLF line ends, no Bcc header */
    size_t len;
    /* Set by the spooler (session_submit.c) when it queued the message:
     * X-Mapigw-Outbox, the Outbox copy's name (NULL for a file dropped into
     * the queue by others), and X-Mapigw-Options "delete-after-submit". */
    char *outbox;
    bool delete_after;
    bool delivery_report; /* X-Mapigw-Options "delivery-report" */
} envelope;

/* Reads msg (len bytes, any content) into *out. Headers end at the first
 * empty line; folded lines are unfolded; header names are case-insensitive.
 * Addresses come from "Name <a@b>", bare "a@b", comma lists, groups
 * ("team: a@b, c@d;") and comments; quoted display names may hold commas and
 * angle brackets. S_OK; MAPI_E_INVALID_PARAMETER with the reason in why when
 * an address is malformed (control characters, spaces, no '@', too long) or
 * there are more than ENVELOPE_MAX_RECIPIENTS; MAPI_E_NOT_ENOUGH_MEMORY. No
 * recipients is not an error here (rcpt_count 0). X-Mapigw-Rcpt fields (the
 * spooler's envelope) replace To, Cc and Bcc as the recipients when present;
 * no X-Mapigw-* field is ever part of data. On failure *out is empty
 * (all NULL). */
HRESULT envelope_parse(const char *msg, size_t len, envelope *out, char *why, size_t whylen);
void envelope_free(envelope *e); /* NULL is fine */
