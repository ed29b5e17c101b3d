/* Black-box suite "profile_admin": profile and message-service
 * administration over HTTP (IProfAdmin, IMsgServiceAdmin,
 * IMAPISession::AdminServices) and the durable change-password.
 *
 * - Every admin route needs the admin key: a session token, no key or a
 *   gateway without --admin-key get 403 MAPI_E_NO_ACCESS.
 * - Profiles: create (password, auth, services, default), copy (keeps the
 *   password), rename (ends the old name's sessions), delete (ends its
 *   sessions and event streams: critical_error reason profile_changed), the
 *   default flag, PUT password (old password checked, sessions end).
 * - Every write is durable and atomic: the profiles file holds it, a SIGHUP
 *   reload and a restart keep it, no temporary file is left beside it, a
 *   refused write leaves the file byte for byte.
 * - Versions: ETag "<16 lower-case hex>" equal to the body's version,
 *   If-Match stale -> 412 MAPI_E_OBJECT_CHANGED, a hand edit + SIGHUP
 *   changes the version of the edited profile only.
 * - Validation by the loader: 400 MAPI_E_INVALID_PARAMETER whose detail
 *   names the field.
 * - Message services: list, create (201 + Location), 409 on a duplicate
 *   name, get, providers, merge-patch of settings (null removes), delete;
 *   new logons see the change, live sessions keep what they logged on with.
 * - The session's own services (/services): own profile only, only
 *   user_settings may be patched (403 otherwise), template profiles 501.
 * - POST /status/{ik}/change-password survives a SIGHUP and a restart.
 * - An unwritable profiles folder: 500 MAPI_E_DISK_ERROR, nothing changed.
 * - With a shared store (make test-redis-mode) writes are 501.
 *
 * Every gateway runs with --store memory (writes are refused with a shared
 * store) except the one test of that refusal.
 */
#include "../support/srv_redis.h"
#include "sse_fixture.h"

#include <criterion/criterion.h>
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

static gw *G;

#define KEY "profile-admin-key-0123456789abcdef0123456789"
#define FILE_NAME "profile-admin.json"
#define NEWS "[\"MAPI_NEW_SESSION\"]"
#define STALE "\"0000000000000000\""

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

static void unlock_dir(void)
{
    if (locked_kind == 1)
        chmod(locked_dir, 0700);
    else if (locked_kind == 2)
        set_immutable(locked_dir, false);
    locked_kind = 0;
}

/* Makes dir unwritable even for root, or skips the test. */
static void lock_dir(const char *dir)
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
        unlock_dir();
        cr_skip_test("%s stays writable even when immutable", dir);
    }
}

/* The Redis server of the shared-store test. */
static srv_redis REDIS;
static bool redis_up;

static void fini_gw(void)
{
    unlock_dir();
    if (G)
        gw_finish(G);
    G = NULL;
    if (redis_up)
        srv_redis_destroy(&REDIS);
    redis_up = false;
    gw_test_files_clean();
}

TestSuite(profile_admin, .fini = fini_gw, .timeout = 180);

/* ------------------------------------------------------------- secrets */

/* Secrets this test used, added again to a restarted gateway. */
static const char *secrets[32];
static size_t nsecrets;

static void secret(const char *s)
{
    gw_add_secret(G, s);
    if (nsecrets < sizeof secrets / sizeof secrets[0])
        secrets[nsecrets++] = s;
}

static void start_with(const char *profiles, const char *const *args)
{
    nsecrets = 0;
    G = gw_start(profiles, args);
    gw_add_secret(G, KEY);
}

static void start(void) { start_with(FILE_NAME, ARGS); }

/* --------------------------------------------------------------- files */

/* The whole file (malloc'd), or NULL when it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *d = malloc(cap);
    cr_assert(d);
    size_t n;
    while ((n = fread(d + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            d = realloc(d, cap);
            cr_assert(d);
        }
    }
    fclose(f);
    d[len] = '\0';
    return d;
}

static char *file_text(void)
{
    char *t = slurp(gw_profiles_path(G));
    cr_assert(t, "cannot read %s", gw_profiles_path(G));
    return t;
}

static json_t *file_json(void)
{
    json_error_t e;
    json_t *j = json_load_file(gw_profiles_path(G), 0, &e);
    cr_assert(j, "the profiles file does not parse: %s (line %d)", e.text, e.line);
    return j;
}

static json_t *find_named(json_t *arr, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *n = gw_jstr(e, "name");
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

static json_t *file_profile(json_t *root, const char *name)
{
    return find_named(json_object_get(root, "profiles"), name);
}

/* The verifier of a profile in the file (copied to out; "" when none). */
static void file_verifier(const char *name, char *out, size_t cap)
{
    json_t *root = file_json();
    json_t *p = file_profile(root, name);
    const char *v = p ? gw_jstr(json_object_get(p, "auth"), "verifier") : NULL;
    snprintf(out, cap, "%s", v ? v : "");
    json_decref(root);
}

static void expect_file_unchanged(const char *before, const char *what)
{
    char *now = file_text();
    cr_expect_str_eq(now, before, "%s: the profiles file changed", what);
    free(now);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a folder, sorted, one a line (malloc'd). */
static char *dir_names(const char *dir)
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

/* ------------------------------------------------------------ requests */

static long req(const char *method, const char *path, const char *bearer, const char *if_match,
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
    return gw_request(G, method, path, h, body, r);
}

static long admin(const char *method, const char *path, const char *body, gw_resp *r)
{
    return req(method, path, KEY, NULL, body, r);
}

static long admin_if(const char *method, const char *path, const char *if_match, const char *body,
                     gw_resp *r)
{
    return req(method, path, KEY, if_match, body, r);
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

static void problem(const gw_resp *r, long status, const char *mapi_error)
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
static void refused(gw_resp *r, long status, const char *mapi_error, const char *before)
{
    problem(r, status, mapi_error);
    expect_file_unchanged(before, mapi_error);
    gw_resp_free(r);
}

static const char *detail_of(const gw_resp *r)
{
    const char *d = r->json ? gw_jstr(r->json, "detail") : NULL;
    return d ? d : "";
}

/* ETag: "<16 lower-case hex>" (asserted); copied with its quotes to out. */
static void etag_of(const gw_resp *r, char out[32])
{
    const char *e = gw_header(r, "ETag");
    cr_assert(e, "no ETag on %ld %s", r->status, r->body);
    bool ok = strlen(e) == 18 && e[0] == '"' && e[17] == '"';
    for (int i = 1; ok && i < 17; i++)
        ok = (e[i] >= '0' && e[i] <= '9') || (e[i] >= 'a' && e[i] <= 'f');
    cr_assert(ok, "ETag %s is not \"<16 lower-case hex>\"", e);
    snprintf(out, 32, "%s", e);
}

static bool is_uid(const char *s) { return s && strlen(s) == 32 && gw_is_upper_hex(s); }

static void expect_json_answer(const gw_resp *r)
{
    const char *ct = gw_header(r, "Content-Type");
    cr_expect(ct && strncmp(ct, "application/json", 16) == 0, "Content-Type %s",
              ct ? ct : "(none)");
    cr_expect(r->body_len > 0 && r->body[r->body_len - 1] == '\n',
              "the JSON answer has no trailing newline: %s", r->body);
    cr_assert(json_is_object(r->json), "not a JSON object: %s", r->body);
}

/* A provider view at position pos. */
static void expect_provider_view(json_t *p, size_t pos)
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
static void expect_service_view(json_t *s)
{
    cr_assert(json_is_object(s), "a service view is not an object");
    cr_expect(is_uid(gw_jstr(s, "uid")), "service uid %s is not 32 upper-case hex",
              gw_jstr(s, "uid") ? gw_jstr(s, "uid") : "(none)");
    cr_expect(gw_jstr(s, "name") != NULL, "service without a name");
    json_t *provs = json_object_get(s, "providers");
    cr_assert(json_is_array(provs), "service without providers");
    size_t i;
    json_t *p;
    json_array_foreach(provs, i, p) expect_provider_view(p, i);
}

/* A profile view answer: its name, auth, version == ETag, no verifier.
 * The ETag is copied to etag when not NULL. */
static void expect_profile_view(const gw_resp *r, const char *name, const char *auth, char *etag)
{
    expect_json_answer(r);
    char e[32];
    etag_of(r, e);
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
    json_array_foreach(svcs, i, s) expect_service_view(s);
}

static bool view_default(const gw_resp *r)
{
    return json_is_true(json_object_get(r->json, "default"));
}

/* GET /profiles/<name> with the admin key, asserting 200 and the view. */
static void get_profile(const char *name, gw_resp *r, char etag[32])
{
    char path[256];
    char *enc = gw_urlencode(name);
    snprintf(path, sizeof path, "/profiles/%s", enc);
    free(enc);
    admin("GET", path, NULL, r);
    cr_assert_eq(r->status, 200, "GET %s: %ld %s", path, r->status, r->body);
    expect_profile_view(r, name, NULL, etag);
}

static void profile_etag(const char *name, char etag[32])
{
    gw_resp r;
    get_profile(name, &r, etag);
    gw_resp_free(&r);
}

/* The uid of a profile's service named svc, by the admin list. */
static void service_uid(const char *profile, const char *svc, char out[40])
{
    char path[256];
    snprintf(path, sizeof path, "/profiles/%s/services", profile);
    gw_resp r;
    admin("GET", path, NULL, &r);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *s = find_named(json_object_get(r.json, "services"), svc);
    cr_assert(s, "no service %s in %s", svc, r.body);
    cr_assert(is_uid(gw_jstr(s, "uid")), "%s", r.body);
    snprintf(out, 40, "%s", gw_jstr(s, "uid"));
    gw_resp_free(&r);
}

/* -------------------------------------------------------------- logons */

static void expect_logon(const char *profile, const char *pw, long want, const char *what)
{
    gw_session s;
    long st = gw_logon(G, profile, pw, NEWS, &s);
    cr_expect_eq(st, want, "%s: logon %s: %ld %s", what, profile, st, s.resp.body);
    if (st == want && want == 401)
        gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&s);
}

static void expect_status(const char *token, long want, const char *what)
{
    gw_resp r;
    gw_get(G, "/status", token, &r);
    if (want == 401)
        gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    else
        cr_expect_eq(r.status, want, "%s: GET /status %ld %s", what, r.status, r.body);
    gw_resp_free(&r);
}

static size_t status_rows(const char *token)
{
    gw_resp r;
    gw_get(G, "/status", token, &r);
    cr_assert_eq(r.status, 200, "GET /status: %ld %s", r.status, r.body);
    size_t n = json_array_size(json_object_get(r.json, "rows"));
    gw_resp_free(&r);
    return n;
}

/* POST /status/<ik>/change-password on the row offering it. */
static long change_password(const char *token, const char *body, gw_resp *out)
{
    gw_resp r;
    gw_get(G, "/status", token, &r);
    cr_assert_eq(r.status, 200, "GET /status: %ld %s", r.status, r.body);
    const char *ik = NULL;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r.json, "rows"), i, row)
    {
        if (gw_jvalue(json_object_get(row, "resource_methods")) & 0x4u)
            ik = gw_jstr(row, "instance_key");
    }
    cr_assert(ik, "no row offers change-password: %s", r.body);
    char path[256];
    snprintf(path, sizeof path, "/status/%s/change-password", ik);
    gw_resp_free(&r);
    return gw_post(G, path, token, body, out);
}

/* --------------------------------------------------------- reload, restart */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log lines whose msg starts with prefix. */
static size_t count_log_msgs(const char *prefix)
{
    char *log = gw_read_log(G);
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
static void sighup_reload(void)
{
    size_t before = count_log_msgs("profiles reloaded");
    cr_assert_eq(kill(gw_pid(G), SIGHUP), 0);
    for (long long end = now_ms() + gw_ms(10000); now_ms() < end; gw_sleep_ms(20))
        if (count_log_msgs("profiles reloaded") > before)
            return;
    cr_assert_fail("no \"profiles reloaded\" log line after SIGHUP");
}

/* Stops the gateway (exit 0, no secret in its log) and starts a new one on
 * the same profiles file's content (same name, a fresh data dir). */
static void restart(void)
{
    char *content = file_text();
    const char *saved[32];
    size_t n = nsecrets;
    memcpy(saved, secrets, sizeof saved);
    gw_finish(G);
    G = NULL;
    const char *p = gw_test_file(FILE_NAME, content);
    free(content);
    start_with(p, ARGS);
    for (size_t i = 0; i < n; i++)
        secret(saved[i]);
}

/* ===================================================== the admin key */

/* Every admin route of the contract, a uid filled in. */
typedef struct {
    const char *method;
    char path[160];
    const char *body;
} route;

static size_t admin_routes(route *out, const char *uid)
{
    static const struct {
        const char *method, *path, *body;
    } R[] = {
        {"GET", "/profiles/ann", NULL},
        {"GET", "/profiles/nobody", NULL},
        {"POST", "/profiles", "{\"name\":\"intruder\",\"auth\":{\"type\":\"none\"}}"},
        {"POST", "/profiles", "{\"name\":\"intruder\",\"copy_from\":\"ann\"}"},
        {"PATCH", "/profiles/ann", "{\"default\":false}"},
        {"PATCH", "/profiles/ben", "{\"name\":\"intruder\"}"},
        {"DELETE", "/profiles/ben", NULL},
        {"PUT", "/profiles/ann/password", "{\"new_password\":\"intruder-pw\"}"},
        {"GET", "/profiles/ann/services", NULL},
        {"POST", "/profiles/ann/services", "{\"name\":\"Intruder\",\"providers\":[]}"},
        {"GET", "/profiles/ann/services/%s", NULL},
        {"PATCH", "/profiles/ann/services/%s", "{\"name\":\"Intruder\"}"},
        {"DELETE", "/profiles/ann/services/%s", NULL},
        {"GET", "/profiles/ann/services/%s/providers", NULL},
    };
    size_t n = sizeof R / sizeof R[0];
    for (size_t i = 0; i < n; i++) {
        out[i].method = R[i].method;
        out[i].body = R[i].body;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(out[i].path, sizeof out[i].path, R[i].path, uid);
#pragma GCC diagnostic pop
    }
    return n;
}

#define FAKE_UID "0123456789ABCDEF0123456789ABCDEF"

static void expect_routes_closed(const char *const *bearers, size_t nbearers, const char *uid,
                                 const char *before)
{
    route rt[32];
    size_t n = admin_routes(rt, uid);
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < nbearers; b++) {
            gw_resp r;
            req(rt[i].method, rt[i].path, bearers[b], NULL, rt[i].body, &r);
            cr_expect_eq(r.status, 403, "%s %s with %s: %ld %s", rt[i].method, rt[i].path,
                         bearers[b] ? "that bearer" : "no Authorization", r.status, r.body);
            if (r.status == 403)
                gw_assert_problem(&r, 403, "MAPI_E_NO_ACCESS");
            gw_resp_free(&r);
        }
    expect_file_unchanged(before, "refused admin requests");
}

