/* h_sessions.c - the session resources: POST /sessions (MAPILogonEx),
 * GET /sessions (admin), GET and DELETE /sessions/{id} (IMAPISession::Logoff).
 */
#include "api_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* docs/contract/http.md 3.1: unknown profile, wrong password and no default profile get one
 * identical body, so that nobody can probe which profiles exist. */
#define LOGON_FAILED_DETAIL "the logon was refused: check the profile and the password"

static void logon_problem(api_ctx *x, HRESULT hr, unsigned retry_after_s, bool store_down)
{
    if (hr == MAPI_E_LOGON_FAILED && retry_after_s) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", retry_after_s);
        api_problem(x, hr, 429, "too many failed logons from this client: retry later");
        api_add_header(x, "Retry-After", secs);
    } else if (hr == MAPI_E_LOGON_FAILED)
        api_problem(x, hr, 0, LOGON_FAILED_DETAIL);
    else if (hr == MAPI_E_UNKNOWN_FLAGS)
        api_problem(x, hr, 0, "flags: undefined logon flag bits");
    else if (hr == MAPI_E_INVALID_PARAMETER)
        api_problem(x, hr, 0, "flags: at most one UI flag may be given");
    else if (hr == MAPI_E_TIMEOUT)
        api_problem(x, hr, 0, "MAPI_TIMEOUT_SHORT: another logon of this profile is running");
    else if (hr == MAPI_E_BUSY)
        api_problem(x, hr, 503, "as many password checks as allowed are running: retry later");
    else if (hr == MAPI_E_SESSION_LIMIT)
        api_problem(x, hr, 0, "too many sessions for this profile or session");
    else if (hr == MAPI_E_NOT_ENOUGH_RESOURCES)
        api_problem(x, hr, 0, "the gateway holds as many sessions as it may");
    else if (hr == MAPI_E_NETWORK_ERROR && store_down)
        api_problem(x, hr, 503, API_STORE_UNREACHABLE);
    else
        api_problem(x, hr, 0, "the logon failed");
}

/* The 201 body; the only response that ever carries a token. Written as
 * text: a logon is on the path of every script (bench/). */
static char *render_logon(const core_logon_result *res, size_t *len)
{
    session *s = res->session;
    json_text t = JSON_TEXT_INIT;
    json_text_open(&t);
    json_text_key(&t, "id");
    json_text_string(&t, session_id(s));
    json_text_key(&t, "token");
    json_text_string(&t, res->token);
    json_text_key(&t, "token_type");
    json_text_string(&t, "Bearer");
    json_text_key(&t, "profile");
    json_text_string(&t, session_profile_name(s));
    json_text_key(&t, "flags");
    render_flags_text(&t, &MAPI_LOGON_FLAG_NAMES, session_flags(s));
    json_text_key(&t, "shared");
    json_text_bool(&t, res->shared);
    json_text_key(&t, "joined");
    json_text_bool(&t, res->joined);
    json_text_key(&t, "created_at");
    render_time_text(&t, session_created_at(s));
    json_text_key(&t, "expires_at");
    render_time_text(&t, session_expires_at(s));
    json_text_key(&t, "idle_timeout_s");
    json_text_int(&t, session_idle_timeout_s(s));
    json_text_close(&t);
    json_text_end_line(&t);
    return json_text_finish(&t, len); /* jansson's allocator: wiped when freed */
}

/* Checks the body and fills req (pointers borrowed from body). */
static bool parse_logon(api_ctx *x, json_t *body, core_logon_request *req)
{
    static const char *const KEYS[] = {"profile", "password", "flags", NULL};
    if (!request_check_keys(x, body, KEYS))
        return false;

    json_t *name = json_object_get(body, "profile");
    if (name && json_is_string(name)) {
        const char *p = json_string_value(name);
        size_t len = json_string_length(name);
        if (utf8_length(p, len) > PROFILE_NAME_MAX_CHARS) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "profile: at most %d characters",
                        PROFILE_NAME_MAX_CHARS);
            return false;
        }
        req->profile = p;
    } else if (name && !json_is_null(name)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "profile: expected a string or null");
        return false;
    }

    json_t *password = json_object_get(body, "password");
    if (password && json_is_string(password)) {
        req->password = json_string_value(password);
    } else if (password && !json_is_null(password)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "password: expected a string or null");
        return false;
    }

    req->flags = MAPI_LOGON_DEFAULT_FLAGS;
    json_t *flags = json_object_get(body, "flags");
    if (flags && !request_json_flags(x, &MAPI_LOGON_FLAG_NAMES, flags, "flags", true, &req->flags))
        return false;
    /* The core checks this too; saying it here gives the precise reason. */
    uint32_t ui = req->flags & MAPI_LOGON_UI_FLAGS;
    if (ui & (ui - 1)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                    "flags: MAPI_LOGON_UI, MAPI_PASSWORD_UI and MAPI_SERVICE_UI_ALWAYS exclude "
                    "each other");
        return false;
    }
    return true;
}

