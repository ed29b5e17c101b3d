/* registry.c - the in-memory session registry behind registry.h's vtable.
 *
 * One read-write lock guards all three indexes: token lookups (every
 * authenticated request) take it shared; logon, logoff and reaping take it
 * exclusively, and never call into providers while holding it. */
#include "registry.h"

#include "session_internal.h"
#include "session_stats.h"

#include <stdlib.h>
#include <string.h>

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

typedef struct {
    htab_node node;
    size_t sessions;
    session *shared; /* the profile's shared session, borrowed from the index */
    char name[];
} profile_entry;

typedef struct {
    registry base;
    registry_limits limits;
    pthread_rwlock_t lock;
    htab handles;  /* session_handle.node */
    htab sessions; /* session.by_id */
    htab profiles; /* profile_entry.node */
    size_t handle_total;
    size_t shared_total; /* profiles that have a shared session */
} mem_registry;

static mem_registry *mem(registry *r) { return (mem_registry *)r; }

static uint64_t token_key(const token_hash *h)
{
    uint64_t k;
    memcpy(&k, h->bytes, sizeof k); /* a SHA-256 is already uniformly spread */
    return k;
}

static bool handle_eq(const htab_node *n, const void *key)
{
    const session_handle *h = CONTAINER_OF(n, session_handle, node);
    return token_hash_equal(&h->hash, key);
}

static bool session_eq(const htab_node *n, const void *key)
{
    return strcmp(CONTAINER_OF(n, session, by_id)->id, key) == 0;
}

static bool profile_eq(const htab_node *n, const void *key)
{
    return strcmp(CONTAINER_OF(n, profile_entry, node)->name, key) == 0;
}

static profile_entry *find_profile(mem_registry *m, const char *name)
{
    htab_node *n = htab_find(&m->profiles, htab_hash_bytes(name, strlen(name)), name, profile_eq);
    return n ? CONTAINER_OF(n, profile_entry, node) : NULL;
}

static session_handle *find_handle(mem_registry *m, const token_hash *h)
{
    htab_node *n = htab_find(&m->handles, token_key(h), h, handle_eq);
    return n ? CONTAINER_OF(n, session_handle, node) : NULL;
}

static session *find_session(mem_registry *m, const char *id)
{
    htab_node *n = htab_find(&m->sessions, htab_hash_bytes(id, strlen(id)), id, session_eq);
    return n ? CONTAINER_OF(n, session, by_id) : NULL;
}

static bool ended_reserve(registry_ended *e, size_t more)
{
    session **items = realloc(e->items, (e->count + more) * sizeof *items);
    if (!items)
        return false;
    e->items = items;
    return true;
}

