/* session.c - one MAPI session: provider logon, the status table, identity and
 * the IMAPIStatus methods. Registry bookkeeping lives in registry.c. */
#include "session_internal.h"

#include "analyzer.h"
#include "identity.h"
#include "mapi_flags.h"

#include <stdlib.h>
#include <string.h>

HRESULT session_create(profile_store *store, const profile *p, uint32_t flags,
                       unsigned idle_timeout_s, unsigned lifetime_s, time_t now, session **out)
{
    session *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    HRESULT hr = session_id_new(s->id);
    if (HR_FAILED(hr)) {
        free(s);
        return hr;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    }
    if (pthread_mutex_init(&s->ev_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    }
    atomic_init(&s->refs, 1);
    s->store = profile_store_ref(store);
    s->profile = p;
    s->flags = flags;
    s->created_at = now;
    s->idle_timeout_s = idle_timeout_s;
    s->lifetime_s = lifetime_s;
    atomic_init(&s->last_used_at, (long long)now);
    atomic_init(&s->ended, false);
    atomic_init(&s->handle_count, 0);
    atomic_init(&s->shared, false);
    s->version = 1;
    *out = s;
    return S_OK;
}

session *session_ref(session *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

static void logoff_providers(session *s)
{
    for (size_t i = 0; i < s->provider_count; i++)
        s->providers[i].ops->logoff(s->providers[i].state);
    free(s->providers);
    s->providers = NULL;
    s->provider_count = 0;
}

void session_unref(session *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    logoff_providers(s);
    status_table t = {s->rows, s->row_count, 0};
    status_table_free(&t);
    pthread_mutex_destroy(&s->ev_lock);
    pthread_mutex_destroy(&s->lock);
    profile_store_unref(s->store);
    free(s);
}

const char *session_id(const session *s) { return s->id; }
const char *session_profile_name(const session *s) { return profile_name(s->profile); }
uint32_t session_flags(const session *s) { return s->flags; }
bool session_is_shared(const session *s) { return atomic_load(&s->shared); }
size_t session_handle_count(const session *s) { return atomic_load(&s->handle_count); }
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

void session_touch(session *s, time_t now) { atomic_store(&s->last_used_at, (long long)now); }

bool session_expired(const session *s, time_t now) { return now >= session_expires_at(s); }

void session_end(session *s, const char *reason)
{
    if (atomic_exchange(&s->ended, true))
        return;
    /* Subscribers hear why before the providers go (fnevCriticalError). */
    session_events_end(s, reason);
    pthread_mutex_lock(&s->lock);
    logoff_providers(s);
    s->version++;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the table and its objects ------------------------------------------- */

HRESULT session_status_table(session *s, status_table *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->lock);
    HRESULT hr = S_OK;
    if (atomic_load(&s->ended)) {
        hr = MAPI_E_END_OF_SESSION;
    } else if (!(out->rows = calloc(s->row_count ? s->row_count : 1, sizeof *out->rows))) {
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    } else {
        for (size_t i = 0; i < s->row_count && HR_SUCCEEDED(hr); i++) {
            if (status_row_copy(&out->rows[i], &s->rows[i]) != 0)
                hr = MAPI_E_NOT_ENOUGH_MEMORY;
            else
                out->count++;
        }
        out->version = s->version;
    }
    pthread_mutex_unlock(&s->lock);
    if (HR_FAILED(hr))
        status_table_free(out);
    return hr;
}

uint64_t session_status_version(session *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t v = s->version;
    pthread_mutex_unlock(&s->lock);
    return v;
}

static status_row *find_row(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN])
{
    for (size_t i = 0; i < s->row_count; i++)
        if (memcmp(s->rows[i].instance_key, ik, STATUS_INSTANCE_KEY_LEN) == 0)
            return &s->rows[i];
    return NULL;
}

HRESULT session_status_row(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN], status_row *out)
{
    pthread_mutex_lock(&s->lock);
    HRESULT hr = MAPI_E_NOT_FOUND;
    status_row *row = find_row(s, ik);
    if (atomic_load(&s->ended))
        hr = MAPI_E_END_OF_SESSION;
    else if (row)
        hr = status_row_copy(out, row) == 0 ? S_OK : MAPI_E_NOT_ENOUGH_MEMORY;
    pthread_mutex_unlock(&s->lock);
    return hr;
}

HRESULT session_identity(session *s, identity *out)
{
    pthread_mutex_lock(&s->lock);
    HRESULT hr;
    if (atomic_load(&s->ended)) {
        hr = MAPI_E_END_OF_SESSION;
    } else {
        status_table view = {s->rows, s->row_count, s->version};
        hr = identity_query(&view, out);
    }
    pthread_mutex_unlock(&s->lock);
    return hr;
}

/* Re-reads every provider's status into its row; bumps the version when any
 * row changed, also when running out of memory half-way (the rows changed so
 * far stay changed). Called with the lock held.
 * The row owns the new text (session_unref frees the rows); the analyzer
 * reports it leaked wherever the loop goes next, so the whole function is
 * covered; see analyzer.h. */
ANALYZER_STORE_FP_BEGIN
HRESULT session_refresh_rows(session *s)
{
    bool changed = false;
    HRESULT hr = S_OK;
    for (size_t i = 0; i < s->provider_count; i++) {
        session_provider *sp = &s->providers[i];
        status_row *row = &s->rows[sp->row];
        provider_status st;
        sp->ops->status(sp->state, &st);
        if (row->status_code == st.status_code && row->status_string &&
            strcmp(row->status_string, st.status_string) == 0)
            continue;
        char *text = strdup(st.status_string);
        if (!text) {
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
            break;
        }
        free(row->status_string);
        row->status_string = text;
        row->status_code = st.status_code;
        changed = true;
        session_events_row_modified(s, row);
    }
    if (changed)
        s->version++;
    return hr;
}
ANALYZER_STORE_FP_END

