/* profile_load.c - reading and validating a profiles file into a
 * profile_store (profile_store_load, profile_store_load_string). Every error
 * names the file, the profile and the field; unknown keys are errors. The
 * store's accessors, references, passwords and locks are in profile.c.
 */
#include "profile.h"
#include "profile_internal.h"

#include "mapi_flags.h"
#include "provider.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARGON2ID_PREFIX "$argon2id$"
#define BAD_PLACEHOLDER "unknown placeholder (${user}, ${local} and ${domain} are known)"

/* Everything a parse needs to report where it went wrong. */
typedef struct {
    const char *source;
    const char *base; /* absolute folder for relative paths */
    char *err;
    size_t errlen;
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
    struct load_state *ls;
} loader;

#define OPEN_NAMED 3
/* Missing required settings named one per line; the rest counted. */
#define UNCONFIGURED_NAMED 10
/* What a load changes as it goes. */
struct load_state {
    profile_store *st; /* being built: its arena holds what is parsed */
    htab strings;      /* short strings kept once (interned) in the arena */
    /* The `auth: none` entries, for one summary warning. */
    size_t open;
    size_t unconfigured; /* required settings missing */
    char open_names[OPEN_NAMED][PROFILE_NAME_MAX_CHARS * 4 + 1];
};

/* Strings up to this long are kept once however often the file repeats them
 * (keys, kinds, display names like "Mailbox", "SMTP", "true"). */
#define INTERN_MAX 32

typedef struct {
    htab_node node; /* first: the node is the entry */
    char s[];
} interned;

static bool interned_eq(const htab_node *node, const void *key)
{
    return strcmp(((const interned *)(const void *)node)->s, key) == 0;
}

/* A copy of s in the store's arena (the same copy for an equal short
 * string); NULL when out of memory. */
static char *keep(const loader *L, const char *s)
{
    size_t len = strlen(s);
    uint64_t h = 0;
    if (len <= INTERN_MAX) {
        h = htab_hash_bytes(s, len);
        htab_node *n = htab_find(&L->ls->strings, h, s, interned_eq);
        if (n)
            return ((interned *)(void *)n)->s;
    }
    if (len > INTERN_MAX) {
        char *out = profile_arena_alloc(L->ls->st, len + 1);
        if (out)
            memcpy(out, s, len + 1);
        return out;
    }
    interned *e = profile_arena_alloc(L->ls->st, sizeof *e + len + 1);
    if (!e)
        return NULL;
    memcpy(e->s, s, len + 1);
    (void)htab_insert(&L->ls->strings, &e->node, h); /* not kept once: still right */
    return e->s;
}

/* n zeroed elements of size each from the store's arena (at least one). */
static void *keep_array(const loader *L, size_t n, size_t size)
{
    return profile_arena_alloc(L->ls->st, (n ? n : 1) * size);
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
static HRESULT check_keys(const loader *L, const char *pname, const char *where, json_t *obj,
                          const char *const *allowed)
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

/* rel resolved against the base folder, in the arena; an absolute path is
 * the value itself. */
static char *keep_path(const loader *L, const char *rel)
{
    if (rel[0] == '/' || !L->base)
        return (char *)(uintptr_t)rel;
    size_t blen = strlen(L->base), rlen = strlen(rel);
    bool slash = blen > 0 && L->base[blen - 1] == '/';
    char *out = profile_arena_alloc(L->ls->st, blen + !slash + rlen + 1);
    if (out) {
        memcpy(out, L->base, blen);
        if (!slash)
            out[blen++] = '/';
        memcpy(out + blen, rel, rlen + 1);
    }
    return out;
}

/* A copy of s of its own (one the loader changes in place). */
static char *keep_copy(const loader *L, const char *s)
{
    char *out = profile_arena_alloc(L->ls->st, strlen(s) + 1);
    if (out)
        memcpy(out, s, strlen(s) + 1);
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
            return fail(L, pname, "%s.resource_flags: unknown bits in %" JSON_INTEGER_FORMAT, where,
                        n);
        *out = (uint32_t)n;
        return S_OK;
    }
    if (!json_is_array(v))
        return fail(L, pname, "%s.resource_flags: must be an array of names or a number", where);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        uint32_t bit;
        if (!json_is_string(e))
            return fail(L, pname, "%s.resource_flags[%zu]: must be a string", where, i);
        if (!mapi_name_lookup(set, json_string_value(e), &bit))
            return fail(L, pname, "%s.resource_flags[%zu]: unknown resource flag \"%s\"", where, i,
                        json_string_value(e));
        flags |= bit;
    }
    *out = flags;
    return S_OK;
}

