/* imap_fixture.c - the black-box "imap" suite, its dovecot and gateway, and
 * the helpers its tests share (see imap_fixture.h). */
#include "imap_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gw *imap_gw;
srv_dovecot imap_dovecot;

static void fini(void)
{
    if (imap_gw)
        gw_finish(imap_gw);
    imap_gw = NULL;
    srv_dovecot_destroy(&imap_dovecot);
}

TestSuite(imap, .fini = fini, .timeout = 60);

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
    srv_dovecot_deliver(&imap_dovecot, "alice", NULL, MSG1, false);
    srv_dovecot_deliver(&imap_dovecot, "alice", NULL, MSG2, true);
    srv_dovecot_deliver(&imap_dovecot, "alice", "Archive", MSG3, true);
    srv_dovecot_add_folder(&imap_dovecot, "alice", "Archive.2024");
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
    snprintf(path, sizeof path, "%s", srv_write_file(&imap_dovecot.p, "profiles.json", json, out));
    return path;
}

void start_all(bool with_mail)
{
    srv_dovecot_start(&imap_dovecot, USERS, 2);
    if (with_mail)
        fill_mailbox();
    static const char *const ARGS[] = {"--poll-interval", "1", NULL};
    imap_gw = gw_start(write_profiles(imap_dovecot.port), ARGS);
    /* The configured passwords must never reach the gateway's log either. */
    gw_add_secret(imap_gw, "alice-secret");
    gw_add_secret(imap_gw, "not-her-password");
}

/* The IMAP provider's status row (GET /status); the caller frees r. */
json_t *imap_row(const char *token, gw_resp *r)
{
    gw_get(imap_gw, "/status", token, r);
    cr_assert_eq(r->status, 200, "GET /status: %ld %s", r->status, r->body);
    json_t *row = gw_find_row(r->json, STORE_NAME);
    cr_assert_not_null(row, "no row for the IMAP store: %s", r->body);
    return row;
}

bool row_has(json_t *row, const char *code)
{
    return gw_jnames_has(json_object_get(row, "status_code"), code);
}

/* Bounded wait for the row to carry code (and, if not NULL, a status string
 * containing text). Returns whether it did; r holds the last answer. */
bool wait_row(const char *token, const char *code, const char *text, gw_resp *r)
{
    /* A deadline on the clock, scaled with the run: the poller that changes
     * the row is as slow as the gateway (valgrind, a busy machine), and so
     * are the GETs between the sleeps. */
    long long deadline = srv_now_ms() + gw_ms(WAIT_MS);
    for (;;) {
        json_t *row = imap_row(token, r);
        const char *str = gw_jstr(row, "status_string");
        if (row_has(row, code) && (!text || (str && strstr(str, text))))
            return true;
        if (srv_now_ms() >= deadline)
            return false;
        gw_resp_free(r);
        gw_sleep_ms(100);
    }
}

long jlong(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return (long)json_integer_value(v);
}

/* The IMAP store's entry id from GET /stores (static copy). */
const char *store_eid(const char *token)
{
    static char eid[256];
    gw_resp r;
    gw_get(imap_gw, "/stores", token, &r);
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
