/* Unit suite for session_store.c, called directly: adding sessions and
 * handles, the caps, shared sessions and joins, lookups, removing one handle
 * or a whole session, sweeps, snapshots and counts. The sessions are real
 * (session_create) but log nothing on: profiles without providers. */
#include "../../session-core/session_internal.h"
#include "../../session-core/session_store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static profile_store *profiles;
static session_env *env;
static session_store *st;

static void setup(void)
{
    static const char json[] = "{\"profiles\":["
                               "{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":[]},"
                               "{\"name\":\"q\",\"auth\":{\"type\":\"none\"},\"services\":[]}]}";
    char err[512] = "";
    cr_assert_eq(
        profile_store_load_string(json, "t.json", "/tmp", &profiles, err, sizeof err, NULL, NULL),
        S_OK, "%s", err);
    env = session_env_new();
    cr_assert_not_null(env);
    st = NULL;
}

static void teardown(void)
{
    session_store_free(st);
    session_env_unref(env);
    profile_store_unref(profiles);
}

TestSuite(session_store, .init = setup, .fini = teardown);

static void new_store(unsigned max_sessions, unsigned per_profile, unsigned handles)
{
    session_store_limits limits = {max_sessions, per_profile, handles};
    st = session_store_new(&limits);
    cr_assert_not_null(st);
}

/* A new session of profile name (one reference: the caller's). */
static session *new_session(const char *name)
{
    const profile *p = profile_store_find(profiles, name);
    cr_assert_not_null(p);
    session *s = NULL;
    cr_assert_eq(session_create(env, profiles, p, 0, 1800, 86400, 1000, &s), S_OK);
    return s;
}

/* A distinct handle per n (the store only ever sees hashes). */
static token_hash handle(unsigned n)
{
    token_hash h;
    memset(&h, 0, sizeof h);
    for (size_t i = 0; i < sizeof h.bytes; i++)
        h.bytes[i] = (uint8_t)(n * 31 + i);
    return h;
}

static unsigned refs(const session *s) { return atomic_load(&s->refs); }

static session_store_totals totals(void)
{
    session_store_totals t;
    session_store_counts(st, &t);
    return t;
}

static session_store_facts facts(const session *s)
{
    session_store_facts f;
    cr_assert_eq(session_store_facts_of(st, session_id(s), &f), S_OK);
    return f;
}

/* Adds s under handle n; the store takes a reference of its own. */
static void add(session *s, unsigned n, bool publish)
{
    token_hash h = handle(n);
    cr_assert_eq(session_store_add(st, s, &h, publish, NULL), S_OK);
}

Test(session_store, lookup_finds_the_session_of_a_handle_and_nothing_else)
{
    new_store(10, 10, 10);
    session *s = new_session("p");
    add(s, 1, false);
    cr_expect_eq(refs(s), 2, "the store holds a reference");

    token_hash h1 = handle(1), h2 = handle(2);
    session *found = NULL;
    cr_assert_eq(session_store_lookup(st, &h1, &found), S_OK);
    cr_expect_eq(found, s);
    cr_expect_eq(refs(s), 3, "a lookup hands out a new reference");
    session_unref(found);
    found = NULL;
    cr_expect_eq(session_store_lookup(st, &h2, &found), MAPI_E_END_OF_SESSION);
    cr_expect_null(found);

    session_store_totals t = totals();
    cr_expect_eq(t.sessions, 1);
    cr_expect_eq(t.handles, 1);
    session_unref(s);
}

Test(session_store, find_and_facts_go_by_session_id)
{
    new_store(10, 10, 10);
    session *s = new_session("p");
    add(s, 1, false);
    session *found = session_store_find(st, session_id(s));
    cr_expect_eq(found, s);
    session_unref(found);
    cr_expect_null(session_store_find(st, "00000000000000000000000000000000"));
    session_store_facts f = facts(s);
    cr_expect_not(f.shared, "not published");
    cr_expect_eq(f.handles, 1);
    cr_expect_eq(session_store_facts_of(st, "00000000000000000000000000000000", &f),
                 MAPI_E_NOT_FOUND);
    session_unref(s);
}

