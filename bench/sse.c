/* sse.c - the many-event-streams scenario of `make bench` (bench/README.md).
 *
 *   sse PORT TOKEN STREAMS ADDRESSES
 *
 * Opens STREAMS `GET /events` streams of one session on 127.0.0.1:PORT, from
 * ADDRESSES source addresses (127.0.0.2 and up, so that each stays inside the
 * gateway's per-address connection limit), and keeps them open, reading
 * everything they send. Prints "open N" once every stream has its answer's
 * head, then reads commands on stdin:
 *   trigger  POST /status/{transport row}/flush-queues on the session (a status
 *            change every subscriber hears) and print "trigger received=N
 *            p50_ms=.. p99_ms=.. max_ms=..": the time from the request to each
 *            stream's first table_modified event after it (10 s at most);
 *   EOF      close everything and exit.
 * Exit 1 on any error (a stream refused or closed, no transport row).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TAIL 64
#define OPEN_DEADLINE_MS 180000
#define EVENT_DEADLINE_MS 10000

typedef struct {
    int fd;
    int open;            /* the head of the answer came */
    size_t sent;         /* request bytes written */
    double got_ms;       /* time of the first table_modified after the trigger (< 0: none) */
    char tail[TAIL + 1]; /* last bytes read, to find markers across reads */
} stream;

static unsigned short port;
static char request[1024];
static size_t request_len;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int die(const char *what)
{
    fprintf(stderr, "sse: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* One blocking HTTP/1.1 exchange with Connection: close; the body in *body. */
static int http(const char *method, const char *path, const char *token, const char *body,
                char **out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Connection: close\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, token, body ? strlen(body) : 0, body ? body : "");
    if (write(fd, req, (size_t)n) != n)
        return -1;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf && (r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap && !(buf = realloc(buf, cap *= 2)))
            break;
    }
    close(fd);
    if (!buf)
        return -1;
    buf[len] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    char *b = strstr(buf, "\r\n\r\n");
    *out = strdup(b ? b + 4 : "");
    free(buf);
    return status;
}

/* The transport row's flush-queues path. */
static void trigger_path(const char *token, char *path, size_t size)
{
    char *body = NULL;
    if (http("GET", "/status", token, NULL, &body) != 200) {
        fprintf(stderr, "sse: GET /status failed: %s\n", body ? body : "");
        exit(1);
    }
    json_t *t = json_loads(body, 0, NULL);
    json_t *rows = json_object_get(t, "rows"), *row;
    size_t i;
    path[0] = '\0';
    json_array_foreach(rows, i, row)
    {
        json_t *rt = json_object_get(json_object_get(row, "resource_type"), "name");
        if (rt && strcmp(json_string_value(rt), "MAPI_TRANSPORT_PROVIDER") == 0)
            snprintf(path, size, "/status/%s/flush-queues",
                     json_string_value(json_object_get(row, "instance_key")));
    }
    json_decref(t);
    free(body);
    if (!path[0]) {
        fprintf(stderr, "sse: no transport row (log the session on with mail)\n");
        exit(1);
    }
}

static void remember(stream *s, const char *data, size_t len)
{
    size_t keep = strlen(s->tail);
    char buf[TAIL + 4096 + 1];
    if (len > 4096) {
        data += len - 4096;
        len = 4096;
    }
    memcpy(buf, s->tail, keep);
    memcpy(buf + keep, data, len);
    buf[keep + len] = '\0';
    size_t total = keep + len, from = total > TAIL ? total - TAIL : 0;
    memcpy(s->tail, buf + from, total - from + 1);
}

