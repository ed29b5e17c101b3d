/* profiles_fixture.c - profiles files written by a test (profiles_fixture.h). */
#include "profiles_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pf_verifier(char out[crypto_pwhash_STRBYTES], const char *password, unsigned long long ops,
                 size_t mem)
{
    cr_assert(sodium_init() >= 0);
    cr_assert(crypto_pwhash_str(out, password, strlen(password), ops, mem) == 0);
}

void pf_argon_profile(char *out, size_t cap, const char *name, const char *v)
{
    snprintf(out, cap,
             "{\"name\":\"%s\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},"
             "\"services\":[]}",
             name, v);
}

/* Writes {"profiles":[entries]} to a temporary file; returns its path (static,
 * unlinked by the caller once the gateway has copied it). */
static const char *profiles_file(const char *entries)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/mapigw-auth-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    char *json = NULL;
    cr_assert_geq(asprintf(&json, "{\"profiles\":[%s]}", entries), 0);
    gw_write_file(path, json);
    free(json);
    return path;
}

gw *pf_start_with(const char *entries, const char *const *args)
{
    const char *path = profiles_file(entries);
    gw *g = gw_start(path, args);
    unlink(path);
    return g;
}
