/* fuzz_common.c - the harnesses' shared gateway and checks (fuzz_common.h). */
#include "fuzz_common.h"

#include "../../server/config.h"
#include "../../session-core/profile_admin.h"
#include "../../session-core/status_row.h"
#include "../../server/secmem.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ROWS 10

static struct {
    char dir[256];
    bool have_dir;
    core *core;
    api *api;
    session *session;
    char token[TOKEN_STRING_LEN + 1];
    char sid[SESSION_ID_LEN + 1];
    char ik[MAX_ROWS][2 * STATUS_INSTANCE_KEY_LEN + 1];
    size_t rows;
    profile_admin *admin; /* administers profiles_path, whose text is profiles_text */
    char profiles_path[300];
    char *profiles_text;
} G;

_Noreturn void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz property breach: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static void *must(void *p)
{
    if (!p)
        fz_fail("out of memory in the harness");
    return p;
}

char *fz_strndup(const uint8_t *data, size_t len)
{
    char *s = must(malloc(len + 1));
    if (len)
        memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

/* ---- scratch folder ----------------------------------------------------- */

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_tmpdir(void)
{
    if (G.have_dir)
        nftw(G.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fz_tmpdir(void)
{
    if (G.have_dir)
        return G.dir;
    const char *base = getenv("TMPDIR");
    snprintf(G.dir, sizeof G.dir, "%s/mapigw-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(G.dir))
        fz_fail("mkdtemp %s: %s", G.dir, strerror(errno));
    G.have_dir = true;
    atexit(remove_tmpdir);
    return G.dir;
}

static void put_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fz_tmpdir(), rel);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fz_fail("cannot write %s", path);
}

static void put_dir(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fz_tmpdir(), rel);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        fz_fail("mkdir %s: %s", path, strerror(errno));
}

/* ---- the gateway -------------------------------------------------------- */

static void gateway_free(void)
{
    session_unref(G.session);
    G.session = NULL;
    api_free(G.api);
    core_free(G.core);
    profile_admin_free(G.admin);
    free(G.profiles_text);
    G.api = NULL;
    G.core = NULL;
    G.admin = NULL;
    G.profiles_text = NULL;
}

void fz_gateway_init(void)
{
    if (G.core)
        return;
    secmem_install(); /* jansson's allocator as in the gateway (server/secmem.h) */
    if (sodium_init() < 0)
        fz_fail("sodium_init");
    /* A mailbox with something in it, so entry ids of folders and messages
     * reach the providers' own code. */
    static const char *const DIRS[] = {
        "p",
        "p/Maildir",
        "p/Maildir/cur",
        "p/Maildir/new",
        "p/Maildir/tmp",
        "p/Maildir/.Sent",
        "p/Maildir/.Sent/cur",
        "p/Maildir/.Sent/new",
        "p/Maildir/.Sent/tmp",
    };
    for (size_t i = 0; i < sizeof DIRS / sizeof DIRS[0]; i++)
        put_dir(DIRS[i]);
    put_file("p/Maildir/cur/1700000000.M1P1.fuzz:2,S",
             "From: =?UTF-8?Q?Ann_=C3=85?= <ann@example.invalid>\r\n"
             "To: pat@example.invalid\r\nSubject: hello\r\n"
             "Message-ID: <1@example.invalid>\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
             "\r\nbody\r\n");
    put_file("p/Maildir/new/1700000001.M2P1.fuzz",
             "From: \"Bob, B\" <bob@example.invalid>\nSubject: =?ISO-8859-1?Q?caf=E9?=\n\nhi\n");
    put_file("p/Maildir/.Sent/cur/1700000002.M3P1.fuzz:2,S",
             "From: pat@example.invalid\nSubject: sent\n\nx\n");
    put_file("p/contacts.json", "{\"entries\":[{\"display\":\"Ann\",\"address_type\":\"SMTP\","
                                "\"address\":\"ann@example.invalid\"}]}");

    /* The cheapest argon2id parameters: a wrong password must not cost a
     * fuzzer's input much time. */
    char verifier[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(verifier, "right", 5, crypto_pwhash_OPSLIMIT_MIN,
                          crypto_pwhash_MEMLIMIT_MIN) != 0)
        fz_fail("crypto_pwhash_str");
    char *json = NULL;
    size_t json_len = 0;
    FILE *f = must(open_memstream(&json, &json_len));
    fprintf(f,
            "{\"default_profile\":\"p\",\"profiles\":["
            "{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"Mail\","
            "\"providers\":["
            "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"Mailbox\","
            "\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],"
            "\"settings\":{\"path\":\"p/Maildir\",\"create\":true}},"
            "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"Outbox\","
            "\"settings\":{\"path\":\"p/spool\",\"deliver_to\":\"p/Maildir\",\"create\":true}},"
            "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"Contacts\","
            "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\"],"
            "\"identity\":{\"display\":\"Pat\",\"address_type\":\"SMTP\","
            "\"address\":\"pat@example.invalid\"},"
            "\"settings\":{\"path\":\"p/contacts.json\",\"create\":true}}]}]},"
            "{\"name\":\"bare\",\"auth\":{\"type\":\"none\"},\"services\":[]},"
            "{\"name\":\"secret\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},"
            "\"services\":[]}]}",
            verifier);
    if (fclose(f) != 0)
        fz_fail("open_memstream");
    /* In a file, so that the profile administration routes (which rewrite
     * it) are reached too; fz_profiles_restore puts it back. */
    snprintf(G.profiles_path, sizeof G.profiles_path, "%s/profiles.json", fz_tmpdir());
    G.profiles_text = json;
    put_file("profiles.json", json);
    profile_store *store = NULL;
    char err[512] = "";
    HRESULT hr = profile_store_load(G.profiles_path, fz_tmpdir(), &store, err, sizeof err, NULL,
                                    NULL);
    if (hr != S_OK)
        fz_fail("profiles: %s", err);
    config defaults;
    if (!config_defaults(&defaults))
        fz_fail("config_defaults");
    if (core_new(&defaults.core, store, &G.core) != S_OK)
        fz_fail("core_new");
    const profile_admin_config pcfg = {.path = G.profiles_path, .base_dir = fz_tmpdir()};
    if (profile_admin_new(G.core, &pcfg, &G.admin) != S_OK)
        fz_fail("profile_admin_new");
    core_set_profile_admin(G.core, G.admin);
    api_config acfg = defaults.api;
    acfg.admin_key = FZ_ADMIN_KEY;
    acfg.max_body_bytes = 65536;
    acfg.openapi_yaml = "openapi: 3.1.0\n";
    acfg.openapi_yaml_len = 15;
    acfg.version = "0.0.0-fuzz";
    G.api = must(api_new(G.core, &acfg));
    atexit(gateway_free);
    fz_session_ensure();
}

api *fz_api(void) { return G.api; }
core *fz_core(void) { return G.core; }
const char *fz_token(void) { return G.token; }
const char *fz_session_id(void) { return G.sid; }
session *fz_session(void) { return G.session; }
size_t fz_row_count(void) { return G.rows; }
const char *fz_row_ik(size_t i) { return G.ik[i % (G.rows ? G.rows : 1)]; }

void fz_session_ensure(void)
{
    if (G.session && !session_is_ended(G.session))
        return;
    session_unref(G.session);
    G.session = NULL;
    core_logon_request req = {"p", NULL, 0, "198.51.100.1"};
    core_logon_result res;
    memset(&res, 0, sizeof res);
    HRESULT hr = core_logon(G.core, &req, &res);
    if (HR_FAILED(hr) || !res.session)
        fz_fail("logon of profile p: 0x%08X", (unsigned)hr);
    G.session = res.session;
    memcpy(G.token, res.token, sizeof G.token);
    snprintf(G.sid, sizeof G.sid, "%s", session_id(G.session));
    status_table t;
    memset(&t, 0, sizeof t);
    if (session_status_table(G.session, &t) != S_OK)
        fz_fail("status table");
    G.rows = t.count < MAX_ROWS ? t.count : MAX_ROWS;
    for (size_t i = 0; i < G.rows; i++)
        for (size_t b = 0; b < STATUS_INSTANCE_KEY_LEN; b++)
            snprintf(G.ik[i] + 2 * b, 3, "%02X", t.rows[i].instance_key[b]);
    status_table_free(&t);
}

typedef struct {
    char (*ids)[SESSION_ID_LEN + 1];
    size_t n, cap;
} id_list;

static void collect(void *ctx, session *s)
{
    id_list *l = ctx;
    if (strcmp(session_id(s), G.sid) == 0 && s == G.session)
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->ids = must(realloc(l->ids, l->cap * sizeof *l->ids));
    }
    snprintf(l->ids[l->n++], SESSION_ID_LEN + 1, "%s", session_id(s));
}

