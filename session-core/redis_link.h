/* redis_link.h - connections to the Redis master the shared session store
 * lives on: a small pool for commands and scripts, and single connections
 * for blocking reads, found directly (redis://) or through Sentinel
 * (redis-sentinel://), re-found by themselves after a failover.
 *
 * URLs (docs/contract/http.md, "Replicas"):
 *   redis://HOST[:PORT][/DB]
 *   redis-sentinel://MASTER@HOST[:PORT][,HOST[:PORT]...][/DB]
 * A password never goes in the URL (it would show in `ps`): it comes from a
 * file (--store-password-file) and is sent with AUTH.
 *
 * Ownership: replies handed out are the caller's (freeReplyObject).
 *
 * Thread-safety: redis_link_command and redis_link_script may be called
 * concurrently; each call takes one pooled connection for its duration.
 * A connection from redis_link_connect belongs to its caller alone.
 */
#pragma once

#include "hresult.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct redis_link redis_link;

typedef struct {
    const char *url;
    const char *password; /* NULL: no AUTH */
    unsigned timeout_ms;  /* connect and command timeout */
} redis_link_config;

/* MAPI_E_INVALID_PARAMETER with *why set (static text) for a malformed URL;
 * nothing connects yet. */
HRESULT redis_link_new(const redis_link_config *cfg, redis_link **out, const char **why);
void redis_link_free(redis_link *l);

/* A Lua script: its text, and its SHA-1 as Redis returned it from SCRIPT LOAD
 * (filled on first use; reloaded when Redis forgot it). Define with
 * REDIS_SCRIPT(text); one static object per script. */
typedef struct {
    const char *text;
    char sha[41];
    int loaded; /* atomic: sha is valid */
} redis_script;
#define REDIS_SCRIPT(t)                                                                            \
    {                                                                                              \
        (t), {0}, 0                                                                                \
    }

/* One command (binary-safe arguments). S_OK with *reply (never an error
 * reply: those give MAPI_E_CALL_FAILED, logged once per kind),
 * MAPI_E_NETWORK_ERROR when Redis cannot be reached or answers READONLY or
 * LOADING (the connection is dropped and found again on the next call). */
HRESULT redis_link_command(redis_link *l, int argc, const char **argv, const size_t *lens,
                           redisReply **reply);

/* Several commands in one round trip: replies[i] for cmds[i] (error
 * replies included: the caller looks at each). S_OK, or NETWORK_ERROR with
 * no reply kept. */
typedef struct {
    int argc;
    const char **argv;
    const size_t *lens;
} redis_cmd;
HRESULT redis_link_pipeline(redis_link *l, size_t n, const redis_cmd *cmds, redisReply **replies);

/* EVALSHA of the script with no KEYS and these ARGV, loading it when Redis
 * does not know it. Same results as redis_link_command. */
HRESULT redis_link_script(redis_link *l, redis_script *s, int argc, const char **argv,
                          const size_t *lens, redisReply **reply);

/* A new connection of the caller's own to the master, authenticated and on
 * the right database, with commands timing out after timeout_ms; NULL when
 * unreachable. */
redisContext *redis_link_connect(redis_link *l, unsigned timeout_ms);

/* Calls that failed so far (unreachable, or an error reply). */
uint64_t redis_link_errors(redis_link *l);

/* The URL without anything secret, for logs ("redis://127.0.0.1:6379/0"). */
const char *redis_link_describe(const redis_link *l);
