/* Unit suite for the api floor: api_handle called directly (no socket) on a
 * core loaded from a string. Checks the HTTP contract of api.md and the
 * shapes fixed in DECISIONS.md: routing, problem+json, bearer challenges,
 * body and flag parsing, logon, status table (ETag, filters), identity,
 * logoff and the operations endpoints. */
#include "../../api/api.h"
#include "../../session-core/mapi_flags.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ADMIN_KEY "admin-key-0123456789-0123456789-0123456789"

static core *C;
static api *A;
static char dir[64];
static char abpath[128];
static char abpath2[128];

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    strcpy(dir, "/tmp/mapigw-test-api-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(abpath, sizeof abpath, "%s/ab.json", dir);
    snprintf(abpath2, sizeof abpath2, "%s/ab2.json", dir);

    char verifier[crypto_pwhash_STRBYTES];
    cr_assert(crypto_pwhash_str(verifier, "right", 5, crypto_pwhash_OPSLIMIT_MIN,
                                crypto_pwhash_MEMLIMIT_MIN) == 0);
    char json[4096];
    snprintf(json, sizeof json,
             "{\"profiles\":["
             "{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"Contacts\","
             "\"providers\":[{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\","
             "\"display_name\":\"Contacts\",\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\"],"
             "\"identity\":{\"display\":\"Pat\",\"address_type\":\"SMTP\","
             "\"address\":\"pat@example.invalid\"},"
             "\"settings\":{\"path\":\"%s\",\"create\":true}}]}]},"
             "{\"name\":\"bare\",\"auth\":{\"type\":\"none\"},\"services\":[]},"
             "{\"name\":\"secret\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},"
             "\"services\":[{\"name\":\"Book\",\"providers\":[{\"type\":\"MAPI_AB_PROVIDER\","
             "\"kind\":\"abfile\",\"display_name\":\"Book\","
             "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\"],"
             "\"identity\":{\"display\":\"Sam\",\"address_type\":\"SMTP\","
             "\"address\":\"sam@example.invalid\"},"
             "\"settings\":{\"path\":\"%s\",\"create\":true}}]}]}]}",
             abpath, verifier, abpath2);
    profile_store *store = NULL;
    char err[512] = "";
    HRESULT hr =
        profile_store_load_string(json, "test.json", dir, &store, err, sizeof err, NULL, NULL);
    cr_assert_eq(hr, S_OK, "profiles: %s", err);
    core_config cfg;
    core_config_defaults(&cfg);
    cr_assert_eq(core_new(&cfg, store, &C), S_OK);
    api_config acfg = {ADMIN_KEY, 65536, NULL, 0, "9.9.9"};
    A = api_new(C, &acfg);
    cr_assert_not_null(A);
}

static void teardown(void)
{
    api_free(A);
    core_free(C);
    unlink(abpath);
    unlink(abpath2);
    rmdir(dir);
}

TestSuite(api, .init = setup, .fini = teardown);

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    const char *method, *path, *auth, *ctype, *body, *inm;
    const api_kv *query;
    size_t nquery;
    bool too_large;
} rq;

static api_response call(rq r)
{
    api_request req;
    memset(&req, 0, sizeof req);
    req.method = r.method;
    req.path = r.path;
    req.query = r.query;
    req.query_count = r.nquery;
    req.authorization = r.auth;
    req.content_type = r.ctype;
    req.if_none_match = r.inm;
    req.body = r.body;
    req.body_len = r.body ? strlen(r.body) : 0;
    req.body_too_large = r.too_large;
    req.client_addr = "127.0.0.1";
    api_response resp;
    api_handle(A, &req, &resp);
    /* Every response, whatever it is, carries Cache-Control: no-store. */
    bool cc = false;
    for (size_t i = 0; i < resp.header_count; i++)
        if (strcasecmp(resp.headers[i].name, "Cache-Control") == 0 &&
            strcmp(resp.headers[i].value, "no-store") == 0)
            cc = true;
    cr_assert(cc, "%s %s: no Cache-Control: no-store", r.method, r.path);
    return resp;
}

static const char *header(const api_response *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static json_t *body_json(const api_response *r)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->body_len, 0, &err);
    cr_assert_not_null(j, "body is not JSON: %s (%.*s)", err.text, (int)r->body_len,
                       r->body ? r->body : "");
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

