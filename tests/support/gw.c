/* gw.c - see gw.h. */
#include "gw.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#define GW_START_TIMEOUT_MS 10000
#define GW_STOP_TIMEOUT_MS 10000
#define GW_REQUEST_TIMEOUT_MS 15000L

struct gw {
    pid_t pid;
    bool exited;
    int exit_status;
    int port;
    char tmp[PATH_MAX];
    char data[PATH_MAX];
    char profiles[PATH_MAX];
    char portfile[PATH_MAX];
    char log[PATH_MAX];
    char **secrets;
    size_t nsecrets;
};

static int gw_counter;

/* ---------------------------------------------------------------- utils */

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

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    cr_assert(d != NULL, "out of memory");
    return d;
}

static char *read_whole(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (len_out)
            *len_out = 0;
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    cr_assert(buf != NULL);
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(buf != NULL);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

void gw_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "cannot write %s: %s", path, strerror(errno));
    size_t n = strlen(content);
    cr_assert(fwrite(content, 1, n, f) == n, "short write to %s", path);
    cr_assert(fclose(f) == 0, "cannot close %s", path);
}

void gw_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    cr_assert(strlen(path) < sizeof buf);
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                cr_assert_fail("mkdir %s: %s", buf, strerror(errno));
            *p = '/';
        }
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        cr_assert_fail("mkdir %s: %s", buf, strerror(errno));
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int gw_rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

int gw_count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static void resolve_profiles(const char *profiles_file, char *out, size_t outsz)
{
    if (profiles_file[0] == '/') {
        cr_assert(strlen(profiles_file) < outsz);
        strcpy(out, profiles_file);
        return;
    }
    const char *dir = getenv("MAPIGW_TEST_PROFILES");
    cr_assert(dir != NULL && *dir, "MAPIGW_TEST_PROFILES is not set");
    int n = snprintf(out, outsz, "%s/%s", dir, profiles_file);
    cr_assert(n > 0 && (size_t)n < outsz);
}

void gw_copy_profiles(const char *profiles_file, const char *dest)
{
    char src[PATH_MAX];
    resolve_profiles(profiles_file, src, sizeof src);
    size_t len;
    char *content = read_whole(src, &len);
    cr_assert(content != NULL, "cannot read profiles file %s", src);
    /* write to a temp name and rename, so a reload never sees half a file */
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", dest);
    gw_write_file(tmp, content);
    cr_assert(rename(tmp, dest) == 0, "rename %s: %s", tmp, strerror(errno));
    free(content);
}

char *gw_data_path(const gw *g, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof rel);
    size_t sz = strlen(g->data) + 1 + strlen(rel) + 1;
    char *p = malloc(sz);
    cr_assert(p != NULL);
    snprintf(p, sz, "%s/%s", g->data, rel);
    return p;
}

char *gw_urlencode(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    cr_assert(out != NULL);
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            sprintf(o, "%%%02X", *p);
            o += 3;
        }
    }
    *o = '\0';
    return out;
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

static char *log_tail(const gw *g)
{
    char *all = gw_read_log(g);
    size_t n = strlen(all);
    if (n > 3000)
        memmove(all, all + n - 3000, 3001);
    return all;
}

gw *gw_spawn(const char *profiles_file, const char *const *extra_args)
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

    /* argv */
    size_t nextra = 0;
    while (extra_args && extra_args[nextra])
        nextra++;
    const char *fixed[] = {bin,           "--listen",     "127.0.0.1",  "--port",    "0",
                           "--port-file", g->portfile,    "--profiles", g->profiles, "--data-dir",
                           g->data,       "--log-format", "json"};
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    char **argv = calloc(nfixed + nextra + 1, sizeof *argv);
    cr_assert(argv != NULL);
    for (size_t i = 0; i < nfixed; i++)
        argv[i] = (char *)fixed[i];
    for (size_t i = 0; i < nextra; i++)
        argv[nfixed + i] = (char *)extra_args[i];

    setenv("ASAN_OPTIONS", "detect_leaks=1:exitcode=23", 0);
    setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1", 0);

    int logfd = open(g->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(logfd >= 0, "cannot open log %s: %s", g->log, strerror(errno));
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
        dup2(logfd, 1);
        dup2(logfd, 2);
        for (long fd = 3; fd < maxfd; fd++)
            close((int)fd);
        execv(bin, argv);
        static const char msg[] = "gw_spawn: execv failed\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    close(logfd);
    close(nullfd);
    free(argv);
    g->pid = pid;
    return g;
}