Test(profile_admin, every_admin_route_needs_the_admin_key)
{
    start();
    gw_session s;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    /* a real uid when the admin list answers, else a well-formed one */
    char uid[40] = FAKE_UID;
    gw_resp r;
    if (admin("GET", "/profiles/ann/services", NULL, &r) == 200) {
        const char *u = gw_jstr(json_array_get(json_object_get(r.json, "services"), 0), "uid");
        if (is_uid(u))
            snprintf(uid, sizeof uid, "%s", u);
    }
    gw_resp_free(&r);
    char *before = file_text();
    const char *const bearers[] = {s.token, NULL, "not-the-admin-key-0123456789abcdef0123"};
    expect_routes_closed(bearers, 3, uid, before);
    /* nothing happened: the session lives, the profiles are as they were */
    expect_status(s.token, 200, "the session after refused admin requests");
    expect_logon("ann", "ann-pw", 201, "ann after refused admin requests");
    expect_logon("ben", "ben-pw", 201, "ben after refused admin requests");
    expect_logon("intruder", NULL, 401, "a profile a refused POST would have made");
    /* the session's own routes are no admin routes: without a bearer they
     * answer as /status does */
    long want = gw_get(G, "/status", NULL, &r);
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, "/services", NULL, &r), want, "GET /services without a token: %ld %s",
                 r.status, r.body);
    gw_resp_free(&r);
    free(before);
    gw_session_free(&s);
}

Test(profile_admin, admin_routes_are_off_without_an_admin_key)
{
    static const char *const args[] = {"--store", "memory", NULL};
    start_with(FILE_NAME, args);
    gw_session s;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    char *before = file_text();
    const char *const bearers[] = {s.token, KEY, NULL};
    expect_routes_closed(bearers, 3, FAKE_UID, before);
    expect_status(s.token, 200, "the session");
    expect_logon("ben", "ben-pw", 201, "ben");
    free(before);
    gw_session_free(&s);
}

/* ======================================================== profiles */

#define CAT_SERVICE                                                                                \
    "{\"name\":\"Cat "                                                                             \
    "mail\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\","                \
    "\"display_name\":\"Cat Mailbox\",\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],"              \
    "\"settings\":{\"path\":\"cat/Maildir\",\"create\":true}}]}"

Test(profile_admin, create_get_logon_and_the_file_keeps_it)
{
    start();
    secret("cat-pw");
    char *listing = dir_names(gw_tmp_dir(G));
    gw_resp r;
    admin("POST", "/profiles",
          "{\"name\":\"cat\",\"password\":\"cat-pw\",\"services\":[" CAT_SERVICE "]}", &r);
    cr_assert_eq(r.status, 201, "POST /profiles: %ld %s", r.status, r.body);
    char e_post[32], e_get[32];
    expect_profile_view(&r, "cat", "argon2id", e_post);
    const char *loc = gw_header(&r, "Location");
    cr_expect(loc && strcmp(loc, "/profiles/cat") == 0, "Location %s", loc ? loc : "(none)");
    cr_expect(!view_default(&r), "a new profile is not the default: %s", r.body);
    cr_expect(strstr(r.body, "cat-pw") == NULL, "the answer echoes the password");
    json_t *svcs = json_object_get(r.json, "services");
    cr_assert_eq(json_array_size(svcs), 1u, "%s", r.body);
    json_t *svc = json_array_get(svcs, 0);
    cr_expect_str_eq(gw_jstr(svc, "name"), "Cat mail");
    json_t *prov = json_array_get(json_object_get(svc, "providers"), 0);
    cr_expect_str_eq(gw_jstr(prov, "type"), "MAPI_STORE_PROVIDER");
    cr_expect_str_eq(gw_jstr(prov, "kind"), "maildir");
    cr_expect_str_eq(gw_jstr(prov, "display_name"), "Cat Mailbox");
    cr_expect_str_eq(gw_jstr(json_object_get(prov, "settings"), "path"), "cat/Maildir");
    /* the provider's resource flags as a session sees them (the loader adds
     * STATUS_NO_PRIMARY_IDENTITY where neither identity flag is named) */
    bool has_store_flag = false;
    size_t fi;
    json_t *fe;
    json_array_foreach(json_object_get(prov, "resource_flags"), fi, fe) has_store_flag |=
        json_is_string(fe) && strcmp(json_string_value(fe), "STATUS_DEFAULT_STORE") == 0;
    cr_expect(has_store_flag, "resource_flags: %s", r.body);
    gw_resp_free(&r);

    /* logon, and the profile as GET shows it */
    gw_session s;
    gw_logon_ok(G, "cat", "cat-pw", NEWS, &s);
    cr_expect_str_eq(gw_jstr(s.resp.json, "profile"), "cat");
    cr_expect(status_rows(s.token) >= 4, "the new profile's store is not in the status table");
    expect_logon("cat", "not-cat-pw", 401, "a wrong password");
    get_profile("cat", &r, e_get);
    cr_expect_str_eq(e_get, e_post, "GET's ETag differs from the creation's");
    gw_resp_free(&r);
    admin("GET", "/profiles", NULL, &r);
    cr_expect_eq(r.status, 200);
    cr_expect(find_named(json_object_get(r.json, "profiles"), "cat") != NULL,
              "GET /profiles does not list cat: %s", r.body);
    gw_resp_free(&r);

    /* the file holds it, and the rest of the file is kept */
    json_t *root = file_json();
    json_t *cat = file_profile(root, "cat");
    cr_assert(cat, "the profiles file has no cat");
    json_t *auth = json_object_get(cat, "auth");
    cr_expect_str_eq(gw_jstr(auth, "type"), "argon2id");
    cr_expect(gw_jstr(auth, "verifier") &&
                  strncmp(gw_jstr(auth, "verifier"), "$argon2id$", 10) == 0,
              "no argon2id verifier in the file");
    cr_expect_str_eq(gw_jstr(json_array_get(json_object_get(cat, "services"), 0), "name"),
                     "Cat mail");
    cr_expect(file_profile(root, "ann") && file_profile(root, "ben"), "other profiles lost");
    cr_expect_str_eq(gw_jstr(root, "default_profile") ? gw_jstr(root, "default_profile") : "(none)",
                     "ann");
    cr_expect_eq(json_array_size(json_object_get(root, "templates")), 1u, "the template was lost");
    json_decref(root);
    char *after = dir_names(gw_tmp_dir(G));
    cr_expect_str_eq(after, listing, "the profiles file's folder changed (a temporary file left?)");
    free(after);

    /* SIGHUP: the same file, the same version, still there */
    sighup_reload();
    expect_logon("cat", "cat-pw", 201, "cat after SIGHUP");
    profile_etag("cat", e_get);
    cr_expect_str_eq(e_get, e_post, "a reload of an unchanged file changed cat's version");
    expect_status(s.token, 200, "cat's session after a reload of the same file");

    /* a restart on the same file */
    restart();
    expect_logon("cat", "cat-pw", 201, "cat after a restart");
    expect_logon("cat", "not-cat-pw", 401, "a wrong password after a restart");
    profile_etag("cat", e_get);
    cr_expect_str_eq(e_get, e_post, "a restart changed cat's version");
    free(listing);
    gw_session_free(&s);
}

