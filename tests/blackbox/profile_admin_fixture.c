/* profile_admin_fixture.c - the black-box "profile_admin" suite, its
 * gateway, and the helpers its tests share (see profile_admin_fixture.h). */
#include "profile_admin_fixture.h"

#include "../support/srv_redis.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

gw *pa_gw;

static const char *const ARGS[] = {"--store",          "memory", "--admin-key", KEY,
                                   "--throttle-after", "1000",   NULL};

/* ------------------------------------------------------------ the folder */

/* A folder made unwritable by the test (chmod, or the immutable attribute
 * when running as root): undone in the teardown whatever happens. */
static char locked_dir[512];
static int locked_kind; /* 0 none, 1 chmod 0555, 2 FS_IMMUTABLE_FL */

static int set_immutable(const char *dir, bool on)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int flags = 0;
    int rc = ioctl(fd, FS_IOC_GETFLAGS, &flags);
    if (rc == 0) {
        flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
        rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    close(fd);
    return rc;
}

void pa_unlock_dir(void)
{
    if (locked_kind == 1)
        chmod(locked_dir, 0700);
    else if (locked_kind == 2)
        set_immutable(locked_dir, false);
    locked_kind = 0;
}

/* Makes dir unwritable even for root, or skips the test. */
void pa_lock_dir(const char *dir)
{
    snprintf(locked_dir, sizeof locked_dir, "%s", dir);
    if (geteuid() != 0) {
        cr_assert_eq(chmod(dir, 0555), 0, "chmod %s: %s", dir, strerror(errno));
        locked_kind = 1;
        return;
    }
    /* root ignores the mode bits: the immutable attribute stops it too */
    if (set_immutable(dir, true) != 0)
        cr_skip_test("running as root and %s cannot be made immutable (%s): root ignores a chmod",
                     dir, strerror(errno));
    locked_kind = 2;
    /* check that it holds */
    char probe[600];
    snprintf(probe, sizeof probe, "%s/.probe", dir);
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        unlink(probe);
        pa_unlock_dir();
        cr_skip_test("%s stays writable even when immutable", dir);
    }
}

/* The Redis server of the shared-store test. */
static srv_redis REDIS;
static bool redis_up;

static void fini_gw(void)
{
    pa_unlock_dir();
    if (pa_gw)
        gw_finish(pa_gw);
    pa_gw = NULL;
    if (redis_up)
        srv_redis_destroy(&REDIS);
    redis_up = false;
    gw_test_files_clean();
}

TestSuite(profile_admin, .fini = fini_gw, .timeout = 180);

const char *pa_redis_start(void)
{
    srv_redis_start(&REDIS);
    redis_up = true;
    return REDIS.url;
}

/* ------------------------------------------------------------- secrets */

/* Secrets this test used, added again to a restarted gateway. */
static const char *secrets[32];
static size_t nsecrets;

void pa_secret(const char *s)
{
    gw_add_secret(pa_gw, s);
    if (nsecrets < sizeof secrets / sizeof secrets[0])
        secrets[nsecrets++] = s;
}

void pa_start_with(const char *profiles, const char *const *args)
{
    nsecrets = 0;
    pa_gw = gw_start(profiles, args);
    gw_add_secret(pa_gw, KEY);
}

void pa_start(void) { pa_start_with(FILE_NAME, ARGS); }

/* --------------------------------------------------------------- files */

char *pa_file_text(void)
{
    char *t = gw_read_whole(gw_profiles_path(pa_gw), NULL);
    cr_assert(t, "cannot read %s", gw_profiles_path(pa_gw));
    return t;
}

json_t *pa_file_json(void)
{
    json_error_t e;
    json_t *j = json_load_file(gw_profiles_path(pa_gw), 0, &e);
    cr_assert(j, "the profiles file does not parse: %s (line %d)", e.text, e.line);
    return j;
}

json_t *pa_find_named(json_t *arr, const char *name) { return gw_find_named(arr, "name", name); }

json_t *pa_file_profile(json_t *root, const char *name)
{
    return pa_find_named(json_object_get(root, "profiles"), name);
}

