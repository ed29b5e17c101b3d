/* config_table.c - every option of the gateway, one row each (the shape:
 * config_table.h), and the checks a row's type cannot express.
 *
 * To add an option: add its field to config (or find it in the sub-config
 * it feeds), then one row here. Parsing, validation, --help and the unit
 * suite's checks of the table follow; README.md and docs/mapigw.1 list it by
 * hand (tests/blackbox/test_docs.c compares them with --help).
 */
#include "config_table.h"

#include <sodium.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- checks a type cannot express ---------------------------------------- */

static bool check_listen(const config_option *o, const char *v, const char *source, config *cfg,
                         FILE *err)
{
    (void)o;
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, v, buf) == 1) {
        cfg->httpd.listen_is_ipv6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, v, buf) == 1) {
        cfg->httpd.listen_is_ipv6 = true;
        return true;
    }
    fprintf(err, "mapigw: %s: expected an IPv4 or IPv6 literal, got '%s'\n", source, v);
    return false;
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

static bool check_admin_key(const config_option *o, const char *v, const char *source, config *cfg,
                            FILE *err)
{
    (void)o;
    (void)cfg;
    const char *problem = admin_key_problem(v);
    if (problem) {
        /* Never echo the key itself: it is a secret. */
        fprintf(err, "mapigw: %s: %s\n", source, problem);
        return false;
    }
    return true;
}

/* A key file is a secret: small, and read whole. */
#define KEY_FILE_MAX 4096

/* Reads a secret file: its content without trailing CR/LF, NUL-terminated
 * in *out (the caller wipes and frees it). Never prints the content. */
static bool read_secret_file(const char *path, const char *source, FILE *err, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(err, "mapigw: %s: cannot read '%s': %s\n", source, path, strerror(errno));
        return false;
    }
    char *buf = malloc(KEY_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        fprintf(err, "mapigw: %s: out of memory\n", source);
        return false;
    }
    size_t n = fread(buf, 1, KEY_FILE_MAX + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    const char *problem = NULL;
    if (failed || n > KEY_FILE_MAX)
        problem = failed ? "read error" : "larger than 4096 bytes: not a secret file";
    while (!problem && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (!problem) {
        buf[n] = '\0';
        if (n == 0 || strlen(buf) != n)
            problem = n == 0 ? "the file is empty" : "the secret must not contain NUL bytes";
    }
    if (problem) {
        fprintf(err, "mapigw: %s: '%s': %s\n", source, path, problem);
        sodium_memzero(buf, KEY_FILE_MAX + 1);
        free(buf);
        return false;
    }
    *out = buf;
    return true;
}

/* Reads the admin key file into cfg->owned_admin_key and makes it the admin
 * key. */
static bool check_admin_key_file(const config_option *o, const char *path, const char *source,
                                 config *cfg, FILE *err)
{
    (void)o;
    char *buf;
    if (!read_secret_file(path, source, err, &buf))
        return false;
    cfg->owned_admin_key = buf;
    const char *problem = admin_key_problem(buf);
    if (problem) {
        fprintf(err, "mapigw: %s: the key in '%s': %s\n", source, path, problem);
        return false;
    }
    cfg->api.admin_key = buf;
    return true;
}

static bool check_store_password_file(const config_option *o, const char *path, const char *source,
                                      config *cfg, FILE *err)
{
    (void)o;
    char *buf;
    if (!read_secret_file(path, source, err, &buf))
        return false;
    cfg->owned_store_password = buf;
    cfg->core.store_password = buf;
    return true;
}

static bool check_store(const config_option *o, const char *v, const char *source, config *cfg,
                        FILE *err)
{
    (void)o;
    (void)cfg;
    const char *problem = core_store_url_problem(v);
    if (problem) {
        fprintf(err, "mapigw: %s: %s, got '%s'\n", source, problem, v);
        return false;
    }
    return true;
}

/* The api parses the list again (api_set_cors); here only the messages. */
static bool check_cors_origins(const config_option *o, const char *v, const char *source,
                               config *cfg, FILE *err)
{
    (void)o;
    (void)cfg;
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
                    "mapigw: %s: expected origins like http://host:port separated by commas, "
                    "got '%.*s'\n",
                    source, (int)blen, b);
            return false;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}

static bool check_store_prefix(const config_option *o, const char *v, const char *source,
                               config *cfg, FILE *err)
{
    (void)o;
    (void)cfg;
    size_t n = strlen(v);
    bool ok = n > 0 && n <= 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] > ' ' && v[i] < 0x7f;
    if (!ok)
        fprintf(err, "mapigw: %s: 1 to 128 visible ASCII characters, got '%s'\n", source, v);
    return ok;
}

/* ---- the table ------------------------------------------------------------ */

