/* Profile templates: which names a template takes (and the hostile ones it
 * refuses), the ${user} ${local} ${domain} expansion, explicit entries and file
 * order, the derived profiles' lifetime, the file's mistakes, one warning for
 * many open profiles, and templated logons through the core. */
#include "../../session-core/core.h"
#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile.h"
#include "../../server/config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char warnings[4096];

static void collect(void *ctx, const char *msg)
{
    (void)ctx;
    strncat(warnings, msg, sizeof warnings - strlen(warnings) - 2);
    strcat(warnings, "\n");
}

/* JSON with ' for ". */
static HRESULT load(const char *s, profile_store **st, char *err, size_t errlen)
{
    char *json = strdup(s);
    cr_assert_not_null(json);
    for (char *p = json; *p; p++)
        if (*p == '\'')
            *p = '"';
    warnings[0] = '\0';
    HRESULT hr =
        profile_store_load_string(json, "org.json", "/data", st, err, errlen, collect, NULL);
    free(json);
    return hr;
}

#define LOCAL_SERVICES(dir, display, address)                                                      \
    "'services': [{'name': 'Mail of ${local}', 'providers': ["                                     \
    " {'type': 'MAPI_STORE_PROVIDER', 'kind': 'maildir', 'display_name': 'Mailbox',"               \
    "  'resource_flags': ['STATUS_DEFAULT_STORE'], 'settings': {'path': '" dir "/Maildir'}},"      \
    " {'type': 'MAPI_AB_PROVIDER', 'kind': 'abfile', 'display_name': 'Contacts',"                  \
    "  'resource_flags': ['STATUS_PRIMARY_IDENTITY'],"                                             \
    "  'identity': {'display': '" display "', 'address_type': 'SMTP', 'address': '" address "'},"  \
    "  'settings': {'path': '" dir "/contacts.json'}}]}]"

static const char ORG[] =
    "{'profiles': ["
    " {'name': 'boss@example.org', 'auth': {'type': 'none'}, " LOCAL_SERVICES(
        "boss", "The Boss", "boss@example.org") "}],"
                                                " 'templates': ["
                                                "  {'name': 'staff', 'match': ['*@example.org', "
                                                "'*@Staff.Example.org'], 'auth': {'type': "
                                                "'none'}, " LOCAL_SERVICES(
                                                    "${domain}/${local}", "User ${local}",
                                                    "${user}") "},"
                                                               "  {'name': 'all of org', "
                                                               "'match': ['*.org'], 'auth': "
                                                               "{'type': 'none'}, " LOCAL_SERVICES(
                                                                   "other/${user}", "${user}",
                                                                   "${user}") "}]}";

static const provider_config *provider(const profile *p, size_t i)
{
    return service_provider(profile_service(p, 0), i);
}

Test(profile, template_derives_a_profile_per_name)
{
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(load(ORG, &st, err, sizeof err), S_OK, "%s", err);
    cr_assert_eq(profile_store_count(st), 1, "templates are not profiles");
    cr_assert_eq(profile_store_template_count(st), 2);
    cr_assert_str_eq(profile_name(profile_store_template(st, 0)), "staff");
    cr_assert_str_eq(profile_template_match_at(st, 0, 1), "*@staff.example.org",
                     "patterns compare in lower case");

    profile_store *held = profile_store_ref(st);
    const profile *alice = profile_store_resolve(&held, "Alice@Example.ORG");
    cr_assert_not_null(alice);
    cr_assert_neq(held, st, "a derived profile comes in a store of its own");
    cr_assert_str_eq(profile_name(alice), "alice@example.org", "the name is lower-cased");
    cr_assert_eq(profile_auth(alice), PROFILE_AUTH_NONE);
    cr_assert_str_eq(service_name(profile_service(alice, 0)), "Mail of alice");
    cr_assert_str_eq(provider_config_setting(provider(alice, 0), "path"),
                     "example.org/alice/Maildir");
    cr_assert_str_eq(provider_config_path(provider(alice, 0), "path"),
                     "/data/example.org/alice/Maildir");
    cr_assert_str_eq(provider_config_identity_display(provider(alice, 1)), "User alice");
    cr_assert_str_eq(provider_config_identity_address(provider(alice, 1)), "alice@example.org");
    cr_assert_eq(profile_store_derived_count(st), 1);

    /* While alice's store lives, her name resolves to the very same profile
     * (one logon lock, one shared session). */
    profile_store *again = profile_store_ref(st);
    cr_assert_eq(profile_store_resolve(&again, "alice@example.org"), alice);
    cr_assert_eq(again, held);
    profile_store_unref(again);

    profile_store *bob_store = profile_store_ref(st);
    const profile *bob = profile_store_resolve(&bob_store, "bob@staff.example.org");
    cr_assert_not_null(bob);
    cr_assert_str_eq(provider_config_path(provider(bob, 0), "path"),
                     "/data/staff.example.org/bob/Maildir");
    cr_assert_eq(profile_store_derived_count(st), 2);
    cr_assert_neq(memcmp(provider_config_uid(provider(alice, 0)),
                         provider_config_uid(provider(bob, 0)), MAPIUID_LEN),
                  0, "each user's providers have entry ids of their own");

    /* Memory only for users logged on: the last reference frees it. */
    profile_store_unref(held);
    profile_store_unref(bob_store);
    cr_assert_eq(profile_store_derived_count(st), 0);
    profile_store_unref(st);
}

