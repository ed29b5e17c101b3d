/* session.c - one MAPI session: provider logon, the status table, identity and
 * the IMAPIStatus methods. Registry bookkeeping lives in registry.c. */
#include "session_internal.h"

#include "identity.h"
#include "mapi_flags.h"

#include <stdlib.h>
#include <string.h>

/* The MAPIUID in status-object entry ids: ours, so that an entry id from one
 * status row is recognisably a mapigw status object. */
static const uint8_t STATUS_OBJECT_UID[16] = {0x6D, 0x61, 0x70, 0x69, 0x67, 0x77, 0x2D, 0x73,
                                              0x74, 0x61, 0x74, 0x75, 0x73, 0x00, 0x00, 0x01};

/* Instance keys are never reused while the process lives (mapi-session.md 4). */
static atomic_uint_fast64_t next_instance_key = 1;

static void new_instance_key(status_row *row)
{
    uint64_t k = atomic_fetch_add(&next_instance_key, 1);
    for (int i = STATUS_INSTANCE_KEY_LEN - 1; i >= 0; i--) {
        row->instance_key[i] = (uint8_t)(k & 0xFF);
        k >>= 8;
    }
    memset(row->entry_id, 0, 4);
    memcpy(row->entry_id + 4, STATUS_OBJECT_UID, sizeof STATUS_OBJECT_UID);
    memcpy(row->entry_id + 20, row->instance_key, STATUS_INSTANCE_KEY_LEN);
}

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

void session_end(session *s)
{
    if (atomic_exchange(&s->ended, true))
        return;
    pthread_mutex_lock(&s->lock);
    logoff_providers(s);
    s->version++;
    pthread_mutex_unlock(&s->lock);
}

/* ---- logon ---------------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static HRESULT mapi_row(status_row *row, const char *display, const char *dll, uint32_t type,
                        uint32_t methods, uint32_t code, const char *text)
{
    memset(row, 0, sizeof *row);
    new_instance_key(row);
    row->object_type = MAPI_STATUS;
    row->display_name = strdup(display);
    row->provider_display = strdup("mapigw");
    row->provider_dll_name = strdup(dll);
    row->status_string = strdup(text);
    row->resource_type = type;
    row->resource_methods = methods;
    row->status_code = code;
    if (!row->display_name || !row->provider_display || !row->provider_dll_name ||
        !row->status_string)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    return S_OK;
}

static HRESULT provider_row(const session *s, const session_provider *sp, status_row *row)
{
    const provider_config *cfg = sp->cfg;
    memset(row, 0, sizeof *row);
    new_instance_key(row);
    row->object_type = MAPI_STATUS;
    row->display_name = strdup(provider_config_display_name(cfg));
    row->provider_display = strdup(sp->ops->provider_display);
    row->provider_dll_name = strdup(sp->ops->dll_name);
    if (!row->display_name || !row->provider_display || !row->provider_dll_name)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    row->resource_type = sp->ops->resource_type;
    row->resource_flags = provider_config_resource_flags(cfg);
    row->resource_methods = sp->ops->resource_methods;
    /* The credential belongs to the user the primary identity stands for. */
    if ((row->resource_flags & STATUS_PRIMARY_IDENTITY) &&
        profile_auth(s->profile) == PROFILE_AUTH_ARGON2ID)
        row->resource_methods |= STATUS_CHANGE_PASSWORD;

    provider_status st;
    sp->ops->status(sp->state, &st);
    row->status_code = st.status_code;
    row->status_string = strdup(st.status_string);
    if (!row->status_string)
        return MAPI_E_NOT_ENOUGH_MEMORY;

    const char *display = provider_config_identity_display(cfg);
    if (!display)
        return S_OK;
    const char *addrtype = provider_config_identity_addrtype(cfg);
    const char *address = provider_config_identity_address(cfg);
    row->has_identity = true;
    row->identity_display = dup_or_null(display);
    row->identity_addrtype = dup_or_null(addrtype);
    row->identity_address = dup_or_null(address);
    if (!row->identity_display || !row->identity_addrtype || !row->identity_address)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    HRESULT hr = search_key_build(addrtype, address, &row->identity_search_key,
                                  &row->identity_search_key_len);
    if (HR_FAILED(hr))
        return hr;
    if (sp->ops->identity_entry_id) {
        provider_entry_id eid = {NULL, 0};
        if (sp->ops->identity_entry_id(sp->state, cfg, &eid) == S_OK) {
            row->identity_entry_id = eid.entry_id;
            row->identity_entry_id_len = eid.entry_id_len;
        } else {
            free(eid.entry_id);
        }
    }
    return S_OK;
}