Test(profile_admin, create_variants_and_refusals)
{
    start();
    gw_resp r;
    /* auth none, a name to encode */
    admin("POST", "/profiles", "{\"name\":\"Eve Smith\",\"auth\":{\"type\":\"none\"}}", &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "Eve Smith", "none", NULL);
    const char *loc = gw_header(&r, "Location");
    cr_expect(loc && strcmp(loc, "/profiles/Eve%20Smith") == 0, "Location %s",
              loc ? loc : "(none)");
    cr_expect_eq(json_array_size(json_object_get(r.json, "services")), 0u, "services: %s", r.body);
    gw_resp_free(&r);
    get_profile("Eve Smith", &r, NULL);
    gw_resp_free(&r);
    expect_logon("Eve Smith", NULL, 201, "an auth none profile");
    admin("POST", "/profiles/Eve%20Smith/services",
          "{\"name\":\"Eve mail\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"
          "\"maildir\",\"display_name\":\"Eve Mailbox\",\"settings\":{\"path\":\"eve/Maildir\","
          "\"create\":true}}]}",
          &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    {
        char want[160];
        snprintf(want, sizeof want, "/profiles/Eve%%20Smith/services/%s",
                 gw_jstr(r.json, "uid") ? gw_jstr(r.json, "uid") : "?");
        loc = gw_header(&r, "Location");
        cr_expect(loc && strcmp(loc, want) == 0, "Location %s, not %s", loc ? loc : "(none)", want);
    }
    gw_resp_free(&r);
    /* neither password nor auth: none */
    admin("POST", "/profiles", "{\"name\":\"dan\"}", &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "dan", "none", NULL);
    gw_resp_free(&r);
    expect_logon("dan", NULL, 201, "a profile created without auth");
    /* a verifier given: ben's, so ben's password opens fay */
    char v[256], body[512];
    file_verifier("ben", v, sizeof v);
    cr_assert(v[0]);
    snprintf(body, sizeof body,
             "{\"name\":\"fay\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"}}", v);
    admin("POST", "/profiles", body, &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "fay", "argon2id", NULL);
    gw_resp_free(&r);
    expect_logon("fay", "ben-pw", 201, "a profile created with a verifier");
    expect_logon("fay", NULL, 401, "that profile without a password");
    /* default: true */
    secret("gus-pw");
    admin("POST", "/profiles", "{\"name\":\"gus\",\"password\":\"gus-pw\",\"default\":true}", &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "gus", "argon2id", NULL);
    cr_expect(view_default(&r), "created with default true: %s", r.body);
    gw_resp_free(&r);
    get_profile("ann", &r, NULL);
    cr_expect(!view_default(&r), "ann is still the default: %s", r.body);
    gw_resp_free(&r);
    json_t *root = file_json();
    cr_expect_str_eq(gw_jstr(root, "default_profile") ? gw_jstr(root, "default_profile") : "(none)",
                     "gus");
    json_decref(root);

    /* refusals: nothing written */
    char *before = file_text();
    admin("POST", "/profiles", "{\"name\":\"ann\",\"password\":\"x-pw-1\"}", &r);
    refused(&r, 409, "MAPI_E_COLLISION", before);
    admin("POST", "/profiles", "{\"name\":\"ben\",\"copy_from\":\"ann\"}", &r);
    refused(&r, 409, "MAPI_E_COLLISION", before);
    admin("POST", "/profiles", "{\"name\":\"ivy\",\"copy_from\":\"nobody\"}", &r);
    refused(&r, 404, "MAPI_E_NOT_FOUND", before);
    static const char *const bad[] = {
        "{\"name\":\"hal\",\"password\":\"x-pw-2\",\"auth\":{\"type\":\"none\"}}",
        "{\"name\":\"\"}",
        "{\"name\":5}",
        "{}",
        "{\"password\":\"x-pw-3\"}",
        "{\"name\":\"jo\",\"colour\":1}",
        "{\"name\":\"jo\",\"password\":7}",
        "{\"name\":\"jo\",\"password\":\"\"}",
        "{\"name\":\"jo\",\"default\":\"yes\"}",
        "{\"name\":\"jo\",\"services\":{}}",
        "{\"name\":\"jo\",\"services\":[5]}",
        "{\"name\":\"jo\",\"copy_from\":5}",
        "{\"name\":\"jo\",\"auth\":{\"type\":\"plain\",\"password\":\"x\"}}",
        "{\"name\":\"jo\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"plain-text\"}}",
        "{\"name\":",
        "[\"jo\"]",
        "\"jo\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        admin("POST", "/profiles", bad[i], &r);
        cr_expect_eq(r.status, 400, "POST /profiles %s: %ld %s", bad[i], r.status, r.body);
        if (r.status == 400)
            refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
        else
            gw_resp_free(&r);
    }
    expect_logon("jo", NULL, 401, "a refused profile");
    /* unknown query parameters */
    admin("POST", "/profiles?dry_run=1", "{\"name\":\"kit\"}", &r);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    admin("GET", "/profiles/ann?fields=name", NULL, &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    admin("GET", "/profiles/nobody", NULL, &r);
    problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    free(before);
}

Test(profile_admin, copy_keeps_the_password_and_rename_ends_sessions)
{
    start();
    gw_resp r;
    admin("POST", "/profiles", "{\"name\":\"ann2\",\"copy_from\":\"ann\"}", &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "ann2", "argon2id", NULL);
    json_t *svcs = json_object_get(r.json, "services");
    cr_expect_eq(json_array_size(svcs), 2u, "%s", r.body);
    cr_expect(find_named(svcs, "Ann mail") && find_named(svcs, "Ann extra"), "%s", r.body);
    cr_expect(!view_default(&r), "a copy of the default is not the default: %s", r.body);
    {
        /* uids come from the service names: the copy's are ann's */
        json_t *copy_svcs = json_incref(svcs);
        gw_resp_free(&r);
        admin("GET", "/profiles/ann/services", NULL, &r);
        json_t *orig = json_object_get(r.json, "services");
        for (size_t k = 0; k < json_array_size(orig); k++)
            cr_expect_str_eq(gw_jstr(json_array_get(copy_svcs, k), "uid")
                                 ? gw_jstr(json_array_get(copy_svcs, k), "uid")
                                 : "(none)",
                             gw_jstr(json_array_get(orig, k), "uid")
                                 ? gw_jstr(json_array_get(orig, k), "uid")
                                 : "(none)",
                             "service %zu: the copy's uid is not the source's", k);
        json_decref(copy_svcs);
    }
    gw_resp_free(&r);
    char va[256], vc[256];
    file_verifier("ann", va, sizeof va);
    file_verifier("ann2", vc, sizeof vc);
    cr_expect(va[0] && strcmp(va, vc) == 0, "the copy's verifier is not ann's");
    json_t *root = file_json();
    cr_expect(json_equal(json_object_get(file_profile(root, "ann"), "services"),
                         json_object_get(file_profile(root, "ann2"), "services")),
              "the copy's services differ from ann's in the file");
    json_decref(root);
    expect_logon("ann2", "ann-pw", 201, "the copy with the copied password");

    /* a copy with a password of its own */
    secret("ann3-pw");
    admin("POST", "/profiles", "{\"name\":\"ann3\",\"copy_from\":\"ann\",\"password\":\"ann3-pw\"}",
          &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "ann3", "argon2id", NULL);
    gw_resp_free(&r);
    expect_logon("ann3", "ann3-pw", 201, "the copy with its own password");
    expect_logon("ann3", "ann-pw", 401, "the copy with the source's password");
    expect_logon("ann", "ann-pw", 201, "the source after the copies");

    /* rename: the old name's sessions end, others live */
    gw_session old, other;
    gw_logon_ok(G, "ann2", "ann-pw", NEWS, &old);
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &other);
    sse *ev = sse_open_ready_with(G, old.token, "", NULL);
    admin("PATCH", "/profiles/ann2", "{\"name\":\"ann4\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "ann4", "argon2id", NULL);
    const char *loc = gw_header(&r, "Location");
    cr_expect(loc && strcmp(loc, "/profiles/ann4") == 0, "Location %s", loc ? loc : "(none)");
    gw_resp_free(&r);
    cr_expect(sse_wait(ev, "event: critical_error", 5000), "no critical_error: %s", ev->buf);
    cr_expect(sse_wait(ev, "\"reason\":\"profile_changed\"", 100), "%s", ev->buf);
    cr_expect(sse_wait_done(ev, 5000), "the renamed profile's stream did not end");
    sse_close(ev);
    expect_status(old.token, 401, "the old name's session");
    expect_status(other.token, 200, "another profile's session");
    expect_logon("ann4", "ann-pw", 201, "the new name");
    expect_logon("ann2", "ann-pw", 401, "the old name");
    admin("GET", "/profiles/ann2", NULL, &r);
    problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    get_profile("ann4", &r, NULL);
    gw_resp_free(&r);
    root = file_json();
    cr_expect(file_profile(root, "ann4") && !file_profile(root, "ann2"),
              "the file does not hold the rename");
    json_decref(root);

    /* refusals */
    char *before = file_text();
    admin("PATCH", "/profiles/ann4", "{\"name\":\"ben\"}", &r);
    refused(&r, 409, "MAPI_E_COLLISION", before);
    admin("PATCH", "/profiles/ann4", "{}", &r);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    admin("PATCH", "/profiles/ann4", "{\"name\":\"\"}", &r);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    admin("PATCH", "/profiles/ann4", "{\"name\":7}", &r);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    admin("PATCH", "/profiles/ann4", "{\"default\":\"yes\"}", &r);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    admin("PATCH", "/profiles/ann4", "{\"password\":\"x-pw-4\"}", &r);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    admin("PATCH", "/profiles/ann4", "{\"name\":", &r);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    admin("PATCH", "/profiles/nobody", "{\"default\":true}", &r);
    refused(&r, 404, "MAPI_E_NOT_FOUND", before);
    free(before);
    gw_session_free(&old);
    gw_session_free(&other);
}

Test(profile_admin, delete_ends_sessions_and_event_streams)
{
    start();
    gw_session a, b;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &a);
    gw_logon_ok(G, "ben", "ben-pw", NEWS, &b);
    sse *ev = sse_open_ready_with(G, a.token, "", NULL);
    sse *evb = sse_open_ready_with(G, b.token, "", NULL);
    gw_resp r;
    admin("DELETE", "/profiles/ann", NULL, &r);
    cr_assert_eq(r.status, 204, "%ld %s", r.status, r.body);
    cr_expect_eq(r.body_len, 0u, "a 204 with a body: %s", r.body);
    gw_resp_free(&r);
    cr_expect(sse_wait(ev, "event: critical_error", 5000), "no critical_error: %s", ev->buf);
    cr_expect(sse_wait(ev, "\"reason\":\"profile_changed\"", 100), "%s", ev->buf);
    cr_expect(sse_wait(ev, "\"mapi_error\":\"MAPI_E_END_OF_SESSION\"", 100), "%s", ev->buf);
    cr_expect(sse_wait_done(ev, 5000), "the deleted profile's stream did not end");
    cr_expect_eq(ev->rc, CURLE_OK, "the stream was cut: %d", ev->rc);
    expect_status(a.token, 401, "the deleted profile's session");
    expect_status(b.token, 200, "another profile's session");
    cr_expect(!sse_wait(evb, "critical_error", 0), "ben's stream was told to end: %s", evb->buf);
    cr_expect(!atomic_load(&evb->done), "ben's stream ended");
    sse_close(ev);
    sse_close(evb);
    expect_logon("ann", "ann-pw", 401, "the deleted profile");
    admin("GET", "/profiles/ann", NULL, &r);
    problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    char *before = file_text();
    admin("DELETE", "/profiles/ann", NULL, &r);
    refused(&r, 404, "MAPI_E_NOT_FOUND", before);
    free(before);
    /* ann was the default: the default is cleared */
    json_t *root = file_json();
    cr_expect(!file_profile(root, "ann"), "ann still in the file");
    cr_expect(file_profile(root, "ben"), "ben gone from the file");
    json_t *d = json_object_get(root, "default_profile");
    cr_expect(d == NULL || json_is_null(d), "default_profile still set: %s",
              json_string_value(d) ? json_string_value(d) : "?");
    json_decref(root);
    get_profile("ben", &r, NULL);
    cr_expect(!view_default(&r), "%s", r.body);
    gw_resp_free(&r);
    /* durable */
    restart();
    expect_logon("ann", "ann-pw", 401, "the deleted profile after a restart");
    expect_logon("ben", "ben-pw", 201, "ben after a restart");
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(profile_admin, default_flag_by_patch)
{
    start();
    gw_resp r;
    admin("PATCH", "/profiles/ben", "{\"default\":true}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "ben", "argon2id", NULL);
    cr_expect(view_default(&r), "%s", r.body);
    gw_resp_free(&r);
    get_profile("ann", &r, NULL);
    cr_expect(!view_default(&r), "ann still the default: %s", r.body);
    gw_resp_free(&r);
    json_t *root = file_json();
    cr_expect_str_eq(gw_jstr(root, "default_profile") ? gw_jstr(root, "default_profile") : "(none)",
                     "ben");
    json_decref(root);
    /* a logon without a profile name uses it */
    gw_session s;
    long st = gw_logon(G, NULL, "ben-pw", "[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_SESSION\"]", &s);
    cr_expect_eq(st, 201, "a logon to the default: %ld %s", st, s.resp.body);
    if (st == 201)
        cr_expect_str_eq(gw_jstr(s.resp.json, "profile"), "ben");
    gw_session_free(&s);
    st = gw_logon(G, NULL, "ann-pw", "[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_SESSION\"]", &s);
    cr_expect_eq(st, 401, "the old default's password on the default: %ld %s", st, s.resp.body);
    gw_session_free(&s);
    /* false on another profile leaves the default alone */
    admin("PATCH", "/profiles/ann", "{\"default\":false}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect(!view_default(&r), "%s", r.body);
    gw_resp_free(&r);
    root = file_json();
    cr_expect_str_eq(gw_jstr(root, "default_profile") ? gw_jstr(root, "default_profile") : "(none)",
                     "ben");
    json_decref(root);
    /* survives a restart */
    restart();
    st = gw_logon(G, NULL, "ben-pw", "[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_SESSION\"]", &s);
    cr_expect_eq(st, 201, "a logon to the default after a restart: %ld %s", st, s.resp.body);
    if (st == 201)
        cr_expect_str_eq(gw_jstr(s.resp.json, "profile"), "ben");
    gw_session_free(&s);
    /* false on the default clears it */
    admin("PATCH", "/profiles/ben", "{\"default\":false}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect(!view_default(&r), "%s", r.body);
    gw_resp_free(&r);
    root = file_json();
    json_t *d = json_object_get(root, "default_profile");
    cr_expect(d == NULL || json_is_null(d), "default_profile still set: %s",
              json_string_value(d) ? json_string_value(d) : "?");
    json_decref(root);
    /* name and default at once; a renamed default stays the default */
    admin("PATCH", "/profiles/ann", "{\"default\":true,\"name\":\"Ann Other\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "Ann Other", "argon2id", NULL);
    cr_expect(view_default(&r), "%s", r.body);
    const char *loc = gw_header(&r, "Location");
    cr_expect(loc && strcmp(loc, "/profiles/Ann%20Other") == 0, "Location %s",
              loc ? loc : "(none)");
    gw_resp_free(&r);
    admin("PATCH", "/profiles/Ann%20Other", "{\"name\":\"anna\"}", &r);
    cr_assert_eq(r.status, 200, "renaming the default: %ld %s", r.status, r.body);
    cr_expect(view_default(&r), "the renamed default is no longer the default: %s", r.body);
    gw_resp_free(&r);
    root = file_json();
    cr_expect_str_eq(gw_jstr(root, "default_profile") ? gw_jstr(root, "default_profile") : "(none)",
                     "anna");
    json_decref(root);
    st = gw_logon(G, NULL, "ann-pw", "[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_SESSION\"]", &s);
    cr_expect_eq(st, 201, "a logon to the renamed default: %ld %s", st, s.resp.body);
    if (st == 201)
        cr_expect_str_eq(gw_jstr(s.resp.json, "profile"), "anna");
    gw_session_free(&s);
}

/* =================================================== PUT password */

Test(profile_admin, put_password)
{
    start();
    secret("ann-new-pw");
    secret("wrong-old-pw");
    secret("ann-3rd-pw");
    secret("dan-pw");
    gw_session s, b;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    gw_logon_ok(G, "ben", "ben-pw", NEWS, &b);
    char e0[32], e1[32], v0[256], v1[256];
    profile_etag("ann", e0);
    file_verifier("ann", v0, sizeof v0);
    gw_resp r;
    char *before = file_text();
    req("PUT", "/profiles/ann/password", KEY, NULL,
        "{\"new_password\":\"ann-new-pw\",\"old_password\":\"wrong-old-pw\"}", &r);
    refused(&r, 403, "MAPI_E_NO_ACCESS", before);
    expect_status(s.token, 200, "the session after a refused change");
    static const char *const bad[] = {
        "{\"new_password\":\"\"}",
        "{\"old_password\":\"ann-pw\"}",
        "{\"new_password\":5}",
        "{\"new_password\":\"ann-new-pw\",\"old_password\":5}",
        "{\"new_password\":\"ann-new-pw\",\"extra\":1}",
        "{}",
        "{\"new_password\":",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        admin("PUT", "/profiles/ann/password", bad[i], &r);
        cr_expect_eq(r.status, 400, "PUT password %s: %ld %s", bad[i], r.status, r.body);
        if (r.status == 400)
            refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
        else
            gw_resp_free(&r);
    }
    admin("PUT", "/profiles/nobody/password", "{\"new_password\":\"ann-new-pw\"}", &r);
    refused(&r, 404, "MAPI_E_NOT_FOUND", before);
    expect_logon("ann", "ann-pw", 201, "the old password after the refusals");
    free(before);

    sse *ev = sse_open_ready_with(G, s.token, "", NULL);
    admin("PUT", "/profiles/ann/password",
          "{\"new_password\":\"ann-new-pw\",\"old_password\":\"ann-pw\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "ann", "argon2id", e1);
    cr_expect(strstr(r.body, "ann-new-pw") == NULL, "the answer echoes the password");
    cr_expect_str_neq(e1, e0, "the version did not change with the password");
    gw_resp_free(&r);
    cr_expect(sse_wait(ev, "event: critical_error", 5000), "no critical_error: %s", ev->buf);
    cr_expect(sse_wait(ev, "\"reason\":\"profile_changed\"", 100), "%s", ev->buf);
    cr_expect(sse_wait_done(ev, 5000), "the stream did not end");
    sse_close(ev);
    expect_status(s.token, 401, "ann's session after the change");
    expect_status(b.token, 200, "ben's session");
    expect_logon("ann", "ann-pw", 401, "the old password");
    expect_logon("ann", "ann-new-pw", 201, "the new password");
    file_verifier("ann", v1, sizeof v1);
    cr_expect(strncmp(v1, "$argon2id$", 10) == 0 && strcmp(v1, v0) != 0,
              "the file's verifier did not change");
    /* without old_password */
    admin("PUT", "/profiles/ann/password", "{\"new_password\":\"ann-3rd-pw\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    expect_logon("ann", "ann-3rd-pw", 201, "the third password");
    expect_logon("ann", "ann-new-pw", 401, "the second password");
    /* a profile without a password gets one */
    admin("POST", "/profiles", "{\"name\":\"dan\",\"auth\":{\"type\":\"none\"}}", &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    admin("PUT", "/profiles/dan/password", "{\"new_password\":\"dan-pw\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "dan", "argon2id", NULL);
    gw_resp_free(&r);
    expect_logon("dan", NULL, 401, "dan without a password");
    expect_logon("dan", "dan-pw", 201, "dan with the password");
    /* durable */
    sighup_reload();
    expect_logon("ann", "ann-3rd-pw", 201, "the third password after SIGHUP");
    restart();
    expect_logon("ann", "ann-3rd-pw", 201, "the third password after a restart");
    expect_logon("ann", "ann-pw", 401, "the first password after a restart");
    expect_logon("dan", "dan-pw", 201, "dan after a restart");
    gw_session_free(&s);
    gw_session_free(&b);
}

/* ========================================================= If-Match */

/* Replaces the first from by to in the profiles file, bytes around kept. */
static void edit_by_hand(const char *from, const char *to)
{
    char *t = file_text();
    char *at = strstr(t, from);
    cr_assert(at, "%s not in the profiles file", from);
    size_t len = strlen(t) - strlen(from) + strlen(to) + 1;
    char *n = malloc(len);
    cr_assert(n);
    snprintf(n, len, "%.*s%s%s", (int)(at - t), t, to, at + strlen(from));
    gw_write_file(gw_profiles_path(G), n);
    free(n);
    free(t);
}

Test(profile_admin, if_match)
{
    start();
    secret("ann-im-pw");
    secret("ann-im2-pw");
    char e_ann[32], e_ben[32], e2[32], e3[32], now[32];
    profile_etag("ann", e_ann);
    profile_etag("ben", e_ben);
    char uid[40];
    service_uid("ann", "Ann extra", uid);
    char spath[256];
    snprintf(spath, sizeof spath, "/profiles/ann/services/%s", uid);
    char *before = file_text();
    gw_resp r;
    /* a stale version on every kind of write */
    admin_if("PUT", "/profiles/ann/password", STALE, "{\"new_password\":\"ann-im-pw\"}", &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    admin_if("PATCH", "/profiles/ann", STALE, "{\"default\":false}", &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    admin_if("PATCH", "/profiles/ann", STALE, "{\"name\":\"anna\"}", &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    admin_if("DELETE", "/profiles/ann", STALE, NULL, &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    admin_if("POST", "/profiles/ann/services", STALE,
             "{\"name\":\"Ann new\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"
             "\"maildir\",\"display_name\":\"Ann New\",\"settings\":{\"path\":\"ann/New\"}}]}",
             &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    admin_if("PATCH", spath, STALE, "{\"name\":\"Ann more\"}", &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    admin_if("DELETE", spath, STALE, NULL, &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    /* another profile's version is no version of ann */
    admin_if("PUT", "/profiles/ann/password", e_ben, "{\"new_password\":\"ann-im-pw\"}", &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    expect_logon("ann", "ann-pw", 201, "the password after the stale writes");
    expect_logon("ann", "ann-im-pw", 401, "a password a stale write would have set");

    /* the current version: done, and a new version */
    admin_if("PUT", "/profiles/ann/password", e_ann, "{\"new_password\":\"ann-im-pw\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_profile_view(&r, "ann", "argon2id", e2);
    cr_expect_str_neq(e2, e_ann, "the version did not change");
    gw_resp_free(&r);
    expect_logon("ann", "ann-im-pw", 201, "the password set with If-Match");
    /* the old version is stale now */
    free(before);
    before = file_text();
    admin_if("PUT", "/profiles/ann/password", e_ann, "{\"new_password\":\"ann-im2-pw\"}", &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    expect_logon("ann", "ann-im2-pw", 401, "a password a stale write would have set");
    /* "*": the profile exists */
    admin_if("PATCH", "/profiles/ann", "*", "{\"default\":true}", &r);
    cr_expect_eq(r.status, 200, "If-Match *: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    /* a service write with the current version answers the new one */
    profile_etag("ann", now);
    admin_if("PATCH", spath, now, "{\"providers\":[{\"display_name\":\"Ann Old Mail\"}]}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    etag_of(&r, e3);
    cr_expect_str_neq(e3, now, "a service change did not change the profile's version");
    gw_resp_free(&r);
    profile_etag("ann", now);
    cr_expect_str_eq(now, e3, "the service write's ETag is not the profile's version");
    /* ann's writes leave ben's version */
    profile_etag("ben", now);
    cr_expect_str_eq(now, e_ben, "ann's writes changed ben's version");

    /* ben edited by hand: a write with ben's old version sees the file as it
     * is now; after SIGHUP the new version shows, ann's stays */
    profile_etag("ann", e3);
    edit_by_hand("Ben Mailbox", "Ben Postbox");
    admin_if("PATCH", "/profiles/ben", e_ben, "{\"default\":false}", &r);
    cr_expect_eq(r.status, 412, "a write with the version from before a hand edit: %ld %s",
                 r.status, r.body);
    gw_resp_free(&r);
    sighup_reload();
    char e_ben2[32];
    profile_etag("ben", e_ben2);
    cr_expect_str_neq(e_ben2, e_ben, "a hand edit + SIGHUP left ben's version");
    profile_etag("ann", now);
    cr_expect_str_eq(now, e3, "a hand edit of ben changed ann's version");
    admin_if("PATCH", "/profiles/ben", e_ben, "{\"default\":false}", &r);
    problem(&r, 412, "MAPI_E_OBJECT_CHANGED");
    gw_resp_free(&r);
    admin_if("PATCH", "/profiles/ben", e_ben2, "{\"default\":false}", &r);
    cr_expect_eq(r.status, 200, "the version after the reload: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    free(before);
}

/* ======================================================= validation */

#define PROV(kind, dn, settings)                                                                   \
    "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"" kind "\",\"display_name\":\"" dn               \
    "\",\"settings\":" settings "}"

static void expect_detail_names(const gw_resp *r, const char *const *needles)
{
    const char *d = detail_of(r);
    for (size_t i = 0; needles[i]; i++)
        cr_expect(strstr(d, needles[i]) != NULL, "the detail does not name \"%s\": %s", needles[i],
                  r->body);
}

Test(profile_admin, validation_refusals_name_the_field)
{
    start();
    char *before = file_text();
    char uid[40], path[256];
    service_uid("ann", "Ann mail", uid);
    snprintf(path, sizeof path, "/profiles/ann/services/%s", uid);
    gw_resp r;

    /* an unknown provider kind */
    admin("POST", "/profiles/ann/services",
          "{\"name\":\"Floppy\",\"providers\":[" PROV("floppy", "Floppy", "{\"path\":\"p\"}") "]}",
          &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_detail_names(&r, (const char *const[]){"floppy", "kind", "ann", NULL});
    cr_expect(strstr(detail_of(&r), FILE_NAME) != NULL, "the detail does not name the file: %s",
              r.body);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    /* an unknown key in a provider */
    admin(
        "POST", "/profiles/ann/services",
        "{\"name\":\"Typo\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\","
        "\"display_name\":\"Typo\",\"settings\":{\"path\":\"ann/Typo\"},\"colourz\":1}]}",
        &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_detail_names(&r, (const char *const[]){"colourz", "ann", NULL});
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    /* an unknown key in a service */
    admin("POST", "/profiles/ann/services", "{\"name\":\"Typo\",\"providers\":[],\"colourz\":1}",
          &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_detail_names(&r, (const char *const[]){"colourz", NULL});
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    /* the same in a new profile's services */
    admin("POST", "/profiles",
          "{\"name\":\"kim\",\"services\":[{\"name\":\"S\",\"providers\":[{\"type\":"
          "\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"D\",\"settings\":{"
          "\"path\":\"kim/Maildir\"},\"colourz\":1}]}]}",
          &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_detail_names(&r, (const char *const[]){"colourz", "kim", NULL});
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    /* a second default store in the profile */
    admin("POST", "/profiles/ann/services",
          "{\"name\":\"Second\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"
          "\"maildir\",\"display_name\":\"Second\",\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],"
          "\"settings\":{\"path\":\"ann/Second\"}}]}",
          &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_detail_names(&r, (const char *const[]){"STATUS_DEFAULT_STORE", NULL});
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    /* a setting of the wrong type */
    admin("POST", "/profiles/ann/services",
          "{\"name\":\"Typed\",\"providers\":[" PROV("maildir", "Typed", "{\"path\":[\"a\"]}") "]}",
          &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_detail_names(&r, (const char *const[]){"path", NULL});
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    /* two services of one name in a new profile */
    admin("POST", "/profiles",
          "{\"name\":\"lou\",\"services\":[{\"name\":\"S\",\"providers\":[]},{\"name\":\"S\","
          "\"providers\":[]}]}",
          &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_detail_names(&r, (const char *const[]){"lou", NULL});
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    /* a provider setting the kind refuses, by PATCH */
    admin("PATCH", path, "{\"providers\":[{\"settings\":{\"create\":\"maybe\"}},{},{}]}", &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_detail_names(&r, (const char *const[]){"create", NULL});
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    /* an unknown provider key by PATCH */
    admin("PATCH", path, "{\"providers\":[{\"colourz\":1},{},{}]}", &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_detail_names(&r, (const char *const[]){"colourz", NULL});
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);

    /* shapes */
    static const char *const bad_patch[] = {
        "{\"providers\":[{}]}",          /* wrong length */
        "{\"providers\":[{},{},{},{}]}", /* wrong length */
        "{\"providers\":{}}",            /* not an array */
        "{\"providers\":[5,{},{}]}",     /* not a merge patch object */
        "{\"name\":5}",                  /* wrong type */
        "{\"name\":\"\"}",               /* empty name */
        "{\"colourz\":1}",               /* unknown key */
        "{\"providers\":[{\"settings\":5},{},{}]}",
        "{\"name\":", /* malformed */
        "[]",
    };
    for (size_t i = 0; i < sizeof bad_patch / sizeof bad_patch[0]; i++) {
        admin("PATCH", path, bad_patch[i], &r);
        cr_expect_eq(r.status, 400, "PATCH %s: %ld %s", bad_patch[i], r.status, r.body);
        if (r.status == 400)
            refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
        else
            gw_resp_free(&r);
    }
    static const char *const bad_post[] = {
        "{\"name\":\"NoProviders\"}",      "{\"providers\":[]}",
        "{\"name\":5,\"providers\":[]}",   "{\"name\":\"X\",\"providers\":{}}",
        "{\"name\":\"X\",\"providers\":[", "5",
    };
    for (size_t i = 0; i < sizeof bad_post / sizeof bad_post[0]; i++) {
        admin("POST", "/profiles/ann/services", bad_post[i], &r);
        cr_expect_eq(r.status, 400, "POST services %s: %ld %s", bad_post[i], r.status, r.body);
        if (r.status == 400)
            refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
        else
            gw_resp_free(&r);
    }
    /* a body that is not JSON by its type: 415 (the existing policy) */
    {
        char auth[160];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", KEY);
        const char *const h[] = {auth, "Content-Type: text/plain", NULL};
        gw_request(G, "POST", "/profiles", h, "{\"name\":\"typed\"}", &r);
        cr_expect_eq(r.status, 415, "POST /profiles as text/plain: %ld %s", r.status, r.body);
        expect_file_unchanged(before, "a text/plain body");
        gw_resp_free(&r);
    }
    /* a uid in lower case names the same service */
    {
        char lower[40], lpath[256];
        for (size_t k = 0; k < sizeof lower && uid[k]; k++)
            lower[k] = (char)(uid[k] >= 'A' && uid[k] <= 'F' ? uid[k] - 'A' + 'a' : uid[k]);
        lower[32] = '\0';
        snprintf(lpath, sizeof lpath, "/profiles/ann/services/%s", lower);
        admin("GET", lpath, NULL, &r);
        cr_expect_eq(r.status, 200, "GET %s: %ld %s", lpath, r.status, r.body);
        if (r.status == 200)
            cr_expect_str_eq(gw_jstr(r.json, "uid") ? gw_jstr(r.json, "uid") : "(none)", uid);
        gw_resp_free(&r);
    }
    /* unknown things */
    admin("POST", "/profiles/nobody/services", "{\"name\":\"X\",\"providers\":[]}", &r);
    refused(&r, 404, "MAPI_E_NOT_FOUND", before);
    admin("GET", "/profiles/ann/services/" FAKE_UID, NULL, &r);
    problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    admin("DELETE", "/profiles/ann/services/" FAKE_UID, NULL, &r);
    refused(&r, 404, "MAPI_E_NOT_FOUND", before);
    admin("GET", "/profiles/ann/services?verbose=1", NULL, &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    /* the profile still works as it was */
    gw_session s;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    cr_expect_eq(status_rows(s.token), 7u, "ann's status rows");
    gw_session_free(&s);
    free(before);
}

/* ================================================ message services */

#define NOTES_SERVICE                                                                              \
    "{\"name\":\"Ann notes\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"           \
    "\"maildir\",\"display_name\":\"Ann Notes\",\"settings\":{\"path\":\"ann/Notes\","             \
    "\"create\":true}}]}"

Test(profile_admin, message_services)
{
    start();
    gw_session live;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &live);
    size_t rows0 = status_rows(live.token);
    cr_expect_eq(rows0, 7u, "ann's status rows");
    char e_profile[32], e_list[32];
    profile_etag("ann", e_profile);

    /* the table */
    gw_resp r;
    admin("GET", "/profiles/ann/services", NULL, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_json_answer(&r);
    etag_of(&r, e_list);
    cr_expect_str_eq(e_list, e_profile, "the service table's ETag is not the profile's");
    json_t *svcs = json_object_get(r.json, "services");
    cr_assert_eq(json_array_size(svcs), 2u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(svcs, 0), "name"), "Ann mail");
    cr_expect_str_eq(gw_jstr(json_array_get(svcs, 1), "name"), "Ann extra");
    size_t i;
    json_t *sv;
    json_array_foreach(svcs, i, sv) expect_service_view(sv);
    char mail_uid[40], extra_uid[40];
    snprintf(mail_uid, sizeof mail_uid, "%s", gw_jstr(json_array_get(svcs, 0), "uid"));
    snprintf(extra_uid, sizeof extra_uid, "%s", gw_jstr(json_array_get(svcs, 1), "uid"));
    cr_expect_str_neq(mail_uid, extra_uid, "two services with one uid");
    json_t *mail_view = json_incref(json_array_get(svcs, 0));
    gw_resp_free(&r);
    /* the profile view lists the same services */
    get_profile("ann", &r, NULL);
    cr_expect(json_equal(json_array_get(json_object_get(r.json, "services"), 0), mail_view),
              "the profile view's service differs from the table's: %s", r.body);
    gw_resp_free(&r);

    /* one service, its providers */
    char path[256];
    snprintf(path, sizeof path, "/profiles/ann/services/%s", mail_uid);
    admin("GET", path, NULL, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_json_answer(&r);
    etag_of(&r, e_list);
    cr_expect_str_eq(e_list, e_profile);
    cr_expect(json_equal(r.json, mail_view), "GET one service differs from the table: %s", r.body);
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/profiles/ann/services/%s/providers", mail_uid);
    admin("GET", path, NULL, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_json_answer(&r);
    json_t *provs = json_object_get(r.json, "providers");
    cr_assert_eq(json_array_size(provs), 3u, "%s", r.body);
    json_t *p;
    json_array_foreach(provs, i, p) expect_provider_view(p, i);
    static const char *const types[] = {"MAPI_STORE_PROVIDER", "MAPI_TRANSPORT_PROVIDER",
                                        "MAPI_AB_PROVIDER"};
    static const char *const kinds[] = {"maildir", "spool", "abfile"};
    static const char *const names[] = {"Ann Mailbox", "Ann Outbox", "Ann Contacts"};
    for (i = 0; i < 3; i++) {
        p = json_array_get(provs, i);
        cr_expect_str_eq(gw_jstr(p, "type"), types[i]);
        cr_expect_str_eq(gw_jstr(p, "kind"), kinds[i]);
        cr_expect_str_eq(gw_jstr(p, "display_name"), names[i]);
    }
    json_t *want = json_pack("[ss]", "STATUS_DEFAULT_STORE", "STATUS_NO_PRIMARY_IDENTITY");
    cr_expect(json_equal(json_object_get(json_array_get(provs, 0), "resource_flags"), want),
              "the store's resource_flags: %s", r.body);
    json_decref(want);
    want = json_pack("[s]", "create");
    cr_expect(json_equal(json_object_get(json_array_get(provs, 0), "user_settings"), want),
              "the store's user_settings: %s", r.body);
    json_decref(want);
    cr_expect_eq(json_array_size(json_object_get(json_array_get(provs, 1), "user_settings")), 0u,
                 "a spool transport's default user_settings: %s", r.body);
    cr_expect_str_eq(gw_jstr(json_object_get(json_array_get(provs, 0), "settings"), "path"),
                     "ann/Maildir");
    json_t *id = json_object_get(json_array_get(provs, 2), "identity");
    cr_expect_str_eq(gw_jstr(id, "address") ? gw_jstr(id, "address") : "(none)",
                     "ann@example.invalid");
    cr_expect(json_equal(provs, json_object_get(mail_view, "providers")),
              "the provider table differs from the service view's providers");
    gw_resp_free(&r);

    /* create */
    admin("POST", "/profiles/ann/services", NOTES_SERVICE, &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    expect_json_answer(&r);
    expect_service_view(r.json);
    char e_new[32], notes_uid[40];
    etag_of(&r, e_new);
    cr_expect_str_neq(e_new, e_profile, "a new service left the profile's version");
    cr_expect_str_eq(gw_jstr(r.json, "name"), "Ann notes");
    snprintf(notes_uid, sizeof notes_uid, "%s", gw_jstr(r.json, "uid"));
    cr_expect(strcmp(notes_uid, mail_uid) && strcmp(notes_uid, extra_uid), "a uid reused");
    char loc_want[256];
    snprintf(loc_want, sizeof loc_want, "/profiles/ann/services/%s", notes_uid);
    const char *loc = gw_header(&r, "Location");
    cr_expect(loc && strcmp(loc, loc_want) == 0, "Location %s, not %s", loc ? loc : "(none)",
              loc_want);
    gw_resp_free(&r);
    char *before = file_text();
    admin("POST", "/profiles/ann/services", NOTES_SERVICE, &r);
    refused(&r, 409, "MAPI_E_COLLISION", before);
    free(before);
    json_t *root = file_json();
    json_t *fsvcs = json_object_get(file_profile(root, "ann"), "services");
    cr_expect_eq(json_array_size(fsvcs), 3u, "the file's services");
    cr_expect(find_named(fsvcs, "Ann notes") != NULL, "the new service is not in the file");
    json_decref(root);
    /* a new logon sees it, the live session keeps what it logged on with */
    gw_session s;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    cr_expect_eq(status_rows(s.token), rows0 + 1, "a new logon after a new service");
    gw_session_free(&s);
    cr_expect_eq(status_rows(live.token), rows0, "the live session's services changed");
    /* the live session's own view is the file's (what its next logon gets) */
    gw_get(G, "/services", live.token, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect_eq(json_array_size(json_object_get(r.json, "services")), 3u,
                 "GET /services does not show the profile as it is in the file: %s", r.body);
    gw_resp_free(&r);

    /* merge patch: a setting changed, one removed (null), a name changed */
    snprintf(path, sizeof path, "/profiles/ann/services/%s", notes_uid);
    admin("PATCH", path,
          "{\"providers\":[{\"display_name\":\"Ann Notes 2\",\"settings\":{\"path\":\"ann/Notes2\","
          "\"create\":null}}]}",
          &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_json_answer(&r);
    expect_service_view(r.json);
    etag_of(&r, e_list);
    cr_expect_str_neq(e_list, e_new, "the patch left the version");
    p = json_array_get(json_object_get(r.json, "providers"), 0);
    cr_expect_str_eq(gw_jstr(p, "display_name"), "Ann Notes 2");
    json_t *st = json_object_get(p, "settings");
    cr_expect_str_eq(gw_jstr(st, "path") ? gw_jstr(st, "path") : "(none)", "ann/Notes2");
    cr_expect(json_object_get(st, "create") == NULL, "a null setting was kept: %s", r.body);
    cr_expect_str_eq(gw_jstr(p, "kind"), "maildir", "the patch lost the kind");
    gw_resp_free(&r);
    root = file_json();
    json_t *fs = find_named(json_object_get(file_profile(root, "ann"), "services"), "Ann notes");
    json_t *fp = json_array_get(json_object_get(fs, "providers"), 0);
    cr_expect_str_eq(gw_jstr(fp, "display_name") ? gw_jstr(fp, "display_name") : "(none)",
                     "Ann Notes 2");
    cr_expect_str_eq(gw_jstr(json_object_get(fp, "settings"), "path")
                         ? gw_jstr(json_object_get(fp, "settings"), "path")
                         : "(none)",
                     "ann/Notes2");
    cr_expect(json_object_get(json_object_get(fp, "settings"), "create") == NULL,
              "the file kept the removed setting");
    json_decref(root);
    admin("GET", path, NULL, &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(
        gw_jstr(json_array_get(json_object_get(r.json, "providers"), 0), "display_name"),
        "Ann Notes 2");
    gw_resp_free(&r);
    /* a service renamed */
    admin("PATCH", path, "{\"name\":\"Ann memo\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_service_view(r.json);
    cr_expect_str_eq(gw_jstr(r.json, "name"), "Ann memo");
    char memo_uid[40];
    snprintf(memo_uid, sizeof memo_uid, "%s", gw_jstr(r.json, "uid") ? gw_jstr(r.json, "uid") : "");
    gw_resp_free(&r);
    /* the uid comes from the name: a new name, a new uid, the old one gone */
    cr_expect_str_neq(memo_uid, notes_uid, "a renamed service kept its uid");
    admin("GET", path, NULL, &r);
    problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    /* a rename to a name the profile has */
    snprintf(path, sizeof path, "/profiles/ann/services/%s", memo_uid);
    before = file_text();
    admin("PATCH", path, "{\"name\":\"Ann mail\"}", &r);
    refused(&r, 409, "MAPI_E_COLLISION", before);
    free(before);

    /* delete: a write to the profile, so the answer carries its new version */
    char e_before_delete[32];
    profile_etag("ann", e_before_delete);
    admin("DELETE", path, NULL, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    {
        const char *de = gw_header(&r, "ETag");
        char e_after_delete[32];
        profile_etag("ann", e_after_delete);
        cr_expect_str_neq(e_after_delete, e_before_delete, "deleting a service left the version");
        cr_expect(de && strcmp(de, e_after_delete) == 0,
                  "DELETE of a service (a write) answered ETag %s, not the profile's version %s",
                  de ? de : "(none)", e_after_delete);
    }
    gw_resp_free(&r);
    admin("GET", path, NULL, &r);
    problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/profiles/ann/services/%s", extra_uid);
    admin("DELETE", path, NULL, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    before = file_text();
    admin("DELETE", path, NULL, &r);
    refused(&r, 404, "MAPI_E_NOT_FOUND", before);
    free(before);
    root = file_json();
    fsvcs = json_object_get(file_profile(root, "ann"), "services");
    cr_expect_eq(json_array_size(fsvcs), 1u, "the file's services after the deletes");
    cr_expect_str_eq(gw_jstr(json_array_get(fsvcs, 0), "name"), "Ann mail");
    json_decref(root);
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    cr_expect_eq(status_rows(s.token), rows0 - 1, "a new logon after the deletes");
    gw_session_free(&s);
    cr_expect_eq(status_rows(live.token), rows0, "the live session's services changed");
    /* durable */
    restart();
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    cr_expect_eq(status_rows(s.token), rows0 - 1, "a logon after a restart");
    gw_session_free(&s);
    json_decref(mail_view);
    gw_session_free(&live);
}

/* RFC 7396 on a provider: objects merge, arrays are replaced, null
 * removes; type and kind are no patch fields. */
Test(profile_admin, provider_merge_patches)
{
    start();
    char uid[40], path[256];
    service_uid("ann", "Ann mail", uid);
    snprintf(path, sizeof path, "/profiles/ann/services/%s", uid);
    gw_resp r;
    admin("PATCH", path,
          "{\"providers\":[{},{\"settings\":{\"create\":false}},{\"resource_flags\":["
          "\"STATUS_PRIMARY_IDENTITY\",\"STATUS_OWN_STORE\"]}]}",
          &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *provs = json_object_get(r.json, "providers");
    json_t *fl = json_object_get(json_array_get(provs, 2), "resource_flags");
    bool replaced = false;
    size_t i;
    json_t *e;
    json_array_foreach(fl, i, e) replaced |=
        json_is_string(e) && strcmp(json_string_value(e), "STATUS_OWN_STORE") == 0;
    cr_expect(replaced, "resource_flags were not replaced: %s", r.body);
    json_t *st1 = json_object_get(json_array_get(provs, 1), "settings");
    cr_expect(json_is_false(json_object_get(st1, "create")), "create: %s", r.body);
    cr_expect_str_eq(gw_jstr(st1, "path") ? gw_jstr(st1, "path") : "(none)", "ann/spool",
                     "the settings were replaced, not merged: %s", r.body);
    cr_expect_str_eq(gw_jstr(st1, "deliver_to") ? gw_jstr(st1, "deliver_to") : "(none)",
                     "ann/Maildir");
    /* the untouched providers are as they were */
    json_t *st0 = json_object_get(json_array_get(provs, 0), "settings");
    cr_expect_str_eq(gw_jstr(st0, "path") ? gw_jstr(st0, "path") : "(none)", "ann/Maildir");
    json_t *id = json_object_get(json_array_get(provs, 2), "identity");
    cr_expect_str_eq(gw_jstr(id, "display") ? gw_jstr(id, "display") : "(none)", "Ann Example");
    gw_resp_free(&r);

    /* identity is an object: a merge patch of one member keeps the others */
    admin("PATCH", path,
          "{\"providers\":[{},{},{\"identity\":{\"address\":\"ann.new@example.invalid\"}}]}", &r);
    cr_expect_eq(r.status, 200,
                 "a merge patch of identity.address alone (RFC 7396: objects merge): %ld %s",
                 r.status, r.body);
    bool identity_patched = r.status == 200;
    if (identity_patched) {
        id = json_object_get(json_array_get(json_object_get(r.json, "providers"), 2), "identity");
        cr_expect_str_eq(gw_jstr(id, "address") ? gw_jstr(id, "address") : "(none)",
                         "ann.new@example.invalid");
        cr_expect_str_eq(gw_jstr(id, "display") ? gw_jstr(id, "display") : "(none)", "Ann Example",
                         "the identity was replaced, not merged: %s", r.body);
        cr_expect_str_eq(gw_jstr(id, "address_type") ? gw_jstr(id, "address_type") : "(none)",
                         "SMTP");
        json_t *root = file_json();
        json_t *fs = find_named(json_object_get(file_profile(root, "ann"), "services"), "Ann mail");
        json_t *fid =
            json_object_get(json_array_get(json_object_get(fs, "providers"), 2), "identity");
        cr_expect_str_eq(gw_jstr(fid, "address") ? gw_jstr(fid, "address") : "(none)",
                         "ann.new@example.invalid");
        cr_expect_str_eq(gw_jstr(fid, "display") ? gw_jstr(fid, "display") : "(none)",
                         "Ann Example");
        json_decref(root);
    }
    gw_resp_free(&r);
    /* what is no patch field, or leaves an invalid provider */
    char *before = file_text();
    static const char *const bad[] = {
        "{\"providers\":[{\"kind\":\"spool\"},{},{}]}",
        "{\"providers\":[{\"type\":\"MAPI_AB_PROVIDER\"},{},{}]}",
        "{\"providers\":[{\"position\":2},{},{}]}",
        "{\"providers\":[{\"display_name\":null},{},{}]}",
        "{\"providers\":[{\"resource_flags\":[\"STATUS_BOGUS\"]},{},{}]}",
        "{\"providers\":[{\"settings\":{\"path\":{\"nested\":1}}},{},{}]}",
    };
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        admin("PATCH", path, bad[i], &r);
        cr_expect_eq(r.status, 400, "PATCH %s: %ld %s", bad[i], r.status, r.body);
        if (r.status == 400)
            refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
        else
            gw_resp_free(&r);
    }
    free(before);
    gw_session s;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    gw_resp_free(&r);
    gw_get(G, "/identity", s.token, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    if (identity_patched) {
        /* the address is in the identity's one-off entry id, hex-encoded */
        static const char addr[] = "ann.new@example.invalid";
        char *hex = gw_hex(addr, sizeof addr - 1);
        cr_expect(strstr(r.body, hex) != NULL, "a new logon does not have the patched identity: %s",
                  r.body);
        free(hex);
    }
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(profile_admin, passwords_in_settings_are_masked)
{
    start();
    secret("smtp-secret-pw");
    secret("smtp-other-pw");
    gw_resp r;
    admin("POST", "/profiles/ben/services",
          "{\"name\":\"Ben smtp\",\"providers\":[{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":"
          "\"smtp\",\"display_name\":\"Ben SMTP\",\"settings\":{\"url\":\"smtp://127.0.0.1:1\","
          "\"queue\":\"ben/queue\",\"username\":\"ben\",\"password\":\"smtp-secret-pw\","
          "\"relay_password\":\"smtp-other-pw\"}}]}",
          &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    expect_service_view(r.json);
    cr_expect(strstr(r.body, "smtp-secret-pw") == NULL && strstr(r.body, "smtp-other-pw") == NULL,
              "a password shown: %s", r.body);
    json_t *p = json_array_get(json_object_get(r.json, "providers"), 0);
    json_t *st = json_object_get(p, "settings");
    cr_expect_str_eq(gw_jstr(st, "password") ? gw_jstr(st, "password") : "(none)", "********");
    cr_expect_str_eq(gw_jstr(st, "relay_password") ? gw_jstr(st, "relay_password") : "(none)",
                     "********");
    cr_expect_str_eq(gw_jstr(st, "username") ? gw_jstr(st, "username") : "(none)", "ben");
    /* smtp's default user_settings */
    json_t *us = json_object_get(p, "user_settings");
    static const char *const want[] = {"username", "password", "timeout_ms", "from"};
    cr_expect_eq(json_array_size(us), 4u, "smtp's default user_settings: %s", r.body);
    for (size_t i = 0; i < 4; i++) {
        bool found = false;
        size_t j;
        json_t *e;
        json_array_foreach(us, j, e) found |=
            json_is_string(e) && strcmp(json_string_value(e), want[i]) == 0;
        cr_expect(found, "smtp's user_settings lack %s: %s", want[i], r.body);
    }
    char uid[40];
    snprintf(uid, sizeof uid, "%s", gw_jstr(r.json, "uid") ? gw_jstr(r.json, "uid") : FAKE_UID);
    gw_resp_free(&r);
    get_profile("ben", &r, NULL);
    cr_expect(strstr(r.body, "smtp-secret-pw") == NULL, "the profile view shows the password");
    gw_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/profiles/ben/services/%s/providers", uid);
    admin("GET", path, NULL, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect(strstr(r.body, "smtp-secret-pw") == NULL, "the provider table shows the password");
    gw_resp_free(&r);
    /* the file holds the real one */
    json_t *root = file_json();
    json_t *fs = find_named(json_object_get(file_profile(root, "ben"), "services"), "Ben smtp");
    json_t *fst = json_object_get(json_array_get(json_object_get(fs, "providers"), 0), "settings");
    cr_expect_str_eq(gw_jstr(fst, "password") ? gw_jstr(fst, "password") : "(none)",
                     "smtp-secret-pw");
    json_decref(root);
    /* a patch that leaves the password keeps it (the mask is not written) */
    snprintf(path, sizeof path, "/profiles/ben/services/%s", uid);
    admin("PATCH", path, "{\"providers\":[{\"settings\":{\"timeout_ms\":5000}}]}", &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    root = file_json();
    fs = find_named(json_object_get(file_profile(root, "ben"), "services"), "Ben smtp");
    fst = json_object_get(json_array_get(json_object_get(fs, "providers"), 0), "settings");
    cr_expect_str_eq(gw_jstr(fst, "password") ? gw_jstr(fst, "password") : "(none)",
                     "smtp-secret-pw");
    json_decref(root);
    /* the view sent back as it was read: the mask keeps the stored secret */
    admin("PATCH", path,
          "{\"providers\":[{\"settings\":{\"password\":\"********\",\"relay_password\":"
          "\"********\",\"timeout_ms\":6000}}]}",
          &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    root = file_json();
    fs = find_named(json_object_get(file_profile(root, "ben"), "services"), "Ben smtp");
    fst = json_object_get(json_array_get(json_object_get(fs, "providers"), 0), "settings");
    cr_expect_str_eq(gw_jstr(fst, "password") ? gw_jstr(fst, "password") : "(none)",
                     "smtp-secret-pw", "the mask sent back replaced the stored password");
    cr_expect_str_eq(gw_jstr(fst, "relay_password") ? gw_jstr(fst, "relay_password") : "(none)",
                     "smtp-other-pw", "the mask sent back replaced the stored secret");
    json_decref(root);
    admin("DELETE", path, NULL, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
}

/* ============================================ the session's services */

Test(profile_admin, session_services)
{
    start();
    gw_session a, b;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &a);
    gw_logon_ok(G, "ben", "ben-pw", NEWS, &b);
    char e_ann[32], e[32];
    profile_etag("ann", e_ann);
    gw_resp r;
    /* own profile only */
    gw_get(G, "/services", a.token, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_json_answer(&r);
    etag_of(&r, e);
    cr_expect_str_eq(e, e_ann, "GET /services' ETag is not the profile's version");
    cr_expect_str_eq(gw_jstr(r.json, "profile") ? gw_jstr(r.json, "profile") : "(none)", "ann");
    json_t *svcs = json_object_get(r.json, "services");
    cr_assert_eq(json_array_size(svcs), 2u, "%s", r.body);
    size_t i;
    json_t *s;
    json_array_foreach(svcs, i, s) expect_service_view(s);
    json_t *mail = find_named(svcs, "Ann mail");
    cr_assert(mail);
    char uid[40];
    snprintf(uid, sizeof uid, "%s", gw_jstr(mail, "uid"));
    gw_resp_free(&r);
    gw_get(G, "/services", b.token, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect_str_eq(gw_jstr(r.json, "profile") ? gw_jstr(r.json, "profile") : "(none)", "ben");
    svcs = json_object_get(r.json, "services");
    cr_expect_eq(json_array_size(svcs), 1u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(svcs, 0), "name"), "Ben mail");
    cr_expect(strstr(r.body, uid) == NULL && strstr(r.body, "Ann") == NULL,
              "ben sees ann's services: %s", r.body);
    gw_resp_free(&r);
    char path[256], ppath[256];
    snprintf(path, sizeof path, "/services/%s", uid);
    snprintf(ppath, sizeof ppath, "/services/%s/providers", uid);
    gw_get(G, path, b.token, &r);
    problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    gw_get(G, ppath, b.token, &r);
    problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    gw_get(G, path, a.token, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_json_answer(&r);
    expect_service_view(r.json);
    cr_expect_str_eq(gw_jstr(r.json, "name"), "Ann mail");
    etag_of(&r, e);
    cr_expect_str_eq(e, e_ann, "GET /services/{uid}: the ETag is not the profile's version");
    gw_resp_free(&r);
    gw_get(G, ppath, a.token, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect_eq(json_array_size(json_object_get(r.json, "providers")), 3u, "%s", r.body);
    gw_resp_free(&r);

    /* what a session may not change */
    char *before = file_text();
    static const struct {
        const char *body, *field;
    } denied[] = {
        {"{\"providers\":[{\"settings\":{\"path\":\"ann/Elsewhere\"}},{},{}]}", "path"},
        {"{\"providers\":[{},{\"settings\":{\"create\":false}},{}]}", "create"},
        {"{\"providers\":[{\"display_name\":\"Mine\"},{},{}]}", "display_name"},
        {"{\"providers\":[{\"user_settings\":[\"path\"]},{},{}]}", "user_settings"},
        {"{\"providers\":[{\"resource_flags\":[]},{},{}]}", "resource_flags"},
        {"{\"name\":\"Mine\"}", "name"},
    };
    for (i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        req("PATCH", path, a.token, NULL, denied[i].body, &r);
        cr_expect_eq(r.status, 403, "PATCH %s: %ld %s", denied[i].body, r.status, r.body);
        if (r.status == 403) {
            gw_assert_problem(&r, 403, "MAPI_E_NO_ACCESS");
            cr_expect(strstr(detail_of(&r), denied[i].field) != NULL,
                      "the refusal does not name %s: %s", denied[i].field, r.body);
        }
        gw_resp_free(&r);
    }
    expect_file_unchanged(before, "refused session patches");
    req("PATCH", path, a.token, STALE, "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}",
        &r);
    refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
    req("PATCH", path, b.token, NULL, "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}",
        &r);
    refused(&r, 404, "MAPI_E_NOT_FOUND", before);
    req("PATCH", path, a.token, NULL, "{\"providers\":[{\"settings\":{\"create\":false}}]}", &r);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    free(before);

    /* a listed setting: done, in the file */
    req("PATCH", path, a.token, e_ann, "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}",
        &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_json_answer(&r);
    expect_service_view(r.json);
    etag_of(&r, e);
    cr_expect_str_neq(e, e_ann, "the version did not change");
    json_t *c = json_object_get(
        json_object_get(json_array_get(json_object_get(r.json, "providers"), 0), "settings"),
        "create");
    cr_expect(json_is_false(c) || (json_is_string(c) && strcmp(json_string_value(c), "false") == 0),
              "the answer's create setting: %s", r.body);
    gw_resp_free(&r);
    json_t *root = file_json();
    json_t *fs = find_named(json_object_get(file_profile(root, "ann"), "services"), "Ann mail");
    c = json_object_get(
        json_object_get(json_array_get(json_object_get(fs, "providers"), 0), "settings"), "create");
    cr_expect(json_is_false(c) || (json_is_string(c) && strcmp(json_string_value(c), "false") == 0),
              "the file's create setting is not false");
    cr_expect_str_eq(
        gw_jstr(json_object_get(json_array_get(json_object_get(fs, "providers"), 0), "settings"),
                "path"),
        "ann/Maildir", "the patch lost the other setting");
    json_decref(root);
    expect_status(a.token, 200, "the session that changed its settings");
    expect_status(b.token, 200, "another profile's session");
    expect_logon("ann", "ann-pw", 201, "a logon after the change");

    /* a template-derived profile's services are the template's */
    gw_session t;
    gw_logon_ok(G, "zoe@tmpl.example", NULL, NEWS, &t);
    gw_get(G, "/services", t.token, &r);
    cr_expect(r.status == 200 || r.status == 501, "GET /services of a template profile: %ld %s",
              r.status, r.body);
    const char *tuid = r.status == 200
                           ? gw_jstr(json_array_get(json_object_get(r.json, "services"), 0), "uid")
                           : NULL;
    char tpath[256];
    snprintf(tpath, sizeof tpath, "/services/%s", tuid ? tuid : FAKE_UID);
    gw_resp_free(&r);
    before = file_text();
    req("PATCH", tpath, t.token, NULL, "{\"providers\":[{\"settings\":{\"create\":false}}]}", &r);
    refused(&r, 501, "MAPI_E_NO_SUPPORT", before);
    free(before);
    gw_session_free(&t);
    gw_session_free(&a);
    gw_session_free(&b);
}

/* user_settings by default (smtp: username, password, timeout_ms, from)
 * and as the admin sets them. */
Test(profile_admin, session_patches_follow_user_settings)
{
    start();
    secret("smtp-first-pw");
    secret("smtp-second-pw");
    gw_resp r;
    admin(
        "POST", "/profiles",
        "{\"name\":\"sam\",\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"Sam mail\","
        "\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":"
        "\"Sam Mailbox\",\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],\"settings\":{\"path\":"
        "\"sam/Maildir\",\"create\":true}},{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"smtp\","
        "\"display_name\":\"Sam SMTP\",\"settings\":{\"url\":\"smtp://127.0.0.1:1\",\"queue\":"
        "\"sam/queue\",\"create\":true,\"username\":\"sam\",\"password\":\"smtp-first-pw\"}}]}]}",
        &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    gw_session s;
    gw_logon_ok(G, "sam", NULL, NEWS, &s);
    gw_get(G, "/services", s.token, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect(strstr(r.body, "smtp-first-pw") == NULL, "GET /services shows a password: %s",
              r.body);
    char uid[40], path[256];
    snprintf(uid, sizeof uid, "%s",
             gw_jstr(json_array_get(json_object_get(r.json, "services"), 0), "uid")
                 ? gw_jstr(json_array_get(json_object_get(r.json, "services"), 0), "uid")
                 : FAKE_UID);
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/services/%s", uid);
    char *before = file_text();
    /* not listed by default: url (smtp), anything of maildir */
    req("PATCH", path, s.token, NULL, "{\"providers\":[{},{\"settings\":{\"url\":\"smtp://x\"}}]}",
        &r);
    problem(&r, 403, "MAPI_E_NO_ACCESS");
    cr_expect(strstr(detail_of(&r), "url") != NULL, "the refusal does not name url: %s", r.body);
    refused(&r, 403, "MAPI_E_NO_ACCESS", before);
    req("PATCH", path, s.token, NULL, "{\"providers\":[{\"settings\":{\"create\":false}},{}]}", &r);
    refused(&r, 403, "MAPI_E_NO_ACCESS", before);
    /* listed by default: password, timeout_ms, from, username */
    req("PATCH", path, s.token, NULL,
        "{\"providers\":[{},{\"settings\":{\"password\":\"smtp-second-pw\",\"timeout_ms\":3000,"
        "\"from\":\"sam@example.invalid\",\"username\":\"samuel\"}}]}",
        &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect(strstr(r.body, "smtp-second-pw") == NULL, "the answer shows the password: %s",
              r.body);
    json_t *st =
        json_object_get(json_array_get(json_object_get(r.json, "providers"), 1), "settings");
    cr_expect_str_eq(gw_jstr(st, "password") ? gw_jstr(st, "password") : "(none)", "********");
    cr_expect_str_eq(gw_jstr(st, "username") ? gw_jstr(st, "username") : "(none)", "samuel");
    gw_resp_free(&r);
    free(before);
    json_t *root = file_json();
    json_t *fs = json_array_get(json_object_get(file_profile(root, "sam"), "services"), 0);
    json_t *fst = json_object_get(json_array_get(json_object_get(fs, "providers"), 1), "settings");
    cr_expect_str_eq(gw_jstr(fst, "password") ? gw_jstr(fst, "password") : "(none)",
                     "smtp-second-pw");
    cr_expect_str_eq(gw_jstr(fst, "from") ? gw_jstr(fst, "from") : "(none)", "sam@example.invalid");
    json_t *t = json_object_get(fst, "timeout_ms");
    cr_expect((json_is_integer(t) && json_integer_value(t) == 3000) ||
                  (json_is_string(t) && strcmp(json_string_value(t), "3000") == 0),
              "the file's timeout_ms");
    cr_expect_str_eq(gw_jstr(fst, "url") ? gw_jstr(fst, "url") : "(none)", "smtp://127.0.0.1:1");
    json_decref(root);
    /* the mask sent back by a session keeps the stored password */
    req("PATCH", path, s.token, NULL,
        "{\"providers\":[{},{\"settings\":{\"password\":\"********\"}}]}", &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    root = file_json();
    fs = json_array_get(json_object_get(file_profile(root, "sam"), "services"), 0);
    fst = json_object_get(json_array_get(json_object_get(fs, "providers"), 1), "settings");
    cr_expect_str_eq(gw_jstr(fst, "password") ? gw_jstr(fst, "password") : "(none)",
                     "smtp-second-pw", "the mask a session sent back replaced its password");
    json_decref(root);
    /* a value the kind refuses is refused by the loader */
    before = file_text();
    req("PATCH", path, s.token, NULL, "{\"providers\":[{},{\"settings\":{\"timeout_ms\":0}}]}", &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail_of(&r), "timeout_ms") != NULL, "%s", r.body);
    refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    free(before);
    /* the admin grants the store's create: the session may change it */
    char apath[256];
    snprintf(apath, sizeof apath, "/profiles/sam/services/%s", uid);
    admin("PATCH", apath, "{\"providers\":[{\"user_settings\":[\"create\"]},{}]}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *want = json_pack("[s]", "create");
    cr_expect(json_equal(json_object_get(json_array_get(json_object_get(r.json, "providers"), 0),
                                         "user_settings"),
                         want),
              "user_settings after the admin's patch: %s", r.body);
    json_decref(want);
    gw_resp_free(&r);
    req("PATCH", path, s.token, NULL, "{\"providers\":[{\"settings\":{\"create\":false}},{}]}", &r);
    cr_expect_eq(r.status, 200, "a setting the admin granted: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    /* and takes it back: user_settings set to null goes back to the kind's default */
    admin("PATCH", apath, "{\"providers\":[{\"user_settings\":null},{}]}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    before = file_text();
    req("PATCH", path, s.token, NULL, "{\"providers\":[{\"settings\":{\"create\":true}},{}]}", &r);
    refused(&r, 403, "MAPI_E_NO_ACCESS", before);
    free(before);
    expect_status(s.token, 200, "the session after its own changes");
    gw_session_free(&s);
}

/* ========================================= change-password is durable */

Test(profile_admin, status_change_password_survives_reload_and_restart)
{
    start();
    secret("ann-cp-pw");
    char v0[256], v1[256];
    file_verifier("ann", v0, sizeof v0);
    char *listing = dir_names(gw_tmp_dir(G));
    gw_session s;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    gw_resp r;
    change_password(s.token, "{\"old_password\":\"ann-pw\",\"new_password\":\"ann-cp-pw\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    file_verifier("ann", v1, sizeof v1);
    cr_expect(strncmp(v1, "$argon2id$", 10) == 0 && strcmp(v1, v0) != 0,
              "the profiles file's verifier did not change");
    char *after = dir_names(gw_tmp_dir(G));
    cr_expect_str_eq(after, listing, "the profiles file's folder changed (a temporary file left?)");
    free(after);
    free(listing);
    expect_logon("ann", "ann-pw", 401, "the old password");
    expect_logon("ann", "ann-cp-pw", 201, "the new password");
    sighup_reload();
    expect_logon("ann", "ann-pw", 401, "the old password after SIGHUP");
    expect_logon("ann", "ann-cp-pw", 201, "the new password after SIGHUP");
    restart();
    expect_logon("ann", "ann-pw", 401, "the old password after a restart");
    expect_logon("ann", "ann-cp-pw", 201, "the new password after a restart");
    gw_session_free(&s);
}

/* ===================================================== disk errors */

Test(profile_admin, unwritable_profiles_file_is_disk_error_and_changes_nothing)
{
    start();
    secret("ann-lost-pw");
    secret("lee-pw");
    gw_session s;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    char e_ann[32], now[32];
    profile_etag("ann", e_ann);
    char *before = file_text();
    char *listing = dir_names(gw_tmp_dir(G));
    lock_dir(gw_tmp_dir(G));
    gw_resp r;
    admin("PUT", "/profiles/ann/password", "{\"new_password\":\"ann-lost-pw\"}", &r);
    refused(&r, 500, "MAPI_E_DISK_ERROR", before);
    admin("POST", "/profiles", "{\"name\":\"lee\",\"password\":\"lee-pw\"}", &r);
    refused(&r, 500, "MAPI_E_DISK_ERROR", before);
    admin("PATCH", "/profiles/ben", "{\"default\":true}", &r);
    refused(&r, 500, "MAPI_E_DISK_ERROR", before);
    admin("DELETE", "/profiles/ben", NULL, &r);
    refused(&r, 500, "MAPI_E_DISK_ERROR", before);
    admin("POST", "/profiles/ann/services", NOTES_SERVICE, &r);
    refused(&r, 500, "MAPI_E_DISK_ERROR", before);
    change_password(s.token, "{\"old_password\":\"ann-pw\",\"new_password\":\"ann-lost-pw\"}", &r);
    refused(&r, 500, "MAPI_E_DISK_ERROR", before);
    unlock_dir();
    char *after = dir_names(gw_tmp_dir(G));
    cr_expect_str_eq(after, listing, "the failed writes left files");
    free(after);
    free(listing);
    /* nothing changed in memory */
    expect_logon("ann", "ann-pw", 201, "the old password after the failed writes");
    expect_logon("ann", "ann-lost-pw", 401, "a password a failed write would have set");
    expect_logon("lee", "lee-pw", 401, "a profile a failed write would have made");
    expect_logon("ben", "ben-pw", 201, "a profile a failed write would have deleted");
    expect_status(s.token, 200, "the session after the failed writes");
    profile_etag("ann", now);
    cr_expect_str_eq(now, e_ann, "ann's version changed");
    get_profile("ben", &r, NULL);
    cr_expect(!view_default(&r), "ben became the default: %s", r.body);
    gw_resp_free(&r);
    get_profile("ann", &r, NULL);
    cr_expect_eq(json_array_size(json_object_get(r.json, "services")), 2u,
                 "a service a failed write would have added: %s", r.body);
    gw_resp_free(&r);
    /* writable again: writes work */
    admin("PUT", "/profiles/ann/password", "{\"new_password\":\"ann-lost-pw\"}", &r);
    cr_expect_eq(r.status, 200, "a write once the folder is writable: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    expect_logon("ann", "ann-lost-pw", 201, "the password set after the repair");
    free(before);
    gw_session_free(&s);
}

/* ====================================== the file on disk is the truth */

/* Each write starts from the profiles file as it is on disk now and installs
 * the result as a reload would: a profile added by hand (no SIGHUP) comes in
 * with the next write; a file broken by hand refuses the write with the
 * loader's message and stays as it is. The file's mode is kept. */
Test(profile_admin, a_write_starts_from_the_file_on_disk)
{
    static const char *const args[] = {
        "--store", "memory",          "--admin-key", KEY, "--idle-timeout",
        "1",       "--reap-interval", "1",           NULL};
    start_with(FILE_NAME, args);
    secret("ann-broken-pw");
    cr_assert_eq(chmod(gw_profiles_path(G), 0600), 0);
    json_t *root = file_json();
    json_array_append_new(
        json_object_get(root, "profiles"),
        json_pack("{s:s, s:{s:s}, s:[]}", "name", "hand", "auth", "type", "none", "services"));
    cr_assert_eq(json_dump_file(root, gw_profiles_path(G), JSON_INDENT(2)), 0);
    json_decref(root);
    /* without a shared store the gateway does not reload by itself: a reap
     * pass runs (a session idles out) and the edit is still not taken */
    size_t expired = count_log_msgs("sessions expired");
    gw_session idle;
    gw_logon_ok(G, "ben", "ben-pw", NEWS, &idle);
    gw_session_free(&idle);
    for (long long end = now_ms() + gw_ms(10000);
         count_log_msgs("sessions expired") == expired && now_ms() < end;)
        gw_sleep_ms(50);
    cr_expect_gt(count_log_msgs("sessions expired"), expired, "no reap pass ran");
    cr_expect_eq(count_log_msgs("profiles file changed"), 0u,
                 "the memory store reloaded the file by itself");
    expect_logon("hand", NULL, 401, "a profile added by hand, before any reload");
    gw_resp r;
    admin("POST", "/profiles", "{\"name\":\"cat\",\"auth\":{\"type\":\"none\"}}", &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    root = file_json();
    cr_expect(file_profile(root, "hand") && file_profile(root, "cat"),
              "the write lost the hand edit or its own change");
    json_decref(root);
    expect_logon("hand", NULL, 201, "the hand-added profile after a write installed the file");
    expect_logon("cat", NULL, 201, "the written profile");
    get_profile("hand", &r, NULL);
    gw_resp_free(&r);
    struct stat st;
    cr_assert_eq(stat(gw_profiles_path(G), &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0600u, "the rewritten profiles file has mode %o, was 0600",
                 (unsigned)(st.st_mode & 07777));

    /* broken by hand */
    char *good = file_text();
    size_t len = strlen(good) + 16;
    char *broken = malloc(len);
    cr_assert(broken);
    snprintf(broken, len, "%sgarbage\n", good);
    gw_write_file(gw_profiles_path(G), broken);
    admin("POST", "/profiles", "{\"name\":\"dog\",\"auth\":{\"type\":\"none\"}}", &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail_of(&r), FILE_NAME) != NULL, "the detail does not name the file: %s",
              r.body);
    expect_file_unchanged(broken, "a write over a broken file");
    gw_resp_free(&r);
    admin("PUT", "/profiles/ann/password", "{\"new_password\":\"ann-broken-pw\"}", &r);
    problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    expect_file_unchanged(broken, "a write over a broken file");
    gw_resp_free(&r);
    expect_logon("dog", NULL, 401, "a profile refused over a broken file");
    expect_logon("ann", "ann-pw", 201, "the profiles in memory after refused writes");
    expect_logon("hand", NULL, 201, "the profiles in memory after refused writes");
    /* repaired: writes again */
    gw_write_file(gw_profiles_path(G), good);
    admin("POST", "/profiles", "{\"name\":\"dog\",\"auth\":{\"type\":\"none\"}}", &r);
    cr_expect_eq(r.status, 201, "a write once the file is repaired: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    expect_logon("dog", NULL, 201, "the profile written after the repair");
    free(broken);
    free(good);
}

/* A name POST /profiles takes is one the API can reach again: its Location
 * answers GET, and DELETE there removes it (a name it cannot serve is a bad
 * name: 400, nothing written). */
Test(profile_admin, every_name_created_is_reachable_at_its_location)
{
    start();
    static const char *const names[] = {"Zo\u00eb", "a/b",        " lead",  "x@tmpl.example",
                                        "100%",     "semi;colon", "q?uery", "h#sh"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *b = json_pack("{s:s, s:{s:s}}", "name", names[i], "auth", "type", "none");
        char *body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        char *before = file_text();
        gw_resp r;
        admin("POST", "/profiles", body, &r);
        free(body);
        if (r.status == 400) {
            refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
            free(before);
            continue;
        }
        cr_expect_eq(r.status, 201, "POST %s: %ld %s", names[i], r.status, r.body);
        char *enc = gw_urlencode(names[i]);
        char want[256];
        snprintf(want, sizeof want, "/profiles/%s", enc);
        free(enc);
        const char *loc = gw_header(&r, "Location");
        char location[256];
        snprintf(location, sizeof location, "%s", loc ? loc : want);
        gw_resp_free(&r);
        admin("GET", location, NULL, &r);
        cr_expect_eq(r.status, 200, "profile \"%s\" was created (201) but GET %s answers %ld %s",
                     names[i], location, r.status, r.body);
        if (r.status == 200)
            cr_expect_str_eq(gw_jstr(r.json, "name") ? gw_jstr(r.json, "name") : "(none)",
                             names[i]);
        gw_resp_free(&r);
        admin("DELETE", location, NULL, &r);
        cr_expect_eq(r.status, 204, "profile \"%s\": DELETE %s answers %ld %s", names[i], location,
                     r.status, r.body);
        gw_resp_free(&r);
        if (r.status != 204) {
            /* leave the file as it was for the next name */
            gw_write_file(gw_profiles_path(G), before);
            sighup_reload();
        }
        free(before);
    }
}

/* A profiles file reached through a symbolic link (a shared volume, a
 * mounted configuration): the write goes to the file the gateway reads, the
 * link stays a link. */
Test(profile_admin, a_symlinked_profiles_file_is_written_through_the_link)
{
    start();
    char shared[600], target[700];
    snprintf(shared, sizeof shared, "%s/shared", gw_tmp_dir(G));
    snprintf(target, sizeof target, "%s/real.json", shared);
    cr_assert_eq(mkdir(shared, 0700), 0);
    cr_assert_eq(rename(gw_profiles_path(G), target), 0);
    cr_assert_eq(symlink(target, gw_profiles_path(G)), 0);
    gw_resp r;
    admin("POST", "/profiles", "{\"name\":\"cat\",\"auth\":{\"type\":\"none\"}}", &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    struct stat st;
    cr_assert_eq(lstat(gw_profiles_path(G), &st), 0);
    cr_expect(S_ISLNK(st.st_mode), "the write replaced the symbolic link %s by a regular file",
              gw_profiles_path(G));
    char *t = slurp(target);
    cr_assert(t);
    json_t *root = json_loads(t, 0, NULL);
    cr_expect(root && file_profile(root, "cat"),
              "the file the link points to (%s) does not hold the write", target);
    json_decref(root);
    free(t);
    expect_logon("cat", NULL, 201, "the profile written");
    /* a reload reads through the link and keeps it */
    sighup_reload();
    expect_logon("cat", NULL, 201, "the profile written, after a reload through the link");
}

/* On an address other machines can reach, a write that would bring in a
 * profile anyone can log on to is refused as a SIGHUP reload of it would be
 * (startup_guard); nothing is written. */
Test(profile_admin, a_public_listener_refuses_writes_of_open_profiles)
{
    /* the test file without its open template */
    const char *dir = getenv("MAPIGW_TEST_PROFILES");
    cr_assert(dir, "MAPIGW_TEST_PROFILES is not set");
    char src[4096];
    snprintf(src, sizeof src, "%s/%s", dir, FILE_NAME);
    json_error_t je;
    json_t *doc = json_load_file(src, 0, &je);
    cr_assert(doc, "%s: %s", src, je.text);
    json_object_del(doc, "templates");
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    const char *safe = gw_test_file(FILE_NAME, text);
    free(text);
    static const char *const args[] = {"--listen",    "0.0.0.0", "--store", "memory",
                                       "--admin-key", KEY,       NULL};
    start_with(safe, args);
    secret("pat-pw");
    char *before = file_text();
    gw_resp r;
    static const char *const open_bodies[] = {
        "{\"name\":\"open\"}",
        "{\"name\":\"open\",\"auth\":{\"type\":\"none\"}}",
        "{\"name\":\"open\",\"copy_from\":\"ann\",\"auth\":{\"type\":\"none\"}}",
    };
    for (size_t i = 0; i < sizeof open_bodies / sizeof open_bodies[0]; i++) {
        admin("POST", "/profiles", open_bodies[i], &r);
        cr_expect(r.status == 400 || r.status == 403, "POST %s on a public listener: %ld %s",
                  open_bodies[i], r.status, r.body);
        if (r.status == 400 || r.status == 403)
            refused(&r, r.status, r.status == 400 ? "MAPI_E_INVALID_PARAMETER" : "MAPI_E_NO_ACCESS",
                    before);
        else
            gw_resp_free(&r);
    }
    expect_logon("open", NULL, 401, "an open profile refused on a public listener");
    /* a profile with a password is fine */
    admin("POST", "/profiles", "{\"name\":\"pat\",\"password\":\"pat-pw\"}", &r);
    cr_expect_eq(r.status, 201, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    expect_logon("pat", "pat-pw", 201, "a profile with a password on a public listener");
    free(before);
}

/* Writes from two clients while SIGHUPs arrive: no write is lost, neither in
 * the file nor in memory (a reload never installs a file older than a write
 * that already answered). */
typedef struct {
    gw *g;
    int id;
    int n;
    long status[32];
    atomic_bool done;
} writer;

static void *write_profiles(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < w->n; i++) {
        char body[128], auth[128];
        snprintf(body, sizeof body, "{\"name\":\"w%d-%d\",\"auth\":{\"type\":\"none\"}}", w->id, i);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", KEY);
        const char *const h[] = {auth, NULL};
        gw_resp r;
        w->status[i] = gw_request(w->g, "POST", "/profiles", h, body, &r);
        gw_resp_free(&r);
    }
    atomic_store(&w->done, true);
    return NULL;
}

Test(profile_admin, writes_and_reloads_never_interleave)
{
    start();
    static writer w[2];
    for (int i = 0; i < 2; i++) {
        w[i].g = G;
        w[i].id = i;
        w[i].n = 20;
        atomic_store(&w[i].done, false);
    }
    size_t reloads = count_log_msgs("profiles reloaded");
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, write_profiles, &w[i]), 0);
    /* SIGHUPs as long as they write */
    int sent = 0;
    while (!atomic_load(&w[0].done) || !atomic_load(&w[1].done) || sent < 5) {
        cr_assert_eq(kill(gw_pid(G), SIGHUP), 0);
        sent++;
        gw_sleep_ms(2);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    /* the reloads really ran among the writes */
    for (long long end = now_ms() + gw_ms(5000);
         count_log_msgs("profiles reloaded") == reloads && now_ms() < end;)
        gw_sleep_ms(20);
    cr_expect_gt(count_log_msgs("profiles reloaded"), reloads, "no SIGHUP reload ran");
    json_t *root = file_json();
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < w[i].n; j++) {
            char name[32];
            snprintf(name, sizeof name, "w%d-%d", i, j);
            cr_expect_eq(w[i].status[j], 201, "POST %s: %ld", name, w[i].status[j]);
            cr_expect(file_profile(root, name) != NULL, "%s is not in the file", name);
            expect_logon(name, NULL, 201, "a profile written among SIGHUPs");
        }
    cr_expect(file_profile(root, "ann") && file_profile(root, "ben"), "a profile was lost");
    json_decref(root);
    cr_expect_eq(gw_wait_exit(G, 0), -1, "the gateway exited");
    /* and the file the last reload read is the same */
    sighup_reload();
    expect_logon("w0-19", NULL, 201, "after a last reload");
    expect_logon("w1-19", NULL, 201, "after a last reload");
}

/* Optimistic concurrency: clients that all read one version and write with
 * If-Match at once: exactly one wins, the others get 412. */
typedef struct {
    gw *g;
    const char *path;
    const char *etag;
    int round, i;
    pthread_barrier_t *go;
    long status;
} racer;

static void *race_write(void *arg)
{
    racer *rc = arg;
    char body[256], auth[128], im[64];
    /* a different content per writer and per round: a write that changed
     * nothing would leave the version, and a second writer would rightly win */
    snprintf(body, sizeof body, "{\"providers\":[{\"display_name\":\"Archive %d.%d\"}]}", rc->round,
             rc->i);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", KEY);
    snprintf(im, sizeof im, "If-Match: %s", rc->etag);
    const char *const h[] = {auth, im, NULL};
    pthread_barrier_wait(rc->go);
    gw_resp r;
    rc->status = gw_request(rc->g, "PATCH", rc->path, h, body, &r);
    gw_resp_free(&r);
    return NULL;
}

Test(profile_admin, if_match_lets_one_of_many_concurrent_writers_win)
{
    start();
    char uid[40], path[256], etag[32];
    service_uid("ann", "Ann extra", uid);
    snprintf(path, sizeof path, "/profiles/ann/services/%s", uid);
    for (int round = 0; round < 3; round++) {
        profile_etag("ann", etag);
        enum { N = 8 };
        racer rc[N];
        pthread_t t[N];
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, N);
        for (int i = 0; i < N; i++) {
            rc[i] = (racer){G, path, etag, round, i, &go, 0};
            cr_assert_eq(pthread_create(&t[i], NULL, race_write, &rc[i]), 0);
        }
        int won = 0, stale = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(t[i], NULL);
            won += rc[i].status == 200;
            stale += rc[i].status == 412;
        }
        pthread_barrier_destroy(&go);
        cr_expect_eq(won, 1, "round %d: %d writers with the same If-Match won", round, won);
        cr_expect_eq(stale, N - 1, "round %d: %d of %d got 412", round, stale, N - 1);
    }
}

/* Unknown query parameters on every new route: 400. */
Test(profile_admin, unknown_query_parameters_are_refused)
{
    start();
    gw_session s;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &s);
    char uid[40];
    service_uid("ann", "Ann mail", uid);
    char *before = file_text();
    route rt[32];
    size_t n = admin_routes(rt, uid);
    for (size_t i = 0; i < n; i++) {
        char path[200];
        snprintf(path, sizeof path, "%s?bogus=1", rt[i].path);
        gw_resp r;
        req(rt[i].method, path, KEY, NULL, rt[i].body, &r);
        cr_expect_eq(r.status, 400, "%s %s: %ld %s", rt[i].method, path, r.status, r.body);
        if (r.status == 400)
            gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
        gw_resp_free(&r);
    }
    const char *const mine[] = {"GET",          "/services",   "GET",
                                "/services/%s", "GET",         "/services/%s/providers",
                                "PATCH",        "/services/%s"};
    for (size_t i = 0; i < 8; i += 2) {
        char p[160], path[200];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(p, sizeof p, mine[i + 1], uid);
#pragma GCC diagnostic pop
        snprintf(path, sizeof path, "%s?bogus=1", p);
        gw_resp r;
        req(mine[i], path, s.token, NULL,
            strcmp(mine[i], "PATCH") == 0
                ? "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}"
                : NULL,
            &r);
        cr_expect_eq(r.status, 400, "%s %s: %ld %s", mine[i], path, r.status, r.body);
        if (r.status == 400)
            gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
        gw_resp_free(&r);
    }
    expect_file_unchanged(before, "requests with unknown query parameters");
    free(before);
    gw_session_free(&s);
}

/* ================================================== a shared store */

/* With a shared store (its own Redis here) writes work too, and the gateway
 * takes an edit of the file by itself within a reap interval (replicas share
 * one profiles file): no SIGHUP. */
static long logon_until(const char *profile, const char *pw, long want, int ms)
{
    long long end = now_ms() + gw_ms(ms);
    for (;;) {
        gw_session n;
        long st = gw_logon(G, profile, pw, NEWS, &n);
        gw_session_free(&n);
        if (st == want || now_ms() >= end)
            return st;
        gw_sleep_ms(100);
    }
}

Test(profile_admin, a_shared_store_takes_writes_and_edits_of_the_file)
{
    srv_redis_start(&REDIS);
    redis_up = true;
    const char *const args[] = {
        "--store",         REDIS.url, "--store-prefix",   "profile-admin:", "--admin-key", KEY,
        "--reap-interval", "1",       "--throttle-after", "1000",           NULL};
    start_with(FILE_NAME, args);
    secret("cat-pw");
    gw_resp r;
    get_profile("ann", &r, NULL);
    gw_resp_free(&r);
    admin("POST", "/profiles", "{\"name\":\"cat\",\"password\":\"cat-pw\"}", &r);
    cr_assert_eq(r.status, 201, "a write with a shared store: %ld %s", r.status, r.body);
    expect_profile_view(&r, "cat", "argon2id", NULL);
    gw_resp_free(&r);
    expect_logon("cat", "cat-pw", 201, "the profile written with a shared store");
    json_t *root = file_json();
    cr_expect(file_profile(root, "cat") != NULL, "the file does not hold the new profile");
    json_decref(root);

    /* ann's verifier becomes ben's, by hand, no SIGHUP */
    gw_session a;
    gw_logon_ok(G, "ann", "ann-pw", NEWS, &a);
    char va[256], vb[256];
    file_verifier("ann", va, sizeof va);
    file_verifier("ben", vb, sizeof vb);
    edit_by_hand(va, vb);
    cr_expect_eq(logon_until("ann", "ben-pw", 201, 10000), 201,
                 "the edit of the file was never taken without SIGHUP");
    gw_get(G, "/status", a.token, &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    expect_logon("ann", "ann-pw", 401, "the password the edit replaced");
    gw_session_free(&a);
}
