/* session_logon.c - MAPILogonEx's provider sequence and the status table it
 * builds: MAPI's own rows, then one row per provider that logged on. */
#include "session_internal.h"

#include "analyzer.h"
#include "identity.h"
#include "mapi_flags.h"
#include "session_stats.h"

#include <stdlib.h>
#include <string.h>

/* The MAPIUID in status-object entry ids: ours, so that an entry id from a
 * status row opens that status object (OpenEntry). */
const uint8_t SESSION_STATUS_UID[MAPIUID_LEN] = {0x6D, 0x61, 0x70, 0x69, 0x67, 0x77, 0x2D, 0x73,
                                                 0x74, 0x61, 0x74, 0x75, 0x73, 0x00, 0x00, 0x01};

/* A view's rows carry their own index as instance key; the session puts its
 * serial in front when it hands a row out (session_row_copy). */
static void local_instance_key(status_row *row, size_t index)
{
    status_instance_key(0, index, row->instance_key);
    memset(row->entry_id, 0, 4);
    memcpy(row->entry_id + 4, SESSION_STATUS_UID, MAPIUID_LEN);
    memcpy(row->entry_id + 20, row->instance_key, STATUS_INSTANCE_KEY_LEN);
}

static HRESULT mapi_row(status_row *row, size_t index, const char *display, const char *dll,
                        uint32_t type, uint32_t methods, uint32_t code, const char *text)
{
    memset(row, 0, sizeof *row);
    local_instance_key(row, index);
    row->object_type = MAPI_STATUS;
    /* The row owns the copies, also on failure (session_unref frees every
     * row with status_table_free); see analyzer.h. */
    ANALYZER_STORE_FP_BEGIN
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
    ANALYZER_STORE_FP_END
}

