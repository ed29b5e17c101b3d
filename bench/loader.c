/* loader.c - creates N sessions on a gateway at 127.0.0.1:PORT, fast; or
 * floods it with logons that fail.
 *
 *   loader PORT N [PARALLEL [BODY]]
 *   loader --flood PORT SECONDS [PARALLEL [SPREAD]]
 *
 * In BODY, every "%N" becomes the logon's number (0, 1, 2, ...): N distinct
 * logon names, e.g. for a profile template.
 *
 * PARALLEL (default 32, at most 64: the gateway's default per-IP connection
 * limit) libcurl easy handles run at once in one multi handle, each one
 * re-added after its answer so that its keep-alive connection is reused.
 * Every answer must be 201 with a token in its body; any other answer, or a
 * transfer error, counts as a failure, and the first few are printed.
 * Prints "created=N failed=F seconds=S rate=R" and exits 1 on any failure.
 *
 * --flood: for SECONDS, PARALLEL connections send logons to made-up profile
 * names with a password (an attacker guessing which profiles exist), each
 * answered whatever way the gateway likes (401, 429, 503). SPREAD 0 (the
 * default): keep-alive connections from 127.0.0.1. SPREAD 1: a new connection
 * per logon, each from the next source address of 127.0.0.0/8 (a distributed
 * attacker that no per-address budget sees twice). Prints
 * "flood: requests=N 401=A 429=B 503=C other=D errors=E seconds=S rate=R" and
 * exits 1 only when nothing was answered.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    CURL *easy;
    char body[1024];
    size_t len;
    char req[1024]; /* this slot's request body when numbered */
} slot;

