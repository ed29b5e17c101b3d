/* profile.c - the loaded profile store: accessors, reference counting,
 * password checks and changes, the per-profile logon lock. Loading and
 * validating the profiles file is in profile_load.c.
 */
#include "profile.h"
#include "profile_internal.h"

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
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

/* The verifier and the locks: what every profile has to give back. */
static void profile_wipe(profile *p)
{
    /* The verifiers and their stack copies below are the core's own,
     * not request memory: wiped by hand. */
    sodium_memzero(p->verifier, sizeof p->verifier);
    if (p->locks_ready) {
        pthread_mutex_destroy(&p->auth_lock);
        pthread_mutex_destroy(&p->logon_lock);
    }
}

void profile_clear(profile *p)
{
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
    profile_wipe(p);
}

#define ARENA_BLOCK (64 * 1024)

void *profile_arena_alloc(profile_store *st, size_t n)
{
    n = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    arena_block *b = st->arena;
    if (!b || b->cap - b->used < n) {
        /* A large piece gets a block of its own, behind the current one,
         * so the current one's free space is not lost. */
        size_t cap = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
        arena_block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b && cap != ARENA_BLOCK) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            st->arena = nb;
        }
        b = nb;
    }
    void *out = (char *)b->data + b->used;
    b->used += n;
    memset(out, 0, n);
    return out;
}

