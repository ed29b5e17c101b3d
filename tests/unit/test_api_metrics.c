/* GET /metrics without a walk over the sessions: the core
 * keeps the provider status gauges as sessions log on, join, log off, change,
 * expire and are ended by the admin, and a scrape only reads them. Part of
 * the api suite (api_fixture.h): profiles p and secret each have one abfile
 * address book. */
#include "api_fixture.h"

#include "../../session-core/mapi_flags.h"
#include "../../session-core/provider.h"
#include "../../session-core/session_stats.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t abfile_kind(void)
{
    for (size_t k = 0; k < session_stats_kind_count(); k++)
        if (strcmp(session_stats_kind_name(k), "abfile") == 0)
            return k;
    cr_assert_fail("no abfile kind");
    return 0;
}

/* Every gauge exactly: the abfile ones as given, all other kinds zero. */
static void expect_gauges(uint64_t available, uint64_t failure, const char *when)
{
    size_t ab = abfile_kind();
    for (size_t k = 0; k < session_stats_kind_count(); k++) {
        uint64_t want[SESSION_STATS_STATES] = {0, 0, 0};
        if (k == ab) {
            want[SESSION_STATS_AVAILABLE] = available;
            want[SESSION_STATS_FAILURE] = failure;
        }
        for (int st = 0; st < SESSION_STATS_STATES; st++)
            cr_assert_eq(
                core_provider_status(afx.core, k, (session_stats_state)st), want[st],
                "%s: %s state %d is %llu, expected %llu", when, session_stats_kind_name(k), st,
                (unsigned long long)core_provider_status(afx.core, k, (session_stats_state)st),
                (unsigned long long)want[st]);
    }
}

static uint64_t walk_count(void)
{
    core_stats st;
    core_get_stats(afx.core, &st);
    return st.session_walks;
}

/* The text of one sample line's value, from a scrape. */
static char *scrape(void)
{
    api_response r = afx_call((rq){.method = "GET", .path = "/metrics"});
    cr_assert_eq(r.status, 200);
    char *text = strndup(r.body, r.body_len);
    cr_assert_not_null(text);
    api_response_clear(&r);
    return text;
}

static void expect_line(const char *text, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s\n", line);
    cr_assert(strstr(text, want) != NULL, "no line \"%s\" in:\n%s", line, text);
}

static core_logon_result logon(const char *name, const char *password, uint32_t flags)
{
    core_logon_request req = {name, password, flags, "127.0.0.1"};
    core_logon_result res;
    cr_assert_eq(core_logon(afx.core, &req, &res), S_OK, "logon to %s", name);
    return res;
}

static void logoff(core_logon_result *res)
{
    token_hash h;
    cr_assert(token_parse(res->token, strlen(res->token), &h));
    cr_assert_eq(core_logoff(afx.core, &h, 0), S_OK);
    session_unref(res->session);
    res->session = NULL;
}

static void address_book_key(session *s, uint8_t ik[STATUS_INSTANCE_KEY_LEN])
{
    status_table t;
    cr_assert_eq(session_status_table(s, &t), S_OK);
    bool found = false;
    for (size_t i = 0; i < t.count && !found; i++)
        if (t.rows[i].resource_type == MAPI_AB_PROVIDER) {
            memcpy(ik, t.rows[i].instance_key, STATUS_INSTANCE_KEY_LEN);
            found = true;
        }
    status_table_free(&t);
    cr_assert(found, "no address book row");
}

