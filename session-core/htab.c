#include "htab.h"

#include <stdlib.h>

#define HTAB_MIN_BUCKETS 64

void htab_init(htab *t)
{
    t->buckets = NULL;
    t->nbuckets = 0;
    t->count = 0;
}

void htab_destroy(htab *t)
{
    free(t->buckets);
    htab_init(t);
}

static bool grow(htab *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : HTAB_MIN_BUCKETS;
    htab_node **b = calloc(n, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < t->nbuckets; i++) {
        htab_node *node = t->buckets[i];
        while (node) {
            htab_node *next = node->next;
            size_t j = node->hash & (n - 1);
            node->next = b[j];
            b[j] = node;
            node = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return true;
}

bool htab_insert(htab *t, htab_node *node, uint64_t hash)
{
    /* Growing is best effort once the table exists: a full table still works,
     * only slower, so running out of memory here is not an error. */
    if (t->count >= t->nbuckets && !grow(t) && t->nbuckets == 0)
        return false;
    size_t i = hash & (t->nbuckets - 1);
    node->hash = hash;
    node->next = t->buckets[i];
    t->buckets[i] = node;
    t->count++;
    return true;
}

htab_node *htab_find(const htab *t, uint64_t hash, const void *key, htab_eq_fn eq)
{
    if (t->nbuckets == 0)
        return NULL;
    for (htab_node *n = t->buckets[hash & (t->nbuckets - 1)]; n; n = n->next)
        if (n->hash == hash && eq(n, key))
            return n;
    return NULL;
}

void htab_remove(htab *t, htab_node *node)
{
    htab_node **p = &t->buckets[node->hash & (t->nbuckets - 1)];
    while (*p && *p != node)
        p = &(*p)->next;
    if (*p) {
        *p = node->next;
        node->next = NULL;
        t->count--;
    }
}

void htab_foreach(const htab *t, void (*fn)(htab_node *node, void *ctx), void *ctx)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (htab_node *n = t->buckets[i], *next; n; n = next) {
            next = n->next; /* fn may free n */
            fn(n, ctx);
        }
}

uint64_t htab_hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}