/* Checks a problem+json answer and returns its body (json_decref it). */
static json_t *assert_problem(api_response *r, int status, const char *mapi_error)
{
    cr_assert_eq(r->status, status, "status %d, expected %d: %.*s", r->status, status,
                 (int)r->body_len, r->body ? r->body : "");
    cr_assert_str_eq(r->content_type, "application/problem+json");
    cr_assert_str_eq(r->mapi_error, mapi_error);
    json_t *j = body_json(r);
    cr_assert_str_eq(jstr(j, "mapi_error"), mapi_error);
    char type[128];
    snprintf(type, sizeof type, "urn:mapigw:problem:%s", mapi_error);
    cr_assert_str_eq(jstr(j, "type"), type);
    cr_assert(strlen(jstr(j, "title")) > 0);
    cr_assert(json_is_string(json_object_get(j, "detail")));
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), status);
    regex_t re;
    cr_assert_eq(regcomp(&re, "^0x[0-9A-F]{8}$", REG_EXTENDED | REG_NOSUB), 0);
    cr_assert_eq(regexec(&re, jstr(j, "mapi_code"), 0, NULL, 0), 0, "mapi_code %s",
                 jstr(j, "mapi_code"));
    regfree(&re);
    HRESULT hr;
    cr_assert_eq(hresult_from_name(mapi_error, &hr), 0);
    char code[16];
    snprintf(code, sizeof code, "0x%08X", (unsigned)(uint32_t)hr);
    cr_assert_str_eq(jstr(j, "mapi_code"), code);
    return j;
}

static void expect_problem(rq r, int status, const char *mapi_error)
{
    api_response resp = call(r);
    json_decref(assert_problem(&resp, status, mapi_error));
    api_response_clear(&resp);
}

static api_response post_sessions(const char *body)
{
    return call(
        (rq){.method = "POST", .path = "/sessions", .ctype = "application/json", .body = body});
}

static char token[128], bearer[160], sid[64];

/* Logs on to profile p and keeps the token, bearer header and id. */
static void logon_p(void)
{
    api_response r = post_sessions("{\"profile\":\"p\"}");
    cr_assert_eq(r.status, 201, "%.*s", (int)r.body_len, r.body ? r.body : "");
    json_t *j = body_json(&r);
    snprintf(token, sizeof token, "%s", jstr(j, "token"));
    snprintf(sid, sizeof sid, "%s", jstr(j, "id"));
    snprintf(bearer, sizeof bearer, "Bearer %s", token);
    json_decref(j);
    api_response_clear(&r);
}

/* ---- routing ------------------------------------------------------------ */

Test(api, unknown_paths_are_404)
{
    expect_problem((rq){.method = "GET", .path = "/nope"}, 404, "MAPI_E_NOT_FOUND");
    expect_problem((rq){.method = "GET", .path = "/"}, 404, "MAPI_E_NOT_FOUND");
    expect_problem((rq){.method = "GET", .path = "/healthz/"}, 404, "MAPI_E_NOT_FOUND");
    expect_problem((rq){.method = "GET", .path = "//healthz"}, 404, "MAPI_E_NOT_FOUND");
    expect_problem((rq){.method = "GET", .path = "/sessions//x"}, 404, "MAPI_E_NOT_FOUND");
    expect_problem((rq){.method = "GET", .path = "/status/a/b/c"}, 404, "MAPI_E_NOT_FOUND");
}

