/* profile.c - the loaded profile store: accessors, reference counting,
 * password checks and changes, the per-profile logon lock. Loading and
 * validating the profiles file is in profile_load.c.
 */
#include "profile.h"
#include "profile_internal.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static bool sodium_ok;

static void sodium_init_once(void) { sodium_ok = sodium_init() >= 0; }

bool profile_sodium_ready(void)
{
    return pthread_once(&sodium_once, sodium_init_once) == 0 && sodium_ok;
}

void profile_store_free(profile_store *st)
{
    for (size_t i = 0; i < st->count; i++) {
        profile *p = &st->profiles[i];
        for (size_t j = 0; j < p->nservices; j++) {
            service_config *s = &p->services[j];
            for (size_t k = 0; k < s->count; k++) {
                provider_config *c = &s->providers[k];
                for (size_t m = 0; m < c->nsettings; m++) {
                    free(c->settings[m].key);
                    free(c->settings[m].value);
                    free(c->settings[m].path);
                }
                free(c->settings);
                free(c->display_name);
                free(c->id_display);
                free(c->id_addrtype);
                free(c->id_address);
            }
            free(s->providers);
            free(s->name);
        }
        free(p->services);
        free(p->name);
        sodium_memzero(p->verifier, sizeof p->verifier);
        if (p->locks_ready) {
            pthread_mutex_destroy(&p->auth_lock);
            pthread_mutex_destroy(&p->logon_lock);
        }
    }
    free(st->profiles);
    free(st);
}

profile_store *profile_store_ref(profile_store *store)
{
    if (store)
        atomic_fetch_add_explicit(&store->refs, 1, memory_order_relaxed);
    return store;
}

void profile_store_unref(profile_store *store)
{
    /* acq_rel: the last owner must see every other owner's writes (the
     * verifiers) before it frees. */
    if (store && atomic_fetch_sub_explicit(&store->refs, 1, memory_order_acq_rel) == 1)
        profile_store_free(store);
}

size_t profile_store_count(const profile_store *store) { return store->count; }

const profile *profile_store_at(const profile_store *store, size_t i)
{
    return i < store->count ? &store->profiles[i] : NULL;
}

const profile *profile_store_find(const profile_store *store, const char *name)
{
    if (!store || !name)
        return NULL;
    for (size_t i = 0; i < store->count; i++)
        if (store->profiles[i].name && strcmp(store->profiles[i].name, name) == 0)
            return &store->profiles[i];
    return NULL;
}

const profile *profile_store_default(const profile_store *store) { return store->def; }

const char *profile_name(const profile *p) { return p->name; }

profile_auth_kind profile_auth(const profile *p) { return p->auth; }

size_t profile_service_count(const profile *p) { return p->nservices; }

const service_config *profile_service(const profile *p, size_t i)
{
    return i < p->nservices ? &p->services[i] : NULL;
}

/* The lock and the verifier are the only mutable parts of a loaded store;
 * the public API hands out const profiles, so this is the one place that
 * casts the const away. */
static profile *mut(const profile *p) { return (profile *)(uintptr_t)p; }

/* Verifies password against the current verifier; the copy lets argon2id
 * (slow on purpose) run without holding the lock. *used receives the verifier
 * that was checked, for change-password's compare-and-swap. */
static bool verify(const profile *p, const char *password, char used[crypto_pwhash_STRBYTES])
{
    profile *m = mut(p);
    pthread_mutex_lock(&m->auth_lock);
    memcpy(used, m->verifier, crypto_pwhash_STRBYTES);
    pthread_mutex_unlock(&m->auth_lock);
    return profile_sodium_ready() &&
           crypto_pwhash_str_verify(used, password, strlen(password)) == 0;
}

HRESULT profile_check_password(const profile *p, const char *password)
{
    if (p->auth == PROFILE_AUTH_NONE || p->auth == PROFILE_AUTH_UPSTREAM)
        return S_OK;
    if (!password || !password[0])
        return MAPI_E_LOGON_FAILED;
    char used[crypto_pwhash_STRBYTES];
    bool ok = verify(p, password, used);
    sodium_memzero(used, sizeof used);
    return ok ? S_OK : MAPI_E_LOGON_FAILED;
}

