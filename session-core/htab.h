/* htab.h - an intrusive chained hash table, the building block of the session
 * store, the view tables and the throttle.
 *
 * Nodes are embedded in the caller's structs (no allocation per entry); the
 * caller computes the hash and supplies the equality test. The table grows by
 * doubling when it holds more entries than buckets. Not thread-safe: the owner
 * locks around it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct htab_node {
    struct htab_node *next;
    uint64_t hash;
} htab_node;

typedef struct {
    htab_node **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first insert */
    size_t count;
} htab;

/* key is passed through to eq(node, key). */
typedef bool (*htab_eq_fn)(const htab_node *node, const void *key);

void htab_init(htab *t);
void htab_destroy(htab *t); /* frees the buckets, not the nodes */
/* false when out of memory (the node is then not inserted). */
bool htab_insert(htab *t, htab_node *node, uint64_t hash);
htab_node *htab_find(const htab *t, uint64_t hash, const void *key, htab_eq_fn eq);
/* Unlinks node (which must be in t). */
void htab_remove(htab *t, htab_node *node);

/* Calls fn on every node; fn may free the node it is given (when the table
 * is about to be destroyed) but not otherwise change the table. */
void htab_foreach(const htab *t, void (*fn)(htab_node *node, void *ctx), void *ctx);

/* FNV-1a over bytes, for string keys. */
uint64_t htab_hash_bytes(const void *data, size_t len);
