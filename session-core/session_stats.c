/* session_stats.c - the gauges behind session_stats.h. */
#include "session_stats.h"

#include "mapi_flags.h"
#include "provider.h"
#include "session_view.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Room for every built-in kind (provider.c checks that they fit). */
#define MAX_KINDS PROVIDER_KIND_MAX

struct session_stats {
    /* Signed: within one counter a row is always added before it is taken
     * away, so the value never goes below zero, but keep the type honest. */
    atomic_llong status_rows[MAX_KINDS][SESSION_STATS_STATES];
};

session_stats *session_stats_new(void)
{
    session_stats *st = malloc(sizeof *st);
    if (!st)
        return NULL;
    for (size_t k = 0; k < MAX_KINDS; k++)
        for (size_t s = 0; s < SESSION_STATS_STATES; s++)
            atomic_init(&st->status_rows[k][s], 0);
    return st;
}

void session_stats_free(session_stats *st) { free(st); }

size_t session_stats_kind_count(void)
{
    size_t n = provider_kind_count();
    return n < MAX_KINDS ? n : MAX_KINDS;
}

const char *session_stats_kind_name(size_t kind)
{
    const provider_ops *ops = kind < session_stats_kind_count() ? provider_kind_at(kind) : NULL;
    return ops ? ops->kind : NULL;
}

uint64_t session_stats_provider_status(const session_stats *st, size_t kind,
                                       session_stats_state state)
{
    if (kind >= MAX_KINDS || state >= SESSION_STATS_STATES)
        return 0;
    long long v = atomic_load_explicit(&st->status_rows[kind][state], memory_order_relaxed);
    return v > 0 ? (uint64_t)v : 0;
}

/* The state a status code counts under; SESSION_STATS_STATES for none. */
static session_stats_state state_of(uint32_t code)
{
    if (code & STATUS_FAILURE)
        return SESSION_STATS_FAILURE;
    if (code & STATUS_OFFLINE)
        return SESSION_STATS_OFFLINE;
    if (code & STATUS_AVAILABLE)
        return SESSION_STATS_AVAILABLE;
    return SESSION_STATS_STATES;
}

static void add(session_stats *st, const provider_ops *ops, uint32_t code, long long delta)
{
    size_t k = provider_kind_index(ops);
    session_stats_state state = state_of(code);
    if (k < MAX_KINDS && state < SESSION_STATS_STATES)
        atomic_fetch_add_explicit(&st->status_rows[k][state], delta, memory_order_relaxed);
}

void session_stats_view(session_stats *st, const session_view *v, int sign)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->provider_count; i++)
        add(st, v->providers[i]->ops, v->rows[v->provider_row[i]].status_code, sign < 0 ? -1 : 1);
}

void session_stats_row_changed(session_stats *st, const provider_ops *ops, uint32_t before,
                               uint32_t after)
{
    if (state_of(before) == state_of(after))
        return;
    add(st, ops, after, 1);
    add(st, ops, before, -1);
}
