/* Unit suite for the "abfile" address-book provider (provider_abfile.c): the
 * created file, the status row, invalid files at logon and later, and the
 * identity entry id. Real files under a fresh /tmp/mgw-prov-XXXXXX per test
 * (provider_fixture.h). */
#include "provider_fixture.h"

#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile.h"
#include "../../session-core/provider.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

TestSuite(provider_abfile, .init = fx_setup, .fini = fx_teardown);

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

/* The documented abfile MAPIUID (provider_abfile.c). */
static const uint8_t ABFILE_UID[16] = {0xFF, 0xAE, 0x7B, 0x1D, 0x3F, 0x3C, 0x7C, 0xED,
                                       0x4F, 0x16, 0x4A, 0xB4, 0x96, 0x9A, 0x37, 0xFA};

static void assert_ab_entry_id(const provider_identity *id, const char *tail)
{
    size_t tl = strlen(tail);
    cr_assert_eq(id->entry_id_len, 4 + 16 + tl);
    const uint8_t zero[4] = {0, 0, 0, 0};
    cr_assert_eq(memcmp(id->entry_id, zero, 4), 0);
    cr_assert_eq(memcmp(id->entry_id + 4, ABFILE_UID, 16), 0);
    cr_assert_eq(memcmp(id->entry_id + 20, tail, tl), 0);
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
    snprintf(want, sizeof want, "address book file missing: %s", ab);
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
    snprintf(want, sizeof want, "address book file invalid: %s", ab);
    cr_assert_eq(strncmp(st.status_string, want, strlen(want)), 0, "was: %s", st.status_string);
    id.entry_id = NULL;
    cr_assert_eq(fx.ops->identity(fx.state, cfg, &id), MAPI_E_NOT_FOUND);
}
