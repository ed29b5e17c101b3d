/* refserver.c - the reference server of `make bench` (bench/README.md): the
 * least a libmicrohttpd + jansson program does for the gateway's hot paths.
 * POST /sessions makes a 256-bit bearer token (getrandom) and keeps it in an
 * in-memory hash table; GET /identity and GET /status answer a bearer request
 * with a ~120-byte JSON body from the table entry; DELETE /sessions/{id} logs
 * off. No MAPI, no logging. The gateway's figures are divided by this one's, so
 * libmicrohttpd runs as in server/httpd.c: same flags, limits, Cache-Control.
 * With --verifier V (argon2id), POST /sessions checks the body's "password"
 * against V with libsodium, as the gateway does for an argon2id profile;
 * --profile-verifier NAME=V (repeatable) does so per profile name.
 * With --status-body FILE (a GET /status body of the gateway), GET /status
 * renders that table per request as a plain jansson program would: the rows
 * built as objects, then dumped (same rows, same bytes as the gateway).
 * With --ceiling, nothing is looked up or rendered: every answer is a fixed,
 * pre-built body (--ceiling-identity-bytes, --ceiling-status-bytes,
 * --ceiling-logon-bytes long), the most any server on this library can do.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define TOKEN_LEN 47 /* "mgw_" + 43 base64url characters = 32 random bytes */
#define NBUCKETS (1u << 16)
#define MAX_BODY 1000 /* logon bodies are < 100 bytes; small enough for tcache */

typedef struct entry {
    struct entry *next;
    char token[TOKEN_LEN + 1];
    char id[33];
} entry;

static entry *table[NBUCKETS];
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static const char *verifier; /* NULL: logons need no password */
#define MAX_PROFILES 16
static struct {
    const char *name, *verifier;
} profiles[MAX_PROFILES];
static size_t profile_count;
static json_t *status_table; /* --status-body: the table GET /status renders */
static int ceiling;
static char *ceiling_identity, *ceiling_status, *ceiling_logon;
static size_t ceiling_identity_len = 200, ceiling_status_len = 2745, ceiling_logon_len = 500;

/* Per request: allocated on the first access-handler call, freed on completion. */
typedef struct {
    size_t len;
    int too_large;
    char body[MAX_BODY];
} req;

static unsigned bucket_of(const char *token)
{
    unsigned h = 2166136261u; /* FNV-1a: tokens are random, any mix does */
    for (size_t i = 0; i < TOKEN_LEN; i++)
        h = (h ^ (unsigned char)token[i]) * 16777619u;
    return h & (NBUCKETS - 1);
}

static void b64url(const unsigned char *in, size_t len, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = A[v >> 18 & 63];
        out[o++] = A[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = A[v >> 6 & 63];
        if (i + 2 < len)
            out[o++] = A[v & 63];
    }
    out[o] = '\0';
}

/* Bearer token of the request, or NULL when the header is missing or malformed. */
static const char *bearer(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a || strncmp(a, "Bearer ", 7) != 0 || strlen(a + 7) != TOKEN_LEN ||
        strncmp(a + 7, "mgw_", 4) != 0)
        return NULL;
    return a + 7;
}

/* Finds the token's entry (caller holds the lock). The bucket is chosen by a
 * hash of the token; the token itself is compared in constant time. */
static entry **find(const char *token)
{
    for (entry **p = &table[bucket_of(token)]; *p; p = &(*p)->next)
        if (sodium_memcmp((*p)->token, token, TOKEN_LEN) == 0)
            return p;
    return NULL;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, json_t *body,
                              const char *location)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    if (text)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (location)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result unauthorized(struct MHD_Connection *c)
{
    return answer(c, 401, json_pack("{s:s}", "mapi_error", "MAPI_E_END_OF_SESSION"), NULL);
}