Test(profile, explicit_entries_win_and_templates_go_in_file_order)
{
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(load(ORG, &st, err, sizeof err), S_OK, "%s", err);
    profile_store *s = profile_store_ref(st);
    const profile *boss = profile_store_resolve(&s, "boss@example.org");
    cr_assert_eq(boss, profile_store_at(st, 0));
    cr_assert_eq(s, st, "an explicit profile keeps the store");
    cr_assert_str_eq(provider_config_identity_display(provider(boss, 1)), "The Boss");
    /* The explicit name in other letter case is not a second profile. */
    cr_assert_null(profile_store_resolve(&s, "BOSS@example.org"));
    cr_assert_eq(s, st);

    /* Both templates match carol@example.org: the first one of the file wins. */
    const profile *carol = profile_store_resolve(&s, "carol@example.org");
    cr_assert_str_eq(provider_config_identity_display(provider(carol, 1)), "User carol");
    profile_store_unref(s);
    s = profile_store_ref(st);
    const profile *dave = profile_store_resolve(&s, "dave@elsewhere.org");
    cr_assert_not_null(dave);
    cr_assert_str_eq(provider_config_setting(provider(dave, 0), "path"),
                     "other/dave@elsewhere.org/Maildir");
    profile_store_unref(s);

    /* A name no template takes is an unknown profile, and find says so too. */
    s = profile_store_ref(st);
    cr_assert_null(profile_store_resolve(&s, "eve@example.com"));
    cr_assert_eq(s, st);
    cr_assert_null(profile_store_find(st, "eve@example.com"));
    cr_assert_eq(profile_store_find(st, "eve@example.org"), profile_store_template(st, 0),
                 "find gives the template's prototype, for a reload's comparison");
    profile_store_unref(s);
    profile_store_unref(st);
}