static HRESULT parse_identity(const loader *L, const char *pname, const char *where, json_t *v,
                              provider_config *c)
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
        if (!(*dst[i] = keep(L, json_string_value(s))))
            return oom(L);
    }
    return S_OK;
}

static HRESULT parse_settings(const loader *L, const char *pname, const char *where, json_t *v,
                              provider_config *c)
{
    if (!v)
        return S_OK;
    if (!json_is_object(v))
        return fail(L, pname, "%s.settings: must be an object", where);
    c->settings = keep_array(L, json_object_size(v), sizeof *c->settings);
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
        s->key = keep(L, key);
        s->value = keep(L, text);
        /* Resolved now so provider_config_path can hand out a string that
         * lives as long as the store, with no allocation at logon. */
        s->path = s->value ? keep_path(L, s->value) : NULL;
        if (!s->key || !s->value || !s->path)
            return oom(L);
    }
    return S_OK;
}

/* The settings a session may configure itself (AdminServices): names only;
 * what they hold is checked like any setting when they are set. */
static HRESULT check_user_settings(const loader *L, const char *pname, const char *where,
                                   json_t *v)
{
    if (!v)
        return S_OK;
    if (!json_is_array(v))
        return fail(L, pname, "%s.user_settings: must be an array of setting names", where);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0)
            return fail(L, pname, "%s.user_settings[%zu]: must be a non-empty string", where, i);
    }
    return S_OK;
}

static HRESULT parse_provider(const loader *L, const char *pname, const char *svc,
                              const char *where, json_t *v, provider_config *c)
{
    static const char *const keys[] = {
        "type", "kind", "display_name", "resource_flags", "identity", "settings", "user_settings",
        NULL};
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
    c->ops = ops;
    if (ops->resource_type != c->type)
        return fail(L, pname, "%s.type: %s does not match kind \"%s\" (%s)", where,
                    mapi_enum_name(&MAPI_RESOURCE_TYPE_NAMES, c->type), ops->kind,
                    mapi_enum_name(&MAPI_RESOURCE_TYPE_NAMES, ops->resource_type));
    json_t *dn = json_object_get(v, "display_name");
    if (!json_is_string(dn) || json_string_length(dn) == 0)
        return fail(L, pname, "%s.display_name: required non-empty string", where);
    if (!(c->display_name = keep(L, json_string_value(dn))))
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
    /* MAPI gives every provider exactly one of the two (docs/contract/mapi.md 5). */
    if (id_bits == 0)
        c->resource_flags |= STATUS_NO_PRIMARY_IDENTITY;
    if (HR_FAILED(hr = parse_identity(L, pname, where, json_object_get(v, "identity"), c)))
        return hr;
    if (HR_FAILED(hr = parse_settings(L, pname, where, json_object_get(v, "settings"), c)))
        return hr;
    if (HR_FAILED(hr = check_user_settings(L, pname, where, json_object_get(v, "user_settings"))))
        return hr;
    if (ops->check_config) {
        /* Kinds word their messages from the provider down ("settings.create:
         * must be ..."), so the provider's path completes them. */
        char kerr[256] = "";
        if (HR_FAILED(ops->check_config(c, kerr, sizeof kerr)))
            return fail(L, pname, "%s.%s", where, kerr[0] ? kerr : "settings: invalid");
    }
    for (const char *const *key = ops->required_settings; key && *key; key++)
        if (!provider_config_setting(c, *key) && L->ls->unconfigured++ < UNCONFIGURED_NAMED)
            warnf(L,
                  "profile \"%s\": service \"%s\": provider \"%s\" has no %s: it will be "
                  "unconfigured",
                  pname, svc, c->display_name, *key);
    return S_OK;
}

