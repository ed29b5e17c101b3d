/* Black-box: GET /identity (QueryIdentity) and provider logon outcomes
 * (UNCONFIGURED, FAILONEPROVIDER); docs/contract/mapi.md 2.5, 5, checklist 28,
 * 29, 31-36, 39. Profiles from main.json and identity.json. */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(identity, .fini = fini_gw, .timeout = 90);

#define MAIL "[\"MAPI_NEW_SESSION\"]"
#define ONE_OFF_PREFIX "00000000812B1FA4BEA310199D6E00DD010F5402"

static json_t *get_json(const char *path, const char *token, gw_resp *r)
{
    gw_get(G, path, token, r);
    cr_assert_eq(r->status, 200, "GET %s: %ld %s", path, r->status, r->body);
    cr_assert(json_is_object(r->json), "GET %s: not JSON", path);
    gw_assert_no_store(r);
    return r->json;
}

/* hex of "ADDRTYPE:ADDRESS" upper-cased plus the terminating NUL */
static char *search_key_hex(const char *text)
{
    char buf[256];
    size_t n = strlen(text);
    cr_assert(n < sizeof buf);
    memcpy(buf, text, n + 1);
    return gw_hex(buf, n + 1);
}

static void expect_identity_shape(json_t *id)
{
    cr_expect(gw_is_upper_hex(gw_jstr(id, "entry_id")), "entry_id %s", gw_jstr(id, "entry_id"));
    cr_expect(gw_is_upper_hex(gw_jstr(id, "search_key")), "search_key %s",
              gw_jstr(id, "search_key"));
    cr_expect(gw_jstr(id, "display") != NULL);
}

Test(identity, flagged_row_supplies_it)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    gw_resp r, st;
    json_t *id = get_json("/identity", s.token, &r);
    expect_identity_shape(id);
    cr_expect(json_object_get(id, "warning") == NULL, "unexpected warning: %s", r.body);
    json_t *t = get_json("/status", s.token, &st);
    /* exactly one flagged row */
    json_t *flagged = NULL;
    size_t i, n = 0;
    json_t *row;
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        if (gw_jvalue(json_object_get(row, "resource_flags")) & 0x4u) {
            flagged = row;
            n++;
        }
    }
    cr_assert_eq(n, 1u, "rows with STATUS_PRIMARY_IDENTITY: %zu", n);
    cr_expect_str_eq(gw_jstr(flagged, "display_name"), "Alice Contacts");
    json_t *ri = json_object_get(flagged, "identity");
    cr_assert(json_is_object(ri), "the flagged row has no identity: %s", st.body);
    cr_assert(gw_jstr(ri, "entry_id") != NULL, "the AB row's identity lacks an entry id");
    cr_expect_str_eq(gw_jstr(id, "entry_id"), gw_jstr(ri, "entry_id"));
    cr_expect_str_eq(gw_jstr(id, "display"), gw_jstr(ri, "display"));
    cr_expect_str_eq(gw_jstr(id, "search_key"), gw_jstr(ri, "search_key"));
    cr_expect_str_eq(gw_jstr(id, "display"), "Alice Example");
    char *sk = search_key_hex("SMTP:ALICE@EXAMPLE.INVALID");
    cr_expect_str_eq(gw_jstr(id, "search_key"), sk);
    free(sk);
    cr_expect(strncmp(gw_jstr(id, "entry_id"), ONE_OFF_PREFIX, strlen(ONE_OFF_PREFIX)) != 0,
              "an AB-supplied identity came out as a one-off entry id");
    json_t *src = json_object_get(id, "source");
    cr_assert(json_is_object(src), "source: %s", r.body);
    cr_expect_str_eq(gw_jstr(src, "instance_key"), gw_jstr(flagged, "instance_key"));
    cr_expect_str_eq(gw_jstr(src, "display_name"), "Alice Contacts");
    gw_resp_free(&st);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(identity, one_off_fallback)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "bob", "bob-pw", MAIL, &s);
    gw_resp r, st;
    json_t *id = get_json("/identity", s.token, &r);
    expect_identity_shape(id);
    const char *eid = gw_jstr(id, "entry_id");
    cr_assert(eid);
    cr_expect(strncmp(eid, ONE_OFF_PREFIX, strlen(ONE_OFF_PREFIX)) == 0,
              "entry id %s is not a one-off entry id", eid);
    cr_expect(strlen(eid) > strlen(ONE_OFF_PREFIX) + 8, "one-off entry id too short");
    cr_expect_str_eq(gw_jstr(id, "display"), "Bob Example");
    char *sk = search_key_hex("SMTP:BOB@EXAMPLE.INVALID");
    cr_expect_str_eq(gw_jstr(id, "search_key"), sk);
    free(sk);
    cr_expect(json_object_get(id, "warning") == NULL, "unexpected warning: %s", r.body);
    json_t *t = get_json("/status", s.token, &st);
    json_t *row = gw_find_row(t, "Bob Mailbox");
    cr_assert(row);
    cr_expect_str_eq(gw_jstr(json_object_get(id, "source"), "instance_key"),
                     gw_jstr(row, "instance_key"));
    json_t *ri = json_object_get(row, "identity");
    cr_assert(json_is_object(ri), "the flagged store row shows no identity");
    cr_expect_str_eq(gw_jstr(ri, "display"), "Bob Example");
    cr_expect_str_eq(gw_jstr(ri, "search_key"), gw_jstr(id, "search_key"));
    if (gw_jstr(ri, "entry_id"))
        cr_expect_str_eq(gw_jstr(ri, "entry_id"), eid);
    gw_resp_free(&st);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(identity, unflagged_provider_supplies_it)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "dave", "dave-pw", MAIL, &s);
    gw_resp r, st;
    json_t *id = get_json("/identity", s.token, &r);
    json_t *t = get_json("/status", s.token, &st);
    json_t *row = gw_find_row(t, "Dave Contacts");
    cr_assert(row, "no Dave Contacts row: %s", st.body);
    json_t *ri = json_object_get(row, "identity");
    cr_assert(json_is_object(ri), "no identity on the row: %s", st.body);
    cr_expect(json_object_get(id, "warning") == NULL, "unexpected warning: %s", r.body);
    cr_expect_str_eq(gw_jstr(id, "display"), "Dave Example");
    if (gw_jstr(ri, "entry_id"))
        cr_expect_str_eq(gw_jstr(id, "entry_id"), gw_jstr(ri, "entry_id"));
    cr_expect_str_eq(gw_jstr(id, "search_key"), gw_jstr(ri, "search_key"));
    gw_resp_free(&st);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* No flagged row; the first row with an identity (the
 * store) has no entry id, a later one (the address book, another service)
 * has one: QueryIdentity takes that entry id, not a one-off of the store's
 * identity. */
