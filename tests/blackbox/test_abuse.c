/* Black-box: abuse of the API (issue 4, "Abuse of the API"; api.md
 * "Authentication"; DECISIONS.md "Responses not spelled out").
 *
 * - Every token-bearing endpoint answers the same 401 to every kind of bad
 *   bearer value (forged, truncated, over-long, wrong prefix, case-flipped,
 *   logged off, scheme spelled in another case): same status, the same
 *   WWW-Authenticate with error="invalid_token", byte-identical bodies. The
 *   missing-credentials cases (no header, the token only in the query string
 *   or a cookie, another scheme, an empty bearer value) all get the other
 *   401: no error="invalid_token", byte-identical bodies among themselves.
 * - Ids of other sessions, status instance keys and entry ids of another
 *   session (of the same and of another profile) are 404, answered exactly as
 *   an id that was never issued: never a peek, and the other session is
 *   untouched.
 * - No error body (no body at all but the 201 of the logon that issued it)
 *   holds a token or a password sent by the test.
 */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(abuse, .fini = fini_gw, .timeout = 120);

#define MAIL "[\"MAPI_NEW_SESSION\"]"

/* ------------------------------------------------------------ body checks */

/* Everything secret the running test sent: no response body may hold one
 * (tokens are also looked for without their "mgw_" prefix). */
#define MAX_SENT 64
static char *SENT[MAX_SENT];
static size_t NSENT;

static void sent_secret(const char *s)
{
    cr_assert(NSENT < MAX_SENT, "test bug: too many secrets");
    SENT[NSENT++] = strdup(s);
    gw_add_secret(G, s); /* and never in any gateway log either */
}

static void assert_body_clean(const char *what, const gw_resp *r, const char *allowed_token)
{
    for (size_t i = 0; i < NSENT; i++) {
        const char *s = SENT[i];
        if (allowed_token && strcmp(s, allowed_token) == 0)
            continue;
        const char *core = strncmp(s, "mgw_", 4) == 0 && strlen(s) > 12 ? s + 4 : s;
        cr_expect(strstr(r->body, core) == NULL, "%s: the answer (%ld) holds a secret sent (%.6s...)",
                  what, r->status, s);
        /* a case-flipped or prefixed variant holds most of the token: look for
         * a long middle piece of it too */
        size_t l = strlen(core);
        if (l >= 24) {
            char mid[17];
            memcpy(mid, core + l / 2 - 8, 16);
            mid[16] = '\0';
            cr_expect(strstr(r->body, mid) == NULL,
                      "%s: the answer (%ld) holds a piece of a secret sent (%.6s...)", what,
                      r->status, s);
        }
    }
}

/* A request whose answer is checked for secrets. auth: a whole header line
 * ("Authorization: ..." or "Cookie: ...") or NULL. */
static long req(const char *method, const char *path, const char *auth, const char *body,
                gw_resp *r)
{
    const char *hdr[2] = {auth, NULL};
    long st = gw_request(G, method, path, hdr, body, r);
    char what[700];
    snprintf(what, sizeof what, "%s %.600s", method, path);
    assert_body_clean(what, r, NULL);
    return st;
}

static char *bearer(const char *token)
{
    char *h = malloc(strlen(token) + 32);
    cr_assert(h);
    sprintf(h, "Authorization: Bearer %s", token);
    return h;
}

static void logon(const char *profile, const char *password, gw_session *s)
{
    gw_logon_ok(G, profile, password, MAIL, s);
    assert_body_clean("POST /sessions", &s->resp, s->token);
    cr_assert_lt(NSENT + 1, MAX_SENT);
    SENT[NSENT++] = strdup(s->token);
}

static void free_sent(void)
{
    for (size_t i = 0; i < NSENT; i++)
        free(SENT[i]);
    NSENT = 0;
}

/* URL-safe random characters from the OS. */
static void random_urlsafe(char *out, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char *b = malloc(n);
    cr_assert(b);
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
    cr_assert_eq(read(fd, b, n), (ssize_t)n);
    close(fd);
    for (size_t i = 0; i < n; i++)
        out[i] = A[b[i] & 63];
    out[n] = '\0';
    free(b);
}

