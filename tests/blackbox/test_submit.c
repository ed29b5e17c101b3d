/* Black-box: sending mail (POST /messages: CreateMessage in the default
 * store's Outbox + SubmitMessage, the spooler, the smtp transport) against a
 * real SMTP server (aiosmtpd, srv_smtp.h): delivery and the Sent Items copy,
 * ResolveName's answers, routing refusals (no transport for an address type,
 * MAPI_NO_MAIL), a non-delivery report for a refused recipient, retry with
 * backoff while the server is down, and a kill -9 with a queued message
 * followed by a restart on the same folders. */
#include "../support/gw.h"
#include "../support/raw_http.h"
#include "../support/srv_dovecot.h"
#include "../support/srv_smtp.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gw *G;
static srv_smtp SINK;
static char PROFILES[512];

static srv_dovecot DOVE;

static void fini(void)
{
    gw_finish(G);
    G = NULL;
    srv_smtp_destroy(&SINK);
    srv_dovecot_destroy(&DOVE);
}

TestSuite(submit, .fini = fini, .timeout = 90);

#define MAIL "[\"MAPI_NEW_SESSION\"]"
#define NOMAIL "[\"MAPI_NEW_SESSION\",\"MAPI_NO_MAIL\"]"
#define ROW "SMTP Out"
static const char *const FAST_POLL[] = {"--poll-interval", "1", NULL};

static const char CONTACTS[] =
    "{\"entries\":["
    "{\"display\":\"Bob Builder\",\"address_type\":\"SMTP\",\"address\":\"bob@example.org\"},"
    "{\"display\":\"Bobby Tables\",\"address_type\":\"SMTP\",\"address\":\"bobby@example.org\"},"
    "{\"display\":\"Carol Singer\",\"address_type\":\"SMTP\",\"address\":\"carol@example.org\"},"
    "{\"display\":\"Fax Machine\",\"address_type\":\"FAX\",\"address\":\"+15550100\"}]}";

/* A path under the sink's temp dir (the gateway's folders live there, so a
 * second gateway finds them); malloc'd. */
static char *path_of(const char *rel)
{
    size_t n = strlen(SINK.proc.dir) + strlen(rel) + 2;
    char *p = malloc(n);
    cr_assert_not_null(p);
    snprintf(p, n, "%s/%s", SINK.proc.dir, rel);
    return p;
}

/* Profile "u": a Maildir store (default store, SMTP identity), an address
 * book and the smtp transport on the sink, all under the sink's dir. */
static int TIMEOUT_MS = 3000; /* the smtp transport's timeout_ms */

static void write_profiles(const char *first_transport)
{
    char url[64], json[4096], contacts[512];
    srv_write_file(&SINK.proc, "contacts.json", CONTACTS, contacts);
    snprintf(json, sizeof json,
             "{\"default_profile\":\"u\",\"profiles\":[{\"name\":\"u\",\"auth\":{\"type\":"
             "\"none\"},\"services\":[{\"name\":\"Mail\",\"providers\":["
             "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"Mailbox\","
             "\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],\"identity\":{\"display\":\"Ursula "
             "User\",\"address_type\":\"SMTP\",\"address\":\"ursula@example.org\"},"
             "\"settings\":{\"path\":\"%s/gw/Maildir\",\"create\":true}},"
             "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"Contacts\","
             "\"settings\":{\"path\":\"%s\"}},%s"
             "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"smtp\",\"display_name\":\"" ROW "\","
             "\"settings\":{\"url\":\"%s\",\"queue\":\"%s/gw/queue\",\"create\":true,"
             "\"timeout_ms\":%d}}]}]}]}",
             SINK.proc.dir, contacts, first_transport, srv_smtp_url(&SINK, url), SINK.proc.dir,
             TIMEOUT_MS);
    srv_write_file(&SINK.proc, "profiles.json", json, PROFILES);
}

static void start(bool refusing)
{
    if (refusing)
        srv_smtp_start_refusing(&SINK);
    else
        srv_smtp_start(&SINK);
    write_profiles("");
    G = gw_start(PROFILES, FAST_POLL);
}

