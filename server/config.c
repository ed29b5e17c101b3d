/* config.c - command line and environment (see config.h).
 *
 * One table drives parsing, validation and --help, so the three cannot drift
 * apart. Values are collected first (environment, then flags on top) and
 * validated afterwards: a bad variable that a flag overrides is not an error,
 * and every message names where the bad value came from.
 */
#include "config.h"

#include "../api/api.h"

#include <sodium.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef MAPIGW_VERSION
#define MAPIGW_VERSION "0.0.0"
#endif

typedef enum {
    OPT_LISTEN,
    OPT_PORT,
    OPT_PORT_FILE,
    OPT_PROFILES,
    OPT_DATA_DIR,
    OPT_ADMIN_KEY,
    OPT_ADMIN_KEY_FILE,
    OPT_ALLOW_INSECURE_PROFILES,
    OPT_IDLE_TIMEOUT,
    OPT_LIFETIME,
    OPT_MAX_SESSIONS,
    OPT_MAX_SESSIONS_PER_PROFILE,
    OPT_MAX_HANDLES_PER_SESSION,
    OPT_LOGON_TIMEOUT_MS,
    OPT_MAX_BODY_BYTES,
    OPT_MAX_HEADER_BYTES,
    OPT_MAX_URL_BYTES,
    OPT_MAX_JSON_DEPTH,
    OPT_MAX_JSON_STRING,
    OPT_THREADS,
    OPT_CONNECTION_TIMEOUT,
    OPT_REQUEST_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_CONNECTIONS_PER_IP,
    OPT_REAP_INTERVAL,
    OPT_POLL_INTERVAL,
    OPT_EVENTS_KEEPALIVE,
    OPT_THROTTLE_AFTER,
    OPT_THROTTLE_MAX_DELAY,
    OPT_MAX_PASSWORD_CHECKS,
    OPT_CORS_ORIGINS,
    OPT_LOG_FORMAT,
    OPT_LOG_OUTPUT,
    OPT_COUNT
} opt_id;

typedef struct {
    const char *flag;
    const char *env;
    const char *arg; /* placeholder in --help */
    const char *def; /* default as text; NULL: none */
    const char *meaning;
    bool numeric;
    unsigned long long min, max;
    bool boolean; /* "--flag" alone means yes; "--flag=no" and the variable take yes|no */
} option;

/* Upper bounds are generous but finite: they catch typos (an extra zero in a
 * timeout) and keep every value inside the C type the core expects. */
