/* Black-box suite "profile_admin", message services by the admin
 * (IMsgServiceAdmin; the fixture is profile_admin_fixture.[ch], a session's
 * own services are in test_profile_admin_own_services.c).
 *
 * - Validation by the loader: 400 MAPI_E_INVALID_PARAMETER whose detail
 *   names the field; the file is left byte for byte.
 * - Message services: list, create (201 + Location), 409 on a duplicate
 *   name, get, providers, merge-patch of settings (RFC 7396: null removes,
 *   objects merge, arrays are replaced), delete; new logons see the change,
 *   live sessions keep what they logged on with; passwords in settings are
 *   masked and a mask sent back keeps the stored secret.
 */
#include "profile_admin_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================= validation */

#define PROV(kind, dn, settings)                                                                   \
    "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"" kind "\",\"display_name\":\"" dn               \
    "\",\"settings\":" settings "}"

/* The admin request is refused 400 MAPI_E_INVALID_PARAMETER with a detail
 * naming every needle, and the file is still before. */
static void expect_invalid_naming(const char *method, const char *path, const char *body,
                                  const char *const *needles, const char *before)
{
    gw_resp r;
    pa_admin(method, path, body, &r);
    pa_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    const char *d = pa_detail_of(&r);
    for (size_t i = 0; needles[i]; i++)
        cr_expect(strstr(d, needles[i]) != NULL, "the detail does not name \"%s\": %s", needles[i],
                  r.body);
    pa_refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
}

