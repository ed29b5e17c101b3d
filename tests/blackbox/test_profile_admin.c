/* Black-box suite "profile_admin": profile administration over HTTP
 * (IProfAdmin). The suite spans four files that share
 * profile_admin_fixture.[ch]: this one (access and profiles),
 * test_profile_admin_services.c (the admin's message services),
 * test_profile_admin_own_services.c (a session's own /services) and
 * test_profile_admin_durability.c (If-Match, concurrency, SIGHUP, disk
 * errors, the file on disk, a shared store).
 *
 * - Every admin route needs the admin key: a session token, no key or a
 *   gateway without --admin-key get 403 MAPI_E_NO_ACCESS; unknown query
 *   parameters on every route are 400.
 * - Profiles: create (password, auth, services, default), copy (keeps the
 *   password), rename (ends the old name's sessions), delete (ends its
 *   sessions and event streams: critical_error reason profile_changed), the
 *   default flag, PUT password (old password checked, sessions end), a name
 *   created is reachable at its Location.
 * - Every write is durable and atomic: the profiles file holds it, a SIGHUP
 *   reload and a restart keep it, no temporary file is left beside it, a
 *   refused write leaves the file byte for byte.
 */
#include "profile_admin_fixture.h"
#include "sse_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===================================================== the admin key */

/* Every admin route of the contract, a uid filled in. */
typedef struct {
    const char *method;
    char path[160];
    const char *body;
} route;

static size_t admin_routes(route *out, const char *uid)
{
    static const struct {
        const char *method, *path, *body;
    } R[] = {
        {"GET", "/profiles/ann", NULL},
        {"GET", "/profiles/nobody", NULL},
        {"POST", "/profiles", "{\"name\":\"intruder\",\"auth\":{\"type\":\"none\"}}"},
        {"POST", "/profiles", "{\"name\":\"intruder\",\"copy_from\":\"ann\"}"},
        {"PATCH", "/profiles/ann", "{\"default\":false}"},
        {"PATCH", "/profiles/ben", "{\"name\":\"intruder\"}"},
        {"DELETE", "/profiles/ben", NULL},
        {"PUT", "/profiles/ann/password", "{\"new_password\":\"intruder-pw\"}"},
        {"GET", "/profiles/ann/services", NULL},
        {"POST", "/profiles/ann/services", "{\"name\":\"Intruder\",\"providers\":[]}"},
        {"GET", "/profiles/ann/services/%s", NULL},
        {"PATCH", "/profiles/ann/services/%s", "{\"name\":\"Intruder\"}"},
        {"DELETE", "/profiles/ann/services/%s", NULL},
        {"GET", "/profiles/ann/services/%s/providers", NULL},
    };
    size_t n = sizeof R / sizeof R[0];
    for (size_t i = 0; i < n; i++) {
        out[i].method = R[i].method;
        out[i].body = R[i].body;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(out[i].path, sizeof out[i].path, R[i].path, uid);
#pragma GCC diagnostic pop
    }
    return n;
}

static void expect_routes_closed(const char *const *bearers, size_t nbearers, const char *uid,
                                 const char *before)
{
    route rt[32];
    size_t n = admin_routes(rt, uid);
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < nbearers; b++) {
            gw_resp r;
            pa_req(rt[i].method, rt[i].path, bearers[b], NULL, rt[i].body, &r);
            cr_expect_eq(r.status, 403, "%s %s with %s: %ld %s", rt[i].method, rt[i].path,
                         bearers[b] ? "that bearer" : "no Authorization", r.status, r.body);
            if (r.status == 403)
                gw_assert_problem(&r, 403, "MAPI_E_NO_ACCESS");
            gw_resp_free(&r);
        }
    pa_expect_file_unchanged(before, "refused admin requests");
}

