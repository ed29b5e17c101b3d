/* Black-box: the "imap" store provider against a real dovecot on 127.0.0.1
 * (issue 3 "IMAP message store", "Upstream authentication", "Tests with real
 * servers"): upstream logons, the status row in every server state, the
 * folder hierarchy and counts through GET /stores, objects through
 * GET /entries, the server going away and validate-state bringing it back. */
#include "../support/gw.h"
#include "../support/srv_dovecot.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;
static srv_dovecot D;

static void fini(void)
{
    if (G)
        gw_finish(G);
    G = NULL;
    srv_dovecot_destroy(&D);
}

TestSuite(imap, .fini = fini, .timeout = 60);

#define MAIL "[\"MAPI_NEW_SESSION\"]"
#define MAIL_SYNC "[\"MAPI_NEW_SESSION\",\"MAPI_FORCE_DOWNLOAD\"]"
#define STORE_NAME "Alice IMAP"
#define WAIT_MS 8000

static const srv_dovecot_user USERS[] = {{"alice", "alice-secret"}, {"bob", "bob-secret"}};

static const char MSG1[] = "From: Bob Example <bob@example.com>\r\n"
                           "To: alice@example.com\r\n"
                           "Subject: First hello\r\n"
                           "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
                           "\r\nOne.\r\n";
static const char MSG2[] = "From: carol@example.com\r\n"
                           "Subject: Second hello\r\n"
                           "\r\nTwo.\r\n";
static const char MSG3[] = "From: dave@example.com\r\nSubject: Archived\r\n\r\nThree.\r\n";

/* Mail in dovecot: INBOX 2 (1 unseen), Archive 1 (seen), Archive.2024 empty. */
static void fill_mailbox(void)
{
    srv_dovecot_deliver(&D, "alice", NULL, MSG1, false);
    srv_dovecot_deliver(&D, "alice", NULL, MSG2, true);
    srv_dovecot_deliver(&D, "alice", "Archive", MSG3, true);
    srv_dovecot_add_folder(&D, "alice", "Archive.2024");
}

/* A profiles file with four profiles on the IMAP server at port:
 * "up" (auth upstream), "cfg" (auth none, the right configured password),
 * "wrong" (auth none, a wrong one). Returns its absolute path (static). */
static const char *write_profiles(int port)
{
    static char path[600];
    char url[64];
    snprintf(url, sizeof url, "imap://127.0.0.1:%d", port);
    char json[4096];
#define PROV                                                                                       \
    "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"imap\",\"display_name\":\"%s\","                 \
    "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\",\"STATUS_DEFAULT_STORE\"],"                   \
    "\"identity\":{\"display\":\"Alice\",\"address_type\":\"SMTP\","                               \
    "\"address\":\"alice@example.com\"},"                                                          \
    "\"settings\":{\"url\":\"%s\",\"username\":\"alice\",%s\"timeout_ms\":3000}}"
    char p_up[1024], p_cfg[1024], p_wrong[1024];
    snprintf(p_up, sizeof p_up, PROV, STORE_NAME, url, "");
    snprintf(p_cfg, sizeof p_cfg, PROV, STORE_NAME, url, "\"password\":\"alice-secret\",");
    snprintf(p_wrong, sizeof p_wrong, PROV, STORE_NAME, url, "\"password\":\"not-her-password\",");
#undef PROV
    snprintf(json, sizeof json,
             "{\"default_profile\":\"cfg\",\"profiles\":["
             "{\"name\":\"up\",\"auth\":{\"type\":\"upstream\"},"
             "\"services\":[{\"name\":\"Mail\",\"providers\":[%s]}]},"
             "{\"name\":\"cfg\",\"auth\":{\"type\":\"none\"},"
             "\"services\":[{\"name\":\"Mail\",\"providers\":[%s]}]},"
             "{\"name\":\"wrong\",\"auth\":{\"type\":\"none\"},"
             "\"services\":[{\"name\":\"Mail\",\"providers\":[%s]}]}]}",
             p_up, p_cfg, p_wrong);
    /* The server's temp dir is ours for the test and outlives the gateway. */
    char out[512];
    snprintf(path, sizeof path, "%s", srv_write_file(&D.p, "profiles.json", json, out));
    return path;
}

static void start_all(bool with_mail)
{
    srv_dovecot_start(&D, USERS, 2);
    if (with_mail)
        fill_mailbox();
    static const char *const ARGS[] = {"--poll-interval", "1", NULL};
    G = gw_start(write_profiles(D.port), ARGS);
    /* The configured passwords must never reach the gateway's log either. */
    gw_add_secret(G, "alice-secret");
    gw_add_secret(G, "not-her-password");
}