static const option options[OPT_COUNT] = {
    [OPT_LISTEN] = {"--listen", "MAPIGW_LISTEN", "ADDR", "127.0.0.1",
                    "IPv4 or IPv6 literal to bind", false, 0, 0},
    [OPT_PORT] = {"--port", "MAPIGW_PORT", "N", "8080", "0 = pick a free port", true, 0, 65535},
    [OPT_PORT_FILE] = {"--port-file", "MAPIGW_PORT_FILE", "PATH", NULL,
                       "after binding, write the bound port (decimal + newline) to PATH", false, 0,
                       0},
    [OPT_PROFILES] = {"--profiles", "MAPIGW_PROFILES", "PATH", "server/profiles.default.json",
                      "profiles file", false, 0, 0},
    [OPT_DATA_DIR] = {"--data-dir", "MAPIGW_DATA_DIR", "PATH", "./data",
                      "created at start-up (0700); relative provider paths resolve against it",
                      false, 0, 0},
    [OPT_ADMIN_KEY] = {"--admin-key", "MAPIGW_ADMIN_KEY", "KEY", NULL,
                       "admin endpoints key: at least 32 characters, must not start with mgw_ "
                       "(none: admin endpoints off)",
                       false, 0, 0},
    [OPT_ADMIN_KEY_FILE] = {"--admin-key-file", "MAPIGW_ADMIN_KEY_FILE", "PATH", NULL,
                            "read the admin key from PATH (its content without trailing "
                            "newlines), e.g. a container secret; instead of --admin-key",
                            false, 0, 0},
    [OPT_ALLOW_INSECURE_PROFILES] =
        {"--allow-insecure-profiles", "MAPIGW_ALLOW_INSECURE_PROFILES", "", "no",
         "serve 'auth: none' profiles and the published demo password "
         "on an address other than loopback (refused without it: exit 2)",
         false, 0, 0, true},
    [OPT_IDLE_TIMEOUT] = {"--idle-timeout", "MAPIGW_IDLE_TIMEOUT", "S", "1800",
                          "seconds a session may stay unused", true, 1, 31536000},
    [OPT_LIFETIME] = {"--lifetime", "MAPIGW_LIFETIME", "S", "86400",
                      "seconds a session lives at most", true, 1, 31536000},
    [OPT_MAX_SESSIONS] = {"--max-sessions", "MAPIGW_MAX_SESSIONS", "N", "10000",
                          "gateway-wide session cap (503 NOT_ENOUGH_RESOURCES)", true, 1, 10000000},
    [OPT_MAX_SESSIONS_PER_PROFILE] = {"--max-sessions-per-profile",
                                      "MAPIGW_MAX_SESSIONS_PER_PROFILE", "N", "1000",
                                      "per-profile session cap (429 SESSION_LIMIT)", true, 1,
                                      10000000},
    [OPT_MAX_HANDLES_PER_SESSION] = {"--max-handles-per-session", "MAPIGW_MAX_HANDLES_PER_SESSION",
                                     "N", "1000", "shared-session joins cap (429 SESSION_LIMIT)",
                                     true, 1, 10000000},
    [OPT_LOGON_TIMEOUT_MS] = {"--logon-timeout-ms", "MAPIGW_LOGON_TIMEOUT_MS", "N", "3000",
                              "how long MAPI_TIMEOUT_SHORT waits for the profile's logon lock",
                              true, 0, 600000},
    [OPT_MAX_BODY_BYTES] = {"--max-body-bytes", "MAPIGW_MAX_BODY_BYTES", "N", "65536",
                            "request bodies above: 413", true, 1, 64ull * 1024 * 1024},
    [OPT_MAX_HEADER_BYTES] = {"--max-header-bytes", "MAPIGW_MAX_HEADER_BYTES", "N", "16384",
                              "request header names + values above: 431", true, 1024, 1024 * 1024},
    [OPT_MAX_URL_BYTES] = {"--max-url-bytes", "MAPIGW_MAX_URL_BYTES", "N", "4096",
                           "decoded request path + query above: 414", true, 256, 1024 * 1024},
    [OPT_MAX_JSON_DEPTH] = {"--max-json-depth", "MAPIGW_MAX_JSON_DEPTH", "N", "16",
                            "nesting of arrays/objects in request bodies above: 400", true, 2,
                            1000},
    [OPT_MAX_JSON_STRING] = {"--max-json-string", "MAPIGW_MAX_JSON_STRING", "N", "4096",
                             "bytes of any string or key in a request body above: 400", true, 64,
                             64ull * 1024 * 1024},
    [OPT_THREADS] = {"--threads", "MAPIGW_THREADS", "N", "4", "libmicrohttpd thread pool size",
                     true, 1, 1024},
    [OPT_CONNECTION_TIMEOUT] = {"--connection-timeout", "MAPIGW_CONNECTION_TIMEOUT", "S", "30",
                                "idle connection timeout (seconds)", true, 1, 3600},
    [OPT_REQUEST_TIMEOUT] = {"--request-timeout", "MAPIGW_REQUEST_TIMEOUT", "S", "30",
                             "a request (headers and body) must arrive within S seconds, else "
                             "408 and the connection closes",
                             true, 1, 3600},
    [OPT_MAX_CONNECTIONS] = {"--max-connections", "MAPIGW_MAX_CONNECTIONS", "N", "1024",
                             "total connections", true, 1, 1000000},
    [OPT_MAX_CONNECTIONS_PER_IP] = {"--max-connections-per-ip", "MAPIGW_MAX_CONNECTIONS_PER_IP",
                                    "N", "64", "connections per client address (0 = no limit)",
                                    true, 0, 1000000},
    [OPT_REAP_INTERVAL] = {"--reap-interval", "MAPIGW_REAP_INTERVAL", "S", "5",
                           "how often expired sessions are ended (seconds)", true, 1, 3600},
    [OPT_POLL_INTERVAL] = {"--poll-interval", "MAPIGW_POLL_INTERVAL", "S", "10",
                           "how often network providers are polled for status changes (seconds)",
                           true, 1, 3600},
    [OPT_EVENTS_KEEPALIVE] = {"--events-keepalive", "MAPIGW_EVENTS_KEEPALIVE", "S", "15",
                              "keep-alive comment on open GET /events streams (seconds)", true, 1,
                              3600},
    [OPT_THROTTLE_AFTER] = {"--throttle-after", "MAPIGW_THROTTLE_AFTER", "N", "5",
                            "failed logons in a row per (profile, client address) before 429", true,
                            1, 1000},
    [OPT_THROTTLE_MAX_DELAY] = {"--throttle-max-delay", "MAPIGW_THROTTLE_MAX_DELAY", "S", "300",
                                "longest wait (doubling from 1 s) of a throttled client", true, 1,
                                86400},
    [OPT_MAX_PASSWORD_CHECKS] =
        {"--max-password-checks", "MAPIGW_MAX_PASSWORD_CHECKS", "N", "0",
         "argon2id password checks at once (0 = half the CPUs, at least 2); past it "
         "503 MAPI_E_BUSY",
         true, 0, 1024},
    [OPT_CORS_ORIGINS] = {"--cors-origins", "MAPIGW_CORS_ORIGINS", "LIST", NULL,
                          "comma-separated origins allowed by CORS, e.g. http://127.0.0.1:5173 "
                          "(none: no CORS headers)",
                          false, 0, 0},
    [OPT_LOG_FORMAT] = {"--log-format", "MAPIGW_LOG_FORMAT", "json|text", "json",
                        "access and event log, one line per event, on --log-output", false, 0, 0},
    [OPT_LOG_OUTPUT] = {"--log-output", "MAPIGW_LOG_OUTPUT", "stderr|stdout", "stderr",
                        "where the log lines go (containers: stdout)", false, 0, 0},
};

