/* problem.c - every error answer of the gateway: RFC 9457 problem details
 * carrying the MAPI error name and code (api.md "Conventions").
 *
 * The only place that turns an HRESULT into HTTP, so that headers tied to a
 * status (WWW-Authenticate on 401, Retry-After on TIMEOUT/BUSY) can never be
 * forgotten by a handler.
 */
#include "api_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Short human titles, one per problem type (RFC 9457: the title of a type
 * does not change from occurrence to occurrence). */
static const struct {
    HRESULT hr;
    const char *title;
} TITLES[] = {
    {MAPI_E_CALL_FAILED, "Call failed"},
    {MAPI_E_INTERFACE_NOT_SUPPORTED, "Interface not supported"},
    {MAPI_E_NOT_ENOUGH_MEMORY, "Not enough memory"},
    {MAPI_E_INVALID_PARAMETER, "Invalid parameter"},
    {MAPI_E_NO_ACCESS, "No access"},
    {MAPI_E_NO_SUPPORT, "Not supported"},
    {MAPI_E_BAD_CHARWIDTH, "Bad character width"},
    {MAPI_E_UNKNOWN_FLAGS, "Unknown flags"},
    {MAPI_E_INVALID_ENTRYID, "Invalid entry id"},
    {MAPI_E_BUSY, "Busy"},
    {MAPI_E_NOT_ENOUGH_RESOURCES, "Not enough resources"},
    {MAPI_E_NOT_FOUND, "Not found"},
    {MAPI_E_VERSION, "Version mismatch"},
    {MAPI_E_LOGON_FAILED, "Logon failed"},
    {MAPI_E_SESSION_LIMIT, "Session limit reached"},
    {MAPI_E_USER_CANCEL, "Cancelled"},
    {MAPI_E_NETWORK_ERROR, "Network error"},
    {MAPI_E_EXTENDED_ERROR, "Extended error"},
    {MAPI_E_UNCONFIGURED, "Provider not configured"},
    {MAPI_E_FAILONEPROVIDER, "Provider failed"},
    {MAPI_E_UNKNOWN_CPID, "Unknown code page"},
    {MAPI_E_UNKNOWN_LCID, "Unknown locale"},
    {MAPI_E_PASSWORD_CHANGE_REQUIRED, "Password change required"},
    {MAPI_E_PASSWORD_EXPIRED, "Password expired"},
    {MAPI_E_INVALID_WORKSTATION_ACCOUNT, "Invalid workstation account"},
    {MAPI_E_INVALID_ACCESS_TIME, "Invalid access time"},
    {MAPI_E_ACCOUNT_DISABLED, "Account disabled"},
    {MAPI_E_RECONNECTED, "Reconnected"},
    {MAPI_E_OFFLINE, "Offline"},
    {MAPI_E_END_OF_SESSION, "Session ended"},
    {MAPI_E_UNKNOWN_ENTRYID, "Unknown entry id"},
    {MAPI_E_TIMEOUT, "Timeout"},
    {MAPI_E_NOT_INITIALIZED, "Not initialized"},
};

static const char *problem_title(HRESULT hr)
{
    for (size_t i = 0; i < sizeof TITLES / sizeof TITLES[0]; i++)
        if (TITLES[i].hr == hr)
            return TITLES[i].title;
    return "MAPI error";
}

void api_problem(api_ctx *x, HRESULT hr, int status, const char *fmt, ...)
{
    /* A success code is not a problem; callers only get here by mistake. */
    if (!HR_FAILED(hr))
        hr = MAPI_E_CALL_FAILED;
    /* hresult_name maps unknown failures to MAPI_E_CALL_FAILED; keep the
     * name, the code and the type consistent by using that code too. */
    const char *name = hresult_name(hr);
    HRESULT named;
    if (hresult_from_name(name, &named) == 0)
        hr = named;
    if (status == 0)
        status = hresult_http_status(hr);

    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);

    char type[96], code[16];
    snprintf(type, sizeof type, "urn:mapigw:problem:%s", name);
    snprintf(code, sizeof code, "0x%08X", (unsigned)(uint32_t)hr);

    json_t *body = json_object();
    bool ok = body != NULL;
    ok &= json_set(body, "type", json_string(type));
    ok &= json_set(body, "title", json_string(problem_title(hr)));
    ok &= json_set(body, "status", json_integer(status));
    /* Details may carry client text that is not valid UTF-8 (a query
     * value, or a name cut by %.64s): render_string_or_null repairs it. */
    ok &= json_set(body, "detail", render_string_or_null(detail));
    ok &= json_set(body, "mapi_error", json_string(name));
    ok &= json_set(body, "mapi_code", json_string(code));
    if (!ok) {
        json_decref(body);
        x->oom = true;
        return;
    }

    size_t len = 0;
    char *text = api_dump_json(body, &len);
    json_decref(body);
    if (!text) {
        x->oom = true;
        return;
    }
    /* Start from a clean response: a handler may fail after setting parts. */
    api_response *r = x->resp;
    const char *route = r->route;
    api_response_clear(r);
    r->route = route;
    r->status = status;
    r->content_type = "application/problem+json";
    r->body = text;
    r->body_len = len;
    r->mapi_error = name;

    if (status == 401) {
        /* RFC 6750 3.1: error="invalid_token" only when a token was
         * presented and refused; a missing credential gets the bare
         * challenge. RFC 9110 requires a challenge on every 401. */
        api_add_header(x, "WWW-Authenticate",
                       hr == MAPI_E_END_OF_SESSION
                           ? "Bearer realm=\"mapigw\", error=\"invalid_token\""
                           : "Bearer realm=\"mapigw\"");
    }
    if (hr == MAPI_E_TIMEOUT || hr == MAPI_E_BUSY)
        api_add_header(x, "Retry-After", "1");
}
