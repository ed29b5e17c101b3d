/* main.c - mapigw: parse the configuration, load the profiles, start the
 * HTTP daemon and the provider poller (core_poll every --poll-interval, on a
 * thread of its own because network providers may block up to their
 * timeouts), then let the main thread wait for signals:
 *   timeout (every --reap-interval)  end expired sessions;
 *   SIGHUP                            reload the profiles file (old store kept on error);
 *   SIGTERM / SIGINT                  graceful shutdown, exit 0.
 * Exit codes: 0 clean stop, 1 start-up failure, 2 bad configuration or profiles
 * (also profiles anyone can log on to on a public address: guard.h).
 */
#include "config.h"
#include "guard.h"
#include "hashpw.h"
#include "httpd.h"
#include "log.h"
#include "secmem.h"
#include "ticker.h"

#include "../api/api.h"
#include "../session-core/core.h"

#include <sodium.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MAPIGW_VERSION
#define MAPIGW_VERSION "0.0.0"
#endif

/* Generated from openapi.yaml by scripts/embed.sh (see the Makefile). */
extern const char mapigw_openapi_yaml[];
extern const size_t mapigw_openapi_yaml_len;

/* Generated from web/ and the built API docs (scripts/embed.sh,
 * scripts/build-docs.sh; see the Makefile). Weak: a binary linked without
 * them still works, and their paths answer 404. */
#define WEB_ASSET(sym)                                                                             \
    extern const char sym[] __attribute__((weak));                                                 \
    extern const size_t sym##_len __attribute__((weak));
WEB_ASSET(mapigw_console_html)
WEB_ASSET(mapigw_console_js)
WEB_ASSET(mapigw_console_css)
WEB_ASSET(mapigw_favicon_svg)
WEB_ASSET(mapigw_docs_html)
WEB_ASSET(mapigw_docs_init_js)
WEB_ASSET(mapigw_redoc_js)
#define WEB_ASSET_ENTRY(name, sym)                                                                 \
    {                                                                                              \
        name, sym, &sym##_len ? sym##_len : 0                                                      \
    }

/* How long a graceful stop waits for requests being served, at most. */
#define SHUTDOWN_GRACE_MAX_S 10u

/* mkdir -p with mode 0700 for every folder it creates: the data folder holds
 * mail, so only the gateway's user may read it. Existing folders are left as
 * they are (an operator may have chosen their modes on purpose). */
static int make_dirs(const char *path, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        snprintf(err, errlen, "--data-dir: path empty or too long");
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "--data-dir: cannot create '%.512s': %s", buf, strerror(errno));
            return -1;
        }
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--data-dir: '%.512s' is not a folder", path);
        return -1;
    }
    return 0;
}

/* Written to a temporary file and renamed into place, so a test waiting for
 * the file never reads a half-written port. */
