/* profile_edit.c - the changes of profile_edit.h, applied to a parsed
 * profiles document. */
#include "profile_edit.h"

#include "profile_admin.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NOMEM(err, errlen) (snprintf(err, errlen, "out of memory"), MAPI_E_NOT_ENOUGH_MEMORY)

void profile_service_uid(const char *service_name, char out[PROFILE_SERVICE_UID_LEN + 1])
{
    static const char hex[] = "0123456789ABCDEF";
    uint8_t h[PROFILE_SERVICE_UID_LEN / 2];
    crypto_generichash(h, sizeof h, (const uint8_t *)service_name, strlen(service_name),
                       (const uint8_t *)"mapigw PR_SERVICE_UID", 21);
    for (size_t i = 0; i < sizeof h; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[PROFILE_SERVICE_UID_LEN] = '\0';
}

/* The index of the service with that uid in entry's services, or -1. */
static long service_index(json_t *entry, const char *uid)
{
    json_t *list = json_object_get(entry, "services");
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        const char *n = json_string_value(json_object_get(s, "name"));
        char u[PROFILE_SERVICE_UID_LEN + 1];
        if (!n)
            continue;
        profile_service_uid(n, u);
        if (strcasecmp(u, uid) == 0)
            return (long)i;
    }
    return -1;
}

json_t *profile_entry_service(json_t *entry, const char *uid)
{
    long i = service_index(entry, uid);
    return i < 0 ? NULL : json_array_get(json_object_get(entry, "services"), (size_t)i);
}

