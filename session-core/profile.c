#include "profile.h"

#include "mapi_flags.h"
#include "provider.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARGON2ID_PREFIX "$argon2id$"

typedef struct {
    char *key;
    char *value;
    char *path; /* value resolved against the store's base folder, made at load */
} setting;

struct provider_config {
    uint32_t type;
    const char *kind; /* the kind table's own string: static */
    char *display_name;
    uint32_t resource_flags;
    char *id_display, *id_addrtype, *id_address; /* all or none */
    setting *settings;
    size_t nsettings;
};

struct service_config {
    char *name;
    provider_config *providers;
    size_t count;
};

struct profile {
    char *name;
    profile_auth_kind auth;
    /* Fixed size so change-password swaps it in place, without allocating
     * under the lock; guarded by auth_lock. */
    char verifier[crypto_pwhash_STRBYTES];
    pthread_mutex_t auth_lock;
    pthread_mutex_t logon_lock;
    bool locks_ready;
    service_config *services;
    size_t nservices;
};

struct profile_store {
    atomic_size_t refs;
    profile *profiles;
    size_t count;
    const profile *def;
};

/* Everything a parse needs to report where it went wrong. */
typedef struct {
    const char *source;
    const char *base; /* absolute folder for relative paths */
    char *err;
    size_t errlen;
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
} loader;

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static bool sodium_ok;

static void sodium_init_once(void)
{
    sodium_ok = sodium_init() >= 0;
}

static bool sodium_ready(void)
{
    return pthread_once(&sodium_once, sodium_init_once) == 0 && sodium_ok;
}

/* Writes "<source>: profile "<name>": <fmt...>" (or without the profile part
 * for top-level problems) and returns MAPI_E_INVALID_PARAMETER. */
__attribute__((format(printf, 3, 4))) static HRESULT fail(const loader *L, const char *pname,
                                                          const char *fmt, ...)
{
    if (L->err && L->errlen > 0) {
        int n = pname ? snprintf(L->err, L->errlen, "%s: profile \"%s\": ", L->source, pname)
                      : snprintf(L->err, L->errlen, "%s: ", L->source);
        if (n >= 0 && (size_t)n < L->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return MAPI_E_INVALID_PARAMETER;
}

static HRESULT oom(const loader *L)
{
    if (L->err && L->errlen > 0)
        snprintf(L->err, L->errlen, "%s: out of memory", L->source);
    return MAPI_E_NOT_ENOUGH_MEMORY;
}

__attribute__((format(printf, 2, 3))) static void warnf(const loader *L, const char *fmt, ...)
{
    if (!L->warn)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    L->warn(L->warn_ctx, msg);
}

/* Typos must not pass silently: every key of obj must be in allowed. */
static HRESULT check_keys(const loader *L, const char *pname, const char *where,
                          json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i])
            return fail(L, pname, "%s%s%s: unknown key", where, *where ? "." : "", key);
    }
    return S_OK;
}

