/* Unit suite for provider_inst.c and session_view.c: sessions of one profile
 * share local provider instances and an interned view, yet each has its own
 * instance keys; a change in one session's rows copies its view and the
 * sessions converge again on refresh; network providers stay a session's
 * own. Uses the internal header to see what is shared. */
#include "../../session-core/core.h"
#include "../../session-core/mapi_flags.h"
#include "../../session-core/session_internal.h"
#include "../../server/config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/mapigw-share-XXXXXX";
static core *C;

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    char json[2048];
    snprintf(json, sizeof json,
             "{\"profiles\":["
             "{\"name\":\"local\",\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"s\","
             "\"providers\":["
             "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"Box\","
             "\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],"
             "\"settings\":{\"path\":\"Maildir\",\"create\":true}},"
             "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"AB\","
             "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\"],"
             "\"identity\":{\"display\":\"L\",\"address_type\":\"SMTP\","
             "\"address\":\"l@example.invalid\"},"
             "\"settings\":{\"path\":\"ab.json\",\"create\":true}}]}]},"
             "{\"name\":\"net\",\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"n\","
             "\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"imap\","
             "\"display_name\":\"Remote\",\"settings\":{\"url\":\"imap://127.0.0.1:1/\","
             "\"username\":\"u\",\"password\":\"p\",\"timeout_ms\":500}}]}]}]}");
    profile_store *store = NULL;
    char err[512] = "";
    cr_assert_eq(
        profile_store_load_string(json, "t.json", dir, &store, err, sizeof err, NULL, NULL), S_OK,
        "%s", err);
    config defaults;
    cr_assert(config_defaults(&defaults));
    core_config cfg = defaults.core;
    cr_assert_eq(core_new(&cfg, store, &C), S_OK);
}

