/* session.h - one MAPI session: its profile, its live providers, its status
 * table and identity.
 *
 * Sessions are created by core_logon and reached through core_authenticate;
 * both hand out references. A session outlives its end (logoff, expiry) for
 * as long as references remain, but once ended every operation answers
 * MAPI_E_END_OF_SESSION and its providers are already logged off.
 *
 * Thread-safety: every function may be called concurrently; each session
 * serialises its provider calls under its own lock.
 */
#pragma once

#include "hresult.h"
#include "identity.h"
#include "profile.h"
#include "status_row.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct session session;

session *session_ref(session *s);
void session_unref(session *s); /* NULL is fine */

/* Read-only facts; strings live as long as the reference. */
const char *session_id(const session *s);
const char *session_profile_name(const session *s);
uint32_t session_flags(const session *s); /* as logged on, with EXTENDED|UNICODE */
bool session_is_shared(const session *s);
size_t session_handle_count(const session *s);
time_t session_created_at(const session *s);
time_t session_last_used_at(const session *s);
/* When the session ends if unused: min(created + lifetime, last use + idle). */
time_t session_expires_at(const session *s);
unsigned session_idle_timeout_s(const session *s);
bool session_is_ended(const session *s);

/* IMAPISession::GetStatusTable: a copy of the rows (the caller frees it with
 * status_table_free). S_OK, MAPI_E_END_OF_SESSION or NOT_ENOUGH_MEMORY. */
HRESULT session_status_table(session *s, status_table *out);

/* The table's version: changes whenever a row changes (for ETags). */
uint64_t session_status_version(session *s);

/* OpenEntry on a status row: a copy of the row with that instance key, or
 * MAPI_E_NOT_FOUND. */
HRESULT session_status_row(session *s, const uint8_t instance_key[STATUS_INSTANCE_KEY_LEN],
                           status_row *out);

/* IMAPISession::QueryIdentity (identity.h). */
HRESULT session_identity(session *s, identity *out);

/* IMAPIStatus methods on the row with that instance key. Each checks, in
 * order: the row exists (MAPI_E_NOT_FOUND), its PR_RESOURCE_METHODS bit is set
 * (MAPI_E_NO_SUPPORT, without calling the object), the flags are defined
 * (MAPI_E_UNKNOWN_FLAGS); then runs the method and, on success, copies the
 * updated row to *row_out (if not NULL). */
HRESULT session_validate_state(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN],
                               uint32_t flags, status_row *row_out);
HRESULT session_flush_queues(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN], uint32_t flags,
                             status_row *row_out);
HRESULT session_change_password(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN],
                                const char *old_password, const char *new_password,
                                status_row *row_out);
HRESULT session_settings_dialog(session *s, const uint8_t ik[STATUS_INSTANCE_KEY_LEN],
                                uint32_t flags);
