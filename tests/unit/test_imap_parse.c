/* Unit suite for imap_parse.c: LIST, STATUS and FETCH answers as libcurl
 * hands them over (untagged lines, literals cut off), and hostile input
 * (unterminated strings, absurd literals, deep nesting, huge numbers, NUL
 * bytes, invalid UTF-8) that must never read out of bounds or crash. */
#include "../../session-core/providers/imap_parse.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(imap_parse);

static imap_list_entry *E;
static size_t N;

static void list(const char *buf, size_t len)
{
    cr_assert_eq(imap_parse_list(buf, len, &E, &N), S_OK);
}

static const imap_list_entry *entry(const char *name)
{
    for (size_t i = 0; i < N; i++)
        if (strcmp(E[i].name, name) == 0)
            return &E[i];
    return NULL;
}

Test(imap_parse, list_atoms_quoted_nil_and_flags)
{
    static const char B[] =
        "* LIST (\\HasNoChildren) \".\" Archive\r\n"
        "* LIST (\\HasChildren \\Noselect) \"/\" \"Work \\\"old\\\" \\\\ x\"\r\n"
        "* list () NIL Flat\r\n"
        "* LIST (\\HasNoChildren) \".\" inbox\r\n"
        "* LIST (\\NonExistent) \".\" Gone\n"
        "a1 OK done\r\n";
    list(B, sizeof B - 1);
    cr_assert_eq(N, 5u);
    const imap_list_entry *a = entry("Archive");
    cr_assert_not_null(a);
    cr_expect_eq(a->delim, '.');
    cr_expect_eq(a->flags, (unsigned)IMAP_LIST_HASNOCHILDREN);
    const imap_list_entry *w = entry("Work \"old\" \\ x");
    cr_assert_not_null(w, "quoted name with escapes");
    cr_expect_eq(w->delim, '/');
    cr_expect_eq(w->flags, (unsigned)(IMAP_LIST_HASCHILDREN | IMAP_LIST_NOSELECT));
    const imap_list_entry *f = entry("Flat");
    cr_assert_not_null(f);
    cr_expect_eq(f->delim, '\0');
    cr_expect_not_null(entry("INBOX"), "INBOX in any case is INBOX");
    cr_expect_eq(entry("Gone")->flags, (unsigned)IMAP_LIST_NOSELECT);
    imap_list_free(E, N);
}

Test(imap_parse, list_skips_what_it_cannot_trust)
{
    char huge[IMAP_NAME_MAX + 64];
    memset(huge, 'x', sizeof huge);
    huge[sizeof huge - 1] = '\0';
    char *b = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&b, &blen);
    cr_assert_not_null(f);
    fprintf(f, "* LIST () \".\" {5}\r\n");                    /* literal name: not in our input */
    fprintf(f, "* LIST () \".\" {99999999999999999999}\r\n"); /* absurd literal */
    fprintf(f, "* LIST () \".\" \"unterminated\r\n");
    fprintf(f, "* LIST () \".\" \"bad \\x escape\"\r\n");
    fprintf(f, "* LIST () \"..\" TwoCharDelim\r\n");
    fprintf(f, "* LIST (\\HasNoChildren \".\" NoCloseParen\r\n");
    fprintf(f, "* LIST () \".\" %s\r\n", huge);
    fprintf(f, "* LIST () \".\" \"\"\r\n"); /* empty name */
    fprintf(f, "* LIST ()\r\n");
    fprintf(f, "* LIST\r\n");
    fprintf(f, "*\r\n");
    fprintf(f, "+ LIST () \".\" NotUntagged\r\n");
    fprintf(f, "* LIST () \".\" Good\r\n");
    fprintf(f, "* LIST () \".\" Good\r\n"); /* repeated */
    fputc('\0', f);                         /* a line of garbage */
    fprintf(f, "\r\n* LIST () \".\" AfterNul\r\n");
    fprintf(f, "* LIST () \".\" \"Nul");
    fputc('\0', f);
    fprintf(f, "In\"\r\n");
    fprintf(f, "* LIST () \".\" Last"); /* no line end at all */
    cr_assert_eq(fclose(f), 0);
    list(b, blen);
    cr_expect_eq(N, 3u, "only Good, AfterNul and Last are sound");
    cr_expect_not_null(entry("Good"));
    cr_expect_not_null(entry("AfterNul"));
    cr_expect_not_null(entry("Last"));
    imap_list_free(E, N);
    free(b);
}