/* GET path with token, asserting 200 and JSON; the caller frees r. */
static json_t *get_ok(const char *path, const char *token, gw_resp *r)
{
    char *h = bearer(token);
    req("GET", path, h, NULL, r);
    free(h);
    cr_assert_eq(r->status, 200, "GET %s: %ld %s", path, r->status, r->body);
    cr_assert(json_is_object(r->json), "GET %s: not JSON: %s", path, r->body);
    return r->json;
}

static char *jdup(json_t *o, const char *key)
{
    const char *s = gw_jstr(o, key);
    cr_assert(s, "no string %s", key);
    return strdup(s);
}

/* Writes a message into profile's Maildir cur/. */
static void put_message(const char *profile, const char *subject)
{
    char *d = gw_data_path(G, "%s/Maildir/cur", profile);
    gw_mkdirs(d);
    free(d);
    char *p = gw_data_path(G, "%s/Maildir/cur/100.abuse.host:2,S", profile);
    char text[512];
    snprintf(text, sizeof text,
             "From: %s <%s@example.invalid>\r\nSubject: %s\r\n\r\nprivate body of %s\r\n", profile,
             profile, subject, profile);
    gw_write_file(p, text);
    free(p);
}

/* The ids a session can reach: a status row's instance key and entry id, the
 * store, its first folder, a message, an address-book entry (when any) and
 * the identity. */
typedef struct {
    char *ik, *row_eid, *store, *folder, *message, *ab_entry, *identity;
} reach;

static void reach_of(const char *token, reach *o)
{
    memset(o, 0, sizeof *o);
    gw_resp r;
    json_t *j = get_ok("/status", token, &r);
    /* the spooler: it offers validate-state and flush-queues */
    json_t *row = gw_row_of_type(j, 37);
    cr_assert(row, "no spooler row: %s", r.body);
    o->ik = jdup(row, "instance_key");
    o->row_eid = jdup(row, "entry_id");
    gw_resp_free(&r);
    j = get_ok("/stores", token, &r);
    o->store = jdup(json_array_get(json_object_get(j, "rows"), 0), "entry_id");
    gw_resp_free(&r);
    char path[1024];
    snprintf(path, sizeof path, "/stores/%s", o->store);
    j = get_ok(path, token, &r);
    o->folder = jdup(json_array_get(json_object_get(j, "folders"), 0), "entry_id");
    gw_resp_free(&r);
    /* the folder that holds the message: the first one with contents */
    json_t *folders = NULL;
    j = get_ok(path, token, &r);
    folders = json_object_get(j, "folders");
    size_t i;
    json_t *f;
    json_array_foreach(folders, i, f)
    {
        char cpath[1024];
        snprintf(cpath, sizeof cpath, "/entries/%s/contents", gw_jstr(f, "entry_id"));
        gw_resp c;
        json_t *cj = get_ok(cpath, token, &c);
        json_t *m = json_array_get(json_object_get(cj, "rows"), 0);
        if (m && !o->message) {
            o->message = jdup(m, "entry_id");
            free(o->folder);
            o->folder = jdup(f, "entry_id");
        }
        gw_resp_free(&c);
    }
    gw_resp_free(&r);
    cr_assert(o->message, "no message reachable");
    j = get_ok("/addressbook", token, &r);
    json_t *e = json_array_get(json_object_get(j, "entries"), 0);
    if (e)
        o->ab_entry = jdup(e, "entry_id");
    gw_resp_free(&r);
    j = get_ok("/identity", token, &r);
    o->identity = jdup(j, "entry_id");
    gw_resp_free(&r);
}

static void reach_free(reach *o)
{
    free(o->ik);
    free(o->row_eid);
    free(o->store);
    free(o->folder);
    free(o->message);
    free(o->ab_entry);
    free(o->identity);
}

/* ------------------------------------------------------- bad bearer values */

typedef struct {
    const char *method;
    char path[1024];
    const char *body;
} endpoint;

