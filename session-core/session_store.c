/* session_store.c - the in-memory session store behind session_store.h.
 *
 * One read-write lock guards the three indexes and every record: token
 * lookups (every authenticated request) take it shared; logon, logoff and
 * reaping take it exclusively. Records are allocated before the lock is
 * taken, and nothing under it calls into a session but session_ref and the
 * remove_where predicate. */
#include "session_store.h"

#include "htab.h"
#include "session_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

typedef struct store_handle store_handle;

/* One per session. */
typedef struct {
    htab_node by_id;
    session *s; /* the store's reference */
    store_handle *handles;
    unsigned handle_count;
    bool shared; /* its profile's shared session */
} store_session;

/* One per bearer token. */
struct store_handle {
    htab_node node; /* by token hash */
    token_hash hash;
    session *s; /* rec->s, kept here so that a lookup reads one record */
    store_session *rec;
    store_handle *next_in_session;
};

/* One per profile name with sessions. */
typedef struct {
    htab_node node;
    size_t sessions;
    store_session *shared; /* the profile's shared session, if any */
    char name[];
} store_profile;

struct session_store {
    session_store_limits limits;
    pthread_rwlock_t lock;
    htab handles;  /* store_handle.node */
    htab sessions; /* store_session.by_id */
    htab profiles; /* store_profile.node */
    size_t handle_total;
    size_t shared_total; /* profiles that have a shared session */
    atomic_uint_fast64_t walks;
};

static uint64_t token_key(const token_hash *h)
{
    uint64_t k;
    memcpy(&k, h->bytes, sizeof k); /* a SHA-256 is already uniformly spread */
    return k;
}

static uint64_t string_key(const char *s) { return htab_hash_bytes(s, strlen(s)); }

static bool handle_eq(const htab_node *n, const void *key)
{
    return token_hash_equal(&CONTAINER_OF(n, store_handle, node)->hash, key);
}

static bool session_eq(const htab_node *n, const void *key)
{
    return strcmp(session_id(CONTAINER_OF(n, store_session, by_id)->s), key) == 0;
}

static bool profile_eq(const htab_node *n, const void *key)
{
    return strcmp(CONTAINER_OF(n, store_profile, node)->name, key) == 0;
}

static store_profile *find_profile(session_store *st, const char *name)
{
    htab_node *n = htab_find(&st->profiles, string_key(name), name, profile_eq);
    return n ? CONTAINER_OF(n, store_profile, node) : NULL;
}

static store_handle *find_handle(session_store *st, const token_hash *h)
{
    htab_node *n = htab_find(&st->handles, token_key(h), h, handle_eq);
    return n ? CONTAINER_OF(n, store_handle, node) : NULL;
}

static store_session *find_session(session_store *st, const char *id)
{
    htab_node *n = htab_find(&st->sessions, string_key(id), id, session_eq);
    return n ? CONTAINER_OF(n, store_session, by_id) : NULL;
}

static bool ended_reserve(session_store_ended *e, size_t more)
{
    session **items = realloc(e->items, (e->count + more) * sizeof *items);
    if (!items)
        return false;
    e->items = items;
    return true;
}

/* Links hd (filled by the caller) into the token index and rec's list.
 * false when out of memory (nothing linked). */
static bool link_handle(session_store *st, store_session *rec, store_handle *hd)
{
    hd->s = rec->s;
    hd->rec = rec;
    if (!htab_insert(&st->handles, &hd->node, token_key(&hd->hash)))
        return false;
    hd->next_in_session = rec->handles;
    rec->handles = hd;
    rec->handle_count++;
    st->handle_total++;
    return true;
}

/* Unlinks a session's record and its handles; the store's reference moves
 * to ended, for which the caller reserved room. */
static void unlink_session(session_store *st, store_session *rec, session_store_ended *ended)
{
    store_handle *hd = rec->handles;
    while (hd) {
        store_handle *next = hd->next_in_session;
        htab_remove(&st->handles, &hd->node);
        free(hd);
        st->handle_total--;
        hd = next;
    }
    htab_remove(&st->sessions, &rec->by_id);
    store_profile *pe = find_profile(st, session_profile_name(rec->s));
    if (pe) {
        pe->sessions--;
        if (pe->shared == rec) {
            pe->shared = NULL;
            st->shared_total--;
        }
        if (pe->sessions == 0) {
            htab_remove(&st->profiles, &pe->node);
            free(pe);
        }
    }
    ended->items[ended->count++] = rec->s;
    free(rec);
}

