/* Black-box: request ids. The X-Request-Id a client sends (or the one the
 * gateway makes) comes back on the answer, in the problem's "instance" and
 * in the access log line, so one id names a failing call everywhere. */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(request_id, .fini = fini_gw, .timeout = 90);

Test(request_id, echoed_quoted_and_logged)
{
    G = gw_start("main.json", NULL);
    gw_resp r;
    const char *const hdr[] = {"X-Request-Id: quote-me-42", NULL};
    gw_request(G, "GET", "/status", hdr, NULL, &r);
    gw_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED");
    cr_expect_str_eq(gw_header(&r, "X-Request-Id"), "quote-me-42");
    cr_expect_str_eq(gw_jstr(r.json, "instance"), "urn:mapigw:request:quote-me-42");
    gw_resp_free(&r);
    cr_expect(gw_wait_log(G, "\"request_id\":\"quote-me-42\"", 5000),
              "the access line carries the id");

    /* A success echoes it too. */
    gw_request(G, "GET", "/healthz", hdr, NULL, &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(gw_header(&r, "X-Request-Id"), "quote-me-42");
    gw_resp_free(&r);
}

Test(request_id, a_bad_or_missing_id_is_replaced)
{
    G = gw_start("main.json", NULL);
    char longid[128];
    memset(longid, 'x', 100);
    longid[100] = '\0';
    char line[160];
    snprintf(line, sizeof line, "X-Request-Id: %s", longid);
    const char *const too_long[] = {line, NULL};
    const char *const token_like[] = {"X-Request-Id: mgw_notatoken", NULL};
    const char *const *cases[] = {too_long, token_like, NULL};
    for (size_t i = 0; i < 3; i++) {
        gw_resp r;
        gw_request(G, "GET", "/nowhere", cases[i], NULL, &r);
        gw_assert_problem(&r, 404, "MAPI_E_NOT_FOUND");
        const char *id = gw_header(&r, "X-Request-Id");
        cr_assert_not_null(id);
        cr_expect_eq(strlen(id), 32, "a fresh id, not \"%s\"", id);
        char want[96];
        snprintf(want, sizeof want, "urn:mapigw:request:%s", id);
        cr_expect_str_eq(gw_jstr(r.json, "instance"), want);
        char logged[96];
        snprintf(logged, sizeof logged, "\"request_id\":\"%s\"", id);
        cr_expect(gw_wait_log(G, logged, 5000), "the log has the fresh id %s", id);
        gw_resp_free(&r);
    }
    char *log = gw_read_log(G);
    cr_expect_null(strstr(log, "mgw_notatoken"), "a token-like id never reaches the log");
    free(log);
}