bool api_may_check_password(api *a, const api_request *req)
{
    static const char CHANGE[] = "/change-password";
    if (!req->method || strcmp(req->method, "POST") != 0 || !req->path)
        return false;
    size_t n = strlen(req->path);
    if (strncmp(req->path, "/status/", 8) == 0 && n > 8 + sizeof CHANGE - 1 &&
        strcmp(req->path + n - (sizeof CHANGE - 1), CHANGE) == 0)
        return true;
    if (strcmp(req->path, "/sessions") != 0 || req->body_too_large || !req->body)
        return false;
    /* Parsed again by the handler: a logon body is small, and only a logon
     * to a profile without a password is worth keeping here. */
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return false; /* a 400, answered at once */
    }
    json_t *name = json_object_get(body, "profile");
    bool checks = core_logon_checks_password(
        a->core, json_is_string(name) ? json_string_value(name) : NULL, req->client_addr);
    json_decref(body); /* jansson's allocator wipes the password */
    return checks;
}

void h_sessions_post(api_ctx *x)
{
    if (!atomic_load(&x->a->ready)) {
        api_problem(x, MAPI_E_NOT_INITIALIZED, 0, "the gateway is not accepting logons");
        return;
    }
    json_t *body = request_json_object(x);
    if (!body)
        return;
    core_logon_request req = {NULL, NULL, 0, x->req->client_addr};
    if (!parse_logon(x, body, &req)) {
        json_decref(body);
        return;
    }

    core_logon_result res;
    memset(&res, 0, sizeof res);
    HRESULT hr = core_logon(x->a->core, &req, &res);
    json_decref(body);
    /* res is on the stack, outside the wiping allocator: its token is
     * wiped here by hand. */
    if (HR_FAILED(hr) || !res.session) {
        sodium_memzero(res.token, sizeof res.token);
        session_unref(res.session);
        logon_problem(x, HR_FAILED(hr) ? hr : MAPI_E_CALL_FAILED, res.retry_after_s,
                      res.store_unreachable);
        return;
    }

    char location[16 + SESSION_ID_LEN + 1];
    snprintf(location, sizeof location, "/sessions/%s", session_id(res.session));
    size_t len = 0;
    char *text = render_logon(&res, &len);
    sodium_memzero(res.token, sizeof res.token);
    session_unref(res.session);
    if (!text) {
        /* The session exists but its token cannot be shown; it will expire
         * unused. Nothing better is possible without memory. */
        api_reply_oom(x);
        return;
    }
    x->resp->status = 201;
    x->resp->content_type = "application/json";
    x->resp->body = text;
    x->resp->body_len = len;
    api_add_header(x, "Location", location);
}

/* A snapshot of the live sessions, each referenced. */
typedef struct {
    session **v;
    size_t count, cap;
    bool ok;
    const char *profile; /* NULL: every profile */
} list_ctx;

static void add_session(void *ctx, session *s)
{
    list_ctx *l = ctx;
    if (!l->ok || session_is_ended(s))
        return;
    if (l->profile && strcmp(session_profile_name(s), l->profile) != 0)
        return;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        session **bigger = realloc(l->v, cap * sizeof *bigger);
        if (!bigger) {
            l->ok = false;
            return;
        }
        l->v = bigger;
        l->cap = cap;
    }
    l->v[l->count++] = session_ref(s);
}

/* Oldest first, then by id: an order that pages keep while sessions come
 * and go (a session that ends moves the later ones up by one place). */
