/* session_stats.h - gauges of the session core kept up to date as sessions
 * change, so that reading them (GET /metrics) costs the same with one session
 * or a million: no walk over the sessions.
 *
 * One session_stats per core (the core's session_env holds it; core.h reads
 * it out). Each counter is exact at every point of its own history; a read of
 * several counters is not one snapshot (a row moving from available to
 * failure may show in neither or both for an instant).
 *
 * Thread-safety: every function but session_stats_new/free may be called
 * concurrently (relaxed atomics).
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

typedef struct session_stats session_stats;

/* Zeroed counters; NULL when out of memory. */
session_stats *session_stats_new(void);
void session_stats_free(session_stats *st); /* NULL is fine */

/* The provider kinds counted, 0 .. session_stats_kind_count() - 1, and the
 * name of each ("maildir", ...): the built-in kinds in their fixed order
 * (the kind table is a constant: no state). */
size_t session_stats_kind_count(void);
const char *session_stats_kind_name(size_t kind);

/* Provider status rows of live sessions (sessions that logged on and have
 * not ended) of one kind in one state. A row whose code has none of the
 * three bits is not counted. */
uint64_t session_stats_provider_status(const session_stats *st, size_t kind,
                                       session_stats_state state);

/* ---- for the core's own modules (session.c, session_logon.c) ----------- */

/* A session takes (sign +1) or drops (sign -1) the view v: its provider rows
 * count, or stop counting. NULL v: nothing. */
void session_stats_view(session_stats *st, const struct session_view *v, int sign);
/* A provider row of a live session changed its status code. */
void session_stats_row_changed(session_stats *st, const struct provider_ops *ops, uint32_t before,
                               uint32_t after);
