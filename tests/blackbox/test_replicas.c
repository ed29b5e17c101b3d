/* Black-box suite "replicas": several gateways sharing one Redis session
 * store (--store redis://..., the same --store-prefix), as replicas behind a
 * load balancer would. Each test starts its own redis-server (or a master,
 * a replica and a Sentinel) on 127.0.0.1 (tests/support/srv_redis.h) and two
 * or three gateways; the test itself plays the balancer, choosing the replica
 * of each request. What one replica does (logon, logoff, a shared session's
 * join, caps, the throttle, idle use) every other one sees; a replica killed,
 * every replica restarted in turn, Redis stopped and restarted, a Sentinel
 * failover: no acknowledged session lost. Another replica learns of a logoff
 * within the store's grace (3 s): the tests poll for it with gw_ms deadlines. */
#include "../support/gw.h"
#include "../support/srv_redis.h"
#include "sse_fixture.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXGW 3
#define NEW "[\"MAPI_NEW_SESSION\"]"
#define SHARED "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]"
#define ADMIN_KEY "replicas-admin-key-0123456789abcdefghijklmnop"
/* How long another replica may take to learn of a logoff: the grace (3 s)
 * and a margin. */
#define PROPAGATION_MS 5000

static srv_redis R;
static srv_redis_sentinel S;
static bool have_r, have_s;
static gw *G[MAXGW];
static char store_url[160];
static char prefix[64];

static void fini(void)
{
    for (int i = 0; i < MAXGW; i++) {
        gw_finish(G[i]);
        G[i] = NULL;
    }
    if (have_r)
        srv_redis_destroy(&R);
    if (have_s)
        srv_redis_sentinel_destroy(&S);
    have_r = have_s = false;
}

TestSuite(replicas, .fini = fini, .timeout = 240);

static long long clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts replica i on the shared store, with extra (NULL-terminated, may be
 * NULL) after the store options. */
static gw *replica(int i, const char *const *extra)
{
    const char *args[32] = {"--store", store_url,     "--store-prefix",
                            prefix,    "--admin-key", ADMIN_KEY};
    size_t n = 6;
    for (size_t k = 0; extra && extra[k] && n < 31; k++)
        args[n++] = extra[k];
    args[n] = NULL;
    G[i] = gw_start("main.json", args);
    gw_add_secret(G[i], ADMIN_KEY);
    return G[i];
}

/* One redis-server and n replicas on it. */
static void start_replicas(int n, const char *const *extra)
{
    srv_redis_start(&R);
    have_r = true;
    snprintf(store_url, sizeof store_url, "%s", R.url);
    snprintf(prefix, sizeof prefix, "rep%ld:", (long)getpid());
    for (int i = 0; i < n; i++)
        replica(i, extra);
}

static long get_on(int i, const char *path, const char *token)
{
    gw_resp r;
    long st = gw_get(G[i], path, token, &r);
    gw_resp_free(&r);
    return st;
}

static void logoff_on(int i, const gw_session *s, const char *flags)
{
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s%s%s", s->id, flags ? "?flags=" : "",
             flags ? flags : "");
    gw_resp r;
    cr_assert_eq(gw_delete(G[i], path, s->token, &r), 204, "logoff on replica %d: %ld %s", i,
                 r.status, r.body);
    gw_resp_free(&r);
}

/* Polls GET path on replica i until it answers want, up to gw_ms(ms); the
 * last status. */
static long poll_until(int i, const char *path, const char *token, long want, int ms)
{
    long long deadline = clock_ms() + gw_ms(ms);
    long st;
    while ((st = get_on(i, path, token)) != want && clock_ms() < deadline)
        gw_sleep_ms(25);
    return st;
}

/* Polls GET path on replica i while it answers `skip` (503 while a replica
 * finds Redis again), up to gw_ms(ms); the last status. */
static long poll_while(int i, const char *path, const char *token, long skip, int ms)
{
    long long deadline = clock_ms() + gw_ms(ms);
    long st;
    while ((st = get_on(i, path, token)) == skip && clock_ms() < deadline)
        gw_sleep_ms(25);
    return st;
}

/* A logon on replica i that may meet one 503 while the replica finds Redis
 * again (after an outage or a failover); asserts 201 within gw_ms(ms). */
