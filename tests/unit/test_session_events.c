/* Unit suite for session_events.c: event ids (a tag per session object and a
 * sequence per session), the replay window a reconnecting subscriber
 * resumes from, resync when it cannot, and the bounded subscriber queue
 * (coalescing of a row's changes, overflow, the drop counters). Rows are
 * "changed" by calling session_events_row_modified directly. */
#include "../../session-core/mapi_flags.h"
#include "../../session-core/session_internal.h"

#include <criterion/criterion.h>
#include <string.h>

static profile_store *profiles;
static session_env *env;
static session *S;

static void setup(void)
{
    static const char json[] = "{\"profiles\":["
                               "{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":[]}]}";
    char err[512] = "";
    cr_assert_eq(
        profile_store_load_string(json, "t.json", "/tmp", &profiles, err, sizeof err, NULL, NULL),
        S_OK, "%s", err);
    env = session_env_new();
    cr_assert_not_null(env);
    env->events_replay = 4;
    cr_assert_eq(session_create(env, profiles, profile_store_find(profiles, "p"), MAPI_EXTENDED,
                                100, 1000, 1000, &S),
                 S_OK);
    cr_assert_eq(session_logon_providers(S, NULL), S_OK);
    status_table t;
    cr_assert_eq(session_status_table(S, &t), S_OK);
    cr_assert_geq(t.count, 2, "the tests need two rows");
    status_table_free(&t);
}

static void teardown(void)
{
    session_unref(S);
    session_env_unref(env);
    profile_store_unref(profiles);
}

TestSuite(session_events, .init = setup, .fini = teardown);

/* Row i "changed" (the session lock is held by whoever changes a row). */
static void change(size_t i)
{
    session_lock(S);
    session_events_row_modified(S, i);
    session_unlock(S);
}

/* The next event's kind and seq; asserts there is one. */
static session_event_kind next(session_sub *sub, uint64_t *seq, const char **reason)
{
    session_event ev;
    cr_assert_eq(session_sub_next(sub, &ev), S_OK, "no event queued");
    session_event_kind k = ev.kind;
    if (seq)
        *seq = ev.seq;
    if (reason)
        *reason = ev.reason;
    session_event_clear(&ev);
    return k;
}

static void expect_empty(session_sub *sub)
{
    session_event ev;
    cr_assert_eq(session_sub_next(sub, &ev), MAPI_E_NOT_FOUND, "more events than expected");
}