Test(api, metrics_counters_follow_the_sessions)
{
    expect_gauges(0, 0, "before any logon");
    core_logon_result a = logon("p", NULL, MAPI_NEW_SESSION | MAPI_ALLOW_OTHERS);
    expect_gauges(1, 0, "after A's logon");

    /* A join adds a handle, not a session: its rows are A's. */
    core_logon_result b = logon("p", NULL, 0);
    cr_assert(b.joined);
    expect_gauges(1, 0, "after B joined");
    logoff(&b);
    expect_gauges(1, 0, "after B's plain logoff");

    core_logon_result c = logon("p", NULL, MAPI_NEW_SESSION);
    expect_gauges(2, 0, "after C's logon");
    core_logon_result d = logon("secret", "right", MAPI_NEW_SESSION);
    expect_gauges(3, 0, "after D's logon");
    cr_assert_eq(core_end_session(afx.core, session_id(d.session)), S_OK);
    expect_gauges(2, 0, "after the admin ended D");

    /* C's address book fails; A's row shows it once A is polled. */
    cr_assert_eq(unlink(afx.abpath), 0);
    uint8_t ik[STATUS_INSTANCE_KEY_LEN];
    address_book_key(c.session, ik);
    status_row row;
    memset(&row, 0, sizeof row);
    (void)session_validate_state(c.session, ik, 0, &row);
    status_row_clear(&row);
    expect_gauges(1, 1, "after C's row failed");
    core_poll(afx.core);
    expect_gauges(0, 2, "after A's row failed too");
    char *text = scrape();
    expect_line(text, "mapigw_provider_status{kind=\"abfile\",state=\"failure\"} 2");
    expect_line(text, "mapigw_provider_status{kind=\"abfile\",state=\"available\"} 0");
    expect_line(text, "mapigw_sessions 2");
    free(text);

    logoff(&a); /* its last handle: the session ends */
    expect_gauges(0, 1, "after A's logoff");
    cr_assert_eq(core_reap(afx.core, time(NULL) + 10 * 86400), 1);
    expect_gauges(0, 0, "after C expired");
    text = scrape();
    expect_line(text, "mapigw_provider_status{kind=\"abfile\",state=\"failure\"} 0");
    expect_line(text, "mapigw_sessions 0");
    free(text);
    session_unref(c.session);
    session_unref(d.session);
}

/* A scrape reads counters: with sessions live, it takes no snapshot of them
 * and walks none (the walk counter the session store bumps on every snapshot
 * and sweep stays where it was). */
Test(api, metrics_scrape_walks_no_session)
{
    afx_logon_p();
    afx_logon_p();
    api_response r = afx_post_sessions("{\"profile\":\"secret\",\"password\":\"right\"}");
    cr_assert_eq(r.status, 201);
    api_response_clear(&r);

    uint64_t walks = walk_count();
    char *text = scrape();
    cr_assert_eq(walk_count(), walks, "the scrape walked the sessions");
    expect_line(text, "mapigw_provider_status{kind=\"abfile\",state=\"available\"} 3");
    expect_line(text, "mapigw_provider_status{kind=\"maildir\",state=\"available\"} 0");
    expect_line(text, "mapigw_sessions 3");
    free(text);

    /* The counter does count walks: the admin's session list is one. */
    r = afx_call((rq){.method = "GET", .path = "/sessions", .auth = "Bearer " ADMIN_KEY});
    cr_assert_eq(r.status, 200);
    api_response_clear(&r);
    cr_assert_eq(walk_count(), walks + 1);
}

/* The kinds /metrics lists are the registered ones (providers/providers.h,
 * through provider.c's table), each with its three states, in that order and
 * no other: a new kind shows up without anyone touching the api. */
Test(api, metrics_list_every_registered_kind)
{
    static const char *const STATE_NAMES[] = {"available", "offline", "failure"};
    size_t n = provider_kind_count();
    cr_assert_gt(n, 0);
    cr_assert_eq(session_stats_kind_count(), n);
    char *text = scrape();
    const char *at = text;
    size_t lines = 0;
    for (const char *p = text; (p = strstr(p, "\nmapigw_provider_status{")) != NULL; p++)
        lines++;
    cr_assert_eq(lines, n * 3, "%zu provider_status samples for %zu kinds:\n%s", lines, n, text);
    for (size_t k = 0; k < n; k++) {
        cr_assert_str_eq(session_stats_kind_name(k), provider_kind_at(k)->kind);
        for (size_t st = 0; st < 3; st++) {
            char want[128];
            snprintf(want, sizeof want, "\nmapigw_provider_status{kind=\"%s\",state=\"%s\"} 0\n",
                     provider_kind_at(k)->kind, STATE_NAMES[st]);
            const char *found = strstr(at, want);
            cr_assert_not_null(found, "no line%s(after the previous kind's) in:\n%s", want, text);
            at = found + 1;
        }
    }
    free(text);
}
