/* profile_edit.h - the changes IProfAdmin and IMsgServiceAdmin make to a
 * profiles document (profile_admin_edit's edit step): create, copy, rename,
 * delete, default, password; create, configure and delete a message
 * service. Each checks what the loader cannot tell apart from a typo (a
 * name taken: COLLISION; a profile or service that is not there:
 * NOT_FOUND; a setting a session may not change: NO_ACCESS); the loader
 * validates everything else after the change.
 *
 * Ownership: a profile_change borrows every pointer it holds.
 * Thread-safety: pure functions of their arguments.
 */
#pragma once

#include "hresult.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct json_t json_t;

typedef enum {
    PROFILE_CHANGE_CREATE,   /* new_name, auth (NULL: none), services (NULL: []), set_default */
    PROFILE_CHANGE_COPY,     /* from, new_name, auth (NULL: from's), set_default */
    PROFILE_CHANGE_UPDATE,   /* name, new_name (NULL: keep), set_default */
    PROFILE_CHANGE_DELETE,   /* name */
    PROFILE_CHANGE_PASSWORD, /* name, verifier, old_password (NULL: not checked) */
    SERVICE_CHANGE_CREATE,   /* name, service */
    SERVICE_CHANGE_UPDATE,   /* name, service_uid, service_name (NULL: keep), patches, user_only */
    SERVICE_CHANGE_DELETE,   /* name, service_uid */
} profile_change_op;

#define PROFILE_SERVICE_UID_LEN 32

typedef struct {
    profile_change_op op;
    const char *name, *new_name, *from;
    json_t *auth;     /* an "auth" object as in the file */
    json_t *services; /* an array of services as in the file */
    int set_default;  /* -1: leave; 1: make it the default; 0: clear it if it is */
    const char *verifier;
    const char *old_password;
    const char *service_uid;
    json_t *service;      /* a service as in the file */
    const char *service_name;
    json_t *patches;      /* one merge patch (RFC 7396) per provider, in order */
    bool user_only;       /* a session's own change: settings in user_settings only */
    /* Out: the profile's name and the service's uid after the change. */
    const char *result_name;
    char result_uid[PROFILE_SERVICE_UID_LEN + 1];
} profile_change;

/* profile_admin_edit_fn for a profile_change (ctx). */
HRESULT profile_change_apply(void *ctx, json_t *doc, char *err, size_t errlen);

/* PR_SERVICE_UID of a service: derived from its name, unique in a profile
 * (32 upper-case hex digits). */
void profile_service_uid(const char *service_name, char out[PROFILE_SERVICE_UID_LEN + 1]);
/* The service of a profile entry with that uid (borrowed), or NULL. */
json_t *profile_entry_service(json_t *entry, const char *uid);

/* The settings a session may change on a provider entry: its
 * "user_settings", else its kind's (imap: username, password, timeout_ms;
 * smtp: those and from; ldap: timeout_ms; others none). A new array. */
json_t *profile_provider_user_settings(json_t *provider);

/* Whether a setting holds a secret (never shown): "password", "*_password".
 * Views show a secret as PROFILE_SECRET_SHOWN; a patch that sends that
 * string back leaves the stored value as it is. */
#define PROFILE_SECRET_SHOWN "********"
bool profile_setting_is_secret(const char *key);
