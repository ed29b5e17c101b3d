/* ldap_ldif.c - libcurl's LDAP search output into entries, and the escaping
 * helpers of the ldap provider (see ldap_ldif.h). */
#include "ldap_ldif.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- parser --------------------------------------------------------------- */

typedef struct {
    ldap_result *out;
    size_t max_entries;
    bool skip_entry; /* the current entry's DN was undecodable: drop its values */
    HRESULT hr;
} parser;

/* A growable line buffer (logical lines can span continuation lines). */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} linebuf;

static bool linebuf_append(linebuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return false;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == ';' || c == '.';
}

/* Decodes the value part after "name:" into a malloc'd, NUL-terminated
 * buffer. false with *val NULL when it cannot be decoded (or no memory:
 * *nomem). */
static bool decode_value(const char *v, size_t vlen, char **val, size_t *out_len, bool *nomem)
{
    *val = NULL;
    *nomem = false;
    bool b64 = vlen > 0 && v[0] == ':';
    if (b64) {
        v++;
        vlen--;
    } else if (vlen > 0 && v[0] == '<') {
        return false; /* a URL reference: nothing a directory search sends us */
    }
    while (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (!b64) {
        if (!(*val = malloc(vlen + 1))) {
            *nomem = true;
            return false;
        }
        memcpy(*val, v, vlen);
        (*val)[vlen] = '\0';
        *out_len = vlen;
        return true;
    }
    size_t cap = vlen / 4 * 3 + 3;
    unsigned char *bin = malloc(cap + 1);
    if (!bin) {
        *nomem = true;
        return false;
    }
    size_t blen = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, cap, v, vlen, " \t\r", &blen, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != v + vlen) {
        free(bin);
        return false;
    }
    bin[blen] = '\0';
    *val = (char *)bin;
    *out_len = blen;
    return true;
}

