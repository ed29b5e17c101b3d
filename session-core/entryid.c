#include "entryid.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

HRESULT entryid_build(const uint8_t uid[MAPIUID_LEN], const void *key, size_t key_len,
                      uint8_t **out, size_t *out_len)
{
    if (key_len > ENTRYID_MAX_LEN - ENTRYID_HEADER_LEN)
        return MAPI_E_INVALID_PARAMETER;
    uint8_t *e = malloc(ENTRYID_HEADER_LEN + key_len);
    if (!e)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    memset(e, 0, 4);
    memcpy(e + 4, uid, MAPIUID_LEN);
    if (key_len)
        memcpy(e + ENTRYID_HEADER_LEN, key, key_len);
    *out = e;
    *out_len = ENTRYID_HEADER_LEN + key_len;
    return S_OK;
}

bool entryid_split(const uint8_t *eid, size_t len, const uint8_t **uid, const uint8_t **key,
                   size_t *key_len)
{
    if (len < ENTRYID_HEADER_LEN || len > ENTRYID_MAX_LEN)
        return false;
    if (eid[0] | eid[1] | eid[2] | eid[3])
        return false; /* MAPI's flag bytes: long-term ids only */
    *uid = eid + 4;
    *key = eid + ENTRYID_HEADER_LEN;
    *key_len = len - ENTRYID_HEADER_LEN;
    return true;
}

void entryid_provider_uid(const char *profile, size_t service, size_t provider,
                          uint8_t out[MAPIUID_LEN])
{
    /* The name and the position are what makes a provider itself: a
     * changed profiles file that moves a provider gives it new entry ids. */
    char where[64];
    int n = snprintf(where, sizeof where, "\n%zu\n%zu", service, provider);
    crypto_hash_sha256_state st;
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)"mapigw-provider\n", 16);
    crypto_hash_sha256_update(&st, (const uint8_t *)profile, strlen(profile));
    crypto_hash_sha256_update(&st, (const uint8_t *)where, (size_t)n);
    crypto_hash_sha256_final(&st, digest);
    memcpy(out, digest, MAPIUID_LEN);
}

static char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

HRESULT search_key_build(const char *addrtype, const char *address, uint8_t **out, size_t *out_len)
{
    const char *t = addrtype ? addrtype : "";
    const char *a = address ? address : "";
    size_t tlen = strlen(t), alen = strlen(a);
    size_t len = tlen + 1 + alen + 1; /* ':' and MAPI's terminating NUL */
    *out = NULL;
    *out_len = 0;
    uint8_t *buf = malloc(len);
    if (!buf)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    size_t o = 0;
    /* Only ASCII letters change: MAPI upper-cases with the C locale, and
     * non-ASCII bytes of UTF-8 must stay intact. */
    for (size_t i = 0; i < tlen; i++)
        buf[o++] = (uint8_t)ascii_upper(t[i]);
    buf[o++] = ':';
    for (size_t i = 0; i < alen; i++)
        buf[o++] = (uint8_t)ascii_upper(a[i]);
    buf[o++] = '\0';
    *out = buf;
    *out_len = len;
    return S_OK;
}
