/* session_events.c - Advise/Unadvise on the session: a bounded queue of
 * events per subscription, a replay window per session, and a wake callback
 * so that the server can push events to a client without a thread per
 * stream.
 *
 * Every event gets the next number of its session (one sequence per session
 * object, started at its first subscription). The session keeps its newest
 * table events (env->events_replay of them) so that a subscriber coming back
 * with the id of the last event it saw gets what it missed; anything else
 * (an id of another session object, of another replica, of this one before a
 * restart, or older than the window) gets a RESYNC first.
 *
 * A subscriber's queue holds at most SESSION_SUB_QUEUE_MAX events. A
 * TABLE_MODIFIED carries the whole row, so a newer one of the same row makes
 * the queued one useless: it is removed (coalesced) and the newer one goes
 * to the end. When the queue is still full, its oldest event goes and the
 * reader is told with a RESYNC. So a reader that does not read costs a
 * bounded amount of memory and nothing else: queueing never waits for it.
 * The queue starts small and grows only as events pile up: ten thousand
 * open streams that keep up cost ten thousand small queues.
 */
#include "session_internal.h"

#include "analyzer.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Slots a new subscription starts with (the queue grows by doubling). At
 * least one, so that dropping the oldest always frees one. */
#define SUB_QUEUE_START 4

typedef struct {
    uint64_t seq;
    status_row row;
} replay_entry;

struct session_replay {
    uint8_t tag[SESSION_EVENT_TAG_LEN]; /* random, for this session object */
    uint64_t seq;                       /* the last number given */
    uint64_t floor;                     /* every table event after this one is still in the ring */
    replay_entry *ring;                 /* cap entries (NULL when cap is 0) */
    size_t cap, head, count;
};

struct session_sub {
    struct session_sub *next;
    session *s; /* reference */
    void (*wake)(void *ctx);
    void *ctx;
    session_event *queue; /* oldest first; cap slots, grown up to the bound */
    size_t count, cap;
    bool lost;         /* events were dropped: a RESYNC comes next */
    uint64_t lost_seq; /* the newest event dropped */
    const char *lost_reason;
    bool closed; /* the session or the handle ended: no more events after the queued ones */
    bool has_handle;
    token_hash handle; /* the handle it was opened with (has_handle) */
};

void session_event_clear(session_event *ev)
{
    if (ev->kind == SESSION_EVENT_TABLE_MODIFIED)
        status_row_clear(&ev->row);
    memset(ev, 0, sizeof *ev);
}

static void remove_at(session_sub *sub, size_t i)
{
    session_event_clear(&sub->queue[i]);
    memmove(&sub->queue[i], &sub->queue[i + 1], (sub->count - i - 1) * sizeof sub->queue[0]);
    sub->count--;
    memset(&sub->queue[sub->count], 0, sizeof sub->queue[0]);
}

/* Gives sub's queue cap slots; out of memory, it stays as it is (and the
 * oldest event goes, as when the queue is full). */
static void grow_queue(session_sub *sub, size_t cap)
{
    session_event *q = calloc(cap, sizeof *q);
    if (!q)
        return;
    memcpy(q, sub->queue, sub->count * sizeof *q);
    free(sub->queue);
    /* sub owns q from here (session_unadvise frees it); see analyzer.h. */
    ANALYZER_STORE_FP_BEGIN
    sub->queue = q;
    sub->cap = cap;
    ANALYZER_STORE_FP_END
}

/* Makes room for one more event (events lock held): removes a queued
 * TABLE_MODIFIED of the same row (row non-NULL), else the oldest event when
 * the queue is full. Returns the free slot. */
static session_event *make_room(session_sub *sub, const status_row *row)
{
    session_env *env = sub->s->env;
    if (row)
        for (size_t i = 0; i < sub->count; i++) {
            session_event *q = &sub->queue[i];
            if (q->kind == SESSION_EVENT_TABLE_MODIFIED &&
                memcmp(q->row.instance_key, row->instance_key, STATUS_INSTANCE_KEY_LEN) == 0) {
                remove_at(sub, i);
                atomic_fetch_add_explicit(&env->events_coalesced, 1, memory_order_relaxed);
                break;
            }
        }
    size_t max = env->sub_queue_max;
    if (max == 0 || max > SESSION_SUB_QUEUE_MAX)
        max = SESSION_SUB_QUEUE_MAX;
    if (sub->count == sub->cap && sub->cap < max)
        grow_queue(sub, sub->cap * 2 < max ? sub->cap * 2 : max);
    if (sub->count >= max || sub->count == sub->cap) {
        /* Only a closed queue ends with a critical error, and nothing is
         * queued after it: the oldest is never that one. */
        if (!sub->lost || sub->queue[0].seq > sub->lost_seq)
            sub->lost_seq = sub->queue[0].seq;
        sub->lost = true;
        sub->lost_reason = "overflow";
        remove_at(sub, 0);
        atomic_fetch_add_explicit(&env->events_overflowed, 1, memory_order_relaxed);
    }
    session_event *ev = &sub->queue[sub->count];
    memset(ev, 0, sizeof *ev);
    return ev;
}