HRESULT profile_change_password(const profile *p, const char *old_password,
                                const char *new_password)
{
    if (p->auth != PROFILE_AUTH_ARGON2ID)
        return MAPI_E_NO_SUPPORT; /* an upstream password changes upstream */
    if (!old_password || !old_password[0])
        return MAPI_E_NO_ACCESS;
    char used[crypto_pwhash_STRBYTES], fresh[crypto_pwhash_STRBYTES];
    HRESULT hr = S_OK;
    if (!verify(p, old_password, used)) {
        hr = MAPI_E_NO_ACCESS;
    } else if (!new_password || !new_password[0]) {
        hr = MAPI_E_INVALID_PARAMETER;
    } else if (crypto_pwhash_str(fresh, new_password, strlen(new_password),
                                 crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        hr = MAPI_E_NOT_ENOUGH_MEMORY; /* libsodium's only failure: the memory limit */
    } else {
        profile *m = mut(p);
        pthread_mutex_lock(&m->auth_lock);
        /* Two changes racing with the same old password: only the first
         * wins; the second's old password is no longer the current one. */
        if (strcmp(m->verifier, used) == 0)
            memcpy(m->verifier, fresh, sizeof fresh);
        else
            hr = MAPI_E_NO_ACCESS;
        pthread_mutex_unlock(&m->auth_lock);
    }
    sodium_memzero(used, sizeof used);
    sodium_memzero(fresh, sizeof fresh);
    return hr;
}

int profile_logon_lock(const profile *p, long timeout_ms)
{
    profile *m = mut(p);
    if (timeout_ms < 0)
        return pthread_mutex_lock(&m->logon_lock) == 0 ? 0 : -1;
    /* timedlock takes an absolute CLOCK_REALTIME deadline. */
    struct timespec deadline;
    if (clock_gettime(CLOCK_REALTIME, &deadline) != 0)
        return -1;
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(&m->logon_lock, &deadline) == 0 ? 0 : -1;
}

void profile_logon_unlock(const profile *p) { pthread_mutex_unlock(&mut(p)->logon_lock); }

const char *service_name(const service_config *s) { return s->name; }

size_t service_provider_count(const service_config *s) { return s->count; }

const provider_config *service_provider(const service_config *s, size_t i)
{
    return i < s->count ? &s->providers[i] : NULL;
}

uint32_t provider_config_type(const provider_config *c) { return c->type; }

const char *provider_config_kind(const provider_config *c) { return c->kind; }
const struct provider_ops *provider_config_ops(const provider_config *c) { return c->ops; }
const uint8_t *provider_config_uid(const provider_config *c) { return c->uid; }

const char *provider_config_display_name(const provider_config *c) { return c->display_name; }

uint32_t provider_config_resource_flags(const provider_config *c) { return c->resource_flags; }

const char *provider_config_identity_display(const provider_config *c) { return c->id_display; }

const char *provider_config_identity_addrtype(const provider_config *c) { return c->id_addrtype; }

const char *provider_config_identity_address(const provider_config *c) { return c->id_address; }

static const setting *find_setting(const provider_config *c, const char *key)
{
    for (size_t i = 0; i < c->nsettings; i++)
        if (c->settings[i].key && strcmp(c->settings[i].key, key) == 0)
            return &c->settings[i];
    return NULL;
}

const char *provider_config_setting(const provider_config *c, const char *key)
{
    const setting *s = find_setting(c, key);
    return s ? s->value : NULL;
}

const char *provider_config_path(const provider_config *c, const char *key)
{
    const setting *s = find_setting(c, key);
    return s ? s->path : NULL;
}

bool profile_verifier_is(const profile *p, const char *verifier)
{
    if (p->auth != PROFILE_AUTH_ARGON2ID || !verifier)
        return false;
    profile *m = mut(p);
    pthread_mutex_lock(&m->auth_lock);
    /* Not a secret compare: the verifiers asked about are published ones. */
    bool same = strcmp(m->verifier, verifier) == 0;
    pthread_mutex_unlock(&m->auth_lock);
    return same;
}
