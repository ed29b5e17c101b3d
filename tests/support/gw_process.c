/* gw_process.c - starting and stopping the gateway process, its per-test
 * log file and bounded waits (see gw.h). */
#include "gw_private.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GW_START_TIMEOUT_MS 10000
#define GW_STOP_TIMEOUT_MS 10000

static int gw_counter;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void path_join(char *out, size_t outsz, const char *a, const char *b)
{
    int n = snprintf(out, outsz, "%s/%s", a, b);
    cr_assert(n > 0 && (size_t)n < outsz, "path too long");
}

/* ---------------------------------------------------------------- process */

static void sanitize_name(char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            *s = '_';
    }
}

static void make_log_path(gw *g)
{
    const char *dir = getenv("MAPIGW_TEST_LOGS");
    if (!dir || !*dir)
        dir = "/tmp";
    gw_mkdirs(dir);
    char suite[96] = "suite", test[96] = "test";
    if (criterion_current_test) {
        if (criterion_current_test->category)
            snprintf(suite, sizeof suite, "%s", criterion_current_test->category);
        if (criterion_current_test->name)
            snprintf(test, sizeof test, "%s", criterion_current_test->name);
    }
    sanitize_name(suite);
    sanitize_name(test);
    int n = snprintf(g->log, sizeof g->log, "%s/%s-%s-%ld-%d.log", dir, suite, test, (long)getpid(),
                     ++gw_counter);
    cr_assert(n > 0 && (size_t)n < sizeof g->log);
}

