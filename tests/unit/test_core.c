/* Unit suite for core.c (the store and sessions behind it have their own:
 * test_session_store.c, test_session.c): MAPILogonEx rules, shared
 * sessions, Logoff, caps and expiry, called directly (no HTTP). */
#include "../../session-core/core.h"
#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile_internal.h"
#include "../../server/config.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char verifier[crypto_pwhash_STRBYTES];

/* Profiles without providers keep these tests about the session rules; the
 * provider behaviour has its own suite. */
static profile_store *load(const char *extra_profiles)
{
    cr_assert(sodium_init() >= 0);
    cr_assert(crypto_pwhash_str(verifier, "pw", 2, crypto_pwhash_OPSLIMIT_MIN,
                                crypto_pwhash_MEMLIMIT_MIN) == 0);
    char json[4096];
    snprintf(
        json, sizeof json,
        "{\"default_profile\":\"p\",\"profiles\":["
        "{\"name\":\"p\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},\"services\":[]},"
        "{\"name\":\"q\",\"auth\":{\"type\":\"none\"},\"services\":[]}%s]}",
        verifier, extra_profiles);
    profile_store *store = NULL;
    char err[512] = "";
    HRESULT hr =
        profile_store_load_string(json, "test.json", "/tmp", &store, err, sizeof err, NULL, NULL);
    cr_assert_eq(hr, S_OK, "load failed: %s", err);
    return store;
}

static core *new_core(unsigned max_total, unsigned max_per_profile)
{
    config defaults;
    cr_assert(config_defaults(&defaults));
    core_config cfg = defaults.core;
    cfg.max_sessions = max_total;
    cfg.max_sessions_per_profile = max_per_profile;
    cfg.logon_timeout_short_ms = 100;
    core *c = NULL;
    cr_assert_eq(core_new(&cfg, load(""), &c), S_OK);
    return c;
}

static HRESULT logon(core *c, const char *name, const char *pw, uint32_t flags,
                     core_logon_result *out)
{
    core_logon_request req = {name, pw, flags, "test"};
    return core_logon(c, &req, out);
}

static session *auth(core *c, const char *token, token_hash *h)
{
    session *s = NULL;
    HRESULT hr = core_authenticate(c, token, strlen(token), &s, h);
    return hr == S_OK ? s : NULL;
}

Test(core, logon_new_sessions_are_distinct)
{
    core *c = new_core(100, 100);
    core_logon_result a, b;
    cr_assert_eq(logon(c, "p", "pw", MAPI_NEW_SESSION, &a), S_OK);
    cr_assert_eq(logon(c, "p", "pw", MAPI_NEW_SESSION, &b), S_OK);
    cr_assert_str_neq(a.token, b.token);
    cr_assert_str_neq(session_id(a.session), session_id(b.session));
    cr_assert_eq(session_flags(a.session) & (MAPI_EXTENDED | MAPI_UNICODE),
                 MAPI_EXTENDED | MAPI_UNICODE);
    cr_assert_not(a.joined);
    session_unref(a.session);
    session_unref(b.session);
    core_free(c);
}

Test(core, logon_failures_are_logon_failed)
{
    core *c = new_core(100, 100);
    core_logon_result r;
    cr_assert_eq(logon(c, "nope", "pw", MAPI_NEW_SESSION, &r), MAPI_E_LOGON_FAILED);
    cr_assert_eq(logon(c, "p", "wrong", MAPI_NEW_SESSION, &r), MAPI_E_LOGON_FAILED);
    cr_assert_eq(logon(c, "p", NULL, MAPI_NEW_SESSION, &r), MAPI_E_LOGON_FAILED);
    cr_assert_eq(logon(c, NULL, "pw", MAPI_NEW_SESSION, &r), MAPI_E_LOGON_FAILED);
    cr_assert_eq(logon(c, "", "pw", 0, &r), MAPI_E_LOGON_FAILED);
    core_stats st;
    core_get_stats(c, &st);
    cr_assert_eq(st.sessions, 0);
    cr_assert_eq(st.logons_failed, 5);
    core_free(c);
}

Test(core, flags_are_checked)
{
    core *c = new_core(100, 100);
    core_logon_result r;
    cr_assert_eq(logon(c, "q", NULL, 0x4, &r), MAPI_E_UNKNOWN_FLAGS);
    cr_assert_eq(logon(c, "q", NULL, MAPI_LOGON_UI | MAPI_PASSWORD_UI, &r),
                 MAPI_E_INVALID_PARAMETER);
    cr_assert_eq(logon(c, "q", NULL, MAPI_LOGON_UI | MAPI_NEW_SESSION, &r), S_OK);
    session_unref(r.session);
    core_free(c);
}

