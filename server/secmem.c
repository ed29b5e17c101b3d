/* secmem.c - the wiping allocator (see secmem.h). */
#include "secmem.h"

#include <jansson.h>
#include <sodium.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Before each block: its size, and a check word tying the size to the
 * block's address, so that a pointer secmem did not hand out (or one it
 * already took back: the wipe clears the header too) is caught instead of
 * trusted. alignas keeps the block after it aligned as malloc's are. */
typedef struct {
    alignas(max_align_t) size_t size;
    uintptr_t check;
} header;

#define CHECK_KEY ((uintptr_t)0x5ec3e3a1c0ffee11u)

static secmem_release_hook release_hook;

static uintptr_t check_of(const header *h) { return (uintptr_t)h ^ h->size ^ CHECK_KEY; }

void *secmem_alloc(size_t n)
{
    if (n > SIZE_MAX - sizeof(header))
        return NULL;
    header *h = malloc(sizeof(header) + n);
    if (!h)
        return NULL;
    h->size = n;
    h->check = check_of(h);
    return h + 1;
}

static header *header_of(void *p)
{
    header *h = (header *)p - 1;
    if (h->check != check_of(h))
        abort(); /* not a secmem block, or freed twice: the heap is not ours to trust */
    return h;
}

void secmem_free(void *p)
{
    if (!p)
        return;
    header *h = header_of(p);
    size_t n = h->size;
    sodium_memzero(h, sizeof(header) + n);
    if (release_hook)
        release_hook(p, n);
    free(h);
}

void *secmem_grow(void *p, size_t keep, size_t n)
{
    if (p ? keep > header_of(p)->size : keep > 0)
        abort(); /* a caller's bug: it would copy past the block */
    if (keep > n)
        keep = n;
    void *grown = secmem_alloc(n);
    if (!grown)
        return NULL;
    if (keep)
        memcpy(grown, p, keep);
    secmem_free(p);
    return grown;
}

void secmem_install(void) { json_set_alloc_funcs(secmem_alloc, secmem_free); }

void secmem_set_release_hook(secmem_release_hook hook) { release_hook = hook; }
