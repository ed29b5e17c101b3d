/* gateway.c - starting and stopping the gateway under test, its session
 * counts and the sanitizer reports in its log. */
#include "stress.h"

void start_gateway(void)
{
    char portfile[PATH_MAX + 16], datadir[PATH_MAX + 16], idle[16], reap[16], threads[16];
    snprintf(portfile, sizeof portfile, "%s/port", C.workdir);
    snprintf(datadir, sizeof datadir, "%s/data", C.workdir);
    snprintf(log_path, sizeof log_path, "%s/gateway.log", C.workdir);
    snprintf(idle, sizeof idle, "%d", C.idle);
    snprintf(reap, sizeof reap, "%d", C.reap);
    snprintf(threads, sizeof threads, "%d", C.threads);
    unlink(portfile);
    const char *argv[] = {C.gateway, "--listen", "127.0.0.1", "--port", "0", "--port-file",
                          portfile, "--profiles", C.profiles, "--data-dir", datadir, "--admin-key",
                          ADMIN_KEY, "--idle-timeout", idle, "--reap-interval", reap, "--threads",
                          threads, "--lifetime", "3600", "--log-format", "json",
                          /* A client that drops a suspended GET /events stream keeps its
                           * connection slot until the stream is next resumed (keep-alive
                           * tick or event): with the default 15 s and 64 per address,
                           * this test's many short streams would exhaust the per-address
                           * cap (seen in CI). Keep-alives every second also
                           * stress the resume path. */
                          "--events-keepalive", "1", "--max-connections-per-ip", "256",
                          /* Every client may check a password at once here: the model
                           * expects 201 for every right password. The bound (503
                           * MAPI_E_BUSY) has its own black-box test (auth_hardening). */
                          "--max-password-checks", "64", NULL};
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0)
        die("cannot open %s: %s", log_path, strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int nullfd = open("/dev/null", O_RDONLY);
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(logfd);
    gw_pid = pid;
    double deadline = now_s() + 60;
    while (now_s() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            gw_pid = 0;
            die("gateway exited during start-up (status %d); log %s", st, log_path);
        }
        char *p = read_file(portfile);
        if (p && strchr(p, '\n')) {
            port = atoi(p);
            free(p);
            break;
        }
        free(p);
        sleep_s(0.02);
    }
    if (port <= 0)
        die("no port file within 60 s");
    CURL *c = curl_easy_init();
    while (now_s() < deadline) {
        resp r;
        long st = request(c, "GET", "/readyz", NULL, NULL, &r, false);
        resp_free(&r);
        if (st == 200) {
            curl_easy_cleanup(c);
            atomic_store(&n_requests, 0);
            return;
        }
        sleep_s(0.05);
    }
    die("GET /readyz not 200 within 60 s");
}

int stop_gateway(void)
{
    kill(gw_pid, SIGTERM);
    double deadline = now_s() + 60;
    int st;
    while (now_s() < deadline) {
        pid_t r = waitpid(gw_pid, &st, WNOHANG);
        if (r == gw_pid) {
            gw_pid = 0;
            if (WIFEXITED(st))
                return WEXITSTATUS(st);
            return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        sleep_s(0.05);
    }
    kill(gw_pid, SIGKILL);
    waitpid(gw_pid, &st, 0);
    gw_pid = 0;
    return -1;
}

/* The gateway's session count from GET /sessions (admin) and /metrics. */
bool session_counts(CURL *c, long *listed, long *metric, char **detail)
{
    resp r;
    char d[400];
    *listed = *metric = -1;
    request(c, "GET", "/sessions", ADMIN_KEY, NULL, &r, false);
    json_t *n = r.json ? json_object_get(r.json, "count") : NULL;
    json_t *arr = r.json ? json_object_get(r.json, "sessions") : NULL;
    if (r.status != 200 || !json_is_integer(n) || !json_is_array(arr)) {
        unexpected("GET /sessions (admin): %s", describe(&r, d, sizeof d));
        resp_free(&r);
        return false;
    }
    *listed = (long)json_integer_value(n);
    if ((size_t)*listed != json_array_size(arr))
        unexpected("GET /sessions: count %ld but %zu sessions listed", *listed,
                   json_array_size(arr));
    free(*detail);
    *detail = strdup(r.body);
    resp_free(&r);
    request(c, "GET", "/metrics", NULL, NULL, &r, false);
    const char *m = r.body ? strstr(r.body, "\nmapigw_sessions ") : NULL;
    if (r.status != 200 || !m)
        unexpected("GET /metrics: no mapigw_sessions: %s", describe(&r, d, sizeof d));
    else
        *metric = atol(m + strlen("\nmapigw_sessions "));
    resp_free(&r);
    return true;
}

int scan_log(void)
{
    static const char *const reports[] = {"WARNING: ThreadSanitizer",
                                          "ERROR: AddressSanitizer",
                                          "ERROR: LeakSanitizer",
                                          "runtime error",
                                          "SUMMARY: ThreadSanitizer",
                                          "SUMMARY: AddressSanitizer",
                                          "SUMMARY: UndefinedBehaviorSanitizer"};
    char *log = read_file(log_path);
    if (!log)
        return 1;
    int found = 0;
    for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++) {
        int n = 0;
        for (const char *p = log; (p = strstr(p, reports[i])) != NULL; p++)
            n++;
        if (n) {
            fprintf(stderr, "stress: gateway log has %d x \"%s\" (%s)\n", n, reports[i], log_path);
            found += n;
        }
    }
    free(log);
    return found;
}