/* body with every "%N" replaced by n, into s->req, and set as s's request. */
static void number_body(slot *s, const char *body, unsigned long n)
{
    size_t o = 0;
    for (const char *c = body; *c && o + 24 < sizeof s->req; c++) {
        if (c[0] == '%' && c[1] == 'N') {
            o += (size_t)snprintf(s->req + o, sizeof s->req - o, "%lu", n);
            c++;
        } else {
            s->req[o++] = *c;
        }
    }
    s->req[o] = '\0';
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->req);
}

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
    slot *s = cls;
    size_t len = size * n, room = sizeof s->body - 1 - s->len;
    memcpy(s->body + s->len, data, len < room ? len : room);
    s->len += len < room ? len : room;
    s->body[s->len] = '\0';
    return len;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int flood(int argc, char **argv)
{
    long port = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    double seconds = argc > 3 ? strtod(argv[3], NULL) : 0;
    long parallel = argc > 4 ? strtol(argv[4], NULL, 10) : 16;
    int spread = argc > 5 ? atoi(argv[5]) : 0;
    if (port < 1 || port > 65535 || seconds <= 0 || parallel < 1 || parallel > 64) {
        fprintf(stderr, "usage: loader --flood PORT SECONDS [PARALLEL [SPREAD]]\n");
        return 2;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%ld/sessions", port); /* loopback only */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    slot *slots = calloc((size_t)parallel, sizeof *slots);
    char(*bodies)[160] = calloc((size_t)parallel, sizeof *bodies);
    char *in_flight = calloc((size_t)parallel, 1);
    if (!multi || !hdrs || !slots || !bodies || !in_flight)
        return 1;
    unsigned long seq = 0, source = 0;
    long requests = 0, s401 = 0, s429 = 0, s503 = 0, other = 0, errors = 0;
    for (long i = 0; i < parallel; i++) {
        CURL *e = slots[i].easy = curl_easy_init();
        if (!e)
            return 1;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
        if (spread) {
            curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
            curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        }
    }
    double t0 = now_s(), end = t0 + seconds;
    int running = 0;
    for (;;) {
        /* Every idle slot sends the next logon, a new made-up name each time,
         * while time is left. */
        for (long i = 0; i < parallel && now_s() < end; i++) {
            if (!in_flight[i]) {
                snprintf(bodies[i], sizeof bodies[i],
                         "{\"profile\":\"flood-%08lx\",\"password\":\"guess-%lu\","
                         "\"flags\":[\"MAPI_NEW_SESSION\"]}",
                         seq * 2654435761ul, seq);
                seq++;
                curl_easy_setopt(slots[i].easy, CURLOPT_POSTFIELDS, bodies[i]);
                if (spread) {
                    /* 127.0.0.2 onwards: a new address per logon. */
                    unsigned long a = 2 + source++ % 16000000ul;
                    char iface[48];
                    snprintf(iface, sizeof iface, "host!127.%lu.%lu.%lu", (a >> 16) & 255,
                             (a >> 8) & 255, a & 255);
                    curl_easy_setopt(slots[i].easy, CURLOPT_INTERFACE, iface);
                }
                in_flight[i] = 1;
                curl_multi_add_handle(multi, slots[i].easy);
                running = 1;
            }
        }
        if (!running && now_s() >= end)
            break;
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            return 1;
        CURLMsg *m;
        int left;
        bool freed = false;
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *s;
            long code = 0;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            requests++;
            freed = true;
            if (m->data.result != CURLE_OK) {
                if (++errors <= 3)
                    fprintf(stderr, "loader: flood: %s\n", curl_easy_strerror(m->data.result));
            } else if (code == 401)
                s401++;
            else if (code == 429)
                s429++;
            else if (code == 503)
                s503++;
            else
                other++;
            curl_multi_remove_handle(multi, s->easy);
            s->len = 0;
            s->body[0] = '\0';
            in_flight[s - slots] = 0;
        }
        /* A freed slot sends again at once; otherwise wait for traffic. */
        if (running && !(freed && now_s() < end))
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    double secs = now_s() - t0;
    printf("flood: requests=%ld 401=%ld 429=%ld 503=%ld other=%ld errors=%ld seconds=%.1f "
           "rate=%.0f\n",
           requests, s401, s429, s503, other, errors, secs, requests / secs);
    for (long i = 0; i < parallel; i++)
        curl_easy_cleanup(slots[i].easy);
    curl_multi_cleanup(multi);
    curl_slist_free_all(hdrs);
    free(slots);
    free(bodies);
    free(in_flight);
    curl_global_cleanup();
    return requests > errors ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--flood") == 0)
        return flood(argc, argv);
    if (argc < 3) {
        fprintf(stderr, "usage: loader PORT N [PARALLEL [BODY]]\n");
        return 2;
    }
    long port = strtol(argv[1], NULL, 10), total = strtol(argv[2], NULL, 10);
    long parallel = argc > 3 ? strtol(argv[3], NULL, 10) : 32;
    const char *body =
        argc > 4 ? argv[4] : "{\"profile\":\"nopw\",\"flags\":[\"MAPI_NEW_SESSION\"]}";
    if (port < 1 || port > 65535 || total < 1 || parallel < 1 || parallel > 64) {
        fprintf(stderr, "loader: bad arguments\n");
        return 2;
    }
    if (parallel > total)
        parallel = total;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%ld/sessions", port); /* loopback only */

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    slot *slots = calloc((size_t)parallel, sizeof *slots);
    if (!multi || !hdrs || !slots)
        return 1;
    long started = 0, created = 0, failed = 0;
    bool numbered = strstr(body, "%N") != NULL;
    for (long i = 0; i < parallel; i++) {
        CURL *e = slots[i].easy = curl_easy_init();
        if (!e)
            return 1;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
        if (numbered)
            number_body(&slots[i], body, (unsigned long)started);
        curl_multi_add_handle(multi, e);
        started++;
    }
    /* Each connection is cached by the multi handle between transfers. */
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, parallel);

    double t0 = now_s(), last = t0;
    int running = 1;
    while (running) {
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            return 1;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *s;
            long code = 0;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (m->data.result == CURLE_OK && code == 201 && strstr(s->body, "\"token\""))
                created++;
            else if (++failed <= 5)
                fprintf(stderr, "loader: failure %ld: %s, HTTP %ld: %.200s\n", failed,
                        curl_easy_strerror(m->data.result), code, s->body);
            curl_multi_remove_handle(multi, s->easy);
            s->len = 0;
            s->body[0] = '\0';
            if (started < total) {
                if (numbered)
                    number_body(s, body, (unsigned long)started);
                curl_multi_add_handle(multi, s->easy);
                started++;
                running = 1;
            }
        }
        double t = now_s();
        if (t - last >= 10) {
            fprintf(stderr, "loader: %ld created, %ld failed, %.0f/s\n", created, failed,
                    created / (t - t0));
            last = t;
        }
        if (running)
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    double secs = now_s() - t0;
    printf("created=%ld failed=%ld seconds=%.1f rate=%.0f\n", created, failed, secs,
           created / secs);
    for (long i = 0; i < parallel; i++)
        curl_easy_cleanup(slots[i].easy);
    curl_multi_cleanup(multi);
    curl_slist_free_all(hdrs);
    free(slots);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
