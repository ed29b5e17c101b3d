/* Unit suite for throttle.c: failed logons per (profile, client). */
#include "../../session-core/throttle.h"

#include <criterion/criterion.h>

Test(throttle, blocks_after_threshold_with_growing_delay)
{
    throttle *t = throttle_new(3, 8, 100);
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
    throttle *t = throttle_new(1, 60, 100);
    throttle_failure(t, "p", "10.0.0.1", 1000);
    cr_assert_gt(throttle_check(t, "p", "10.0.0.1", 1000), 0);
    cr_assert_eq(throttle_check(t, "p", "10.0.0.2", 1000), 0);
    cr_assert_eq(throttle_check(t, "q", "10.0.0.1", 1000), 0);
    throttle_free(t);
}

Test(throttle, success_clears_and_sweep_forgets)
{
    throttle *t = throttle_new(2, 60, 100);
    throttle_failure(t, "p", "c", 1000);
    throttle_success(t, "p", "c");
    throttle_failure(t, "p", "c", 1000);
    cr_assert_eq(throttle_check(t, "p", "c", 1000), 0, "the count restarted after success");
    throttle_failure(t, NULL, NULL, 1000);
    throttle_failure(t, NULL, NULL, 1000);
    cr_assert_gt(throttle_check(t, NULL, NULL, 1000), 0);
    throttle_sweep(t, 1000 + 15 * 60);
    throttle_failure(t, NULL, NULL, 1000 + 15 * 60);
    cr_assert_eq(throttle_check(t, NULL, NULL, 1000 + 15 * 60), 0, "swept keys start again");
    throttle_free(t);
}

Test(throttle, full_table_leaves_new_keys_unthrottled)
{
    throttle *t = throttle_new(1, 60, 2);
    throttle_failure(t, "a", "c", 1000);
    throttle_failure(t, "b", "c", 1000);
    throttle_failure(t, "x", "c", 1000);
    cr_assert_gt(throttle_check(t, "a", "c", 1000), 0);
    cr_assert_gt(throttle_check(t, "b", "c", 1000), 0);
    cr_assert_eq(throttle_check(t, "x", "c", 1000), 0);
    throttle_free(t);
}