Test(profile, template_names_are_validated_strictly)
{
    static const char *const hostile[] = {
        "../x@example.org",
        "a/b@example.org",
        "a/../../etc@example.org",
        "..@example.org",
        ".a@example.org",
        "a.@example.org",
        "a..b@example.org",
        "-a@example.org",
        "a\r\nb@example.org",
        "a\n@example.org",
        "a b@example.org",
        "*@example.org",
        "a)(uid=*@example.org",
        "a(b@example.org",
        "a,ou=x@example.org",
        "a+b@example.org",
        "a=b@example.org",
        "a\\2a@example.org",
        "a;b@example.org",
        "a\"b@example.org",
        "a<b@example.org",
        "#a@example.org",
        "a@b@example.org",
        "@example.org",
        "a@",
        "a@example.org/..",
        "a@..example.org",
        "a@-example.org",
        "a@example-.org",
        "a@example..org",
        "a@.org",
        "a@example.org.",
        "\xC3\xA9@example.org",
        "a\t@example.org",
        "a\x7f@example.org",
        "a%2f@example.org",
        "noatsign.org",
        "",
        /* 65 bytes */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org",
    };
    char out[PROFILE_NAME_MAX_CHARS + 1];
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        cr_assert_not(profile_name_for_template(hostile[i], out), "accepted \"%s\"", hostile[i]);
    static const char *const fine[] = {"a@example.org", "first.last@mail.example.org",
                                       "x_y-z9@a-b.org", "A.B@EXAMPLE.ORG"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        cr_assert(profile_name_for_template(fine[i], out), "refused \"%s\"", fine[i]);
    cr_assert_str_eq(out, "a.b@example.org");

    /* And through the store: a template matching everything still derives
     * nothing from a hostile name. */
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(load("{'profiles': [], 'templates': [{'name': 'any', 'match': ['*'], "
                      "'auth': {'type': 'none'}, " LOCAL_SERVICES("${domain}/${local}", "${local}",
                                                                  "${user}") "}]}",
                      &st, err, sizeof err),
                 S_OK, "%s", err);
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        profile_store *s = profile_store_ref(st);
        cr_assert_null(profile_store_resolve(&s, hostile[i]), "derived \"%s\"", hostile[i]);
        cr_assert_eq(s, st);
        profile_store_unref(s);
    }
    cr_assert_eq(profile_store_derived_count(st), 0);
    profile_store_unref(st);
}

Test(profile, template_mistakes_are_reported)
{
    static const struct {
        const char *json, *message;
    } cases[] = {
        {"{'profiles': [], 'templates': [{'name': 't', 'match': ['*@x.org'], "
         "'auth': {'type': 'argon2id', 'verifier': '$argon2id$v=19$m=8,t=1,p=1$x'}, "
         "'services': []}]}",
         "org.json: profile \"t\": auth.type: a template's must be \"upstream\""},
        {"{'profiles': [], 'templates': [{'name': 't', 'match': ['*@x.org'], "
         "'auth': {'type': 'none'}, " LOCAL_SERVICES("${home}", "x", "y") "}]}",
         "org.json: profile \"t\": services[0].providers[0].settings.path: unknown placeholder"},
        {"{'profiles': [], 'templates': [{'name': 't', 'match': ['*@x.org'], "
         "'auth': {'type': 'none'}, " LOCAL_SERVICES("d", "${user", "y") "}]}",
         "org.json: profile \"t\": services[0].providers[1]: unknown placeholder"},
        {"{'profiles': [], 'templates': [{'name': 't', 'match': ['*/x.org'], "
         "'auth': {'type': 'none'}, 'services': []}]}",
         "org.json: profile \"t\": match[0]: letters, digits"},
        {"{'profiles': [], 'templates': [{'name': 't', 'match': ['***@x.org'], "
         "'auth': {'type': 'none'}, 'services': []}]}",
         "org.json: profile \"t\": match[0]: letters, digits"},
        {"{'profiles': [], 'templates': [{'name': 't', 'match': [], "
         "'auth': {'type': 'none'}, 'services': []}]}",
         "org.json: profile \"t\": match: required non-empty array"},
        {"{'profiles': [], 'templates': [{'name': 't', 'match': ['*@x.org'], 'extra': 1, "
         "'auth': {'type': 'none'}, 'services': []}]}",
         "org.json: profile \"t\": extra: unknown key"},
        {"{'profiles': [], 'templates': [{'name': 't', 'match': ['*@x.org'], "
         "'auth': {'type': 'upstream'}, 'services': []}]}",
         "org.json: profile \"t\": auth: \"upstream\" needs a provider with "
         "STATUS_PRIMARY_IDENTITY"},
        {"{'profiles': [], 'templates': {}}", "org.json: templates: must be an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        profile_store *st = NULL;
        char err[512] = "";
        cr_assert_eq(load(cases[i].json, &st, err, sizeof err), MAPI_E_INVALID_PARAMETER,
                     "case %zu", i);
        cr_assert_null(st);
        cr_assert(strncmp(err, cases[i].message, strlen(cases[i].message)) == 0, "case %zu: %s", i,
                  err);
    }
}

Test(profile, one_warning_for_every_open_profile)
{
    char json[4096] = "{'profiles': [";
    for (int i = 0; i < 5; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json),
                 "%s{'name': 'u%d', 'auth': {'type': 'none'}, 'services': []}", i ? "," : "", i);
    strcat(json, "], 'templates': [{'name': 'open', 'match': ['*@x.org'], "
                 "'auth': {'type': 'none'}, 'services': []}]}");
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(load(json, &st, err, sizeof err), S_OK, "%s", err);
    cr_assert_str_eq(warnings, "6 profiles have no authentication: anybody can log on (\"u0\", "
                               "\"u1\", \"u2\", ...)\n");
    profile_store_unref(st);
}

