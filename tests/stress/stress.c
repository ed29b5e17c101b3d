/* stress.c - many clients at once against one gateway.
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
#include "stress.h"

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
