/* stress.c - many clients at once against one gateway (issue 4, "Concurrency").
 *
 *   stress [options] GATEWAY_BINARY
 *     --clients N        client threads (16)
 *     --seconds S        how long the random mix runs (15)
 *     --idle-timeout S   the gateway's --idle-timeout (2)
 *     --reap-interval S  the gateway's --reap-interval (1)
 *     --threads N        the gateway's --threads (4)
 *     --profiles PATH    profiles file (tests/profiles/stress.json)
 *     --workdir DIR      data dir, port file and gateway.log go here (a fresh temp dir)
 *     --seed N           random seed (time-based; printed so a run can be repeated)
 *
 * Starts GATEWAY_BINARY itself (127.0.0.1, --port 0 + --port-file, a temp
 * --data-dir, an admin key, a short idle timeout and reap interval), then N
 * threads, each with its own libcurl connection, run a random mix for a bounded
 * time: private logons (MAPI_NEW_SESSION), shared logons (MAPI_ALLOW_OTHERS),
 * joins (no MAPI_NEW_SESSION), GET /status, /identity, /sessions/<id>, GET
 * /events briefly, plain logoff, MAPI_LOGOFF_SHARED, logons to an unknown
 * profile, forged tokens, and sessions left idle past (or right at) their
 * expiry and then used, racing with the reaper.
 *
 * Every answer is checked against what the client may expect, from what it
 * knows (see "The model" below). Never a 5xx, never a transport error. At the
 * end every live handle is logged off, GET /sessions (admin key) and
 * /metrics must show 0 sessions, SIGTERM must stop the gateway with exit
 * status 0, and its log must hold no sanitizer report.
 *
 * The model. A session's expiry is checked on use with time() seconds:
 * expired when now_s >= last_used_s + idle. So
 *   - a session used (2xx) by a request sent at t is alive for any request
 *     answered before t + idle - 1 (minus a margin): a 401 then is a bug,
 *     unless someone started a MAPI_LOGOFF_SHARED on it;
 *   - a private session whose last possible use was answered at t is dead for
 *     any request sent after t + idle: a 2xx then is a bug (expired session
 *     still usable);
 *   - in between both answers are fine (the race with the reaper), but once a
 *     handle got 401 it stays 401.
 * Uses are recorded per session id (shared handles touch one session), so the
 * first rule also covers shared sessions touched by other threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_KEY "stress-admin-key-0123456789abcdefghijkl"
#define MAX_HANDLES 8
#define MAX_DEAD 8
#define MARGIN 0.15 /* seconds of slack on top of the 1 s time() granularity */

/* ------------------------------------------------------------ settings */

static struct {
    const char *gateway;
    int clients;
    double seconds;
    int idle;
    int reap;
    int threads;
    const char *profiles;
    char workdir[PATH_MAX];
    unsigned seed;
} C = {NULL, 16, 15, 2, 1, 4, "tests/profiles/stress.json", "", 0};

static int port;
static pid_t gw_pid;
static char log_path[PATH_MAX + 32];

static atomic_long n_requests, n_unexpected;
enum {
    OP_LOGON,
    OP_LOGON_SHARED,
    OP_JOIN,
    OP_STATUS,
    OP_IDENTITY,
    OP_SESSION,
    OP_EVENTS,
    OP_LOGOFF,
    OP_LOGOFF_SHARED,
    OP_PARK,
    OP_WAKE,
    OP_DEAD,
    OP_BAD_LOGON,
    OP_FORGED,
    OP_OTHER_ID,
    OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "logon",  "logon_shared",  "join", "status", "identity", "session",   "events",   "logoff",
    "logoff_shared", "park", "wake", "dead",   "bad_logon", "forged", "other_id"};