/* The files of a folder (under the test's scratch folder), one after the
 * other, cut at size: what a test reads of the messages delivered there. */
static void folder_text(const char *rel, char *out, size_t size)
{
    char *dir = path_of(rel);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    size_t len = 0;
    out[0] = '\0';
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char *file = NULL;
        cr_assert(asprintf(&file, "%s/%s", dir, e->d_name) > 0);
        FILE *f = fopen(file, "rb");
        free(file);
        if (!f)
            continue;
        len += fread(out + len, 1, size - 1 - len, f);
        fclose(f);
    }
    out[len] = '\0';
    closedir(d);
    free(dir);
}

static int count_in(const char *rel)
{
    char *p = path_of(rel);
    int n = gw_count_dir(p);
    free(p);
    return n < 0 ? 0 : n;
}

/* Waits up to gw_ms(ms) until folder rel holds n files. */
static bool wait_count(const char *rel, int n, int ms)
{
    int waited = 0, limit = gw_ms(ms);
    while (count_in(rel) != n) {
        if (waited >= limit)
            return false;
        gw_sleep_ms(50);
        waited += 50;
    }
    return true;
}

static long submit(const char *token, const char *body, gw_resp *r)
{
    return gw_post(G, "/messages", token, body, r);
}

static char *status_string(const char *token)
{
    gw_resp r;
    cr_assert_eq(gw_get(G, "/status", token, &r), 200, "%s", r.body);
    json_t *row = gw_find_row(r.json, ROW);
    cr_assert_not_null(row, "%s", r.body);
    char *s = strdup(gw_jstr(row, "status_string"));
    gw_resp_free(&r);
    return s;
}

static bool wait_status_has(const char *token, const char *needle, int ms)
{
    int waited = 0, limit = gw_ms(ms);
    for (;;) {
        char *s = status_string(token);
        bool has = strstr(s, needle) != NULL;
        free(s);
        if (has)
            return true;
        if (waited >= limit)
            return false;
        gw_sleep_ms(100);
        waited += 100;
    }
}

Test(submit, delivers_and_files_the_message_in_sent_items)
{
    start(false);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    gw_resp r;
    long st = submit(s.token,
                     "{\"to\":[{\"display_name\":\"Carol Singer\"}],"
                     "\"cc\":[{\"display_name\":\"Dave\",\"address_type\":\"SMTP\","
                     "\"address\":\"dave@example.org\"}],"
                     "\"bcc\":[{\"address_type\":\"SMTP\",\"address\":\"eve@example.org\"}],"
                     "\"subject\":\"Gr\\u00fc\\u00dfe\",\"body\":\"Hello Carol.\\nSecond = line\","
                     "\"options\":{\"priority\":\"high\",\"read_receipt\":true}}",
                     &r);
    cr_assert_eq(st, 202, "%s", r.body);
    json_t *rc = json_object_get(r.json, "recipients");
    cr_assert_eq(json_array_size(rc), 3u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(rc, 0), "address"), "carol@example.org");
    cr_expect_str_eq(gw_jstr(json_array_get(rc, 0), "transport"), ROW);
    cr_expect_str_eq(gw_jstr(json_array_get(rc, 2), "recipient_type"), "MAPI_BCC");
    cr_expect_str_eq(gw_jstr(r.json, "folder"), "Outbox");
    gw_resp_free(&r);

    cr_assert(srv_smtp_wait_count(&SINK, 1, 15000), "nothing arrived");
    char *got = srv_smtp_message(&SINK, 0);
    cr_assert_not_null(got);
    cr_expect(strstr(got, "X-MailFrom: ursula@example.org") != NULL, "%s", got);
    cr_expect(strstr(got, "X-RcptTo: carol@example.org, dave@example.org, eve@example.org"), "%s",
              got);
    cr_expect(strstr(got, "From: \"Ursula User\" <ursula@example.org>") != NULL, "%s", got);
    cr_expect(strstr(got, "Subject: =?UTF-8?B?R3LDvMOfZQ==?=") != NULL, "%s", got);
    cr_expect(strstr(got, "Hello Carol.") && strstr(got, "Second =3D line"), "%s", got);
    cr_expect(strstr(got, "Importance: high") != NULL, "%s", got);
    cr_expect(strstr(got, "Disposition-Notification-To:") != NULL, "%s", got);
    cr_expect_null(strstr(got, "eve@example.org>"), "a Bcc recipient in a header: %s", got);
    cr_expect_null(strstr(got, "X-Mapigw"), "the spooler's envelope was sent: %s", got);
    free(got);

    /* The Outbox copy moves to Sent Items once the server took it. */
    cr_assert(wait_count("gw/Maildir/.Sent Items/cur", 1, 10000), "no Sent Items copy");
    cr_expect_eq(count_in("gw/Maildir/.Outbox/new"), 0);
    cr_expect_eq(count_in("gw/queue"), 0);
    cr_expect(wait_status_has(s.token, "0 messages queued", 5000));
    gw_session_free(&s);
}