static bool service_name_taken(json_t *entry, const char *name, long except)
{
    json_t *list = json_object_get(entry, "services");
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        const char *n = json_string_value(json_object_get(s, "name"));
        if ((long)i != except && n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

json_t *profile_provider_user_settings(json_t *provider)
{
    json_t *own = json_object_get(provider, "user_settings");
    if (json_is_array(own))
        return json_deep_copy(own);
    static const char *const IMAP[] = {"username", "password", "timeout_ms", NULL};
    static const char *const SMTP[] = {"username", "password", "timeout_ms", "from", NULL};
    static const char *const LDAP[] = {"timeout_ms", NULL};
    const char *kind = json_string_value(json_object_get(provider, "kind"));
    const char *const *names = NULL;
    if (kind && strcmp(kind, "imap") == 0)
        names = IMAP;
    else if (kind && strcmp(kind, "smtp") == 0)
        names = SMTP;
    else if (kind && strcmp(kind, "ldap") == 0)
        names = LDAP;
    json_t *out = json_array();
    for (size_t i = 0; out && names && names[i]; i++)
        if (json_array_append_new(out, json_string(names[i])) != 0) {
            json_decref(out);
            return NULL;
        }
    return out;
}

bool profile_setting_is_secret(const char *key)
{
    size_t n = strlen(key);
    return strcmp(key, "password") == 0 ||
           (n > 9 && strcmp(key + n - 9, "_password") == 0);
}

static bool in_array(json_t *arr, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
            return true;
    }
    return false;
}

/* RFC 7396 at the one level a provider's settings need: null removes. */
static HRESULT merge_settings(json_t *prov, json_t *patch, char *err, size_t errlen)
{
    json_t *settings = json_object_get(prov, "settings");
    if (!settings) {
        settings = json_object();
        if (!settings || json_object_set_new(prov, "settings", settings) != 0)
            return NOMEM(err, errlen);
    }
    if (!json_is_object(settings))
        return S_OK; /* the loader names the file's own problem */
    const char *key;
    json_t *v;
    json_object_foreach(patch, key, v)
    {
        /* A view shows a secret as SECRET_SHOWN: sent back unchanged, it
         * keeps the stored value rather than becoming those characters. */
        if (profile_setting_is_secret(key) && json_is_string(v) &&
            strcmp(json_string_value(v), PROFILE_SECRET_SHOWN) == 0)
            continue;
        if (json_is_null(v))
            json_object_del(settings, key);
        else if (json_object_set(settings, key, v) != 0)
            return NOMEM(err, errlen);
    }
    return S_OK;
}

/* identity merges member by member (RFC 7396); null removes a member. */
static HRESULT merge_identity(json_t *prov, json_t *patch, char *err, size_t errlen)
{
    json_t *id = json_object_get(prov, "identity");
    if (!json_is_object(id)) {
        id = json_object();
        if (!id || json_object_set_new(prov, "identity", id) != 0)
            return NOMEM(err, errlen);
    }
    const char *key;
    json_t *v;
    json_object_foreach(patch, key, v)
    {
        if (json_is_null(v))
            json_object_del(id, key);
        else if (json_object_set(id, key, v) != 0)
            return NOMEM(err, errlen);
    }
    return S_OK;
}

static HRESULT patch_provider(json_t *prov, json_t *patch, bool user_only, size_t at, char *err,
                              size_t errlen)
{
    static const char *const ADMIN_KEYS[] = {"display_name", "resource_flags", "identity",
                                             "settings", "user_settings", NULL};
    if (!json_is_object(patch)) {
        snprintf(err, errlen, "providers[%zu]: must be an object (a merge patch)", at);
        return MAPI_E_INVALID_PARAMETER;
    }
    const char *key;
    json_t *v;
    json_object_foreach(patch, key, v)
    {
        size_t k = 0;
        while (ADMIN_KEYS[k] && strcmp(ADMIN_KEYS[k], key) != 0)
            k++;
        if (!ADMIN_KEYS[k]) {
            snprintf(err, errlen, "providers[%zu].%s: unknown key", at, key);
            return MAPI_E_INVALID_PARAMETER;
        }
        if (user_only && strcmp(key, "settings") != 0) {
            snprintf(err, errlen, "providers[%zu].%s: only settings may be configured by a session",
                     at, key);
            return MAPI_E_NO_ACCESS;
        }
    }
    json_t *settings = json_object_get(patch, "settings");
    if (settings && !json_is_object(settings) && !(json_is_null(settings) && !user_only)) {
        snprintf(err, errlen, "providers[%zu].settings: must be an object", at);
        return MAPI_E_INVALID_PARAMETER;
    }
    if (user_only && settings) {
        json_t *allowed = profile_provider_user_settings(prov);
        if (!allowed)
            return NOMEM(err, errlen);
        json_object_foreach(settings, key, v)
        {
            if (!in_array(allowed, key)) {
                snprintf(err, errlen,
                         "providers[%zu].settings.%s: not a setting a session may configure "
                         "(the provider's user_settings)",
                         at, key);
                json_decref(allowed);
                return MAPI_E_NO_ACCESS;
            }
        }
        json_decref(allowed);
    }
    json_object_foreach(patch, key, v)
    {
        HRESULT hr = S_OK;
        if (strcmp(key, "settings") == 0 && json_is_object(v))
            hr = merge_settings(prov, v, err, errlen);
        else if (strcmp(key, "identity") == 0 && json_is_object(v))
            hr = merge_identity(prov, v, err, errlen);
        else if (json_is_null(v))
            json_object_del(prov, key);
        else if (json_object_set(prov, key, v) != 0)
            hr = NOMEM(err, errlen);
        if (hr != S_OK)
            return hr;
    }
    return S_OK;
}

static HRESULT update_service(profile_change *c, json_t *entry, char *err, size_t errlen)
{
    long idx = service_index(entry, c->service_uid);
    if (idx < 0) {
        snprintf(err, errlen, "profile \"%s\" has no service %s", c->name, c->service_uid);
        return MAPI_E_NOT_FOUND;
    }
    json_t *svc = json_array_get(json_object_get(entry, "services"), (size_t)idx);
    if (c->service_name) {
        if (service_name_taken(entry, c->service_name, idx)) {
            snprintf(err, errlen, "profile \"%s\" has a service named \"%s\"", c->name,
                     c->service_name);
            return MAPI_E_COLLISION;
        }
        if (json_object_set_new(svc, "name", json_string(c->service_name)) != 0)
            return NOMEM(err, errlen);
    }
    if (c->patches) {
        json_t *provs = json_object_get(svc, "providers");
        if (!json_is_array(c->patches) || json_array_size(c->patches) != json_array_size(provs)) {
            snprintf(err, errlen, "providers: must be an array of %zu merge patches, one per provider",
                     json_array_size(provs));
            return MAPI_E_INVALID_PARAMETER;
        }
        for (size_t i = 0; i < json_array_size(provs); i++) {
            HRESULT hr = patch_provider(json_array_get(provs, i), json_array_get(c->patches, i),
                                        c->user_only, i, err, errlen);
            if (hr != S_OK)
                return hr;
        }
    }
    profile_service_uid(json_string_value(json_object_get(svc, "name")), c->result_uid);
    return S_OK;
}

static HRESULT check_password(json_t *entry, const char *old_password, char *err, size_t errlen)
{
    json_t *auth = json_object_get(entry, "auth");
    const char *v = json_string_value(json_object_get(auth, "verifier"));
    if (!v)
        return S_OK; /* no password to know */
    if (crypto_pwhash_str_verify(v, old_password, strlen(old_password)) != 0) {
        snprintf(err, errlen, "the old password is wrong");
        return MAPI_E_NO_ACCESS;
    }
    return S_OK;
}

static HRESULT set_default(json_t *doc, const char *name, int how, char *err, size_t errlen)
{
    if (how > 0)
        return json_object_set_new(doc, "default_profile", json_string(name)) == 0
                   ? S_OK
                   : NOMEM(err, errlen);
    if (how == 0 && profile_admin_is_default(doc, name))
        json_object_del(doc, "default_profile");
    return S_OK;
}

static HRESULT add_profile(profile_change *c, json_t *doc, json_t *entry, char *err,
                           size_t errlen)
{
    json_t *list = json_object_get(doc, "profiles");
    if (!json_is_array(list) || json_array_append_new(list, entry) != 0) {
        json_decref(entry);
        return NOMEM(err, errlen);
    }
    c->result_name = c->new_name;
    return set_default(doc, c->new_name, c->set_default, err, errlen);
}

/* A name the API gives must be reachable at /profiles/{name}: the HTTP
 * server decodes %2F before routing, so a '/' could never be. */
static HRESULT check_new_name(const char *name, char *err, size_t errlen)
{
    if (strchr(name, '/')) {
        snprintf(err, errlen, "name: \"%s\" holds a '/', which no URL of this API can name", name);
        return MAPI_E_INVALID_PARAMETER;
    }
    /* Names end up in logs, headers (Location) and file names of data. */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(err, errlen, "name: control characters are not allowed in a profile name");
            return MAPI_E_INVALID_PARAMETER;
        }
    return S_OK;
}

