/* Black-box: the gateway's limits (README "Limits"): body, header and URL
 * size, JSON depth and string length, connections in total and per client
 * address, the per-request deadline against slow clients, and the logon
 * throttle's flags. Every test checks the exact answer and that the gateway
 * keeps serving afterwards. Raw sockets (not libcurl) where the test needs
 * to control the bytes on the wire; 127.0.0.1 only, every wait bounded. */
#include "../support/gw.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(limits, .fini = fini_gw, .timeout = 120);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A TCP connection to the gateway (asserts). */
static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)gw_port(G));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0, "connect: %s",
              strerror(errno));
    return fd;
}

/* Sends all of s; false when the peer is gone. */
static bool raw_send(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        s += n;
        len -= (size_t)n;
    }
    return true;
}

/* True once buf holds one whole answer: the header block and as many body
 * bytes as its Content-Length says. */
static bool answer_complete(const char *buf)
{
    const char *end = strstr(buf, "\r\n\r\n");
    if (!end)
        return false;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (!cl || cl > end)
        return false; /* chunked or close-delimited: read until the window ends */
    return strlen(end + 4) >= strtoul(cl + 17, NULL, 10);
}

/* Reads what arrives within timeout_ms into buf (NUL-terminated), stopping
 * early once one whole answer is in. Returns the byte count; *closed is set
 * when the peer closed (EOF or reset). */
static size_t raw_read(int fd, char *buf, size_t cap, int timeout_ms, bool *closed)
{
    size_t used = 0;
    *closed = false;
    buf[0] = '\0';
    double end = now_s() + timeout_ms / 1000.0;
    while (used + 1 < cap && !answer_complete(buf)) {
        int left = (int)((end - now_s()) * 1000.0);
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, left) <= 0)
            break;
        ssize_t n = recv(fd, buf + used, cap - 1 - used, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        used += (size_t)n;
        buf[used] = '\0';
    }
    buf[used] = '\0';
    return used;
}

/* The JSON body of a raw HTTP answer (after the blank line), parsed. */
static json_t *raw_body_json(const char *answer)
{
    const char *body = strstr(answer, "\r\n\r\n");
    cr_assert_not_null(body, "no header end in: %s", answer);
    json_error_t err;
    json_t *j = json_loads(body + 4, 0, &err);
    cr_assert_not_null(j, "body is not JSON (%s): %s", err.text, body + 4);
    return j;
}

/* One request over a fresh connection; the answer (up to cap bytes, within
 * 5 s) in out. Returns its status code, 0 when none came. */
static int raw_request(const char *req, size_t len, char *out, size_t cap)
{
    int fd = raw_connect();
    raw_send(fd, req, len);
    bool closed;
    raw_read(fd, out, cap, gw_ms(5000), &closed);
    close(fd);
    int status = 0;
    if (sscanf(out, "HTTP/1.1 %d", &status) != 1)
        status = 0;
    return status;
}

/* A raw answer is the problem+json of status and mapi_error; returns its
 * detail (static copy). */
static const char *expect_raw_problem(const char *answer, int status, const char *mapi_error)
{
    static char detail[512];
    int st = 0;
    cr_assert(sscanf(answer, "HTTP/1.1 %d", &st) == 1 && st == status, "expected %d: %s", status,
              answer);
    cr_expect(strcasestr(answer, "Content-Type: application/problem+json"), "answer: %s", answer);
    cr_expect(strcasestr(answer, "Cache-Control: no-store"), "answer: %s", answer);
    json_t *j = raw_body_json(answer);
    cr_expect_str_eq(gw_jstr(j, "mapi_error"), mapi_error);
    cr_expect(gw_jstr(j, "mapi_code") != NULL);
    cr_expect_eq(json_integer_value(json_object_get(j, "status")), status);
    snprintf(detail, sizeof detail, "%s", gw_jstr(j, "detail") ? gw_jstr(j, "detail") : "");
    json_decref(j);
    return detail;
}

static void expect_serving(void)
{
    gw_resp r;
    gw_get(G, "/healthz", NULL, &r);
    cr_expect_eq(r.status, 200, "GET /healthz after the limit: %ld %s", r.status, r.errbuf);
    gw_resp_free(&r);
}