Test(submit, delete_after_submit_leaves_no_copy)
{
    start(false);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    gw_resp r;
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"x@example.org\"}],"
                        "\"subject\":\"gone\",\"delete_after_submit\":true}",
                        &r),
                 202, "%s", r.body);
    gw_resp_free(&r);
    cr_assert(srv_smtp_wait_count(&SINK, 1, 15000), "nothing arrived");
    cr_assert(wait_count("gw/Maildir/.Outbox/new", 0, 10000), "the Outbox copy stayed");
    cr_expect_eq(count_in("gw/Maildir/.Sent Items/cur"), 0);
    gw_session_free(&s);
}

Test(submit, resolve_name_and_routing_refusals)
{
    start(false);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    gw_resp r;
    /* Two entries match "Bob": MAPI_E_AMBIGUOUS_RECIP with both. */
    cr_assert_eq(submit(s.token, "{\"to\":[{\"display_name\":\"Bob\"}]}", &r), 409, "%s", r.body);
    gw_assert_problem(&r, 409, "MAPI_E_AMBIGUOUS_RECIP");
    cr_expect_str_eq(gw_jstr(r.json, "mapi_code"), "0x80040700");
    json_t *c = json_object_get(r.json, "candidates");
    cr_assert_eq(json_array_size(c), 2u, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(c, 0), "display_name"), "Bob Builder");
    gw_resp_free(&r);
    /* A full name among them resolves. */
    cr_assert_eq(submit(s.token, "{\"to\":[{\"display_name\":\"bob builder\"}]}", &r), 202, "%s",
                 r.body);
    gw_resp_free(&r);
    cr_assert_eq(submit(s.token, "{\"to\":[{\"display_name\":\"Nobody Here\"}]}", &r), 404, "%s",
                 r.body);
    gw_assert_problem(&r, 404, "MAPI_E_NOT_FOUND");
    gw_resp_free(&r);
    /* No transport takes FAX: refused at submit, nothing queued. */
    int before = count_in("gw/queue") + srv_smtp_count(&SINK);
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"display_name\":\"Carol Singer\"},"
                        "{\"display_name\":\"Fax Machine\"}]}",
                        &r),
                 422, "%s", r.body);
    gw_assert_problem(&r, 422, "MAPI_E_NO_SUPPORT");
    cr_expect(strstr(gw_jstr(r.json, "detail"), "FAX") != NULL, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "recipient_index")), 1);
    gw_resp_free(&r);
    cr_expect_eq(count_in("gw/queue") + srv_smtp_count(&SINK), before);
    /* An address-book entry id. */
    cr_assert_eq(gw_get(G, "/addressbook?search=Carol", s.token, &r), 200, "%s", r.body);
    json_t *e = json_array_get(json_object_get(r.json, "entries"), 0);
    cr_assert_not_null(e, "%s", r.body);
    char body[1024];
    snprintf(body, sizeof body, "{\"to\":[{\"entry_id\":\"%s\"}]}", gw_jstr(e, "entry_id"));
    gw_resp_free(&r);
    cr_assert_eq(submit(s.token, body, &r), 202, "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(json_object_get(r.json, "recipients"), 0), "address"),
                     "carol@example.org");
    gw_resp_free(&r);
    /* Limits and form. */
    cr_assert_eq(submit(s.token, "{\"to\":[]}", &r), 400, "%s", r.body);
    gw_resp_free(&r);
    char big[1400];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *long_subject = malloc(sizeof big + 200);
    cr_assert_not_null(long_subject);
    snprintf(long_subject, sizeof big + 200,
             "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"x@example.org\"}],"
             "\"subject\":\"%s\"}",
             big);
    cr_assert_eq(submit(s.token, long_subject, &r), 413, "%s", r.body);
    free(long_subject);
    gw_resp_free(&r);
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"not an address\"}]}",
                        &r),
                 400, "%s", r.body);
    gw_resp_free(&r);

    /* QueryDefaultMessageOpt. */
    cr_assert_eq(gw_get(G, "/message-options?address_type=SMTP", s.token, &r), 200, "%s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "transport"), ROW);
    gw_resp_free(&r);
    cr_assert_eq(gw_get(G, "/message-options?address_type=FAX", s.token, &r), 404, "%s", r.body);
    gw_resp_free(&r);

    /* A MAPI_NO_MAIL session has no spooler. */
    gw_session nm;
    gw_logon_ok(G, "u", NULL, NOMAIL, &nm);
    cr_assert_eq(submit(nm.token, "{\"to\":[{\"display_name\":\"Carol Singer\"}]}", &r), 422, "%s",
                 r.body);
    gw_assert_problem(&r, 422, "MAPI_E_NO_SUPPORT");
    cr_expect(strstr(gw_jstr(r.json, "detail"), "MAPI_NO_MAIL") != NULL, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&nm);
    gw_session_free(&s);
}

