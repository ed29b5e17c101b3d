/* Black-box suite "profile_admin", a session's own message services
 * (IMAPISession::AdminServices: GET/PATCH /services; the fixture is
 * profile_admin_fixture.[ch]).
 *
 * - A session sees its own profile's services only (another profile's uid
 *   is 404), with the profile's version as ETag.
 * - It may patch only the settings its providers' user_settings list (the
 *   kind's default, or as the admin sets them): anything else is 403 naming
 *   the field; a mask sent back keeps the stored password; the loader's
 *   refusals are 400; template profiles answer 501.
 */
#include "profile_admin_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* false, or "false" (a setting as the loader keeps it). */
static bool is_false(json_t *v)
{
    return json_is_false(v) || (json_is_string(v) && strcmp(json_string_value(v), "false") == 0);
}

/* A session's PATCH refused with that problem, the file still before (NULL:
 * as it was just before the request). */
static void session_patch_refused(const char *path, const char *token, const char *if_match,
                                  const char *body, long status, const char *mapi_error,
                                  const char *before)
{
    char *now = before ? NULL : pa_file_text();
    gw_resp r;
    pa_req("PATCH", path, token, if_match, body, &r);
    pa_refused(&r, status, mapi_error, before ? before : now);
    free(now);
}

Test(profile_admin, session_services)
{
    pa_start();
    gw_session a, b;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &a);
    gw_logon_ok(pa_gw, "ben", "ben-pw", NEWS, &b);
    char e_ann[32], e[32];
    pa_profile_etag("ann", e_ann);
    gw_resp r;
    /* own profile only */
    gw_get(pa_gw, "/services", a.token, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    pa_expect_json_answer(&r);
    pa_etag_of(&r, e);
    cr_expect_str_eq(e, e_ann, "GET /services' ETag is not the profile's version");
    cr_expect_str_eq(pa_str(r.json, "profile"), "ann");
    json_t *svcs = json_object_get(r.json, "services");
    cr_assert_eq(json_array_size(svcs), 2u, "%s", r.body);
    size_t i;
    json_t *s;
    json_array_foreach(svcs, i, s) pa_expect_service_view(s);
    json_t *mail = pa_find_named(svcs, "Ann mail");
    cr_assert(mail);
    char uid[40];
    snprintf(uid, sizeof uid, "%s", gw_jstr(mail, "uid"));
    gw_resp_free(&r);
    gw_get(pa_gw, "/services", b.token, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect_str_eq(pa_str(r.json, "profile"), "ben");
    svcs = json_object_get(r.json, "services");
    cr_expect_eq(json_array_size(svcs), 1u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(svcs, 0), "name"), "Ben mail");
    cr_expect(strstr(r.body, uid) == NULL && strstr(r.body, "Ann") == NULL,
              "ben sees ann's services: %s", r.body);
    gw_resp_free(&r);
    char path[256], ppath[256];
    snprintf(path, sizeof path, "/services/%s", uid);
    snprintf(ppath, sizeof ppath, "/services/%s/providers", uid);
    for (const char *const *q = (const char *const[]){path, ppath, NULL}; *q; q++) {
        gw_get(pa_gw, *q, b.token, &r);
        pa_problem(&r, 404, "MAPI_E_NOT_FOUND");
        gw_resp_free(&r);
    }
    gw_get(pa_gw, path, a.token, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    pa_expect_json_answer(&r);
    pa_expect_service_view(r.json);
    cr_expect_str_eq(gw_jstr(r.json, "name"), "Ann mail");
    pa_etag_of(&r, e);
    cr_expect_str_eq(e, e_ann, "GET /services/{uid}: the ETag is not the profile's version");
    gw_resp_free(&r);
    gw_get(pa_gw, ppath, a.token, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect_eq(json_array_size(json_object_get(r.json, "providers")), 3u, "%s", r.body);
    gw_resp_free(&r);

    /* what a session may not change */
    char *before = pa_file_text();
    static const struct {
        const char *body, *field;
    } denied[] = {
        {"{\"providers\":[{\"settings\":{\"path\":\"ann/Elsewhere\"}},{},{}]}", "path"},
        {"{\"providers\":[{},{\"settings\":{\"create\":false}},{}]}", "create"},
        {"{\"providers\":[{\"display_name\":\"Mine\"},{},{}]}", "display_name"},
        {"{\"providers\":[{\"user_settings\":[\"path\"]},{},{}]}", "user_settings"},
        {"{\"providers\":[{\"resource_flags\":[]},{},{}]}", "resource_flags"},
        {"{\"name\":\"Mine\"}", "name"},
    };
    for (i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        pa_req("PATCH", path, a.token, NULL, denied[i].body, &r);
        cr_expect_eq(r.status, 403, "PATCH %s: %ld %s", denied[i].body, r.status, r.body);
        if (r.status == 403) {
            gw_assert_problem(&r, 403, "MAPI_E_NO_ACCESS");
            cr_expect(strstr(pa_detail_of(&r), denied[i].field) != NULL,
                      "the refusal does not name %s: %s", denied[i].field, r.body);
        }
        gw_resp_free(&r);
    }
    pa_expect_file_unchanged(before, "refused session patches");
    session_patch_refused(path, a.token, STALE,
                          "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}", 412,
                          "MAPI_E_OBJECT_CHANGED", before);
    session_patch_refused(path, b.token, NULL,
                          "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}", 404,
                          "MAPI_E_NOT_FOUND", before);
    session_patch_refused(path, a.token, NULL,
                          "{\"providers\":[{\"settings\":{\"create\":false}}]}", 400,
                          "MAPI_E_INVALID_PARAMETER", before);
    free(before);

    /* a listed setting: done, in the file */
    pa_req("PATCH", path, a.token, e_ann,
           "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    pa_expect_json_answer(&r);
    pa_expect_service_view(r.json);
    pa_etag_of(&r, e);
    cr_expect_str_neq(e, e_ann, "the version did not change");
    json_t *c = json_object_get(
        json_object_get(json_array_get(json_object_get(r.json, "providers"), 0), "settings"),
        "create");
    cr_expect(is_false(c), "the answer's create setting: %s", r.body);
    gw_resp_free(&r);
    json_t *root = pa_file_json();
    json_t *fst = pa_file_settings(root, "ann", "Ann mail", 0);
    cr_expect(is_false(json_object_get(fst, "create")), "the file's create setting is not false");
    cr_expect_str_eq(pa_str(fst, "path"), "ann/Maildir", "the patch lost the other setting");
    json_decref(root);
    pa_expect_status(a.token, 200, "the session that changed its settings");
    pa_expect_status(b.token, 200, "another profile's session");
    pa_expect_logon("ann", "ann-pw", 201, "a logon after the change");

    /* a template-derived profile's services are the template's */
    gw_session t;
    gw_logon_ok(pa_gw, "zoe@tmpl.example", NULL, NEWS, &t);
    gw_get(pa_gw, "/services", t.token, &r);
    cr_expect(r.status == 200 || r.status == 501, "GET /services of a template profile: %ld %s",
              r.status, r.body);
    const char *tuid = r.status == 200
                           ? gw_jstr(json_array_get(json_object_get(r.json, "services"), 0), "uid")
                           : NULL;
    char tpath[256];
    snprintf(tpath, sizeof tpath, "/services/%s", tuid ? tuid : FAKE_UID);
    gw_resp_free(&r);
    session_patch_refused(tpath, t.token, NULL,
                          "{\"providers\":[{\"settings\":{\"create\":false}}]}", 501,
                          "MAPI_E_NO_SUPPORT", NULL);
    gw_session_free(&t);
    gw_session_free(&a);
    gw_session_free(&b);
}

/* user_settings by default (smtp: username, password, timeout_ms, from)
 * and as the admin sets them. */
Test(profile_admin, session_patches_follow_user_settings)
{
    pa_start();
    pa_secret("smtp-first-pw");
    pa_secret("smtp-second-pw");
    gw_resp r;
    pa_admin_ok(
        "POST", "/profiles",
        "{\"name\":\"sam\",\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"Sam mail\","
        "\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":"
        "\"Sam Mailbox\",\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],\"settings\":{\"path\":"
        "\"sam/Maildir\",\"create\":true}},{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"smtp\","
        "\"display_name\":\"Sam SMTP\",\"settings\":{\"url\":\"smtp://127.0.0.1:1\",\"queue\":"
        "\"sam/queue\",\"create\":true,\"username\":\"sam\",\"password\":\"smtp-first-pw\"}}]}]}",
        201, &r);
    gw_resp_free(&r);
    gw_session s;
    gw_logon_ok(pa_gw, "sam", NULL, NEWS, &s);
    gw_get(pa_gw, "/services", s.token, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect(strstr(r.body, "smtp-first-pw") == NULL, "GET /services shows a password: %s",
              r.body);
    char uid[40], path[256];
    snprintf(uid, sizeof uid, "%s",
             gw_jstr(json_array_get(json_object_get(r.json, "services"), 0), "uid")
                 ? gw_jstr(json_array_get(json_object_get(r.json, "services"), 0), "uid")
                 : FAKE_UID);
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/services/%s", uid);
    char *before = pa_file_text();
    /* not listed by default: url (smtp), anything of maildir */
    pa_req("PATCH", path, s.token, NULL,
           "{\"providers\":[{},{\"settings\":{\"url\":\"smtp://x\"}}]}", &r);
    pa_problem(&r, 403, "MAPI_E_NO_ACCESS");
    cr_expect(strstr(pa_detail_of(&r), "url") != NULL, "the refusal does not name url: %s", r.body);
    pa_refused(&r, 403, "MAPI_E_NO_ACCESS", before);
    session_patch_refused(path, s.token, NULL,
                          "{\"providers\":[{\"settings\":{\"create\":false}},{}]}", 403,
                          "MAPI_E_NO_ACCESS", before);
    /* listed by default: password, timeout_ms, from, username */
    pa_req("PATCH", path, s.token, NULL,
           "{\"providers\":[{},{\"settings\":{\"password\":\"smtp-second-pw\",\"timeout_ms\":3000,"
           "\"from\":\"sam@example.invalid\",\"username\":\"samuel\"}}]}",
           &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_expect(strstr(r.body, "smtp-second-pw") == NULL, "the answer shows the password: %s",
              r.body);
    json_t *st =
        json_object_get(json_array_get(json_object_get(r.json, "providers"), 1), "settings");
    cr_expect_str_eq(pa_str(st, "password"), "********");
    cr_expect_str_eq(pa_str(st, "username"), "samuel");
    gw_resp_free(&r);
    free(before);
    json_t *root = pa_file_json();
    json_t *fst = pa_file_settings(root, "sam", "Sam mail", 1);
    cr_expect_str_eq(pa_str(fst, "password"), "smtp-second-pw");
    cr_expect_str_eq(pa_str(fst, "from"), "sam@example.invalid");
    json_t *t = json_object_get(fst, "timeout_ms");
    cr_expect((json_is_integer(t) && json_integer_value(t) == 3000) ||
                  (json_is_string(t) && strcmp(json_string_value(t), "3000") == 0),
              "the file's timeout_ms");
    cr_expect_str_eq(pa_str(fst, "url"), "smtp://127.0.0.1:1");
    json_decref(root);
    /* the mask sent back by a session keeps the stored password */
    pa_req("PATCH", path, s.token, NULL,
           "{\"providers\":[{},{\"settings\":{\"password\":\"********\"}}]}", &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    pa_expect_file_setting("sam", "Sam mail", 1, "password", "smtp-second-pw",
                           "the mask a session sent back replaced its password");
    /* a value the kind refuses is refused by the loader */
    before = pa_file_text();
    pa_req("PATCH", path, s.token, NULL, "{\"providers\":[{},{\"settings\":{\"timeout_ms\":0}}]}",
           &r);
    pa_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(pa_detail_of(&r), "timeout_ms") != NULL, "%s", r.body);
    pa_refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
    free(before);
    /* the admin grants the store's create: the session may change it */
    char apath[256];
    snprintf(apath, sizeof apath, "/profiles/sam/services/%s", uid);
    pa_admin_ok("PATCH", apath, "{\"providers\":[{\"user_settings\":[\"create\"]},{}]}", 200, &r);
    json_t *want = json_pack("[s]", "create");
    cr_expect(json_equal(json_object_get(json_array_get(json_object_get(r.json, "providers"), 0),
                                         "user_settings"),
                         want),
              "user_settings after the admin's patch: %s", r.body);
    json_decref(want);
    gw_resp_free(&r);
    pa_req("PATCH", path, s.token, NULL, "{\"providers\":[{\"settings\":{\"create\":false}},{}]}",
           &r);
    cr_expect_eq(r.status, 200, "a setting the admin granted: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    /* and takes it back: user_settings set to null goes back to the kind's default */
    pa_admin_ok("PATCH", apath, "{\"providers\":[{\"user_settings\":null},{}]}", 200, &r);
    gw_resp_free(&r);
    session_patch_refused(path, s.token, NULL,
                          "{\"providers\":[{\"settings\":{\"create\":true}},{}]}", 403,
                          "MAPI_E_NO_ACCESS", NULL);
    pa_expect_status(s.token, 200, "the session after its own changes");
    gw_session_free(&s);
}
