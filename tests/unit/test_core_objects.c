/* Unit suite for session_objects.c, session_events.c, entryid.c and
 * mapi_object.c: routing of entry ids, status objects, one-off entry ids,
 * Advise subscriptions. Provider-specific objects have their own suites. */
#include "../../session-core/core.h"
#include "../../session-core/entryid.h"
#include "../../session-core/identity.h"
#include "../../session-core/mapi_flags.h"
#include "../../server/config.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static core *C;
static core_logon_result R;

static void setup(void)
{
    const char *json = "{\"profiles\":[{\"name\":\"q\",\"auth\":{\"type\":\"none\"},"
                       "\"services\":[]}]}";
    profile_store *store = NULL;
    char err[256] = "";
    cr_assert_eq(
        profile_store_load_string(json, "t.json", "/tmp", &store, err, sizeof err, NULL, NULL),
        S_OK, "%s", err);
    config defaults;
    cr_assert(config_defaults(&defaults));
    core_config cfg = defaults.core;
    cr_assert_eq(core_new(&cfg, store, &C), S_OK);
    core_logon_request req = {"q", NULL, MAPI_NEW_SESSION | MAPI_ALLOW_OTHERS, "t"};
    cr_assert_eq(core_logon(C, &req, &R), S_OK);
}

static void teardown(void)
{
    session_unref(R.session);
    core_free(C);
}

TestSuite(core_objects, .init = setup, .fini = teardown);

Test(core_objects, entryid_build_and_split)
{
    uint8_t uid[MAPIUID_LEN];
    entryid_provider_uid("p", 0, 1, uid);
    uint8_t other[MAPIUID_LEN];
    entryid_provider_uid("p", 1, 0, other);
    cr_assert_neq(memcmp(uid, other, MAPIUID_LEN), 0, "position is part of the uid");
    uint8_t *eid;
    size_t len;
    cr_assert_eq(entryid_build(uid, "Fx", 2, &eid, &len), S_OK);
    cr_assert_eq(len, ENTRYID_HEADER_LEN + 2);
    const uint8_t *u, *k;
    size_t kl;
    cr_assert(entryid_split(eid, len, &u, &k, &kl));
    cr_assert_arr_eq(u, uid, MAPIUID_LEN);
    cr_assert_eq(kl, 2);
    cr_assert_eq(k[0], 'F');
    eid[0] = 1; /* short-term ids are not produced here */
    cr_assert_not(entryid_split(eid, len, &u, &k, &kl));
    cr_assert_not(entryid_split(eid, 19, &u, &k, &kl));
    free(eid);
}

Test(core_objects, status_entry_id_opens_status_object)
{
    status_table t;
    cr_assert_eq(session_status_table(R.session, &t), S_OK);
    mapi_object o;
    cr_assert_eq(session_open_entry(R.session, t.rows[1].entry_id, STATUS_ENTRY_ID_LEN, &o), S_OK);
    cr_assert_eq(o.object_type, MAPI_STATUS);
    const mapi_prop *code = mapi_object_find(&o, PR_STATUS_CODE);
    cr_assert_not_null(code);
    cr_assert_eq(code->v.l, t.rows[1].status_code);
    const mapi_prop *name = mapi_object_find(&o, PR_DISPLAY_NAME);
    cr_assert_str_eq(name->v.str, "MAPI Spooler");
    mapi_object_clear(&o);

    uint8_t bogus[STATUS_ENTRY_ID_LEN];
    memcpy(bogus, t.rows[1].entry_id, sizeof bogus);
    memset(bogus + 20, 0xEE, 8);
    cr_assert_eq(session_open_entry(R.session, bogus, sizeof bogus, &o), MAPI_E_UNKNOWN_ENTRYID);
    status_table_free(&t);
}

