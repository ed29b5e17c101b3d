/* session.c - one MAPI session: provider logon, the status table, identity and
 * the IMAPIStatus methods; and session_env, what the sessions of one core
 * share. Where sessions are kept is session_store.c's. */
#include "session_internal.h"

#include "identity.h"
#include "mapi_flags.h"
#include "session_stats.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

session_env *session_env_new(void)
{
    session_env *env = calloc(1, sizeof *env);
    if (!env)
        return NULL;
    size_t locks = 0, ev_locks = 0;
    while (locks < SESSION_LOCK_POOL && pthread_mutex_init(&env->locks[locks], NULL) == 0)
        locks++;
    while (ev_locks < SESSION_LOCK_POOL && pthread_mutex_init(&env->ev_locks[ev_locks], NULL) == 0)
        ev_locks++;
    env->pool = pinst_pool_new();
    env->views = view_table_new();
    env->stats = session_stats_new();
    if (locks == SESSION_LOCK_POOL && ev_locks == SESSION_LOCK_POOL && env->pool && env->views &&
        env->stats) {
        atomic_init(&env->refs, 1);
        atomic_init(&env->next_serial, 1);
        env->sub_queue_max = SESSION_SUB_QUEUE_MAX;
        atomic_init(&env->events_coalesced, 0);
        atomic_init(&env->events_overflowed, 0);
        return env;
    }
    session_stats_free(env->stats);
    view_table_free(env->views);
    pinst_pool_free(env->pool);
    while (ev_locks > 0)
        pthread_mutex_destroy(&env->ev_locks[--ev_locks]);
    while (locks > 0)
        pthread_mutex_destroy(&env->locks[--locks]);
    free(env);
    return NULL;
}

session_env *session_env_ref(session_env *env)
{
    atomic_fetch_add(&env->refs, 1);
    return env;
}

void session_env_unref(session_env *env)
{
    if (!env || atomic_fetch_sub(&env->refs, 1) != 1)
        return;
    /* Every session is gone, and with them every view and instance but the
     * idle shared ones the pool still keeps. */
    session_stats_free(env->stats);
    view_table_free(env->views);
    pinst_pool_free(env->pool);
    for (size_t i = 0; i < SESSION_LOCK_POOL; i++) {
        pthread_mutex_destroy(&env->locks[i]);
        pthread_mutex_destroy(&env->ev_locks[i]);
    }
    free(env);
}

static pthread_mutex_t *lock_of(session *s)
{
    return s->own_lock ? s->own_lock : &s->env->locks[s->serial % SESSION_LOCK_POOL];
}

void session_lock(session *s) { pthread_mutex_lock(lock_of(s)); }

void session_unlock(session *s) { pthread_mutex_unlock(lock_of(s)); }

void session_ev_lock(session *s)
{
    pthread_mutex_lock(&s->env->ev_locks[s->serial % SESSION_LOCK_POOL]);
}

void session_ev_unlock(session *s)
{
    pthread_mutex_unlock(&s->env->ev_locks[s->serial % SESSION_LOCK_POOL]);
}

/* Whether some provider of p will be the session's own (provider_inst.h):
 * then its calls may block and the session needs a lock of its own. */
static bool has_own_providers(const profile *p)
{
    bool upstream = profile_auth(p) == PROFILE_AUTH_UPSTREAM;
    for (size_t i = 0; i < profile_service_count(p); i++) {
        const service_config *svc = profile_service(p, i);
        for (size_t j = 0; j < service_provider_count(svc); j++) {
            const provider_config *cfg = service_provider(svc, j);
            const provider_ops *ops = provider_config_ops(cfg);
            if (!ops || !ops->shared_instance ||
                (upstream && (provider_config_resource_flags(cfg) & STATUS_PRIMARY_IDENTITY)))
                return true;
        }
    }
    return false;
}

