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
#include "mapi_object.h"
#include "profile.h"
#include "status_row.h"
#include "token.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct session session;

session *session_ref(session *s);
void session_unref(session *s); /* NULL is fine */

/* Read-only facts; strings live as long as the reference. Whether it is its
 * profile's shared session and how many handles it has are the session
 * store's to say (core_get_session_facts). */
const char *session_id(const session *s);
const char *session_profile_name(const session *s);
uint32_t session_flags(const session *s); /* as logged on, with EXTENDED|UNICODE */
time_t session_created_at(const session *s);
time_t session_last_used_at(const session *s);
/* When the session ends if unused: min(created + lifetime, last use + idle). */
time_t session_expires_at(const session *s);
/* When the session ends however much it is used: created + lifetime. */
time_t session_lifetime_ends_at(const session *s);
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

/* ---- objects reached through the session -------------------- */

/* IMAPISession::GetMsgStoresTable: one row per store provider of the session
 * (PR_ENTRYID, PR_DISPLAY_NAME, PR_DEFAULT_STORE, PR_RESOURCE_FLAGS,
 * PR_STATUS_CODE, PR_INSTANCE_KEY of its status row). */
HRESULT session_stores_table(session *s, mapi_rows *out);

/* IMAPISession::OpenMsgStore (MDB_NO_DIALOG): the store and its folder
 * hierarchy. MAPI_E_INVALID_ENTRYID (malformed), MAPI_E_UNKNOWN_ENTRYID (not
 * a store of this session), or the provider's error (NETWORK_ERROR, ...). */
HRESULT session_open_store(session *s, const uint8_t *eid, size_t len, mapi_object *store,
                           mapi_rows *folders);

/* IMAPIFolder::GetContentsTable on a folder's entry id, newest first: the
 * rows at places offset .. offset + max - 1 (SetRows/QueryRows as a window;
 * an unreadable message keeps its place but gives no row), *total the
 * number of places or SIZE_MAX when unknown. MAPI_E_INVALID_ENTRYID,
 * MAPI_E_UNKNOWN_ENTRYID (not a folder of this session), MAPI_E_NO_SUPPORT
 * (the store cannot list). */
HRESULT session_folder_contents(session *s, const uint8_t *eid, size_t len, size_t offset,
                                size_t max, mapi_rows *out, size_t *total);

/* IMAPISession::OpenAddressBook (AB_NO_DIALOG): one container per address
 * book provider, and the entries of all of them one book after another
 * (filtered by search when not NULL) at places offset .. offset + max - 1,
 * *total the number of places. S_OK, or MAPI_W_ERRORS_RETURNED when an
 * address-book provider failed (at logon, or now; its entries then hold no
 * place). */
HRESULT session_address_book(session *s, const char *search, size_t offset, size_t max,
                             mapi_rows *containers, mapi_rows *entries, size_t *total);

/* IMAPISession::OpenEntry: status objects, stores, folders, messages,
 * address-book containers and entries, and one-off entry ids (opened as a
 * MAPI_MAILUSER). MAPI_E_INVALID_ENTRYID or MAPI_E_UNKNOWN_ENTRYID. */
HRESULT session_open_entry(session *s, const uint8_t *eid, size_t len, mapi_object *out);

/* IMAPISession::CompareEntryIDs: the owning provider decides. */
HRESULT session_compare_entry_ids(session *s, const uint8_t *a, size_t alen, const uint8_t *b,
                                  size_t blen, bool *equal);

/* ---- IMessage::SubmitMessage through the spooler (session_submit.c) ---- */

#define SUBMIT_MAX_RECIPIENTS 100
#define SUBMIT_MAX_SUBJECT 998     /* bytes: one RFC 5322 line */
#define SUBMIT_MAX_BODY (1u << 20) /* bytes of plain text */
#define SUBMIT_MAX_CANDIDATES 20   /* ambiguous names: candidates returned */

typedef enum { SUBMIT_TO = 1, SUBMIT_CC = 2, SUBMIT_BCC = 3 } submit_kind; /* MAPI_TO .. */

/* One recipient as the client gave it (borrowed strings): an address-book
 * entry id; or an address type and address (display optional); or a
 * display name alone, resolved as IAddrBook::ResolveName does. */
typedef struct {
    submit_kind kind;
    const char *display;
    const char *addrtype;
    const char *address;
    const uint8_t *entry_id;
    size_t entry_id_len;
} submit_recipient;

#define SUBMIT_MAX_ATTACHMENTS 10
#define SUBMIT_MAX_FILENAME 255 /* bytes */

/* An attachment (borrowed): PR_ATTACH_FILENAME, PR_ATTACH_MIME_TAG and the
 * bytes (PR_ATTACH_DATA_BIN). */
typedef struct {
    const char *filename;
    const char *content_type; /* "type/subtype"; NULL: application/octet-stream */
    const uint8_t *data;
    size_t len;
} submit_attachment;

typedef struct {
    const submit_recipient *rcpt;
    size_t rcpt_count;
    const char *html_body; /* PR_HTML, may be NULL */
    const submit_attachment *att;
    size_t att_count;
    const char *subject;   /* may be NULL */
    const char *body;      /* plain text, may be NULL */
    bool delete_after;     /* DELETE_AFTER_SUBMIT: no Sent Items copy */
    int priority;          /* PR_PRIORITY: -1 non-urgent, 0 normal, 1 urgent */
    bool read_receipt;     /* PR_READ_RECEIPT_REQUESTED */
    bool delivery_receipt; /* PR_ORIGINATOR_DELIVERY_REPORT_REQUESTED */
} submit_request;

