/* provider.h - message-service providers behind one vtable.
 *
 * A provider kind ("maildir", "abfile", "spool") is a provider_ops table. A
 * session logs on one instance per configured provider; the instance's state is
 * the kind's own (void *). Adding a kind means one new provider_<kind>.c and one
 * line in provider.c's table.
 *
 * Threading: the session serialises calls on one instance (its lock is held
 * around every call), so a kind needs no locking of its own for its state.
 * Different instances run concurrently. Calls may block on the file system.
 */
#pragma once

#include "hresult.h"
#include "profile.h"

#include <stddef.h>
#include <stdint.h>

#define PROVIDER_STATUS_STRING_MAX 256

/* What the status row shows of a provider; the kind fills it from what it
 * really finds, never from configuration alone. */
typedef struct {
    uint32_t status_code;                           /* STATUS_AVAILABLE, ... */
    char status_string[PROVIDER_STATUS_STRING_MAX]; /* why, in words */
} provider_status;

/* An identity the provider supplies for its row (PR_IDENTITY_*). */
typedef struct {
    uint8_t *entry_id; /* malloc'd, owned by the caller of ->identity_entry_id */
    size_t entry_id_len;
} provider_entry_id;

typedef struct provider_ops {
    const char *kind;             /* name in the profiles file */
    uint32_t resource_type;       /* MAPI_STORE_PROVIDER, MAPI_AB_PROVIDER, ... */
    const char *dll_name;         /* PR_PROVIDER_DLL_NAME, never with a "32" suffix */
    const char *provider_display; /* PR_PROVIDER_DISPLAY: the vendor */
    uint32_t resource_methods;    /* STATUS_VALIDATE_STATE | ... the kind implements */

    /* Checked when the profiles file loads: settings of the wrong type or
     * value. Missing settings are not errors here (the provider is then
     * "unconfigured" and logon returns MAPI_E_UNCONFIGURED). NULL: none. */
    HRESULT (*check_config)(const provider_config *cfg, char *err, size_t errlen);

    /* Logs on. Returns S_OK and *state, or MAPI_E_UNCONFIGURED (settings
     * missing: MAPI retries once, then disables the service),
     * MAPI_E_FAILONEPROVIDER (only this provider is dropped), or another error
     * (the service is disabled). A provider whose resource is missing logs on
     * and reports STATUS_FAILURE in its status instead. */
    HRESULT (*logon)(const provider_config *cfg, void **state);
    void (*logoff)(void *state); /* frees state */

    /* The current status, as last checked (cheap: no I/O). */
    void (*status)(void *state, provider_status *out);

    /* IMAPIStatus::ValidateState: re-checks the resource for real and updates
     * the status. flags are already checked against the defined bits. */
    HRESULT (*validate_state)(void *state, uint32_t flags);

    /* IMAPIStatus::FlushQueues; NULL when the kind has no queues. */
    HRESULT (*flush_queues)(void *state, uint32_t flags);

    /* The identity entry id this provider knows for its configured identity
     * (an address-book entry); NULL or MAPI_E_NOT_FOUND when it has none, and
     * the session builds a one-off entry id instead. */
    HRESULT (*identity_entry_id)(void *state, const provider_config *cfg, provider_entry_id *out);
} provider_ops;

/* The built-in kind with that name, or NULL. */
const provider_ops *provider_kind_find(const char *kind);