/* Takes *from (malloc'd or NULL), else copies fallback. */
static HRESULT take_or_copy(char **to, char **from, const char *fallback)
{
    if (*from) {
        *to = *from;
        *from = NULL;
    } else if (fallback) {
        if (!(*to = strdup(fallback)))
            return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    return S_OK;
}

/* PR_IDENTITY_*: what the provider supplies, completed by its configuration.
 * A provider sets all three or none (docs/contract/mapi.md 5). */
static HRESULT identity_columns(provider_inst *pi, status_row *row)
{
    const provider_config *cfg = pi->cfg;
    provider_identity pid;
    memset(&pid, 0, sizeof pid);
    pinst_lock(pi);
    if (pi->ops->identity && pi->ops->identity(pi->state, cfg, &pid) != S_OK)
        memset(&pid, 0, sizeof pid);
    pinst_unlock(pi);
    HRESULT hr =
        take_or_copy(&row->identity_display, &pid.display, provider_config_identity_display(cfg));
    if (HR_SUCCEEDED(hr))
        hr = take_or_copy(&row->identity_addrtype, &pid.addrtype,
                          provider_config_identity_addrtype(cfg));
    if (HR_SUCCEEDED(hr))
        hr = take_or_copy(&row->identity_address, &pid.address,
                          provider_config_identity_address(cfg));
    row->identity_entry_id = pid.entry_id;
    row->identity_entry_id_len = pid.entry_id_len;
    pid.entry_id = NULL;
    free(pid.display);
    free(pid.addrtype);
    free(pid.address);
    if (HR_FAILED(hr))
        return hr;
    row->has_identity = row->identity_display && row->identity_addrtype && row->identity_address;
    if (!row->has_identity)
        return S_OK;
    return search_key_build(row->identity_addrtype, row->identity_address,
                            &row->identity_search_key, &row->identity_search_key_len);
}

static HRESULT provider_row(const session *s, provider_inst *sp, size_t index, status_row *row)
{
    const provider_config *cfg = sp->cfg;
    memset(row, 0, sizeof *row);
    local_instance_key(row, index);
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
    pinst_status(sp, &st);
    row->status_code = st.status_code;
    row->status_string = strdup(st.status_string);
    if (!row->status_string)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    return identity_columns(sp, row);
}

typedef struct {
    const provider_ops *ops;
    provider_inst *inst; /* while up */
    bool up;
    bool authenticates; /* gets the logon password (profile auth "upstream") */
    uint8_t uid[MAPIUID_LEN];
} pending_provider;

typedef struct {
    session *s;
    const char *password;
    pending_provider **pend;
    bool *disabled;
    size_t ab_failures; /* address-book providers lost at logon */
    HRESULT fatal;      /* the authenticating provider's refusal */
} logon_run;

/* Where a provider's failed logon leaves it (docs/contract/mapi.md 2.5). */
typedef enum { LOGON_OK, LOGON_DROP_PROVIDER, LOGON_DISABLE_SERVICE, LOGON_FATAL } logon_outcome;

static logon_outcome logon_one(logon_run *run, pending_provider *pp, const provider_config *cfg,
                               HRESULT *hr_out)
{
    /* An upstream profile's logon without a password must never reach a
     * provider that might treat it as an anonymous bind. */
    if (pp->authenticates && (!run->password || !run->password[0])) {
        *hr_out = MAPI_E_LOGON_FAILED;
        return LOGON_FATAL;
    }
    provider_logon_args args;
    memset(&args, 0, sizeof args);
    args.password = pp->authenticates ? run->password : NULL;
    args.logon_flags = run->s->flags;
    memcpy(args.uid, pp->uid, MAPIUID_LEN);
    pinst_pool *pool = run->s->env->pool;
    HRESULT hr =
        pinst_logon(pool, run->s->store, pp->ops, cfg, &args, pp->authenticates, &pp->inst);
    /* MAPI runs the service's configuration entry point and retries once; we
     * have no configuration UI, so the retry sees the same settings unless the
     * provider created what it lacked. */
    if (hr == MAPI_E_UNCONFIGURED)
        hr = pinst_logon(pool, run->s->store, pp->ops, cfg, &args, pp->authenticates, &pp->inst);
    *hr_out = hr;
    if (hr == S_OK)
        return LOGON_OK;
    /* The provider that checks the caller's password decides the logon. */
    if (pp->authenticates)
        return LOGON_FATAL;
    if (hr == MAPI_E_FAILONEPROVIDER)
        return LOGON_DROP_PROVIDER;
    return LOGON_DISABLE_SERVICE;
}

/* Logs on every provider of one type in the services not yet disabled. */
static void logon_pass(logon_run *run, uint32_t type)
{
    const profile *p = run->s->profile;
    for (size_t i = 0; i < profile_service_count(p) && run->fatal == S_OK; i++) {
        const service_config *svc = profile_service(p, i);
        for (size_t j = 0; j < service_provider_count(svc) && !run->disabled[i]; j++) {
            const provider_config *cfg = service_provider(svc, j);
            pending_provider *pp = &run->pend[i][j];
            if (provider_config_type(cfg) != type || !pp->ops)
                continue;
            HRESULT hr;
            logon_outcome o = logon_one(run, pp, cfg, &hr);
            if (o == LOGON_OK) {
                pp->up = true;
                continue;
            }
            if (type == MAPI_AB_PROVIDER)
                run->ab_failures++;
            if (o == LOGON_FATAL) {
                run->fatal = hr == MAPI_E_NETWORK_ERROR ? hr : MAPI_E_LOGON_FAILED;
                return;
            }
            if (o == LOGON_DISABLE_SERVICE) {
                /* A second failure disables the whole service for this session. */
                run->disabled[i] = true;
                for (size_t k = 0; k < service_provider_count(svc); k++)
                    if (run->pend[i][k].up) {
                        pinst_unref(run->pend[i][k].inst);
                        run->pend[i][k].inst = NULL;
                        run->pend[i][k].up = false;
                    }
            }
        }
    }
}

/* The session's view: MAPI's own rows, then one per provider that logged
 * on, the identity shared within the supplier's service; the view takes the
 * pending instances. */
static HRESULT build_view(session *s, pending_provider **pend, size_t ab_failures,
                          session_view **out)
{
    const profile *p = s->profile;
    size_t up = 0;
    for (size_t i = 0; i < profile_service_count(p); i++)
        for (size_t j = 0; j < service_provider_count(profile_service(p, i)); j++)
            up += pend[i][j].up;
    if (3 + up > UINT16_MAX)
        return MAPI_E_NOT_ENOUGH_RESOURCES; /* instance keys have 16 bits for the row */
    session_view *v = *out = view_new(s->env->views, up, 3 + up);
    /* Each row's message service, for the identity rule; MAPI's own rows
     * belong to none. */
    size_t *service = malloc((3 + up) * sizeof *service);
    if (!v || !service) {
        free(service);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    for (size_t r = 0; r < 3 + up; r++)
        service[r] = SIZE_MAX;
    v->ab_failures = ab_failures;

    bool no_mail = s->flags & MAPI_NO_MAIL;
    HRESULT hr = mapi_row(&v->rows[0], 0, "MAPI Subsystem", "MAPI", MAPI_SUBSYSTEM,
                          STATUS_VALIDATE_STATE, STATUS_AVAILABLE, "Available");
    v->row_count = 1;
    if (HR_SUCCEEDED(hr)) {
        hr = mapi_row(&v->rows[1], 1, "MAPI Spooler", "MAPISP", MAPI_SPOOLER,
                      STATUS_VALIDATE_STATE | STATUS_FLUSH_QUEUES,
                      no_mail ? STATUS_FAILURE : STATUS_AVAILABLE,
                      no_mail ? "Not started: MAPI_NO_MAIL session" : "Available");
        v->row_count = 2;
    }
    if (HR_SUCCEEDED(hr)) {
        hr = mapi_row(&v->rows[2], 2, "MAPI Address Book", "MAPIAB", MAPI_AB, STATUS_VALIDATE_STATE,
                      STATUS_AVAILABLE, "Available");
        v->row_count = 3;
    }
    for (size_t i = 0; i < profile_service_count(p) && HR_SUCCEEDED(hr); i++) {
        const service_config *svc = profile_service(p, i);
        for (size_t j = 0; j < service_provider_count(svc) && HR_SUCCEEDED(hr); j++) {
            pending_provider *pp = &pend[i][j];
            if (!pp->up)
                continue;
            size_t k = v->provider_count++;
            v->providers[k] = pp->inst; /* the view owns it now */
            v->provider_row[k] = v->row_count;
            pp->inst = NULL;
            pp->up = false;
            hr = provider_row(s, v->providers[k], v->row_count, &v->rows[v->row_count]);
            service[v->row_count] = i;
            v->row_count++;
        }
    }
    /* All providers of the supplier's service show its identity
     * (docs/contract/mapi.md 5): a store must not look identity-less beside the
     * address book of its own service that supplies one. */
    if (HR_SUCCEEDED(hr))
        hr = identity_share_service(v->rows, v->row_count, service);
    free(service);
    for (size_t r = 0; r < v->row_count; r++)
        v->rows[r].row_id = (uint32_t)r;
    v->no_mail = no_mail;
    view_capture_gens(v);
    return hr;
}

/* The interned view this logon would build, when there is one: most logons
 * of a busy profile find it and build nothing. */
static session_view *find_view(const session *s, pending_provider **pend, size_t ab_failures)
{
    provider_inst *insts[16];
    size_t n = 0;
    const profile *p = s->profile;
    for (size_t i = 0; i < profile_service_count(p); i++)
        for (size_t j = 0; j < service_provider_count(profile_service(p, i)); j++) {
            if (!pend[i][j].up)
                continue;
            if (n == sizeof insts / sizeof insts[0])
                return NULL; /* a big profile builds its view */
            insts[n++] = pend[i][j].inst;
        }
    return view_find(s->env->views, insts, n, (s->flags & MAPI_NO_MAIL) != 0, ab_failures);
}

static HRESULT prepare(logon_run *run)
{
    const profile *p = run->s->profile;
    bool upstream = profile_auth(p) == PROFILE_AUTH_UPSTREAM;
    for (size_t i = 0; i < profile_service_count(p); i++) {
        const service_config *svc = profile_service(p, i);
        size_t n = service_provider_count(svc);
        /* run->pend owns it (session_logon_providers frees every
         * run->pend[i]); see analyzer.h. */
        ANALYZER_STORE_FP_BEGIN
        if (!(run->pend[i] = calloc(n ? n : 1, sizeof **run->pend)))
            return MAPI_E_NOT_ENOUGH_MEMORY;
        ANALYZER_STORE_FP_END
        for (size_t j = 0; j < n; j++) {
            const provider_config *cfg = service_provider(svc, j);
            pending_provider *pp = &run->pend[i][j];
            pp->ops = provider_config_ops(cfg);
            pp->authenticates =
                upstream && (provider_config_resource_flags(cfg) & STATUS_PRIMARY_IDENTITY);
            memcpy(pp->uid, provider_config_uid(cfg), MAPIUID_LEN);
        }
    }
    return S_OK;
}

HRESULT session_logon_providers(session *s, const char *password)
{
    const profile *p = s->profile;
    size_t nsvc = profile_service_count(p);
    logon_run run = {s,
                     password,
                     calloc(nsvc ? nsvc : 1, sizeof(pending_provider *)),
                     calloc(nsvc ? nsvc : 1, sizeof(bool)),
                     0,
                     S_OK};
    HRESULT hr = (run.pend && run.disabled) ? prepare(&run) : MAPI_E_NOT_ENOUGH_MEMORY;
    if (HR_SUCCEEDED(hr)) {
        /* MAPI's order: address books, then stores; transports start under the
         * spooler, which a NO_MAIL session does not have. */
        logon_pass(&run, MAPI_AB_PROVIDER);
        logon_pass(&run, MAPI_STORE_PROVIDER);
        if (!(s->flags & MAPI_NO_MAIL))
            logon_pass(&run, MAPI_TRANSPORT_PROVIDER);
        hr = run.fatal;
    }
    session_view *v = NULL;
    if (HR_SUCCEEDED(hr) && !(v = find_view(s, run.pend, run.ab_failures)))
        hr = build_view(s, run.pend, run.ab_failures, &v);
    if (HR_SUCCEEDED(hr)) {
        if (!v->interned)
            v = view_intern(v);
        session_lock(s);
        /* Ended meanwhile (an admin end racing with the logon): the
         * providers are logged off at once rather than kept for a dead
         * session. */
        bool ended = atomic_load(&s->ended);
        if (!ended) {
            s->view = v;
            session_stats_view(s->env->stats, v, +1);
        }
        session_unlock(s);
        if (ended)
            view_unref(v);
    } else {
        view_unref(v);
    }
    for (size_t i = 0; run.pend && i < nsvc; i++) {
        for (size_t j = 0; run.pend[i] && j < service_provider_count(profile_service(p, i)); j++)
            if (run.pend[i][j].up)
                pinst_unref(run.pend[i][j].inst);
        free(run.pend[i]);
    }
    free(run.pend);
    free(run.disabled);
    return hr;
}

HRESULT session_check_password(session *s, const char *password)
{
    HRESULT hr = MAPI_E_LOGON_FAILED;
    session_lock(s);
    const session_view *v = session_view_of(s);
    for (size_t i = 0; i < v->provider_count; i++) {
        provider_inst *pi = v->providers[i];
        if (pi->authenticates && pi->ops->check_password)
            hr = password ? pi->ops->check_password(pi->state, password) : MAPI_E_LOGON_FAILED;
    }
    if (atomic_load(&s->ended))
        hr = MAPI_E_LOGON_FAILED;
    session_unlock(s);
    return hr;
}
