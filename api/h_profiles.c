/* h_profiles.c - GET /profiles (admin): the profiles file as the gateway
 * holds it now: explicit profiles (paged), templates, and the profiles
 * templates derived for the users logged on. No verifier, no setting. */
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *auth_name(profile_auth_kind k)
{
    switch (k) {
    case PROFILE_AUTH_NONE:
        return "none";
    case PROFILE_AUTH_ARGON2ID:
        return "argon2id";
    case PROFILE_AUTH_UPSTREAM:
        return "upstream";
    }
    return "none";
}

static json_t *render_profile(const profile *p, bool is_default)
{
    json_t *o = json_object();
    bool ok = o != NULL;
    ok &= json_set(o, "name", json_string(profile_name(p)));
    ok &= json_set(o, "auth", json_string(auth_name(profile_auth(p))));
    ok &= json_set(o, "default", json_boolean(is_default));
    ok &= json_set(o, "services", json_integer((json_int_t)profile_service_count(p)));
    return json_built(o, ok);
}

static json_t *render_template(const profile_store *store, size_t i)
{
    const profile *t = profile_store_template(store, i);
    json_t *o = json_object(), *match = json_array();
    bool ok = o && match;
    for (size_t j = 0; ok && j < profile_template_match_count(store, i); j++)
        ok = json_array_append_new(match, json_string(profile_template_match_at(store, i, j))) == 0;
    ok &= json_set(o, "name", json_string(profile_name(t)));
    ok &= json_set(o, "match", match);
    ok &= json_set(o, "auth", json_string(auth_name(profile_auth(t))));
    ok &= json_set(o, "services", json_integer((json_int_t)profile_service_count(t)));
    return json_built(o, ok);
}

/* Sessions per profile name that is not an explicit profile: the profiles
 * templates derived, as the sessions show them. */
typedef struct {
    const profile_store *store;
    json_t *in_use; /* name -> sessions */
    bool ok;
} use_ctx;

static void count_use(void *ctx, session *s)
{
    use_ctx *u = ctx;
    const char *name = session_profile_name(s);
    if (!u->ok || session_is_ended(s) || !profile_store_find(u->store, name))
        return;
    /* A templated name finds its template (profile_store_find), whose
     * name is not the user's; an explicit profile finds itself. */
    if (strcmp(profile_name(profile_store_find(u->store, name)), name) == 0)
        return;
    json_t *n = json_object_get(u->in_use, name);
    json_int_t v = n ? json_integer_value(n) : 0;
    u->ok = json_object_set_new(u->in_use, name, json_integer(v + 1)) == 0;
}

void h_profiles_list(api_ctx *x)
{
    static const char *const QUERY[] = {"max", "cursor", NULL};
    if (!api_is_admin(x)) {
        api_problem(x, MAPI_E_NO_ACCESS, 0, "listing profiles needs the admin key");
        return;
    }
    page_scope scope = {PAGE_PROFILES, NULL, NULL, 0};
    page_window w;
    if (!request_check_query(x, QUERY) || !page_parse(x, &scope, &w))
        return;
    profile_store *store = core_profiles(x->a->core);
    const profile *def = profile_store_default(store);
    size_t total = profile_store_count(store);
    json_t *out = json_object(), *list = json_array(), *templates = json_array();
    use_ctx u = {store, json_object(), true};
    bool ok = out && list && templates && u.in_use;
    for (size_t i = w.offset; ok && i < total && i - w.offset < w.max; i++) {
        const profile *p = profile_store_at(store, i);
        ok = json_array_append_new(list, render_profile(p, p == def)) == 0;
    }
    for (size_t i = 0; ok && i < profile_store_template_count(store); i++)
        ok = json_array_append_new(templates, render_template(store, i)) == 0;
    if (ok)
        core_foreach_session(x->a->core, count_use, &u);
    json_t *in_use = json_array();
    ok &= u.ok && in_use;
    const char *name;
    json_t *n;
    json_object_foreach(u.in_use, name, n)
    {
        json_t *o = json_object();
        bool rok = o != NULL;
        rok &= json_set(o, "name", json_string(name));
        rok &= json_set(o, "sessions", json_integer(json_integer_value(n)));
        ok &= rok && json_array_append_new(in_use, json_built(o, rok)) == 0;
    }
    json_decref(u.in_use);
    size_t count = json_array_size(list);
    ok &= json_set(out, "profiles", list);
    ok &= json_set(out, "count", json_integer((json_int_t)count));
    ok &= json_set(out, "templates", templates);
    ok &= json_set(out, "in_use", in_use);
    ok &= json_set(out, "derived_alive",
                   json_integer((json_int_t)profile_store_derived_count(store)));
    ok &= page_render(x, out, &scope, &w, count, total);
    profile_store_unref(store);
    api_reply_json(x, 200, json_built(out, ok));
}
