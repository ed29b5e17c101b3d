/* Unit tests (suite api) of GET /events beyond its framing: Last-Event-ID
 * replay and resync, event tickets (tickets.c and POST /events/tickets), a
 * stream nobody reads (coalescing, mapigw_events_dropped_total), the session
 * resource's deadlines and limits, and the admin's per-profile list and
 * end. */
#include "../../api/api_internal.h"
#include "../../session-core/mapi_flags.h"
#include "api_fixture.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static api_stream *open_stream(rq r)
{
    api_response resp = afx_call(r);
    cr_assert_eq(resp.status, 200, "%d %.*s", resp.status, (int)resp.body_len,
                 resp.body ? resp.body : "");
    api_stream *st = resp.stream;
    cr_assert_not_null(st);
    resp.stream = NULL;
    api_response_clear(&resp);
    return st;
}

static long drain(api_stream *st, char *out, size_t cap)
{
    size_t used = 0;
    long n;
    while ((n = api_stream_read(st, out + used, cap - 1 - used)) > 0)
        used += (size_t)n;
    out[used] = '\0';
    return n;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The address book row's state flips: its file goes (STATUS_FAILURE) or
 * comes back (saved holds its bytes). */
static char ab_key[17];
static char *ab_saved;

static void ab_flip(bool present)
{
    if (present) {
        FILE *f = fopen(afx.abpath, "w");
        cr_assert_not_null(f);
        fputs(ab_saved, f);
        fclose(f);
    } else {
        unlink(afx.abpath);
    }
    char path[96];
    snprintf(path, sizeof path, "/status/%s/validate-state", ab_key);
    api_response r = afx_call((rq){.method = "POST", .path = path, .auth = afx.bearer});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    api_response_clear(&r);
}

static void ab_prepare(void)
{
    afx_row_key(MAPI_AB_PROVIDER, ab_key);
    FILE *f = fopen(afx.abpath, "r");
    cr_assert_not_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ab_saved = buf;
}

/* The id of the last event in text ("" when none). */
static void last_id(const char *text, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = text; (p = strstr(p, "id: ")) != NULL; p += 4) {
        if (p != text && p[-1] != '\n')
            continue;
        size_t n = strcspn(p + 4, "\n");
        snprintf(out, cap, "%.*s", (int)n, p + 4);
    }
}

Test(api, events_replay_after_reconnect)
{
    afx_logon_p();
    ab_prepare();
    api_stream *st = open_stream((rq){.method = "GET", .path = "/events", .auth = afx.bearer});
    char buf[16384], id[64];
    drain(st, buf, sizeof buf);
    cr_assert(strstr(buf, "retry: 3000\n"), "no retry advertised: %s", buf);
    ab_flip(false);
    drain(st, buf, sizeof buf);
    last_id(buf, id, sizeof id);
    cr_assert(id[0], "no event id: %s", buf);
    api_stream_free(st); /* the connection drops */

    ab_flip(true); /* missed */
    st = open_stream((rq){.method = "GET", .path = "/events", .auth = afx.bearer, .lei = id});
    drain(st, buf, sizeof buf);
    cr_assert_eq(count(buf, "event: table_modified"), 1, "%s", buf);
    cr_expect(!strstr(buf, "STATUS_FAILURE"), "the missed event is the recovery: %s", buf);
    cr_expect(!strstr(buf, "event: resync"), "%s", buf);
    char id2[64];
    last_id(buf, id2, sizeof id2);
    api_stream_free(st);

    /* The query parameter does the same (a new EventSource cannot set the
     * header); an id this gateway never issued gets a resync. */
    api_kv q[] = {{"last_event_id", id2}};
    st = open_stream(
        (rq){.method = "GET", .path = "/events", .auth = afx.bearer, .query = q, .nquery = 1});
    cr_assert_eq(drain(st, buf, sizeof buf), 0);
    cr_expect(!strstr(buf, "event: "), "up to date, yet got: %s", buf);
    api_stream_free(st);
    st = open_stream(
        (rq){.method = "GET", .path = "/events", .auth = afx.bearer, .lei = "0123456789ABCDEF-1"});
    drain(st, buf, sizeof buf);
    cr_expect(strstr(buf, "event: resync\ndata: {\"event\":\"resync\",\"reason\":\"unknown_id\"}"),
              "%s", buf);
    api_stream_free(st);
    st =
        open_stream((rq){.method = "GET", .path = "/events", .auth = afx.bearer, .lei = "garbage"});
    drain(st, buf, sizeof buf);
    cr_expect(strstr(buf, "\"reason\":\"unknown_id\""), "%s", buf);
    api_stream_free(st);
}

