/* Unit suite for outq.c: the durable outbound queue (real folders under a
 * fresh /tmp/mgw-prov-XXXXXX per test, provider_fixture.h) and the envelope
 * parser that reads queued RFC 5322 messages, hostile ones included. */
#include "provider_fixture.h"

#include "../../session-core/outq.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(outq, .init = fx_setup, .fini = fx_teardown);
TestSuite(outq_envelope);

/* ---- the queue ---------------------------------------------------------- */

static outq *new_queue(char dir[512])
{
    fx_path(dir, "q");
    cr_assert_eq(mkdir(dir, 0700), 0);
    outq *q = outq_new(dir);
    cr_assert_not_null(q);
    return q;
}

static void enqueue(outq *q, const char *text, char name[96])
{
    cr_assert_eq(outq_enqueue(q, text, strlen(text), name, 96), 0);
}

/* A sink that records what it was handed and fails where told to. */
typedef struct {
    int calls;
    char got[8][64];
    int fail_at;       /* 1-based call that fails; 0: none */
    bool stop;         /* ... and sets *stop */
    outq *nested;      /* flushed again from inside the callback */
    outq_report inner; /* what the nested flush reported */
    int undos;
} recorder;

static HRESULT rec_deliver(void *ctx, const outq_msg *m, char *why, size_t whylen, bool *stop)
{
    recorder *r = ctx;
    int i = r->calls++;
    ssize_t n = read(m->fd, r->got[i % 8], sizeof r->got[0] - 1);
    cr_assert(n >= 0);
    r->got[i % 8][n] = '\0';
    if (r->nested) {
        recorder inner = {0};
        outq_sink s = {rec_deliver, NULL, &inner};
        outq_deliver_all(r->nested, &s, &r->inner);
        cr_assert_eq(inner.calls, 0, "the nested flush delivered a locked message");
    }
    if (r->fail_at == i + 1) {
        snprintf(why, whylen, "refused #%d", i + 1);
        *stop = r->stop;
        return MAPI_E_NETWORK_ERROR;
    }
    return S_OK;
}

static void rec_undo(void *ctx, const outq_msg *m)
{
    (void)m;
    ((recorder *)ctx)->undos++;
}

Test(outq, enqueue_is_atomic_and_lists_oldest_first)
{
    char dir[512], names3[3][96], p[700];
    outq *q = new_queue(dir);
    enqueue(q, "first", names3[0]);
    enqueue(q, "second", names3[1]);
    enqueue(q, "third", names3[2]);
    /* Dot files and folders are not messages. */
    snprintf(p, sizeof p, "%s/.partial", dir);
    fx_write_file(p, "x");
    snprintf(p, sizeof p, "%s/sub", dir);
    cr_assert_eq(mkdir(p, 0700), 0);

    cr_assert_eq(outq_count(q), 3);
    char **names;
    size_t n;
    cr_assert_eq(outq_list(q, &names, &n), 0);
    cr_assert_eq(n, 3u);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(names[i], names3[i]);
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        char *text = fx_read_file(p);
        cr_assert_str_eq(text, i == 0 ? "first" : i == 1 ? "second" : "third");
        free(text);
        struct stat sb;
        cr_assert_eq(stat(p, &sb), 0);
        cr_assert_eq(sb.st_mode & 0777, 0600);
    }
    outq_names_free(names, n);
    /* No temporary file is left behind. */
    char all[8][128];
    cr_assert_eq(fx_list_dir(dir, all, 8), 4u); /* 3 messages + sub */
    outq_free(q);
}

Test(outq, enqueue_into_a_missing_folder_fails_and_queues_nothing)
{
    char dir[512];
    fx_path(dir, "missing");
    outq *q = outq_new(dir);
    cr_assert_not_null(q);
    cr_assert_neq(outq_enqueue(q, "x", 1, NULL, 0), 0);
    cr_assert_eq(outq_count(q), -1);
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, NULL, NULL}, &rep),
                 MAPI_E_CALL_FAILED);
    cr_assert(strstr(rep.why, "cannot read") != NULL, "was: %s", rep.why);
    outq_free(q);
}