HRESULT session_create(session_env *env, profile_store *store, const profile *p, uint32_t flags,
                       unsigned idle_timeout_s, unsigned lifetime_s, time_t now, session **out)
{
    char id[SESSION_ID_LEN + 1];
    HRESULT hr = session_id_new(id);
    if (HR_FAILED(hr))
        return hr;
    return session_create_as(env, store, p, flags, idle_timeout_s, lifetime_s, now, id,
                             atomic_fetch_add(&env->next_serial, 1), out);
}

HRESULT session_create_as(session_env *env, profile_store *store, const profile *p, uint32_t flags,
                          unsigned idle_timeout_s, unsigned lifetime_s, time_t created,
                          const char *id, uint64_t serial, session **out)
{
    session *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    memcpy(s->id, id, SESSION_ID_LEN);
    s->id[SESSION_ID_LEN] = '\0';
    time_t now = created;
    if (has_own_providers(p)) {
        s->own_lock = malloc(sizeof *s->own_lock);
        if (!s->own_lock || pthread_mutex_init(s->own_lock, NULL) != 0) {
            free(s->own_lock);
            free(s);
            return MAPI_E_NOT_ENOUGH_RESOURCES;
        }
    }
    atomic_init(&s->refs, 1);
    s->env = session_env_ref(env);
    s->serial = serial;
    s->store = profile_store_ref(store);
    s->profile = p;
    s->flags = flags;
    s->created_at = now;
    s->idle_timeout_s = idle_timeout_s;
    s->lifetime_s = lifetime_s;
    atomic_init(&s->last_used_at, (long long)now);
    atomic_init(&s->shared_touched_at, 0);
    atomic_init(&s->ended, false);
    /* Versions start at a random point: a session built again (by another
     * replica, or by this one after dropping it) never repeats an earlier
     * object's version, so neither an ETag nor a cached rendering of the
     * old rows can pass for the new ones (changes count up by one). */
    s->version = ((uint64_t)randombytes_random() << 20) + 1;
    *out = s;
    return S_OK;
}

session *session_ref(session *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void session_unref(session *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    session_stats_view(s->env->stats, s->view, -1); /* never ended: still counted */
    session_events_free(s);
    view_unref(s->view);
    if (s->own_lock) {
        pthread_mutex_destroy(s->own_lock);
        free(s->own_lock);
    }
    profile_store_unref(s->store);
    session_env_unref(s->env); /* after the view: it holds the view table and the pool */
    free(s);
}

static const session_view EMPTY_VIEW;

const session_view *session_view_of(const session *s) { return s->view ? s->view : &EMPTY_VIEW; }

void session_row_key(const session *s, size_t i, uint8_t ik[STATUS_INSTANCE_KEY_LEN])
{
    status_instance_key(s->serial, i, ik);
}

size_t session_row_index(const session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN])
{
    uint64_t serial;
    size_t i;
    status_instance_key_split(ik, &serial, &i);
    if (serial != s->serial || i >= session_view_of(s)->row_count)
        return SIZE_MAX;
    return i;
}

int session_row_copy(const session *s, size_t i, status_row *dst)
{
    if (status_row_copy(dst, &session_view_of(s)->rows[i]) != 0)
        return -1;
    session_row_key(s, i, dst->instance_key);
    memcpy(dst->entry_id + 4 + MAPIUID_LEN, dst->instance_key, STATUS_INSTANCE_KEY_LEN);
    return 0;
}

const char *session_id(const session *s) { return s->id; }
const char *session_profile_name(const session *s) { return profile_name(s->profile); }
uint32_t session_flags(const session *s) { return s->flags; }
time_t session_created_at(const session *s) { return s->created_at; }
time_t session_last_used_at(const session *s) { return (time_t)atomic_load(&s->last_used_at); }
unsigned session_idle_timeout_s(const session *s) { return s->idle_timeout_s; }
bool session_is_ended(const session *s) { return atomic_load(&s->ended); }

