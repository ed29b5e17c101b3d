/* Unit suite "hresult": the one list of MAPI values (session-core/hresult.h,
 * MAPI_HRESULTS) and what is derived from it: the names (hresult.c), the
 * problem+json status and title (api/problem.c) and the prepared
 * out-of-memory answer (suite "api", on the shared fixture). */
#include "api_fixture.h"
#include "../../api/api_internal.h"
#include "../../session-core/hresult.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

typedef struct {
    const char *name;
    HRESULT hr;
    int status;
    const char *title;
} row;

#define ROW(name, value, status, title) {#name, name, status, title},
static const row ROWS[] = {MAPI_HRESULTS(ROW)};
#undef ROW
#define ROW_COUNT (sizeof ROWS / sizeof ROWS[0])

Test(hresult, every_value_round_trips_its_name)
{
    cr_assert_gt(ROW_COUNT, 30);
    for (size_t i = 0; i < ROW_COUNT; i++) {
        cr_expect_str_eq(hresult_name(ROWS[i].hr), ROWS[i].name);
        HRESULT back = 0;
        cr_expect_eq(hresult_from_name(ROWS[i].name, &back), 0, "%s not found", ROWS[i].name);
        cr_expect_eq(back, ROWS[i].hr, "%s: 0x%08X, expected 0x%08X", ROWS[i].name, (unsigned)back,
                     (unsigned)ROWS[i].hr);
        /* A value listed twice would make one of the names unreachable. */
        for (size_t j = 0; j < i; j++) {
            cr_expect_neq(ROWS[j].hr, ROWS[i].hr, "%s and %s share a value", ROWS[j].name,
                          ROWS[i].name);
            cr_expect_str_neq(ROWS[j].name, ROWS[i].name);
        }
    }
    HRESULT none = 0;
    cr_expect_eq(hresult_from_name("MAPI_E_NO_SUCH_THING", &none), -1);
    cr_expect_str_eq(hresult_name(MAPI_HR(0x80049999)), "MAPI_E_CALL_FAILED");
    cr_expect_str_eq(hresult_name(MAPI_HR(0x00049999)), "S_OK");
}

Test(hresult, names_say_whether_a_value_fails)
{
    for (size_t i = 0; i < ROW_COUNT; i++) {
        bool failure = strncmp(ROWS[i].name, "MAPI_E_", 7) == 0;
        cr_expect_eq(HR_FAILED(ROWS[i].hr), failure, "%s: 0x%08X", ROWS[i].name,
                     (unsigned)ROWS[i].hr);
    }
}

/* Successes answer 2xx, failures 4xx or 5xx; every title is a short text. */
Test(hresult, every_status_is_an_http_status_and_every_title_is_set)
{
    for (size_t i = 0; i < ROW_COUNT; i++) {
        int st = ROWS[i].status;
        if (HR_FAILED(ROWS[i].hr))
            cr_expect(st >= 400 && st <= 599, "%s: status %d", ROWS[i].name, st);
        else
            cr_expect(st >= 200 && st <= 299, "%s: status %d", ROWS[i].name, st);
        cr_expect_eq(api_problem_status(ROWS[i].hr), st, "%s", ROWS[i].name);
        cr_expect(ROWS[i].title && ROWS[i].title[0], "%s has no title", ROWS[i].name);
        cr_expect_lt(strlen(ROWS[i].title), 40, "%s: title too long", ROWS[i].name);
    }
    cr_expect_eq(api_problem_status(MAPI_HR(0x80049999)), 500);
    cr_expect_eq(api_problem_status(MAPI_HR(0x00049999)), 200);
}

/* The problem api_problem renders carries the list's status, title and name
 * for each failure. */
Test(api, problem_bodies_follow_the_list)
{
    for (size_t i = 0; i < ROW_COUNT; i++) {
        if (!HR_FAILED(ROWS[i].hr))
            continue;
        api_response r;
        api_limit_answer(afx.api, 0, ROWS[i].hr, "d", &r);
        cr_assert_eq(r.status, ROWS[i].status, "%s", ROWS[i].name);
        json_t *j = afx_assert_problem(&r, ROWS[i].status, ROWS[i].name);
        cr_expect_str_eq(afx_jstr(j, "title"), ROWS[i].title);
        char type[96], code[16];
        snprintf(type, sizeof type, "urn:mapigw:problem:%s", ROWS[i].name);
        snprintf(code, sizeof code, "0x%08X", (unsigned)ROWS[i].hr);
        cr_expect_str_eq(afx_jstr(j, "type"), type);
        cr_expect_str_eq(afx_jstr(j, "mapi_code"), code);
        json_decref(j);
        api_response_clear(&r);
    }
}

/* The out-of-memory answer is the problem api_problem renders for
 * MAPI_E_NOT_ENOUGH_MEMORY, byte for byte, and the body clients have always
 * had. */
Test(api, out_of_memory_answer_is_the_rendered_problem)
{
    api_response want;
    api_limit_answer(afx.api, 0, MAPI_E_NOT_ENOUGH_MEMORY, API_OOM_DETAIL, &want);
    api_response got;
    memset(&got, 0, sizeof got);
    api_finish_oom(&got);
    cr_assert_eq(got.status, want.status);
    cr_assert_eq(got.status, 503);
    cr_assert_str_eq(got.content_type, want.content_type);
    cr_assert_str_eq(got.mapi_error, want.mapi_error);
    cr_assert_eq(got.body_len, want.body_len, "%.*s\nvs\n%.*s", (int)got.body_len, got.body,
                 (int)want.body_len, want.body);
    cr_assert(memcmp(got.body, want.body, got.body_len) == 0, "%.*s\nvs\n%.*s", (int)got.body_len,
              got.body, (int)want.body_len, want.body);
    cr_assert_str_eq(afx_header(&got, "Cache-Control"), "no-store");
    cr_assert_str_eq(afx_header(&want, "Cache-Control"), "no-store");
    const char before[] =
        "{\"type\":\"urn:mapigw:problem:MAPI_E_NOT_ENOUGH_MEMORY\",\"title\":\"Not enough "
        "memory\",\"status\":503,\"detail\":\"the gateway ran out of memory while answering\","
        "\"mapi_error\":\"MAPI_E_NOT_ENOUGH_MEMORY\",\"mapi_code\":\"0x8007000E\"}\n";
    cr_assert_eq(got.body_len, sizeof before - 1);
    cr_assert(memcmp(got.body, before, got.body_len) == 0);
    api_response_clear(&want);
    api_response_clear(&got);
}