Test(api, events_unread_stream_coalesces_and_counts)
{
    afx_logon_p();
    ab_prepare();
    api_stream *st = open_stream((rq){.method = "GET", .path = "/events", .auth = afx.bearer});
    api_stream *other = open_stream((rq){.method = "GET", .path = "/events", .auth = afx.bearer});
    char buf[65536];
    drain(st, buf, sizeof buf);
    drain(other, buf, sizeof buf);
    for (int i = 0; i < 10; i++) {
        ab_flip(i % 2 == 1);
        drain(other, buf, sizeof buf); /* one reader keeps up */
        cr_assert_eq(count(buf, "event: table_modified"), 1, "round %d: %s", i, buf);
    }
    drain(st, buf, sizeof buf); /* the other reader comes back */
    cr_expect_eq(count(buf, "event: table_modified"), 1, "coalesced to the newest: %s", buf);
    cr_expect(strstr(buf, "-10\nevent: table_modified"), "the newest is event 10: %s", buf);
    cr_expect(strstr(buf, "STATUS_AVAILABLE") && !strstr(buf, "STATUS_FAILURE"),
              "the newest is the recovery: %s", buf);
    api_stream_free(st);
    api_stream_free(other);

    api_response r = afx_call((rq){.method = "GET", .path = "/metrics"});
    cr_assert_eq(r.status, 200);
    cr_expect(strstr(r.body, "mapigw_events_dropped_total{reason=\"coalesced\"} 9\n"), "%.*s",
              (int)r.body_len, r.body);
    cr_expect(strstr(r.body, "mapigw_events_dropped_total{reason=\"overflow\"} 0\n"), "%.*s",
              (int)r.body_len, r.body);
    api_response_clear(&r);
}

Test(api, event_ticket_opens_one_stream)
{
    afx_logon_p();
    api_response r =
        afx_call((rq){.method = "POST", .path = "/events/tickets", .auth = afx.bearer});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    json_t *j = afx_json(&r);
    char ticket[64];
    snprintf(ticket, sizeof ticket, "%s", afx_jstr(j, "ticket"));
    cr_expect_eq(strlen(ticket), TICKET_STRING_LEN);
    cr_expect(strncmp(ticket, "mgt_", 4) == 0, "%s", ticket);
    cr_expect(strstr(ticket, afx.token + 4) == NULL);
    cr_expect_not_null(json_object_get(j, "expires_at"));
    cr_expect_eq(json_integer_value(json_object_get(j, "expires_in_s")), 30);
    json_decref(j);
    api_response_clear(&r);

    api_kv q[] = {{"ticket", ticket}};
    /* Not with an Authorization header too, and nowhere but GET /events
     * (the ticket is not spent by those). */
    afx_expect_problem(
        (rq){.method = "GET", .path = "/events", .auth = afx.bearer, .query = q, .nquery = 1}, 400,
        "MAPI_E_INVALID_PARAMETER");
    afx_expect_problem((rq){.method = "GET", .path = "/status", .query = q, .nquery = 1}, 401,
                       "MAPI_E_LOGON_FAILED");
    api_stream *st = open_stream((rq){.method = "GET", .path = "/events", .query = q, .nquery = 1});
    char buf[4096];
    drain(st, buf, sizeof buf);
    cr_expect(strstr(buf, ": mapigw events"), "%s", buf);
    /* Single use. */
    afx_expect_problem((rq){.method = "GET", .path = "/events", .query = q, .nquery = 1}, 401,
                       "MAPI_E_END_OF_SESSION");
    /* The stream is the handle's: its logoff ends it; a ticket issued
     * before the logoff dies with the handle. */
    r = afx_call((rq){.method = "POST", .path = "/events/tickets", .auth = afx.bearer});
    j = afx_json(&r);
    snprintf(ticket, sizeof ticket, "%s", afx_jstr(j, "ticket"));
    json_decref(j);
    api_response_clear(&r);
    char del[128];
    snprintf(del, sizeof del, "/sessions/%s", afx.sid);
    r = afx_call((rq){.method = "DELETE", .path = del, .auth = afx.bearer});
    cr_assert_eq(r.status, 204);
    api_response_clear(&r);
    cr_assert_eq(drain(st, buf, sizeof buf), -1);
    cr_expect(strstr(buf, "\"reason\":\"logoff\""), "%s", buf);
    api_stream_free(st);
    afx_expect_problem((rq){.method = "GET", .path = "/events", .query = q, .nquery = 1}, 401,
                       "MAPI_E_END_OF_SESSION");
    /* Tickets need a session token: not the admin key, not nothing. */
    afx_expect_problem(
        (rq){.method = "POST", .path = "/events/tickets", .auth = "Bearer " ADMIN_KEY}, 401,
        "MAPI_E_END_OF_SESSION");
    afx_expect_problem((rq){.method = "POST", .path = "/events/tickets"}, 401,
                       "MAPI_E_LOGON_FAILED");
}

