/* Black-box: profile templates against real servers. With dovecot, one
 * template for *@example.org whose IMAP login is ${local}: two users of the
 * domain get their own mailboxes and identities, a user of another domain and
 * a hostile name are refused exactly as an unknown profile, and a wrong
 * password is refused by dovecot and then throttled. With slapd, a template
 * whose LDAP bind DN is uid=${local},...: the directory checks the password
 * and gives the display name. */
#include "../support/gw.h"
#include "../support/srv_dovecot.h"
#include "../support/srv_slapd.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;
static srv_dovecot D;
static srv_slapd S;
static bool dovecot_up, slapd_up;

static void fini(void)
{
    if (G)
        gw_finish(G);
    G = NULL;
    if (dovecot_up)
        srv_dovecot_destroy(&D);
    if (slapd_up)
        srv_slapd_destroy(&S);
}

TestSuite(templates, .fini = fini, .timeout = 60);

#define MAIL "[\"MAPI_NEW_SESSION\",\"MAPI_FORCE_DOWNLOAD\"]"
#define STORE "Mailbox of ${local}"

static const srv_dovecot_user USERS[] = {{"alice", "alice-secret"}, {"bob", "bob-secret"}};

static const char MSG[] = "From: carol@example.com\r\nTo: alice@example.org\r\n"
                          "Subject: For Alice only\r\n\r\nHello.\r\n";

/* dovecot with a message for alice only, and a gateway whose one template
 * takes *@example.org. */
static void start_imap(const char *const *args)
{
    srv_dovecot_start(&D, USERS, 2);
    dovecot_up = true;
    srv_dovecot_deliver(&D, "alice", NULL, MSG, false);
    char url[64], json[2048], path[512];
    srv_dovecot_url(&D, url, sizeof url);
    snprintf(json, sizeof json,
             "{\"profiles\":[],\"templates\":[{\"name\":\"example.org staff\","
             "\"match\":[\"*@example.org\"],\"auth\":{\"type\":\"upstream\"},"
             "\"services\":[{\"name\":\"Mail\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\","
             "\"kind\":\"imap\",\"display_name\":\"" STORE "\","
             "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\",\"STATUS_DEFAULT_STORE\"],"
             "\"identity\":{\"display\":\"${local} at ${domain}\",\"address_type\":\"SMTP\","
             "\"address\":\"${user}\"},"
             "\"settings\":{\"url\":\"%s\",\"username\":\"${local}\",\"timeout_ms\":10000}}]}]}]}",
             url);
    G = gw_start(srv_write_file(&D.p, "profiles.json", json, path), args);
    gw_add_secret(G, "alice-secret");
    gw_add_secret(G, "bob-secret");
}

static json_t *get_ok(const char *path, const char *token, gw_resp *r)
{
    gw_get(G, path, token, r);
    cr_assert_eq(r->status, 200, "GET %s: %ld %s", path, r->status, r->body);
    return r->json;
}

/* The user's store row's status string (the INBOX count after the sync). */
static void expect_mailbox(const char *token, const char *store, const char *status_text)
{
    gw_resp r;
    json_t *row = gw_find_row(get_ok("/status", token, &r), store);
    cr_assert_not_null(row, "no row %s: %s", store, r.body);
    const char *st = gw_jstr(row, "status_string");
    cr_expect(st && strstr(st, status_text), "%s: %s, not %s", store, st, status_text);
    gw_resp_free(&r);
}

/* The identity's display name and its search key, which is
 * "SMTP:<ADDRESS IN UPPER CASE>" NUL in hex (MAPI's PR_SEARCH_KEY). */
static void expect_identity(const char *token, const char *display, const char *address)
{
    char key[256] = "534D54503A"; /* SMTP: */
    for (const char *c = address; *c; c++)
        snprintf(key + strlen(key), sizeof key - strlen(key), "%02X",
                 (unsigned)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c));
    strcat(key, "00");
    gw_resp r;
    json_t *id = get_ok("/identity", token, &r);
    if (display)
        cr_expect_str_eq(gw_jstr(id, "display"), display, "%s", r.body);
    cr_expect_str_eq(gw_jstr(id, "search_key"), key, "%s", r.body);
    gw_resp_free(&r);
}