void config_print_help(FILE *out)
{
    fprintf(out, "usage: mapigw [options]\n"
                 "       mapigw hash-password   (reads a password from stdin, prints an argon2id "
                 "verifier)\n\n"
                 "Every flag has an environment twin; the flag wins. Flags take their value as\n"
                 "'--flag VALUE' or '--flag=VALUE'.\n\n");
    fprintf(out, "%-40s %-34s %-30s %s\n", "flag", "env", "default", "meaning");
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const option *o = &options[i];
        char flag[64];
        snprintf(flag, sizeof flag, "%s%s%s", o->flag, o->arg[0] ? " " : "", o->arg);
        fprintf(out, "%-40s %-34s %-30s %s\n", flag, o->env, o->def ? o->def : "none", o->meaning);
    }
    fprintf(out, "%-40s %-34s %-30s %s\n", "--help", "", "", "print this table");
    fprintf(out, "%-40s %-34s %-30s %s\n", "--version", "", "", "print the version");
}

/* Strict decimal: no sign, no blanks, no trailing junk (strtoull alone would
 * take " -1" as a huge number). */
static bool parse_uint(const char *s, unsigned long long min, unsigned long long max,
                       unsigned long long *out)
{
    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* The admin key travels in an Authorization header, so it must be sendable
 * there; "mgw_" is reserved for session tokens so that a leaked admin key and
 * a leaked token can never be confused (and scanners flag only tokens). */
static const char *admin_key_problem(const char *key)
{
    if (strlen(key) < 32)
        return "expected at least 32 characters";
    if (strncmp(key, "mgw_", 4) == 0)
        return "must not start with \"mgw_\" (reserved for session tokens)";
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return "must not contain spaces or control characters";
    return NULL;
}

/* Where a raw value came from, for messages: the flag or the variable. */
typedef struct {
    const char *value;
    const char *source;
} raw_value;

static bool from_flag(const raw_value *r) { return r->source[0] == '-'; }

/* A key file is a secret: small, and read whole. */
#define KEY_FILE_MAX 4096

/* Reads the admin key file into cfg->owned_admin_key (NUL-terminated, the
 * trailing CR/LF dropped). Never prints the content. */
static bool read_key_file(const raw_value *r, config *cfg, FILE *err)
{
    FILE *f = fopen(r->value, "rb");
    if (!f) {
        fprintf(err, "mapigw: %s: cannot read '%s': %s\n", r->source, r->value, strerror(errno));
        return false;
    }
    char *buf = malloc(KEY_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        fprintf(err, "mapigw: %s: out of memory\n", r->source);
        return false;
    }
    size_t n = fread(buf, 1, KEY_FILE_MAX + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed || n > KEY_FILE_MAX) {
        fprintf(err, "mapigw: %s: '%s': %s\n", r->source, r->value,
                failed ? "read error" : "larger than 4096 bytes: not a key file");
        sodium_memzero(buf, KEY_FILE_MAX + 1);
        free(buf);
        return false;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    if (n == 0 || strlen(buf) != n) {
        fprintf(err, "mapigw: %s: '%s': %s\n", r->source, r->value,
                n == 0 ? "the file is empty" : "the key must not contain NUL bytes");
        sodium_memzero(buf, KEY_FILE_MAX + 1);
        free(buf);
        return false;
    }
    cfg->owned_admin_key = buf;
    return true;
}

/* yes|no for boolean options (true/false, 1/0, on/off too). */
static bool parse_bool(const char *v, bool *out)
{
    static const char *const YES[] = {"yes", "true", "1", "on"};
    static const char *const NO[] = {"no", "false", "0", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, YES[i]) == 0 || strcasecmp(v, NO[i]) == 0) {
            *out = strcasecmp(v, YES[i]) == 0;
            return true;
        }
    }
    return false;
}