Test(profile_admin, every_admin_route_needs_the_admin_key)
{
    pa_start();
    gw_session s;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    /* a real uid when the admin list answers, else a well-formed one */
    char uid[40] = FAKE_UID;
    gw_resp r;
    if (pa_admin("GET", "/profiles/ann/services", NULL, &r) == 200) {
        const char *u = gw_jstr(json_array_get(json_object_get(r.json, "services"), 0), "uid");
        if (pa_is_uid(u))
            snprintf(uid, sizeof uid, "%s", u);
    }
    gw_resp_free(&r);
    char *before = pa_file_text();
    const char *const bearers[] = {s.token, NULL, "not-the-admin-key-0123456789abcdef0123"};
    expect_routes_closed(bearers, 3, uid, before);
    /* nothing happened: the session lives, the profiles are as they were */
    pa_expect_status(s.token, 200, "the session after refused admin requests");
    pa_expect_logon("ann", "ann-pw", 201, "ann after refused admin requests");
    pa_expect_logon("ben", "ben-pw", 201, "ben after refused admin requests");
    pa_expect_logon("intruder", NULL, 401, "a profile a refused POST would have made");
    /* the session's own routes are no admin routes: without a bearer they
     * answer as /status does */
    long want = gw_get(pa_gw, "/status", NULL, &r);
    gw_resp_free(&r);
    cr_expect_eq(gw_get(pa_gw, "/services", NULL, &r), want,
                 "GET /services without a token: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    free(before);
    gw_session_free(&s);
}

Test(profile_admin, admin_routes_are_off_without_an_admin_key)
{
    static const char *const args[] = {"--store", "memory", NULL};
    pa_start_with(FILE_NAME, args);
    gw_session s;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    char *before = pa_file_text();
    const char *const bearers[] = {s.token, KEY, NULL};
    expect_routes_closed(bearers, 3, FAKE_UID, before);
    pa_expect_status(s.token, 200, "the session");
    pa_expect_logon("ben", "ben-pw", 201, "ben");
    free(before);
    gw_session_free(&s);
}

/* ======================================================== profiles */

/* The stream of a session whose profile changed: critical_error with reason
 * profile_changed, then the end. */
static void expect_stream_ended(sse *ev, const char *what)
{
    cr_expect(sse_wait(ev, "event: critical_error", 5000), "%s: no critical_error: %s", what,
              ev->buf);
    cr_expect(sse_wait(ev, "\"reason\":\"profile_changed\"", 100), "%s", ev->buf);
    cr_expect(sse_wait_done(ev, 5000), "%s did not end", what);
}

#define CAT_SERVICE                                                                                \
    "{\"name\":\"Cat "                                                                             \
    "mail\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\","                \
    "\"display_name\":\"Cat Mailbox\",\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],"              \
    "\"settings\":{\"path\":\"cat/Maildir\",\"create\":true}}]}"

Test(profile_admin, create_get_logon_and_the_file_keeps_it)
{
    pa_start();
    pa_secret("cat-pw");
    char *listing = pa_dir_names(gw_tmp_dir(pa_gw));
    gw_resp r;
    pa_admin("POST", "/profiles",
             "{\"name\":\"cat\",\"password\":\"cat-pw\",\"services\":[" CAT_SERVICE "]}", &r);
    cr_assert_eq(r.status, 201, "POST /profiles: %ld %s", r.status, r.body);
    char e_post[32], e_get[32];
    pa_expect_profile_view(&r, "cat", "argon2id", e_post);
    pa_expect_location(&r, "/profiles/cat");
    cr_expect(!pa_view_default(&r), "a new profile is not the default: %s", r.body);
    cr_expect(strstr(r.body, "cat-pw") == NULL, "the answer echoes the password");
    json_t *svcs = json_object_get(r.json, "services");
    cr_assert_eq(json_array_size(svcs), 1u, "%s", r.body);
    json_t *svc = json_array_get(svcs, 0);
    cr_expect_str_eq(gw_jstr(svc, "name"), "Cat mail");
    json_t *prov = json_array_get(json_object_get(svc, "providers"), 0);
    cr_expect_str_eq(gw_jstr(prov, "type"), "MAPI_STORE_PROVIDER");
    cr_expect_str_eq(gw_jstr(prov, "kind"), "maildir");
    cr_expect_str_eq(gw_jstr(prov, "display_name"), "Cat Mailbox");
    cr_expect_str_eq(gw_jstr(json_object_get(prov, "settings"), "path"), "cat/Maildir");
    /* the provider's resource flags as a session sees them (the loader adds
     * STATUS_NO_PRIMARY_IDENTITY where neither identity flag is named) */
    bool has_store_flag = false;
    size_t fi;
    json_t *fe;
    json_array_foreach(json_object_get(prov, "resource_flags"), fi, fe) has_store_flag |=
        json_is_string(fe) && strcmp(json_string_value(fe), "STATUS_DEFAULT_STORE") == 0;
    cr_expect(has_store_flag, "resource_flags: %s", r.body);
    gw_resp_free(&r);

    /* logon, and the profile as GET shows it */
    gw_session s;
    gw_logon_ok(pa_gw, "cat", "cat-pw", NEWS, &s);
    cr_expect_str_eq(gw_jstr(s.resp.json, "profile"), "cat");
    cr_expect(pa_status_rows(s.token) >= 4, "the new profile's store is not in the status table");
    pa_expect_logon("cat", "not-cat-pw", 401, "a wrong password");
    pa_get_profile("cat", &r, e_get);
    cr_expect_str_eq(e_get, e_post, "GET's ETag differs from the creation's");
    gw_resp_free(&r);
    pa_admin("GET", "/profiles", NULL, &r);
    cr_expect_eq(r.status, 200);
    cr_expect(pa_find_named(json_object_get(r.json, "profiles"), "cat") != NULL,
              "GET /profiles does not list cat: %s", r.body);
    gw_resp_free(&r);

    /* the file holds it, and the rest of the file is kept */
    json_t *root = pa_file_json();
    json_t *cat = pa_file_profile(root, "cat");
    cr_assert(cat, "the profiles file has no cat");
    json_t *auth = json_object_get(cat, "auth");
    cr_expect_str_eq(gw_jstr(auth, "type"), "argon2id");
    cr_expect(gw_jstr(auth, "verifier") &&
                  strncmp(gw_jstr(auth, "verifier"), "$argon2id$", 10) == 0,
              "no argon2id verifier in the file");
    cr_expect_str_eq(gw_jstr(json_array_get(json_object_get(cat, "services"), 0), "name"),
                     "Cat mail");
    cr_expect(pa_file_profile(root, "ann") && pa_file_profile(root, "ben"), "other profiles lost");
    cr_expect_str_eq(pa_str(root, "default_profile"), "ann");
    cr_expect_eq(json_array_size(json_object_get(root, "templates")), 1u, "the template was lost");
    json_decref(root);
    pa_expect_listing(listing, "the profiles file's folder changed (a temporary file left?)");

    /* SIGHUP: the same file, the same version, still there */
    pa_sighup_reload();
    pa_expect_logon("cat", "cat-pw", 201, "cat after SIGHUP");
    pa_profile_etag("cat", e_get);
    cr_expect_str_eq(e_get, e_post, "a reload of an unchanged file changed cat's version");
    pa_expect_status(s.token, 200, "cat's session after a reload of the same file");

    /* a restart on the same file */
    pa_restart();
    pa_expect_logon("cat", "cat-pw", 201, "cat after a restart");
    pa_expect_logon("cat", "not-cat-pw", 401, "a wrong password after a restart");
    pa_profile_etag("cat", e_get);
    cr_expect_str_eq(e_get, e_post, "a restart changed cat's version");
    free(listing);
    gw_session_free(&s);
}

Test(profile_admin, create_variants_and_refusals)
{
    pa_start();
    gw_resp r;
    /* auth none, a name to encode */
    pa_admin_ok("POST", "/profiles", "{\"name\":\"Eve Smith\",\"auth\":{\"type\":\"none\"}}", 201,
                &r);
    pa_expect_profile_view(&r, "Eve Smith", "none", NULL);
    pa_expect_location(&r, "/profiles/Eve%20Smith");
    cr_expect_eq(json_array_size(json_object_get(r.json, "services")), 0u, "services: %s", r.body);
    gw_resp_free(&r);
    pa_get_profile("Eve Smith", &r, NULL);
    gw_resp_free(&r);
    pa_expect_logon("Eve Smith", NULL, 201, "an auth none profile");
    pa_admin_ok(
        "POST", "/profiles/Eve%20Smith/services",
        "{\"name\":\"Eve mail\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"
        "\"maildir\",\"display_name\":\"Eve Mailbox\",\"settings\":{\"path\":\"eve/Maildir\","
        "\"create\":true}}]}",
        201, &r);
    char want[160];
    snprintf(want, sizeof want, "/profiles/Eve%%20Smith/services/%s",
             gw_jstr(r.json, "uid") ? gw_jstr(r.json, "uid") : "?");
    pa_expect_location(&r, want);
    gw_resp_free(&r);
    /* neither password nor auth: none */
    pa_admin_ok("POST", "/profiles", "{\"name\":\"dan\"}", 201, &r);
    pa_expect_profile_view(&r, "dan", "none", NULL);
    gw_resp_free(&r);
    pa_expect_logon("dan", NULL, 201, "a profile created without auth");
    /* a verifier given: ben's, so ben's password opens fay */
    char v[256], body[512];
    pa_file_verifier("ben", v, sizeof v);
    cr_assert(v[0]);
    snprintf(body, sizeof body,
             "{\"name\":\"fay\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"%s\"}}", v);
    pa_admin_ok("POST", "/profiles", body, 201, &r);
    pa_expect_profile_view(&r, "fay", "argon2id", NULL);
    gw_resp_free(&r);
    pa_expect_logon("fay", "ben-pw", 201, "a profile created with a verifier");
    pa_expect_logon("fay", NULL, 401, "that profile without a password");
    /* default: true */
    pa_secret("gus-pw");
    pa_admin_ok("POST", "/profiles", "{\"name\":\"gus\",\"password\":\"gus-pw\",\"default\":true}",
                201, &r);
    pa_expect_profile_view(&r, "gus", "argon2id", NULL);
    cr_expect(pa_view_default(&r), "created with default true: %s", r.body);
    gw_resp_free(&r);
    pa_expect_view_default("ann", false, "ann is still the default");
    pa_expect_file_default("gus");

    /* refusals: nothing written */
    char *before = pa_file_text();
    pa_admin_refused("POST", "/profiles", "{\"name\":\"ann\",\"password\":\"x-pw-1\"}", 409,
                     "MAPI_E_COLLISION", before);
    pa_admin_refused("POST", "/profiles", "{\"name\":\"ben\",\"copy_from\":\"ann\"}", 409,
                     "MAPI_E_COLLISION", before);
    pa_admin_refused("POST", "/profiles", "{\"name\":\"ivy\",\"copy_from\":\"nobody\"}", 404,
                     "MAPI_E_NOT_FOUND", before);
    static const char *const bad[] = {
        "{\"name\":\"hal\",\"password\":\"x-pw-2\",\"auth\":{\"type\":\"none\"}}",
        "{\"name\":\"\"}",
        "{\"name\":5}",
        "{}",
        "{\"password\":\"x-pw-3\"}",
        "{\"name\":\"jo\",\"colour\":1}",
        "{\"name\":\"jo\",\"password\":7}",
        "{\"name\":\"jo\",\"password\":\"\"}",
        "{\"name\":\"jo\",\"default\":\"yes\"}",
        "{\"name\":\"jo\",\"services\":{}}",
        "{\"name\":\"jo\",\"services\":[5]}",
        "{\"name\":\"jo\",\"copy_from\":5}",
        "{\"name\":\"jo\",\"auth\":{\"type\":\"plain\",\"password\":\"x\"}}",
        "{\"name\":\"jo\",\"auth\":{\"type\":\"argon2id\",\"verifier\":\"plain-text\"}}",
        "{\"name\":",
        "[\"jo\"]",
        "\"jo\"",
    };
    pa_expect_all_invalid("POST", "/profiles", NULL, bad, sizeof bad / sizeof bad[0], before);
    pa_expect_logon("jo", NULL, 401, "a refused profile");
    /* unknown query parameters */
    pa_admin_refused("POST", "/profiles?dry_run=1", "{\"name\":\"kit\"}", 400,
                     "MAPI_E_INVALID_PARAMETER", before);
    pa_expect_admin_problem("GET", "/profiles/ann?fields=name", NULL, 400,
                            "MAPI_E_INVALID_PARAMETER");
    pa_expect_admin_problem("GET", "/profiles/nobody", NULL, 404, "MAPI_E_NOT_FOUND");
    free(before);
}

Test(profile_admin, copy_keeps_the_password_and_rename_ends_sessions)
{
    pa_start();
    gw_resp r;
    pa_admin_ok("POST", "/profiles", "{\"name\":\"ann2\",\"copy_from\":\"ann\"}", 201, &r);
    pa_expect_profile_view(&r, "ann2", "argon2id", NULL);
    json_t *svcs = json_object_get(r.json, "services");
    cr_expect_eq(json_array_size(svcs), 2u, "%s", r.body);
    cr_expect(pa_find_named(svcs, "Ann mail") && pa_find_named(svcs, "Ann extra"), "%s", r.body);
    cr_expect(!pa_view_default(&r), "a copy of the default is not the default: %s", r.body);
    {
        /* uids come from the service names: the copy's are ann's */
        json_t *copy_svcs = json_incref(svcs);
        gw_resp_free(&r);
        pa_admin("GET", "/profiles/ann/services", NULL, &r);
        json_t *orig = json_object_get(r.json, "services");
        for (size_t k = 0; k < json_array_size(orig); k++)
            cr_expect_str_eq(pa_str(json_array_get(copy_svcs, k), "uid"),
                             pa_str(json_array_get(orig, k), "uid"),
                             "service %zu: the copy's uid is not the source's", k);
        json_decref(copy_svcs);
    }
    gw_resp_free(&r);
    char va[256], vc[256];
    pa_file_verifier("ann", va, sizeof va);
    pa_file_verifier("ann2", vc, sizeof vc);
    cr_expect(va[0] && strcmp(va, vc) == 0, "the copy's verifier is not ann's");
    json_t *root = pa_file_json();
    cr_expect(json_equal(json_object_get(pa_file_profile(root, "ann"), "services"),
                         json_object_get(pa_file_profile(root, "ann2"), "services")),
              "the copy's services differ from ann's in the file");
    json_decref(root);
    pa_expect_logon("ann2", "ann-pw", 201, "the copy with the copied password");

    /* a copy with a password of its own */
    pa_secret("ann3-pw");
    pa_admin_ok("POST", "/profiles",
                "{\"name\":\"ann3\",\"copy_from\":\"ann\",\"password\":\"ann3-pw\"}", 201, &r);
    pa_expect_profile_view(&r, "ann3", "argon2id", NULL);
    gw_resp_free(&r);
    pa_expect_logon("ann3", "ann3-pw", 201, "the copy with its own password");
    pa_expect_logon("ann3", "ann-pw", 401, "the copy with the source's password");
    pa_expect_logon("ann", "ann-pw", 201, "the source after the copies");

    /* rename: the old name's sessions end, others live */
    gw_session old, other;
    gw_logon_ok(pa_gw, "ann2", "ann-pw", NEWS, &old);
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &other);
    sse *ev = sse_open_ready_with(pa_gw, old.token, "", NULL);
    pa_admin_ok("PATCH", "/profiles/ann2", "{\"name\":\"ann4\"}", 200, &r);
    pa_expect_profile_view(&r, "ann4", "argon2id", NULL);
    pa_expect_location(&r, "/profiles/ann4");
    gw_resp_free(&r);
    expect_stream_ended(ev, "the renamed profile's stream");
    sse_close(ev);
    pa_expect_status(old.token, 401, "the old name's session");
    pa_expect_status(other.token, 200, "another profile's session");
    pa_expect_logon("ann4", "ann-pw", 201, "the new name");
    pa_expect_logon("ann2", "ann-pw", 401, "the old name");
    pa_expect_admin_problem("GET", "/profiles/ann2", NULL, 404, "MAPI_E_NOT_FOUND");
    pa_get_profile("ann4", &r, NULL);
    gw_resp_free(&r);
    root = pa_file_json();
    cr_expect(pa_file_profile(root, "ann4") && !pa_file_profile(root, "ann2"),
              "the file does not hold the rename");
    json_decref(root);

    /* refusals */
    char *before = pa_file_text();
    pa_admin_refused("PATCH", "/profiles/ann4", "{\"name\":\"ben\"}", 409, "MAPI_E_COLLISION",
                     before);
    static const char *const bad[] = {
        "{}",
        "{\"name\":\"\"}",
        "{\"name\":7}",
        "{\"default\":\"yes\"}",
        "{\"password\":\"x-pw-4\"}",
        "{\"name\":",
    };
    pa_expect_all_invalid("PATCH", "/profiles/ann4", NULL, bad, sizeof bad / sizeof bad[0], before);
    pa_admin_refused("PATCH", "/profiles/nobody", "{\"default\":true}", 404, "MAPI_E_NOT_FOUND",
                     before);
    free(before);
    gw_session_free(&old);
    gw_session_free(&other);
}

