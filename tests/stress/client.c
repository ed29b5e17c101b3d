/* client.c - one client thread: the random mix of operations, the handle
 * bookkeeping and the check of a token's answer (see "The model" in stress.c). */
#include "stress.h"

static void remember_dead(client *cl, const char *token)
{
    char *slot = cl->dead[cl->ndead % MAX_DEAD];
    if (slot != token)
        memmove(slot, token, strnlen(token, sizeof cl->dead[0] - 1) + 1);
    slot[sizeof cl->dead[0] - 1] = '\0';
    cl->ndead++;
}

void drop_handle(client *cl, int i, bool dead)
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
bool after_use(client *cl, int i, const char *what, const resp *r, long ok_status)
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

int pick_live(client *cl)
{
    int live[MAX_HANDLES], n = 0;
    for (int i = 0; i < cl->nh; i++)
        if (!cl->h[i].parked)
            live[n++] = i;
    return n ? live[rnd(cl, (unsigned)n)] : -1;
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

void *client_main(void *arg)
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
        {OP_LOGON, 10},        {OP_LOGON_SHARED, 4}, {OP_JOIN, 8},     {OP_STATUS, 20},
        {OP_IDENTITY, 15},     {OP_SESSION, 8},      {OP_EVENTS, 2},   {OP_LOGOFF, 8},
        {OP_LOGOFF_SHARED, 3}, {OP_PARK, 3},         {OP_WAKE, 10},    {OP_DEAD, 4},
        {OP_BAD_LOGON, 1},     {OP_FORGED, 2},       {OP_OTHER_ID, 2},
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
