/* token.h - bearer tokens: the session handles.
 *
 * A token is "mgw_" followed by 43 base64url characters: 256 bits from the OS
 * CSPRNG (getrandom). The gateway keeps only its SHA-256 (token_hash) and
 * compares hashes in constant time. Tokens are never logged.
 * Thread-safe: no shared state.
 */
#pragma once

#include "hresult.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX "mgw_"
#define TOKEN_PREFIX_LEN 4
#define TOKEN_RANDOM_BYTES 32
#define TOKEN_STRING_LEN (TOKEN_PREFIX_LEN + 43)
#define TOKEN_HASH_LEN 32
#define SESSION_ID_LEN 32 /* 128 random bits as lower-case hex; public */

typedef struct {
    uint8_t bytes[TOKEN_HASH_LEN];
} token_hash;

/* A new token: out receives TOKEN_STRING_LEN characters and a NUL; *hash its
 * hash. MAPI_E_CALL_FAILED when the CSPRNG fails. */
HRESULT token_new(char out[TOKEN_STRING_LEN + 1], token_hash *hash);

/* Checks the token's form (prefix, length, alphabet) and hashes it; false for
 * anything that cannot be a token. Runs in time independent of where a
 * malformed token goes wrong only up to its length, which is not secret. */
bool token_parse(const char *s, size_t len, token_hash *hash);

/* Constant-time comparison. */
bool token_hash_equal(const token_hash *a, const token_hash *b);

/* A new public session id: SESSION_ID_LEN lower-case hex characters and a NUL. */
HRESULT session_id_new(char out[SESSION_ID_LEN + 1]);

/* Fills buf with len bytes from the OS CSPRNG; S_OK or MAPI_E_CALL_FAILED. */
HRESULT random_bytes(void *buf, size_t len);

/* Constant-time equality of two byte strings of possibly different lengths
 * (the length itself is not hidden). For admin keys. */
bool secret_equal(const char *a, size_t alen, const char *b, size_t blen);