Test(core, use_default_selects_default_profile)
{
    core *c = new_core(100, 100);
    core_logon_result r;
    cr_assert_eq(logon(c, NULL, "pw", MAPI_USE_DEFAULT | MAPI_NEW_SESSION, &r), S_OK);
    cr_assert_str_eq(session_profile_name(r.session), "p");
    session_unref(r.session);
    cr_assert_eq(logon(c, "", "pw", MAPI_USE_DEFAULT | MAPI_EXPLICIT_PROFILE, &r), S_OK);
    cr_assert_str_eq(session_profile_name(r.session), "p");
    session_unref(r.session);
    core_free(c);
}

Test(core, shared_session_join_and_logoff_shared)
{
    core *c = new_core(100, 100);
    core_logon_result a, b, d;
    cr_assert_eq(logon(c, "p", "pw", MAPI_ALLOW_OTHERS | MAPI_NEW_SESSION, &a), S_OK);
    cr_assert(a.shared);
    core_session_facts facts;
    core_get_session_facts(c, a.session, &facts);
    cr_assert(facts.shared);
    /* Joining still needs the profile's password. */
    cr_assert_eq(logon(c, "p", "bad", 0, &b), MAPI_E_LOGON_FAILED);
    cr_assert_eq(logon(c, "p", "pw", 0, &b), S_OK);
    cr_assert(b.joined);
    cr_assert_eq(a.session, b.session);
    cr_assert_str_neq(a.token, b.token);
    /* A nameless logon joins the gateway's only shared session. */
    cr_assert_eq(logon(c, NULL, "pw", 0, &d), S_OK);
    cr_assert(d.joined);
    core_get_session_facts(c, a.session, &facts);
    cr_assert_eq(facts.handles, 3);

    token_hash hb, ha;
    session *sb = auth(c, b.token, &hb);
    cr_assert_not_null(sb);
    cr_assert_eq(core_logoff(c, &hb, 0), S_OK); /* plain: the others go on */
    cr_assert_null(auth(c, b.token, NULL));
    session *sa = auth(c, a.token, &ha);
    cr_assert_not_null(sa);
    cr_assert_eq(core_logoff(c, &ha, MAPI_LOGOFF_SHARED), S_OK);
    cr_assert_null(auth(c, d.token, NULL));
    cr_assert(session_is_ended(a.session));
    status_table t;
    cr_assert_eq(session_status_table(a.session, &t), MAPI_E_END_OF_SESSION);
    session_unref(sa);
    session_unref(sb);
    session_unref(a.session);
    session_unref(b.session);
    session_unref(d.session);
    core_free(c);
}

Test(core, nameless_logon_without_shared_fails)
{
    core *c = new_core(100, 100);
    core_logon_result a, r;
    cr_assert_eq(logon(c, "p", "pw", MAPI_NEW_SESSION, &a), S_OK);
    cr_assert_eq(logon(c, NULL, "pw", 0, &r), MAPI_E_LOGON_FAILED);
    session_unref(a.session);
    core_free(c);
}

Test(core, logoff_rejects_unknown_flags)
{
    core *c = new_core(100, 100);
    core_logon_result a;
    token_hash h;
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION, &a), S_OK);
    session *s = auth(c, a.token, &h);
    cr_assert_eq(core_logoff(c, &h, 0x4), MAPI_E_UNKNOWN_FLAGS);
    session *again = auth(c, a.token, NULL);
    cr_assert_not_null(again);
    session_unref(again);
    cr_assert_eq(core_logoff(c, &h, 0), S_OK);
    cr_assert_eq(core_logoff(c, &h, 0), MAPI_E_END_OF_SESSION);
    session_unref(s);
    session_unref(a.session);
    core_free(c);
}

Test(core, caps)
{
    core *c = new_core(3, 2);
    core_logon_result r[4];
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION, &r[0]), S_OK);
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION, &r[1]), S_OK);
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION, &r[2]), MAPI_E_SESSION_LIMIT);
    cr_assert_eq(logon(c, "p", "pw", MAPI_NEW_SESSION, &r[2]), S_OK);
    cr_assert_eq(logon(c, "p", "pw", MAPI_NEW_SESSION, &r[3]), MAPI_E_NOT_ENOUGH_RESOURCES);
    for (int i = 0; i < 3; i++)
        session_unref(r[i].session);
    core_free(c);
}