/* Code points of a string jansson has already checked to be valid UTF-8. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static char *join_path(const char *base, const char *rel)
{
    if (rel[0] == '/' || !base)
        return strdup(rel);
    size_t blen = strlen(base);
    bool slash = blen > 0 && base[blen - 1] == '/';
    size_t len = blen + (slash ? 0 : 1) + strlen(rel) + 1;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s%s%s", base, slash ? "" : "/", rel);
    return out;
}

static HRESULT parse_type(const loader *L, const char *pname, const char *where, json_t *v,
                          uint32_t *out)
{
    uint32_t t = 0;
    if (json_is_string(v)) {
        if (!mapi_name_lookup(&MAPI_RESOURCE_TYPE_NAMES, json_string_value(v), &t))
            t = 0;
    } else if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        t = n > 0 && n <= UINT32_MAX ? (uint32_t)n : 0;
    } else {
        return fail(L, pname, "%s.type: must be a provider type name or number", where);
    }
    if (t != MAPI_STORE_PROVIDER && t != MAPI_AB_PROVIDER && t != MAPI_TRANSPORT_PROVIDER)
        return fail(L, pname,
                    "%s.type: must be MAPI_STORE_PROVIDER, MAPI_AB_PROVIDER or "
                    "MAPI_TRANSPORT_PROVIDER (33, 35, 36)",
                    where);
    *out = t;
    return S_OK;
}

static HRESULT parse_flags(const loader *L, const char *pname, const char *where, json_t *v,
                           uint32_t *out)
{
    const mapi_name_set *set = &MAPI_RESOURCE_FLAG_NAMES;
    uint32_t flags = 0;
    if (!v) {
        *out = 0;
        return S_OK;
    }
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0 || n > UINT32_MAX || !mapi_flags_known(set, (uint32_t)n))
            return fail(L, pname, "%s.resource_flags: unknown bits in %" JSON_INTEGER_FORMAT,
                        where, n);
        *out = (uint32_t)n;
        return S_OK;
    }
    if (!json_is_array(v))
        return fail(L, pname, "%s.resource_flags: must be an array of names or a number",
                    where);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        uint32_t bit;
        if (!json_is_string(e))
            return fail(L, pname, "%s.resource_flags[%zu]: must be a string", where, i);
        if (!mapi_name_lookup(set, json_string_value(e), &bit))
            return fail(L, pname, "%s.resource_flags[%zu]: unknown resource flag \"%s\"",
                        where, i, json_string_value(e));
        flags |= bit;
    }
    *out = flags;
    return S_OK;
}

static HRESULT parse_identity(const loader *L, const char *pname, const char *where,
                              json_t *v, provider_config *c)
{
    static const char *const keys[] = {"display", "address_type", "address", NULL};
    char sub[96];
    if (!v)
        return S_OK;
    snprintf(sub, sizeof sub, "%s.identity", where);
    if (!json_is_object(v))
        return fail(L, pname, "%s: must be an object", sub);
    HRESULT hr = check_keys(L, pname, sub, v, keys);
    if (HR_FAILED(hr))
        return hr;
    char **dst[] = {&c->id_display, &c->id_addrtype, &c->id_address};
    for (size_t i = 0; i < 3; i++) {
        json_t *s = json_object_get(v, keys[i]);
        if (!json_is_string(s))
            return fail(L, pname, "%s.%s: required string", sub, keys[i]);
        if (!(*dst[i] = strdup(json_string_value(s))))
            return oom(L);
    }
    return S_OK;
}

static HRESULT parse_settings(const loader *L, const char *pname, const char *where,
                              json_t *v, provider_config *c)
{
    if (!v)
        return S_OK;
    if (!json_is_object(v))
        return fail(L, pname, "%s.settings: must be an object", where);
    c->settings = calloc(json_object_size(v) ? json_object_size(v) : 1, sizeof *c->settings);
    if (!c->settings)
        return oom(L);
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e)
    {
        char num[32];
        const char *text;
        if (json_is_string(e)) {
            text = json_string_value(e);
        } else if (json_is_boolean(e)) {
            text = json_is_true(e) ? "true" : "false";
        } else if (json_is_integer(e)) {
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(e));
            text = num;
        } else {
            return fail(L, pname, "%s.settings.%s: must be a string, an integer or a boolean",
                        where, key);
        }
        setting *s = &c->settings[c->nsettings++];
        s->key = strdup(key);
        s->value = strdup(text);
        /* Resolved now so provider_config_path can hand out a string that
         * lives as long as the store, with no allocation at logon. */
        s->path = s->value ? join_path(L->base, s->value) : NULL;
        if (!s->key || !s->value || !s->path)
            return oom(L);
    }
    return S_OK;
}