Test(submit, a_refused_recipient_gets_a_non_delivery_report)
{
    start(true);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    gw_resp r;
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"refused@example.org\"}],"
                        "\"subject\":\"to nobody\"}",
                        &r),
                 202, "%s", r.body);
    gw_resp_free(&r);
    cr_assert(wait_count("gw/Maildir/new", 1, 15000), "no NDR in the Inbox");
    char ndr[8192];
    folder_text("gw/Maildir/new", ndr, sizeof ndr);
    cr_expect(strstr(ndr, "Subject: Undeliverable: to nobody") != NULL, "%s", ndr);
    cr_expect(strstr(ndr, "refused@example.org") != NULL, "%s", ndr);
    cr_expect(strstr(ndr, "550") != NULL, "the server's answer is missing: %s", ndr);
    cr_expect(strstr(ndr, "Action: failed") != NULL, "%s", ndr);
    /* Refused for good: not queued any more, not retried. */
    cr_expect_eq(count_in("gw/queue"), 0);
    cr_expect_eq(srv_smtp_count(&SINK), 0);
    cr_expect(wait_count("gw/Maildir/.Outbox/new", 0, 5000));
    gw_session_free(&s);
}

Test(submit, a_down_server_is_retried_with_backoff_until_it_is_back)
{
    start(false);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    srv_smtp_stop(&SINK);
    gw_resp r;
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"later@example.org\"}],"
                        "\"subject\":\"patience\"}",
                        &r),
                 202, "%s", r.body);
    char path[512];
    snprintf(path, sizeof path, "/entries/%s", gw_jstr(r.json, "entry_id"));
    gw_resp_free(&r);
    /* Until it goes, the message waits in the Outbox, where its entry id opens it. */
    cr_assert_eq(gw_get(G, path, s.token, &r), 200, "%s", r.body);
    cr_expect_str_eq(gw_jstr(r.json, "subject"), "patience", "%s", r.body);
    gw_resp_free(&r);
    cr_assert(wait_status_has(s.token, "retrying at", 10000), "the row does not say it retries");
    char *text = status_string(s.token);
    cr_expect(strstr(text, "1 message queued") && strstr(text, "server unreachable"), "%s", text);
    free(text);
    cr_expect_eq(count_in("gw/queue"), 1);
    /* The spooler's row sums its transports' queues. */
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200, "%s", r.body);
    json_t *spooler = gw_find_row(r.json, "MAPI Spooler");
    cr_assert_not_null(spooler, "%s", r.body);
    cr_expect_str_eq(gw_jstr(spooler, "status_string"), "1 message queued");
    gw_resp_free(&r);
    srv_smtp_restart(&SINK);
    cr_assert(srv_smtp_wait_count(&SINK, 1, 30000), "not delivered after the server came back");
    cr_assert(wait_count("gw/Maildir/.Sent Items/cur", 1, 10000));
    cr_expect(wait_status_has(s.token, "0 messages queued", 5000));
    cr_assert_eq(gw_get(G, "/status", s.token, &r), 200, "%s", r.body);
    cr_expect_str_eq(gw_jstr(gw_find_row(r.json, "MAPI Spooler"), "status_string"), "Available");
    gw_resp_free(&r);
    gw_sleep_ms(gw_ms(1500)); /* room for a second copy, were one sent */
    cr_expect_eq(srv_smtp_count(&SINK), 1);
    gw_session_free(&s);
}