static enum MHD_Result logon(struct MHD_Connection *c, req *r)
{
    if (r->too_large)
        return answer(c, 413, NULL, NULL);
    if (verifier || profile_count) {
        json_t *in = json_loadb(r->body, r->len, 0, NULL);
        const char *pw = json_string_value(json_object_get(in, "password"));
        const char *name = json_string_value(json_object_get(in, "profile"));
        const char *v = verifier;
        for (size_t i = 0; name && i < profile_count; i++)
            if (strcmp(profiles[i].name, name) == 0)
                v = profiles[i].verifier;
        int ok = pw && v && crypto_pwhash_str_verify(v, pw, strlen(pw)) == 0;
        json_decref(in);
        if (!ok)
            return answer(c, 401, json_pack("{s:s}", "mapi_error", "MAPI_E_LOGON_FAILED"), NULL);
    }
    entry *e = calloc(1, sizeof *e);
    unsigned char raw[32], id[16];
    /* getrandom gives up to 256 bytes in one call (urandom source): no loop. */
    if (!e || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw ||
        getrandom(id, sizeof id, 0) != (ssize_t)sizeof id) {
        free(e);
        return answer(c, 503, NULL, NULL);
    }
    memcpy(e->token, "mgw_", 4);
    b64url(raw, sizeof raw, e->token + 4);
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(e->id + 2 * i, 3, "%02x", id[i]);
    json_t *out = json_pack("{s:s,s:s,s:s,s:s}", "id", e->id, "token", e->token, "token_type",
                            "Bearer", "profile", verifier ? "hashed" : "nopw");
    char location[48];
    snprintf(location, sizeof location, "/sessions/%s", e->id);
    pthread_rwlock_wrlock(&table_lock);
    unsigned b = bucket_of(e->token);
    e->next = table[b];
    table[b] = e;
    pthread_rwlock_unlock(&table_lock);
    return answer(c, 201, out, location);
}

static enum MHD_Result logoff(struct MHD_Connection *c, const char *id)
{
    const char *t = bearer(c);
    if (!t)
        return unauthorized(c);
    pthread_rwlock_wrlock(&table_lock);
    entry **p = find(t), *e = p ? *p : NULL;
    int same = e && strcmp(e->id, id) == 0;
    if (same)
        *p = e->next;
    pthread_rwlock_unlock(&table_lock);
    if (!e)
        return unauthorized(c);
    if (!same)
        return answer(c, 404, json_pack("{s:s}", "mapi_error", "MAPI_E_NOT_FOUND"), NULL);
    free(e);
    return answer(c, 204, NULL, NULL);
}

/* GET /identity and GET /status: a ~120-byte body from the table entry. */
static enum MHD_Result read_session(struct MHD_Connection *c, int identity)
{
    const char *t = bearer(c);
    if (!t)
        return unauthorized(c);
    char id[33];
    pthread_rwlock_rdlock(&table_lock);
    entry **p = find(t);
    if (p)
        memcpy(id, (*p)->id, sizeof id);
    pthread_rwlock_unlock(&table_lock);
    if (!p)
        return unauthorized(c);
    json_t *out;
    if (identity)
        out = json_pack("{s:s,s:s,s:s,s:s}", "session_id", id, "display", "Nopw Bench",
                        "address_type", "SMTP", "address", "nopw@example.invalid");
    else if (status_table)
        out = json_deep_copy(status_table); /* the rows as objects, built per request */
    else
        out = json_pack("{s:s,s:s,s:s,s:s}", "session_id", id, "display_name", "MAPI Subsystem",
                        "resource_type", "MAPI_SUBSYSTEM", "status", "STATUS_AVAILABLE");
    return answer(c, 200, out, NULL);
}

/* --ceiling: a fixed body, no lookup, no JSON. */
static enum MHD_Result fixed(struct MHD_Connection *c, unsigned status, const char *body,
                             size_t len, const char *location)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (len)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (location)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result ceiling_answer(struct MHD_Connection *c, const char *url, const char *method)
{
    if (strcmp(method, "POST") == 0)
        return fixed(c, 201, ceiling_logon, ceiling_logon_len,
                     "/sessions/00000000000000000000000000000000");
    if (strcmp(method, "DELETE") == 0)
        return fixed(c, 204, "", 0, NULL);
    if (strcmp(url, "/status") == 0)
        return fixed(c, 200, ceiling_status, ceiling_status_len, NULL);
    return fixed(c, 200, ceiling_identity, ceiling_identity_len, NULL);
}

