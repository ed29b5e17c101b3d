/* Unit suite for the "abfile" address-book provider (provider_abfile.c): the
 * created file, the status row, invalid files at logon and later, the
 * identity entry id (built from the instance's MAPIUID), and object access:
 * the address book (container, entries, search, max), OpenEntry and
 * same_entry. Real files under a fresh /tmp/mgw-prov-XXXXXX per test
 * (provider_fixture.h). */
#include "provider_fixture.h"

#include "../../session-core/mapi_flags.h"
#include "../../session-core/mapi_object.h"
#include "../../session-core/profile.h"
#include "../../session-core/provider.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

TestSuite(provider_abfile, .init = fx_setup, .fini = fx_teardown);

/* The last address book's total (not asserted where a test does not care). */
static size_t ab_total;

static const provider_config *abfile_config(const char *path, const char *create,
                                            const char *identity)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"Contacts\""
             "%s%s,\"settings\":{\"path\":\"%s\",\"create\":%s}}",
             identity ? ",\"identity\":" : "", identity ? identity : "", path, create);
    return fx_load_provider(json);
}

#define DEMO_IDENTITY                                                                              \
    "{\"display\":\"Demo User\",\"address_type\":\"SMTP\",\"address\":\"demo@example.invalid\"}"

/* 4 zero bytes, the instance's MAPIUID (fx.args.uid), 'E', tail. */
static void assert_ab_entry_id(const provider_identity *id, const char *tail)
{
    char key[256];
    int n = snprintf(key, sizeof key, "E%s", tail);
    cr_assert(fx_is_entry_id(id->entry_id, id->entry_id_len, key, (size_t)n),
              "not the entry id of %s (length %zu)", key, id->entry_id_len);
}

Test(provider_abfile, abfile_create_writes_identity_and_entry_id)
{
    char ab[512];
    fx_path(ab, "demo/contacts.json");
    const provider_config *cfg = abfile_config(ab, "true", DEMO_IDENTITY);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "1 entry");

    struct stat sb;
    cr_assert_eq(stat(ab, &sb), 0);
    cr_assert(S_ISREG(sb.st_mode));
    cr_assert_eq(sb.st_mode & 0777, 0600);
    char dir[512];
    cr_assert(fx_is_dir_mode(fx_path(dir, "demo"), 0700));
    json_error_t jerr;
    json_t *doc = json_load_file(ab, 0, &jerr);
    cr_assert_not_null(doc, "%s", jerr.text);
    json_t *entries = json_object_get(doc, "entries");
    cr_assert_eq(json_array_size(entries), 1);
    json_t *e = json_array_get(entries, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "display")), "Demo User");
    cr_assert_str_eq(json_string_value(json_object_get(e, "address_type")), "SMTP");
    cr_assert_str_eq(json_string_value(json_object_get(e, "address")), "demo@example.invalid");
    json_decref(doc);
    /* No temp file left next to it. */
    char names[8][128];
    cr_assert_eq(fx_list_dir(dir, names, 8), 1);
    cr_assert_str_eq(names[0], "contacts.json");

    provider_identity id = {0};
    cr_assert_eq(fx.ops->identity(fx.state, cfg, &id), S_OK);
    assert_ab_entry_id(&id, "SMTP:demo@example.invalid");
    free(id.entry_id);
}

Test(provider_abfile, abfile_create_keeps_an_existing_file)
{
    char ab[512];
    fx_path(ab, "ab.json");
    const char *mine = "{\"entries\":[{\"display\":\"A\",\"address_type\":\"X400\",\"address\":"
                       "\"a\"},{\"display\":\"B\",\"address_type\":\"SMTP\",\"address\":\"b@x\"}]}";
    fx_write_file(ab, mine);
    const provider_config *cfg = abfile_config(ab, "true", DEMO_IDENTITY);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_assert_str_eq(fx_status().status_string, "2 entries");
    char *now = fx_read_file(ab);
    cr_assert_str_eq(now, mine);
    free(now);
    /* The identity is not in this file. */
    provider_identity id = {0};
    cr_assert_eq(fx.ops->identity(fx.state, cfg, &id), MAPI_E_NOT_FOUND);
    cr_assert_null(id.entry_id);
}