int gw_wait_exit(gw *g, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
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
    char copy[PATH_MAX + 600];
    int n = snprintf(copy, sizeof copy, "%s (log %s)", msg, g->log);
    (void)n;
    gw_stop(g);
    gw_free(g);
    cr_assert_fail("%s", copy);
}

gw *gw_start(const char *profiles_file, const char *const *extra_args)
{
    gw *g = gw_spawn(profiles_file, extra_args);
    char msg[512];
    long long deadline = now_ms() + GW_START_TIMEOUT_MS;
    for (;;) {
        if (poll_exit(g)) {
            snprintf(msg, sizeof msg, "gateway exited during start-up with status %d",
                     g->exit_status);
            start_failed(g, msg);
        }
        char *p = read_whole(g->portfile, NULL);
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
            snprintf(msg, sizeof msg, "no port file within %d ms", GW_START_TIMEOUT_MS);
            start_failed(g, msg);
        }
        sleep_ms(10);
    }
    deadline = now_ms() + GW_START_TIMEOUT_MS;
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
                     GW_START_TIMEOUT_MS, st);
            start_failed(g, msg);
        }
        sleep_ms(20);
    }
    return g;
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
                 GW_STOP_TIMEOUT_MS, g->log);
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

static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;

void gw_add_secret(gw *g, const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&secrets_lock);
    bool known = false;
    for (size_t i = 0; i < g->nsecrets && !known; i++)
        known = strcmp(g->secrets[i], secret) == 0;
    if (!known) {
        char **n = realloc(g->secrets, (g->nsecrets + 1) * sizeof *n);
        char *d = strdup(secret);
        if (n) {
            g->secrets = n;
            if (d)
                g->secrets[g->nsecrets++] = d;
        } else {
            free(d);
        }
    }
    pthread_mutex_unlock(&secrets_lock);
}

char *gw_read_log(const gw *g)
{
    char *s = read_whole(g->log, NULL);
    return s ? s : xstrdup("");
}

void gw_check_log_secrets(gw *g)
{
    char *log = gw_read_log(g);
    for (size_t i = 0; i < g->nsecrets; i++) {
        const char *s = g->secrets[i];
        /* a token may also be logged without its prefix */
        const char *core = strncmp(s, "mgw_", 4) == 0 ? s + 4 : s;
        cr_expect(strstr(log, core) == NULL, "secret \"%.8s...\" appears in gateway log %s", s,
                  g->log);
    }
    /* and nothing that looks like a token (mgw_ + a run of URL-safe chars) */
    for (const char *p = log; (p = strstr(p, "mgw_")) != NULL; p += 4) {
        size_t n = 0;
        const char *q = p + 4;
        while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
               *q == '-' || *q == '_') {
            n++;
            q++;
        }
        cr_expect(n < 20, "something token-like (mgw_%.4s... %zu chars) in gateway log %s", p + 4,
                  n, g->log);
    }
    free(log);
}

bool gw_wait_log(const gw *g, const char *needle, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
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

/* ---------------------------------------------------------------- HTTP */

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf_t *b = ud;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static void resp_clear_headers(gw_resp *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    free(r->hname);
    free(r->hvalue);
    r->hname = r->hvalue = NULL;
    r->nheaders = 0;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    gw_resp *r = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        resp_clear_headers(r); /* a new response (e.g. after 100 Continue) */
        return n;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon)
        return n;
    size_t nl = (size_t)(colon - ptr);
    const char *v = colon + 1;
    const char *end = ptr + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    char **hn = realloc(r->hname, (r->nheaders + 1) * sizeof *hn);
    if (!hn)
        return 0;
    r->hname = hn;
    char **hv = realloc(r->hvalue, (r->nheaders + 1) * sizeof *hv);
    if (!hv)
        return 0;
    r->hvalue = hv;
    r->hname[r->nheaders] = strndup(ptr, nl);
    r->hvalue[r->nheaders] = strndup(v, (size_t)(end - v));
    r->nheaders++;
    return n;
}