/* tickets.c alone, with the clock given. */
Test(api, tickets_expire_are_single_use_and_bounded)
{
    api_tickets *t = tickets_new(30);
    cr_assert_not_null(t);
    char token[TOKEN_STRING_LEN + 1], out[TOKEN_STRING_LEN + 1];
    token_hash h, other;
    cr_assert_eq(token_new(token, &h), S_OK);
    char tk[TICKET_STRING_LEN + 1], tk2[TICKET_STRING_LEN + 1];
    time_t exp;
    cr_assert_eq(tickets_issue(t, token, strlen(token), &h, 1000, tk, &exp), S_OK);
    cr_expect_eq(exp, 1030);
    cr_assert_eq(tickets_issue(t, token, strlen(token), &h, 1000, tk2, &exp), S_OK);
    cr_expect_str_neq(tk, tk2);
    cr_assert_eq(tickets_redeem(t, tk, strlen(tk), 1029, out), S_OK);
    cr_expect_str_eq(out, token);
    cr_expect_eq(tickets_redeem(t, tk, strlen(tk), 1029, out), MAPI_E_END_OF_SESSION, "used");
    cr_expect_eq(tickets_redeem(t, tk2, strlen(tk2), 1030, out), MAPI_E_END_OF_SESSION, "expired");
    cr_expect_eq(tickets_redeem(t, token, strlen(token), 1000, out), MAPI_E_END_OF_SESSION,
                 "a token is no ticket");
    tk2[10] ^= 1;
    cr_expect_eq(tickets_redeem(t, tk2, strlen(tk2), 1000, out), MAPI_E_END_OF_SESSION);

    /* At most 8 waiting per handle: the oldest makes room. */
    char first[TICKET_STRING_LEN + 1], last[TICKET_STRING_LEN + 1];
    cr_assert_eq(tickets_issue(t, token, strlen(token), &h, 2000, first, &exp), S_OK);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(tickets_issue(t, token, strlen(token), &h, 2000, last, &exp), S_OK);
    cr_expect_eq(tickets_redeem(t, first, strlen(first), 2001, out), MAPI_E_END_OF_SESSION);
    cr_expect_eq(tickets_redeem(t, last, strlen(last), 2001, out), S_OK);
    /* A handle's logoff drops its tickets, not another's. */
    char mine[TICKET_STRING_LEN + 1], theirs[TICKET_STRING_LEN + 1], tok2[TOKEN_STRING_LEN + 1];
    cr_assert_eq(token_new(tok2, &other), S_OK);
    cr_assert_eq(tickets_issue(t, token, strlen(token), &h, 3000, mine, &exp), S_OK);
    cr_assert_eq(tickets_issue(t, tok2, strlen(tok2), &other, 3000, theirs, &exp), S_OK);
    tickets_forget_handle(t, &h);
    cr_expect_eq(tickets_redeem(t, mine, strlen(mine), 3001, out), MAPI_E_END_OF_SESSION);
    cr_expect_eq(tickets_redeem(t, theirs, strlen(theirs), 3001, out), S_OK);
    cr_expect_str_eq(out, tok2);
    tickets_free(t);
}