/* Why a new session may not be added now: S_OK when it may. */
static HRESULT add_refusal(const session_store *st, const store_profile *pe)
{
    if (st->sessions.count >= st->limits.max_sessions)
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    if (pe && pe->sessions >= st->limits.max_sessions_per_profile)
        return MAPI_E_SESSION_LIMIT;
    return S_OK;
}

HRESULT session_store_add(session_store *st, session *s, const token_hash *h, bool publish_shared,
                          bool *shared)
{
    if (shared)
        *shared = false;
    const char *pname = session_profile_name(s);
    size_t plen = strlen(pname);
    store_profile *fresh = calloc(1, sizeof *fresh + plen + 1);
    store_session *rec = calloc(1, sizeof *rec);
    store_handle *hd = calloc(1, sizeof *hd);
    if (!fresh || !rec || !hd) {
        free(fresh);
        free(rec);
        free(hd);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    memcpy(fresh->name, pname, plen + 1);
    rec->s = s;
    hd->hash = *h;

    pthread_rwlock_wrlock(&st->lock);
    store_profile *pe = find_profile(st, pname);
    HRESULT hr = add_refusal(st, pe);
    if (HR_SUCCEEDED(hr) && !pe) {
        if (htab_insert(&st->profiles, &fresh->node, string_key(pname))) {
            pe = fresh;
            fresh = NULL;
        } else {
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
        }
    }
    if (HR_SUCCEEDED(hr) && !htab_insert(&st->sessions, &rec->by_id, string_key(session_id(s))))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (HR_SUCCEEDED(hr) && !link_handle(st, rec, hd)) {
        htab_remove(&st->sessions, &rec->by_id);
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    }
    if (HR_SUCCEEDED(hr)) {
        session_ref(s);
        pe->sessions++;
        if (publish_shared && !pe->shared) {
            pe->shared = rec;
            rec->shared = true;
            st->shared_total++;
        }
        if (shared)
            *shared = rec->shared;
        rec = NULL;
        hd = NULL;
    } else if (pe && pe->sessions == 0) {
        htab_remove(&st->profiles, &pe->node);
        free(pe);
    }
    pthread_rwlock_unlock(&st->lock);
    free(fresh);
    free(rec);
    free(hd);
    return hr;
}

HRESULT session_store_join_shared(session_store *st, const char *profile_name_, const token_hash *h,
                                  session **out)
{
    store_handle *hd = calloc(1, sizeof *hd);
    if (!hd)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    hd->hash = *h;
    HRESULT hr = S_OK;
    pthread_rwlock_wrlock(&st->lock);
    store_profile *pe = find_profile(st, profile_name_);
    store_session *rec = pe ? pe->shared : NULL;
    if (!rec)
        hr = MAPI_E_NOT_FOUND;
    else if (rec->handle_count >= st->limits.max_handles_per_session)
        hr = MAPI_E_SESSION_LIMIT;
    else if (!link_handle(st, rec, hd))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (HR_SUCCEEDED(hr)) {
        *out = session_ref(rec->s);
        hd = NULL;
    }
    pthread_rwlock_unlock(&st->lock);
    free(hd);
    return hr;
}

HRESULT session_store_add_handle(session_store *st, const char *id, const token_hash *h,
                                 session **out)
{
    store_handle *hd = calloc(1, sizeof *hd);
    if (!hd)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    hd->hash = *h;
    HRESULT hr = S_OK;
    pthread_rwlock_wrlock(&st->lock);
    store_session *rec = find_session(st, id);
    if (!rec)
        hr = MAPI_E_NOT_FOUND;
    else if (find_handle(st, h))
        ; /* already there: another request of the same bearer came first */
    else if (!link_handle(st, rec, hd))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    else
        hd = NULL;
    if (HR_SUCCEEDED(hr))
        *out = session_ref(rec->s);
    pthread_rwlock_unlock(&st->lock);
    free(hd);
    return hr;
}

typedef struct {
    token_hash *items;
    size_t count;
} hash_snapshot;

static void take_hash(htab_node *n, void *ctx)
{
    hash_snapshot *c = ctx;
    c->items[c->count++] = CONTAINER_OF(n, store_handle, node)->hash;
}

HRESULT session_store_handles(session_store *st, token_hash **out, size_t *count)
{
    pthread_rwlock_rdlock(&st->lock);
    size_t n = st->handles.count;
    hash_snapshot c = {calloc(n ? n : 1, sizeof(token_hash)), 0};
    if (c.items)
        htab_foreach(&st->handles, take_hash, &c);
    pthread_rwlock_unlock(&st->lock);
    if (!c.items)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    *out = c.items;
    *count = c.count;
    return S_OK;
}

typedef struct {
    session *found;
} shared_search;

static void find_shared(htab_node *n, void *ctx)
{
    store_profile *pe = CONTAINER_OF(n, store_profile, node);
    if (pe->shared)
        ((shared_search *)ctx)->found = pe->shared->s;
}

HRESULT session_store_sole_shared(session_store *st, session **out)
{
    shared_search search = {NULL};
    pthread_rwlock_rdlock(&st->lock);
    if (st->shared_total == 1)
        htab_foreach(&st->profiles, find_shared, &search);
    if (search.found)
        *out = session_ref(search.found);
    pthread_rwlock_unlock(&st->lock);
    return search.found ? S_OK : MAPI_E_NOT_FOUND;
}

HRESULT session_store_lookup(session_store *st, const token_hash *h, session **out)
{
    pthread_rwlock_rdlock(&st->lock);
    store_handle *hd = find_handle(st, h);
    if (hd)
        *out = session_ref(hd->s);
    pthread_rwlock_unlock(&st->lock);
    return hd ? S_OK : MAPI_E_END_OF_SESSION;
}

session *session_store_find(session_store *st, const char *id)
{
    pthread_rwlock_rdlock(&st->lock);
    store_session *rec = find_session(st, id);
    session *s = rec ? session_ref(rec->s) : NULL;
    pthread_rwlock_unlock(&st->lock);
    return s;
}

HRESULT session_store_facts_of(session_store *st, const char *id, session_store_facts *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&st->lock);
    store_session *rec = find_session(st, id);
    if (rec) {
        out->shared = rec->shared;
        out->handles = rec->handle_count;
    }
    pthread_rwlock_unlock(&st->lock);
    return rec ? S_OK : MAPI_E_NOT_FOUND;
}

