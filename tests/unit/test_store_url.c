/* test_store_url.c - the --store values the shared session store accepts
 * (core_store_url_problem, redis_link.c's parser). */
#include "../../session-core/core.h"

#include <criterion/criterion.h>
#include <string.h>

Test(store_url, accepted_forms)
{
    const char *ok[] = {"memory",
                        "redis://127.0.0.1",
                        "redis://127.0.0.1:6379",
                        "redis://redis:6380/3",
                        "redis://[::1]",
                        "redis-sentinel://mymaster@10.0.0.5:26379,10.0.0.6:26379",
                        "redis-sentinel://m@s1/2"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_expect_null(core_store_url_problem(ok[i]), "%s: %s", ok[i],
                       core_store_url_problem(ok[i]));
}

Test(store_url, refused_forms_say_why)
{
    struct {
        const char *url, *why;
    } bad[] = {
        {"", "must be memory"},
        {"redis", "must be memory"},
        {"http://127.0.0.1:6379", "must be memory"},
        {"redis://", "HOST[:PORT]"},
        {"redis://:6379", "HOST[:PORT]"},
        {"redis://127.0.0.1:0", "HOST[:PORT]"},
        {"redis://127.0.0.1:65536", "HOST[:PORT]"},
        {"redis://127.0.0.1:63x9", "HOST[:PORT]"},
        {"redis://127.0.0.1/x", "database"},
        {"redis://127.0.0.1/", "database"},
        {"redis://user:secret@127.0.0.1", "no password in the URL"},
        {"redis-sentinel://127.0.0.1:26379", "MASTER@"},
        {"redis-sentinel://@127.0.0.1:26379", "MASTER@"},
        {"redis-sentinel://m@", "at least one sentinel"},
        {"redis-sentinel://m@a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9", "at most 8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = core_store_url_problem(bad[i].url);
        cr_expect_not_null(why, "'%s' was accepted", bad[i].url);
        if (why)
            cr_expect(strstr(why, bad[i].why), "'%s': '%s' does not say '%s'", bad[i].url, why,
                      bad[i].why);
    }
}
