/* Black-box: the "smtp" transport against a real SMTP server (aiosmtpd,
 * srv_smtp.h). The scenario: a queued message survives a flush while
 * the server is down, and after the restart arrives exactly once. Also the
 * spooler's flush, validate-state against a stopped server, the live status
 * bits, and the unconfigured and NO_MAIL cases. */
#include "../support/gw.h"
#include "../support/srv_smtp.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gw *G;
static srv_smtp SINK;

static void fini(void)
{
    gw_finish(G);
    G = NULL;
    srv_smtp_destroy(&SINK);
}

TestSuite(smtp, .fini = fini, .timeout = 30);

#define MAIL "[\"MAPI_NEW_SESSION\"]"
#define NOMAIL "[\"MAPI_NEW_SESSION\",\"MAPI_NO_MAIL\"]"
#define UPLOAD "{\"flags\":[\"FLUSH_UPLOAD\",\"FLUSH_FORCE\"]}"
#define ROW "SMTP Out"

static const char MESSAGE[] = "From: Alice <alice@example.org>\r\n"
                              "To: Bob <bob@example.org>, carol@example.org\r\n"
                              "Bcc: secret-dave@example.org\r\n"
                              "Subject: queued while the server was down\r\n"
                              "\r\n"
                              "Hello from the outbound queue.\r\n";

/* A gateway whose profile "smtp" has an smtp transport on the running sink
 * (url set unless with_url is false, plus any extra settings, each ending
 * in a comma) with its queue under the data dir. */
static void start_gateway(bool with_url, const char *extra)
{
    char url[64], json[2048], path[512];
    snprintf(json, sizeof json,
             "{\"default_profile\":\"smtp\",\"profiles\":[{\"name\":\"smtp\","
             "\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"Outbound\",\"providers\":["
             "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"smtp\",\"display_name\":\"" ROW "\","
             "\"settings\":{%s%s%s%s\"queue\":\"smtp/queue\",\"create\":true,"
             "\"timeout_ms\":3000}}]}]}]}",
             with_url ? "\"url\":\"" : "", with_url ? srv_smtp_url(&SINK, url) : "",
             with_url ? "\"," : "", extra);
    srv_write_file(&SINK.proc, "profiles.json", json, path);
    G = gw_start(path, NULL);
}

/* Starts the sink and the gateway on it. */
static void start(bool with_url)
{
    srv_smtp_start(&SINK);
    start_gateway(with_url, "");
}

/* Queues a message as a client of the queue folder would: written under a
 * dot name (not a message yet), then renamed. */
static void queue_message(const char *name, const char *text)
{
    char *tmp = gw_data_path(G, "smtp/queue/.%s.tmp", name);
    char *final = gw_data_path(G, "smtp/queue/%s", name);
    gw_write_file(tmp, text);
    cr_assert_eq(rename(tmp, final), 0);
    free(tmp);
    free(final);
}

static int queued(void)
{
    char *q = gw_data_path(G, "smtp/queue");
    int n = gw_count_dir(q);
    free(q);
    return n;
}

/* GET /status and the row called display (asserted); the caller frees r. */
static json_t *row_of(const char *token, const char *display, gw_resp *r)
{
    cr_assert_eq(gw_get(G, "/status", token, r), 200, "%s", r->body);
    json_t *row = gw_find_row(r->json, display);
    cr_assert_not_null(row, "no row %s: %s", display, r->body);
    return row;
}

static long post_method(const char *token, json_t *row, const char *method, const char *body,
                        gw_resp *r)
{
    char path[256];
    snprintf(path, sizeof path, "/status/%s/%s", gw_jstr(row, "instance_key"), method);
    return gw_post(G, path, token, body, r);
}

/* Runs method on the row called display; returns the status, r holds the
 * answer. */
static long call(const char *token, const char *display, const char *method, const char *body,
                 gw_resp *r)
{
    gw_resp t;
    json_t *row = row_of(token, display, &t);
    long st = post_method(token, row, method, body, r);
    gw_resp_free(&t);
    return st;
}