Test(api, wrong_method_is_405_with_allow)
{
    api_response r = call((rq){.method = "PUT", .path = "/sessions"});
    json_decref(assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    cr_assert_str_eq(header(&r, "Allow"), "GET, HEAD, POST");
    cr_assert_str_eq(r.route, "/sessions");
    api_response_clear(&r);

    r = call((rq){.method = "POST", .path = "/sessions/abc"});
    json_decref(assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    cr_assert_str_eq(header(&r, "Allow"), "DELETE, GET, HEAD");
    api_response_clear(&r);

    r = call((rq){.method = "DELETE", .path = "/healthz"});
    json_decref(assert_problem(&r, 405, "MAPI_E_NO_SUPPORT"));
    cr_assert_str_eq(header(&r, "Allow"), "GET, HEAD");
    api_response_clear(&r);
}

Test(api, head_is_answered_as_get)
{
    api_response g = call((rq){.method = "GET", .path = "/healthz"});
    api_response r = call((rq){.method = "HEAD", .path = "/healthz"});
    cr_assert_eq(r.status, 200);
    /* The body stays so that Content-Length matches GET; the server drops it. */
    cr_assert_eq(r.body_len, g.body_len);
    api_response_clear(&r);
    api_response_clear(&g);
}

/* ---- POST /sessions: body checks ---------------------------------------- */

Test(api, logon_needs_json_content_type)
{
    expect_problem((rq){.method = "POST", .path = "/sessions", .body = "{}"}, 415,
                   "MAPI_E_INVALID_PARAMETER");
    expect_problem((rq){.method = "POST", .path = "/sessions", .ctype = "text/plain", .body = "{}"},
                   415, "MAPI_E_INVALID_PARAMETER");
    expect_problem(
        (rq){.method = "POST", .path = "/sessions", .ctype = "application/jsonx", .body = "{}"},
        415, "MAPI_E_INVALID_PARAMETER");
    api_response r = call((rq){.method = "POST",
                               .path = "/sessions",
                               .ctype = "Application/JSON; charset=utf-8",
                               .body = "{\"profile\":\"p\"}"});
    cr_assert_eq(r.status, 201);
    api_response_clear(&r);
}

Test(api, logon_body_too_large_is_413)
{
    expect_problem((rq){.method = "POST",
                        .path = "/sessions",
                        .ctype = "application/json",
                        .body = "{\"profile\":",
                        .too_large = true},
                   413, "MAPI_E_INVALID_PARAMETER");
}

Test(api, malformed_json_is_400_without_echo)
{
    api_response r = post_sessions("{\"profile\":\"p\",\"password\":\"hunter2");
    json_t *j = assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_assert_not_null(strstr(jstr(j, "detail"), "line 1"), "%s", jstr(j, "detail"));
    cr_assert_null(strstr(r.body, "hunter2"), "the detail echoes the password");
    json_decref(j);
    api_response_clear(&r);

    expect_problem(
        (rq){.method = "POST", .path = "/sessions", .ctype = "application/json", .body = "[]"}, 400,
        "MAPI_E_INVALID_PARAMETER");
    expect_problem((rq){.method = "POST",
                        .path = "/sessions",
                        .ctype = "application/json",
                        .body = "{\"profile\":\"p\",\"profile\":\"q\"}"},
                   400, "MAPI_E_INVALID_PARAMETER");
}

Test(api, unknown_key_is_400_naming_it)
{
    api_response r = post_sessions("{\"profile\":\"p\",\"profil\":\"x\"}");
    json_t *j = assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_assert_not_null(strstr(jstr(j, "detail"), "profil\""));
    json_decref(j);
    api_response_clear(&r);
}

Test(api, wrong_types_and_lengths_are_400)
{
    const char *bodies[] = {
        "{\"profile\":5}",
        "{\"password\":true}",
        "{\"flags\":\"MAPI_NEW_SESSION\"}",
        "{\"flags\":[1]}",
        "{\"flags\":-1}",
        "{\"flags\":1.5}",
        "{\"flags\":4294967296}",
        /* 65 characters (two-byte ones, to count code points, not bytes) */
        "{\"profile\":\"ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        api_response r = post_sessions(bodies[i]);
        json_decref(assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER"));
        api_response_clear(&r);
    }
    /* 64 two-byte characters are fine (and name no profile: 401). */
    api_response r = post_sessions(
        "{\"profile\":\"éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé\"}");
    cr_assert_eq(r.status, 401);
    api_response_clear(&r);
}

Test(api, unknown_flags_are_400_unknown_flags)
{
    api_response r =
        post_sessions("{\"profile\":\"p\",\"flags\":[\"MAPI_NEW_SESSION\",\"MAPI_BOGUS\"]}");
    json_t *j = assert_problem(&r, 400, "MAPI_E_UNKNOWN_FLAGS");
    cr_assert_not_null(strstr(jstr(j, "detail"), "MAPI_BOGUS"));
    json_decref(j);
    api_response_clear(&r);
    /* 0x4 is no logon flag. */
    r = post_sessions("{\"profile\":\"p\",\"flags\":6}");
    json_decref(assert_problem(&r, 400, "MAPI_E_UNKNOWN_FLAGS"));
    api_response_clear(&r);
}

Test(api, two_ui_flags_are_400_invalid_parameter)
{
    api_response r =
        post_sessions("{\"profile\":\"p\",\"flags\":[\"MAPI_LOGON_UI\",\"MAPI_PASSWORD_UI\"]}");
    json_decref(assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER"));
    api_response_clear(&r);
}

/* ---- POST /sessions: outcomes ------------------------------------------- */

Test(api, logon_201_shape)
{
    api_response r = post_sessions("{\"profile\":\"p\",\"password\":null}");
    cr_assert_eq(r.status, 201);
    cr_assert_str_eq(r.content_type, "application/json");
    json_t *j = body_json(&r);
    const char *id = jstr(j, "id");
    char loc[128];
    snprintf(loc, sizeof loc, "/sessions/%s", id);
    cr_assert_str_eq(header(&r, "Location"), loc);
    cr_assert_eq(strncmp(jstr(j, "token"), "mgw_", 4), 0);
    cr_assert_str_eq(jstr(j, "token_type"), "Bearer");
    cr_assert_str_eq(jstr(j, "profile"), "p");
    json_t *flags = json_object_get(j, "flags");
    uint32_t v = (uint32_t)json_integer_value(json_object_get(flags, "value"));
    cr_assert_eq(v & MAPI_LOGON_DEFAULT_FLAGS, MAPI_LOGON_DEFAULT_FLAGS);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(flags, "names"), 0)),
                     "MAPI_NEW_SESSION");
    cr_assert(json_is_false(json_object_get(j, "shared")));
    cr_assert(json_is_false(json_object_get(j, "joined")));
    cr_assert_eq(strlen(jstr(j, "created_at")), 20);
    cr_assert_eq(jstr(j, "created_at")[19], 'Z');
    cr_assert(json_is_string(json_object_get(j, "expires_at")));
    cr_assert_eq(json_integer_value(json_object_get(j, "idle_timeout_s")), 1800);
    cr_assert_eq(json_object_size(j), 10);
    json_decref(j);
    api_response_clear(&r);
}

Test(api, logon_flags_as_integer)
{
    char body[128];
    snprintf(body, sizeof body, "{\"profile\":\"bare\",\"flags\":%u}",
             (unsigned)(MAPI_NEW_SESSION | MAPI_EXPLICIT_PROFILE));
    api_response r = post_sessions(body);
    cr_assert_eq(r.status, 201);
    api_response_clear(&r);
}

Test(api, logon_failures_share_one_body)
{
    api_response a = post_sessions("{\"profile\":\"nobody-here\"}");
    json_decref(assert_problem(&a, 401, "MAPI_E_LOGON_FAILED"));
    cr_assert_null(strstr(a.body, "nobody-here"));
    api_response b = post_sessions("{\"profile\":\"secret\",\"password\":\"wrong\"}");
    json_decref(assert_problem(&b, 401, "MAPI_E_LOGON_FAILED"));
    cr_assert_null(strstr(b.body, "wrong"));
    api_response c = post_sessions("{\"flags\":[\"MAPI_USE_DEFAULT\",\"MAPI_NEW_SESSION\"]}");
    json_decref(assert_problem(&c, 401, "MAPI_E_LOGON_FAILED"));
    cr_assert_eq(a.body_len, b.body_len);
    cr_assert_eq(memcmp(a.body, b.body, a.body_len), 0);
    cr_assert_eq(a.body_len, c.body_len);
    cr_assert_eq(memcmp(a.body, c.body, a.body_len), 0);
    api_response_clear(&a);
    api_response_clear(&b);
    api_response_clear(&c);

    api_response ok = post_sessions("{\"profile\":\"secret\",\"password\":\"right\"}");
    cr_assert_eq(ok.status, 201);
    api_response_clear(&ok);
}

Test(api, logon_refused_when_not_ready)
{
    api_set_ready(A, false);
    expect_problem((rq){.method = "POST",
                        .path = "/sessions",
                        .ctype = "application/json",
                        .body = "{\"profile\":\"p\"}"},
                   503, "MAPI_E_NOT_INITIALIZED");
    expect_problem((rq){.method = "GET", .path = "/readyz"}, 503, "MAPI_E_NOT_INITIALIZED");
    api_set_ready(A, true);
    api_response r = call((rq){.method = "GET", .path = "/readyz"});
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_str_eq(jstr(j, "status"), "ready");
    cr_assert_eq(json_integer_value(json_object_get(j, "profiles")), 3);
    json_decref(j);
    api_response_clear(&r);
}

/* ---- bearer ------------------------------------------------------------- */

Test(api, missing_and_invalid_bearer)
{
    api_response r = call((rq){.method = "GET", .path = "/status"});
    json_decref(assert_problem(&r, 401, "MAPI_E_LOGON_FAILED"));
    cr_assert_str_eq(header(&r, "WWW-Authenticate"), "Bearer realm=\"mapigw\"");
    api_response_clear(&r);

    r = call((rq){.method = "GET", .path = "/status", .auth = "Basic dXNlcjpwdw=="});
    json_decref(assert_problem(&r, 401, "MAPI_E_LOGON_FAILED"));
    cr_assert_str_eq(header(&r, "WWW-Authenticate"), "Bearer realm=\"mapigw\"");
    api_response_clear(&r);

    const char *bad[] = {"Bearer mgw_nope", "Bearer x",
                         "bearer   mgw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA  "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = call((rq){.method = "GET", .path = "/identity", .auth = bad[i]});
        json_decref(assert_problem(&r, 401, "MAPI_E_END_OF_SESSION"));
        cr_assert_str_eq(header(&r, "WWW-Authenticate"),
                         "Bearer realm=\"mapigw\", error=\"invalid_token\"");
        api_response_clear(&r);
    }
}

Test(api, bearer_scheme_case_and_spaces)
{
    logon_p();
    char h[200];
    snprintf(h, sizeof h, "bEaReR   %s  ", token);
    api_response r = call((rq){.method = "GET", .path = "/identity", .auth = h});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
    /* Never from the query string. */
    api_kv q[] = {{"access_token", token}};
    r = call((rq){.method = "GET", .path = "/identity", .query = q, .nquery = 1});
    cr_assert_eq(r.status, 401);
    api_response_clear(&r);
}

/* ---- status table ------------------------------------------------------- */

Test(api, status_table_rows_and_etag)
{
    logon_p();
    api_response r = call((rq){.method = "GET", .path = "/status", .auth = bearer});
    cr_assert_eq(r.status, 200);
    const char *etag = header(&r, "ETag");
    cr_assert_not_null(etag);
    cr_assert_eq(strncmp(etag, "\"", 1), 0);
    cr_assert_eq(strncmp(etag + 1, sid, strlen(sid)), 0);
    json_t *j = body_json(&r);
    json_t *rows = json_object_get(j, "rows");
    cr_assert_eq((size_t)json_integer_value(json_object_get(j, "row_count")),
                 json_array_size(rows));
    cr_assert_geq(json_array_size(rows), 4); /* subsystem, spooler, AB, abfile */
    json_t *row0 = json_array_get(rows, 0);
    json_t *type = json_object_get(row0, "resource_type");
    cr_assert_eq(json_integer_value(json_object_get(type, "value")), 39);
    cr_assert_str_eq(jstr(type, "name"), "MAPI_SUBSYSTEM");
    cr_assert_eq(strlen(jstr(row0, "instance_key")), 16);
    cr_assert_eq(json_integer_value(json_object_get(row0, "object_type")), 10);
    cr_assert(json_is_object(json_object_get(row0, "status_code")));
    cr_assert(json_is_array(json_object_get(json_object_get(row0, "resource_methods"), "names")));
    char saved[128];
    snprintf(saved, sizeof saved, "%s", etag);
    json_decref(j);
    api_response_clear(&r);

    char weak[200];
    snprintf(weak, sizeof weak, "\"x\", W/%s", saved);
    const char *matches[] = {saved, "*", weak};
    for (size_t i = 0; i < 3; i++) {
        const char *inm = matches[i];
        r = call((rq){.method = "GET", .path = "/status", .auth = bearer, .inm = inm});
        cr_assert_eq(r.status, 304, "If-None-Match %s", inm);
        cr_assert_eq(r.body_len, 0);
        cr_assert_str_eq(header(&r, "ETag"), saved);
        api_response_clear(&r);
    }
    r = call((rq){.method = "GET", .path = "/status", .auth = bearer, .inm = "\"other-1\""});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
}

Test(api, status_columns_and_resource_type)
{
    logon_p();
    api_kv q[] = {{"columns", "display_name"}, {"resource_type", "MAPI_SPOOLER"}};
    api_response r =
        call((rq){.method = "GET", .path = "/status", .auth = bearer, .query = q, .nquery = 2});
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "row_count")), 1);
    json_t *row = json_array_get(json_object_get(j, "rows"), 0);
    cr_assert_eq(json_object_size(row), 2);
    cr_assert(json_is_string(json_object_get(row, "instance_key")));
    cr_assert(json_is_string(json_object_get(row, "display_name")));
    json_decref(j);
    api_response_clear(&r);

    api_kv byn[] = {{"resource_type", "35"}};
    r = call((rq){.method = "GET", .path = "/status", .auth = bearer, .query = byn, .nquery = 1});
    j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "row_count")), 1);
    json_decref(j);
    api_response_clear(&r);

    api_kv bad1[] = {{"columns", "display_name,nope"}};
    api_kv bad2[] = {{"resource_type", "MAPI_NOTHING"}};
    api_kv bad3[] = {{"sort", "1"}};
    expect_problem(
        (rq){.method = "GET", .path = "/status", .auth = bearer, .query = bad1, .nquery = 1}, 400,
        "MAPI_E_INVALID_PARAMETER");
    expect_problem(
        (rq){.method = "GET", .path = "/status", .auth = bearer, .query = bad2, .nquery = 1}, 400,
        "MAPI_E_INVALID_PARAMETER");
    expect_problem(
        (rq){.method = "GET", .path = "/status", .auth = bearer, .query = bad3, .nquery = 1}, 400,
        "MAPI_E_INVALID_PARAMETER");
}

