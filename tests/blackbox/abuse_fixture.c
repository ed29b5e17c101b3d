/* abuse_fixture.c - the black-box "abuse" suite, its gateway and the
 * helpers its tests share (see abuse_fixture.h). */
#include "abuse_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gw *abuse_gw;

static void fini_gw(void)
{
    gw_finish(abuse_gw);
    abuse_gw = NULL;
}

TestSuite(abuse, .fini = fini_gw, .timeout = 120);

/* ------------------------------------------------------------ body checks */

/* Everything secret the running test sent: no response body may hold one
 * (tokens are also looked for without their "mgw_" prefix). */
#define MAX_SENT 64
static char *SENT[MAX_SENT];
static size_t NSENT;

void sent_secret(const char *s)
{
    cr_assert(NSENT < MAX_SENT, "test bug: too many secrets");
    SENT[NSENT++] = strdup(s);
    gw_add_secret(abuse_gw, s); /* and never in any gateway log either */
}

static void assert_body_clean(const char *what, const gw_resp *r, const char *allowed_token)
{
    for (size_t i = 0; i < NSENT; i++) {
        const char *s = SENT[i];
        if (allowed_token && strcmp(s, allowed_token) == 0)
            continue;
        const char *core = strncmp(s, "mgw_", 4) == 0 && strlen(s) > 12 ? s + 4 : s;
        cr_expect(strstr(r->body, core) == NULL,
                  "%s: the answer (%ld) holds a secret sent (%.6s...)", what, r->status, s);
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
long req(const char *method, const char *path, const char *auth, const char *body, gw_resp *r)
{
    /* One fixed request id: a problem's "instance" names the request, and
     * the suites compare answers byte for byte across requests. */
    const char *hdr[3] = {"X-Request-Id: abuse-suite", auth, NULL};
    long st = gw_request(abuse_gw, method, path, hdr, body, r);
    char what[700];
    snprintf(what, sizeof what, "%s %.600s", method, path);
    assert_body_clean(what, r, NULL);
    return st;
}

char *bearer(const char *token)
{
    char *h = malloc(strlen(token) + 32);
    cr_assert(h);
    sprintf(h, "Authorization: Bearer %s", token);
    return h;
}

void logon(const char *profile, const char *password, gw_session *s)
{
    gw_logon_ok(abuse_gw, profile, password, MAIL, s);
    assert_body_clean("POST /sessions", &s->resp, s->token);
    cr_assert_lt(NSENT + 1, MAX_SENT);
    SENT[NSENT++] = strdup(s->token);
}

void free_sent(void)
{
    for (size_t i = 0; i < NSENT; i++)
        free(SENT[i]);
    NSENT = 0;
}

/* GET path with token, asserting 200 and JSON; the caller frees r. */
json_t *get_ok(const char *path, const char *token, gw_resp *r)
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
void put_message(const char *profile, const char *subject)
{
    char *d = gw_data_path(abuse_gw, "%s/Maildir/cur", profile);
    gw_mkdirs(d);
    free(d);
    char *p = gw_data_path(abuse_gw, "%s/Maildir/cur/100.abuse.host:2,S", profile);
    char text[512];
    snprintf(text, sizeof text,
             "From: %s <%s@example.invalid>\r\nSubject: %s\r\n\r\nprivate body of %s\r\n", profile,
             profile, subject, profile);
    gw_write_file(p, text);
    free(p);
}

void reach_of(const char *token, reach *o)
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

void reach_free(reach *o)
{
    free(o->ik);
    free(o->row_eid);
    free(o->store);
    free(o->folder);
    free(o->message);
    free(o->ab_entry);
    free(o->identity);
}
