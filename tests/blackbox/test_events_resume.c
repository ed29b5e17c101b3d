/* Black-box: event streams a client can resume (docs/contract/http.md 7):
 * Last-Event-ID replay and resync, event tickets for EventSource, the drop
 * counter; and the session resource's deadlines and limits, the admin's
 * per-profile list and end (3.2, 9). A status row changes when alice's
 * Maildir goes away (STATUS_FAILURE) or comes back, and validate-state
 * looks. */
#include "sse_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
    gw_test_files_clean();
}

TestSuite(events_resume, .fini = fini_gw, .timeout = 90);

#define MAIL "[\"MAPI_NEW_SESSION\"]"
#define SHARED "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]"

static char store_ik[64];

static void find_store_row(const char *token)
{
    gw_resp r;
    cr_assert_eq(gw_get(G, "/status", token, &r), 200, "%s", r.body);
    json_t *row = gw_find_row(r.json, "Alice Mailbox");
    cr_assert(row, "%s", r.body);
    snprintf(store_ik, sizeof store_ik, "%s", gw_jstr(row, "instance_key"));
    gw_resp_free(&r);
}

/* Alice's Maildir goes (present false) or comes back; validate-state makes
 * the store row follow, which is one table_modified event. */
static void maildir(const char *token, bool present)
{
    char *md = gw_data_path(G, "alice/Maildir");
    if (present) {
        const char *const sub[] = {"cur", "new", "tmp"};
        for (int i = 0; i < 3; i++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", md, sub[i]);
            gw_mkdirs(path);
        }
    } else {
        cr_assert_eq(gw_rmrf(md), 0);
    }
    free(md);
    char path[128];
    snprintf(path, sizeof path, "/status/%s/validate-state", store_ik);
    gw_resp r;
    gw_post(G, path, token, NULL, &r);
    gw_resp_free(&r);
}

/* The id of the last event received ("" when none). */
static void last_id(sse *s, char *out, size_t cap)
{
    char *text = sse_text(s);
    out[0] = '\0';
    for (const char *p = text; (p = strstr(p, "\nid: ")) != NULL; p += 5) {
        size_t n = strcspn(p + 5, "\n");
        snprintf(out, cap, "%.*s", (int)n, p + 5);
    }
    free(text);
}

static size_t count(sse *s, const char *needle)
{
    char *text = sse_text(s);
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(text);
    return n;
}

Test(events_resume, replay_after_reconnect)
{
    G = gw_start("main.json", NULL);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    find_store_row(a.token);
    sse *s = sse_open_ready_with(G, a.token, "", NULL);
    cr_expect(sse_wait(s, "\nretry: 3000\n", 100), "no retry advertised: %s", s->buf);
    maildir(a.token, false);
    cr_assert(sse_wait(s, "STATUS_FAILURE", 5000), "no event: %s", s->buf);
    char id[128];
    last_id(s, id, sizeof id);
    cr_assert(strlen(id) > 17 && id[16] == '-', "id %s", id);
    sse_close(s); /* the connection drops */

    maildir(a.token, true); /* missed while away */
    s = sse_open_ready_with(G, a.token, "", id);
    cr_expect(sse_wait(s, "event: table_modified", 5000), "nothing replayed: %s", s->buf);
    cr_expect(sse_wait(s, "STATUS_AVAILABLE", 100), "not the missed event: %s", s->buf);
    cr_expect_eq(count(s, "event: table_modified"), 1, "%s", s->buf);
    cr_expect_eq(count(s, "event: resync"), 0, "%s", s->buf);
    cr_expect_eq(count(s, "STATUS_FAILURE"), 0, "replayed what it had seen: %s", s->buf);
    char id2[128];
    last_id(s, id2, sizeof id2);
    cr_expect_str_neq(id, id2);
    cr_expect(strncmp(id, id2, 16) == 0, "one tag per session object: %s %s", id, id2);
    sse_close(s);

    /* An id this gateway did not issue for this session (another replica's,
     * or from before a restart): resync. */
    s = sse_open_ready_with(G, a.token, "", "0123456789ABCDEF-1");
    cr_expect(
        sse_wait(s, "event: resync\ndata: {\"event\":\"resync\",\"reason\":\"unknown_id\"}", 5000),
        "%s", s->buf);
    cr_expect(!atomic_load(&s->done), "a resync does not end the stream");
    sse_close(s);
    gw_session_free(&a);
}

