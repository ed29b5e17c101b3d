/* gw_http.c - HTTP requests to the gateway over libcurl, responses, and
 * logons (see gw.h). */
#include "gw_private.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define GW_REQUEST_TIMEOUT_MS 15000L

/* ---------------------------------------------------------------- HTTP */

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf_t *b = ud;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static void resp_clear_headers(gw_resp *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    free(r->hname);
    free(r->hvalue);
    r->hname = r->hvalue = NULL;
    r->nheaders = 0;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    gw_resp *r = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        resp_clear_headers(r); /* a new response (e.g. after 100 Continue) */
        return n;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon)
        return n;
    size_t nl = (size_t)(colon - ptr);
    const char *v = colon + 1;
    const char *end = ptr + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    char **hn = realloc(r->hname, (r->nheaders + 1) * sizeof *hn);
    if (!hn)
        return 0;
    r->hname = hn;
    char **hv = realloc(r->hvalue, (r->nheaders + 1) * sizeof *hv);
    if (!hv)
        return 0;
    r->hvalue = hv;
    r->hname[r->nheaders] = strndup(ptr, nl);
    r->hvalue[r->nheaders] = strndup(v, (size_t)(end - v));
    r->nheaders++;
    return n;
}

const char *gw_header(const gw_resp *resp, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->hname[i], name) == 0)
            found = resp->hvalue[i];
    return found;
}

static bool has_header(const char *const *headers, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], name, nl) == 0 && headers[i][nl] == ':')
            return true;
    return false;
}

/* ---------------------------------------------------------------- recording */

/* Bodies larger than this are recorded without their text. */
#define GW_RECORD_MAX_BODY (1024u * 1024u)

/* When MAPIGW_TEST_LOGS is set, appends one JSON line describing the response
 * to $MAPIGW_TEST_LOGS/responses.jsonl, for scripts/validate-responses.sh
 * (which checks it against openapi.yaml):
 *   {"method","path" (no query),"status","content_type","body"}
 * "body" is the body as a string, or null with "body_skipped" saying why (over
 * 1 MiB, an event stream, not UTF-8). Request headers are never recorded (they
 * carry tokens and passwords); a response body holds a token only in POST
 * /sessions 201, so the file is created 0600 (it stays under build/). Each line
 * is one write() on an O_APPEND descriptor, so parallel test processes do not
 * interleave. Responses that never arrived (status 0) are not recorded. */
static void record_response(const char *method, const char *path, const gw_resp *resp)
{
    const char *dir = getenv("MAPIGW_TEST_LOGS");
    if (!dir || !*dir || resp->status == 0)
        return;
    const char *ct = gw_header(resp, "Content-Type");
    json_t *o = json_object();
    cr_assert(o != NULL);
    json_object_set_new(o, "method", json_string(method));
    json_object_set_new(o, "path", json_stringn(path, strcspn(path, "?#")));
    json_object_set_new(o, "status", json_integer(resp->status));
    json_object_set_new(o, "content_type", ct ? json_string(ct) : json_null());
    const char *skipped = NULL;
    json_t *body = NULL;
    if (ct && strncasecmp(ct, "text/event-stream", 17) == 0)
        skipped = "event-stream";
    else if (resp->body_len > GW_RECORD_MAX_BODY)
        skipped = "over 1 MiB";
    else if (!(body = json_stringn(resp->body, resp->body_len)))
        skipped = "not UTF-8";
    json_object_set_new(o, "body", body ? body : json_null());
    if (skipped)
        json_object_set_new(o, "body_skipped", json_string(skipped));
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    cr_assert(line != NULL, "recording %s %s: json_dumps failed", method, path);
    size_t len = strlen(line);
    line[len++] = '\n'; /* replaces the NUL: written with its length */

    char file[PATH_MAX];
    int n = snprintf(file, sizeof file, "%s/responses.jsonl", dir);
    cr_assert(n > 0 && (size_t)n < sizeof file, "MAPIGW_TEST_LOGS too long");
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "open %s: %s", file, strerror(errno));
    ssize_t w;
    do
        w = write(fd, line, len);
    while (w < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    free(line);
    cr_assert(w == (ssize_t)len, "write %s: %s", file, w < 0 ? strerror(saved) : "short write");
}