const char *gw_header(const gw_resp *resp, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->hname[i], name) == 0)
            found = resp->hvalue[i];
    return found;
}

static bool has_header(const char *const *headers, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], name, nl) == 0 && headers[i][nl] == ':')
            return true;
    return false;
}

long gw_request_n(gw *g, const char *method, const char *path, const char *const *headers,
                  const char *body, size_t body_len, gw_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    CURL *c = curl_easy_init();
    cr_assert(c != NULL, "curl_easy_init failed");
    char url[4096];
    int n = snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g->port, path);
    cr_assert(n > 0 && (size_t)n < sizeof url, "path too long");
    buf_t b = {0};
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    bool is_post = strcmp(method, "POST") == 0;
    if (body && !has_header(headers, "Content-Type"))
        hl = curl_slist_append(hl, "Content-Type: application/json");
    if (!body && is_post && !has_header(headers, "Content-Type"))
        hl = curl_slist_append(hl, "Content-Type:"); /* curl would add a form type */

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, GW_REQUEST_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->errbuf);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (strcmp(method, "GET") == 0) {
        /* default */
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        if (body || is_post) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        }
        if (!is_post)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    } else {
        resp->status = 0;
        if (!resp->errbuf[0])
            snprintf(resp->errbuf, sizeof resp->errbuf, "%s", curl_easy_strerror(rc));
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);

    resp->body = b.data ? b.data : xstrdup("");
    resp->body_len = b.len;
    const char *ct = gw_header(resp, "Content-Type");
    if (ct && (strncasecmp(ct, "application/json", 16) == 0 ||
               strncasecmp(ct, "application/problem+json", 24) == 0)) {
        json_error_t err;
        resp->json = json_loadb(resp->body, resp->body_len, 0, &err);
    }
    if (resp->json && json_is_object(resp->json)) {
        const char *tok = gw_jstr(resp->json, "token");
        if (tok)
            gw_add_secret(g, tok);
    }
    return resp->status;
}

long gw_request(gw *g, const char *method, const char *path, const char *const *headers,
                const char *body, gw_resp *resp)
{
    return gw_request_n(g, method, path, headers, body, body ? strlen(body) : 0, resp);
}

static long req_auth(gw *g, const char *method, const char *path, const char *token,
                     const char *body, gw_resp *resp)
{
    char auth[512];
    const char *hdrs[2] = {NULL, NULL};
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs[0] = auth;
    }
    return gw_request(g, method, path, hdrs, body, resp);
}

long gw_get(gw *g, const char *path, const char *token, gw_resp *resp)
{
    return req_auth(g, "GET", path, token, NULL, resp);
}

long gw_delete(gw *g, const char *path, const char *token, gw_resp *resp)
{
    return req_auth(g, "DELETE", path, token, NULL, resp);
}

long gw_post(gw *g, const char *path, const char *token, const char *json_body, gw_resp *resp)
{
    return req_auth(g, "POST", path, token, json_body, resp);
}

void gw_resp_free(gw_resp *resp)
{
    if (!resp)
        return;
    free(resp->body);
    resp->body = NULL;
    if (resp->json)
        json_decref(resp->json);
    resp->json = NULL;
    resp_clear_headers(resp);
}

/* ---------------------------------------------------------------- logon */

