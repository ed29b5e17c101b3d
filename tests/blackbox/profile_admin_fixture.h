/* profile_admin_fixture.h - the shared fixture of the black-box
 * "profile_admin" suite (test_profile_admin*.c): a gateway on
 * tests/profiles/profile-admin.json with --store memory and the admin key,
 * admin requests, the profiles file as the gateway wrote it, the checks of
 * the views the admin routes answer, logons, SIGHUP and restarts.
 *
 * The suite itself is defined once, in profile_admin_fixture.c (criterion
 * matches tests to suites by name); its .fini makes a folder locked by
 * pa_lock_dir writable again, finishes pa_gw, destroys the Redis server of
 * pa_redis_start and removes the files of gw_test_file. Criterion runs each
 * test in its own process, so nothing here is shared between tests.
 *
 * Every name is prefixed pa_ (the black-box suites link into one binary,
 * where G, req or logon are taken already).
 *
 * gw_resp answers are the caller's to free (gw_resp_free) unless a function
 * says it frees them; char * results are malloc'd, json_t * results are new
 * references (json_decref) unless a function says they are borrowed. */
#pragma once

#include "../support/gw.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>

/* The gateway of the running test. */
extern gw *pa_gw;

#define KEY "profile-admin-key-0123456789abcdef0123456789"
#define FILE_NAME "profile-admin.json"
#define NEWS "[\"MAPI_NEW_SESSION\"]"
#define STALE "\"0000000000000000\""
#define FAKE_UID "0123456789ABCDEF0123456789ABCDEF"

#define NOTES_SERVICE                                                                              \
    "{\"name\":\"Ann notes\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"           \
    "\"maildir\",\"display_name\":\"Ann Notes\",\"settings\":{\"path\":\"ann/Notes\","             \
    "\"create\":true}}]}"

/* ------------------------------------------------------------ gateways */

/* Starts pa_gw on profiles with args (the admin key is recorded as a secret). */
void pa_start_with(const char *profiles, const char *const *args);
/* pa_start_with(FILE_NAME, --store memory --admin-key KEY --throttle-after 1000). */
void pa_start(void);
/* Records s as a secret of pa_gw, and again on the gateway of pa_restart. */
void pa_secret(const char *s);
/* Starts a Redis server of its own (destroyed by the .fini); its URL. */
const char *pa_redis_start(void);
/* SIGHUP, and a bounded wait for one more "profiles reloaded" log line. */
void pa_sighup_reload(void);
/* Finishes pa_gw and starts a new one (pa_start's arguments) on the content
 * of its profiles file, under the same name; the secrets are kept. */
void pa_restart(void);
/* CLOCK_MONOTONIC in milliseconds. */
long long pa_now_ms(void);
/* The lines of pa_gw's log whose msg starts with prefix. */
size_t pa_count_log_msgs(const char *prefix);
/* Makes dir unwritable even for root (immutable attribute), or skips the test. */
void pa_lock_dir(const char *dir);
/* Undoes pa_lock_dir (the .fini calls it too). */
void pa_unlock_dir(void);

/* --------------------------------------------------------------- files */

/* pa_gw's profiles file as text (asserted), and as JSON (asserted). */
char *pa_file_text(void);
json_t *pa_file_json(void);
/* The element of arr whose "name" is name (borrowed), or NULL. */
json_t *pa_find_named(json_t *arr, const char *name);
/* A profile of the file's JSON (borrowed), or NULL. */
json_t *pa_file_profile(json_t *root, const char *name);
/* The settings object of provider pos of a profile's service in the file's
 * JSON (borrowed), or NULL. */
json_t *pa_file_settings(json_t *root, const char *profile, const char *service, size_t pos);
/* Expects the file's string setting key of that provider to be want. */
void pa_expect_file_setting(const char *profile, const char *service, size_t pos, const char *key,
                            const char *want, const char *what);
/* Expects the file's default_profile to be want (NULL: none, or null). */
void pa_expect_file_default(const char *want);
/* The verifier of a profile in the file (copied to out; "" when none). */
void pa_file_verifier(const char *name, char *out, size_t cap);
/* Expects the file's verifier of name to be an argon2id one other than old. */
void pa_expect_verifier_changed(const char *name, const char *old, const char *what);
/* Expects the profiles file to be before, byte for byte. */
void pa_expect_file_unchanged(const char *before, const char *what);
/* The names in a folder, sorted, one a line (malloc'd). */
char *pa_dir_names(const char *dir);
/* Expects pa_gw's temp dir to list listing (pa_dir_names): no file left. */
void pa_expect_listing(const char *listing, const char *what);

