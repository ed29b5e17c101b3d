/* Unit suite for the header reader (rfc822.c): unfolding, where the header
 * section ends, RFC 2047 words, UTF-8 clean-up of hostile bytes, mailboxes
 * and the read limit. */
#include "../../session-core/providers/rfc822.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The value of field name in text (a C string), or NULL; freed by the caller. */
static char *field(const char *text, const char *name)
{
    char *out = (char *)1;
    cr_assert_eq(rfc822_header(text, strlen(text), name, &out), S_OK);
    return out;
}

static void expect_field(const char *text, const char *name, const char *want)
{
    char *got = field(text, name);
    if (!want) {
        cr_assert_null(got, "%s: got \"%s\"", name, got);
        return;
    }
    cr_assert_not_null(got, "%s missing", name);
    cr_assert_str_eq(got, want);
    free(got);
}

Test(rfc822, unfolds_and_matches_names_without_case)
{
    const char *m = "From: a@b\r\nSUBJECT:  Hello\r\n\tfolded\r\n  twice \r\nTo: c@d\r\n\r\nbody";
    /* The line break goes, the white space after it stays (a tab as a space). */
    expect_field(m, "Subject", "Hello folded  twice");
    expect_field(m, "to", "c@d");
    expect_field(m, "From", "a@b");
    expect_field(m, "Cc", NULL);
    /* LF-only lines, obsolete "Name :" and the first of two fields. */
    expect_field("Subject : one\nSubject: two\n", "Subject", "one");
    /* An empty value is there, and empty. */
    expect_field("Subject:\nX: y\n", "Subject", "");
}

Test(rfc822, stops_at_the_end_of_the_header_section)
{
    expect_field("From: a@b\n\nSubject: in the body\n", "Subject", NULL);
    expect_field("From: a@b\r\n\r\nSubject: in the body\r\n", "Subject", NULL);
    /* A header without its blank line (a truncated read) still counts. */
    expect_field("From: a@b\nSubject: cut", "Subject", "cut");
    /* A line without a colon is skipped, with its continuation lines. */
    expect_field("garbage\n Subject: no\nSubject: yes\n", "Subject", "yes");
    /* Continuations before any field belong to nobody. */
    expect_field(" Subject: no\n", "Subject", NULL);
}

Test(rfc822, decodes_encoded_words)
{
    expect_field("Subject: =?UTF-8?B?csOpc3Vtw6k=?=\n", "Subject", "résumé");
    expect_field("Subject: =?utf-8?q?caf=C3=A9_au_lait?=\n", "Subject", "café au lait");
    expect_field("Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\n", "Subject", "Grüße");
    expect_field("Subject: =?us-ascii*en?Q?plain?=\n", "Subject", "plain");
    /* White space between encoded words goes, around them it stays. */
    expect_field("Subject: a =?UTF-8?Q?b?= \n =?UTF-8?Q?c?= d\n", "Subject", "a bc d");
    /* Unpadded base64 is accepted. */
    expect_field("Subject: =?UTF-8?B?YWI?=\n", "Subject", "ab");
    /* Unknown charsets and broken words are kept as written. */
    expect_field("Subject: =?KOI8-R?B?9MXT1A==?=\n", "Subject", "=?KOI8-R?B?9MXT1A==?=");
    expect_field("Subject: =?UTF-8?Q?bad=ZZ?=\n", "Subject", "=?UTF-8?Q?bad=ZZ?=");
    expect_field("Subject: =?UTF-8?B?a!b?=\n", "Subject", "=?UTF-8?B?a!b?=");
    expect_field("Subject: =?UTF-8?X?abc?=\n", "Subject", "=?UTF-8?X?abc?=");
    expect_field("Subject: =?UTF-8?Q?open\n", "Subject", "=?UTF-8?Q?open");
    expect_field("Subject: =?\n", "Subject", "=?");
    /* A decoded word yielding bad UTF-8 is cleaned like the rest. */
    expect_field("Subject: =?UTF-8?Q?=FF=00x?=\n", "Subject", "\xEF\xBF\xBDx");
}

Test(rfc822, hostile_bytes_become_valid_utf8)
{
    static const char m[] = "Subject: a\0b\x01\x7f\tc \xff\xc3\xa9 \xe0\x80\x80 \xed\xa0\x80 "
                            "\xf4\x90\x80\x80 \xf0\x9f\x98\x80\n";
    char *out = NULL;
    cr_assert_eq(rfc822_header(m, sizeof m - 1, "Subject", &out), S_OK);
    cr_assert_not_null(out);
    cr_assert(rfc822_is_utf8(out, strlen(out)));
    /* NUL, ^A and DEL dropped; tab is a space; overlong, surrogate and
     * beyond-U+10FFFF sequences become U+FFFD byte by byte. */
    cr_assert_str_eq(out, "ab c \xEF\xBF\xBD\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                          "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
                          "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xF0\x9F\x98\x80");
    free(out);
}

Test(rfc822, utf8_check)
{
    cr_assert(rfc822_is_utf8("", 0));
    cr_assert(rfc822_is_utf8("Zoë", 4));
    cr_assert_not(rfc822_is_utf8("a\0b", 3));
    cr_assert_not(rfc822_is_utf8("\xc3", 1));
    cr_assert_not(rfc822_is_utf8("\xc0\xaf", 2));
}

static void expect_mailbox(const char *value, const char *display, const char *address)
{
    char *d = (char *)1, *a = (char *)1;
    cr_assert_eq(rfc822_mailbox(value, &d, &a), S_OK);
    if (display)
        cr_assert_str_eq(d ? d : "(null)", display, "display of %s", value);
    else
        cr_assert_null(d, "display of %s: %s", value, d);
    if (address)
        cr_assert_str_eq(a ? a : "(null)", address, "address of %s", value);
    else
        cr_assert_null(a, "address of %s: %s", value, a);
    free(d);
    free(a);
}

Test(rfc822, splits_mailboxes)
{
    expect_mailbox("Jane Doe <jane@example.org>", "Jane Doe", "jane@example.org");
    expect_mailbox("\"Doe, Jane\" <jane@example.org>", "Doe, Jane", "jane@example.org");
    expect_mailbox("\"Say \\\"hi\\\" <x>\" < jane@x >", "Say \"hi\" <x>", "jane@x");
    expect_mailbox("<jane@example.org>", NULL, "jane@example.org");
    expect_mailbox("jane@example.org", NULL, "jane@example.org");
    expect_mailbox("jane@example.org (Jane D)", "Jane D", "jane@example.org");
    expect_mailbox("a@x, b@y", NULL, "a@x");
    expect_mailbox("Jane <jane@x", "Jane", "jane@x");
    expect_mailbox("", NULL, NULL);
    expect_mailbox("\"", NULL, NULL);
}

Test(rfc822, reads_at_most_the_limit)
{
    char path[] = "/tmp/mgw-rfc822-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    size_t size = RFC822_HEAD_MAX + 1000;
    char *data = malloc(size);
    cr_assert_not_null(data);
    memset(data, 'x', size);
    cr_assert_eq(write(fd, data, size), (ssize_t)size);
    free(data);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    char *buf;
    size_t len;
    cr_assert_eq(rfc822_read_head(fd, &buf, &len), S_OK);
    cr_assert_eq(len, RFC822_HEAD_MAX);
    cr_assert_eq(buf[len], '\0');
    free(buf);
    close(fd);
}