Test(provider_abfile, abfile_create_without_identity_has_no_entries)
{
    char ab[512];
    fx_path(ab, "ab.json");
    const provider_config *cfg = abfile_config(ab, "true", NULL);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "0 entries");
    json_t *doc = json_load_file(ab, 0, NULL);
    cr_assert_not_null(doc);
    cr_assert(json_is_array(json_object_get(doc, "entries")));
    cr_assert_eq(json_array_size(json_object_get(doc, "entries")), 0);
    json_decref(doc);
    provider_identity id = {0};
    cr_assert_eq(fx.ops->identity(fx.state, cfg, &id), MAPI_E_NOT_FOUND);
}

Test(provider_abfile, abfile_identity_matches_without_case)
{
    char ab[512];
    fx_path(ab, "ab.json");
    fx_write_file(ab, "{\"entries\":[{\"display\":\"D\",\"address_type\":\"SMTP\",\"address\":"
                      "\"Demo@Example.invalid\",\"note\":\"extra keys are fine\"}]}");
    const provider_config *cfg = abfile_config(
        ab, "false",
        "{\"display\":\"Demo\",\"address_type\":\"smtp\",\"address\":\"DEMO@example.INVALID\"}");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    provider_identity id = {0};
    cr_assert_eq(fx.ops->identity(fx.state, cfg, &id), S_OK);
    /* Spelled as the address book entry spells it. */
    assert_ab_entry_id(&id, "SMTP:Demo@Example.invalid");
    free(id.entry_id);
}

Test(provider_abfile, abfile_malformed_fails_one_provider)
{
    char ab[512];
    fx_path(ab, "ab.json");
    fx_write_file(ab, "{\"entries\":[ not json");
    const provider_config *cfg = abfile_config(ab, "true", DEMO_IDENTITY);
    fx.state = (void *)&fx.state;
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), MAPI_E_FAILONEPROVIDER);
    cr_assert_null(fx.state);
}

Test(provider_abfile, abfile_wrong_shape_fails_one_provider)
{
    char ab[512];
    fx_path(ab, "ab.json");
    const provider_config *cfg = abfile_config(ab, "false", NULL);
    const char *bad[] = {
        "[]",
        "{\"entries\":{}}",
        "{\"entries\":[\"x\"]}",
        "{\"entries\":[{\"display\":\"D\",\"address_type\":\"SMTP\"}]}",
        "{\"entries\":[{\"display\":1,\"address_type\":\"SMTP\",\"address\":\"a\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_write_file(ab, bad[i]);
        cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), MAPI_E_FAILONEPROVIDER, "accepted %s",
                     bad[i]);
        cr_assert_null(fx.state);
    }
}

Test(provider_abfile, abfile_missing_then_invalid_is_a_status_only)
{
    char ab[512], want[600];
    fx_path(ab, "ab.json");
    const provider_config *cfg = abfile_config(ab, "false", DEMO_IDENTITY);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "address book file missing: .../ab.json");
    cr_assert_str_eq(st.status_string, want);

    fx_write_file(ab, "{\"entries\":[{\"display\":\"Demo\",\"address_type\":\"SMTP\","
                      "\"address\":\"demo@example.invalid\"}]}");
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE);
    cr_assert_str_eq(st.status_string, "1 entry");
    provider_identity id = {0};
    cr_assert_eq(fx.ops->identity(fx.state, cfg, &id), S_OK);
    free(id.entry_id);

    /* Broken while logged on: FAILURE with the reason, not an error. */
    fx_write_file(ab, "{oops");
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "address book file invalid: .../ab.json");
    cr_assert_eq(strncmp(st.status_string, want, strlen(want)), 0, "was: %s", st.status_string);
    id.entry_id = NULL;
    cr_assert_eq(fx.ops->identity(fx.state, cfg, &id), MAPI_E_NOT_FOUND);
}

