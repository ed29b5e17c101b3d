/* h_services.c - IMsgServiceAdmin over HTTP (docs/contract/http.md section
 * 18): a profile's message services with the admin key
 * (/profiles/{name}/services...), and the session's own profile's
 * (IMAPISession::AdminServices: /services..., where a session configures
 * only the settings its providers' user_settings list). */
#include "profile_views.h"

#include "../session-core/profile_edit.h"

#include <stdio.h>
#include <string.h>

#define NAME_MAX_BYTES 256
#define UID_MAX_BYTES (PROFILE_SERVICE_UID_LEN + 1)

/* Who is asking about which profile: the admin (a name in the path) or a
 * session (its own profile's name). */
typedef struct {
    api_auth auth;
    bool has_auth;
    char name[NAME_MAX_BYTES];
    char uid[UID_MAX_BYTES];
    profile_admin *adm;
} target;

static void target_release(target *t)
{
    if (t->has_auth)
        api_auth_release(&t->auth);
    t->has_auth = false;
}

/* Fills t for a route: own (a session's) or the admin's; with_uid: the
 * last path parameter is a service uid. false with the answer written. */
static bool target_of(api_ctx *x, bool own, bool with_uid, target *t)
{
    memset(t, 0, sizeof *t);
    size_t uid_at = 0;
    if (own) {
        if (!api_authenticate(x, false, &t->auth))
            return false;
        t->has_auth = true;
        snprintf(t->name, sizeof t->name, "%s", session_profile_name(t->auth.session));
        if (!request_check_query(x, API_NO_QUERY)) {
            target_release(t);
            return false;
        }
    } else {
        if (!api_is_admin(x)) {
            api_problem(x, MAPI_E_NO_ACCESS, 0, "profile administration needs the admin key");
            return false;
        }
        if (!request_check_query(x, API_NO_QUERY))
            return false;
        if (!views_param(x, 0, t->name, sizeof t->name)) {
            api_problem(x, MAPI_E_NOT_FOUND, 0, "no such profile");
            return false;
        }
        uid_at = 1;
    }
    if (with_uid && !views_param(x, uid_at, t->uid, sizeof t->uid)) {
        api_problem(x, MAPI_E_NOT_FOUND, 0, "no such service");
        target_release(t);
        return false;
    }
    if (!(t->adm = views_admin(x))) {
        target_release(t);
        return false;
    }
    return true;
}

/* The profile's entry now (a private copy) and its version; false with the
 * answer. A session whose profile a template derived has none. */
static json_t *entry_of(api_ctx *x, const target *t, char version[PROFILE_VERSION_LEN + 1])
{
    json_t *entry;
    bool is_default;
    char err[512] = "";
    HRESULT hr = profile_admin_get(t->adm, t->name, &entry, &is_default, version, err, sizeof err);
    if (hr == MAPI_E_NOT_FOUND && t->has_auth) {
        api_problem(x, MAPI_E_NO_SUPPORT, 0,
                    "this session's profile has no entry of its own in the profiles file (a "
                    "template derived it, or it was removed): nothing to administer");
        return NULL;
    }
    if (hr != S_OK) {
        views_problem(x, hr, err);
        return NULL;
    }
    return entry;
}

/* kind: 0 the service list, 1 one service, 2 its providers. */
static void reply_services(api_ctx *x, const target *t, int kind, int status, bool location)
{
    char version[PROFILE_VERSION_LEN + 1];
    json_t *entry = entry_of(x, t, version);
    if (!entry)
        return;
    json_t *out = NULL;
    if (kind == 0) {
        out = json_object();
        bool ok = out != NULL;
        if (t->has_auth)
            ok &= json_set(out, "profile", json_string(t->name));
        ok &= json_set(out, "services", view_services(entry));
        out = json_built(out, ok);
    } else {
        json_t *svc = profile_entry_service(entry, t->uid);
        if (!svc) {
            json_decref(entry);
            api_problem(x, MAPI_E_NOT_FOUND, 0, "profile \"%s\" has no service %s", t->name,
                        t->uid);
            return;
        }
        if (kind == 1) {
            out = view_service(svc);
        } else {
            out = json_object();
            out = json_built(out, json_set(out, "providers", view_providers(svc)));
        }
    }
    json_decref(entry);
    if (!views_etag(x, version) || (location && !views_location(x, t->name, t->uid))) {
        json_decref(out);
        api_reply_oom(x);
        return;
    }
    api_reply_json(x, status, out);
}

static void get_route(api_ctx *x, bool own, bool with_uid, int kind)
{
    target t;
    if (!target_of(x, own, with_uid, &t))
        return;
    reply_services(x, &t, kind, 200, false);
    target_release(&t);
}

void h_profile_services(api_ctx *x) { get_route(x, false, false, 0); }
void h_profile_service(api_ctx *x) { get_route(x, false, true, 1); }
void h_profile_service_providers(api_ctx *x) { get_route(x, false, true, 2); }
void h_own_services(api_ctx *x) { get_route(x, true, false, 0); }
void h_own_service(api_ctx *x) { get_route(x, true, true, 1); }
void h_own_service_providers(api_ctx *x) { get_route(x, true, true, 2); }

