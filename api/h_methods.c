/* h_methods.c - POST /status/{ik}/{method}: the IMAPIStatus methods
 * (ValidateState, FlushQueues, ChangePassword, SettingsDialog).
 *
 * MAPI never calls a method an object does not support: the row must exist
 * (404) and have the method's PR_RESOURCE_METHODS bit (501) before the body or
 * its flags are even looked at, so a bad body on an unsupported method is 501,
 * not 400. The session checks the same again when it runs the method (the row
 * may change in between), then that the flags are defined.
 */
#include "api_internal.h"

#include <stdio.h>
#include <string.h>

typedef enum { M_VALIDATE, M_FLUSH, M_PASSWORD, M_SETTINGS } status_method;

/* ChangePassword's only flag. The gateway's strings are always UTF-8, so it
 * is accepted and changes nothing. */
static const mapi_name PASSWORD_FLAGS[] = {{"MAPI_UNICODE", MAPI_UNICODE}};
static const mapi_name_set PASSWORD_FLAG_NAMES = {"change-password flag", PASSWORD_FLAGS, 1,
                                                  MAPI_UNICODE};

static const struct {
    const char *name;
    status_method method;
    const mapi_name_set *flags;
    uint32_t bit; /* in PR_RESOURCE_METHODS */
} METHODS[] = {
    {"validate-state", M_VALIDATE, &MAPI_VALIDATE_FLAG_NAMES, STATUS_VALIDATE_STATE},
    {"flush-queues", M_FLUSH, &MAPI_FLUSH_FLAG_NAMES, STATUS_FLUSH_QUEUES},
    {"change-password", M_PASSWORD, &PASSWORD_FLAG_NAMES, STATUS_CHANGE_PASSWORD},
    {"settings-dialog", M_SETTINGS, &MAPI_SETTINGS_FLAG_NAMES, STATUS_SETTINGS_DIALOG},
};
#define METHOD_COUNT (sizeof METHODS / sizeof METHODS[0])

/* The method's request: flags, and the passwords of change-password
 * (borrowed from body). */
typedef struct {
    json_t *body; /* NULL for an empty request */
    uint32_t flags;
    const char *old_password;
    const char *new_password;
} method_args;

static void args_clear(method_args *args)
{
    /* The passwords parsed into the body are wiped by jansson's allocator. */
    json_decref(args->body);
    memset(args, 0, sizeof *args);
}