time_t session_expires_at(const session *s)
{
    time_t by_lifetime = s->created_at + (time_t)s->lifetime_s;
    time_t by_idle = session_last_used_at(s) + (time_t)s->idle_timeout_s;
    return by_idle < by_lifetime ? by_idle : by_lifetime;
}

time_t session_lifetime_ends_at(const session *s) { return s->created_at + (time_t)s->lifetime_s; }

void session_touch(session *s, time_t now) { atomic_store(&s->last_used_at, (long long)now); }

bool session_expired(const session *s, time_t now) { return now >= session_expires_at(s); }

void session_end(session *s, const char *reason)
{
    if (atomic_exchange(&s->ended, true))
        return;
    /* Subscribers hear why before the providers go (fnevCriticalError). */
    session_events_end(s, reason);
    session_lock(s);
    session_view *v = s->view;
    session_stats_view(s->env->stats, v, -1);
    s->view = NULL;
    s->version++;
    session_unlock(s);
    view_unref(v); /* the last session of a shared instance logs it off */
}

/* ---- the table and its objects ------------------------------------------- */

HRESULT session_status_table(session *s, status_table *out)
{
    memset(out, 0, sizeof *out);
    session_lock(s);
    const session_view *v = session_view_of(s);
    HRESULT hr = S_OK;
    if (atomic_load(&s->ended)) {
        hr = MAPI_E_END_OF_SESSION;
    } else {
        out->rows = calloc(v->row_count ? v->row_count : 1, sizeof *out->rows);
        if (!out->rows)
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
        for (size_t i = 0; out->rows && i < v->row_count && HR_SUCCEEDED(hr); i++) {
            if (session_row_copy(s, i, &out->rows[i]) != 0)
                hr = MAPI_E_NOT_ENOUGH_MEMORY;
            else
                out->count++;
        }
        out->version = s->version;
    }
    session_unlock(s);
    if (HR_FAILED(hr))
        status_table_free(out);
    return hr;
}

uint64_t session_status_version(session *s)
{
    session_lock(s);
    uint64_t v = s->version;
    session_unlock(s);
    return v;
}

HRESULT session_status_row(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN], status_row *out)
{
    session_lock(s);
    HRESULT hr = MAPI_E_NOT_FOUND;
    size_t i = session_row_index(s, ik);
    if (atomic_load(&s->ended))
        hr = MAPI_E_END_OF_SESSION;
    else if (i != SIZE_MAX)
        hr = session_row_copy(s, i, out) == 0 ? S_OK : MAPI_E_NOT_ENOUGH_MEMORY;
    session_unlock(s);
    return hr;
}

HRESULT session_identity(session *s, identity *out)
{
    session_lock(s);
    HRESULT hr;
    if (atomic_load(&s->ended)) {
        hr = MAPI_E_END_OF_SESSION;
    } else {
        const session_view *v = session_view_of(s);
        status_table view = {v->rows, v->row_count, s->version};
        hr = identity_query(&view, out);
        if (HR_SUCCEEDED(hr) && out->has_source) {
            /* The view's rows carry their index as instance key. */
            size_t i;
            status_instance_key_split(out->source_instance_key, NULL, &i);
            session_row_key(s, i, out->source_instance_key);
        }
    }
    session_unlock(s);
    return hr;
}

/* Re-reads every provider's status into its row; bumps the version when any
 * row changed, also when running out of memory half-way (the rows changed so
 * far stay changed). Called with the session lock held. A shared view is
 * copied before the first change and interned again after the last, so
 * sessions whose rows change alike end up sharing one view again. */
/* The spooler's row (row 1 unless MAPI_NO_MAIL) sums its transports'
 * queues and is STATUS_OUTBOUND_ACTIVE while one of them sends. */