/* GET path with one extra header "X-Filler: <n bytes>". */
static long get_with_filler(const char *path, size_t n, gw_resp *r)
{
    char *h = malloc(n + 16);
    cr_assert_not_null(h);
    strcpy(h, "X-Filler: ");
    memset(h + 10, 'f', n);
    h[10 + n] = '\0';
    const char *headers[] = {h, NULL};
    long st = gw_request(G, "GET", path, headers, NULL, r);
    free(h);
    return st;
}

static char *detail_of(const gw_resp *r)
{
    const char *d = r->json ? gw_jstr(r->json, "detail") : NULL;
    return (char *)(d ? d : "");
}

Test(limits, body_declared_too_large_answered_before_upload)
{
    const char *args[] = {"--max-body-bytes", "1024", NULL};
    G = gw_start("main.json", args);
    /* Only the headers go out: the 413 must come without the body. */
    int fd = raw_connect();
    const char *req = "POST /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n";
    cr_assert(raw_send(fd, req, strlen(req)));
    char buf[4096];
    bool closed;
    raw_read(fd, buf, sizeof buf, gw_ms(5000), &closed);
    close(fd);
    cr_assert(strncmp(buf, "HTTP/1.1 413", 12) == 0, "answer: %s", buf);
    cr_expect(strcasestr(buf, "Content-Type: application/problem+json"), "answer: %s", buf);
    json_t *j = raw_body_json(buf);
    cr_expect_str_eq(gw_jstr(j, "mapi_error"), "MAPI_E_INVALID_PARAMETER");
    cr_expect_str_eq(gw_jstr(j, "mapi_code"), "0x80070057");
    cr_expect(strstr(gw_jstr(j, "detail"), "1024"), "detail: %s", gw_jstr(j, "detail"));
    json_decref(j);
    expect_serving();
}

Test(limits, body_chunked_too_large_413_at_the_end)
{
    const char *args[] = {"--max-body-bytes", "1024", NULL};
    G = gw_start("main.json", args);
    char body[4096];
    memset(body, ' ', sizeof body);
    body[0] = '{';
    body[sizeof body - 1] = '}';
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    gw_resp r;
    gw_request_n(G, "POST", "/sessions", chunked, body, sizeof body, &r);
    gw_assert_problem(&r, 413, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail_of(&r), "--max-body-bytes"), "detail: %s", detail_of(&r));
    gw_resp_free(&r);
    /* the same body with a Content-Length: also 413 */
    gw_request_n(G, "POST", "/sessions", NULL, body, sizeof body, &r);
    gw_assert_problem(&r, 413, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    /* a GET announcing a body past the limit: 413 too, not a silent 200 */
    const char *get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4096\r\n\r\n";
    char out[4096];
    raw_request(get, strlen(get), out, sizeof out);
    expect_raw_problem(out, 413, "MAPI_E_INVALID_PARAMETER");
    expect_serving();
}

Test(limits, header_fields_default_16384_answered_431)
{
    G = gw_start("main.json", NULL);
    gw_resp r;
    get_with_filler("/healthz", 17000, &r);
    gw_assert_problem(&r, 431, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail_of(&r), "16384") && strstr(detail_of(&r), "--max-header-bytes"),
              "detail: %s", detail_of(&r));
    gw_resp_free(&r);
    /* under the limit: served */
    get_with_filler("/healthz", 15000, &r);
    cr_expect_eq(r.status, 200, "15000 header bytes under 16384: %ld", r.status);
    gw_resp_free(&r);
    /* before authentication too: an oversized bearer never reaches it */
    get_with_filler("/status", 17000, &r);
    gw_assert_problem(&r, 431, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    expect_serving();
}

