/* render_profile.c - the views of profile administration (docs/contract/http.md
 * section 18): a profile, its services and their providers as the profiles
 * file has them, without a verifier and without a secret setting; and the
 * small pieces every administration handler shares. */
#include "api_internal.h"
#include "profile_views.h"

#include "../session-core/profile_edit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static json_t *provider_flags(json_t *v)
{
    uint32_t flags = 0, bit;
    if (json_is_integer(v)) {
        flags = (uint32_t)json_integer_value(v);
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (json_is_string(e) &&
                mapi_name_lookup(&MAPI_RESOURCE_FLAG_NAMES, json_string_value(e), &bit))
                flags |= bit;
        }
    }
    /* What the loader adds when neither is named (docs/contract/mapi.md 5). */
    if (!(flags & (STATUS_PRIMARY_IDENTITY | STATUS_NO_PRIMARY_IDENTITY)))
        flags |= STATUS_NO_PRIMARY_IDENTITY;
    json_t *set = render_flags(&MAPI_RESOURCE_FLAG_NAMES, flags);
    json_t *names = json_incref(json_object_get(set, "names"));
    json_decref(set);
    return names;
}

static json_t *provider_type(json_t *v)
{
    if (json_is_integer(v)) {
        const char *n = mapi_enum_name(&MAPI_RESOURCE_TYPE_NAMES, (uint32_t)json_integer_value(v));
        return n ? json_string(n) : json_incref(v);
    }
    return json_incref(v);
}

static json_t *shown_settings(json_t *settings)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(settings, key, v)
    {
        json_t *shown = profile_setting_is_secret(key) ? json_string(PROFILE_SECRET_SHOWN) : json_incref(v);
        if (!out || json_object_set_new(out, key, shown) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

json_t *view_provider(json_t *prov, size_t position)
{
    json_t *o = json_object();
    bool ok = o != NULL;
    ok &= json_set(o, "position", json_integer((json_int_t)position));
    ok &= json_set(o, "type", provider_type(json_object_get(prov, "type")));
    ok &= json_set(o, "kind", json_incref(json_object_get(prov, "kind")));
    ok &= json_set(o, "display_name", json_incref(json_object_get(prov, "display_name")));
    ok &= json_set(o, "resource_flags", provider_flags(json_object_get(prov, "resource_flags")));
    json_t *id = json_object_get(prov, "identity");
    if (id)
        ok &= json_set(o, "identity", json_incref(id));
    ok &= json_set(o, "settings", shown_settings(json_object_get(prov, "settings")));
    ok &= json_set(o, "user_settings", profile_provider_user_settings(prov));
    return json_built(o, ok);
}

json_t *view_providers(json_t *svc)
{
    json_t *arr = json_array();
    json_t *provs = json_object_get(svc, "providers");
    for (size_t i = 0; arr && i < json_array_size(provs); i++)
        if (json_array_append_new(arr, view_provider(json_array_get(provs, i), i)) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

json_t *view_service(json_t *svc)
{
    const char *name = json_string_value(json_object_get(svc, "name"));
    char uid[PROFILE_SERVICE_UID_LEN + 1];
    profile_service_uid(name ? name : "", uid);
    json_t *o = json_object();
    bool ok = o != NULL;
    ok &= json_set(o, "uid", json_string(uid));
    ok &= json_set(o, "name", json_string(name ? name : ""));
    ok &= json_set(o, "providers", view_providers(svc));
    return json_built(o, ok);
}

json_t *view_services(json_t *entry)
{
    json_t *arr = json_array();
    json_t *svcs = json_object_get(entry, "services");
    for (size_t i = 0; arr && i < json_array_size(svcs); i++)
        if (json_array_append_new(arr, view_service(json_array_get(svcs, i))) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

json_t *view_profile(json_t *entry, bool is_default, const char *version)
{
    const char *auth = json_string_value(json_object_get(json_object_get(entry, "auth"), "type"));
    json_t *o = json_object();
    bool ok = o != NULL;
    ok &= json_set(o, "name", json_incref(json_object_get(entry, "name")));
    ok &= json_set(o, "auth", json_string(auth ? auth : "none"));
    ok &= json_set(o, "default", json_boolean(is_default));
    ok &= json_set(o, "version", json_string(version));
    ok &= json_set(o, "services", view_services(entry));
    return json_built(o, ok);
}

bool views_etag(api_ctx *x, const char *version)
{
    char etag[PROFILE_VERSION_LEN + 3];
    snprintf(etag, sizeof etag, "\"%s\"", version);
    return api_add_header(x, "ETag", etag);
}

bool views_param(api_ctx *x, size_t i, char *out, size_t size)
{
    const api_span *p = &x->params[i];
    if (i >= x->param_count || p->len == 0 || p->len >= size || memchr(p->s, '\0', p->len))
        return false;
    memcpy(out, p->s, p->len);
    out[p->len] = '\0';
    return true;
}

bool views_location(api_ctx *x, const char *name, const char *uid)
{
    static const char hex[] = "0123456789ABCDEF";
    char loc[3 * 256 + 64];
    size_t n = 0;
    n += (size_t)snprintf(loc, sizeof loc, "/profiles/");
    for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < sizeof loc; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~@", *p);
        if (plain) {
            loc[n++] = (char)*p;
        } else {
            loc[n++] = '%';
            loc[n++] = hex[*p >> 4];
            loc[n++] = hex[*p & 15];
        }
    }
    loc[n] = '\0';
    if (uid)
        snprintf(loc + n, sizeof loc - n, "/services/%s", uid);
    return api_add_header(x, "Location", loc);
}
