/* test_expiry_wheel.c - the reaper's timing wheel: a sweep hands over what is
 * due and only that, whatever the jump since the last one. */
#include "../../session-core/expiry_wheel.h"

#include <criterion/criterion.h>

typedef struct {
    wheel_node *seen[64];
    size_t count;
    time_t again; /* > 0: put each node back at this second */
    expiry_wheel *w;
} sweep;

static void on_due(wheel_node *n, void *ctx)
{
    sweep *s = ctx;
    s->seen[s->count++] = n;
    if (s->again)
        wheel_insert(s->w, n, s->again);
}

Test(expiry_wheel, only_what_is_due_is_handed_over)
{
    static expiry_wheel w;
    wheel_init(&w, 1000);
    wheel_node a, b, c;
    wheel_insert(&w, &a, 1005);
    wheel_insert(&w, &b, 1010);
    wheel_insert(&w, &c, 1005 + EXPIRY_WHEEL_SLOTS); /* same slot as a, a turn later */
    sweep s = {.w = &w};
    cr_expect_eq(wheel_advance(&w, 1004, on_due, &s), 0u);
    cr_expect_eq(wheel_advance(&w, 1005, on_due, &s), 1u);
    cr_expect_eq(s.seen[0], &a);
    cr_expect_eq(wheel_advance(&w, 1009, on_due, &s), 0u);
    cr_expect_eq(wheel_advance(&w, 1010, on_due, &s), 1u);
    cr_expect_eq(s.seen[1], &b);
    cr_expect_eq(wheel_advance(&w, 1004 + EXPIRY_WHEEL_SLOTS, on_due, &s), 0u,
                 "c came a turn early");
    cr_expect_eq(wheel_advance(&w, 1005 + EXPIRY_WHEEL_SLOTS, on_due, &s), 1u);
    cr_expect_eq(s.seen[2], &c);
}

Test(expiry_wheel, a_long_jump_sees_every_slot_once)
{
    static expiry_wheel w;
    wheel_init(&w, 0);
    wheel_node n[10];
    for (int i = 0; i < 10; i++)
        wheel_insert(&w, &n[i], 1 + i * 1000);
    sweep s = {.w = &w};
    cr_expect_eq(wheel_advance(&w, 100000, on_due, &s), 10u);
    cr_expect_eq(s.count, 10u);
}

Test(expiry_wheel, put_back_and_removed_nodes)
{
    static expiry_wheel w;
    wheel_init(&w, 50);
    wheel_node a, b, c;
    wheel_insert(&w, &a, 60);
    wheel_insert(&w, &b, 60);
    wheel_insert(&w, &c, 40); /* already past: due at the next sweep */
    wheel_remove(&w, &b);
    sweep s = {.w = &w, .again = 70};
    cr_expect_eq(wheel_advance(&w, 51, on_due, &s), 1u,
                 "a past deadline waits for the next second");
    cr_expect_eq(s.seen[0], &c);
    cr_expect_eq(wheel_advance(&w, 60, on_due, &s), 1u, "a removed node was handed over");
    cr_expect_eq(s.seen[1], &a);
    s.again = 0;
    cr_expect_eq(wheel_advance(&w, 69, on_due, &s), 0u);
    cr_expect_eq(wheel_advance(&w, 70, on_due, &s), 2u, "a and c, put back at 70");
}
