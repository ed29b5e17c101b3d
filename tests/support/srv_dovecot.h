/* srv_dovecot.h - a real IMAP server for the black-box suites: Debian's
 * dovecot (/usr/sbin/dovecot) run in the foreground (`dovecot -F -c conf`)
 * with a throw-away configuration in a temp dir: 127.0.0.1 only, IMAP only,
 * no TLS, plain passwords from a passwd-file, Maildir mail under the temp
 * dir. Nothing outside the temp dir is written.
 *
 * As root (CI) the login processes run as dovecot's "dovenull" user and the
 * mail processes as "nobody" (dovecot refuses root for both); otherwise
 * everything runs as the current user. Test messages and folders are written
 * straight into the users' Maildirs.
 *
 * All functions assert (criterion) on set-up failures; waits are bounded.
 */
#pragma once

#include "srv.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *name;
    const char *password; /* no ':' or newline */
} srv_dovecot_user;

typedef struct {
    srv_proc p;
    int port;
    char conf[512];
} srv_dovecot;

/* Writes the configuration for users (n of them) and starts dovecot on a
 * free port; returns once the port accepts connections. */
void srv_dovecot_start(srv_dovecot *d, const srv_dovecot_user *users, size_t n);

/* Stops the server (SIGTERM by PID, bounded); mail and config stay. */
void srv_dovecot_stop(srv_dovecot *d);

/* Starts the stopped server again on the same port with the same mail. */
void srv_dovecot_restart(srv_dovecot *d);

/* Stops the server and removes its temp dir. Safe to call twice. */
void srv_dovecot_destroy(srv_dovecot *d);

/* Creates a folder (IMAP name with '.' as the hierarchy delimiter, e.g.
 * "Archive" or "Archive.2024"; "INBOX" is always there). */
void srv_dovecot_add_folder(srv_dovecot *d, const char *user, const char *folder);

/* Delivers an RFC 5322 message (CRLF line ends recommended) into folder
 * (NULL or "INBOX": the inbox), as \Seen or not. The folder is created when
 * missing. */
void srv_dovecot_deliver(srv_dovecot *d, const char *user, const char *folder, const char *message,
                         bool seen);

/* "imap://127.0.0.1:<port>" into out (size >= 64). */
const char *srv_dovecot_url(const srv_dovecot *d, char *out, size_t len);