/* A session's refusal: the loader's and the file system's messages name the
 * profiles file and may name other profiles, which are the operator's
 * business. A message about the session's own profile keeps its part from
 * the profile on; anything else is said in general words. */
static void own_problem(api_ctx *x, const target *t, HRESULT hr, const char *err)
{
    char own[NAME_MAX_BYTES + 16];
    snprintf(own, sizeof own, "profile \"%s\": ", t->name);
    const char *at = strstr(err, own);
    if (strncmp(err, "providers", 9) == 0) /* about the request itself (profile_edit.c) */
        api_problem(x, hr, 0, "%s", err);
    else if (hr == MAPI_E_INVALID_PARAMETER && at)
        api_problem(x, hr, 0, "%s", at);
    else if (hr == MAPI_E_INVALID_PARAMETER || hr == MAPI_E_DISK_ERROR || hr == MAPI_E_NO_ACCESS)
        api_problem(x, hr, 0, "the profiles file cannot take this change now: ask its administrator");
    else
        views_problem(x, hr, err);
}

/* One change to the target's profile, then the service (or 204). */
static void edit_and_reply(api_ctx *x, target *t, profile_change *chg, int status, bool location)
{
    char err[1024] = "";
    size_t ended;
    HRESULT hr = profile_admin_edit(t->adm, t->name, x->req->if_match, profile_change_apply, chg,
                                    &ended, err, sizeof err);
    if (hr == MAPI_E_NOT_FOUND && t->has_auth && !chg->result_name) {
        api_problem(x, MAPI_E_NO_SUPPORT, 0,
                    "this session's profile has no entry of its own in the profiles file (a "
                    "template derived it, or it was removed): nothing to administer");
        return;
    }
    if (hr != S_OK && t->has_auth) {
        own_problem(x, t, hr, err);
        return;
    }
    if (hr != S_OK) {
        views_problem(x, hr, err);
        return;
    }
    if (status == 204) {
        /* Every write says the profile's new version, a deletion too. */
        json_t *entry;
        bool is_default;
        char version[PROFILE_VERSION_LEN + 1];
        if (profile_admin_get(t->adm, chg->result_name, &entry, &is_default, version, err,
                              sizeof err) == S_OK) {
            json_decref(entry);
            if (!views_etag(x, version)) {
                api_reply_oom(x);
                return;
            }
        }
        api_reply_empty(x, 204);
        return;
    }
    snprintf(t->uid, sizeof t->uid, "%s", chg->result_uid);
    reply_services(x, t, 1, status, location);
}

void h_profile_service_add(api_ctx *x)
{
    target t;
    if (!target_of(x, false, false, &t))
        return;
    json_t *body = request_json_object(x);
    if (body) {
        profile_change chg = {.op = SERVICE_CHANGE_CREATE, .name = t.name, .service = body,
                              .set_default = -1};
        edit_and_reply(x, &t, &chg, 201, true);
        json_decref(body);
    }
    target_release(&t);
}

void h_profile_service_delete(api_ctx *x)
{
    target t;
    if (!target_of(x, false, true, &t))
        return;
    profile_change chg = {.op = SERVICE_CHANGE_DELETE, .name = t.name, .service_uid = t.uid,
                          .set_default = -1};
    edit_and_reply(x, &t, &chg, 204, false);
    target_release(&t);
}

static void patch_route(api_ctx *x, bool own)
{
    static const char *const ADMIN_KEYS[] = {"name", "providers", NULL};
    static const char *const OWN_KEYS[] = {"providers", NULL};
    target t;
    if (!target_of(x, own, true, &t))
        return;
    json_t *body = request_json_object(x);
    if (!body) {
        target_release(&t);
        return;
    }
    json_t *name = json_object_get(body, "name"), *provs = json_object_get(body, "providers");
    if (own && name) {
        api_problem(x, MAPI_E_NO_ACCESS, 0,
                    "name: a session configures its providers' user settings only, not the "
                    "service's name");
        goto done;
    }
    if (!request_check_keys(x, body, own ? OWN_KEYS : ADMIN_KEYS))
        goto done;
    if (name && (!json_is_string(name) || json_string_length(name) == 0)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "name: must be a non-empty string");
        goto done;
    }
    if (provs && !json_is_array(provs)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                    "providers: must be an array of merge patches, one per provider");
        goto done;
    }
    if (!name && !provs) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "nothing to change: give %s",
                    own ? "providers" : "name or providers");
        goto done;
    }
    profile_change chg = {.op = SERVICE_CHANGE_UPDATE,
                          .name = t.name,
                          .service_uid = t.uid,
                          .service_name = name ? json_string_value(name) : NULL,
                          .patches = provs,
                          .user_only = own,
                          .set_default = -1};
    edit_and_reply(x, &t, &chg, 200, false);
done:
    json_decref(body);
    target_release(&t);
}

void h_profile_service_patch(api_ctx *x) { patch_route(x, false); }
void h_own_service_patch(api_ctx *x) { patch_route(x, true); }