Test(events_resume, resync_past_the_window)
{
    const char *const args[] = {"--events-replay", "1", NULL};
    G = gw_start("main.json", args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    find_store_row(a.token);
    sse *s = sse_open_ready_with(G, a.token, "", NULL);
    maildir(a.token, false);
    cr_assert(sse_wait(s, "STATUS_FAILURE", 5000), "no event: %s", s->buf);
    char id[128];
    last_id(s, id, sizeof id);
    sse_close(s);
    maildir(a.token, true);
    maildir(a.token, false); /* two missed, one kept */
    char q[200];
    snprintf(q, sizeof q, "?last_event_id=%s", id);
    s = sse_open_ready_with(G, a.token, q, NULL);
    cr_expect(sse_wait(s, "\"reason\":\"window_exceeded\"", 5000), "no resync: %s", s->buf);
    cr_expect_eq(count(s, "event: table_modified"), 0, "%s", s->buf);
    sse_close(s);

    /* The session resource says how large the window is. */
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", a.id);
    gw_resp r;
    cr_assert_eq(gw_get(G, path, a.token, &r), 200);
    json_t *lim = json_object_get(r.json, "limits");
    cr_expect_eq(json_integer_value(json_object_get(lim, "events_replay_window")), 1, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&a);
}

/* POST /events/tickets with token; the ticket is recorded as a secret, so
 * gw_finish checks that the log never shows it. */
static void get_ticket(const char *token, char *out, size_t cap)
{
    gw_resp r;
    cr_assert_eq(gw_post(G, "/events/tickets", token, NULL, &r), 200, "%s", r.body);
    const char *t = gw_jstr(r.json, "ticket");
    cr_assert(t && strncmp(t, "mgt_", 4) == 0, "%s", r.body);
    cr_expect(gw_is_rfc3339_utc(gw_jstr(r.json, "expires_at")), "%s", r.body);
    gw_assert_no_store(&r);
    snprintf(out, cap, "%s", t);
    gw_add_secret(G, t + 4);
    gw_resp_free(&r);
}

static long events_with_ticket(const char *ticket)
{
    char path[160];
    snprintf(path, sizeof path, "/events?ticket=%s", ticket);
    gw_resp r;
    long st = gw_get(G, path, NULL, &r);
    if (st != 200)
        gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    return st;
}

Test(events_resume, ticket_is_single_use_and_never_logged)
{
    G = gw_start("main.json", NULL);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    char ticket[96], q[128];
    get_ticket(a.token, ticket, sizeof ticket);
    snprintf(q, sizeof q, "?ticket=%s", ticket);
    sse *s = sse_open_ready_with(G, NULL, q, NULL);
    cr_expect_eq(events_with_ticket(ticket), 401, "a ticket opens one stream");
    /* The stream is the handle's: its logoff ends it. */
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", a.id);
    gw_resp r;
    cr_assert_eq(gw_delete(G, path, a.token, &r), 204);
    gw_resp_free(&r);
    cr_expect(sse_wait(s, "\"reason\":\"logoff\"", 5000), "%s", s->buf);
    cr_expect(sse_wait_done(s, 5000));
    sse_close(s);
    /* The access log has the path, never the query (lines are written in
     * batches: wait for the stream's). */
    cr_expect(gw_wait_log(G, "\"path\":\"/events\",\"route\":\"/events\",\"status\":200", 5000),
              "no access log line");
    char *log = gw_read_log(G);
    cr_expect(!strstr(log, "ticket="), "the query is logged");
    cr_expect(!strstr(log, ticket), "the ticket is logged");
    free(log);
    gw_session_free(&a);
}

Test(events_resume, ticket_expires)
{
    const char *const args[] = {"--events-ticket-ttl", "1", NULL};
    G = gw_start("main.json", args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    char ticket[96];
    get_ticket(a.token, ticket, sizeof ticket);
    gw_sleep_ms(gw_ms(2100)); /* past the 1 s it may wait */
    cr_expect_eq(events_with_ticket(ticket), 401);
    /* A fresh one works, and nowhere but GET /events. */
    get_ticket(a.token, ticket, sizeof ticket);
    char path[160];
    snprintf(path, sizeof path, "/status?ticket=%s", ticket);
    gw_resp r;
    gw_get(G, path, NULL, &r);
    gw_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED");
    gw_resp_free(&r);
    gw_session_free(&a);
}

/* A ticket is bound to the handle that asked for it, not to the session:
 * it dies with that handle's logoff while the shared session's other handle
 * lives on, and the stream it opens follows that handle. */
Test(events_resume, ticket_dies_with_its_handle)
{
    G = gw_start("main.json", NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", SHARED, &a);
    gw_logon_ok(G, "alice", "alice-pw", "[]", &b);
    cr_assert_str_eq(a.id, b.id);
    char ta[96], tb[96], q[128];
    get_ticket(a.token, ta, sizeof ta);
    get_ticket(b.token, tb, sizeof tb);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", b.id);
    gw_resp r;
    cr_assert_eq(gw_delete(G, path, b.token, &r), 204);
    gw_resp_free(&r);
    cr_expect_eq(events_with_ticket(tb), 401, "B's ticket outlived B's logoff");
    snprintf(q, sizeof q, "?ticket=%s", ta);
    sse *s = sse_open_ready_with(G, NULL, q, NULL);
    cr_expect(!atomic_load(&s->done), "A's ticket no longer opens A's stream");
    /* With the token as well: refused, whoever's they are. */
    get_ticket(a.token, ta, sizeof ta);
    snprintf(q, sizeof q, "/events?ticket=%s", ta);
    gw_get(G, q, a.token, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    sse_close(s);
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(events_resume, dropped_counter_in_metrics)
{
    G = gw_start("main.json", NULL);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/metrics", NULL, &r), 200);
    cr_expect(strstr(r.body, "# TYPE mapigw_events_dropped_total counter\n"), "%s", r.body);
    cr_expect(strstr(r.body, "mapigw_events_dropped_total{reason=\"coalesced\"} 0\n"), "%s",
              r.body);
    cr_expect(strstr(r.body, "mapigw_events_dropped_total{reason=\"overflow\"} 0\n"), "%s", r.body);
    gw_resp_free(&r);
}

Test(events_resume, session_resource_shows_deadlines_and_limits)
{
    const char *const args[] = {"--idle-timeout", "600", "--lifetime", "3600", NULL};
    G = gw_start("main.json", args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", a.id);
    gw_resp r;
    cr_assert_eq(gw_get(G, path, a.token, &r), 200, "%s", r.body);
    const char *keys[] = {"created_at", "last_used_at", "idle_deadline_at", "lifetime_ends_at",
                          "expires_at"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_expect(gw_is_rfc3339_utc(gw_jstr(r.json, keys[i])), "%s: %s", keys[i], r.body);
    cr_expect_str_eq(gw_jstr(r.json, "expires_at"), gw_jstr(r.json, "idle_deadline_at"),
                     "the idle deadline comes first: %s", r.body);
    json_t *lim = json_object_get(r.json, "limits");
    cr_expect_eq(json_integer_value(json_object_get(lim, "max_body_bytes")), 65536, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(lim, "max_rows_per_page")), 10000);
    cr_expect_eq(json_integer_value(json_object_get(lim, "events_replay_window")), 128);
    cr_expect_eq(json_integer_value(json_object_get(lim, "events_ticket_ttl_s")), 30);
    gw_resp_free(&r);
    gw_session_free(&a);
}

#define ADMIN_KEY "admin-0123456789abcdef0123456789abcdef"

static long admin(const char *method, const char *path, gw_resp *r)
{
    const char *const h[] = {"Authorization: Bearer " ADMIN_KEY, NULL};
    return gw_request(G, method, path, h, NULL, r);
}

Test(events_resume, admin_lists_and_ends_one_profiles_sessions)
{
    const char *const args[] = {"--admin-key", ADMIN_KEY, NULL};
    G = gw_start("main.json", args);
    gw_add_secret(G, ADMIN_KEY);
    gw_session a1, a2, b;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a1);
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a2);
    gw_logon_ok(G, "bob", "bob-pw", MAIL, &b);
    sse *s = sse_open_ready_with(G, a1.token, "", NULL);

    gw_resp r;
    cr_assert_eq(admin("GET", "/sessions?profile=alice&max=1", &r), 200, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "total")), 2, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "count")), 1);
    json_t *first = json_array_get(json_object_get(r.json, "sessions"), 0);
    cr_expect_str_eq(gw_jstr(first, "profile"), "alice");
    char next[128];
    snprintf(next, sizeof next, "/sessions?profile=alice&max=1&cursor=%s", gw_jstr(r.json, "next"));
    gw_resp_free(&r);
    cr_assert_eq(admin("GET", next, &r), 200, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "count")), 1);
    cr_expect_null(json_object_get(r.json, "next"), "%s", r.body);
    gw_resp_free(&r);

    gw_delete(G, "/sessions?profile=alice", a1.token, &r);
    gw_assert_problem(&r, 403, "MAPI_E_NO_ACCESS");
    gw_resp_free(&r);
    admin("DELETE", "/sessions", &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
    cr_assert_eq(admin("DELETE", "/sessions?profile=alice", &r), 200, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "ended")), 2, "%s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "profile"), "alice");
    gw_resp_free(&r);
    cr_expect(sse_wait(s, "\"reason\":\"admin\"", 5000), "%s", s->buf);
    cr_expect(sse_wait_done(s, 5000));
    sse_close(s);
    gw_get(G, "/status", a2.token, &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, "/status", b.token, &r), 200, "bob's session ended too");
    gw_resp_free(&r);
    cr_assert_eq(admin("GET", "/sessions?profile=alice", &r), 200);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "total")), 0, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&a1);
    gw_session_free(&a2);
    gw_session_free(&b);
}