Test(templates, two_users_of_one_domain_get_their_own_mailboxes_and_identities)
{
    start_imap(NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice@example.org", "alice-secret", MAIL, &a);
    gw_logon_ok(G, "Bob@Example.org", "bob-secret", MAIL, &b);
    cr_expect_str_eq(gw_jstr(a.resp.json, "profile"), "alice@example.org");
    cr_expect_str_eq(gw_jstr(b.resp.json, "profile"), "bob@example.org", "lower-cased");
    expect_identity(a.token, "alice at example.org", "alice@example.org");
    expect_identity(b.token, "bob at example.org", "bob@example.org");
    expect_mailbox(a.token, "Mailbox of alice", "1 message (1 unseen)");
    expect_mailbox(b.token, "Mailbox of bob", "0 messages (0 unseen)");

    /* Each user's shared session is their own. */
    gw_session sa, ja;
    gw_logon_ok(G, "alice@example.org", "alice-secret",
                "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &sa);
    gw_logon_ok(G, "alice@example.org", "alice-secret", "[]", &ja);
    cr_expect_str_eq(ja.id, sa.id);
    gw_session nb;
    cr_expect_eq(gw_logon(G, "bob@example.org", "bob-secret", "[]", &nb), 201);
    cr_expect_str_neq(nb.id, sa.id, "bob joined alice's shared session");
    gw_session_free(&nb);
    gw_session_free(&ja);
    gw_session_free(&sa);
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(templates, a_name_no_template_takes_is_refused_as_an_unknown_profile)
{
    start_imap(NULL);
    gw_session unknown;
    cr_assert_eq(gw_logon(G, "nobody-at-all", "alice-secret", MAIL, &unknown), 401);
    gw_assert_problem(&unknown.resp, 401, "MAPI_E_LOGON_FAILED");
    static const char *const names[] = {
        "alice@example.com",      /* another domain, though dovecot knows alice */
        "alice@example.org.evil", /* the pattern is anchored */
        "../alice@example.org",   /* path traversal */
        "alice)(uid=*@example.org" /* LDAP filter injection */,
        "alice\\r\\nA1 LOGOUT@example.org" /* CR/LF into the IMAP exchange */,
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        gw_session s;
        cr_expect_eq(gw_logon(G, names[i], "alice-secret", MAIL, &s), 401, "%s: %s", names[i],
                     s.resp.body);
        gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
        /* The unknown profile's answer but for "instance" (each request's id):
         * nothing tells them apart. */
        json_object_del(s.resp.json, "instance");
        json_object_del(unknown.resp.json, "instance");
        cr_expect(json_equal(s.resp.json, unknown.resp.json), "%s: %s vs %s", names[i],
                  s.resp.body, unknown.resp.body);
        gw_session_free(&s);
    }
    gw_session_free(&unknown);
}

Test(templates, a_wrong_password_is_refused_upstream_and_throttled)
{
    /* One failure throttles: dovecot's own penalty after a refused login
     * would make a second one wait for seconds. */
    static const char *const ARGS[] = {"--throttle-after", "1", NULL};
    start_imap(ARGS);
    gw_session s;
    cr_expect_eq(gw_logon(G, "alice@example.org", "alice-wrong", MAIL, &s), 401, "%s", s.resp.body);
    gw_assert_problem(&s.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&s);
    /* Throttled now, before dovecot is asked: even the right password, and
     * the name in other letter case is the same derived profile. */
    cr_expect_eq(gw_logon(G, "ALICE@example.org", "alice-secret", MAIL, &s), 429, "%s",
                 s.resp.body);
    gw_assert_problem(&s.resp, 429, "MAPI_E_LOGON_FAILED");
    cr_expect_not_null(gw_header(&s.resp, "Retry-After"));
    gw_session_free(&s);
    /* The throttle is per derived profile: bob is not held up. */
    gw_logon_ok(G, "bob@example.org", "bob-secret", MAIL, &s);
    gw_session_free(&s);
}

Test(templates, ldap_bind_checks_the_password_and_names_the_user)
{
    srv_slapd_start(&S);
    slapd_up = true;
    char json[2048], path[512];
    snprintf(json, sizeof json,
             "{\"profiles\":[],\"templates\":[{\"name\":\"directory\","
             "\"match\":[\"*@example.org\"],\"auth\":{\"type\":\"upstream\"},"
             "\"services\":[{\"name\":\"Directory\",\"providers\":[{\"type\":\"MAPI_AB_PROVIDER\","
             "\"kind\":\"ldap\",\"display_name\":\"Directory\","
             "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\"],"
             "\"settings\":{\"url\":\"%s\",\"base_dn\":\"" SRV_SLAPD_PEOPLE "\","
             "\"bind_dn\":\"uid=${local}," SRV_SLAPD_PEOPLE "\",\"timeout_ms\":3000}}]}]}]}",
             S.url);
    G = gw_start(srv_write_file(&S.proc, "profiles.json", json, path), NULL);
    gw_add_secret(G, "alice-pw");
    gw_session a, b, bad;
    gw_logon_ok(G, "alice@example.org", "alice-pw", MAIL, &a);
    gw_logon_ok(G, "bob@example.org", "bob-pw", MAIL, &b);
    /* The display names come from the directory entries the binds reached. */
    expect_identity(a.token, "Alice Lidell", "alice@example.org");
    expect_identity(b.token, "Bob M\xC3\xBCller", "bob@example.org");
    cr_expect_eq(gw_logon(G, "alice@example.org", "bob-pw", MAIL, &bad), 401, "%s", bad.resp.body);
    gw_session_free(&bad);
    /* A DN-altering name never reaches the directory. */
    cr_expect_eq(gw_logon(G, "bob,ou=people@example.org", "bob-pw", MAIL, &bad), 401);
    gw_session_free(&bad);
    gw_session_free(&a);
    gw_session_free(&b);
}

/* GET /profiles (admin): the template with its patterns and the profiles it
 * derived for the users logged on, never a setting or a secret. */
Test(templates, the_admin_sees_templates_and_the_profiles_in_use)
{
    static const char key[] = "templates-admin-key-0123456789abcdef";
    const char *args[] = {"--admin-key", key, NULL};
    start_imap(args);
    gw_add_secret(G, key);
    gw_session a, b1, b2;
    gw_logon_ok(G, "alice@example.org", "alice-secret", MAIL, &a);
    gw_logon_ok(G, "bob@example.org", "bob-secret", MAIL, &b1);
    gw_logon_ok(G, "bob@example.org", "bob-secret", MAIL, &b2);
    gw_resp r;
    cr_expect_eq(gw_get(G, "/profiles", a.token, &r), 403, "a session token listed profiles");
    gw_resp_free(&r);
    json_t *out = get_ok("/profiles", key, &r);
    cr_expect_eq(json_integer_value(json_object_get(out, "total")), 0, "%s", r.body);
    json_t *t = json_array_get(json_object_get(out, "templates"), 0);
    cr_assert_not_null(t, "%s", r.body);
    cr_expect_str_eq(gw_jstr(t, "name"), "example.org staff");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(t, "match"), 0)),
                     "*@example.org");
    cr_expect_str_eq(gw_jstr(t, "auth"), "upstream");
    json_t *use = json_object_get(out, "in_use");
    cr_assert_eq(json_array_size(use), 2, "%s", r.body);
    size_t i;
    json_t *u;
    json_int_t alice = 0, bob = 0;
    json_array_foreach(use, i, u)
    {
        const char *n = gw_jstr(u, "name");
        json_int_t c = json_integer_value(json_object_get(u, "sessions"));
        if (n && strcmp(n, "alice@example.org") == 0)
            alice = c;
        else if (n && strcmp(n, "bob@example.org") == 0)
            bob = c;
    }
    cr_expect_eq(alice, 1, "%s", r.body);
    cr_expect_eq(bob, 2, "%s", r.body);
    cr_expect_null(strstr(r.body, "imap://"), "a provider setting in the listing: %s", r.body);
    gw_resp_free(&r);
    gw_session_free(&a);
    gw_session_free(&b1);
    gw_session_free(&b2);
}
