/* gw_assert.c - recorded secrets and the log check, problem+json
 * assertions, and JSON helpers of the black-box support (see gw.h). */
#include "gw_private.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---------------------------------------------------------------- secrets */

static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;

/* Appends secret to the whole-suite record $MAPIGW_TEST_LOGS/secrets.txt, one
 * per line, for scripts/check-secrets.sh (which greps every *.log of the
 * folder for every line). A token is recorded without its "mgw_" prefix, so
 * the grep also finds it logged bare. A secret holding line breaks is
 * recorded as its pieces (each one must not appear either). Criterion runs
 * tests in parallel processes: each line goes out in one O_APPEND write().
 * Called with secrets_lock held. */
static void record_secret_suite_wide(const char *secret)
{
    const char *dir = getenv("MAPIGW_TEST_LOGS");
    if (!dir || !*dir)
        return;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/secrets.txt", dir);
    if (n <= 0 || (size_t)n >= sizeof path)
        return;
    gw_mkdirs(dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "cannot open the secrets record %s: %s", path, strerror(errno));
    const char *core = strncmp(secret, "mgw_", 4) == 0 && secret[4] ? secret + 4 : secret;
    for (const char *p = core; *p;) {
        size_t len = strcspn(p, "\r\n");
        if (len >= 4) {
            char *line = malloc(len + 1);
            cr_assert(line != NULL);
            memcpy(line, p, len);
            line[len] = '\n';
            ssize_t w = write(fd, line, len + 1);
            free(line);
            cr_assert(w == (ssize_t)(len + 1), "cannot write the secrets record %s", path);
        }
        p += len;
        p += strspn(p, "\r\n");
    }
    close(fd);
}

void gw_add_secret(gw *g, const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&secrets_lock);
    bool known = false;
    for (size_t i = 0; i < g->nsecrets && !known; i++)
        known = strcmp(g->secrets[i], secret) == 0;
    if (!known) {
        char **n = realloc(g->secrets, (g->nsecrets + 1) * sizeof *n);
        char *d = strdup(secret);
        if (n) {
            g->secrets = n;
            if (d)
                g->secrets[g->nsecrets++] = d;
        } else {
            free(d);
        }
        record_secret_suite_wide(secret);
    }
    pthread_mutex_unlock(&secrets_lock);
}

static void check_secrets_in(gw *g, const char *log, const char *path)
{
    for (size_t i = 0; i < g->nsecrets; i++) {
        const char *s = g->secrets[i];
        /* a token may also be logged without its prefix */
        const char *core = strncmp(s, "mgw_", 4) == 0 ? s + 4 : s;
        cr_expect(strstr(log, core) == NULL, "secret \"%.8s...\" appears in gateway log %s", s,
                  path);
    }
    /* and nothing that looks like a token (mgw_ + a run of URL-safe chars) */
    for (const char *p = log; (p = strstr(p, "mgw_")) != NULL; p += 4) {
        size_t n = 0;
        const char *q = p + 4;
        while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
               *q == '-' || *q == '_') {
            n++;
            q++;
        }
        cr_expect(n < 20, "something token-like (mgw_%.4s... %zu chars) in gateway log %s", p + 4,
                  n, path);
    }
}

void gw_check_log_secrets(gw *g)
{
    char *log = gw_read_log(g);
    check_secrets_in(g, log, g->log);
    free(log);
    if (g->out[0]) {
        log = gw_read_stdout(g);
        check_secrets_in(g, log, g->out);
        free(log);
    }
}

/* ---------------------------------------------------------------- asserts */

static const struct {
    const char *name, *code;
} mapi_codes[] = {
    {"MAPI_E_LOGON_FAILED", "0x80040111"},
    {"MAPI_E_END_OF_SESSION", "0x80040200"},
    {"MAPI_E_INVALID_PARAMETER", "0x80070057"},
    {"MAPI_E_UNKNOWN_FLAGS", "0x80040106"},
    {"MAPI_E_NOT_FOUND", "0x8004010F"},
    {"MAPI_E_NO_SUPPORT", "0x80040102"},
    {"MAPI_E_NO_ACCESS", "0x80070005"},
    {"MAPI_E_SESSION_LIMIT", "0x80040112"},
    {"MAPI_E_NOT_ENOUGH_RESOURCES", "0x8004010E"},
    {"MAPI_E_TIMEOUT", "0x80040401"},
    {"MAPI_E_NETWORK_ERROR", "0x80040115"},
    {"MAPI_E_BUSY", "0x8004010B"},
    {"MAPI_E_NOT_INITIALIZED", "0x80040605"},
    {"MAPI_E_INVALID_ENTRYID", "0x80040107"},
    {"MAPI_E_UNKNOWN_ENTRYID", "0x80040201"},
    {"MAPI_E_CALL_FAILED", "0x80004005"},
    {"MAPI_E_BAD_CHARWIDTH", "0x80040103"},
    {"MAPI_W_NO_SERVICE", "0x00040203"},
    {"MAPI_W_ERRORS_RETURNED", "0x00040380"},
};