/* ---- object access ---- */

#define BOOK                                                                                       \
    "{\"entries\":["                                                                               \
    "{\"display\":\"Alice Example\",\"address_type\":\"SMTP\",\"address\":\"alice@x.test\"},"      \
    "{\"display\":\"Bob Builder\",\"address_type\":\"SMTP\",\"address\":\"Bob@Y.test\"},"          \
    "{\"display\":\"Carol\",\"address_type\":\"X400\",\"address\":\"c=xx;a=alice\"},"              \
    "{\"display\":\"Zoë Ünicode\",\"address_type\":\"SMTP\",\"address\":\"zoe@z.test\"}]}"

/* Logs on to an abfile with that content (NULL: no file) and identity. */
static const provider_config *logon_with(const char *content, const char *identity)
{
    char ab[512], json[1024];
    fx_path(ab, "ab.json");
    if (content)
        fx_write_file(ab, content);
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"Contacts\""
             "%s%s,\"settings\":{\"path\":\"%s\"}}",
             identity ? ",\"identity\":" : "", identity ? identity : "", ab);
    const provider_config *cfg = fx_load_provider(json);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    return cfg;
}

static void assert_key(const mapi_object *o, const char *key)
{
    const mapi_prop *p = fx_prop(o, PR_ENTRYID);
    cr_assert(fx_is_entry_id(p->v.bin.data, p->v.bin.len, key, strlen(key)), "not %s", key);
}

Test(provider_abfile, address_book_lists_container_and_entries)
{
    logon_with(BOOK, NULL);
    mapi_object cont = {0};
    mapi_rows rows = {0};
    cr_assert_eq(fx.ops->address_book(fx.state, NULL, 0, 100, &cont, &rows, &ab_total), S_OK);
    cr_assert_eq(cont.object_type, MAPI_ABCONT);
    cr_assert_str_eq(fx_str(&cont, PR_DISPLAY_NAME), "Contacts");
    cr_assert_eq(fx_long(&cont, PR_CONTENT_COUNT), 4);
    assert_key(&cont, "");
    cr_assert_eq(rows.count, 4);

    const mapi_object *bob = &rows.rows[1];
    cr_assert_eq(bob->object_type, MAPI_MAILUSER);
    cr_assert_str_eq(fx_str(bob, PR_DISPLAY_NAME), "Bob Builder");
    cr_assert_str_eq(fx_str(bob, PR_ADDRTYPE), "SMTP");
    cr_assert_str_eq(fx_str(bob, PR_EMAIL_ADDRESS), "Bob@Y.test");
    assert_key(bob, "ESMTP:Bob@Y.test");
    const mapi_prop *sk = fx_prop(bob, PR_SEARCH_KEY);
    cr_assert_eq(sk->v.bin.len, sizeof "SMTP:BOB@Y.TEST");
    cr_assert_eq(memcmp(sk->v.bin.data, "SMTP:BOB@Y.TEST", sizeof "SMTP:BOB@Y.TEST"), 0);
    cr_assert_str_eq(fx_str(&rows.rows[3], PR_DISPLAY_NAME), "Zoë Ünicode");
    mapi_object_clear(&cont);
    mapi_rows_clear(&rows);
}

/* Runs a search and returns how many rows came back; names[] gets them. */
static size_t search(const char *what, size_t max, const char *names[8])
{
    mapi_object cont = {0};
    mapi_rows rows = {0};
    cr_assert_eq(fx.ops->address_book(fx.state, what, 0, max, &cont, &rows, &ab_total), S_OK);
    static char keep[8][64];
    size_t n = rows.count;
    cr_assert_leq(n, 8);
    for (size_t i = 0; i < n; i++) {
        snprintf(keep[i], sizeof keep[i], "%s", fx_str(&rows.rows[i], PR_DISPLAY_NAME));
        names[i] = keep[i];
    }
    /* The container counts the whole book, whatever the search. */
    cr_assert_eq(fx_long(&cont, PR_CONTENT_COUNT), 4);
    mapi_object_clear(&cont);
    mapi_rows_clear(&rows);
    return n;
}