static HRESULT new_entry(parser *p, char *dn)
{
    ldap_result *r = p->out;
    if (r->count >= p->max_entries) {
        free(dn);
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    }
    ldap_entry *e = realloc(r->entries, (r->count + 1) * sizeof *e);
    if (!e) {
        free(dn);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    r->entries = e;
    memset(&e[r->count], 0, sizeof e[r->count]);
    e[r->count].dn = dn;
    r->count++;
    return S_OK;
}

static HRESULT add_attr(parser *p, const char *name, size_t nlen, char *val, size_t vlen)
{
    ldap_entry *e = &p->out->entries[p->out->count - 1];
    if (e->nattrs >= LDAP_MAX_ATTRS_PER_ENTRY) {
        free(val); /* a hostile entry cannot grow without bound */
        return S_OK;
    }
    char *n = malloc(nlen + 1);
    ldap_attr *a = n ? realloc(e->attrs, (e->nattrs + 1) * sizeof *a) : NULL;
    if (!a) {
        free(n);
        free(val);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    memcpy(n, name, nlen);
    n[nlen] = '\0';
    e->attrs = a;
    a[e->nattrs].name = n;
    a[e->nattrs].value = val;
    a[e->nattrs].len = vlen;
    e->nattrs++;
    return S_OK;
}

/* One logical line. Lines that are not "name:value" are ignored. */
static HRESULT parse_line(parser *p, const char *line, size_t len)
{
    bool tabbed = len > 0 && line[0] == '\t';
    if (tabbed) {
        line++;
        len--;
    }
    size_t n = 0;
    while (n < len && name_char(line[n]))
        n++;
    if (n == 0 || n >= len || line[n] != ':')
        return S_OK;
    char *val;
    size_t vlen;
    bool nomem;
    bool ok = decode_value(line + n + 1, len - n - 1, &val, &vlen, &nomem);
    if (nomem)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    /* libcurl indents attributes with a tab; only an unindented "dn:" (any
     * case: "DN:" from libcurl, "dn:" in LDIF) starts an entry. */
    if (!tabbed && n == 2 && strncasecmp(line, "dn", 2) == 0) {
        /* A DN with NUL bytes could not be used as one: drop the entry. */
        p->skip_entry = !ok || strlen(val) != vlen;
        if (p->skip_entry) {
            free(val);
            return S_OK;
        }
        return new_entry(p, val);
    }
    if (!ok || p->skip_entry || p->out->count == 0) {
        free(val);
        return S_OK;
    }
    return add_attr(p, line, n, val, vlen);
}

HRESULT ldap_ldif_parse(const char *text, size_t len, size_t max_entries, ldap_result *out)
{
    memset(out, 0, sizeof *out);
    parser p = {out, max_entries, false, S_OK};
    linebuf lb = {0};
    bool have = false;
    size_t i = 0;
    while (i <= len && HR_SUCCEEDED(p.hr)) {
        const char *nl = i < len ? memchr(text + i, '\n', len - i) : NULL;
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t l = end - i;
        if (l > 0 && text[i + l - 1] == '\r')
            l--;
        if (have && l > 0 && text[i] == ' ') {
            /* LDIF folding: the rest continues the previous line */
            if (!linebuf_append(&lb, text + i + 1, l - 1))
                p.hr = MAPI_E_NOT_ENOUGH_MEMORY;
        } else {
            if (have)
                p.hr = parse_line(&p, lb.data, lb.len);
            lb.len = 0;
            have = HR_SUCCEEDED(p.hr) && linebuf_append(&lb, text + i, l);
            if (HR_SUCCEEDED(p.hr) && !have)
                p.hr = MAPI_E_NOT_ENOUGH_MEMORY;
        }
        i = end + 1;
    }
    if (have && HR_SUCCEEDED(p.hr))
        p.hr = parse_line(&p, lb.data, lb.len);
    free(lb.data);
    if (HR_FAILED(p.hr))
        ldap_result_clear(out);
    return p.hr;
}

void ldap_result_clear(ldap_result *r)
{
    for (size_t i = 0; i < r->count; i++) {
        ldap_entry *e = &r->entries[i];
        for (size_t j = 0; j < e->nattrs; j++) {
            free(e->attrs[j].name);
            free(e->attrs[j].value);
        }
        free(e->attrs);
        free(e->dn);
    }
    free(r->entries);
    memset(r, 0, sizeof *r);
}

/* attr equals name, ignoring case and any ";option" suffix of name. */
static bool attr_is(const char *name, const char *attr)
{
    size_t n = strcspn(name, ";");
    return strlen(attr) == n && strncasecmp(name, attr, n) == 0;
}

const char *ldap_entry_string(const ldap_entry *e, const char *attr)
{
    for (size_t i = 0; i < e->nattrs; i++) {
        const ldap_attr *a = &e->attrs[i];
        if (attr_is(a->name, attr) && a->len > 0 && strlen(a->value) == a->len &&
            ldap_utf8_valid(a->value, a->len))
            return a->value;
    }
    return NULL;
}

bool ldap_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = u[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (u[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

/* ---- escaping --------------------------------------------------------------- */

static const char HEX[] = "0123456789abcdef";

static bool alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Escapes every byte outside keep() as prefix + two hex digits. */
static char *escape(const char *s, char prefix, bool (*keep)(unsigned char))
{
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (keep(*p)) {
            *o++ = (char)*p;
        } else {
            *o++ = prefix;
            *o++ = HEX[*p >> 4];
            *o++ = HEX[*p & 0xF];
        }
    }
    *o = '\0';
    return out;
}

/* Not '*', '(', ')', '\\' or NUL (RFC 4515's must-escape set), and nothing
 * else that might confuse a filter or URL parser: only a small, plain set. */
static bool filter_keep(unsigned char c) { return alnum(c) || (c && strchr(" -._@+'", c)); }

static bool url_keep(unsigned char c) { return alnum(c) || (c && strchr("-._~", c)); }

char *ldap_filter_escape(const char *s) { return escape(s, '\\', filter_keep); }

char *ldap_url_escape(const char *s) { return escape(s, '%', url_keep); }

/* ---- DNs ------------------------------------------------------------------ */

/* The canonical form used for comparisons (see ldap_dn_equal); malloc'd. */
static char *dn_canon(const char *dn, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = dn[i];
        if (c == '\\' && i + 1 < len) { /* an escaped character is kept as is */
            out[o++] = c;
            out[o++] = dn[++i];
            continue;
        }
        if (c == ' ') {
            /* drop spaces before or after a separator */
            size_t j = i;
            while (j < len && dn[j] == ' ')
                j++;
            bool before_sep = j == len || dn[j] == ',' || dn[j] == '=' || dn[j] == '+';
            bool after_sep = o == 0 || out[o - 1] == ',' || out[o - 1] == '=' || out[o - 1] == '+';
            if (before_sep || after_sep) {
                i = j - 1;
                continue;
            }
        }
        out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[o] = '\0';
    return out;
}

bool ldap_dn_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    char *ca = dn_canon(a, alen), *cb = dn_canon(b, blen);
    bool eq = ca && cb && strcmp(ca, cb) == 0;
    free(ca);
    free(cb);
    return eq;
}

bool ldap_dn_within(const char *dn, size_t dnlen, const char *base)
{
    char *cd = dn_canon(dn, dnlen), *cb = dn_canon(base, strlen(base));
    bool in = false;
    if (cd && cb) {
        size_t ld = strlen(cd), lb = strlen(cb);
        /* below base: ends in ",<base>" where that ',' is not escaped */
        in = ld == lb ? strcmp(cd, cb) == 0
                      : ld > lb && strcmp(cd + ld - lb, cb) == 0 && cd[ld - lb - 1] == ',' &&
                            (ld - lb < 2 || cd[ld - lb - 2] != '\\');
    }
    free(cd);
    free(cb);
    return in;
}