/* The instance key of the first row of the given resource type. */
static void row_key(uint32_t type, char out[17])
{
    api_response r = call((rq){.method = "GET", .path = "/status", .auth = bearer});
    json_t *j = body_json(&r);
    size_t i;
    json_t *row;
    out[0] = '\0';
    json_array_foreach(json_object_get(j, "rows"), i, row)
    {
        json_t *t = json_object_get(json_object_get(row, "resource_type"), "value");
        if ((uint32_t)json_integer_value(t) == type && !out[0])
            snprintf(out, 17, "%s", jstr(row, "instance_key"));
    }
    cr_assert(out[0], "no row of type %u", type);
    json_decref(j);
    api_response_clear(&r);
}

Test(api, status_row_and_methods)
{
    logon_p();
    char ik[17], path[64];
    row_key(MAPI_SUBSYSTEM, ik);
    snprintf(path, sizeof path, "/status/%s", ik);
    api_response r = call((rq){.method = "GET", .path = path, .auth = bearer});
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_str_eq(jstr(j, "instance_key"), ik);
    json_decref(j);
    api_response_clear(&r);

    expect_problem((rq){.method = "GET", .path = "/status/XYZ", .auth = bearer}, 400,
                   "MAPI_E_INVALID_PARAMETER");
    expect_problem((rq){.method = "GET", .path = "/status/FFFFFFFFFFFFFFFF", .auth = bearer}, 404,
                   "MAPI_E_NOT_FOUND");

    snprintf(path, sizeof path, "/status/%s/validate-state", ik);
    r = call((rq){.method = "POST", .path = path, .auth = bearer});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body ? r.body : "");
    api_response_clear(&r);
    r = call((rq){.method = "POST",
                  .path = path,
                  .auth = bearer,
                  .ctype = "application/json",
                  .body = "{\"flags\":[\"SUPPRESS_UI\"]}"});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
    expect_problem((rq){.method = "POST", .path = path, .auth = bearer, .body = "{}"}, 415,
                   "MAPI_E_INVALID_PARAMETER");
    expect_problem((rq){.method = "POST",
                        .path = path,
                        .auth = bearer,
                        .ctype = "application/json",
                        .body = "{\"flags\":[\"FLUSH_FORCE\"]}"},
                   400, "MAPI_E_UNKNOWN_FLAGS");
    expect_problem((rq){.method = "POST",
                        .path = path,
                        .auth = bearer,
                        .ctype = "application/json",
                        .body = "{\"flags\":2}"},
                   400, "MAPI_E_UNKNOWN_FLAGS");
    expect_problem((rq){.method = "POST",
                        .path = path,
                        .auth = bearer,
                        .ctype = "application/json",
                        .body = "{\"flag\":0}"},
                   400, "MAPI_E_INVALID_PARAMETER");

    snprintf(path, sizeof path, "/status/%s/settings-dialog", ik);
    expect_problem((rq){.method = "POST", .path = path, .auth = bearer}, 501, "MAPI_E_NO_SUPPORT");
    snprintf(path, sizeof path, "/status/%s/change-password", ik);
    expect_problem((rq){.method = "POST", .path = path, .auth = bearer}, 400,
                   "MAPI_E_INVALID_PARAMETER");
    snprintf(path, sizeof path, "/status/%s/reboot", ik);
    expect_problem((rq){.method = "POST", .path = path, .auth = bearer}, 404, "MAPI_E_NOT_FOUND");
}