/* The verifier of a profile in the file (copied to out; "" when none). */
void pa_file_verifier(const char *name, char *out, size_t cap)
{
    json_t *root = pa_file_json();
    json_t *p = pa_file_profile(root, name);
    const char *v = p ? gw_jstr(json_object_get(p, "auth"), "verifier") : NULL;
    snprintf(out, cap, "%s", v ? v : "");
    json_decref(root);
}

void pa_expect_file_unchanged(const char *before, const char *what)
{
    char *now = pa_file_text();
    cr_expect_str_eq(now, before, "%s: the profiles file changed", what);
    free(now);
}

json_t *pa_file_settings(json_t *root, const char *profile, const char *service, size_t pos)
{
    json_t *s = pa_find_named(json_object_get(pa_file_profile(root, profile), "services"), service);
    return json_object_get(json_array_get(json_object_get(s, "providers"), pos), "settings");
}

void pa_expect_file_setting(const char *profile, const char *service, size_t pos, const char *key,
                            const char *want, const char *what)
{
    json_t *root = pa_file_json();
    const char *got = pa_str(pa_file_settings(root, profile, service, pos), key);
    cr_expect_str_eq(got, want, "%s: the file's %s of %s/%s is %s, not %s", what, key, profile,
                     service, got, want);
    json_decref(root);
}

void pa_expect_file_default(const char *want)
{
    json_t *root = pa_file_json();
    json_t *d = json_object_get(root, "default_profile");
    if (want)
        cr_expect_str_eq(pa_str(root, "default_profile"), want);
    else
        cr_expect(d == NULL || json_is_null(d), "default_profile still set: %s",
                  json_string_value(d) ? json_string_value(d) : "?");
    json_decref(root);
}