Test(profile_admin, delete_ends_sessions_and_event_streams)
{
    pa_start();
    gw_session a, b;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &a);
    gw_logon_ok(pa_gw, "ben", "ben-pw", NEWS, &b);
    sse *ev = sse_open_ready_with(pa_gw, a.token, "", NULL);
    sse *evb = sse_open_ready_with(pa_gw, b.token, "", NULL);
    gw_resp r;
    pa_admin_ok("DELETE", "/profiles/ann", NULL, 204, &r);
    cr_expect_eq(r.body_len, 0u, "a 204 with a body: %s", r.body);
    gw_resp_free(&r);
    expect_stream_ended(ev, "the deleted profile's stream");
    cr_expect(sse_wait(ev, "\"mapi_error\":\"MAPI_E_END_OF_SESSION\"", 100), "%s", ev->buf);
    cr_expect_eq(ev->rc, CURLE_OK, "the stream was cut: %d", ev->rc);
    pa_expect_status(a.token, 401, "the deleted profile's session");
    pa_expect_status(b.token, 200, "another profile's session");
    cr_expect(!sse_wait(evb, "critical_error", 0), "ben's stream was told to end: %s", evb->buf);
    cr_expect(!atomic_load(&evb->done), "ben's stream ended");
    sse_close(ev);
    sse_close(evb);
    pa_expect_logon("ann", "ann-pw", 401, "the deleted profile");
    pa_expect_admin_problem("GET", "/profiles/ann", NULL, 404, "MAPI_E_NOT_FOUND");
    char *before = pa_file_text();
    pa_admin_refused("DELETE", "/profiles/ann", NULL, 404, "MAPI_E_NOT_FOUND", before);
    free(before);
    /* ann was the default: the default is cleared */
    json_t *root = pa_file_json();
    cr_expect(!pa_file_profile(root, "ann"), "ann still in the file");
    cr_expect(pa_file_profile(root, "ben"), "ben gone from the file");
    json_decref(root);
    pa_expect_file_default(NULL);
    pa_expect_view_default("ben", false, "the default flag");
    /* durable */
    pa_restart();
    pa_expect_logon("ann", "ann-pw", 401, "the deleted profile after a restart");
    pa_expect_logon("ben", "ben-pw", 201, "ben after a restart");
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(profile_admin, default_flag_by_patch)
{
    pa_start();
    gw_resp r;
    pa_admin_ok("PATCH", "/profiles/ben", "{\"default\":true}", 200, &r);
    pa_expect_profile_view(&r, "ben", "argon2id", NULL);
    cr_expect(pa_view_default(&r), "%s", r.body);
    gw_resp_free(&r);
    pa_expect_view_default("ann", false, "ann still the default");
    pa_expect_file_default("ben");
    /* a logon without a profile name uses it */
    pa_expect_default_logon("ben-pw", 201, "ben", "a logon to the default");
    pa_expect_default_logon("ann-pw", 401, NULL, "the old default's password on the default");
    /* false on another profile leaves the default alone */
    pa_admin_ok("PATCH", "/profiles/ann", "{\"default\":false}", 200, &r);
    cr_expect(!pa_view_default(&r), "%s", r.body);
    gw_resp_free(&r);
    pa_expect_file_default("ben");
    /* survives a restart */
    pa_restart();
    pa_expect_default_logon("ben-pw", 201, "ben", "a logon to the default after a restart");
    /* false on the default clears it */
    pa_admin_ok("PATCH", "/profiles/ben", "{\"default\":false}", 200, &r);
    cr_expect(!pa_view_default(&r), "%s", r.body);
    gw_resp_free(&r);
    pa_expect_file_default(NULL);
    /* name and default at once; a renamed default stays the default */
    pa_admin_ok("PATCH", "/profiles/ann", "{\"default\":true,\"name\":\"Ann Other\"}", 200, &r);
    pa_expect_profile_view(&r, "Ann Other", "argon2id", NULL);
    cr_expect(pa_view_default(&r), "%s", r.body);
    pa_expect_location(&r, "/profiles/Ann%20Other");
    gw_resp_free(&r);
    pa_admin("PATCH", "/profiles/Ann%20Other", "{\"name\":\"anna\"}", &r);
    cr_assert_eq(r.status, 200, "renaming the default: %ld %s", r.status, r.body);
    cr_expect(pa_view_default(&r), "the renamed default is no longer the default: %s", r.body);
    gw_resp_free(&r);
    pa_expect_file_default("anna");
    pa_expect_default_logon("ann-pw", 201, "anna", "a logon to the renamed default");
}