long gw_logon(gw *g, const char *profile, const char *password, const char *flags_json,
              gw_session *out)
{
    memset(out, 0, sizeof *out);
    json_t *o = json_object();
    if (profile)
        json_object_set_new(o, "profile", json_string(profile));
    if (password) {
        json_object_set_new(o, "password", json_string(password));
        gw_add_secret(g, password);
    }
    if (flags_json) {
        json_error_t err;
        json_t *f = json_loads(flags_json, JSON_DECODE_ANY, &err);
        cr_assert(f != NULL, "test bug: flags_json %s: %s", flags_json, err.text);
        json_object_set_new(o, "flags", f);
    }
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    cr_assert(body != NULL);
    out->status = gw_post(g, "/sessions", NULL, body, &out->resp);
    free(body);
    if (out->status == 201 && out->resp.json) {
        const char *id = gw_jstr(out->resp.json, "id");
        const char *tok = gw_jstr(out->resp.json, "token");
        if (id)
            snprintf(out->id, sizeof out->id, "%s", id);
        if (tok)
            snprintf(out->token, sizeof out->token, "%s", tok);
    }
    return out->status;
}

void gw_logon_ok(gw *g, const char *profile, const char *password, const char *flags_json,
                 gw_session *out)
{
    long st = gw_logon(g, profile, password, flags_json, out);
    cr_assert_eq(st, 201, "logon profile=%s flags=%s: expected 201, got %ld: %s",
                 profile ? profile : "(absent)", flags_json ? flags_json : "(absent)", st,
                 out->resp.body ? out->resp.body : out->resp.errbuf);
    cr_assert(out->id[0] && out->token[0], "201 without id/token: %s", out->resp.body);
}

void gw_session_free(gw_session *s)
{
    if (s)
        gw_resp_free(&s->resp);
}

/* ---------------------------------------------------------------- asserts */

static const struct {
    const char *name, *code;
} mapi_codes[] = {
    {"MAPI_E_LOGON_FAILED", "0x80040111"},
    {"MAPI_E_END_OF_SESSION", "0x80040200"},
    {"MAPI_E_INVALID_PARAMETER", "0x80070057"},
    {"MAPI_E_UNKNOWN_FLAGS", "0x80040106"},
    {"MAPI_E_NOT_FOUND", "0x8004010F"},
    {"MAPI_E_NO_SUPPORT", "0x80040102"},
    {"MAPI_E_NO_ACCESS", "0x80070005"},
    {"MAPI_E_SESSION_LIMIT", "0x80040112"},
    {"MAPI_E_NOT_ENOUGH_RESOURCES", "0x8004010E"},
    {"MAPI_E_TIMEOUT", "0x80040401"},
    {"MAPI_E_BUSY", "0x8004010B"},
    {"MAPI_E_NOT_INITIALIZED", "0x80040605"},
    {"MAPI_E_INVALID_ENTRYID", "0x80040107"},
    {"MAPI_E_UNKNOWN_ENTRYID", "0x80040201"},
    {"MAPI_E_CALL_FAILED", "0x80004005"},
    {"MAPI_E_BAD_CHARWIDTH", "0x80040103"},
    {"MAPI_W_NO_SERVICE", "0x00040203"},
    {"MAPI_W_ERRORS_RETURNED", "0x00040380"},
};

const char *gw_mapi_code(const char *mapi_error)
{
    for (size_t i = 0; i < sizeof mapi_codes / sizeof mapi_codes[0]; i++)
        if (strcmp(mapi_codes[i].name, mapi_error) == 0)
            return mapi_codes[i].code;
    return NULL;
}

void gw_assert_no_store(const gw_resp *resp)
{
    const char *cc = gw_header(resp, "Cache-Control");
    cr_expect(cc != NULL && strstr(cc, "no-store") != NULL,
              "Cache-Control: no-store missing (got %s)", cc ? cc : "(none)");
}

