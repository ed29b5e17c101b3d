/* gw.h - black-box test support: run the real mapigw binary and talk to it.
 *
 * gw_start() copies a profiles file into a fresh temp dir, starts $MAPIGW_BIN
 * on 127.0.0.1 with --port 0, waits (bounded) for the port file and for
 * GET /readyz 200. Gateway stdout+stderr go to a per-test log file in
 * $MAPIGW_TEST_LOGS (gw_*_split: stdout to a file of its own). gw_stop()
 * sends SIGTERM and returns the exit status.
 * With $MAPIGW_TEST_STORE_URL set (make test-redis-mode), every start adds
 * `--store $MAPIGW_TEST_STORE_URL --store-prefix <unique>:` unless the test
 * passes --store itself.
 * gw_finish() is the usual teardown: stop, assert exit status 0, assert that
 * no recorded secret (tokens, passwords) appears in the log, free.
 *
 * HTTP goes over libcurl to 127.0.0.1 only, with a gw_ms(15 s) timeout per request.
 * All functions report set-up failures with criterion assertions.
 *
 * One header, four files: gw_process.c (start/stop, log file, waits),
 * gw_http.c (requests, responses, logons), gw_assert.c (secrets, problem
 * assertions, JSON helpers) and gw_util.c (files, URLs, strings); the
 * concrete struct gw is in gw_private.h.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct gw gw;

/* One HTTP response. json is set when the Content-Type is JSON
 * (application/json or application/problem+json) and the body parses. */
typedef struct {
    long status;
    char *body; /* NUL-terminated, may be "" */
    size_t body_len;
    json_t *json;
    size_t nheaders;
    char **hname; /* header names as received */
    char **hvalue;
    char errbuf[256]; /* curl error text, when status is 0 */
} gw_resp;

/* A logon's outcome. */
typedef struct {
    long status;
    char id[160];
    char token[160];
    gw_resp resp; /* the full response, freed by gw_session_free */
} gw_session;

/* profiles_file: a name in $MAPIGW_TEST_PROFILES (e.g. "main.json") or an
 * absolute path. extra_args: NULL-terminated list of extra command-line
 * arguments, or NULL. Never returns NULL (asserts instead). */
gw *gw_start(const char *profiles_file, const char *const *extra_args);
/* As gw_start but returns as soon as the process is started (no wait for the
 * port file or readiness): for tests of start-up refusals. */
gw *gw_spawn(const char *profiles_file, const char *const *extra_args);
/* As gw_start and gw_spawn, but the gateway's stdout goes to a file of its
 * own (<log>.stdout.log beside the log; gw_stdout_path, gw_read_stdout), so
 * the log file holds stderr alone: for tests of --log-output. */
gw *gw_start_split(const char *profiles_file, const char *const *extra_args);
gw *gw_spawn_split(const char *profiles_file, const char *const *extra_args);
/* Spawns the gateway (gw_spawn) and asserts that it refuses to start: exit
 * status 2 within gw_ms(10 s), every needle in its log (stderr), no recorded
 * secret in it. Frees the gateway. */
void gw_expect_start_refused(const char *profiles_file, const char *const *extra_args,
                             const char *const *needles);
/* Waits up to gw_ms(timeout_ms) for the process to exit. Returns its exit status
 * (128+signal when killed by a signal), or -1 when it is still running. */
int gw_wait_exit(gw *g, int timeout_ms);
/* SIGTERM, wait up to gw_ms(10 s); on timeout SIGKILL and return -1. Otherwise the
 * exit status (128+signal when killed by a signal). Idempotent. */
int gw_stop(gw *g);
/* Stops (if running), frees and removes the temp dir. Safe on NULL. */
void gw_free(gw *g);
/* Usual teardown: gw_stop, assert status 0, gw_check_log_secrets, gw_free. */
void gw_finish(gw *g);

int gw_port(const gw *g);
pid_t gw_pid(const gw *g);
const char *gw_tmp_dir(const gw *g);       /* the temp dir */
const char *gw_data_dir(const gw *g);      /* <tmp>/data, the --data-dir */
const char *gw_profiles_path(const gw *g); /* the copy passed as --profiles */
const char *gw_log_path(const gw *g);
/* The stdout file of a gw_*_split gateway, else NULL. */
const char *gw_stdout_path(const gw *g);

/* Remember a secret that must never appear in the gateway's log. Tokens
 * returned by POST /sessions are recorded automatically, and so are
 * passwords passed to gw_logon. Each new secret is also appended (tokens
 * without their "mgw_" prefix) to $MAPIGW_TEST_LOGS/secrets.txt, one per
 * line, so that scripts/check-secrets.sh can grep the logs of the whole
 * suite for every secret any test used. */
void gw_add_secret(gw *g, const char *secret);
/* Asserts that no recorded secret appears in the log file (and in the
 * stdout file of a gw_*_split gateway). */
void gw_check_log_secrets(gw *g);
/* The whole log file (malloc'd, NUL-terminated; "" when missing). */
char *gw_read_log(const gw *g);
/* The whole file in a malloc'd, NUL-terminated string (length in *len_out
 * when not NULL), or NULL when it cannot be opened. */
char *gw_read_whole(const char *path, size_t *len_out);
/* The first object of arr whose member key is the string value
 * (borrowed), or NULL. */
json_t *gw_find_named(json_t *arr, const char *key, const char *value);
/* The whole stdout file of a gw_*_split gateway (malloc'd; "" when missing
 * or not split). */
char *gw_read_stdout(const gw *g);
/* Bounded wait (gw_ms(timeout_ms)) for the log to contain needle. */
bool gw_wait_log(const gw *g, const char *needle, int timeout_ms);

