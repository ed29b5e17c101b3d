/* throttle.h - slows down repeated failed password checks (logons and
 * change-password), per (profile, client) and per client.
 *
 * Two budgets, both counted by throttle_failure:
 * - (profile name, client): after `threshold` failures in a row the key is
 *   blocked for 1 s, then 2, 4, ... up to max_delay_s with each further
 *   failure; a success clears it. Guessing one profile's password is slow,
 *   and the owner logging on from another address is not slowed.
 * - client alone, whatever the profile name: after `client_threshold`
 *   failures the client is blocked the same way, for every profile. Its count
 *   leaks one failure per THROTTLE_CLIENT_LEAK_S and a success does not clear
 *   it (an attacker's own valid account must not refill its budget), so
 *   spraying made-up or real profile names from one address is slowed too.
 * A client is an IPv4 address, or an IPv6 address's /64 prefix (one host
 * usually owns a whole /64); IPv4-mapped IPv6 addresses count as IPv4.
 *
 * The table is bounded (max_entries) and a full table never means "no
 * limit": a new key evicts an old one in O(1). Keys below their threshold
 * go first, least recently failed first; keys at or past it (the ones being
 * throttled) go only when nothing else is left, oldest failure first. So to
 * push a throttled key out, an attacker must first make every key of the
 * table a throttled one: max_entries x threshold failed checks within that
 * key's idle time. Keys idle for 15 minutes (and no longer blocked) are swept.
 * Keys hash with a secret per-table SipHash key into 16 independently locked
 * stripes: nobody can aim keys at one stripe or one bucket, and no call scans
 * the table.
 *
 * Thread-safety: every function may be called concurrently.
 */
#pragma once

#include <stddef.h>
#include <time.h>

#define THROTTLE_CLIENT_LEAK_S 60

typedef struct throttle throttle;

/* The client as the budgets see it (an IPv6 address's /64, the IPv4
 * address inside an IPv4-mapped one, anything else as given): buf or client
 * itself; "" for NULL. For budgets kept elsewhere (shared_store.h). */
#define THROTTLE_CLIENT_ID_MAX 64
const char *throttle_client_id(const char *client, char buf[THROTTLE_CLIENT_ID_MAX]);

/* NULL when out of memory. Zero thresholds and delays count as 1. */
throttle *throttle_new(unsigned threshold, unsigned client_threshold, unsigned max_delay_s,
                       size_t max_entries);
void throttle_free(throttle *t);

/* 0 when the key may try now; otherwise how many seconds it must wait (the
 * longer of the two budgets). A NULL profile or client counts as "". */
unsigned throttle_check(throttle *t, const char *profile, const char *client, time_t now);
void throttle_failure(throttle *t, const char *profile, const char *client, time_t now);
/* Clears the (profile, client) key; the client's own budget stays. */
void throttle_success(throttle *t, const char *profile, const char *client);
/* Drops keys without a failure for 15 minutes whose block has ended. */
void throttle_sweep(throttle *t, time_t now);
/* How many keys the table holds (both kinds). */
size_t throttle_size(throttle *t);