/* ------------------------------------------------------------ requests */

/* A request with an optional bearer and If-Match (NULL: none). */
long pa_req(const char *method, const char *path, const char *bearer, const char *if_match,
            const char *body, gw_resp *r);
/* With the admin key (and an If-Match). */
long pa_admin(const char *method, const char *path, const char *body, gw_resp *r);
long pa_admin_if(const char *method, const char *path, const char *if_match, const char *body,
                 gw_resp *r);
/* pa_admin that asserts the status want. */
void pa_admin_ok(const char *method, const char *path, const char *body, long want, gw_resp *r);
/* pa_admin expecting the status want (cr_expect; the answer freed). */
void pa_admin_expect(const char *method, const char *path, const char *body, long want);
/* gw_assert_problem, and the codes of the errors new with profile writes. */
void pa_problem(const gw_resp *r, long status, const char *mapi_error);
/* pa_admin answered by that problem (r freed). */
void pa_expect_admin_problem(const char *method, const char *path, const char *body, long status,
                             const char *mapi_error);
/* The answer is the problem and the profiles file is still before (r freed). */
void pa_refused(gw_resp *r, long status, const char *mapi_error, const char *before);
/* pa_admin answered by that problem, the file still before. */
void pa_admin_refused(const char *method, const char *path, const char *body, long status,
                      const char *mapi_error, const char *before);
/* Each of the n bodies sent with the bearer (NULL: the admin key) gets 400
 * MAPI_E_INVALID_PARAMETER and leaves the file as before. */
void pa_expect_all_invalid(const char *method, const char *path, const char *bearer,
                           const char *const *bodies, size_t n, const char *before);
/* A problem's detail, or "". */
const char *pa_detail_of(const gw_resp *r);
/* A string member, or "(none)". */
const char *pa_str(const json_t *obj, const char *key);
/* ETag: "<16 lower-case hex>" (asserted); copied with its quotes to out. */
void pa_etag_of(const gw_resp *r, char out[32]);
/* 32 upper-case hex. */
bool pa_is_uid(const char *s);
/* Expects the Location header to be want. */
void pa_expect_location(const gw_resp *r, const char *want);

/* --------------------------------------------------------------- views */

/* A JSON object answer: the Content-Type and a trailing newline. */
void pa_expect_json_answer(const gw_resp *r);
/* A provider view at position pos. */
void pa_expect_provider_view(json_t *p, size_t pos);
/* A service view: uid, name, providers. */
void pa_expect_service_view(json_t *s);
/* A profile view: its name, auth (unless NULL), version == ETag, no
 * verifier; the ETag is copied to etag when not NULL. */
void pa_expect_profile_view(const gw_resp *r, const char *name, const char *auth, char *etag);
/* The view's default flag. */
bool pa_view_default(const gw_resp *r);
/* GET /profiles/<name> (encoded) asserting 200 and the view. */
void pa_get_profile(const char *name, gw_resp *r, char etag[32]);
/* Expects GET /profiles/<name> to say default is want. */
void pa_expect_view_default(const char *name, bool want, const char *what);
/* A profile's ETag. */
void pa_profile_etag(const char *name, char etag[32]);
/* The uid of a profile's service named svc, by the admin list. */
void pa_service_uid(const char *profile, const char *svc, char out[40]);
/* uid as pa_service_uid, and /profiles/<profile>/services/<uid> in path. */
void pa_service_path(const char *profile, const char *svc, char uid[40], char path[256]);

/* -------------------------------------------------------------- logons */

/* A logon with NEWS expected to answer want (401: MAPI_E_LOGON_FAILED). */
void pa_expect_logon(const char *profile, const char *pw, long want, const char *what);
/* A MAPI_USE_DEFAULT logon with pw expected to answer want; on 201 the
 * session's profile is expected to be profile. */
void pa_expect_default_logon(const char *pw, long want, const char *profile, const char *what);
/* GET /status with token expected to answer want (401: MAPI_E_END_OF_SESSION). */
void pa_expect_status(const char *token, long want, const char *what);
/* The number of status rows of a session (asserted 200). */
size_t pa_status_rows(const char *token);
