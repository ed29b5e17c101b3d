/* api_fixture.c - the api suite's shared fixture (see api_fixture.h). */
#include "api_fixture.h"
#include "../../server/config.h"

#include "../../server/secmem.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

api_fixture afx;

void afx_setup(void)
{
    /* As main does: request bodies are parsed through the wiping allocator,
     * and every jansson block must be released through it. */
    secmem_install();
    cr_assert(sodium_init() >= 0);
    strcpy(afx.dir, "/tmp/mapigw-test-api-XXXXXX");
    cr_assert_not_null(mkdtemp(afx.dir));
    snprintf(afx.abpath, sizeof afx.abpath, "%s/ab.json", afx.dir);
    snprintf(afx.abpath2, sizeof afx.abpath2, "%s/ab2.json", afx.dir);

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
             afx.abpath, verifier, afx.abpath2);
    profile_store *store = NULL;
    char err[512] = "";
    HRESULT hr =
        profile_store_load_string(json, "test.json", afx.dir, &store, err, sizeof err, NULL, NULL);
    cr_assert_eq(hr, S_OK, "profiles: %s", err);
    config defaults;
    cr_assert(config_defaults(&defaults));
    core_config cfg = defaults.core;
    cr_assert_eq(core_new(&cfg, store, &afx.core), S_OK);
    api_config acfg = defaults.api;
    acfg.admin_key = ADMIN_KEY;
    acfg.max_body_bytes = 65536;
    acfg.version = "9.9.9";
    afx.api = api_new(afx.core, &acfg);
    cr_assert_not_null(afx.api);
}

void afx_teardown(void)
{
    api_free(afx.api);
    core_free(afx.core);
    unlink(afx.abpath);
    unlink(afx.abpath2);
    rmdir(afx.dir);
}

TestSuite(api, .init = afx_setup, .fini = afx_teardown);

api_response afx_call(rq r)
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
    req.last_event_id = r.lei;
    req.body = r.body;
    req.body_len = r.body ? strlen(r.body) : 0;
    req.body_too_large = r.too_large;
    req.client_addr = "127.0.0.1";
    api_response resp;
    api_handle(afx.api, &req, &resp);
    /* Every response, whatever it is, carries Cache-Control: no-store. */
    bool cc = false;
    for (size_t i = 0; i < resp.header_count; i++)
        if (strcasecmp(resp.headers[i].name, "Cache-Control") == 0 &&
            strcmp(resp.headers[i].value, "no-store") == 0)
            cc = true;
    cr_assert(cc, "%s %s: no Cache-Control: no-store", r.method, r.path);
    return resp;
}

const char *afx_header(const api_response *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

json_t *afx_json(const api_response *r)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->body_len, 0, &err);
    cr_assert_not_null(j, "body is not JSON: %s (%.*s)", err.text, (int)r->body_len,
                       r->body ? r->body : "");
    return j;
}

const char *afx_jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

/* Checks a problem+json answer and returns its body (json_decref it). */
json_t *afx_assert_problem(api_response *r, int status, const char *mapi_error)
{
    cr_assert_eq(r->status, status, "status %d, expected %d: %.*s", r->status, status,
                 (int)r->body_len, r->body ? r->body : "");
    cr_assert_str_eq(r->content_type, "application/problem+json");
    cr_assert_str_eq(r->mapi_error, mapi_error);
    json_t *j = afx_json(r);
    cr_assert_str_eq(afx_jstr(j, "mapi_error"), mapi_error);
    char type[128];
    snprintf(type, sizeof type, "urn:mapigw:problem:%s", mapi_error);
    cr_assert_str_eq(afx_jstr(j, "type"), type);
    cr_assert(strlen(afx_jstr(j, "title")) > 0);
    cr_assert(json_is_string(json_object_get(j, "detail")));
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), status);
    regex_t re;
    cr_assert_eq(regcomp(&re, "^0x[0-9A-F]{8}$", REG_EXTENDED | REG_NOSUB), 0);
    cr_assert_eq(regexec(&re, afx_jstr(j, "mapi_code"), 0, NULL, 0), 0, "mapi_code %s",
                 afx_jstr(j, "mapi_code"));
    regfree(&re);
    HRESULT hr;
    cr_assert_eq(hresult_from_name(mapi_error, &hr), 0);
    char code[16];
    snprintf(code, sizeof code, "0x%08X", (unsigned)(uint32_t)hr);
    cr_assert_str_eq(afx_jstr(j, "mapi_code"), code);
    return j;
}

void afx_expect_problem(rq r, int status, const char *mapi_error)
{
    api_response resp = afx_call(r);
    json_decref(afx_assert_problem(&resp, status, mapi_error));
    api_response_clear(&resp);
}

api_response afx_post_sessions(const char *body)
{
    return afx_call(
        (rq){.method = "POST", .path = "/sessions", .ctype = "application/json", .body = body});
}

/* Logs on to profile p and keeps the token, bearer header and id. */
void afx_logon_p(void)
{
    api_response r = afx_post_sessions("{\"profile\":\"p\"}");
    cr_assert_eq(r.status, 201, "%.*s", (int)r.body_len, r.body ? r.body : "");
    json_t *j = afx_json(&r);
    snprintf(afx.token, sizeof afx.token, "%s", afx_jstr(j, "token"));
    snprintf(afx.sid, sizeof afx.sid, "%s", afx_jstr(j, "id"));
    snprintf(afx.bearer, sizeof afx.bearer, "Bearer %s", afx.token);
    json_decref(j);
    api_response_clear(&r);
}

void afx_row_key(uint32_t type, char out[17])
{
    api_response r = afx_call((rq){.method = "GET", .path = "/status", .auth = afx.bearer});
    json_t *j = afx_json(&r);
    size_t i;
    json_t *row;
    out[0] = '\0';
    json_array_foreach(json_object_get(j, "rows"), i, row)
    {
        json_t *t = json_object_get(json_object_get(row, "resource_type"), "value");
        if ((uint32_t)json_integer_value(t) == type && !out[0])
            snprintf(out, 17, "%s", afx_jstr(row, "instance_key"));
    }
    cr_assert(out[0], "no row of type %u", type);
    json_decref(j);
    api_response_clear(&r);
}
