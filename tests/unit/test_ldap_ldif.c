/* The ldap provider's text handling: libcurl's search output parsed from
 * friendly and hostile input, RFC 4515 filter escaping and URL encoding that
 * no search text can break out of, and DN comparison. */
#include "../../session-core/providers/ldap_ldif.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ldap_result parse_ok(const char *text, size_t max)
{
    ldap_result r;
    cr_assert_eq(ldap_ldif_parse(text, strlen(text), max, &r), S_OK, "parse failed: %s", text);
    return r;
}

/* Exactly what libcurl 7.88 (OpenLDAP backend) writes for two entries. */
Test(ldap_ldif, curl_output)
{
    const char *text = "DN: uid=bob,ou=people,dc=example,dc=org\n"
                       "\tcn:: Qm9iIE3DvGxsZXI=\n\n"
                       "\tmail: bob@example.org\n\n\n"
                       "DN: uid=alice,ou=people,dc=example,dc=org\n"
                       "\tcn: Alice Example\n\n"
                       "\tdisplayName: Alice Lidell\n\n"
                       "\tmail: alice@example.org\n\n\n";
    ldap_result r = parse_ok(text, 10);
    cr_assert_eq(r.count, 2u);
    cr_expect_str_eq(r.entries[0].dn, "uid=bob,ou=people,dc=example,dc=org");
    cr_expect_str_eq(ldap_entry_string(&r.entries[0], "cn"), "Bob M\xc3\xbcller");
    cr_expect_str_eq(ldap_entry_string(&r.entries[0], "MAIL"), "bob@example.org");
    cr_expect_null(ldap_entry_string(&r.entries[0], "displayName"));
    cr_expect_str_eq(ldap_entry_string(&r.entries[1], "displayname"), "Alice Lidell");
    ldap_result_clear(&r);
    cr_expect_eq(r.count, 0u);
    cr_expect_null(r.entries);
}

Test(ldap_ldif, plain_ldif_continuations_crlf_and_options)
{
    const char *text = "dn: uid=x,dc=example,dc=org\r\n"
                       "cn;lang-en: Long\r\n"
                       "  Name\r\n"
                       "dn:: dWlkPXksZGM9ZXhhbXBsZSxkYz1vcmc=\n" /* uid=y,dc=example,dc=org */
                       "mail:: eUBl\n"
                       " eGFtcGxlLm9yZw==\n"; /* y@example.org, folded inside the base64 */
    ldap_result r = parse_ok(text, 10);
    cr_assert_eq(r.count, 2u);
    cr_expect_str_eq(ldap_entry_string(&r.entries[0], "cn"), "Long Name");
    cr_expect_str_eq(r.entries[1].dn, "uid=y,dc=example,dc=org");
    cr_expect_str_eq(ldap_entry_string(&r.entries[1], "mail"), "y@example.org");
    ldap_result_clear(&r);
}

Test(ldap_ldif, empty_and_garbage)
{
    const char *inputs[] = {"",       "\n\n\n", "garbage without colon\n", ": no name\n",
                            "\t:x\n", "DN\n",   "\tcn: before any dn\n"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        ldap_result r = parse_ok(inputs[i], 10);
        cr_expect_eq(r.count, 0u, "input %zu gave entries", i);
        ldap_result_clear(&r);
    }
}

Test(ldap_ldif, undecodable_values_are_dropped_not_fatal)
{
    const char *text = "DN: uid=a,dc=x\n"
                       "\tcn:: !!!not base64!!!\n"
                       "\tmail:: AGJhZA==\n"    /* "\0bad": embedded NUL */
                       "\tdisplayName:: /w==\n" /* 0xFF: not UTF-8 */
                       "\tsn: ok\n"
                       "\turl:< file:///etc/passwd\n"
                       "DN:: AGV2aWw=\n" /* a DN with a NUL: the entry is dropped */
                       "\tcn: hidden\n"
                       "DN: uid=b,dc=x\n"
                       "\tcn: Bee\n";
    ldap_result r = parse_ok(text, 10);
    cr_assert_eq(r.count, 2u);
    cr_expect_null(ldap_entry_string(&r.entries[0], "cn"));
    cr_expect_null(ldap_entry_string(&r.entries[0], "mail"));
    cr_expect_null(ldap_entry_string(&r.entries[0], "displayName"));
    cr_expect_null(ldap_entry_string(&r.entries[0], "url"));
    cr_expect_str_eq(ldap_entry_string(&r.entries[0], "sn"), "ok");
    cr_expect_str_eq(r.entries[1].dn, "uid=b,dc=x");
    cr_expect_str_eq(ldap_entry_string(&r.entries[1], "cn"), "Bee");
    ldap_result_clear(&r);
}

Test(ldap_ldif, entry_limit)
{
    const char *text = "DN: a\nDN: b\nDN: c\n";
    ldap_result r;
    cr_expect_eq(ldap_ldif_parse(text, strlen(text), 2, &r), MAPI_E_NOT_ENOUGH_RESOURCES);
    cr_expect_eq(r.count, 0u);
    cr_expect_null(r.entries);
    r = parse_ok(text, 3);
    cr_expect_eq(r.count, 3u);
    ldap_result_clear(&r);
}