Test(session_store, add_refuses_past_the_gateway_cap_and_leaves_nothing_behind)
{
    new_store(2, 10, 10);
    session *a = new_session("p"), *b = new_session("q"), *c = new_session("q");
    add(a, 1, false);
    add(b, 2, false);
    token_hash h3 = handle(3);
    bool shared = true;
    cr_expect_eq(session_store_add(st, c, &h3, true, &shared), MAPI_E_NOT_ENOUGH_RESOURCES);
    cr_expect_not(shared);
    cr_expect_eq(refs(c), 1, "a refused session is not kept");
    session *found = NULL;
    cr_expect_eq(session_store_lookup(st, &h3, &found), MAPI_E_END_OF_SESSION);
    session_store_totals t = totals();
    cr_expect_eq(t.sessions, 2);
    cr_expect_eq(t.handles, 2);
    session_unref(a);
    session_unref(b);
    session_unref(c);
}

Test(session_store, add_refuses_past_the_profile_cap_only_for_that_profile)
{
    new_store(10, 1, 10);
    session *a = new_session("p"), *b = new_session("p"), *c = new_session("q");
    add(a, 1, false);
    token_hash h2 = handle(2);
    cr_expect_eq(session_store_add(st, b, &h2, false, NULL), MAPI_E_SESSION_LIMIT);
    add(c, 3, false); /* another profile has its own count */
    /* The profile's count goes down with its session: room again. */
    session_store_ended ended = SESSION_STORE_ENDED_INIT("admin");
    cr_assert_eq(session_store_remove_session(st, session_id(a), &ended), S_OK);
    session_store_ended_finish(&ended);
    cr_expect_eq(session_store_add(st, b, &h2, false, NULL), S_OK);
    session_unref(a);
    session_unref(b);
    session_unref(c);
}

Test(session_store, the_first_published_session_of_a_profile_is_its_shared_one)
{
    new_store(10, 10, 10);
    session *a = new_session("p"), *b = new_session("p"), *c = new_session("q");
    token_hash h1 = handle(1), h2 = handle(2), h3 = handle(3);
    bool shared = false;
    cr_assert_eq(session_store_add(st, a, &h1, true, &shared), S_OK);
    cr_expect(shared);
    cr_assert_eq(session_store_add(st, b, &h2, true, &shared), S_OK);
    cr_expect_not(shared, "the profile already has one");
    cr_expect(facts(a).shared);
    cr_expect_not(facts(b).shared);

    session *sole = NULL;
    cr_assert_eq(session_store_sole_shared(st, &sole), S_OK);
    cr_expect_eq(sole, a);
    session_unref(sole);
    /* A second profile with a shared session: no longer the only one. */
    cr_assert_eq(session_store_add(st, c, &h3, true, &shared), S_OK);
    cr_expect(shared);
    sole = NULL;
    cr_expect_eq(session_store_sole_shared(st, &sole), MAPI_E_NOT_FOUND);
    cr_expect_null(sole);
    session_unref(a);
    session_unref(b);
    session_unref(c);
}

Test(session_store, sole_shared_finds_none_without_a_shared_session)
{
    new_store(10, 10, 10);
    session *a = new_session("p");
    add(a, 1, false);
    session *sole = NULL;
    cr_expect_eq(session_store_sole_shared(st, &sole), MAPI_E_NOT_FOUND);
    cr_expect_null(sole);
    session_unref(a);
}