static int write_port_file(const char *path, unsigned port, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "--port-file: path too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "--port-file: cannot create '%.512s': %s", tmp, strerror(errno));
        return -1;
    }
    char text[16];
    int n = snprintf(text, sizeof text, "%u\n", port);
    bool ok = write(fd, text, (size_t)n) == n;
    int saved_errno = errno;
    if (close(fd) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved_errno = errno;
        snprintf(err, errlen, "--port-file: cannot write '%.512s': %s", path,
                 strerror(saved_errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void on_profile_warning(void *ctx, const char *msg)
{
    (void)ctx;
    log_msg(LOG_WARN, "profiles", msg);
}

static profile_store *load_profiles(const config *cfg, const char *data_dir, char *err,
                                    size_t errlen)
{
    profile_store *store = NULL;
    HRESULT hr =
        profile_store_load(cfg->profiles, data_dir, &store, err, errlen, on_profile_warning, NULL);
    if (HR_FAILED(hr) || !store) {
        if (err[0] == '\0')
            snprintf(err, errlen, "%s: %s", cfg->profiles, hresult_name(hr));
        return NULL;
    }
    return store;
}

/* The guard (guard.h): false, with the reason in err, when store holds
 * profiles anyone can log on to and the listener is reachable from other
 * machines without --allow-insecure-profiles. With the opt-in they are
 * served, and logged as a warning. */
static bool may_serve(const config *cfg, const profile_store *store, char *err, size_t errlen)
{
    if (guard_is_loopback(cfg->httpd.listen))
        return true;
    char list[768];
    if (guard_open_profiles(store, list, sizeof list) == 0)
        return true;
    if (cfg->allow_insecure_profiles) {
        log_event(LOG_WARN, "serving profiles anyone can log on to (--allow-insecure-profiles)",
                  (log_field[]){LOG_STR("address", cfg->httpd.listen), LOG_STR("profiles", list)},
                  2);
        return true;
    }
    snprintf(err, errlen,
             "%s: %s would be served on %s, which other machines can reach: anyone could log "
             "on. Use a profiles file of your own (README, \"Container image\"), listen on "
             "127.0.0.1, or pass --allow-insecure-profiles (MAPIGW_ALLOW_INSECURE_PROFILES=yes) "
             "to serve them anyway",
             cfg->profiles, list, cfg->httpd.listen);
    return false;
}

static void reload_profiles(core *c, const config *cfg, const char *data_dir)
{
    char err[1024] = "";
    profile_store *store = load_profiles(cfg, data_dir, err, sizeof err);
    if (!store) {
        log_event(LOG_ERROR, "profiles reload failed, keeping the loaded profiles",
                  (log_field[]){LOG_STR("detail", err)}, 1);
        return;
    }
    if (!may_serve(cfg, store, err, sizeof err)) {
        profile_store_unref(store);
        log_event(LOG_ERROR, "profiles reload refused, keeping the loaded profiles",
                  (log_field[]){LOG_STR("detail", err)}, 1);
        return;
    }
    size_t count = profile_store_count(store);
    size_t ended = core_replace_profiles(c, store);
    log_event(LOG_INFO, "profiles reloaded",
              (log_field[]){LOG_STR("file", cfg->profiles), LOG_INT("profiles", count),
                            LOG_INT("sessions_ended", ended)},
              3);
}

static void poll_providers(void *ctx) { core_poll(ctx); }

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The main thread's life after start-up: returns the signal that ended it. */
static int wait_for_shutdown(core *c, const config *cfg, const char *data_dir)
{
    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, SIGINT);
    sigaddset(&waited, SIGHUP);

    /* Reaping follows a monotonic schedule, so a stream of SIGHUPs cannot
     * postpone it. */
    double next_reap = mono_s() + cfg->reap_interval_s;
    for (;;) {
        double left = next_reap - mono_s();
        if (left <= 0) {
            size_t ended = core_reap(c, time(NULL));
            if (ended > 0)
                log_event(LOG_INFO, "sessions expired", (log_field[]){LOG_INT("count", ended)}, 1);
            next_reap = mono_s() + cfg->reap_interval_s;
            continue;
        }
        struct timespec timeout = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        int sig = sigtimedwait(&waited, NULL, &timeout);
        if (sig < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_msg(LOG_ERROR, "sigtimedwait failed", strerror(errno));
            continue;
        }
        if (sig == SIGHUP) {
            log_msg(LOG_INFO, "SIGHUP: reloading profiles", cfg->profiles);
            reload_profiles(c, cfg, data_dir);
            continue;
        }
        return sig;
    }
}

static int run(const config *cfg)
{
    char err[1024] = "";
    if (sodium_init() < 0) {
        fprintf(stderr, "mapigw: libsodium failed to initialise\n");
        return 1;
    }
    if (make_dirs(cfg->data_dir, err, sizeof err) != 0) {
        fprintf(stderr, "mapigw: %s\n", err);
        return 1;
    }
    /* Absolute, so that provider paths stay right whatever the working
     * folder of a later reload. */
    char data_dir[PATH_MAX];
    if (!realpath(cfg->data_dir, data_dir)) {
        fprintf(stderr, "mapigw: --data-dir: cannot resolve '%s': %s\n", cfg->data_dir,
                strerror(errno));
        return 1;
    }

    profile_store *store = load_profiles(cfg, data_dir, err, sizeof err);
    if (!store) {
        fprintf(stderr, "mapigw: %s\n", err);
        return 2;
    }
    if (!may_serve(cfg, store, err, sizeof err)) {
        fprintf(stderr, "mapigw: refusing to start: %s\n", err);
        profile_store_unref(store);
        return 2;
    }
    size_t profile_count = profile_store_count(store);

    core *c = NULL;
    HRESULT hr = core_new(&cfg->core, store, &c); /* steals store, also on failure */
    if (HR_FAILED(hr) || !c) {
        fprintf(stderr, "mapigw: cannot create the session core: %s\n", hresult_name(hr));
        return 1;
    }

    static api_asset assets[7];
    const api_asset found[] = {
        WEB_ASSET_ENTRY("console.html", mapigw_console_html),
        WEB_ASSET_ENTRY("console.js", mapigw_console_js),
        WEB_ASSET_ENTRY("console.css", mapigw_console_css),
        WEB_ASSET_ENTRY("favicon.svg", mapigw_favicon_svg),
        WEB_ASSET_ENTRY("docs.html", mapigw_docs_html),
        WEB_ASSET_ENTRY("docs-init.js", mapigw_docs_init_js),
        WEB_ASSET_ENTRY("redoc.standalone.js", mapigw_redoc_js),
    };
    memcpy(assets, found, sizeof assets);
    api_config acfg = cfg->api;
    acfg.openapi_yaml = mapigw_openapi_yaml;
    acfg.openapi_yaml_len = mapigw_openapi_yaml_len;
    acfg.version = MAPIGW_VERSION;
    api *a = api_new(c, &acfg);
    if (!a) {
        fprintf(stderr, "mapigw: out of memory\n");
        core_free(c);
        return 1;
    }
    api_set_assets(a, assets, sizeof assets / sizeof assets[0]);
    if (!api_set_cors(a, cfg->cors_origins)) {
        fprintf(stderr, "mapigw: out of memory\n");
        api_free(a);
        core_free(c);
        return 1;
    }

    httpd_config hcfg = cfg->httpd;
    /* Enough that some are free to answer BUSY or 429 at once while as many
     * checks as allowed run and other logons wait for their profile's logon
     * lock. */
    hcfg.password_workers = 4 * core_max_password_checks(c) + 4;
    httpd *h = httpd_start(&hcfg, a, err, sizeof err);
    if (!h) {
        fprintf(stderr, "mapigw: %s\n", err);
        api_free(a);
        core_free(c);
        return 1;
    }
    unsigned port = httpd_port(h);
    if (cfg->port_file && write_port_file(cfg->port_file, port, err, sizeof err) != 0) {
        fprintf(stderr, "mapigw: %s\n", err);
        httpd_stop(h, 0);
        api_free(a);
        core_free(c);
        return 1;
    }
    ticker *poller = ticker_start("provider poller", cfg->poll_interval_s, poll_providers, c);
    if (!poller) {
        fprintf(stderr, "mapigw: cannot start the provider poller thread\n");
        httpd_stop(h, 0);
        api_free(a);
        core_free(c);
        return 1;
    }
    log_event(LOG_INFO, "listening",
              (log_field[]){LOG_STR("address", cfg->httpd.listen), LOG_INT("port", port),
                            LOG_STR("version", MAPIGW_VERSION), LOG_INT("profiles", profile_count),
                            LOG_STR("admin", cfg->api.admin_key ? "on" : "off"),
                            LOG_STR("store", core_store_describe(c))},
              6);
    api_set_ready(a, true);

    int sig = wait_for_shutdown(c, cfg, data_dir);

    log_msg(LOG_INFO, "shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    api_set_ready(a, false); /* /readyz turns 503 while in-flight requests drain */
    /* The poller may be inside a provider call: let it finish (bounded by
     * the provider's timeouts) before anything it uses goes away. */
    ticker_stop(poller);
    unsigned grace = cfg->httpd.connection_timeout_s < SHUTDOWN_GRACE_MAX_S
                         ? cfg->httpd.connection_timeout_s
                         : SHUTDOWN_GRACE_MAX_S;
    httpd_stop(h, grace);
    /* The api borrows the core, so it goes first; core_free then logs off
     * every remaining session (providers flush and close). */
    api_free(a);
    core_free(c);
    log_msg(LOG_INFO, "stopped", NULL);
    return 0;
}

int main(int argc, char **argv)
{
    /* The secrets policy (secmem.h): jansson allocates through the wiping
     * allocator, set before anything allocates through jansson. */
    secmem_install();
    /* Parsing starts no thread; hash-password runs with default signal
     * handling so that Ctrl-C at its prompt works. */
    config cfg;
    switch (config_parse(argc, argv, &cfg, stdout, stderr)) {
    case CONFIG_EXIT_OK:
        return 0;
    case CONFIG_EXIT_USAGE:
        return 2;
    case CONFIG_HASH_PASSWORD:
        return hashpw_run();
    case CONFIG_RUN:
        break;
    }

    /* Block the signals we handle before any thread exists (libmicrohttpd and
     * the core start some); threads inherit the mask, so only the main
     * thread's sigtimedwait ever receives them. SIGPIPE is blocked too: a
     * client hanging up must not kill the process. */
    /* An ignored signal is discarded even while blocked, and a shell starts
     * background jobs with SIGINT ignored: restore the default action first
     * (blocking keeps it from ever running) so sigtimedwait sees them. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    /* A write past RLIMIT_FSIZE (or a file-size quota) raises SIGXFSZ, whose
     * default action kills the process: ignored, the write fails with EFBIG
     * instead and the flush reports an error, losing nothing. Before any
     * thread starts, so every thread has it. */
    signal(SIGXFSZ, SIG_IGN);
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGHUP);
    sigaddset(&blocked, SIGPIPE);
    int rc = pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    if (rc != 0) {
        fprintf(stderr, "mapigw: pthread_sigmask: %s\n", strerror(rc));
        return 1;
    }
    log_init(cfg.log_fmt, cfg.log_out);
    /* Without the flusher, access lines are written one by one: slower, not
     * wrong, so the gateway still starts. */
    if (log_start_flusher() != 0)
        log_msg(LOG_WARN, "log flusher not started: access lines unbatched", NULL);
    int status = run(&cfg);
    log_shutdown();
    config_free(&cfg);
    return status;
}