/* The token-bearing endpoints, on ids of the session s reaches. */
static size_t endpoints_of(const gw_session *s, const reach *o, endpoint *ep, char *cmp_body,
                           size_t cmp_len)
{
    size_t n = 0;
#define EP(m, b, ...)                                                                              \
    do {                                                                                           \
        ep[n].method = m;                                                                          \
        ep[n].body = b;                                                                            \
        snprintf(ep[n].path, sizeof ep[n].path, __VA_ARGS__);                                      \
        n++;                                                                                       \
    } while (0)
    snprintf(cmp_body, cmp_len, "{\"entry_id_1\":\"%s\",\"entry_id_2\":\"%s\"}", o->store,
             o->store);
    EP("GET", NULL, "/status");
    EP("GET", NULL, "/status/%s", o->ik);
    EP("POST", NULL, "/status/%s/validate-state", o->ik);
    EP("POST", "{\"flags\":[\"FLUSH_UPLOAD\"]}", "/status/%s/flush-queues", o->ik);
    EP("GET", NULL, "/identity");
    EP("GET", NULL, "/sessions/%s", s->id);
    EP("DELETE", NULL, "/sessions/%s", s->id);
    EP("DELETE", NULL, "/sessions/%s?flags=MAPI_LOGOFF_SHARED", s->id);
    EP("GET", NULL, "/stores");
    EP("GET", NULL, "/stores/%s", o->store);
    EP("GET", NULL, "/addressbook");
    EP("GET", NULL, "/entries/%s", o->message);
    EP("GET", NULL, "/entries/%s/contents", o->folder);
    EP("POST", cmp_body, "/entries/compare");
    EP("GET", NULL, "/events");
#undef EP
    return n;
}

/* The expected 401 of one kind; the first body seen is the reference every
 * later one must equal byte for byte. */
typedef struct {
    const char *mapi_error;
    const char *www_authenticate;
    char *ref_body;
    char ref_where[1500];
    size_t count;
} kind401;

static void expect_401(kind401 *k, const endpoint *e, const char *variant, const char *hdr,
                       const char *path_override)
{
    const char *path = path_override ? path_override : e->path;
    char what[1500];
    snprintf(what, sizeof what, "%s %.900s with %s", e->method, path, variant);
    gw_resp r;
    req(e->method, path, hdr, e->body, &r);
    if (r.status != 401)
        cr_log_error("%s: %ld %s", what, r.status, r.body);
    gw_assert_problem(&r, 401, k->mapi_error);
    const char *wa = gw_header(&r, "WWW-Authenticate");
    cr_expect(wa && strcmp(wa, k->www_authenticate) == 0, "%s: WWW-Authenticate \"%s\", expected \"%s\"",
              what, wa ? wa : "(none)", k->www_authenticate);
    cr_expect(gw_header(&r, "Set-Cookie") == NULL, "%s: a 401 sets a cookie", what);
    if (!k->ref_body) {
        k->ref_body = strdup(r.body);
        snprintf(k->ref_where, sizeof k->ref_where, "%s", what);
    } else {
        cr_expect_str_eq(r.body, k->ref_body,
                         "%s: the 401 body differs from the one of %s:\n%s\nvs\n%s", what,
                         k->ref_where, r.body, k->ref_body);
    }
    k->count++;
    gw_resp_free(&r);
}