static bool validate(raw_value raw[OPT_COUNT], config *cfg, FILE *err)
{
    /* One admin key: a flag beats the other's variable; two of one kind are
     * a mistake worth stopping for. */
    raw_value *key = &raw[OPT_ADMIN_KEY], *key_file = &raw[OPT_ADMIN_KEY_FILE];
    if (key->value && key_file->value) {
        if (from_flag(key) == from_flag(key_file)) {
            fprintf(err, "mapigw: %s and %s: give the admin key once\n", key->source,
                    key_file->source);
            return false;
        }
        if (from_flag(key))
            key_file->value = NULL;
        else
            key->value = NULL;
    }
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const option *o = &options[i];
        const char *v = raw[i].value;
        if (!v)
            continue;
        unsigned long long n = 0;
        if (o->numeric) {
            if (!parse_uint(v, o->min, o->max, &n)) {
                fprintf(err, "mapigw: %s: expected %llu..%llu, got '%s'\n", raw[i].source, o->min,
                        o->max, v);
                return false;
            }
        } else if (v[0] == '\0') {
            fprintf(err, "mapigw: %s: expected a value, got ''\n", raw[i].source);
            return false;
        }
        switch ((opt_id)i) {
        case OPT_LISTEN: {
            unsigned char buf[sizeof(struct in6_addr)];
            if (inet_pton(AF_INET, v, buf) == 1) {
                cfg->listen_is_ipv6 = false;
            } else if (inet_pton(AF_INET6, v, buf) == 1) {
                cfg->listen_is_ipv6 = true;
            } else {
                fprintf(err, "mapigw: %s: expected an IPv4 or IPv6 literal, got '%s'\n",
                        raw[i].source, v);
                return false;
            }
            cfg->listen = v;
            break;
        }
        case OPT_PORT:
            cfg->port = (uint16_t)n;
            break;
        case OPT_PORT_FILE:
            cfg->port_file = v;
            break;
        case OPT_PROFILES:
            cfg->profiles = v;
            break;
        case OPT_DATA_DIR:
            cfg->data_dir = v;
            break;
        case OPT_ADMIN_KEY: {
            const char *problem = admin_key_problem(v);
            if (problem) {
                /* Never echo the key itself: it is a secret. */
                fprintf(err, "mapigw: %s: %s\n", raw[i].source, problem);
                return false;
            }
            cfg->admin_key = v;
            break;
        }
        case OPT_ADMIN_KEY_FILE: {
            if (!read_key_file(&raw[i], cfg, err))
                return false;
            const char *problem = admin_key_problem(cfg->owned_admin_key);
            if (problem) {
                fprintf(err, "mapigw: %s: the key in '%s': %s\n", raw[i].source, v, problem);
                return false;
            }
            cfg->admin_key = cfg->owned_admin_key;
            break;
        }
        case OPT_ALLOW_INSECURE_PROFILES:
            if (!parse_bool(v, &cfg->allow_insecure_profiles)) {
                fprintf(err, "mapigw: %s: expected 'yes' or 'no', got '%s'\n", raw[i].source, v);
                return false;
            }
            break;
        case OPT_IDLE_TIMEOUT:
            cfg->idle_timeout_s = (unsigned)n;
            break;
        case OPT_LIFETIME:
            cfg->lifetime_s = (unsigned)n;
            break;
        case OPT_MAX_SESSIONS:
            cfg->max_sessions = (unsigned)n;
            break;
        case OPT_MAX_SESSIONS_PER_PROFILE:
            cfg->max_sessions_per_profile = (unsigned)n;
            break;
        case OPT_MAX_HANDLES_PER_SESSION:
            cfg->max_handles_per_session = (unsigned)n;
            break;
        case OPT_LOGON_TIMEOUT_MS:
            cfg->logon_timeout_ms = (long)n;
            break;
        case OPT_MAX_BODY_BYTES:
            cfg->max_body_bytes = (size_t)n;
            break;
        case OPT_MAX_HEADER_BYTES:
            cfg->max_header_bytes = (size_t)n;
            break;
        case OPT_MAX_URL_BYTES:
            cfg->max_url_bytes = (size_t)n;
            break;
        case OPT_MAX_JSON_DEPTH:
            cfg->max_json_depth = (unsigned)n;
            break;
        case OPT_MAX_JSON_STRING:
            cfg->max_json_string = (size_t)n;
            break;
        case OPT_REQUEST_TIMEOUT:
            cfg->request_timeout_s = (unsigned)n;
            break;
        case OPT_THROTTLE_AFTER:
            cfg->throttle_after = (unsigned)n;
            break;
        case OPT_THROTTLE_MAX_DELAY:
            cfg->throttle_max_delay_s = (unsigned)n;
            break;
        case OPT_MAX_PASSWORD_CHECKS:
            cfg->max_password_checks = (unsigned)n;
            break;
        case OPT_THREADS:
            cfg->threads = (unsigned)n;
            break;
        case OPT_CONNECTION_TIMEOUT:
            cfg->connection_timeout_s = (unsigned)n;
            break;
        case OPT_MAX_CONNECTIONS:
            cfg->max_connections = (unsigned)n;
            break;
        case OPT_MAX_CONNECTIONS_PER_IP:
            cfg->max_connections_per_ip = (unsigned)n;
            break;
        case OPT_REAP_INTERVAL:
            cfg->reap_interval_s = (unsigned)n;
            break;
        case OPT_POLL_INTERVAL:
            cfg->poll_interval_s = (unsigned)n;
            break;
        case OPT_EVENTS_KEEPALIVE:
            cfg->events_keepalive_s = (unsigned)n;
            break;
        case OPT_CORS_ORIGINS: {
            /* The api parses the list again; here only the messages. */
            for (const char *p = v; *p;) {
                size_t len = strcspn(p, ",");
                const char *b = p;
                size_t blen = len;
                while (blen && (*b == ' ' || *b == '\t'))
                    b++, blen--;
                while (blen && (b[blen - 1] == ' ' || b[blen - 1] == '\t'))
                    blen--;
                if (blen && !api_cors_origin_ok(b, blen)) {
                    fprintf(err,
                            "mapigw: %s: expected origins like http://host:port separated by "
                            "commas, got '%.*s'\n",
                            raw[i].source, (int)blen, b);
                    return false;
                }
                p += len;
                if (*p == ',')
                    p++;
            }
            cfg->cors_origins = v;
            break;
        }
        case OPT_LOG_FORMAT:
            if (strcmp(v, "json") == 0) {
                cfg->log_fmt = LOG_FORMAT_JSON;
            } else if (strcmp(v, "text") == 0) {
                cfg->log_fmt = LOG_FORMAT_TEXT;
            } else {
                fprintf(err, "mapigw: %s: expected 'json' or 'text', got '%s'\n", raw[i].source, v);
                return false;
            }
            break;
        case OPT_LOG_OUTPUT:
            if (strcmp(v, "stderr") == 0) {
                cfg->log_out = LOG_OUTPUT_STDERR;
            } else if (strcmp(v, "stdout") == 0) {
                cfg->log_out = LOG_OUTPUT_STDOUT;
            } else {
                fprintf(err, "mapigw: %s: expected 'stderr' or 'stdout', got '%s'\n", raw[i].source,
                        v);
                return false;
            }
            break;
        case OPT_COUNT:
            break;
        }
    }
    return true;
}

