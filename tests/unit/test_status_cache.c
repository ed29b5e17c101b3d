/* test_status_cache.c - rendered GET /status bodies are found only by the
 * session, version and query they were rendered for. */
#include "../../api/status_cache.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *plain_alloc(size_t n) { return malloc(n); }

static const char A[] = "0123456789abcdef0123456789abcdef";
static const char B[] = "fedcba9876543210fedcba9876543210";

Test(status_cache, a_body_comes_back_only_for_its_session_version_and_query)
{
    status_cache *c = status_cache_new();
    cr_assert_not_null(c);
    status_cache_put(c, A, 7, 0, "{\"rows\":\"A7\"}", 13);
    char *buf = NULL;
    size_t len = 0;
    cr_assert(status_cache_get(c, A, 7, 0, plain_alloc, &buf, &len));
    cr_expect_eq(len, 13);
    cr_expect(memcmp(buf, "{\"rows\":\"A7\"}", 13) == 0);
    free(buf);
    cr_expect_not(status_cache_get(c, B, 7, 0, plain_alloc, &buf, &len), "another session");
    cr_expect_not(status_cache_get(c, A, 8, 0, plain_alloc, &buf, &len), "a newer version");
    cr_expect_not(status_cache_get(c, A, 6, 0, plain_alloc, &buf, &len), "an older version");
    cr_expect_not(status_cache_get(c, A, 7, 1, plain_alloc, &buf, &len), "another query");
    cr_expect_not(status_cache_get(c, "0123", 7, 0, plain_alloc, &buf, &len), "not an id");
    status_cache_free(c);
}

Test(status_cache, a_new_version_replaces_the_old_one)
{
    status_cache *c = status_cache_new();
    cr_assert_not_null(c);
    status_cache_put(c, A, 1, 0, "old", 3);
    status_cache_put(c, A, 2, 0, "new!", 4);
    char *buf = NULL;
    size_t len = 0;
    cr_expect_not(status_cache_get(c, A, 1, 0, plain_alloc, &buf, &len));
    cr_assert(status_cache_get(c, A, 2, 0, plain_alloc, &buf, &len));
    cr_expect(len == 4 && memcmp(buf, "new!", 4) == 0);
    free(buf);
    status_cache_free(c);
}

Test(status_cache, bounded_whatever_the_number_of_sessions)
{
    status_cache *c = status_cache_new();
    cr_assert_not_null(c);
    char id[33];
    size_t kept = 0;
    for (unsigned i = 0; i < 3 * STATUS_CACHE_SLOTS; i++) {
        snprintf(id, sizeof id, "%032x", i);
        status_cache_put(c, id, 1, 0, "x", 1);
    }
    for (unsigned i = 0; i < 3 * STATUS_CACHE_SLOTS; i++) {
        char *buf = NULL;
        size_t len = 0;
        snprintf(id, sizeof id, "%032x", i);
        if (status_cache_get(c, id, 1, 0, plain_alloc, &buf, &len)) {
            kept++;
            free(buf);
        }
    }
    cr_expect(kept > 0 && kept <= STATUS_CACHE_SLOTS, "%zu bodies kept", kept);
    status_cache_free(c);
}
