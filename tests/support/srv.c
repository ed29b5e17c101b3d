#include "srv.h"

#include "gw.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SRV_STOP_WAIT_MS 5000 /* SIGTERM's grace before SIGKILL */

int srv_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
    socklen_t len = sizeof a;
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

void srv_mkdir(srv_proc *p, const char *prefix)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/%s-XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(p->dir), "mkdtemp: %s", strerror(errno));
    snprintf(p->log, sizeof p->log, "%s/server.log", p->dir);
}

void srv_spawn(srv_proc *p, char *const argv[])
{
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        if (chdir(p->dir) != 0)
            _exit(126);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    p->pid = pid;
}

long long srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool srv_wait_port(const srv_proc *p, int port, int timeout_ms)
{
    struct timespec step = {0, 20 * 1000 * 1000};
    long long deadline = srv_now_ms() + gw_ms(timeout_ms);
    while (srv_now_ms() < deadline) {
        if (p->pid > 0 && waitpid(p->pid, NULL, WNOHANG) == p->pid)
            return false;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return true;
        nanosleep(&step, NULL);
    }
    return false;
}

int srv_wait_exit(srv_proc *p, int timeout_ms)
{
    struct timespec step = {0, 20 * 1000 * 1000};
    long long deadline = srv_now_ms() + gw_ms(timeout_ms);
    int status = 0;
    for (;;) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return status;
        }
        if (srv_now_ms() >= deadline)
            break;
        nanosleep(&step, NULL);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
    return -1;
}

void srv_stop(srv_proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    struct timespec step = {0, 20 * 1000 * 1000};
    long long deadline = srv_now_ms() + gw_ms(SRV_STOP_WAIT_MS);
    while (srv_now_ms() < deadline) {
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        nanosleep(&step, NULL);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

void srv_destroy(srv_proc *p)
{
    srv_stop(p);
    if (p->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
        if (system(cmd) != 0)
            cr_log_warn("could not remove %s", p->dir);
        p->dir[0] = '\0';
    }
}

const char *srv_write_file(const srv_proc *p, const char *name, const char *text, char *out)
{
    snprintf(out, 512, "%s/%s", p->dir, name);
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f, "fopen %s: %s", out, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    return out;
}