Test(limits, header_fields_configurable_by_environment)
{
    cr_assert_eq(setenv("MAPIGW_MAX_HEADER_BYTES", "2048", 1), 0);
    G = gw_start("main.json", NULL);
    gw_resp r;
    get_with_filler("/healthz", 3000, &r);
    gw_assert_problem(&r, 431, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail_of(&r), "2048"), "detail: %s", detail_of(&r));
    gw_resp_free(&r);
    get_with_filler("/healthz", 1500, &r);
    cr_expect_eq(r.status, 200);
    gw_resp_free(&r);
    /* Far past libmicrohttpd's memory limit it answers on its own (not
     * problem+json); either way a 4xx or a closed connection, and the
     * gateway goes on serving. */
    get_with_filler("/healthz", 200000, &r);
    cr_expect(r.status == 0 || (r.status >= 400 && r.status < 500), "200 kB of headers: %ld",
              r.status);
    gw_resp_free(&r);
    expect_serving();
}

/* GET <path> as a raw request (libcurl's helper caps URLs). */
static int raw_get(const char *path, char *out, size_t cap)
{
    size_t n = strlen(path) + 64;
    char *req = malloc(n);
    cr_assert_not_null(req);
    snprintf(req, n, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    int st = raw_request(req, strlen(req), out, cap);
    free(req);
    return st;
}

Test(limits, url_default_4096_answered_414)
{
    G = gw_start("main.json", NULL);
    static char path[8192];
    char out[4096];
    strcpy(path, "/healthz?pad=");
    memset(path + 13, 'u', 5000);
    path[13 + 5000] = '\0';
    raw_get(path, out, sizeof out);
    const char *d = expect_raw_problem(out, 414, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(d, "4096") && strstr(d, "--max-url-bytes"), "detail: %s", d);
    /* a long path, no query */
    memset(path, 'p', 5000);
    path[0] = '/';
    path[5000] = '\0';
    raw_get(path, out, sizeof out);
    expect_raw_problem(out, 414, "MAPI_E_INVALID_PARAMETER");
    /* under the limit: routed (404 for this unknown path) */
    path[3000] = '\0';
    raw_get(path, out, sizeof out);
    expect_raw_problem(out, 404, "MAPI_E_NOT_FOUND");
    expect_serving();
}

Test(limits, json_depth_and_string_length_400)
{
    const char *args[] = {"--max-json-depth", "4", "--max-json-string", "128", NULL};
    G = gw_start("main.json", args);
    gw_resp r;
    gw_post(G, "/sessions", NULL, "{\"profile\":\"nopw\",\"flags\":[[[[\"MAPI_NEW_SESSION\"]]]]}",
            &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail_of(&r), "deeper than 4 levels"), "detail: %s", detail_of(&r));
    gw_resp_free(&r);
    char body[512];
    char name[201];
    memset(name, 'n', 200);
    name[200] = '\0';
    snprintf(body, sizeof body, "{\"profile\":\"nopw\",\"flags\":[\"%s\"]}", name);
    gw_post(G, "/sessions", NULL, body, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(detail_of(&r), "128 bytes (limit --max-json-string)"), "detail: %s",
              detail_of(&r));
    gw_resp_free(&r);
    /* the default depth (16) is far above what a real body needs */
    gw_session s;
    gw_logon_ok(G, "nopw", NULL, "[\"MAPI_NEW_SESSION\"]", &s);
    gw_session_free(&s);
}

/* Opens n connections and makes sure the gateway has taken each (a request
 * on each is answered), keeping them open. A connection the gateway turns
 * away is tried again until a deadline: the connections of gw_start's
 * readiness checks count until the gateway has seen them close, which a slow
 * run (valgrind) may take a moment to do. */
static void hold_connections(int *fds, int n)
{
    const char *req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (int i = 0; i < n; i++) {
        char buf[2048];
        bool closed = true;
        double end = now_s() + gw_ms(3000) / 1000.0;
        for (;;) {
            fds[i] = raw_connect();
            cr_assert(raw_send(fds[i], req, strlen(req)));
            raw_read(fds[i], buf, sizeof buf, gw_ms(1000), &closed);
            if ((strncmp(buf, "HTTP/1.1 200", 12) == 0 && !closed) || now_s() >= end)
                break;
            close(fds[i]);
            gw_sleep_ms(50);
        }
        cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "held connection %d: %s", i, buf);
        cr_assert(!closed, "held connection %d was closed", i);
    }
}

