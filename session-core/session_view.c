/* session_view.c - building, copying and interning session views. */
#include "session_view.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct view_table {
    /* Interned views' reference counts change only under this lock, so a
     * lookup never revives a view that is being freed. */
    pthread_mutex_t lock;
    htab interned; /* by content */
    htab probes;   /* the same views, by probe_hash */
};

view_table *view_table_new(void)
{
    view_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    htab_init(&t->interned);
    htab_init(&t->probes);
    return t;
}

void view_table_free(view_table *t)
{
    if (!t)
        return;
    htab_destroy(&t->interned);
    htab_destroy(&t->probes);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

session_view *view_new(view_table *t, size_t nprov, size_t nrows)
{
    session_view *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->table = t;
    v->providers = calloc(nprov ? nprov : 1, sizeof *v->providers);
    v->provider_row = calloc(nprov ? nprov : 1, sizeof *v->provider_row);
    v->rows = calloc(nrows ? nrows : 1, sizeof *v->rows);
    v->gens = calloc(nprov ? nprov : 1, sizeof *v->gens);
    v->refs = 1;
    if (!v->providers || !v->provider_row || !v->rows || !v->gens) {
        view_unref(v);
        return NULL;
    }
    return v;
}

static void view_free(session_view *v)
{
    for (size_t i = 0; i < v->provider_count; i++)
        pinst_unref(v->providers[i]);
    status_table t = {v->rows, v->row_count, 0};
    status_table_free(&t);
    free(v->providers);
    free(v->provider_row);
    free(v->gens);
    free(v);
}

void view_unref(session_view *v)
{
    if (!v)
        return;
    if (v->interned) {
        view_table *t = v->table;
        pthread_mutex_lock(&t->lock);
        bool last = --v->refs == 0;
        if (last) {
            htab_remove(&t->interned, &v->node);
            htab_remove(&t->probes, &v->probe_node);
        }
        pthread_mutex_unlock(&t->lock);
        if (!last)
            return;
    } else if (--v->refs != 0) {
        return;
    }
    view_free(v);
}

/* ---- equality and hashing ------------------------------------------------ */

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static bool bin_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool row_eq(const status_row *a, const status_row *b)
{
    return memcmp(a->instance_key, b->instance_key, STATUS_INSTANCE_KEY_LEN) == 0 &&
           a->row_id == b->row_id && a->object_type == b->object_type &&
           a->resource_type == b->resource_type && a->resource_flags == b->resource_flags &&
           a->resource_methods == b->resource_methods && a->status_code == b->status_code &&
           a->has_identity == b->has_identity && a->identity_shared == b->identity_shared &&
           str_eq(a->display_name, b->display_name) &&
           str_eq(a->provider_display, b->provider_display) &&
           str_eq(a->provider_dll_name, b->provider_dll_name) &&
           str_eq(a->status_string, b->status_string) &&
           str_eq(a->resource_path, b->resource_path) &&
           str_eq(a->identity_display, b->identity_display) &&
           str_eq(a->identity_addrtype, b->identity_addrtype) &&
           str_eq(a->identity_address, b->identity_address) &&
           bin_eq(a->identity_entry_id, a->identity_entry_id_len, b->identity_entry_id,
                  b->identity_entry_id_len) &&
           bin_eq(a->identity_search_key, a->identity_search_key_len, b->identity_search_key,
                  b->identity_search_key_len);
}

static bool view_eq(const htab_node *n, const void *key)
{
    const session_view *a = (const session_view *)((const char *)n - offsetof(session_view, node));
    const session_view *b = key;
    if (a->provider_count != b->provider_count || a->row_count != b->row_count ||
        a->ab_failures != b->ab_failures)
        return false;
    for (size_t i = 0; i < a->provider_count; i++)
        if (a->providers[i] != b->providers[i] || a->provider_row[i] != b->provider_row[i])
            return false;
    for (size_t i = 0; i < a->row_count; i++)
        if (!row_eq(&a->rows[i], &b->rows[i]))
            return false;
    return true;
}

static uint64_t mix(uint64_t h, uint64_t x) { return (h ^ x) * 0x100000001b3ULL; }

static uint64_t probe_hash(provider_inst *const *providers, size_t n, bool no_mail,
                           size_t ab_failures)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = mix(h, n);
    h = mix(h, no_mail);
    h = mix(h, ab_failures);
    for (size_t i = 0; i < n; i++)
        h = mix(h, (uint64_t)(uintptr_t)providers[i]);
    return h;
}

typedef struct {
    provider_inst *const *providers;
    size_t n;
    bool no_mail;
    size_t ab_failures;
} probe_key;