static int decode_status(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

static bool poll_exit(gw *g)
{
    if (g->exited)
        return true;
    int st;
    pid_t r = waitpid(g->pid, &st, WNOHANG);
    if (r == g->pid) {
        g->exited = true;
        g->exit_status = decode_status(st);
        return true;
    }
    return false;
}

static char *tail_of(char *all)
{
    size_t n = strlen(all);
    if (n > 3000)
        memmove(all, all + n - 3000, 3001);
    return all;
}

static char *log_tail(const gw *g) { return tail_of(gw_read_log(g)); }

/* <log without .log>.stdout.log: still *.log, so the whole-suite checks
 * (scripts/check-secrets.sh, make check-logs) read it too. */
static void make_stdout_path(gw *g)
{
    size_t n = strlen(g->log);
    if (n > 4 && strcmp(g->log + n - 4, ".log") == 0)
        n -= 4;
    int w = snprintf(g->out, sizeof g->out, "%.*s.stdout.log", (int)n, g->log);
    cr_assert(w > 0 && (size_t)w < sizeof g->out, "path too long");
}

static gw *spawn(const char *profiles_file, const char *const *extra_args, bool split)
{
    const char *bin = getenv("MAPIGW_BIN");
    cr_assert(bin != NULL && *bin, "MAPIGW_BIN is not set");
    cr_assert(access(bin, X_OK) == 0, "MAPIGW_BIN %s is not executable", bin);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    gw *g = calloc(1, sizeof *g);
    cr_assert(g != NULL);
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    snprintf(g->tmp, sizeof g->tmp, "%s/mapigw-bb-XXXXXX", tmpdir);
    cr_assert(mkdtemp(g->tmp) != NULL, "mkdtemp: %s", strerror(errno));
    path_join(g->data, sizeof g->data, g->tmp, "data");
    path_join(g->portfile, sizeof g->portfile, g->tmp, "port");
    const char *base = strrchr(profiles_file, '/');
    base = base ? base + 1 : profiles_file;
    path_join(g->profiles, sizeof g->profiles, g->tmp, base);
    gw_copy_profiles(profiles_file, g->profiles);
    make_log_path(g);
    if (split)
        make_stdout_path(g);

    /* argv: $MAPIGW_BIN_WRAPPER (space-separated words, e.g. "valgrind
     * --error-exitcode=99" or "/usr/bin/prlimit --fsize=4096 --") runs the
     * gateway; both exec it in the same process, so the PID stays the
     * gateway's. */
    char *wrapper = getenv("MAPIGW_BIN_WRAPPER") ? strdup(getenv("MAPIGW_BIN_WRAPPER")) : NULL;
    const char *wrap[32];
    size_t nwrap = 0;
    for (char *save = NULL, *w = wrapper ? strtok_r(wrapper, " ", &save) : NULL; w && nwrap < 32;
         w = strtok_r(NULL, " ", &save))
        wrap[nwrap++] = w;
    size_t nextra = 0;
    bool has_store = false;
    while (extra_args && extra_args[nextra])
        has_store |= strcmp(extra_args[nextra++], "--store") == 0;
    /* Redis mode (make test-redis-mode): every gateway shares the run's
     * Redis, each start under a prefix of its own so that tests stay as
     * isolated as in memory mode. A test that passes --store (the replicas
     * suite) chooses its own store and prefix. */
    const char *store_url = getenv("MAPIGW_TEST_STORE_URL");
    char prefix[96];
    const char *store[4] = {NULL};
    size_t nstore = 0;
    if (store_url && *store_url && !has_store) {
        uint32_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            rnd = (uint32_t)now_ms();
        snprintf(prefix, sizeof prefix, "gwt%ld.%d.%08x:", (long)getpid(), gw_counter, rnd);
        store[nstore++] = "--store";
        store[nstore++] = store_url;
        store[nstore++] = "--store-prefix";
        store[nstore++] = prefix;
    }
    const char *fixed[] = {bin,           "--listen",     "127.0.0.1",  "--port",    "0",
                           "--port-file", g->portfile,    "--profiles", g->profiles, "--data-dir",
                           g->data,       "--log-format", "json"};
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    char **argv = calloc(nwrap + nfixed + nstore + nextra + 1, sizeof *argv);
    cr_assert(argv != NULL);
    for (size_t i = 0; i < nwrap; i++)
        argv[i] = (char *)wrap[i];
    for (size_t i = 0; i < nfixed; i++)
        argv[nwrap + i] = (char *)fixed[i];
    for (size_t i = 0; i < nstore; i++)
        argv[nwrap + nfixed + i] = (char *)store[i];
    for (size_t i = 0; i < nextra; i++)
        argv[nwrap + nfixed + nstore + i] = (char *)extra_args[i];

    setenv("ASAN_OPTIONS", "detect_leaks=1:exitcode=23", 0);
    setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1", 0);

    int logfd = open(g->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(logfd >= 0, "cannot open log %s: %s", g->log, strerror(errno));
    int outfd = logfd;
    if (split) {
        outfd = open(g->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert(outfd >= 0, "cannot open %s: %s", g->out, strerror(errno));
    }
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert(nullfd >= 0);
    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536)
        maxfd = 65536;
    pid_t parent = getpid();

    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* the gateway must not outlive a crashed test process */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        dup2(nullfd, 0);
        dup2(outfd, 1);
        dup2(logfd, 2);
        for (long fd = 3; fd < maxfd; fd++)
            close((int)fd);
        execvp(argv[0], argv); /* a wrapper may be named by its PATH name */
        static const char msg[] = "gw_spawn: execv failed\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    if (outfd != logfd)
        close(outfd);
    close(logfd);
    close(nullfd);
    free(argv);
    free(wrapper);
    g->pid = pid;
    return g;
}

int gw_wait_exit(gw *g, int timeout_ms)
{
    long long deadline = now_ms() + gw_ms(timeout_ms);
    while (!poll_exit(g)) {
        if (now_ms() >= deadline)
            return -1;
        sleep_ms(10);
    }
    return g->exit_status;
}

/* Stops and removes g, then fails the test with msg. */
static void start_failed(gw *g, const char *msg)
{
    char *tail = log_tail(g);
    cr_log_error("gateway log %s:\n%s", g->log, tail);
    free(tail);
    if (g->out[0]) {
        tail = tail_of(gw_read_stdout(g));
        cr_log_error("gateway stdout %s:\n%s", g->out, tail);
        free(tail);
    }
    char copy[PATH_MAX + 600];
    int n = snprintf(copy, sizeof copy, "%s (log %s)", msg, g->log);
    (void)n;
    gw_stop(g);
    gw_free(g);
    cr_assert_fail("%s", copy);
}

gw *gw_spawn(const char *profiles_file, const char *const *extra_args)
{
    return spawn(profiles_file, extra_args, false);
}

gw *gw_spawn_split(const char *profiles_file, const char *const *extra_args)
{
    return spawn(profiles_file, extra_args, true);
}

/* Bounded waits for the port file, then for GET /readyz 200. */
static gw *wait_ready(gw *g)
{
    char msg[512];
    long long deadline = now_ms() + gw_ms(GW_START_TIMEOUT_MS);
    for (;;) {
        if (poll_exit(g)) {
            snprintf(msg, sizeof msg, "gateway exited during start-up with status %d",
                     g->exit_status);
            start_failed(g, msg);
        }
        char *p = gw_read_whole(g->portfile, NULL);
        if (p && strchr(p, '\n')) {
            char *end;
            long port = strtol(p, &end, 10);
            bool ok = port > 0 && port < 65536 && *end == '\n';
            if (!ok)
                snprintf(msg, sizeof msg, "port file holds \"%.40s\", not a port and a newline", p);
            free(p);
            if (!ok)
                start_failed(g, msg);
            g->port = (int)port;
            break;
        }
        free(p);
        if (now_ms() >= deadline) {
            snprintf(msg, sizeof msg, "no port file within %d ms", gw_ms(GW_START_TIMEOUT_MS));
            start_failed(g, msg);
        }
        sleep_ms(10);
    }
    deadline = now_ms() + gw_ms(GW_START_TIMEOUT_MS);
    for (;;) {
        gw_resp r;
        long st = gw_get(g, "/readyz", NULL, &r);
        gw_resp_free(&r);
        if (st == 200)
            break;
        if (poll_exit(g)) {
            snprintf(msg, sizeof msg, "gateway exited before ready, status %d", g->exit_status);
            start_failed(g, msg);
        }
        if (now_ms() >= deadline) {
            snprintf(msg, sizeof msg, "GET /readyz not 200 within %d ms (last %ld)",
                     gw_ms(GW_START_TIMEOUT_MS), st);
            start_failed(g, msg);
        }
        sleep_ms(20);
    }
    return g;
}

gw *gw_start(const char *profiles_file, const char *const *extra_args)
{
    return wait_ready(spawn(profiles_file, extra_args, false));
}

gw *gw_start_split(const char *profiles_file, const char *const *extra_args)
{
    return wait_ready(spawn(profiles_file, extra_args, true));
}

int gw_stop(gw *g)
{
    if (!g)
        return -1;
    if (poll_exit(g))
        return g->exit_status;
    kill(g->pid, SIGTERM);
    if (gw_wait_exit(g, GW_STOP_TIMEOUT_MS) >= 0 || g->exited)
        return g->exit_status;
    cr_log_error("gateway pid %ld ignored SIGTERM for %d ms: SIGKILL (log %s)", (long)g->pid,
                 gw_ms(GW_STOP_TIMEOUT_MS), g->log);
    kill(g->pid, SIGKILL);
    int st;
    waitpid(g->pid, &st, 0);
    g->exited = true;
    g->exit_status = -1;
    return -1;
}

void gw_free(gw *g)
{
    if (!g)
        return;
    if (!g->exited) {
        kill(g->pid, SIGKILL);
        int st;
        waitpid(g->pid, &st, 0);
        g->exited = true;
    }
    gw_rmrf(g->tmp);
    for (size_t i = 0; i < g->nsecrets; i++)
        free(g->secrets[i]);
    free(g->secrets);
    free(g);
}

void gw_finish(gw *g)
{
    if (!g)
        return;
    int st = gw_stop(g);
    if (st != 0) {
        char *tail = log_tail(g);
        cr_log_error("gateway log %s:\n%s", g->log, tail);
        free(tail);
    }
    cr_expect_eq(st, 0, "gateway exit status %d after SIGTERM, expected 0 (log %s)", st, g->log);
    gw_check_log_secrets(g);
    gw_free(g);
}

int gw_port(const gw *g) { return g->port; }
pid_t gw_pid(const gw *g) { return g->pid; }
const char *gw_tmp_dir(const gw *g) { return g->tmp; }
const char *gw_data_dir(const gw *g) { return g->data; }
const char *gw_profiles_path(const gw *g) { return g->profiles; }
const char *gw_log_path(const gw *g) { return g->log; }
const char *gw_stdout_path(const gw *g) { return g->out[0] ? g->out : NULL; }

char *gw_read_log(const gw *g)
{
    char *s = gw_read_whole(g->log, NULL);
    return s ? s : gw_xstrdup("");
}

char *gw_read_stdout(const gw *g)
{
    char *s = g->out[0] ? gw_read_whole(g->out, NULL) : NULL;
    return s ? s : gw_xstrdup("");
}

bool gw_wait_log(const gw *g, const char *needle, int timeout_ms)
{
    long long deadline = now_ms() + gw_ms(timeout_ms);
    for (;;) {
        char *log = gw_read_log(g);
        bool found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return true;
        if (now_ms() >= deadline)
            return false;
        sleep_ms(20);
    }
}

void gw_sleep_ms(int ms) { sleep_ms(ms); }

double gw_time_scale(void)
{
    static double scale; /* computed once; the environment does not change */
    if (scale == 0) {
        const char *v = getenv("MAPIGW_TEST_TIME_SCALE");
        char *end = NULL;
        double f = v ? strtod(v, &end) : 1;
        scale = (v && (end == v || *end || !(f >= 1) || f > 1000)) ? 1 : f;
    }
    return scale;
}

int gw_ms(int ms)
{
    double scaled = ms * gw_time_scale();
    return scaled >= INT_MAX ? INT_MAX : (int)(scaled + 0.999);
}

void gw_expect_start_refused(const char *profiles_file, const char *const *extra_args,
                             const char *const *needles)
{
    gw *g = gw_spawn(profiles_file, extra_args);
    int status = gw_wait_exit(g, 10000);
    char *log = gw_read_log(g);
    cr_assert_eq(status, 2, "exit status %d, expected 2; log:\n%s", status, log);
    for (size_t i = 0; needles[i]; i++) {
        /* Start-up errors are JSON log lines: quotes in them are escaped. */
        char escaped[1024];
        size_t o = 0;
        for (const char *p = needles[i]; *p && o + 3 < sizeof escaped; p++) {
            if (*p == '"' || *p == '\\')
                escaped[o++] = '\\';
            escaped[o++] = *p;
        }
        escaped[o] = '\0';
        cr_expect(strstr(log, needles[i]) != NULL || strstr(log, escaped) != NULL,
                  "no \"%s\" in the log:\n%s", needles[i], log);
    }
    free(log);
    gw_check_log_secrets(g);
    gw_free(g);
}
