/* fuzz_request.c - the request-JSON mapping (api/request.c and the handlers
 * that read a JSON body): one JSON body per input, sent with
 * Content-Type: application/json and the live token.
 *
 * Input: a selector byte, a row byte, then the body.
 *   selector % 6: 0 POST /sessions, 1 validate-state, 2 flush-queues,
 *   3 change-password, 4 settings-dialog (POST /status/{ik}/{method} on the
 *   row's instance key, row byte % rows), 5 POST /entries/compare.
 * "$S" and "$K0".."$K9" in the body are replaced (fuzz_common.h).
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_gateway_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const METHODS[] = {"validate-state", "flush-queues", "change-password",
                                          "settings-dialog"};
    if (size < 2)
        return 0;
    fz_session_ensure();
    unsigned sel = data[0] % 6;
    size_t row = data[1];
    const char *b = (const char *)data + 2;
    size_t blen = size - 2;
    char *body =
        memchr(b, '$', blen) ? fz_expand(b, blen, false) : fz_strndup((const uint8_t *)b, blen);
    size_t body_len = memchr(b, '$', blen) ? strlen(body) : blen;

    char path[128];
    if (sel == 0)
        snprintf(path, sizeof path, "/sessions");
    else if (sel == 5)
        snprintf(path, sizeof path, "/entries/compare");
    else
        snprintf(path, sizeof path, "/status/%s/%s", fz_row_ik(row), METHODS[sel - 1]);
    char auth[16 + TOKEN_STRING_LEN];
    snprintf(auth, sizeof auth, "Bearer %s", fz_token());

    api_request req;
    memset(&req, 0, sizeof req);
    req.method = "POST";
    req.path = path;
    req.authorization = sel == 0 ? NULL : auth;
    req.content_type = "application/json";
    req.body = body;
    req.body_len = body_len;
    req.client_addr = FZ_CLIENT;
    api_response resp;
    fz_handle(&req, &resp);
    /* A JSON body is never a reason for a server error or an unusual code. */
    if (resp.status >= 500 && resp.status != 501 && resp.status != 503)
        fz_fail("POST %s answered %d", path, resp.status);
    api_response_clear(&resp);
    free(body);
    fz_end_other_sessions();
    return 0;
}