/* The IMAP provider's status row (GET /status); the caller frees r. */
static json_t *imap_row(const char *token, gw_resp *r)
{
    gw_get(G, "/status", token, r);
    cr_assert_eq(r->status, 200, "GET /status: %ld %s", r->status, r->body);
    json_t *row = gw_find_row(r->json, STORE_NAME);
    cr_assert_not_null(row, "no row for the IMAP store: %s", r->body);
    return row;
}

static bool row_has(json_t *row, const char *code)
{
    return gw_jnames_has(json_object_get(row, "status_code"), code);
}

/* Bounded wait for the row to carry code (and, if not NULL, a status string
 * containing text). Returns whether it did; r holds the last answer. */
static bool wait_row(const char *token, const char *code, const char *text, gw_resp *r)
{
    for (int waited = 0;; waited += 100) {
        json_t *row = imap_row(token, r);
        const char *str = gw_jstr(row, "status_string");
        if (row_has(row, code) && (!text || (str && strstr(str, text))))
            return true;
        if (waited >= WAIT_MS)
            return false;
        gw_resp_free(r);
        gw_sleep_ms(100);
    }
}

/* The entry id (hex) of folder display name in a GET /stores/<id> body. */
static const char *folder_eid(json_t *body, const char *display)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(body, "folders"), i, f)
    {
        if (strcmp(gw_jstr(f, "display_name") ? gw_jstr(f, "display_name") : "", display) == 0)
            return gw_jstr(f, "entry_id");
    }
    return NULL;
}

static long jlong(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return (long)json_integer_value(v);
}

/* The IMAP store's entry id from GET /stores (static copy). */
static const char *store_eid(const char *token)
{
    static char eid[256];
    gw_resp r;
    gw_get(G, "/stores", token, &r);
    cr_assert_eq(r.status, 200, "GET /stores: %ld %s", r.status, r.body);
    json_t *rows = json_object_get(r.json, "rows");
    cr_assert_eq(json_array_size(rows), 1u, "%s", r.body);
    json_t *row = json_array_get(rows, 0);
    cr_expect_str_eq(gw_jstr(row, "display_name"), STORE_NAME);
    cr_assert_not_null(gw_jstr(row, "entry_id"));
    snprintf(eid, sizeof eid, "%s", gw_jstr(row, "entry_id"));
    gw_resp_free(&r);
    return eid;
}

/* A message entry id: the store's id + hex("M" folder NUL uid). */
static char *message_eid(const char *store, const char *folder, const char *uid)
{
    char key[256];
    size_t n = (size_t)snprintf(key, sizeof key, "M%s", folder) + 1; /* keeps the NUL */
    n += (size_t)snprintf(key + n, sizeof key - n, "%s", uid);
    char *hex = gw_hex(key, n);
    char *eid = malloc(strlen(store) + strlen(hex) + 1);
    cr_assert_not_null(eid);
    sprintf(eid, "%s%s", store, hex);
    free(hex);
    return eid;
}

Test(imap, upstream_password_is_checked_by_the_server)
{
    start_all(false);
    gw_session s;
    cr_assert_eq(gw_logon(G, "up", "alice-secret", MAIL, &s), 201, "%s", s.resp.body);
    gw_resp r;
    json_t *row = imap_row(s.token, &r);
    cr_expect(row_has(row, "STATUS_AVAILABLE"), "%s", r.body);
    cr_expect(gw_jnames_has(json_object_get(row, "resource_flags"), "STATUS_PRIMARY_IDENTITY"),
              "%s", r.body);
    cr_expect_str_eq(gw_jstr(row, "provider_dll_name"), "mgwimap");
    gw_resp_free(&r);
    gw_session_free(&s);

    /* Joining the profile's shared session checks the password against the
     * one the IMAP provider logged on with. */
    gw_session shared, join, nojoin;
    gw_logon_ok(G, "up", "alice-secret", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]", &shared);
    cr_expect_eq(gw_logon(G, "up", "alice-secret", "[]", &join), 201, "%s", join.resp.body);
    cr_expect(json_is_true(json_object_get(join.resp.json, "joined")), "%s", join.resp.body);
    cr_expect_str_eq(join.id, shared.id);
    cr_expect_eq(gw_logon(G, "up", "alice-secreT", "[]", &nojoin), 401, "%s", nojoin.resp.body);
    gw_session_free(&shared);
    gw_session_free(&join);
    gw_session_free(&nojoin);

    /* Last: after a refused login dovecot slows down logins from the same
     * address (its auth penalty), as real servers do. */
    gw_session bad;
    cr_expect_eq(gw_logon(G, "up", "alice-wrong", MAIL, &bad), 401, "%s", bad.resp.body);
    gw_assert_problem(&bad.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&bad);
}

