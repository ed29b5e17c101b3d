/* submit_mime.h - the RFC 5322 / MIME text of a message the spooler sends
 * (session_submit.c): headers with RFC 2047 encoded words where needed, a
 * text/plain UTF-8 body in quoted-printable, and the spooler's envelope
 * fields (X-Mapigw-*, never sent: envelope.h) on top.
 *
 * A growable text buffer (mime_buf) and the pieces; every function checks
 * its input (no CR, LF or NUL in a header value: MAPI_E_INVALID_PARAMETER)
 * and its allocations. Thread-safety: no shared state.
 */
#pragma once

#include "hresult.h"
#include "provider.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *p; /* NUL-terminated; malloc'd, the owner's */
    size_t len, cap;
    bool oom;
} mime_buf;

void mime_buf_free(mime_buf *b);
void mime_add(mime_buf *b, const char *s);
void mime_addf(mime_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether s may stand in a header value: UTF-8, no control characters. */
bool mime_header_safe(const char *s);
/* Whether addr is an SMTP address a header and an envelope may carry. */
bool mime_smtp_address(const char *addr);

/* "Display" <addr> (display encoded as needed), or <addr> without one. */
void mime_add_mailbox(mime_buf *b, const char *display, const char *addr);
/* An unstructured value (Subject): as it is when short and ASCII, else
 * RFC 2047 "B" encoded words of at most 75 characters, folded. */
void mime_add_unstructured(mime_buf *b, const char *value);
/* body as quoted-printable (RFC 2045 6.7) with CRLF line ends. */
void mime_add_qp(mime_buf *b, const char *body);
/* data as base64 in 76-character lines (RFC 2045 6.8). */
void mime_add_base64(mime_buf *b, const uint8_t *data, size_t len);
/* A fresh random multipart boundary ("=_mapigw_<hex>": never in QP or base64). */
#define MIME_BOUNDARY_LEN 40
void mime_boundary(char out[MIME_BOUNDARY_LEN]);
/* Whether t is a plain "type/subtype" (RFC 2045 tokens, no parameters). */
bool mime_content_type_ok(const char *t);
/* ; filename="name" (printable ASCII) or ; filename*=UTF-8''... (RFC 2231). */
void mime_add_filename_params(mime_buf *b, const char *name);
/* The RFC 5322 date of now, local time zone as UTC. */
void mime_add_date(mime_buf *b);

/* submit_report.c: the report of outcome o (delivered with a report asked
 * for, or refused for good) as an RFC 3464 message, appended to out. */
void submit_report(const provider_outcome *o, mime_buf *out);