static HRESULT create_profile(profile_change *c, json_t *doc, char *err, size_t errlen)
{
    HRESULT hr = check_new_name(c->new_name, err, errlen);
    if (hr != S_OK)
        return hr;
    json_t *from = NULL;
    if (c->op == PROFILE_CHANGE_COPY && !(from = profile_admin_find(doc, c->from))) {
        snprintf(err, errlen, "no profile \"%s\" to copy", c->from);
        return MAPI_E_NOT_FOUND;
    }
    if (profile_admin_find(doc, c->new_name)) {
        snprintf(err, errlen, "a profile named \"%s\" exists", c->new_name);
        return MAPI_E_COLLISION;
    }
    json_t *entry = from ? json_deep_copy(from) : json_object();
    if (!entry)
        return NOMEM(err, errlen);
    bool ok = json_object_set_new(entry, "name", json_string(c->new_name)) == 0;
    if (c->auth)
        ok = ok && json_object_set(entry, "auth", c->auth) == 0;
    else if (!from)
        ok = ok && json_object_set_new(entry, "auth", json_pack("{s:s}", "type", "none")) == 0;
    if (ok && !from) {
        json_t *svcs = c->services ? json_incref(c->services) : json_array();
        ok = svcs && json_object_set_new(entry, "services", svcs) == 0;
    }
    if (!ok) {
        json_decref(entry);
        return NOMEM(err, errlen);
    }
    return add_profile(c, doc, entry, err, errlen);
}