/* Interesting outcomes, for the summary. */
static atomic_long n_joined, n_expired_seen, n_expired_racing, n_ended_by_shared, n_throttled,
    n_events_ended;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void unexpected(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void unexpected(const char *fmt, ...)
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

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
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

/* ------------------------------------------------- what is known per session */

/* Per session id, shared by all threads: the latest send time of a request
 * that surely touched it (a 2xx with a handle of it, or the logon that created
 * it), and whether a MAPI_LOGOFF_SHARED was sent for it / answered 204. */
typedef struct srec {
    struct srec *next;
    double sure_touch;
    double lsh_sent; /* 0: never */
    double lsh_done; /* 0: not yet */
    char id[];
} srec;

#define NBUCKETS 8192
static srec *buckets[NBUCKETS];
static pthread_mutex_t srec_lock = PTHREAD_MUTEX_INITIALIZER;

static srec *srec_get_locked(const char *id)
{
    unsigned h = 5381;
    for (const char *p = id; *p; p++)
        h = h * 33 + (unsigned char)*p;
    srec **b = &buckets[h % NBUCKETS];
    for (srec *r = *b; r; r = r->next)
        if (strcmp(r->id, id) == 0)
            return r;
    srec *r = calloc(1, sizeof *r + strlen(id) + 1);
    if (!r)
        die("out of memory");
    strcpy(r->id, id);
    r->next = *b;
    *b = r;
    return r;
}

static void srec_touch(const char *id, double sent)
{
    pthread_mutex_lock(&srec_lock);
    srec *r = srec_get_locked(id);
    if (sent > r->sure_touch)
        r->sure_touch = sent;
    pthread_mutex_unlock(&srec_lock);
}

typedef struct {
    double sure_touch, lsh_sent, lsh_done;
} sinfo;

static sinfo srec_read(const char *id)
{
    pthread_mutex_lock(&srec_lock);
    const srec *r = srec_get_locked(id);
    sinfo copy = {r->sure_touch, r->lsh_sent, r->lsh_done};
    pthread_mutex_unlock(&srec_lock);
    return copy;
}

static void srec_lsh(const char *id, double sent, double done)
{
    pthread_mutex_lock(&srec_lock);
    srec *r = srec_get_locked(id);
    if (sent && (!r->lsh_sent || sent < r->lsh_sent))
        r->lsh_sent = sent;
    if (done && (!r->lsh_done || done < r->lsh_done))
        r->lsh_done = done;
    pthread_mutex_unlock(&srec_lock);
}

/* ------------------------------------------------------------------- HTTP */

typedef struct {
    long status;
    char *body;
    size_t len;
    json_t *json;
    char ctype[128];
    char www_auth[256];
    char retry_after[32];
    CURLcode rc;
    char err[CURL_ERROR_SIZE];
    double sent, recv;
    /* events: abort once the stream is known to work */
    bool is_events;
    bool saw_open;
    double stay, open_at; /* events: how long to stay after the opening comment */
    CURL *curl;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t add = sz * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, add);
    r->len += add;
    r->body[r->len] = '\0';
    if (r->is_events) {
        long st = 0;
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &st);
        if (st == 200 && !r->saw_open && strstr(r->body, ": mapigw events")) {
            r->saw_open = true;
            r->open_at = now_s();
        }
        if (r->saw_open && r->stay == 0)
            return 0; /* abort: the client goes away mid-stream */
    }
    return add;
}

/* Events: leave once stayed long enough. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const resp *r = ud;
    return r->saw_open && now_s() - r->open_at > r->stay;
}

static void copy_header(char *dst, size_t dstsz, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    while (n && *v == ' ')
        v++, n--;
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = sz * n;
    static const struct {
        const char *name;
        size_t off, size;
    } want[] = {
        {"content-type:", offsetof(resp, ctype), sizeof(((resp *)0)->ctype)},
        {"www-authenticate:", offsetof(resp, www_auth), sizeof(((resp *)0)->www_auth)},
        {"retry-after:", offsetof(resp, retry_after), sizeof(((resp *)0)->retry_after)},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t k = strlen(want[i].name);
        if (len > k && strncasecmp(p, want[i].name, k) == 0)
            copy_header((char *)r + want[i].off, want[i].size, p + k, len - k);
    }
    return len;
}

static void resp_free(resp *r)
{
    free(r->body);
    if (r->json)
        json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* One request. token: bearer (NULL: none). Fills r; returns r->status (0 on a
 * transport error, which is always unexpected except for an events stream the
 * client itself aborted). */
static __thread int cur_op = -1;
static atomic_long op_requests[OP_COUNT];

static long request(CURL *c, const char *method, const char *path, const char *token,
                    const char *body, resp *r, bool events)
{
    double stay = r->stay;
    memset(r, 0, sizeof *r);
    r->stay = stay;
    r->is_events = events;
    r->curl = c;
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, events ? 20000L : 60000L);
    if (events) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
    struct curl_slist *h = NULL;
    char auth[512];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    r->sent = now_s();
    r->rc = curl_easy_perform(c);
    r->recv = now_s();
    curl_slist_free_all(h);
    atomic_fetch_add(&n_requests, 1);
    if (cur_op >= 0)
        atomic_fetch_add(&op_requests[cur_op], 1);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->rc != CURLE_OK &&
        !(events && r->saw_open &&
          (r->rc == CURLE_WRITE_ERROR || r->rc == CURLE_ABORTED_BY_CALLBACK)))
        r->status = 0;
    if (r->body && (strncmp(r->ctype, "application/json", 16) == 0 ||
                    strncmp(r->ctype, "application/problem+json", 24) == 0))
        r->json = json_loads(r->body, 0, NULL);
    return r->status;
}

static const char *mapi_error(const resp *r)
{
    json_t *e = r->json ? json_object_get(r->json, "mapi_error") : NULL;
    return json_is_string(e) ? json_string_value(e) : "";
}