Test(api, identity_from_the_primary_row)
{
    logon_p();
    api_response r = call((rq){.method = "GET", .path = "/identity", .auth = bearer});
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_str_eq(jstr(j, "display"), "Pat");
    cr_assert(json_is_object(json_object_get(j, "source")));
    cr_assert_null(json_object_get(j, "warning"));
    json_decref(j);
    api_response_clear(&r);
}

Test(api, identity_warning_without_providers)
{
    api_response l = post_sessions("{\"profile\":\"bare\"}");
    json_t *lj = body_json(&l);
    char h[200];
    snprintf(h, sizeof h, "Bearer %s", jstr(lj, "token"));
    json_decref(lj);
    api_response_clear(&l);
    api_response r = call((rq){.method = "GET", .path = "/identity", .auth = h});
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    json_t *w = json_object_get(j, "warning");
    cr_assert_str_eq(jstr(w, "mapi_error"), "MAPI_W_NO_SERVICE");
    cr_assert_str_eq(jstr(w, "mapi_code"), "0x00040203");
    cr_assert(json_is_null(json_object_get(j, "source")));
    cr_assert(strlen(jstr(j, "entry_id")) > 0);
    json_decref(j);
    api_response_clear(&r);
}

Test(api, change_password_on_the_identity_row)
{
    api_response l = post_sessions("{\"profile\":\"secret\",\"password\":\"right\"}");
    cr_assert_eq(l.status, 201);
    json_t *lj = body_json(&l);
    snprintf(bearer, sizeof bearer, "Bearer %s", jstr(lj, "token"));
    json_decref(lj);
    api_response_clear(&l);
    char ik[17], path[64];
    row_key(MAPI_AB_PROVIDER, ik);
    snprintf(path, sizeof path, "/status/%s/change-password", ik);

    expect_problem((rq){.method = "POST",
                        .path = path,
                        .auth = bearer,
                        .ctype = "application/json",
                        .body = "{\"old_password\":\"right\"}"},
                   400, "MAPI_E_INVALID_PARAMETER");
    api_response r = call((rq){.method = "POST",
                               .path = path,
                               .auth = bearer,
                               .ctype = "application/json",
                               .body = "{\"old_password\":\"wrong\",\"new_password\":\"new\"}"});
    json_decref(assert_problem(&r, 403, "MAPI_E_NO_ACCESS"));
    cr_assert_null(strstr(r.body, "wrong"));
    api_response_clear(&r);
    r = call((rq){.method = "POST",
                  .path = path,
                  .auth = bearer,
                  .ctype = "application/json",
                  .body = "{\"old_password\":\"right\",\"new_password\":\"new\","
                          "\"flags\":[\"MAPI_UNICODE\"]}"});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body ? r.body : "");
    json_t *j = body_json(&r);
    cr_assert_str_eq(jstr(j, "instance_key"), ik);
    json_decref(j);
    api_response_clear(&r);

    r = post_sessions("{\"profile\":\"secret\",\"password\":\"new\"}");
    cr_assert_eq(r.status, 201);
    api_response_clear(&r);
}