/* A connection past the limit: no answer (closed, or left waiting). */
static void expect_refused(void)
{
    int fd = raw_connect();
    const char *req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    raw_send(fd, req, strlen(req));
    char buf[2048];
    bool closed;
    raw_read(fd, buf, sizeof buf, 1500, &closed);
    close(fd);
    cr_expect(strstr(buf, "HTTP/1.1 200") == NULL, "a connection past the limit was served: %s",
              buf);
}

static void expect_serving_again(void)
{
    double end = now_s() + 5.0;
    long st = 0;
    while (now_s() < end) {
        gw_resp r;
        st = gw_get(G, "/healthz", NULL, &r);
        gw_resp_free(&r);
        if (st == 200)
            break;
        gw_sleep_ms(100);
    }
    cr_expect_eq(st, 200, "the gateway does not serve again after the connections closed");
}

Test(limits, connections_per_ip)
{
    const char *args[] = {"--max-connections-per-ip", "3", NULL};
    G = gw_start("main.json", args);
    int fds[3];
    hold_connections(fds, 3);
    expect_refused();
    gw_resp r;
    gw_get(G, "/healthz", NULL, &r);
    cr_expect_neq(r.status, 200, "libcurl was served past the per-address limit");
    gw_resp_free(&r);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    expect_serving_again();
}

Test(limits, connections_total)
{
    /* One thread: libmicrohttpd splits the total among its pool threads. */
    const char *args[] = {"--max-connections", "3", "--threads", "1", NULL};
    G = gw_start("main.json", args);
    int fds[3];
    hold_connections(fds, 3);
    expect_refused();
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    expect_serving_again();
}

/* Trickles what, one byte every interval_ms, while checking that other
 * clients are served; returns the seconds until the gateway cut the
 * connection (or gave up after limit_s), with what it answered in out. */
static double trickle(const char *first, const char *what, int interval_ms, double limit_s,
                      char *out, size_t cap)
{
    int fd = raw_connect();
    double start = now_s();
    cr_assert(raw_send(fd, first, strlen(first)));
    size_t used = 0;
    out[0] = '\0';
    bool cut = false;
    for (size_t i = 0; now_s() - start < limit_s && !cut; i++) {
        if (!raw_send(fd, what + i % strlen(what), 1))
            cut = true;
        bool closed = false;
        used += raw_read(fd, out + used, cap - used, interval_ms, &closed);
        if (closed)
            cut = true;
        /* meanwhile, the gateway answers everybody else at once */
        double t0 = now_s();
        gw_resp r;
        gw_get(G, "/healthz", NULL, &r);
        cr_expect_eq(r.status, 200, "another client was not served during the trickle");
        cr_expect(now_s() - t0 < gw_ms(1000) / 1000.0, "another client waited %.2f s",
                  now_s() - t0);
        gw_resp_free(&r);
    }
    close(fd);
    return now_s() - start;
}

Test(limits, slow_headers_cut_by_request_timeout)
{
    /* The idle timeout (30 s) never fires: every byte resets it. */
    const char *args[] = {"--request-timeout", "2", "--connection-timeout", "30", NULL};
    G = gw_start("main.json", args);
    char out[4096];
    double took = trickle("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", "abcdefgh", 300,
                          10.0, out, sizeof out);
    cr_expect(took >= 1.8 && took < 5.0, "cut after %.2f s, expected about 2-3 s", took);
    cr_expect(strncmp(out, "HTTP/1.1 408", 12) == 0, "answer: %s", out);
    if (strncmp(out, "HTTP/1.1 408", 12) == 0) {
        json_t *j = raw_body_json(out);
        cr_expect_str_eq(gw_jstr(j, "mapi_error"), "MAPI_E_TIMEOUT");
        cr_expect(strstr(gw_jstr(j, "detail"), "--request-timeout"), "%s", gw_jstr(j, "detail"));
        json_decref(j);
    }
    cr_expect(gw_wait_log(G, "request timeout", 2000), "the cut is not logged");
    expect_serving();
}

