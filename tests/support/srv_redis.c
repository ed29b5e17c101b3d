#include "srv_redis.h"

#include "gw.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define REDIS_SERVER "/usr/bin/redis-server"
#define START_TIMEOUT_MS 10000
#define CMD_TIMEOUT_MS 2000
#define SYNC_TIMEOUT_MS 15000

/* ------------------------------------------------------------- RESP client */

typedef struct {
    char *out;
    size_t cap, len;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->cap == 0)
        return;
    size_t room = t->cap - 1 - t->len;
    if (n > room)
        n = room;
    memcpy(t->out + t->len, s, n);
    t->len += n;
    t->out[t->len] = '\0';
}

/* One reply at buf[*pos..len): 1 complete (appended to t), 0 incomplete,
 * -1 malformed. */
static int parse(const char *buf, size_t len, size_t *pos, text *t)
{
    if (*pos >= len)
        return 0;
    const char *line = buf + *pos;
    const char *crlf = memmem(line, len - *pos, "\r\n", 2);
    if (!crlf)
        return 0;
    size_t linelen = (size_t)(crlf - line);
    char type = line[0];
    long long n = strtoll(line + 1, NULL, 10);
    *pos += linelen + 2;
    switch (type) {
    case '+':
    case ':':
        put(t, line + 1, linelen - 1);
        return 1;
    case '-':
        put(t, line, linelen);
        return 1;
    case '$':
        if (n < 0)
            return 1;
        if (len - *pos < (size_t)n + 2)
            return 0;
        put(t, buf + *pos, (size_t)n);
        *pos += (size_t)n + 2;
        return 1;
    case '*':
        for (long long i = 0; i < n; i++) {
            if (i > 0)
                put(t, "\n", 1);
            int r = parse(buf, len, pos, t);
            if (r != 1)
                return r;
        }
        return 1;
    default:
        return -1;
    }
}

