/* rfc822.h - just enough RFC 5322 header reading for a message summary
 * (subject, sender, Message-ID) from files nobody vetted.
 *
 * Everything here expects hostile input: a header section is read from at
 * most RFC822_HEAD_MAX bytes, lines may end in LF or CRLF, NUL bytes and
 * control characters are dropped, and whatever comes out is valid UTF-8
 * (invalid bytes become U+FFFD), since mapi_object strings must be. RFC 2047
 * encoded words in the UTF-8, US-ASCII and ISO-8859-1 charsets are decoded;
 * others are kept as written.
 *
 * Ownership: every char ** result is malloc'd and the caller's (NULL when
 * absent). Thread-safety: no shared state.
 */
#pragma once

#include "../hresult.h"

#include <stdbool.h>
#include <stddef.h>

#define RFC822_HEAD_MAX 65536 /* bytes read from a message's start */

/* Reads the start of the file open on fd (at most RFC822_HEAD_MAX bytes, EINTR
 * retried) into *buf (malloc'd, NUL added after *len bytes). MAPI_E_CALL_FAILED
 * when the read fails. */
HRESULT rfc822_read_head(int fd, char **buf, size_t *len);

/* The unfolded, decoded value of the first field called name (ASCII,
 * case-insensitive) in the header section at the start of buf[0..len): the
 * section ends at the first empty line or at len. Leading and trailing white
 * space is trimmed. *out is NULL (and S_OK returned) when there is no such
 * field. */
HRESULT rfc822_header(const char *buf, size_t len, const char *name, char **out);

/* Splits a (decoded) address field into the first mailbox's display name and
 * address: "Name <a@b>", "\"Quoted, Name\" <a@b>", "a@b (Name)" or "a@b".
 * Either result may be NULL when that part is absent or empty. */
HRESULT rfc822_mailbox(const char *value, char **display, char **address);

/* Whether s[0..len) is valid UTF-8 (RFC 3629) without NUL bytes. */
bool rfc822_is_utf8(const char *s, size_t len);