Test(limits, slow_body_cut_by_request_timeout)
{
    const char *args[] = {"--request-timeout", "2", NULL};
    G = gw_start("main.json", args);
    char out[4096];
    double took = trickle("POST /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
                          "          ", 300, 10.0, out, sizeof out);
    cr_expect(took >= 1.8 && took < 5.0, "cut after %.2f s, expected about 2-3 s", took);
    cr_expect(strncmp(out, "HTTP/1.1 408", 12) == 0, "answer: %s", out);
    expect_serving();
}

Test(limits, keepalive_requests_each_get_their_own_deadline)
{
    const char *args[] = {"--request-timeout", "2", NULL};
    G = gw_start("main.json", args);
    /* Four quick requests over more than 3 s on one connection: none is late,
     * though the connection outlives --request-timeout. */
    int fd = raw_connect();
    const char *req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (int i = 0; i < 4; i++) {
        cr_assert(raw_send(fd, req, strlen(req)), "request %d: connection gone", i);
        char buf[2048];
        bool closed;
        raw_read(fd, buf, sizeof buf, gw_ms(700), &closed);
        cr_expect(strncmp(buf, "HTTP/1.1 200", 12) == 0, "request %d: %s", i, buf);
        gw_sleep_ms(800);
    }
    close(fd);
}

Test(limits, throttle_flags_and_other_profiles_not_slowed)
{
    const char *args[] = {"--throttle-after", "2", "--throttle-max-delay", "3", NULL};
    G = gw_start("main.json", args);
    gw_add_secret(G, "wrong-pw");
    gw_session s;
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(gw_logon(G, "alice", "wrong-pw", NULL, &s), 401, "failure %d", i);
        gw_session_free(&s);
    }
    /* blocked after 2 (default 5) */
    cr_assert_eq(gw_logon(G, "alice", "wrong-pw", NULL, &s), 429);
    gw_assert_problem(&s.resp, 429, "MAPI_E_LOGON_FAILED");
    const char *ra = gw_header(&s.resp, "Retry-After");
    cr_expect(ra && atoi(ra) >= 1 && atoi(ra) <= 3, "Retry-After %s", ra ? ra : "(none)");
    gw_session_free(&s);
    /* the same address, another profile: not slowed */
    double t0 = now_s();
    gw_logon_ok(G, "bob", "bob-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    cr_expect(now_s() - t0 < gw_ms(1000) / 1000.0, "bob's logon took %.2f s", now_s() - t0);
    gw_session_free(&s);
    /* the delay doubles (1, 2, 4...) but never past --throttle-max-delay */
    int last = 0;
    for (int round = 0; round < 3; round++) {
        double end = now_s() + 5.0;
        long st = 429;
        while (st == 429 && now_s() < end) {
            gw_sleep_ms(250);
            st = gw_logon(G, "alice", "wrong-pw", NULL, &s);
            gw_session_free(&s);
        }
        cr_assert_eq(st, 401, "round %d: still throttled after 5 s", round);
        cr_assert_eq(gw_logon(G, "alice", "wrong-pw", NULL, &s), 429);
        ra = gw_header(&s.resp, "Retry-After");
        last = ra ? atoi(ra) : 0;
        cr_expect(last >= 1 && last <= 3, "round %d: Retry-After %d, max 3", round, last);
        gw_session_free(&s);
    }
    cr_expect(last >= 2, "the delay did not grow: %d", last);
}

Test(limits, bad_limit_values_refused_at_start)
{
    const char *bad[][3] = {
        {"--max-json-depth", "0", NULL},     {"--max-header-bytes", "10", NULL},
        {"--request-timeout", "0", NULL},    {"--throttle-after", "0", NULL},
        {"--throttle-max-delay", "x", NULL}, {"--max-url-bytes", "99999999", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw *g = gw_spawn("main.json", bad[i]);
        int st = gw_wait_exit(g, 5000);
        cr_expect_eq(st, 2, "%s %s: exit %d, expected 2", bad[i][0], bad[i][1], st);
        gw_free(g);
    }
    G = gw_start("main.json", NULL);
}