static HRESULT parse_provider(const loader *L, const char *pname, const char *svc,
                              const char *where, json_t *v, provider_config *c)
{
    static const char *const keys[] = {"type",     "kind",     "display_name", "resource_flags",
                                       "identity", "settings", NULL};
    if (!json_is_object(v))
        return fail(L, pname, "%s: must be an object", where);
    HRESULT hr = check_keys(L, pname, where, v, keys);
    if (HR_FAILED(hr))
        return hr;
    if (!json_object_get(v, "type"))
        return fail(L, pname, "%s.type: required", where);
    if (HR_FAILED(hr = parse_type(L, pname, where, json_object_get(v, "type"), &c->type)))
        return hr;
    json_t *kind = json_object_get(v, "kind");
    if (!json_is_string(kind))
        return fail(L, pname, "%s.kind: required string", where);
    const provider_ops *ops = provider_kind_find(json_string_value(kind));
    if (!ops)
        return fail(L, pname, "%s.kind: unknown provider kind \"%s\"", where,
                    json_string_value(kind));
    c->kind = ops->kind;
    if (ops->resource_type != c->type)
        return fail(L, pname, "%s.type: %s does not match kind \"%s\" (%s)", where,
                    mapi_enum_name(&MAPI_RESOURCE_TYPE_NAMES, c->type), ops->kind,
                    mapi_enum_name(&MAPI_RESOURCE_TYPE_NAMES, ops->resource_type));
    json_t *dn = json_object_get(v, "display_name");
    if (!json_is_string(dn) || json_string_length(dn) == 0)
        return fail(L, pname, "%s.display_name: required non-empty string", where);
    if (!(c->display_name = strdup(json_string_value(dn))))
        return oom(L);
    hr = parse_flags(L, pname, where, json_object_get(v, "resource_flags"), &c->resource_flags);
    if (HR_FAILED(hr))
        return hr;
    uint32_t id_bits = c->resource_flags & (STATUS_PRIMARY_IDENTITY | STATUS_NO_PRIMARY_IDENTITY);
    if (id_bits == (STATUS_PRIMARY_IDENTITY | STATUS_NO_PRIMARY_IDENTITY))
        return fail(L, pname,
                    "%s.resource_flags: STATUS_PRIMARY_IDENTITY and "
                    "STATUS_NO_PRIMARY_IDENTITY exclude each other",
                    where);
    /* MAPI gives every provider exactly one of the two (mapi-session.md 3). */
    if (id_bits == 0)
        c->resource_flags |= STATUS_NO_PRIMARY_IDENTITY;
    if (HR_FAILED(hr = parse_identity(L, pname, where, json_object_get(v, "identity"), c)))
        return hr;
    if (HR_FAILED(hr = parse_settings(L, pname, where, json_object_get(v, "settings"), c)))
        return hr;
    if (ops->check_config) {
        /* Kinds word their messages from the provider down ("settings.create:
         * must be ..."), so the provider's path completes them. */
        char kerr[256] = "";
        if (HR_FAILED(ops->check_config(c, kerr, sizeof kerr)))
            return fail(L, pname, "%s.%s", where, kerr[0] ? kerr : "settings: invalid");
    }
    if (!provider_config_setting(c, "path"))
        warnf(L, "profile \"%s\": service \"%s\": provider \"%s\" has no path: it will be "
                 "unconfigured",
              pname, svc, c->display_name);
    return S_OK;
}

static HRESULT parse_services(const loader *L, profile *p, json_t *v)
{
    static const char *const keys[] = {"name", "providers", NULL};
    const char *pname = p->name;
    if (!json_is_array(v))
        return fail(L, pname, "services: required array");
    p->services = calloc(json_array_size(v) ? json_array_size(v) : 1, sizeof *p->services);
    if (!p->services)
        return oom(L);
    /* Where the profile's single primary identity and default store are, for
     * the message about a second one. */
    char primary_at[64] = "", store_at[64] = "";
    size_t i;
    json_t *sv;
    json_array_foreach(v, i, sv)
    {
        char where[64];
        snprintf(where, sizeof where, "services[%zu]", i);
        service_config *s = &p->services[p->nservices++];
        if (!json_is_object(sv))
            return fail(L, pname, "%s: must be an object", where);
        HRESULT hr = check_keys(L, pname, where, sv, keys);
        if (HR_FAILED(hr))
            return hr;
        json_t *name = json_object_get(sv, "name");
        if (!json_is_string(name) || json_string_length(name) == 0)
            return fail(L, pname, "%s.name: required non-empty string", where);
        if (!(s->name = strdup(json_string_value(name))))
            return oom(L);
        json_t *provs = json_object_get(sv, "providers");
        if (!json_is_array(provs))
            return fail(L, pname, "%s.providers: required array", where);
        s->providers = calloc(json_array_size(provs) ? json_array_size(provs) : 1,
                              sizeof *s->providers);
        if (!s->providers)
            return oom(L);
        size_t j;
        json_t *pv;
        json_array_foreach(provs, j, pv)
        {
            char pwhere[64];
            snprintf(pwhere, sizeof pwhere, "services[%zu].providers[%zu]", i, j);
            provider_config *c = &s->providers[s->count++];
            if (HR_FAILED(hr = parse_provider(L, pname, s->name, pwhere, pv, c)))
                return hr;
            if (c->resource_flags & STATUS_PRIMARY_IDENTITY) {
                if (primary_at[0])
                    return fail(L, pname,
                                "%s.resource_flags: a second STATUS_PRIMARY_IDENTITY provider "
                                "(the first is %s)",
                                pwhere, primary_at);
                snprintf(primary_at, sizeof primary_at, "%s", pwhere);
            }
            if (c->resource_flags & STATUS_DEFAULT_STORE) {
                if (store_at[0])
                    return fail(L, pname,
                                "%s.resource_flags: a second STATUS_DEFAULT_STORE provider "
                                "(the first is %s)",
                                pwhere, store_at);
                snprintf(store_at, sizeof store_at, "%s", pwhere);
            }
        }
    }
    return S_OK;
}

