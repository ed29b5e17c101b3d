/* provider.h - message-service providers behind one vtable.
 *
 * A provider kind ("maildir", "abfile", "spool") is a provider_ops table. A
 * session logs on one instance per configured provider; the instance's state is
 * the kind's own (void *). Adding a kind means one new providers/provider_<kind>.c
 * (its parsers beside it) and one line in providers/providers.h.
 *
 * What a kind sees of the core: this header and the few it includes
 * (provider_config.h, entryid.h, mapi_object.h, hresult.h), plus mapi_flags.h
 * and analyzer.h; nothing of sessions, views or the session store. The core sees
 * the kinds only through providers/providers.h. scripts/check-layers.sh
 * (make layers, run by make check and make test) holds both sides to it.
 *
 * Threading: calls on one instance are serialised by the core (the session's
 * lock, and the instance's own for shared instances), so a kind needs no
 * locking of its own for its state. Different instances run concurrently. Calls may block on the
 * file system or the network; network kinds bound every call with a timeout.
 */
#pragma once

#include "entryid.h"
#include "hresult.h"
#include "mapi_object.h"
#include "provider_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROVIDER_STATUS_STRING_MAX 256

/* A list's size that its kind cannot tell (contents tables). */
#define PROVIDER_TOTAL_UNKNOWN SIZE_MAX

/* What the status row shows of a provider; the kind fills it from what it
 * really finds, never from configuration alone. */
typedef struct {
    uint32_t status_code;                           /* STATUS_AVAILABLE, ... */
    char status_string[PROVIDER_STATUS_STRING_MAX]; /* why, in words */
} provider_status;

/* The identity a provider supplies for its row (PR_IDENTITY_*): any field
 * left NULL is taken from the provider's configured identity. All strings and
 * the entry id are malloc'd and become the caller's. */
typedef struct {
    char *display;
    char *addrtype;
    char *address;
    uint8_t *entry_id;
    size_t entry_id_len;
} provider_identity;

/* What a logon hands a provider besides its configuration. */
typedef struct {
    /* The logon password, only for the provider that authenticates the
     * profile upstream (profile auth "upstream": the primary-identity
     * provider); NULL otherwise. Borrowed: a kind that keeps it copies it
     * and wipes the copy at logoff. */
    const char *password;
    uint32_t logon_flags;     /* MAPI_FORCE_DOWNLOAD, MAPI_NO_MAIL, ... */
    uint8_t uid[MAPIUID_LEN]; /* this instance's MAPIUID (entryid.h) */
} provider_logon_args;

/* A delivery a transport finished (provider_ops.take_outcomes): the
 * spooler files the Outbox copy into Sent Items (or deletes it) and, for a
 * refusal, puts a non-delivery report into the Inbox. All strings malloc'd,
 * freed with provider_outcome_clear. */
typedef struct {
    char *outbox;         /* the Outbox copy's name (X-Mapigw-Outbox) */
    bool delete_after;    /* the client asked to delete it after submit */
    bool delivery_report; /* the client asked for a delivery report */
    bool delivered;       /* false: refused for good (5xx): an NDR is due */
    char *why;            /* the server's refusal, or NULL */
    char *recipients;     /* the envelope recipients, comma-separated */
    char *message;        /* the message as sent, for the NDR */
    size_t len;
} provider_outcome;

void provider_outcome_clear(provider_outcome *o); /* NULL is fine */

/* The most outcomes a transport keeps for the spooler between two looks. */
#define PROVIDER_OUTCOMES_MAX 256