static int find_option(const char *arg, size_t *name_len)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    for (size_t i = 0; i < OPT_COUNT; i++) {
        if (strlen(options[i].flag) == len && strncmp(options[i].flag, arg, len) == 0) {
            *name_len = len;
            return (int)i;
        }
    }
    return -1;
}

config_action config_parse(int argc, char **argv, config *cfg, FILE *out, FILE *err)
{
    raw_value raw[OPT_COUNT];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < OPT_COUNT; i++) {
        raw[i].value = options[i].def;
        raw[i].source = options[i].flag;
        const char *env = getenv(options[i].env);
        if (env && env[0] != '\0') {
            raw[i].value = env;
            raw[i].source = options[i].env;
        }
    }

    int first = 1;
    bool hash_password = false;
    if (argc > 1 && strcmp(argv[1], "hash-password") == 0) {
        hash_password = true;
        first = 2;
    }
    for (int a = first; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_print_help(out);
            return CONFIG_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            fprintf(out, "mapigw %s\n", MAPIGW_VERSION);
            return CONFIG_EXIT_OK;
        }
        if (hash_password) {
            fprintf(err,
                    "mapigw: hash-password: unexpected argument '%s' (the password is read "
                    "from stdin)\n",
                    arg);
            return CONFIG_EXIT_USAGE;
        }
        size_t name_len = 0;
        int id = find_option(arg, &name_len);
        if (id < 0) {
            fprintf(err, "mapigw: unknown option '%s' (see --help)\n", arg);
            return CONFIG_EXIT_USAGE;
        }
        if (arg[name_len] == '=') {
            raw[id].value = arg + name_len + 1;
        } else if (options[id].boolean) {
            raw[id].value = "yes";
        } else if (a + 1 < argc) {
            raw[id].value = argv[++a];
        } else {
            fprintf(err, "mapigw: %s: missing value\n", options[id].flag);
            return CONFIG_EXIT_USAGE;
        }
        raw[id].source = options[id].flag;
    }
    if (hash_password)
        return CONFIG_HASH_PASSWORD;
    if (validate(raw, cfg, err))
        return CONFIG_RUN;
    config_free(cfg);
    return CONFIG_EXIT_USAGE;
}

void config_free(config *cfg)
{
    if (cfg->owned_admin_key) {
        sodium_memzero(cfg->owned_admin_key, strlen(cfg->owned_admin_key));
        free(cfg->owned_admin_key);
    }
    cfg->owned_admin_key = NULL;
    cfg->admin_key = NULL;
}