Test(imap, upstream_logon_with_the_server_down_is_a_network_error)
{
    start_all(false);
    srv_dovecot_stop(&D);
    gw_session s;
    cr_expect_eq(gw_logon(G, "up", "alice-secret", MAIL, &s), 502, "%s", s.resp.body);
    gw_assert_problem(&s.resp, 502, "MAPI_E_NETWORK_ERROR");
    gw_session_free(&s);
}

Test(imap, folders_and_counts_match_the_server)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(G, "cfg", NULL, MAIL_SYNC, &s);
    gw_resp r;
    /* MAPI_FORCE_DOWNLOAD: the first sync is done when the logon answers. */
    json_t *row = imap_row(s.token, &r);
    cr_expect(row_has(row, "STATUS_AVAILABLE"), "%s", r.body);
    cr_expect_str_eq(gw_jstr(row, "status_string"), "3 folders, 3 messages (1 unseen)");
    gw_resp_free(&r);

    const char *store = store_eid(s.token);
    char path[600];
    snprintf(path, sizeof path, "/stores/%s", store);
    gw_get(G, path, s.token, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    cr_expect_str_eq(gw_jstr(json_object_get(r.json, "store"), "display_name"), STORE_NAME);
    cr_expect_str_eq(gw_jstr(json_object_get(r.json, "store"), "entry_id"), store);
    json_t *folders = json_object_get(r.json, "folders");
    cr_assert_eq(json_array_size(folders), 3u, "%s", r.body);
    struct {
        const char *name;
        long count, unread;
        bool sub;
    } want[] = {{"INBOX", 2, 1, false}, {"Archive", 1, 0, true}, {"2024", 0, 0, false}};
    char *inbox = NULL, *archive = NULL;
    for (size_t k = 0; k < 3; k++) {
        json_t *f = NULL, *x;
        size_t i;
        json_array_foreach(folders, i, x) if (strcmp(gw_jstr(x, "display_name"), want[k].name) == 0)
            f = x;
        cr_assert_not_null(f, "no folder %s: %s", want[k].name, r.body);
        cr_expect_eq(jlong(f, "content_count"), want[k].count, "%s count", want[k].name);
        cr_expect_eq(jlong(f, "content_unread"), want[k].unread, "%s unread", want[k].name);
        cr_expect(json_is_boolean(json_object_get(f, "subfolders")) &&
                      json_is_true(json_object_get(f, "subfolders")) == want[k].sub,
                  "%s subfolders: %s", want[k].name, r.body);
        const char *eid = gw_jstr(f, "entry_id");
        cr_assert(eid && strncmp(eid, store, strlen(store)) == 0, "%s entry id %s", want[k].name,
                  eid);
    }
    inbox = strdup(folder_eid(r.json, "INBOX"));
    archive = strdup(folder_eid(r.json, "Archive"));
    json_t *y;
    size_t i;
    json_array_foreach(folders, i, y) if (strcmp(gw_jstr(y, "display_name"), "2024") == 0)
        cr_expect_str_eq(gw_jstr(y, "parent_entry_id"), archive, "2024's parent");
    gw_resp_free(&r);

    /* Entry ids round-trip: the INBOX id opens the INBOX. */
    snprintf(path, sizeof path, "/entries/%s", inbox);
    gw_get(G, path, s.token, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    cr_expect_str_eq(gw_jstr(r.json, "display_name"), "INBOX");
    cr_expect_str_eq(gw_jstr(r.json, "entry_id"), inbox);
    cr_expect_eq(jlong(r.json, "content_count"), 2);
    cr_expect_eq(jlong(r.json, "content_unread"), 1);
    gw_resp_free(&r);

    /* A folder the server does not have. */
    char *hex = gw_hex("FNope", 5);
    snprintf(path, sizeof path, "/entries/%s%s", store, hex);
    free(hex);
    gw_get(G, path, s.token, &r);
    gw_assert_problem(&r, 404, "MAPI_E_UNKNOWN_ENTRYID");
    gw_resp_free(&r);
    free(inbox);
    free(archive);
    gw_session_free(&s);
}

Test(imap, messages_open_by_uid)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(G, "cfg", NULL, MAIL, &s);
    const char *store = store_eid(s.token);
    /* dovecot numbers a folder's messages from UID 1 up; which of the two
     * got 1 depends on its directory scan, so check the pair. */
    bool got_first = false, got_second = false;
    for (int uid = 1; uid <= 2; uid++) {
        char u[16], path[700];
        snprintf(u, sizeof u, "%d", uid);
        char *eid = message_eid(store, "INBOX", u);
        snprintf(path, sizeof path, "/entries/%s", eid);
        gw_resp r;
        gw_get(G, path, s.token, &r);
        cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
        cr_expect_str_eq(gw_jstr(r.json, "entry_id"), eid);
        cr_expect_str_eq(gw_jstr(json_object_get(r.json, "object_type"), "name"), "MAPI_MESSAGE",
                         "%s", r.body);
        const char *subject = gw_jstr(r.json, "subject");
        cr_assert_not_null(subject, "%s", r.body);
        long flags = jlong(r.json, "message_flags");
        cr_expect(jlong(r.json, "message_size") > 0, "%s", r.body);
        cr_expect_not_null(gw_jstr(r.json, "message_delivery_time"), "%s", r.body);
        if (strcmp(subject, "First hello") == 0) {
            got_first = true;
            cr_expect_eq(flags & 1, 0, "unseen message is MSGFLAG_READ: %s", r.body);
            cr_expect_str_eq(gw_jstr(r.json, "sender_name"), "Bob Example");
            cr_expect_str_eq(gw_jstr(r.json, "sender_email_address"), "bob@example.com");
        } else if (strcmp(subject, "Second hello") == 0) {
            got_second = true;
            cr_expect_eq(flags & 1, 1, "seen message without MSGFLAG_READ: %s", r.body);
            cr_expect_str_eq(gw_jstr(r.json, "sender_email_address"), "carol@example.com");
        }
        gw_resp_free(&r);
        free(eid);
    }
    cr_expect(got_first && got_second, "the two INBOX messages were not found by UID");
    /* Reading did not mark the unseen message as read on the server. */
    gw_resp r;
    cr_expect(wait_row(s.token, "STATUS_AVAILABLE", "(1 unseen)", &r), "%s", r.body);
    gw_resp_free(&r);

    /* No such UID, a malformed UID, a missing folder: unknown entry ids. */
    const char *const bad[][2] = {{"INBOX", "99"}, {"INBOX", "01"}, {"INBOX", "x"}, {"Nope", "1"}};
    for (size_t k = 0; k < 4; k++) {
        char path[700];
        char *eid = message_eid(store, bad[k][0], bad[k][1]);
        snprintf(path, sizeof path, "/entries/%s", eid);
        gw_get(G, path, s.token, &r);
        gw_assert_problem(&r, 404, "MAPI_E_UNKNOWN_ENTRYID");
        gw_resp_free(&r);
        free(eid);
    }
    gw_session_free(&s);
}

