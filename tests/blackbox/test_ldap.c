/* Black-box: the "ldap" address-book provider against a real slapd
 * (tests/support/srv_slapd.h): its status row, the LDAP identity reaching
 * GET /identity, GET /addressbook with and without search (injection-safe),
 * GET /entries on a directory entry, upstream authentication through the LDAP
 * bind, and a directory that is down at logon or goes away mid-session. */
#include "../../session-core/entryid.h"
#include "../support/gw.h"
#include "../support/srv_slapd.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;
static srv_slapd S;

static void init_slapd(void) { srv_slapd_start(&S); }

static void fini_all(void)
{
    if (G)
        gw_finish(G);
    G = NULL;
    srv_slapd_destroy(&S);
}

TestSuite(ldap, .init = init_slapd, .fini = fini_all, .timeout = 30);

#define MAIL "[\"MAPI_NEW_SESSION\"]"
#define AB_DISPLAY "Directory"

/* One ldap provider (primary identity) in a profile of its own. */
static void profile_json(char *out, size_t len, const char *name, const char *auth, const char *url,
                         const char *extra_settings)
{
    snprintf(out, len,
             "{\"name\":\"%s\",\"auth\":{\"type\":\"%s\"},\"services\":[{\"name\":\"Directory\","
             "\"providers\":[{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"ldap\","
             "\"display_name\":\"" AB_DISPLAY "\",\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\"],"
             "\"settings\":{\"url\":\"%s\",\"base_dn\":\"" SRV_SLAPD_PEOPLE "\","
             "\"timeout_ms\":3000%s}}]}]}",
             name, auth, url, extra_settings);
}

/* Writes the profiles file next to slapd's files and starts the gateway. */
static void start_gateway(void)
{
    char down_url[64], p1[1024], p2[1024], p3[1024], p4[1024], text[4500], path[512];
    /* Nothing listens there: a directory that is down. */
    snprintf(down_url, sizeof down_url, "ldap://127.0.0.1:%d", srv_free_port());
    profile_json(p1, sizeof p1, "dir", "none", S.url, ",\"identity_filter\":\"(uid=alice)\"");
    profile_json(p2, sizeof p2, "dir-up", "upstream", S.url,
                 ",\"bind_dn\":\"" SRV_SLAPD_ALICE_DN "\"");
    profile_json(p3, sizeof p3, "dir-down", "none", down_url,
                 ",\"identity_filter\":\"(uid=alice)\"");
    profile_json(p4, sizeof p4, "dir-up-down", "upstream", down_url,
                 ",\"bind_dn\":\"" SRV_SLAPD_ALICE_DN "\"");
    snprintf(text, sizeof text, "{\"default_profile\":\"dir\",\"profiles\":[%s,%s,%s,%s]}", p1, p2,
             p3, p4);
    srv_write_file(&S.proc, "profiles.json", text, path);
    G = gw_start(path, NULL);
}

static json_t *get_json(const char *path, const char *token, gw_resp *r)
{
    gw_get(G, path, token, r);
    cr_assert_eq(r->status, 200, "GET %s: %ld %s", path, r->status, r->body);
    cr_assert(json_is_object(r->json), "GET %s: not JSON: %s", path, r->body);
    return r->json;
}

static json_t *ldap_row(const char *token, gw_resp *r)
{
    json_t *row = gw_find_row(get_json("/status", token, r), AB_DISPLAY);
    cr_assert(row, "no ldap row: %s", r->body);
    cr_expect_str_eq(gw_jstr(row, "provider_dll_name"), "mgwldap");
    return row;
}

/* The directory entries of a GET /addressbook answer: a top-level "entries"
 * array, or the entries of the containers (the contract leaves the nesting open). */
static size_t ab_entries(json_t *body, json_t **out)
{
    *out = json_array();
    json_t *top = json_object_get(body, "entries");
    if (json_is_array(top))
        json_array_extend(*out, top);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(body, "containers"), i, c)
    {
        json_t *e = json_object_get(c, "entries");
        if (json_is_array(e))
            json_array_extend(*out, e);
    }
    return json_array_size(*out);
}

static json_t *find_entry(json_t *entries, const char *email)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *m = gw_jstr(e, "email_address");
        if (m && strcmp(m, email) == 0)
            return e;
    }
    return NULL;
}

static const char *warning_of(json_t *body)
{
    json_t *w = json_object_get(body, "warning");
    return json_is_object(w) ? gw_jstr(w, "mapi_error") : json_string_value(w);
}

