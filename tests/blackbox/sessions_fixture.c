/* sessions_fixture.c - the black-box "sessions" suite and its gateway (see
 * sessions_fixture.h). */
#include "sessions_fixture.h"

gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(sessions, .fini = fini_gw, .timeout = 90);