Test(imap, first_sync_runs_in_the_background)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(G, "cfg", NULL, MAIL, &s);
    gw_resp r;
    /* The logon checked the connection; the folder counts follow in a poll. */
    json_t *row = imap_row(s.token, &r);
    cr_expect(row_has(row, "STATUS_AVAILABLE"), "%s", r.body);
    gw_resp_free(&r);
    cr_expect(wait_row(s.token, "STATUS_AVAILABLE", "3 folders, 3 messages (1 unseen)", &r), "%s",
              r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(imap, refused_credentials_are_a_failure_row)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(G, "wrong", NULL, MAIL, &s);
    gw_resp r;
    json_t *row = imap_row(s.token, &r);
    cr_expect(row_has(row, "STATUS_FAILURE"), "%s", r.body);
    cr_expect_str_eq(gw_jstr(row, "status_string"), "credentials refused by the server");
    gw_resp_free(&r);
    char path[600];
    snprintf(path, sizeof path, "/stores/%s", store_eid(s.token));
    gw_get(G, path, s.token, &r);
    gw_assert_problem(&r, 502, "MAPI_E_NETWORK_ERROR");
    gw_resp_free(&r);
    row = imap_row(s.token, &r);
    cr_expect(row_has(row, "STATUS_FAILURE"), "the row still says why: %s", r.body);
    cr_expect_str_eq(gw_jstr(row, "status_string"), "credentials refused by the server");
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(imap, server_down_at_logon_is_an_offline_row)
{
    start_all(false);
    srv_dovecot_stop(&D);
    gw_session s;
    gw_logon_ok(G, "cfg", NULL, MAIL, &s);
    gw_resp r;
    json_t *row = imap_row(s.token, &r);
    cr_expect(row_has(row, "STATUS_OFFLINE"), "%s", r.body);
    const char *str = gw_jstr(row, "status_string");
    cr_expect(str && strncmp(str, "server unreachable: ", 20) == 0, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* ---- a minimal GET /events reader (one thread, bounded) ---- */

typedef struct {
    pthread_t thread;
    char url[128], auth[256];
    pthread_mutex_t lock;
    char *buf;
    size_t len;
    atomic_bool stop;
} events;

static size_t ev_data(char *data, size_t size, size_t n, void *ctx)
{
    events *e = ctx;
    size_t len = size * n;
    pthread_mutex_lock(&e->lock);
    char *grown = realloc(e->buf, e->len + len + 1);
    if (grown) {
        memcpy(grown + e->len, data, len);
        e->buf = grown;
        e->len += len;
        e->buf[e->len] = '\0';
    }
    pthread_mutex_unlock(&e->lock);
    return grown ? len : 0;
}

static int ev_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&((events *)ctx)->stop) ? 1 : 0;
}

static void *ev_reader(void *arg)
{
    events *e = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, e->auth);
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ev_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, e);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, ev_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, e);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 40L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static bool ev_wait(events *e, const char *a, const char *b, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        pthread_mutex_lock(&e->lock);
        /* both needles in one event: a, then b before the next "event:" */
        const char *p = e->buf ? strstr(e->buf, a) : NULL;
        bool found = false;
        while (p && !found) {
            const char *next = strstr(p + 1, "\nevent:");
            const char *hit = strstr(p, b);
            found = hit && (!next || hit < next);
            p = strstr(p + 1, a);
        }
        pthread_mutex_unlock(&e->lock);
        if (found)
            return true;
        if (waited >= timeout_ms)
            return false;
        gw_sleep_ms(50);
    }
}