Test(submit, kill_9_with_a_queued_message_loses_nothing)
{
    start(false);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    srv_smtp_stop(&SINK);
    gw_resp r;
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"durable@example.org\"}],"
                        "\"subject\":\"survives\"}",
                        &r),
                 202, "%s", r.body);
    gw_resp_free(&r);
    /* 202 means queued durably: kill at once, no chance to flush anything. */
    cr_assert_eq(kill(gw_pid(G), SIGKILL), 0);
    cr_assert_eq(gw_wait_exit(G, 5000), 128 + SIGKILL);
    gw_free(G);
    G = NULL;
    cr_expect_eq(count_in("gw/queue"), 1);
    cr_expect_eq(count_in("gw/Maildir/.Outbox/new"), 1);

    srv_smtp_restart(&SINK);
    G = gw_start(PROFILES, FAST_POLL);
    gw_session s2;
    gw_logon_ok(G, "u", NULL, MAIL, &s2); /* the transport finds the queue and sends it */
    cr_assert(srv_smtp_wait_count(&SINK, 1, 15000), "the queued message was lost");
    char *got = srv_smtp_message(&SINK, 0);
    cr_expect(got && strstr(got, "Subject: survives"), "%s", got ? got : "");
    free(got);
    cr_assert(wait_count("gw/Maildir/.Sent Items/cur", 1, 10000));
    gw_sleep_ms(gw_ms(1500));
    cr_expect_eq(srv_smtp_count(&SINK), 1);
    gw_session_free(&s2);
    gw_session_free(&s);
}

/* The spool transport, ahead of smtp in the profile, registered for SMTP and
 * X400: it takes both (the first transport in the profile's order wins). */