Test(api, session_resource_shows_deadlines_and_limits)
{
    afx_logon_p();
    char path[128];
    snprintf(path, sizeof path, "/sessions/%s", afx.sid);
    api_response r = afx_call((rq){.method = "GET", .path = path, .auth = afx.bearer});
    cr_assert_eq(r.status, 200);
    json_t *j = afx_json(&r);
    cr_expect_not_null(json_string_value(json_object_get(j, "idle_deadline_at")));
    cr_expect_not_null(json_string_value(json_object_get(j, "lifetime_ends_at")));
    cr_expect_not_null(json_string_value(json_object_get(j, "last_used_at")));
    cr_expect_str_eq(afx_jstr(j, "expires_at"), afx_jstr(j, "idle_deadline_at"),
                     "idle timeout (1800 s) before lifetime (86400 s)");
    json_t *lim = json_object_get(j, "limits");
    cr_assert(json_is_object(lim), "%.*s", (int)r.body_len, r.body);
    cr_expect_eq(json_integer_value(json_object_get(lim, "max_body_bytes")), 65536);
    cr_expect_eq(json_integer_value(json_object_get(lim, "max_rows_per_page")), 10000);
    cr_expect_eq(json_integer_value(json_object_get(lim, "events_replay_window")), 128);
    cr_expect_eq(json_integer_value(json_object_get(lim, "events_ticket_ttl_s")), 30);
    json_decref(j);
    api_response_clear(&r);
}

Test(api, admin_lists_and_ends_one_profiles_sessions)
{
    afx_logon_p();
    char keep[160];
    snprintf(keep, sizeof keep, "%s", afx.bearer);
    afx_logon_p();
    api_response b = afx_post_sessions("{\"profile\":\"bare\"}");
    cr_assert_eq(b.status, 201);
    json_t *bj = afx_json(&b);
    char bare[160];
    snprintf(bare, sizeof bare, "Bearer %s", afx_jstr(bj, "token"));
    json_decref(bj);
    api_response_clear(&b);

    const char *admin = "Bearer " ADMIN_KEY;
    api_kv qp[] = {{"profile", "p"}, {"max", "1"}};
    api_response r = afx_call(
        (rq){.method = "GET", .path = "/sessions", .auth = admin, .query = qp, .nquery = 2});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    json_t *j = afx_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "total")), 2);
    cr_expect_eq(json_integer_value(json_object_get(j, "count")), 1);
    cr_expect_str_eq(afx_jstr(json_array_get(json_object_get(j, "sessions"), 0), "profile"), "p");
    char next[64];
    snprintf(next, sizeof next, "%s", afx_jstr(j, "next"));
    json_decref(j);
    api_response_clear(&r);
    /* The cursor is bound to the profile it lists. */
    api_kv qn[] = {{"profile", "bare"}, {"cursor", next}};
    afx_expect_problem(
        (rq){.method = "GET", .path = "/sessions", .auth = admin, .query = qn, .nquery = 2}, 400,
        "MAPI_E_INVALID_PARAMETER");

    api_kv q[] = {{"profile", "p"}};
    afx_expect_problem(
        (rq){.method = "DELETE", .path = "/sessions", .auth = afx.bearer, .query = q, .nquery = 1},
        403, "MAPI_E_NO_ACCESS");
    afx_expect_problem((rq){.method = "DELETE", .path = "/sessions", .auth = admin}, 400,
                       "MAPI_E_INVALID_PARAMETER");
    r = afx_call(
        (rq){.method = "DELETE", .path = "/sessions", .auth = admin, .query = q, .nquery = 1});
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    j = afx_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "ended")), 2);
    json_decref(j);
    api_response_clear(&r);
    afx_expect_problem((rq){.method = "GET", .path = "/status", .auth = keep}, 401,
                       "MAPI_E_END_OF_SESSION");
    afx_expect_problem((rq){.method = "GET", .path = "/status", .auth = afx.bearer}, 401,
                       "MAPI_E_END_OF_SESSION");
    r = afx_call((rq){.method = "GET", .path = "/status", .auth = bare});
    cr_expect_eq(r.status, 200, "another profile's session lives on");
    api_response_clear(&r);
    r = afx_call(
        (rq){.method = "DELETE", .path = "/sessions", .auth = admin, .query = q, .nquery = 1});
    j = afx_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "ended")), 0);
    json_decref(j);
    api_response_clear(&r);
}