static int by_age(const void *a, const void *b)
{
    session *const *x = a, *const *y = b;
    time_t tx = session_created_at(*x), ty = session_created_at(*y);
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(session_id(*x), session_id(*y));
}

/* profile=: a profile name as a logon takes it. false with a 400 written
 * when malformed, or missing while required. */
static bool profile_param(api_ctx *x, bool required, const char **out)
{
    bool present;
    const char *v = request_query(x, "profile", &present);
    *out = NULL;
    if (!present && !required)
        return true;
    if (!present || !v || !v[0]) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "profile: a profile name is needed");
        return false;
    }
    size_t len = strlen(v);
    if (utf8_length(v, len) > PROFILE_NAME_MAX_CHARS) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "profile: at most %d characters",
                    PROFILE_NAME_MAX_CHARS);
        return false;
    }
    *out = v;
    return true;
}

void h_sessions_list(api_ctx *x)
{
    static const char *const QUERY[] = {"max", "cursor", "profile", NULL};
    /* DECISIONS.md: without the admin key (or with admin endpoints off) the
     * answer is 403, whatever else the request carries. */
    if (!api_is_admin(x)) {
        api_problem(x, MAPI_E_NO_ACCESS, 0, "listing sessions needs the admin key");
        return;
    }
    const char *name = NULL;
    if (!request_check_query(x, QUERY) || !profile_param(x, false, &name))
        return;
    /* A cursor is bound to the profile it lists. */
    page_scope scope = {PAGE_SESSIONS, NULL, name ? name : "", name ? strlen(name) : 0};
    page_window w;
    if (!page_parse(x, &scope, &w))
        return;
    list_ctx l = {NULL, 0, 0, true, name};
    core_foreach_session(x->a->core, add_session, &l);
    json_t *list = json_array();
    bool ok = l.ok && list;
    if (ok && l.count > 1)
        qsort(l.v, l.count, sizeof *l.v, by_age);
    for (size_t i = w.offset; ok && i < l.count && i - w.offset < w.max; i++) {
        core_session_facts facts;
        core_get_session_facts(x->a->core, l.v[i], &facts);
        if (facts.handles == 0)
            continue; /* it ended since the list was taken */
        json_t *obj = render_session(l.v[i], &facts);
        ok = obj && json_array_append_new(list, obj) == 0;
    }
    for (size_t i = 0; i < l.count; i++)
        session_unref(l.v[i]);
    free(l.v);
    json_t *out = json_object();
    ok &= out != NULL;
    size_t count = json_array_size(list);
    ok &= json_set(out, "sessions", list);
    ok &= json_set(out, "count", json_integer((json_int_t)count));
    ok &= page_render(x, out, &scope, &w, count, l.count);
    api_reply_json(x, 200, json_built(out, ok));
}

/* DELETE /sessions?profile=NAME: ends every session of one profile. */
void h_sessions_end(api_ctx *x)
{
    static const char *const QUERY[] = {"profile", NULL};
    if (!api_is_admin(x)) {
        api_problem(x, MAPI_E_NO_ACCESS, 0, "ending a profile's sessions needs the admin key");
        return;
    }
    const char *name;
    if (!request_check_query(x, QUERY) || !profile_param(x, true, &name))
        return;
    size_t ended = 0;
    HRESULT hr = core_end_profile_sessions(x->a->core, name, &ended);
    if (hr == MAPI_E_NETWORK_ERROR) {
        api_problem(x, hr, 503, API_STORE_UNREACHABLE);
        return;
    }
    if (HR_FAILED(hr)) {
        api_problem(x, hr, 0, "ending the profile's sessions failed (%zu ended)", ended);
        return;
    }
    json_t *out = json_object();
    bool ok = out != NULL;
    ok &= json_set(out, "profile", json_string(name));
    ok &= json_set(out, "ended", json_integer((json_int_t)ended));
    api_reply_json(x, 200, json_built(out, ok));
}

static bool same_id(const api_span *id, const char *sid)
{
    return strlen(sid) == id->len && memcmp(sid, id->s, id->len) == 0;
}

/* Copies the {id} segment into buf; session ids are short, so anything
 * longer cannot name a session. */
