/* secmem.h - the gateway's secrets policy for heap memory: a wiping allocator.
 *
 * Policy. Memory that may hold a password or a token because of what a
 * client sent or is sent is allocated here, and every block is zeroed
 * (sodium_memzero, its whole size) before it goes back to malloc. That is:
 *   - the request body (httpd.c: logon and change-password bodies carry
 *     passwords), and the copy of each answer handed to libmicrohttpd (the
 *     logon answer carries the new token);
 *   - everything jansson allocates (main installs secmem as jansson's
 *     allocator before anything else runs): the parsed request bodies, the
 *     parser's buffers, and the answer texts the api writes through jansson's
 *     allocator (api/json_write.h). So no call site has to wipe those.
 * A block that grows is copied into a new block and the old one wiped
 * (secmem_grow): never realloc, which may leave the old bytes behind.
 *
 * Not covered, so wiped by hand where they live (each such sodium_memzero
 * says why): secrets outside these blocks - stack buffers, the token of a
 * logon result, hashes and verifiers, a provider's copy of its password, the
 * admin key - and memory libraries own (libmicrohttpd's connection buffers,
 * where request bytes arrive; libcurl's).
 *
 * Why size-prefixed malloc and not sodium_malloc: docs/DECISIONS.md
 * ("Secrets in memory").
 *
 * Ownership: a block from secmem_alloc/secmem_grow is released only with
 * secmem_free or secmem_grow, never free(): its size lives in a header just
 * before it. A header that is not the block's own (a malloc'd pointer, a
 * double free) aborts the process rather than corrupt the heap.
 *
 * Thread-safety: alloc, grow and free from any thread. secmem_install and
 * secmem_set_release_hook once, before any other thread exists (and, for
 * secmem_install, before anything has allocated through jansson).
 */
#pragma once

#include <stddef.h>

/* n bytes (n may be 0), aligned for any type; NULL when out of memory. */
void *secmem_alloc(size_t n);

/* Zeroes the whole block, then frees it. NULL is fine. */
void secmem_free(void *p);

/* A block of n bytes that starts with the first keep bytes of p (keep at
 * most p's size, cut to n; p may be NULL when keep is 0); p is wiped and freed.
 * NULL when out of memory: p is then left as it was, still the caller's. */
void *secmem_grow(void *p, size_t keep, size_t n);

/* Makes secmem jansson's allocator (json_set_alloc_funcs). */
void secmem_install(void);

/* Tests only: hook(block, n) is called for every block being released, after
 * it was wiped and before free(), so a test can see what goes back to malloc.
 * NULL removes it. */
typedef void (*secmem_release_hook)(const void *block, size_t n);
void secmem_set_release_hook(secmem_release_hook hook);