Test(core, reap_ends_expired_sessions)
{
    core *c = new_core(100, 100);
    core_logon_result r;
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION, &r), S_OK);
    cr_assert_eq(core_reap(c, time(NULL)), 0);
    cr_assert_eq(core_reap(c, time(NULL) + 1801), 1);
    cr_assert_null(auth(c, r.token, NULL));
    cr_assert(session_is_ended(r.session));
    session_unref(r.session);
    core_free(c);
}

static void *hold_lock(void *arg)
{
    const profile *p = arg;
    profile_logon_lock(p, -1);
    usleep(500 * 1000);
    profile_logon_unlock(p);
    return NULL;
}

Test(core, timeout_short_gives_timeout)
{
    core *c = new_core(100, 100);
    profile_store *store = core_profiles(c);
    const profile *q = profile_store_find(store, "q");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, hold_lock, (void *)q), 0);
    usleep(100 * 1000);
    core_logon_result r;
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION | MAPI_TIMEOUT_SHORT, &r), MAPI_E_TIMEOUT);
    /* Without TIMEOUT_SHORT the logon waits its turn and succeeds. */
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION, &r), S_OK);
    pthread_join(t, NULL);
    session_unref(r.session);
    profile_store_unref(store);
    core_free(c);
}

Test(core, status_table_of_empty_profile_has_mapi_rows)
{
    core *c = new_core(100, 100);
    core_logon_result r;
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION | MAPI_NO_MAIL, &r), S_OK);
    status_table t;
    cr_assert_eq(session_status_table(r.session, &t), S_OK);
    cr_assert_eq(t.count, 3);
    cr_assert_eq(t.rows[0].resource_type, MAPI_SUBSYSTEM);
    cr_assert_eq(t.rows[1].resource_type, MAPI_SPOOLER);
    cr_assert(t.rows[1].status_code & STATUS_FAILURE);
    cr_assert_eq(t.rows[1].resource_methods, 0x9);
    cr_assert_eq(t.rows[2].resource_type, MAPI_AB);
    cr_assert_eq(session_settings_dialog(r.session, t.rows[0].instance_key, 0), MAPI_E_NO_SUPPORT);
    cr_assert_eq(session_validate_state(r.session, t.rows[0].instance_key, 0x2, NULL),
                 MAPI_E_UNKNOWN_FLAGS);
    identity id;
    cr_assert_eq(session_identity(r.session, &id), MAPI_W_NO_SERVICE);
    cr_assert_gt(id.entry_id_len, 0);
    identity_clear(&id);
    status_table_free(&t);
    session_unref(r.session);
    core_free(c);
}

Test(core, joining_an_expired_shared_session_starts_a_new_one)
{
    config defaults;
    cr_assert(config_defaults(&defaults));
    core_config cfg = defaults.core;
    cfg.idle_timeout_s = 1;
    core *c = NULL;
    cr_assert_eq(core_new(&cfg, load(""), &c), S_OK);
    core_logon_result a, b;
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION | MAPI_ALLOW_OTHERS, &a), S_OK);
    sleep(2); /* past the idle timeout; no reaper runs here */
    cr_assert_eq(logon(c, "q", NULL, 0, &b), S_OK);
    cr_assert_not(b.joined, "an expired shared session must not be joined");
    cr_assert_neq(a.session, b.session);
    cr_assert(session_is_ended(a.session));
    session *s = auth(c, b.token, NULL);
    cr_assert_not_null(s, "the new handle works at once");
    session_unref(s);
    session_unref(a.session);
    session_unref(b.session);
    core_free(c);
}

/* ---- password checks, reloads, change-password ---------------- */

static profile_store *load_json(const char *json)
{
    profile_store *store = NULL;
    char err[512] = "";
    HRESULT hr =
        profile_store_load_string(json, "test.json", "/tmp", &store, err, sizeof err, NULL, NULL);
    cr_assert_eq(hr, S_OK, "load failed: %s", err);
    return store;
}

static void make_verifier(char out[crypto_pwhash_STRBYTES], const char *password)
{
    cr_assert(sodium_init() >= 0);
    cr_assert(crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_MIN,
                                crypto_pwhash_MEMLIMIT_MIN) == 0);
}

