/* status_row.h - one row of a session's status table, as plain data.
 *
 * A status_row is a value: the session hands out copies (session_status_table)
 * that the caller owns and frees with status_table_free. Nothing in it points
 * into the session. Columns follow docs/contract/mapi.md section 6.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATUS_INSTANCE_KEY_LEN 8
#define STATUS_ENTRY_ID_LEN 28 /* 4 flag bytes, 16-byte MAPIUID, 8-byte instance key */

/* PR_INSTANCE_KEY of a row, 8 bytes big-endian: the serial of the session
 * that hands it out, then STATUS_ROW_INDEX_BITS of the row's place in its
 * table. Serials are never reused, so neither are keys. Rows kept in a view
 * (shared by the sessions of a profile) hold serial 0; the session puts its
 * own in when it copies one out. The one encoding, here and nowhere else. */
#define STATUS_ROW_INDEX_BITS 16
void status_instance_key(uint64_t serial, size_t index, uint8_t ik[STATUS_INSTANCE_KEY_LEN]);
/* The serial and the row index of a key (either pointer may be NULL). */
void status_instance_key_split(const uint8_t ik[STATUS_INSTANCE_KEY_LEN], uint64_t *serial,
                               size_t *index);

typedef struct {
    uint8_t instance_key[STATUS_INSTANCE_KEY_LEN]; /* PR_INSTANCE_KEY, never reused */
    uint32_t row_id;                               /* PR_ROWID: position in the table */
    uint8_t entry_id[STATUS_ENTRY_ID_LEN];         /* PR_ENTRYID: opens the status object */
    uint32_t object_type;                          /* PR_OBJECT_TYPE: always MAPI_STATUS */
    char *display_name;                            /* PR_DISPLAY_NAME */
    char *provider_display;                        /* PR_PROVIDER_DISPLAY */
    char *provider_dll_name;                       /* PR_PROVIDER_DLL_NAME */
    uint32_t resource_type;                        /* PR_RESOURCE_TYPE */
    uint32_t resource_flags;                       /* PR_RESOURCE_FLAGS */
    uint32_t resource_methods;                     /* PR_RESOURCE_METHODS */
    uint32_t status_code;                          /* PR_STATUS_CODE */
    char *status_string;                           /* PR_STATUS_STRING, may be NULL */
    char *resource_path;                           /* PR_RESOURCE_PATH, may be NULL */
    /* PR_IDENTITY_*: has_identity false means none of them. identity_entry_id
     * may still be NULL for a provider that publishes a name and address but
     * no entry id (QueryIdentity then builds a one-off entry id). */
    bool has_identity;
    char *identity_display;
    char *identity_addrtype; /* not a MAPI column: what a one-off entry id needs */
    char *identity_address;
    uint8_t *identity_entry_id;
    size_t identity_entry_id_len;
    uint8_t *identity_search_key;
    size_t identity_search_key_len;
    /* The columns repeat the identity of another provider of the same
     * message service (identity_share_service): this row shows it but does
     * not supply it. */
    bool identity_shared;
} status_row;

typedef struct {
    status_row *rows;
    size_t count;
    uint64_t version; /* changes whenever any row changes: the ETag */
} status_table;

/* Frees the rows' strings and buffers and the array; the struct itself is the
 * caller's. NULL is fine. */
void status_table_free(status_table *t);
/* Deep-copies one row into *dst (zeroed first). 0, or -1 when out of memory
 * (then *dst holds nothing to free). */
int status_row_copy(status_row *dst, const status_row *src);
void status_row_clear(status_row *r);
/* Replaces dst's identity columns (has_identity and the PR_IDENTITY_* values
 * with their address) by copies of src's. 0, or -1 when out of memory (then
 * dst has no identity). */
int status_row_copy_identity(status_row *dst, const status_row *src);
