/* Unit suite for envelope.c: the envelope of queued RFC 5322 messages
 * (recipients, sender, the bytes to send), hostile ones included. */
#include "../../session-core/providers/envelope.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(envelope);

static HRESULT parse(const char *msg, envelope *e, char why[256])
{
    why[0] = '\0';
    return envelope_parse(msg, strlen(msg), e, why, 256);
}

static void assert_rcpt(const envelope *e, const char *const *want, size_t n)
{
    cr_assert_eq(e->rcpt_count, n, "got %zu recipients", e->rcpt_count);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(e->rcpt[i], want[i]);
}

Test(envelope, recipients_from_to_cc_bcc_and_bcc_is_not_sent)
{
    envelope e;
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
    envelope_free(&e);
}

Test(envelope, folded_lf_only_groups_and_routes)
{
    envelope e;
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
    envelope_free(&e);
}

Test(envelope, empty_and_headerless_messages)
{
    envelope e;
    char why[256];
    cr_assert_eq(envelope_parse("", 0, &e, why, sizeof why), S_OK);
    cr_assert_eq(e.rcpt_count, 0u);
    cr_assert_str_eq(e.data, "");
    envelope_free(&e);
    cr_assert_eq(parse("just text, no headers\nTo: a@b.c\n", &e, why), S_OK);
    cr_assert_eq(e.rcpt_count, 0u, "a To: in the body is no recipient");
    envelope_free(&e);
}

static void assert_rejected(const char *msg, size_t len, const char *why_has)
{
    envelope e;
    char why[256] = "";
    if (len == 0)
        len = strlen(msg);
    cr_assert_eq(envelope_parse(msg, len, &e, why, sizeof why), MAPI_E_INVALID_PARAMETER,
                 "accepted: %.60s", msg);
    cr_assert(strstr(why, why_has) != NULL, "reason %s lacks %s", why, why_has);
    for (const char *p = why; *p; p++)
        cr_assert(*p >= 0x20 && *p < 0x7f, "unprintable byte in the reason");
    cr_assert_null(e.data);
    cr_assert_null(e.rcpt);
}

Test(envelope, hostile_addresses_are_refused)
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

    size_t cap = 20 * (ENVELOPE_MAX_RECIPIENTS + 2);
    char *many = malloc(cap);
    cr_assert_not_null(many);
    size_t n = (size_t)snprintf(many, cap, "To: ");
    for (int i = 0; i <= ENVELOPE_MAX_RECIPIENTS; i++)
        n += (size_t)snprintf(many + n, cap - n, "u%d@x.org,", i);
    assert_rejected(many, n, "more than");
    free(many);
}

/* Random bytes and mangled real messages: no crash, no leak (ASan), and
 * either a clean refusal or recipients that are all plausible. */
Test(envelope, random_input_never_breaks_the_parser)
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
        envelope e;
        char why[256];
        HRESULT hr = envelope_parse(buf, len, &e, why, sizeof why);
        cr_assert(hr == S_OK || hr == MAPI_E_INVALID_PARAMETER);
        for (size_t i = 0; hr == S_OK && i < e.rcpt_count; i++) {
            cr_assert(strchr(e.rcpt[i], '@') != NULL);
            for (const char *p = e.rcpt[i]; *p; p++)
                cr_assert((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte in %s", e.rcpt[i]);
        }
        envelope_free(&e);
    }
}

Test(envelope, the_spoolers_fields_name_the_recipients_and_are_never_sent)
{
    envelope e;
    char why[256];
    const char *msg = "X-Mapigw-Rcpt: <only@example.org>\r\n"
                      "X-Mapigw-Rcpt-Other: X400:c=US;o=Acme\r\n"
                      "X-Mapigw-Outbox: 123.M4P5Q6.mapigw\r\n"
                      "X-Mapigw-Options: delete-after-submit delivery-report\r\n"
                      "From: a@example.org\r\n"
                      "To: only@example.org, elsewhere@example.org\r\n"
                      "\r\n"
                      "X-Mapigw-Rcpt: in the body stays\r\n";
    cr_assert_eq(parse(msg, &e, why), S_OK, "%s", why);
    const char *want[] = {"only@example.org"};
    assert_rcpt(&e, want, 1);
    cr_expect_str_eq(e.outbox, "123.M4P5Q6.mapigw");
    cr_expect(e.delete_after);
    cr_expect(e.delivery_report);
    cr_expect_str_eq(e.data, "From: a@example.org\r\n"
                             "To: only@example.org, elsewhere@example.org\r\n"
                             "\r\n"
                             "X-Mapigw-Rcpt: in the body stays\r\n");
    envelope_free(&e);

    /* Without the spooler's fields: To/Cc/Bcc as before, no Outbox. */
    cr_assert_eq(parse("To: x@example.org\r\n\r\nbody\r\n", &e, why), S_OK, "%s", why);
    cr_expect_null(e.outbox);
    cr_expect(!e.delete_after && !e.delivery_report);
    envelope_free(&e);
}