static int contains(const stream *s, const char *data, size_t len, const char *marker)
{
    char buf[TAIL + 4096 + 1];
    size_t keep = strlen(s->tail);
    if (len > 4096)
        len = 4096;
    memcpy(buf, s->tail, keep);
    memcpy(buf + keep, data, len);
    buf[keep + len] = '\0';
    return memmem(buf, keep + len, marker, strlen(marker)) != NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: sse PORT TOKEN STREAMS ADDRESSES\n");
        return 2;
    }
    port = (unsigned short)atoi(argv[1]);
    const char *token = argv[2];
    size_t n = (size_t)atol(argv[3]), addrs = (size_t)atol(argv[4]);
    if (!n || !addrs || addrs > 250)
        return 2;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char path[256];
    trigger_path(token, path, sizeof path);
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n",
                                   token);
    stream *st = calloc(n, sizeof *st);
    int ep = epoll_create1(0);
    if (!st || ep < 0)
        die("setup");
    for (size_t i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0)
            die("socket (raise the open-files limit)");
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7F000002u + (uint32_t)(i % addrs));
        struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
        dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0)
            die("bind");
        if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)
            die("connect");
        st[i].fd = fd;
        st[i].got_ms = -1;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl");
    }
    struct epoll_event in = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    size_t opened = 0;
    int announced = 0, triggered = 0;
    double t0 = 0, deadline = now_ms() + OPEN_DEADLINE_MS;
    size_t received = 0;
    struct epoll_event evs[256];
    char buf[8192];
    for (;;) {
        if (!announced && opened == n) {
            printf("open %zu\n", n);
            fflush(stdout);
            announced = 1;
            if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &in) != 0)
                die("epoll stdin");
        }
        if (!announced && now_ms() > deadline) {
            fprintf(stderr, "sse: only %zu of %zu streams opened in time\n", opened, n);
            return 1;
        }
        if (triggered && (received == n || now_ms() - t0 > EVENT_DEADLINE_MS)) {
            double *lat = malloc(n * sizeof *lat);
            size_t k = 0;
            for (size_t i = 0; lat && i < n; i++)
                if (st[i].got_ms >= 0)
                    lat[k++] = st[i].got_ms - t0;
            if (lat && k)
                qsort(lat, k, sizeof *lat, cmp_double);
            size_t i99 = (k * 99 + 99) / 100; /* the nearest rank */
            printf("trigger received=%zu p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n", k,
                   k ? lat[k / 2] : -1.0, k ? lat[i99 - 1] : -1.0, k ? lat[k - 1] : -1.0);
            fflush(stdout);
            free(lat);
            triggered = 0;
            for (size_t i = 0; i < n; i++)
                st[i].got_ms = -1;
            received = 0;
        }
        int m = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < m; e++) {
            if (evs[e].data.u64 == UINT64_MAX) {
                ssize_t r = read(0, buf, sizeof buf - 1);
                if (r <= 0)
                    return 0; /* EOF: done */
                buf[r] = '\0';
                if (strstr(buf, "trigger")) {
                    char *body = NULL;
                    t0 = now_ms();
                    int status = http("POST", path, token, "{\"flags\":[\"FLUSH_UPLOAD\"]}", &body);
                    if (status != 200) {
                        fprintf(stderr, "sse: trigger answered %d: %s\n", status, body ? body : "");
                        return 1;
                    }
                    free(body);
                    triggered = 1;
                }
                continue;
            }
            stream *s = &st[evs[e].data.u64];
            if ((evs[e].events & EPOLLOUT) && s->sent < request_len) {
                ssize_t w = write(s->fd, request + s->sent, request_len - s->sent);
                if (w > 0)
                    s->sent += (size_t)w;
                if (s->sent == request_len) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = evs[e].data.u64};
                    epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
                }
            }
            if (!(evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            ssize_t r;
            while ((r = read(s->fd, buf, sizeof buf)) > 0) {
                if (!s->open) {
                    if (contains(s, buf, (size_t)r, "HTTP/1.1 200")) {
                        s->open = 1;
                        opened++;
                    } else if (contains(s, buf, (size_t)r, "HTTP/1.1 ")) {
                        fprintf(stderr, "sse: a stream was refused: %.*s\n",
                                (int)(r > 200 ? 200 : r), buf);
                        return 1;
                    }
                }
                if (triggered && s->got_ms < 0 && contains(s, buf, (size_t)r, "table_modified")) {
                    s->got_ms = now_ms();
                    received++;
                }
                remember(s, buf, (size_t)r);
            }
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                fprintf(stderr, "sse: a stream closed (%zu open)\n", opened);
                return 1;
            }
        }
    }
}
