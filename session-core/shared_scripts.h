/* shared_scripts.h - the Lua scripts that change the shared session store.
 *
 * Every state change of the shared store is one script, so that Redis runs
 * it as one step: the caps are checked and the records changed together, and
 * an end writes its event to the stream in the same step (no replica can see
 * a session gone without its event, or the reverse). Reads that a request
 * needs (a handle not cached yet) are plain commands.
 *
 * Keys, under the configured prefix P (docs/contract/http.md, "Replicas"):
 *   P s:<id>      hash: p profile, f flags, c created, i idle s, l lifetime s,
 *                 n serial, u last use, k handle count, S "1" when shared,
 *                 h<32-byte handle hash> = the sealed password (or "")
 *   P h:<hash>    string: the session id of a handle (raw 32-byte hash)
 *   P z           sorted set: session id by deadline (unix seconds)
 *   P p:<name>    hash: n sessions of the profile, sh its shared session
 *   P shs         set: the shared sessions (a nameless logon joins the only one)
 *   P c, P k      sessions and handles in all
 *   P n           the instance-key serial
 *   P x           stream of ends: t s|h, i id, h handle, r reason (capped)
 *   P t:<key>     hash: n failures, t last leak, u blocked until
 * Times are Redis's own clock (TIME): one clock for every replica.
 *
 * Every script takes ARGV[1] = P and answers an array whose first element is
 * a SHARED_SCRIPT_* code. Scripts touch keys they build from the prefix: the
 * store works on a standalone Redis or under Sentinel, not Redis Cluster.
 */
#pragma once

#include "redis_link.h"

enum {
    SHARED_SCRIPT_OK = 0,
    SHARED_SCRIPT_RESOURCES = 1, /* MAPI_E_NOT_ENOUGH_RESOURCES */
    SHARED_SCRIPT_LIMIT = 2,     /* MAPI_E_SESSION_LIMIT */
    SHARED_SCRIPT_NOT_FOUND = 3, /* MAPI_E_NOT_FOUND */
    SHARED_SCRIPT_ENDED = 4,     /* MAPI_E_END_OF_SESSION */
    SHARED_SCRIPT_THROTTLED = 5, /* MAPI_E_LOGON_FAILED, with a wait */
};

/* ARGV: P id profile flags idle lifetime handle sealed publish max_sessions
 *       max_per_profile pair_key client_key -> {0, serial, created, shared}, or
 *       {5, wait_s} when the throttle keys (unless "") block the client (the
 *       check of SHARED_THROTTLE_CHECK in the same step, for logons that
 *       check no password; a success clears the pair key) */
extern redis_script SHARED_LOGON;
/* ARGV: P profile handle sealed max_handles
 *       -> {0, id, flags, created, idle, lifetime, serial} */
extern redis_script SHARED_JOIN;
/* ARGV: P handle all -> {0, id, session_ended} */
extern redis_script SHARED_LOGOFF;
/* ARGV: P id reason -> {0} */
extern redis_script SHARED_END;
/* ARGV: P limit -> {0, ended} */
extern redis_script SHARED_REAP;
/* ARGV: P id1 t1 id2 t2 ... (uses at unix seconds t) -> {0, refreshed} */
extern redis_script SHARED_TOUCH;
/* ARGV: P pair_key client_key -> {0, wait_s, pair key has failures (0/1)} */
extern redis_script SHARED_THROTTLE_CHECK;
/* ARGV: P pair_key client_key threshold client_threshold max_delay leak_s -> {0} */
extern redis_script SHARED_THROTTLE_FAIL;