/* Generic request. headers: NULL-terminated list of "Name: value" lines or
 * NULL. body: NULL for none. When a body is given and no Content-Type header
 * is among headers, "Content-Type: application/json" is added (pass
 * "Content-Type:" to send none). Returns resp->status (0 on a transport
 * error). Always call gw_resp_free afterwards. */
long gw_request(gw *g, const char *method, const char *path, const char *const *headers,
                const char *body, gw_resp *resp);
/* Same, with a body of body_len bytes (may hold anything). */
long gw_request_n(gw *g, const char *method, const char *path, const char *const *headers,
                  const char *body, size_t body_len, gw_resp *resp);
/* Conveniences with an optional bearer token (NULL: no Authorization). */
long gw_get(gw *g, const char *path, const char *token, gw_resp *resp);
long gw_delete(gw *g, const char *path, const char *token, gw_resp *resp);
long gw_post(gw *g, const char *path, const char *token, const char *json_body, gw_resp *resp);
void gw_resp_free(gw_resp *resp);
/* Case-insensitive header lookup; the last occurrence wins. NULL if absent. */
const char *gw_header(const gw_resp *resp, const char *name);

/* POST /sessions. profile/password: NULL leaves the key out. flags_json: raw
 * JSON for "flags" (e.g. "[\"MAPI_NEW_SESSION\"]" or "10"), NULL leaves it
 * out. Returns the status; on 201 out->id and out->token are filled. */
long gw_logon(gw *g, const char *profile, const char *password, const char *flags_json,
              gw_session *out);
/* gw_logon that asserts 201. */
void gw_logon_ok(gw *g, const char *profile, const char *password, const char *flags_json,
                 gw_session *out);
void gw_session_free(gw_session *s);

/* Asserts an error response: HTTP status, problem+json content type, a body
 * with mapi_error == mapi_error, mapi_code matching ^0x[0-9A-F]{8}$ (and the
 * known code for that name), status member equal to the HTTP status, a type
 * and a title, and Cache-Control: no-store. */
void gw_assert_problem(const gw_resp *resp, long status, const char *mapi_error);
/* The hex code of a MAPI error name known to the tests, or NULL. */
const char *gw_mapi_code(const char *mapi_error);
/* Asserts Cache-Control contains no-store. */
void gw_assert_no_store(const gw_resp *resp);

/* JSON helpers. */
/* The string member key of obj, or NULL when absent or not a string. */
const char *gw_jstr(const json_t *obj, const char *key);
/* flags object {"value","names"}: is name listed in names? */
bool gw_jnames_has(const json_t *flagset, const char *name);
/* flags object's value as an unsigned number (asserts it is an integer). */
unsigned long long gw_jvalue(const json_t *flagset);
/* Finds the status row (in a GET /status body) whose display_name equals
 * display; NULL when none. */
json_t *gw_find_row(json_t *status_body, const char *display);
/* Number of rows with resource_type.value == type. */
size_t gw_count_rows_of_type(json_t *status_body, unsigned type);
/* The first row with resource_type.value == type, or NULL. */
json_t *gw_row_of_type(json_t *status_body, unsigned type);
/* The instance_key of the last row whose resource_methods value has bit
 * (e.g. 0x4, STATUS_CHANGE_PASSWORD), or NULL; points into status_body. */
const char *gw_row_with_method(json_t *status_body, unsigned long long bit);

/* Filesystem helpers for provider folders. */
/* printf-style path under the data dir; malloc'd. */
char *gw_data_path(const gw *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* mkdir -p */
void gw_mkdirs(const char *path);
/* rm -rf; returns 0 on success */
int gw_rmrf(const char *path);
/* Writes a file (asserts). */
void gw_write_file(const char *path, const char *content);
/* Number of regular entries in a directory (-1 when it cannot be opened). */
int gw_count_dir(const char *path);
/* Copies a test profiles file (name in $MAPIGW_TEST_PROFILES or absolute path)
 * over dest (asserts). */
void gw_copy_profiles(const char *profiles_file, const char *dest);

/* Writes content to name in this test's own scratch folder (made on first
 * use, /tmp/mapigw-files-XXXXXX) and returns the path (valid until
 * gw_test_files_clean; at most 4 live at once). For profiles and key files a
 * test passes to a gateway. */
const char *gw_test_file(const char *name, const char *content);
/* Removes the scratch folder of gw_test_file (safe when none): call it from a
 * suite's .fini. */
void gw_test_files_clean(void);

/* URL-encodes s (malloc'd). */
char *gw_urlencode(const char *s);

/* Non-empty, even-length, upper-case hex only. */
bool gw_is_upper_hex(const char *s);
/* RFC 3339 UTC with seconds: YYYY-MM-DDTHH:MM:SS[.fff]Z */
bool gw_is_rfc3339_utc(const char *s);
/* Upper-case hex of a byte string (malloc'd). */
char *gw_hex(const void *data, size_t len);
/* Sleeps ms milliseconds. */
void gw_sleep_ms(int ms);

/* How much slower than a plain release run this run is: the factor in
 * $MAPIGW_TEST_TIME_SCALE (e.g. 3 under the sanitizers, 10 under valgrind;
 * 1 when unset or invalid). Every deadline a test waits on goes through
 * gw_ms, so waits stretch with the run instead of flaking on a busy or
 * instrumented machine. Durations the gateway itself is configured with (an
 * idle timeout, say) are not scaled: only how long a test waits for them. */
double gw_time_scale(void);
/* ms scaled by gw_time_scale(), rounded up, saturating at INT_MAX. */
int gw_ms(int ms);