static HRESULT parse_auth(const loader *L, profile *p, json_t *v)
{
    static const char *const none_keys[] = {"type", NULL};
    static const char *const argon_keys[] = {"type", "verifier", NULL};
    if (!v)
        return fail(L, p->name, "auth: required (use {\"type\": \"none\"} for no password)");
    if (!json_is_object(v))
        return fail(L, p->name, "auth: must be an object");
    const char *type = json_string_value(json_object_get(v, "type"));
    if (!type)
        return fail(L, p->name, "auth.type: required string");
    if (strcmp(type, "none") == 0) {
        HRESULT hr = check_keys(L, p->name, "auth", v, none_keys);
        if (HR_FAILED(hr))
            return hr;
        p->auth = PROFILE_AUTH_NONE;
        warnf(L, "profile \"%s\" has no authentication: anybody can log on", p->name);
        return S_OK;
    }
    if (strcmp(type, "argon2id") != 0)
        return fail(L, p->name, "auth.type: must be \"argon2id\" or \"none\", not \"%s\"", type);
    HRESULT hr = check_keys(L, p->name, "auth", v, argon_keys);
    if (HR_FAILED(hr))
        return hr;
    const char *ver = json_string_value(json_object_get(v, "verifier"));
    if (!ver)
        return fail(L, p->name, "auth.verifier: required string");
    if (strncmp(ver, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) != 0)
        return fail(L, p->name, "auth.verifier: must start with \"" ARGON2ID_PREFIX "\"");
    if (strlen(ver) >= sizeof p->verifier)
        return fail(L, p->name, "auth.verifier: longer than %zu characters",
                    sizeof p->verifier - 1);
    if (!sodium_ready()) {
        if (L->err && L->errlen > 0)
            snprintf(L->err, L->errlen, "%s: libsodium failed to initialise", L->source);
        return MAPI_E_CALL_FAILED;
    }
    p->auth = PROFILE_AUTH_ARGON2ID;
    snprintf(p->verifier, sizeof p->verifier, "%s", ver);
    return S_OK;
}

static HRESULT parse_profile(const loader *L, profile_store *st, size_t idx, json_t *v)
{
    static const char *const keys[] = {"name", "auth", "services", NULL};
    char where[64];
    snprintf(where, sizeof where, "profiles[%zu]", idx);
    profile *p = &st->profiles[idx];
    if (!json_is_object(v))
        return fail(L, NULL, "%s: must be an object", where);
    json_t *name = json_object_get(v, "name");
    if (!json_is_string(name))
        return fail(L, NULL, "%s.name: required string", where);
    const char *n = json_string_value(name);
    size_t chars = utf8_chars(n);
    if (chars == 0 || chars > PROFILE_NAME_MAX_CHARS)
        return fail(L, n, "name: must be 1..%d characters, not %zu", PROFILE_NAME_MAX_CHARS,
                    chars);
    for (size_t i = 0; i < idx; i++)
        if (strcmp(st->profiles[i].name, n) == 0)
            return fail(L, n, "name: duplicate profile name (also profiles[%zu])", i);
    if (!(p->name = strdup(n)))
        return oom(L);
    HRESULT hr = check_keys(L, p->name, "", v, keys);
    if (HR_FAILED(hr))
        return hr;
    if (pthread_mutex_init(&p->auth_lock, NULL) != 0)
        return oom(L);
    if (pthread_mutex_init(&p->logon_lock, NULL) != 0) {
        pthread_mutex_destroy(&p->auth_lock);
        return oom(L);
    }
    p->locks_ready = true;
    if (HR_FAILED(hr = parse_auth(L, p, json_object_get(v, "auth"))))
        return hr;
    return parse_services(L, p, json_object_get(v, "services"));
}

static void store_free(profile_store *st)
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

static HRESULT parse_store(const loader *L, json_t *root, profile_store **out)
{
    static const char *const keys[] = {"default_profile", "profiles", NULL};
    if (!json_is_object(root))
        return fail(L, NULL, "top level: must be an object");
    HRESULT hr = check_keys(L, NULL, "", root, keys);
    if (HR_FAILED(hr))
        return hr;
    json_t *profiles = json_object_get(root, "profiles");
    if (!json_is_array(profiles))
        return fail(L, NULL, "profiles: required array");
    json_t *def = json_object_get(root, "default_profile");
    if (def && !json_is_string(def))
        return fail(L, NULL, "default_profile: must be a string");

    profile_store *st = calloc(1, sizeof *st);
    if (!st)
        return oom(L);
    size_t n = json_array_size(profiles);
    st->profiles = calloc(n ? n : 1, sizeof *st->profiles);
    if (!st->profiles) {
        free(st);
        return oom(L);
    }
    for (size_t i = 0; i < n; i++) {
        st->count = i + 1; /* so store_free sees the half-built one too */
        if (HR_FAILED(hr = parse_profile(L, st, i, json_array_get(profiles, i)))) {
            store_free(st);
            return hr;
        }
    }
    if (def) {
        st->def = profile_store_find(st, json_string_value(def));
        if (!st->def) {
            store_free(st);
            return fail(L, NULL, "default_profile: no profile named \"%s\"",
                        json_string_value(def));
        }
    }
    atomic_init(&st->refs, 1);
    *out = st;
    return S_OK;
}

