/* fuzz_common.h - what the libFuzzer harnesses share: a scratch folder, an
 * in-process gateway (profile store, core, api) with one live session, and
 * the checks every api answer must pass.
 *
 * Everything here is set up once (from LLVMFuzzerInitialize) and torn down at
 * exit, so LeakSanitizer's exit check sees a clean heap. Per input, a harness
 * must leave nothing behind: fz_end_other_sessions() ends whatever sessions
 * the input created.
 *
 * Not thread-safe: libFuzzer runs one input at a time.
 */
#pragma once

#include "../../api/api.h"
#include "../../session-core/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_ADMIN_KEY "fuzz-admin-key-0123456789abcdef"
#define FZ_CLIENT "192.0.2.7"

/* The scratch folder (created once under $TMPDIR, removed at exit). */
const char *fz_tmpdir(void);

/* The in-process gateway of the router, auth, request and entry-id harnesses.
 * Profiles: "p" (auth none; maildir store with two messages and a subfolder,
 * spool transport, abfile address book with one contact), "bare" (auth none,
 * no services), "secret" (argon2id with the cheapest parameters, password
 * "right"). The admin key is FZ_ADMIN_KEY. */
void fz_gateway_init(void);
api *fz_api(void);
core *fz_core(void);

/* The long-lived session of profile "p": logged on again when an input
 * ended it. Token, id and instance keys (upper-case hex) of its rows. */
void fz_session_ensure(void);
const char *fz_token(void);
const char *fz_session_id(void);
session *fz_session(void); /* borrowed */
size_t fz_row_count(void);
const char *fz_row_ik(size_t i); /* 16 hex digits */

/* Puts the profiles file back as fz_gateway_init wrote it and reloads it:
 * after an input that may have changed the profiles (a write to
 * /profiles... or /services...), so that inputs do not drift. */
void fz_profiles_restore(void);

/* Ends every session other than the long-lived one (sessions an input made
 * through POST /sessions), so inputs do not pile up state. */
void fz_end_other_sessions(void);

/* Replaces the placeholders in s[0..len) (a NUL-free copy is made; a NUL ends
 * it): "$T" the token, "$A" the admin key (only with secrets = true), "$S"
 * the session id, "$K0".."$K9" an instance key. malloc'd; abort()s when out of
 * memory. */
char *fz_expand(const char *s, size_t len, bool secrets);

/* Calls api_handle and checks the answer's contract: a 1xx-5xx status, the
 * Cache-Control: no-store header, a body that parses as JSON when the type
 * says JSON, and neither the live token nor the admin key in the body or a
 * header (unless the request itself carried it outside Authorization). abort()s (a libFuzzer crash)
 * on a breach. The caller clears *resp. With FZ_VERBOSE set in the environment, each answer is
 * printed to stderr (for checking what seeds reach). */
void fz_handle(const api_request *req, api_response *resp);

/* A NUL-terminated malloc'd copy of data[0..len). */
char *fz_strndup(const uint8_t *data, size_t len);

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF); NUL bytes are allowed only when allow_nul. */
bool fz_utf8_valid(const char *s, size_t len, bool allow_nul);

/* Prints the message to stderr and abort()s: a property breach. */
_Noreturn void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