/* A flag at most one provider of a profile may carry: when c has it, at
 * (where the first one is, "" for none yet) takes c's place pwhere, or the
 * second one is an error naming both. */
static HRESULT claim_once(const loader *L, const char *pname, const char *pwhere,
                          const provider_config *c, uint32_t flag, const char *flag_name,
                          char at[64])
{
    if (!(c->resource_flags & flag))
        return S_OK;
    if (at[0])
        return fail(L, pname, "%s.resource_flags: a second %s provider (the first is %s)", pwhere,
                    flag_name, at);
    snprintf(at, 64, "%s", pwhere);
    return S_OK;
}

static HRESULT parse_services(const loader *L, profile *p, json_t *v)
{
    static const char *const keys[] = {"name", "providers", NULL};
    const char *pname = p->name;
    if (!json_is_array(v))
        return fail(L, pname, "services: required array");
    p->services = keep_array(L, json_array_size(v), sizeof *p->services);
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
        for (size_t k = 0; k + 1 < p->nservices; k++)
            if (strcmp(p->services[k].name, json_string_value(name)) == 0)
                return fail(L, pname, "%s.name: \"%s\" is also services[%zu]'s name", where,
                            json_string_value(name), k);
        if (!(s->name = keep(L, json_string_value(name))))
            return oom(L);
        json_t *provs = json_object_get(sv, "providers");
        if (!json_is_array(provs))
            return fail(L, pname, "%s.providers: required array", where);
        s->providers = keep_array(L, json_array_size(provs), sizeof *s->providers);
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
            entryid_provider_uid(pname, i, j, c->uid);
            if (HR_FAILED(hr = claim_once(L, pname, pwhere, c, STATUS_PRIMARY_IDENTITY,
                                          "STATUS_PRIMARY_IDENTITY", primary_at)))
                return hr;
            if (HR_FAILED(hr = claim_once(L, pname, pwhere, c, STATUS_DEFAULT_STORE,
                                          "STATUS_DEFAULT_STORE", store_at)))
                return hr;
        }
    }
    return S_OK;
}

static HRESULT parse_auth(const loader *L, profile *p, json_t *v, bool templated)
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
        /* One line for the whole file, however many (profile_store_load). */
        if (L->ls->open < OPEN_NAMED)
            snprintf(L->ls->open_names[L->ls->open], sizeof L->ls->open_names[0], "%s", p->name);
        L->ls->open++;
        return S_OK;
    }
    if (strcmp(type, "upstream") == 0) {
        /* Checked against the providers once the services are parsed. */
        p->auth = PROFILE_AUTH_UPSTREAM;
        return check_keys(L, p->name, "auth", v, none_keys);
    }
    if (templated)
        return fail(L, p->name,
                    "auth.type: a template's must be \"upstream\" (the user's own server "
                    "checks the password) or \"none\", not \"%s\"",
                    type);
    if (strcmp(type, "argon2id") != 0)
        return fail(L, p->name,
                    "auth.type: must be \"argon2id\", \"upstream\" or \"none\", not \"%s\"", type);
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
    if (!profile_sodium_ready()) {
        if (L->err && L->errlen > 0)
            snprintf(L->err, L->errlen, "%s: libsodium failed to initialise", L->source);
        return MAPI_E_CALL_FAILED;
    }
    p->auth = PROFILE_AUTH_ARGON2ID;
    snprintf(p->verifier, sizeof p->verifier, "%s", ver);
    return S_OK;
}