static void teardown(void)
{
    core_free(C);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(session_share, .init = setup, .fini = teardown);

static session *logon(const char *name)
{
    core_logon_request req = {name, NULL, MAPI_NEW_SESSION, "t"};
    core_logon_result r;
    cr_assert_eq(core_logon(C, &req, &r), S_OK);
    return r.session;
}

/* The maildir row (row 3: after MAPI's three) of s, copied. */
static void maildir_row(session *s, status_row *out)
{
    status_table t;
    cr_assert_eq(session_status_table(s, &t), S_OK);
    cr_assert_geq(t.count, 4);
    cr_assert_eq(status_row_copy(out, &t.rows[3]), 0);
    status_table_free(&t);
}

static void add_message(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/Maildir/new/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("Subject: x\r\n\r\nbody\r\n", f);
    fclose(f);
}

Test(session_share, local_sessions_share_instances_and_view)
{
    session *a = logon("local"), *b = logon("local");
    cr_assert_not_null(a->view);
    cr_expect_eq(a->view, b->view, "equal views are interned");
    cr_expect_eq(a->view->providers[0], b->view->providers[0]);
    cr_expect(a->view->providers[0]->shared);
    cr_expect_null(a->own_lock, "no session-own providers: a pool lock");
    session_unref(a);
    session_unref(b);
}

Test(session_share, instance_keys_stay_per_session)
{
    session *a = logon("local"), *b = logon("local");
    status_table ta, tb;
    cr_assert_eq(session_status_table(a, &ta), S_OK);
    cr_assert_eq(session_status_table(b, &tb), S_OK);
    cr_assert_eq(ta.count, tb.count);
    for (size_t i = 0; i < ta.count; i++) {
        for (size_t j = 0; j < tb.count; j++)
            cr_expect_neq(
                memcmp(ta.rows[i].instance_key, tb.rows[j].instance_key, STATUS_INSTANCE_KEY_LEN),
                0, "rows %zu and %zu share an instance key", i, j);
        /* The entry id carries the session's own key. */
        cr_expect_eq(
            memcmp(ta.rows[i].entry_id + 20, ta.rows[i].instance_key, STATUS_INSTANCE_KEY_LEN), 0);
        status_row r;
        cr_expect_eq(session_status_row(b, ta.rows[i].instance_key, &r), MAPI_E_NOT_FOUND,
                     "b opened a's row %zu", i);
        cr_assert_eq(session_status_row(a, ta.rows[i].instance_key, &r), S_OK);
        cr_expect_str_eq(r.display_name, ta.rows[i].display_name);
        status_row_clear(&r);
    }
    identity id;
    cr_assert_eq(session_identity(a, &id), S_OK);
    cr_expect(id.has_source);
    cr_expect_eq(memcmp(id.source_instance_key, ta.rows[4].instance_key, STATUS_INSTANCE_KEY_LEN),
                 0, "the identity names a's own address-book row");
    identity_clear(&id);
    status_table_free(&ta);
    status_table_free(&tb);
    session_unref(a);
    session_unref(b);
}

Test(session_share, a_change_copies_the_view_and_refresh_converges)
{
    session *a = logon("local"), *b = logon("local");
    session_view *before = a->view;
    add_message("1.m");
    status_table t;
    cr_assert_eq(session_status_table(a, &t), S_OK);
    cr_assert_eq(session_validate_state(a, t.rows[3].instance_key, 0, NULL), S_OK);
    status_table_free(&t);

    status_row ra, rb;
    maildir_row(a, &ra);
    maildir_row(b, &rb);
    cr_expect_str_eq(ra.status_string, "1 message (1 new)");
    cr_expect_str_eq(rb.status_string, "0 messages (0 new)", "b has not refreshed yet");
    cr_expect_neq(a->view, b->view);
    cr_expect_eq(b->view, before, "b still holds the old view");
    uint64_t vb = session_status_version(b);
    status_row_clear(&rb);

    session_poll(b); /* what the ticker does */
    maildir_row(b, &rb);
    cr_expect_str_eq(rb.status_string, "1 message (1 new)");
    cr_expect_gt(session_status_version(b), vb, "a changed row changes the ETag");
    cr_expect_eq(a->view, b->view, "equal again: interned again");
    status_row_clear(&ra);
    status_row_clear(&rb);
    session_unref(a);
    session_unref(b);
}

Test(session_share, a_new_logon_rechecks_a_shared_instance)
{
    session *a = logon("local");
    add_message("2.m");
    usleep(1100 * 1000); /* past the re-check interval */
    session *b = logon("local");
    status_row rb;
    maildir_row(b, &rb);
    cr_expect_str_eq(rb.status_string, "1 message (1 new)");
    cr_expect_eq(a->view->providers[0], b->view->providers[0], "the same instance");
    status_row_clear(&rb);
    session_unref(a);
    session_unref(b);
}

Test(session_share, ended_sessions_leave_the_instance_idle_until_swept)
{
    session *a = logon("local");
    provider_inst *pi = a->view->providers[0];
    pinst_pool *pool = a->env->pool; /* the core's */
    cr_assert_eq(pi->pool, pool);
    cr_assert_eq(pi->refs, 1, "one view holds it");
    cr_assert_eq(core_end_session(C, session_id(a)), S_OK);
    cr_expect_null(a->view);
    session_unref(a);
    cr_expect_eq(pinst_pool_sweep(pool, 60000), 0, "idle for less than a minute: kept");
    session *b = logon("local");
    cr_expect_eq(b->view->providers[0], pi, "the idle instance came back");
    cr_expect_eq(pi->refs, 1);
    cr_assert_eq(core_end_session(C, session_id(b)), S_OK);
    session_unref(b);
    cr_expect_eq(pinst_pool_sweep(pool, 0), 2, "maildir and abfile, both idle now");
    session *c = logon("local"); /* new instances; the old ones were freed (ASan) */
    cr_expect_eq(c->view->providers[0]->refs, 1);
    session_unref(c);
}

Test(session_share, network_providers_are_a_sessions_own)
{
    session *a = logon("net"), *b = logon("net");
    cr_assert_not_null(a->view);
    cr_assert_eq(a->view->provider_count, 1);
    cr_expect_not(a->view->providers[0]->shared);
    cr_expect_neq(a->view->providers[0], b->view->providers[0]);
    cr_expect_neq(a->view, b->view);
    cr_expect_not_null(a->own_lock, "a lock of its own: its calls may block");
    session_unref(a);
    session_unref(b);
}

Test(session_share, a_logon_after_a_change_builds_the_new_rows)
{
    session *a = logon("local");
    session *b = logon("local");
    cr_expect_eq(a->view, b->view, "the second logon found the first's view");
    add_message("3.m");
    status_table t;
    cr_assert_eq(session_status_table(a, &t), S_OK);
    cr_assert_eq(session_validate_state(a, t.rows[3].instance_key, 0, NULL), S_OK);
    status_table_free(&t);
    /* No re-check is due (under a second): the logon must still not reuse
     * the view of before the validation. */
    session *c = logon("local");
    status_row rc;
    maildir_row(c, &rc);
    cr_expect_str_eq(rc.status_string, "1 message (1 new)");
    cr_expect_eq(c->view, a->view, "a's refreshed view and c's are one again");
    cr_expect_neq(c->view, b->view);
    status_row_clear(&rc);
    session_unref(a);
    session_unref(b);
    session_unref(c);
}

static size_t kind_index(const char *name)
{
    for (size_t k = 0; k < session_stats_kind_count(); k++)
        if (strcmp(session_stats_kind_name(k), name) == 0)
            return k;
    cr_assert_fail("no kind %s", name);
    return 0;
}

/* Two cores in one process share nothing, even on one profile store: each
 * has its own instances, views and gauges, and freeing one leaves the
 * other's instances alone. */
Test(session_share, cores_share_nothing)
{
    config defaults;
    cr_assert(config_defaults(&defaults));
    core_config cfg = defaults.core;
    core *other = NULL;
    cr_assert_eq(core_new(&cfg, core_profiles(C), &other), S_OK);
    session *a = logon("local");
    core_logon_request req = {"local", NULL, MAPI_NEW_SESSION, "t"};
    core_logon_result r;
    cr_assert_eq(core_logon(other, &req, &r), S_OK);
    session *b = r.session;
    cr_expect_neq(a->view->providers[0], b->view->providers[0], "a Maildir instance per core");
    cr_expect_neq(a->view, b->view);
    size_t maildir = kind_index("maildir");
    cr_expect_eq(core_provider_status(C, maildir, SESSION_STATS_AVAILABLE), 1);
    cr_expect_eq(core_provider_status(other, maildir, SESSION_STATS_AVAILABLE), 1);

    session_unref(b);
    core_free(other); /* ends b and sweeps that core's idle instances */
    cr_expect_eq(core_provider_status(C, maildir, SESSION_STATS_AVAILABLE), 1);
    cr_expect_not(session_is_ended(a));
    provider_inst *pi = a->view->providers[0];
    cr_expect_eq(pi->refs, 1, "still a's");
    add_message("4.m");
    status_table t;
    cr_assert_eq(session_status_table(a, &t), S_OK);
    cr_expect_eq(session_validate_state(a, t.rows[3].instance_key, 0, NULL), S_OK);
    status_table_free(&t);
    status_row ra;
    maildir_row(a, &ra);
    cr_expect_str_eq(ra.status_string, "1 message (1 new)");
    status_row_clear(&ra);
    session_unref(a);
}