static bool id_string(const api_span *id, char buf[SESSION_ID_LEN + 1])
{
    if (id->len > SESSION_ID_LEN)
        return false;
    memcpy(buf, id->s, id->len);
    buf[id->len] = '\0';
    return true;
}

void h_session_get(api_ctx *x)
{
    api_auth auth;
    if (!api_authenticate(x, true, &auth))
        return;
    if (!request_check_query(x, API_NO_QUERY)) {
        api_auth_release(&auth);
        return;
    }
    const api_span *id = &x->params[0];
    session *s = NULL;
    bool admin = auth.admin;
    if (admin) {
        char buf[SESSION_ID_LEN + 1];
        if (id_string(id, buf))
            s = core_find_session(x->a->core, buf);
    } else if (same_id(id, session_id(auth.session))) {
        s = session_ref(auth.session);
    }
    api_auth_release(&auth);
    if (!s) {
        /* Another session's id looks exactly like a missing one. */
        api_problem(x, MAPI_E_NOT_FOUND, 0, "no such session for this bearer");
        return;
    }
    core_session_facts facts;
    core_get_session_facts(x->a->core, s, &facts);
    if (facts.handles == 0) {
        /* It ended between the lookup and now (the store has let it go):
         * for its own bearer, the token is no longer a handle. */
        session_unref(s);
        if (admin)
            api_problem(x, MAPI_E_NOT_FOUND, 0, "no such session for this bearer");
        else
            api_problem(x, MAPI_E_END_OF_SESSION, 401,
                        "the bearer token is not a live session handle");
        return;
    }
    json_t *obj = render_session(s, &facts);
    session_unref(s);
    /* What JMAP's session object says of its limits: the gateway's, the
     * same for every session. */
    json_t *limits = json_object();
    bool ok = obj && limits;
    ok &= json_set(limits, "max_body_bytes", json_integer((json_int_t)x->a->max_body_bytes));
    ok &= json_set(limits, "max_rows_per_page", json_integer(PAGE_MAX_LIMIT));
    ok &= json_set(limits, "events_replay_window", json_integer(core_events_replay(x->a->core)));
    ok &= json_set(limits, "events_ticket_ttl_s", json_integer(tickets_ttl(x->a->tickets)));
    if (ok)
        ok &= json_set(obj, "limits", limits);
    else
        json_decref(limits);
    api_reply_json(x, 200, json_built(obj, ok));
}

void h_session_delete(api_ctx *x)
{
    static const char *const QUERY[] = {"flags", NULL};
    api_auth auth;
    if (!api_authenticate(x, true, &auth))
        return;
    uint32_t flags = 0;
    bool present;
    const char *value = request_query(x, "flags", &present);
    if (!request_check_query(x, QUERY) ||
        (present && !request_query_flags(x, &MAPI_LOGOFF_FLAG_NAMES, value, "flags", &flags))) {
        api_auth_release(&auth);
        return;
    }

    const api_span *id = &x->params[0];
    HRESULT hr;
    if (auth.admin) {
        /* The admin ends the whole session, every handle (DECISIONS.md). */
        char buf[SESSION_ID_LEN + 1];
        hr = id_string(id, buf) ? core_end_session(x->a->core, buf) : MAPI_E_NOT_FOUND;
    } else if (same_id(id, session_id(auth.session))) {
        hr = core_logoff(x->a->core, &auth.handle, flags);
        if (hr == S_OK) /* its tickets die with it, not only when redeemed */
            tickets_forget_handle(x->a->tickets, &auth.handle);
    } else {
        hr = MAPI_E_NOT_FOUND;
    }
    api_auth_release(&auth);
    if (hr == MAPI_E_NOT_FOUND)
        api_problem(x, hr, 0, "no such session for this bearer");
    else if (hr == MAPI_E_UNKNOWN_FLAGS)
        api_problem(x, hr, 0, "flags: undefined logoff flag bits");
    else if (hr == MAPI_E_NETWORK_ERROR)
        api_problem(x, hr, 503, API_STORE_UNREACHABLE);
    else if (HR_FAILED(hr))
        api_problem(x, hr, 0, "the logoff failed");
    else
        api_reply_empty(x, 204);
}