/* With the intern lock held: the view's rows are what these instances show
 * now (build_view's layout: MAPI's three rows, then one per provider). */
static bool probe_eq(const htab_node *node, const void *key)
{
    const session_view *v =
        (const session_view *)((const char *)node - offsetof(session_view, probe_node));
    const probe_key *k = key;
    if (v->provider_count != k->n || v->no_mail != k->no_mail || v->ab_failures != k->ab_failures ||
        v->row_count != 3 + k->n)
        return false;
    for (size_t i = 0; i < k->n; i++)
        if (v->providers[i] != k->providers[i] || v->provider_row[i] != 3 + i ||
            v->gens[i] != atomic_load(&k->providers[i]->gen))
            return false;
    return true;
}

session_view *view_find(view_table *t, provider_inst *const *providers, size_t n, bool no_mail,
                        size_t ab_failures)
{
    for (size_t i = 0; i < n; i++)
        if (!providers[i]->shared)
            return NULL;
    probe_key k = {providers, n, no_mail, ab_failures};
    uint64_t h = probe_hash(providers, n, no_mail, ab_failures);
    pthread_mutex_lock(&t->lock);
    htab_node *node = htab_find(&t->probes, h, &k, probe_eq);
    session_view *v = NULL;
    if (node) {
        v = (session_view *)((char *)node - offsetof(session_view, probe_node));
        v->refs++;
    }
    pthread_mutex_unlock(&t->lock);
    return v;
}

void view_capture_gens(session_view *v)
{
    for (size_t i = 0; i < v->provider_count; i++)
        v->gens[i] = atomic_load(&v->providers[i]->gen);
}

/* Over what usually differs between views: the instances and the statuses. */
static uint64_t view_hash(const session_view *v)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = mix(h, v->provider_count);
    h = mix(h, v->row_count);
    for (size_t i = 0; i < v->provider_count; i++)
        h = mix(h, (uint64_t)(uintptr_t)v->providers[i]);
    for (size_t i = 0; i < v->row_count; i++) {
        h = mix(h, v->rows[i].status_code);
        if (v->rows[i].status_string)
            h = mix(h, htab_hash_bytes(v->rows[i].status_string, strlen(v->rows[i].status_string)));
    }
    return h;
}

session_view *view_intern(session_view *v)
{
    for (size_t i = 0; i < v->provider_count; i++)
        if (!v->providers[i]->shared)
            return v;
    uint64_t h = view_hash(v);
    view_table *t = v->table;
    pthread_mutex_lock(&t->lock);
    htab_node *n = htab_find(&t->interned, h, v, view_eq);
    session_view *found = NULL;
    if (n) {
        found = (session_view *)((char *)n - offsetof(session_view, node));
        found->refs++;
        /* Equal rows, read later: the newer generations let view_find
         * hand it out again. */
        memcpy(found->gens, v->gens, v->provider_count * sizeof *v->gens);
    } else if (htab_insert(&t->interned, &v->node, h)) {
        if (htab_insert(&t->probes, &v->probe_node,
                        probe_hash(v->providers, v->provider_count, v->no_mail, v->ab_failures)))
            v->interned = true;
        else
            htab_remove(&t->interned, &v->node); /* out of memory: stays the session's own */
    }
    pthread_mutex_unlock(&t->lock);
    if (!found)
        return v; /* interned now, or (out of memory) the session's own */
    view_free(v);
    return found;
}

HRESULT view_own(session_view **vp)
{
    session_view *v = *vp;
    if (!v->interned)
        return S_OK;
    session_view *c = view_new(v->table, v->provider_count, v->row_count);
    if (!c)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    c->ab_failures = v->ab_failures;
    c->no_mail = v->no_mail;
    for (size_t i = 0; i < v->row_count; i++) {
        if (status_row_copy(&c->rows[i], &v->rows[i]) != 0) {
            view_unref(c);
            return MAPI_E_NOT_ENOUGH_MEMORY;
        }
        c->row_count++;
    }
    for (size_t i = 0; i < v->provider_count; i++) {
        c->providers[i] = pinst_ref(v->providers[i]);
        c->provider_row[i] = v->provider_row[i];
        c->provider_count++;
    }
    /* The rows it is built from are of these generations or later: a copy
     * that keeps them can only be found by a logon less often, never
     * wrongly. */
    pthread_mutex_lock(&v->table->lock);
    memcpy(c->gens, v->gens, v->provider_count * sizeof *c->gens);
    pthread_mutex_unlock(&v->table->lock);
    view_unref(v);
    *vp = c;
    return S_OK;
}