static int connect_to(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool srv_redis_cmd(int port, const char *const *argv, char *out, size_t outsz, int timeout_ms)
{
    text t = {out, outsz, 0};
    if (outsz)
        out[0] = '\0';
    int fd = connect_to(port, gw_ms(timeout_ms));
    if (fd < 0) {
        snprintf(out, outsz, "connect 127.0.0.1:%d: %s", port, strerror(errno));
        return false;
    }
    size_t argc = 0, need = 32;
    while (argv[argc])
        need += strlen(argv[argc++]) + 32;
    char *req = malloc(need);
    cr_assert_not_null(req);
    size_t n = (size_t)snprintf(req, need, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++)
        n += (size_t)snprintf(req + n, need - n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    bool ok = send(fd, req, n, MSG_NOSIGNAL) == (ssize_t)n;
    free(req);
    char *buf = NULL;
    size_t len = 0;
    long long deadline = srv_now_ms() + gw_ms(timeout_ms);
    int r = 0;
    while (ok && r == 0 && srv_now_ms() < deadline) {
        char chunk[4096];
        ssize_t got = recv(fd, chunk, sizeof chunk, 0);
        if (got <= 0) {
            ok = false;
            break;
        }
        char *grown = realloc(buf, len + (size_t)got);
        cr_assert_not_null(grown);
        buf = grown;
        memcpy(buf + len, chunk, (size_t)got);
        len += (size_t)got;
        size_t pos = 0;
        t.len = 0;
        if (outsz)
            out[0] = '\0';
        r = parse(buf, len, &pos, &t);
    }
    free(buf);
    close(fd);
    if (r != 1) {
        snprintf(out, outsz, "no complete reply from 127.0.0.1:%d", port);
        return false;
    }
    return true;
}

bool srv_redis_wait_ready(int port, int timeout_ms)
{
    long long deadline = srv_now_ms() + gw_ms(timeout_ms);
    const char *const ping[] = {"PING", NULL};
    char out[128];
    for (;;) {
        if (srv_redis_cmd(port, ping, out, sizeof out, CMD_TIMEOUT_MS) && strcmp(out, "PONG") == 0)
            return true;
        if (srv_now_ms() >= deadline)
            return false;
        gw_sleep_ms(20);
    }
}

long long srv_redis_info_num(int port, const char *field)
{
    const char *const info[] = {"INFO", NULL};
    char *out = malloc(65536);
    cr_assert_not_null(out);
    long long v = -1;
    if (srv_redis_cmd(port, info, out, 65536, CMD_TIMEOUT_MS)) {
        size_t fl = strlen(field);
        for (char *p = out; (p = strstr(p, field)) != NULL; p += fl) {
            if ((p == out || p[-1] == '\n') && p[fl] == ':') {
                v = strtoll(p + fl + 1, NULL, 10);
                break;
            }
        }
    }
    free(out);
    return v;
}

/* ------------------------------------------------------------------ servers */

static void spawn_redis(srv_redis *r)
{
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    /* The working dir is r->proc.dir (srv_spawn): the AOF directory goes there. */
    char *argv[24];
    size_t n = 0;
    argv[n++] = REDIS_SERVER;
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--dir";
    argv[n++] = r->proc.dir;
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "yes";
    argv[n++] = "--appendfsync";
    argv[n++] = "always";
    argv[n++] = "--daemonize";
    argv[n++] = "no";
    argv[n++] = "--logfile";
    argv[n++] = "";
    if (r->replicaof[0]) {
        argv[n++] = "--replicaof";
        argv[n++] = r->replicaof;
    }
    argv[n] = NULL;
    srv_spawn(&r->proc, argv);
    cr_assert(srv_redis_wait_ready(r->port, START_TIMEOUT_MS),
              "redis-server did not answer PING on port %d within %d ms; see %s", r->port,
              gw_ms(START_TIMEOUT_MS), r->proc.log);
}

static void start_in(srv_redis *r, const char *replicaof)
{
    memset(r, 0, sizeof *r);
    cr_assert_eq(access(REDIS_SERVER, X_OK), 0, REDIS_SERVER " missing: install redis-server");
    srv_mkdir(&r->proc, "mapigw-redis");
    r->port = srv_free_port();
    snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
    if (replicaof)
        snprintf(r->replicaof, sizeof r->replicaof, "%s", replicaof);
    spawn_redis(r);
}

void srv_redis_start(srv_redis *r) { start_in(r, NULL); }

void srv_redis_stop(srv_redis *r) { srv_stop(&r->proc); }

void srv_redis_kill9(srv_redis *r)
{
    if (r->proc.pid <= 0)
        return;
    kill(r->proc.pid, SIGKILL);
    waitpid(r->proc.pid, NULL, 0);
    r->proc.pid = 0;
}

void srv_redis_restart(srv_redis *r)
{
    if (r->proc.pid <= 0)
        spawn_redis(r);
}

void srv_redis_destroy(srv_redis *r) { srv_destroy(&r->proc); }

/* ---------------------------------------------------------------- sentinel */

static bool field_is(int port, const char *const *argv, const char *needle)
{
    char out[8192];
    return srv_redis_cmd(port, argv, out, sizeof out, CMD_TIMEOUT_MS) && strstr(out, needle);
}

/* Bounded wait for a reply of argv on port to contain needle. */
static bool wait_for(int port, const char *const *argv, const char *needle, int timeout_ms)
{
    long long deadline = srv_now_ms() + gw_ms(timeout_ms);
    for (;;) {
        if (field_is(port, argv, needle))
            return true;
        if (srv_now_ms() >= deadline)
            return false;
        gw_sleep_ms(50);
    }
}

int srv_redis_sentinel_master_port(const srv_redis_sentinel *t)
{
    const char *const ask[] = {"SENTINEL", "get-master-addr-by-name", SRV_REDIS_MASTER_NAME, NULL};
    char out[256];
    if (!srv_redis_cmd(t->sentinel_port, ask, out, sizeof out, CMD_TIMEOUT_MS))
        return -1;
    char *nl = strchr(out, '\n'); /* "127.0.0.1\n<port>" */
    return nl ? atoi(nl + 1) : -1;
}

void srv_redis_sentinel_start(srv_redis_sentinel *t)
{
    memset(t, 0, sizeof *t);
    srv_redis_start(&t->master);
    char of[64];
    snprintf(of, sizeof of, "127.0.0.1 %d", t->master.port);
    start_in(&t->replica, of);
    const char *const info[] = {"INFO", "replication", NULL};
    cr_assert(wait_for(t->replica.port, info, "master_link_status:up", SYNC_TIMEOUT_MS),
              "the replica on %d did not sync with the master on %d; see %s", t->replica.port,
              t->master.port, t->replica.proc.log);

    srv_mkdir(&t->sentinel, "mapigw-sentinel");
    t->sentinel_port = srv_free_port();
    char conf[4096], path[512];
    snprintf(conf, sizeof conf,
             "port %d\n"
             "bind 127.0.0.1\n"
             "dir %s\n"
             "daemonize no\n"
             "logfile \"\"\n"
             "sentinel resolve-hostnames no\n"
             "sentinel monitor " SRV_REDIS_MASTER_NAME " 127.0.0.1 %d 1\n"
             "sentinel down-after-milliseconds " SRV_REDIS_MASTER_NAME " 1000\n"
             "sentinel failover-timeout " SRV_REDIS_MASTER_NAME " 3000\n"
             "sentinel parallel-syncs " SRV_REDIS_MASTER_NAME " 1\n",
             t->sentinel_port, t->sentinel.dir, t->master.port);
    /* The Sentinel rewrites its configuration file: it must be writable. */
    srv_write_file(&t->sentinel, "sentinel.conf", conf, path);
    char *argv[] = {REDIS_SERVER, path, "--sentinel", NULL};
    srv_spawn(&t->sentinel, argv);
    cr_assert(srv_redis_wait_ready(t->sentinel_port, START_TIMEOUT_MS),
              "the Sentinel did not answer PING on %d; see %s", t->sentinel_port, t->sentinel.log);
    char rport[32];
    snprintf(rport, sizeof rport, "%d", t->replica.port);
    const char *const replicas[] = {"SENTINEL", "replicas", SRV_REDIS_MASTER_NAME, NULL};
    cr_assert(wait_for(t->sentinel_port, replicas, rport, SYNC_TIMEOUT_MS),
              "the Sentinel on %d does not know the replica on %d; see %s", t->sentinel_port,
              t->replica.port, t->sentinel.log);
    snprintf(t->url, sizeof t->url, "redis-sentinel://" SRV_REDIS_MASTER_NAME "@127.0.0.1:%d",
             t->sentinel_port);
}

int srv_redis_failover(srv_redis_sentinel *t, int timeout_ms)
{
    int old = srv_redis_sentinel_master_port(t);
    cr_assert(old > 0, "the Sentinel names no master; see %s", t->sentinel.log);
    srv_redis *victim = old == t->master.port ? &t->master : &t->replica;
    cr_assert_eq(victim->port, old, "the Sentinel's master %d is neither server", old);
    srv_redis_kill9(victim);
    long long deadline = srv_now_ms() + gw_ms(timeout_ms);
    const char *const role[] = {"ROLE", NULL};
    for (;;) {
        int now = srv_redis_sentinel_master_port(t);
        if (now > 0 && now != old && field_is(now, role, "master\n"))
            return now;
        cr_assert(srv_now_ms() < deadline,
                  "no failover within %d ms: the Sentinel still names %d; see %s",
                  gw_ms(timeout_ms), now, t->sentinel.log);
        gw_sleep_ms(50);
    }
}

void srv_redis_sentinel_destroy(srv_redis_sentinel *t)
{
    srv_destroy(&t->sentinel);
    srv_redis_destroy(&t->replica);
    srv_redis_destroy(&t->master);
}