/* base_dir as given, else dir (the profiles file's folder, or "." for a
 * string), made absolute so a later chdir cannot move provider paths. */
static char *absolute_base(const char *base_dir, const char *dir)
{
    const char *b = base_dir ? base_dir : dir;
    if (b[0] == '/')
        return strdup(b);
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return NULL;
    char *out = strcmp(b, ".") == 0 ? strdup(cwd) : join_path(cwd, b);
    free(cwd);
    return out;
}

static HRESULT load_json(json_t *root, const json_error_t *jerr, const char *source,
                         const char *base_dir, const char *dir, profile_store **out,
                         char *err, size_t errlen, void (*warn)(void *, const char *),
                         void *warn_ctx)
{
    loader L = {source, NULL, err, errlen, warn, warn_ctx};
    *out = NULL;
    if (!root) {
        if (json_error_code(jerr) == json_error_out_of_memory)
            return oom(&L);
        if (jerr->line > 0)
            return fail(&L, NULL, "line %d column %d: %s", jerr->line, jerr->column,
                        jerr->text);
        return fail(&L, NULL, "%s", jerr->text);
    }
    char *base = absolute_base(base_dir, dir);
    if (!base) {
        json_decref(root);
        return errno == ENOMEM ? oom(&L) : fail(&L, NULL, "cannot resolve base folder");
    }
    L.base = base;
    HRESULT hr = parse_store(&L, root, out);
    free(base);
    json_decref(root);
    return hr;
}

HRESULT profile_store_load(const char *path, const char *base_dir, profile_store **out,
                           char *err, size_t errlen,
                           void (*warn)(void *ctx, const char *msg), void *warn_ctx)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    /* The file's own folder: everything up to the last '/'. */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) {
        json_decref(root);
        loader L = {path, NULL, err, errlen, NULL, NULL};
        *out = NULL;
        return oom(&L);
    }
    HRESULT hr = load_json(root, &jerr, path, base_dir, dir, out, err, errlen, warn, warn_ctx);
    free(dir);
    return hr;
}

HRESULT profile_store_load_string(const char *json, const char *source, const char *base_dir,
                                  profile_store **out, char *err, size_t errlen,
                                  void (*warn)(void *ctx, const char *msg), void *warn_ctx)
{
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    return load_json(root, &jerr, source ? source : "<string>", base_dir, ".", out, err,
                     errlen, warn, warn_ctx);
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
        store_free(store);
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
static profile *mut(const profile *p)
{
    return (profile *)(uintptr_t)p;
}

/* Verifies password against the current verifier; the copy lets argon2id
 * (slow on purpose) run without holding the lock. *used receives the verifier
 * that was checked, for change-password's compare-and-swap. */
static bool verify(const profile *p, const char *password, char used[crypto_pwhash_STRBYTES])
{
    profile *m = mut(p);
    pthread_mutex_lock(&m->auth_lock);
    memcpy(used, m->verifier, crypto_pwhash_STRBYTES);
    pthread_mutex_unlock(&m->auth_lock);
    return sodium_ready() && crypto_pwhash_str_verify(used, password, strlen(password)) == 0;
}

HRESULT profile_check_password(const profile *p, const char *password)
{
    if (p->auth == PROFILE_AUTH_NONE)
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
    if (p->auth == PROFILE_AUTH_NONE)
        return MAPI_E_NO_SUPPORT;
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

void profile_logon_unlock(const profile *p)
{
    pthread_mutex_unlock(&mut(p)->logon_lock);
}

const char *service_name(const service_config *s) { return s->name; }

size_t service_provider_count(const service_config *s) { return s->count; }

const provider_config *service_provider(const service_config *s, size_t i)
{
    return i < s->count ? &s->providers[i] : NULL;
}

uint32_t provider_config_type(const provider_config *c) { return c->type; }

const char *provider_config_kind(const provider_config *c) { return c->kind; }

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
