/* identity.h - the session's primary identity (IMAPISession::QueryIdentity)
 * and MAPI one-off entry ids.
 *
 * Selection (docs/contract/mapi.md 5): the STATUS_PRIMARY_IDENTITY row's identity; a
 * one-off entry id built from that row when it publishes none. When no row is
 * flagged: the first row, in table order, that publishes an identity entry
 * id; only when no row publishes one, a one-off entry id built from the first
 * row with an identity. MAPI_W_NO_SERVICE with a placeholder one-off entry id
 * when nobody supplies one. Thread-safe: pure functions.
 */
#pragma once

#include "entryid.h"
#include "hresult.h"
#include "status_row.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The one-off provider's MAPIUID, 812B1FA4BEA310199D6E00DD010F5402. */
extern const uint8_t MAPI_ONE_OFF_UID[16];
#define MAPI_ONE_OFF_UNICODE 0x8000u

typedef struct {
    HRESULT hr; /* S_OK or MAPI_W_NO_SERVICE */
    uint8_t *entry_id;
    size_t entry_id_len;
    char *display;
    uint8_t *search_key;
    size_t search_key_len;
    bool has_source; /* false with the placeholder */
    uint8_t source_instance_key[STATUS_INSTANCE_KEY_LEN];
    char *source_display_name;
} identity;

/* Selects the identity from the table's rows into *out (owned by the caller:
 * identity_clear). Returns S_OK or MAPI_W_NO_SERVICE (also in out->hr), or
 * MAPI_E_NOT_ENOUGH_MEMORY. */
HRESULT identity_query(const status_table *table, identity *out);
void identity_clear(identity *id);

/* The index of the row QueryIdentity takes the identity from (the selection
 * above), or SIZE_MAX for the placeholder. */
size_t identity_source(const status_row *rows, size_t count);

/* MAPI's identity rule: all providers of the supplier's message service
 * publish the same identity. Copies the supplying row's identity columns to
 * every other row of its service; service[i] is row i's service (SIZE_MAX for
 * MAPI's own rows). The rows that take them are marked identity_shared and
 * never become the source themselves, so the selection is the same after as
 * before. S_OK or MAPI_E_NOT_ENOUGH_MEMORY (rows then partly updated: the
 * caller drops them). */
HRESULT identity_share_service(status_row *rows, size_t count, const size_t *service);

/* MAPI's one-off entry id: 4 zero flag bytes, MAPI_ONE_OFF_UID, version 0
 * (2 bytes), flags MAPI_ONE_OFF_UNICODE (2 bytes, little-endian), then display
 * name, address type and address as NUL-terminated UTF-16LE. The strings are
 * UTF-8; *out is malloc'd and the caller's. MAPI_E_INVALID_PARAMETER for
 * invalid UTF-8. */
HRESULT entryid_one_off(const char *display, const char *addrtype, const char *address,
                        uint8_t **out, size_t *out_len);