Test(outq, deliver_all_hands_over_in_order_and_removes_after_success)
{
    char dir[512], name[96];
    outq *q = new_queue(dir);
    enqueue(q, "one", name);
    enqueue(q, "two", name);
    enqueue(q, "three", name);
    recorder r = {0};
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, rec_undo, &r}, &rep), S_OK);
    cr_assert_eq(r.calls, 3);
    cr_assert_str_eq(r.got[0], "one");
    cr_assert_str_eq(r.got[1], "two");
    cr_assert_str_eq(r.got[2], "three");
    cr_assert_eq(rep.delivered, 3u);
    cr_assert_eq(rep.failed, 0u);
    cr_assert_str_eq(rep.why, "");
    cr_assert_eq(outq_count(q), 0);
    cr_assert_eq(r.undos, 0);
    outq_free(q);
}

Test(outq, a_failure_keeps_that_message_and_the_others_still_go)
{
    char dir[512], name[96], keep[96];
    outq *q = new_queue(dir);
    enqueue(q, "one", name);
    enqueue(q, "two", keep);
    enqueue(q, "three", name);
    recorder r = {.fail_at = 2};
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, NULL, &r}, &rep),
                 MAPI_E_NETWORK_ERROR);
    cr_assert_eq(r.calls, 3);
    cr_assert_eq(rep.delivered, 2u);
    cr_assert_eq(rep.failed, 1u);
    cr_assert_str_eq(rep.why, "refused #2");
    char **names;
    size_t n;
    cr_assert_eq(outq_list(q, &names, &n), 0);
    cr_assert_eq(n, 1u);
    cr_assert_str_eq(names[0], keep);
    outq_names_free(names, n);
}

Test(outq, stop_leaves_the_rest_untried_and_queued)
{
    char dir[512], name[96];
    outq *q = new_queue(dir);
    for (int i = 0; i < 4; i++)
        enqueue(q, "m", name);
    recorder r = {.fail_at = 1, .stop = true};
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, NULL, &r}, &rep),
                 MAPI_E_NETWORK_ERROR);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(rep.failed, 4u);
    cr_assert_eq(rep.delivered, 0u);
    cr_assert_eq(outq_count(q), 4);
    outq_free(q);
}

/* A second flush while the first holds a message skips it, so it is sent
 * once; a message locked by somebody else is skipped and stays queued. */
Test(outq, the_lock_prevents_double_delivery)
{
    char dir[512], name[96], p[700];
    outq *q = new_queue(dir);
    outq *other = outq_new(dir);
    cr_assert_not_null(other);
    enqueue(q, "only", name);
    recorder r = {.nested = other};
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, NULL, &r}, &rep), S_OK);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.inner.skipped, 1u);
    cr_assert_eq(r.inner.delivered, 0u);
    cr_assert_eq(outq_count(q), 0);

    enqueue(q, "held", name);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    recorder r2 = {0};
    cr_assert_eq(outq_deliver_all(other, &(outq_sink){rec_deliver, NULL, &r2}, &rep), S_OK);
    cr_assert_eq(r2.calls, 0);
    cr_assert_eq(rep.skipped, 1u);
    cr_assert_eq(outq_count(q), 1);
    close(fd);
    cr_assert_eq(outq_deliver_all(other, &(outq_sink){rec_deliver, NULL, &r2}, &rep), S_OK);
    cr_assert_eq(r2.calls, 1);
    cr_assert_eq(outq_count(q), 0);
    outq_free(other);
    outq_free(q);
}

/* Delivered but not removable: the sink is asked to take it back. */
static HRESULT move_away(void *ctx, const outq_msg *m, char *why, size_t whylen, bool *stop)
{
    (void)why, (void)whylen, (void)stop;
    const char *dir = ctx;
    char from[700], to[700];
    snprintf(from, sizeof from, "%s/%s", dir, m->name);
    snprintf(to, sizeof to, "%s/.moved", dir);
    cr_assert_eq(rename(from, to), 0);
    return S_OK;
}

static int undos;
static void count_undo(void *ctx, const outq_msg *m)
{
    (void)ctx, (void)m;
    undos++;
}