Test(profile, many_profiles_load_and_resolve)
{
    /* The name index: 20,000 profiles, every one found, a duplicate found. */
    enum { N = 20000 };
    size_t cap = (size_t)N * 80 + 64;
    char *json = malloc(cap);
    cr_assert_not_null(json);
    size_t len = (size_t)snprintf(json, cap, "{\"profiles\":[");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(json + len, cap - len,
                                "%s{\"name\":\"u%d\",\"auth\":{\"type\":\"none\"},\"services\":[]}",
                                i ? "," : "", i);
    snprintf(json + len, cap - len, "]}");
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(
        profile_store_load_string(json, "big.json", "/data", &st, err, sizeof err, NULL, NULL),
        S_OK, "%s", err);
    for (int i = 0; i < N; i += 997) {
        char name[16];
        snprintf(name, sizeof name, "u%d", i);
        cr_assert_eq(profile_store_find(st, name), profile_store_at(st, (size_t)i));
    }
    profile_store_unref(st);
    /* The same name again near the end is still caught. */
    snprintf(json + len - 1, cap - len + 1,
             "},{\"name\":\"u17\",\"auth\":{\"type\":\"none\"},\"services\":[]}]}");
    cr_assert_eq(
        profile_store_load_string(json, "big.json", "/data", &st, err, sizeof err, NULL, NULL),
        MAPI_E_INVALID_PARAMETER);
    cr_assert(strstr(err, "profile \"u17\": name: duplicate profile name (also profiles[17])"),
              "%s", err);
    free(json);
}

/* ---- through the core ---------------------------------------------------- */

static core *org_core(void)
{
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(load(ORG, &st, err, sizeof err), S_OK, "%s", err);
    config defaults;
    cr_assert(config_defaults(&defaults));
    core *c = NULL;
    cr_assert_eq(core_new(&defaults.core, st, &c), S_OK);
    return c;
}

static HRESULT logon(core *c, const char *name, core_logon_result *out)
{
    core_logon_request req = {name, "x", MAPI_NEW_SESSION, "test"};
    return core_logon(c, &req, out);
}

Test(profile, templated_logons_get_their_own_profiles_through_the_core)
{
    core *c = org_core();
    core_logon_result a, b, n;
    cr_assert_eq(logon(c, "alice@example.org", &a), S_OK);
    cr_assert_eq(logon(c, "Bob@Example.org", &b), S_OK);
    cr_assert_str_eq(session_profile_name(a.session), "alice@example.org");
    cr_assert_str_eq(session_profile_name(b.session), "bob@example.org");

    /* An unmatched name fails like an unknown profile: LOGON_FAILED after
     * exactly one (dummy) verification. */
    uint64_t before = profile_password_checks();
    cr_assert_eq(logon(c, "mallory@example.com", &n), MAPI_E_LOGON_FAILED);
    cr_assert_eq(profile_password_checks() - before, 1);
    before = profile_password_checks();
    cr_assert_eq(logon(c, "no-such-profile", &n), MAPI_E_LOGON_FAILED);
    cr_assert_eq(profile_password_checks() - before, 1);
    before = profile_password_checks();
    cr_assert_eq(logon(c, "../../etc@example.org", &n), MAPI_E_LOGON_FAILED);
    cr_assert_eq(profile_password_checks() - before, 1);

    profile_store *st = core_profiles(c);
    cr_assert_eq(profile_store_derived_count(st), 2);
    /* A reload to the same file keeps templated sessions (same auth kind). */
    profile_store *st2 = NULL;
    char err[512] = "";
    cr_assert_eq(load(ORG, &st2, err, sizeof err), S_OK, "%s", err);
    cr_assert_eq(core_replace_profiles(c, st2), 0);

    token_hash ha;
    session *s = NULL;
    cr_assert_eq(core_authenticate(c, a.token, strlen(a.token), &s, &ha), S_OK);
    session_unref(s);
    cr_assert_eq(core_logoff(c, &ha, 0), S_OK);
    session_unref(a.session);
    session_unref(b.session);
    core_free(c);
    /* Every derived store went with its sessions (and the pooled provider
     * instances the core's end swept). */
    cr_assert_eq(profile_store_derived_count(st), 0);
    profile_store_unref(st);
}