/* GET /addressbook[?search=text]: the entries (caller frees) and the body. */
static size_t addressbook(const char *token, const char *search, gw_resp *r, json_t **entries)
{
    char path[512] = "/addressbook";
    if (search) {
        char *q = gw_urlencode(search);
        snprintf(path, sizeof path, "/addressbook?search=%s", q);
        free(q);
    }
    return ab_entries(get_json(path, token, r), entries);
}

/* "00000000" + the provider's MAPIUID + hex("E" + dn) */
static char *expected_entry_id(const char *profile, const char *dn)
{
    uint8_t id[512];
    memset(id, 0, 4);
    entryid_provider_uid(profile, 0, 0, id + 4);
    size_t n = strlen(dn);
    cr_assert(ENTRYID_HEADER_LEN + 1 + n < sizeof id);
    id[ENTRYID_HEADER_LEN] = 'E';
    memcpy(id + ENTRYID_HEADER_LEN + 1, dn, n);
    return gw_hex(id, ENTRYID_HEADER_LEN + 1 + n);
}

Test(ldap, row_available_with_entry_count)
{
    start_gateway();
    gw_session s;
    gw_logon_ok(G, "dir", NULL, MAIL, &s);
    gw_resp r;
    json_t *row = ldap_row(s.token, &r);
    json_t *code = json_object_get(row, "status_code");
    cr_expect(gw_jnames_has(code, "STATUS_AVAILABLE"), "status: %s", r.body);
    cr_expect_str_eq(gw_jstr(row, "status_string"), "3 entries");
    cr_expect(gw_jnames_has(json_object_get(row, "resource_methods"), "STATUS_VALIDATE_STATE"));
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(ldap, identity_from_the_directory)
{
    start_gateway();
    gw_session s;
    gw_logon_ok(G, "dir", NULL, MAIL, &s);
    gw_resp r;
    json_t *id = get_json("/identity", s.token, &r);
    char *want = expected_entry_id("dir", SRV_SLAPD_ALICE_DN);
    cr_expect_str_eq(gw_jstr(id, "entry_id"), want, "identity: %s", r.body);
    cr_expect_str_eq(gw_jstr(id, "display"), "Alice Lidell");
    const char sk[] = "SMTP:ALICE@EXAMPLE.ORG";
    char *skhex = gw_hex(sk, sizeof sk); /* with MAPI's terminating NUL */
    cr_expect_str_eq(gw_jstr(id, "search_key"), skhex);
    cr_expect_null(json_object_get(id, "warning"), "unexpected warning: %s", r.body);
    cr_expect_str_eq(gw_jstr(json_object_get(id, "source"), "display_name"), AB_DISPLAY);
    /* the identity's entry id opens Alice's directory entry */
    char path[700];
    snprintf(path, sizeof path, "/entries/%s", want);
    gw_resp e;
    json_t *o = get_json(path, s.token, &e);
    cr_expect(strstr(e.body, "alice@example.org") != NULL, "entry: %s", e.body);
    (void)o;
    gw_resp_free(&e);
    free(skhex);
    free(want);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(ldap, addressbook_lists_and_searches)
{
    start_gateway();
    gw_session s;
    gw_logon_ok(G, "dir", NULL, MAIL, &s);
    gw_resp r;
    json_t *all;
    cr_expect_eq(addressbook(s.token, NULL, &r, &all), 3u, "entries: %s", r.body);
    cr_expect_null(warning_of(r.json), "unexpected warning: %s", r.body);
    json_t *bob = find_entry(all, "bob@example.org");
    cr_assert(bob, "no bob: %s", r.body);
    cr_expect_str_eq(gw_jstr(bob, "display_name"), "Bob M\xc3\xbcller");
    cr_expect_str_eq(gw_jstr(bob, "address_type"), "SMTP");
    char *want = expected_entry_id("dir", "uid=bob," SRV_SLAPD_PEOPLE);
    cr_expect_str_eq(gw_jstr(bob, "entry_id"), want);
    free(want);
    cr_expect(strstr(r.body, AB_DISPLAY) != NULL, "no container named " AB_DISPLAY);
    cr_expect(strstr(r.body, "robot") == NULL, "an entry outside the filter is listed");
    json_decref(all);
    gw_resp_free(&r);

    struct {
        const char *search;
        size_t count;
        const char *first_mail;
    } cases[] = {
        {"LICE", 1, "alice@example.org"},   /* case-insensitive substring of cn */
        {"lidell", 1, "alice@example.org"}, /* of displayName */
        {"bob@exa", 1, "bob@example.org"},  /* of mail */
        {"M\xc3\xbcller", 1, "bob@example.org"},
        {"*)(", 1, "carol@example.org"}, /* literally in Carol's cn, nowhere else */
        {"*", 1, "carol@example.org"},   /* a literal star (only Carol has one), no wildcard */
        {"**", 0, NULL},
        {"*)(uid=*", 0, NULL}, /* would list everything if injected */
        {"x)(|(objectClass=*", 0, NULL},
        {"\\2a", 0, NULL},
        {"nobody-has-this", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *found;
        size_t n = addressbook(s.token, cases[i].search, &r, &found);
        cr_expect_eq(n, cases[i].count, "search \"%s\": %s", cases[i].search, r.body);
        cr_expect_null(warning_of(r.json), "search \"%s\" warned: %s", cases[i].search, r.body);
        if (cases[i].first_mail && n > 0)
            cr_expect_str_eq(gw_jstr(json_array_get(found, 0), "email_address"),
                             cases[i].first_mail, "search \"%s\"", cases[i].search);
        json_decref(found);
        gw_resp_free(&r);
    }
    /* the row still shows the whole book */
    json_t *row = ldap_row(s.token, &r);
    cr_expect_str_eq(gw_jstr(row, "status_string"), "3 entries");
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* Pages of one entry follow the sorted book: every entry once, the total
 * of the directory's answer on each page. */
Test(ldap, addressbook_pages_with_a_cursor)
{
    start_gateway();
    gw_session s;
    gw_logon_ok(G, "dir", NULL, MAIL, &s);
    char path[256] = "/addressbook?max=1", seen[3][64];
    size_t n = 0;
    for (;;) {
        gw_resp r;
        json_t *j = get_json(path, s.token, &r);
        json_t *entries = json_object_get(j, "entries");
        cr_assert_eq(json_array_size(entries), 1u, "%s", r.body);
        cr_assert_lt(n, 3u, "more pages than entries: %s", r.body);
        cr_expect_eq(json_integer_value(json_object_get(j, "total")), 3, "%s", r.body);
        snprintf(seen[n++], sizeof seen[0], "%s",
                 gw_jstr(json_array_get(entries, 0), "email_address"));
        const char *next = gw_jstr(j, "next");
        if (next)
            snprintf(path, sizeof path, "/addressbook?max=1&cursor=%s", next);
        gw_resp_free(&r);
        if (!next)
            break;
    }
    cr_assert_eq(n, 3u);
    cr_expect(strcmp(seen[0], seen[1]) && strcmp(seen[1], seen[2]) && strcmp(seen[0], seen[2]),
              "an entry twice: %s %s %s", seen[0], seen[1], seen[2]);
    gw_session_free(&s);
}

Test(ldap, entries_open_by_entry_id)
{
    start_gateway();
    gw_session s;
    gw_logon_ok(G, "dir", NULL, MAIL, &s);
    gw_resp r, e;
    json_t *all;
    addressbook(s.token, NULL, &r, &all);
    json_t *bob = find_entry(all, "bob@example.org");
    cr_assert(bob, "no bob: %s", r.body);
    char path[700];
    snprintf(path, sizeof path, "/entries/%s", gw_jstr(bob, "entry_id"));
    json_t *o = get_json(path, s.token, &e);
    cr_expect(strstr(e.body, "Bob M\xc3\xbcller") != NULL, "entry: %s", e.body);
    cr_expect(strstr(e.body, "bob@example.org") != NULL, "entry: %s", e.body);
    cr_expect(strstr(e.body, gw_jstr(bob, "entry_id")) != NULL, "entry id does not round-trip");
    (void)o;
    gw_resp_free(&e);
    json_decref(all);
    gw_resp_free(&r);

    /* Entry ids of this provider naming what is not in its book: unknown. */
    const char *dns[] = {"cn=robot," SRV_SLAPD_PEOPLE, /* outside the filter */
                         "uid=zed," SRV_SLAPD_PEOPLE,  /* does not exist */
                         "cn=admin," SRV_SLAPD_SUFFIX, /* outside base_dn */
                         "not a dn at all," SRV_SLAPD_PEOPLE};
    for (size_t i = 0; i < sizeof dns / sizeof dns[0]; i++) {
        char *id = expected_entry_id("dir", dns[i]);
        snprintf(path, sizeof path, "/entries/%s", id);
        gw_get(G, path, s.token, &e);
        gw_assert_problem(&e, 404, "MAPI_E_UNKNOWN_ENTRYID");
        gw_resp_free(&e);
        free(id);
    }
    gw_session_free(&s);
}

Test(ldap, upstream_authentication_by_bind)
{
    start_gateway();
    gw_session s;
    gw_logon_ok(G, "dir-up", "alice-pw", MAIL, &s);
    gw_resp r;
    json_t *id = get_json("/identity", s.token, &r);
    cr_expect_str_eq(gw_jstr(id, "display"), "Alice Lidell", "identity: %s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);

    /* Joining the shared session: the provider checks the password it bound
     * with (check_password), no new bind. */
    gw_session owner, j1, j2;
    gw_logon_ok(G, "dir-up", "alice-pw", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &owner);
    long st = gw_logon(G, "dir-up", "not-alice-pw", "[]", &j1);
    cr_expect_eq(st, 401, "join with a wrong password: %ld %s", st, j1.resp.body);
    gw_logon_ok(G, "dir-up", "alice-pw", "[]", &j2);
    cr_expect_str_eq(j2.id, owner.id, "the joiner got another session");
    gw_session_free(&j2);
    gw_session_free(&j1);
    gw_session_free(&owner);

    /* (at most 4 failures in a row: the 5th would start the logon throttle) */
    const char *bad[] = {"wrong-ldap-pw", "", "alice-pw "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_session b;
        st = gw_logon(G, "dir-up", bad[i], MAIL, &b);
        cr_expect_eq(st, 401, "password \"%s\": %ld %s", bad[i], st, b.resp.body);
        if (st == 401)
            gw_assert_problem(&b.resp, 401, "MAPI_E_LOGON_FAILED");
        gw_session_free(&b);
    }
    gw_session n;
    st = gw_logon(G, "dir-up", NULL, MAIL, &n);
    cr_expect_eq(st, 401, "no password: %ld", st);
    gw_session_free(&n);
}

Test(ldap, down_at_logon)
{
    start_gateway();
    gw_session s;
    gw_logon_ok(G, "dir-down", NULL, MAIL, &s);
    gw_resp r;
    json_t *row = ldap_row(s.token, &r);
    cr_expect(gw_jnames_has(json_object_get(row, "status_code"), "STATUS_OFFLINE"), "row: %s",
              r.body);
    cr_expect(strstr(gw_jstr(row, "status_string"), "unreachable") != NULL, "status string: %s",
              gw_jstr(row, "status_string"));
    gw_resp_free(&r);
    json_t *entries;
    size_t n = addressbook(s.token, NULL, &r, &entries);
    cr_expect_eq(n, 0u);
    const char *w = warning_of(r.json);
    cr_expect(w && strcmp(w, "MAPI_W_ERRORS_RETURNED") == 0, "warning: %s", r.body);
    json_decref(entries);
    gw_resp_free(&r);
    gw_session_free(&s);

    /* Authenticating through an unreachable directory: 502, never a hang. */
    gw_session u;
    long st = gw_logon(G, "dir-up-down", "alice-pw", MAIL, &u);
    cr_expect_eq(st, 502, "upstream down: %ld %s", st, u.resp.body);
    if (st == 502)
        gw_assert_problem(&u.resp, 502, "MAPI_E_NETWORK_ERROR");
    gw_session_free(&u);
}

static json_t *validate(const char *token, json_t *row, gw_resp *r)
{
    char path[256];
    snprintf(path, sizeof path, "/status/%s/validate-state", gw_jstr(row, "instance_key"));
    gw_post(G, path, token, "{}", r);
    cr_assert_eq(r->status, 200, "validate-state: %ld %s", r->status, r->body);
    return r->json;
}

Test(ldap, server_goes_away_and_comes_back)
{
    start_gateway();
    gw_session s;
    gw_logon_ok(G, "dir", NULL, MAIL, &s);
    gw_resp r, v;
    json_t *row = ldap_row(s.token, &r);
    srv_slapd_stop(&S);
    json_t *after = validate(s.token, row, &v);
    cr_expect(gw_jnames_has(json_object_get(after, "status_code"), "STATUS_OFFLINE"),
              "after stop: %s", v.body);
    gw_resp_free(&v);
    srv_slapd_restart(&S);
    after = validate(s.token, row, &v);
    cr_expect(gw_jnames_has(json_object_get(after, "status_code"), "STATUS_AVAILABLE"),
              "after restart: %s", v.body);
    cr_expect_str_eq(gw_jstr(after, "status_string"), "3 entries");
    gw_resp_free(&v);
    gw_resp_free(&r);
    gw_session_free(&s);
}