Test(session_store, joins_add_handles_to_the_shared_session_up_to_the_cap)
{
    new_store(10, 10, 2);
    session *a = new_session("p");
    add(a, 1, true);
    token_hash h2 = handle(2), h3 = handle(3);
    session *joined = NULL;
    cr_assert_eq(session_store_join_shared(st, "p", &h2, &joined), S_OK);
    cr_expect_eq(joined, a);
    session_unref(joined);
    session *found = NULL;
    cr_assert_eq(session_store_lookup(st, &h2, &found), S_OK);
    cr_expect_eq(found, a);
    session_unref(found);
    cr_expect_eq(facts(a).handles, 2);
    cr_expect_eq(totals().handles, 2);
    cr_expect_eq(totals().sessions, 1);

    joined = NULL;
    cr_expect_eq(session_store_join_shared(st, "p", &h3, &joined), MAPI_E_SESSION_LIMIT);
    cr_expect_null(joined);
    cr_expect_eq(session_store_lookup(st, &h3, &found), MAPI_E_END_OF_SESSION);
    cr_expect_eq(session_store_join_shared(st, "q", &h3, &joined), MAPI_E_NOT_FOUND,
                 "q has no shared session");
    cr_expect_eq(refs(a), 2, "only the store's reference is left");
    session_unref(a);
}

/* Which event the subscription has next: its kind, or 0 for none. */
static int next_event(session_sub *sub, const char **reason)
{
    session_event ev;
    if (session_sub_next(sub, &ev) != S_OK)
        return 0;
    int kind = (int)ev.kind;
    if (reason)
        *reason = ev.reason;
    session_event_clear(&ev);
    return kind;
}

Test(session_store, removing_one_handle_keeps_the_session_for_the_others)
{
    new_store(10, 10, 10);
    session *a = new_session("p");
    add(a, 1, true);
    token_hash h1 = handle(1), h2 = handle(2);
    session *joined = NULL;
    cr_assert_eq(session_store_join_shared(st, "p", &h2, &joined), S_OK);
    session_unref(joined);
    session_sub *sub1 = NULL, *sub2 = NULL;
    cr_assert_eq(session_advise_handle(a, &h1, NULL, NULL, &sub1), S_OK);
    cr_assert_eq(session_advise_handle(a, &h2, NULL, NULL, &sub2), S_OK);

    session_store_ended ended = SESSION_STORE_ENDED_INIT("logoff");
    cr_assert_eq(session_store_remove_handle(st, &h2, false, &ended), S_OK);
    cr_expect_eq(ended.count, 0, "the session stays");
    cr_expect_eq(ended.handle_session, a);
    session *found = NULL;
    cr_expect_eq(session_store_lookup(st, &h2, &found), MAPI_E_END_OF_SESSION);
    cr_assert_eq(session_store_lookup(st, &h1, &found), S_OK);
    session_unref(found);
    cr_expect_eq(facts(a).handles, 1);
    cr_expect(facts(a).shared);

    /* The handle's streams end once out of the store, the others' do not. */
    cr_expect_eq(next_event(sub2, NULL), 0, "nothing before the finish");
    session_store_ended_finish(&ended);
    cr_expect_null(ended.handle_session);
    const char *reason = NULL;
    cr_expect_eq(next_event(sub2, &reason), SESSION_EVENT_CRITICAL_ERROR);
    cr_expect_str_eq(reason, "logoff");
    cr_expect_eq(next_event(sub1, NULL), 0);
    cr_expect_not(session_is_ended(a));

    /* Its last handle takes the session with it. */
    cr_assert_eq(session_store_remove_handle(st, &h1, false, &ended), S_OK);
    cr_expect_eq(ended.count, 1);
    cr_expect_null(ended.handle_session);
    session_store_ended_finish(&ended);
    cr_expect(session_is_ended(a));
    cr_expect_eq(next_event(sub1, &reason), SESSION_EVENT_CRITICAL_ERROR);
    cr_expect_eq(totals().sessions, 0);
    cr_expect_eq(totals().handles, 0);
    cr_expect_eq(session_store_remove_handle(st, &h1, false, &ended), MAPI_E_END_OF_SESSION);
    session_store_ended_finish(&ended);
    session_unadvise(sub1);
    session_unadvise(sub2);
    session_unref(a);
}