/* Unlinks one handle of a session that keeps others. */
static void unlink_handle(session_store *st, store_handle *hd)
{
    store_session *rec = hd->rec;
    store_handle **p = &rec->handles;
    while (*p != hd)
        p = &(*p)->next_in_session;
    *p = hd->next_in_session;
    htab_remove(&st->handles, &hd->node);
    rec->handle_count--;
    st->handle_total--;
}

HRESULT session_store_remove_handle(session_store *st, const token_hash *h, bool end_all,
                                    session_store_ended *ended)
{
    if (!ended_reserve(ended, 1))
        return MAPI_E_NOT_ENOUGH_MEMORY;
    HRESULT hr = S_OK;
    store_handle *alone = NULL;              /* a handle removed while its session lives on */
    session *before = ended->handle_session; /* a list carries one such handle: the last */
    pthread_rwlock_wrlock(&st->lock);
    store_handle *hd = find_handle(st, h);
    if (!hd) {
        hr = MAPI_E_END_OF_SESSION;
    } else if (end_all || hd->rec->handle_count == 1) {
        unlink_session(st, hd->rec, ended);
    } else {
        unlink_handle(st, hd);
        alone = hd;
        /* Its streams end outside the lock (session_store_ended_finish). */
        ended->handle_session = session_ref(hd->s);
        ended->handle = hd->hash;
    }
    pthread_rwlock_unlock(&st->lock);
    if (alone) {
        free(alone);
        session_unref(before);
    }
    return hr;
}

