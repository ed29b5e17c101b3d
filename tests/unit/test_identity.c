/* QueryIdentity's selection rules (docs/contract/mapi.md 5), one-off entry
 * ids and search keys byte by byte. */
#include "../../session-core/identity.h"
#include "../../session-core/mapi_flags.h"
#include "../../session-core/status_row.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t UID[16] = {0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19,
                                0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02};

/* ASCII s as NUL-terminated UTF-16LE at p; returns the bytes compared. */
static size_t expect_utf16(const uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i <= n; i++) {
        cr_assert_eq(p[2 * i], (uint8_t)s[i], "unit %zu of \"%s\"", i, s);
        cr_assert_eq(p[2 * i + 1], 0);
    }
    return 2 * (n + 1);
}

Test(identity, one_off_bytes)
{
    uint8_t *e;
    size_t len;
    cr_assert_eq(entryid_one_off("Alice", "SMTP", "alice@example.com", &e, &len), S_OK);
    cr_assert_eq(len, 24 + 2 * (6 + 5 + 18));
    cr_assert_eq(memcmp(e, "\0\0\0\0", 4), 0, "flag bytes");
    cr_assert_arr_eq(e + 4, UID, 16);
    cr_assert_arr_eq(MAPI_ONE_OFF_UID, UID, 16);
    cr_assert_eq(e[20], 0, "version");
    cr_assert_eq(e[21], 0, "version");
    cr_assert_eq(e[22], 0x00, "MAPI_ONE_OFF_UNICODE, little-endian");
    cr_assert_eq(e[23], 0x80, "MAPI_ONE_OFF_UNICODE, little-endian");
    size_t o = 24;
    o += expect_utf16(e + o, "Alice");
    o += expect_utf16(e + o, "SMTP");
    o += expect_utf16(e + o, "alice@example.com");
    cr_assert_eq(o, len);
    free(e);
}