static bool password_field(api_ctx *x, json_t *body, const char *key, const char **out)
{
    json_t *v = body ? json_object_get(body, key) : NULL;
    if (!json_is_string(v)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s: a string is required", key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool parse_args(api_ctx *x, size_t m, method_args *args)
{
    static const char *const FLAG_KEYS[] = {"flags", NULL};
    static const char *const PASSWORD_KEYS[] = {"old_password", "new_password", "flags", NULL};
    const api_request *req = x->req;
    /* DECISIONS.md: an empty body needs no Content-Type and means no flags. */
    if (req->body_len > 0 || req->body_too_large) {
        args->body = request_json_object(x);
        if (!args->body)
            return false;
    }
    if (METHODS[m].method == M_PASSWORD) {
        if (args->body && !request_check_keys(x, args->body, PASSWORD_KEYS))
            return false;
        if (!password_field(x, args->body, "old_password", &args->old_password) ||
            !password_field(x, args->body, "new_password", &args->new_password))
            return false;
    } else if (args->body && !request_check_keys(x, args->body, FLAG_KEYS)) {
        return false;
    }
    json_t *flags = args->body ? json_object_get(args->body, "flags") : NULL;
    /* Unknown bits go to the session, which checks them after the row and
     * the method bit (404 and 501 come first, as in MAPI). Our own
     * ChangePassword flag set is checked here: the session takes none. */
    bool check_bits = METHODS[m].method == M_PASSWORD;
    return !flags ||
           request_json_flags(x, METHODS[m].flags, flags, "flags", check_bits, &args->flags);
}

static HRESULT run_method(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN], size_t m,
                          const method_args *args, status_row *row)
{
    switch (METHODS[m].method) {
    case M_VALIDATE:
        return session_validate_state(s, ik, args->flags, row);
    case M_FLUSH:
        return session_flush_queues(s, ik, args->flags, row);
    case M_PASSWORD: /* core_change_password, in h_status_method */
        return MAPI_E_CALL_FAILED;
    case M_SETTINGS: {
        /* SettingsDialog returns no row; fetch it for the answer. */
        HRESULT hr = session_settings_dialog(s, ik, args->flags);
        return HR_FAILED(hr) ? hr : session_status_row(s, ik, row);
    }
    }
    return MAPI_E_CALL_FAILED;
}

static void method_problem(api_ctx *x, HRESULT hr, size_t m, unsigned retry_after_s)
{
    const char *name = METHODS[m].name;
    if (hr == MAPI_E_LOGON_FAILED && retry_after_s) {
        /* The throttled logon's answer (h_sessions.c). */
        char secs[16];
        snprintf(secs, sizeof secs, "%u", retry_after_s);
        api_problem(x, hr, 429, "too many failed password checks from this client: retry later");
        api_add_header(x, "Retry-After", secs);
    } else if (hr == MAPI_E_BUSY && METHODS[m].method == M_PASSWORD)
        api_problem(x, hr, 503, "as many password checks as allowed are running: retry later");
    else if (hr == MAPI_E_NOT_FOUND)
        api_problem(x, hr, 0, "no status row with this instance key");
    else if (hr == MAPI_E_NO_SUPPORT)
        api_problem(x, hr, 0, "this status object does not support %s", name);
    else if (hr == MAPI_E_UNKNOWN_FLAGS)
        api_problem(x, hr, 0, "flags: undefined %s flag bits", name);
    else if (hr == MAPI_E_BUSY)
        api_problem(x, hr, 0, "the status object is busy; try again");
    else if (hr == MAPI_E_NO_ACCESS && METHODS[m].method == M_PASSWORD)
        api_problem(x, hr, 0, "the old password is not correct");
    else
        api_problem(x, hr, 0, "%s failed", name);
}

void h_status_method(api_ctx *x)
{
    api_auth auth;
    if (!api_authenticate(x, false, &auth))
        return;
    if (!request_check_query(x, API_NO_QUERY)) {
        api_auth_release(&auth);
        return;
    }
    const api_span *ms = &x->params[1];
    size_t m = 0;
    while (m < METHOD_COUNT &&
           !(strlen(METHODS[m].name) == ms->len && memcmp(METHODS[m].name, ms->s, ms->len) == 0))
        m++;
    if (m == METHOD_COUNT) {
        api_auth_release(&auth);
        api_problem(x, MAPI_E_NOT_FOUND, 0,
                    "unknown status method; expected validate-state, flush-queues, "
                    "change-password or settings-dialog");
        return;
    }
    uint8_t ik[STATUS_INSTANCE_KEY_LEN];
    if (!request_instance_key(x, &x->params[0], ik)) {
        api_auth_release(&auth);
        return;
    }
    status_row row;
    memset(&row, 0, sizeof row);
    HRESULT hr = session_status_row(auth.session, ik, &row);
    if (HR_SUCCEEDED(hr) && !(row.resource_methods & METHODS[m].bit))
        hr = MAPI_E_NO_SUPPORT;
    status_row_clear(&row);
    if (HR_FAILED(hr)) {
        api_auth_release(&auth);
        method_problem(x, hr, m, 0);
        return;
    }
    method_args args;
    memset(&args, 0, sizeof args);
    if (!parse_args(x, m, &args)) {
        args_clear(&args);
        api_auth_release(&auth);
        return;
    }
    memset(&row, 0, sizeof row);
    unsigned retry_after_s = 0;
    hr = METHODS[m].method == M_PASSWORD
             ? core_change_password(x->a->core, auth.session, x->req->client_addr, ik,
                                    args.old_password, args.new_password, &row, &retry_after_s)
             : run_method(auth.session, ik, m, &args, &row);
    args_clear(&args);
    api_auth_release(&auth);
    if (HR_FAILED(hr)) {
        method_problem(x, hr, m, retry_after_s);
        return;
    }
    api_reply_json(x, 200, render_status_row(&row));
    status_row_clear(&row);
}
