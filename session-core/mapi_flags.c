#include "mapi_flags.h"

#include <string.h>

#define N(x)                                                                                       \
    {                                                                                              \
#x, x                                                                                      \
    }
#define SET(var, what, arr, mask_)                                                                 \
    const mapi_name_set var = {what, arr, sizeof arr / sizeof arr[0], mask_}

static const mapi_name LOGON[] = {
    N(MAPI_LOGON_UI),   N(MAPI_NEW_SESSION), N(MAPI_ALLOW_OTHERS),   N(MAPI_EXPLICIT_PROFILE),
    N(MAPI_EXTENDED),   N(MAPI_USE_DEFAULT), N(MAPI_FORCE_DOWNLOAD), N(MAPI_SERVICE_UI_ALWAYS),
    N(MAPI_NO_MAIL),    N(MAPI_NT_SERVICE),  N(MAPI_PASSWORD_UI),    N(MAPI_TIMEOUT_SHORT),
    N(MAPI_BG_SESSION), N(MAPI_UNICODE),
};
SET(MAPI_LOGON_FLAG_NAMES, "logon flag", LOGON,
    MAPI_LOGON_UI | MAPI_NEW_SESSION | MAPI_ALLOW_OTHERS | MAPI_EXPLICIT_PROFILE | MAPI_EXTENDED |
        MAPI_USE_DEFAULT | MAPI_FORCE_DOWNLOAD | MAPI_SERVICE_UI_ALWAYS | MAPI_NO_MAIL |
        MAPI_NT_SERVICE | MAPI_PASSWORD_UI | MAPI_TIMEOUT_SHORT | MAPI_BG_SESSION | MAPI_UNICODE);

static const mapi_name LOGOFF[] = {N(MAPI_LOGOFF_SHARED), N(MAPI_LOGOFF_UI)};
SET(MAPI_LOGOFF_FLAG_NAMES, "logoff flag", LOGOFF, MAPI_LOGOFF_SHARED | MAPI_LOGOFF_UI);

static const mapi_name RESOURCE_FLAGS[] = {
    N(STATUS_DEFAULT_OUTBOUND), N(STATUS_DEFAULT_STORE),
    N(STATUS_PRIMARY_IDENTITY), N(STATUS_SIMPLE_STORE),
    N(STATUS_XP_PREFER_LAST),   N(STATUS_NO_PRIMARY_IDENTITY),
    N(STATUS_NO_DEFAULT_STORE), N(STATUS_TEMP_SECTION),
    N(STATUS_OWN_STORE),        N(HOOK_INBOUND),
    N(HOOK_OUTBOUND),           N(STATUS_NEED_IPM_TREE),
    N(STATUS_PRIMARY_STORE),    N(STATUS_SECONDARY_STORE),
};
SET(MAPI_RESOURCE_FLAG_NAMES, "resource flag", RESOURCE_FLAGS, 0x3FFFu);

static const mapi_name STATUS_CODES[] = {
    N(STATUS_AVAILABLE),        N(STATUS_OFFLINE),         N(STATUS_FAILURE),
    N(STATUS_INBOUND_ENABLED),  N(STATUS_INBOUND_ACTIVE),  N(STATUS_INBOUND_FLUSH),
    N(STATUS_OUTBOUND_ENABLED), N(STATUS_OUTBOUND_ACTIVE), N(STATUS_OUTBOUND_FLUSH),
    N(STATUS_REMOTE_ACCESS),
};
SET(MAPI_STATUS_CODE_NAMES, "status code", STATUS_CODES, 0x00F70007u);

static const mapi_name METHODS[] = {
    N(STATUS_VALIDATE_STATE),
    N(STATUS_SETTINGS_DIALOG),
    N(STATUS_CHANGE_PASSWORD),
    N(STATUS_FLUSH_QUEUES),
};
SET(MAPI_RESOURCE_METHOD_NAMES, "resource method", METHODS, 0xFu);

static const mapi_name VALIDATE[] = {
    N(SUPPRESS_UI),
    N(REFRESH_XP_HEADER_CACHE),
    N(PROCESS_XP_HEADER_CACHE),
    N(FORCE_XP_CONNECT),
    N(FORCE_XP_DISCONNECT),
    N(CONFIG_CHANGED),
    N(ABORT_XP_HEADER_OPERATION),
    N(SHOW_XP_SESSION_UI),
};
SET(MAPI_VALIDATE_FLAG_NAMES, "validate-state flag", VALIDATE, 0x007F0001u);

static const mapi_name FLUSH[] = {
    N(FLUSH_UPLOAD), N(FLUSH_DOWNLOAD), N(FLUSH_FORCE), N(FLUSH_NO_UI), N(FLUSH_ASYNC_OK),
};
SET(MAPI_FLUSH_FLAG_NAMES, "flush-queues flag", FLUSH, 0x3Eu);

static const mapi_name SETTINGS[] = {N(UI_READONLY)};
SET(MAPI_SETTINGS_FLAG_NAMES, "settings-dialog flag", SETTINGS, UI_READONLY);

static const mapi_name RESOURCE_TYPES[] = {
    N(MAPI_STORE_PROVIDER), N(MAPI_AB),
    N(MAPI_AB_PROVIDER),    N(MAPI_TRANSPORT_PROVIDER),
    N(MAPI_SPOOLER),        N(MAPI_PROFILE_PROVIDER),
    N(MAPI_SUBSYSTEM),      N(MAPI_HOOK_PROVIDER),
};
SET(MAPI_RESOURCE_TYPE_NAMES, "resource type", RESOURCE_TYPES, 0);

bool mapi_name_lookup(const mapi_name_set *set, const char *name, uint32_t *value)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->names[i].name, name) == 0) {
            *value = set->names[i].value;
            return true;
        }
    return false;
}

const char *mapi_enum_name(const mapi_name_set *set, uint32_t value)
{
    for (size_t i = 0; i < set->count; i++)
        if (set->names[i].value == value)
            return set->names[i].name;
    return NULL;
}
