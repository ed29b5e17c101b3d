/* session_stats.h - gauges of the session core kept up to date as sessions
 * change, so that reading them (GET /metrics) costs the same with one session
 * or a million: no walk over the sessions.
 *
 * The counts are process-wide (one core per process: the gateway's; each
 * unit test runs in its own process). Each counter is exact at every point of
 * its own history; a read of several counters is not one snapshot (a row
 * moving from available to failure may show in neither or both for an
 * instant).
 *
 * Thread-safety: every function may be called concurrently (relaxed atomics).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session_view;
struct provider_ops;

typedef enum {
    SESSION_STATS_AVAILABLE, /* STATUS_AVAILABLE without FAILURE or OFFLINE */
    SESSION_STATS_OFFLINE,   /* STATUS_OFFLINE without FAILURE */
    SESSION_STATS_FAILURE,   /* STATUS_FAILURE */
    SESSION_STATS_STATES
} session_stats_state;

/* The provider kinds counted, 0 .. session_stats_kind_count() - 1, and the
 * name of each ("maildir", ...): the built-in kinds in their fixed order. */
size_t session_stats_kind_count(void);
const char *session_stats_kind_name(size_t kind);

/* Provider status rows of live sessions (sessions that logged on and have
 * not ended) of one kind in one state. A row whose code has none of the
 * three bits is not counted. */
uint64_t session_stats_provider_status(size_t kind, session_stats_state state);

/* How many times the core walked over every session (registry snapshots and
 * sweeps): lets a test show that reading the gauges walks nothing. */
uint64_t session_stats_walks(void);

/* ---- for the core's own modules (session.c, session_logon.c, registry.c) */

/* A session takes (sign +1) or drops (sign -1) the view v: its provider rows
 * count, or stop counting. */
void session_stats_view(const struct session_view *v, int sign);
/* A provider row of a live session changed its status code. */
void session_stats_row_changed(const struct provider_ops *ops, uint32_t before, uint32_t after);
/* Something walks over every session now. */
void session_stats_walked(void);
