/* session_stats.c - the gauges behind session_stats.h. */
#include "session_stats.h"

#include "mapi_flags.h"
#include "provider.h"
#include "session_view.h"

#include <stdatomic.h>

/* Room for every built-in kind (provider.c checks that they fit). */
#define MAX_KINDS PROVIDER_KIND_MAX

/* Signed: within one counter a row is always added before it is taken away,
 * so the value never goes below zero, but keep the type honest. */
static atomic_llong status_rows[MAX_KINDS][SESSION_STATS_STATES];
static atomic_ullong walks;

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

uint64_t session_stats_provider_status(size_t kind, session_stats_state state)
{
    if (kind >= MAX_KINDS || state >= SESSION_STATS_STATES)
        return 0;
    long long v = atomic_load_explicit(&status_rows[kind][state], memory_order_relaxed);
    return v > 0 ? (uint64_t)v : 0;
}

uint64_t session_stats_walks(void) { return atomic_load_explicit(&walks, memory_order_relaxed); }

void session_stats_walked(void) { atomic_fetch_add_explicit(&walks, 1, memory_order_relaxed); }

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

static void add(const provider_ops *ops, uint32_t code, long long delta)
{
    size_t k = provider_kind_index(ops);
    session_stats_state st = state_of(code);
    if (k < MAX_KINDS && st < SESSION_STATS_STATES)
        atomic_fetch_add_explicit(&status_rows[k][st], delta, memory_order_relaxed);
}

void session_stats_view(const session_view *v, int sign)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->provider_count; i++)
        add(v->providers[i]->ops, v->rows[v->provider_row[i]].status_code, sign < 0 ? -1 : 1);
}

void session_stats_row_changed(const provider_ops *ops, uint32_t before, uint32_t after)
{
    if (state_of(before) == state_of(after))
        return;
    add(ops, after, 1);
    add(ops, before, -1);
}
