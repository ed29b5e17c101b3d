/* Black-box suite "profile_admin", durability and concurrency (the
 * fixture is profile_admin_fixture.[ch]).
 *
 * - Versions: ETag "<16 lower-case hex>" equal to the body's version,
 *   If-Match stale -> 412 MAPI_E_OBJECT_CHANGED, a hand edit + SIGHUP
 *   changes the version of the edited profile only; of many concurrent
 *   writers with one If-Match exactly one wins.
 * - POST /status/{ik}/change-password survives a SIGHUP and a restart.
 * - An unwritable profiles folder: 500 MAPI_E_DISK_ERROR, nothing changed.
 * - Each write starts from the file on disk (a hand edit comes in, a broken
 *   file refuses the write), keeps its mode, goes through a symbolic link;
 *   writes racing SIGHUPs lose nothing; on a public listener open profiles
 *   are refused as at start-up.
 * - With a shared store (its own Redis) writes work and an edit of the file
 *   is taken without SIGHUP.
 *
 * Every gateway runs with --store memory except the one of the shared store.
 */
#include "profile_admin_fixture.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ========================================================= If-Match */

/* Replaces the first from by to in the profiles file, bytes around kept. */
static void edit_by_hand(const char *from, const char *to)
{
    char *t = pa_file_text();
    char *at = strstr(t, from);
    cr_assert(at, "%s not in the profiles file", from);
    size_t len = strlen(t) - strlen(from) + strlen(to) + 1;
    char *n = malloc(len);
    cr_assert(n);
    snprintf(n, len, "%.*s%s%s", (int)(at - t), t, to, at + strlen(from));
    gw_write_file(gw_profiles_path(pa_gw), n);
    free(n);
    free(t);
}

/* A write with if_match refused 412, the file still before. */
static void expect_stale(const char *method, const char *path, const char *if_match,
                         const char *body, const char *before)
{
    gw_resp r;
    pa_admin_if(method, path, if_match, body, &r);
    pa_refused(&r, 412, "MAPI_E_OBJECT_CHANGED", before);
}

