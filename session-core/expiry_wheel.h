/* expiry_wheel.h - when to look at a session again: a timing wheel of
 * one-second slots.
 *
 * The reaper must not walk every session to find the few whose time has
 * come: with a million of them the walk held the session store's write lock
 * long enough to show in every request's tail latency. Each session sits in
 * the slot of the second its deadline fell due when last scheduled; uses
 * move the deadline later without touching the wheel (a use is on every
 * request's path), so a session found in a due slot is checked and, if it
 * was used meanwhile, put back at its new deadline. A sweep costs the
 * sessions due since the last one, not the sessions held.
 *
 * Nodes are intrusive (the caller's record holds one); the wheel owns
 * nothing. Thread-safety: none; the owner locks (session_store.c holds its
 * write lock).
 */
#pragma once

#include <stddef.h>
#include <time.h>

#define EXPIRY_WHEEL_SLOTS 4096

typedef struct wheel_node {
    struct wheel_node *prev, *next;
    time_t due;
} wheel_node;

typedef struct {
    wheel_node *slots[EXPIRY_WHEEL_SLOTS];
    time_t swept; /* every slot up to this second has been looked at */
} expiry_wheel;

void wheel_init(expiry_wheel *w, time_t now);
void wheel_insert(expiry_wheel *w, wheel_node *n, time_t due);
/* Takes n out; a node not in the wheel (handed over by wheel_advance and not
 * put back) is left alone. */
void wheel_remove(expiry_wheel *w, wheel_node *n);
/* Takes every node due at or before now out of the wheel and calls fn on
 * it; fn may insert it again (at a later second). Returns how many. */
size_t wheel_advance(expiry_wheel *w, time_t now, void (*fn)(wheel_node *n, void *ctx), void *ctx);
