/* fuzz_ldif.c - what the ldap provider reads from a directory server and the
 * text it builds from user input (session-core/providers/ldap_ldif.h).
 *
 * Input: a selector byte, then the bytes.
 *   selector % 4: 0 ldap_ldif_parse (max entries = 1 + next byte % 64) and
 *   ldap_entry_string on each entry; 1 the filter and URL escapes; 2
 *   ldap_dn_equal / ldap_dn_within on two halves split at the first NUL; 3
 *   ldap_utf8_valid against an independent validator.
 * Properties: entry and attribute counts within their bounds, every value
 * NUL-terminated at its length, ldap_entry_string's answer valid UTF-8, the
 * escapes' output made only of the characters they promise, dn_equal
 * reflexive and symmetric, dn_within(dn, dn).
 */
#include "fuzz_common.h"

#include "../../session-core/providers/ldap_ldif.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void parse(const char *text, size_t len, size_t max)
{
    static const char *const ATTRS[] = {"cn", "mail", "displayName", "sn", "objectClass"};
    ldap_result r;
    HRESULT hr = ldap_ldif_parse(text, len, max, &r);
    if (hr == S_OK) {
        if (r.count > max)
            fz_fail("ldif: %zu entries, max %zu", r.count, max);
        for (size_t i = 0; i < r.count; i++) {
            const ldap_entry *e = &r.entries[i];
            if (!e->dn)
                fz_fail("ldif: entry %zu without a dn", i);
            if (e->nattrs > LDAP_MAX_ATTRS_PER_ENTRY)
                fz_fail("ldif: entry %zu has %zu attributes", i, e->nattrs);
            for (size_t k = 0; k < e->nattrs; k++) {
                const ldap_attr *a = &e->attrs[k];
                if (!a->name || !a->value || a->value[a->len] != '\0')
                    fz_fail("ldif: entry %zu attribute %zu malformed", i, k);
            }
            for (size_t k = 0; k < sizeof ATTRS / sizeof ATTRS[0]; k++) {
                const char *v = ldap_entry_string(e, ATTRS[k]);
                if (v && (!*v || !fz_utf8_valid(v, strlen(v), false)))
                    fz_fail("ldap_entry_string(%s): empty or not UTF-8", ATTRS[k]);
            }
        }
    } else if (hr != MAPI_E_NOT_ENOUGH_RESOURCES && hr != MAPI_E_NOT_ENOUGH_MEMORY) {
        fz_fail("ldif: 0x%08X", (unsigned)hr);
    }
    ldap_result_clear(&r);
}

static void escapes(const char *s)
{
    char *f = ldap_filter_escape(s);
    if (!f)
        abort();
    for (size_t i = 0; f[i]; i++) {
        unsigned char c = (unsigned char)f[i];
        if (c == '\\') {
            if (!is_hex((unsigned char)f[i + 1]) || !is_hex((unsigned char)f[i + 2]))
                fz_fail("ldap_filter_escape: a bad escape in %s", f);
            i += 2;
        } else if (!is_alnum(c) && !strchr(" -._@+'", c)) {
            fz_fail("ldap_filter_escape: byte 0x%02X left as is", c);
        }
    }
    free(f);
    char *u = ldap_url_escape(s);
    if (!u)
        abort();
    for (size_t i = 0; u[i]; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c == '%') {
            if (!is_hex((unsigned char)u[i + 1]) || !is_hex((unsigned char)u[i + 2]))
                fz_fail("ldap_url_escape: a bad escape in %s", u);
            i += 2;
        } else if (!is_alnum(c) && !strchr("-._~", c)) {
            fz_fail("ldap_url_escape: byte 0x%02X left as is", c);
        }
    }
    free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = data[0] % 4;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    /* Exactly n bytes on the heap, so ASan sees any read past the end. */
    char *exact = malloc(n);
    if (!exact)
        abort();
    memcpy(exact, in, n);

    if (sel == 0) {
        parse(exact + 1, n - 1, 1 + in[0] % 64);
    } else if (sel == 1) {
        char *s = fz_strndup(in, n);
        escapes(s);
        free(s);
    } else if (sel == 2) {
        const char *sep = memchr(exact, '\0', n);
        size_t alen = sep ? (size_t)(sep - exact) : n / 2;
        const char *b = sep ? sep + 1 : exact + alen;
        size_t blen = n - (size_t)(b - exact);
        if (!ldap_dn_equal(exact, alen, exact, alen))
            fz_fail("ldap_dn_equal is not reflexive");
        if (ldap_dn_equal(exact, alen, b, blen) != ldap_dn_equal(b, blen, exact, alen))
            fz_fail("ldap_dn_equal is not symmetric");
        char *base = fz_strndup((const uint8_t *)exact, alen);
        if (strlen(base) == alen && !ldap_dn_within(exact, alen, base))
            fz_fail("ldap_dn_within(dn, dn) is false");
        (void)ldap_dn_within(b, blen, base);
        free(base);
    } else {
        if (ldap_utf8_valid(exact, n) != fz_utf8_valid(exact, n, true))
            fz_fail("ldap_utf8_valid disagrees with a strict validator");
    }
    free(exact);
    return 0;
}