/* ---- session resource and logoff ---------------------------------------- */

Test(api, session_get_and_delete)
{
    logon_p();
    char path[96];
    snprintf(path, sizeof path, "/sessions/%s", sid);
    api_response r = call((rq){.method = "GET", .path = path, .auth = bearer});
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_str_eq(jstr(j, "id"), sid);
    cr_assert_null(json_object_get(j, "token"));
    cr_assert_eq(json_integer_value(json_object_get(j, "handles")), 1);
    json_decref(j);
    api_response_clear(&r);

    expect_problem((rq){.method = "GET", .path = "/sessions/0123", .auth = bearer}, 404,
                   "MAPI_E_NOT_FOUND");
    expect_problem((rq){.method = "DELETE", .path = "/sessions/0123", .auth = bearer}, 404,
                   "MAPI_E_NOT_FOUND");
    api_kv bad[] = {{"flags", "MAPI_LOGOFF_BOGUS"}};
    expect_problem(
        (rq){.method = "DELETE", .path = path, .auth = bearer, .query = bad, .nquery = 1}, 400,
        "MAPI_E_UNKNOWN_FLAGS");
    api_kv badbits[] = {{"flags", "0x4"}};
    expect_problem(
        (rq){.method = "DELETE", .path = path, .auth = bearer, .query = badbits, .nquery = 1}, 400,
        "MAPI_E_UNKNOWN_FLAGS");
    api_kv other[] = {{"shared", "1"}};
    expect_problem(
        (rq){.method = "DELETE", .path = path, .auth = bearer, .query = other, .nquery = 1}, 400,
        "MAPI_E_INVALID_PARAMETER");

    api_kv ok[] = {{"flags", "MAPI_LOGOFF_SHARED,MAPI_LOGOFF_UI"}};
    r = call((rq){.method = "DELETE", .path = path, .auth = bearer, .query = ok, .nquery = 1});
    cr_assert_eq(r.status, 204);
    cr_assert_null(r.body);
    api_response_clear(&r);

    r = call((rq){.method = "GET", .path = "/status", .auth = bearer});
    json_decref(assert_problem(&r, 401, "MAPI_E_END_OF_SESSION"));
    cr_assert_str_eq(header(&r, "WWW-Authenticate"),
                     "Bearer realm=\"mapigw\", error=\"invalid_token\"");
    api_response_clear(&r);
    expect_problem((rq){.method = "DELETE", .path = path, .auth = bearer}, 401,
                   "MAPI_E_END_OF_SESSION");
}

