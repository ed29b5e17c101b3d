/* raw_http.c - HTTP over a plain socket for black-box tests (raw_http.h). */
#include "raw_http.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int raw_connect(const gw *g)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)gw_port(g));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0, "connect: %s",
              strerror(errno));
    return fd;
}

bool raw_send(int fd, const char *s, size_t len)
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

/* Waits for input until end (ms, monotonic): 1 readable, 0 timed out. */
static int wait_readable(int fd, double end)
{
    int left = (int)(end - now_ms());
    if (left <= 0)
        return 0;
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, left) > 0 ? 1 : 0;
}

size_t raw_read(int fd, char *buf, size_t cap, int timeout_ms, bool *closed)
{
    size_t used = 0;
    *closed = false;
    double end = now_ms() + gw_ms(timeout_ms);
    while (used + 1 < cap && wait_readable(fd, end)) {
        ssize_t n = recv(fd, buf + used, cap - 1 - used, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        used += (size_t)n;
    }
    buf[used] = '\0';
    return used;
}

size_t raw_read_answer(int fd, char *buf, size_t cap, int timeout_ms, bool *closed)
{
    size_t used = 0;
    *closed = false;
    buf[0] = '\0';
    double end = now_ms() + gw_ms(timeout_ms);
    /* The head one byte at a time, so that nothing past it is taken. */
    while (used + 1 < cap && !(used >= 4 && memcmp(buf + used - 4, "\r\n\r\n", 4) == 0)) {
        if (!wait_readable(fd, end))
            return 0;
        ssize_t n = recv(fd, buf + used, 1, 0);
        if (n <= 0) {
            *closed = true;
            buf[used] = '\0';
            return 0;
        }
        used++;
    }
    buf[used] = '\0';
    int status = raw_status(buf);
    char cl[32];
    size_t body = 0;
    if (status != 304 && status != 204 && raw_header(buf, "Content-Length", cl, sizeof cl))
        body = (size_t)strtoull(cl, NULL, 10);
    cr_assert(used + body < cap, "answer larger than the buffer (%zu bytes)", cap);
    while (body > 0) {
        if (!wait_readable(fd, end))
            return 0;
        ssize_t n = recv(fd, buf + used, body, 0);
        if (n <= 0) {
            *closed = true;
            return 0;
        }
        used += (size_t)n;
        body -= (size_t)n;
    }
    buf[used] = '\0';
    return used;
}

int raw_status(const char *answer)
{
    int status = 0;
    if (sscanf(answer, "HTTP/1.%*1[01] %d", &status) != 1)
        return 0;
    return status;
}

size_t raw_count_answers(const char *answer)
{
    size_t n = 0;
    for (const char *p = answer; (p = strstr(p, "HTTP/1.")) != NULL; p++)
        if (p == answer || p[-1] == '\n')
            n++;
    return n;
}

bool raw_header(const char *answer, const char *name, char *out, size_t cap)
{
    const char *end = strstr(answer, "\r\n\r\n");
    size_t nlen = strlen(name);
    for (const char *line = strstr(answer, "\r\n"); line && (!end || line < end);
         line = strstr(line + 2, "\r\n")) {
        const char *f = line + 2;
        if (strncasecmp(f, name, nlen) == 0 && f[nlen] == ':') {
            const char *v = f + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vlen = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)vlen, v);
            return true;
        }
    }
    return false;
}

json_t *raw_body_json(const char *answer)
{
    const char *body = strstr(answer, "\r\n\r\n");
    cr_assert_not_null(body, "no header end in: %s", answer);
    json_error_t err;
    json_t *j = json_loads(body + 4, 0, &err);
    cr_assert_not_null(j, "body is not JSON (%s): %s", err.text, body + 4);
    return j;
}
