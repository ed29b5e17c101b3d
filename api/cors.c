/* cors.c - CORS for web front ends (docs/DECISIONS.md "CORS").
 *
 * Off by default: without configured origins no CORS header is ever sent.
 * With origins, every answer carries Vary: Origin; an answer to a request
 * whose Origin is in the list (exact match) also carries
 * Access-Control-Allow-Origin: <that origin> (never "*": clients send bearer
 * tokens) and Access-Control-Expose-Headers. No
 * Access-Control-Allow-Credentials: the bearer is a header the page sets, not
 * a cookie. A preflight (OPTIONS + Origin + Access-Control-Request-Method)
 * on a known path needs no authentication: 204 with the path's methods, the
 * request headers the API reads, and a max age; from an origin not in the
 * list it is 403 MAPI_E_NO_ACCESS without CORS headers.
 */
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>

static const char ALLOW_HEADERS[] = "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id";
static const char EXPOSE_HEADERS[] = "Location, ETag, Retry-After, WWW-Authenticate, X-Request-Id";
static const char MAX_AGE[] = "600";

bool api_cors_origin_ok(const char *s, size_t len)
{
    size_t i;
    if (len > 7 && memcmp(s, "http://", 7) == 0)
        i = 7;
    else if (len > 8 && memcmp(s, "https://", 8) == 0)
        i = 8;
    else
        return false;
    size_t host = i;
    if (s[i] == '[') {
        /* An IPv6 literal: hex digits, ':' and '.' up to ']'. */
        for (i++; i < len && s[i] != ']'; i++)
            if (!strchr("0123456789abcdefABCDEF:.", s[i]))
                return false;
        if (i >= len || i == host + 1)
            return false;
        i++;
    } else {
        for (; i < len && s[i] != ':'; i++) {
            char c = s[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-';
            if (!ok)
                return false;
        }
        if (i == host)
            return false;
    }
    if (i == len)
        return true;
    if (s[i] != ':')
        return false;
    size_t digits = len - i - 1;
    if (digits < 1 || digits > 5)
        return false;
    for (i++; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

void api_cors_clear(api *a)
{
    for (size_t i = 0; i < a->cors_count; i++)
        free(a->cors_origins[i]);
    free(a->cors_origins);
    a->cors_origins = NULL;
    a->cors_count = 0;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool api_set_cors(api *a, const char *origins)
{
    if (!origins || !origins[0]) {
        api_cors_clear(a);
        return true;
    }
    size_t cap = 1;
    for (const char *p = origins; *p; p++)
        if (*p == ',')
            cap++;
    char **list = calloc(cap, sizeof *list);
    if (!list)
        return false;
    size_t n = 0;
    bool ok = true;
    for (const char *p = origins; ok && *p;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && is_blank(*b))
            b++;
        while (e > b && is_blank(e[-1]))
            e--;
        if (e > b) {
            size_t len = (size_t)(e - b);
            ok = api_cors_origin_ok(b, len);
            if (ok) {
                list[n] = strndup(b, len);
                ok = list[n] != NULL;
                if (ok)
                    n++;
            }
        }
        p = *end ? end + 1 : end;
    }
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            free(list[i]);
        free(list);
        return false;
    }
    api_cors_clear(a);
    a->cors_origins = list;
    a->cors_count = n;
    return true;
}

static bool origin_allowed(const api *a, const char *origin)
{
    if (!origin)
        return false;
    for (size_t i = 0; i < a->cors_count; i++)
        if (strcmp(a->cors_origins[i], origin) == 0)
            return true;
    return false;
}

bool api_cors_is_preflight(const api_request *req)
{
    return req->method && strcmp(req->method, "OPTIONS") == 0 && req->origin &&
           req->ac_request_method;
}

void api_cors_preflight(api_ctx *x, const char *allow_methods)
{
    if (!origin_allowed(x->a, x->req->origin)) {
        api_problem(x, MAPI_E_NO_ACCESS, 403, "this origin is not allowed (see --cors-origins)");
        return;
    }
    api_reply_empty(x, 204);
    api_add_header(x, "Access-Control-Allow-Methods", allow_methods);
    api_add_header(x, "Access-Control-Allow-Headers", ALLOW_HEADERS);
    api_add_header(x, "Access-Control-Max-Age", MAX_AGE);
}

void api_cors_finish(api_ctx *x)
{
    if (x->a->cors_count == 0)
        return;
    api_add_header(x, "Vary", "Origin");
    if (!origin_allowed(x->a, x->req ? x->req->origin : NULL))
        return;
    api_add_header(x, "Access-Control-Allow-Origin", x->req->origin);
    if (!api_cors_is_preflight(x->req))
        api_add_header(x, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
}
