/* session_events.c - Advise/Unadvise on the session: a bounded queue of
 * events per subscription, and a wake callback so that the server can push
 * them to a client without a thread per stream. */
#include "session_internal.h"

#include <stdlib.h>
#include <string.h>

#define SUB_QUEUE_MAX 64

struct session_sub {
    struct session_sub *next;
    session *s; /* reference */
    void (*wake)(void *ctx);
    void *ctx;
    session_event queue[SUB_QUEUE_MAX]; /* ring */
    size_t head;
    size_t count;
    uint64_t seq;
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

/* Called with the events lock held. Drops the oldest event when the reader is too
 * slow: a status table event is superseded by later ones anyway. */
static session_event *push(session_sub *sub)
{
    if (sub->count == SUB_QUEUE_MAX) {
        session_event_clear(&sub->queue[sub->head]);
        sub->head = (sub->head + 1) % SUB_QUEUE_MAX;
        sub->count--;
    }
    session_event *ev = &sub->queue[(sub->head + sub->count) % SUB_QUEUE_MAX];
    memset(ev, 0, sizeof *ev);
    ev->seq = ++sub->seq;
    return ev;
}

HRESULT session_advise(session *s, void (*wake)(void *ctx), void *ctx, session_sub **out)
{
    return session_advise_handle(s, NULL, wake, ctx, out);
}

HRESULT session_advise_handle(session *s, const token_hash *handle, void (*wake)(void *ctx),
                              void *ctx, session_sub **out)
{
    session_sub *sub = calloc(1, sizeof *sub);
    if (!sub)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    sub->wake = wake;
    sub->ctx = ctx;
    if (handle) {
        sub->has_handle = true;
        sub->handle = *handle;
    }
    session_ev_lock(s);
    if (atomic_load(&s->ended)) {
        session_ev_unlock(s);
        free(sub);
        return MAPI_E_END_OF_SESSION;
    }
    sub->s = session_ref(s);
    sub->next = s->subs;
    s->subs = sub;
    session_ev_unlock(s);
    *out = sub;
    return S_OK;
}

void session_events_row_modified(session *s, size_t i)
{
    session_ev_lock(s);
    for (session_sub *sub = s->subs; sub; sub = sub->next) {
        if (sub->closed)
            continue;
        session_event *ev = push(sub);
        if (session_row_copy(s, i, &ev->row) != 0)
            continue; /* out of memory: this subscriber misses one change */
        ev->kind = SESSION_EVENT_TABLE_MODIFIED;
        sub->count++;
        if (sub->wake)
            sub->wake(sub->ctx);
    }
    session_ev_unlock(s);
}

/* Queues the critical error that closes sub (events lock held). */
static void close_sub(session_sub *sub, const char *reason)
{
    session_event *ev = push(sub);
    ev->kind = SESSION_EVENT_CRITICAL_ERROR;
    ev->reason = reason;
    sub->count++;
    sub->closed = true;
    if (sub->wake)
        sub->wake(sub->ctx);
}

void session_events_end(session *s, const char *reason)
{
    session_ev_lock(s);
    for (session_sub *sub = s->subs; sub; sub = sub->next)
        if (!sub->closed)
            close_sub(sub, reason);
    session_ev_unlock(s);
}

void session_events_handle_end(session *s, const token_hash *handle, const char *reason)
{
    session_ev_lock(s);
    for (session_sub *sub = s->subs; sub; sub = sub->next)
        if (!sub->closed && sub->has_handle && token_hash_equal(&sub->handle, handle))
            close_sub(sub, reason);
    session_ev_unlock(s);
}

HRESULT session_sub_next(session_sub *sub, session_event *ev)
{
    session *s = sub->s;
    HRESULT hr;
    session_ev_lock(s);
    if (sub->count > 0) {
        *ev = sub->queue[sub->head];
        memset(&sub->queue[sub->head], 0, sizeof sub->queue[sub->head]);
        sub->head = (sub->head + 1) % SUB_QUEUE_MAX;
        sub->count--;
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
    while (sub->count > 0) {
        session_event_clear(&sub->queue[sub->head]);
        sub->head = (sub->head + 1) % SUB_QUEUE_MAX;
        sub->count--;
    }
    free(sub);
    session_unref(s);
}