/* =================================================== PUT password */

Test(profile_admin, put_password)
{
    pa_start();
    pa_secret("ann-new-pw");
    pa_secret("wrong-old-pw");
    pa_secret("ann-3rd-pw");
    pa_secret("dan-pw");
    gw_session s, b;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    gw_logon_ok(pa_gw, "ben", "ben-pw", NEWS, &b);
    char e0[32], e1[32], v0[256];
    pa_profile_etag("ann", e0);
    pa_file_verifier("ann", v0, sizeof v0);
    gw_resp r;
    char *before = pa_file_text();
    pa_req("PUT", "/profiles/ann/password", KEY, NULL,
           "{\"new_password\":\"ann-new-pw\",\"old_password\":\"wrong-old-pw\"}", &r);
    pa_refused(&r, 403, "MAPI_E_NO_ACCESS", before);
    pa_expect_status(s.token, 200, "the session after a refused change");
    static const char *const bad[] = {
        "{\"new_password\":\"\"}",
        "{\"old_password\":\"ann-pw\"}",
        "{\"new_password\":5}",
        "{\"new_password\":\"ann-new-pw\",\"old_password\":5}",
        "{\"new_password\":\"ann-new-pw\",\"extra\":1}",
        "{}",
        "{\"new_password\":",
    };
    pa_expect_all_invalid("PUT", "/profiles/ann/password", NULL, bad, sizeof bad / sizeof bad[0],
                          before);
    pa_admin_refused("PUT", "/profiles/nobody/password", "{\"new_password\":\"ann-new-pw\"}", 404,
                     "MAPI_E_NOT_FOUND", before);
    pa_expect_logon("ann", "ann-pw", 201, "the old password after the refusals");
    free(before);

    sse *ev = sse_open_ready_with(pa_gw, s.token, "", NULL);
    pa_admin_ok("PUT", "/profiles/ann/password",
                "{\"new_password\":\"ann-new-pw\",\"old_password\":\"ann-pw\"}", 200, &r);
    pa_expect_profile_view(&r, "ann", "argon2id", e1);
    cr_expect(strstr(r.body, "ann-new-pw") == NULL, "the answer echoes the password");
    cr_expect_str_neq(e1, e0, "the version did not change with the password");
    gw_resp_free(&r);
    expect_stream_ended(ev, "the stream");
    sse_close(ev);
    pa_expect_status(s.token, 401, "ann's session after the change");
    pa_expect_status(b.token, 200, "ben's session");
    pa_expect_logon("ann", "ann-pw", 401, "the old password");
    pa_expect_logon("ann", "ann-new-pw", 201, "the new password");
    pa_expect_verifier_changed("ann", v0, "the file's verifier did not change");
    /* without old_password */
    pa_admin_ok("PUT", "/profiles/ann/password", "{\"new_password\":\"ann-3rd-pw\"}", 200, &r);
    gw_resp_free(&r);
    pa_expect_logon("ann", "ann-3rd-pw", 201, "the third password");
    pa_expect_logon("ann", "ann-new-pw", 401, "the second password");
    /* a profile without a password gets one */
    pa_admin_ok("POST", "/profiles", "{\"name\":\"dan\",\"auth\":{\"type\":\"none\"}}", 201, &r);
    gw_resp_free(&r);
    pa_admin_ok("PUT", "/profiles/dan/password", "{\"new_password\":\"dan-pw\"}", 200, &r);
    pa_expect_profile_view(&r, "dan", "argon2id", NULL);
    gw_resp_free(&r);
    pa_expect_logon("dan", NULL, 401, "dan without a password");
    pa_expect_logon("dan", "dan-pw", 201, "dan with the password");
    /* durable */
    pa_sighup_reload();
    pa_expect_logon("ann", "ann-3rd-pw", 201, "the third password after SIGHUP");
    pa_restart();
    pa_expect_logon("ann", "ann-3rd-pw", 201, "the third password after a restart");
    pa_expect_logon("ann", "ann-pw", 401, "the first password after a restart");
    pa_expect_logon("dan", "dan-pw", 201, "dan after a restart");
    gw_session_free(&s);
    gw_session_free(&b);
}

