/* srv_smtp.h - an SMTP sink for the black-box suites: Debian's aiosmtpd
 * (python3-aiosmtpd, run with /usr/bin/python3) on 127.0.0.1 with its
 * Mailbox handler, which stores every accepted message in a Maildir (adding
 * X-Peer, X-MailFrom and X-RcptTo headers that show the envelope).
 *
 * The sink can be stopped and started again on the same port with the same
 * Maildir, so a test can take the server away under a gateway and bring it
 * back. Every wait is bounded; the process is stopped by PID.
 */
#pragma once

#include "srv.h"

#include <stdbool.h>

typedef struct {
    srv_proc proc;
    int port;
    char maildir[300]; /* <proc.dir>/Maildir */
    char script[400];  /* <proc.dir>/auth_sink.py when started with a login, else "" */
    char user[64], password[64];
} srv_smtp;

/* Creates a temp dir, picks a free port and starts the sink (asserts that it
 * listens within gw_ms(10 s)). */
void srv_smtp_start(srv_smtp *s);
/* The same, but the sink requires AUTH (PLAIN or LOGIN, without TLS) with
 * this user and password and refuses every other login (535). */
void srv_smtp_start_auth(srv_smtp *s, const char *user, const char *password);
/* The same, but the sink refuses for good (550 5.1.1) every recipient
 * whose address starts with "refused"; the others are stored. */
void srv_smtp_start_refusing(srv_smtp *s);
/* The same, but slow: on DATA the sink creates <proc.dir>/in-data, then
 * waits gw_ms(delay_ms) before it stores the message. */
void srv_smtp_start_slow(srv_smtp *s, int delay_ms);
/* Stops the server (SIGTERM, then SIGKILL); the Maildir stays. */
void srv_smtp_stop(srv_smtp *s);
/* Starts it again on the same port and Maildir (asserts it listens). */
void srv_smtp_restart(srv_smtp *s);
/* Stops it and removes the temp dir. Safe on a zeroed struct. */
void srv_smtp_destroy(srv_smtp *s);

/* "smtp://127.0.0.1:<port>" into buf (64 bytes), which is returned. */
const char *srv_smtp_url(const srv_smtp *s, char buf[64]);

/* Messages delivered so far (files in the Maildir's new/ and cur/). */
int srv_smtp_count(const srv_smtp *s);
/* Waits up to gw_ms(timeout_ms) until at least n messages arrived. */
bool srv_smtp_wait_count(const srv_smtp *s, int n, int timeout_ms);
/* The i-th delivered message (by file name; malloc'd, NUL-terminated), or
 * NULL when there is no such message. */
char *srv_smtp_message(const srv_smtp *s, int i);
