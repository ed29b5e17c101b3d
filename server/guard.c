/* guard.c - the start-up guard against well-known credentials (guard.h). */
#include "guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* The verifier of the demo profile in server/profiles.default.json (password
 * "demo"). The black-box suite startup_guard starts that very file on a
 * public address, so the two cannot drift apart unnoticed. */
static const char DEMO_VERIFIER[] = "$argon2id$v=19$m=65536,t=2,p=1$tkc7IcF7n/FhjZXnuTNhLg$"
                                    "PYnBlT6NAyCTTiyX0mO2PwhwG86P4gPj4TQ+4u8pzy0";

bool guard_is_loopback(const char *addr)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, addr, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &v6) != 1)
        return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6))
        return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

/* Why anyone can log on to p, or NULL. */
static const char *open_reason(const profile *p)
{
    if (profile_auth(p) == PROFILE_AUTH_NONE)
        return "auth: none";
    if (profile_verifier_is(p, DEMO_VERIFIER))
        return "the published demo password";
    return NULL;
}

size_t guard_open_profiles(const profile_store *st, char *out, size_t cap)
{
    size_t found = 0, used = 0;
    bool cut = false;
    if (cap)
        out[0] = '\0';
    /* Templates too: an open one lets anybody in under any name it takes. */
    size_t np = profile_store_count(st), nt = profile_store_template_count(st);
    for (size_t i = 0; i < np + nt; i++) {
        const profile *p = i < np ? profile_store_at(st, i) : profile_store_template(st, i - np);
        const char *why = open_reason(p);
        if (!why)
            continue;
        found++;
        if (cut || cap == 0)
            continue;
        int n = snprintf(out + used, cap - used, "%sprofile \"%s\" (%s)", found > 1 ? ", " : "",
                         profile_name(p), why);
        if (n < 0 || (size_t)n >= cap - used) {
            /* Keep whole entries only; say that more follow. */
            const char *more = used ? ", ..." : "...";
            out[used] = '\0';
            if (cap - used > strlen(more))
                memcpy(out + used, more, strlen(more) + 1);
            cut = true;
            continue;
        }
        used += (size_t)n;
    }
    return found;
}