Test(profile_admin, validation_refusals_name_the_field)
{
    pa_start();
    char *before = pa_file_text();
    char uid[40], path[256];
    pa_service_path("ann", "Ann mail", uid, path);
    gw_resp r;

    /* an unknown provider kind */
    expect_invalid_naming(
        "POST", "/profiles/ann/services",
        "{\"name\":\"Floppy\",\"providers\":[" PROV("floppy", "Floppy", "{\"path\":\"p\"}") "]}",
        (const char *const[]){"floppy", "kind", "ann", FILE_NAME, NULL}, before);
    /* an unknown key in a provider */
    expect_invalid_naming(
        "POST", "/profiles/ann/services",
        "{\"name\":\"Typo\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\","
        "\"display_name\":\"Typo\",\"settings\":{\"path\":\"ann/Typo\"},\"colourz\":1}]}",
        (const char *const[]){"colourz", "ann", NULL}, before);
    /* an unknown key in a service */
    expect_invalid_naming("POST", "/profiles/ann/services",
                          "{\"name\":\"Typo\",\"providers\":[],\"colourz\":1}",
                          (const char *const[]){"colourz", NULL}, before);
    /* the same in a new profile's services */
    expect_invalid_naming(
        "POST", "/profiles",
        "{\"name\":\"kim\",\"services\":[{\"name\":\"S\",\"providers\":[{\"type\":"
        "\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"D\",\"settings\":{"
        "\"path\":\"kim/Maildir\"},\"colourz\":1}]}]}",
        (const char *const[]){"colourz", "kim", NULL}, before);
    /* a second default store in the profile */
    expect_invalid_naming(
        "POST", "/profiles/ann/services",
        "{\"name\":\"Second\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"
        "\"maildir\",\"display_name\":\"Second\",\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],"
        "\"settings\":{\"path\":\"ann/Second\"}}]}",
        (const char *const[]){"STATUS_DEFAULT_STORE", NULL}, before);
    /* a setting of the wrong type */
    expect_invalid_naming(
        "POST", "/profiles/ann/services",
        "{\"name\":\"Typed\",\"providers\":[" PROV("maildir", "Typed", "{\"path\":[\"a\"]}") "]}",
        (const char *const[]){"path", NULL}, before);
    /* two services of one name in a new profile */
    expect_invalid_naming(
        "POST", "/profiles",
        "{\"name\":\"lou\",\"services\":[{\"name\":\"S\",\"providers\":[]},{\"name\":\"S\","
        "\"providers\":[]}]}",
        (const char *const[]){"lou", NULL}, before);
    /* a provider setting the kind refuses, by PATCH */
    expect_invalid_naming("PATCH", path,
                          "{\"providers\":[{\"settings\":{\"create\":\"maybe\"}},{},{}]}",
                          (const char *const[]){"create", NULL}, before);
    /* an unknown provider key by PATCH */
    expect_invalid_naming("PATCH", path, "{\"providers\":[{\"colourz\":1},{},{}]}",
                          (const char *const[]){"colourz", NULL}, before);

    /* shapes */
    static const char *const bad_patch[] = {
        "{\"providers\":[{}]}",          /* wrong length */
        "{\"providers\":[{},{},{},{}]}", /* wrong length */
        "{\"providers\":{}}",            /* not an array */
        "{\"providers\":[5,{},{}]}",     /* not a merge patch object */
        "{\"name\":5}",                  /* wrong type */
        "{\"name\":\"\"}",               /* empty name */
        "{\"colourz\":1}",               /* unknown key */
        "{\"providers\":[{\"settings\":5},{},{}]}",
        "{\"name\":", /* malformed */
        "[]",
    };
    pa_expect_all_invalid("PATCH", path, NULL, bad_patch, sizeof bad_patch / sizeof bad_patch[0],
                          before);
    static const char *const bad_post[] = {
        "{\"name\":\"NoProviders\"}",      "{\"providers\":[]}",
        "{\"name\":5,\"providers\":[]}",   "{\"name\":\"X\",\"providers\":{}}",
        "{\"name\":\"X\",\"providers\":[", "5",
    };
    pa_expect_all_invalid("POST", "/profiles/ann/services", NULL, bad_post,
                          sizeof bad_post / sizeof bad_post[0], before);
    /* a body that is not JSON by its type: 415 (the existing policy) */
    {
        char auth[160];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", KEY);
        const char *const h[] = {auth, "Content-Type: text/plain", NULL};
        gw_request(pa_gw, "POST", "/profiles", h, "{\"name\":\"typed\"}", &r);
        cr_expect_eq(r.status, 415, "POST /profiles as text/plain: %ld %s", r.status, r.body);
        pa_expect_file_unchanged(before, "a text/plain body");
        gw_resp_free(&r);
    }
    /* a uid in lower case names the same service */
    {
        char lower[40], lpath[256];
        for (size_t k = 0; k < sizeof lower && uid[k]; k++)
            lower[k] = (char)(uid[k] >= 'A' && uid[k] <= 'F' ? uid[k] - 'A' + 'a' : uid[k]);
        lower[32] = '\0';
        snprintf(lpath, sizeof lpath, "/profiles/ann/services/%s", lower);
        pa_admin("GET", lpath, NULL, &r);
        cr_expect_eq(r.status, 200, "GET %s: %ld %s", lpath, r.status, r.body);
        if (r.status == 200)
            cr_expect_str_eq(pa_str(r.json, "uid"), uid);
        gw_resp_free(&r);
    }
    /* unknown things */
    pa_admin_refused("POST", "/profiles/nobody/services", "{\"name\":\"X\",\"providers\":[]}", 404,
                     "MAPI_E_NOT_FOUND", before);
    pa_expect_admin_problem("GET", "/profiles/ann/services/" FAKE_UID, NULL, 404,
                            "MAPI_E_NOT_FOUND");
    pa_admin_refused("DELETE", "/profiles/ann/services/" FAKE_UID, NULL, 404, "MAPI_E_NOT_FOUND",
                     before);
    pa_expect_admin_problem("GET", "/profiles/ann/services?verbose=1", NULL, 400,
                            "MAPI_E_INVALID_PARAMETER");
    /* the profile still works as it was */
    gw_session s;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    cr_expect_eq(pa_status_rows(s.token), 7u, "ann's status rows");
    gw_session_free(&s);
    free(before);
}

/* ================================================ message services */

