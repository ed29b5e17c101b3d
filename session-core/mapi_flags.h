/* mapi_flags.h - MAPI flag and enumeration constants, with their names.
 *
 * Every flag set the gateway accepts or renders is one mapi_name_set: the api
 * floor parses names from it and renders {"value", "names"} with it, the core
 * checks bits against its mask. Thread-safe: read-only data.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MAPILogonEx flags (docs/contract/mapi.md 2.2). */
#define MAPI_LOGON_UI 0x00000001u
#define MAPI_NEW_SESSION 0x00000002u
#define MAPI_ALLOW_OTHERS 0x00000008u
#define MAPI_EXPLICIT_PROFILE 0x00000010u
#define MAPI_EXTENDED 0x00000020u
#define MAPI_USE_DEFAULT 0x00000040u
#define MAPI_FORCE_DOWNLOAD 0x00001000u
#define MAPI_SERVICE_UI_ALWAYS 0x00002000u
#define MAPI_NO_MAIL 0x00008000u
#define MAPI_NT_SERVICE 0x00010000u
#define MAPI_PASSWORD_UI 0x00020000u
#define MAPI_TIMEOUT_SHORT 0x00100000u
#define MAPI_BG_SESSION 0x00200000u
#define MAPI_UNICODE 0x80000000u
#define MAPI_LOGON_UI_FLAGS (MAPI_LOGON_UI | MAPI_PASSWORD_UI | MAPI_SERVICE_UI_ALWAYS)
/* What a logon gets when the request names no flags: the service-style
 * default recommended in docs/contract/mapi.md 2.2. */
#define MAPI_LOGON_DEFAULT_FLAGS                                                                   \
    (MAPI_EXTENDED | MAPI_NEW_SESSION | MAPI_EXPLICIT_PROFILE | MAPI_NO_MAIL | MAPI_NT_SERVICE |   \
     MAPI_UNICODE)

/* IMAPISession::Logoff flags. */
#define MAPI_LOGOFF_SHARED 0x1u
#define MAPI_LOGOFF_UI 0x2u

/* PR_RESOURCE_TYPE values. */
#define MAPI_STORE_PROVIDER 33u
#define MAPI_AB 34u
#define MAPI_AB_PROVIDER 35u
#define MAPI_TRANSPORT_PROVIDER 36u
#define MAPI_SPOOLER 37u
#define MAPI_PROFILE_PROVIDER 38u
#define MAPI_SUBSYSTEM 39u
#define MAPI_HOOK_PROVIDER 40u

/* PR_RESOURCE_FLAGS. */
#define STATUS_DEFAULT_OUTBOUND 0x1u
#define STATUS_DEFAULT_STORE 0x2u
#define STATUS_PRIMARY_IDENTITY 0x4u
#define STATUS_SIMPLE_STORE 0x8u
#define STATUS_XP_PREFER_LAST 0x10u
#define STATUS_NO_PRIMARY_IDENTITY 0x20u
#define STATUS_NO_DEFAULT_STORE 0x40u
#define STATUS_TEMP_SECTION 0x80u
#define STATUS_OWN_STORE 0x100u
#define HOOK_INBOUND 0x200u
#define HOOK_OUTBOUND 0x400u
#define STATUS_NEED_IPM_TREE 0x800u
#define STATUS_PRIMARY_STORE 0x1000u
#define STATUS_SECONDARY_STORE 0x2000u

/* PR_STATUS_CODE. */
#define STATUS_AVAILABLE 0x1u
#define STATUS_OFFLINE 0x2u
#define STATUS_FAILURE 0x4u
#define STATUS_INBOUND_ENABLED 0x10000u
#define STATUS_INBOUND_ACTIVE 0x20000u
#define STATUS_INBOUND_FLUSH 0x40000u
#define STATUS_OUTBOUND_ENABLED 0x100000u
#define STATUS_OUTBOUND_ACTIVE 0x200000u
#define STATUS_OUTBOUND_FLUSH 0x400000u
#define STATUS_REMOTE_ACCESS 0x800000u

/* PR_RESOURCE_METHODS. */
#define STATUS_VALIDATE_STATE 0x1u
#define STATUS_SETTINGS_DIALOG 0x2u
#define STATUS_CHANGE_PASSWORD 0x4u
#define STATUS_FLUSH_QUEUES 0x8u

/* IMAPIStatus::ValidateState flags. */
#define SUPPRESS_UI 0x1u
#define REFRESH_XP_HEADER_CACHE 0x10000u
#define PROCESS_XP_HEADER_CACHE 0x20000u
#define FORCE_XP_CONNECT 0x40000u
#define FORCE_XP_DISCONNECT 0x80000u
#define CONFIG_CHANGED 0x100000u
#define ABORT_XP_HEADER_OPERATION 0x200000u
#define SHOW_XP_SESSION_UI 0x400000u

/* IMAPIStatus::FlushQueues flags. */
#define FLUSH_UPLOAD 0x2u
#define FLUSH_DOWNLOAD 0x4u
#define FLUSH_FORCE 0x8u
#define FLUSH_NO_UI 0x10u
#define FLUSH_ASYNC_OK 0x20u

/* IMAPIStatus::SettingsDialog flag. */
#define UI_READONLY 0x1u

#define MAPI_STATUS 0xAu /* PR_OBJECT_TYPE of a status object */

typedef struct {
    const char *name;
    uint32_t value;
} mapi_name;

/* A named set of flags (bits) or of enumeration values. */
typedef struct {
    const char *what; /* "logon flag", for error details */
    const mapi_name *names;
    size_t count;
    uint32_t mask; /* OR of every defined bit; 0 for enumerations */
} mapi_name_set;

extern const mapi_name_set MAPI_LOGON_FLAG_NAMES;
extern const mapi_name_set MAPI_LOGOFF_FLAG_NAMES;
extern const mapi_name_set MAPI_RESOURCE_FLAG_NAMES;
extern const mapi_name_set MAPI_STATUS_CODE_NAMES;
extern const mapi_name_set MAPI_RESOURCE_METHOD_NAMES;
extern const mapi_name_set MAPI_VALIDATE_FLAG_NAMES;
extern const mapi_name_set MAPI_FLUSH_FLAG_NAMES;
extern const mapi_name_set MAPI_SETTINGS_FLAG_NAMES;
extern const mapi_name_set MAPI_RESOURCE_TYPE_NAMES; /* enumeration */

/* Finds name in set; true and *value on success. */
bool mapi_name_lookup(const mapi_name_set *set, const char *name, uint32_t *value);

/* The name of an enumeration value, or NULL. */
const char *mapi_enum_name(const mapi_name_set *set, uint32_t value);

/* True when value has no bit outside set->mask. */
static inline bool mapi_flags_known(const mapi_name_set *set, uint32_t value)
{
    return (value & ~set->mask) == 0;
}
