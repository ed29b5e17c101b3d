/* The wiping allocator (server/secmem.c): what goes back to malloc is zero,
 * a growing block leaves no copy behind, and once installed jansson's parser
 * and its values release their memory through it.
 *
 * The release hook sees every block after the wipe and before free(): each
 * test records what was released and checks it holds no byte of a secret.
 * Without the wipe in secmem_free these tests fail. */
#include "../../api/json_write.h"
#include "../../server/secmem.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEEN 256

static struct {
    const void *block[MAX_SEEN];
    size_t n[MAX_SEEN];
    size_t count;      /* blocks released */
    size_t bytes;      /* bytes released */
    size_t not_zero;   /* released blocks holding any non-zero byte */
    size_t big_blocks; /* released blocks of at least big_min bytes */
    size_t big_min;
} seen;

static void record(const void *block, size_t n)
{
    const unsigned char *b = block;
    for (size_t i = 0; i < n; i++)
        if (b[i]) {
            seen.not_zero++;
            break;
        }
    if (seen.count < MAX_SEEN) {
        seen.block[seen.count] = block;
        seen.n[seen.count] = n;
    }
    seen.count++;
    seen.bytes += n;
    if (seen.big_min && n >= seen.big_min)
        seen.big_blocks++;
}

/* Whether [p, p + len) lies inside one released block. */
static bool released(const void *p, size_t len)
{
    const char *c = p;
    for (size_t i = 0; i < seen.count && i < MAX_SEEN; i++) {
        const char *b = seen.block[i];
        if (c >= b && c + len <= b + seen.n[i])
            return true;
    }
    return false;
}

static void setup(void)
{
    memset(&seen, 0, sizeof seen);
    secmem_set_release_hook(record);
}

static void teardown(void) { secmem_set_release_hook(NULL); }

TestSuite(secmem, .init = setup, .fini = teardown);

static const char SECRET[] = "correct-horse-battery-staple-42";

Test(secmem, free_wipes_the_whole_block)
{
    char *p = secmem_alloc(100);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % alignof(max_align_t), 0, "not aligned as malloc's blocks are");
    memset(p, 'S', 100);
    secmem_free(p);
    cr_assert_eq(seen.count, 1);
    cr_assert_eq(seen.block[0], p);
    cr_assert_eq(seen.n[0], 100);
    cr_assert_eq(seen.not_zero, 0, "a block went back to malloc unwiped");

    secmem_free(NULL);
    cr_assert_eq(seen.count, 1, "free(NULL) released something");
    p = secmem_alloc(0);
    cr_assert_not_null(p);
    secmem_free(p);
    cr_assert_eq(seen.count, 2);
}

Test(secmem, grow_copies_and_wipes_the_old_block)
{
    char *p = secmem_alloc(sizeof SECRET);
    cr_assert_not_null(p);
    memcpy(p, SECRET, sizeof SECRET);
    char *q = secmem_grow(p, sizeof SECRET, 4096);
    cr_assert_not_null(q);
    cr_assert_eq(memcmp(q, SECRET, sizeof SECRET), 0, "the kept bytes were not copied");
    cr_assert_eq(seen.count, 1, "the old block was not released");
    cr_assert_eq(seen.block[0], p);
    cr_assert_eq(seen.n[0], sizeof SECRET);
    cr_assert_eq(seen.not_zero, 0, "the old block went back to malloc unwiped");
    memset(q + sizeof SECRET, 'x', 4096 - sizeof SECRET);
    secmem_free(q);
    cr_assert_eq(seen.count, 2);
    cr_assert_eq(seen.n[1], 4096);
    cr_assert_eq(seen.not_zero, 0);

    /* From nothing, as the request body starts. */
    q = secmem_grow(NULL, 0, 16);
    cr_assert_not_null(q);
    secmem_free(q);
}

Test(secmem, grow_failure_leaves_the_block_to_the_caller)
{
    char *p = secmem_alloc(8);
    cr_assert_not_null(p);
    memcpy(p, "1234567", 8);
    cr_assert_null(secmem_grow(p, 8, SIZE_MAX));
    cr_assert_eq(seen.count, 0, "a failed grow released the block");
    cr_assert_str_eq(p, "1234567");
    secmem_free(p);
}

Test(secmem, a_block_secmem_did_not_make_aborts, .signal = SIGABRT)
{
    secmem_set_release_hook(NULL);
    unsigned char *m = malloc(64);
    cr_assert_not_null(m);
    memset(m, 0xAB, 64);
    secmem_free(m + 32); /* its "header" is malloc'd bytes: refused */
}

Test(secmem, jansson_parser_and_values_release_through_it)
{
    secmem_install();
    char body[128];
    snprintf(body, sizeof body, "{\"profile\":\"p\",\"password\":\"%s\"}", SECRET);
    seen.big_min = sizeof SECRET;

    json_error_t err;
    json_t *root = json_loads(body, 0, &err);
    cr_assert_not_null(root, "%s", err.text);
    /* The lexer keeps each string's text in a buffer that grows and is freed
     * while parsing: released already, wiped. */
    cr_assert_gt(seen.big_blocks, 0, "no parser buffer that held the password went through");
    cr_assert_eq(seen.not_zero, 0, "the parser released a block unwiped");
    const char *pw = json_string_value(json_object_get(root, "password"));
    cr_assert_str_eq(pw, SECRET);

    memset(&seen, 0, sizeof seen); /* malloc may reuse a parser block for the value */
    json_decref(root);
    cr_assert(released(pw, sizeof SECRET), "the password's string was not released through secmem");
    cr_assert_eq(seen.not_zero, 0, "jansson released a block unwiped");
}

Test(secmem, answer_texts_release_through_it)
{
    secmem_install();
    json_t *o = json_pack("{s:s}", "token", SECRET);
    cr_assert_not_null(o);
    size_t len = 0;
    char *text = json_write_compact(o, &len);
    cr_assert_not_null(text);
    json_decref(o);
    cr_assert_not_null(strstr(text, SECRET));
    size_t before = seen.count;
    json_text_free(text);
    cr_assert_eq(seen.count, before + 1);
    cr_assert(released(text, len), "the answer text was not released through secmem");
    cr_assert_eq(seen.not_zero, 0);
}
