/* http.c - the stress client's HTTP requests (libcurl) and answer helpers. */
#include "stress.h"

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t add = sz * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, add);
    r->len += add;
    r->body[r->len] = '\0';
    if (r->is_events) {
        long st = 0;
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &st);
        if (st == 200 && !r->saw_open && strstr(r->body, ": mapigw events")) {
            r->saw_open = true;
            r->open_at = now_s();
        }
        if (r->saw_open && r->stay == 0)
            return 0; /* abort: the client goes away mid-stream */
    }
    return add;
}

/* Events: leave once stayed long enough. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const resp *r = ud;
    return r->saw_open && now_s() - r->open_at > r->stay;
}

static void copy_header(char *dst, size_t dstsz, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    while (n && *v == ' ')
        v++, n--;
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = sz * n;
    static const struct {
        const char *name;
        size_t off, size;
    } want[] = {
        {"content-type:", offsetof(resp, ctype), sizeof(((resp *)0)->ctype)},
        {"www-authenticate:", offsetof(resp, www_auth), sizeof(((resp *)0)->www_auth)},
        {"retry-after:", offsetof(resp, retry_after), sizeof(((resp *)0)->retry_after)},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t k = strlen(want[i].name);
        if (len > k && strncasecmp(p, want[i].name, k) == 0)
            copy_header((char *)r + want[i].off, want[i].size, p + k, len - k);
    }
    return len;
}

void resp_free(resp *r)
{
    free(r->body);
    if (r->json)
        json_decref(r->json);
    memset(r, 0, sizeof *r);
}

__thread int cur_op = -1;
atomic_long op_requests[OP_COUNT];

/* One request. token: bearer (NULL: none). Fills r; returns r->status (0 on a
 * transport error, which is always unexpected except for an events stream the
 * client itself aborted). */
long request(CURL *c, const char *method, const char *path, const char *token, const char *body,
             resp *r, bool events)
{
    double stay = r->stay;
    memset(r, 0, sizeof *r);
    r->stay = stay;
    r->is_events = events;
    r->curl = c;
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, events ? 20000L : 60000L);
    if (events) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
    struct curl_slist *h = NULL;
    char auth[512];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    r->sent = now_s();
    r->rc = curl_easy_perform(c);
    r->recv = now_s();
    curl_slist_free_all(h);
    atomic_fetch_add(&n_requests, 1);
    if (cur_op >= 0)
        atomic_fetch_add(&op_requests[cur_op], 1);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->rc != CURLE_OK && !(events && r->saw_open &&
                               (r->rc == CURLE_WRITE_ERROR || r->rc == CURLE_ABORTED_BY_CALLBACK)))
        r->status = 0;
    if (r->body && (strncmp(r->ctype, "application/json", 16) == 0 ||
                    strncmp(r->ctype, "application/problem+json", 24) == 0))
        r->json = json_loads(r->body, 0, NULL);
    return r->status;
}

const char *mapi_error(const resp *r)
{
    json_t *e = r->json ? json_object_get(r->json, "mapi_error") : NULL;
    return json_is_string(e) ? json_string_value(e) : "";
}

/* A short description of an answer for messages (no token, no body beyond 200 chars). */
const char *describe(const resp *r, char *buf, size_t n)
{
    if (r->status == 0)
        snprintf(buf, n, "transport error %d (%s)", (int)r->rc, r->err);
    else
        snprintf(buf, n, "%ld %s %.200s", r->status, mapi_error(r), r->body ? r->body : "");
    return buf;
}

/* The one 401 for a token that is not a live handle. */
bool is_dead_answer(const resp *r)
{
    return r->status == 401 && strcmp(mapi_error(r), "MAPI_E_END_OF_SESSION") == 0 &&
           strncmp(r->ctype, "application/problem+json", 24) == 0 &&
           strstr(r->www_auth, "error=\"invalid_token\"") != NULL;
}
