/* ops.c - the operations of the mix, each one request (or a few) with its
 * answer checked. */
#include "stress.h"

static const struct {
    const char *name, *password;
    int rows; /* status rows in a session without MAPI_NO_MAIL */
} PROFILES[] = {
    {"alice", "alice-pw", 6},
    {"bob", "bob-pw", 4},
    {"nopw", NULL, 6},
};
#define NPROFILES (sizeof PROFILES / sizeof PROFILES[0])

static int profile_index(const char *name)
{
    for (size_t i = 0; i < NPROFILES; i++)
        if (strcmp(PROFILES[i].name, name) == 0)
            return (int)i;
    return -1;
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

void op_logon(client *cl, int kind)
{
    if (cl->nh >= MAX_HANDLES)
        return;
    const char *flags = kind == OP_LOGON          ? "[\"MAPI_NEW_SESSION\"]"
                        : kind == OP_LOGON_SHARED ? "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]"
                                                  : "[]";
    size_t pi = rnd(cl, NPROFILES);
    json_t *b =
        json_pack("{s:s,s:o}", "profile", PROFILES[pi].name, "flags", json_loads(flags, 0, NULL));
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

void op_get(client *cl, int kind)
{
    int i = pick_live(cl);
    if (i < 0)
        return;
    handle *hd = &cl->h[i];
    char path[300], what[320], d[400]; /* what: room for "GET " + path */
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

void op_events(client *cl)
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

void op_logoff(client *cl, bool shared_flag)
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

void op_park(client *cl)
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

void op_wake(client *cl)
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
                           copy.id, r.sent - copy.possible_recv, C.idle, describe(&r, d, sizeof d));
                drop_handle(cl, i, false);
            }
        } else if (after_use(cl, i, "wake (racing expiry)", &r, 200)) {
            hd->parked = false;
        }
        resp_free(&r);
        return; /* one per op */
    }
}

void op_dead(client *cl)
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

void op_bad_logon(client *cl)
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

void op_forged(client *cl)
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
void op_other_id(client *cl)
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
