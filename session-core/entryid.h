/* entryid.h - the gateway's entry ids, provider MAPIUIDs and search keys.
 *
 * As in MAPI, an entry id starts with 4 flag bytes (zero) and the MAPIUID of
 * the provider that owns the object; the rest is the provider's own key.
 * OpenEntry picks the provider by that MAPIUID. Each provider instance of a
 * profile has its own MAPIUID, derived from the profile name and the
 * provider's place in it, so entry ids stay valid across sessions of the same
 * profile and never open anything in another profile's providers.
 *
 * Key conventions of the built-in kinds (first key byte = what it names):
 *   (empty)   the provider's root object: the message store or AB container
 *   'F' name  a folder (UTF-8 folder name, "INBOX" for a Maildir's top)
 *   'M' folder NUL id   a message (id: Maildir base name or IMAP UID)
 *   'E' key   an address-book entry (abfile: "ADDRTYPE:address"; ldap: the DN)
 *
 * Thread-safety: pure functions.
 */
#pragma once

#include "hresult.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAPIUID_LEN 16
#define ENTRYID_HEADER_LEN (4 + MAPIUID_LEN)
#define ENTRYID_MAX_LEN 4096 /* longer ids are malformed (MAPI_E_INVALID_ENTRYID) */

/* 4 zero bytes, uid, key. *out is malloc'd and the caller's. */
HRESULT entryid_build(const uint8_t uid[MAPIUID_LEN], const void *key, size_t key_len,
                      uint8_t **out, size_t *out_len);

/* Splits an entry id: false when it is too short, too long or its flag bytes
 * are not zero (MAPI_E_INVALID_ENTRYID). *uid and *key point into eid. */
bool entryid_split(const uint8_t *eid, size_t len, const uint8_t **uid, const uint8_t **key,
                   size_t *key_len);

/* The MAPIUID of provider `provider` of service `service` in profile `profile`
 * (the first 16 bytes of SHA-256 over them). */
void entryid_provider_uid(const char *profile, size_t service, size_t provider,
                          uint8_t out[MAPIUID_LEN]);

/* PR_SEARCH_KEY of an address: "ADDRTYPE:ADDRESS" upper-cased (ASCII letters)
 * with its terminating NUL byte, as MAPI builds it. *out is malloc'd. */
HRESULT search_key_build(const char *addrtype, const char *address, uint8_t **out, size_t *out_len);