/* A name POST /profiles takes is one the API can reach again: its Location
 * answers GET, and DELETE there removes it (a name it cannot serve is a bad
 * name: 400, nothing written). */
Test(profile_admin, every_name_created_is_reachable_at_its_location)
{
    pa_start();
    static const char *const names[] = {"Zo\u00eb", "a/b",        " lead",  "x@tmpl.example",
                                        "100%",     "semi;colon", "q?uery", "h#sh"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *b = json_pack("{s:s, s:{s:s}}", "name", names[i], "auth", "type", "none");
        char *body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        char *before = pa_file_text();
        gw_resp r;
        pa_admin("POST", "/profiles", body, &r);
        free(body);
        if (r.status == 400) {
            pa_refused(&r, 400, "MAPI_E_INVALID_PARAMETER", before);
            free(before);
            continue;
        }
        cr_expect_eq(r.status, 201, "POST %s: %ld %s", names[i], r.status, r.body);
        char *enc = gw_urlencode(names[i]);
        char want[256];
        snprintf(want, sizeof want, "/profiles/%s", enc);
        free(enc);
        const char *loc = gw_header(&r, "Location");
        char location[256];
        snprintf(location, sizeof location, "%s", loc ? loc : want);
        gw_resp_free(&r);
        pa_admin("GET", location, NULL, &r);
        cr_expect_eq(r.status, 200, "profile \"%s\" was created (201) but GET %s answers %ld %s",
                     names[i], location, r.status, r.body);
        if (r.status == 200)
            cr_expect_str_eq(pa_str(r.json, "name"), names[i]);
        gw_resp_free(&r);
        pa_admin("DELETE", location, NULL, &r);
        cr_expect_eq(r.status, 204, "profile \"%s\": DELETE %s answers %ld %s", names[i], location,
                     r.status, r.body);
        gw_resp_free(&r);
        if (r.status != 204) {
            /* leave the file as it was for the next name */
            gw_write_file(gw_profiles_path(pa_gw), before);
            pa_sighup_reload();
        }
        free(before);
    }
}

