/* Black-box: GET /events, the session's notifications as Server-Sent Events
 * (docs/contract/http.md 7, docs/contract/mapi.md 2.7 and 8). Each
 * stream is read by libcurl on a thread of the test; every wait is bounded. */
#include "sse_fixture.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(events, .fini = fini_gw, .timeout = 90);

#define MAIL "[\"MAPI_NEW_SESSION\"]"

static sse *sse_open(const char *token) { return sse_open_with(G, token, "", NULL); }
static sse *sse_open_ready(const char *token) { return sse_open_ready_with(G, token, "", NULL); }

Test(events, shared_logoff_sends_critical_error_and_ends)
{
    G = gw_start("main.json", NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[]", &b);
    cr_assert_str_eq(a.id, b.id, "B did not join A's shared session");
    sse *s = sse_open_ready(a.token);
    gw_resp r;
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s?flags=MAPI_LOGOFF_SHARED", b.id);
    cr_assert_eq(gw_delete(G, path, b.token, &r), 204, "%s", r.body);
    gw_resp_free(&r);
    cr_expect(sse_wait(s, "event: critical_error", 5000), "no critical_error: %s", s->buf);
    cr_expect(sse_wait(s, "\"reason\":\"logoff_shared\"", 100), "%s", s->buf);
    cr_expect(sse_wait(s, "\"mapi_error\":\"MAPI_E_END_OF_SESSION\"", 100), "%s", s->buf);
    cr_expect(sse_wait(s, "\"mapi_code\":\"0x80040200\"", 100), "%s", s->buf);
    cr_expect(sse_wait(s, "\"event\":\"fnevCriticalError\"", 100), "%s", s->buf);
    cr_expect(sse_wait_done(s, 5000), "the stream did not end");
    cr_expect_eq(s->rc, CURLE_OK, "the stream was cut: %d", s->rc);
    cr_expect_eq(s->status, 200);
    cr_expect(strncmp(s->content_type, "text/event-stream", 17) == 0, "%s", s->content_type);
    gw_get(G, "/status", a.token, &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    sse_close(s);
    gw_session_free(&a);
    gw_session_free(&b);
}

/* A plain logoff of one handle of a shared session ends
 * that handle's open stream at once (critical_error, then the end), while
 * the other handle's stream stays open and keeps receiving events. */
Test(events, plain_logoff_ends_only_that_handles_stream)
{
    G = gw_start("main.json", NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    gw_logon_ok(G, "alice", "alice-pw", "[]", &b);
    cr_assert_str_eq(a.id, b.id, "B did not join A's shared session");
    sse *sa = sse_open_ready(a.token);
    sse *sb = sse_open_ready(b.token);
    gw_resp r;
    char path[256];
    snprintf(path, sizeof path, "/sessions/%s", b.id);
    cr_assert_eq(gw_delete(G, path, b.token, &r), 204, "%s", r.body);
    gw_resp_free(&r);

    cr_expect(sse_wait(sb, "event: critical_error", gw_ms(5000)), "B got no critical_error: %s",
              sb->buf);
    cr_expect(sse_wait(sb, "\"reason\":\"logoff\"", gw_ms(100)), "%s", sb->buf);
    cr_expect(sse_wait(sb, "\"mapi_error\":\"MAPI_E_END_OF_SESSION\"", gw_ms(100)), "%s", sb->buf);
    cr_expect(sse_wait_done(sb, gw_ms(5000)), "B's stream did not end");
    cr_expect_eq(sb->rc, CURLE_OK, "B's stream was cut: %d", sb->rc);

    /* A's handle and stream live on: a status change reaches A's stream. */
    cr_assert_eq(gw_get(G, "/status", a.token, &r), 200, "%s", r.body);
    json_t *row = gw_find_row(r.json, "Alice Mailbox");
    cr_assert(row, "%s", r.body);
    char ik[64];
    snprintf(ik, sizeof ik, "%s", gw_jstr(row, "instance_key"));
    gw_resp_free(&r);
    char *md = gw_data_path(G, "alice/Maildir");
    cr_assert_eq(gw_rmrf(md), 0);
    free(md);
    snprintf(path, sizeof path, "/status/%s/validate-state", ik);
    gw_post(G, path, a.token, NULL, &r);
    gw_resp_free(&r);
    cr_expect(sse_wait(sa, "event: table_modified", gw_ms(5000)), "A got no event: %s", sa->buf);
    cr_expect(!sse_wait(sa, "critical_error", 0), "A's stream was told to end");
    cr_expect(!atomic_load(&sa->done), "A's stream ended");
    /* B's stream got nothing after its end. */
    cr_expect(!sse_wait(sb, "table_modified", 0), "B's dead handle got an event: %s", sb->buf);
    gw_get(G, "/events", b.token, &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    sse_close(sa);
    sse_close(sb);
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(events, idle_expiry_sends_expired)
{
    /* At least 1 s, stretched with the run: the stream must open within the
     * idle timeout of the logon, which valgrind can delay past a second. */
    char idle[16];
    snprintf(idle, sizeof idle, "%d", gw_ms(1000) / 1000);
    const char *const args[] = {"--idle-timeout", idle, "--reap-interval", "1", NULL};
    G = gw_start("main.json", args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    sse *s = sse_open_ready(a.token);
    cr_expect(sse_wait(s, "\"reason\":\"expired\"", 8000), "no expiry event: %s", s->buf);
    cr_expect(sse_wait_done(s, 5000), "the stream did not end");
    sse_close(s);
    gw_session_free(&a);
}

Test(events, status_change_sends_table_modified)
{
    G = gw_start("main.json", NULL);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    gw_resp r;
    gw_get(G, "/status", a.token, &r);
    json_t *row = gw_find_row(r.json, "Alice Mailbox");
    cr_assert(row, "%s", r.body);
    char ik[64];
    snprintf(ik, sizeof ik, "%s", gw_jstr(row, "instance_key"));
    gw_resp_free(&r);

    sse *s = sse_open_ready(a.token);
    char *md = gw_data_path(G, "alice/Maildir");
    cr_assert_eq(gw_rmrf(md), 0);
    free(md);
    char path[128];
    snprintf(path, sizeof path, "/status/%s/validate-state", ik);
    gw_post(G, path, a.token, NULL, &r);
    gw_resp_free(&r);
    cr_expect(sse_wait(s, "event: table_modified", 5000), "no table_modified: %s", s->buf);
    cr_expect(sse_wait(s, "\"table_event\":\"TABLE_ROW_MODIFIED\"", 100), "%s", s->buf);
    cr_expect(sse_wait(s, "\"event\":\"fnevTableModified\"", 100), "%s", s->buf);
    char needle[96];
    snprintf(needle, sizeof needle, "\"instance_key\":\"%s\"", ik);
    cr_expect(sse_wait(s, needle, 100), "the event is not about the store row: %s", s->buf);
    cr_expect(sse_wait(s, "STATUS_FAILURE", 100), "the row is not failed: %s", s->buf);
    cr_expect(sse_wait(s, "\nid: ", 100), "no event id: %s", s->buf);
    cr_expect(!atomic_load(&s->done), "the stream ended after a table event");
    sse_close(s);
    gw_session_free(&a);
}

Test(events, keepalive_comment_arrives)
{
    const char *const args[] = {"--events-keepalive", "1", NULL};
    G = gw_start("main.json", args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    sse *s = sse_open_ready(a.token);
    cr_expect(sse_wait(s, ": keep-alive\n\n", 4000), "no keep-alive: %s", s->buf);
    cr_expect(!atomic_load(&s->done));
    sse_close(s);
    gw_session_free(&a);
}

Test(events, needs_a_live_token)
{
    G = gw_start("main.json", NULL);
    gw_resp r;
    gw_get(G, "/events", NULL, &r);
    gw_assert_problem(&r, 401, "MAPI_E_LOGON_FAILED");
    gw_resp_free(&r);
    gw_get(G, "/events", "mgw_not-a-token", &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
}

Test(events, many_streams_hold_no_thread_each)
{
    const char *const args[] = {"--threads", "2", NULL};
    G = gw_start("main.json", args);
    gw_session a;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    enum { N = 20 };
    sse *s[N];
    for (int i = 0; i < N; i++)
        s[i] = sse_open(a.token);
    for (int i = 0; i < N; i++)
        cr_expect(sse_wait(s[i], ": mapigw events", 10000), "stream %d did not open", i);
    /* With two server threads and twenty open streams, requests still get
     * answered at once. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int k = 0; k < 5; k++) {
        gw_resp r;
        cr_expect_eq(gw_get(G, "/status", a.token, &r), 200);
        gw_resp_free(&r);
        cr_expect_eq(gw_get(G, "/healthz", NULL, &r), 200);
        gw_resp_free(&r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_expect_lt(ms, (double)gw_ms(5000), "10 requests took %.0f ms", ms);
    for (int i = 0; i < N; i++) {
        cr_expect(!atomic_load(&s[i]->done), "stream %d ended", i);
        sse_close(s[i]);
    }
    gw_session_free(&a);
}

Test(events, sigterm_ends_streams_cleanly)
{
    G = gw_start("main.json", NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    gw_logon_ok(G, "bob", "bob-pw", MAIL, &b);
    sse *s1 = sse_open_ready(a.token);
    sse *s2 = sse_open_ready(b.token);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_expect_eq(gw_stop(G), 0, "the gateway did not exit cleanly");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_expect_lt(t1.tv_sec - t0.tv_sec, 5, "shutdown took %lds", (long)(t1.tv_sec - t0.tv_sec));
    sse *all[] = {s1, s2};
    for (int i = 0; i < 2; i++) {
        cr_expect(sse_wait_done(all[i], 3000), "stream %d still open", i);
        cr_expect(sse_wait(all[i], "\"reason\":\"shutdown\"", 100), "stream %d: %s", i,
                  all[i]->buf);
        cr_expect_eq(all[i]->rc, CURLE_OK, "stream %d was cut: %d", i, all[i]->rc);
        sse_close(all[i]);
    }
    gw_session_free(&a);
    gw_session_free(&b);
}
