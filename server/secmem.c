/* secmem.c - the wiping allocator (see secmem.h). */
#include "secmem.h"

#include <jansson.h>
#include <sodium.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Each block: its size, and a check word tying the size to the block's
 * address, so that a pointer secmem did not hand out (or one it already took
 * back: the wipe clears the header too) is caught instead of trusted; then
 * the caller's bytes, aligned as malloc's are. */
typedef struct {
    size_t size;
    uintptr_t check;
    alignas(max_align_t) unsigned char bytes[];
} block;

#define CHECK_KEY ((uintptr_t)0x5ec3e3a1c0ffee11u)

static secmem_release_hook release_hook;

static uintptr_t check_of(const block *b) { return (uintptr_t)b ^ b->size ^ CHECK_KEY; }

/* gcc 12's -fanalyzer sees only the pointer into the block that this
 * returns and reports the block as leaked; secmem_free finds it again from
 * that pointer (the ASan suites, LeakSanitizer on, report no leak). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
void *secmem_alloc(size_t n)
{
    if (n > SIZE_MAX - sizeof(block))
        return NULL;
    block *b = malloc(sizeof(block) + n);
    if (!b)
        return NULL;
    b->size = n;
    b->check = check_of(b);
    return b->bytes;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static block *block_of(void *p)
{
    block *b = (block *)(void *)((unsigned char *)p - offsetof(block, bytes));
    if (b->check != check_of(b))
        abort(); /* not a secmem block, or freed twice: the heap is not ours to trust */
    return b;
}

void secmem_free(void *p)
{
    if (!p)
        return;
    block *b = block_of(p);
    size_t n = b->size;
    sodium_memzero(b, sizeof(block) + n);
    if (release_hook)
        release_hook(p, n);
    free(b);
}

void *secmem_grow(void *p, size_t keep, size_t n)
{
    if (p ? keep > block_of(p)->size : keep > 0)
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