Test(imap, server_going_away_turns_the_row_offline_and_validate_state_brings_it_back)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(G, "cfg", NULL, MAIL_SYNC, &s);
    gw_resp r;
    cr_assert(wait_row(s.token, "STATUS_AVAILABLE", "3 folders", &r), "%s", r.body);
    gw_resp_free(&r);

    events ev = {0};
    pthread_mutex_init(&ev.lock, NULL);
    snprintf(ev.url, sizeof ev.url, "http://127.0.0.1:%d/events", gw_port(G));
    snprintf(ev.auth, sizeof ev.auth, "Authorization: Bearer %s", s.token);
    cr_assert_eq(pthread_create(&ev.thread, NULL, ev_reader, &ev), 0);
    cr_expect(ev_wait(&ev, ": mapigw events", ": mapigw events", 5000), "no event stream");

    srv_dovecot_stop(&D);
    cr_expect(wait_row(s.token, "STATUS_OFFLINE", "server unreachable: ", &r),
              "the row did not turn offline: %s", r.body);
    gw_resp_free(&r);
    cr_expect(ev_wait(&ev, "TABLE_ROW_MODIFIED", "STATUS_OFFLINE", 3000),
              "no TABLE_ROW_MODIFIED event with STATUS_OFFLINE: %s", ev.buf ? ev.buf : "");
    atomic_store(&ev.stop, true);
    pthread_join(ev.thread, NULL);
    pthread_mutex_destroy(&ev.lock);
    free(ev.buf);

    /* Reading the store now fails and says so. */
    char path[600];
    snprintf(path, sizeof path, "/stores/%s", store_eid(s.token));
    gw_get(G, path, s.token, &r);
    gw_assert_problem(&r, 502, "MAPI_E_NETWORK_ERROR");
    gw_resp_free(&r);

    srv_dovecot_restart(&D);
    json_t *row = imap_row(s.token, &r);
    char vpath[300];
    snprintf(vpath, sizeof vpath, "/status/%s/validate-state", gw_jstr(row, "instance_key"));
    gw_resp v;
    gw_post(G, vpath, s.token, "{\"flags\":[\"FORCE_XP_CONNECT\"]}", &v);
    cr_assert_eq(v.status, 200, "%s: %ld %s", vpath, v.status, v.body);
    cr_expect(gw_jnames_has(json_object_get(v.json, "status_code"), "STATUS_AVAILABLE"), "%s",
              v.body);
    cr_expect_str_eq(gw_jstr(v.json, "status_string"), "3 folders, 3 messages (1 unseen)");
    gw_resp_free(&v);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* The rows of GET <path> (200 asserted; the caller frees r). */