Test(submit, the_first_transport_in_profile_order_takes_the_address_type)
{
    srv_smtp_start(&SINK);
    char spool[1024];
    snprintf(spool, sizeof spool,
             "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":"
             "\"Local spool\",\"settings\":{\"path\":\"%s/gw/spool\",\"deliver_to\":"
             "\"%s/gw/Local\",\"create\":true,\"address_types\":\"SMTP,X400\"}},",
             SINK.proc.dir, SINK.proc.dir);
    write_profiles(spool);
    G = gw_start(PROFILES, FAST_POLL);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    gw_resp r;
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"a@example.org\"},"
                        "{\"address_type\":\"x400\",\"address\":\"c=US;o=Acme;s=Doe\"}],"
                        "\"bcc\":[{\"address_type\":\"SMTP\",\"address\":\"hidden@example.org\"}],"
                        "\"subject\":\"local\"}",
                        &r),
                 202, "%s", r.body);
    json_t *rc = json_object_get(r.json, "recipients");
    cr_expect_str_eq(gw_jstr(json_array_get(rc, 0), "transport"), "Local spool", "%s", r.body);
    cr_expect_str_eq(gw_jstr(json_array_get(rc, 1), "transport"), "Local spool", "%s", r.body);
    gw_resp_free(&r);
    cr_assert(wait_count("gw/Local/new", 1, 10000), "the spool did not deliver");
    cr_assert(wait_count("gw/Maildir/.Sent Items/cur", 1, 10000), "no Sent Items copy");
    char got[8192];
    folder_text("gw/Local/new", got, sizeof got);
    cr_expect(strstr(got, "Subject: local") != NULL, "%s", got);
    cr_expect_null(strstr(got, "X-Mapigw"), "the spooler's envelope was delivered: %s", got);
    cr_expect_null(strstr(got, "hidden@"), "a Bcc recipient was delivered: %s", got);
    cr_expect_eq(srv_smtp_count(&SINK), 0, "smtp took what the spool comes first for");
    gw_session_free(&s);
}

/* Reads the event stream on fd into buf (appending) until needle shows up or
 * gw_ms(ms) passed. */
static bool stream_until(int fd, char *buf, size_t cap, const char *needle, int ms)
{
    int waited = 0, limit = gw_ms(ms);
    while (!strstr(buf, needle) && waited < limit) {
        size_t have = strlen(buf);
        bool closed = false;
        if (have + 1 >= cap)
            return false;
        raw_read(fd, buf + have, cap - have, 200, &closed);
        waited += gw_ms(200);
        if (closed)
            break;
    }
    return strstr(buf, needle) != NULL;
}

/* The transport's row turns STATUS_OUTBOUND_ACTIVE while it sends (an event),
 * and a delivery receipt asked for comes into the Inbox. */
Test(submit, sending_shows_in_events_and_a_delivery_report_arrives)
{
    start(false);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    int fd = raw_connect(G);
    char req[512];
    snprintf(req, sizeof req,
             "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
             s.token);
    cr_assert(raw_send(fd, req, strlen(req)));
    static char buf[1 << 16];
    buf[0] = '\0';
    cr_assert(stream_until(fd, buf, sizeof buf, "text/event-stream", 5000), "%s", buf);
    gw_resp r;
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"dr@example.org\"}],"
                        "\"subject\":\"receipt\",\"options\":{\"delivery_receipt\":true}}",
                        &r),
                 202, "%s", r.body);
    gw_resp_free(&r);
    cr_expect(stream_until(fd, buf, sizeof buf, "STATUS_OUTBOUND_ACTIVE", 10000),
              "no table_modified with STATUS_OUTBOUND_ACTIVE: %s", buf);
    char *active = strstr(buf, "STATUS_OUTBOUND_ACTIVE");
    cr_expect(active && stream_until(fd, active, sizeof buf - (size_t)(active - buf),
                                     "0 messages queued", 10000),
              "no event after the delivery: %s", buf);
    close(fd);
    cr_assert(srv_smtp_wait_count(&SINK, 1, 10000));
    cr_assert(wait_count("gw/Maildir/new", 1, 10000), "no delivery report in the Inbox");
    char got[8192];
    folder_text("gw/Maildir/new", got, sizeof got);
    cr_expect(strstr(got, "Subject: Delivered: receipt") != NULL, "%s", got);
    cr_expect(strstr(got, "Action: delivered") != NULL, "%s", got);
    gw_session_free(&s);
}

/* kill -9 while the SMTP server is in the middle of taking the message:
 * after a restart on the same folders it goes again (at least once; the
 * server may have kept the first copy too), and nothing stays queued. */
