/* The profiles file: what a valid one yields through the accessors, that
 * every mistake is reported with its profile and field, passwords, and the
 * per-profile logon lock. */
#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* JSON with ' for " so that the test files stay readable. */
static char *q(const char *s)
{
    char *out = strdup(s);
    cr_assert_not_null(out);
    for (char *p = out; *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

static char warnings[2048];

static void collect(void *ctx, const char *msg)
{
    (void)ctx;
    strncat(warnings, msg, sizeof warnings - strlen(warnings) - 2);
    strcat(warnings, "\n");
}

/* Loads s (quoted with ') against base folder /data. */
static HRESULT load(const char *s, profile_store **st, char *err, size_t errlen)
{
    char *json = q(s);
    warnings[0] = '\0';
    HRESULT hr =
        profile_store_load_string(json, "test.json", "/data", st, err, errlen, collect, NULL);
    free(json);
    return hr;
}

static const char VALID[] =
    "{'default_profile': 'alice', 'profiles': ["
    " {'name': 'alice', 'auth': {'type': 'none'}, 'services': ["
    "  {'name': 'Local mail', 'providers': ["
    "   {'type': 'MAPI_STORE_PROVIDER', 'kind': 'maildir', 'display_name': 'Mailbox',"
    "    'resource_flags': ['STATUS_DEFAULT_STORE'],"
    "    'settings': {'path': 'alice/Maildir', 'create': true, 'mode': 448}},"
    "   {'type': 35, 'kind': 'abfile', 'display_name': 'Contacts', 'resource_flags': 4,"
    "    'identity': {'display': 'Alice', 'address_type': 'SMTP', 'address': 'alice@example.com'},"
    "    'settings': {'path': '/abs/contacts.json', 'create': false}},"
    "   {'type': 'MAPI_TRANSPORT_PROVIDER', 'kind': 'spool', 'display_name': 'Outbox'}]}]},"
    " {'name': 'bob', 'auth': {'type': 'argon2id', 'verifier': '$argon2id$v=19$m=8,t=1,p=1$x'},"
    "  'services': []}]}";

Test(profile, valid_file_accessors)
{
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(load(VALID, &st, err, sizeof err), S_OK, "%s", err);
    cr_assert_eq(profile_store_count(st), 2);
    const profile *alice = profile_store_find(st, "alice");
    cr_assert_not_null(alice);
    cr_assert_eq(profile_store_at(st, 0), alice);
    cr_assert_eq(profile_store_default(st), alice);
    cr_assert_null(profile_store_find(st, "Alice"), "names compare byte-wise");
    cr_assert_null(profile_store_at(st, 2));
    cr_assert_str_eq(profile_name(alice), "alice");
    cr_assert_eq(profile_auth(alice), PROFILE_AUTH_NONE);
    cr_assert_eq(profile_auth(profile_store_find(st, "bob")), PROFILE_AUTH_ARGON2ID);
    cr_assert_eq(profile_service_count(profile_store_find(st, "bob")), 0);

    cr_assert_eq(profile_service_count(alice), 1);
    const service_config *svc = profile_service(alice, 0);
    cr_assert_str_eq(service_name(svc), "Local mail");
    cr_assert_eq(service_provider_count(svc), 3);

    const provider_config *md = service_provider(svc, 0);
    cr_assert_eq(provider_config_type(md), MAPI_STORE_PROVIDER);
    cr_assert_str_eq(provider_config_kind(md), "maildir");
    cr_assert_str_eq(provider_config_display_name(md), "Mailbox");
    /* Neither identity flag given: NO_PRIMARY_IDENTITY is added. */
    cr_assert_eq(provider_config_resource_flags(md),
                 STATUS_DEFAULT_STORE | STATUS_NO_PRIMARY_IDENTITY);
    cr_assert_null(provider_config_identity_display(md));
    cr_assert_str_eq(provider_config_setting(md, "path"), "alice/Maildir");
    cr_assert_str_eq(provider_config_path(md, "path"), "/data/alice/Maildir");
    cr_assert_str_eq(provider_config_setting(md, "create"), "true");
    cr_assert_str_eq(provider_config_setting(md, "mode"), "448");
    cr_assert_null(provider_config_setting(md, "missing"));
    cr_assert_null(provider_config_path(md, "missing"));

    const provider_config *ab = service_provider(svc, 1);
    cr_assert_eq(provider_config_type(ab), MAPI_AB_PROVIDER);
    cr_assert_eq(provider_config_resource_flags(ab), STATUS_PRIMARY_IDENTITY);
    cr_assert_str_eq(provider_config_identity_display(ab), "Alice");
    cr_assert_str_eq(provider_config_identity_addrtype(ab), "SMTP");
    cr_assert_str_eq(provider_config_identity_address(ab), "alice@example.com");
    cr_assert_str_eq(provider_config_setting(ab, "create"), "false");
    cr_assert_str_eq(provider_config_path(ab, "path"), "/abs/contacts.json");

    const provider_config *sp = service_provider(svc, 2);
    cr_assert_eq(provider_config_type(sp), MAPI_TRANSPORT_PROVIDER);
    cr_assert_null(provider_config_path(sp, "path"));

    cr_assert_not_null(strstr(warnings, "profile \"alice\" has no authentication: anybody can "
                                        "log on"),
                       "%s", warnings);
    cr_assert_not_null(strstr(warnings, "profile \"alice\": service \"Local mail\": provider "
                                        "\"Outbox\" has no path: it will be unconfigured"),
                       "%s", warnings);
    cr_assert_null(strstr(warnings, "\"bob\""), "%s", warnings);

    /* A second reference keeps the store alive after the first is dropped. */
    cr_assert_eq(profile_store_ref(st), st);
    profile_store_unref(st);
    cr_assert_str_eq(profile_name(profile_store_at(st, 1)), "bob");
    profile_store_unref(st);
    profile_store_unref(NULL);
}

Test(profile, names_count_code_points)
{
    /* 64 two-byte characters are 128 bytes but 64 characters: accepted. */
    char name[129] = "";
    for (int i = 0; i < 64; i++)
        strcat(name, "\xC3\xA9");
    char json[512];
    snprintf(json, sizeof json,
             "{'profiles': [{'name': '%s', 'auth': {'type': 'none'}, "
             "'services': []}]}",
             name);
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(load(json, &st, err, sizeof err), S_OK, "%s", err);
    cr_assert_not_null(profile_store_find(st, name));
    cr_assert_null(profile_store_default(st));
    profile_store_unref(st);
}

/* A file whose only profile, "carol", has the given providers. */
static HRESULT load_carol(const char *providers, char *err, size_t errlen)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{'profiles': [{'name': 'carol', 'auth': {'type': 'none'}, 'services': ["
             "{'name': 'S', 'providers': [%s]}]}]}",
             providers);
    profile_store *st = (profile_store *)1;
    HRESULT hr = load(json, &st, err, errlen);
    cr_assert_null(st, "no store on failure");
    return hr;
}

#define MAILDIR(extra)                                                                             \
    "{'type': 'MAPI_STORE_PROVIDER', 'kind': 'maildir', 'display_name': 'M'" extra "}"
#define ABFILE(extra) "{'type': 'MAPI_AB_PROVIDER', 'kind': 'abfile', 'display_name': 'A'" extra "}"

static void expect_error(const char *providers, const char *field)
{
    char err[512] = "";
    cr_assert_eq(load_carol(providers, err, sizeof err), MAPI_E_INVALID_PARAMETER, "%s", err);
    cr_assert_not_null(strstr(err, "test.json: profile \"carol\": "), "%s", err);
    cr_assert_not_null(strstr(err, field), "want %s in: %s", field, err);
}

Test(profile, provider_errors_name_profile_and_field)
{
    expect_error("{'type': 'MAPI_STORE_PROVIDER', 'kind': 'mbox', 'display_name': 'M'}",
                 "services[0].providers[0].kind: unknown provider kind \"mbox\"");
    expect_error("{'type': 'MAPI_AB_PROVIDER', 'kind': 'maildir', 'display_name': 'M'}",
                 "services[0].providers[0].type:");
    expect_error("{'type': 34, 'kind': 'maildir', 'display_name': 'M'}",
                 "services[0].providers[0].type:");
    expect_error(MAILDIR(", 'resource_flags': ['STATUS_PRIMARY_IDENTITY', "
                         "'STATUS_NO_PRIMARY_IDENTITY']"),
                 "services[0].providers[0].resource_flags:");
    expect_error(MAILDIR(", 'resource_flags': ['STATUS_PRIMARY_IDENTITY']") ", " ABFILE(
                     ", 'resource_flags': ['STATUS_PRIMARY_IDENTITY']"),
                 "services[0].providers[1].resource_flags: a second STATUS_PRIMARY_IDENTITY");
    expect_error(MAILDIR(", 'resource_flags': ['STATUS_DEFAULT_STORE']") ", " MAILDIR(
                     ", 'resource_flags': 2"),
                 "services[0].providers[1].resource_flags: a second STATUS_DEFAULT_STORE");
    expect_error(MAILDIR(", 'resource_flags': ['STATUS_BOGUS']"),
                 "services[0].providers[0].resource_flags[0]: unknown resource flag");
    expect_error(MAILDIR(", 'resource_flags': 16384"), "services[0].providers[0].resource_flags:");
    expect_error(MAILDIR(", 'kindd': 'x'"), "services[0].providers[0].kindd: unknown key");
    expect_error(MAILDIR(", 'identity': {'display': 'C', 'address_type': 'SMTP'}"),
                 "services[0].providers[0].identity.address:");
    expect_error(MAILDIR(", 'identity': {'display': 'C', 'address_type': 'SMTP', 'address': 'a',"
                         " 'x': 1}"),
                 "services[0].providers[0].identity.x: unknown key");
    expect_error(MAILDIR(", 'settings': {'path': 1.5}"), "services[0].providers[0].settings.path");
    expect_error(MAILDIR(", 'settings': {'path': null}"), "services[0].providers[0].settings.path");
    expect_error("{'type': 'MAPI_STORE_PROVIDER', 'kind': 'maildir', 'display_name': ''}",
                 "services[0].providers[0].display_name:");
    /* The kind's own check (check_config) runs at load. */
    expect_error(MAILDIR(", 'settings': {'create': 'maybe'}"),
                 "services[0].providers[0].settings.create");
}

static void expect_file_error(const char *json, const char *want)
{
    profile_store *st = (profile_store *)1;
    char err[512] = "";
    cr_assert_eq(load(json, &st, err, sizeof err), MAPI_E_INVALID_PARAMETER, "%s", err);
    cr_assert_null(st);
    cr_assert_not_null(strstr(err, want), "want %s in: %s", want, err);
}

#define CAROL_OK "{'name': 'carol', 'auth': {'type': 'none'}, 'services': []}"

Test(profile, profile_and_file_errors)
{
    expect_file_error("{'profiles': [" CAROL_OK ", " CAROL_OK "]}",
                      "test.json: profile \"carol\": name: duplicate");
    expect_file_error(
        "{'profiles': [{'name': "
        "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', "
        "'auth': {'type': 'none'}, 'services': []}]}",
        "profile \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": "
        "name:");
    expect_file_error("{'profiles': [{'name': '', 'auth': {'type': 'none'}, 'services': []}]}",
                      "name:");
    expect_file_error("{'profiles': [{'name': 'carol', 'services': []}]}",
                      "profile \"carol\": auth:");
    expect_file_error("{'profiles': [{'name': 'carol', 'auth': {'type': 'argon2id', "
                      "'verifier': '$argon2i$v=19$m=8,t=1,p=1$x'}, 'services': []}]}",
                      "profile \"carol\": auth.verifier:");
    expect_file_error("{'profiles': [{'name': 'carol', 'auth': {'type': 'plain'}, "
                      "'services': []}]}",
                      "profile \"carol\": auth.type:");
    expect_file_error("{'profiles': [{'name': 'carol', 'auth': {'type': 'none', 'verifier': 'x'}, "
                      "'services': []}]}",
                      "profile \"carol\": auth.verifier: unknown key");
    expect_file_error("{'profiles': [{'name': 'carol', 'auth': {'type': 'none'}, "
                      "'servics': []}]}",
                      "profile \"carol\": servics: unknown key");
    expect_file_error("{'profiles': [{'name': 'carol', 'auth': {'type': 'none'}, "
                      "'services': [{'name': 'S', 'providers': [], 'x': 0}]}]}",
                      "profile \"carol\": services[0].x: unknown key");
    expect_file_error("{'default_profile': 'nobody', 'profiles': [" CAROL_OK "]}",
                      "test.json: default_profile: no profile named \"nobody\"");
    expect_file_error("{'default_profile': 'carol', 'profile': [" CAROL_OK "]}",
                      "test.json: profile: unknown key");
    expect_file_error("{'profiles': [" CAROL_OK "],}", "test.json: line 1");
}

Test(profile, load_file_resolves_against_its_folder)
{
    char dir[] = "/tmp/mgw-profile-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/profiles.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    char *json =
        q("{'profiles': [{'name': 'dave', 'auth': {'type': 'none'}, 'services': ["
          "{'name': 'S', 'providers': [" MAILDIR(", 'settings': {'path': 'd/M'}") "]}]}]}");
    fputs(json, f);
    fclose(f);
    free(json);

    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(profile_store_load(path, NULL, &st, err, sizeof err, NULL, NULL), S_OK, "%s", err);
    const provider_config *c = service_provider(profile_service(profile_store_at(st, 0), 0), 0);
    char want[160];
    snprintf(want, sizeof want, "%s/d/M", dir);
    cr_assert_str_eq(provider_config_path(c, "path"), want);
    profile_store_unref(st);

    cr_assert_eq(profile_store_load(path, "/srv", &st, err, sizeof err, NULL, NULL), S_OK);
    c = service_provider(profile_service(profile_store_at(st, 0), 0), 0);
    cr_assert_str_eq(provider_config_path(c, "path"), "/srv/d/M");
    profile_store_unref(st);
    unlink(path);
    rmdir(dir);

    cr_assert_eq(profile_store_load("/nonexistent/p.json", NULL, &st, err, sizeof err, NULL, NULL),
                 MAPI_E_INVALID_PARAMETER);
    cr_assert_not_null(strstr(err, "/nonexistent/p.json"), "%s", err);
}

/* A store with one argon2id profile "erin" whose password is pw. */
static profile_store *erin(const char *pw)
{
    cr_assert_geq(sodium_init(), 0);
    char verifier[crypto_pwhash_STRBYTES];
    cr_assert_eq(crypto_pwhash_str(verifier, pw, strlen(pw), crypto_pwhash_OPSLIMIT_MIN,
                                   crypto_pwhash_MEMLIMIT_MIN),
                 0);
    char json[512];
    snprintf(json, sizeof json,
             "{'profiles': [{'name': 'erin', 'auth': {'type': 'argon2id', 'verifier': '%s'}, "
             "'services': []}]}",
             verifier);
    profile_store *st = NULL;
    char err[512] = "";
    cr_assert_eq(load(json, &st, err, sizeof err), S_OK, "%s", err);
    return st;
}

Test(profile, check_password)
{
    profile_store *st = erin("s3cret");
    const profile *p = profile_store_find(st, "erin");
    cr_assert_eq(profile_check_password(p, "s3cret"), S_OK);
    cr_assert_eq(profile_check_password(p, "s3creT"), MAPI_E_LOGON_FAILED);
    cr_assert_eq(profile_check_password(p, ""), MAPI_E_LOGON_FAILED);
    cr_assert_eq(profile_check_password(p, NULL), MAPI_E_LOGON_FAILED);
    cr_assert_eq(profile_change_password(p, "wrong", "new"), MAPI_E_NO_ACCESS);
    cr_assert_eq(profile_change_password(p, NULL, "new"), MAPI_E_NO_ACCESS);
    cr_assert_eq(profile_change_password(p, "s3cret", ""), MAPI_E_INVALID_PARAMETER);
    cr_assert_eq(profile_check_password(p, "s3cret"), S_OK, "unchanged after failures");
    profile_store_unref(st);

    cr_assert_eq(load(VALID, &st, NULL, 0), S_OK);
    p = profile_store_find(st, "alice");
    cr_assert_eq(profile_check_password(p, NULL), S_OK, "auth none accepts anything");
    cr_assert_eq(profile_change_password(p, "a", "b"), MAPI_E_NO_SUPPORT);
    profile_store_unref(st);
}

Test(profile, change_password, .timeout = 30)
{
    profile_store *st = erin("old");
    const profile *p = profile_store_find(st, "erin");
    cr_assert_eq(profile_change_password(p, "old", "n3w"), S_OK);
    cr_assert_eq(profile_check_password(p, "n3w"), S_OK);
    cr_assert_eq(profile_check_password(p, "old"), MAPI_E_LOGON_FAILED);
    cr_assert_eq(profile_change_password(p, "old", "again"), MAPI_E_NO_ACCESS);
    profile_store_unref(st);
}

typedef struct {
    const profile *p;
    sem_t locked, release;
} holder;

static void *hold_lock(void *arg)
{
    holder *h = arg;
    cr_assert_eq(profile_logon_lock(h->p, -1), 0);
    sem_post(&h->locked);
    sem_wait(&h->release);
    profile_logon_unlock(h->p);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(profile, logon_lock_times_out_while_held, .timeout = 10)
{
    profile_store *st = NULL;
    cr_assert_eq(load(VALID, &st, NULL, 0), S_OK);
    holder h = {profile_store_find(st, "alice"), {{0}}, {{0}}};
    sem_init(&h.locked, 0, 0);
    sem_init(&h.release, 0, 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, hold_lock, &h), 0);
    sem_wait(&h.locked);

    double t0 = now_s();
    cr_assert_eq(profile_logon_lock(h.p, 150), -1);
    cr_assert_geq(now_s() - t0, 0.14, "gave up too early");
    cr_assert_eq(profile_logon_lock(h.p, 0), -1);
    /* Another profile's lock is independent. */
    const profile *bob = profile_store_find(st, "bob");
    cr_assert_eq(profile_logon_lock(bob, 0), 0);
    profile_logon_unlock(bob);

    sem_post(&h.release);
    cr_assert_eq(profile_logon_lock(h.p, 5000), 0);
    profile_logon_unlock(h.p);
    pthread_join(t, NULL);
    sem_destroy(&h.locked);
    sem_destroy(&h.release);
    profile_store_unref(st);
}