static const option_choice LOG_FORMATS[] = {
    {"json", LOG_FORMAT_JSON}, {"text", LOG_FORMAT_TEXT}, {NULL, 0}};
static const option_choice LOG_OUTPUTS[] = {
    {"stderr", LOG_OUTPUT_STDERR}, {"stdout", LOG_OUTPUT_STDOUT}, {NULL, 0}};

#define UINT(lo, hi) .type = OPTION_UINT, .min = (lo), .max = (hi)

/* Upper bounds are generous but finite: they catch typos (an extra zero in a
 * timeout) and keep every value inside the C type the floor below expects.
 * The order is --help's and the order in which values are checked. */
const config_option CONFIG_OPTIONS[] = {
    {.flag = "--listen",
     .env = "MAPIGW_LISTEN",
     .metavar = "ADDR",
     .type = OPTION_STRING,
     .def = "127.0.0.1",
     .to = {OPTION_TO(httpd.listen)},
     .check = check_listen,
     .help = "IPv4 or IPv6 literal to bind"},
    {.flag = "--port",
     .env = "MAPIGW_PORT",
     .metavar = "N",
     UINT(0, 65535),
     .def = "8080",
     .to = {OPTION_TO(httpd.port)},
     .help = "0 = pick a free port"},
    {.flag = "--port-file",
     .env = "MAPIGW_PORT_FILE",
     .metavar = "PATH",
     .type = OPTION_STRING,
     .to = {OPTION_TO(port_file)},
     .help = "after binding, write the bound port (decimal + newline) to PATH"},
    {.flag = "--profiles",
     .env = "MAPIGW_PROFILES",
     .metavar = "PATH",
     .type = OPTION_STRING,
     .def = "profiles.default.json",
     .to = {OPTION_TO(profiles)},
     .help = "profiles file; the default is looked up in <bin>/../share/mapigw, then beside the "
             "binary"},
    {.flag = "--data-dir",
     .env = "MAPIGW_DATA_DIR",
     .metavar = "PATH",
     .type = OPTION_STRING,
     .def = "./data",
     .to = {OPTION_TO(data_dir)},
     .help = "created at start-up (0700); relative provider paths resolve against it"},
    {.flag = "--admin-key",
     .env = "MAPIGW_ADMIN_KEY",
     .metavar = "KEY",
     .type = OPTION_STRING,
     .to = {OPTION_TO(api.admin_key)},
     .check = check_admin_key,
     .help = "admin endpoints key: at least 32 characters, must not start with mgw_ "
             "(none: admin endpoints off)"},
    {.flag = "--admin-key-file",
     .env = "MAPIGW_ADMIN_KEY_FILE",
     .metavar = "PATH",
     .type = OPTION_STRING,
     .check = check_admin_key_file,
     .help = "read the admin key from PATH (its content without trailing newlines), e.g. a "
             "container secret; instead of --admin-key"},
    {.flag = "--allow-insecure-profiles",
     .env = "MAPIGW_ALLOW_INSECURE_PROFILES",
     .type = OPTION_BOOL,
     .def = "no",
     .to = {OPTION_TO(allow_insecure_profiles)},
     .help = "serve 'auth: none' profiles and the published demo password on an address other "
             "than loopback (refused without it: exit 2)"},
    {.flag = "--idle-timeout",
     .env = "MAPIGW_IDLE_TIMEOUT",
     .metavar = "S",
     UINT(1, 31536000),
     .def = "1800",
     .to = {OPTION_TO(core.idle_timeout_s)},
     .help = "seconds a session may stay unused"},
    {.flag = "--lifetime",
     .env = "MAPIGW_LIFETIME",
     .metavar = "S",
     UINT(1, 31536000),
     .def = "86400",
     .to = {OPTION_TO(core.lifetime_s)},
     .help = "seconds a session lives at most"},
    {.flag = "--max-sessions",
     .env = "MAPIGW_MAX_SESSIONS",
     .metavar = "N",
     UINT(1, 10000000),
     .def = "10000",
     .to = {OPTION_TO(core.max_sessions)},
     .help = "gateway-wide session cap (503 NOT_ENOUGH_RESOURCES)"},
    {.flag = "--max-sessions-per-profile",
     .env = "MAPIGW_MAX_SESSIONS_PER_PROFILE",
     .metavar = "N",
     UINT(1, 10000000),
     .def = "1000",
     .to = {OPTION_TO(core.max_sessions_per_profile)},
     .help = "per-profile session cap (429 SESSION_LIMIT)"},
    {.flag = "--max-handles-per-session",
     .env = "MAPIGW_MAX_HANDLES_PER_SESSION",
     .metavar = "N",
     UINT(1, 10000000),
     .def = "1000",
     .to = {OPTION_TO(core.max_handles_per_session)},
     .help = "shared-session joins cap (429 SESSION_LIMIT)"},
    {.flag = "--logon-timeout-ms",
     .env = "MAPIGW_LOGON_TIMEOUT_MS",
     .metavar = "N",
     UINT(0, 600000),
     .def = "3000",
     .to = {OPTION_TO(core.logon_timeout_short_ms)},
     .help = "how long MAPI_TIMEOUT_SHORT waits for the profile's logon lock"},
    {.flag = "--max-body-bytes",
     .env = "MAPIGW_MAX_BODY_BYTES",
     .metavar = "N",
     UINT(1, 64ull * 1024 * 1024),
     .def = "65536",
     .to = {OPTION_TO(httpd.max_body_bytes), OPTION_TO(api.max_body_bytes)},
     .help = "request bodies above: 413"},
    {.flag = "--max-header-bytes",
     .env = "MAPIGW_MAX_HEADER_BYTES",
     .metavar = "N",
     UINT(1024, 1024 * 1024),
     .def = "16384",
     .to = {OPTION_TO(httpd.max_header_bytes), OPTION_TO(api.limits.max_header_bytes)},
     .help = "request header names + values above: 431"},
    {.flag = "--max-url-bytes",
     .env = "MAPIGW_MAX_URL_BYTES",
     .metavar = "N",
     UINT(256, 1024 * 1024),
     .def = "4096",
     .to = {OPTION_TO(httpd.max_url_bytes), OPTION_TO(api.limits.max_url_bytes)},
     .help = "decoded request path + query above: 414"},
    {.flag = "--max-json-depth",
     .env = "MAPIGW_MAX_JSON_DEPTH",
     .metavar = "N",
     UINT(2, 1000),
     .def = "16",
     .to = {OPTION_TO(api.limits.max_json_depth)},
     .help = "nesting of arrays/objects in request bodies above: 400"},
    {.flag = "--max-json-string",
     .env = "MAPIGW_MAX_JSON_STRING",
     .metavar = "N",
     UINT(64, 64ull * 1024 * 1024),
     .def = "4096",
     .to = {OPTION_TO(api.limits.max_json_string)},
     .help = "bytes of any string or key in a request body above: 400"},
    {.flag = "--threads",
     .env = "MAPIGW_THREADS",
     .metavar = "N",
     UINT(1, 1024),
     .def = "4",
     .to = {OPTION_TO(httpd.threads)},
     .help = "libmicrohttpd thread pool size"},
    {.flag = "--connection-timeout",
     .env = "MAPIGW_CONNECTION_TIMEOUT",
     .metavar = "S",
     UINT(1, 3600),
     .def = "30",
     .to = {OPTION_TO(httpd.connection_timeout_s)},
     .help = "idle connection timeout (seconds)"},
    {.flag = "--request-timeout",
     .env = "MAPIGW_REQUEST_TIMEOUT",
     .metavar = "S",
     UINT(1, 3600),
     .def = "30",
     .to = {OPTION_TO(httpd.request_timeout_s)},
     .help = "a request (headers and body) must arrive within S seconds, else 408 and the "
             "connection closes"},
    {.flag = "--max-connections",
     .env = "MAPIGW_MAX_CONNECTIONS",
     .metavar = "N",
     UINT(1, 1000000),
     .def = "1024",
     .to = {OPTION_TO(httpd.max_connections)},
     .help = "total connections"},
    {.flag = "--max-connections-per-ip",
     .env = "MAPIGW_MAX_CONNECTIONS_PER_IP",
     .metavar = "N",
     UINT(0, 1000000),
     .def = "64",
     .to = {OPTION_TO(httpd.max_connections_per_ip)},
     .help = "connections per client address (0 = no limit)"},
    {.flag = "--reap-interval",
     .env = "MAPIGW_REAP_INTERVAL",
     .metavar = "S",
     UINT(1, 3600),
     .def = "5",
     .to = {OPTION_TO(reap_interval_s)},
     .help = "how often expired sessions are ended (seconds)"},
    {.flag = "--poll-interval",
     .env = "MAPIGW_POLL_INTERVAL",
     .metavar = "S",
     UINT(1, 3600),
     .def = "10",
     .to = {OPTION_TO(poll_interval_s)},
     .help = "how often network providers are polled for status changes (seconds)"},
    {.flag = "--events-keepalive",
     .env = "MAPIGW_EVENTS_KEEPALIVE",
     .metavar = "S",
     UINT(1, 3600),
     .def = "15",
     .to = {OPTION_TO(httpd.events_keepalive_s)},
     .help = "keep-alive comment on open GET /events streams (seconds)"},
    {.flag = "--events-replay",
     .env = "MAPIGW_EVENTS_REPLAY",
     .metavar = "N",
     UINT(0, 4096),
     .def = "128",
     .to = {OPTION_TO(core.events_replay)},
     .help = "table events each session keeps for a GET /events client that reconnects with "
             "Last-Event-ID (0 = none: a resync event instead)"},
    {.flag = "--events-ticket-ttl",
     .env = "MAPIGW_EVENTS_TICKET_TTL",
     .metavar = "S",
     UINT(1, 300),
     .def = "30",
     .to = {OPTION_TO(api.events_ticket_ttl_s)},
     .help = "how long a GET /events ticket (POST /events/tickets) may wait for its one use "
             "(seconds)"},
    {.flag = "--throttle-after",
     .env = "MAPIGW_THROTTLE_AFTER",
     .metavar = "N",
     UINT(1, 1000),
     .def = "5",
     .to = {OPTION_TO(core.throttle_threshold)},
     .help = "failed logons in a row per (profile, client address) before 429"},
    {.flag = "--throttle-max-delay",
     .env = "MAPIGW_THROTTLE_MAX_DELAY",
     .metavar = "S",
     UINT(1, 86400),
     .def = "300",
     .to = {OPTION_TO(core.throttle_max_delay_s)},
     .help = "longest wait (doubling from 1 s) of a throttled client"},
    {.flag = "--max-password-checks",
     .env = "MAPIGW_MAX_PASSWORD_CHECKS",
     .metavar = "N",
     UINT(0, 1024),
     .def = "0",
     .to = {OPTION_TO(core.max_password_checks)},
     .help = "argon2id password checks at once (0 = half the CPUs, at least 2); past it "
             "503 MAPI_E_BUSY"},
    {.flag = "--store",
     .env = "MAPIGW_STORE",
     .metavar = "URL",
     .type = OPTION_STRING,
     .def = "memory",
     .to = {OPTION_TO(core.store_url)},
     .check = check_store,
     .help = "where sessions live: memory (this process), redis://HOST[:PORT][/DB] or "
             "redis-sentinel://MASTER@HOST[:PORT][,...][/DB] (shared by replicas)"},
    {.flag = "--store-password-file",
     .env = "MAPIGW_STORE_PASSWORD_FILE",
     .metavar = "PATH",
     .type = OPTION_STRING,
     .check = check_store_password_file,
     .help = "Redis password (AUTH), read from PATH"},
    {.flag = "--store-prefix",
     .env = "MAPIGW_STORE_PREFIX",
     .metavar = "TEXT",
     .type = OPTION_STRING,
     .def = "mapigw:",
     .to = {OPTION_TO(core.store_prefix)},
     .check = check_store_prefix,
     .help = "prefix of every Redis key (replicas sharing sessions use the same)"},
    {.flag = "--store-grace-ms",
     .env = "MAPIGW_STORE_GRACE_MS",
     .metavar = "MS",
     UINT(500, 600000),
     .def = "3000",
     .to = {OPTION_TO(core.store_grace_ms)},
     .help = "Redis out of reach this long: requests get 503 and /readyz fails (fail closed)"},
    {.flag = "--store-wait-replicas",
     .env = "MAPIGW_STORE_WAIT_REPLICAS",
     .metavar = "N",
     UINT(0, 16),
     .def = "0",
     .to = {OPTION_TO(core.store_wait_replicas)},
     .help = "after a logoff, wait (at most 100 ms) until N Redis replicas have it"},
    {.flag = "--cors-origins",
     .env = "MAPIGW_CORS_ORIGINS",
     .metavar = "LIST",
     .type = OPTION_STRING,
     .to = {OPTION_TO(cors_origins)},
     .check = check_cors_origins,
     .help = "comma-separated origins allowed by CORS, e.g. http://127.0.0.1:5173 (none: no "
             "CORS headers)"},
    {.flag = "--log-format",
     .env = "MAPIGW_LOG_FORMAT",
     .type = OPTION_CHOICE,
     .choices = LOG_FORMATS,
     .def = "json",
     .to = {OPTION_TO(log_fmt)},
     .help = "access and event log, one line per event, on --log-output"},
    {.flag = "--log-output",
     .env = "MAPIGW_LOG_OUTPUT",
     .type = OPTION_CHOICE,
     .choices = LOG_OUTPUTS,
     .def = "stderr",
     .to = {OPTION_TO(log_out)},
     .help = "where the log lines go (containers: stdout)"},
};
#define OPTION_COUNT (sizeof CONFIG_OPTIONS / sizeof CONFIG_OPTIONS[0])
const size_t CONFIG_OPTION_COUNT = OPTION_COUNT;
_Static_assert(OPTION_COUNT <= CONFIG_OPTION_MAX, "more options than CONFIG_OPTION_MAX");
