/* common.c - the stress client's settings, counters and small helpers. */
#include "stress.h"

settings C = {NULL, 16, 15, 2, 1, 4, "tests/profiles/stress.json", "", 0};

int port;
pid_t gw_pid;
char log_path[PATH_MAX + 32];

atomic_long n_requests, n_unexpected;
const char *const op_names[OP_COUNT] = {
    "logon",         "logon_shared", "join", "status", "identity",  "session", "events",  "logoff",
    "logoff_shared", "park",         "wake", "dead",   "bad_logon", "forged",  "other_id"};
/* Interesting outcomes, for the summary. */
atomic_long n_joined, n_expired_seen, n_expired_racing, n_ended_by_shared, n_throttled,
    n_events_ended;

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

void unexpected(const char *fmt, ...)
{
    long n = atomic_fetch_add(&n_unexpected, 1) + 1;
    if (n > 50)
        return; /* enough to go on */
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_lock);
    fprintf(stderr, "stress: UNEXPECTED: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&out_lock);
    va_end(ap);
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stress: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (gw_pid > 0) {
        kill(gw_pid, SIGKILL);
        waitpid(gw_pid, NULL, 0);
        fprintf(stderr, "stress: gateway log: %s\n", log_path);
    }
    exit(1);
}

char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}