/* A short description of an answer for messages (no token, no body beyond 200 chars). */
static const char *describe(const resp *r, char *buf, size_t n)
{
    if (r->status == 0)
        snprintf(buf, n, "transport error %d (%s)", (int)r->rc, r->err);
    else
        snprintf(buf, n, "%ld %s %.200s", r->status, mapi_error(r), r->body ? r->body : "");
    return buf;
}

/* The one 401 for a token that is not a live handle. */
static bool is_dead_answer(const resp *r)
{
    return r->status == 401 && strcmp(mapi_error(r), "MAPI_E_END_OF_SESSION") == 0 &&
           strncmp(r->ctype, "application/problem+json", 24) == 0 &&
           strstr(r->www_auth, "error=\"invalid_token\"") != NULL;
}

/* ---------------------------------------------------------------- clients */

typedef struct {
    char id[160];
    char token[160];
    char profile[16];
    bool shared; /* a handle of a shared session (created or joined) */
    bool parked;
    bool park_strict;     /* wake after the session must have expired */
    double wake_at;
    double possible_recv; /* latest answer to a request that may have touched it (private) */
} handle;

typedef struct {
    int no;
    unsigned seed;
    CURL *c, *ev;
    handle h[MAX_HANDLES];
    int nh;
    char dead[MAX_DEAD][160];
    int ndead;
    double deadline;
} client;

static const struct {
    const char *name, *password;
    int rows; /* status rows in a session without MAPI_NO_MAIL */
} PROFILES[] = {
    {"alice", "alice-pw", 6},
    {"bob", "bob-pw", 4},
    {"nopw", NULL, 6},
};
#define NPROFILES (sizeof PROFILES / sizeof PROFILES[0])

static unsigned rnd(client *cl, unsigned n) { return (unsigned)rand_r(&cl->seed) % n; }