static bool starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static unsigned long long code_of(const char *token, const char *display, char *text,
                                  size_t textlen)
{
    gw_resp r;
    json_t *row = row_of(token, display, &r);
    unsigned long long v = gw_jvalue(json_object_get(row, "status_code"));
    if (text)
        snprintf(text, textlen, "%s", gw_jstr(row, "status_string"));
    gw_resp_free(&r);
    return v;
}

Test(smtp, status_row_is_a_live_transport)
{
    start(true);
    gw_session s;
    gw_logon_ok(G, "smtp", NULL, MAIL, &s);
    gw_resp r;
    json_t *row = row_of(s.token, ROW, &r);
    cr_expect_eq(gw_jvalue(json_object_get(row, "resource_type")), 36u);
    cr_expect_str_eq(gw_jstr(row, "provider_dll_name"), "mgwsmtp");
    cr_expect_eq(gw_jvalue(json_object_get(row, "resource_methods")), 0x9u);
    json_t *sc = json_object_get(row, "status_code");
    cr_expect_eq(gw_jvalue(sc), 0x100001u, "%s", r.body);
    cr_expect(gw_jnames_has(sc, "STATUS_OUTBOUND_ENABLED"));
    cr_expect(gw_jnames_has(sc, "STATUS_AVAILABLE"));
    cr_expect_str_eq(gw_jstr(row, "status_string"), "0 messages queued");
    gw_resp_free(&r);

    /* A download-only flush has nothing to do: S_OK, the message stays. */
    queue_message("m1.eml", MESSAGE);
    cr_assert_eq(call(s.token, ROW, "flush-queues", "{\"flags\":[\"FLUSH_DOWNLOAD\"]}", &r), 200,
                 "%s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "status_string"), "1 message queued");
    gw_resp_free(&r);
    cr_expect_eq(queued(), 1);
    cr_expect_eq(srv_smtp_count(&SINK), 0);
    gw_session_free(&s);
}

Test(smtp, a_message_survives_a_down_server_and_arrives_once)
{
    start(true);
    gw_session s;
    gw_logon_ok(G, "smtp", NULL, MAIL, &s);
    queue_message("m1.eml", MESSAGE);
    srv_smtp_stop(&SINK);

    gw_resp r;
    long st = call(s.token, ROW, "flush-queues", UPLOAD, &r);
    cr_assert_eq(st, 502, "flush with the server down: %ld %s", st, r.body);
    gw_assert_problem(&r, 502, "MAPI_E_NETWORK_ERROR");
    gw_resp_free(&r);
    cr_assert_eq(queued(), 1, "the message left the queue");
    char text[300];
    unsigned long long code = code_of(s.token, ROW, text, sizeof text);
    cr_expect(code & 0x2u, "not STATUS_OFFLINE: 0x%llx %s", code, text);
    cr_expect_eq(code & 0x1u, 0u, "still AVAILABLE: 0x%llx", code);
    /* What is true now: the server is unreachable (not "last delivery
     * failed", which would outlive the server's return). */
    cr_expect(starts_with(text, "1 message queued; server unreachable: "), "was: %s", text);

    srv_smtp_restart(&SINK);
    st = call(s.token, ROW, "flush-queues", UPLOAD, &r);
    cr_assert_eq(st, 200, "flush after the restart: %ld %s", st, r.body);
    cr_expect_eq(gw_jvalue(json_object_get(r.json, "status_code")), 0x100001u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "status_string"), "0 messages queued");
    gw_resp_free(&r);
    cr_assert(srv_smtp_wait_count(&SINK, 1, 5000), "nothing arrived");
    cr_expect_eq(queued(), 0);

    /* Once: another flush sends nothing more. */
    cr_assert_eq(call(s.token, ROW, "flush-queues", UPLOAD, &r), 200);
    gw_resp_free(&r);
    gw_sleep_ms(gw_ms(300)); /* room for a second copy to arrive, were one sent */
    cr_assert_eq(srv_smtp_count(&SINK), 1);

    char *got = srv_smtp_message(&SINK, 0);
    cr_assert_not_null(got);
    cr_expect(strstr(got, "Subject: queued while the server was down") != NULL, "%s", got);
    cr_expect(strstr(got, "Hello from the outbound queue.") != NULL, "%s", got);
    cr_expect(strstr(got, "X-MailFrom: alice@example.org") != NULL, "%s", got);
    cr_expect(strstr(got, "bob@example.org") && strstr(got, "carol@example.org"), "%s", got);
    /* Bcc: a recipient, never a header the others see. */
    cr_expect(strstr(got, "X-RcptTo: bob@example.org, carol@example.org, "
                          "secret-dave@example.org") != NULL,
              "%s", got);
    cr_expect_null(strstr(got, "Bcc:"), "%s", got);
    free(got);
    gw_session_free(&s);
}

