/* h_admin.c - IProfAdmin over HTTP with the admin key (docs/contract/http.md
 * section 18): create or copy, read, rename or set default, delete a
 * profile, set its password. Each write is one profile_admin_edit: read
 * the file, check If-Match, change, validate, write durably, install. */
#include "profile_views.h"

#include "../session-core/profile_edit.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_BYTES 256 /* 64 code points of at most 4 bytes */

profile_admin *views_admin(api_ctx *x)
{
    profile_admin *adm = core_profile_admin(x->a->core);
    if (!adm) {
        api_problem(x, MAPI_E_NO_SUPPORT, 0, "this gateway has no profiles file to administer");
        return NULL;
    }
    return adm;
}

void views_problem(api_ctx *x, HRESULT hr, const char *err)
{
    if (hr == MAPI_E_DISK_ERROR)
        api_problem(x, hr, 0, "the profiles file could not be written or read; nothing changed: %s",
                    err);
    else
        api_problem(x, hr, 0, "%s", err[0] ? err : hresult_name(hr));
}

/* The key and, for routes with a name, the name: false with the answer. */
static profile_admin *admin_route(api_ctx *x, char name[NAME_MAX_BYTES])
{
    if (!api_is_admin(x)) {
        api_problem(x, MAPI_E_NO_ACCESS, 0, "profile administration needs the admin key");
        return NULL;
    }
    if (!request_check_query(x, API_NO_QUERY))
        return NULL;
    if (name && !views_param(x, 0, name, NAME_MAX_BYTES)) {
        api_problem(x, MAPI_E_NOT_FOUND, 0, "no such profile");
        return NULL;
    }
    return views_admin(x);
}

/* admin_route, then the body: a JSON object with only keys among keys.
 * NULL with the answer written. */
static json_t *admin_body(api_ctx *x, char name[NAME_MAX_BYTES], const char *const *keys,
                          profile_admin **adm)
{
    if (!(*adm = admin_route(x, name)))
        return NULL;
    json_t *body = request_json_object(x);
    if (body && !request_check_keys(x, body, keys)) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* Answers the profile as it is now, with its version: status 200 or 201. */
static void reply_profile(api_ctx *x, profile_admin *adm, const char *name, int status,
                          bool location)
{
    json_t *entry;
    bool is_default;
    char version[PROFILE_VERSION_LEN + 1], err[512] = "";
    HRESULT hr = profile_admin_get(adm, name, &entry, &is_default, version, err, sizeof err);
    if (hr != S_OK) {
        views_problem(x, hr, err);
        return;
    }
    json_t *view = view_profile(entry, is_default, version);
    json_decref(entry);
    if (!views_etag(x, version) || (location && !views_location(x, name, NULL))) {
        json_decref(view);
        api_reply_oom(x);
        return;
    }
    api_reply_json(x, status, view);
}

/* One change (profile_admin_edit, If-Match against name's version when
 * name is given), then the answer: 204, or the changed profile as it is now
 * (with its Location when location). */
static void edit_then_reply(api_ctx *x, profile_admin *adm, const char *name, profile_change *chg,
                            int status, bool location)
{
    char err[1024] = "";
    size_t ended;
    HRESULT hr = profile_admin_edit(adm, name, name ? x->req->if_match : NULL,
                                    profile_change_apply, chg, &ended, err, sizeof err);
    if (hr != S_OK)
        views_problem(x, hr, err);
    else if (status == 204)
        api_reply_empty(x, 204);
    else
        reply_profile(x, adm, chg->result_name, status, location);
}

static bool string_member(api_ctx *x, json_t *body, const char *key, bool required,
                          const char **out)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v && !required)
        return true;
    if (!json_is_string(v) || json_string_length(v) == 0) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s: %s non-empty string", key,
                    required ? "a required" : "must be a");
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* Hashes password into verifier: false with the answer. */
static bool make_verifier(api_ctx *x, const char *password, char verifier[PROFILE_VERIFIER_MAX])
{
    profile_store *st = core_profiles(x->a->core);
    HRESULT hr = profile_store_hash_password(st, password, verifier);
    profile_store_unref(st);
    if (hr != S_OK) {
        api_problem(x, MAPI_E_NOT_ENOUGH_MEMORY, 0, "the password could not be hashed");
        return false;
    }
    return true;
}

