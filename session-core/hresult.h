/* hresult.h - MAPI HRESULT values, defined once for the whole gateway.
 *
 * Bit 31 set = failure. MAPI errors use FACILITY_ITF: MAPI_E_x = 0x80040000|code,
 * MAPI_W_x = 0x00040000|code (a warning is a success code, so HR_FAILED is false
 * for it: compare warnings with ==).
 *
 * MAPI_HRESULTS below is the one list of them: every constant, hresult.c's
 * names and the api floor's problem+json (status, title, and the prepared
 * out-of-memory answer) are expanded from it, so adding a value is one line.
 * Thread-safe: read-only data.
 */
#pragma once

#include <stdint.h>

typedef int32_t HRESULT;

/* Values above INT32_MAX are written as unsigned and converted; gcc and clang
 * define the conversion as modulo 2^32, which is what every MAPI header assumes. */
#define MAPI_HR(x) ((HRESULT)(uint32_t)(x))

#define HR_FAILED(hr) ((hr) < 0)
#define HR_SUCCEEDED(hr) ((hr) >= 0)

/* X(name, value, HTTP status, title), one row per value the gateway knows.
 *
 * The HTTP status and the title are data the core never reads: they are the
 * answer the api floor gives for the value (the contract's error table) and a
 * short human name of it (RFC 9457 "title"). They sit in this row, not in a
 * second list in api/, so that a new value cannot be added without deciding
 * its answer, and no list has to be kept in step with another by hand. The
 * core's code stays free of HTTP: only api/ expands these two columns
 * (docs/contract/mapi.md section 9 documents the table). */
#define MAPI_HRESULTS(X)                                                                           \
    X(S_OK, 0x00000000, 200, "Success")                                                            \
    X(MAPI_W_NO_SERVICE, 0x00040203, 200, "No service")                                            \
    X(MAPI_W_ERRORS_RETURNED, 0x00040380, 200, "Errors returned")                                  \
    X(MAPI_E_CALL_FAILED, 0x80004005, 500, "Call failed")                                          \
    X(MAPI_E_INTERFACE_NOT_SUPPORTED, 0x80004002, 501, "Interface not supported")                  \
    X(MAPI_E_NOT_ENOUGH_MEMORY, 0x8007000E, 503, "Not enough memory")                              \
    X(MAPI_E_INVALID_PARAMETER, 0x80070057, 400, "Invalid parameter")                              \
    X(MAPI_E_NO_ACCESS, 0x80070005, 403, "No access")                                              \
    X(MAPI_E_NO_SUPPORT, 0x80040102, 501, "Not supported")                                         \
    X(MAPI_E_BAD_CHARWIDTH, 0x80040103, 400, "Bad character width")                                \
    X(MAPI_E_UNKNOWN_FLAGS, 0x80040106, 400, "Unknown flags")                                      \
    X(MAPI_E_INVALID_ENTRYID, 0x80040107, 400, "Invalid entry id")                                 \
    X(MAPI_E_BUSY, 0x8004010B, 409, "Busy")                                                        \
    X(MAPI_E_NOT_ENOUGH_RESOURCES, 0x8004010E, 503, "Not enough resources")                        \
    X(MAPI_E_NOT_FOUND, 0x8004010F, 404, "Not found")                                              \
    X(MAPI_E_OBJECT_CHANGED, 0x80040109, 412, "Object changed")                                    \
    X(MAPI_E_DISK_ERROR, 0x80040116, 500, "Disk error")                                            \
    X(MAPI_E_COLLISION, 0x80040604, 409, "Collision")                                              \
    X(MAPI_E_VERSION, 0x80040110, 500, "Version mismatch")                                         \
    X(MAPI_E_LOGON_FAILED, 0x80040111, 401, "Logon failed")                                        \
    X(MAPI_E_SESSION_LIMIT, 0x80040112, 429, "Session limit reached")                              \
    X(MAPI_E_USER_CANCEL, 0x80040113, 409, "Cancelled")                                            \
    X(MAPI_E_NETWORK_ERROR, 0x80040115, 502, "Network error")                                      \
    X(MAPI_E_EXTENDED_ERROR, 0x80040119, 500, "Extended error")                                    \
    X(MAPI_E_UNCONFIGURED, 0x8004011C, 422, "Provider not configured")                             \
    X(MAPI_E_FAILONEPROVIDER, 0x8004011D, 502, "Provider failed")                                  \
    X(MAPI_E_UNKNOWN_CPID, 0x8004011E, 422, "Unknown code page")                                   \
    X(MAPI_E_UNKNOWN_LCID, 0x8004011F, 422, "Unknown locale")                                      \
    X(MAPI_E_PASSWORD_CHANGE_REQUIRED, 0x80040120, 403, "Password change required")                \
    X(MAPI_E_PASSWORD_EXPIRED, 0x80040121, 403, "Password expired")                                \
    X(MAPI_E_INVALID_WORKSTATION_ACCOUNT, 0x80040122, 403, "Invalid workstation account")          \
    X(MAPI_E_INVALID_ACCESS_TIME, 0x80040123, 403, "Invalid access time")                          \
    X(MAPI_E_ACCOUNT_DISABLED, 0x80040124, 403, "Account disabled")                                \
    X(MAPI_E_RECONNECTED, 0x80040125, 503, "Reconnected")                                          \
    X(MAPI_E_OFFLINE, 0x80040126, 503, "Offline")                                                  \
    X(MAPI_E_END_OF_SESSION, 0x80040200, 401, "Session ended")                                     \
    X(MAPI_E_UNKNOWN_ENTRYID, 0x80040201, 404, "Unknown entry id")                                 \
    X(MAPI_E_TIMEOUT, 0x80040401, 503, "Timeout")                                                  \
    X(MAPI_E_NOT_INITIALIZED, 0x80040605, 503, "Not initialized")                                  \
    X(MAPI_E_AMBIGUOUS_RECIP, 0x80040700, 409, "Ambiguous recipient")

#define MAPI_HRESULT_ENUM(name, value, status, title) name = MAPI_HR(value),
enum { MAPI_HRESULTS(MAPI_HRESULT_ENUM) };
#undef MAPI_HRESULT_ENUM

/* The MAPI constant name ("MAPI_E_LOGON_FAILED"). Unknown values give
 * "MAPI_E_CALL_FAILED" for failures and "S_OK" for successes, so a caller
 * always has a name to render. Returns a static string. */
const char *hresult_name(HRESULT hr);

/* Looks a name up; returns 0 and sets *out, or -1 when the name is unknown. */
int hresult_from_name(const char *name, HRESULT *out);
