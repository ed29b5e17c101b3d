/* ldap_ldif.h - parses what libcurl's LDAP support writes for a search, and
 * the text helpers the ldap provider needs (RFC 4515 filter escaping, URL
 * encoding, DN comparison).
 *
 * libcurl (OpenLDAP backend) writes one block per entry:
 *   "DN: <dn>\n" then per value "\t<attr>: <value>\n" or, for values with
 *   unprintable bytes or edge spaces, "\t<attr>:: <base64>\n", with blank
 *   lines between attributes and entries.
 * The parser also takes plain LDIF ("dn:", "dn::", untabbed attributes) and
 * LDIF continuation lines (a line starting with one space continues the
 * previous one), so a change in libcurl's layout does not silently lose data.
 * Everything it reads comes from the network: it bounds the entry count and
 * attributes per entry, never trusts lengths, and drops what it cannot
 * decode instead of failing the whole answer.
 *
 * Ownership: ldap_result owns every string; ldap_result_clear frees them.
 * Thread-safety: pure functions.
 */
#pragma once

#include "../hresult.h"

#include <stdbool.h>
#include <stddef.h>

#define LDAP_MAX_ATTRS_PER_ENTRY 256 /* further values of one entry are dropped */

typedef struct {
    char *name;  /* as sent, options included ("cn;lang-de") */
    char *value; /* decoded bytes, NUL-terminated (may hold NULs: see len) */
    size_t len;
} ldap_attr;

typedef struct {
    char *dn;
    ldap_attr *attrs;
    size_t nattrs;
} ldap_entry;

typedef struct {
    ldap_entry *entries;
    size_t count;
} ldap_result;

/* Parses len bytes of text into *out (zeroed first). S_OK;
 * MAPI_E_NOT_ENOUGH_RESOURCES when the answer holds more than max_entries
 * entries (out is then cleared); MAPI_E_NOT_ENOUGH_MEMORY. */
HRESULT ldap_ldif_parse(const char *text, size_t len, size_t max_entries, ldap_result *out);
void ldap_result_clear(ldap_result *r);

/* The first value of attribute attr (case-insensitive, options ignored) that
 * is non-empty valid UTF-8 without NUL bytes; NULL when none. Borrowed. */
const char *ldap_entry_string(const ldap_entry *e, const char *attr);

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool ldap_utf8_valid(const char *s, size_t len);

/* RFC 4515 assertion-value escaping: every byte except ASCII letters, digits
 * and " -._@+'" becomes \XX, so no input can change the filter's structure.
 * malloc'd; NULL when out of memory. */
char *ldap_filter_escape(const char *s);

/* Percent-encodes every byte except RFC 3986 unreserved characters, for the
 * DN and filter parts of an ldap:// URL. malloc'd; NULL when out of memory. */
char *ldap_url_escape(const char *s);

/* DN comparison as directory servers do for the usual case: ASCII letters
 * without case, spaces around unescaped ',', '+' and '=' ignored. */
bool ldap_dn_equal(const char *a, size_t alen, const char *b, size_t blen);
/* True when dn is base itself or lies below it (suffix on an RDN boundary). */
bool ldap_dn_within(const char *dn, size_t dnlen, const char *base);