/* A JSON-looking body of exactly len bytes. */
static char *filler(size_t len)
{
    char *b = malloc(len + 1);
    if (!b)
        return NULL;
    memset(b, 'x', len);
    if (len >= 2) {
        b[0] = '{';
        b[len - 1] = '}';
    }
    b[len] = '\0';
    return b;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls, (void)version;
    req *r = *con_cls;
    if (!r) {
        /* First call: headers only. Never answer here: libmicrohttpd 0.9.75
         * then sends "Connection: close" and keep-alive is lost (4x slower). */
        r = malloc(sizeof *r);
        if (!r)
            return MHD_NO;
        r->len = 0, r->too_large = 0;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size > 0) { /* body piece: keep it if it fits */
        if (r->len + *upload_size <= MAX_BODY) {
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
        } else {
            r->too_large = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (ceiling)
        return ceiling_answer(c, url, method);
    if (strcmp(method, "POST") == 0 && strcmp(url, "/sessions") == 0)
        return logon(c, r);
    if (strcmp(method, "DELETE") == 0 && strncmp(url, "/sessions/", 10) == 0)
        return logoff(c, url + 10);
    if (strcmp(method, "GET") == 0 &&
        (strcmp(url, "/identity") == 0 || strcmp(url, "/status") == 0))
        return read_session(c, url[1] == 'i');
    return answer(c, 404, json_pack("{s:s}", "mapi_error", "MAPI_E_NOT_FOUND"), NULL);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    unsigned port = 0, threads = 4;
    const char *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ceiling") == 0) {
            ceiling = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "refserver: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--status-body") == 0) {
            json_error_t e;
            if (!(status_table = json_load_file(argv[++i], 0, &e))) {
                fprintf(stderr, "refserver: %s: %s\n", argv[i], e.text);
                return 2;
            }
            continue;
        }
        if (strcmp(argv[i], "--profile-verifier") == 0) {
            char *eq = strchr(argv[++i], '=');
            if (!eq || profile_count == MAX_PROFILES) {
                fprintf(stderr, "refserver: --profile-verifier NAME=VERIFIER\n");
                return 2;
            }
            *eq = '\0';
            profiles[profile_count].name = argv[i];
            profiles[profile_count++].verifier = eq + 1;
            continue;
        }
        if (strcmp(argv[i], "--ceiling-identity-bytes") == 0) {
            ceiling_identity_len = (size_t)atol(argv[++i]);
            continue;
        }
        if (strcmp(argv[i], "--ceiling-status-bytes") == 0) {
            ceiling_status_len = (size_t)atol(argv[++i]);
            continue;
        }
        if (strcmp(argv[i], "--ceiling-logon-bytes") == 0) {
            ceiling_logon_len = (size_t)atol(argv[++i]);
            continue;
        }
        if (strcmp(argv[i], "--port") == 0)
            port = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--port-file") == 0)
            port_file = argv[i + 1];
        else if (strcmp(argv[i], "--verifier") == 0)
            verifier = argv[i + 1];
        else {
            fprintf(stderr, "usage: refserver [--port N] [--port-file F] [--threads N] "
                            "[--verifier ARGON2ID] [--profile-verifier NAME=V]... "
                            "[--status-body FILE] [--ceiling [--ceiling-identity-bytes N] "
                            "[--ceiling-status-bytes N] [--ceiling-logon-bytes N]]\n");
            return 2;
        }
        i++;
    }
    if (ceiling && (!(ceiling_identity = filler(ceiling_identity_len)) ||
                    !(ceiling_status = filler(ceiling_status_len)) ||
                    !(ceiling_logon = filler(ceiling_logon_len))))
        return 1;
    if (ceiling) {
        /* The logon's fixed answer names a session the way a real one does,
         * so that bench/cycle.lua can log it off (the logoff's answer is
         * fixed too). */
        static const char head[] = "{\"id\":\"00000000000000000000000000000000\",\"token\":"
                                   "\"mgw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"pad\":\"";
        if (ceiling_logon_len >= sizeof head + 2)
            memcpy(ceiling_logon, head, sizeof head - 1);
        if (ceiling_logon_len >= 2) {
            ceiling_logon[ceiling_logon_len - 2] = '"';
            ceiling_logon[ceiling_logon_len - 1] = '}';
        }
    }
    if (sodium_init() < 0 || threads < 1)
        return 1;
    /* SIGTERM and SIGINT are blocked before libmicrohttpd starts its threads
     * (they inherit the mask) and taken by sigwait in main: a clean stop. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* The gateway's defaults (server/config.c, server/httpd_limits.c): 1024
     * connections, 64 per IP, 30 s idle timeout, a memory pool of 2 * (16384
     * header + 4096 URL bytes) + 8 KiB (zeroed between requests: its size
     * costs every request; run.sh checks httpd_limits.c still says so). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_EPOLL;
    struct MHD_OptionItem pool[] = {{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
                                    {MHD_OPTION_END, 0, NULL}};
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_ARRAY,
        threads > 1 ? pool : pool + 1, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(2 * (16384 + 4096) + 8192),
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "refserver: cannot start libmicrohttpd\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (!f || fprintf(f, "%u\n", info ? info->port : port) < 0 || fclose(f) != 0)
            return 1;
    }
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
