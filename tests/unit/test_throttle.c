/* Unit suite for throttle.c: failed password checks per (profile, client)
 * and per client, a bounded table that never stops throttling. */
#include "../../session-core/throttle.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>

Test(throttle, blocks_after_threshold_with_growing_delay)
{
    throttle *t = throttle_new(3, 100, 8, 100);
    cr_assert_not_null(t);
    time_t now = 1000;
    for (int i = 0; i < 2; i++) {
        throttle_failure(t, "p", "10.0.0.1", now);
        cr_assert_eq(throttle_check(t, "p", "10.0.0.1", now), 0);
    }
    throttle_failure(t, "p", "10.0.0.1", now);
    cr_assert_eq(throttle_check(t, "p", "10.0.0.1", now), 1);
    throttle_failure(t, "p", "10.0.0.1", now + 1);
    cr_assert_eq(throttle_check(t, "p", "10.0.0.1", now + 1), 2);
    for (int i = 0; i < 10; i++)
        throttle_failure(t, "p", "10.0.0.1", now + 1);
    cr_assert_eq(throttle_check(t, "p", "10.0.0.1", now + 1), 8, "capped at max_delay_s");
    cr_assert_eq(throttle_check(t, "p", "10.0.0.1", now + 9), 0, "the block ends");
    throttle_free(t);
}

Test(throttle, other_keys_are_not_slowed)
{
    throttle *t = throttle_new(1, 100, 60, 100);
    throttle_failure(t, "p", "10.0.0.1", 1000);
    cr_assert_gt(throttle_check(t, "p", "10.0.0.1", 1000), 0);
    cr_assert_eq(throttle_check(t, "p", "10.0.0.2", 1000), 0);
    cr_assert_eq(throttle_check(t, "q", "10.0.0.1", 1000), 0, "below the client's own budget");
    throttle_free(t);
}

Test(throttle, success_clears_and_sweep_forgets)
{
    throttle *t = throttle_new(2, 100, 60, 100);
    throttle_failure(t, "p", "c", 1000);
    throttle_success(t, "p", "c");
    throttle_failure(t, "p", "c", 1000);
    cr_assert_eq(throttle_check(t, "p", "c", 1000), 0, "the count restarted after success");
    throttle_failure(t, NULL, NULL, 1000);
    throttle_failure(t, NULL, NULL, 1000);
    cr_assert_gt(throttle_check(t, NULL, NULL, 1000), 0);
    throttle_sweep(t, 1000 + 15 * 60);
    cr_assert_eq(throttle_size(t), 0, "every key was idle for 15 minutes");
    throttle_failure(t, NULL, NULL, 1000 + 15 * 60);
    cr_assert_eq(throttle_check(t, NULL, NULL, 1000 + 15 * 60), 0, "swept keys start again");
    throttle_free(t);
}

/* A full table used to leave every new key unthrottled. */
Test(throttle, full_table_still_throttles_new_keys)
{
    throttle *t = throttle_new(1, 1000, 60, 4);
    for (int i = 0; i < 50; i++) {
        char name[16], client[32];
        snprintf(name, sizeof name, "junk%d", i);
        snprintf(client, sizeof client, "10.1.0.%d", i);
        throttle_failure(t, name, client, 1000);
        cr_assert_gt(throttle_check(t, name, client, 1000), 0, "key %d not throttled", i);
        cr_assert_leq(throttle_size(t), 4, "the table grew past its bound");
    }
    throttle_free(t);
}

/* Keys below their threshold are evicted before a key being throttled: a
 * spray of one-off names does not push out the key of a password guesser. */
Test(throttle, throttled_key_survives_a_flood_of_new_keys)
{
    throttle *t = throttle_new(3, 1000, 300, 16);
    for (int i = 0; i < 3; i++)
        throttle_failure(t, "alice", "10.0.0.1", 1000);
    unsigned before = throttle_check(t, "alice", "10.0.0.1", 1000);
    cr_assert_gt(before, 0);
    for (int i = 0; i < 1000; i++) {
        char name[32], client[32];
        snprintf(name, sizeof name, "made-up-%d", i);
        snprintf(client, sizeof client, "10.2.%d.%d", i / 250, i % 250);
        throttle_failure(t, name, client, 1000);
    }
    cr_assert_eq(throttle_check(t, "alice", "10.0.0.1", 1000), before,
                 "the flood evicted a throttled key");
    /* Its count survived too: the next failure doubles the delay. */
    throttle_failure(t, "alice", "10.0.0.1", 1001);
    cr_assert_eq(throttle_check(t, "alice", "10.0.0.1", 1001), 2);
    throttle_free(t);
}

/* With only throttled keys left, the one that failed longest ago goes. */
Test(throttle, all_hot_table_evicts_the_oldest_failure)
{
    throttle *t = throttle_new(1, 1, 300, 4);
    /* Each failure adds a pair key and a client key, both at their
     * threshold at once. */
    throttle_failure(t, "a", "10.0.0.1", 1000);
    throttle_failure(t, "b", "10.0.0.2", 1000);
    cr_assert_eq(throttle_size(t), 4);
    throttle_failure(t, "c", "10.0.0.3", 1000);
    cr_assert_eq(throttle_size(t), 4);
    cr_assert_eq(throttle_check(t, "a", "10.0.0.1", 1000), 0, "the oldest was evicted");
    cr_assert_gt(throttle_check(t, "b", "10.0.0.2", 1000), 0);
    cr_assert_gt(throttle_check(t, "c", "10.0.0.3", 1000), 0);
    throttle_free(t);
}