/* Where a provider's failed logon leaves it (mapi-session.md 1.2 step 5). */
typedef enum { LOGON_OK, LOGON_DROP_PROVIDER, LOGON_DISABLE_SERVICE } logon_outcome;

static logon_outcome logon_one(const provider_ops *ops, const provider_config *cfg, void **state)
{
    HRESULT hr = ops->logon(cfg, state);
    /* MAPI runs the service's configuration entry point and retries once; we
     * have no configuration UI, so the retry sees the same settings unless the
     * provider created what it lacked. */
    if (hr == MAPI_E_UNCONFIGURED)
        hr = ops->logon(cfg, state);
    if (hr == S_OK)
        return LOGON_OK;
    if (hr == MAPI_E_FAILONEPROVIDER)
        return LOGON_DROP_PROVIDER;
    return LOGON_DISABLE_SERVICE;
}

typedef struct {
    const provider_ops *ops;
    void *state;
    bool up;
} pending_provider;

/* Logs on every provider of one type in the services not yet disabled. */
static void logon_pass(const profile *p, uint32_t type, pending_provider **pend, bool *disabled)
{
    for (size_t i = 0; i < profile_service_count(p); i++) {
        const service_config *svc = profile_service(p, i);
        for (size_t j = 0; j < service_provider_count(svc) && !disabled[i]; j++) {
            const provider_config *cfg = service_provider(svc, j);
            pending_provider *pp = &pend[i][j];
            if (provider_config_type(cfg) != type || !pp->ops)
                continue;
            logon_outcome o = logon_one(pp->ops, cfg, &pp->state);
            if (o == LOGON_OK) {
                pp->up = true;
            } else if (o == LOGON_DISABLE_SERVICE) {
                /* A second failure disables the whole service for this session. */
                disabled[i] = true;
                for (size_t k = 0; k < service_provider_count(svc); k++)
                    if (pend[i][k].up) {
                        pend[i][k].ops->logoff(pend[i][k].state);
                        pend[i][k].up = false;
                    }
            }
        }
    }
}

static HRESULT build_rows(session *s, pending_provider **pend)
{
    const profile *p = s->profile;
    size_t up = 0;
    for (size_t i = 0; i < profile_service_count(p); i++)
        for (size_t j = 0; j < service_provider_count(profile_service(p, i)); j++)
            up += pend[i][j].up;

    s->providers = calloc(up ? up : 1, sizeof *s->providers);
    s->rows = calloc(3 + up, sizeof *s->rows);
    if (!s->providers || !s->rows)
        return MAPI_E_NOT_ENOUGH_MEMORY;

    bool no_mail = s->flags & MAPI_NO_MAIL;
    HRESULT hr = mapi_row(&s->rows[0], "MAPI Subsystem", "MAPI", MAPI_SUBSYSTEM,
                          STATUS_VALIDATE_STATE, STATUS_AVAILABLE, "Available");
    s->row_count = 1;
    if (HR_SUCCEEDED(hr)) {
        hr = mapi_row(&s->rows[1], "MAPI Spooler", "MAPISP", MAPI_SPOOLER,
                      STATUS_VALIDATE_STATE | STATUS_FLUSH_QUEUES,
                      no_mail ? STATUS_FAILURE : STATUS_AVAILABLE,
                      no_mail ? "Not started: MAPI_NO_MAIL session" : "Available");
        s->row_count = 2;
    }
    if (HR_SUCCEEDED(hr)) {
        hr = mapi_row(&s->rows[2], "MAPI Address Book", "MAPIAB", MAPI_AB, STATUS_VALIDATE_STATE,
                      STATUS_AVAILABLE, "Available");
        s->row_count = 3;
    }
    for (size_t i = 0; i < profile_service_count(p) && HR_SUCCEEDED(hr); i++) {
        const service_config *svc = profile_service(p, i);
        for (size_t j = 0; j < service_provider_count(svc) && HR_SUCCEEDED(hr); j++) {
            pending_provider *pp = &pend[i][j];
            if (!pp->up)
                continue;
            session_provider *sp = &s->providers[s->provider_count++];
            sp->ops = pp->ops;
            sp->cfg = service_provider(svc, j);
            sp->state = pp->state;
            sp->row = s->row_count;
            pp->up = false; /* the session owns it now */
            hr = provider_row(s, sp, &s->rows[s->row_count]);
            s->row_count++;
        }
    }
    for (size_t r = 0; r < s->row_count; r++)
        s->rows[r].row_id = (uint32_t)r;
    return hr;
}

