/* fuzz_router.c - the whole api floor: one request per input through
 * api_handle, against the in-process gateway of fuzz_common.h.
 *
 * Input framing: fields separated by NUL bytes,
 *   method NUL path[?query] NUL authorization NUL content-type NUL body
 * (the body is the rest, NULs included). A missing or empty authorization or
 * content-type is no header. The query string is split on '&' and '='.
 * Placeholders (fuzz_common.h): "$T" and "$A" in the authorization (the live
 * token, the admin key), "$S" and "$K0".."$K9" in the path and body, so seeds
 * reach the token-bearing routes.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#define MAX_QUERY 16

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_gateway_init();
    return 0;
}

/* The next NUL-terminated field of [*p, end); the last one runs to end. */
static const char *next_field(const char **p, const char *end, size_t *len, bool last)
{
    const char *start = *p;
    const char *nul = last ? NULL : memchr(start, '\0', (size_t)(end - start));
    const char *stop = nul ? nul : end;
    *len = (size_t)(stop - start);
    *p = nul ? nul + 1 : end;
    return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_session_ensure();
    const char *p = (const char *)data, *end = p + size;
    size_t mlen, plen, alen, clen, blen;
    const char *m = next_field(&p, end, &mlen, false);
    const char *path = next_field(&p, end, &plen, false);
    const char *auth = next_field(&p, end, &alen, false);
    const char *ctype = next_field(&p, end, &clen, false);
    const char *body = next_field(&p, end, &blen, true);

    char *method = fz_strndup((const uint8_t *)m, mlen);
    char *full_path = fz_expand(path, plen, false);
    char *authorization = alen ? fz_expand(auth, alen, true) : NULL;
    char *content_type = clen ? fz_strndup((const uint8_t *)ctype, clen) : NULL;
    /* The body keeps its NULs unless it uses placeholders. */
    char *body_copy = memchr(body, '$', blen) ? fz_expand(body, blen, false)
                                              : fz_strndup((const uint8_t *)body, blen);
    size_t body_len = memchr(body, '$', blen) ? strlen(body_copy) : blen;

    /* path?k=v&k2&k3=v3: the server hands the api decoded pieces. */
    api_kv query[MAX_QUERY];
    size_t nquery = 0;
    char *q = strchr(full_path, '?');
    if (q) {
        *q++ = '\0';
        char *save = NULL;
        for (char *item = strtok_r(q, "&", &save); item && nquery < MAX_QUERY;
             item = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(item, '=');
            if (eq)
                *eq++ = '\0';
            query[nquery].key = item;
            query[nquery].value = eq;
            nquery++;
        }
    }

    api_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = full_path;
    req.query = query;
    req.query_count = nquery;
    req.authorization = authorization;
    req.content_type = content_type;
    req.body = body_len ? body_copy : NULL;
    req.body_len = body_len;
    req.body_too_large = body_len > 0 && body_copy[0] == '\x7f';
    req.client_addr = FZ_CLIENT;

    api_response resp;
    fz_handle(&req, &resp);
    if (resp.stream) {
        /* GET /events: read what is there now, without waiting. */
        char buf[4096];
        for (int i = 0; i < 4 && api_stream_read(resp.stream, buf, sizeof buf) > 0; i++)
            ;
    }
    /* A write that changed the profiles (or a password, which is written
     * to the profiles file) is undone, so the next input starts alike. */
    bool wrote = resp.status >= 200 && resp.status < 300 && strcmp(method, "GET") != 0 &&
                 strcmp(method, "HEAD") != 0 &&
                 (strncmp(full_path, "/profiles", 9) == 0 || strncmp(full_path, "/services", 9) == 0 ||
                  strstr(full_path, "change-password"));
    api_response_clear(&resp);
    if (wrote)
        fz_profiles_restore();

    free(method);
    free(full_path);
    free(authorization);
    free(content_type);
    free(body_copy);
    fz_end_other_sessions();
    return 0;
}