Test(ldap_ldif, attribute_limit_per_entry)
{
    size_t n = LDAP_MAX_ATTRS_PER_ENTRY + 50;
    char *text = malloc(16 + n * 12);
    cr_assert_not_null(text);
    size_t o = (size_t)sprintf(text, "DN: x\n");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(text + o, "\tcn: v%zu\n", i);
    ldap_result r = parse_ok(text, 1);
    cr_assert_eq(r.count, 1u);
    cr_expect_eq(r.entries[0].nattrs, (size_t)LDAP_MAX_ATTRS_PER_ENTRY);
    ldap_result_clear(&r);
    free(text);
}

/* Bytes that are not text at all, NULs inside, no final newline. */
Test(ldap_ldif, binary_noise)
{
    char noise[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (char)(x >> 16);
    }
    memcpy(noise, "DN: z\n\tcn:", 10);
    ldap_result r;
    HRESULT hr = ldap_ldif_parse(noise, sizeof noise, 1000, &r);
    cr_assert(hr == S_OK || hr == MAPI_E_NOT_ENOUGH_RESOURCES);
    for (size_t i = 0; i < r.count; i++) {
        const char *cn = ldap_entry_string(&r.entries[i], "cn");
        if (cn)
            cr_expect(ldap_utf8_valid(cn, strlen(cn)));
    }
    ldap_result_clear(&r);
}

Test(ldap_ldif, utf8_validation)
{
    cr_expect(ldap_utf8_valid("plain", 5));
    cr_expect(ldap_utf8_valid("M\xc3\xbcller", 7));
    cr_expect(ldap_utf8_valid("\xf0\x9f\x98\x80", 4));
    cr_expect_not(ldap_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    cr_expect_not(ldap_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    cr_expect_not(ldap_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    cr_expect_not(ldap_utf8_valid("\xe2\x82", 2));         /* truncated */
    cr_expect_not(ldap_utf8_valid("\x80", 1));
}

Test(ldap_ldif, filter_escape_rfc4515)
{
    char *e = ldap_filter_escape("*)(uid=*))(|(cn=*");
    cr_assert_not_null(e);
    cr_expect_str_eq(e, "\\2a\\29\\28uid\\3d\\2a\\29\\29\\28\\7c\\28cn\\3d\\2a");
    free(e);
    e = ldap_filter_escape("a\\b");
    cr_expect_str_eq(e, "a\\5cb");
    free(e);
    e = ldap_filter_escape("Alice Ex-ample_1.o'n+x@y");
    cr_expect_str_eq(e, "Alice Ex-ample_1.o'n+x@y");
    free(e);
    e = ldap_filter_escape("M\xc3\xbc");
    cr_expect_str_eq(e, "M\\c3\\bc");
    free(e);
    e = ldap_filter_escape("");
    cr_expect_str_eq(e, "");
    free(e);
}

/* Whatever the input, the escaped value holds none of the characters that
 * give a filter structure. */
Test(ldap_ldif, filter_escape_never_leaks_structure)
{
    char in[256];
    for (int i = 1; i < 256; i++)
        in[i - 1] = (char)i;
    in[255] = '\0';
    char *e = ldap_filter_escape(in);
    cr_assert_not_null(e);
    cr_expect_null(strpbrk(e, "()*\n\r="));
    for (const char *p = e; *p; p++) {
        if (*p == '\\') {
            cr_assert(p[1] && p[2], "dangling escape");
            cr_expect_not_null(strchr("0123456789abcdef", p[1]));
            cr_expect_not_null(strchr("0123456789abcdef", p[2]));
            p += 2;
        }
    }
    free(e);
}

Test(ldap_ldif, url_escape)
{
    char *e = ldap_url_escape("(&(cn=*a b*)(x=?#/%))");
    cr_assert_not_null(e);
    cr_expect_str_eq(e, "%28%26%28cn%3d%2aa%20b%2a%29%28x%3d%3f%23%2f%25%29%29");
    free(e);
    e = ldap_url_escape("AZaz09-._~");
    cr_expect_str_eq(e, "AZaz09-._~");
    free(e);
}

Test(ldap_ldif, dn_equal_and_within)
{
    const char *a = "uid=Alice,ou=People,dc=Example,dc=org";
    const char *b = "UID=alice, ou=people , dc=example,dc=ORG";
    cr_expect(ldap_dn_equal(a, strlen(a), b, strlen(b)));
    const char *c = "uid=alicex,ou=people,dc=example,dc=org";
    cr_expect_not(ldap_dn_equal(a, strlen(a), c, strlen(c)));
    cr_expect(ldap_dn_within(a, strlen(a), "ou=people,dc=example,dc=org"));
    cr_expect(ldap_dn_within(a, strlen(a), "DC=example, DC=org"));
    cr_expect(ldap_dn_within("dc=example,dc=org", 17, "dc=example,dc=org"));
    cr_expect_not(ldap_dn_within("cn=admin,dc=example,dc=org", 26, "ou=people,dc=example,dc=org"));
    /* a suffix match that is not on an RDN boundary */
    cr_expect_not(ldap_dn_within("ou=xpeople,dc=example,dc=org", 28, "people,dc=example,dc=org"));
    /* an escaped comma is part of a value, not a boundary */
    const char *d = "cn=a\\,ou=people,dc=example,dc=org";
    cr_expect_not(ldap_dn_within(d, strlen(d), "ou=people,dc=example,dc=org"));
    cr_expect_not(ldap_dn_within("", 0, "dc=org"));
}