/* Queues a copy of row as event seq (events lock held). false when out of
 * memory: this subscriber then misses the change and is told to resync. */
static bool queue_row(session_sub *sub, uint64_t seq, const status_row *row)
{
    session_event *ev = make_room(sub, row);
    if (status_row_copy(&ev->row, row) != 0) {
        status_row_clear(&ev->row);
        memset(ev, 0, sizeof *ev);
        sub->lost = true;
        sub->lost_seq = seq;
        sub->lost_reason = "overflow";
        return false;
    }
    ev->kind = SESSION_EVENT_TABLE_MODIFIED;
    ev->seq = seq;
    sub->count++;
    return true;
}

/* The session's replay state, made at its first subscription (events lock
 * held). NULL when out of memory. */
static struct session_replay *replay_of(session *s)
{
    if (s->replay)
        return s->replay;
    struct session_replay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cap = s->env->events_replay;
    if (r->cap) {
        r->ring = calloc(r->cap, sizeof *r->ring);
        if (!r->ring) {
            free(r);
            return NULL;
        }
    }
    randombytes_buf(r->tag, sizeof r->tag);
    s->replay = r;
    return r;
}

/* Keeps a copy of row as event seq in the window (events lock held). */
static void record(struct session_replay *r, uint64_t seq, const status_row *row)
{
    if (r->cap == 0) {
        r->floor = seq;
        return;
    }
    if (r->count == r->cap) {
        replay_entry *old = &r->ring[r->head];
        r->floor = old->seq;
        status_row_clear(&old->row);
        r->head = (r->head + 1) % r->cap;
        r->count--;
    }
    replay_entry *e = &r->ring[(r->head + r->count) % r->cap];
    memset(e, 0, sizeof *e);
    if (status_row_copy(&e->row, row) != 0) {
        /* Out of memory: the window now starts after this event. */
        status_row_clear(&e->row);
        memset(e, 0, sizeof *e);
        r->floor = seq;
        return;
    }
    e->seq = seq;
    r->count++;
}

void session_events_free(session *s)
{
    struct session_replay *r = s->replay;
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        status_row_clear(&r->ring[(r->head + i) % r->cap].row);
    free(r->ring);
    free(r);
    s->replay = NULL;
}

/* Fills a new subscription from the window (events lock held). */
static void resume(session_sub *sub, const struct session_replay *r, const session_event_id *last)
{
    if (memcmp(last->tag, r->tag, sizeof r->tag) != 0 || last->seq > r->seq) {
        sub->lost = true;
        sub->lost_seq = r->seq;
        sub->lost_reason = "unknown_id";
        return;
    }
    if (last->seq < r->floor) {
        sub->lost = true;
        sub->lost_seq = r->seq;
        sub->lost_reason = "window_exceeded";
        return;
    }
    for (size_t i = 0; i < r->count; i++) {
        const replay_entry *e = &r->ring[(r->head + i) % r->cap];
        if (e->seq > last->seq)
            queue_row(sub, e->seq, &e->row);
    }
}

HRESULT session_advise(session *s, void (*wake)(void *ctx), void *ctx, session_sub **out)
{
    return session_advise_from(s, NULL, NULL, wake, ctx, out);
}

HRESULT session_advise_handle(session *s, const token_hash *handle, void (*wake)(void *ctx),
                              void *ctx, session_sub **out)
{
    return session_advise_from(s, handle, NULL, wake, ctx, out);
}