Test(outq, a_removal_failure_undoes_the_delivery)
{
    char dir[512], name[96];
    outq *q = new_queue(dir);
    enqueue(q, "x", name);
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){move_away, count_undo, dir}, &rep),
                 MAPI_E_CALL_FAILED);
    cr_assert_eq(undos, 1);
    cr_assert_eq(rep.delivered, 0u);
    cr_assert(strstr(rep.why, "cannot remove") != NULL, "was: %s", rep.why);
    outq_free(q);
}

/* ---- the envelope ------------------------------------------------------- */

static HRESULT parse(const char *msg, outq_envelope *e, char why[256])
{
    why[0] = '\0';
    return outq_envelope_parse(msg, strlen(msg), e, why, 256);
}

static void assert_rcpt(const outq_envelope *e, const char *const *want, size_t n)
{
    cr_assert_eq(e->rcpt_count, n, "got %zu recipients", e->rcpt_count);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(e->rcpt[i], want[i]);
}

Test(outq_envelope, recipients_from_to_cc_bcc_and_bcc_is_not_sent)
{
    outq_envelope e;
    char why[256];
    const char *msg = "From: \"Doe, Jane\" <jane@example.org>\r\n"
                      "To: bob@example.org, \"Smith, J <x>\" <js@example.org>\r\n"
                      "Cc: carol@example.org (Carol), Bob Again <BOB@example.org>\r\n"
                      "Subject: hello\r\n"
                      "Bcc: hidden@example.org,\r\n"
                      "  other@example.org\r\n"
                      "\r\n"
                      "Bcc: in the body stays\r\n";
    cr_assert_eq(parse(msg, &e, why), S_OK, "%s", why);
    cr_assert_str_eq(e.from, "jane@example.org");
    const char *want[] = {"bob@example.org", "js@example.org", "carol@example.org",
                          "hidden@example.org", "other@example.org"};
    assert_rcpt(&e, want, 5);
    cr_assert_str_eq(e.data, "From: \"Doe, Jane\" <jane@example.org>\r\n"
                             "To: bob@example.org, \"Smith, J <x>\" <js@example.org>\r\n"
                             "Cc: carol@example.org (Carol), Bob Again <BOB@example.org>\r\n"
                             "Subject: hello\r\n"
                             "\r\n"
                             "Bcc: in the body stays\r\n");
    cr_assert_eq(e.len, strlen(e.data));
    outq_envelope_free(&e);
}

Test(outq_envelope, folded_lf_only_groups_and_routes)
{
    outq_envelope e;
    char why[256];
    const char *msg = "to: team: a@x.org,\n\tB <b@y.org>;, undisclosed-recipients:;\n"
                      "CC: <@relay.org,@r2.org:c@z.org>, \"d e\"@w.org\n"
                      "from: broken <\n"
                      "\n"
                      "body\n"
                      "no newline";
    cr_assert_eq(parse(msg, &e, why), S_OK, "%s", why);
    const char *want[] = {"a@x.org", "b@y.org", "c@z.org", "\"d e\"@w.org"};
    assert_rcpt(&e, want, 4);
    cr_assert_null(e.from); /* a malformed From does not hold the message */
    cr_assert(strstr(e.data, "\r\n\tB <b@y.org>;") != NULL);
    cr_assert(strstr(e.data, "\r\nbody\r\nno newline\r\n") != NULL, "%s", e.data);
    for (size_t i = 0; i < e.len; i++) /* every line ends in CRLF */
        if (e.data[i] == '\n')
            cr_assert(i > 0 && e.data[i - 1] == '\r', "bare LF at %zu", i);
    outq_envelope_free(&e);
}

Test(outq_envelope, empty_and_headerless_messages)
{
    outq_envelope e;
    char why[256];
    cr_assert_eq(outq_envelope_parse("", 0, &e, why, sizeof why), S_OK);
    cr_assert_eq(e.rcpt_count, 0u);
    cr_assert_str_eq(e.data, "");
    outq_envelope_free(&e);
    cr_assert_eq(parse("just text, no headers\nTo: a@b.c\n", &e, why), S_OK);
    cr_assert_eq(e.rcpt_count, 0u, "a To: in the body is no recipient");
    outq_envelope_free(&e);
}

