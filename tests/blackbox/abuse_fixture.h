/* abuse_fixture.h - the shared fixture of the black-box "abuse" suite
 * (test_abuse_*.c). The suite itself is defined once, in abuse_fixture.c
 * (criterion matches tests to suites by name); its .fini finishes abuse_gw,
 * the gateway the running test started. Criterion runs each test in its own
 * process, so abuse_gw and the secrets sent are never shared between tests.
 *
 * Every answer a test gets through req() (and the 201 of logon()) is checked
 * for the secrets sent so far (sent_secret(), the tokens of logon()): no
 * response body may hold one. */
#pragma once

#include "../support/gw.h"

#include <criterion/criterion.h>
#include <stddef.h>

/* The gateway of the running test; gw_finish'ed by the suite's .fini. */
extern gw *abuse_gw;

#define MAIL "[\"MAPI_NEW_SESSION\"]"

/* Remembers s as a secret: no response body (nor gateway log) may hold it. */
void sent_secret(const char *s);
/* Frees the secrets remembered. */
void free_sent(void);

/* A request whose answer is checked for secrets. auth: a whole header line
 * ("Authorization: ..." or "Cookie: ...") or NULL. */
long req(const char *method, const char *path, const char *auth, const char *body, gw_resp *r);
/* "Authorization: Bearer <token>" (malloc'd). */
char *bearer(const char *token);
/* A MAPI_NEW_SESSION logon; its token is remembered as a secret. */
void logon(const char *profile, const char *password, gw_session *s);
/* GET path with token, asserting 200 and JSON; the caller frees r. */
json_t *get_ok(const char *path, const char *token, gw_resp *r);
/* Writes a message into profile's Maildir cur/. */
void put_message(const char *profile, const char *subject);

/* The ids a session can reach: a status row's instance key and entry id, the
 * store, its first folder, a message, an address-book entry (when any) and
 * the identity. */
typedef struct {
    char *ik, *row_eid, *store, *folder, *message, *ab_entry, *identity;
} reach;

void reach_of(const char *token, reach *o);
void reach_free(reach *o);
