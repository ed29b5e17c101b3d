/* throttle.h - slows down repeated failed logons per (profile, client address).
 *
 * After `threshold` failures in a row for one key, the key is blocked for 1 s,
 * then 2, 4, ... up to max_delay_s with each further failure; a success clears
 * the key. Other keys are never slowed, so one client guessing passwords does
 * not lock the profile's owner out from another address. The table is bounded
 * (max_entries); keys idle for 15 minutes are swept.
 *
 * Thread-safety: every function may be called concurrently.
 */
#pragma once

#include <stddef.h>
#include <time.h>

typedef struct throttle throttle;

/* NULL when out of memory. */
throttle *throttle_new(unsigned threshold, unsigned max_delay_s, size_t max_entries);
void throttle_free(throttle *t);

/* 0 when the key may try now; otherwise how many seconds it must wait. A
 * NULL profile or client counts as "". */
unsigned throttle_check(throttle *t, const char *profile, const char *client, time_t now);
void throttle_failure(throttle *t, const char *profile, const char *client, time_t now);
void throttle_success(throttle *t, const char *profile, const char *client);
/* Drops keys without a failure for 15 minutes. */
void throttle_sweep(throttle *t, time_t now);
