/* Black-box suite "profile_admin", what a session's refused service change
 * says: the loader's messages name the profiles file and any profile that
 * is wrong in it, which is the operator's business, not a user's. A
 * session hears about its own profile only; the admin hears everything. */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#define KEY "profile-admin-refusals-key-0123456789abcdef"

static gw *G;

static void fini_gw(void)
{
    if (G)
        gw_finish(G);
    G = NULL;
    gw_test_files_clean();
}

static long patch(const char *path, const char *token, const char *body, gw_resp *r)
{
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *h[] = {auth, NULL};
    return gw_request(G, "PATCH", path, h, body, r);
}

/* ben's verifier made invalid by hand, without a reload. */
static void break_ben(void)
{
    json_error_t je;
    json_t *root = json_load_file(gw_profiles_path(G), 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(root, "profiles"), i, p)
    {
        if (strcmp(gw_jstr(p, "name"), "ben") == 0)
            json_object_set_new(json_object_get(p, "auth"), "verifier", json_string("not-one"));
    }
    cr_assert_eq(json_dump_file(root, gw_profiles_path(G), JSON_INDENT(2)), 0);
    json_decref(root);
}

Test(profile_admin, a_sessions_refusal_names_no_other_profile_nor_the_file, .fini = fini_gw,
     .timeout = 120)
{
    const char *args[] = {"--admin-key", KEY, NULL};
    G = gw_start("profile-admin.json", args);
    gw_add_secret(G, KEY);
    gw_session s;
    gw_logon_ok(G, "ann", "ann-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/services", s.token, &r), 200, "%s", r.body);
    char uid[40] = "";
    size_t i;
    json_t *svc;
    json_array_foreach(json_object_get(r.json, "services"), i, svc)
    {
        if (strcmp(gw_jstr(svc, "name"), "Ann mail") == 0)
            snprintf(uid, sizeof uid, "%s", gw_jstr(svc, "uid"));
    }
    cr_assert(uid[0], "%s", r.body);
    char path[128];
    snprintf(path, sizeof path, "/services/%s", uid);
    gw_resp_free(&r);

    /* About its own profile: the loader's message from the profile on. */
    patch(path, s.token, "{\"providers\":[{\"settings\":{\"create\":\"maybe\"}},{},{}]}", &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    const char *detail = gw_jstr(r.json, "detail");
    cr_assert_not_null(detail);
    cr_expect(strncmp(detail, "profile \"ann\": ", 15) == 0, "%s", detail);
    cr_expect(strstr(detail, "create") != NULL, "the field is named: %s", detail);
    cr_expect(strstr(r.body, gw_profiles_path(G)) == NULL, "the file's path: %s", r.body);
    gw_resp_free(&r);

    /* About another profile: nothing of it. */
    break_ben();
    patch(path, s.token, "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}", &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(r.body, "ben") == NULL, "another profile named: %s", r.body);
    cr_expect(strstr(r.body, "verifier") == NULL, "another profile's field: %s", r.body);
    cr_expect(strstr(r.body, gw_profiles_path(G)) == NULL, "the file's path: %s", r.body);
    gw_resp_free(&r);

    /* The admin is told where the file is wrong. */
    char apath[160];
    snprintf(apath, sizeof apath, "/profiles/ann/services/%s", uid);
    patch(apath, KEY, "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}", &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(r.body, "\\\"ben\\\"") != NULL && strstr(r.body, "verifier") != NULL,
              "the admin's detail: %s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}