Test(abuse, every_bad_bearer_gets_the_same_401)
{
    G = gw_start("main.json", NULL);
    sent_secret("alice-pw");
    put_message("alice", "alice private subject");
    gw_session a, dead;
    logon("alice", "alice-pw", &a);
    logon("alice", "alice-pw", &dead);
    reach o;
    reach_of(a.token, &o);

    /* a logged-off handle */
    char *h = bearer(dead.token);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", dead.id);
    gw_resp r;
    cr_assert_eq(req("DELETE", path, h, NULL, &r), 204, "logoff: %s", r.body);
    gw_resp_free(&r);
    free(h);

    const char *real = a.token;
    size_t rl = strlen(real);
    cr_assert(rl > 8 && strncmp(real, "mgw_", 4) == 0, "token %.4s... is not mgw_", real);
    char forged[200] = "mgw_", truncated[200], half[200], longer[200], wrong_prefix[200],
         bare[200], flipped[200], two[420];
    random_urlsafe(forged + 4, rl - 4);
    cr_assert_lt(rl, 180u);
    snprintf(truncated, sizeof truncated, "%.*s", (int)(rl - 1), real);
    snprintf(half, sizeof half, "%.*s", (int)(rl / 2), real);
    snprintf(longer, sizeof longer, "%.180sA", real);
    snprintf(wrong_prefix, sizeof wrong_prefix, "mgX_%.180s", real + 4);
    snprintf(bare, sizeof bare, "%.180s", real + 4);
    snprintf(flipped, sizeof flipped, "%.180s", real);
    for (char *p = flipped + 4; *p; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
            *p ^= 0x20;
    snprintf(two, sizeof two, "%s %s", real, real);
    const char *const bad[] = {forged, truncated, half, longer, wrong_prefix, bare, flipped, two};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        sent_secret(bad[i]);

    char hv[24][512];
    const char *names[24];
    size_t nv = 0;
#define V(name, ...)                                                                               \
    do {                                                                                           \
        snprintf(hv[nv], sizeof hv[nv], __VA_ARGS__);                                              \
        names[nv++] = name;                                                                        \
    } while (0)
    V("a forged token", "Authorization: Bearer %s", forged);
    V("a truncated token", "Authorization: Bearer %s", truncated);
    V("half a token", "Authorization: Bearer %s", half);
    V("an over-long token", "Authorization: Bearer %s", longer);
    V("a wrong-prefix token", "Authorization: Bearer %s", wrong_prefix);
    V("a token without prefix", "Authorization: Bearer %s", bare);
    V("a case-flipped token", "Authorization: Bearer %s", flipped);
    V("the token twice", "Authorization: Bearer %s", two);
    V("a logged-off token", "Authorization: Bearer %s", dead.token);
    V("scheme \"bearer\", forged", "Authorization: bearer %s", forged);
    V("scheme \"BEARER\", forged", "Authorization: BEARER %s", forged);
    V("scheme \"bEaReR\", logged off", "Authorization: bEaReR %s", dead.token);
    V("scheme \"bearer\", truncated", "Authorization: bearer %s", truncated);
    V("only prefix", "Authorization: Bearer mgw_");
    size_t ninvalid = nv;
    /* missing credentials */
    V("another scheme (Basic)", "Authorization: Basic YWxpY2U6YWxpY2UtcHc=");
    V("another scheme carrying the token", "Authorization: Token %s", real);
    V("an empty bearer value", "Authorization: Bearer");
    V("a blank bearer value", "Authorization: Bearer    ");
    V("no space after the scheme", "Authorization: Bearer%s", real);
    V("the token in a cookie", "Cookie: access_token=%s; token=%s", real, real);
#undef V
    sent_secret("YWxpY2U6YWxpY2UtcHc=");

    endpoint ep[32];
    char cmp_body[2048];
    size_t nep = endpoints_of(&a, &o, ep, cmp_body, sizeof cmp_body);
    kind401 invalid = {"MAPI_E_END_OF_SESSION", "Bearer realm=\"mapigw\", error=\"invalid_token\"",
                       NULL, "", 0};
    kind401 missing = {"MAPI_E_LOGON_FAILED", "Bearer realm=\"mapigw\"", NULL, "", 0};
    for (size_t e = 0; e < nep; e++) {
        for (size_t v = 0; v < nv; v++)
            expect_401(v < ninvalid ? &invalid : &missing, &ep[e], names[v], hv[v], NULL);
        expect_401(&missing, &ep[e], "no Authorization header", NULL, NULL);
        /* the real token only in the query string */
        char qpath[1200];
        snprintf(qpath, sizeof qpath, "%s%caccess_token=%s", ep[e].path,
                 strchr(ep[e].path, '?') ? '&' : '?', real);
        expect_401(&missing, &ep[e], "the token in the query string only", NULL, qpath);
    }
    cr_expect_eq(invalid.count, nep * ninvalid);
    cr_expect_eq(missing.count, nep * (nv - ninvalid + 2));
    cr_expect(strcmp(invalid.ref_body, missing.ref_body) != 0,
              "the invalid-token and missing-credentials bodies are the same");

    /* None of that touched the session: the real token works everywhere,
     * also with the scheme in another case (RFC 7235: case-insensitive). */
    for (size_t e = 0; e < nep; e++) {
        if (strcmp(ep[e].method, "DELETE") == 0 || strcmp(ep[e].path, "/events") == 0)
            continue;
        char *ah = bearer(real);
        long st = req(ep[e].method, ep[e].path, ah, ep[e].body, &r);
        free(ah);
        cr_expect_eq(st, 200, "%s %s with the real token after the abuse: %ld %s", ep[e].method,
                     ep[e].path, st, r.body);
        gw_resp_free(&r);
    }
    char lower[300];
    snprintf(lower, sizeof lower, "Authorization: bearer %s", real);
    cr_expect_eq(req("GET", "/identity", lower, NULL, &r), 200,
                 "scheme \"bearer\" with the real token: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    /* and the logoff with the real token ends it */
    h = bearer(real);
    snprintf(path, sizeof path, "/sessions/%s", a.id);
    cr_expect_eq(req("DELETE", path, h, NULL, &r), 204, "%s", r.body);
    gw_resp_free(&r);
    cr_expect_eq(req("GET", "/status", h, NULL, &r), 401);
    gw_resp_free(&r);
    free(h);

    free(invalid.ref_body);
    free(missing.ref_body);
    reach_free(&o);
    gw_session_free(&a);
    gw_session_free(&dead);
    free_sent();
}

/* ----------------------------------------------------- other sessions' ids */

/* path with every occurrence of id replaced by "<id>" (malloc'd), so that
 * answers for two ids can be compared. */
static char *without(const char *s, const char *id)
{
    size_t il = strlen(id);
    char *out = malloc(strlen(s) + 1);
    cr_assert(out);
    char *w = out;
    while (*s) {
        if (il && strncmp(s, id, il) == 0) {
            s += il;
            continue;
        }
        *w++ = *s++;
    }
    *w = '\0';
    return out;
}

/* method pre<other>post with token answers status/mapi_error, and exactly
 * what the same request for a never-issued id (pre<never>post) answers. */
static void expect_like_never(const char *method, const char *pre, const char *other,
                              const char *post, const char *never, const char *token,
                              const char *body, long status, const char *mapi_error)
{
    char p1[1200], p2[1200];
    snprintf(p1, sizeof p1, "%s%s%s", pre, other, post);
    snprintf(p2, sizeof p2, "%s%s%s", pre, never, post);
    char *h = bearer(token);
    gw_resp r1, r2;
    req(method, p1, h, body, &r1);
    req(method, p2, h, body, &r2);
    free(h);
    if (r1.status != status)
        cr_log_error("%s %s", method, p1);
    gw_assert_problem(&r1, status, mapi_error);
    gw_assert_problem(&r2, status, mapi_error);
    char *b1 = without(r1.body, other), *b2 = without(r2.body, never);
    cr_expect_str_eq(b1, b2, "%s %s: another session's id answers unlike a never-issued one:\n%s\nvs\n%s",
                     method, p1, r1.body, r2.body);
    free(b1);
    free(b2);
    gw_resp_free(&r1);
    gw_resp_free(&r2);
}

/* The other session is intact: its token works, its resource shows it. */
static void expect_intact(const gw_session *s)
{
    gw_resp r;
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", s->id);
    json_t *j = get_ok(path, s->token, &r);
    cr_expect_str_eq(gw_jstr(j, "id"), s->id);
    json_t *hd = json_object_get(j, "handles");
    cr_expect(json_is_integer(hd) && json_integer_value(hd) == 1, "handles: %s", r.body);
    gw_resp_free(&r);
    get_ok("/status", s->token, &r);
    gw_resp_free(&r);
}

Test(abuse, other_sessions_ids_are_404)
{
    G = gw_start("main.json", NULL);
    sent_secret("alice-pw");
    sent_secret("bob-pw");
    gw_session a, a2, b;
    logon("alice", "alice-pw", &a);
    logon("alice", "alice-pw", &a2);
    logon("bob", "bob-pw", &b);
    cr_assert_str_neq(a.id, a2.id);
    const gw_session *others[] = {&a2, &b};
    char never[80];
    /* same shape as a real id: hex of the same length */
    size_t il = strlen(a.id);
    for (size_t i = 0; i < il && i < sizeof never - 1; i++)
        never[i] = "0123456789abcdef"[(i * 7 + 3) % 16];
    never[il < sizeof never - 1 ? il : sizeof never - 1] = '\0';
    for (size_t i = 0; i < 2; i++) {
        const gw_session *x = others[i];
        expect_like_never("GET", "/sessions/", x->id, "", never, a.token, NULL, 404,
                          "MAPI_E_NOT_FOUND");
        expect_like_never("DELETE", "/sessions/", x->id, "", never, a.token, NULL, 404,
                          "MAPI_E_NOT_FOUND");
        expect_like_never("DELETE", "/sessions/", x->id, "?flags=MAPI_LOGOFF_SHARED", never,
                          a.token, NULL, 404, "MAPI_E_NOT_FOUND");
        expect_like_never("DELETE", "/sessions/", x->id, "?flags=1", never, a.token, NULL, 404,
                          "MAPI_E_NOT_FOUND");
        /* nothing about the other session in the answer */
        char *h = bearer(a.token);
        char path[256];
        snprintf(path, sizeof path, "/sessions/%s", x->id);
        gw_resp r;
        req("GET", path, h, NULL, &r);
        cr_expect(strstr(r.body, "bob") == NULL && strstr(r.body, "created") == NULL,
                  "the 404 tells something of the other session: %s", r.body);
        gw_resp_free(&r);
        free(h);
        expect_intact(x);
    }
    /* and alice's first session is intact too */
    expect_intact(&a);
    gw_session_free(&a);
    gw_session_free(&a2);
    gw_session_free(&b);
    free_sent();
}

/* The ids of one session used by another: all 404, as if never issued. */
static void foreign_ids_case(const char *mine_profile, const char *mine_pw,
                             const char *other_profile, const char *other_pw, bool same_profile)
{
    G = gw_start("main.json", NULL);
    sent_secret(mine_pw);
    sent_secret(other_pw);
    put_message(mine_profile, "mine");
    if (!same_profile)
        put_message(other_profile, "the other's private subject");
    gw_session m, x;
    logon(mine_profile, mine_pw, &m);
    logon(other_profile, other_pw, &x);
    reach om, ox;
    reach_of(m.token, &om);
    reach_of(x.token, &ox);

    /* every status row of the other session: instance key and entry id */
    gw_resp st;
    json_t *t = get_ok("/status", x.token, &st);
    json_t *row;
    size_t i;
    const char *never_ik = "7FFFFFFFFFFFFFF0";
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        const char *ik = gw_jstr(row, "instance_key");
        const char *eid = gw_jstr(row, "entry_id");
        cr_assert(ik && eid && strlen(ik) == 16 && strlen(eid) > 16);
        expect_like_never("GET", "/status/", ik, "", never_ik, m.token, NULL, 404,
                          "MAPI_E_NOT_FOUND");
        expect_like_never("POST", "/status/", ik, "/validate-state", never_ik, m.token, NULL, 404,
                          "MAPI_E_NOT_FOUND");
        expect_like_never("POST", "/status/", ik, "/flush-queues", never_ik, m.token,
                          "{\"flags\":[\"FLUSH_UPLOAD\"]}", 404, "MAPI_E_NOT_FOUND");
        /* the row's entry id with a never-issued instance key in its place */
        char never_eid[256];
        snprintf(never_eid, sizeof never_eid, "%.*s%s", (int)(strlen(eid) - 16), eid, never_ik);
        expect_like_never("GET", "/entries/", eid, "", never_eid, m.token, NULL, 404,
                          "MAPI_E_UNKNOWN_ENTRYID");
        /* still the other session's own */
        char path[256];
        snprintf(path, sizeof path, "/status/%s", ik);
        gw_resp r;
        get_ok(path, x.token, &r);
        gw_resp_free(&r);
    }
    gw_resp_free(&st);

    /* the other session's objects */
    const char *never_eid = "00000000112233445566778899AABBCCDDEEFF0001";
    if (!same_profile) {
        /* a profile's objects belong to the profile: only another profile's
         * are foreign */
        expect_like_never("GET", "/stores/", ox.store, "", never_eid, m.token, NULL, 404,
                          "MAPI_E_UNKNOWN_ENTRYID");
        expect_like_never("GET", "/entries/", ox.store, "", never_eid, m.token, NULL, 404,
                          "MAPI_E_UNKNOWN_ENTRYID");
        expect_like_never("GET", "/entries/", ox.folder, "", never_eid, m.token, NULL, 404,
                          "MAPI_E_UNKNOWN_ENTRYID");
        expect_like_never("GET", "/entries/", ox.folder, "/contents", never_eid, m.token, NULL, 404,
                          "MAPI_E_UNKNOWN_ENTRYID");
        expect_like_never("GET", "/entries/", ox.message, "", never_eid, m.token, NULL, 404,
                          "MAPI_E_UNKNOWN_ENTRYID");
        if (ox.ab_entry)
            expect_like_never("GET", "/entries/", ox.ab_entry, "", never_eid, m.token, NULL, 404,
                              "MAPI_E_UNKNOWN_ENTRYID");
        char body[2048];
        /* compare: the other's id against one of mine, and against itself */
        char b1[2048], b2[2048];
        snprintf(b1, sizeof b1, "{\"entry_id_1\":\"%s\",\"entry_id_2\":\"%s\"}", ox.store,
                 om.store);
        snprintf(b2, sizeof b2, "{\"entry_id_1\":\"%s\",\"entry_id_2\":\"%s\"}", never_eid,
                 om.store);
        char *h = bearer(m.token);
        gw_resp r1, r2;
        req("POST", "/entries/compare", h, b1, &r1);
        req("POST", "/entries/compare", h, b2, &r2);
        gw_assert_problem(&r1, 404, "MAPI_E_UNKNOWN_ENTRYID");
        cr_expect_str_eq(r1.body, r2.body, "compare with a foreign id: %s vs %s", r1.body, r2.body);
        gw_resp_free(&r1);
        gw_resp_free(&r2);
        snprintf(body, sizeof body, "{\"entry_id_1\":\"%s\",\"entry_id_2\":\"%s\"}", ox.message,
                 ox.message);
        req("POST", "/entries/compare", h, body, &r1);
        gw_assert_problem(&r1, 404, "MAPI_E_UNKNOWN_ENTRYID");
        gw_resp_free(&r1);
        /* the other's identity, when it is not a one-off (a one-off entry id
         * carries its address in itself, no store behind it) */
        gw_resp r;
        char path[1024];
        snprintf(path, sizeof path, "/entries/%s", ox.identity);
        req("GET", path, h, NULL, &r);
        if (r.status != 404)
            cr_expect(strstr(ox.identity, "812B1FA4BEA310199D6E00DD010F5402") != NULL,
                      "GET the other profile's identity %s: %ld %s (not a one-off id)",
                      ox.identity, r.status, r.body);
        gw_resp_free(&r);
        free(h);
    }
    /* the other session works as before, with its own ids */
    char path[1024];
    gw_resp r;
    snprintf(path, sizeof path, "/entries/%s", ox.message);
    json_t *msg = get_ok(path, x.token, &r);
    cr_expect_str_eq(gw_jstr(msg, "subject"), same_profile ? "mine" : "the other's private subject");
    gw_resp_free(&r);
    expect_intact(&x);
    expect_intact(&m);

    reach_free(&om);
    reach_free(&ox);
    gw_session_free(&m);
    gw_session_free(&x);
    free_sent();
}

Test(abuse, another_profiles_status_keys_and_entry_ids_are_404)
{
    foreign_ids_case("alice", "alice-pw", "bob", "bob-pw", false);
}

Test(abuse, another_profiles_ids_are_404_both_ways)
{
    foreign_ids_case("bob", "bob-pw", "alice", "alice-pw", false);
}

Test(abuse, another_sessions_status_keys_of_the_same_profile_are_404)
{
    foreign_ids_case("alice", "alice-pw", "alice", "alice-pw", true);
}

/* ------------------------------------------------- passwords in error bodies */

Test(abuse, error_bodies_never_echo_passwords)
{
    G = gw_start("main.json", NULL);
    char pw[40] = "Pw-abuse-", pw2[40] = "Pw-new-", pw3[40] = "Pw-old-";
    random_urlsafe(pw + 9, 20);
    random_urlsafe(pw2 + 7, 20);
    random_urlsafe(pw3 + 7, 20);
    sent_secret(pw);
    sent_secret(pw2);
    sent_secret(pw3);
    sent_secret("alice-pw");
    char *longpw = malloc(70000);
    cr_assert(longpw);
    memset(longpw, 'Q', 69999);
    longpw[69999] = '\0';
    memcpy(longpw, pw, strlen(pw));
    char bodies[16][400];
    size_t nb = 0;
#define B(...) snprintf(bodies[nb++], sizeof bodies[0], __VA_ARGS__)
    B("{\"profile\":\"alice\",\"password\":\"%s\",\"flags\":[\"MAPI_NEW_SESSION\"]}", pw);
    B("{\"profile\":\"no-such-profile\",\"password\":\"%s\"}", pw);
    B("{\"profile\":\"alice\",\"password\":\"%s\"", pw);                  /* truncated JSON */
    B("{\"profile\":\"alice\",\"password\":\"%s\",\"pasword\":\"%s\"}", pw, pw); /* unknown key */
    B("{\"profile\":\"alice\",\"password\":[\"%s\"]}", pw);               /* wrong type */
    B("{\"profile\":\"alice\",\"password\":\"%s\",\"flags\":[\"NOPE\"]}", pw);
    B("{\"profile\":\"alice\",\"password\":\"%s\",\"flags\":7777777}", pw);
    B("{\"profile\":\"alice\",\"password\":\"%s\\u0000x\"}", pw);         /* NUL inside */
    B("{\"profile\":\"alice\",\"password\":\"%s\xff\"}", pw);             /* not UTF-8 */
    B("{\"profile\":\"%s\",\"password\":\"%s\"}", "alice\\\"", pw);
    /* broken inside the password string itself: a JSON parser's "near '...'"
     * text would show the password */
    B("{\"profile\":\"alice\",\"password\":\"%s", pw);               /* unterminated */
    B("{\"profile\":\"alice\",\"password\":\"%s\\q\"}", pw);         /* bad escape */
    B("{\"profile\":\"alice\",\"password\":\"%s\x01\"}", pw);        /* control char */
    B("{\"profile\":\"alice\",\"password\":\"%s\\ud800\"}", pw);     /* lone surrogate */
#undef B
    for (size_t i = 0; i < nb; i++) {
        gw_resp r;
        long st = req("POST", "/sessions", NULL, bodies[i], &r);
        cr_expect(st >= 400 && st < 500, "bad logon %zu: %ld %s", i, st, r.body);
        gw_resp_free(&r);
    }
    /* a body over the limit that holds the password */
    char *big = malloc(70100);
    cr_assert(big);
    snprintf(big, 70100, "{\"profile\":\"alice\",\"password\":\"%s\"}", longpw);
    gw_resp r;
    long st = req("POST", "/sessions", NULL, big, &r);
    cr_expect(st == 413 || st == 400, "oversized logon: %ld", st);
    gw_resp_free(&r);
    free(big);
    free(longpw);

    /* change-password: wrong old, unknown keys, wrong types */
    gw_session a;
    logon("alice", "alice-pw", &a);
    gw_resp t;
    json_t *tab = get_ok("/status", a.token, &t);
    json_t *rows = json_object_get(tab, "rows");
    json_t *row;
    size_t i;
    const char *ik = NULL;
    json_array_foreach(rows, i, row)
    {
        if (gw_jnames_has(json_object_get(row, "resource_methods"), "STATUS_CHANGE_PASSWORD"))
            ik = gw_jstr(row, "instance_key");
    }
    cr_assert(ik, "no row offers change-password: %s", t.body);
    char path[128];
    snprintf(path, sizeof path, "/status/%s/change-password", ik);
    char *h = bearer(a.token);
    char cb[8][400];
    snprintf(cb[0], sizeof cb[0], "{\"old_password\":\"%s\",\"new_password\":\"%s\"}", pw3, pw2);
    snprintf(cb[1], sizeof cb[1], "{\"old_password\":\"%s\",\"new_password\":\"%s\",\"x\":\"%s\"}",
             pw3, pw2, pw);
    snprintf(cb[2], sizeof cb[2], "{\"old_password\":\"%s\"}", pw3);
    snprintf(cb[3], sizeof cb[3], "{\"old_password\":\"%s\",\"new_password\":7}", pw3);
    snprintf(cb[4], sizeof cb[4], "{\"old_password\":\"%s\",\"new_password\":\"%s\"", pw3, pw2);
    /* broken inside a password string: a JSON parser's "near '...'" text
     * would show the password */
    snprintf(cb[5], sizeof cb[5], "{\"old_password\":\"%s", pw3);
    snprintf(cb[6], sizeof cb[6], "{\"old_password\":\"%s\\q\",\"new_password\":\"%s\"}", pw3,
             pw2);
    snprintf(cb[7], sizeof cb[7], "{\"old_password\":\"x\",\"new_password\":\"%s\x01\"}", pw2);
    for (size_t k = 0; k < 8; k++) {
        st = req("POST", path, h, cb[k], &r);
        cr_expect(st >= 400 && st < 500, "change-password %zu: %ld %s", k, st, r.body);
        gw_resp_free(&r);
    }
    /* the password did not change: alice-pw still logs on */
    gw_session a2;
    logon("alice", "alice-pw", &a2);
    gw_session_free(&a2);
    free(h);
    gw_resp_free(&t);
    gw_session_free(&a);
    free_sent();
}