void profile_store_free(profile_store *st)
{
    if (st->parent) {
        if (st->listed) {
            pthread_mutex_lock(&st->parent->derived_lock);
            htab_remove(&st->parent->derived, &st->derived_node);
            pthread_mutex_unlock(&st->parent->derived_lock);
        }
        profile_store_unref(st->parent);
    }
    /* A loaded store's parts are in its arena; a derived one's are not. */
    for (size_t i = 0; i < st->count; i++) {
        if (st->parent)
            profile_clear(&st->profiles[i]);
        else
            profile_wipe(&st->profiles[i]);
    }
    for (size_t i = 0; i < st->ntemplates; i++)
        profile_wipe(&st->templates[i].proto);
    for (arena_block *b = st->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(st->templates);
    free(st->profiles);
    htab_destroy(&st->index);
    htab_destroy(&st->derived); /* empty: every derived store holds a reference */
    if (st->derived_ready)
        pthread_mutex_destroy(&st->derived_lock);
    free(st);
}

uint64_t profile_name_hash(const char *name) { return htab_hash_bytes(name, strlen(name)); }

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

static bool name_eq(const htab_node *node, const void *key)
{
    const profile *p = (const profile *)(const void *)node; /* node is the first member */
    return strcmp(p->name, key) == 0;
}

const profile *profile_store_find_explicit(const profile_store *st, const char *name)
{
    if (!st || !name)
        return NULL;
    return (const profile *)(const void *)htab_find(&st->index, profile_name_hash(name), name,
                                                    name_eq);
}

const profile *profile_store_find(const profile_store *store, const char *name)
{
    const profile *p = profile_store_find_explicit(store, name);
    return p || !store || !name ? p : profile_template_find(store, name);
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

/* Every argon2id verification of the process, for tests and statistics. */
static atomic_uint_fast64_t verifications;

uint64_t profile_password_checks(void) { return atomic_load(&verifications); }

/* One argon2id verification; counted. */
static bool verify_against(const char *verifier, const char *password)
{
    atomic_fetch_add(&verifications, 1);
    return profile_sodium_ready() &&
           crypto_pwhash_str_verify(verifier, password, strlen(password)) == 0;
}

/* Verifies password against the current verifier; the copy lets argon2id
 * (slow on purpose) run without holding the lock. *used receives the verifier
 * that was checked, for change-password's compare-and-swap. A missing or
 * empty password is verified too (and refused whatever the verifier says):
 * a refusal must cost what a wrong password costs. */
static bool verify(const profile *p, const char *password, char used[crypto_pwhash_STRBYTES])
{
    profile *m = mut(p);
    pthread_mutex_lock(&m->auth_lock);
    memcpy(used, m->verifier, crypto_pwhash_STRBYTES);
    pthread_mutex_unlock(&m->auth_lock);
    bool empty = !password || !password[0];
    bool ok = verify_against(used, empty ? "" : password);
    return ok && !empty;
}

HRESULT profile_check_password(const profile *p, const char *password)
{
    if (p->auth == PROFILE_AUTH_NONE || p->auth == PROFILE_AUTH_UPSTREAM)
        return S_OK;
    char used[crypto_pwhash_STRBYTES];
    bool ok = verify(p, password, used);
    sodium_memzero(used, sizeof used);
    return ok ? S_OK : MAPI_E_LOGON_FAILED;
}

void profile_store_dummy_check(const profile_store *store, const char *password)
{
    /* Nobody knows a password for the dummy: the result means nothing. */
    (void)verify_against(store->dummy, password ? password : "");
}

bool profile_same_auth(const profile *a, const profile *b)
{
    if (a->auth != b->auth)
        return false;
    if (a->auth != PROFILE_AUTH_ARGON2ID)
        return true;
    char va[crypto_pwhash_STRBYTES], vb[crypto_pwhash_STRBYTES];
    pthread_mutex_lock(&mut(a)->auth_lock);
    memcpy(va, a->verifier, sizeof va);
    pthread_mutex_unlock(&mut(a)->auth_lock);
    pthread_mutex_lock(&mut(b)->auth_lock);
    memcpy(vb, b->verifier, sizeof vb);
    pthread_mutex_unlock(&mut(b)->auth_lock);
    bool same = sodium_memcmp(va, vb, sizeof va) == 0;
    sodium_memzero(va, sizeof va);
    sodium_memzero(vb, sizeof vb);
    return same;
}

/* The argon2id cost parameters of a verifier; false when it has none. */
static bool verifier_params(const char *v, unsigned long *m, unsigned long *t, unsigned long *par)
{
    return sscanf(v, "$argon2id$v=19$m=%lu,t=%lu,p=%lu$", m, t, par) == 3;
}

typedef struct {
    unsigned long m, t, p;
    size_t n; /* profiles using them */
} param_tally;

HRESULT profile_store_hash_password(const profile_store *st, const char *password,
                                    char out[PROFILE_VERIFIER_MAX])
{
    _Static_assert(PROFILE_VERIFIER_MAX >= crypto_pwhash_STRBYTES, "verifier size");
    unsigned long m = crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024,
                  t = crypto_pwhash_OPSLIMIT_INTERACTIVE, par;
    if (st && !verifier_params(st->dummy, &m, &t, &par)) {
        m = crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024;
        t = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    }
    if (!profile_sodium_ready() ||
        crypto_pwhash_str(out, password, strlen(password), t, (size_t)m * 1024) != 0)
        return MAPI_E_NOT_ENOUGH_MEMORY; /* libsodium's only failure: the memory limit */
    return S_OK;
}

void profile_store_make_dummy(profile_store *st)
{
    /* The parameters most profiles of the file use (the costlier of a tie),
     * so that an unknown name costs what a known one does; without any
     * argon2id profile, what `mapigw hash-password` produces. */
    param_tally seen[16];
    size_t nseen = 0;
    for (size_t i = 0; i < st->count; i++) {
        unsigned long m, t, par;
        const profile *p = &st->profiles[i];
        if (p->auth != PROFILE_AUTH_ARGON2ID || !verifier_params(p->verifier, &m, &t, &par))
            continue;
        size_t j = 0;
        while (j < nseen && !(seen[j].m == m && seen[j].t == t && seen[j].p == par))
            j++;
        if (j == nseen && nseen < sizeof seen / sizeof seen[0])
            seen[nseen++] = (param_tally){m, t, par, 0};
        if (j < nseen)
            seen[j].n++;
    }
    unsigned long best_m = crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024,
                  best_t = crypto_pwhash_OPSLIMIT_INTERACTIVE, best_p = 1;
    size_t best_n = 0;
    for (size_t j = 0; j < nseen; j++) {
        double cost = (double)seen[j].m * (double)seen[j].t;
        if (seen[j].n > best_n || (seen[j].n == best_n && cost > (double)best_m * (double)best_t)) {
            best_n = seen[j].n;
            best_m = seen[j].m;
            best_t = seen[j].t;
            best_p = seen[j].p;
        }
    }
    /* A random salt and a random "hash": no password matches it, and
     * building it costs nothing (no hashing at load). */
    unsigned char salt[16], hash[32];
    char salt64[sodium_base64_ENCODED_LEN(sizeof salt, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
    char hash64[sodium_base64_ENCODED_LEN(sizeof hash, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(hash, sizeof hash);
    sodium_bin2base64(salt64, sizeof salt64, salt, sizeof salt,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sodium_bin2base64(hash64, sizeof hash64, hash, sizeof hash,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    snprintf(st->dummy, sizeof st->dummy, "$argon2id$v=19$m=%lu,t=%lu,p=%lu$%s$%s", best_m, best_t,
             best_p, salt64, hash64);
}

HRESULT profile_change_password(const profile *p, const char *old_password,
                                const char *new_password)
{
    if (p->auth != PROFILE_AUTH_ARGON2ID)
        return MAPI_E_NO_SUPPORT; /* an upstream password changes upstream */
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

bool profile_verifier_copy(const profile *p, char out[PROFILE_VERIFIER_MAX])
{
    if (p->auth != PROFILE_AUTH_ARGON2ID)
        return false;
    profile *m = mut(p);
    pthread_mutex_lock(&m->auth_lock);
    memcpy(out, m->verifier, PROFILE_VERIFIER_MAX);
    pthread_mutex_unlock(&m->auth_lock);
    return true;
}

bool profile_verifier_adopt(const profile *p, const char *expected, const char *verifier)
{
    if (p->auth != PROFILE_AUTH_ARGON2ID || strlen(verifier) >= PROFILE_VERIFIER_MAX ||
        strncmp(verifier, "$argon2id$", 10) != 0)
        return false;
    profile *m = mut(p);
    pthread_mutex_lock(&m->auth_lock);
    bool ok = strcmp(m->verifier, expected) == 0;
    if (ok)
        snprintf(m->verifier, sizeof m->verifier, "%s", verifier);
    pthread_mutex_unlock(&m->auth_lock);
    return ok;
}

_Static_assert(PROFILE_VERIFIER_MAX == crypto_pwhash_STRBYTES, "one verifier size");
