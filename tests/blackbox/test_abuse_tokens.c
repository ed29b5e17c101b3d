/* Black-box: abuse of the API, bad credentials ("Abuse of the
 * API"; docs/contract/http.md 2; DECISIONS.md "Responses not spelled out").
 *
 * - Every token-bearing endpoint answers the same 401 to every kind of bad
 *   bearer value (forged, truncated, over-long, wrong prefix, case-flipped,
 *   logged off, scheme spelled in another case): same status, the same
 *   WWW-Authenticate with error="invalid_token", byte-identical bodies. The
 *   missing-credentials cases (no header, the token only in the query string
 *   or a cookie, another scheme, an empty bearer value) all get the other
 *   401: no error="invalid_token", byte-identical bodies among themselves.
 * - No error body (no body at all but the 201 of the logon that issued it)
 *   holds a token or a password sent by the test.
 *
 * The suite and its helpers: abuse_fixture.h; other sessions' ids:
 * test_abuse_ids.c. */
#include "abuse_fixture.h"

#include <criterion/logging.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    cr_expect(wa && strcmp(wa, k->www_authenticate) == 0,
              "%s: WWW-Authenticate \"%s\", expected \"%s\"", what, wa ? wa : "(none)",
              k->www_authenticate);
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
    abuse_gw = gw_start("main.json", NULL);
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
    char forged[200] = "mgw_", truncated[200], half[200], longer[200], wrong_prefix[200], bare[200],
         flipped[200], two[420];
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

/* ------------------------------------------------- passwords in error bodies */

Test(abuse, error_bodies_never_echo_passwords)
{
    abuse_gw = gw_start("main.json", NULL);
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
    B("{\"profile\":\"alice\",\"password\":\"%s\"", pw); /* truncated JSON */
    B("{\"profile\":\"alice\",\"password\":\"%s\",\"pasword\":\"%s\"}", pw, pw); /* unknown key */
    B("{\"profile\":\"alice\",\"password\":[\"%s\"]}", pw);                      /* wrong type */
    B("{\"profile\":\"alice\",\"password\":\"%s\",\"flags\":[\"NOPE\"]}", pw);
    B("{\"profile\":\"alice\",\"password\":\"%s\",\"flags\":7777777}", pw);
    B("{\"profile\":\"alice\",\"password\":\"%s\\u0000x\"}", pw); /* NUL inside */
    B("{\"profile\":\"alice\",\"password\":\"%s\xff\"}", pw);     /* not UTF-8 */
    B("{\"profile\":\"%s\",\"password\":\"%s\"}", "alice\\\"", pw);
    /* broken inside the password string itself: a JSON parser's "near '...'"
     * text would show the password */
    B("{\"profile\":\"alice\",\"password\":\"%s", pw);           /* unterminated */
    B("{\"profile\":\"alice\",\"password\":\"%s\\q\"}", pw);     /* bad escape */
    B("{\"profile\":\"alice\",\"password\":\"%s\x01\"}", pw);    /* control char */
    B("{\"profile\":\"alice\",\"password\":\"%s\\ud800\"}", pw); /* lone surrogate */
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
    const char *ik = gw_row_with_method(tab, 0x4u); /* STATUS_CHANGE_PASSWORD */
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
    snprintf(cb[6], sizeof cb[6], "{\"old_password\":\"%s\\q\",\"new_password\":\"%s\"}", pw3, pw2);
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
