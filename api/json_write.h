/* json_write.h - compact JSON text of a jansson value, fast.
 *
 * jansson's json_dumpb walks strings through a callback per piece and was
 * the largest cost of a small answer (a third of GET /identity's
 * instructions). This writer produces the same bytes as
 * json_dumpb(JSON_COMPACT) for every value the API builds: objects in
 * insertion order, strings as UTF-8 with '"', '\\' and control characters
 * escaped, integers in decimal; reals are handed to jansson.
 *
 * Thread-safety: reentrant; the value must not change while written.
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

/* A malloc'd, NUL-terminated text (the caller frees it) and its length in
 * *len; NULL when out of memory or when json is NULL. */
char *json_write_compact(const json_t *json, size_t *len);