void session_poll(session *s)
{
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->ended)) {
        for (size_t i = 0; i < s->provider_count; i++)
            if (s->providers[i].ops->poll)
                s->providers[i].ops->poll(s->providers[i].state);
        (void)session_refresh_rows(s); /* out of memory: the next poll tries again */
    }
    pthread_mutex_unlock(&s->lock);
}

static session_provider *row_provider(session *s, const status_row *row)
{
    for (size_t i = 0; i < s->provider_count; i++)
        if (&s->rows[s->providers[i].row] == row)
            return &s->providers[i];
    return NULL;
}

typedef enum { M_VALIDATE, M_FLUSH, M_PASSWORD, M_SETTINGS } status_method;

typedef struct {
    status_method method;
    uint32_t flags;
    const char *old_password;
    const char *new_password;
} method_call;

/* Runs a method on every provider of one type (the subsystem and spooler
 * act on the providers behind them); the first failure wins. */
static HRESULT for_providers(session *s, uint32_t type, const method_call *call)
{
    HRESULT first = S_OK;
    for (size_t i = 0; i < s->provider_count; i++) {
        session_provider *sp = &s->providers[i];
        if (type && sp->ops->resource_type != type)
            continue;
        HRESULT hr = S_OK;
        if (call->method == M_VALIDATE && sp->ops->validate_state)
            hr = sp->ops->validate_state(sp->state, call->flags);
        else if (call->method == M_FLUSH && sp->ops->flush_queues)
            hr = sp->ops->flush_queues(sp->state, call->flags);
        if (HR_FAILED(hr) && first == S_OK)
            first = hr;
    }
    return first;
}

static HRESULT run_method(session *s, status_row *row, const method_call *call)
{
    session_provider *sp = row_provider(s, row);
    if (sp) {
        switch (call->method) {
        case M_VALIDATE:
            return sp->ops->validate_state(sp->state, call->flags);
        case M_FLUSH:
            return sp->ops->flush_queues ? sp->ops->flush_queues(sp->state, call->flags)
                                         : MAPI_E_NO_SUPPORT;
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
    if (call->method == M_VALIDATE && row->resource_type == MAPI_SUBSYSTEM)
        return for_providers(s, 0, call);
    if (row->resource_type == MAPI_SPOOLER &&
        (call->method == M_VALIDATE || call->method == M_FLUSH))
        return for_providers(s, MAPI_TRANSPORT_PROVIDER, call);
    if (call->method == M_VALIDATE)
        return S_OK;
    return MAPI_E_NO_SUPPORT;
}

/* A flush runs with the session locked, so readers of the table never see
 * it in progress; subscribers are told when it starts (the transports' rows
 * with STATUS_OUTBOUND_FLUSH) and, through the refresh afterwards, when it
 * ends. */
static void announce_flush(session *s, const status_row *target)
{
    for (size_t i = 0; i < s->provider_count; i++) {
        session_provider *sp = &s->providers[i];
        status_row *row = &s->rows[sp->row];
        bool affected = row == target || (target->resource_type == MAPI_SPOOLER &&
                                          sp->ops->resource_type == MAPI_TRANSPORT_PROVIDER);
        if (!affected || !sp->ops->flush_queues || (row->status_code & STATUS_OUTBOUND_FLUSH))
            continue;
        row->status_code |= STATUS_OUTBOUND_FLUSH;
        s->version++;
        session_events_row_modified(s, row);
    }
}

static HRESULT status_method_call(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN],
                                  const method_call *call, status_row *row_out)
{
    static const uint32_t bits[] = {STATUS_VALIDATE_STATE, STATUS_FLUSH_QUEUES,
                                    STATUS_CHANGE_PASSWORD, STATUS_SETTINGS_DIALOG};
    static const mapi_name_set *const sets[] = {&MAPI_VALIDATE_FLAG_NAMES, &MAPI_FLUSH_FLAG_NAMES,
                                                NULL, &MAPI_SETTINGS_FLAG_NAMES};
    pthread_mutex_lock(&s->lock);
    HRESULT hr;
    status_row *row = find_row(s, ik);
    if (atomic_load(&s->ended))
        hr = MAPI_E_END_OF_SESSION;
    else if (!row)
        hr = MAPI_E_NOT_FOUND;
    else if (!(row->resource_methods & bits[call->method]))
        hr = MAPI_E_NO_SUPPORT; /* never call an object whose bit is clear */
    else if (sets[call->method] && !mapi_flags_known(sets[call->method], call->flags))
        hr = MAPI_E_UNKNOWN_FLAGS;
    else if (call->method == M_PASSWORD && call->flags & ~MAPI_UNICODE)
        hr = MAPI_E_UNKNOWN_FLAGS;
    else {
        if (call->method == M_FLUSH)
            announce_flush(s, row);
        hr = run_method(s, row, call);
    }
    if (row && hr != MAPI_E_END_OF_SESSION) {
        /* A failed flush or check changes what the provider shows too. */
        HRESULT rh = session_refresh_rows(s);
        if (HR_SUCCEEDED(hr) && HR_FAILED(rh))
            hr = rh;
    }
    if (HR_SUCCEEDED(hr) && row_out && status_row_copy(row_out, row) != 0)
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    pthread_mutex_unlock(&s->lock);
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
