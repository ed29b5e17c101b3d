/* srv_redis.h - throw-away Redis 7 servers on 127.0.0.1 for the black-box
 * suites (Debian's redis-server, package redis-server; the Sentinel is the
 * same binary with --sentinel, package redis-sentinel).
 *
 * srv_redis_start: one redis-server on a free port, as the current user, in a
 * fresh temp dir (its working dir: the AOF lives there), with
 * `--save "" --appendonly yes --appendfsync always`, so an acknowledged write
 * survives a kill -9 and srv_redis_restart (same port, same dir) reloads it.
 * Ready means PING answers PONG (not -LOADING) over a socket, within a
 * deadline scaled by gw_ms. Stopped by PID: SIGTERM, a bounded wait scaled
 * with gw_ms, then SIGKILL (srv_stop).
 *
 * srv_redis_sentinel_start: a master, one replica of it and one Sentinel
 * (quorum 1, down-after-milliseconds 1000, failover-timeout 3000) watching
 * it under the name SRV_REDIS_MASTER_NAME; srv_redis_failover kills the
 * master with SIGKILL and waits (bounded) until the Sentinel names the
 * replica as the new master.
 *
 * Nothing here is thread-safe: call it from the test's main thread. All
 * set-up failures are criterion assertions.
 */
#pragma once

#include "srv.h"

#include <stdbool.h>
#include <stddef.h>

#define SRV_REDIS_MASTER_NAME "mapigwtest"

typedef struct {
    srv_proc proc;
    int port;
    char url[64];       /* redis://127.0.0.1:<port> */
    char replicaof[64]; /* "127.0.0.1 <port>" for a replica, else "" */
} srv_redis;

/* Fresh temp dir, free port, started and PING-ready. */
void srv_redis_start(srv_redis *r);
/* SIGTERM (Redis writes nothing more: --save ""), bounded wait, SIGKILL. The
 * dir stays for srv_redis_restart. */
void srv_redis_stop(srv_redis *r);
/* SIGKILL at once and reap: a crash. The dir stays. */
void srv_redis_kill9(srv_redis *r);
/* Starts it again (when stopped) on the same port in the same dir: the AOF is
 * reloaded before PING answers PONG. */
void srv_redis_restart(srv_redis *r);
/* Stops and removes the temp dir. Safe to call twice. */
void srv_redis_destroy(srv_redis *r);

/* Runs one command on 127.0.0.1:port (argv NULL-terminated), waiting up to
 * gw_ms(timeout_ms). Writes the reply as text into out (an array: its
 * elements one per line; an error: "-ERR ..."; nil: ""). False on a
 * connection or protocol failure (out then says why). */
bool srv_redis_cmd(int port, const char *const *argv, char *out, size_t outsz, int timeout_ms);
/* Waits up to gw_ms(timeout_ms) for PING -> PONG on port. */
bool srv_redis_wait_ready(int port, int timeout_ms);
/* A numeric field of INFO (e.g. "used_memory"), or -1. */
long long srv_redis_info_num(int port, const char *field);

typedef struct {
    srv_redis master;  /* the first master (a replica after a failover) */
    srv_redis replica; /* replicaof master */
    srv_proc sentinel;
    int sentinel_port;
    /* redis-sentinel://SRV_REDIS_MASTER_NAME@127.0.0.1:<sentinel_port> */
    char url[128];
} srv_redis_sentinel;

/* Master, replica (in sync) and Sentinel (it knows the replica) started. */
void srv_redis_sentinel_start(srv_redis_sentinel *t);
/* The master's port as the Sentinel reports it now, or -1. */
int srv_redis_sentinel_master_port(const srv_redis_sentinel *t);
/* kill -9 of the current master, then waits up to gw_ms(timeout_ms) until
 * the Sentinel reports another master and that one answers PING as a
 * master. Returns the new master's port (asserts on timeout). */
int srv_redis_failover(srv_redis_sentinel *t, int timeout_ms);
/* Stops all three and removes their dirs. Safe to call twice. */
void srv_redis_sentinel_destroy(srv_redis_sentinel *t);