/* Upstream authentication hands the password to the primary-identity
 * provider, which must be of a kind that can check one. */
static HRESULT check_upstream(const loader *L, const profile *p)
{
    for (size_t i = 0; i < p->nservices; i++)
        for (size_t j = 0; j < p->services[i].count; j++) {
            const provider_config *c = &p->services[i].providers[j];
            if (!(c->resource_flags & STATUS_PRIMARY_IDENTITY))
                continue;
            const provider_ops *ops = provider_kind_find(c->kind);
            if (ops && ops->check_password)
                return S_OK;
            return fail(L, p->name,
                        "services[%zu].providers[%zu].kind: \"%s\" cannot check passwords, "
                        "so it cannot authenticate an \"upstream\" profile",
                        i, j, c->kind);
        }
    return fail(L, p->name, "auth: \"upstream\" needs a provider with STATUS_PRIMARY_IDENTITY");
}

/* A template's strings may hold ${user}, ${local} and ${domain} only. */
static HRESULT check_placeholders(const loader *L, const profile *p)
{
    for (size_t i = 0; i < p->nservices; i++) {
        const service_config *s = &p->services[i];
        if (profile_template_bad_placeholder(s->name))
            return fail(L, p->name, "services[%zu].name: %s", i, BAD_PLACEHOLDER);
        for (size_t j = 0; j < s->count; j++) {
            const provider_config *c = &s->providers[j];
            const char *strings[] = {c->display_name, c->id_display, c->id_addrtype, c->id_address};
            for (size_t k = 0; k < 4; k++)
                if (strings[k] && profile_template_bad_placeholder(strings[k]))
                    return fail(L, p->name, "services[%zu].providers[%zu]: %s", i, j,
                                BAD_PLACEHOLDER);
            for (size_t k = 0; k < c->nsettings; k++)
                if (profile_template_bad_placeholder(c->settings[k].value))
                    return fail(L, p->name, "services[%zu].providers[%zu].settings.%s: %s", i, j,
                                c->settings[k].key, BAD_PLACEHOLDER);
        }
    }
    return S_OK;
}

/* What a profile and a template have in common: locks, auth, services. */
static HRESULT parse_body(const loader *L, profile *p, json_t *v, bool templated)
{
    if (pthread_mutex_init(&p->auth_lock, NULL) != 0)
        return oom(L);
    if (pthread_mutex_init(&p->logon_lock, NULL) != 0) {
        pthread_mutex_destroy(&p->auth_lock);
        return oom(L);
    }
    p->locks_ready = true;
    HRESULT hr;
    if (HR_FAILED(hr = parse_auth(L, p, json_object_get(v, "auth"), templated)))
        return hr;
    if (HR_FAILED(hr = parse_services(L, p, json_object_get(v, "services"))))
        return hr;
    if (templated && HR_FAILED(hr = check_placeholders(L, p)))
        return hr;
    return p->auth == PROFILE_AUTH_UPSTREAM ? check_upstream(L, p) : S_OK;
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
        return fail(L, n, "name: must be 1..%d characters, not %zu", PROFILE_NAME_MAX_CHARS, chars);
    const profile *dup = profile_store_find_explicit(st, n);
    if (dup)
        return fail(L, n, "name: duplicate profile name (also profiles[%zu])",
                    (size_t)(dup - st->profiles));
    if (!(p->name = keep(L, n)))
        return oom(L);
    /* A hash index: a linear duplicate check made a 50,000-profile file
     * take half a minute. */
    if (!htab_insert(&st->index, &p->node, profile_name_hash(p->name)))
        return oom(L);
    HRESULT hr = check_keys(L, p->name, "", v, keys);
    if (HR_FAILED(hr))
        return hr;
    return parse_body(L, p, v, false);
}