Test(profile_admin, if_match)
{
    pa_start();
    pa_secret("ann-im-pw");
    pa_secret("ann-im2-pw");
    char e_ann[32], e_ben[32], e2[32], e3[32], now[32];
    pa_profile_etag("ann", e_ann);
    pa_profile_etag("ben", e_ben);
    char uid[40], spath[256];
    pa_service_path("ann", "Ann extra", uid, spath);
    char *before = pa_file_text();
    gw_resp r;
    /* a stale version on every kind of write */
    expect_stale("PUT", "/profiles/ann/password", STALE, "{\"new_password\":\"ann-im-pw\"}",
                 before);
    expect_stale("PATCH", "/profiles/ann", STALE, "{\"default\":false}", before);
    expect_stale("PATCH", "/profiles/ann", STALE, "{\"name\":\"anna\"}", before);
    expect_stale("DELETE", "/profiles/ann", STALE, NULL, before);
    expect_stale("POST", "/profiles/ann/services", STALE,
                 "{\"name\":\"Ann new\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"
                 "\"maildir\",\"display_name\":\"Ann New\",\"settings\":{\"path\":\"ann/New\"}}]}",
                 before);
    expect_stale("PATCH", spath, STALE, "{\"name\":\"Ann more\"}", before);
    expect_stale("DELETE", spath, STALE, NULL, before);
    /* another profile's version is no version of ann */
    expect_stale("PUT", "/profiles/ann/password", e_ben, "{\"new_password\":\"ann-im-pw\"}",
                 before);
    pa_expect_logon("ann", "ann-pw", 201, "the password after the stale writes");
    pa_expect_logon("ann", "ann-im-pw", 401, "a password a stale write would have set");

    /* the current version: done, and a new version */
    pa_admin_if("PUT", "/profiles/ann/password", e_ann, "{\"new_password\":\"ann-im-pw\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    pa_expect_profile_view(&r, "ann", "argon2id", e2);
    cr_expect_str_neq(e2, e_ann, "the version did not change");
    gw_resp_free(&r);
    pa_expect_logon("ann", "ann-im-pw", 201, "the password set with If-Match");
    /* the old version is stale now */
    free(before);
    before = pa_file_text();
    expect_stale("PUT", "/profiles/ann/password", e_ann, "{\"new_password\":\"ann-im2-pw\"}",
                 before);
    pa_expect_logon("ann", "ann-im2-pw", 401, "a password a stale write would have set");
    /* "*": the profile exists */
    pa_admin_if("PATCH", "/profiles/ann", "*", "{\"default\":true}", &r);
    cr_expect_eq(r.status, 200, "If-Match *: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    /* a service write with the current version answers the new one */
    pa_profile_etag("ann", now);
    pa_admin_if("PATCH", spath, now, "{\"providers\":[{\"display_name\":\"Ann Old Mail\"}]}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    pa_etag_of(&r, e3);
    cr_expect_str_neq(e3, now, "a service change did not change the profile's version");
    gw_resp_free(&r);
    pa_profile_etag("ann", now);
    cr_expect_str_eq(now, e3, "the service write's ETag is not the profile's version");
    /* ann's writes leave ben's version */
    pa_profile_etag("ben", now);
    cr_expect_str_eq(now, e_ben, "ann's writes changed ben's version");

    /* ben edited by hand: a write with ben's old version sees the file as it
     * is now; after SIGHUP the new version shows, ann's stays */
    pa_profile_etag("ann", e3);
    edit_by_hand("Ben Mailbox", "Ben Postbox");
    pa_admin_if("PATCH", "/profiles/ben", e_ben, "{\"default\":false}", &r);
    cr_expect_eq(r.status, 412, "a write with the version from before a hand edit: %ld %s",
                 r.status, r.body);
    gw_resp_free(&r);
    pa_sighup_reload();
    char e_ben2[32];
    pa_profile_etag("ben", e_ben2);
    cr_expect_str_neq(e_ben2, e_ben, "a hand edit + SIGHUP left ben's version");
    pa_profile_etag("ann", now);
    cr_expect_str_eq(now, e3, "a hand edit of ben changed ann's version");
    pa_admin_if("PATCH", "/profiles/ben", e_ben, "{\"default\":false}", &r);
    pa_problem(&r, 412, "MAPI_E_OBJECT_CHANGED");
    gw_resp_free(&r);
    pa_admin_if("PATCH", "/profiles/ben", e_ben2, "{\"default\":false}", &r);
    cr_expect_eq(r.status, 200, "the version after the reload: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    free(before);
}

/* ========================================= change-password is durable */

/* POST /status/<ik>/change-password on the row offering it. */
static long change_password(const char *token, const char *body, gw_resp *out)
{
    gw_resp r;
    gw_get(pa_gw, "/status", token, &r);
    cr_assert_eq(r.status, 200, "GET /status: %ld %s", r.status, r.body);
    const char *ik = gw_row_with_method(r.json, 0x4u); /* STATUS_CHANGE_PASSWORD */
    cr_assert(ik, "no row offers change-password: %s", r.body);
    char path[256];
    snprintf(path, sizeof path, "/status/%s/change-password", ik);
    gw_resp_free(&r);
    return gw_post(pa_gw, path, token, body, out);
}

Test(profile_admin, status_change_password_survives_reload_and_restart)
{
    pa_start();
    pa_secret("ann-cp-pw");
    char v0[256];
    pa_file_verifier("ann", v0, sizeof v0);
    char *listing = pa_dir_names(gw_tmp_dir(pa_gw));
    gw_session s;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    gw_resp r;
    change_password(s.token, "{\"old_password\":\"ann-pw\",\"new_password\":\"ann-cp-pw\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    gw_resp_free(&r);
    pa_expect_verifier_changed("ann", v0, "the profiles file's verifier did not change");
    pa_expect_listing(listing, "the profiles file's folder changed (a temporary file left?)");
    free(listing);
    pa_expect_logon("ann", "ann-pw", 401, "the old password");
    pa_expect_logon("ann", "ann-cp-pw", 201, "the new password");
    pa_sighup_reload();
    pa_expect_logon("ann", "ann-pw", 401, "the old password after SIGHUP");
    pa_expect_logon("ann", "ann-cp-pw", 201, "the new password after SIGHUP");
    pa_restart();
    pa_expect_logon("ann", "ann-pw", 401, "the old password after a restart");
    pa_expect_logon("ann", "ann-cp-pw", 201, "the new password after a restart");
    gw_session_free(&s);
}

/* ===================================================== disk errors */

Test(profile_admin, unwritable_profiles_file_is_disk_error_and_changes_nothing)
{
    pa_start();
    pa_secret("ann-lost-pw");
    pa_secret("lee-pw");
    gw_session s;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &s);
    char e_ann[32], now[32];
    pa_profile_etag("ann", e_ann);
    char *before = pa_file_text();
    char *listing = pa_dir_names(gw_tmp_dir(pa_gw));
    pa_lock_dir(gw_tmp_dir(pa_gw));
    gw_resp r;
    pa_admin_refused("PUT", "/profiles/ann/password", "{\"new_password\":\"ann-lost-pw\"}", 500,
                     "MAPI_E_DISK_ERROR", before);
    pa_admin_refused("POST", "/profiles", "{\"name\":\"lee\",\"password\":\"lee-pw\"}", 500,
                     "MAPI_E_DISK_ERROR", before);
    pa_admin_refused("PATCH", "/profiles/ben", "{\"default\":true}", 500, "MAPI_E_DISK_ERROR",
                     before);
    pa_admin_refused("DELETE", "/profiles/ben", NULL, 500, "MAPI_E_DISK_ERROR", before);
    pa_admin_refused("POST", "/profiles/ann/services", NOTES_SERVICE, 500, "MAPI_E_DISK_ERROR",
                     before);
    change_password(s.token, "{\"old_password\":\"ann-pw\",\"new_password\":\"ann-lost-pw\"}", &r);
    pa_refused(&r, 500, "MAPI_E_DISK_ERROR", before);
    pa_unlock_dir();
    pa_expect_listing(listing, "the failed writes left files");
    free(listing);
    /* nothing changed in memory */
    pa_expect_logon("ann", "ann-pw", 201, "the old password after the failed writes");
    pa_expect_logon("ann", "ann-lost-pw", 401, "a password a failed write would have set");
    pa_expect_logon("lee", "lee-pw", 401, "a profile a failed write would have made");
    pa_expect_logon("ben", "ben-pw", 201, "a profile a failed write would have deleted");
    pa_expect_status(s.token, 200, "the session after the failed writes");
    pa_profile_etag("ann", now);
    cr_expect_str_eq(now, e_ann, "ann's version changed");
    pa_expect_view_default("ben", false, "ben became the default");
    pa_get_profile("ann", &r, NULL);
    cr_expect_eq(json_array_size(json_object_get(r.json, "services")), 2u,
                 "a service a failed write would have added: %s", r.body);
    gw_resp_free(&r);
    /* writable again: writes work */
    pa_admin("PUT", "/profiles/ann/password", "{\"new_password\":\"ann-lost-pw\"}", &r);
    cr_expect_eq(r.status, 200, "a write once the folder is writable: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    pa_expect_logon("ann", "ann-lost-pw", 201, "the password set after the repair");
    free(before);
    gw_session_free(&s);
}

/* ====================================== the file on disk is the truth */

/* Each write starts from the profiles file as it is on disk now and installs
 * the result as a reload would: a profile added by hand (no SIGHUP) comes in
 * with the next write; a file broken by hand refuses the write with the
 * loader's message and stays as it is. The file's mode is kept. */
Test(profile_admin, a_write_starts_from_the_file_on_disk)
{
    static const char *const args[] = {
        "--store", "memory",          "--admin-key", KEY, "--idle-timeout",
        "1",       "--reap-interval", "1",           NULL};
    pa_start_with(FILE_NAME, args);
    pa_secret("ann-broken-pw");
    cr_assert_eq(chmod(gw_profiles_path(pa_gw), 0600), 0);
    json_t *root = pa_file_json();
    json_array_append_new(
        json_object_get(root, "profiles"),
        json_pack("{s:s, s:{s:s}, s:[]}", "name", "hand", "auth", "type", "none", "services"));
    cr_assert_eq(json_dump_file(root, gw_profiles_path(pa_gw), JSON_INDENT(2)), 0);
    json_decref(root);
    /* without a shared store the gateway does not reload by itself: a reap
     * pass runs (a session idles out) and the edit is still not taken */
    size_t expired = pa_count_log_msgs("sessions expired");
    gw_session idle;
    gw_logon_ok(pa_gw, "ben", "ben-pw", NEWS, &idle);
    gw_session_free(&idle);
    for (long long end = pa_now_ms() + gw_ms(10000);
         pa_count_log_msgs("sessions expired") == expired && pa_now_ms() < end;)
        gw_sleep_ms(50);
    cr_expect_gt(pa_count_log_msgs("sessions expired"), expired, "no reap pass ran");
    cr_expect_eq(pa_count_log_msgs("profiles file changed"), 0u,
                 "the memory store reloaded the file by itself");
    pa_expect_logon("hand", NULL, 401, "a profile added by hand, before any reload");
    gw_resp r;
    pa_admin_ok("POST", "/profiles", "{\"name\":\"cat\",\"auth\":{\"type\":\"none\"}}", 201, &r);
    gw_resp_free(&r);
    root = pa_file_json();
    cr_expect(pa_file_profile(root, "hand") && pa_file_profile(root, "cat"),
              "the write lost the hand edit or its own change");
    json_decref(root);
    pa_expect_logon("hand", NULL, 201, "the hand-added profile after a write installed the file");
    pa_expect_logon("cat", NULL, 201, "the written profile");
    pa_get_profile("hand", &r, NULL);
    gw_resp_free(&r);
    struct stat st;
    cr_assert_eq(stat(gw_profiles_path(pa_gw), &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0600u, "the rewritten profiles file has mode %o, was 0600",
                 (unsigned)(st.st_mode & 07777));

    /* broken by hand */
    char *good = pa_file_text();
    size_t len = strlen(good) + 16;
    char *broken = malloc(len);
    cr_assert(broken);
    snprintf(broken, len, "%sgarbage\n", good);
    gw_write_file(gw_profiles_path(pa_gw), broken);
    pa_admin("POST", "/profiles", "{\"name\":\"dog\",\"auth\":{\"type\":\"none\"}}", &r);
    pa_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    cr_expect(strstr(pa_detail_of(&r), FILE_NAME) != NULL, "the detail does not name the file: %s",
              r.body);
    pa_expect_file_unchanged(broken, "a write over a broken file");
    gw_resp_free(&r);
    pa_admin("PUT", "/profiles/ann/password", "{\"new_password\":\"ann-broken-pw\"}", &r);
    pa_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    pa_expect_file_unchanged(broken, "a write over a broken file");
    gw_resp_free(&r);
    pa_expect_logon("dog", NULL, 401, "a profile refused over a broken file");
    pa_expect_logon("ann", "ann-pw", 201, "the profiles in memory after refused writes");
    pa_expect_logon("hand", NULL, 201, "the profiles in memory after refused writes");
    /* repaired: writes again */
    gw_write_file(gw_profiles_path(pa_gw), good);
    pa_admin("POST", "/profiles", "{\"name\":\"dog\",\"auth\":{\"type\":\"none\"}}", &r);
    cr_expect_eq(r.status, 201, "a write once the file is repaired: %ld %s", r.status, r.body);
    gw_resp_free(&r);
    pa_expect_logon("dog", NULL, 201, "the profile written after the repair");
    free(broken);
    free(good);
}

/* A profiles file reached through a symbolic link (a shared volume, a
 * mounted configuration): the write goes to the file the gateway reads, the
 * link stays a link. */
Test(profile_admin, a_symlinked_profiles_file_is_written_through_the_link)
{
    pa_start();
    char shared[600], target[700];
    snprintf(shared, sizeof shared, "%s/shared", gw_tmp_dir(pa_gw));
    snprintf(target, sizeof target, "%s/real.json", shared);
    cr_assert_eq(mkdir(shared, 0700), 0);
    cr_assert_eq(rename(gw_profiles_path(pa_gw), target), 0);
    cr_assert_eq(symlink(target, gw_profiles_path(pa_gw)), 0);
    gw_resp r;
    pa_admin_ok("POST", "/profiles", "{\"name\":\"cat\",\"auth\":{\"type\":\"none\"}}", 201, &r);
    gw_resp_free(&r);
    struct stat st;
    cr_assert_eq(lstat(gw_profiles_path(pa_gw), &st), 0);
    cr_expect(S_ISLNK(st.st_mode), "the write replaced the symbolic link %s by a regular file",
              gw_profiles_path(pa_gw));
    char *t = gw_read_whole(target, NULL);
    cr_assert(t);
    json_t *root = json_loads(t, 0, NULL);
    cr_expect(root && pa_file_profile(root, "cat"),
              "the file the link points to (%s) does not hold the write", target);
    json_decref(root);
    free(t);
    pa_expect_logon("cat", NULL, 201, "the profile written");
    /* a reload reads through the link and keeps it */
    pa_sighup_reload();
    pa_expect_logon("cat", NULL, 201, "the profile written, after a reload through the link");
}

/* On an address other machines can reach, a write that would bring in a
 * profile anyone can log on to is refused as a SIGHUP reload of it would be
 * (startup_guard); nothing is written. */
Test(profile_admin, a_public_listener_refuses_writes_of_open_profiles)
{
    /* the test file without its open template */
    const char *dir = getenv("MAPIGW_TEST_PROFILES");
    cr_assert(dir, "MAPIGW_TEST_PROFILES is not set");
    char src[4096];
    snprintf(src, sizeof src, "%s/%s", dir, FILE_NAME);
    json_error_t je;
    json_t *doc = json_load_file(src, 0, &je);
    cr_assert(doc, "%s: %s", src, je.text);
    json_object_del(doc, "templates");
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    const char *safe = gw_test_file(FILE_NAME, text);
    free(text);
    static const char *const args[] = {"--listen",    "0.0.0.0", "--store", "memory",
                                       "--admin-key", KEY,       NULL};
    pa_start_with(safe, args);
    pa_secret("pat-pw");
    char *before = pa_file_text();
    gw_resp r;
    static const char *const open_bodies[] = {
        "{\"name\":\"open\"}",
        "{\"name\":\"open\",\"auth\":{\"type\":\"none\"}}",
        "{\"name\":\"open\",\"copy_from\":\"ann\",\"auth\":{\"type\":\"none\"}}",
    };
    for (size_t i = 0; i < sizeof open_bodies / sizeof open_bodies[0]; i++) {
        pa_admin("POST", "/profiles", open_bodies[i], &r);
        cr_expect(r.status == 400 || r.status == 403, "POST %s on a public listener: %ld %s",
                  open_bodies[i], r.status, r.body);
        if (r.status == 400 || r.status == 403)
            pa_refused(&r, r.status,
                       r.status == 400 ? "MAPI_E_INVALID_PARAMETER" : "MAPI_E_NO_ACCESS", before);
        else
            gw_resp_free(&r);
    }
    pa_expect_logon("open", NULL, 401, "an open profile refused on a public listener");
    /* a profile with a password is fine */
    pa_admin_expect("POST", "/profiles", "{\"name\":\"pat\",\"password\":\"pat-pw\"}", 201);
    pa_expect_logon("pat", "pat-pw", 201, "a profile with a password on a public listener");
    free(before);
}

/* Writes from two clients while SIGHUPs arrive: no write is lost, neither in
 * the file nor in memory (a reload never installs a file older than a write
 * that already answered). */
typedef struct {
    int id;
    int n;
    long status[32];
    atomic_bool done;
} writer;

static void *write_profiles(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < w->n; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"name\":\"w%d-%d\",\"auth\":{\"type\":\"none\"}}", w->id, i);
        gw_resp r;
        w->status[i] = pa_admin("POST", "/profiles", body, &r);
        gw_resp_free(&r);
    }
    atomic_store(&w->done, true);
    return NULL;
}

Test(profile_admin, writes_and_reloads_never_interleave)
{
    pa_start();
    static writer w[2];
    for (int i = 0; i < 2; i++) {
        w[i].id = i;
        w[i].n = 20;
        atomic_store(&w[i].done, false);
    }
    size_t reloads = pa_count_log_msgs("profiles reloaded");
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, write_profiles, &w[i]), 0);
    /* SIGHUPs as long as they write */
    int sent = 0;
    while (!atomic_load(&w[0].done) || !atomic_load(&w[1].done) || sent < 5) {
        cr_assert_eq(kill(gw_pid(pa_gw), SIGHUP), 0);
        sent++;
        gw_sleep_ms(2);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    /* the reloads really ran among the writes */
    for (long long end = pa_now_ms() + gw_ms(5000);
         pa_count_log_msgs("profiles reloaded") == reloads && pa_now_ms() < end;)
        gw_sleep_ms(20);
    cr_expect_gt(pa_count_log_msgs("profiles reloaded"), reloads, "no SIGHUP reload ran");
    json_t *root = pa_file_json();
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < w[i].n; j++) {
            char name[32];
            snprintf(name, sizeof name, "w%d-%d", i, j);
            cr_expect_eq(w[i].status[j], 201, "POST %s: %ld", name, w[i].status[j]);
            cr_expect(pa_file_profile(root, name) != NULL, "%s is not in the file", name);
            pa_expect_logon(name, NULL, 201, "a profile written among SIGHUPs");
        }
    cr_expect(pa_file_profile(root, "ann") && pa_file_profile(root, "ben"), "a profile was lost");
    json_decref(root);
    cr_expect_eq(gw_wait_exit(pa_gw, 0), -1, "the gateway exited");
    /* and the file the last reload read is the same */
    pa_sighup_reload();
    pa_expect_logon("w0-19", NULL, 201, "after a last reload");
    pa_expect_logon("w1-19", NULL, 201, "after a last reload");
}

/* Optimistic concurrency: clients that all read one version and write with
 * If-Match at once: exactly one wins, the others get 412. */
typedef struct {
    const char *path;
    const char *etag;
    int round, i;
    pthread_barrier_t *go;
    long status;
} racer;

static void *race_write(void *arg)
{
    racer *rc = arg;
    char body[256];
    /* a different content per writer and per round: a write that changed
     * nothing would leave the version, and a second writer would rightly win */
    snprintf(body, sizeof body, "{\"providers\":[{\"display_name\":\"Archive %d.%d\"}]}", rc->round,
             rc->i);
    pthread_barrier_wait(rc->go);
    gw_resp r;
    rc->status = pa_admin_if("PATCH", rc->path, rc->etag, body, &r);
    gw_resp_free(&r);
    return NULL;
}

Test(profile_admin, if_match_lets_one_of_many_concurrent_writers_win)
{
    pa_start();
    char uid[40], path[256], etag[32];
    pa_service_path("ann", "Ann extra", uid, path);
    for (int round = 0; round < 3; round++) {
        pa_profile_etag("ann", etag);
        enum { N = 8 };
        racer rc[N];
        pthread_t t[N];
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, N);
        for (int i = 0; i < N; i++) {
            rc[i] = (racer){path, etag, round, i, &go, 0};
            cr_assert_eq(pthread_create(&t[i], NULL, race_write, &rc[i]), 0);
        }
        int won = 0, stale = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(t[i], NULL);
            won += rc[i].status == 200;
            stale += rc[i].status == 412;
        }
        pthread_barrier_destroy(&go);
        cr_expect_eq(won, 1, "round %d: %d writers with the same If-Match won", round, won);
        cr_expect_eq(stale, N - 1, "round %d: %d of %d got 412", round, stale, N - 1);
    }
}