static HRESULT add_handle(mem_registry *m, session *s, const token_hash *h)
{
    session_handle *hd = calloc(1, sizeof *hd);
    if (!hd)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    hd->hash = *h;
    hd->session = s;
    if (!htab_insert(&m->handles, &hd->node, token_key(h))) {
        free(hd);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    hd->next_in_session = s->handles;
    s->handles = hd;
    atomic_fetch_add(&s->handle_count, 1);
    m->handle_total++;
    return S_OK;
}

/* Unlinks s and its handles; the registry's reference moves to ended, for
 * which the caller reserved room. */
static void unlink_session(mem_registry *m, session *s, registry_ended *ended)
{
    session_handle *hd = s->handles;
    while (hd) {
        session_handle *next = hd->next_in_session;
        htab_remove(&m->handles, &hd->node);
        free(hd);
        m->handle_total--;
        hd = next;
    }
    s->handles = NULL;
    atomic_store(&s->handle_count, 0);
    htab_remove(&m->sessions, &s->by_id);
    profile_entry *pe = find_profile(m, session_profile_name(s));
    if (pe) {
        pe->sessions--;
        if (pe->shared == s) {
            pe->shared = NULL;
            m->shared_total--;
        }
        if (pe->sessions == 0) {
            htab_remove(&m->profiles, &pe->node);
            free(pe);
        }
    }
    ended->items[ended->count++] = s;
}

static HRESULT mem_add_session(registry *r, session *s, const token_hash *h, bool publish_shared)
{
    mem_registry *m = mem(r);
    const char *pname = session_profile_name(s);
    size_t plen = strlen(pname);
    profile_entry *fresh = calloc(1, sizeof *fresh + plen + 1);
    if (!fresh)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    memcpy(fresh->name, pname, plen + 1);

    HRESULT hr = S_OK;
    pthread_rwlock_wrlock(&m->lock);
    profile_entry *pe = find_profile(m, pname);
    if (m->sessions.count >= m->limits.max_sessions) {
        hr = MAPI_E_NOT_ENOUGH_RESOURCES;
    } else if (pe && pe->sessions >= m->limits.max_sessions_per_profile) {
        hr = MAPI_E_SESSION_LIMIT;
    } else if (!pe) {
        if (!htab_insert(&m->profiles, &fresh->node, htab_hash_bytes(pname, plen)))
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
        else
            pe = fresh, fresh = NULL;
    }
    if (HR_SUCCEEDED(hr) &&
        !htab_insert(&m->sessions, &s->by_id, htab_hash_bytes(s->id, strlen(s->id))))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (HR_SUCCEEDED(hr)) {
        hr = add_handle(m, s, h);
        if (HR_FAILED(hr))
            htab_remove(&m->sessions, &s->by_id);
    }
    if (HR_SUCCEEDED(hr)) {
        session_ref(s);
        pe->sessions++;
        if (publish_shared && !pe->shared) {
            pe->shared = s;
            atomic_store(&s->shared, true);
            m->shared_total++;
        }
    } else if (pe && pe->sessions == 0) {
        htab_remove(&m->profiles, &pe->node);
        free(pe);
    }
    pthread_rwlock_unlock(&m->lock);
    free(fresh);
    return hr;
}

static HRESULT mem_join_shared(registry *r, const char *profile_name_, const token_hash *h,
                               session **out)
{
    mem_registry *m = mem(r);
    HRESULT hr;
    pthread_rwlock_wrlock(&m->lock);
    profile_entry *pe = find_profile(m, profile_name_);
    session *s = pe ? pe->shared : NULL;
    if (!s)
        hr = MAPI_E_NOT_FOUND;
    else if (atomic_load(&s->handle_count) >= m->limits.max_handles_per_session)
        hr = MAPI_E_SESSION_LIMIT;
    else
        hr = add_handle(m, s, h);
    if (HR_SUCCEEDED(hr))
        *out = session_ref(s);
    pthread_rwlock_unlock(&m->lock);
    return hr;
}

typedef struct {
    session *found;
} shared_search;

static void find_shared(htab_node *n, void *ctx)
{
    profile_entry *pe = CONTAINER_OF(n, profile_entry, node);
    if (pe->shared)
        ((shared_search *)ctx)->found = pe->shared;
}

static HRESULT mem_sole_shared(registry *r, session **out)
{
    mem_registry *m = mem(r);
    shared_search search = {NULL};
    pthread_rwlock_rdlock(&m->lock);
    if (m->shared_total == 1)
        htab_foreach(&m->profiles, find_shared, &search);
    if (search.found)
        *out = session_ref(search.found);
    pthread_rwlock_unlock(&m->lock);
    return search.found ? S_OK : MAPI_E_NOT_FOUND;
}

static HRESULT mem_lookup(registry *r, const token_hash *h, session **out)
{
    mem_registry *m = mem(r);
    pthread_rwlock_rdlock(&m->lock);
    session_handle *hd = find_handle(m, h);
    if (hd)
        *out = session_ref(hd->session);
    pthread_rwlock_unlock(&m->lock);
    return hd ? S_OK : MAPI_E_END_OF_SESSION;
}

static HRESULT mem_remove_handle(registry *r, const token_hash *h, bool end_all,
                                 registry_ended *ended)
{
    mem_registry *m = mem(r);
    if (!ended_reserve(ended, 1))
        return MAPI_E_NOT_ENOUGH_MEMORY;
    HRESULT hr = S_OK;
    session *alone = NULL; /* the session of a handle removed alone */
    token_hash gone = {{0}};
    pthread_rwlock_wrlock(&m->lock);
    session_handle *hd = find_handle(m, h);
    if (!hd) {
        hr = MAPI_E_END_OF_SESSION;
    } else if (end_all || atomic_load(&hd->session->handle_count) == 1) {
        unlink_session(m, hd->session, ended);
    } else {
        session *s = hd->session;
        session_handle **p = &s->handles;
        while (*p != hd)
            p = &(*p)->next_in_session;
        *p = hd->next_in_session;
        htab_remove(&m->handles, &hd->node);
        atomic_fetch_sub(&s->handle_count, 1);
        m->handle_total--;
        alone = session_ref(s);
        gone = hd->hash;
        free(hd);
    }
    pthread_rwlock_unlock(&m->lock);
    if (alone) {
        /* The session lives on for its other handles, but this handle's
         * event streams end now: a dead handle gets nothing more. Outside
         * the lock, as every call into a session. */
        session_events_handle_end(alone, &gone, ended->reason ? ended->reason : "logoff");
        session_unref(alone);
    }
    return hr;
}

static HRESULT mem_remove_session(registry *r, const char *id, registry_ended *ended)
{
    mem_registry *m = mem(r);
    if (!ended_reserve(ended, 1))
        return MAPI_E_NOT_ENOUGH_MEMORY;
    pthread_rwlock_wrlock(&m->lock);
    session *s = find_session(m, id);
    if (s)
        unlink_session(m, s, ended);
    pthread_rwlock_unlock(&m->lock);
    return s ? S_OK : MAPI_E_NOT_FOUND;
}

static session *mem_find(registry *r, const char *id)
{
    mem_registry *m = mem(r);
    pthread_rwlock_rdlock(&m->lock);
    session *s = find_session(m, id);
    if (s)
        session_ref(s);
    pthread_rwlock_unlock(&m->lock);
    return s;
}

typedef struct {
    session **items;
    size_t count;
    bool (*pred)(const session *s, void *ctx);
    void *ctx;
} collect_ctx;

static void collect(htab_node *n, void *ctx)
{
    collect_ctx *c = ctx;
    session *s = CONTAINER_OF(n, session, by_id);
    if (!c->pred || c->pred(s, c->ctx))
        c->items[c->count++] = s;
}

static void mem_remove_where(registry *r, bool (*pred)(const session *s, void *ctx), void *ctx,
                             registry_ended *ended)
{
    mem_registry *m = mem(r);
    pthread_rwlock_wrlock(&m->lock);
    size_t n = m->sessions.count;
    collect_ctx c = {calloc(n ? n : 1, sizeof(session *)), 0, pred, ctx};
    /* Out of memory: nothing is removed now; the reaper comes back. */
    if (c.items && ended_reserve(ended, n)) {
        session_stats_walked();
        htab_foreach(&m->sessions, collect, &c);
        for (size_t i = 0; i < c.count; i++)
            unlink_session(m, c.items[i], ended);
    }
    pthread_rwlock_unlock(&m->lock);
    free(c.items);
}

static HRESULT mem_snapshot(registry *r, session ***out, size_t *count)
{
    mem_registry *m = mem(r);
    pthread_rwlock_rdlock(&m->lock);
    size_t n = m->sessions.count;
    collect_ctx c = {calloc(n ? n : 1, sizeof(session *)), 0, NULL, NULL};
    if (c.items) {
        session_stats_walked();
        htab_foreach(&m->sessions, collect, &c);
        for (size_t i = 0; i < c.count; i++)
            session_ref(c.items[i]);
    }
    pthread_rwlock_unlock(&m->lock);
    if (!c.items)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    *out = c.items;
    *count = c.count;
    return S_OK;
}

static void mem_counts(registry *r, size_t *sessions, size_t *handles)
{
    mem_registry *m = mem(r);
    pthread_rwlock_rdlock(&m->lock);
    *sessions = m->sessions.count;
    *handles = m->handle_total;
    pthread_rwlock_unlock(&m->lock);
}

static void mem_free(registry *r)
{
    mem_registry *m = mem(r);
    registry_ended ended = {NULL, 0, "shutdown"};
    mem_remove_where(r, NULL, NULL, &ended);
    registry_ended_finish(&ended);
    htab_destroy(&m->handles);
    htab_destroy(&m->sessions);
    htab_destroy(&m->profiles);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

static const registry_ops MEMORY_OPS = {
    mem_add_session,   mem_join_shared,    mem_sole_shared, mem_lookup,
    mem_remove_handle, mem_remove_session, mem_find,        mem_remove_where,
    mem_snapshot,      mem_counts,         mem_free,
};

registry *registry_memory_new(const registry_limits *limits)
{
    mem_registry *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (pthread_rwlock_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    m->base.ops = &MEMORY_OPS;
    m->limits = *limits;
    htab_init(&m->handles);
    htab_init(&m->sessions);
    htab_init(&m->profiles);
    return &m->base;
}

void registry_ended_finish(registry_ended *ended)
{
    for (size_t i = 0; i < ended->count; i++) {
        session_end(ended->items[i], ended->reason ? ended->reason : "shutdown");
        session_unref(ended->items[i]);
    }
    free(ended->items);
    ended->items = NULL;
    ended->count = 0;
}