static HRESULT parse_template(const loader *L, profile_template *t, size_t idx, json_t *v)
{
    static const char *const keys[] = {"name", "match", "auth", "services", NULL};
    char where[64];
    snprintf(where, sizeof where, "templates[%zu]", idx);
    if (!json_is_object(v))
        return fail(L, NULL, "%s: must be an object", where);
    json_t *name = json_object_get(v, "name");
    if (!json_is_string(name) || json_string_length(name) == 0)
        return fail(L, NULL, "%s.name: required non-empty string", where);
    if (!(t->proto.name = keep(L, json_string_value(name))))
        return oom(L);
    const char *tname = t->proto.name;
    HRESULT hr = check_keys(L, tname, "", v, keys);
    if (HR_FAILED(hr))
        return hr;
    json_t *match = json_object_get(v, "match");
    if (!json_is_array(match) || json_array_size(match) == 0)
        return fail(L, tname, "match: required non-empty array of patterns like \"*@example.org\"");
    if (!(t->match = keep_array(L, json_array_size(match), sizeof *t->match)))
        return oom(L);
    size_t i;
    json_t *m;
    json_array_foreach(match, i, m)
    {
        if (!json_is_string(m))
            return fail(L, tname, "match[%zu]: must be a string", i);
        if (!(t->match[t->nmatch++] = keep_copy(L, json_string_value(m))))
            return oom(L);
        if (!profile_template_pattern_ok(t->match[i]))
            return fail(L, tname,
                        "match[%zu]: letters, digits, '.', '-', '_', '@' and at most two '*' "
                        "(any run of characters), like \"*@example.org\"",
                        i);
    }
    return parse_body(L, &t->proto, v, true);
}

/* Returned by parse_store when a split file's element is not valid JSON:
 * the caller parses the whole text for jansson's message. */
#define RETRY_WHOLE MAPI_E_CALL_FAILED

