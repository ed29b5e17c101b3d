/* srv.h - real third-party servers for the black-box suites (dovecot, an SMTP
 * sink, slapd): started from Debian's packages on 127.0.0.1 with throw-away
 * configuration in a temp dir, stopped by PID. Network traffic stays on
 * 127.0.0.1 and every wait is bounded by a deadline that scales with the
 * run (gw_ms, tests/support/gw.h).
 *
 * This file has what all of them share; each server has its own
 * srv_<name>.c/.h built on it.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;     /* 0 when not running */
    char dir[256]; /* the temp dir: configs, data, log */
    char log[300]; /* <dir>/server.log: the server's stdout and stderr */
} srv_proc;

/* A free TCP port on 127.0.0.1 (bound and released; the OS does not hand it
 * out again at once). Asserts on failure. */
int srv_free_port(void);

/* Creates a fresh temp dir into p->dir (mkdtemp under /tmp, prefix given). */
void srv_mkdir(srv_proc *p, const char *prefix);

/* Starts argv (argv[0] a path) with stdout/stderr to p->log, in p->dir, with
 * PR_SET_PDEATHSIG so a crashed test leaves no server behind. */
void srv_spawn(srv_proc *p, char *const argv[]);

/* Waits up to gw_ms(timeout_ms) until 127.0.0.1:port accepts a TCP
 * connection; false on timeout or when the process exited (its log then
 * says why). */
bool srv_wait_port(const srv_proc *p, int port, int timeout_ms);

/* SIGTERM, wait up to gw_ms(5 s), then SIGKILL. Idempotent. Leaves the temp
 * dir. */
void srv_stop(srv_proc *p);

/* Waits up to gw_ms(timeout_ms) for a process to exit; its wait status,
 * or -1 after killing it (SIGKILL) when it did not exit in time. */
int srv_wait_exit(srv_proc *p, int timeout_ms);

/* Monotonic milliseconds, for deadlines. */
long long srv_now_ms(void);

/* srv_stop, then removes the temp dir. */
void srv_destroy(srv_proc *p);

/* Writes text to <p->dir>/name; returns the path in a static-free buffer
 * out (size 512). */
const char *srv_write_file(const srv_proc *p, const char *name, const char *text, char *out);