static void logon_after_outage(int i, gw_session *out, int ms)
{
    long long deadline = clock_ms() + gw_ms(ms);
    for (;;) {
        gw_logon(G[i], "alice", "alice-pw", NEW, out);
        if (out->status != 503 || clock_ms() >= deadline)
            break;
        gw_session_free(out);
        gw_sleep_ms(50);
    }
    cr_assert_eq(out->status, 201, "logon on replica %d: %ld %s", i, out->status, out->resp.body);
}

/* ---------------------------------------------------------------- the store */

/* The fixture itself: an acknowledged write survives kill -9 (AOF, fsync
 * always) and a restart on the same port. */
Test(replicas, redis_fixture_keeps_writes_across_kill9)
{
    srv_redis_start(&R);
    have_r = true;
    char out[256];
    const char *const set[] = {"SET", "k", "v1", NULL};
    cr_assert(srv_redis_cmd(R.port, set, out, sizeof out, 2000), "%s", out);
    cr_assert_str_eq(out, "OK");
    srv_redis_kill9(&R);
    const char *const get[] = {"GET", "k", NULL};
    cr_assert_not(srv_redis_cmd(R.port, get, out, sizeof out, 500),
                  "still answering after kill -9");
    srv_redis_restart(&R);
    cr_assert(srv_redis_cmd(R.port, get, out, sizeof out, 2000), "%s", out);
    cr_expect_str_eq(out, "v1", "the AOF did not bring the write back");
}

/* The Sentinel fixture: kill -9 of the master, the replica promoted, and a
 * write the replica had acknowledged (WAIT) is on the new master. */
Test(replicas, sentinel_fixture_promotes_the_replica)
{
    srv_redis_sentinel_start(&S);
    have_s = true;
    char out[256];
    const char *const set[] = {"SET", "k", "v1", NULL};
    cr_assert(srv_redis_cmd(S.master.port, set, out, sizeof out, 2000), "%s", out);
    const char *const wait[] = {"WAIT", "1", "0", NULL};
    cr_assert(srv_redis_cmd(S.master.port, wait, out, sizeof out, 10000), "%s", out);
    cr_assert_str_eq(out, "1");
    cr_assert_eq(srv_redis_sentinel_master_port(&S), S.master.port);
    int port = srv_redis_failover(&S, 30000);
    cr_assert_eq(port, S.replica.port);
    const char *const get[] = {"GET", "k", NULL};
    cr_assert(srv_redis_cmd(port, get, out, sizeof out, 2000), "%s", out);
    cr_expect_str_eq(out, "v1");
}

