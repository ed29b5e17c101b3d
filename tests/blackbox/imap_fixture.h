/* imap_fixture.h - the shared fixture of the black-box "imap" suite
 * (test_imap*.c): a real dovecot on 127.0.0.1 and a gateway with IMAP store
 * profiles on it. The suite itself is defined once, in imap_fixture.c
 * (criterion matches tests to suites by name); its .fini finishes imap_gw
 * and destroys imap_dovecot. Criterion runs each test in its own process, so
 * neither is ever shared between tests. */
#pragma once

#include "../support/gw.h"
#include "../support/srv_dovecot.h"

#include <criterion/criterion.h>
#include <stdbool.h>

/* The gateway and the dovecot of the running test (see the .fini). */
extern gw *imap_gw;
extern srv_dovecot imap_dovecot;

#define MAIL "[\"MAPI_NEW_SESSION\"]"
#define MAIL_SYNC "[\"MAPI_NEW_SESSION\",\"MAPI_FORCE_DOWNLOAD\"]"
#define STORE_NAME "Alice IMAP"
#define WAIT_MS 8000

/* Starts dovecot (with_mail: the mail of fill_mailbox: INBOX 2 (1 unseen),
 * Archive 1 (seen), Archive.2024 empty) and the gateway on the profiles
 * "up" (auth upstream), "cfg" (auth none, the right configured password) and
 * "wrong" (auth none, a wrong one), all with one IMAP store STORE_NAME. */
void start_all(bool with_mail);
/* The IMAP provider's status row (GET /status); the caller frees r. */
json_t *imap_row(const char *token, gw_resp *r);
/* Whether the row's status_code holds code. */
bool row_has(json_t *row, const char *code);
/* Waits up to gw_ms(WAIT_MS) for the row to carry code (and, if not NULL, a
 * status string containing text). Returns whether it did; r holds the last
 * answer. */
bool wait_row(const char *token, const char *code, const char *text, gw_resp *r);
/* The integer obj.key (asserted). */
long jlong(json_t *obj, const char *key);
/* The IMAP store's entry id from GET /stores (static copy). */
const char *store_eid(const char *token);