HRESULT session_logon_providers(session *s)
{
    const profile *p = s->profile;
    size_t nsvc = profile_service_count(p);
    pending_provider **pend = calloc(nsvc ? nsvc : 1, sizeof *pend);
    bool *disabled = calloc(nsvc ? nsvc : 1, sizeof *disabled);
    HRESULT hr = (pend && disabled) ? S_OK : MAPI_E_NOT_ENOUGH_MEMORY;
    for (size_t i = 0; i < nsvc && HR_SUCCEEDED(hr); i++) {
        const service_config *svc = profile_service(p, i);
        size_t n = service_provider_count(svc);
        pend[i] = calloc(n ? n : 1, sizeof **pend);
        if (!pend[i]) {
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
            break;
        }
        for (size_t j = 0; j < n; j++)
            pend[i][j].ops = provider_kind_find(provider_config_kind(service_provider(svc, j)));
    }
    if (HR_SUCCEEDED(hr)) {
        /* MAPI's order: address books, then stores; transports start under the
         * spooler, which a NO_MAIL session does not have. */
        logon_pass(p, MAPI_AB_PROVIDER, pend, disabled);
        logon_pass(p, MAPI_STORE_PROVIDER, pend, disabled);
        if (!(s->flags & MAPI_NO_MAIL))
            logon_pass(p, MAPI_TRANSPORT_PROVIDER, pend, disabled);
        pthread_mutex_lock(&s->lock);
        hr = build_rows(s, pend);
        pthread_mutex_unlock(&s->lock);
    }
    for (size_t i = 0; pend && i < nsvc; i++) {
        for (size_t j = 0; pend[i] && j < service_provider_count(profile_service(p, i)); j++)
            if (pend[i][j].up)
                pend[i][j].ops->logoff(pend[i][j].state);
        free(pend[i]);
    }
    free(pend);
    free(disabled);
    return hr;
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
 * row changed. Called with the lock held. */
static HRESULT refresh_rows(session *s)
{
    bool changed = false;
    for (size_t i = 0; i < s->provider_count; i++) {
        session_provider *sp = &s->providers[i];
        status_row *row = &s->rows[sp->row];
        provider_status st;
        sp->ops->status(sp->state, &st);
        if (row->status_code == st.status_code && row->status_string &&
            strcmp(row->status_string, st.status_string) == 0)
            continue;
        char *text = strdup(st.status_string);
        if (!text)
            return MAPI_E_NOT_ENOUGH_MEMORY;
        free(row->status_string);
        row->status_string = text;
        row->status_code = st.status_code;
        changed = true;
    }
    if (changed)
        s->version++;
    return S_OK;
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
    else
        hr = run_method(s, row, call);
    if (row && hr != MAPI_E_END_OF_SESSION) {
        /* A failed flush or check changes what the provider shows too. */
        HRESULT rh = refresh_rows(s);
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
