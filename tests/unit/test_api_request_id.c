/* Request ids (docs/contract/http.md "Request ids"): a client's X-Request-Id
 * is kept when it is short visible ASCII, replaced otherwise; every answer
 * echoes it and every problem quotes it as "instance". */
#include "api_fixture.h"

#include <criterion/criterion.h>
#include <string.h>

static bool is_generated(const char *id)
{
    if (strlen(id) != 32)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

Test(api, request_ids_are_kept_only_when_short_visible_ascii)
{
    static const char *const KEPT[] = {"a", "abc-123",
                                       "0123456789012345678901234567890123456789"
                                       "012345678901234567890123",
                                       "!\"#%<>{}~"};
    static const char *const REPLACED[] = {"",
                                           "with space",
                                           "tab\there",
                                           "caf\xc3\xa9",
                                           "mgw_token",
                                           "x-MGW_y",
                                           "ctl\x01char",
                                           "0123456789012345678901234567890123456789"
                                           "0123456789012345678901234"};
    char out[API_REQUEST_ID_SIZE];
    for (size_t i = 0; i < sizeof KEPT / sizeof KEPT[0]; i++) {
        api_request_id(KEPT[i], out);
        cr_expect_str_eq(out, KEPT[i]);
    }
    for (size_t i = 0; i < sizeof REPLACED / sizeof REPLACED[0]; i++) {
        api_request_id(REPLACED[i], out);
        cr_expect(is_generated(out), "\"%s\" became \"%s\"", REPLACED[i], out);
    }
    api_request_id(NULL, out);
    cr_expect(is_generated(out));
    char again[API_REQUEST_ID_SIZE];
    api_request_id(NULL, again);
    cr_expect_str_neq(out, again, "two fresh ids differ");
}

static api_response call_with_id(const char *method, const char *path, const char *id)
{
    api_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    req.client_addr = "127.0.0.1";
    req.request_id = id;
    api_response resp;
    api_handle(afx.api, &req, &resp);
    return resp;
}

Test(api, every_answer_echoes_the_request_id_and_problems_quote_it)
{
    api_response r = call_with_id("GET", "/nowhere", "abc-123");
    cr_expect_str_eq(afx_header(&r, "X-Request-Id"), "abc-123");
    json_t *j = afx_assert_problem(&r, 404, "MAPI_E_NOT_FOUND");
    cr_expect_str_eq(afx_jstr(j, "instance"), "urn:mapigw:request:abc-123");
    json_decref(j);
    api_response_clear(&r);

    r = call_with_id("GET", "/healthz", "ok-1");
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(afx_header(&r, "X-Request-Id"), "ok-1");
    api_response_clear(&r);

    /* Characters a URN may not hold are percent-encoded in the instance;
     * the header echoes the id as sent. */
    r = call_with_id("GET", "/nowhere", "a\"b%c<d>");
    cr_expect_str_eq(afx_header(&r, "X-Request-Id"), "a\"b%c<d>");
    j = afx_assert_problem(&r, 404, "MAPI_E_NOT_FOUND");
    cr_expect_str_eq(afx_jstr(j, "instance"), "urn:mapigw:request:a%22b%25c%3Cd%3E");
    json_decref(j);
    api_response_clear(&r);
}

Test(api, a_request_without_an_id_gets_one_in_header_and_problem)
{
    api_response r = call_with_id("DELETE", "/status", NULL);
    const char *id = afx_header(&r, "X-Request-Id");
    cr_assert_not_null(id);
    cr_expect(is_generated(id), "%s", id);
    json_t *j = afx_assert_problem(&r, 405, "MAPI_E_NO_SUPPORT");
    char want[128];
    snprintf(want, sizeof want, "urn:mapigw:request:%s", id);
    cr_expect_str_eq(afx_jstr(j, "instance"), want);
    json_decref(j);
    api_response_clear(&r);
}