Test(imap_parse, list_of_nothing)
{
    list("", 0);
    cr_expect_eq(N, 0u);
    imap_list_free(E, N);
    list("\r\n\n\r", 4);
    cr_expect_eq(N, 0u);
    imap_list_free(E, N);
}

Test(imap_parse, status_counts)
{
    uint32_t m = 7, u = 7;
    static const char B[] = "* STATUS INBOX (MESSAGES 12 UNSEEN 3)\r\n";
    cr_assert(imap_parse_status(B, sizeof B - 1, &m, &u));
    cr_expect_eq(m, 12u);
    cr_expect_eq(u, 3u);
    static const char Q[] =
        "* 3 EXISTS\r\n* STATUS \"A \\\"b\\\"\" (UNSEEN 0 MESSAGES 4294967295)\r\n";
    cr_assert(imap_parse_status(Q, sizeof Q - 1, &m, &u));
    cr_expect_eq(m, 4294967295u);
    cr_expect_eq(u, 0u);
}

Test(imap_parse, status_refuses_broken_answers)
{
    uint32_t m, u;
    const char *bad[] = {
        "* STATUS INBOX (MESSAGES 12)\r\n",                  /* no UNSEEN */
        "* STATUS INBOX (MESSAGES 4294967296 UNSEEN 1)\r\n", /* past 32 bits */
        "* STATUS INBOX (MESSAGES -1 UNSEEN 1)\r\n",
        "* STATUS INBOX (MESSAGES 99999999999999999999 UNSEEN 1)\r\n",
        "* STATUS {5}\r\n",
        "* STATUS INBOX MESSAGES 1 UNSEEN 1\r\n",
        "* STATUS INBOX (MESSAGES 1 UNSEEN",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(imap_parse_status(bad[i], strlen(bad[i]), &m, &u), "accepted: %s", bad[i]);
}

static const char DOVECOT_FETCH[] =
    "* 1 FETCH (UID 7 FLAGS (\\Seen \\Recent) RFC822.SIZE 104 INTERNALDATE "
    "\"24-Nov-2026 20:28:35 +0100\" ENVELOPE (\"Mon, 23 Nov 2026 10:00:00 +0000\" \"Hello one\" "
    "((\"Bob Example\" NIL \"bob\" \"example.com\")) ((\"Bob Example\" NIL \"bob\" "
    "\"example.com\")) ((\"Bob Example\" NIL \"bob\" \"example.com\")) NIL NIL NIL NIL "
    "\"<id@x>\"))\r\n";

Test(imap_parse, fetch_reads_a_dovecot_answer)
{
    imap_message m;
    cr_assert_eq(imap_parse_fetch(DOVECOT_FETCH, sizeof DOVECOT_FETCH - 1, 7, &m), S_OK);
    cr_expect_eq(m.uid, 7u);
    cr_expect(m.seen);
    cr_expect(m.has_size);
    cr_expect_eq(m.size, 104u);
    cr_expect(m.has_date);
    cr_expect_eq((long long)m.internal_date, 1795548515LL); /* 2026-11-24T19:28:35Z */
    cr_expect_str_eq(m.subject, "Hello one");
    cr_expect_str_eq(m.from_name, "Bob Example");
    cr_expect_str_eq(m.from_address, "bob@example.com");
    imap_message_clear(&m);
    cr_expect_eq(imap_parse_fetch(DOVECOT_FETCH, sizeof DOVECOT_FETCH - 1, 8, &m),
                 MAPI_E_NOT_FOUND);
}

Test(imap_parse, fetch_keeps_what_came_before_a_literal)
{
    /* dovecot sends a subject with quotes as a literal; libcurl drops its
     * bytes and the rest of the response. */
    static const char B[] = "* 2 FETCH (UID 9 FLAGS () RFC822.SIZE 59 INTERNALDATE "
                            "\"24-Nov-2026 20:28:35 +0000\" ENVELOPE (NIL {14}\r\n"
                            "* 3 FETCH (UID 10 FLAGS (\\Seen))\r\n";
    imap_message m;
    cr_assert_eq(imap_parse_fetch(B, sizeof B - 1, 9, &m), S_OK);
    cr_expect_not(m.seen);
    cr_expect_eq(m.size, 59u);
    cr_expect_null(m.subject);
    cr_expect_null(m.from_address);
    imap_message_clear(&m);
    cr_assert_eq(imap_parse_fetch(B, sizeof B - 1, 10, &m), S_OK, "the next line is its own");
    cr_expect(m.seen);
    imap_message_clear(&m);
}

Test(imap_parse, fetch_merges_pieces_and_skips_unknown_attributes)
{
    static const char B[] = "* 5 EXISTS\r\n"
                            "* 4 FETCH (FLAGS (\\Seen) UID 3)\r\n"
                            "* 4 FETCH (UID 3 BODY[HEADER.FIELDS (SUBJECT FROM)] NIL "
                            "X-WEIRD (a (b (c \"d\")) NIL) MODSEQ (12) RFC822.SIZE 10 "
                            "ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n";
    imap_message m;
    cr_assert_eq(imap_parse_fetch(B, sizeof B - 1, 3, &m), S_OK);
    cr_expect(m.seen);
    cr_expect_eq(m.size, 10u);
    cr_expect_null(m.subject, "NIL subject");
    cr_expect_null(m.from_name);
    imap_message_clear(&m);
}

Test(imap_parse, fetch_survives_hostile_input)
{
    /* Deep nesting, unbalanced parentheses, a FETCH without UID, numbers out
     * of range, and a response that ends in the middle. */
    size_t deep = 5000;
    char *b = malloc(2 * deep + 100);
    cr_assert_not_null(b);
    size_t k = (size_t)sprintf(b, "* 1 FETCH (UID 1 X ");
    for (size_t i = 0; i < deep; i++)
        b[k++] = '(';
    for (size_t i = 0; i < deep; i++)
        b[k++] = ')';
    k += (size_t)sprintf(b + k, ")\r\n");
    imap_message m;
    cr_expect_eq(imap_parse_fetch(b, k, 1, &m), MAPI_E_NOT_FOUND, "nesting past the bound");
    free(b);
    const char *bad[] = {
        "* 1 FETCH (UID 1 ENVELOPE ((((\r\n",
        "* 1 FETCH (UID 1 FLAGS (\\Seen\r\n",
        "* 1 FETCH (UID 4294967296)\r\n",
        "* 1 FETCH (FLAGS (\\Seen))\r\n",
        "* 1 FETCH UID 1\r\n",
        "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT) NIL)\r\n",
        "* 1 FETCH (UID 1 ENVELOPE (NIL \"s\" ((\"n\" NIL \"m\")) NIL))\r\n",
        "* 1 FETCH (UID 1 ENVELOPE (NIL \"s\" \"notalist\" NIL))\r\n",
        "* 1 FETCH (UID 1 INTERNALDATE {26}\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        HRESULT hr = imap_parse_fetch(bad[i], strlen(bad[i]), 1, &m);
        /* Some of these keep the UID (a literal cuts the line short); none
         * may claim data that was not there. */
        if (hr == S_OK) {
            cr_expect_null(m.subject, "%s", bad[i]);
            cr_expect_not(m.has_size, "%s", bad[i]);
            imap_message_clear(&m);
        }
    }
}

Test(imap_parse, fetch_strings_are_valid_utf8_and_bounded)
{
    char *b = malloc(IMAP_STRING_MAX * 2 + 200);
    cr_assert_not_null(b);
    size_t k = (size_t)sprintf(b, "* 1 FETCH (UID 1 ENVELOPE (NIL \"");
    for (size_t i = 0; i < IMAP_STRING_MAX * 2; i++)
        b[k++] = 'a';
    k += (size_t)sprintf(b + k, "\" ((\"Bad \xC3\x28 \xED\xA0\x80 \x01 ok \xC3\xA9\" NIL \"x\" "
                                "\"y\")) NIL NIL NIL NIL NIL NIL NIL))\r\n");
    imap_message m;
    cr_assert_eq(imap_parse_fetch(b, k, 1, &m), S_OK);
    cr_expect_eq(strlen(m.subject), (size_t)IMAP_STRING_MAX, "subject cut at the bound");
    cr_expect_str_eq(m.from_name, "Bad ?( ??? ? ok \xC3\xA9");
    cr_expect_str_eq(m.from_address, "x@y");
    imap_message_clear(&m);
    free(b);
}

Test(imap_parse, date_time)
{
    time_t t;
    cr_assert(imap_parse_date_time("01-Jan-1970 00:00:00 +0000", &t));
    cr_expect_eq((long long)t, 0LL);
    cr_assert(imap_parse_date_time(" 1-Jan-1970 01:00:00 +0100", &t));
    cr_expect_eq((long long)t, 0LL);
    cr_assert(imap_parse_date_time("31-Dec-1969 19:00:00 -0500", &t));
    cr_expect_eq((long long)t, 0LL);
    const char *bad[] = {"",
                         "01-Foo-1970 00:00:00 +0000",
                         "01-Jan-1970 25:00:00 +0000",
                         "01-Jan-1970 00:00:00 0000",
                         "1-Jan-1970 00:00:00 +0000",
                         "00-Jan-1970 00:00:00 +0000",
                         "01-Jan-1970 00:00:00 +0000 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(imap_parse_date_time(bad[i], &t), "accepted \"%s\"", bad[i]);
}

Test(imap_parse, quote)
{
    char out[64];
    cr_assert(imap_quote("INBOX", out, sizeof out));
    cr_expect_str_eq(out, "\"INBOX\"");
    cr_assert(imap_quote("a\"b\\c%", out, sizeof out));
    cr_expect_str_eq(out, "\"a\\\"b\\\\c%\"");
    cr_expect_not(imap_quote("a\r\nb", out, sizeof out), "CR LF cannot be quoted");
    cr_expect_not(imap_quote("caf\xC3\xA9", out, sizeof out), "8-bit cannot be quoted");
    cr_expect_not(imap_quote("abcdef", out, 8), "does not fit");
    cr_expect(imap_quote("abcde", out, 8), "fits exactly");
    cr_expect_not(imap_quote("", out, 2));
}

Test(imap_parse, utf8_sanitize)
{
    char s[] = "ok \xC0\xAF \xF4\x90\x80\x80 \xE2\x82\xAC \x7F\t end\xC3";
    imap_utf8_sanitize(s);
    cr_expect_str_eq(s, "ok ?? ???? \xE2\x82\xAC ?? end?");
    imap_utf8_sanitize(NULL);
}

/* ---- raw conversations (literals included) ---- */

Test(imap_parse, search_uids_largest_first)
{
    static const char A[] = "* OK [UIDVALIDITY 7] x\r\n* SEARCH 3 10 1 3 0 7\r\n"
                            "* SEARCH\r\n* SEARCH 2 x 9\r\nA5 OK done\r\n";
    uint32_t *u;
    size_t n;
    cr_assert_eq(imap_parse_search(A, sizeof A - 1, &u, &n), S_OK);
    /* Zero and duplicates dropped; a line stops at what is not a number. */
    uint32_t want[] = {10, 7, 3, 2, 1};
    cr_assert_eq(n, 5u);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(u[i], want[i], "uid %zu", i);
    free(u);
    cr_assert_eq(imap_parse_search("* SEARCH\r\n", 10, &u, &n), S_OK);
    cr_expect_eq(n, 0u);
    cr_expect_null(u);
    cr_assert_eq(imap_parse_search("* SEARCH 4294967296 5\r\n", 23, &u, &n), S_OK);
    cr_expect_eq(n, 0u);
    free(u);
}

/* A header section and an envelope subject as literals, as dovecot sends
 * them: the header fields win, RFC 2047 decoded. */
Test(imap_parse, fetch_raw_reads_literals)
{
    static const char HDR[] = "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
                              "From: \"Zo\xc3\xab\" <zoe@example.com>\r\n\r\n";
    char buf[1024];
    int n =
        snprintf(buf, sizeof buf,
                 "* OK [CAPABILITY IMAP4rev1] ready\r\nA1 OK logged in\r\n"
                 "* 2 EXISTS\r\n"
                 "* 1 FETCH (UID 4 FLAGS (\\Seen) RFC822.SIZE 99 ENVELOPE (NIL {8}\r\nSay \"hi\" "
                 "((\"Z\" NIL \"zoe\" \"example.com\")) NIL NIL NIL NIL NIL NIL NIL) "
                 "BODY[HEADER.FIELDS (SUBJECT FROM)] {%zu}\r\n%s)\r\n"
                 "* 2 FETCH (UID 9 ENVELOPE (NIL {7}\r\nQ\xc3\xa9 \"x\" NIL NIL NIL NIL NIL "
                 "NIL NIL NIL))\r\nA2 OK done\r\n",
                 sizeof HDR - 1, HDR);
    uint32_t uids[] = {9, 4, 5};
    imap_message m[3];
    cr_assert_eq(imap_parse_fetch_raw(buf, (size_t)n, uids, 3, m), S_OK);
    cr_expect(m[1].answered);
    cr_expect(m[1].seen);
    cr_expect_eq(m[1].size, 99u);
    cr_expect_str_eq(m[1].subject, "Grüße");
    cr_expect_str_eq(m[1].from_name, "Zoë");
    cr_expect_str_eq(m[1].from_address, "zoe@example.com");
    /* Only an envelope: its literal subject is read whole. */
    cr_expect(m[0].answered);
    cr_expect_str_eq(m[0].subject, "Qé \"x\"");
    cr_expect(!m[2].answered);
    imap_messages_clear(m, 3);
}

/* A literal's bytes that look like responses are data, not responses; a
 * literal claiming more than there is ends the answer without a read past
 * it. */
Test(imap_parse, fetch_raw_frames_by_literals)
{
    static const char A[] = "* 1 FETCH (UID 1 ENVELOPE (NIL {29}\r\n"
                            "x\r\n* 2 FETCH (UID 2 FLAGS ())"
                            " NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
                            "* 3 FETCH (UID 3 ENVELOPE (NIL {999}\r\nshort))\r\n";
    uint32_t uids[] = {1, 2, 3};
    imap_message m[3];
    cr_assert_eq(imap_parse_fetch_raw(A, sizeof A - 1, uids, 3, m), S_OK);
    cr_expect(m[0].answered);
    cr_expect_str_eq(m[0].subject, "x??* 2 FETCH (UID 2 FLAGS ())");
    cr_expect(!m[1].answered, "a response inside a literal was read");
    cr_expect(!m[2].answered);
    imap_messages_clear(m, 3);

    /* Cut anywhere, the same answer never reads out of bounds. */
    for (size_t len = 0; len < sizeof A - 1; len++) {
        char *copy = malloc(len ? len : 1);
        cr_assert_not_null(copy);
        memcpy(copy, A, len);
        cr_assert_eq(imap_parse_fetch_raw(copy, len, uids, 3, m), S_OK);
        imap_messages_clear(m, 3);
        free(copy);
    }
    /* Absurd sizes. */
    static const char B[] = "* 1 FETCH (UID 1 ENVELOPE (NIL {99999999999999999999}\r\nx))\r\n";
    cr_assert_eq(imap_parse_fetch_raw(B, sizeof B - 1, uids, 1, m), S_OK);
    cr_expect(!m[0].subject);
    imap_messages_clear(m, 1);
}

/* ---- modified UTF-7 mailbox names ---- */

static void expect_mutf7(const char *in, const char *want)
{
    char *out = NULL;
    cr_assert_eq(imap_mutf7_decode(in, &out), S_OK, "%s did not decode", in);
    cr_expect_str_eq(out, want, "%s", in);
    free(out);
}

static void expect_mutf7_invalid(const char *in)
{
    char *out = (char *)"untouched";
    cr_expect_eq(imap_mutf7_decode(in, &out), MAPI_E_INVALID_PARAMETER, "%s decoded", in);
    cr_expect_null(out, "%s", in);
}

Test(imap_parse, mutf7_names_decode_for_display)
{
    /* RFC 3501 5.1.3's example, RFC 2152's smiley, the folder. */
    expect_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e");
    expect_mutf7("&Jjo-!", "\u263a!");
    expect_mutf7("Entw&APw-rfe", "Entw\u00fcrfe");
    expect_mutf7("&AMQA1gDc-", "\u00c4\u00d6\u00dc");
    expect_mutf7("Tom &- Jerry", "Tom & Jerry");
    expect_mutf7("&-&-", "&&");
    expect_mutf7("INBOX", "INBOX");
    expect_mutf7("", "");
    /* A character outside the BMP: a surrogate pair (U+1F600). */
    expect_mutf7("&2D3eAA-", "\U0001F600");
}

Test(imap_parse, mutf7_invalid_names_are_refused)
{
    expect_mutf7_invalid("Entw\xc3\xbcrfe"); /* raw UTF-8: shown as sent instead */
    expect_mutf7_invalid("a\tb");            /* control character */
    expect_mutf7_invalid("&APw");            /* unterminated shift */
    expect_mutf7_invalid("&AP*-");           /* not a base64 character */
    expect_mutf7_invalid("&APw/-");          /* '/' is ',' in modified base64 */
    expect_mutf7_invalid("&AEE-");           /* "A" encoded: it stands for itself */
    expect_mutf7_invalid("&AAA-");           /* NUL */
    expect_mutf7_invalid("&APx-");           /* left-over bits not zero */
    expect_mutf7_invalid("&APwA-");          /* six left-over bits: one character too many */
    expect_mutf7_invalid("&2D0-");           /* a high surrogate alone */
    expect_mutf7_invalid("&2D3YPQ-");        /* a high surrogate followed by another */
    expect_mutf7_invalid("&3gA-");           /* a low surrogate alone */
    expect_mutf7_invalid("&AA-");            /* fewer than 16 bits */
}
