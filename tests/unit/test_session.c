/* Unit suite for session.c, called directly: a session's times (use,
 * idle timeout, lifetime, expiry), its references and its end, its rows'
 * instance keys, and session_env, what the sessions of one core share.
 * Profiles without providers: the providers have their own suites. */
#include "../../session-core/mapi_flags.h"
#include "../../session-core/session_internal.h"

#include <criterion/criterion.h>
#include <string.h>

static profile_store *profiles;
static session_env *env;

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
}

static void teardown(void)
{
    session_env_unref(env);
    profile_store_unref(profiles);
}

TestSuite(session, .init = setup, .fini = teardown);

static session *new_session_in(session_env *e, unsigned idle_s, unsigned lifetime_s, time_t now)
{
    session *s = NULL;
    cr_assert_eq(session_create(e, profiles, profile_store_find(profiles, "p"), MAPI_EXTENDED,
                                idle_s, lifetime_s, now, &s),
                 S_OK);
    return s;
}

static session *new_session(unsigned idle_s, unsigned lifetime_s, time_t now)
{
    return new_session_in(env, idle_s, lifetime_s, now);
}

Test(session, facts_as_created)
{
    session *s = new_session(10, 100, 1000);
    cr_expect_eq(strlen(session_id(s)), SESSION_ID_LEN);
    cr_expect_str_eq(session_profile_name(s), "p");
    cr_expect_eq(session_flags(s), MAPI_EXTENDED);
    cr_expect_eq(session_created_at(s), 1000);
    cr_expect_eq(session_last_used_at(s), 1000, "a logon is a use");
    cr_expect_eq(session_idle_timeout_s(s), 10);
    cr_expect_not(session_is_ended(s));
    session *t = new_session(10, 100, 1000);
    cr_expect_str_neq(session_id(s), session_id(t));
    session_unref(s);
    session_unref(t);
}

Test(session, idle_timeout_runs_from_the_last_use)
{
    session *s = new_session(10, 100, 1000);
    cr_expect_eq(session_expires_at(s), 1010);
    cr_expect_not(session_expired(s, 1009));
    cr_expect(session_expired(s, 1010));
    session_touch(s, 1005);
    cr_expect_eq(session_last_used_at(s), 1005);
    cr_expect_eq(session_expires_at(s), 1015);
    cr_expect_not(session_expired(s, 1014));
    cr_expect(session_expired(s, 1015));
    session_unref(s);
}

Test(session, lifetime_caps_every_use)
{
    session *s = new_session(10, 100, 1000);
    session_touch(s, 1095);
    cr_expect_eq(session_expires_at(s), 1100, "created + lifetime, not last use + idle");
    cr_expect_not(session_expired(s, 1099));
    cr_expect(session_expired(s, 1100));
    session_touch(s, 1200); /* a use after the end changes nothing */
    cr_expect(session_expired(s, 1200));
    session_unref(s);
}

Test(session, references_outlive_the_end)
{
    session *s = new_session(10, 100, 1000);
    cr_expect_eq(session_ref(s), s);
    cr_expect_eq(atomic_load(&s->refs), 2);
    cr_assert_eq(session_logon_providers(s, NULL), S_OK);
    session_sub *sub = NULL;
    cr_assert_eq(session_advise(s, NULL, NULL, &sub), S_OK);
    uint64_t version = session_status_version(s);

    session_end(s, "admin");
    session_end(s, "expired"); /* idempotent: one critical error, the first reason */
    cr_expect(session_is_ended(s));
    cr_expect_gt(session_status_version(s), version);
    session_event ev;
    cr_assert_eq(session_sub_next(sub, &ev), S_OK);
    cr_expect_eq(ev.kind, SESSION_EVENT_CRITICAL_ERROR);
    cr_expect_str_eq(ev.reason, "admin");
    session_event_clear(&ev);
    cr_expect_eq(session_sub_next(sub, &ev), MAPI_E_END_OF_SESSION);
    session_unadvise(sub);

    status_table t;
    cr_expect_eq(session_status_table(s, &t), MAPI_E_END_OF_SESSION);
    identity id;
    memset(&id, 0, sizeof id);
    cr_expect_eq(session_identity(s, &id), MAPI_E_END_OF_SESSION);
    session_sub *late = NULL;
    cr_expect_eq(session_advise(s, NULL, NULL, &late), MAPI_E_END_OF_SESSION);
    cr_expect_null(late);
    session_unref(s);
    cr_expect_eq(atomic_load(&s->refs), 1);
    session_unref(s); /* the last one frees it (ASan would see a leak or a second free) */
    session_unref(NULL);
}