void h_profile_create(api_ctx *x)
{
    static const char *const KEYS[] = {"name",     "password", "auth",     "services",
                                       "default",  "copy_from", NULL};
    profile_admin *adm;
    json_t *body = admin_body(x, NULL, KEYS, &adm);
    if (!body)
        return;
    const char *name, *password, *from;
    json_t *auth = json_object_get(body, "auth"), *services = json_object_get(body, "services"),
           *def = json_object_get(body, "default");
    char verifier[PROFILE_VERIFIER_MAX] = "";
    if (!string_member(x, body, "name", true, &name) ||
        !string_member(x, body, "password", false, &password) ||
        !string_member(x, body, "copy_from", false, &from))
        goto done;
    if (password && auth) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "password and auth exclude each other");
        goto done;
    }
    if (auth && !json_is_object(auth)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "auth: must be an object");
        goto done;
    }
    if (services && (!json_is_array(services) || from)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                    from ? "services: not with copy_from (a copy has the original's services)"
                         : "services: must be an array");
        goto done;
    }
    if (def && !json_is_boolean(def)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "default: must be a boolean");
        goto done;
    }
    if (password && !make_verifier(x, password, verifier))
        goto done;
    json_t *made_auth =
        password ? json_pack("{s:s,s:s}", "type", "argon2id", "verifier", verifier) : NULL;
    profile_change chg = {.op = from ? PROFILE_CHANGE_COPY : PROFILE_CHANGE_CREATE,
                          .new_name = name,
                          .from = from,
                          .auth = made_auth ? made_auth : auth,
                          .services = services,
                          .set_default = json_is_true(def) ? 1 : -1};
    if (password && !made_auth)
        api_reply_oom(x);
    else
        edit_then_reply(x, adm, NULL, &chg, 201, true);
    json_decref(made_auth);
done:
    sodium_memzero(verifier, sizeof verifier);
    json_decref(body);
}

void h_profile_get(api_ctx *x)
{
    char name[NAME_MAX_BYTES];
    profile_admin *adm = admin_route(x, name);
    if (adm)
        reply_profile(x, adm, name, 200, false);
}

void h_profile_patch(api_ctx *x)
{
    static const char *const KEYS[] = {"name", "default", NULL};
    char name[NAME_MAX_BYTES];
    profile_admin *adm;
    json_t *body = admin_body(x, name, KEYS, &adm);
    if (!body)
        return;
    const char *new_name;
    json_t *def = json_object_get(body, "default");
    if (!string_member(x, body, "name", false, &new_name))
        goto done;
    if (def && !json_is_boolean(def)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "default: must be a boolean");
        goto done;
    }
    if (!new_name && !def) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "nothing to change: give name or default");
        goto done;
    }
    profile_change chg = {.op = PROFILE_CHANGE_UPDATE,
                          .name = name,
                          .new_name = new_name,
                          .set_default = def ? (json_is_true(def) ? 1 : 0) : -1};
    edit_then_reply(x, adm, name, &chg, 200, new_name && strcmp(new_name, name) != 0);
done:
    json_decref(body);
}

void h_profile_delete(api_ctx *x)
{
    char name[NAME_MAX_BYTES];
    profile_admin *adm = admin_route(x, name);
    if (!adm)
        return;
    profile_change chg = {.op = PROFILE_CHANGE_DELETE, .name = name, .set_default = -1};
    edit_then_reply(x, adm, name, &chg, 204, false);
}

void h_profile_password(api_ctx *x)
{
    static const char *const KEYS[] = {"new_password", "old_password", NULL};
    char name[NAME_MAX_BYTES];
    profile_admin *adm;
    json_t *body = admin_body(x, name, KEYS, &adm);
    if (!body)
        return;
    const char *new_pw, *old_pw = NULL;
    char verifier[PROFILE_VERIFIER_MAX] = "";
    json_t *old = json_object_get(body, "old_password");
    if (!string_member(x, body, "new_password", true, &new_pw))
        goto done;
    if (old && !json_is_string(old)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "old_password: must be a string");
        goto done;
    }
    old_pw = old ? json_string_value(old) : NULL;
    if (!make_verifier(x, new_pw, verifier))
        goto done;
    profile_change chg = {.op = PROFILE_CHANGE_PASSWORD,
                          .name = name,
                          .verifier = verifier,
                          .old_password = old_pw,
                          .set_default = -1};
    edit_then_reply(x, adm, name, &chg, 200, false);
done:
    sodium_memzero(verifier, sizeof verifier);
    json_decref(body);
}