/* An upstream profile whose IMAP server is never reached in these tests. */
#define UPSTREAM_PROFILE                                                                           \
    ",{\"name\":\"u\",\"auth\":{\"type\":\"upstream\"},\"services\":[{\"name\":\"Mail\","          \
    "\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"imap\",\"display_name\":\"I\","   \
    "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\",\"STATUS_DEFAULT_STORE\"],"                   \
    "\"settings\":{\"url\":\"imap://127.0.0.1:1\",\"username\":\"x\",\"timeout_ms\":500}}]}]}"

/* Whatever makes a logon fail - unknown profile, no
 * profile, missing, empty or wrong password, local or upstream
 * authentication - it runs exactly one argon2id verification. */
Test(core, every_refusal_costs_one_verification)
{
    config defaults;
    cr_assert(config_defaults(&defaults));
    core_config cfg = defaults.core;
    core *c = NULL;
    cr_assert_eq(core_new(&cfg, load(UPSTREAM_PROFILE), &c), S_OK);
    static const struct {
        const char *name, *password;
        uint32_t flags;
    } cases[] = {
        {"nope", "pw", MAPI_NEW_SESSION},
        {"nope", NULL, MAPI_NEW_SESSION},
        {"nope", "", MAPI_NEW_SESSION},
        {"p", "wrong", MAPI_NEW_SESSION},
        {"p", "", MAPI_NEW_SESSION},
        {"p", NULL, MAPI_NEW_SESSION},
        {"p", "", 0},
        {NULL, "pw", 0},
        {NULL, NULL, 0},
        {"u", NULL, MAPI_NEW_SESSION},
        {"u", "", MAPI_NEW_SESSION},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        core_logon_result r;
        uint64_t before = profile_password_checks();
        core_logon_request req = {cases[i].name, cases[i].password, cases[i].flags, "10.0.0.1"};
        cr_expect_eq(core_logon(c, &req, &r), MAPI_E_LOGON_FAILED, "case %zu", i);
        cr_expect_eq(profile_password_checks() - before, 1, "case %zu: %llu verifications", i,
                     (unsigned long long)(profile_password_checks() - before));
    }
    /* A right password costs one too; a profile without one costs none. */
    core_logon_result r;
    uint64_t before = profile_password_checks();
    cr_assert_eq(logon(c, "p", "pw", MAPI_NEW_SESSION, &r), S_OK);
    cr_expect_eq(profile_password_checks() - before, 1);
    session_unref(r.session);
    before = profile_password_checks();
    cr_assert_eq(logon(c, "q", NULL, MAPI_NEW_SESSION, &r), S_OK);
    cr_expect_eq(profile_password_checks() - before, 0);
    session_unref(r.session);
    /* A throttled attempt is answered without any. */
    for (int i = 0; i < 5; i++)
        logon(c, "p", "guess", MAPI_NEW_SESSION, &r);
    before = profile_password_checks();
    cr_assert_eq(logon(c, "p", "pw", MAPI_NEW_SESSION, &r), MAPI_E_LOGON_FAILED);
    cr_expect_gt(r.retry_after_s, 0);
    cr_expect_eq(profile_password_checks() - before, 0);
    core_free(c);
}

/* The unknown-profile dummy costs what the file's profiles cost: their
 * most common argon2id parameters, else hash-password's. */