typedef struct provider_ops {
    const char *kind;             /* name in the profiles file */
    uint32_t resource_type;       /* MAPI_STORE_PROVIDER, MAPI_AB_PROVIDER, ... */
    const char *dll_name;         /* PR_PROVIDER_DLL_NAME, never with a "32" suffix */
    const char *provider_display; /* PR_PROVIDER_DISPLAY: the vendor */
    uint32_t resource_methods;    /* STATUS_VALIDATE_STATE | ... the kind implements */
    /* One instance may serve every session of a profile (provider_inst.h):
     * the state holds nothing of one session's (no connection, no
     * credential) and logon ignores everything in provider_logon_args but
     * the uid, which is the same for every session of the profile. */
    bool shared_instance;
    /* Settings without which the kind is unconfigured (NULL-terminated);
     * the profiles loader warns about each one that is missing. */
    const char *const *required_settings;

    /* Checked when the profiles file loads: settings of the wrong type or
     * value. Missing settings are not errors here (the provider is then
     * "unconfigured" and logon returns MAPI_E_UNCONFIGURED). NULL: none. */
    HRESULT (*check_config)(const provider_config *cfg, char *err, size_t errlen);

    /* Logs on. Returns S_OK and *state, or MAPI_E_UNCONFIGURED (settings
     * missing: MAPI retries once, then disables the service),
     * MAPI_E_FAILONEPROVIDER (only this provider is dropped), or another error
     * (the service is disabled). A provider whose resource is missing or
     * unreachable logs on and reports STATUS_FAILURE / STATUS_OFFLINE in its
     * status instead -- except when args->password is set: then it must
     * check the password for real and fail with MAPI_E_LOGON_FAILED (refused)
     * or MAPI_E_NETWORK_ERROR (unreachable), which fail the whole logon. */
    HRESULT (*logon)(const provider_config *cfg, const provider_logon_args *args, void **state);
    void (*logoff)(void *state); /* frees state, wipes credentials */

    /* A later logon joining this session with a password (upstream
     * authentication): S_OK when it is the password this provider logged on
     * with (constant-time), else MAPI_E_LOGON_FAILED. NULL: kinds that never
     * authenticate. */
    HRESULT (*check_password)(void *state, const char *password);

    /* The current status, as last checked (cheap: no I/O). */
    void (*status)(void *state, provider_status *out);

    /* IMAPIStatus::ValidateState: re-checks the resource for real and updates
     * the status. flags are already checked against the defined bits. */
    HRESULT (*validate_state)(void *state, uint32_t flags);

    /* IMAPIStatus::FlushQueues; NULL when the kind has no queues. */
    HRESULT (*flush_queues)(void *state, uint32_t flags);

    /* Called every few seconds by the core's poller (network kinds: check
     * the connection, finish a background sync); may block up to the kind's
     * own timeout. NULL: nothing to poll. */
    void (*poll)(void *state);

    /* Housekeeping that needs no session (a Maildir's stale tmp/ files).
     * The core calls it for every pooled shared instance about once an hour
     * (pinst_pool_maintain, from its poller), under the instance's lock; a
     * kind that wants it at start too does it in its own logon. It must not
     * change the status. NULL: none. */
    void (*maintain)(void *state);

    /* The identity this provider supplies; S_OK (fields may stay NULL) or
     * MAPI_E_NOT_FOUND. NULL: only the configured identity. */
    HRESULT (*identity)(void *state, const provider_config *cfg, provider_identity *out);

    /* ---- object access (NULL where the kind has no such objects) ---- */

    /* Store providers: the store object (OpenMsgStore; PR_ENTRYID, display
     * name, PR_DEFAULT_STORE ... ) and its folder hierarchy, one row per
     * folder (PR_ENTRYID, PR_DISPLAY_NAME, PR_CONTENT_COUNT,
     * PR_CONTENT_UNREAD, PR_SUBFOLDERS). MAPI_E_NETWORK_ERROR or
     * MAPI_E_CALL_FAILED when the store cannot be read now. */
    HRESULT (*store)(void *state, mapi_object *store, mapi_rows *folders);

    /* Store providers: the contents table of one folder (key 'F'+name):
     * one MAPI_MESSAGE row per message (PR_ENTRYID, PR_SUBJECT,
     * PR_SENDER_NAME, PR_SENDER_EMAIL_ADDRESS, PR_MESSAGE_DELIVERY_TIME,
     * PR_MESSAGE_SIZE, PR_MESSAGE_FLAGS), newest first: the messages at
     * places offset .. offset + max - 1 of that order (a message that cannot
     * be read keeps its place but yields no row), and *total the number of
     * places (PROVIDER_TOTAL_UNKNOWN when the kind cannot tell).
     * MAPI_E_NOT_FOUND for a key that names no folder. */
    HRESULT(*contents)
    (void *state, const uint8_t *folder_key, size_t key_len, size_t offset, size_t max,
     mapi_rows *out, size_t *total);

    /* Address-book providers: the container (PR_ENTRYID, display name,
     * PR_CONTENT_COUNT) and its entries (MAPI_MAILUSER rows: PR_ENTRYID,
     * PR_DISPLAY_NAME, PR_ADDRTYPE, PR_EMAIL_ADDRESS, PR_SEARCH_KEY),
     * filtered by a case-insensitive substring of display name or address
     * when search is not NULL, in a stable order: those at places offset ..
     * offset + max - 1 (max may be 0: the total alone), and *total the
     * number of matching places. The core pages across several books by
     * these totals, so a kind must know it. */
    HRESULT(*address_book)
    (void *state, const char *search, size_t offset, size_t max, mapi_object *container,
     mapi_rows *entries, size_t *total);

    /* OpenEntry on one of this provider's entry ids: key is what follows the
     * 20-byte header (entryid.h conventions). MAPI_E_NOT_FOUND when the
     * provider has no such object. */
    HRESULT (*open_entry)(void *state, const uint8_t *key, size_t key_len, mapi_object *out);

    /* ---- the spooler (session_submit.c; NULL where the kind has none) ---- */

    /* Transports: whether recipients of this address type (PR_ADDRTYPE,
     * compared case-insensitively) are this transport's to send, as a MAPI
     * transport registers its address types with the spooler. */
    bool (*handles)(void *state, const char *addrtype);

    /* Transports: queues msg (an RFC 5322 message headed by the spooler's
     * X-Mapigw-Rcpt / X-Mapigw-Outbox / X-Mapigw-Options fields, which are
     * never sent) durably; S_OK once it would survive a crash. The
     * transport delivers it later (poll, FlushQueues). why: a reason. */
    HRESULT (*submit)(void *state, const char *msg, size_t len, char *why, size_t whylen);

    /* Transports: the messages waiting in the outbound queue as last
     * counted (no I/O), for the spooler's row; -1 when unknown. */
    long (*queued)(void *state);

    /* Transports: whether the next poll will send queued messages (cheap,
     * no I/O), so the core can show STATUS_OUTBOUND_ACTIVE while it does. */
    bool (*sending_due)(void *state);

    /* Transports: moves up to max finished deliveries of spooler-queued
     * messages into out (the caller's), oldest first; returns how many. */
    size_t (*take_outcomes)(void *state, provider_outcome *out, size_t max);

    /* Stores: writes msg as a new message of folder ("INBOX", "Outbox",
     * "Sent Items"; created when missing); its name (at most 127 bytes) into
     * name. Durable (written, synced, renamed) when it returns S_OK. */
    HRESULT(*put_message)
    (void *state, const char *folder, const char *msg, size_t len, char *name, size_t namelen);
    /* Stores: moves message name of folder from into folder to (created when
     * missing); to NULL deletes it. MAPI_E_NOT_FOUND when it is not there. */
    HRESULT (*move_message)(void *state, const char *from, const char *name, const char *to);
    /* Stores: the entry id key of message name in folder (*key malloc'd,
     * the caller's), so the client can open what it submitted. */
    HRESULT(*message_key)
    (void *state, const char *folder, const char *name, uint8_t **key, size_t *key_len);

    /* CompareEntryIDs for two keys of this provider; NULL: byte equality. */
    bool (*same_entry)(void *state, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
} provider_ops;

/* The most kinds providers/providers.h may register: the room of the core's
 * per-kind counters (session_stats.c, /metrics). provider.c checks it when it
 * compiles, so a kind cannot go uncounted. */
#define PROVIDER_KIND_MAX 16

/* The built-in kind with that name, or NULL. */
const provider_ops *provider_kind_find(const char *kind);
/* The built-in kinds in their order in providers/providers.h, 0 ..
 * provider_kind_count() - 1 (for per-kind counters), and ops's place in it:
 * SIZE_MAX for a kind that is not built in. */
size_t provider_kind_count(void);
const provider_ops *provider_kind_at(size_t i);
size_t provider_kind_index(const provider_ops *ops);