void fz_end_other_sessions(void)
{
    id_list l = {NULL, 0, 0};
    core_foreach_session(G.core, collect, &l);
    for (size_t i = 0; i < l.n; i++)
        core_end_session(G.core, l.ids[i]);
    free(l.ids);
}

/* ---- placeholders ------------------------------------------------------- */

char *fz_expand(const char *s, size_t len, bool secrets)
{
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = must(open_memstream(&out, &out_len));
    for (size_t i = 0; i < len && s[i]; i++) {
        char n = i + 1 < len ? s[i + 1] : '\0';
        if (s[i] == '$' && n == 'T' && secrets) {
            fputs(G.token, f), i++;
        } else if (s[i] == '$' && n == 'A' && secrets) {
            fputs(FZ_ADMIN_KEY, f), i++;
        } else if (s[i] == '$' && n == 'S') {
            fputs(G.sid, f), i++;
        } else if (s[i] == '$' && n == 'K' && i + 2 < len && s[i + 2] >= '0' && s[i + 2] <= '9') {
            fputs(fz_row_ik((size_t)(s[i + 2] - '0')), f), i += 2;
        } else {
            fputc(s[i], f);
        }
    }
    if (fclose(f) != 0)
        fz_fail("open_memstream");
    return out;
}

/* ---- the answer's contract ---------------------------------------------- */