Test(api, admin_endpoints)
{
    logon_p();
    expect_problem((rq){.method = "GET", .path = "/sessions", .auth = bearer}, 403,
                   "MAPI_E_NO_ACCESS");
    expect_problem((rq){.method = "GET", .path = "/sessions"}, 403, "MAPI_E_NO_ACCESS");
    const char *admin = "Bearer " ADMIN_KEY;
    api_response r = call((rq){.method = "GET", .path = "/sessions", .auth = admin});
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "count")), 1);
    cr_assert_str_eq(jstr(json_array_get(json_object_get(j, "sessions"), 0), "id"), sid);
    json_decref(j);
    api_response_clear(&r);

    char path[96];
    snprintf(path, sizeof path, "/sessions/%s", sid);
    r = call((rq){.method = "GET", .path = path, .auth = admin});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
    r = call((rq){.method = "DELETE", .path = path, .auth = admin});
    cr_assert_eq(r.status, 204);
    api_response_clear(&r);
    expect_problem((rq){.method = "DELETE", .path = path, .auth = admin}, 404, "MAPI_E_NOT_FOUND");
    expect_problem((rq){.method = "GET", .path = "/identity", .auth = bearer}, 401,
                   "MAPI_E_END_OF_SESSION");
}

/* ---- operations --------------------------------------------------------- */