Test(replicas, logon_on_a_works_on_b_and_c_logoff_on_c_ends_it_everywhere)
{
    start_replicas(3, NULL);
    gw_session s;
    gw_logon_ok(G[0], "alice", "alice-pw", NEW, &s);
    for (int i = 0; i < 3; i++) {
        gw_resp r;
        cr_assert_eq(gw_get(G[i], "/identity", s.token, &r), 200, "replica %d: %s", i, r.body);
        gw_resp_free(&r);
        char path[256];
        snprintf(path, sizeof path, "/sessions/%s", s.id);
        cr_assert_eq(gw_get(G[i], path, s.token, &r), 200, "replica %d: %s", i, r.body);
        cr_expect_str_eq(gw_jstr(r.json, "id"), s.id, "replica %d: %s", i, r.body);
        gw_resp_free(&r);
    }
    /* The same instance keys everywhere: the status tables agree on them. */
    gw_resp a, c;
    cr_assert_eq(gw_get(G[0], "/status", s.token, &a), 200);
    cr_assert_eq(gw_get(G[2], "/status", s.token, &c), 200);
    json_t *ra = gw_row_of_type(a.json, 33), *rc = gw_row_of_type(c.json, 33); /* the store */
    cr_assert(ra && rc && gw_jstr(ra, "instance_key") && gw_jstr(rc, "instance_key"), "%s", c.body);
    cr_expect_str_eq(gw_jstr(ra, "instance_key"), gw_jstr(rc, "instance_key"));
    gw_resp_free(&a);
    gw_resp_free(&c);

    logoff_on(2, &s, NULL);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(poll_until(i, "/identity", s.token, 401, PROPAGATION_MS), 401,
                     "replica %d still serves a token logged off on replica 2", i);
    gw_resp r;
    gw_get(G[0], "/identity", s.token, &r);
    cr_expect_eq(r.status, 401, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* Logons of a profile on replica i until want (a reload there takes up
 * to a reap interval), up to gw_ms(ms); the last status. */
static long logon_until(int i, const char *profile, const char *password, long want, int ms)
{
    long long deadline = clock_ms() + gw_ms(ms);
    for (;;) {
        gw_session n;
        long st = gw_logon(G[i], profile, password, NEW, &n);
        gw_session_free(&n);
        if (st == want || clock_ms() >= deadline)
            return st;
        gw_sleep_ms(100);
    }
}

Test(replicas, profile_written_on_a_reaches_b_through_the_shared_file)
{
    start_replicas(1, NULL);
    const char *shared[] = {"--profiles", gw_profiles_path(G[0]), NULL};
    replica(1, shared);
    gw_resp r;
    cr_assert_eq(gw_post(G[0], "/profiles", ADMIN_KEY,
                         "{\"name\":\"zoe\",\"password\":\"zoe-pw\"}", &r),
                 201, "%s", r.body);
    gw_resp_free(&r);
    /* B reloads the file A wrote, without SIGHUP. */
    cr_expect_eq(logon_until(1, "zoe", "zoe-pw", 201, 10000), 201,
                 "replica 1 never took the profile replica 0 created");
    gw_session s;
    gw_logon_ok(G[0], "zoe", "zoe-pw", NEW, &s);
    /* Deleted on B: its session ends on A at once (through Redis), and A
     * stops logging it on once it has reloaded the file. */
    cr_assert_eq(gw_delete(G[1], "/profiles/zoe", ADMIN_KEY, &r), 204, "%s", r.body);
    gw_resp_free(&r);
    cr_expect_eq(poll_until(0, "/identity", s.token, 401, PROPAGATION_MS), 401,
                 "replica 0 still serves a session of the deleted profile");
    cr_expect_eq(logon_until(0, "zoe", "zoe-pw", 401, 10000), 401,
                 "replica 0 still logs on the deleted profile");
    gw_session_free(&s);
}

/* Before: a password changed through the API lives in Redis, not in the
 * profiles file, so a reload (now also every profile administration write)
 * compared the file's old verifier with the changed one and ended the
 * sessions of that profile. */
Test(replicas, a_profile_write_keeps_the_sessions_of_a_changed_password)
{
    start_replicas(1, NULL);
    gw_session s;
    gw_logon_ok(G[0], "alice", "alice-pw", NEW, &s);
    gw_resp r;
    cr_assert_eq(gw_get(G[0], "/status", s.token, &r), 200);
    const char *ik = gw_row_with_method(r.json, 0x4u);
    cr_assert(ik, "no row offers change-password");
    char path[128];
    snprintf(path, sizeof path, "/status/%s/change-password", ik);
    gw_resp_free(&r);
    cr_assert_eq(gw_post(G[0], path, s.token,
                         "{\"old_password\":\"alice-pw\",\"new_password\":\"alice-new-pw\"}", &r),
                 200, "%s", r.body);
    gw_resp_free(&r);
    cr_assert_eq(gw_post(G[0], "/profiles", ADMIN_KEY, "{\"name\":\"yann\"}", &r), 201, "%s",
                 r.body);
    gw_resp_free(&r);
    cr_expect_eq(get_on(0, "/identity", s.token), 200, "the write ended alice's session");
    cr_expect_eq(logon_until(0, "alice", "alice-new-pw", 201, 2000), 201,
                 "the changed password was lost");
    gw_session_free(&s);
}

Test(replicas, shared_session_joined_from_other_replicas)
{
    start_replicas(3, NULL);
    gw_session a, b, c;
    gw_logon_ok(G[0], "alice", "alice-pw", SHARED, &a);
    gw_logon_ok(G[1], "alice", "alice-pw", "[]", &b);
    cr_expect(json_is_true(json_object_get(b.resp.json, "joined")), "%s", b.resp.body);
    cr_expect_str_eq(b.id, a.id);
    gw_logon_ok(G[2], NULL, "alice-pw", "[]", &c); /* nameless: the shared one */
    cr_expect(json_is_true(json_object_get(c.resp.json, "joined")), "%s", c.resp.body);
    cr_expect_str_eq(c.id, a.id);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", a.id);
    gw_resp r;
    cr_assert_eq(gw_get(G[0], path, c.token, &r), 200, "%s", r.body);
    json_t *h = json_object_get(r.json, "handles");
    cr_expect(json_is_integer(h) && json_integer_value(h) == 3, "handles: %s", r.body);
    gw_resp_free(&r);
    /* a member's plain logoff ends its handle only */
    logoff_on(1, &b, NULL);
    cr_expect_eq(poll_until(2, "/identity", b.token, 401, PROPAGATION_MS), 401);
    cr_expect_eq(get_on(2, "/identity", a.token), 200);
    cr_expect_eq(get_on(0, "/identity", c.token), 200);
    gw_session_free(&a);
    gw_session_free(&b);
    gw_session_free(&c);
}

Test(replicas, per_profile_cap_counted_across_replicas)
{
    const char *const args[] = {"--max-sessions-per-profile", "2", NULL};
    start_replicas(3, args);
    gw_session a, b, c, d;
    gw_logon_ok(G[0], "alice", "alice-pw", NEW, &a);
    gw_logon_ok(G[1], "alice", "alice-pw", NEW, &b);
    gw_logon(G[2], "alice", "alice-pw", NEW, &c);
    gw_assert_problem(&c.resp, 429, "MAPI_E_SESSION_LIMIT");
    gw_session_free(&c);
    gw_logon(G[0], "alice", "alice-pw", NEW, &c);
    gw_assert_problem(&c.resp, 429, "MAPI_E_SESSION_LIMIT");
    gw_session_free(&c);
    /* a logoff on one replica frees the slot for another */
    logoff_on(1, &a, NULL);
    gw_logon_ok(G[2], "alice", "alice-pw", NEW, &d);
    gw_session_free(&a);
    gw_session_free(&b);
    gw_session_free(&d);
}

Test(replicas, failed_logons_throttled_across_replicas)
{
    const char *const args[] = {"--throttle-after", "3", NULL};
    start_replicas(3, args);
    /* Three failures in a row spread over three replicas: the fourth, on any
     * of them, is throttled. Counted per replica, nine would pass. */
    int failures = 0;
    bool throttled = false;
    for (int i = 0; i < 9 && !throttled; i++) {
        gw_session s;
        gw_logon(G[i % 3], "alice", "wrong-pw", NEW, &s);
        if (s.status == 429) {
            throttled = true;
            gw_assert_problem(&s.resp, 429, "MAPI_E_LOGON_FAILED");
            const char *ra = gw_header(&s.resp, "Retry-After");
            cr_expect(ra && atoi(ra) >= 1, "429 without Retry-After");
        } else {
            gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
            failures++;
        }
        gw_session_free(&s);
    }
    cr_assert(throttled, "9 failures over 3 replicas were never throttled");
    cr_expect_eq(failures, 3, "%d failures before the 429, --throttle-after 3", failures);
}

/* ------------------------------------------------------------------ events */

Test(replicas, logoff_shared_on_a_ends_the_stream_on_b)
{
    start_replicas(2, NULL);
    gw_session a, b;
    gw_logon_ok(G[0], "alice", "alice-pw", SHARED, &a);
    gw_logon_ok(G[1], "alice", "alice-pw", "[]", &b);
    cr_assert_str_eq(a.id, b.id, "B did not join A's shared session");
    sse *s = sse_open_ready_with(G[1], b.token, "", NULL);
    logoff_on(0, &a, "MAPI_LOGOFF_SHARED");
    cr_expect(sse_wait(s, "event: critical_error", PROPAGATION_MS), "no critical_error on B: %s",
              s->buf);
    cr_expect(sse_wait(s, "\"reason\":\"logoff_shared\"", 100), "%s", s->buf);
    cr_expect(sse_wait(s, "\"mapi_error\":\"MAPI_E_END_OF_SESSION\"", 100), "%s", s->buf);
    cr_expect(sse_wait_done(s, 5000), "the stream on B did not end");
    cr_expect_eq(get_on(1, "/identity", b.token), 401);
    sse_close(s);
    gw_session_free(&a);
    gw_session_free(&b);
}

/* ---------------------------------------------------------------- idle time */

/* Admin GET /sessions on replica i: does it list id? (Not a use of the
 * session: it does not move its idle deadline.) */
static bool listed(int i, const char *id)
{
    gw_resp r;
    cr_assert_eq(gw_get(G[i], "/sessions", ADMIN_KEY, &r), 200, "%s", r.body);
    bool found = strstr(r.body, id) != NULL;
    gw_resp_free(&r);
    return found;
}

Test(replicas, idle_timeout_kept_alive_by_traffic_spread_over_replicas)
{
    int idle_s = gw_ms(2000) / 1000;
    char idle[16];
    snprintf(idle, sizeof idle, "%d", idle_s);
    const char *const args[] = {"--idle-timeout", idle, "--reap-interval", "1", NULL};
    start_replicas(2, args);
    gw_session s;
    gw_logon_ok(G[0], "alice", "alice-pw", NEW, &s);
    /* Three idle timeouts of use, alternating, each replica seeing it only
     * every other 400 ms: only the shared deadline keeps it alive. */
    long long until = clock_ms() + 3LL * idle_s * 1000;
    for (int n = 0; clock_ms() < until; n++) {
        cr_assert_eq(get_on(n % 2, "/identity", s.token), 200,
                     "the session ended under traffic spread over replicas (request %d)", n);
        gw_sleep_ms(400);
    }
    /* No traffic: it ends within idle + ~1.5 s, on both. */
    long long deadline = clock_ms() + gw_ms(idle_s * 1000 + 1500 + 4000);
    bool gone = false;
    while (!gone && clock_ms() < deadline) {
        gone = !listed(0, s.id) && !listed(1, s.id);
        if (!gone)
            gw_sleep_ms(100);
    }
    cr_assert(gone, "the session outlived its idle timeout by seconds");
    cr_expect_eq(poll_until(0, "/identity", s.token, 401, PROPAGATION_MS), 401);
    cr_expect_eq(poll_until(1, "/identity", s.token, 401, PROPAGATION_MS), 401);
    gw_session_free(&s);
}

/* -------------------------------------------------------------------- load */

#define NSESS 12
#define NLOAD 2

/* Clients that keep sending GET /identity with every token to the replicas
 * whose port is in ports[] (0: out of the balancer). They count 200s, and
 * transport errors apart from any other answer. */
typedef struct {
    atomic_int ports[MAXGW];
    char tokens[NSESS][160];
    atomic_bool stop;
    atomic_long ok, transport, bad;
    atomic_long last_bad; /* status of the last bad answer */
    pthread_t threads[NLOAD];
} load;

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p, (void)ctx;
    return size * n;
}

static void *load_thread(void *arg)
{
    load *l = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)gw_ms(15000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    for (unsigned n = 0; !atomic_load(&l->stop); n++) {
        int port = atomic_load(&l->ports[n % MAXGW]);
        if (port == 0) {
            gw_sleep_ms(1);
            continue;
        }
        char url[96], auth[220];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/identity", port);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", l->tokens[(n / MAXGW) % NSESS]);
        struct curl_slist *h = curl_slist_append(NULL, auth);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        long st = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        curl_slist_free_all(h);
        if (st == 200)
            atomic_fetch_add(&l->ok, 1);
        else if (st == 0)
            atomic_fetch_add(&l->transport, 1);
        else {
            atomic_fetch_add(&l->bad, 1);
            atomic_store(&l->last_bad, st);
        }
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* NSESS sessions logged on round robin over the n replicas, and the load on
 * all of them. */
static load *load_start(int n)
{
    load *l = calloc(1, sizeof *l);
    cr_assert(l);
    for (int k = 0; k < NSESS; k++) {
        gw_session s;
        gw_logon_ok(G[k % n], "alice", "alice-pw", NEW, &s);
        snprintf(l->tokens[k], sizeof l->tokens[k], "%s", s.token);
        gw_session_free(&s);
    }
    for (int i = 0; i < n; i++)
        atomic_store(&l->ports[i], gw_port(G[i]));
    for (int t = 0; t < NLOAD; t++)
        cr_assert_eq(pthread_create(&l->threads[t], NULL, load_thread, l), 0);
    return l;
}

/* Waits until the load made `more` further successful requests (bounded). */
static void load_progress(load *l, long more)
{
    long target = atomic_load(&l->ok) + more;
    long long deadline = clock_ms() + gw_ms(10000);
    while (atomic_load(&l->ok) < target && clock_ms() < deadline)
        gw_sleep_ms(10);
    cr_assert_geq(atomic_load(&l->ok), target, "the load stalled");
}

static void load_stop(load *l)
{
    atomic_store(&l->stop, true);
    for (int t = 0; t < NLOAD; t++)
        pthread_join(l->threads[t], NULL);
}

/* Every token of the load works on each of the n replicas. */
static void every_token_works(const load *l, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < NSESS; k++)
            cr_expect_eq(get_on(i, "/identity", l->tokens[k]), 200, "token %d on replica %d", k, i);
}

Test(replicas, kill9_of_a_replica_under_load_loses_no_session)
{
    start_replicas(3, NULL);
    load *l = load_start(3);
    load_progress(l, 200);
    cr_expect_eq(atomic_load(&l->transport), 0, "transport errors before the kill");
    /* A crash: the balancer notices only afterwards. Until then requests
     * to it fail; once it is out (and the requests in flight are over),
     * none does. */
    kill(gw_pid(G[0]), SIGKILL);
    cr_assert_eq(gw_wait_exit(G[0], 5000), 128 + SIGKILL);
    atomic_store(&l->ports[0], 0);
    long out_of_balancer = atomic_load(&l->transport);
    load_progress(l, 200);
    load_stop(l);
    cr_expect_eq(atomic_load(&l->bad), 0,
                 "%ld answers were neither 200 nor a transport error (last %ld)",
                 atomic_load(&l->bad), atomic_load(&l->last_bad));
    cr_expect_leq(atomic_load(&l->transport) - out_of_balancer, NLOAD,
                  "transport errors from the replicas left alive");
    for (int i = 1; i < 3; i++)
        for (int k = 0; k < NSESS; k++)
            cr_expect_eq(get_on(i, "/identity", l->tokens[k]), 200,
                         "token %d (logged on at replica %d) lost on replica %d", k, k % 3, i);
    for (int k = 0; k < NSESS; k++)
        gw_add_secret(G[1], l->tokens[k]);
    gw_free(G[0]); /* killed: no exit status 0 to expect */
    G[0] = NULL;
    free(l);
}

Test(replicas, rolling_restart_under_load_logs_nobody_off)
{
    start_replicas(3, NULL);
    load *l = load_start(3);
    load_progress(l, 200);
    const char *const no_extra[] = {NULL};
    for (int i = 0; i < 3; i++) {
        /* drain (out of the balancer), SIGTERM, a new one, back in */
        atomic_store(&l->ports[i], 0);
        gw_finish(G[i]);
        G[i] = NULL;
        load_progress(l, 50);
        replica(i, no_extra);
        atomic_store(&l->ports[i], gw_port(G[i]));
        load_progress(l, 100);
    }
    load_stop(l);
    cr_expect_eq(atomic_load(&l->bad), 0, "%ld answers were not 200 (last %ld)",
                 atomic_load(&l->bad), atomic_load(&l->last_bad));
    every_token_works(l, 3);
    free(l);
}

/* ------------------------------------------------------------ Redis outages */

static void expect_503_network(gw_resp *r, const char *what)
{
    gw_assert_problem(r, 503, "MAPI_E_NETWORK_ERROR");
    const char *ra = gw_header(r, "Retry-After");
    cr_expect(ra && atoi(ra) >= 1, "%s: 503 without Retry-After", what);
}

Test(replicas, redis_down_503_then_recovers_with_every_session)
{
    const char *const args[] = {"--store-grace-ms", "1000", NULL};
    start_replicas(2, args);
    gw_session s[4];
    for (int k = 0; k < 4; k++)
        gw_logon_ok(G[k % 2], "alice", "alice-pw", NEW, &s[k]);
    cr_assert_eq(get_on(1, "/identity", s[0].token), 200);

    srv_redis_stop(&R);
    for (int i = 0; i < 2; i++)
        cr_expect_eq(poll_until(i, "/readyz", NULL, 503, 1000 + 5000), 503,
                     "replica %d still ready with Redis down", i);
    cr_expect_eq(get_on(0, "/healthz", NULL), 200, "/healthz follows Redis");
    gw_resp r;
    gw_get(G[0], "/identity", s[0].token, &r);
    expect_503_network(&r, "a request after the grace");
    gw_resp_free(&r);
    gw_session n;
    gw_logon(G[1], "alice", "alice-pw", NEW, &n);
    expect_503_network(&n.resp, "a logon without Redis");
    gw_session_free(&n);

    srv_redis_restart(&R);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(poll_until(i, "/readyz", NULL, 200, 10000), 200,
                     "replica %d did not recover by itself", i);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++)
            cr_expect_eq(poll_until(i, "/identity", s[k].token, 200, 5000), 200,
                         "session %d lost on replica %d after Redis came back", k, i);
    logon_after_outage(1, &n, 5000);
    /* A pooled connection that died with Redis fails once more (503) and is
     * found again on the next call. */
    long st = poll_while(0, "/identity", n.token, 503, 5000);
    cr_expect_eq(st, 200, "a logon on replica 1 after the outage, used on replica 0: %ld", st);
    gw_session_free(&n);
    for (int k = 0; k < 4; k++)
        gw_session_free(&s[k]);
}