static bool contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (!hay || n == 0 || len < n)
        return false;
    return memmem(hay, len, needle, n) != NULL;
}

/* Whether the request carries secret anywhere but in its Authorization
 * header: an answer may echo what the client itself sent elsewhere (a path,
 * a JSON value), which is not a leak. */
static bool sent_elsewhere(const api_request *req, const char *secret)
{
    const char *parts[] = {req->method, req->path, req->content_type, req->if_none_match};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i] && strstr(parts[i], secret))
            return true;
    for (size_t i = 0; i < req->query_count; i++)
        if ((req->query[i].key && strstr(req->query[i].key, secret)) ||
            (req->query[i].value && strstr(req->query[i].value, secret)))
            return true;
    return contains(req->body, req->body_len, secret);
}

static bool leaks(const api_request *req, const char *text, size_t len)
{
    return (contains(text, len, G.token) && !sent_elsewhere(req, G.token)) ||
           (contains(text, len, FZ_ADMIN_KEY) && !sent_elsewhere(req, FZ_ADMIN_KEY));
}

void fz_profiles_restore(void)
{
    put_file("profiles.json", G.profiles_text);
    size_t n, ended;
    char err[512];
    if (profile_admin_reload(G.admin, &n, &ended, err, sizeof err) != S_OK)
        fz_fail("restoring the profiles: %s", err);
}

void fz_handle(const api_request *req, api_response *resp)
{
    memset(resp, 0, sizeof *resp);
    api_handle(G.api, req, resp);
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FZ_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "fz: %s %s -> %d %s %.*s\n", req->method, req->path, resp->status,
                resp->mapi_error ? resp->mapi_error : "",
                (int)(resp->body_len > 160 ? 160 : resp->body_len), resp->body ? resp->body : "");
    if (resp->status < 100 || resp->status > 599)
        fz_fail("%s %s: status %d", req->method, req->path, resp->status);
    bool no_store = false;
    for (size_t i = 0; i < resp->header_count; i++) {
        if (!resp->headers[i].name || !resp->headers[i].value)
            fz_fail("%s %s: header %zu without name or value", req->method, req->path, i);
        if (strcasecmp(resp->headers[i].name, "Cache-Control") == 0 &&
            strcmp(resp->headers[i].value, "no-store") == 0)
            no_store = true;
        const char *v = resp->headers[i].value;
        if (leaks(req, v, strlen(v)))
            fz_fail("%s %s: a secret in header %s", req->method, req->path, resp->headers[i].name);
    }
    if (!no_store)
        fz_fail("%s %s: no Cache-Control: no-store", req->method, req->path);
    if (leaks(req, resp->body, resp->body_len))
        fz_fail("%s %s: a secret in the body", req->method, req->path);
    if (resp->body_len && !resp->body)
        fz_fail("%s %s: body_len without a body", req->method, req->path);
    if (resp->stream)
        return; /* GET /events: the body comes from the stream */
    if (resp->content_type && strstr(resp->content_type, "json") && resp->body_len) {
        json_error_t err;
        json_t *j = json_loadb(resp->body, resp->body_len, 0, &err);
        if (!j)
            fz_fail("%s %s: %d body is not JSON (%s): %.*s", req->method, req->path, resp->status,
                    err.text, (int)(resp->body_len > 200 ? 200 : resp->body_len), resp->body);
        if (strcmp(resp->content_type, "application/problem+json") == 0) {
            json_t *st = json_object_get(j, "status");
            if (!json_is_integer(st) || json_integer_value(st) != resp->status)
                fz_fail("%s %s: problem status differs from %d", req->method, req->path,
                        resp->status);
        }
        json_decref(j);
    }
}

/* ---- UTF-8 -------------------------------------------------------------- */

bool fz_utf8_valid(const char *str, size_t len, bool allow_nul)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t v, min;
        if (c == 0 && !allow_nul)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2, v = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3, v = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4, v = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + n > len)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            v = v << 6 | (s[i + k] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}
