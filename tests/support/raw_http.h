/* raw_http.h - black-box test support: HTTP/1.1 over a plain TCP socket to
 * the gateway on 127.0.0.1, for tests that must control the bytes on the wire
 * (framing, pipelining) or see whether the gateway closed the connection,
 * which libcurl hides. Every wait is bounded and scaled with gw_ms.
 * Functions report set-up failures with criterion assertions.
 */
#pragma once

#include "gw.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A TCP connection to the gateway (asserts). */
int raw_connect(const gw *g);
/* Sends all len bytes of s; false when the peer is gone. */
bool raw_send(int fd, const char *s, size_t len);
/* Reads what arrives within gw_ms(timeout_ms), until the peer closes or
 * cap - 1 bytes are in; buf is NUL-terminated. Returns the byte count;
 * *closed tells whether the peer closed (end of file or reset). */
size_t raw_read(int fd, char *buf, size_t cap, int timeout_ms, bool *closed);
/* Reads one complete answer (status line, header fields, and a body of its
 * Content-Length unless the status is 304 or 204) within gw_ms(timeout_ms).
 * Bytes that arrive after it stay in the socket. Returns the answer's length
 * in buf (NUL-terminated), 0 when none came complete in time; *closed as for
 * raw_read. */
size_t raw_read_answer(int fd, char *buf, size_t cap, int timeout_ms, bool *closed);
/* The status code of an answer ("HTTP/1.1 200 ..."), 0 when unreadable. */
int raw_status(const char *answer);
/* How many answers (status lines at the start of a line) answer holds. */
size_t raw_count_answers(const char *answer);
/* The value of header field name in answer's head (case-insensitive; the
 * first one), copied into out; false when absent. */
bool raw_header(const char *answer, const char *name, char *out, size_t cap);
/* The body of an answer (after the blank line) parsed as JSON (asserts). */
json_t *raw_body_json(const char *answer);