static bool code_shape_ok(const char *s)
{
    if (!s || strlen(s) != 10 || s[0] != '0' || s[1] != 'x')
        return false;
    for (int i = 2; i < 10; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

void gw_assert_problem(const gw_resp *resp, long status, const char *mapi_error)
{
    cr_assert_eq(resp->status, status, "expected HTTP %ld %s, got %ld: %s", status, mapi_error,
                 resp->status, resp->body ? resp->body : resp->errbuf);
    const char *ct = gw_header(resp, "Content-Type");
    cr_expect(ct && strncasecmp(ct, "application/problem+json", 24) == 0,
              "error Content-Type is %s, not application/problem+json", ct ? ct : "(none)");
    cr_assert(resp->json && json_is_object(resp->json), "error body is not a JSON object: %s",
              resp->body);
    const char *me = gw_jstr(resp->json, "mapi_error");
    cr_expect(me && strcmp(me, mapi_error) == 0, "mapi_error %s, expected %s (body %s)",
              me ? me : "(none)", mapi_error, resp->body);
    const char *mc = gw_jstr(resp->json, "mapi_code");
    cr_expect(code_shape_ok(mc), "mapi_code %s does not match ^0x[0-9A-F]{8}$", mc ? mc : "(none)");
    const char *want = gw_mapi_code(mapi_error);
    if (want && mc)
        cr_expect_str_eq(mc, want, "mapi_code %s for %s, expected %s", mc, mapi_error, want);
    json_t *st = json_object_get(resp->json, "status");
    cr_expect(json_is_integer(st) && json_integer_value(st) == status,
              "problem \"status\" member does not equal %ld (body %s)", status, resp->body);
    const char *type = gw_jstr(resp->json, "type");
    char want_type[128];
    snprintf(want_type, sizeof want_type, "urn:mapigw:problem:%s", mapi_error);
    cr_expect(type && strcmp(type, want_type) == 0, "problem type %s, expected %s",
              type ? type : "(none)", want_type);
    cr_expect(gw_jstr(resp->json, "title") != NULL, "problem without a title: %s", resp->body);
    gw_assert_no_store(resp);
}

/* ---------------------------------------------------------------- JSON */

const char *gw_jstr(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool gw_jnames_has(const json_t *flagset, const char *name)
{
    json_t *names = json_object_get(flagset, "names");
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

unsigned long long gw_jvalue(const json_t *flagset)
{
    json_t *v = json_object_get(flagset, "value");
    cr_assert(json_is_integer(v), "flag set without an integer value");
    return (unsigned long long)json_integer_value(v);
}

json_t *gw_find_row(json_t *status_body, const char *display)
{
    json_t *rows = json_object_get(status_body, "rows");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *d = gw_jstr(row, "display_name");
        if (d && strcmp(d, display) == 0)
            return row;
    }
    return NULL;
}

static long long row_type(json_t *row)
{
    json_t *rt = json_object_get(row, "resource_type");
    json_t *v = json_object_get(rt, "value");
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

size_t gw_count_rows_of_type(json_t *status_body, unsigned type)
{
    json_t *rows = json_object_get(status_body, "rows");
    size_t i, n = 0;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (row_type(row) == (long long)type)
            n++;
    }
    return n;
}

json_t *gw_row_of_type(json_t *status_body, unsigned type)
{
    json_t *rows = json_object_get(status_body, "rows");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (row_type(row) == (long long)type)
            return row;
    }
    return NULL;
}

/* ---------------------------------------------------------------- misc */

bool gw_is_upper_hex(const char *s)
{
    if (!s || !*s || strlen(s) % 2)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'F')))
            return false;
    return true;
}

bool gw_is_rfc3339_utc(const char *s)
{
    if (!s)
        return false;
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; i < sizeof pat - 1; i++) {
        if (pat[i] == 'd') {
            if (s[i] < '0' || s[i] > '9')
                return false;
        } else if (s[i] != pat[i]) {
            return false;
        }
    }
    const char *p = s + sizeof pat - 1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return strcmp(p, "Z") == 0;
}

char *gw_hex(const void *data, size_t len)
{
    char *out = malloc(2 * len + 1);
    cr_assert(out != NULL);
    const unsigned char *d = data;
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02X", d[i]);
    out[2 * len] = '\0';
    return out;
}

void gw_sleep_ms(int ms) { sleep_ms(ms); }