/* method path?bogus=1 with bearer: 400 MAPI_E_INVALID_PARAMETER. */
static void expect_bogus_query(const char *method, const char *path, const char *bearer,
                               const char *body)
{
    char bogus[200];
    snprintf(bogus, sizeof bogus, "%s?bogus=1", path);
    gw_resp r;
    pa_req(method, bogus, bearer, NULL, body, &r);
    cr_expect_eq(r.status, 400, "%s %s: %ld %s", method, bogus, r.status, r.body);
    if (r.status == 400)
        gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
}

/* Unknown query parameters on every new route: 400. */
Test(profile_admin, unknown_query_parameters_are_refused)
{
    pa_start();
    gw_session s;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    char uid[40];
    pa_service_uid("ann", "Ann mail", uid);
    char *before = pa_file_text();
    route rt[32];
    size_t n = admin_routes(rt, uid);
    for (size_t i = 0; i < n; i++)
        expect_bogus_query(rt[i].method, rt[i].path, KEY, rt[i].body);
    const char *const mine[] = {"GET",          "/services",   "GET",
                                "/services/%s", "GET",         "/services/%s/providers",
                                "PATCH",        "/services/%s"};
    for (size_t i = 0; i < 8; i += 2) {
        char p[160];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(p, sizeof p, mine[i + 1], uid);
#pragma GCC diagnostic pop
        expect_bogus_query(mine[i], p, s.token,
                           strcmp(mine[i], "PATCH") == 0
                               ? "{\"providers\":[{\"settings\":{\"create\":false}},{},{}]}"
                               : NULL);
    }
    pa_expect_file_unchanged(before, "requests with unknown query parameters");
    free(before);
    gw_session_free(&s);
}