Test(identity, unflagged_first_entry_id_wins)
{
    G = gw_start("identity.json", NULL);
    gw_session s;
    gw_logon_ok(G, "firsteid", NULL, MAIL, &s);
    gw_resp r, st;
    json_t *id = get_json("/identity", s.token, &r);
    expect_identity_shape(id);
    json_t *t = get_json("/status", s.token, &st);
    json_t *book = gw_find_row(t, "Firsteid Contacts");
    json_t *store = gw_find_row(t, "Firsteid Mailbox");
    cr_assert(book && store, "%s", st.body);
    json_t *bi = json_object_get(book, "identity");
    cr_assert(json_is_object(bi) && gw_jstr(bi, "entry_id"), "the AB row has no entry id: %s",
              st.body);
    /* The store is first and publishes an identity without an entry id. */
    json_t *si = json_object_get(store, "identity");
    cr_assert(json_is_object(si), "%s", st.body);
    cr_expect_str_eq(gw_jstr(si, "display"), "Store Person");
    cr_expect(gw_jstr(si, "entry_id") == NULL, "%s", st.body);

    cr_expect(json_object_get(id, "warning") == NULL, "unexpected warning: %s", r.body);
    cr_expect_str_eq(gw_jstr(id, "entry_id"), gw_jstr(bi, "entry_id"), "%s", r.body);
    cr_expect(strncmp(gw_jstr(id, "entry_id"), ONE_OFF_PREFIX, strlen(ONE_OFF_PREFIX)) != 0,
              "a one-off entry id although a row publishes an entry id: %s", r.body);
    cr_expect_str_eq(gw_jstr(id, "display"), "Book Person");
    cr_expect_str_eq(gw_jstr(id, "search_key"), gw_jstr(bi, "search_key"));
    json_t *src = json_object_get(id, "source");
    cr_assert(json_is_object(src), "%s", r.body);
    cr_expect_str_eq(gw_jstr(src, "display_name"), "Firsteid Contacts");
    cr_expect_str_eq(gw_jstr(src, "instance_key"), gw_jstr(book, "instance_key"));
    gw_resp_free(&st);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* ... and a one-off entry id only when no row publishes an entry id: built
 * from the first row with an identity, without a warning. */
Test(identity, unflagged_one_off_only_without_entry_ids)
{
    G = gw_start("identity.json", NULL);
    gw_session s;
    gw_logon_ok(G, "noeid", NULL, MAIL, &s);
    gw_resp r;
    json_t *id = get_json("/identity", s.token, &r);
    expect_identity_shape(id);
    cr_expect(json_object_get(id, "warning") == NULL, "unexpected warning: %s", r.body);
    const char *eid = gw_jstr(id, "entry_id");
    cr_assert(eid);
    cr_expect(strncmp(eid, ONE_OFF_PREFIX, strlen(ONE_OFF_PREFIX)) == 0, "%s", r.body);
    cr_expect_str_eq(gw_jstr(id, "display"), "First Person");
    char *sk = search_key_hex("SMTP:FIRST@EXAMPLE.INVALID");
    cr_expect_str_eq(gw_jstr(id, "search_key"), sk);
    free(sk);
    cr_expect_str_eq(gw_jstr(json_object_get(id, "source"), "display_name"), "Noeid Mailbox");
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* (docs/contract/mapi.md 5, checklist 36): every provider of the
 * message service that supplies the identity shows the same PR_IDENTITY_*
 * values; a store in that service shows the address book's identity, a
 * provider of another service shows none. */
Test(identity, suppliers_service_shows_one_identity)
{
    G = gw_start("identity.json", NULL);
    gw_session s;
    gw_logon_ok(G, "svcshare", NULL, MAIL, &s);
    gw_resp r, st;
    json_t *id = get_json("/identity", s.token, &r);
    json_t *t = get_json("/status", s.token, &st);
    json_t *book = gw_find_row(t, "Svc Contacts");
    cr_assert(book, "%s", st.body);
    json_t *bi = json_object_get(book, "identity");
    cr_assert(json_is_object(bi), "%s", st.body);
    cr_assert(gw_jstr(bi, "entry_id") && gw_jstr(bi, "search_key") && gw_jstr(bi, "display"), "%s",
              st.body);
    static const char *const siblings[] = {"Svc Mailbox", "Svc Outbox"};
    for (size_t i = 0; i < 2; i++) {
        json_t *row = gw_find_row(t, siblings[i]);
        cr_assert(row, "no %s row: %s", siblings[i], st.body);
        json_t *ri = json_object_get(row, "identity");
        cr_expect(json_is_object(ri), "%s shows no identity beside its address book's: %s",
                  siblings[i], st.body);
        cr_expect(json_equal(ri, bi), "%s shows another identity: %s", siblings[i], st.body);
        cr_expect_eq(gw_jvalue(json_object_get(row, "resource_flags")) & 0x24u, 0x20u,
                     "%s must stay STATUS_NO_PRIMARY_IDENTITY", siblings[i]);
    }
    json_t *other = gw_find_row(t, "Svc Archive");
    cr_assert(other, "%s", st.body);
    cr_expect(json_object_get(other, "identity") == NULL,
              "a provider of another service took the identity: %s", st.body);
    /* The address book still supplies it. */
    cr_expect_str_eq(gw_jstr(id, "entry_id"), gw_jstr(bi, "entry_id"));
    cr_expect_str_eq(gw_jstr(id, "display"), gw_jstr(bi, "display"));
    cr_expect_str_eq(gw_jstr(id, "search_key"), gw_jstr(bi, "search_key"));
    cr_expect_str_eq(gw_jstr(json_object_get(id, "source"), "display_name"), "Svc Contacts");
    gw_resp_free(&st);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(identity, none_anywhere_warns)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "noid", NULL, MAIL, &s);
    gw_resp r;
    gw_get(G, "/identity", s.token, &r);
    cr_assert_eq(r.status, 200, "no identity must still be 200, got %ld %s", r.status, r.body);
    json_t *id = r.json;
    cr_assert(json_is_object(id));
    const char *eid = gw_jstr(id, "entry_id");
    cr_expect(eid && *eid && gw_is_upper_hex(eid), "placeholder entry id: %s", r.body);
    if (eid)
        cr_expect(strncmp(eid, ONE_OFF_PREFIX, strlen(ONE_OFF_PREFIX)) == 0,
                  "placeholder %s is not a one-off entry id", eid);
    json_t *w = json_object_get(id, "warning");
    cr_assert(json_is_object(w), "no warning: %s", r.body);
    cr_expect_str_eq(gw_jstr(w, "mapi_error"), "MAPI_W_NO_SERVICE");
    cr_expect_str_eq(gw_jstr(w, "mapi_code"), "0x00040203");
    cr_expect_str_eq(gw_jstr(id, "display"), "Unknown user");
    cr_expect(json_is_null(json_object_get(id, "source")), "source: %s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(identity, shared_members_see_the_same)
{
    G = gw_start("main.json", NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &a);
    gw_logon_ok(G, NULL, "alice-pw", "[]", &b);
    cr_assert_str_eq(a.id, b.id);
    gw_resp ra, rb;
    json_t *ia = get_json("/identity", a.token, &ra);
    json_t *ib = get_json("/identity", b.token, &rb);
    cr_expect(json_equal(ia, ib), "A %s vs B %s", ra.body, rb.body);
    gw_resp_free(&ra);
    gw_resp_free(&rb);
    json_t *ta = get_json("/status", a.token, &ra);
    json_t *tb = get_json("/status", b.token, &rb);
    json_t *rows_a = json_object_get(ta, "rows"), *rows_b = json_object_get(tb, "rows");
    cr_expect_eq(json_array_size(rows_a), json_array_size(rows_b));
    size_t i;
    json_t *row;
    json_array_foreach(rows_a, i, row)
    {
        json_t *o = json_array_get(rows_b, i);
        if (o)
            cr_expect_str_eq(gw_jstr(row, "instance_key"), gw_jstr(o, "instance_key"),
                             "members see different status tables");
    }
    gw_resp_free(&ra);
    gw_resp_free(&rb);
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(identity, unconfigured_service_disabled)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "halfconf", NULL, MAIL, &s);
    gw_resp r, o;
    json_t *t = get_json("/status", s.token, &r);
    cr_expect(gw_find_row(t, "Broken Mailbox") == NULL, "the unconfigured provider has a row");
    cr_expect(gw_find_row(t, "Broken Contacts") == NULL,
              "a provider of the disabled service has a row: %s", r.body);
    cr_expect_eq(gw_count_rows_of_type(t, 35), 0u);
    json_t *good = gw_find_row(t, "Good Mailbox");
    cr_assert(good, "the good service's provider is missing: %s", r.body);
    cr_expect_eq(gw_jvalue(json_object_get(good, "status_code")) & 0x5u, 0x1u,
                 "good store not AVAILABLE");
    char path[256];
    snprintf(path, sizeof path, "/status/%s/validate-state", gw_jstr(good, "instance_key"));
    gw_post(G, path, s.token, "{\"flags\":[]}", &o);
    cr_expect_eq(o.status, 200, "%ld %s", o.status, o.body);
    gw_resp_free(&o);
    char *md = gw_data_path(G, "half/Maildir");
    cr_expect_eq(gw_count_dir(md), 3, "good maildir not created");
    free(md);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(identity, failoneprovider_drops_only_it)
{
    G = gw_start("main.json", NULL);
    char *dir = gw_data_path(G, "badab");
    gw_mkdirs(dir);
    char *f = gw_data_path(G, "badab/contacts.json");
    gw_write_file(f, "{\"entries\": [ {\"display\": \"x\", ");
    gw_session s;
    gw_logon_ok(G, "badab", NULL, MAIL, &s);
    gw_resp r;
    json_t *t = get_json("/status", s.token, &r);
    cr_expect(gw_find_row(t, "Badab Contacts") == NULL, "the failed AB provider has a row: %s",
              r.body);
    cr_expect(gw_find_row(t, "Badab Mailbox") != NULL, "the store of the same service is gone");
    cr_expect(gw_find_row(t, "Badab Outbox") != NULL, "the transport of the same service is gone");
    cr_expect_eq(gw_count_rows_of_type(t, 34), 1u);
    /* the gateway must not have "fixed" the file */
    char *content = NULL;
    FILE *fp = fopen(f, "rb");
    if (fp) {
        char buf[256] = {0};
        size_t n = fread(buf, 1, sizeof buf - 1, fp);
        fclose(fp);
        content = strndup(buf, n);
    }
    cr_expect(content && strncmp(content, "{\"entries\": [ {", 15) == 0,
              "the malformed contacts file was rewritten");
    free(content);
    free(f);
    free(dir);
    gw_resp_free(&r);
    gw_session_free(&s);
}