Test(smtp, the_spooler_flush_covers_the_smtp_transport)
{
    start(true);
    gw_session s;
    gw_logon_ok(G, "smtp", NULL, MAIL, &s);
    queue_message("a.eml", MESSAGE);
    queue_message("b.eml", "From: x@example.org\nTo: y@example.org\nSubject: two\n\nsecond\n");
    gw_resp t, r;
    cr_assert_eq(gw_get(G, "/status", s.token, &t), 200);
    json_t *spooler = gw_row_of_type(t.json, 37);
    cr_assert_not_null(spooler);
    cr_assert_eq(post_method(s.token, spooler, "flush-queues", UPLOAD, &r), 200, "%s", r.body);
    gw_resp_free(&r);
    gw_resp_free(&t);
    cr_assert(srv_smtp_wait_count(&SINK, 2, 5000), "%d arrived", srv_smtp_count(&SINK));
    cr_expect_eq(srv_smtp_count(&SINK), 2);
    cr_expect_eq(queued(), 0);
    gw_session_free(&s);
}

Test(smtp, validate_state_checks_the_server_for_real)
{
    start(true);
    gw_session s;
    gw_logon_ok(G, "smtp", NULL, MAIL, &s);
    srv_smtp_stop(&SINK);
    gw_resp r;
    cr_assert_eq(call(s.token, ROW, "validate-state", NULL, &r), 200, "%s", r.body);
    json_t *sc = json_object_get(r.json, "status_code");
    cr_expect(gw_jnames_has(sc, "STATUS_OFFLINE"), "%s", r.body);
    cr_expect(gw_jnames_has(sc, "STATUS_OUTBOUND_ENABLED"), "%s", r.body);
    cr_expect(!gw_jnames_has(sc, "STATUS_AVAILABLE"), "%s", r.body);
    cr_expect(strstr(gw_jstr(r.json, "status_string"), "server unreachable") != NULL, "%s", r.body);
    gw_resp_free(&r);

    srv_smtp_restart(&SINK);
    cr_assert_eq(call(s.token, ROW, "validate-state", NULL, &r), 200, "%s", r.body);
    cr_expect_eq(gw_jvalue(json_object_get(r.json, "status_code")), 0x100001u, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}

Test(smtp, no_url_disables_the_service_and_no_mail_has_no_row)
{
    start(false);
    gw_session s;
    gw_logon_ok(G, "smtp", NULL, MAIL, &s);
    gw_resp r;
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200);
    cr_expect_null(gw_find_row(r.json, ROW), "unconfigured transport has a row: %s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
    gw_finish(G);
    G = NULL;
    srv_smtp_destroy(&SINK);

    start(true);
    gw_logon_ok(G, "smtp", NULL, NOMAIL, &s);
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200);
    cr_expect_null(gw_find_row(r.json, ROW), "NO_MAIL session has a transport row: %s", r.body);
    cr_expect_eq(gw_count_rows_of_type(r.json, 36), 0u);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* After a failed flush the row says what is true now.
 * With the server still down, validate-state says it is unreachable (not
 * the flush's text); with the server back, it is AVAILABLE with nothing
 * stale beside it. */
Test(smtp, the_status_string_says_what_is_true_now)
{
    start(true);
    gw_session s;
    gw_logon_ok(G, "smtp", NULL, MAIL, &s);
    queue_message("m1.eml", MESSAGE);
    srv_smtp_stop(&SINK);
    gw_resp r;
    cr_assert_eq(call(s.token, ROW, "flush-queues", UPLOAD, &r), 502, "%s", r.body);
    gw_resp_free(&r);

    cr_assert_eq(call(s.token, ROW, "validate-state", NULL, &r), 200, "%s", r.body);
    json_t *sc = json_object_get(r.json, "status_code");
    cr_expect(gw_jnames_has(sc, "STATUS_OFFLINE"), "%s", r.body);
    const char *text = gw_jstr(r.json, "status_string");
    cr_expect(starts_with(text, "1 message queued; server unreachable: "), "%s", r.body);
    cr_expect(text && !strstr(text, "last delivery failed"), "%s", r.body);
    cr_expect(text && !strstr(text, "errno"), "%s", r.body);
    gw_resp_free(&r);

    srv_smtp_restart(&SINK);
    cr_assert_eq(call(s.token, ROW, "validate-state", NULL, &r), 200, "%s", r.body);
    cr_expect_eq(gw_jvalue(json_object_get(r.json, "status_code")), 0x100001u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "status_string"), "1 message queued");
    gw_resp_free(&r);
    /* The same through the table, and the message still goes. */
    char now[300];
    cr_expect_eq(code_of(s.token, ROW, now, sizeof now), 0x100001u);
    cr_expect_str_eq(now, "1 message queued");
    cr_assert_eq(call(s.token, ROW, "flush-queues", UPLOAD, &r), 200, "%s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "status_string"), "0 messages queued");
    gw_resp_free(&r);
    cr_expect(srv_smtp_wait_count(&SINK, 1, 5000), "nothing arrived");
    gw_session_free(&s);
}

/* A server that refuses the login is said to, at logon,
 * after a flush and after validate-state, and the message waits. */
Test(smtp, a_refused_login_is_said_so)
{
    srv_smtp_start_auth(&SINK, "alice", "right-secret");
    start_gateway(true, "\"username\":\"alice\",\"password\":\"wrong-secret\",");
    gw_add_secret(G, "right-secret");
    gw_add_secret(G, "wrong-secret");
    gw_session s;
    gw_logon_ok(G, "smtp", NULL, MAIL, &s);
    char text[300];
    unsigned long long code = code_of(s.token, ROW, text, sizeof text);
    cr_expect(code & 0x4u, "not STATUS_FAILURE: 0x%llx %s", code, text);
    cr_expect(starts_with(text, "0 messages queued; server refused the login: "), "was: %s", text);

    queue_message("m1.eml", MESSAGE);
    gw_resp r;
    long st = call(s.token, ROW, "flush-queues", UPLOAD, &r);
    cr_expect(st >= 400, "flush with a refused login: %ld %s", st, r.body);
    gw_resp_free(&r);
    code_of(s.token, ROW, text, sizeof text);
    cr_expect(starts_with(text, "1 message queued; server refused the login: "), "was: %s", text);
    cr_assert_eq(call(s.token, ROW, "validate-state", NULL, &r), 200, "%s", r.body);
    cr_expect(gw_jnames_has(json_object_get(r.json, "status_code"), "STATUS_FAILURE"), "%s",
              r.body);
    const char *now = gw_jstr(r.json, "status_string");
    cr_expect(starts_with(now, "1 message queued; server refused the login: "), "%s", r.body);
    gw_resp_free(&r);
    cr_expect_eq(queued(), 1, "the message left the queue");
    cr_expect_eq(srv_smtp_count(&SINK), 0);
    gw_session_free(&s);
}