Test(provider_abfile, address_book_search_and_max)
{
    logon_with(BOOK, NULL);
    const char *names[8];
    /* Display or address, without ASCII case. */
    cr_assert_eq(search("ALICE", 100, names), 2);
    cr_assert_str_eq(names[0], "Alice Example");
    cr_assert_str_eq(names[1], "Carol"); /* by its address c=xx;a=alice */
    cr_assert_eq(search("bob@y", 100, names), 1);
    cr_assert_str_eq(names[0], "Bob Builder");
    /* Case folds for ASCII letters only (as MAPI's search keys): UTF-8
     * beyond ASCII compares exactly. */
    cr_assert_eq(search("ÜNICODE", 100, names), 1);
    cr_assert_eq(search("ünicode", 100, names), 0);
    cr_assert_eq(search("nobody", 100, names), 0);
    cr_assert_eq(search("", 100, names), 4);
    cr_assert_eq(search(".test", 2, names), 2);
    cr_assert_str_eq(names[1], "Bob Builder");
    cr_assert_eq(search(NULL, 0, names), 0);
}

Test(provider_abfile, address_book_pages_by_offset_with_the_total_of_matches)
{
    logon_with(BOOK, NULL);
    mapi_object cont = {0};
    mapi_rows rows = {0};
    size_t total = 0;
    cr_assert_eq(fx.ops->address_book(fx.state, NULL, 1, 2, &cont, &rows, &total), S_OK);
    cr_assert_eq(total, 4);
    cr_assert_eq(rows.count, 2);
    cr_assert_str_eq(fx_str(&rows.rows[0], PR_DISPLAY_NAME), "Bob Builder");
    mapi_object_clear(&cont);
    mapi_rows_clear(&rows);
    /* The total counts the matches of the search, not the page. */
    cr_assert_eq(fx.ops->address_book(fx.state, "ALICE", 1, 5, &cont, &rows, &total), S_OK);
    cr_assert_eq(total, 2);
    cr_assert_eq(rows.count, 1);
    cr_assert_str_eq(fx_str(&rows.rows[0], PR_DISPLAY_NAME), "Carol");
    mapi_object_clear(&cont);
    mapi_rows_clear(&rows);
    /* max 0: the total alone. */
    cr_assert_eq(fx.ops->address_book(fx.state, NULL, 0, 0, &cont, &rows, &total), S_OK);
    cr_assert_eq(total, 4);
    cr_assert_eq(rows.count, 0);
    mapi_object_clear(&cont);
}

Test(provider_abfile, address_book_fails_when_file_missing_or_invalid)
{
    logon_with(NULL, NULL);
    mapi_object cont = {0};
    mapi_rows rows = {0};
    cr_assert_eq(fx.ops->address_book(fx.state, NULL, 0, 10, &cont, &rows, &ab_total),
                 MAPI_E_CALL_FAILED);
    cr_assert_eq(rows.count, 0);
    mapi_object_clear(&cont);

    /* Read at the call: a file written later is found without ValidateState. */
    char ab[512];
    fx_write_file(fx_path(ab, "ab.json"), BOOK);
    cr_assert_eq(fx.ops->address_book(fx.state, NULL, 0, 10, &cont, &rows, &ab_total), S_OK);
    cr_assert_eq(rows.count, 4);
    cr_assert_eq(fx_status().status_code, STATUS_AVAILABLE);
    mapi_object_clear(&cont);
    mapi_rows_clear(&rows);

    fx_write_file(ab, "{\"entries\":7}");
    cr_assert_eq(fx.ops->address_book(fx.state, NULL, 0, 10, &cont, &rows, &ab_total),
                 MAPI_E_CALL_FAILED);
    cr_assert_eq(rows.count, 0);
    cr_assert_eq(fx_status().status_code, STATUS_FAILURE);
    mapi_object_clear(&cont);
    mapi_object out = {0};
    cr_assert_eq(fx.ops->open_entry(fx.state, (const uint8_t *)"ESMTP:alice@x.test", 18, &out),
                 MAPI_E_CALL_FAILED);
}

