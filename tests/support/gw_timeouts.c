/* gw_timeouts.c - criterion's per-test timeouts stretch with the run, as
 * every wait of the harness does (gw_ms, gw.h): a suite's ".timeout = 60"
 * is 60 s in a plain release run and 600 s with MAPIGW_TEST_TIME_SCALE=10
 * (valgrind). Without it a test whose waits were scaled would still be cut
 * at the fixed bound, on a slow or busy machine exactly when the scaling
 * matters. Runs once in the runner, before any test starts; linked into the
 * black-box binary with the rest of tests/support. */
#include "gw.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/internal/ordered-set.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    double f = gw_time_scale();
    if (f == 1.0)
        return;
    FOREACH_SET(struct criterion_suite_set * s, set->suites)
    {
        if (s->suite.data)
            s->suite.data->timeout *= f;
        FOREACH_SET(struct criterion_test * t, s->tests)
        {
            if (t->data)
                t->data->timeout *= f;
        }
    }
}
