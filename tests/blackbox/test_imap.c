/* Black-box: the "imap" store provider against a real dovecot on 127.0.0.1
 * ("IMAP message store", "Upstream authentication", "Tests with real
 * servers"): upstream logons, the status row in every server state, the
 * folder hierarchy and counts through GET /stores, objects through
 * GET /entries, the server going away and validate-state bringing it back.
 *
 * The suite and its fixture: imap_fixture.h; messages and contents tables:
 * test_imap_messages.c. */
#include "imap_fixture.h"
#include "sse_fixture.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

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

Test(imap, upstream_password_is_checked_by_the_server)
{
    start_all(false);
    gw_session s;
    cr_assert_eq(gw_logon(imap_gw, "up", "alice-secret", MAIL, &s), 201, "%s", s.resp.body);
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
    gw_logon_ok(imap_gw, "up", "alice-secret", "[\"MAPI_NEW_SESSION\",\"MAPI_ALLOW_OTHERS\"]",
                &shared);
    cr_expect_eq(gw_logon(imap_gw, "up", "alice-secret", "[]", &join), 201, "%s", join.resp.body);
    cr_expect(json_is_true(json_object_get(join.resp.json, "joined")), "%s", join.resp.body);
    cr_expect_str_eq(join.id, shared.id);
    cr_expect_eq(gw_logon(imap_gw, "up", "alice-secreT", "[]", &nojoin), 401, "%s",
                 nojoin.resp.body);
    gw_session_free(&shared);
    gw_session_free(&join);
    gw_session_free(&nojoin);

    /* Last: after a refused login dovecot slows down logins from the same
     * address (its auth penalty), as real servers do. */
    gw_session bad;
    cr_expect_eq(gw_logon(imap_gw, "up", "alice-wrong", MAIL, &bad), 401, "%s", bad.resp.body);
    gw_assert_problem(&bad.resp, 401, "MAPI_E_LOGON_FAILED");
    gw_session_free(&bad);
}

Test(imap, upstream_logon_with_the_server_down_is_a_network_error)
{
    start_all(false);
    srv_dovecot_stop(&imap_dovecot);
    gw_session s;
    cr_expect_eq(gw_logon(imap_gw, "up", "alice-secret", MAIL, &s), 502, "%s", s.resp.body);
    gw_assert_problem(&s.resp, 502, "MAPI_E_NETWORK_ERROR");
    gw_session_free(&s);
}

Test(imap, folders_and_counts_match_the_server)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(imap_gw, "cfg", NULL, MAIL_SYNC, &s);
    gw_resp r;
    /* MAPI_FORCE_DOWNLOAD: the first sync is done when the logon answers. */
    json_t *row = imap_row(s.token, &r);
    cr_expect(row_has(row, "STATUS_AVAILABLE"), "%s", r.body);
    cr_expect_str_eq(gw_jstr(row, "status_string"), "3 folders, 3 messages (1 unseen)");
    gw_resp_free(&r);

    const char *store = store_eid(s.token);
    char path[600];
    snprintf(path, sizeof path, "/stores/%s", store);
    gw_get(imap_gw, path, s.token, &r);
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
    gw_get(imap_gw, path, s.token, &r);
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
    gw_get(imap_gw, path, s.token, &r);
    gw_assert_problem(&r, 404, "MAPI_E_UNKNOWN_ENTRYID");
    gw_resp_free(&r);
    free(inbox);
    free(archive);
    gw_session_free(&s);
}