Test(identity, one_off_non_ascii_and_surrogate_pairs)
{
    uint8_t *e;
    size_t len;
    /* "é" U+00E9 and U+1F600 (a surrogate pair D83D DE00). */
    cr_assert_eq(entryid_one_off("\xC3\xA9\xF0\x9F\x98\x80", "", "", &e, &len), S_OK);
    static const uint8_t want[] = {0xE9, 0x00, 0x3D, 0xD8, 0x00, 0xDE,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    cr_assert_eq(len, 24 + sizeof want);
    cr_assert_arr_eq(e + 24, want, sizeof want);
    free(e);
}

Test(identity, one_off_rejects_invalid_utf8)
{
    static const char *const bad[] = {
        "\xC0\x80",         /* overlong NUL */
        "\xE0\x80\xAF",     /* overlong '/' */
        "\xED\xA0\x80",     /* UTF-16 surrogate D800 */
        "\xF4\x90\x80\x80", /* above U+10FFFF */
        "\xE2\x82",         /* truncated */
        "\x80",             /* lone continuation byte */
        "\xFF",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *e = (uint8_t *)1;
        size_t len = 1;
        cr_assert_eq(entryid_one_off("ok", "SMTP", bad[i], &e, &len), MAPI_E_INVALID_PARAMETER,
                     "input %zu", i);
        cr_assert_null(e);
        cr_assert_eq(len, 0);
    }
}

Test(identity, search_key)
{
    uint8_t *k;
    size_t len;
    cr_assert_eq(search_key_build("smtp", "Alice@Example.com", &k, &len), S_OK);
    cr_assert_eq(len, sizeof "SMTP:ALICE@EXAMPLE.COM");
    cr_assert_arr_eq(k, "SMTP:ALICE@EXAMPLE.COM", len); /* includes the NUL */
    free(k);
    /* Non-ASCII bytes stay as they are. */
    cr_assert_eq(search_key_build("SMTP", "\xC3\xA9t\xC3\xA9", &k, &len), S_OK);
    cr_assert_arr_eq(k, "SMTP:\xC3\xA9T\xC3\xA9", len);
    free(k);
}

/* Rows are built by hand; only the identity columns matter here. */
static void make_row(status_row *r, uint8_t key, const char *name, uint32_t flags)
{
    memset(r, 0, sizeof *r);
    memset(r->instance_key, key, STATUS_INSTANCE_KEY_LEN);
    r->display_name = (char *)name;
    r->resource_flags = flags;
}

static void give_identity(status_row *r, const char *display, const char *type, const char *addr,
                          const uint8_t *eid, size_t eid_len)
{
    r->has_identity = true;
    r->identity_display = (char *)display;
    r->identity_addrtype = (char *)type;
    r->identity_address = (char *)addr;
    r->identity_entry_id = (uint8_t *)eid;
    r->identity_entry_id_len = eid_len;
}

static const uint8_t EID_A[] = {1, 2, 3, 4};
static const uint8_t EID_B[] = {9, 8, 7};

Test(identity, flagged_row_with_entry_id_wins)
{
    status_row rows[3];
    make_row(&rows[0], 1, "Store", STATUS_NO_PRIMARY_IDENTITY);
    give_identity(&rows[0], "First", "SMTP", "first@x", EID_A, sizeof EID_A);
    make_row(&rows[1], 2, "Contacts", STATUS_PRIMARY_IDENTITY);
    give_identity(&rows[1], "Bob", "SMTP", "bob@x", EID_B, sizeof EID_B);
    static const uint8_t sk[] = {'S', 'K', 0};
    rows[1].identity_search_key = (uint8_t *)sk;
    rows[1].identity_search_key_len = sizeof sk;
    make_row(&rows[2], 3, "Spool", STATUS_NO_PRIMARY_IDENTITY);
    status_table t = {rows, 3, 1};

    identity id;
    cr_assert_eq(identity_query(&t, &id), S_OK);
    cr_assert_eq(id.hr, S_OK);
    cr_assert_eq(id.entry_id_len, sizeof EID_B);
    cr_assert_arr_eq(id.entry_id, EID_B, sizeof EID_B);
    cr_assert_str_eq(id.display, "Bob");
    cr_assert_eq(id.search_key_len, sizeof sk);
    cr_assert_arr_eq(id.search_key, sk, sizeof sk);
    cr_assert(id.has_source);
    cr_assert_arr_eq(id.source_instance_key, rows[1].instance_key, STATUS_INSTANCE_KEY_LEN);
    cr_assert_str_eq(id.source_display_name, "Contacts");
    identity_clear(&id);
    cr_assert_null(id.entry_id);
}

Test(identity, flagged_row_without_entry_id_builds_one_off)
{
    status_row rows[2];
    make_row(&rows[0], 1, "Store", STATUS_NO_PRIMARY_IDENTITY);
    give_identity(&rows[0], "First", "SMTP", "first@x", EID_A, sizeof EID_A);
    make_row(&rows[1], 2, "Contacts", STATUS_PRIMARY_IDENTITY);
    give_identity(&rows[1], "Alice", "SMTP", "alice@example.com", NULL, 0);
    status_table t = {rows, 2, 1};

    uint8_t *want;
    size_t want_len;
    cr_assert_eq(entryid_one_off("Alice", "SMTP", "alice@example.com", &want, &want_len), S_OK);
    identity id;
    cr_assert_eq(identity_query(&t, &id), S_OK);
    cr_assert_eq(id.entry_id_len, want_len);
    cr_assert_arr_eq(id.entry_id, want, want_len);
    /* No search key on the row: built from the address. */
    cr_assert_eq(id.search_key_len, sizeof "SMTP:ALICE@EXAMPLE.COM");
    cr_assert_arr_eq(id.search_key, "SMTP:ALICE@EXAMPLE.COM", id.search_key_len);
    cr_assert_str_eq(id.display, "Alice");
    cr_assert_str_eq(id.source_display_name, "Contacts");
    free(want);
    identity_clear(&id);
}

Test(identity, no_flag_takes_first_row_with_identity)
{
    status_row rows[3];
    make_row(&rows[0], 1, "Subsystem", 0);
    /* Flagged but publishing nothing: supplies no identity. */
    make_row(&rows[1], 2, "Flagged", STATUS_PRIMARY_IDENTITY);
    make_row(&rows[2], 3, "Mailbox", STATUS_NO_PRIMARY_IDENTITY);
    give_identity(&rows[2], "Carol", "SMTP", "carol@x", EID_A, sizeof EID_A);
    status_table t = {rows, 3, 1};

    identity id;
    cr_assert_eq(identity_query(&t, &id), S_OK);
    cr_assert_arr_eq(id.entry_id, EID_A, sizeof EID_A);
    cr_assert_str_eq(id.display, "Carol");
    cr_assert_arr_eq(id.source_instance_key, rows[2].instance_key, STATUS_INSTANCE_KEY_LEN);
    cr_assert_str_eq(id.source_display_name, "Mailbox");
    identity_clear(&id);
}

/* With no flagged row, the first identity entry id
 * wins, not the first row with any identity column. */
Test(identity, no_flag_takes_first_entry_id_not_first_identity)
{
    status_row rows[4];
    make_row(&rows[0], 1, "Subsystem", 0);
    /* First with an identity, but without an entry id. */
    make_row(&rows[1], 2, "Mailbox", STATUS_NO_PRIMARY_IDENTITY);
    give_identity(&rows[1], "Store Person", "SMTP", "store@x", NULL, 0);
    make_row(&rows[2], 3, "Contacts", STATUS_NO_PRIMARY_IDENTITY);
    give_identity(&rows[2], "Book Person", "SMTP", "book@x", EID_B, sizeof EID_B);
    make_row(&rows[3], 4, "Archive", STATUS_NO_PRIMARY_IDENTITY);
    give_identity(&rows[3], "Late Person", "SMTP", "late@x", EID_A, sizeof EID_A);
    status_table t = {rows, 4, 1};

    cr_assert_eq(identity_source(rows, 4), 2);
    identity id;
    cr_assert_eq(identity_query(&t, &id), S_OK);
    cr_assert_eq(id.hr, S_OK);
    cr_assert_eq(id.entry_id_len, sizeof EID_B);
    cr_assert_arr_eq(id.entry_id, EID_B, sizeof EID_B);
    cr_assert_str_eq(id.display, "Book Person");
    cr_assert_eq(id.search_key_len, sizeof "SMTP:BOOK@X");
    cr_assert_arr_eq(id.search_key, "SMTP:BOOK@X", id.search_key_len);
    cr_assert_arr_eq(id.source_instance_key, rows[2].instance_key, STATUS_INSTANCE_KEY_LEN);
    cr_assert_str_eq(id.source_display_name, "Contacts");
    identity_clear(&id);
}

/* ... and a one-off entry id only when no row publishes an entry id: built
 * from the first row with an identity, as a success. */
Test(identity, no_entry_id_anywhere_builds_one_off_from_first)
{
    status_row rows[3];
    make_row(&rows[0], 1, "Subsystem", 0);
    make_row(&rows[1], 2, "Mailbox", STATUS_NO_PRIMARY_IDENTITY);
    give_identity(&rows[1], "Store Person", "SMTP", "store@x", NULL, 0);
    make_row(&rows[2], 3, "Archive", STATUS_NO_PRIMARY_IDENTITY);
    give_identity(&rows[2], "Other Person", "SMTP", "other@x", NULL, 0);
    status_table t = {rows, 3, 1};

    uint8_t *want;
    size_t want_len;
    cr_assert_eq(entryid_one_off("Store Person", "SMTP", "store@x", &want, &want_len), S_OK);
    identity id;
    cr_assert_eq(identity_query(&t, &id), S_OK);
    cr_assert_eq(id.hr, S_OK);
    cr_assert_eq(id.entry_id_len, want_len);
    cr_assert_arr_eq(id.entry_id, want, want_len);
    cr_assert_str_eq(id.display, "Store Person");
    cr_assert_str_eq(id.source_display_name, "Mailbox");
    free(want);
    identity_clear(&id);
}

/* Every provider of the supplier's message service
 * shows the supplier's identity; other services and MAPI's own rows keep
 * theirs; the supplier stays the source. */
Test(identity, shared_within_the_suppliers_service)
{
    status_row src[5];
    make_row(&src[0], 1, "Subsystem", 0);
    make_row(&src[1], 2, "Mailbox", STATUS_NO_PRIMARY_IDENTITY); /* service 0 */
    make_row(&src[2], 3, "Outbox", STATUS_NO_PRIMARY_IDENTITY);  /* service 0, own identity */
    give_identity(&src[2], "Outbox Person", "SMTP", "out@x", NULL, 0);
    make_row(&src[3], 4, "Contacts", STATUS_PRIMARY_IDENTITY); /* service 0: the supplier */
    give_identity(&src[3], "Alice", "SMTP", "alice@x", EID_B, sizeof EID_B);
    static const uint8_t sk[] = {'S', 'M', 'T', 'P', ':', 'A', 0};
    src[3].identity_search_key = (uint8_t *)sk;
    src[3].identity_search_key_len = sizeof sk;
    make_row(&src[4], 5, "Archive", STATUS_NO_PRIMARY_IDENTITY); /* service 1 */
    status_row rows[5];
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(status_row_copy(&rows[i], &src[i]), 0);
    const size_t service[5] = {SIZE_MAX, 0, 0, 0, 1};

    cr_assert_eq(identity_share_service(rows, 5, service), S_OK);
    for (size_t i = 1; i <= 3; i++) {
        cr_assert(rows[i].has_identity, "row %zu", i);
        cr_assert_str_eq(rows[i].identity_display, "Alice");
        cr_assert_str_eq(rows[i].identity_addrtype, "SMTP");
        cr_assert_str_eq(rows[i].identity_address, "alice@x");
        cr_assert_eq(rows[i].identity_entry_id_len, sizeof EID_B);
        cr_assert_arr_eq(rows[i].identity_entry_id, EID_B, sizeof EID_B);
        cr_assert_eq(rows[i].identity_search_key_len, sizeof sk);
        cr_assert_arr_eq(rows[i].identity_search_key, sk, sizeof sk);
        cr_assert_eq(rows[i].identity_shared, i != 3, "row %zu", i);
    }
    cr_assert_not(rows[0].has_identity);
    cr_assert_not(rows[4].has_identity, "another service took the identity");
    cr_assert_eq(identity_source(rows, 5), 3);

    status_table t = {rows, 5, 1};
    identity id;
    cr_assert_eq(identity_query(&t, &id), S_OK);
    cr_assert_str_eq(id.source_display_name, "Contacts");
    identity_clear(&id);
    for (size_t i = 0; i < 5; i++)
        status_row_clear(&rows[i]);
}

/* With no flagged row, the service of the row QueryIdentity picks shares its
 * identity; an earlier sibling that takes the entry id does not become the
 * source. */
Test(identity, shared_without_flag_keeps_the_source)
{
    status_row src[3];
    make_row(&src[0], 1, "Subsystem", 0);
    make_row(&src[1], 2, "Mailbox", STATUS_NO_PRIMARY_IDENTITY);
    make_row(&src[2], 3, "Contacts", STATUS_NO_PRIMARY_IDENTITY);
    give_identity(&src[2], "Dave", "SMTP", "dave@x", EID_A, sizeof EID_A);
    status_row rows[3];
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(status_row_copy(&rows[i], &src[i]), 0);
    const size_t service[3] = {SIZE_MAX, 4, 4};

    cr_assert_eq(identity_share_service(rows, 3, service), S_OK);
    cr_assert(rows[1].has_identity);
    cr_assert_arr_eq(rows[1].identity_entry_id, EID_A, sizeof EID_A);
    cr_assert(rows[1].identity_shared);
    cr_assert_eq(identity_source(rows, 3), 2);
    for (size_t i = 0; i < 3; i++)
        status_row_clear(&rows[i]);
}

Test(identity, nobody_gives_no_service_placeholder)
{
    status_row rows[1];
    make_row(&rows[0], 1, "Subsystem", 0);
    status_table t = {rows, 1, 1};

    uint8_t *want;
    size_t want_len;
    cr_assert_eq(entryid_one_off("Unknown user", "NONE", "", &want, &want_len), S_OK);
    identity id;
    /* A warning: HR_FAILED is false for it, so compare with ==. */
    cr_assert_eq(identity_query(&t, &id), MAPI_W_NO_SERVICE);
    cr_assert_eq(id.hr, MAPI_W_NO_SERVICE);
    cr_assert_gt(id.entry_id_len, 0);
    cr_assert_eq(id.entry_id_len, want_len);
    cr_assert_arr_eq(id.entry_id, want, want_len);
    cr_assert_str_eq(id.display, "Unknown user");
    cr_assert_eq(id.search_key_len, sizeof "NONE:");
    cr_assert_arr_eq(id.search_key, "NONE:", sizeof "NONE:");
    cr_assert_not(id.has_source);
    cr_assert_null(id.source_display_name);
    free(want);
    identity_clear(&id);

    status_table empty = {NULL, 0, 0};
    cr_assert_eq(identity_query(&empty, &id), MAPI_W_NO_SERVICE);
    identity_clear(&id);
}