long gw_request_n(gw *g, const char *method, const char *path, const char *const *headers,
                  const char *body, size_t body_len, gw_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    CURL *c = curl_easy_init();
    cr_assert(c != NULL, "curl_easy_init failed");
    char url[4096];
    int n = snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g->port, path);
    cr_assert(n > 0 && (size_t)n < sizeof url, "path too long");
    buf_t b = {0};
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    bool is_post = strcmp(method, "POST") == 0;
    if (body && !has_header(headers, "Content-Type"))
        hl = curl_slist_append(hl, "Content-Type: application/json");
    if (!body && is_post && !has_header(headers, "Content-Type"))
        hl = curl_slist_append(hl, "Content-Type:"); /* curl would add a form type */

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)gw_ms((int)GW_REQUEST_TIMEOUT_MS));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->errbuf);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (strcmp(method, "GET") == 0) {
        /* default */
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        if (body || is_post) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        }
        if (!is_post)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    } else {
        resp->status = 0;
        if (!resp->errbuf[0])
            snprintf(resp->errbuf, sizeof resp->errbuf, "%s", curl_easy_strerror(rc));
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);

    resp->body = b.data ? b.data : gw_xstrdup("");
    resp->body_len = b.len;
    const char *ct = gw_header(resp, "Content-Type");
    if (ct && (strncasecmp(ct, "application/json", 16) == 0 ||
               strncasecmp(ct, "application/problem+json", 24) == 0)) {
        json_error_t err;
        resp->json = json_loadb(resp->body, resp->body_len, 0, &err);
    }
    record_response(method, path, resp);
    if (resp->json && json_is_object(resp->json)) {
        const char *tok = gw_jstr(resp->json, "token");
        if (tok)
            gw_add_secret(g, tok);
    }
    return resp->status;
}

long gw_request(gw *g, const char *method, const char *path, const char *const *headers,
                const char *body, gw_resp *resp)
{
    return gw_request_n(g, method, path, headers, body, body ? strlen(body) : 0, resp);
}

static long req_auth(gw *g, const char *method, const char *path, const char *token,
                     const char *body, gw_resp *resp)
{
    char auth[512];
    const char *hdrs[2] = {NULL, NULL};
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs[0] = auth;
    }
    return gw_request(g, method, path, hdrs, body, resp);
}

long gw_get(gw *g, const char *path, const char *token, gw_resp *resp)
{
    return req_auth(g, "GET", path, token, NULL, resp);
}

long gw_delete(gw *g, const char *path, const char *token, gw_resp *resp)
{
    return req_auth(g, "DELETE", path, token, NULL, resp);
}

long gw_post(gw *g, const char *path, const char *token, const char *json_body, gw_resp *resp)
{
    return req_auth(g, "POST", path, token, json_body, resp);
}

void gw_resp_free(gw_resp *resp)
{
    if (!resp)
        return;
    free(resp->body);
    resp->body = NULL;
    if (resp->json)
        json_decref(resp->json);
    resp->json = NULL;
    resp_clear_headers(resp);
}

/* ---------------------------------------------------------------- logon */

long gw_logon(gw *g, const char *profile, const char *password, const char *flags_json,
              gw_session *out)
{
    memset(out, 0, sizeof *out);
    json_t *o = json_object();
    if (profile)
        json_object_set_new(o, "profile", json_string(profile));
    if (password) {
        json_object_set_new(o, "password", json_string(password));
        gw_add_secret(g, password);
    }
    if (flags_json) {
        json_error_t err;
        json_t *f = json_loads(flags_json, JSON_DECODE_ANY, &err);
        cr_assert(f != NULL, "test bug: flags_json %s: %s", flags_json, err.text);
        json_object_set_new(o, "flags", f);
    }
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    cr_assert(body != NULL);
    out->status = gw_post(g, "/sessions", NULL, body, &out->resp);
    free(body);
    if (out->status == 201 && out->resp.json) {
        const char *id = gw_jstr(out->resp.json, "id");
        const char *tok = gw_jstr(out->resp.json, "token");
        if (id)
            snprintf(out->id, sizeof out->id, "%s", id);
        if (tok)
            snprintf(out->token, sizeof out->token, "%s", tok);
    }
    return out->status;
}

void gw_logon_ok(gw *g, const char *profile, const char *password, const char *flags_json,
                 gw_session *out)
{
    long st = gw_logon(g, profile, password, flags_json, out);
    cr_assert_eq(st, 201, "logon profile=%s flags=%s: expected 201, got %ld: %s",
                 profile ? profile : "(absent)", flags_json ? flags_json : "(absent)", st,
                 out->resp.body ? out->resp.body : out->resp.errbuf);
    cr_assert(out->id[0] && out->token[0], "201 without id/token: %s", out->resp.body);
}

void gw_session_free(gw_session *s)
{
    if (s)
        gw_resp_free(&s->resp);
}