Test(replicas, sentinel_failover_followed_by_the_replicas)
{
    srv_redis_sentinel_start(&S);
    have_s = true;
    snprintf(store_url, sizeof store_url, "%s", S.url);
    snprintf(prefix, sizeof prefix, "rep%ld:", (long)getpid());
    const char *const args[] = {"--store-wait-replicas", "1", NULL};
    replica(0, args);
    replica(1, args);
    gw_session s[4], gone;
    for (int k = 0; k < 4; k++)
        gw_logon_ok(G[k % 2], "alice", "alice-pw", NEW, &s[k]);
    gw_logon_ok(G[0], "alice", "alice-pw", NEW, &gone);
    logoff_on(1, &gone, NULL); /* WAITs for the replica: a failover cannot bring it back */
    /* Logons are replicated asynchronously: the test waits for the replica
     * before it kills the master, as the contract's "acknowledged" means. */
    char out[128];
    char wait_ms[16];
    snprintf(wait_ms, sizeof wait_ms, "%d", gw_ms(5000));
    const char *const wait[] = {"WAIT", "1", wait_ms, NULL};
    cr_assert(srv_redis_cmd(srv_redis_sentinel_master_port(&S), wait, out, sizeof out, 10000), "%s",
              out);
    cr_assert_geq(atoi(out), 1, "the replica did not catch up: WAIT said %s", out);

    int port = srv_redis_failover(&S, 30000);
    cr_assert_neq(port, S.master.port);
    /* The replicas find the new master by themselves; meanwhile what needs
     * Redis may get 503. */
    for (int i = 0; i < 2; i++)
        cr_assert_eq(poll_until(i, "/readyz", NULL, 200, 20000), 200,
                     "replica %d not ready after the failover", i);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++)
            cr_expect_eq(poll_until(i, "/identity", s[k].token, 200, 20000), 200,
                         "session %d not served by replica %d after the failover", k, i);
    for (int i = 0; i < 2; i++) {
        long st = poll_while(i, "/identity", gone.token, 503, 20000);
        cr_expect_eq(st, 401, "a logged-off token came back on replica %d with the failover: %ld",
                     i, st);
    }
    gw_session n;
    logon_after_outage(1, &n, 5000);
    long st = poll_while(0, "/identity", n.token, 503, 20000);
    cr_expect_eq(st, 200, "a logon on replica 1 after the failover, used on replica 0: %ld", st);
    gw_session_free(&n);
    gw_session_free(&gone);
    for (int k = 0; k < 4; k++)
        gw_session_free(&s[k]);
}