Test(submit, kill_9_during_delivery_loses_nothing)
{
    srv_smtp_start_slow(&SINK, 2000);
    TIMEOUT_MS = gw_ms(20000);
    write_profiles("");
    G = gw_start(PROFILES, FAST_POLL);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    gw_resp r;
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"mid@example.org\"}],"
                        "\"subject\":\"cut short\"}",
                        &r),
                 202, "%s", r.body);
    gw_resp_free(&r);
    char *marker = path_of("in-data");
    int waited = 0;
    while (access(marker, F_OK) != 0 && waited < gw_ms(10000)) {
        gw_sleep_ms(20);
        waited += 20;
    }
    cr_assert_eq(access(marker, F_OK), 0, "the gateway never reached DATA");
    cr_assert_eq(kill(gw_pid(G), SIGKILL), 0);
    cr_assert_eq(gw_wait_exit(G, 5000), 128 + SIGKILL);
    gw_free(G);
    G = NULL;
    cr_expect_eq(count_in("gw/queue"), 1, "the message left the queue before the server took it");

    G = gw_start(PROFILES, FAST_POLL);
    gw_session s2;
    gw_logon_ok(G, "u", NULL, MAIL, &s2);
    cr_assert(wait_count("gw/queue", 0, 20000), "still queued after the restart");
    cr_assert(srv_smtp_wait_count(&SINK, 1, 10000), "the message was lost");
    cr_expect(wait_count("gw/Maildir/.Sent Items/cur", 1, 10000));
    cr_expect_eq(count_in("gw/Maildir/.Outbox/new"), 0);
    free(marker);
    gw_session_free(&s2);
    gw_session_free(&s);
}

