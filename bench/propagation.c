/* propagation.c - how long a logoff on one replica takes to reach another.
 *
 *   propagation PORT_A PORT_B N [BODY]
 *
 * N times, on 127.0.0.1: a logon on A (BODY, default profile "nopw"), a
 * GET /identity with the token on B until it answers 200 (so B has the
 * handle in its cache: the case that needs the shared event stream), then
 * DELETE /sessions/{id} on A; from the moment A answers 204, GET /identity
 * on B again and again, over one keep-alive connection, until B answers 401.
 * That time is the sample (it includes one request's round trip, a fraction
 * of a millisecond here). A sample that takes over 10 s fails the run.
 * Prints
 *   propagation: n=N p50_ms=X p99_ms=Y max_ms=Z polls=P
 * and exits 1 on any unexpected answer.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GIVE_UP_S 10.0

typedef struct {
    char data[2048];
    size_t len;
} body;

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
    body *b = cls;
    size_t len = size * n, room = sizeof b->data - 1 - b->len;
    memcpy(b->data + b->len, p, len < room ? len : room);
    b->len += len < room ? len : room;
    b->data[b->len] = '\0';
    return len;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One request on the connection of e; the status, 0 on a transport error. */
static long request(CURL *e, const char *method, long port, const char *path, const char *token,
                    const char *json, body *b)
{
    char url[256], auth[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%ld%s", port, path); /* loopback only */
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (json)
        h = curl_slist_append(h, "Content-Type: application/json");
    b->len = 0;
    b->data[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (json) { /* POST */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else { /* GET, or DELETE */
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") ? method : NULL);
    }
    long code = 0;
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    return code;
}

/* The string value of "key" in a flat JSON text (ids and tokens hold no
 * quotes or escapes). */
static int json_field(const char *json, const char *key, char *out, size_t outsz)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\"", key);
    const char *p = strstr(json, k);
    if (!p || !(p = strchr(p + strlen(k), '"')))
        return -1;
    const char *end = strchr(++p, '"');
    if (!end || (size_t)(end - p) >= outsz)
        return -1;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static CURL *handle(body *b)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    return e;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: propagation PORT_A PORT_B N [BODY]\n");
        return 2;
    }
    long pa = strtol(argv[1], NULL, 10), pb = strtol(argv[2], NULL, 10);
    long n = strtol(argv[3], NULL, 10);
    const char *logon =
        argc > 4 ? argv[4] : "{\"profile\":\"nopw\",\"flags\":[\"MAPI_NEW_SESSION\"]}";
    if (pa < 1 || pa > 65535 || pb < 1 || pb > 65535 || n < 1 || n > 1000000) {
        fprintf(stderr, "propagation: bad arguments\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    body b;
    CURL *ea = handle(&b), *eb = handle(&b);
    double *ms = calloc((size_t)n, sizeof *ms);
    if (!ea || !eb || !ms)
        return 1;
    long polls = 0;
    for (long i = 0; i < n; i++) {
        char id[160], token[160], path[256];
        long st = request(ea, "POST", pa, "/sessions", NULL, logon, &b);
        if (st != 201 || json_field(b.data, "id", id, sizeof id) ||
            json_field(b.data, "token", token, sizeof token)) {
            fprintf(stderr, "propagation: logon on A: HTTP %ld %.200s\n", st, b.data);
            return 1;
        }
        double t0 = now_s();
        while ((st = request(eb, "GET", pb, "/identity", token, NULL, &b)) != 200) {
            if (st != 401 || now_s() - t0 > GIVE_UP_S) {
                fprintf(stderr, "propagation: the new token on B: HTTP %ld %.200s\n", st, b.data);
                return 1;
            }
        }
        snprintf(path, sizeof path, "/sessions/%s", id);
        st = request(ea, "DELETE", pa, path, token, NULL, &b);
        if (st != 204) {
            fprintf(stderr, "propagation: logoff on A: HTTP %ld %.200s\n", st, b.data);
            return 1;
        }
        double t1 = now_s();
        for (;;) {
            st = request(eb, "GET", pb, "/identity", token, NULL, &b);
            polls++;
            if (st == 401)
                break;
            if (st != 200 || now_s() - t1 > GIVE_UP_S) {
                fprintf(stderr, "propagation: B after the logoff: HTTP %ld %.200s\n", st, b.data);
                return 1;
            }
        }
        ms[i] = (now_s() - t1) * 1000;
    }
    qsort(ms, (size_t)n, sizeof *ms, cmp);
    long i99 = (long)((double)n * 0.99 + 0.999) - 1;
    printf("propagation: n=%ld p50_ms=%.3f p99_ms=%.3f max_ms=%.3f polls=%ld\n", n, ms[(n - 1) / 2],
           ms[i99 < 0 ? 0 : i99], ms[n - 1], polls);
    free(ms);
    curl_easy_cleanup(ea);
    curl_easy_cleanup(eb);
    curl_global_cleanup();
    return 0;
}
