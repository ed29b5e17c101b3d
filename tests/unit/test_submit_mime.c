/* Unit suite for submit_mime.c: the MIME text the spooler writes (encoded
 * words, quoted-printable, mailboxes) and its input checks. */
#include "../../session-core/submit_mime.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(submit_mime);

Test(submit_mime, quoted_printable_keeps_ascii_and_encodes_the_rest)
{
    mime_buf b = {0};
    mime_add_qp(&b, "plain line\nx = y \ncaf\xc3\xa9\r\nend");
    cr_assert(!b.oom);
    cr_expect_str_eq(b.p, "plain line\r\nx =3D y=20\r\ncaf=C3=A9\r\nend\r\n");
    mime_buf_free(&b);
    /* Long lines get soft breaks; no line over 76 characters. */
    char longline[300];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    mime_add_qp(&b, longline);
    for (char *line = b.p, *eol; (eol = strstr(line, "\r\n")) != NULL; line = eol + 2)
        cr_expect_leq(eol - line, 76);
    cr_expect(strstr(b.p, "=\r\n") != NULL);
    mime_buf_free(&b);
}

Test(submit_mime, headers_encode_what_is_not_plain_ascii)
{
    mime_buf b = {0};
    mime_add_unstructured(&b, "Hello");
    mime_add(&b, "|");
    mime_add_unstructured(&b, "Gr\xc3\xbc\xc3\x9f"
                              "e");
    cr_expect_str_eq(b.p, "Hello|=?UTF-8?B?R3LDvMOfZQ==?=");
    mime_buf_free(&b);
    mime_add_mailbox(&b, "Doe, \"J\"", "j@example.org");
    cr_expect_str_eq(b.p, "\"Doe, \\\"J\\\"\" <j@example.org>");
    mime_buf_free(&b);
}

Test(submit_mime, input_checks)
{
    cr_expect(mime_header_safe("ok \xc3\xa9"));
    cr_expect(!mime_header_safe("a\r\nBcc: x@y"));
    cr_expect(!mime_header_safe("bad \xff utf8"));
    cr_expect(mime_smtp_address("a@example.org"));
    cr_expect(!mime_smtp_address("a b@example.org"));
    cr_expect(!mime_smtp_address("a@example.org>\r\nRCPT TO:<b@x"));
    cr_expect(!mime_smtp_address("noat"));
    cr_expect(!mime_smtp_address("@example.org"));
}
