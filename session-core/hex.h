/* hex.h - binary MAPI values (entry ids, search keys, instance keys) as
 * upper-case hex strings, the form docs/contract/http.md 1.4 renders them in. Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes 2*len upper-case hex digits and a NUL to out (2*len+1 bytes). */
void hex_encode(const uint8_t *data, size_t len, char *out);
/* malloc'd string, or NULL when out of memory. The caller frees it. */
char *hex_encode_alloc(const uint8_t *data, size_t len);
/* Decodes exactly 2*outlen hex digits (either case) from s of length slen.
 * false on a wrong length or a non-hex character. */
bool hex_decode(const char *s, size_t slen, uint8_t *out, size_t outlen);