const char *gw_mapi_code(const char *mapi_error)
{
    for (size_t i = 0; i < sizeof mapi_codes / sizeof mapi_codes[0]; i++)
        if (strcmp(mapi_codes[i].name, mapi_error) == 0)
            return mapi_codes[i].code;
    return NULL;
}

void gw_assert_no_store(const gw_resp *resp)
{
    const char *cc = gw_header(resp, "Cache-Control");
    cr_expect(cc != NULL && strstr(cc, "no-store") != NULL,
              "Cache-Control: no-store missing (got %s)", cc ? cc : "(none)");
}

static bool code_shape_ok(const char *s)
{
    if (!s || strlen(s) != 10 || s[0] != '0' || s[1] != 'x')
        return false;
    for (int i = 2; i < 10; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

void gw_assert_problem(const gw_resp *resp, long status, const char *mapi_error)
{
    cr_assert_eq(resp->status, status, "expected HTTP %ld %s, got %ld: %s", status, mapi_error,
                 resp->status, resp->body ? resp->body : resp->errbuf);
    const char *ct = gw_header(resp, "Content-Type");
    cr_expect(ct && strncasecmp(ct, "application/problem+json", 24) == 0,
              "error Content-Type is %s, not application/problem+json", ct ? ct : "(none)");
    cr_assert(resp->json && json_is_object(resp->json), "error body is not a JSON object: %s",
              resp->body);
    const char *me = gw_jstr(resp->json, "mapi_error");
    cr_expect(me && strcmp(me, mapi_error) == 0, "mapi_error %s, expected %s (body %s)",
              me ? me : "(none)", mapi_error, resp->body);
    const char *mc = gw_jstr(resp->json, "mapi_code");
    cr_expect(code_shape_ok(mc), "mapi_code %s does not match ^0x[0-9A-F]{8}$", mc ? mc : "(none)");
    const char *want = gw_mapi_code(mapi_error);
    if (want && mc)
        cr_expect_str_eq(mc, want, "mapi_code %s for %s, expected %s", mc, mapi_error, want);
    json_t *st = json_object_get(resp->json, "status");
    cr_expect(json_is_integer(st) && json_integer_value(st) == status,
              "problem \"status\" member does not equal %ld (body %s)", status, resp->body);
    const char *type = gw_jstr(resp->json, "type");
    char want_type[128];
    snprintf(want_type, sizeof want_type, "urn:mapigw:problem:%s", mapi_error);
    cr_expect(type && strcmp(type, want_type) == 0, "problem type %s, expected %s",
              type ? type : "(none)", want_type);
    cr_expect(gw_jstr(resp->json, "title") != NULL, "problem without a title: %s", resp->body);
    gw_assert_no_store(resp);
}

/* ---------------------------------------------------------------- JSON */

const char *gw_jstr(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool gw_jnames_has(const json_t *flagset, const char *name)
{
    json_t *names = json_object_get(flagset, "names");
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

unsigned long long gw_jvalue(const json_t *flagset)
{
    json_t *v = json_object_get(flagset, "value");
    cr_assert(json_is_integer(v), "flag set without an integer value");
    return (unsigned long long)json_integer_value(v);
}

json_t *gw_find_named(json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *v = gw_jstr(e, key);
        if (v && strcmp(v, value) == 0)
            return e;
    }
    return NULL;
}

json_t *gw_find_row(json_t *status_body, const char *display)
{
    return gw_find_named(json_object_get(status_body, "rows"), "display_name", display);
}

static long long row_type(json_t *row)
{
    json_t *rt = json_object_get(row, "resource_type");
    json_t *v = json_object_get(rt, "value");
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

size_t gw_count_rows_of_type(json_t *status_body, unsigned type)
{
    json_t *rows = json_object_get(status_body, "rows");
    size_t i, n = 0;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (row_type(row) == (long long)type)
            n++;
    }
    return n;
}

json_t *gw_row_of_type(json_t *status_body, unsigned type)
{
    json_t *rows = json_object_get(status_body, "rows");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (row_type(row) == (long long)type)
            return row;
    }
    return NULL;
}

const char *gw_row_with_method(json_t *status_body, unsigned long long bit)
{
    const char *ik = NULL;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(status_body, "rows"), i, row)
    {
        if (gw_jvalue(json_object_get(row, "resource_methods")) & bit)
            ik = gw_jstr(row, "instance_key");
    }
    return ik;
}
