/* guard.h - the start-up guard against well-known credentials: a profile anyone can log on to -
 * `auth: none`, or the demo profile's published argon2id verifier (server/profiles.default.json,
 * password "demo") - must not be served on an address other machines can
 * reach unless the operator opted in (--allow-insecure-profiles). main.c
 * asks at start-up (exit 2) and on every SIGHUP reload (the reload is
 * refused and the loaded profiles stay).
 *
 * The demo verifier is recognised by its exact text: a copy of the shipped
 * file, under any profile name, is caught; a profile whose password was
 * hashed again (a new salt) is the operator's own choice and is not.
 *
 * Thread-safety: pure functions of their arguments.
 */
#pragma once

#include "../session-core/profile.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether addr (an IPv4 or IPv6 literal, as validated by config.c) is a
 * loopback address: 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address. The
 * wildcard addresses (0.0.0.0, ::) are not. */
bool guard_is_loopback(const char *addr);

/* The profiles of st that anyone can log on to, as a list for messages
 * ("profile \"demo\" (the published demo password), profile \"x\" (auth:
 * none)", cut short with ", ..." when out is full). Returns how many; out is
 * "" when none. */
size_t guard_open_profiles(const profile_store *st, char *out, size_t cap);