Test(core, dummy_verifier_takes_the_profiles_parameters)
{
    char v1[crypto_pwhash_STRBYTES], v2[crypto_pwhash_STRBYTES], v3[crypto_pwhash_STRBYTES];
    make_verifier(v1, "a");
    make_verifier(v2, "b");
    cr_assert(crypto_pwhash_str(v3, "c", 1, 3, 2 * crypto_pwhash_MEMLIMIT_MIN) == 0);
    char json[4096];
    snprintf(
        json, sizeof json,
        "{\"profiles\":["
        "{\"name\":\"a\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},\"services\":[]},"
        "{\"name\":\"b\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},\"services\":[]},"
        "{\"name\":\"c\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},\"services\":[]}"
        "]}",
        v1, v2, v3);
    profile_store *st = load_json(json);
    char want[64];
    snprintf(want, sizeof want, "$argon2id$v=19$m=%u,t=%u,p=1$",
             (unsigned)(crypto_pwhash_MEMLIMIT_MIN / 1024), (unsigned)crypto_pwhash_OPSLIMIT_MIN);
    cr_expect(strncmp(st->dummy, want, strlen(want)) == 0, "dummy %s, want %s...", st->dummy, want);
    cr_expect_neq(crypto_pwhash_str_verify(st->dummy, "", 0), 0);
    profile_store_unref(st);

    st =
        load_json("{\"profiles\":[{\"name\":\"n\",\"auth\":{\"type\":\"none\"},\"services\":[]}]}");
    cr_expect(strncmp(st->dummy, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0, "dummy %s",
              st->dummy);
    profile_store_unref(st);
}

static const char RELOAD_JSON[] =
    "{\"profiles\":["
    "{\"name\":\"keep\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},\"services\":[]},"
    "{\"name\":\"change\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},\"services\":[]},"
    "{\"name\":\"open\",\"auth\":%s,\"services\":[]}%s]}";

/* A reload ends the sessions of profiles whose password
 * changed or that are gone, keeps the others, and a nameless join is checked
 * against the profile as it is now. */
Test(core, reload_ends_sessions_whose_authentication_changed)
{
    char keep[crypto_pwhash_STRBYTES], old_pw[crypto_pwhash_STRBYTES],
        new_pw[crypto_pwhash_STRBYTES], open_pw[crypto_pwhash_STRBYTES];
    make_verifier(keep, "keep-pw");
    make_verifier(old_pw, "old-pw");
    make_verifier(new_pw, "new-pw");
    make_verifier(open_pw, "open-pw");
    char json[4096], open_auth[512];
    snprintf(json, sizeof json, RELOAD_JSON, keep, old_pw, "{\"type\":\"none\"}",
             ",{\"name\":\"gone\",\"auth\":{\"type\":\"none\"},\"services\":[]}");
    config defaults;
    cr_assert(config_defaults(&defaults));
    core_config cfg = defaults.core;
    core *c = NULL;
    cr_assert_eq(core_new(&cfg, load_json(json), &c), S_OK);
    core_logon_result k, ch, op, gn;
    cr_assert_eq(logon(c, "keep", "keep-pw", MAPI_NEW_SESSION, &k), S_OK);
    cr_assert_eq(logon(c, "change", "old-pw", MAPI_NEW_SESSION, &ch), S_OK);
    cr_assert_eq(logon(c, "open", NULL, MAPI_NEW_SESSION | MAPI_ALLOW_OTHERS, &op), S_OK);
    cr_assert_eq(logon(c, "gone", NULL, MAPI_NEW_SESSION, &gn), S_OK);

    /* "change" gets a new password, "open" one at all, "gone" goes. */
    snprintf(open_auth, sizeof open_auth, "{\"type\":\"argon2id\",\"verifier\":\"%s\"}", open_pw);
    snprintf(json, sizeof json, RELOAD_JSON, keep, new_pw, open_auth, "");
    cr_expect_eq(core_replace_profiles(c, load_json(json)), 3);

    session *s = auth(c, k.token, NULL);
    cr_expect_not_null(s, "an unchanged profile's session goes on");
    session_unref(s);
    cr_expect_null(auth(c, ch.token, NULL), "the changed password's session ended");
    cr_expect_null(auth(c, op.token, NULL), "the none-turned-argon2id session ended");
    cr_expect_null(auth(c, gn.token, NULL), "the removed profile's session ended");
    cr_expect(session_is_ended(op.session));

    core_logon_result r;
    cr_expect_eq(logon(c, "change", "old-pw", MAPI_NEW_SESSION, &r), MAPI_E_LOGON_FAILED);
    cr_expect_eq(logon(c, NULL, NULL, 0, &r), MAPI_E_LOGON_FAILED, "no password, nameless");
    cr_expect_eq(logon(c, "open", NULL, 0, &r), MAPI_E_LOGON_FAILED, "no password, named");
    cr_assert_eq(logon(c, "open", "open-pw", MAPI_NEW_SESSION | MAPI_ALLOW_OTHERS, &r), S_OK);
    core_logon_result j;
    cr_expect_eq(logon(c, NULL, NULL, 0, &j), MAPI_E_LOGON_FAILED);
    cr_assert_eq(logon(c, NULL, "open-pw", 0, &j), S_OK);
    cr_expect(j.joined);
    session_unref(j.session);
    session_unref(r.session);
    session_unref(k.session);
    session_unref(ch.session);
    session_unref(op.session);
    session_unref(gn.session);
    core_free(c);
}

/* Wrong old passwords count as failed logons. */
Test(core, change_password_guesses_are_throttled)
{
    char dir[] = "/tmp/mapigw-test-core-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char v[crypto_pwhash_STRBYTES], json[4096];
    make_verifier(v, "right");
    snprintf(json, sizeof json,
             "{\"profiles\":[{\"name\":\"s\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"},"
             "\"services\":[{\"name\":\"Book\",\"providers\":[{\"type\":\"MAPI_AB_PROVIDER\","
             "\"kind\":\"abfile\",\"display_name\":\"Book\","
             "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\"],"
             "\"identity\":{\"display\":\"Sam\",\"address_type\":\"SMTP\","
             "\"address\":\"sam@example.invalid\"},"
             "\"settings\":{\"path\":\"%s/ab.json\",\"create\":true}}]}]}]}",
             v, dir);
    config defaults;
    cr_assert(config_defaults(&defaults));
    core_config cfg = defaults.core;
    core *c = NULL;
    cr_assert_eq(core_new(&cfg, load_json(json), &c), S_OK);
    core_logon_result r;
    cr_assert_eq(logon(c, "s", "right", MAPI_NEW_SESSION, &r), S_OK);
    status_table t;
    cr_assert_eq(session_status_table(r.session, &t), S_OK);
    const uint8_t *ik = NULL;
    for (size_t i = 0; i < t.count; i++)
        if (t.rows[i].resource_methods & STATUS_CHANGE_PASSWORD)
            ik = t.rows[i].instance_key;
    cr_assert_not_null(ik);

    unsigned retry = 0;
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(core_change_password(c, r.session, "10.0.0.5", ik, "guess", "x", NULL, &retry),
                     MAPI_E_NO_ACCESS, "guess %d", i);
        cr_expect_eq(retry, 0);
    }
    uint64_t before = profile_password_checks();
    cr_expect_eq(core_change_password(c, r.session, "10.0.0.5", ik, "right", "x", NULL, &retry),
                 MAPI_E_LOGON_FAILED, "throttled, even with the right old password");
    cr_expect_gt(retry, 0);
    cr_expect_eq(profile_password_checks(), before, "a throttled call checks nothing");
    /* The same throttle as logons: this client's logons to s wait too. */
    core_logon_request req = {"s", "right", MAPI_NEW_SESSION, "10.0.0.5"};
    core_logon_result l;
    cr_expect_eq(core_logon(c, &req, &l), MAPI_E_LOGON_FAILED);
    cr_expect_gt(l.retry_after_s, 0);
    /* Another client is not slowed; a call the row refuses anyway passes. */
    cr_expect_eq(core_change_password(c, r.session, "10.0.0.6", ik, "right", "n3w", NULL, &retry),
                 S_OK);
    uint8_t missing[STATUS_INSTANCE_KEY_LEN];
    memset(missing, 0xEE, sizeof missing);
    cr_expect_eq(core_change_password(c, r.session, "10.0.0.5", missing, "a", "b", NULL, &retry),
                 MAPI_E_NOT_FOUND);
    status_table_free(&t);
    session_unref(r.session);
    core_free(c);
    char path[128];
    snprintf(path, sizeof path, "%s/ab.json", dir);
    unlink(path);
    rmdir(dir);
}

