/* hresult.h - MAPI HRESULT values, defined once for the whole gateway.
 *
 * Bit 31 set = failure. MAPI errors use FACILITY_ITF: MAPI_E_x = 0x80040000|code,
 * MAPI_W_x = 0x00040000|code (a warning is a success code, so HR_FAILED is false
 * for it: compare warnings with ==).
 *
 * Each value has one row in hresult.c: its MAPI name and the HTTP status the
 * api floor answers with (mapi-session.md section 5). Thread-safe: read-only data.
 */
#pragma once

#include <stdint.h>

typedef int32_t HRESULT;

/* Values above INT32_MAX are written as unsigned and converted; gcc and clang
 * define the conversion as modulo 2^32, which is what every MAPI header assumes. */
#define MAPI_HR(x) ((HRESULT)(uint32_t)(x))

#define HR_FAILED(hr) ((hr) < 0)
#define HR_SUCCEEDED(hr) ((hr) >= 0)

#define S_OK MAPI_HR(0x00000000)
#define MAPI_W_NO_SERVICE MAPI_HR(0x00040203)
#define MAPI_W_ERRORS_RETURNED MAPI_HR(0x00040380)

#define MAPI_E_CALL_FAILED MAPI_HR(0x80004005)
#define MAPI_E_INTERFACE_NOT_SUPPORTED MAPI_HR(0x80004002)
#define MAPI_E_NOT_ENOUGH_MEMORY MAPI_HR(0x8007000E)
#define MAPI_E_INVALID_PARAMETER MAPI_HR(0x80070057)
#define MAPI_E_NO_ACCESS MAPI_HR(0x80070005)
#define MAPI_E_NO_SUPPORT MAPI_HR(0x80040102)
#define MAPI_E_BAD_CHARWIDTH MAPI_HR(0x80040103)
#define MAPI_E_UNKNOWN_FLAGS MAPI_HR(0x80040106)
#define MAPI_E_INVALID_ENTRYID MAPI_HR(0x80040107)
#define MAPI_E_BUSY MAPI_HR(0x8004010B)
#define MAPI_E_NOT_ENOUGH_RESOURCES MAPI_HR(0x8004010E)
#define MAPI_E_NOT_FOUND MAPI_HR(0x8004010F)
#define MAPI_E_VERSION MAPI_HR(0x80040110)
#define MAPI_E_LOGON_FAILED MAPI_HR(0x80040111)
#define MAPI_E_SESSION_LIMIT MAPI_HR(0x80040112)
#define MAPI_E_USER_CANCEL MAPI_HR(0x80040113)
#define MAPI_E_NETWORK_ERROR MAPI_HR(0x80040115)
#define MAPI_E_EXTENDED_ERROR MAPI_HR(0x80040119)
#define MAPI_E_UNCONFIGURED MAPI_HR(0x8004011C)
#define MAPI_E_FAILONEPROVIDER MAPI_HR(0x8004011D)
#define MAPI_E_UNKNOWN_CPID MAPI_HR(0x8004011E)
#define MAPI_E_UNKNOWN_LCID MAPI_HR(0x8004011F)
#define MAPI_E_PASSWORD_CHANGE_REQUIRED MAPI_HR(0x80040120)
#define MAPI_E_PASSWORD_EXPIRED MAPI_HR(0x80040121)
#define MAPI_E_INVALID_WORKSTATION_ACCOUNT MAPI_HR(0x80040122)
#define MAPI_E_INVALID_ACCESS_TIME MAPI_HR(0x80040123)
#define MAPI_E_ACCOUNT_DISABLED MAPI_HR(0x80040124)
#define MAPI_E_RECONNECTED MAPI_HR(0x80040125)
#define MAPI_E_OFFLINE MAPI_HR(0x80040126)
#define MAPI_E_END_OF_SESSION MAPI_HR(0x80040200)
#define MAPI_E_UNKNOWN_ENTRYID MAPI_HR(0x80040201)
#define MAPI_E_TIMEOUT MAPI_HR(0x80040401)
#define MAPI_E_NOT_INITIALIZED MAPI_HR(0x80040605)

/* The MAPI constant name ("MAPI_E_LOGON_FAILED"). Unknown values give
 * "MAPI_E_CALL_FAILED" for failures and "S_OK" for successes, so a caller
 * always has a name to render. Returns a static string. */
const char *hresult_name(HRESULT hr);

/* The HTTP status for hr (mapi-session.md section 5); 500 for unknown failures,
 * 200 for successes. */
int hresult_http_status(HRESULT hr);

/* Looks a name up; returns 0 and sets *out, or -1 when the name is unknown. */
int hresult_from_name(const char *name, HRESULT *out);