Test(core_objects, malformed_and_unknown_entry_ids)
{
    mapi_object o;
    uint8_t short_id[10] = {0};
    cr_assert_eq(session_open_entry(R.session, short_id, sizeof short_id, &o),
                 MAPI_E_INVALID_ENTRYID);
    uint8_t unknown[24] = {0};
    memset(unknown + 4, 0x42, 16);
    cr_assert_eq(session_open_entry(R.session, unknown, sizeof unknown, &o),
                 MAPI_E_UNKNOWN_ENTRYID);
    mapi_rows folders;
    cr_assert_eq(session_open_store(R.session, unknown, sizeof unknown, &o, &folders),
                 MAPI_E_UNKNOWN_ENTRYID);
    bool equal = true;
    cr_assert_eq(session_compare_entry_ids(R.session, unknown, sizeof unknown, unknown,
                                           sizeof unknown, &equal),
                 MAPI_E_UNKNOWN_ENTRYID);
    cr_assert_eq(session_compare_entry_ids(R.session, short_id, sizeof short_id, unknown,
                                           sizeof unknown, &equal),
                 MAPI_E_INVALID_ENTRYID);
}

Test(core_objects, one_off_entry_id_opens_mail_user)
{
    uint8_t *eid;
    size_t len;
    cr_assert_eq(entryid_one_off("Zoë", "SMTP", "zoe@example.com", &eid, &len), S_OK);
    mapi_object o;
    cr_assert_eq(session_open_entry(R.session, eid, len, &o), S_OK);
    cr_assert_eq(o.object_type, MAPI_MAILUSER);
    cr_assert_str_eq(mapi_object_find(&o, PR_DISPLAY_NAME)->v.str, "Zoë");
    cr_assert_str_eq(mapi_object_find(&o, PR_EMAIL_ADDRESS)->v.str, "zoe@example.com");
    const mapi_prop *sk = mapi_object_find(&o, PR_SEARCH_KEY);
    cr_assert_eq(sk->v.bin.len, sizeof "SMTP:ZOE@EXAMPLE.COM");
    mapi_object_clear(&o);
    bool equal = false;
    cr_assert_eq(session_compare_entry_ids(R.session, eid, len, eid, len, &equal), S_OK);
    cr_assert(equal);
    free(eid);
}

Test(core_objects, stores_and_address_book_of_empty_profile)
{
    mapi_rows rows, entries;
    cr_assert_eq(session_stores_table(R.session, &rows), S_OK);
    cr_assert_eq(rows.count, 0);
    mapi_rows_clear(&rows);
    size_t total = 1;
    cr_assert_eq(session_address_book(R.session, NULL, 0, 10, &rows, &entries, &total), S_OK);
    cr_assert_eq(rows.count, 0);
    cr_assert_eq(entries.count, 0);
    cr_assert_eq(total, 0);
}

static int wakes;
static void count_wake(void *ctx)
{
    (void)ctx;
    wakes++;
}

Test(core_objects, shared_logoff_reaches_subscribers_first)
{
    core_logon_request join = {"q", NULL, 0, "t"};
    core_logon_result b;
    cr_assert_eq(core_logon(C, &join, &b), S_OK);
    cr_assert(b.joined);
    session_sub *sub;
    cr_assert_eq(session_advise(R.session, count_wake, NULL, &sub), S_OK);
    session_event ev;
    cr_assert_eq(session_sub_next(sub, &ev), MAPI_E_NOT_FOUND, "nothing queued yet");

    session *sb;
    token_hash hb;
    cr_assert_eq(core_authenticate(C, b.token, strlen(b.token), &sb, &hb), S_OK);
    cr_assert_eq(core_logoff(C, &hb, MAPI_LOGOFF_SHARED), S_OK);
    cr_assert_eq(wakes, 1);
    cr_assert_eq(session_sub_next(sub, &ev), S_OK);
    cr_assert_eq(ev.kind, SESSION_EVENT_CRITICAL_ERROR);
    cr_assert_str_eq(ev.reason, "logoff_shared");
    cr_assert_eq(ev.seq, 1);
    session_event_clear(&ev);
    cr_assert_eq(session_sub_next(sub, &ev), MAPI_E_END_OF_SESSION);
    session_unadvise(sub);
    session *again;
    cr_assert_eq(core_authenticate(C, R.token, strlen(R.token), &again, NULL),
                 MAPI_E_END_OF_SESSION);
    cr_assert_eq(session_advise(R.session, count_wake, NULL, &sub), MAPI_E_END_OF_SESSION);
    session_unref(sb);
    session_unref(b.session);
}

