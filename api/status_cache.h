/* status_cache.h - rendered GET /status bodies, kept per (session, version,
 * query) so that polling a table that has not changed costs a copy instead of
 * a render.
 *
 * A body is found only by the session id it was rendered for (compared in
 * full), the table version it shows and the query variant (resource_type,
 * columns): one session is never served another's rows, even when their
 * profiles share the rows (they differ in instance keys and entry ids).
 * The cache is a fixed number of slots, each holding one body; a new body
 * replaces whatever its slot held. Bounded: STATUS_CACHE_SLOTS bodies.
 *
 * Thread-safety: every function but new/free may be called concurrently;
 * slots are locked in stripes.
 */
#pragma once

#include "../session-core/token.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATUS_CACHE_SLOTS 4096

typedef struct status_cache status_cache;

status_cache *status_cache_new(void); /* NULL when out of memory */
void status_cache_free(status_cache *c);

/* Copies the body into buf (allocated with alloc, the caller's) when the slot
 * holds it: true and *len; false otherwise (or when alloc fails). */
bool status_cache_get(status_cache *c, const char *session_id, uint64_t version, uint64_t variant,
                      char *(*alloc)(size_t), char **buf, size_t *len);
/* Keeps a copy of body for later gets (nothing when out of memory). */
void status_cache_put(status_cache *c, const char *session_id, uint64_t version, uint64_t variant,
                      const char *body, size_t len);