static void assert_rejected(const char *msg, size_t len, const char *why_has)
{
    outq_envelope e;
    char why[256] = "";
    if (len == 0)
        len = strlen(msg);
    cr_assert_eq(outq_envelope_parse(msg, len, &e, why, sizeof why), MAPI_E_INVALID_PARAMETER,
                 "accepted: %.60s", msg);
    cr_assert(strstr(why, why_has) != NULL, "reason %s lacks %s", why, why_has);
    for (const char *p = why; *p; p++)
        cr_assert(*p >= 0x20 && *p < 0x7f, "unprintable byte in the reason");
    cr_assert_null(e.data);
    cr_assert_null(e.rcpt);
}

Test(outq_envelope, hostile_addresses_are_refused)
{
    assert_rejected("To: a\x01@x.org\r\n\r\n", 0, "malformed address");
    assert_rejected("To: <a@x.org\r\n\r\n", 0, "unbalanced angle");
    assert_rejected("To: a@x.org>\r\n\r\n", 0, "'>' without '<'");
    assert_rejected("To: <a<b@x.org>>\r\n\r\n", 0, "'<' inside");
    assert_rejected("To: John Smith\r\n\r\n", 0, "malformed address");
    assert_rejected("To: @x.org\r\n\r\n", 0, "malformed address");
    assert_rejected("To: a@\r\n\r\n", 0, "malformed address");
    assert_rejected("To: \"a@x.org\r\n\r\n", 0, "unbalanced quote");
    assert_rejected("To: (a@x.org\r\n\r\n", 0, "unbalanced comment");
    assert_rejected("To: (x\\", 0, "unbalanced comment");
    assert_rejected("To: <a@x.org\r\n RCPT TO:<evil@x.org>>\r\n\r\n", 0, "'<' inside");
    static const char nul[] = "To: a\0b@x.org\r\n\r\n";
    assert_rejected(nul, sizeof nul - 1, "malformed address");

    char deep[400] = "To: ";
    for (int i = 0; i < 100; i++)
        strcat(deep, "(");
    assert_rejected(deep, strlen(deep), "nested too deep");

    char longaddr[1200] = "To: ";
    memset(longaddr + 4, 'a', 1000);
    strcpy(longaddr + 1004, "@x.org\r\n\r\n");
    assert_rejected(longaddr, strlen(longaddr), "malformed address");

    size_t cap = 20 * (OUTQ_MAX_RECIPIENTS + 2);
    char *many = malloc(cap);
    cr_assert_not_null(many);
    size_t n = (size_t)snprintf(many, cap, "To: ");
    for (int i = 0; i <= OUTQ_MAX_RECIPIENTS; i++)
        n += (size_t)snprintf(many + n, cap - n, "u%d@x.org,", i);
    assert_rejected(many, n, "more than");
    free(many);
}

/* Random bytes and mangled real messages: no crash, no leak (ASan), and
 * either a clean refusal or recipients that are all plausible. */
Test(outq_envelope, random_input_never_breaks_the_parser)
{
    static const char base[] = "From: A <a@x.org>\r\nTo: b@y.org, \"C, D\" <c@z.org>\r\n"
                               "Cc: g: e@f.org;\r\nBcc: (x) h@i.org\r\n\r\nbody\r\n";
    unsigned seed = 12345;
    char buf[256];
    for (int round = 0; round < 20000; round++) {
        size_t len = sizeof base - 1;
        memcpy(buf, base, len);
        int edits = 1 + (int)(rand_r(&seed) % 6);
        for (int k = 0; k < edits; k++)
            buf[rand_r(&seed) % len] = (char)(rand_r(&seed) % 256);
        if (round % 4 == 0) {
            len = rand_r(&seed) % sizeof buf;
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)(rand_r(&seed) % 256);
        }
        outq_envelope e;
        char why[256];
        HRESULT hr = outq_envelope_parse(buf, len, &e, why, sizeof why);
        cr_assert(hr == S_OK || hr == MAPI_E_INVALID_PARAMETER);
        for (size_t i = 0; hr == S_OK && i < e.rcpt_count; i++) {
            cr_assert(strchr(e.rcpt[i], '@') != NULL);
            for (const char *p = e.rcpt[i]; *p; p++)
                cr_assert((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte in %s", e.rcpt[i]);
        }
        outq_envelope_free(&e);
    }
}