/* Spraying profile names from one address is throttled. */
Test(throttle, client_budget_spans_profile_names)
{
    throttle *t = throttle_new(5, 4, 60, 1000);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "name%d", i);
        throttle_failure(t, name, "10.0.0.9", 1000);
        cr_assert_eq(throttle_check(t, "other", "10.0.0.9", 1000), 0);
    }
    throttle_failure(t, "name3", "10.0.0.9", 1000);
    cr_assert_eq(throttle_check(t, "never-tried", "10.0.0.9", 1000), 1,
                 "the client's budget covers every profile name");
    cr_assert_eq(throttle_check(t, "never-tried", "10.0.0.10", 1000), 0, "other clients are not");
    throttle_failure(t, "name4", "10.0.0.9", 1001);
    cr_assert_eq(throttle_check(t, "x", "10.0.0.9", 1001), 2, "the client's delay doubles");
    throttle_free(t);
}

Test(throttle, success_does_not_refill_the_client_budget)
{
    throttle *t = throttle_new(5, 3, 60, 1000);
    throttle_failure(t, "a", "10.0.0.9", 1000);
    throttle_failure(t, "b", "10.0.0.9", 1000);
    throttle_success(t, "mine", "10.0.0.9");
    throttle_success(t, "a", "10.0.0.9");
    throttle_failure(t, "c", "10.0.0.9", 1000);
    cr_assert_gt(throttle_check(t, "mine", "10.0.0.9", 1000), 0);
    throttle_free(t);
}

Test(throttle, client_budget_leaks_over_time)
{
    throttle *t = throttle_new(100, 3, 60, 1000);
    time_t now = 1000;
    throttle_failure(t, "a", "c", now);
    throttle_failure(t, "b", "c", now);
    /* Two failures leak away after 2 * THROTTLE_CLIENT_LEAK_S... */
    now += 2 * THROTTLE_CLIENT_LEAK_S;
    throttle_failure(t, "d", "c", now);
    throttle_failure(t, "e", "c", now);
    cr_assert_eq(throttle_check(t, "f", "c", now), 0);
    /* The leak is a rate: it keeps its remainder between failures, so one
     * failure every LEAK_S - 1 seconds stays near the start... */
    throttle *u = throttle_new(100, 3, 60, 1000);
    now = 1000;
    for (int i = 0; i < 10; i++) {
        throttle_failure(u, "x", "c", now);
        cr_assert_eq(throttle_check(u, "y", "c", now), 0, "failure %d", i);
        now += THROTTLE_CLIENT_LEAK_S - 1;
    }
    /* ...and a burst on top of it is blocked. */
    for (int i = 0; i < 2; i++)
        throttle_failure(u, "x", "c", now);
    cr_assert_gt(throttle_check(u, "y", "c", now), 0);
    throttle_free(t);
    throttle_free(u);
}

Test(throttle, ipv6_clients_are_their_64_prefix)
{
    throttle *t = throttle_new(100, 2, 60, 1000);
    throttle_failure(t, "a", "2001:db8:1:2::1", 1000);
    throttle_failure(t, "b", "2001:db8:1:2:ffff::9", 1000);
    cr_assert_gt(throttle_check(t, "c", "2001:db8:1:2::77", 1000), 0, "same /64");
    cr_assert_eq(throttle_check(t, "c", "2001:db8:1:3::1", 1000), 0, "another /64");
    throttle_failure(t, "a", "::ffff:192.0.2.7", 1000);
    throttle_failure(t, "b", "192.0.2.7", 1000);
    cr_assert_gt(throttle_check(t, "c", "192.0.2.7", 1000), 0, "IPv4-mapped is IPv4");
    throttle_free(t);
}

Test(throttle, sweep_keeps_blocked_and_recent_keys)
{
    throttle *t = throttle_new(1, 1000, 3600, 100);
    time_t later = 1000 + 15 * 60;
    throttle_failure(t, "old", "10.0.0.1", 1000); /* blocked for 1 s */
    for (int i = 0; i < 13; i++)
        throttle_failure(t, "long", "10.0.0.2", 1000); /* blocked for 3600 s */
    throttle_failure(t, "new", "10.0.0.3", later - 1);
    throttle_failure(t, "new", "10.0.0.3", later - 1);
    cr_assert_eq(throttle_size(t), 6);
    throttle_sweep(t, later);
    /* Left: "long" (blocked), "new" and its client key (recent). */
    cr_assert_eq(throttle_size(t), 3);
    cr_assert_gt(throttle_check(t, "long", "10.0.0.2", later), 0, "still blocked");
    cr_assert_gt(throttle_check(t, "new", "10.0.0.3", later), 0, "not idle long enough");
    throttle_free(t);
}

typedef struct {
    throttle *t;
    int id;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    for (int i = 0; i < 5000; i++) {
        char name[32], client[32];
        snprintf(name, sizeof name, "p%d", i % 97);
        snprintf(client, sizeof client, "10.%d.%d.%d", w->id, i % 7, i % 13);
        if (i % 3)
            throttle_failure(w->t, name, client, 1000 + i / 100);
        else
            (void)throttle_check(w->t, name, client, 1000 + i / 100);
        if (i % 11 == 0)
            throttle_success(w->t, name, client);
        if (i % 1000 == 0)
            throttle_sweep(w->t, 1000 + i / 100);
    }
    return NULL;
}

/* Striped and shared by every request thread: run under the sanitizers. */
Test(throttle, concurrent_use_stays_bounded)
{
    throttle *t = throttle_new(3, 20, 60, 2048);
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){t, i};
        cr_assert_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cr_assert_leq(throttle_size(t), 2048);
    throttle_free(t);
}