Test(session, rows_carry_the_sessions_own_instance_keys)
{
    session *a = new_session(10, 100, 1000), *b = new_session(10, 100, 1000);
    cr_assert_eq(session_logon_providers(a, NULL), S_OK);
    cr_assert_eq(session_logon_providers(b, NULL), S_OK);
    status_table ta, tb;
    cr_assert_eq(session_status_table(a, &ta), S_OK);
    cr_assert_eq(session_status_table(b, &tb), S_OK);
    cr_assert_eq(ta.count, 3, "MAPI's own three rows");
    cr_assert_eq(tb.count, 3);
    cr_expect_eq(a->view, b->view, "one interned view");
    for (size_t i = 0; i < ta.count; i++) {
        uint64_t serial;
        size_t row;
        status_instance_key_split(ta.rows[i].instance_key, &serial, &row);
        cr_expect_eq(serial, a->serial);
        cr_expect_eq(row, i);
        cr_expect_neq(
            memcmp(ta.rows[i].instance_key, tb.rows[i].instance_key, STATUS_INSTANCE_KEY_LEN), 0);
        status_row r;
        memset(&r, 0, sizeof r);
        cr_assert_eq(session_status_row(a, ta.rows[i].instance_key, &r), S_OK);
        cr_expect_eq(r.row_id, ta.rows[i].row_id);
        status_row_clear(&r);
        /* Another session's key names nothing here. */
        cr_expect_eq(session_status_row(a, tb.rows[i].instance_key, &r), MAPI_E_NOT_FOUND);
    }
    status_table_free(&ta);
    status_table_free(&tb);
    session_unref(a);
    session_unref(b);
}

/* Serials (and with them the locks and instance keys) are the env's: two
 * envs, as two cores have, count from the start each. */
Test(session, envs_share_nothing)
{
    session_env *other = session_env_new();
    cr_assert_not_null(other);
    session *a1 = new_session(10, 100, 1000), *a2 = new_session(10, 100, 1000);
    session *b1 = new_session_in(other, 10, 100, 1000);
    cr_expect_eq(a1->serial, 1);
    cr_expect_eq(a2->serial, 2);
    cr_expect_eq(b1->serial, 1, "a serial of its own env");
    cr_assert_eq(session_logon_providers(a1, NULL), S_OK);
    cr_assert_eq(session_logon_providers(b1, NULL), S_OK);
    cr_expect_neq(a1->view, b1->view, "views are interned per env");
    session_unref(a1);
    session_unref(a2);
    session_unref(b1);
    session_env_unref(other);
}

/* A core drops its env reference at core_free; a session reference kept
 * past it keeps the env alive and still works. */
Test(session, a_session_keeps_its_env_alive)
{
    session_env *own = session_env_new();
    cr_assert_not_null(own);
    session *s = new_session_in(own, 10, 100, 1000);
    cr_expect_eq(atomic_load(&own->refs), 2);
    session_env_unref(own); /* the creator is gone */
    cr_assert_eq(session_logon_providers(s, NULL), S_OK);
    status_table t;
    cr_assert_eq(session_status_table(s, &t), S_OK);
    cr_expect_eq(t.count, 3);
    status_table_free(&t);
    session_end(s, "shutdown");
    session_unref(s); /* frees the env with it (ASan: no leak, no use after free) */
}