Test(session_events, ids_carry_a_tag_and_a_session_sequence)
{
    session_sub *a, *b;
    cr_assert_eq(session_advise(S, NULL, NULL, &a), S_OK);
    change(0);
    cr_assert_eq(session_advise(S, NULL, NULL, &b), S_OK);
    change(1);
    uint64_t seq;
    cr_assert_eq(next(a, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 1);
    cr_assert_eq(next(a, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 2);
    cr_assert_eq(next(b, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 2, "one sequence per session, not per subscriber");
    uint8_t ta[SESSION_EVENT_TAG_LEN], tb[SESSION_EVENT_TAG_LEN], zero[SESSION_EVENT_TAG_LEN] = {0};
    session_sub_tag(a, ta);
    session_sub_tag(b, tb);
    cr_expect_eq(memcmp(ta, tb, sizeof ta), 0);
    cr_expect_neq(memcmp(ta, zero, sizeof ta), 0, "the tag is random, not zero");
    session_unadvise(a);
    session_unadvise(b);

    /* Another session object has another tag. */
    session *o;
    cr_assert_eq(session_create(env, profiles, profile_store_find(profiles, "p"), MAPI_EXTENDED,
                                100, 1000, 1000, &o),
                 S_OK);
    session_sub *c;
    cr_assert_eq(session_advise(o, NULL, NULL, &c), S_OK);
    uint8_t tc[SESSION_EVENT_TAG_LEN];
    session_sub_tag(c, tc);
    cr_expect_neq(memcmp(ta, tc, sizeof ta), 0);
    session_unadvise(c);
    session_unref(o);
}

Test(session_events, a_reconnect_gets_what_it_missed)
{
    session_sub *a;
    cr_assert_eq(session_advise(S, NULL, NULL, &a), S_OK);
    change(0);
    session_event_id last;
    session_sub_tag(a, last.tag);
    cr_assert_eq(next(a, &last.seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    session_unadvise(a); /* the connection drops */
    change(1);
    change(0);

    session_sub *back;
    cr_assert_eq(session_advise_from(S, NULL, &last, NULL, NULL, &back), S_OK);
    uint64_t seq;
    cr_assert_eq(next(back, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 2);
    cr_assert_eq(next(back, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 3);
    expect_empty(back);
    session_unadvise(back);

    /* Up to date: nothing to replay, no resync. */
    last.seq = 3;
    cr_assert_eq(session_advise_from(S, NULL, &last, NULL, NULL, &back), S_OK);
    expect_empty(back);
    session_unadvise(back);
}

Test(session_events, resync_past_the_window_or_for_an_unknown_id)
{
    session_sub *a;
    cr_assert_eq(session_advise(S, NULL, NULL, &a), S_OK);
    session_event_id last;
    session_sub_tag(a, last.tag);
    session_unadvise(a);
    for (int i = 0; i < 6; i++) /* window 4: events 1 and 2 are gone */
        change((size_t)i % 2);

    session_sub *back;
    const char *reason;
    uint64_t seq;
    last.seq = 1;
    cr_assert_eq(session_advise_from(S, NULL, &last, NULL, NULL, &back), S_OK);
    cr_assert_eq(next(back, &seq, &reason), SESSION_EVENT_RESYNC);
    cr_expect_str_eq(reason, "window_exceeded");
    cr_expect_eq(seq, 6, "the resync stands for everything up to now");
    expect_empty(back);
    session_unadvise(back);

    last.seq = 2; /* event 3 onwards is kept: replayable, coalesced per row */
    cr_assert_eq(session_advise_from(S, NULL, &last, NULL, NULL, &back), S_OK);
    cr_assert_eq(next(back, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 5);
    cr_assert_eq(next(back, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 6);
    expect_empty(back);
    session_unadvise(back);

    last.seq = 99; /* never issued */
    cr_assert_eq(session_advise_from(S, NULL, &last, NULL, NULL, &back), S_OK);
    cr_assert_eq(next(back, NULL, &reason), SESSION_EVENT_RESYNC);
    cr_expect_str_eq(reason, "unknown_id");
    session_unadvise(back);

    last.seq = 5;
    last.tag[0] ^= 1; /* another replica's, or this one's before a restart */
    cr_assert_eq(session_advise_from(S, NULL, &last, NULL, NULL, &back), S_OK);
    cr_assert_eq(next(back, NULL, &reason), SESSION_EVENT_RESYNC);
    cr_expect_str_eq(reason, "unknown_id");
    expect_empty(back);
    session_unadvise(back);
}

Test(session_events, no_window_means_resync)
{
    session_env_unref(env);
    session_unref(S);
    env = session_env_new();
    env->events_replay = 0;
    cr_assert_eq(session_create(env, profiles, profile_store_find(profiles, "p"), MAPI_EXTENDED,
                                100, 1000, 1000, &S),
                 S_OK);
    cr_assert_eq(session_logon_providers(S, NULL), S_OK);
    session_sub *a;
    cr_assert_eq(session_advise(S, NULL, NULL, &a), S_OK);
    session_event_id last;
    session_sub_tag(a, last.tag);
    last.seq = 0;
    session_unadvise(a);
    change(0);
    cr_assert_eq(session_advise_from(S, NULL, &last, NULL, NULL, &a), S_OK);
    const char *reason;
    cr_assert_eq(next(a, NULL, &reason), SESSION_EVENT_RESYNC);
    cr_expect_str_eq(reason, "window_exceeded");
    session_unadvise(a);
}

Test(session_events, a_reader_that_does_not_read_gets_the_newest_row_once)
{
    session_sub *slow, *fast;
    cr_assert_eq(session_advise(S, NULL, NULL, &slow), S_OK);
    cr_assert_eq(session_advise(S, NULL, NULL, &fast), S_OK);
    for (int i = 0; i < 100; i++) {
        change(0);
        uint64_t seq;
        cr_assert_eq(next(fast, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
        cr_assert_eq(seq, (uint64_t)i + 1, "the other reader misses nothing");
    }
    change(1);
    uint64_t seq;
    cr_assert_eq(next(slow, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 100, "row 0's newest change only");
    cr_assert_eq(next(slow, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 101);
    expect_empty(slow);
    cr_expect_eq(atomic_load(&env->events_coalesced), 99);
    cr_expect_eq(atomic_load(&env->events_overflowed), 0);
    session_unadvise(slow);
    session_unadvise(fast);
}

Test(session_events, a_full_queue_drops_the_oldest_and_says_resync)
{
    env->sub_queue_max = 1;
    session_sub *slow;
    cr_assert_eq(session_advise(S, NULL, NULL, &slow), S_OK);
    change(0);
    change(1); /* no room: event 1 goes */
    cr_expect_eq(atomic_load(&env->events_overflowed), 1);
    const char *reason;
    uint64_t seq;
    cr_assert_eq(next(slow, &seq, &reason), SESSION_EVENT_RESYNC);
    cr_expect_str_eq(reason, "overflow");
    cr_expect_eq(seq, 1, "the newest event dropped");
    cr_assert_eq(next(slow, &seq, NULL), SESSION_EVENT_TABLE_MODIFIED);
    cr_expect_eq(seq, 2);
    /* The session's end is never dropped. */
    change(0);
    session_end(S, "admin");
    cr_assert_eq(next(slow, NULL, &reason), SESSION_EVENT_RESYNC);
    cr_assert_eq(next(slow, NULL, &reason), SESSION_EVENT_CRITICAL_ERROR);
    cr_expect_str_eq(reason, "admin");
    session_event ev;
    cr_expect_eq(session_sub_next(slow, &ev), MAPI_E_END_OF_SESSION);
    session_unadvise(slow);
}
