#include "hresult.h"

#include <stddef.h>
#include <string.h>

typedef struct {
    const char *name;
    HRESULT hr;
    int http_status;
} hresult_row;

static const hresult_row HRESULTS[] = {
    {"S_OK", S_OK, 200},
    {"MAPI_W_NO_SERVICE", MAPI_W_NO_SERVICE, 200},
    {"MAPI_W_ERRORS_RETURNED", MAPI_W_ERRORS_RETURNED, 200},
    {"MAPI_E_CALL_FAILED", MAPI_E_CALL_FAILED, 500},
    {"MAPI_E_INTERFACE_NOT_SUPPORTED", MAPI_E_INTERFACE_NOT_SUPPORTED, 501},
    {"MAPI_E_NOT_ENOUGH_MEMORY", MAPI_E_NOT_ENOUGH_MEMORY, 503},
    {"MAPI_E_INVALID_PARAMETER", MAPI_E_INVALID_PARAMETER, 400},
    {"MAPI_E_NO_ACCESS", MAPI_E_NO_ACCESS, 403},
    {"MAPI_E_NO_SUPPORT", MAPI_E_NO_SUPPORT, 501},
    {"MAPI_E_BAD_CHARWIDTH", MAPI_E_BAD_CHARWIDTH, 400},
    {"MAPI_E_UNKNOWN_FLAGS", MAPI_E_UNKNOWN_FLAGS, 400},
    {"MAPI_E_INVALID_ENTRYID", MAPI_E_INVALID_ENTRYID, 400},
    {"MAPI_E_BUSY", MAPI_E_BUSY, 409},
    {"MAPI_E_NOT_ENOUGH_RESOURCES", MAPI_E_NOT_ENOUGH_RESOURCES, 503},
    {"MAPI_E_NOT_FOUND", MAPI_E_NOT_FOUND, 404},
    {"MAPI_E_VERSION", MAPI_E_VERSION, 500},
    {"MAPI_E_LOGON_FAILED", MAPI_E_LOGON_FAILED, 401},
    {"MAPI_E_SESSION_LIMIT", MAPI_E_SESSION_LIMIT, 429},
    {"MAPI_E_USER_CANCEL", MAPI_E_USER_CANCEL, 409},
    {"MAPI_E_NETWORK_ERROR", MAPI_E_NETWORK_ERROR, 502},
    {"MAPI_E_EXTENDED_ERROR", MAPI_E_EXTENDED_ERROR, 500},
    {"MAPI_E_UNCONFIGURED", MAPI_E_UNCONFIGURED, 422},
    {"MAPI_E_FAILONEPROVIDER", MAPI_E_FAILONEPROVIDER, 502},
    {"MAPI_E_UNKNOWN_CPID", MAPI_E_UNKNOWN_CPID, 422},
    {"MAPI_E_UNKNOWN_LCID", MAPI_E_UNKNOWN_LCID, 422},
    {"MAPI_E_PASSWORD_CHANGE_REQUIRED", MAPI_E_PASSWORD_CHANGE_REQUIRED, 403},
    {"MAPI_E_PASSWORD_EXPIRED", MAPI_E_PASSWORD_EXPIRED, 403},
    {"MAPI_E_INVALID_WORKSTATION_ACCOUNT", MAPI_E_INVALID_WORKSTATION_ACCOUNT, 403},
    {"MAPI_E_INVALID_ACCESS_TIME", MAPI_E_INVALID_ACCESS_TIME, 403},
    {"MAPI_E_ACCOUNT_DISABLED", MAPI_E_ACCOUNT_DISABLED, 403},
    {"MAPI_E_RECONNECTED", MAPI_E_RECONNECTED, 503},
    {"MAPI_E_OFFLINE", MAPI_E_OFFLINE, 503},
    {"MAPI_E_END_OF_SESSION", MAPI_E_END_OF_SESSION, 401},
    {"MAPI_E_UNKNOWN_ENTRYID", MAPI_E_UNKNOWN_ENTRYID, 404},
    {"MAPI_E_TIMEOUT", MAPI_E_TIMEOUT, 503},
    {"MAPI_E_NOT_INITIALIZED", MAPI_E_NOT_INITIALIZED, 503},
};

static const hresult_row *find(HRESULT hr)
{
    for (size_t i = 0; i < sizeof HRESULTS / sizeof HRESULTS[0]; i++)
        if (HRESULTS[i].hr == hr)
            return &HRESULTS[i];
    return NULL;
}

const char *hresult_name(HRESULT hr)
{
    const hresult_row *row = find(hr);
    if (row)
        return row->name;
    return HR_FAILED(hr) ? "MAPI_E_CALL_FAILED" : "S_OK";
}

int hresult_http_status(HRESULT hr)
{
    const hresult_row *row = find(hr);
    if (row)
        return row->http_status;
    return HR_FAILED(hr) ? 500 : 200;
}

int hresult_from_name(const char *name, HRESULT *out)
{
    for (size_t i = 0; i < sizeof HRESULTS / sizeof HRESULTS[0]; i++)
        if (strcmp(HRESULTS[i].name, name) == 0) {
            *out = HRESULTS[i].hr;
            return 0;
        }
    return -1;
}