/* A plain logoff of one handle of a shared session ends
 * that handle's subscriptions at once (a critical error, then the end); the
 * other handle's subscription and the session live on. */
Test(core_objects, plain_logoff_ends_only_that_handles_subscriptions)
{
    core_logon_request join = {"q", NULL, 0, "t"};
    core_logon_result b;
    cr_assert_eq(core_logon(C, &join, &b), S_OK);
    cr_assert(b.joined);
    token_hash ha, hb;
    cr_assert(token_parse(R.token, strlen(R.token), &ha));
    cr_assert(token_parse(b.token, strlen(b.token), &hb));
    session_sub *sa, *sb, *plain;
    cr_assert_eq(session_advise_handle(R.session, &ha, count_wake, NULL, &sa), S_OK);
    cr_assert_eq(session_advise_handle(b.session, &hb, count_wake, NULL, &sb), S_OK);
    cr_assert_eq(session_advise(R.session, count_wake, NULL, &plain), S_OK);

    wakes = 0;
    cr_assert_eq(core_logoff(C, &hb, 0), S_OK);
    cr_assert_eq(wakes, 1, "only B's subscription is told");
    session_event ev;
    cr_assert_eq(session_sub_next(sb, &ev), S_OK);
    cr_assert_eq(ev.kind, SESSION_EVENT_CRITICAL_ERROR);
    cr_assert_str_eq(ev.reason, "logoff");
    session_event_clear(&ev);
    cr_assert_eq(session_sub_next(sb, &ev), MAPI_E_END_OF_SESSION, "B's stream must end");
    cr_assert_eq(session_sub_next(sa, &ev), MAPI_E_NOT_FOUND, "A's stream must stay open");
    cr_assert_eq(session_sub_next(plain, &ev), MAPI_E_NOT_FOUND);
    cr_assert_not(session_is_ended(R.session));
    session *again;
    cr_assert_eq(core_authenticate(C, R.token, strlen(R.token), &again, NULL), S_OK);
    session_unref(again);

    /* The session's end still reaches A's once, and B's (closed) not again. */
    cr_assert_eq(core_logoff(C, &ha, 0), S_OK);
    cr_assert_eq(session_sub_next(sa, &ev), S_OK);
    cr_assert_eq(ev.kind, SESSION_EVENT_CRITICAL_ERROR);
    session_event_clear(&ev);
    cr_assert_eq(session_sub_next(sa, &ev), MAPI_E_END_OF_SESSION);
    cr_assert_eq(session_sub_next(sb, &ev), MAPI_E_END_OF_SESSION);
    session_unadvise(sa);
    session_unadvise(sb);
    session_unadvise(plain);
    session_unref(b.session);
}

Test(core_objects, mapi_object_values_are_copies)
{
    mapi_object o = {0};
    char name[] = "folder";
    uint8_t bin[3] = {1, 2, 3};
    cr_assert_eq(mapi_object_add_string(&o, PR_DISPLAY_NAME, "display_name", name), S_OK);
    cr_assert_eq(mapi_object_add_binary(&o, PR_ENTRYID, "entry_id", bin, sizeof bin), S_OK);
    cr_assert_eq(mapi_object_add_string(&o, PR_SUBJECT, "subject", NULL), S_OK);
    name[0] = 'X';
    bin[0] = 9;
    cr_assert_eq(o.count, 2, "a NULL string adds nothing");
    cr_assert_str_eq(mapi_object_find(&o, PR_DISPLAY_NAME)->v.str, "folder");
    cr_assert_eq(mapi_object_find(&o, PR_ENTRYID)->v.bin.data[0], 1);
    cr_assert_null(mapi_object_find(&o, PR_SUBJECT));
    mapi_object_clear(&o);
    cr_assert_eq(o.count, 0);
}