Test(profile, large_files_parse_one_profile_at_a_time_with_the_same_answers)
{
    /* Quotes, brackets and backslashes inside strings do not end a profile. */
    static const char tricky[] =
        "{\"profiles\": [{\"name\": \"a\\\"]},{\\\\\", \"auth\": {\"type\": \"none\"}, "
        "\"services\": []}, {\"name\": \"b\\\\\", \"auth\": {\"type\": \"none\"}, "
        "\"services\": [{\"name\": \"}]\", \"providers\": []}]}], \"default_profile\": \"b\\\\\"}";
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(
        profile_store_load_string(tricky, "t.json", "/data", &st, err, sizeof err, NULL, NULL),
        S_OK, "%s", err);
    cr_assert_eq(profile_store_count(st), 2);
    cr_assert_str_eq(profile_name(profile_store_at(st, 0)), "a\"]},{\\");
    cr_assert_str_eq(profile_name(profile_store_default(st)), "b\\");
    cr_assert_str_eq(service_name(profile_service(profile_store_at(st, 1), 0)), "}]");
    profile_store_unref(st);

    /* A broken profile is reported where the whole file puts it. */
    static const char broken[] =
        "{\"profiles\": [\n"
        "{\"name\": \"a\", \"auth\": {\"type\": \"none\"}, \"services\": []},\n"
        "{\"name\": \"b\",, \"auth\": {\"type\": \"none\"}}]}";
    cr_assert_eq(
        profile_store_load_string(broken, "t.json", "/data", &st, err, sizeof err, NULL, NULL),
        MAPI_E_INVALID_PARAMETER);
    cr_assert(strncmp(err, "t.json: line 3 column 14:", 25) == 0, "%s", err);
    /* And a key given twice at the top. */
    cr_assert_eq(profile_store_load_string("{\"profiles\": [], \"profiles\": []}", "t.json",
                                           "/data", &st, err, sizeof err, NULL, NULL),
                 MAPI_E_INVALID_PARAMETER);
    cr_assert(strstr(err, "duplicate object key"), "%s", err);
}

Test(profile, missing_settings_past_ten_are_counted_in_one_line)
{
    char json[8192] = "{'profiles': [";
    for (int i = 0; i < 12; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json),
                 "%s{'name': 'u%d', 'auth': {'type': 'argon2id', 'verifier': "
                 "'$argon2id$v=19$m=8,t=1,p=1$x'}, 'services': [{'name': 'S', 'providers': ["
                 "{'type': 'MAPI_TRANSPORT_PROVIDER', 'kind': 'spool', 'display_name': 'Out'}]}]}",
                 i ? "," : "", i);
    strcat(json, "]}");
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(load(json, &st, err, sizeof err), S_OK, "%s", err);
    size_t lines = 0;
    for (const char *c = warnings; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 11, "%s", warnings);
    cr_assert(strstr(warnings, "profile \"u4\": service \"S\": provider \"Out\" has no deliver_to"),
              "%s", warnings);
    cr_assert_null(strstr(warnings, "\"u5\""), "%s", warnings);
    cr_assert(
        strstr(warnings,
               "14 more required settings are missing: those providers will be unconfigured\n"),
        "%s", warnings);
    profile_store_unref(st);
}