Test(imap, first_sync_runs_in_the_background)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(imap_gw, "cfg", NULL, MAIL, &s);
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
    gw_logon_ok(imap_gw, "wrong", NULL, MAIL, &s);
    gw_resp r;
    json_t *row = imap_row(s.token, &r);
    cr_expect(row_has(row, "STATUS_FAILURE"), "%s", r.body);
    cr_expect_str_eq(gw_jstr(row, "status_string"), "credentials refused by the server");
    gw_resp_free(&r);
    char path[600];
    snprintf(path, sizeof path, "/stores/%s", store_eid(s.token));
    gw_get(imap_gw, path, s.token, &r);
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
    srv_dovecot_stop(&imap_dovecot);
    gw_session s;
    gw_logon_ok(imap_gw, "cfg", NULL, MAIL, &s);
    gw_resp r;
    json_t *row = imap_row(s.token, &r);
    cr_expect(row_has(row, "STATUS_OFFLINE"), "%s", r.body);
    const char *str = gw_jstr(row, "status_string");
    cr_expect(str && strncmp(str, "server unreachable: ", 20) == 0, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* ---- a minimal GET /events reader (one thread, bounded) ---- */

/* Waits up to gw_ms(timeout_ms) for an event holding a, then b. */
static bool ev_wait(sse *e, const char *a, const char *b, int timeout_ms)
{
    long long deadline = srv_now_ms() + gw_ms(timeout_ms);
    for (;;) {
        char *buf = sse_text(e);
        /* both needles in one event: a, then b before the next "event:" */
        const char *p = buf ? strstr(buf, a) : NULL;
        bool found = false;
        while (p && !found) {
            const char *next = strstr(p + 1, "\nevent:");
            const char *hit = strstr(p, b);
            found = hit && (!next || hit < next);
            p = strstr(p + 1, a);
        }
        free(buf);
        if (found)
            return true;
        if (srv_now_ms() >= deadline)
            return false;
        gw_sleep_ms(50);
    }
}

Test(imap, server_going_away_turns_the_row_offline_and_validate_state_brings_it_back)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(imap_gw, "cfg", NULL, MAIL_SYNC, &s);
    gw_resp r;
    cr_assert(wait_row(s.token, "STATUS_AVAILABLE", "3 folders", &r), "%s", r.body);
    gw_resp_free(&r);

    sse *ev = sse_open_ready_with(imap_gw, s.token, "", NULL);

    srv_dovecot_stop(&imap_dovecot);
    cr_expect(wait_row(s.token, "STATUS_OFFLINE", "server unreachable: ", &r),
              "the row did not turn offline: %s", r.body);
    gw_resp_free(&r);
    cr_expect(ev_wait(ev, "TABLE_ROW_MODIFIED", "STATUS_OFFLINE", 3000),
              "no TABLE_ROW_MODIFIED event with STATUS_OFFLINE: %s", ev->buf ? ev->buf : "");
    sse_close(ev);

    /* Reading the store now fails and says so. */
    char path[600];
    snprintf(path, sizeof path, "/stores/%s", store_eid(s.token));
    gw_get(imap_gw, path, s.token, &r);
    gw_assert_problem(&r, 502, "MAPI_E_NETWORK_ERROR");
    gw_resp_free(&r);

    srv_dovecot_restart(&imap_dovecot);
    json_t *row = imap_row(s.token, &r);
    char vpath[300];
    snprintf(vpath, sizeof vpath, "/status/%s/validate-state", gw_jstr(row, "instance_key"));
    gw_resp v;
    gw_post(imap_gw, vpath, s.token, "{\"flags\":[\"FORCE_XP_CONNECT\"]}", &v);
    cr_assert_eq(v.status, 200, "%s: %ld %s", vpath, v.status, v.body);
    cr_expect(gw_jnames_has(json_object_get(v.json, "status_code"), "STATUS_AVAILABLE"), "%s",
              v.body);
    cr_expect_str_eq(gw_jstr(v.json, "status_string"), "3 folders, 3 messages (1 unseen)");
    gw_resp_free(&v);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* Dovecot keeps (and sends) folder names in modified
 * UTF-7; the display name is the decoded one, the entry id keeps the
 * server's spelling, and the folder opens and lists by it. */
Test(imap, non_ascii_folder_names_are_shown_decoded)
{
    start_all(false);
    /* Written straight into the Maildir, as dovecot names them on disk. */
    srv_dovecot_deliver(&imap_dovecot, "alice", "Entw&APw-rfe", "Subject: draft\r\n\r\nx\r\n",
                        false);
    srv_dovecot_add_folder(&imap_dovecot, "alice", "Entw&APw-rfe.&ZeVnLIqe-");
    gw_session s;
    gw_logon_ok(imap_gw, "cfg", NULL, MAIL_SYNC, &s);
    const char *store = store_eid(s.token);
    char path[600];
    snprintf(path, sizeof path, "/stores/%s", store);
    gw_resp r;
    gw_get(imap_gw, path, s.token, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    const char *drafts = folder_eid(r.json, "Entw\u00fcrfe");
    cr_assert_not_null(drafts, "no folder \"Entw\u00fcrfe\": %s", r.body);
    char *hex = gw_hex("FEntw&APw-rfe", 13);
    char want[300];
    snprintf(want, sizeof want, "%s%s", store, hex);
    free(hex);
    cr_expect_str_eq(drafts, want, "the entry id keeps the server's spelling");
    const char *child = folder_eid(r.json, "\u65e5\u672c\u8a9e");
    cr_assert_not_null(child, "no folder \"\u65e5\u672c\u8a9e\": %s", r.body);
    json_t *f;
    size_t i;
    json_array_foreach(json_object_get(r.json, "folders"), i, f)
    {
        const char *name = gw_jstr(f, "display_name");
        cr_expect(name && !strchr(name, '&'), "an undecoded name: %s", r.body);
        if (name && strcmp(name, "\u65e5\u672c\u8a9e") == 0)
            cr_expect_str_eq(gw_jstr(f, "parent_entry_id"), want);
    }

    /* The folder opens and lists by that entry id. */
    char drafts_id[300];
    snprintf(drafts_id, sizeof drafts_id, "%s", drafts);
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/entries/%s", drafts_id);
    gw_get(imap_gw, path, s.token, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    cr_expect_str_eq(gw_jstr(r.json, "display_name"), "Entw\u00fcrfe");
    cr_expect_eq(jlong(r.json, "content_count"), 1);
    gw_resp_free(&r);
    snprintf(path, sizeof path, "/entries/%s/contents", drafts_id);
    gw_get(imap_gw, path, s.token, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    cr_expect_eq(jlong(r.json, "row_count"), 1, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* ---- a server that hangs up: accepts, greets, reads a command, closes ---- */

typedef struct {
    pthread_t thread;
    int fd;
    atomic_bool stop;
    atomic_int served;
} dropper;

static void *drop_loop(void *arg)
{
    dropper *d = arg;
    while (!atomic_load(&d->stop)) {
        struct pollfd p = {.fd = d->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(d->fd, NULL, NULL);
        if (c < 0)
            continue;
        /* Counted before the hang-up: once the gateway sees it, the test
         * may look at once. */
        atomic_fetch_add(&d->served, 1);
        struct timeval tv = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        static const char HELLO[] = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n";
        (void)!send(c, HELLO, sizeof HELLO - 1, MSG_NOSIGNAL);
        char buf[512];
        (void)!recv(c, buf, sizeof buf, 0);
        close(c);
    }
    return NULL;
}

/* Listens on port (the stopped dovecot's) and hangs up on every client. */
static void dropper_start(dropper *d, int port)
{
    memset(d, 0, sizeof *d);
    d->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(d->fd >= 0);
    int one = 1;
    setsockopt(d->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(d->fd, (struct sockaddr *)&a, sizeof a), 0, "bind %d: %s", port,
                 strerror(errno));
    cr_assert_eq(listen(d->fd, 8), 0);
    cr_assert_eq(pthread_create(&d->thread, NULL, drop_loop, d), 0);
}

static void dropper_stop(dropper *d)
{
    atomic_store(&d->stop, true);
    pthread_join(d->thread, NULL);
    close(d->fd);
}

/* A connection the server drops is said so, not in
 * libcurl's words ("response reading failed (errno: 0)"); and once the
 * server is back, validate-state shows it available with nothing stale. */
Test(imap, a_dropped_connection_is_said_so)
{
    start_all(true);
    gw_session s;
    gw_logon_ok(imap_gw, "cfg", NULL, MAIL_SYNC, &s);
    gw_resp r;
    json_t *row = imap_row(s.token, &r);
    char vpath[300];
    snprintf(vpath, sizeof vpath, "/status/%s/validate-state", gw_jstr(row, "instance_key"));
    gw_resp_free(&r);

    srv_dovecot_stop(&imap_dovecot);
    dropper d;
    dropper_start(&d, imap_dovecot.port);
    gw_resp v;
    gw_post(imap_gw, vpath, s.token, NULL, &v);
    cr_assert_eq(v.status, 200, "%s: %ld %s", vpath, v.status, v.body);
    cr_expect(gw_jnames_has(json_object_get(v.json, "status_code"), "STATUS_OFFLINE"), "%s",
              v.body);
    cr_expect_str_eq(gw_jstr(v.json, "status_string"),
                     "server unreachable: the server closed the connection");
    gw_resp_free(&v);
    cr_expect_gt(atomic_load(&d.served), 0, "the gateway never came");
    dropper_stop(&d);

    srv_dovecot_restart(&imap_dovecot);
    gw_post(imap_gw, vpath, s.token, NULL, &v);
    cr_assert_eq(v.status, 200, "%s: %ld %s", vpath, v.status, v.body);
    cr_expect(gw_jnames_has(json_object_get(v.json, "status_code"), "STATUS_AVAILABLE"), "%s",
              v.body);
    cr_expect_str_eq(gw_jstr(v.json, "status_string"), "3 folders, 3 messages (1 unseen)");
    gw_resp_free(&v);
    gw_session_free(&s);
}
