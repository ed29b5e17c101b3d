/* fuzz_auth.c - the Authorization header (api/auth.c, token_parse,
 * core_authenticate, the admin key compare) through api_handle.
 *
 * Two input forms:
 *   - text (first byte not 0x01): the header itself, with the placeholders
 *     "$T" (the live token) and "$A" (the admin key);
 *   - 0x01 L (pos val)*: "Bearer " and the live token, cut to L bytes when L
 *     is shorter, with token[pos % len] = val for each pair: forged and
 *     truncated tokens one byte away from the real one.
 * The header goes to GET /status (a session resource) and GET /sessions (an
 * admin resource). Properties: GET /status is
 * 200 or 401, and 200 only when the bearer value is exactly the live token;
 * GET /sessions is 200 or 403, and 200 only for exactly the admin key.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_gateway_init();
    return 0;
}

static char *forged_header(const uint8_t *data, size_t size)
{
    char tok[TOKEN_STRING_LEN + 1];
    snprintf(tok, sizeof tok, "%s", fz_token());
    size_t len = strlen(tok);
    if (size >= 2 && data[1] < len)
        len = data[1];
    tok[len] = '\0';
    for (size_t i = 2; i + 1 < size && len; i += 2)
        tok[data[i] % len] = (char)data[i + 1];
    char *h = malloc(sizeof "Bearer " + sizeof tok);
    if (!h)
        abort();
    strcpy(h, "Bearer ");
    strcat(h, tok); /* a NUL written by a pair cuts the token there */
    return h;
}

/* The bearer value as RFC 6750 reads it: after "Bearer" (any case) and
 * spaces, trailing spaces dropped. NULL when the header has another form. */
static const char *bearer(const char *h, size_t *len)
{
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    size_t l = strlen(h);
    while (l && h[l - 1] == ' ')
        l--;
    *len = l;
    return h;
}

static bool value_is(const char *header, const char *secret)
{
    size_t len;
    const char *v = bearer(header, &len);
    return v && len == strlen(secret) && memcmp(v, secret, len) == 0;
}

static int call(const char *path, const char *header)
{
    api_request req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.path = path;
    req.authorization = header;
    req.client_addr = FZ_CLIENT;
    api_response resp;
    fz_handle(&req, &resp);
    int status = resp.status;
    api_response_clear(&resp);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_session_ensure();
    char *header = size && data[0] == 0x01 ? forged_header(data, size)
                                           : fz_expand((const char *)data, size, true);

    int st = call("/status", header);
    bool live = value_is(header, fz_token());
    if (st != 200 && st != 401)
        fz_fail("GET /status answered %d to Authorization \"%s\"", st, header);
    if ((st == 200) != live)
        fz_fail("GET /status answered %d to Authorization \"%s\" (live token: %s)", st, header,
                live ? "yes" : "no");

    st = call("/sessions", header);
    bool admin = value_is(header, FZ_ADMIN_KEY);
    if (st != 200 && st != 403)
        fz_fail("GET /sessions answered %d to Authorization \"%s\"", st, header);
    if ((st == 200) != admin)
        fz_fail("GET /sessions answered %d to Authorization \"%s\" (admin key: %s)", st, header,
                admin ? "yes" : "no");
    free(header);
    return 0;
}
