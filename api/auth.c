/* auth.c - the bearer credential (RFC 6750 2.1): "Bearer", case-insensitive,
 * one or more spaces, the token. Only the Authorization header counts: never
 * a query string or a cookie (docs/contract/http.md 2).
 */
#include "api_internal.h"

#include <string.h>
#include <strings.h>

/* Finds the bearer value in the Authorization header. false when there is no
 * header, another scheme, or no value (all "missing credentials"). */
static bool bearer_value(const char *header, const char **value, size_t *len)
{
    static const char SCHEME[] = "Bearer";
    const size_t n = sizeof SCHEME - 1;
    if (!header || strncasecmp(header, SCHEME, n) != 0 || header[n] != ' ')
        return false;
    const char *v = header + n;
    while (*v == ' ')
        v++;
    size_t l = strlen(v);
    while (l && v[l - 1] == ' ')
        l--;
    if (l == 0)
        return false;
    *value = v;
    *len = l;
    return true;
}

bool api_is_admin(api_ctx *x)
{
    const api *a = x->a;
    const char *v;
    size_t len;
    if (!a->admin_key || !bearer_value(x->req->authorization, &v, &len))
        return false;
    return secret_equal(v, len, a->admin_key, a->admin_key_len);
}

bool api_bearer(api_ctx *x, const char **value, size_t *len)
{
    return bearer_value(x->req->authorization, value, len);
}

bool api_authenticate(api_ctx *x, bool allow_admin, api_auth *out)
{
    memset(out, 0, sizeof *out);
    const char *v;
    size_t len;
    if (!bearer_value(x->req->authorization, &v, &len)) {
        api_problem(x, MAPI_E_LOGON_FAILED, 401,
                    "this resource needs an Authorization: Bearer <token> header");
        return false;
    }
    if (allow_admin && api_is_admin(x)) {
        out->admin = true;
        return true;
    }
    return api_authenticate_token(x, v, len, out);
}

bool api_authenticate_token(api_ctx *x, const char *v, size_t len, api_auth *out)
{
    memset(out, 0, sizeof *out);
    HRESULT hr = core_authenticate(x->a->core, v, len, &out->session, &out->handle);
    if (hr == MAPI_E_NOT_ENOUGH_MEMORY) {
        api_problem(x, hr, 0, "out of memory while checking the token");
        return false;
    }
    if (hr == MAPI_E_NETWORK_ERROR) {
        out->session = NULL;
        api_problem(x, hr, 503, API_STORE_UNREACHABLE);
        return false;
    }
    if (HR_FAILED(hr) || !out->session) {
        /* Unknown, malformed, logged off and expired tokens look alike. */
        out->session = NULL;
        api_problem(x, MAPI_E_END_OF_SESSION, 401, "the bearer token is not a live session handle");
        return false;
    }
    return true;
}

void api_auth_release(api_auth *auth)
{
    session_unref(auth->session);
    auth->session = NULL;
}