typedef struct {
    char *display, *addrtype, *address;
    char *transport; /* the display name of the transport that takes it */
} submit_resolved;

typedef struct {
    /* S_OK: the Outbox message's entry id, its Message-ID, each recipient
     * as resolved and routed. */
    uint8_t *entry_id;
    size_t entry_id_len;
    char message_id[96];
    submit_resolved *rcpt;
    size_t rcpt_count;
    /* A failure: what went wrong in words; for a recipient,
     * which one (bad_index) and, when ambiguous, the candidates (MAPI_MAILUSER
     * rows as the address book lists them). */
    char why[256];
    size_t bad_index;
    mapi_rows candidates;
} submit_result;

/* Creates the message in the default store's Outbox and submits it: each
 * recipient goes to the first transport, in the profile's order, that
 * handles its address type, durably queued there. Errors:
 * MAPI_E_INVALID_PARAMETER (a malformed field), MAPI_E_NOT_FOUND (a name
 * nobody matches, no default store), MAPI_E_AMBIGUOUS_RECIP (several do),
 * MAPI_E_NO_SUPPORT (a MAPI_NO_MAIL session, no transport, or none for a
 * recipient's address type), MAPI_E_UNKNOWN_ENTRYID, the store's or the
 * transport's error. Nothing is queued unless every recipient routes. */
HRESULT session_submit_message(session *s, const submit_request *req, submit_result *out);
void submit_result_clear(submit_result *r);

/* IMAPISession::QueryDefaultMessageOpt: whether some transport of the
 * session handles addrtype (*handled); the options (names) it supports. */
HRESULT session_message_options(session *s, const char *addrtype, bool *handled, char *transport,
                                size_t transport_len);

/* ---- notifications: Advise with a NULL entry id ------------------------- */

typedef enum {
    SESSION_EVENT_TABLE_MODIFIED = 1, /* fnevTableModified, TABLE_ROW_MODIFIED */
    SESSION_EVENT_CRITICAL_ERROR = 2, /* fnevCriticalError: the session ended */
    SESSION_EVENT_RESYNC = 3,         /* not MAPI's: events were lost, read the table again */
} session_event_kind;

typedef struct {
    session_event_kind kind;
    uint64_t seq;       /* increases per session (session_event_id) */
    status_row row;     /* TABLE_MODIFIED: the row as it is now (owned) */
    const char *reason; /* CRITICAL_ERROR: static "logoff_shared", "logoff",
                           "expired", "admin", "shutdown"; RESYNC:
                           "unknown_id", "window_exceeded", "overflow" */
} session_event;

/* An event's id: the tag of the session object that issued it (random per
 * session and per process: a replica tells its own ids from another's, or
 * from its own before a restart, and learns nothing else from them) and its
 * sequence number in that session. */
#define SESSION_EVENT_TAG_LEN 8
typedef struct {
    uint8_t tag[SESSION_EVENT_TAG_LEN];
    uint64_t seq;
} session_event_id;

typedef struct session_sub session_sub;

/* Subscribes to the session's critical errors and status-table changes.
 * wake(ctx) is called from whichever thread queues an event (or ends the
 * session), with the subscription's lock held: it must only signal (for
 * example resume a suspended connection), never call back into the session.
 * The subscription holds a session reference until session_unadvise. */
HRESULT session_advise(session *s, void (*wake)(void *ctx), void *ctx, session_sub **out);
/* The same, for the bearer of one handle: the subscription also ends (a
 * critical error, then MAPI_E_END_OF_SESSION) when that handle logs off,
 * while the session lives on for its other handles. handle NULL: as
 * session_advise. */
HRESULT session_advise_handle(session *s, const token_hash *handle, void (*wake)(void *ctx),
                              void *ctx, session_sub **out);
/* The same, resuming after the event last (NULL: a fresh subscription): the
 * table events the session recorded since then (its replay window, the
 * core's events_replay newest ones) are queued first. When last is not an id
 * this session object issued, or is older than the window, the first event
 * is a RESYNC instead ("unknown_id", "window_exceeded"). */
HRESULT session_advise_from(session *s, const token_hash *handle, const session_event_id *last,
                            void (*wake)(void *ctx), void *ctx, session_sub **out);

/* The tag of the subscription's session (the ids of its events). */
void session_sub_tag(const session_sub *sub, uint8_t tag[SESSION_EVENT_TAG_LEN]);

/* Takes the next event: S_OK (clear it with session_event_clear),
 * MAPI_E_NOT_FOUND when none is queued now, MAPI_E_END_OF_SESSION when the
 * session ended and every event was taken.
 * The queue is bounded (SESSION_SUB_QUEUE_MAX): a newer TABLE_MODIFIED of a
 * row replaces one still queued for that row (coalesced), and when the
 * queue is full the oldest event is dropped and a RESYNC ("overflow") comes
 * before the next ones. A critical error is never dropped. */
#define SESSION_SUB_QUEUE_MAX 64
HRESULT session_sub_next(session_sub *sub, session_event *ev);
void session_event_clear(session_event *ev);

/* Unsubscribes; no wake call runs once it returns. */
void session_unadvise(session_sub *sub);