static json_t *contents_rows(const char *path, const char *token, gw_resp *r)
{
    gw_get(G, path, token, r);
    cr_assert_eq(r->status, 200, "%s: %ld %s", path, r->status, r->body);
    return json_object_get(r->json, "rows");
}
/* 8-bit and quotes: dovecot sends this subject as a literal. */
static const char MSG_LIT[] = "From: \"Zoë \\\"Z\\\" Q\" <zoe@example.com>\r\n"
                              "Subject: Say \"hi\" \xe2\x80\x93 caf\xc3\xa9\r\n"
                              "\r\nLiteral.\r\n";
static const char MSG_2047[] = "From: =?ISO-8859-1?Q?J=F6rg?= <jorg@example.com>\r\n"
                               "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?B?S8O2bG4=?=\r\n"
                               "\r\nEncoded.\r\n";

Test(imap, contents_lists_newest_first)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(G, "cfg", NULL, MAIL, &s);
    const char *store = store_eid(s.token);
    char *hex = gw_hex("FINBOX", 6);
    char path[700];
    snprintf(path, sizeof path, "/entries/%s%s/contents", store, hex);
    free(hex);
    gw_resp r;
    /* Each listing has dovecot number what came before it: UIDs in order. */
    const char *const add[] = {MSG_LIT, MSG_2047};
    json_t *rows;
    for (size_t k = 0; k < 2; k++) {
        rows = contents_rows(path, s.token, &r);
        cr_expect_eq(json_array_size(rows), 2 + k, "%s", r.body);
        gw_resp_free(&r);
        srv_dovecot_deliver(&D, "alice", NULL, add[k], k == 1);
    }
    rows = contents_rows(path, s.token, &r);
    cr_assert_eq(json_array_size(rows), 4u, "%s", r.body);
    static const char *const want[][3] = {
        {"Grüße aus Köln", "Jörg", "jorg@example.com"},
        {"Say \"hi\" \xe2\x80\x93 café", "Zoë \"Z\" Q", "zoe@example.com"},
    };
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *subject = gw_jstr(row, "subject");
        cr_assert_not_null(subject, "row %zu: %s", i, r.body);
        if (i < 2) {
            cr_expect_str_eq(subject, want[i][0], "row %zu: %s", i, r.body);
            cr_expect_str_eq(gw_jstr(row, "sender_name"), want[i][1], "%s", r.body);
            cr_expect_str_eq(gw_jstr(row, "sender_email_address"), want[i][2], "%s", r.body);
            cr_expect_eq(jlong(row, "message_flags") & 1, i == 0 ? 1 : 0, "%s", r.body);
        } else {
            cr_expect(strcmp(subject, "First hello") == 0 || strcmp(subject, "Second hello") == 0,
                      "row %zu: %s", i, subject);
        }
        cr_expect(jlong(row, "message_size") > 0 && gw_jstr(row, "message_delivery_time"), "%s",
                  r.body);
        /* Each row's entry id opens the same message. */
        char mpath[700];
        snprintf(mpath, sizeof mpath, "/entries/%s", gw_jstr(row, "entry_id"));
        gw_resp m;
        gw_get(G, mpath, s.token, &m);
        cr_expect_str_eq(gw_jstr(m.json, "subject"), subject, "%s: %ld %s", mpath, m.status,
                         m.body);
        gw_resp_free(&m);
    }
    gw_resp_free(&r);

    /* max bounds the rows: the newest one. */
    rows = contents_rows(strcat(path, "?max=1"), s.token, &r);
    cr_assert_eq(json_array_size(rows), 1u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(rows, 0), "subject"), want[0][0], "%s", r.body);
    gw_resp_free(&r);

    /* Listing did not mark the unseen messages read (First hello, MSG_LIT). */
    cr_expect(wait_row(s.token, "STATUS_AVAILABLE", "(2 unseen)", &r), "%s", r.body);
    gw_resp_free(&r);

    /* A folder the server does not have: "FNope". */
    snprintf(path, sizeof path, "/entries/%s464E6F7065/contents", store);
    gw_get(G, path, s.token, &r);
    gw_assert_problem(&r, 404, "MAPI_E_UNKNOWN_ENTRYID");
    gw_resp_free(&r);
    gw_session_free(&s);
}