Test(session_store, removing_a_handle_with_end_all_removes_every_handle)
{
    new_store(10, 10, 10);
    session *a = new_session("p");
    add(a, 1, true);
    token_hash h1 = handle(1), h2 = handle(2), h3 = handle(3);
    session *joined = NULL;
    cr_assert_eq(session_store_join_shared(st, "p", &h2, &joined), S_OK);
    session_unref(joined);
    cr_assert_eq(session_store_join_shared(st, "p", &h3, &joined), S_OK);
    session_unref(joined);

    session_store_ended ended = SESSION_STORE_ENDED_INIT("logoff_shared");
    cr_assert_eq(session_store_remove_handle(st, &h2, true, &ended), S_OK);
    cr_assert_eq(ended.count, 1);
    cr_expect_eq(ended.items[0], a);
    session *found = NULL;
    cr_expect_eq(session_store_lookup(st, &h1, &found), MAPI_E_END_OF_SESSION);
    cr_expect_eq(session_store_lookup(st, &h3, &found), MAPI_E_END_OF_SESSION);
    cr_expect_eq(totals().handles, 0);
    cr_expect_not(session_is_ended(a), "ended outside the store, by the finish");
    session_store_ended_finish(&ended);
    cr_expect(session_is_ended(a));
    /* The profile's shared slot is free again. */
    session *b = new_session("p");
    bool shared = false;
    cr_assert_eq(session_store_add(st, b, &h1, true, &shared), S_OK);
    cr_expect(shared);
    cr_expect_eq(refs(a), 1, "only the test's reference is left");
    session_unref(a);
    session_unref(b);
}

Test(session_store, remove_session_takes_its_handles_and_only_its_own)
{
    new_store(10, 10, 10);
    session *a = new_session("p"), *b = new_session("p");
    add(a, 1, false);
    add(b, 2, false);
    session_store_ended ended = SESSION_STORE_ENDED_INIT("admin");
    cr_assert_eq(session_store_remove_session(st, session_id(a), &ended), S_OK);
    cr_expect_eq(session_store_remove_session(st, session_id(a), &ended), MAPI_E_NOT_FOUND);
    cr_assert_eq(ended.count, 1);
    session_store_ended_finish(&ended);
    token_hash h1 = handle(1), h2 = handle(2);
    session *found = NULL;
    cr_expect_eq(session_store_lookup(st, &h1, &found), MAPI_E_END_OF_SESSION);
    cr_assert_eq(session_store_lookup(st, &h2, &found), S_OK);
    session_unref(found);
    cr_expect(session_is_ended(a));
    cr_expect_not(session_is_ended(b));
    cr_expect_eq(session_store_facts_of(st, session_id(a), &(session_store_facts){0}),
                 MAPI_E_NOT_FOUND);
    session_unref(a);
    session_unref(b);
}

static bool of_profile(const session *s, void *ctx)
{
    return strcmp(session_profile_name(s), ctx) == 0;
}

Test(session_store, remove_where_removes_what_the_predicate_picks)
{
    new_store(10, 10, 10);
    session *p1 = new_session("p"), *p2 = new_session("p"), *q1 = new_session("q");
    add(p1, 1, true);
    add(p2, 2, false);
    add(q1, 3, false);
    uint64_t walks = totals().walks;
    session_store_ended ended = SESSION_STORE_ENDED_INIT("profile_changed");
    session_store_remove_where(st, of_profile, "p", &ended);
    cr_expect_eq(totals().walks, walks + 1, "a sweep walks every session once");
    cr_assert_eq(ended.count, 2);
    cr_expect(ended.items[0] != q1 && ended.items[1] != q1);
    session_store_ended_finish(&ended);
    cr_expect(session_is_ended(p1));
    cr_expect(session_is_ended(p2));
    cr_expect_not(session_is_ended(q1));
    cr_expect_eq(totals().sessions, 1);
    cr_expect_eq(totals().handles, 1);
    /* No predicate: everything. */
    session_store_remove_where(st, NULL, NULL, &ended);
    cr_expect_eq(ended.count, 1);
    session_store_ended_finish(&ended);
    cr_expect(session_is_ended(q1));
    cr_expect_eq(totals().sessions, 0);
    session_unref(p1);
    session_unref(p2);
    session_unref(q1);
}