void pa_expect_verifier_changed(const char *name, const char *old, const char *what)
{
    char v[256];
    pa_file_verifier(name, v, sizeof v);
    cr_expect(strncmp(v, "$argon2id$", 10) == 0 && strcmp(v, old) != 0, "%s", what);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a folder, sorted, one a line (malloc'd). */
char *pa_dir_names(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d, "opendir %s: %s", dir, strerror(errno));
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *out = calloc(1, len);
    cr_assert(out);
    for (size_t i = 0; i < n; i++) {
        strcat(out, names[i]);
        strcat(out, "\n");
        free(names[i]);
    }
    return out;
}

void pa_expect_listing(const char *listing, const char *what)
{
    char *now = pa_dir_names(gw_tmp_dir(pa_gw));
    cr_expect_str_eq(now, listing, "%s", what);
    free(now);
}

/* ------------------------------------------------------------ requests */

long pa_req(const char *method, const char *path, const char *bearer, const char *if_match,
            const char *body, gw_resp *r)
{
    char auth[256], im[128];
    const char *h[3] = {NULL, NULL, NULL};
    size_t n = 0;
    if (bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        h[n++] = auth;
    }
    if (if_match) {
        snprintf(im, sizeof im, "If-Match: %s", if_match);
        h[n++] = im;
    }
    return gw_request(pa_gw, method, path, h, body, r);
}

long pa_admin(const char *method, const char *path, const char *body, gw_resp *r)
{
    return pa_req(method, path, KEY, NULL, body, r);
}

long pa_admin_if(const char *method, const char *path, const char *if_match, const char *body,
                 gw_resp *r)
{
    return pa_req(method, path, KEY, if_match, body, r);
}

/* The three MAPI errors new with this contract, whose codes the shared
 * helper does not know yet. */
static const struct {
    const char *name, *code;
} NEW_CODES[] = {
    {"MAPI_E_OBJECT_CHANGED", "0x80040109"},
    {"MAPI_E_COLLISION", "0x80040604"},
    {"MAPI_E_DISK_ERROR", "0x80040116"},
};

void pa_problem(const gw_resp *r, long status, const char *mapi_error)
{
    gw_assert_problem(r, status, mapi_error);
    for (size_t i = 0; i < sizeof NEW_CODES / sizeof NEW_CODES[0]; i++)
        if (strcmp(NEW_CODES[i].name, mapi_error) == 0) {
            const char *mc = gw_jstr(r->json, "mapi_code");
            cr_expect(mc && strcmp(mc, NEW_CODES[i].code) == 0, "mapi_code %s for %s, not %s",
                      mc ? mc : "(none)", mapi_error, NEW_CODES[i].code);
        }
}

/* The answer is the problem, and the profiles file is still before. */
void pa_refused(gw_resp *r, long status, const char *mapi_error, const char *before)
{
    pa_problem(r, status, mapi_error);
    pa_expect_file_unchanged(before, mapi_error);
    gw_resp_free(r);
}

void pa_admin_ok(const char *method, const char *path, const char *body, long want, gw_resp *r)
{
    pa_admin(method, path, body, r);
    cr_assert_eq(r->status, want, "%s %s: %ld %s", method, path, r->status, r->body);
}

void pa_admin_expect(const char *method, const char *path, const char *body, long want)
{
    gw_resp r;
    pa_admin(method, path, body, &r);
    cr_expect_eq(r.status, want, "%s %s: %ld %s", method, path, r.status, r.body);
    gw_resp_free(&r);
}

void pa_expect_admin_problem(const char *method, const char *path, const char *body, long status,
                             const char *mapi_error)
{
    gw_resp r;
    pa_admin(method, path, body, &r);
    pa_problem(&r, status, mapi_error);
    gw_resp_free(&r);
}

void pa_admin_refused(const char *method, const char *path, const char *body, long status,
                      const char *mapi_error, const char *before)
{
    gw_resp r;
    pa_admin(method, path, body, &r);
    pa_refused(&r, status, mapi_error, before);
}

void pa_expect_all_invalid(const char *method, const char *path, const char *bearer,
                           const char *const *bodies, size_t n, const char *before)
{
    for (size_t i = 0; i < n; i++) {
        gw_resp r;
        pa_req(method, path, bearer ? bearer : KEY, NULL, bodies[i], &r);
        cr_expect_eq(r.status, 400, "%s %s %s: %ld %s", method, path, bodies[i], r.status, r.body);
        if (r.status == 400)
            pa_refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
        else
            gw_resp_free(&r);
    }
}

const char *pa_detail_of(const gw_resp *r)
{
    const char *d = r->json ? gw_jstr(r->json, "detail") : NULL;
    return d ? d : "";
}

const char *pa_str(const json_t *obj, const char *key)
{
    const char *s = gw_jstr(obj, key);
    return s ? s : "(none)";
}

void pa_expect_location(const gw_resp *r, const char *want)
{
    const char *loc = gw_header(r, "Location");
    cr_expect(loc && strcmp(loc, want) == 0, "Location %s, not %s", loc ? loc : "(none)", want);
}

/* ETag: "<16 lower-case hex>" (asserted); copied with its quotes to out. */
void pa_etag_of(const gw_resp *r, char out[32])
{
    const char *e = gw_header(r, "ETag");
    cr_assert(e, "no ETag on %ld %s", r->status, r->body);
    bool ok = strlen(e) == 18 && e[0] == '"' && e[17] == '"';
    for (int i = 1; ok && i < 17; i++)
        ok = (e[i] >= '0' && e[i] <= '9') || (e[i] >= 'a' && e[i] <= 'f');
    cr_assert(ok, "ETag %s is not \"<16 lower-case hex>\"", e);
    snprintf(out, 32, "%s", e);
}

bool pa_is_uid(const char *s) { return s && strlen(s) == 32 && gw_is_upper_hex(s); }

void pa_expect_json_answer(const gw_resp *r)
{
    const char *ct = gw_header(r, "Content-Type");
    cr_expect(ct && strncmp(ct, "application/json", 16) == 0, "Content-Type %s",
              ct ? ct : "(none)");
    cr_expect(r->body_len > 0 && r->body[r->body_len - 1] == '\n',
              "the JSON answer has no trailing newline: %s", r->body);
    cr_assert(json_is_object(r->json), "not a JSON object: %s", r->body);
}

/* A provider view at position pos. */
void pa_expect_provider_view(json_t *p, size_t pos)
{
    json_t *jp = json_object_get(p, "position");
    cr_expect(json_is_integer(jp) && json_integer_value(jp) == (json_int_t)pos,
              "provider %zu: position %lld", pos,
              json_is_integer(jp) ? (long long)json_integer_value(jp) : -1LL);
    const char *type = gw_jstr(p, "type");
    cr_expect(type && strncmp(type, "MAPI_", 5) == 0, "provider type %s", type ? type : "(none)");
    cr_expect(gw_jstr(p, "kind") != NULL, "provider without kind");
    cr_expect(gw_jstr(p, "display_name") != NULL, "provider without display_name");
    cr_expect(json_is_array(json_object_get(p, "resource_flags")), "resource_flags not an array");
    cr_expect(json_is_object(json_object_get(p, "settings")), "settings not an object");
    cr_expect(json_is_array(json_object_get(p, "user_settings")), "user_settings not an array");
}

/* A service view: uid, name, providers. */
void pa_expect_service_view(json_t *s)
{
    cr_assert(json_is_object(s), "a service view is not an object");
    cr_expect(pa_is_uid(gw_jstr(s, "uid")), "service uid %s is not 32 upper-case hex",
              gw_jstr(s, "uid") ? gw_jstr(s, "uid") : "(none)");
    cr_expect(gw_jstr(s, "name") != NULL, "service without a name");
    json_t *provs = json_object_get(s, "providers");
    cr_assert(json_is_array(provs), "service without providers");
    size_t i;
    json_t *p;
    json_array_foreach(provs, i, p) pa_expect_provider_view(p, i);
}

/* A profile view answer: its name, auth, version == ETag, no verifier.
 * The ETag is copied to etag when not NULL. */
void pa_expect_profile_view(const gw_resp *r, const char *name, const char *auth, char *etag)
{
    pa_expect_json_answer(r);
    char e[32];
    pa_etag_of(r, e);
    if (etag)
        snprintf(etag, 32, "%s", e);
    cr_expect_str_eq(gw_jstr(r->json, "name") ? gw_jstr(r->json, "name") : "(none)", name);
    if (auth)
        cr_expect_str_eq(gw_jstr(r->json, "auth") ? gw_jstr(r->json, "auth") : "(none)", auth);
    cr_expect(json_is_boolean(json_object_get(r->json, "default")), "default is not a boolean: %s",
              r->body);
    const char *v = gw_jstr(r->json, "version");
    cr_expect(v && strlen(v) == 16 && strncmp(e + 1, v, 16) == 0,
              "body version %s is not the ETag %s", v ? v : "(none)", e);
    cr_expect(strstr(r->body, "verifier") == NULL && strstr(r->body, "$argon2id$") == NULL,
              "a verifier in the profile view: %s", r->body);
    json_t *svcs = json_object_get(r->json, "services");
    cr_assert(json_is_array(svcs), "no services array: %s", r->body);
    size_t i;
    json_t *s;
    json_array_foreach(svcs, i, s) pa_expect_service_view(s);
}

bool pa_view_default(const gw_resp *r) { return json_is_true(json_object_get(r->json, "default")); }

/* GET /profiles/<name> with the admin key, asserting 200 and the view. */
void pa_get_profile(const char *name, gw_resp *r, char etag[32])
{
    char path[256];
    char *enc = gw_urlencode(name);
    snprintf(path, sizeof path, "/profiles/%s", enc);
    free(enc);
    pa_admin("GET", path, NULL, r);
    cr_assert_eq(r->status, 200, "GET %s: %ld %s", path, r->status, r->body);
    pa_expect_profile_view(r, name, NULL, etag);
}

void pa_profile_etag(const char *name, char etag[32])
{
    gw_resp r;
    pa_get_profile(name, &r, etag);
    gw_resp_free(&r);
}

/* The uid of a profile's service named svc, by the admin list. */
void pa_service_uid(const char *profile, const char *svc, char out[40])
{
    char path[256];
    snprintf(path, sizeof path, "/profiles/%s/services", profile);
    gw_resp r;
    pa_admin("GET", path, NULL, &r);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *s = pa_find_named(json_object_get(r.json, "services"), svc);
    cr_assert(s, "no service %s in %s", svc, r.body);
    cr_assert(pa_is_uid(gw_jstr(s, "uid")), "%s", r.body);
    snprintf(out, 40, "%s", gw_jstr(s, "uid"));
    gw_resp_free(&r);
}

void pa_service_path(const char *profile, const char *svc, char uid[40], char path[256])
{
    pa_service_uid(profile, svc, uid);
    snprintf(path, 256, "/profiles/%s/services/%s", profile, uid);
}

void pa_expect_view_default(const char *name, bool want, const char *what)
{
    gw_resp r;
    pa_get_profile(name, &r, NULL);
    cr_expect_eq(pa_view_default(&r), want, "%s: %s", what, r.body);
    gw_resp_free(&r);
}

/* -------------------------------------------------------------- logons */

void pa_expect_logon(const char *profile, const char *pw, long want, const char *what)
{
    gw_session s;
    long st = gw_logon(pa_gw, profile, pw, NEWS, &s);
    cr_expect_eq(st, want, "%s: logon %s: %ld %s", what, profile, st, s.resp.body);
    if (st == want && want == 401)
        gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&s);
}

