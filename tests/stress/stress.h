/* stress.h - private to the stress client (the .c files of tests/stress/, built by
 * scripts/stress.sh): settings, counters, the HTTP answer type, the per-client
 * state and the functions shared between the files. See stress.c for what the
 * client does and the model its checks rest on. */
#ifndef MAPIGW_STRESS_H
#define MAPIGW_STRESS_H

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

typedef struct {
    const char *gateway;
    int clients;
    double seconds;
    int idle;
    int reap;
    int threads;
    const char *profiles;
    char workdir[PATH_MAX];
    unsigned seed;
} settings;

extern settings C;
extern int port;
extern pid_t gw_pid;
extern char log_path[PATH_MAX + 32];

extern atomic_long n_requests, n_unexpected;
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
extern const char *const op_names[OP_COUNT];
/* Interesting outcomes, for the summary. */
extern atomic_long n_joined, n_expired_seen, n_expired_racing, n_ended_by_shared, n_throttled,
    n_events_ended;
/* Requests per operation; cur_op: the operation this thread is running (-1: none). */
extern __thread int cur_op;
extern atomic_long op_requests[OP_COUNT];

/* common.c */
double now_s(void);
void sleep_s(double s);
void unexpected(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
char *read_file(const char *path);

/* model.c: what is known per session */
typedef struct {
    double sure_touch, lsh_sent, lsh_done;
} sinfo;

void srec_touch(const char *id, double sent);
sinfo srec_read(const char *id);
void srec_lsh(const char *id, double sent, double done);

/* http.c */
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

long request(CURL *c, const char *method, const char *path, const char *token, const char *body,
             resp *r, bool events);
void resp_free(resp *r);
const char *mapi_error(const resp *r);
const char *describe(const resp *r, char *buf, size_t n);
bool is_dead_answer(const resp *r);

/* client.c, ops.c */
typedef struct {
    char id[160];
    char token[160];
    char profile[16];
    bool shared; /* a handle of a shared session (created or joined) */
    bool parked;
    bool park_strict; /* wake after the session must have expired */
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

static inline unsigned rnd(client *cl, unsigned n) { return (unsigned)rand_r(&cl->seed) % n; }

void drop_handle(client *cl, int i, bool dead);
bool after_use(client *cl, int i, const char *what, const resp *r, long ok_status);
int pick_live(client *cl);
void *client_main(void *arg);

void op_logon(client *cl, int kind);
void op_get(client *cl, int kind);
void op_events(client *cl);
void op_logoff(client *cl, bool shared_flag);
void op_park(client *cl);
void op_wake(client *cl);
void op_dead(client *cl);
void op_bad_logon(client *cl);
void op_forged(client *cl);
void op_other_id(client *cl);

/* gateway.c */
void start_gateway(void);
int stop_gateway(void);
bool session_counts(CURL *c, long *listed, long *metric, char **detail);
int scan_log(void);

#endif