HRESULT session_advise_from(session *s, const token_hash *handle, const session_event_id *last,
                            void (*wake)(void *ctx), void *ctx, session_sub **out)
{
    session_sub *sub = calloc(1, sizeof *sub);
    if (!sub || !(sub->queue = calloc(SUB_QUEUE_START, sizeof *sub->queue))) {
        free(sub);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    sub->cap = SUB_QUEUE_START;
    sub->wake = wake;
    sub->ctx = ctx;
    if (handle) {
        sub->has_handle = true;
        sub->handle = *handle;
    }
    session_ev_lock(s);
    if (atomic_load(&s->ended)) {
        session_ev_unlock(s);
        free(sub->queue);
        free(sub);
        return MAPI_E_END_OF_SESSION;
    }
    struct session_replay *r = replay_of(s);
    if (!r) {
        session_ev_unlock(s);
        free(sub->queue);
        free(sub);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    sub->s = session_ref(s);
    if (last)
        resume(sub, r, last);
    sub->next = s->subs;
    s->subs = sub;
    session_ev_unlock(s);
    *out = sub;
    return S_OK;
}

void session_sub_tag(const session_sub *sub, uint8_t tag[SESSION_EVENT_TAG_LEN])
{
    /* Set once, before the first subscription returned: no lock needed. */
    memcpy(tag, sub->s->replay->tag, SESSION_EVENT_TAG_LEN);
}

void session_events_row_modified(session *s, size_t i)
{
    session_ev_lock(s);
    struct session_replay *r = s->replay;
    if (!r) {
        /* Nobody ever subscribed: nobody holds an id to resume from. */
        session_ev_unlock(s);
        return;
    }
    status_row row;
    memset(&row, 0, sizeof row);
    if (session_row_copy(s, i, &row) != 0) {
        status_row_clear(&row);
        session_ev_unlock(s);
        return; /* out of memory: the reader's next GET /status tells */
    }
    uint64_t seq = ++r->seq;
    record(r, seq, &row);
    for (session_sub *sub = s->subs; sub; sub = sub->next) {
        if (sub->closed)
            continue;
        queue_row(sub, seq, &row);
        if (sub->wake)
            sub->wake(sub->ctx);
    }
    status_row_clear(&row);
    session_ev_unlock(s);
}

/* Queues the critical error that closes sub (events lock held). */
static void close_sub(session_sub *sub, uint64_t seq, const char *reason)
{
    session_event *ev = make_room(sub, NULL);
    ev->kind = SESSION_EVENT_CRITICAL_ERROR;
    ev->reason = reason;
    ev->seq = seq;
    sub->count++;
    sub->closed = true;
    if (sub->wake)
        sub->wake(sub->ctx);
}

void session_events_end(session *s, const char *reason)
{
    session_ev_lock(s);
    uint64_t seq = s->replay ? ++s->replay->seq : 1;
    for (session_sub *sub = s->subs; sub; sub = sub->next)
        if (!sub->closed)
            close_sub(sub, seq, reason);
    session_ev_unlock(s);
}

void session_events_handle_end(session *s, const token_hash *handle, const char *reason)
{
    session_ev_lock(s);
    uint64_t seq = s->replay ? ++s->replay->seq : 1;
    for (session_sub *sub = s->subs; sub; sub = sub->next)
        if (!sub->closed && sub->has_handle && token_hash_equal(&sub->handle, handle))
            close_sub(sub, seq, reason);
    session_ev_unlock(s);
}

HRESULT session_sub_next(session_sub *sub, session_event *ev)
{
    session *s = sub->s;
    HRESULT hr;
    session_ev_lock(s);
    if (sub->lost) {
        memset(ev, 0, sizeof *ev);
        ev->kind = SESSION_EVENT_RESYNC;
        ev->seq = sub->lost_seq;
        ev->reason = sub->lost_reason;
        sub->lost = false;
        hr = S_OK;
    } else if (sub->count > 0) {
        *ev = sub->queue[0];
        memset(&sub->queue[0], 0, sizeof sub->queue[0]);
        memmove(&sub->queue[0], &sub->queue[1], (sub->count - 1) * sizeof sub->queue[0]);
        sub->count--;
        memset(&sub->queue[sub->count], 0, sizeof sub->queue[0]);
        hr = S_OK;
    } else {
        /* A session can also end without its subscribers being told (it
         * never happens through session_end, but a closed queue is final);
         * a queue closed for its handle is final too. */
        hr = (sub->closed || atomic_load(&s->ended)) ? MAPI_E_END_OF_SESSION : MAPI_E_NOT_FOUND;
    }
    session_ev_unlock(s);
    return hr;
}

void session_unadvise(session_sub *sub)
{
    if (!sub)
        return;
    session *s = sub->s;
    session_ev_lock(s);
    for (session_sub **p = &s->subs; *p; p = &(*p)->next)
        if (*p == sub) {
            *p = sub->next;
            break;
        }
    session_ev_unlock(s);
    while (sub->count > 0)
        session_event_clear(&sub->queue[--sub->count]);
    free(sub->queue);
    free(sub);
    session_unref(s);
}