Test(api, healthz_metrics_openapi)
{
    api_response r = call((rq){.method = "GET", .path = "/healthz"});
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_str_eq(jstr(j, "status"), "ok");
    cr_assert_str_eq(jstr(j, "version"), "9.9.9");
    json_decref(j);
    api_response_clear(&r);

    logon_p();
    expect_problem((rq){.method = "GET", .path = "/nowhere"}, 404, "MAPI_E_NOT_FOUND");
    r = call((rq){.method = "GET", .path = "/metrics"});
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    char *text = strndup(r.body, r.body_len);
    cr_assert_not_null(strstr(text, "\nmapigw_sessions 1\n"), "%s", text);
    cr_assert_not_null(strstr(text, "\nmapigw_handles 1\n"));
    cr_assert_not_null(strstr(text, "mapigw_logons_total{result=\"ok\"} 1\n"));
    cr_assert_not_null(strstr(text, "mapigw_logons_total{result=\"failed\"} 0\n"));
    cr_assert_not_null(
        strstr(text, "mapigw_http_requests_total{route=\"/sessions\",status=\"201\"} 1\n"));
    cr_assert_not_null(
        strstr(text, "mapigw_http_requests_total{route=\"/healthz\",status=\"200\"} 1\n"));
    cr_assert_not_null(
        strstr(text, "mapigw_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
    free(text);
    api_response_clear(&r);

    expect_problem((rq){.method = "GET", .path = "/openapi.yaml"}, 404, "MAPI_E_NOT_FOUND");
}

Test(api, openapi_served_when_configured)
{
    static const char yaml[] = "openapi: 3.1.0\n";
    api_config cfg = {NULL, 1024, yaml, sizeof yaml - 1, "1"};
    api *b = api_new(C, &cfg);
    cr_assert_not_null(b);
    api_request req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.path = "/openapi.yaml";
    api_response r;
    api_handle(b, &req, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, "application/yaml");
    cr_assert_eq(r.body_len, sizeof yaml - 1);
    cr_assert_eq(memcmp(r.body, yaml, r.body_len), 0);
    api_response_clear(&r);
    /* Admin endpoints are off without a key. */
    req.path = "/sessions";
    req.authorization = "Bearer " ADMIN_KEY;
    api_handle(b, &req, &r);
    cr_assert_eq(r.status, 403);
    api_response_clear(&r);
    api_free(b);
}

/* ---- out of memory ------------------------------------------------------ */

/* jansson's allocator fails after `budget` allocations: every JSON building
 * step of the api then meets a failure somewhere, and each answer must still
 * be a well-formed response (the normal one, or the 503 problem). */
static long budget = -1;

static void *failing_malloc(size_t n)
{
    if (budget == 0)
        return NULL;
    if (budget > 0)
        budget--;
    return malloc(n);
}

Test(api, out_of_memory_answers_503)
{
    logon_p();
    char ik[17], path[64];
    row_key(MAPI_SUBSYSTEM, ik);
    snprintf(path, sizeof path, "/status/%s/validate-state", ik);
    json_set_alloc_funcs(failing_malloc, free);
    const rq reqs[] = {
        {.method = "GET", .path = "/status", .auth = bearer},
        {.method = "GET", .path = "/identity", .auth = bearer},
        {.method = "GET", .path = "/nope"},
        {.method = "POST",
         .path = path,
         .auth = bearer,
         .ctype = "application/json",
         .body = "{\"flags\":[\"SUPPRESS_UI\"]}"},
        {.method = "POST",
         .path = "/sessions",
         .ctype = "application/json",
         .body = "{\"profile\":\"bare\",\"flags\":[\"MAPI_NEW_SESSION\"]}"},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        bool saw_503 = false;
        for (long n = 0; n < 400; n++) {
            budget = n;
            api_response r = call(reqs[i]);
            budget = -1;
            if (r.status == 503) {
                saw_503 = true;
                cr_assert_str_eq(r.content_type, "application/problem+json");
                cr_assert_str_eq(r.mapi_error, "MAPI_E_NOT_ENOUGH_MEMORY");
                json_t *j = body_json(&r);
                cr_assert_str_eq(jstr(j, "mapi_code"), "0x8007000E");
                json_decref(j);
            } else {
                cr_assert(r.status < 500, "%s %s with %ld allocations: %d", reqs[i].method,
                          reqs[i].path, n, r.status);
            }
            api_response_clear(&r);
        }
        cr_assert(saw_503, "%s %s never ran out of memory", reqs[i].method, reqs[i].path);
    }
    json_set_alloc_funcs(malloc, free);
}
