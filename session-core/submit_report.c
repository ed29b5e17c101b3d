/* submit_report.c - the reports the spooler puts into the Inbox
 * (session_submit.c): a non-delivery report for a message refused for good,
 * a delivery report when one was asked for. RFC 3464 multipart/report: words
 * for people, message/delivery-status for programs, the original headers. */
#include "submit_mime.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The raw value of header field name in msg's header (folded lines kept), or
 * "" when absent; into buf. */
static void header_value(const char *msg, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = msg; *p && !(p[0] == '\r' && p[1] == '\n');) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            return;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(buf, len, "%.*s", (int)(eol - v), v);
            return;
        }
        p = eol + 2;
    }
}

void submit_report(const provider_outcome *o, mime_buf *out)
{
    /* The server's words go into header-like lines: no control characters. */
    char why[400] = "";
    if (o->why) {
        snprintf(why, sizeof why, "%s", o->why);
        for (char *p = why; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7F)
                *p = '?';
    }
    char subject[300], to[400], msgid[120], boundary[40];
    header_value(o->message, "Subject", subject, sizeof subject);
    header_value(o->message, "From", to, sizeof to);
    header_value(o->message, "Message-ID", msgid, sizeof msgid);
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(boundary, sizeof boundary, "mapigw-report-");
    sodium_bin2hex(boundary + 14, sizeof boundary - 14, rnd, sizeof rnd);
    mime_buf b = *out;
    mime_add(&b, "From: \"Mail Delivery System\" <mailer-daemon@mapigw.invalid>\r\n");
    if (to[0])
        mime_addf(&b, "To: %.390s\r\n", to);
    mime_addf(&b, "Subject: %s: %.290s\r\n", o->delivered ? "Delivered" : "Undeliverable", subject);
    mime_add(&b, "Date: ");
    mime_add_date(&b);
    mime_addf(&b,
              "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; "
              "report-type=delivery-status; boundary=\"%s\"\r\n\r\n",
              boundary);
    mime_addf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", boundary);
    mime_add(&b, o->delivered ? "Your message was delivered to: "
                              : "Your message could not be "
                                "delivered to: ");
    mime_add(&b, o->recipients);
    if (o->why) {
        mime_add(&b, "\r\nThe server said: ");
        mime_add(&b, why);
    }
    mime_addf(&b,
              "\r\n\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\n"
              "Reporting-MTA: dns; mapigw.invalid\r\n",
              boundary);
    if (msgid[0])
        mime_addf(&b, "Original-Envelope-Id: %.110s\r\n", msgid);
    mime_add(&b, "\r\n");
    /* One block per recipient would need the server's answer per recipient;
     * libcurl gives one for the transaction. */
    mime_add(&b, "Final-Recipient: rfc822; ");
    mime_add(&b, o->recipients);
    mime_addf(&b, "\r\nAction: %s\r\nStatus: %s\r\n", o->delivered ? "delivered" : "failed",
              o->delivered ? "2.0.0" : "5.0.0");
    if (o->why) {
        mime_add(&b, "Diagnostic-Code: smtp; ");
        mime_add(&b, why);
        mime_add(&b, "\r\n");
    }
    mime_addf(&b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
    const char *end = strstr(o->message, "\r\n\r\n");
    size_t hl = end ? (size_t)(end - o->message) + 2 : o->len;
    char *head = strndup(o->message, hl);
    if (head)
        mime_add(&b, head);
    free(head);
    mime_addf(&b, "\r\n--%s--\r\n", boundary);
    *out = b;
}