HRESULT session_store_remove_session(session_store *st, const char *id, session_store_ended *ended)
{
    if (!ended_reserve(ended, 1))
        return MAPI_E_NOT_ENOUGH_MEMORY;
    pthread_rwlock_wrlock(&st->lock);
    store_session *rec = find_session(st, id);
    if (rec)
        unlink_session(st, rec, ended);
    pthread_rwlock_unlock(&st->lock);
    return rec ? S_OK : MAPI_E_NOT_FOUND;
}

typedef struct {
    store_session **items;
    size_t count;
    bool (*pred)(const session *s, void *ctx);
    void *ctx;
} collect_ctx;

static void collect(htab_node *n, void *ctx)
{
    collect_ctx *c = ctx;
    store_session *rec = CONTAINER_OF(n, store_session, by_id);
    if (!c->pred || c->pred(rec->s, c->ctx))
        c->items[c->count++] = rec;
}

typedef struct {
    session **items;
    size_t count;
} snapshot_ctx;

static void take_ref(htab_node *n, void *ctx)
{
    snapshot_ctx *c = ctx;
    c->items[c->count++] = session_ref(CONTAINER_OF(n, store_session, by_id)->s);
}

void session_store_remove_where(session_store *st, bool (*pred)(const session *s, void *ctx),
                                void *ctx, session_store_ended *ended)
{
    pthread_rwlock_wrlock(&st->lock);
    size_t n = st->sessions.count;
    collect_ctx c = {calloc(n ? n : 1, sizeof(store_session *)), 0, pred, ctx};
    if (c.items && ended_reserve(ended, n)) {
        atomic_fetch_add_explicit(&st->walks, 1, memory_order_relaxed);
        htab_foreach(&st->sessions, collect, &c);
        for (size_t i = 0; i < c.count; i++)
            unlink_session(st, c.items[i], ended);
    }
    pthread_rwlock_unlock(&st->lock);
    free(c.items);
}

HRESULT session_store_snapshot(session_store *st, session ***out, size_t *count)
{
    pthread_rwlock_rdlock(&st->lock);
    size_t n = st->sessions.count;
    snapshot_ctx c = {calloc(n ? n : 1, sizeof(session *)), 0};
    if (c.items) {
        atomic_fetch_add_explicit(&st->walks, 1, memory_order_relaxed);
        htab_foreach(&st->sessions, take_ref, &c);
    }
    pthread_rwlock_unlock(&st->lock);
    if (!c.items)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    *out = c.items;
    *count = c.count;
    return S_OK;
}

void session_store_counts(session_store *st, session_store_totals *out)
{
    pthread_rwlock_rdlock(&st->lock);
    out->sessions = st->sessions.count;
    out->handles = st->handle_total;
    pthread_rwlock_unlock(&st->lock);
    out->walks = atomic_load_explicit(&st->walks, memory_order_relaxed);
}

session_store *session_store_new(const session_store_limits *limits)
{
    session_store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    if (pthread_rwlock_init(&st->lock, NULL) != 0) {
        free(st);
        return NULL;
    }
    st->limits = *limits;
    htab_init(&st->handles);
    htab_init(&st->sessions);
    htab_init(&st->profiles);
    atomic_init(&st->walks, 0);
    return st;
}

void session_store_free(session_store *st)
{
    if (!st)
        return;
    session_store_ended ended = SESSION_STORE_ENDED_INIT("shutdown");
    session_store_remove_where(st, NULL, NULL, &ended);
    session_store_ended_finish(&ended);
    htab_destroy(&st->handles);
    htab_destroy(&st->sessions);
    htab_destroy(&st->profiles);
    pthread_rwlock_destroy(&st->lock);
    free(st);
}

void session_store_ended_finish(session_store_ended *ended)
{
    if (ended->handle_session) {
        /* The session lives on for its other handles, but this handle's
         * event streams end now: a dead handle gets nothing more. */
        session_events_handle_end(ended->handle_session, &ended->handle,
                                  ended->reason ? ended->reason : "logoff");
        session_unref(ended->handle_session);
        ended->handle_session = NULL;
    }
    for (size_t i = 0; i < ended->count; i++) {
        session_end(ended->items[i], ended->reason ? ended->reason : "shutdown");
        session_unref(ended->items[i]);
    }
    free(ended->items);
    ended->items = NULL;
    ended->count = 0;
}