/* Failed logons count against the profile they reached: naming the default
 * profile by name and reaching it through MAPI_USE_DEFAULT are one key, so a
 * guesser does not get the threshold twice. */
Test(core, throttle_counts_the_profile_reached_not_the_name_sent)
{
    core *c = new_core(100, 100);
    core_logon_result r;
    /* default threshold 5: three failures by name, two through the default */
    for (int i = 0; i < 3; i++)
        cr_expect_eq(logon(c, "p", "guess", MAPI_NEW_SESSION, &r), MAPI_E_LOGON_FAILED);
    for (int i = 0; i < 2; i++)
        cr_expect_eq(logon(c, NULL, "guess", MAPI_NEW_SESSION | MAPI_USE_DEFAULT, &r),
                     MAPI_E_LOGON_FAILED);
    /* the sixth attempt, either way, is throttled even with the right password */
    cr_expect_eq(logon(c, NULL, "pw", MAPI_NEW_SESSION | MAPI_USE_DEFAULT, &r),
                 MAPI_E_LOGON_FAILED);
    cr_expect_gt(r.retry_after_s, 0, "the default profile was not throttled");
    cr_expect_eq(logon(c, "p", "pw", MAPI_NEW_SESSION, &r), MAPI_E_LOGON_FAILED);
    cr_expect_gt(r.retry_after_s, 0, "the profile by name was not throttled");
    core_free(c);
}