static int profile_index(const char *name)
{
    for (size_t i = 0; i < NPROFILES; i++)
        if (strcmp(PROFILES[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void remember_dead(client *cl, const char *token)
{
    char *slot = cl->dead[cl->ndead % MAX_DEAD];
    if (slot != token)
        memmove(slot, token, strnlen(token, sizeof cl->dead[0] - 1) + 1);
    slot[sizeof cl->dead[0] - 1] = '\0';
    cl->ndead++;
}

static void drop_handle(client *cl, int i, bool dead)
{
    if (dead)
        remember_dead(cl, cl->h[i].token);
    cl->h[i] = cl->h[--cl->nh];
}

/* A 401 on handle i: is it allowed? The answer came back at r->recv. */
static bool death_allowed(const handle *hd, const resp *r, const char **why)
{
    sinfo s = srec_read(hd->id);
    if (s.lsh_sent && s.lsh_sent <= r->recv) {
        *why = "logoff_shared";
        return true;
    }
    if (r->recv - s.sure_touch >= (double)C.idle - 1.0 - MARGIN) {
        *why = "expired";
        return true;
    }
    *why = NULL;
    return false;
}

/* After a request with handle i: updates what is known and checks the answer
 * for the token part. ok_status: the expected success status. Returns true
 * when the handle is still live (and the caller may check the body). */
static bool after_use(client *cl, int i, const char *what, const resp *r, long ok_status)
{
    handle *hd = &cl->h[i];
    char d[400];
    if (r->status == ok_status) {
        srec_touch(hd->id, r->sent);
        hd->possible_recv = r->recv;
        return true;
    }
    if (r->status == 401) {
        const char *why = NULL;
        if (!is_dead_answer(r))
            unexpected("%s: a 401 that is not END_OF_SESSION + invalid_token: %s", what,
                       describe(r, d, sizeof d));
        else if (!death_allowed(hd, r, &why))
            unexpected("%s: live session %s answered 401 %.3f s after its last use (idle "
                       "timeout %d s, no shared logoff)",
                       what, hd->id, r->recv - srec_read(hd->id).sure_touch, C.idle);
        else if (strcmp(why, "expired") == 0)
            atomic_fetch_add(&n_expired_racing, 1);
        else
            atomic_fetch_add(&n_ended_by_shared, 1);
        drop_handle(cl, i, true);
        return false;
    }
    unexpected("%s: expected %ld or 401, got %s", what, ok_status, describe(r, d, sizeof d));
    drop_handle(cl, i, true);
    return false;
}

static int pick_live(client *cl)
{
    int live[MAX_HANDLES], n = 0;
    for (int i = 0; i < cl->nh; i++)
        if (!cl->h[i].parked)
            live[n++] = i;
    return n ? live[rnd(cl, (unsigned)n)] : -1;
}

static void check_logon_body(const char *what, const resp *r, bool want_new)
{
    char d[400];
    json_t *j = r->json;
    const char *tok = j ? json_string_value(json_object_get(j, "token")) : NULL;
    const char *id = j ? json_string_value(json_object_get(j, "id")) : NULL;
    if (!tok || strncmp(tok, "mgw_", 4) != 0 || !id || !*id)
        unexpected("%s: 201 without id/token: %s", what, describe(r, d, sizeof d));
    bool joined = json_is_true(json_object_get(j, "joined"));
    bool shared = json_is_true(json_object_get(j, "shared"));
    if (want_new && joined)
        unexpected("%s: MAPI_NEW_SESSION logon joined a session", what);
    if (joined && !shared)
        unexpected("%s: joined but not shared", what);
}

static void op_logon(client *cl, int kind)
{
    if (cl->nh >= MAX_HANDLES)
        return;
    const char *flags = kind == OP_LOGON          ? "[\"MAPI_NEW_SESSION\"]"
                        : kind == OP_LOGON_SHARED ? "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]"
                                                  : "[]";
    size_t pi = rnd(cl, NPROFILES);
    json_t *b = json_pack("{s:s,s:o}", "profile", PROFILES[pi].name, "flags", json_loads(flags, 0, NULL));
    if (PROFILES[pi].password)
        json_object_set_new(b, "password", json_string(PROFILES[pi].password));
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    resp r;
    char d[400];
    request(cl->c, "POST", "/sessions", NULL, body, &r, false);
    free(body);
    if (r.status != 201) {
        unexpected("%s %s: expected 201, got %s", op_names[kind], PROFILES[pi].name,
                   describe(&r, d, sizeof d));
        resp_free(&r);
        return;
    }
    check_logon_body(op_names[kind], &r, kind != OP_JOIN);
    const char *tok = json_string_value(json_object_get(r.json, "token"));
    const char *id = json_string_value(json_object_get(r.json, "id"));
    if (tok && id) {
        handle *hd = &cl->h[cl->nh++];
        memset(hd, 0, sizeof *hd);
        snprintf(hd->id, sizeof hd->id, "%s", id);
        snprintf(hd->token, sizeof hd->token, "%s", tok);
        snprintf(hd->profile, sizeof hd->profile, "%s", PROFILES[pi].name);
        hd->shared = json_is_true(json_object_get(r.json, "shared"));
        hd->possible_recv = r.recv;
        bool joined = json_is_true(json_object_get(r.json, "joined"));
        if (joined) {
            atomic_fetch_add(&n_joined, 1);
            sinfo s = srec_read(id);
            if (s.lsh_done && s.lsh_done < r.sent)
                unexpected("join: joined session %s, whose MAPI_LOGOFF_SHARED was answered "
                           "204 %.3f s before the join was sent",
                           id, r.sent - s.lsh_done);
            /* A join does not count as use of the session. */
        } else {
            srec_touch(id, r.sent); /* a new session: created while this request ran */
        }
    }
    resp_free(&r);
}

static void check_status_body(const char *what, const handle *hd, const resp *r)
{
    char d[400];
    json_t *rows = r->json ? json_object_get(r->json, "rows") : NULL;
    json_t *rc = r->json ? json_object_get(r->json, "row_count") : NULL;
    if (!json_is_array(rows) || !json_is_integer(rc) ||
        (size_t)json_integer_value(rc) != json_array_size(rows)) {
        unexpected("%s: bad status table: %s", what, describe(r, d, sizeof d));
        return;
    }
    int pi = profile_index(hd->profile);
    if (pi >= 0 && json_array_size(rows) != (size_t)PROFILES[pi].rows)
        unexpected("%s: profile %s: %zu status rows, expected %d: %s", what, hd->profile,
                   json_array_size(rows), PROFILES[pi].rows, describe(r, d, sizeof d));
}

static void op_get(client *cl, int kind)
{
    int i = pick_live(cl);
    if (i < 0)
        return;
    handle *hd = &cl->h[i];
    char path[300], what[64], d[400];
    const char *p = kind == OP_STATUS ? "/status" : kind == OP_IDENTITY ? "/identity" : NULL;
    if (!p) {
        snprintf(path, sizeof path, "/sessions/%s", hd->id);
        p = path;
    }
    snprintf(what, sizeof what, "GET %s", kind == OP_SESSION ? "/sessions/<id>" : p);
    handle copy = *hd;
    resp r;
    request(cl->c, "GET", p, hd->token, NULL, &r, false);
    if (after_use(cl, i, what, &r, 200)) {
        if (kind == OP_STATUS) {
            check_status_body(what, &copy, &r);
        } else if (kind == OP_IDENTITY) {
            if (!r.json || !json_is_string(json_object_get(r.json, "entry_id")))
                unexpected("%s: no entry_id: %s", what, describe(&r, d, sizeof d));
        } else {
            const char *id = r.json ? json_string_value(json_object_get(r.json, "id")) : NULL;
            json_t *nh = r.json ? json_object_get(r.json, "handles") : NULL;
            if (!id || strcmp(id, copy.id) != 0 || !json_is_integer(nh) ||
                json_integer_value(nh) < 1)
                unexpected("%s: wrong session resource: %s", what, describe(&r, d, sizeof d));
        }
    }
    resp_free(&r);
}

static void op_events(client *cl)
{
    int i = pick_live(cl);
    if (i < 0)
        return;
    handle *hd = &cl->h[i];
    char d[400];
    resp r;
    /* Mostly leave at once; sometimes stay a while, so streams are open while
     * sessions end (shared logoff, expiry) under them. */
    r.stay = rnd(cl, 4) ? 0 : 0.05 + rnd(cl, 500) / 1000.0;
    request(cl->ev, "GET", "/events", hd->token, NULL, &r, true);
    if (r.status == 200) {
        /* Opening a stream may or may not count as use: it is only a possible touch. */
        hd->possible_recv = r.recv;
        if (strncmp(r.ctype, "text/event-stream", 17) != 0 || !r.saw_open)
            unexpected("GET /events: 200 without an event stream: %s", describe(&r, d, sizeof d));
        else if (r.rc == CURLE_OK) {
            /* The server ended the stream: only after a critical error. */
            if (!strstr(r.body, "event: critical_error"))
                unexpected("GET /events: stream ended without critical_error: %.300s", r.body);
            atomic_fetch_add(&n_events_ended, 1);
        }
    } else if (r.status == 401) {
        after_use(cl, i, "GET /events", &r, 200);
    } else {
        unexpected("GET /events: %s", describe(&r, d, sizeof d));
    }
    resp_free(&r);
}

static void op_logoff(client *cl, bool shared_flag)
{
    int i = pick_live(cl);
    if (i < 0)
        return;
    handle *hd = &cl->h[i];
    char path[300], d[400];
    snprintf(path, sizeof path, "/sessions/%s%s", hd->id,
             shared_flag ? (rnd(cl, 2) ? "?flags=MAPI_LOGOFF_SHARED" : "?flags=1") : "");
    const char *what = shared_flag ? "DELETE ?flags=MAPI_LOGOFF_SHARED" : "DELETE /sessions/<id>";
    bool lsh = shared_flag && hd->shared;
    double sent = now_s();
    if (lsh)
        srec_lsh(hd->id, sent, 0);
    handle copy = *hd;
    resp r;
    request(cl->c, "DELETE", path, hd->token, NULL, &r, false);
    if (r.status == 204) {
        if (lsh)
            srec_lsh(copy.id, 0, r.recv);
        drop_handle(cl, i, true);
    } else {
        after_use(cl, i, what, &r, 204);
    }
    (void)d;
    resp_free(&r);
}

static void op_park(client *cl)
{
    int i = pick_live(cl);
    if (i < 0)
        return;
    handle *hd = &cl->h[i];
    hd->parked = true;
    /* Private sessions: half of them wake when they must be dead; the others
     * (and shared ones) wake around the expiry, racing with the reaper. */
    hd->park_strict = !hd->shared && rnd(cl, 2);
    double base = hd->possible_recv;
    if (hd->park_strict)
        hd->wake_at = base + C.idle + 0.05 + rnd(cl, 1500) / 1000.0;
    else
        hd->wake_at = base + C.idle - 1.0 + rnd(cl, 1500) / 1000.0;
}

static void op_wake(client *cl)
{
    double now = now_s();
    for (int i = 0; i < cl->nh; i++) {
        handle *hd = &cl->h[i];
        if (!hd->parked || hd->wake_at > now)
            continue;
        char d[400];
        handle copy = *hd;
        resp r;
        request(cl->c, "GET", (rnd(cl, 2) ? "/status" : "/identity"), hd->token, NULL, &r, false);
        if (copy.park_strict) {
            /* sent after last possible use + idle: must be dead */
            if (r.sent < copy.possible_recv + C.idle)
                unexpected("internal: strict wake too early");
            if (is_dead_answer(&r)) {
                atomic_fetch_add(&n_expired_seen, 1);
                drop_handle(cl, i, true);
            } else {
                unexpected("wake: private session %s unused for %.3f s (idle timeout %d s) "
                           "answered %s",
                           copy.id, r.sent - copy.possible_recv, C.idle,
                           describe(&r, d, sizeof d));
                drop_handle(cl, i, false);
            }
        } else if (after_use(cl, i, "wake (racing expiry)", &r, 200)) {
            hd->parked = false;
        }
        resp_free(&r);
        return; /* one per op */
    }
}

static void op_dead(client *cl)
{
    if (cl->ndead == 0)
        return;
    int n = cl->ndead < MAX_DEAD ? cl->ndead : MAX_DEAD;
    const char *tok = cl->dead[rnd(cl, (unsigned)n)];
    const char *paths[] = {"/status", "/identity", "/events"};
    const char *p = paths[rnd(cl, 3)];
    char d[400];
    resp r;
    request(cl->c, "GET", p, tok, NULL, &r, false);
    if (!is_dead_answer(&r))
        unexpected("GET %s with a dead token: expected 401 END_OF_SESSION, got %s", p,
                   describe(&r, d, sizeof d));
    resp_free(&r);
}

static void op_bad_logon(client *cl)
{
    char d[400];
    resp r;
    request(cl->c, "POST", "/sessions", NULL,
            "{\"profile\":\"stress-nobody\",\"password\":\"x\",\"flags\":[\"MAPI_NEW_SESSION\"]}",
            &r, false);
    if (r.status == 429) {
        atomic_fetch_add(&n_throttled, 1);
        if (!r.retry_after[0] || strcmp(mapi_error(&r), "MAPI_E_LOGON_FAILED") != 0)
            unexpected("bad logon: 429 without Retry-After or LOGON_FAILED: %s",
                       describe(&r, d, sizeof d));
    } else if (r.status != 401 || strcmp(mapi_error(&r), "MAPI_E_LOGON_FAILED") != 0) {
        unexpected("bad logon: expected 401 LOGON_FAILED or 429, got %s",
                   describe(&r, d, sizeof d));
    }
    resp_free(&r);
}

static void op_forged(client *cl)
{
    char tok[160], d[400];
    int i = pick_live(cl);
    if (i >= 0 && rnd(cl, 2)) {
        /* a live token with its last character changed */
        snprintf(tok, sizeof tok, "%s", cl->h[i].token);
        size_t n = strlen(tok);
        tok[n - 1] = tok[n - 1] == 'A' ? 'B' : 'A';
    } else {
        snprintf(tok, sizeof tok, "mgw_%08x%08x", rand_r(&cl->seed), rand_r(&cl->seed));
    }
    resp r;
    request(cl->c, "GET", "/status", tok, NULL, &r, false);
    if (!is_dead_answer(&r))
        unexpected("forged token: expected 401 END_OF_SESSION, got %s", describe(&r, d, sizeof d));
    resp_free(&r);
}

/* DELETE another session of ours with this handle: 404, never a logoff. */
static void op_other_id(client *cl)
{
    int i = pick_live(cl), j = pick_live(cl);
    if (i < 0 || j < 0 || strcmp(cl->h[i].id, cl->h[j].id) == 0)
        return;
    char path[300], d[400];
    snprintf(path, sizeof path, "/sessions/%s", cl->h[j].id);
    resp r;
    request(cl->c, "DELETE", path, cl->h[i].token, NULL, &r, false);
    if (r.status == 404) {
        if (strcmp(mapi_error(&r), "MAPI_E_NOT_FOUND") != 0)
            unexpected("DELETE other session: 404 without MAPI_E_NOT_FOUND: %s",
                       describe(&r, d, sizeof d));
        srec_touch(cl->h[i].id, r.sent); /* authenticated, so used */
        cl->h[i].possible_recv = r.recv;
    } else {
        after_use(cl, i, "DELETE other session", &r, 404);
    }
    resp_free(&r);
}

static int count_parked(const client *cl, bool due_only)
{
    double now = now_s();
    int n = 0;
    for (int i = 0; i < cl->nh; i++)
        n += cl->h[i].parked && (!due_only || cl->h[i].wake_at <= now);
    return n;
}

/* Whether op can do something now (else another is drawn). */
static bool eligible(const client *cl, int op)
{
    int live = cl->nh - count_parked(cl, false);
    switch (op) {
    case OP_LOGON:
    case OP_LOGON_SHARED:
    case OP_JOIN:
        return cl->nh < MAX_HANDLES;
    case OP_PARK:
        return live > 0 && count_parked(cl, false) < MAX_HANDLES / 2;
    case OP_WAKE:
        return count_parked(cl, true) > 0;
    case OP_DEAD:
        return cl->ndead > 0;
    case OP_OTHER_ID:
        return live > 1;
    case OP_BAD_LOGON:
    case OP_FORGED:
        return true;
    default:
        return live > 0;
    }
}

static void *client_main(void *arg)
{
    client *cl = arg;
    cl->c = curl_easy_init();
    cl->ev = curl_easy_init();
    if (!cl->c || !cl->ev)
        die("curl_easy_init failed");
    /* weights of the mix */
    static const struct {
        int op, w;
    } mix[] = {
        {OP_LOGON, 10},  {OP_LOGON_SHARED, 4}, {OP_JOIN, 8},       {OP_STATUS, 20},
        {OP_IDENTITY, 15}, {OP_SESSION, 8},   {OP_EVENTS, 2},      {OP_LOGOFF, 8},
        {OP_LOGOFF_SHARED, 3}, {OP_PARK, 3}, {OP_WAKE, 10},       {OP_DEAD, 4},
        {OP_BAD_LOGON, 1}, {OP_FORGED, 2},    {OP_OTHER_ID, 2},
    };
    int total = 0;
    for (size_t k = 0; k < sizeof mix / sizeof mix[0]; k++)
        total += mix[k].w;
    while (now_s() < cl->deadline) {
        int op = OP_STATUS;
        for (int tries = 0; tries < 20; tries++) {
            int x = (int)rnd(cl, (unsigned)total);
            for (size_t k = 0; k < sizeof mix / sizeof mix[0]; k++) {
                if (x < mix[k].w) {
                    op = mix[k].op;
                    break;
                }
                x -= mix[k].w;
            }
            if (eligible(cl, op))
                break;
            op = -1;
        }
        if (op < 0) {
            sleep_s(0.01); /* nothing to do right now: only parked handles, none due */
            continue;
        }
        cur_op = op;
        switch (op) {
        case OP_LOGON:
        case OP_LOGON_SHARED:
        case OP_JOIN:
            op_logon(cl, op);
            break;
        case OP_STATUS:
        case OP_IDENTITY:
        case OP_SESSION:
            op_get(cl, op);
            break;
        case OP_EVENTS:
            op_events(cl);
            break;
        case OP_LOGOFF:
            op_logoff(cl, false);
            break;
        case OP_LOGOFF_SHARED:
            op_logoff(cl, true);
            break;
        case OP_PARK:
            op_park(cl);
            break;
        case OP_WAKE:
            op_wake(cl);
            break;
        case OP_DEAD:
            op_dead(cl);
            break;
        case OP_BAD_LOGON:
            op_bad_logon(cl);
            break;
        case OP_FORGED:
            op_forged(cl);
            break;
        case OP_OTHER_ID:
            op_other_id(cl);
            break;
        }
    }
    /* Log off everything still open: 204, or 401 when it ended meanwhile. */
    cur_op = -1;
    while (cl->nh > 0) {
        handle copy = cl->h[0];
        char path[300], d[400];
        snprintf(path, sizeof path, "/sessions/%s", copy.id);
        resp r;
        request(cl->c, "DELETE", path, copy.token, NULL, &r, false);
        if (r.status == 204) {
            drop_handle(cl, 0, true);
        } else if (copy.parked && copy.park_strict && is_dead_answer(&r)) {
            drop_handle(cl, 0, true);
        } else if (r.status == 401) {
            cl->h[0].parked = false;
            after_use(cl, 0, "final logoff", &r, 204);
        } else {
            unexpected("final logoff: %s", describe(&r, d, sizeof d));
            drop_handle(cl, 0, false);
        }
        resp_free(&r);
    }
    curl_easy_cleanup(cl->c);
    curl_easy_cleanup(cl->ev);
    return NULL;
}

/* ---------------------------------------------------------------- gateway */

static char *read_file(const char *path)
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

static void start_gateway(void)
{
    char portfile[PATH_MAX + 16], datadir[PATH_MAX + 16], idle[16], reap[16], threads[16];
    snprintf(portfile, sizeof portfile, "%s/port", C.workdir);
    snprintf(datadir, sizeof datadir, "%s/data", C.workdir);
    snprintf(log_path, sizeof log_path, "%s/gateway.log", C.workdir);
    snprintf(idle, sizeof idle, "%d", C.idle);
    snprintf(reap, sizeof reap, "%d", C.reap);
    snprintf(threads, sizeof threads, "%d", C.threads);
    unlink(portfile);
    const char *argv[] = {C.gateway,       "--listen",        "127.0.0.1", "--port",
                          "0",             "--port-file",     portfile,    "--profiles",
                          C.profiles,      "--data-dir",      datadir,     "--admin-key",
                          ADMIN_KEY,       "--idle-timeout",  idle,        "--reap-interval",
                          reap,            "--threads",       threads,     "--lifetime",
                          "3600",          "--log-format",    "json",
                          /* A client that drops a suspended GET /events stream keeps its
                           * connection slot until the stream is next resumed (keep-alive
                           * tick or event): with the default 15 s and 64 per address,
                           * this test's many short streams would exhaust the per-address
                           * cap (reported on issue 4). Keep-alives every second also
                           * stress the resume path. */
                          "--events-keepalive", "1", "--max-connections-per-ip", "256",
                          NULL};
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

static int stop_gateway(void)
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
static bool session_counts(CURL *c, long *listed, long *metric, char **detail)
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

static int scan_log(void)
{
    static const char *const reports[] = {"WARNING: ThreadSanitizer", "ERROR: AddressSanitizer",
                                          "ERROR: LeakSanitizer",     "runtime error",
                                          "SUMMARY: ThreadSanitizer", "SUMMARY: AddressSanitizer",
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

static void usage(void)
{
    fprintf(stderr, "usage: stress [--clients N] [--seconds S] [--idle-timeout S] "
                    "[--reap-interval S] [--threads N] [--profiles PATH] [--workdir DIR] "
                    "[--seed N] GATEWAY\n");
    exit(2);
}

int main(int argc, char **argv)
{
    C.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    for (int a = 1; a < argc; a++) {
        const char *o = argv[a];
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (o[0] != '-') {
            C.gateway = o;
            continue;
        }
        if (!v)
            usage();
        a++;
        if (strcmp(o, "--clients") == 0)
            C.clients = atoi(v);
        else if (strcmp(o, "--seconds") == 0)
            C.seconds = atof(v);
        else if (strcmp(o, "--idle-timeout") == 0)
            C.idle = atoi(v);
        else if (strcmp(o, "--reap-interval") == 0)
            C.reap = atoi(v);
        else if (strcmp(o, "--threads") == 0)
            C.threads = atoi(v);
        else if (strcmp(o, "--profiles") == 0)
            C.profiles = v;
        else if (strcmp(o, "--workdir") == 0)
            snprintf(C.workdir, sizeof C.workdir, "%s", v);
        else if (strcmp(o, "--seed") == 0)
            C.seed = (unsigned)strtoul(v, NULL, 10);
        else
            usage();
    }
    if (!C.gateway || C.clients < 1 || C.clients > 256 || C.seconds <= 0 || C.idle < 2 ||
        C.reap < 1)
        usage();
    if (!C.workdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(C.workdir, sizeof C.workdir, "%s/mapigw-stress-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(C.workdir))
            die("mkdtemp: %s", strerror(errno));
    } else {
        mkdir(C.workdir, 0700);
    }
    char prof[PATH_MAX];
    if (!realpath(C.profiles, prof))
        die("profiles file %s: %s", C.profiles, strerror(errno));
    C.profiles = prof;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("stress: gateway %s, %d clients, %.0f s, idle timeout %d s, reap interval %d s, "
           "seed %u, workdir %s\n",
           C.gateway, C.clients, C.seconds, C.idle, C.reap, C.seed, C.workdir);
    fflush(stdout);
    start_gateway();

    double t0 = now_s();
    client *cls = calloc((size_t)C.clients, sizeof *cls);
    pthread_t *th = calloc((size_t)C.clients, sizeof *th);
    if (!cls || !th)
        die("out of memory");
    for (int i = 0; i < C.clients; i++) {
        cls[i].no = i;
        cls[i].seed = C.seed + 7919u * (unsigned)i;
        cls[i].deadline = t0 + C.seconds;
        if (pthread_create(&th[i], NULL, client_main, &cls[i]) != 0)
            die("pthread_create failed");
    }
    for (int i = 0; i < C.clients; i++)
        pthread_join(th[i], NULL);
    double elapsed = now_s() - t0;
    long during = atomic_load(&n_requests);

    /* Every handle is logged off; sessions that expired unseen are reaped
     * within the reap interval. The count must reach 0. */
    CURL *c = curl_easy_init();
    long listed = -1, metric = -1;
    char *detail = NULL;
    double until = now_s() + C.idle + C.reap + 5;
    for (;;) {
        if (!session_counts(c, &listed, &metric, &detail))
            break;
        if (listed == 0 && metric == 0)
            break;
        if (now_s() > until) {
            unexpected("final session count: GET /sessions %ld, mapigw_sessions %ld (expected "
                       "0): %.600s",
                       listed, metric, detail ? detail : "");
            break;
        }
        sleep_s(0.25);
    }
    free(detail);
    curl_easy_cleanup(c);

    int st = stop_gateway();
    if (st != 0)
        unexpected("gateway exit status %d after SIGTERM, expected 0 (log %s)", st, log_path);
    int reports = scan_log();
    if (reports)
        unexpected("%d sanitizer report(s) in the gateway log %s", reports, log_path);

    printf("stress: requests per operation:");
    for (int k = 0; k < OP_COUNT; k++)
        printf(" %s=%ld", op_names[k], atomic_load(&op_requests[k]));
    printf("\nstress: joined=%ld ended_by_logoff_shared=%ld expired(strict)=%ld "
           "expired(racing)=%ld events_ended_by_server=%ld throttled=%ld\n",
           atomic_load(&n_joined), atomic_load(&n_ended_by_shared), atomic_load(&n_expired_seen),
           atomic_load(&n_expired_racing), atomic_load(&n_events_ended), atomic_load(&n_throttled));
    long bad = atomic_load(&n_unexpected);
    printf("stress: %ld requests by %d clients in %.1f s, %ld unexpected answers\n", during,
           C.clients, elapsed, bad);
    curl_global_cleanup();
    free(cls);
    free(th);
    return bad == 0 ? 0 : 1;
}