static HRESULT parse_store(const loader *L, json_t *root, const profile_split *split,
                           profile_store **out)
{
    static const char *const keys[] = {"default_profile", "profiles", "templates", NULL};
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
    json_t *templates = json_object_get(root, "templates");
    if (templates && !json_is_array(templates))
        return fail(L, NULL, "templates: must be an array");

    profile_store *st = calloc(1, sizeof *st);
    if (!st)
        return oom(L);
    L->ls->st = st;
    size_t n = split ? split->n : json_array_size(profiles);
    st->profiles = calloc(n ? n : 1, sizeof *st->profiles);
    if (!st->profiles) {
        free(st);
        return oom(L);
    }
    for (size_t i = 0; i < n; i++) {
        st->count = i + 1; /* so profile_store_free sees the half-built one too */
        json_t *v = split ? profile_split_element(split, i) : json_array_get(profiles, i);
        if (!v) {
            profile_store_free(st);
            return RETRY_WHOLE;
        }
        hr = parse_profile(L, st, i, v);
        if (split)
            json_decref(v); /* one profile's tree at a time */
        if (HR_FAILED(hr)) {
            profile_store_free(st);
            return hr;
        }
    }
    size_t nt = json_array_size(templates);
    if (nt && !(st->templates = calloc(nt, sizeof *st->templates))) {
        profile_store_free(st);
        return oom(L);
    }
    for (size_t i = 0; i < nt; i++) {
        st->ntemplates = i + 1;
        if (HR_FAILED(hr = parse_template(L, &st->templates[i], i, json_array_get(templates, i)))) {
            profile_store_free(st);
            return hr;
        }
    }
    if (pthread_mutex_init(&st->derived_lock, NULL) != 0) {
        profile_store_free(st);
        return oom(L);
    }
    st->derived_ready = true;
    if (def) {
        st->def = profile_store_find(st, json_string_value(def));
        if (!st->def) {
            profile_store_free(st);
            return fail(L, NULL, "default_profile: no profile named \"%s\"",
                        json_string_value(def));
        }
    }
    profile_store_make_dummy(st);
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

/* The summary lines: one for every `auth: none` profile and template of the
 * file, one for the providers past the first few without a required setting
 * (an organisation's file may have thousands of either). */
static void warn_open(const loader *L)
{
    const struct load_state *t = L->ls;
    if (t->unconfigured > UNCONFIGURED_NAMED)
        warnf(L, "%zu more required settings are missing: those providers will be unconfigured",
              t->unconfigured - UNCONFIGURED_NAMED);
    if (t->open == 1) {
        warnf(L, "profile \"%s\" has no authentication: anybody can log on", t->open_names[0]);
    } else if (t->open > 1) {
        char list[sizeof t->open_names + 16 * OPEN_NAMED] = "";
        for (size_t i = 0; i < t->open && i < OPEN_NAMED; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
                     t->open_names[i]);
        warnf(L, "%zu profiles have no authentication: anybody can log on (%s%s)", t->open, list,
              t->open > OPEN_NAMED ? ", ..." : "");
    }
}

/* Loads text: split (profile_split.c) when it is plainly shaped, else, and
 * when a split element turns out invalid, parsed whole. */
static HRESULT load_text(const char *text, size_t len, const char *source, const char *base_dir,
                         const char *dir, profile_store **out, char *err, size_t errlen,
                         void (*warn)(void *, const char *), void *warn_ctx)
{
    struct load_state ls = {0};
    loader L = {source, NULL, err, errlen, warn, warn_ctx, &ls};
    *out = NULL;
    char *base = absolute_base(base_dir, dir);
    if (!base)
        return errno == ENOMEM ? oom(&L) : fail(&L, NULL, "cannot resolve base folder");
    L.base = base;
    json_t *root = NULL;
    profile_split split;
    HRESULT hr = RETRY_WHOLE;
    if (profile_split_text(text, len, &root, &split)) {
        hr = parse_store(&L, root, &split, out);
        profile_split_free(&split);
        json_decref(root);
    }
    if (hr == RETRY_WHOLE) {
        htab_destroy(&ls.strings);
        memset(&ls, 0, sizeof ls);
        json_error_t jerr;
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
            hr = json_error_code(&jerr) == json_error_out_of_memory ? oom(&L)
                 : jerr.line > 0
                     ? fail(&L, NULL, "line %d column %d: %s", jerr.line, jerr.column, jerr.text)
                     : fail(&L, NULL, "%s", jerr.text);
        else
            hr = parse_store(&L, root, NULL, out);
        json_decref(root);
    }
    htab_destroy(&ls.strings); /* the strings stay in the store's arena */
    free(base);
    if (HR_SUCCEEDED(hr))
        warn_open(&L);
#ifdef __GLIBC__
    /* What parsing freed goes back rather than stay the process's size. */
    malloc_trim(0);
#endif
    return hr;
}

/* The whole file in memory: jansson's file reader takes one getc per byte,
 * a third of the start-up of a 40 MB file. NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (bad) {
        free(buf);
        errno = bad;
        return NULL;
    }
    *len = n;
    return buf;
}

HRESULT profile_store_load(const char *path, const char *base_dir, profile_store **out, char *err,
                           size_t errlen, void (*warn)(void *ctx, const char *msg), void *warn_ctx)
{
    loader L = {path, NULL, err, errlen, NULL, NULL, NULL};
    *out = NULL;
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text)
        return errno == ENOMEM ? oom(&L) : fail(&L, NULL, "cannot read: %s", strerror(errno));
    /* The file's own folder: everything up to the last '/'. */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) {
        free(text);
        return oom(&L);
    }
    HRESULT hr = load_text(text, len, path, base_dir, dir, out, err, errlen, warn, warn_ctx);
    free(dir);
    free(text);
    return hr;
}

HRESULT profile_store_load_string(const char *json, const char *source, const char *base_dir,
                                  profile_store **out, char *err, size_t errlen,
                                  void (*warn)(void *ctx, const char *msg), void *warn_ctx)
{
    return load_text(json, strlen(json), source ? source : "<string>", base_dir, ".", out, err,
                     errlen, warn, warn_ctx);
}