static HRESULT open_key(const char *key, size_t len, mapi_object *out)
{
    memset(out, 0, sizeof *out);
    return fx.ops->open_entry(fx.state, (const uint8_t *)key, len, out);
}

Test(provider_abfile, open_entry_finds_entries_and_container)
{
    logon_with(BOOK, NULL);
    mapi_object o;
    cr_assert_eq(open_key("ESMTP:Bob@Y.test", 16, &o), S_OK);
    cr_assert_eq(o.object_type, MAPI_MAILUSER);
    cr_assert_str_eq(fx_str(&o, PR_DISPLAY_NAME), "Bob Builder");
    assert_key(&o, "ESMTP:Bob@Y.test");
    fx_prop(&o, PR_SEARCH_KEY);
    mapi_object_clear(&o);

    /* Another spelling of the same address opens the entry as the file
     * spells it. */
    cr_assert_eq(open_key("Esmtp:BOB@y.TEST", 16, &o), S_OK);
    assert_key(&o, "ESMTP:Bob@Y.test");
    mapi_object_clear(&o);

    cr_assert_eq(open_key("", 0, &o), S_OK);
    cr_assert_eq(o.object_type, MAPI_ABCONT);
    cr_assert_str_eq(fx_str(&o, PR_DISPLAY_NAME), "Contacts");
    mapi_object_clear(&o);

    const struct {
        const char *key;
        size_t len;
    } bad[] = {
        {"ESMTP:nobody@x.test", 19}, {"E", 1}, {"ESMTP", 5},  {"ESMTP:", 6},
        {"SMTP:alice@x.test", 17},   {"X", 1}, {"Falice", 6}, {"ESMTP:alice@x.test\0", 19},
        {"ESMTP:alice@x.tes", 17},   {":", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(open_key(bad[i].key, bad[i].len, &o), MAPI_E_NOT_FOUND, "opened %s",
                     bad[i].key);
        cr_assert_eq(o.count, 0);
    }
}

static bool same(const char *a, const char *b)
{
    return fx.ops->same_entry(fx.state, (const uint8_t *)a, strlen(a), (const uint8_t *)b,
                              strlen(b));
}

Test(provider_abfile, same_entry_ignores_case_of_type_and_address)
{
    logon_with(BOOK, NULL);
    cr_assert(same("ESMTP:Bob@Y.test", "Esmtp:bob@y.TEST"));
    cr_assert(same("ESMTP:Bob@Y.test", "ESMTP:Bob@Y.test"));
    cr_assert(same("", ""));
    cr_assert_not(same("ESMTP:bob@y.test", "EX400:bob@y.test"));
    cr_assert_not(same("ESMTP:bob@y.test", "ESMTP:bob@y.tes"));
    cr_assert_not(same("ESMTP:a:b", "ESMTPA:b"));
    cr_assert_not(same("", "ESMTP:bob@y.test"));
    cr_assert_not(same("Xabc", "XABC")); /* not an entry key: bytes */
}

Test(provider_abfile, identity_entry_id_uses_instance_uid)
{
    const provider_config *cfg = logon_with(
        BOOK, "{\"display\":\"B\",\"address_type\":\"smtp\",\"address\":\"bob@y.test\"}");
    provider_identity id = {0};
    cr_assert_eq(fx.ops->identity(fx.state, cfg, &id), S_OK);
    cr_assert(fx_is_entry_id(id.entry_id, id.entry_id_len, "ESMTP:Bob@Y.test", 16));
    /* The same id opens the entry. */
    mapi_object o;
    cr_assert_eq(open_key((const char *)id.entry_id + 20, id.entry_id_len - 20, &o), S_OK);
    cr_assert_str_eq(fx_str(&o, PR_DISPLAY_NAME), "Bob Builder");
    mapi_object_clear(&o);
    free(id.entry_id);
}
