/* api_fixture.h - the shared fixture of the api suite (test_api_*.c):
 * api_handle called directly (no socket) on a core loaded from a string.
 *
 * The profiles: "p" (no password; one abfile AB provider with identity Pat),
 * "bare" (no password, no services) and "secret" (password "right"; one
 * abfile AB provider with identity Sam). The api has the admin key ADMIN_KEY,
 * a 64 KiB body limit, no OpenAPI document and version "9.9.9". jansson
 * allocates through server/secmem.c, as in the gateway.
 *
 * Every file adds its Test(api, ...) to the one suite defined in
 * api_fixture.c (criterion matches tests to suites by name), whose .init and
 * .fini are afx_setup and afx_teardown. Criterion runs each test in its own
 * process, so the one global fixture is not shared between tests.
 */
#pragma once

#include "../../api/api.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADMIN_KEY "admin-key-0123456789-0123456789-0123456789"

typedef struct {
    core *core;       /* the core under test */
    api *api;         /* the api on it */
    char dir[64];     /* this test's folder, holding the two address books */
    char abpath[128]; /* p's address book */
    char abpath2[128];
    /* Filled by afx_logon_p (bearer also by tests that log on elsewhere). */
    char token[128], bearer[160], sid[64];
} api_fixture;

extern api_fixture afx;

void afx_setup(void);
void afx_teardown(void);

/* One request, as compound literal: (rq){.method = "GET", .path = "/x"}. */
typedef struct {
    const char *method, *path, *auth, *ctype, *body, *inm;
    const char *lei; /* Last-Event-ID */
    const api_kv *query;
    size_t nquery;
    bool too_large;
} rq;

/* api_handle on afx.api; asserts that the answer carries
 * Cache-Control: no-store. The caller clears the response. */
api_response afx_call(rq r);
/* The value of header name (case-insensitive), or NULL. Borrowed. */
const char *afx_header(const api_response *r, const char *name);
/* The body parsed as JSON (asserts); the caller json_decref's it. */
json_t *afx_json(const api_response *r);
/* The string member key of o (asserts it is one). Borrowed. */
const char *afx_jstr(json_t *o, const char *key);
/* Checks a problem+json answer and returns its body (json_decref it). */
json_t *afx_assert_problem(api_response *r, int status, const char *mapi_error);
/* afx_call, then afx_assert_problem, then clears everything. */
void afx_expect_problem(rq r, int status, const char *mapi_error);
/* POST /sessions with a JSON body. */
api_response afx_post_sessions(const char *body);
/* Logs on to profile p and keeps the token, bearer header and id in afx. */
void afx_logon_p(void);
/* The instance key of the first row of the given resource type in the status
 * table of afx.bearer's session (asserts there is one). */
void afx_row_key(uint32_t type, char out[17]);