Test(submit, html_body_and_attachments_are_sent_as_mime)
{
    start(false);
    gw_session s;
    gw_logon_ok(G, "u", NULL, MAIL, &s);
    gw_resp r;
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"m@example.org\"}],"
                        "\"subject\":\"mime\",\"body\":\"plain words\","
                        "\"html_body\":\"<p>rich words</p>\","
                        "\"attachments\":[{\"filename\":\"note.txt\",\"content_type\":"
                        "\"text/plain\",\"content_base64\":\"SGVsbG8gYXR0YWNobWVudA==\"},"
                        "{\"filename\":\"r\\u00e9sum\\u00e9.bin\","
                        "\"content_base64\":\"AAECAw==\"}]}",
                        &r),
                 202, "%s", r.body);
    gw_resp_free(&r);
    cr_assert(srv_smtp_wait_count(&SINK, 1, 15000), "nothing arrived");
    char *got = srv_smtp_message(&SINK, 0);
    cr_assert_not_null(got);
    cr_expect(strstr(got, "Content-Type: multipart/mixed; boundary=") != NULL, "%s", got);
    cr_expect(strstr(got, "Content-Type: multipart/alternative; boundary=") != NULL, "%s", got);
    cr_expect(strstr(got, "plain words") && strstr(got, "<p>rich words</p>"), "%s", got);
    cr_expect(strstr(got, "Content-Disposition: attachment; filename=\"note.txt\"") != NULL, "%s",
              got);
    cr_expect(strstr(got, "SGVsbG8gYXR0YWNobWVudA==") != NULL, "%s", got);
    cr_expect(strstr(got, "filename*=UTF-8''r%C3%A9sum%C3%A9.bin") != NULL, "%s", got);
    cr_expect(strstr(got, "Content-Type: application/octet-stream") != NULL, "%s", got);
    free(got);

    cr_assert_eq(
        submit(s.token,
               "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"m@example.org\"}],"
               "\"attachments\":[{\"filename\":\"x\",\"content_base64\":\"not base64!\"}]}",
               &r),
        400, "%s", r.body);
    gw_resp_free(&r);
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"m@example.org\"}],"
                        "\"attachments\":[{\"filename\":\"x\",\"content_type\":\"text/plain; "
                        "x=\\\"y\\\"\",\"content_base64\":\"AA==\"}]}",
                        &r),
                 400, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* The content count of folder name in the default store (the first store
 * row's), or -1 when the folder is not listed. */
static long folder_count(const char *token, const char *name)
{
    gw_resp r;
    cr_assert_eq(gw_get(G, "/stores", token, &r), 200, "%s", r.body);
    char path[512];
    snprintf(path, sizeof path, "/stores/%s",
             gw_jstr(json_array_get(json_object_get(r.json, "rows"), 0), "entry_id"));
    gw_resp_free(&r);
    cr_assert_eq(gw_get(G, path, token, &r), 200, "%s", r.body);
    json_t *f;
    size_t i;
    long n = -1;
    json_array_foreach(json_object_get(r.json, "folders"), i, f)
    {
        if (strcmp(gw_jstr(f, "display_name"), name) == 0)
            n = (long)json_integer_value(json_object_get(f, "content_count"));
    }
    gw_resp_free(&r);
    return n;
}

static bool wait_folder_count(const char *token, const char *name, long n, int ms)
{
    int waited = 0, limit = gw_ms(ms);
    while (folder_count(token, name) != n) {
        if (waited >= limit)
            return false;
        gw_sleep_ms(100);
        waited += 100;
    }
    return true;
}

/* The default store is an IMAP account on dovecot: the Outbox copy is
 * APPENDed there, moves to Sent Items after delivery, and a refusal's NDR
 * is APPENDed to INBOX. */
Test(submit, an_imap_default_store_holds_outbox_sent_items_and_reports)
{
    static const srv_dovecot_user USERS[] = {{"alice", "alice-secret"}};
    srv_dovecot_start(&DOVE, USERS, 1);
    srv_smtp_start_refusing(&SINK);
    char json[4096], imap[64], smtp[64];
    snprintf(json, sizeof json,
             "{\"default_profile\":\"a\",\"profiles\":[{\"name\":\"a\",\"auth\":{\"type\":"
             "\"none\"},\"services\":[{\"name\":\"Mail\",\"providers\":["
             "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"imap\",\"display_name\":\"Alice\","
             "\"resource_flags\":[\"STATUS_DEFAULT_STORE\",\"STATUS_PRIMARY_IDENTITY\"],"
             "\"identity\":{\"display\":\"Alice\",\"address_type\":\"SMTP\","
             "\"address\":\"alice@example.com\"},\"settings\":{\"url\":\"%s\","
             "\"username\":\"alice\",\"password\":\"alice-secret\",\"timeout_ms\":5000}},"
             "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"smtp\",\"display_name\":\"" ROW "\","
             "\"settings\":{\"url\":\"%s\",\"queue\":\"%s/gw/queue\",\"create\":true,"
             "\"timeout_ms\":5000}}]}]}]}",
             srv_dovecot_url(&DOVE, imap, sizeof imap), srv_smtp_url(&SINK, smtp), SINK.proc.dir);
    srv_write_file(&SINK.proc, "profiles.json", json, PROFILES);
    G = gw_start(PROFILES, FAST_POLL);
    gw_add_secret(G, "alice-secret");
    gw_session s;
    gw_logon_ok(G, "a", NULL, MAIL, &s);
    gw_resp r;
    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"b@example.org\"}],"
                        "\"subject\":\"via imap\"}",
                        &r),
                 202, "%s", r.body);
    gw_resp_free(&r);
    cr_assert(srv_smtp_wait_count(&SINK, 1, 15000), "nothing arrived");
    cr_expect(wait_folder_count(s.token, "Sent Items", 1, 15000), "no Sent Items copy on dovecot");
    cr_expect_eq(folder_count(s.token, "Outbox"), 0);

    cr_assert_eq(submit(s.token,
                        "{\"to\":[{\"address_type\":\"SMTP\",\"address\":\"refused@example.org\"}],"
                        "\"subject\":\"bounce\"}",
                        &r),
                 202, "%s", r.body);
    gw_resp_free(&r);
    cr_expect(wait_folder_count(s.token, "INBOX", 1, 15000), "no NDR in the IMAP INBOX");
    cr_expect(wait_folder_count(s.token, "Sent Items", 2, 15000));
    gw_session_free(&s);
}