Test(profile_admin, message_services)
{
    pa_start();
    gw_session live;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &live);
    size_t rows0 = pa_status_rows(live.token);
    cr_expect_eq(rows0, 7u, "ann's status rows");
    char e_profile[32], e_list[32];
    pa_profile_etag("ann", e_profile);

    /* the table */
    gw_resp r;
    pa_admin_ok("GET", "/profiles/ann/services", NULL, 200, &r);
    pa_expect_json_answer(&r);
    pa_etag_of(&r, e_list);
    cr_expect_str_eq(e_list, e_profile, "the service table's ETag is not the profile's");
    json_t *svcs = json_object_get(r.json, "services");
    cr_assert_eq(json_array_size(svcs), 2u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(svcs, 0), "name"), "Ann mail");
    cr_expect_str_eq(gw_jstr(json_array_get(svcs, 1), "name"), "Ann extra");
    size_t i;
    json_t *sv;
    json_array_foreach(svcs, i, sv) pa_expect_service_view(sv);
    char mail_uid[40], extra_uid[40];
    snprintf(mail_uid, sizeof mail_uid, "%s", gw_jstr(json_array_get(svcs, 0), "uid"));
    snprintf(extra_uid, sizeof extra_uid, "%s", gw_jstr(json_array_get(svcs, 1), "uid"));
    cr_expect_str_neq(mail_uid, extra_uid, "two services with one uid");
    json_t *mail_view = json_incref(json_array_get(svcs, 0));
    gw_resp_free(&r);
    /* the profile view lists the same services */
    pa_get_profile("ann", &r, NULL);
    cr_expect(json_equal(json_array_get(json_object_get(r.json, "services"), 0), mail_view),
              "the profile view's service differs from the table's: %s", r.body);
    gw_resp_free(&r);

    /* one service, its providers */
    char path[256];
    snprintf(path, sizeof path, "/profiles/ann/services/%s", mail_uid);
    pa_admin_ok("GET", path, NULL, 200, &r);
    pa_expect_json_answer(&r);
    pa_etag_of(&r, e_list);
    cr_expect_str_eq(e_list, e_profile);
    cr_expect(json_equal(r.json, mail_view), "GET one service differs from the table: %s", r.body);
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/profiles/ann/services/%s/providers", mail_uid);
    pa_admin_ok("GET", path, NULL, 200, &r);
    pa_expect_json_answer(&r);
    json_t *provs = json_object_get(r.json, "providers");
    cr_assert_eq(json_array_size(provs), 3u, "%s", r.body);
    json_t *p;
    json_array_foreach(provs, i, p) pa_expect_provider_view(p, i);
    static const char *const types[] = {"MAPI_STORE_PROVIDER", "MAPI_TRANSPORT_PROVIDER",
                                        "MAPI_AB_PROVIDER"};
    static const char *const kinds[] = {"maildir", "spool", "abfile"};
    static const char *const names[] = {"Ann Mailbox", "Ann Outbox", "Ann Contacts"};
    for (i = 0; i < 3; i++) {
        p = json_array_get(provs, i);
        cr_expect_str_eq(gw_jstr(p, "type"), types[i]);
        cr_expect_str_eq(gw_jstr(p, "kind"), kinds[i]);
        cr_expect_str_eq(gw_jstr(p, "display_name"), names[i]);
    }
    json_t *want = json_pack("[ss]", "STATUS_DEFAULT_STORE", "STATUS_NO_PRIMARY_IDENTITY");
    cr_expect(json_equal(json_object_get(json_array_get(provs, 0), "resource_flags"), want),
              "the store's resource_flags: %s", r.body);
    json_decref(want);
    want = json_pack("[s]", "create");
    cr_expect(json_equal(json_object_get(json_array_get(provs, 0), "user_settings"), want),
              "the store's user_settings: %s", r.body);
    json_decref(want);
    cr_expect_eq(json_array_size(json_object_get(json_array_get(provs, 1), "user_settings")), 0u,
                 "a spool transport's default user_settings: %s", r.body);
    cr_expect_str_eq(gw_jstr(json_object_get(json_array_get(provs, 0), "settings"), "path"),
                     "ann/Maildir");
    json_t *id = json_object_get(json_array_get(provs, 2), "identity");
    cr_expect_str_eq(pa_str(id, "address"), "ann@example.invalid");
    cr_expect(json_equal(provs, json_object_get(mail_view, "providers")),
              "the provider table differs from the service view's providers");
    gw_resp_free(&r);

    /* create */
    pa_admin_ok("POST", "/profiles/ann/services", NOTES_SERVICE, 201, &r);
    pa_expect_json_answer(&r);
    pa_expect_service_view(r.json);
    char e_new[32], notes_uid[40];
    pa_etag_of(&r, e_new);
    cr_expect_str_neq(e_new, e_profile, "a new service left the profile's version");
    cr_expect_str_eq(gw_jstr(r.json, "name"), "Ann notes");
    snprintf(notes_uid, sizeof notes_uid, "%s", gw_jstr(r.json, "uid"));
    cr_expect(strcmp(notes_uid, mail_uid) && strcmp(notes_uid, extra_uid), "a uid reused");
    char loc_want[256];
    snprintf(loc_want, sizeof loc_want, "/profiles/ann/services/%s", notes_uid);
    const char *loc = gw_header(&r, "Location");
    cr_expect(loc && strcmp(loc, loc_want) == 0, "Location %s, not %s", loc ? loc : "(none)",
              loc_want);
    gw_resp_free(&r);
    char *before = pa_file_text();
    pa_admin_refused("POST", "/profiles/ann/services", NOTES_SERVICE, 409, "MAPI_E_COLLISION",
                     before);
    free(before);
    json_t *root = pa_file_json();
    json_t *fsvcs = json_object_get(pa_file_profile(root, "ann"), "services");
    cr_expect_eq(json_array_size(fsvcs), 3u, "the file's services");
    cr_expect(pa_find_named(fsvcs, "Ann notes") != NULL, "the new service is not in the file");
    json_decref(root);
    /* a new logon sees it, the live session keeps what it logged on with */
    gw_session s;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    cr_expect_eq(pa_status_rows(s.token), rows0 + 1, "a new logon after a new service");
    gw_session_free(&s);
    cr_expect_eq(pa_status_rows(live.token), rows0, "the live session's services changed");
    /* the live session's own view is the file's (what its next logon gets) */
    gw_get(pa_gw, "/services", live.token, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect_eq(json_array_size(json_object_get(r.json, "services")), 3u,
                 "GET /services does not show the profile as it is in the file: %s", r.body);
    gw_resp_free(&r);

    /* merge patch: a setting changed, one removed (null), a name changed */
    snprintf(path, sizeof path, "/profiles/ann/services/%s", notes_uid);
    pa_admin_ok(
        "PATCH", path,
        "{\"providers\":[{\"display_name\":\"Ann Notes 2\",\"settings\":{\"path\":\"ann/Notes2\","
        "\"create\":null}}]}",
        200, &r);
    pa_expect_json_answer(&r);
    pa_expect_service_view(r.json);
    pa_etag_of(&r, e_list);
    cr_expect_str_neq(e_list, e_new, "the patch left the version");
    p = json_array_get(json_object_get(r.json, "providers"), 0);
    cr_expect_str_eq(gw_jstr(p, "display_name"), "Ann Notes 2");
    json_t *st = json_object_get(p, "settings");
    cr_expect_str_eq(pa_str(st, "path"), "ann/Notes2");
    cr_expect(json_object_get(st, "create") == NULL, "a null setting was kept: %s", r.body);
    cr_expect_str_eq(gw_jstr(p, "kind"), "maildir", "the patch lost the kind");
    gw_resp_free(&r);
    root = pa_file_json();
    json_t *fs =
        pa_find_named(json_object_get(pa_file_profile(root, "ann"), "services"), "Ann notes");
    json_t *fp = json_array_get(json_object_get(fs, "providers"), 0);
    cr_expect_str_eq(pa_str(fp, "display_name"), "Ann Notes 2");
    cr_expect_str_eq(pa_str(json_object_get(fp, "settings"), "path"), "ann/Notes2");
    cr_expect(json_object_get(json_object_get(fp, "settings"), "create") == NULL,
              "the file kept the removed setting");
    json_decref(root);
    pa_admin("GET", path, NULL, &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(
        gw_jstr(json_array_get(json_object_get(r.json, "providers"), 0), "display_name"),
        "Ann Notes 2");
    gw_resp_free(&r);
    /* a service renamed */
    pa_admin_ok("PATCH", path, "{\"name\":\"Ann memo\"}", 200, &r);
    pa_expect_service_view(r.json);
    cr_expect_str_eq(gw_jstr(r.json, "name"), "Ann memo");
    char memo_uid[40];
    snprintf(memo_uid, sizeof memo_uid, "%s", gw_jstr(r.json, "uid") ? gw_jstr(r.json, "uid") : "");
    gw_resp_free(&r);
    /* the uid comes from the name: a new name, a new uid, the old one gone */
    cr_expect_str_neq(memo_uid, notes_uid, "a renamed service kept its uid");
    pa_expect_admin_problem("GET", path, NULL, 404, "MAPI_E_NOT_FOUND");
    /* a rename to a name the profile has */
    snprintf(path, sizeof path, "/profiles/ann/services/%s", memo_uid);
    before = pa_file_text();
    pa_admin_refused("PATCH", path, "{\"name\":\"Ann mail\"}", 409, "MAPI_E_COLLISION", before);
    free(before);

    /* delete: a write to the profile, so the answer carries its new version */
    char e_before_delete[32];
    pa_profile_etag("ann", e_before_delete);
    pa_admin("DELETE", path, NULL, &r);
    cr_expect_eq(r.status, 204, "%ld %s", r.status, r.body);
    {
        const char *de = gw_header(&r, "ETag");
        char e_after_delete[32];
        pa_profile_etag("ann", e_after_delete);
        cr_expect_str_neq(e_after_delete, e_before_delete, "deleting a service left the version");
        cr_expect(de && strcmp(de, e_after_delete) == 0,
                  "DELETE of a service (a write) answered ETag %s, not the profile's version %s",
                  de ? de : "(none)", e_after_delete);
    }
    gw_resp_free(&r);
    pa_expect_admin_problem("GET", path, NULL, 404, "MAPI_E_NOT_FOUND");
    snprintf(path, sizeof path, "/profiles/ann/services/%s", extra_uid);
    pa_admin_expect("DELETE", path, NULL, 204);
    before = pa_file_text();
    pa_admin_refused("DELETE", path, NULL, 404, "MAPI_E_NOT_FOUND", before);
    free(before);
    root = pa_file_json();
    fsvcs = json_object_get(pa_file_profile(root, "ann"), "services");
    cr_expect_eq(json_array_size(fsvcs), 1u, "the file's services after the deletes");
    cr_expect_str_eq(gw_jstr(json_array_get(fsvcs, 0), "name"), "Ann mail");
    json_decref(root);
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    cr_expect_eq(pa_status_rows(s.token), rows0 - 1, "a new logon after the deletes");
    gw_session_free(&s);
    cr_expect_eq(pa_status_rows(live.token), rows0, "the live session's services changed");
    /* durable */
    pa_restart();
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    cr_expect_eq(pa_status_rows(s.token), rows0 - 1, "a logon after a restart");
    gw_session_free(&s);
    json_decref(mail_view);
    gw_session_free(&live);
}

/* RFC 7396 on a provider: objects merge, arrays are replaced, null
 * removes; type and kind are no patch fields. */
Test(profile_admin, provider_merge_patches)
{
    pa_start();
    char uid[40], path[256];
    pa_service_path("ann", "Ann mail", uid, path);
    gw_resp r;
    pa_admin_ok("PATCH", path,
                "{\"providers\":[{},{\"settings\":{\"create\":false}},{\"resource_flags\":["
                "\"STATUS_PRIMARY_IDENTITY\",\"STATUS_OWN_STORE\"]}]}",
                200, &r);
    json_t *provs = json_object_get(r.json, "providers");
    json_t *fl = json_object_get(json_array_get(provs, 2), "resource_flags");
    bool replaced = false;
    size_t i;
    json_t *e;
    json_array_foreach(fl, i, e) replaced |=
        json_is_string(e) && strcmp(json_string_value(e), "STATUS_OWN_STORE") == 0;
    cr_expect(replaced, "resource_flags were not replaced: %s", r.body);
    json_t *st1 = json_object_get(json_array_get(provs, 1), "settings");
    cr_expect(json_is_false(json_object_get(st1, "create")), "create: %s", r.body);
    cr_expect_str_eq(pa_str(st1, "path"), "ann/spool", "the settings were replaced, not merged: %s",
                     r.body);
    cr_expect_str_eq(pa_str(st1, "deliver_to"), "ann/Maildir");
    /* the untouched providers are as they were */
    json_t *st0 = json_object_get(json_array_get(provs, 0), "settings");
    cr_expect_str_eq(pa_str(st0, "path"), "ann/Maildir");
    json_t *id = json_object_get(json_array_get(provs, 2), "identity");
    cr_expect_str_eq(pa_str(id, "display"), "Ann Example");
    gw_resp_free(&r);

    /* identity is an object: a merge patch of one member keeps the others */
    pa_admin("PATCH", path,
             "{\"providers\":[{},{},{\"identity\":{\"address\":\"ann.new@example.invalid\"}}]}",
             &r);
    cr_expect_eq(r.status, 200,
                 "a merge patch of identity.address alone (RFC 7396: objects merge): %ld %s",
                 r.status, r.body);
    bool identity_patched = r.status == 200;
    if (identity_patched) {
        id = json_object_get(json_array_get(json_object_get(r.json, "providers"), 2), "identity");
        cr_expect_str_eq(pa_str(id, "address"), "ann.new@example.invalid");
        cr_expect_str_eq(pa_str(id, "display"), "Ann Example",
                         "the identity was replaced, not merged: %s", r.body);
        cr_expect_str_eq(pa_str(id, "address_type"), "SMTP");
        json_t *root = pa_file_json();
        json_t *fs =
            pa_find_named(json_object_get(pa_file_profile(root, "ann"), "services"), "Ann mail");
        json_t *fid =
            json_object_get(json_array_get(json_object_get(fs, "providers"), 2), "identity");
        cr_expect_str_eq(pa_str(fid, "address"), "ann.new@example.invalid");
        cr_expect_str_eq(pa_str(fid, "display"), "Ann Example");
        json_decref(root);
    }
    gw_resp_free(&r);
    /* what is no patch field, or leaves an invalid provider */
    char *before = pa_file_text();
    static const char *const bad[] = {
        "{\"providers\":[{\"kind\":\"spool\"},{},{}]}",
        "{\"providers\":[{\"type\":\"MAPI_AB_PROVIDER\"},{},{}]}",
        "{\"providers\":[{\"position\":2},{},{}]}",
        "{\"providers\":[{\"display_name\":null},{},{}]}",
        "{\"providers\":[{\"resource_flags\":[\"STATUS_BOGUS\"]},{},{}]}",
        "{\"providers\":[{\"settings\":{\"path\":{\"nested\":1}}},{},{}]}",
    };
    pa_expect_all_invalid("PATCH", path, NULL, bad, sizeof bad / sizeof bad[0], before);
    free(before);
    gw_session s;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    gw_resp_free(&r);
    gw_get(pa_gw, "/identity", s.token, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    if (identity_patched) {
        /* the address is in the identity's one-off entry id, hex-encoded */
        static const char addr[] = "ann.new@example.invalid";
        char *hex = gw_hex(addr, sizeof addr - 1);
        cr_expect(strstr(r.body, hex) != NULL, "a new logon does not have the patched identity: %s",
                  r.body);
        free(hex);
    }
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(profile_admin, passwords_in_settings_are_masked)
{
    pa_start();
    pa_secret("smtp-secret-pw");
    pa_secret("smtp-other-pw");
    gw_resp r;
    pa_admin_ok(
        "POST", "/profiles/ben/services",
        "{\"name\":\"Ben smtp\",\"providers\":[{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":"
        "\"smtp\",\"display_name\":\"Ben SMTP\",\"settings\":{\"url\":\"smtp://127.0.0.1:1\","
        "\"queue\":\"ben/queue\",\"username\":\"ben\",\"password\":\"smtp-secret-pw\","
        "\"relay_password\":\"smtp-other-pw\"}}]}",
        201, &r);
    pa_expect_service_view(r.json);
    cr_expect(strstr(r.body, "smtp-secret-pw") == NULL && strstr(r.body, "smtp-other-pw") == NULL,
              "a password shown: %s", r.body);
    json_t *p = json_array_get(json_object_get(r.json, "providers"), 0);
    json_t *st = json_object_get(p, "settings");
    cr_expect_str_eq(pa_str(st, "password"), "********");
    cr_expect_str_eq(pa_str(st, "relay_password"), "********");
    cr_expect_str_eq(pa_str(st, "username"), "ben");
    /* smtp's default user_settings */
    json_t *us = json_object_get(p, "user_settings");
    static const char *const want[] = {"username", "password", "timeout_ms", "from"};
    cr_expect_eq(json_array_size(us), 4u, "smtp's default user_settings: %s", r.body);
    for (size_t i = 0; i < 4; i++) {
        bool found = false;
        size_t j;
        json_t *e;
        json_array_foreach(us, j, e) found |=
            json_is_string(e) && strcmp(json_string_value(e), want[i]) == 0;
        cr_expect(found, "smtp's user_settings lack %s: %s", want[i], r.body);
    }
    char uid[40];
    snprintf(uid, sizeof uid, "%s", gw_jstr(r.json, "uid") ? gw_jstr(r.json, "uid") : FAKE_UID);
    gw_resp_free(&r);
    pa_get_profile("ben", &r, NULL);
    cr_expect(strstr(r.body, "smtp-secret-pw") == NULL, "the profile view shows the password");
    gw_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/profiles/ben/services/%s/providers", uid);
    pa_admin("GET", path, NULL, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect(strstr(r.body, "smtp-secret-pw") == NULL, "the provider table shows the password");
    gw_resp_free(&r);
    /* the file holds the real one */
    pa_expect_file_setting("ben", "Ben smtp", 0, "password", "smtp-secret-pw", "the file");
    /* a patch that leaves the password keeps it (the mask is not written) */
    snprintf(path, sizeof path, "/profiles/ben/services/%s", uid);
    pa_admin_expect("PATCH", path, "{\"providers\":[{\"settings\":{\"timeout_ms\":5000}}]}", 200);
    pa_expect_file_setting("ben", "Ben smtp", 0, "password", "smtp-secret-pw",
                           "a patch that leaves the password");
    /* the view sent back as it was read: the mask keeps the stored secret */
    pa_admin_expect("PATCH", path,
                    "{\"providers\":[{\"settings\":{\"password\":\"********\",\"relay_password\":"
                    "\"********\",\"timeout_ms\":6000}}]}",
                    200);
    pa_expect_file_setting("ben", "Ben smtp", 0, "password", "smtp-secret-pw",
                           "the mask sent back replaced the stored password");
    pa_expect_file_setting("ben", "Ben smtp", 0, "relay_password", "smtp-other-pw",
                           "the mask sent back replaced the stored secret");
    pa_admin_expect("DELETE", path, NULL, 204);
}