void pa_expect_default_logon(const char *pw, long want, const char *profile, const char *what)
{
    gw_session s;
    long st = gw_logon(pa_gw, NULL, pw, "[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_SESSION\"]", &s);
    cr_expect_eq(st, want, "%s: %ld %s", what, st, s.resp.body);
    if (st == 201 && profile)
        cr_expect_str_eq(pa_str(s.resp.json, "profile"), profile);
    gw_session_free(&s);
}

void pa_expect_status(const char *token, long want, const char *what)
{
    gw_resp r;
    gw_get(pa_gw, "/status", token, &r);
    if (want == 401)
        gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    else
        cr_expect_eq(r.status, want, "%s: GET /status %ld %s", what, r.status, r.body);
    gw_resp_free(&r);
}

size_t pa_status_rows(const char *token)
{
    gw_resp r;
    gw_get(pa_gw, "/status", token, &r);
    cr_assert_eq(r.status, 200, "GET /status: %ld %s", r.status, r.body);
    size_t n = json_array_size(json_object_get(r.json, "rows"));
    gw_resp_free(&r);
    return n;
}

/* --------------------------------------------------------- reload, restart */

long long pa_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log lines whose msg starts with prefix. */
size_t pa_count_log_msgs(const char *prefix)
{
    char *log = gw_read_log(pa_gw);
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "msg"));
        if (msg && strncmp(msg, prefix, strlen(prefix)) == 0)
            n++;
        json_decref(j);
    }
    free(log);
    return n;
}

/* SIGHUP, and a bounded wait for one more "profiles reloaded" line. */
void pa_sighup_reload(void)
{
    size_t before = pa_count_log_msgs("profiles reloaded");
    cr_assert_eq(kill(gw_pid(pa_gw), SIGHUP), 0);
    for (long long end = pa_now_ms() + gw_ms(10000); pa_now_ms() < end; gw_sleep_ms(20))
        if (pa_count_log_msgs("profiles reloaded") > before)
            return;
    cr_assert_fail("no \"profiles reloaded\" log line after SIGHUP");
}

/* Stops the gateway (exit 0, no secret in its log) and starts a new one on
 * the same profiles file's content (same name, a fresh data dir). */
void pa_restart(void)
{
    char *content = pa_file_text();
    const char *saved[32];
    size_t n = nsecrets;
    memcpy(saved, secrets, sizeof saved);
    gw_finish(pa_gw);
    pa_gw = NULL;
    const char *p = gw_test_file(FILE_NAME, content);
    free(content);
    pa_start_with(p, ARGS);
    for (size_t i = 0; i < n; i++)
        pa_secret(saved[i]);
}