/* ================================================== a shared store */

/* With a shared store (its own Redis here) writes work too, and the gateway
 * takes an edit of the file by itself within a reap interval (replicas share
 * one profiles file): no SIGHUP. */
static long logon_until(const char *profile, const char *pw, long want, int ms)
{
    long long end = pa_now_ms() + gw_ms(ms);
    for (;;) {
        gw_session n;
        long st = gw_logon(pa_gw, profile, pw, NEWS, &n);
        gw_session_free(&n);
        if (st == want || pa_now_ms() >= end)
            return st;
        gw_sleep_ms(100);
    }
}

Test(profile_admin, a_shared_store_takes_writes_and_edits_of_the_file)
{
    const char *url = pa_redis_start();
    const char *const args[] = {
        "--store",         url, "--store-prefix",   "profile-admin:", "--admin-key", KEY,
        "--reap-interval", "1", "--throttle-after", "1000",           NULL};
    pa_start_with(FILE_NAME, args);
    pa_secret("cat-pw");
    gw_resp r;
    pa_get_profile("ann", &r, NULL);
    gw_resp_free(&r);
    pa_admin("POST", "/profiles", "{\"name\":\"cat\",\"password\":\"cat-pw\"}", &r);
    cr_assert_eq(r.status, 201, "a write with a shared store: %ld %s", r.status, r.body);
    pa_expect_profile_view(&r, "cat", "argon2id", NULL);
    gw_resp_free(&r);
    pa_expect_logon("cat", "cat-pw", 201, "the profile written with a shared store");
    json_t *root = pa_file_json();
    cr_expect(pa_file_profile(root, "cat") != NULL, "the file does not hold the new profile");
    json_decref(root);

    /* ann's verifier becomes ben's, by hand, no SIGHUP */
    gw_session a;
    gw_logon_ok(pa_gw, "ann", "ann-pw", NEWS, &a);
    char va[256], vb[256];
    pa_file_verifier("ann", va, sizeof va);
    pa_file_verifier("ben", vb, sizeof vb);
    edit_by_hand(va, vb);
    cr_expect_eq(logon_until("ann", "ben-pw", 201, 10000), 201,
                 "the edit of the file was never taken without SIGHUP");
    gw_get(pa_gw, "/status", a.token, &r);
    gw_assert_problem(&r, 401, "MAPI_E_END_OF_SESSION");
    gw_resp_free(&r);
    pa_expect_logon("ann", "ann-pw", 401, "the password the edit replaced");
    gw_session_free(&a);
}
