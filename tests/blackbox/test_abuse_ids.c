/* Black-box: abuse of the API, other sessions' ids ("Abuse of the
 * API"; DECISIONS.md "Responses not spelled out").
 *
 * - Ids of other sessions, status instance keys and entry ids of another
 *   session (of the same and of another profile) are 404, answered exactly as
 *   an id that was never issued: never a peek, and the other session is
 *   untouched.
 * - No answer holds a token or a password sent by the test.
 *
 * The suite and its helpers: abuse_fixture.h; bad credentials and passwords
 * in error bodies: test_abuse_tokens.c. */
#include "abuse_fixture.h"

#include <criterion/logging.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    cr_expect_str_eq(b1, b2,
                     "%s %s: another session's id answers unlike a never-issued one:\n%s\nvs\n%s",
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
    abuse_gw = gw_start("main.json", NULL);
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
    abuse_gw = gw_start("main.json", NULL);
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
                      "GET the other profile's identity %s: %ld %s (not a one-off id)", ox.identity,
                      r.status, r.body);
        gw_resp_free(&r);
        free(h);
    }
    /* the other session works as before, with its own ids */
    char path[1024];
    gw_resp r;
    snprintf(path, sizeof path, "/entries/%s", ox.message);
    json_t *msg = get_ok(path, x.token, &r);
    cr_expect_str_eq(gw_jstr(msg, "subject"),
                     same_profile ? "mine" : "the other's private subject");
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