HRESULT profile_change_apply(void *ctx, json_t *doc, char *err, size_t errlen)
{
    profile_change *c = ctx;
    if (!json_is_array(json_object_get(doc, "profiles"))) {
        snprintf(err, errlen, "the profiles file has no \"profiles\" array");
        return MAPI_E_INVALID_PARAMETER;
    }
    if (c->op == PROFILE_CHANGE_CREATE || c->op == PROFILE_CHANGE_COPY)
        return create_profile(c, doc, err, errlen);
    json_t *entry = profile_admin_find(doc, c->name);
    if (!entry) {
        snprintf(err, errlen, "no profile \"%s\"", c->name);
        return MAPI_E_NOT_FOUND;
    }
    c->result_name = c->name;
    switch (c->op) {
    case PROFILE_CHANGE_UPDATE:
        if (c->new_name && strcmp(c->new_name, c->name) != 0) {
            HRESULT hr = check_new_name(c->new_name, err, errlen);
            if (hr != S_OK)
                return hr;
            if (profile_admin_find(doc, c->new_name)) {
                snprintf(err, errlen, "a profile named \"%s\" exists", c->new_name);
                return MAPI_E_COLLISION;
            }
            bool was_default = profile_admin_is_default(doc, c->name);
            if (json_object_set_new(entry, "name", json_string(c->new_name)) != 0 ||
                (was_default &&
                 json_object_set_new(doc, "default_profile", json_string(c->new_name)) != 0))
                return NOMEM(err, errlen);
            c->result_name = c->new_name;
        }
        return set_default(doc, c->result_name, c->set_default, err, errlen);
    case PROFILE_CHANGE_DELETE: {
        json_t *list = json_object_get(doc, "profiles");
        for (size_t i = 0; i < json_array_size(list); i++)
            if (json_array_get(list, i) == entry) {
                (void)set_default(doc, c->name, 0, err, errlen);
                json_array_remove(list, i);
                break;
            }
        return S_OK;
    }
    case PROFILE_CHANGE_PASSWORD: {
        if (c->old_password) {
            HRESULT hr = check_password(entry, c->old_password, err, errlen);
            if (hr != S_OK)
                return hr;
        }
        json_t *auth = json_pack("{s:s,s:s}", "type", "argon2id", "verifier", c->verifier);
        if (!auth || json_object_set_new(entry, "auth", auth) != 0)
            return NOMEM(err, errlen);
        return S_OK;
    }
    case SERVICE_CHANGE_CREATE: {
        const char *sname = json_string_value(json_object_get(c->service, "name"));
        json_t *list = json_object_get(entry, "services");
        if (sname && service_name_taken(entry, sname, -1)) {
            snprintf(err, errlen, "profile \"%s\" has a service named \"%s\"", c->name, sname);
            return MAPI_E_COLLISION;
        }
        if (!json_is_array(list)) {
            list = json_array();
            if (!list || json_object_set_new(entry, "services", list) != 0)
                return NOMEM(err, errlen);
        }
        if (json_array_append(list, c->service) != 0)
            return NOMEM(err, errlen);
        if (sname)
            profile_service_uid(sname, c->result_uid);
        return S_OK;
    }
    case SERVICE_CHANGE_UPDATE:
        return update_service(c, entry, err, errlen);
    case SERVICE_CHANGE_DELETE: {
        long idx = service_index(entry, c->service_uid);
        if (idx < 0) {
            snprintf(err, errlen, "profile \"%s\" has no service %s", c->name, c->service_uid);
            return MAPI_E_NOT_FOUND;
        }
        json_array_remove(json_object_get(entry, "services"), (size_t)idx);
        return S_OK;
    }
    default:
        break;
    }
    snprintf(err, errlen, "unknown change");
    return MAPI_E_INVALID_PARAMETER;
}
