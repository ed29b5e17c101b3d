/* imap_parse.h - reading the IMAP server answers the "imap" store provider
 * asks for (RFC 3501 LIST, STATUS and FETCH responses) and quoting what it
 * sends.
 *
 * Input is what libcurl hands a custom request's write callback: the untagged
 * response lines ("* ..."), each ending in CRLF or LF. libcurl does not pass
 * the bytes of a literal ({n} followed by n bytes on the next lines) on, so
 * there a literal is treated as data we do not have: the field it carries is
 * left out and the rest of that response line is skipped. The _raw FETCH
 * reader instead takes the whole conversation as libcurl hands a header
 * callback (every line, literal bytes included) and reads literals; a
 * literal's claimed size is never trusted and never read past the buffer.
 *
 * Everything here treats the input as hostile: no read outside [buf, buf+len),
 * list nesting bounded, numbers range-checked, output strings bounded and
 * turned into valid UTF-8 (invalid bytes and control characters become '?').
 *
 * Ownership: every char * in a result is malloc'd and freed by the matching
 * _free/_clear function. Thread-safety: pure functions.
 */
#pragma once

#include "../hresult.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define IMAP_NAME_MAX 1024   /* longer mailbox names are ignored */
#define IMAP_STRING_MAX 4096 /* longer strings (subjects, ...) are cut */
#define IMAP_LIST_MAX 10000  /* more LIST entries are ignored */

/* LIST name attributes the provider cares about. */
enum {
    IMAP_LIST_NOSELECT = 1u << 0, /* \Noselect or \NonExistent: no messages */
    IMAP_LIST_HASCHILDREN = 1u << 1,
    IMAP_LIST_HASNOCHILDREN = 1u << 2,
};

typedef struct {
    char *name; /* as the server spells it (modified UTF-7); "INBOX" normalised */
    char delim; /* hierarchy delimiter, '\0' for NIL (flat) */
    unsigned flags;
} imap_list_entry;

/* Collects the "* LIST" responses in buf. Lines that do not parse, names in
 * literals and names longer than IMAP_NAME_MAX are skipped. S_OK (maybe with
 * *count 0) or MAPI_E_NOT_ENOUGH_MEMORY. */
HRESULT imap_parse_list(const char *buf, size_t len, imap_list_entry **out, size_t *count);
void imap_list_free(imap_list_entry *entries, size_t count);

/* The MESSAGES and UNSEEN counts of the first "* STATUS" response in buf.
 * false when there is none or it lacks either count. */
bool imap_parse_status(const char *buf, size_t len, uint32_t *messages, uint32_t *unseen);

typedef struct {
    uint32_t uid;
    bool has_flags;
    bool seen; /* \Seen in FLAGS */
    bool has_size;
    uint32_t size; /* RFC822.SIZE */
    bool has_date;
    time_t internal_date; /* INTERNALDATE */
    char *subject;        /* ENVELOPE subject; NULL when NIL or not available */
    char *from_name;      /* first From address: display name, NULL if none */
    char *from_address;   /* "mailbox@host", NULL if none */
    bool answered;        /* a FETCH response for uid was found */
} imap_message;

/* Finds the "* n FETCH" response for uid in buf and reads UID, FLAGS,
 * RFC822.SIZE, INTERNALDATE and ENVELOPE from it. S_OK, MAPI_E_NOT_FOUND (no
 * response for that UID) or MAPI_E_NOT_ENOUGH_MEMORY. */
HRESULT imap_parse_fetch(const char *buf, size_t len, uint32_t uid, imap_message *out);
void imap_message_clear(imap_message *m);

/* The FETCH responses for n uids in a raw conversation (imap_parse.h above):
 * out[i] (n of them, cleared first) for uids[i], its answered flag set when
 * the server answered for it. Besides the attributes above, a
 * BODY[HEADER.FIELDS (...)] literal is read (at most RFC822_HEAD_MAX bytes)
 * and its Subject and From fields, RFC 2047 decoded, replace the envelope's.
 * S_OK or MAPI_E_NOT_ENOUGH_MEMORY. */
HRESULT imap_parse_fetch_raw(const char *buf, size_t len, const uint32_t *uids, size_t n,
                             imap_message *out);
void imap_messages_clear(imap_message *m, size_t n);

/* The UIDs of the "* SEARCH" responses in buf, largest first, zeros and
 * duplicates dropped, at most IMAP_SEARCH_MAX. *uids is malloc'd (NULL when
 * *n is 0). S_OK or MAPI_E_NOT_ENOUGH_MEMORY. */
#define IMAP_SEARCH_MAX 1000000
HRESULT imap_parse_search(const char *buf, size_t len, uint32_t **uids, size_t *n);

/* "17-Jul-1996 02:44:25 -0700" -> seconds since the epoch; false if malformed. */
bool imap_parse_date_time(const char *s, time_t *out);

/* Writes name as an IMAP quoted string ("..." with \\ and \" escaped) into
 * out. false when it does not fit or name holds a byte a quoted string cannot
 * carry (CR, LF, NUL, other control characters, 8-bit bytes). */
bool imap_quote(const char *name, char *out, size_t outlen);

/* Replaces, in place, every byte that is not part of valid UTF-8, and every
 * control character, with '?'. */
void imap_utf8_sanitize(char *s);

/* A mailbox name as the server spells it (modified UTF-7, RFC 3501 5.1.3:
 * "Entw&APw-rfe") in UTF-8 for display ("Entw\u00fcrfe"), malloc'd into *out
 * (imap_mutf7.c). MAPI_E_INVALID_PARAMETER when the name is not strictly
 * valid modified UTF-7 (show it as sent then), or MAPI_E_NOT_ENOUGH_MEMORY.
 * Names inside entry ids keep the server's spelling: only display decodes. */
HRESULT imap_mutf7_decode(const char *name, char **out);