static HRESULT refresh_spooler_row(session *s, bool *changed)
{
    if (!s->view || s->view->no_mail || s->view->row_count < 2 ||
        s->view->rows[1].resource_type != MAPI_SPOOLER)
        return S_OK;
    long total = 0;
    bool active = false;
    for (size_t i = 0; i < s->view->provider_count; i++) {
        provider_inst *pi = s->view->providers[i];
        if (pi->ops->resource_type != MAPI_TRANSPORT_PROVIDER)
            continue;
        active |=
            (s->view->rows[s->view->provider_row[i]].status_code & STATUS_OUTBOUND_ACTIVE) != 0;
        if (pi->ops->queued) {
            pinst_lock(pi);
            long n = pi->ops->queued(pi->state);
            pinst_unlock(pi);
            total += n > 0 ? n : 0;
        }
    }
    char text[64];
    if (total > 0)
        snprintf(text, sizeof text, "%ld message%s queued", total, total == 1 ? "" : "s");
    else
        snprintf(text, sizeof text, "Available");
    uint32_t code = STATUS_AVAILABLE | (active ? STATUS_OUTBOUND_ACTIVE : 0);
    const status_row *now = &s->view->rows[1];
    if (now->status_code == code && now->status_string && strcmp(now->status_string, text) == 0)
        return S_OK;
    char *copy = strdup(text);
    if (!copy || HR_FAILED(view_own(&s->view))) {
        free(copy);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    status_row *row = &s->view->rows[1];
    free(row->status_string);
    row->status_string = copy;
    row->status_code = code;
    *changed = true;
    session_events_row_modified(s, 1);
    return S_OK;
}

HRESULT session_refresh_rows(session *s)
{
    bool changed = false;
    HRESULT hr = S_OK;
    for (size_t i = 0; s->view && i < s->view->provider_count; i++) {
        provider_status st;
        pinst_status(s->view->providers[i], &st);
        const status_row *now = &s->view->rows[s->view->provider_row[i]];
        if (now->status_code == st.status_code && now->status_string &&
            strcmp(now->status_string, st.status_string) == 0)
            continue;
        char *text = strdup(st.status_string);
        if (!text || HR_FAILED(view_own(&s->view))) {
            free(text);
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
            break;
        }
        size_t r = s->view->provider_row[i];
        status_row *row = &s->view->rows[r];
        free(row->status_string);
        row->status_string = text;
        session_stats_row_changed(s->env->stats, s->view->providers[i]->ops, row->status_code,
                                  st.status_code);
        row->status_code = st.status_code;
        changed = true;
        session_events_row_modified(s, r);
    }
    if (HR_SUCCEEDED(hr))
        hr = refresh_spooler_row(s, &changed);
    if (s->view && !s->view->interned)
        s->view = view_intern(s->view);
    if (changed)
        s->version++;
    return hr;
}

/* Tells subscribers that transport i starts sending what the spooler
 * queued (its row with STATUS_OUTBOUND_ACTIVE); the refresh after the poll
 * tells them it ended. Session lock held. */
static void announce_sending(session *s, size_t i)
{
    size_t r = s->view->provider_row[i];
    if ((s->view->rows[r].status_code & STATUS_OUTBOUND_ACTIVE) || HR_FAILED(view_own(&s->view)))
        return;
    provider_inst *pi = s->view->providers[i];
    uint32_t before = s->view->rows[r].status_code;
    s->view->rows[r].status_code |= STATUS_OUTBOUND_ACTIVE;
    session_stats_row_changed(s->env->stats, pi->ops, before, s->view->rows[r].status_code);
    s->version++;
    session_events_row_modified(s, r);
    bool changed = false;
    (void)refresh_spooler_row(s, &changed); /* the spooler is sending too */
}

void session_poll(session *s)
{
    session_lock(s);
    if (!atomic_load(&s->ended)) {
        for (size_t i = 0; i < session_view_of(s)->provider_count; i++) {
            provider_inst *pi = session_view_of(s)->providers[i];
            if (!pi->ops->poll)
                continue;
            pinst_lock(pi);
            bool sending = pi->ops->sending_due && pi->ops->sending_due(pi->state);
            pinst_unlock(pi);
            if (sending && s->view)
                announce_sending(s, i);
            pinst_lock(pi);
            pi->ops->poll(pi->state);
            pinst_unlock(pi);
        }
        session_spool_outcomes(s);
        (void)session_refresh_rows(s); /* out of memory: the next poll tries again */
    }
    session_unlock(s);
}

/* The provider behind row r, or NULL for MAPI's own rows. */
static provider_inst *row_provider(const session_view *v, size_t r)
{
    for (size_t i = 0; i < v->provider_count; i++)
        if (v->provider_row[i] == r)
            return v->providers[i];
    return NULL;
}

typedef enum { M_VALIDATE, M_FLUSH, M_PASSWORD, M_SETTINGS } status_method;

typedef struct {
    status_method method;
    uint32_t flags;
    const char *old_password;
    const char *new_password;
} method_call;

static HRESULT call_provider(provider_inst *pi, const method_call *call)
{
    HRESULT hr = MAPI_E_NO_SUPPORT;
    pinst_lock(pi);
    if (call->method == M_VALIDATE && pi->ops->validate_state)
        hr = pi->ops->validate_state(pi->state, call->flags);
    else if (call->method == M_FLUSH && pi->ops->flush_queues)
        hr = pi->ops->flush_queues(pi->state, call->flags);
    pinst_unlock(pi);
    return hr;
}

/* Runs a method on every provider of one type (the subsystem and spooler
 * act on the providers behind them); the first failure wins. */
static HRESULT for_providers(const session_view *v, uint32_t type, const method_call *call)
{
    HRESULT first = S_OK;
    for (size_t i = 0; i < v->provider_count; i++) {
        provider_inst *pi = v->providers[i];
        if (type && pi->ops->resource_type != type)
            continue;
        if ((call->method == M_VALIDATE && !pi->ops->validate_state) ||
            (call->method == M_FLUSH && !pi->ops->flush_queues))
            continue;
        HRESULT hr = call_provider(pi, call);
        if (HR_FAILED(hr) && first == S_OK)
            first = hr;
    }
    return first;
}

static HRESULT run_method(session *s, size_t r, const method_call *call)
{
    const session_view *v = session_view_of(s);
    provider_inst *pi = row_provider(v, r);
    if (pi) {
        switch (call->method) {
        case M_VALIDATE:
        case M_FLUSH:
            return call_provider(pi, call);
        case M_PASSWORD:
            return profile_change_password(s->profile, call->old_password, call->new_password);
        case M_SETTINGS:
            return MAPI_E_NO_SUPPORT;
        }
        return MAPI_E_NO_SUPPORT;
    }
    /* MAPI's own objects: the subsystem checks every provider, the spooler
     * logs every transport on again and flushes them all, the address book has
     * only its profile section to check. */
    uint32_t type = v->rows[r].resource_type;
    if (call->method == M_VALIDATE && type == MAPI_SUBSYSTEM)
        return for_providers(v, 0, call);
    if (type == MAPI_SPOOLER && (call->method == M_VALIDATE || call->method == M_FLUSH))
        return for_providers(v, MAPI_TRANSPORT_PROVIDER, call);
    if (call->method == M_VALIDATE)
        return S_OK;
    return MAPI_E_NO_SUPPORT;
}

/* A flush runs with the session locked, so readers of the table never see
 * it in progress; subscribers are told when it starts (the transports' rows
 * with STATUS_OUTBOUND_FLUSH) and, through the refresh afterwards, when it
 * ends. */
static HRESULT announce_flush(session *s, size_t target)
{
    uint32_t target_type = s->view->rows[target].resource_type;
    for (size_t i = 0; i < s->view->provider_count; i++) {
        provider_inst *pi = s->view->providers[i];
        size_t r = s->view->provider_row[i];
        bool affected = r == target || (target_type == MAPI_SPOOLER &&
                                        pi->ops->resource_type == MAPI_TRANSPORT_PROVIDER);
        if (!affected || !pi->ops->flush_queues ||
            (s->view->rows[r].status_code & STATUS_OUTBOUND_FLUSH))
            continue;
        if (HR_FAILED(view_own(&s->view)))
            return MAPI_E_NOT_ENOUGH_MEMORY;
        uint32_t before = s->view->rows[r].status_code;
        s->view->rows[r].status_code |= STATUS_OUTBOUND_FLUSH;
        session_stats_row_changed(s->env->stats, pi->ops, before, s->view->rows[r].status_code);
        s->version++;
        session_events_row_modified(s, r);
    }
    return S_OK;
}

/* Why the method may not run on row r (session lock held): the checks of
 * session.h in their order, S_OK when it may. */
static HRESULT method_refusal(const session *s, size_t r, const method_call *call)
{
    static const uint32_t bits[] = {STATUS_VALIDATE_STATE, STATUS_FLUSH_QUEUES,
                                    STATUS_CHANGE_PASSWORD, STATUS_SETTINGS_DIALOG};
    static const mapi_name_set *const sets[] = {&MAPI_VALIDATE_FLAG_NAMES, &MAPI_FLUSH_FLAG_NAMES,
                                                NULL, &MAPI_SETTINGS_FLAG_NAMES};
    if (atomic_load(&s->ended))
        return MAPI_E_END_OF_SESSION;
    if (r == SIZE_MAX)
        return MAPI_E_NOT_FOUND;
    if (!(s->view->rows[r].resource_methods & bits[call->method]))
        return MAPI_E_NO_SUPPORT; /* never call an object whose bit is clear */
    if (sets[call->method] && !mapi_flags_known(sets[call->method], call->flags))
        return MAPI_E_UNKNOWN_FLAGS;
    if (call->method == M_PASSWORD && (call->flags & ~MAPI_UNICODE))
        return MAPI_E_UNKNOWN_FLAGS;
    return S_OK;
}

static HRESULT status_method_call(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN],
                                  const method_call *call, status_row *row_out)
{
    session_lock(s);
    size_t r = session_row_index(s, ik);
    HRESULT hr = method_refusal(s, r, call);
    if (hr == S_OK && call->method == M_FLUSH)
        hr = announce_flush(s, r); /* fails only out of memory, before anything ran */
    if (hr == S_OK)
        hr = run_method(s, r, call);
    if (r != SIZE_MAX && call->method == M_FLUSH && hr != MAPI_E_END_OF_SESSION)
        session_spool_outcomes(s); /* what the flush delivered goes to Sent Items */
    if (r != SIZE_MAX && hr != MAPI_E_END_OF_SESSION) {
        /* A failed flush or check changes what the provider shows too. */
        HRESULT rh = session_refresh_rows(s);
        if (HR_SUCCEEDED(hr) && HR_FAILED(rh))
            hr = rh;
    }
    if (HR_SUCCEEDED(hr) && row_out && session_row_copy(s, r, row_out) != 0)
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    session_unlock(s);
    return hr;
}

HRESULT session_validate_state(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN],
                               uint32_t flags, status_row *row_out)
{
    method_call call = {M_VALIDATE, flags, NULL, NULL};
    return status_method_call(s, ik, &call, row_out);
}

HRESULT session_flush_queues(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN], uint32_t flags,
                             status_row *row_out)
{
    method_call call = {M_FLUSH, flags, NULL, NULL};
    return status_method_call(s, ik, &call, row_out);
}

HRESULT session_change_password(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN],
                                const char *old_password, const char *new_password,
                                status_row *row_out)
{
    method_call call = {M_PASSWORD, 0, old_password, new_password};
    return status_method_call(s, ik, &call, row_out);
}

HRESULT session_settings_dialog(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN],
                                uint32_t flags)
{
    method_call call = {M_SETTINGS, flags, NULL, NULL};
    return status_method_call(s, ik, &call, NULL);
}