Test(session_store, snapshot_hands_out_a_reference_to_every_session)
{
    new_store(10, 10, 10);
    session *a = new_session("p"), *b = new_session("q");
    add(a, 1, false);
    add(b, 2, false);
    uint64_t walks = totals().walks;
    session **all = NULL;
    size_t n = 0;
    cr_assert_eq(session_store_snapshot(st, &all, &n), S_OK);
    cr_expect_eq(totals().walks, walks + 1);
    cr_assert_eq(n, 2);
    cr_expect((all[0] == a && all[1] == b) || (all[0] == b && all[1] == a));
    cr_expect_eq(refs(a), 3, "the test's, the store's and the snapshot's");
    for (size_t i = 0; i < n; i++)
        session_unref(all[i]);
    free(all);
    /* Reading the counts walks nothing. */
    cr_expect_eq(totals().walks, walks + 1);
    session_unref(a);
    session_unref(b);
}

Test(session_store, freeing_the_store_ends_every_session_in_it)
{
    new_store(10, 10, 10);
    session *a = new_session("p");
    add(a, 1, false);
    session_sub *sub = NULL;
    cr_assert_eq(session_advise(a, NULL, NULL, &sub), S_OK);
    session_store_free(st);
    st = NULL;
    cr_expect(session_is_ended(a));
    const char *reason = NULL;
    cr_expect_eq(next_event(sub, &reason), SESSION_EVENT_CRITICAL_ERROR);
    cr_expect_str_eq(reason, "shutdown");
    session_unadvise(sub);
    cr_expect_eq(refs(a), 1);
    session_unref(a);
}

Test(session_store, reap_ends_what_is_due_and_walks_nothing)
{
    new_store(10, 10, 10);
    session *idle = new_session("p"), *used = new_session("q");
    time_t t0 = session_created_at(idle);
    add(idle, 1, false);
    add(used, 2, false);
    unsigned idle_s = session_idle_timeout_s(idle);
    /* used was used half an idle timeout in: its deadline moved on. */
    session_touch(used, t0 + idle_s / 2);
    uint64_t walks = totals().walks;
    session_store_ended ended = SESSION_STORE_ENDED_INIT("expired");
    session_store_reap(st, t0 + idle_s - 1, &ended);
    cr_expect_eq(ended.count, 0, "something was reaped before its idle timeout");
    session_store_reap(st, t0 + idle_s, &ended);
    cr_expect_eq(totals().walks, walks, "reaping walked every session");
    cr_expect_eq(ended.count, 1);
    session_store_ended_finish(&ended);
    cr_expect(session_is_ended(idle), "the idle session was not reaped at its deadline");
    cr_expect_not(session_is_ended(used), "a session used since was reaped");
    cr_expect_eq(totals().sessions, 1);
    session_store_reap(st, t0 + idle_s / 2 + idle_s - 1, &ended);
    cr_expect_eq(ended.count, 0, "the used session was reaped before its new deadline");
    session_store_reap(st, t0 + idle_s / 2 + idle_s, &ended);
    session_store_ended_finish(&ended);
    cr_expect(session_is_ended(used), "the used session outlived its new deadline");
    cr_expect_eq(totals().sessions, 0);
    session_unref(idle);
    session_unref(used);
}
