/* provider_ldap.c - the "ldap" address-book provider, over libcurl's LDAP
 * support (one search per call: ldap://host:port/<base>?<attrs>?<scope>?<filter>).
 *
 * Settings (besides provider_net.h's url, password, timeout_ms, ca_file,
 * tls_verify):
 *   base_dn          where entries are searched (required, with url)
 *   filter           which entries are the address book
 *                    (default "(objectClass=inetOrgPerson)")
 *   bind_dn          the DN to bind as (provider_net's "username" is accepted
 *                    too); without one the searches bind anonymously
 *   identity_filter  e.g. "(uid=alice)": the entry that is the session's user
 *                    (exactly one match under base_dn). Without it, a provider
 *                    that authenticates the logon takes bind_dn's entry.
 *
 * The status row shows what the last search found: AVAILABLE "N entries",
 * OFFLINE when the server cannot be reached, FAILURE when it refused the bind
 * or the search. Entry ids are 'E' + the DN (entryid.h).
 *
 * Upstream authentication: with args->password the logon binds as bind_dn
 * with that password, so the directory itself checks it. An empty password
 * is refused before any traffic: LDAP treats a DN with an empty password as
 * an unauthenticated bind that "succeeds" (RFC 4513 5.1.2).
 */
#include "ldap_ldif.h"
#include "../entryid.h"
#include "../mapi_flags.h"
#include "../provider.h"
#include "provider_fs.h"
#include "provider_net.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LDAP_DEFAULT_FILTER "(objectClass=inetOrgPerson)"
#define LDAP_ENTRY_ATTRS "cn,displayName,mail"
#define LDAP_NO_ATTRS "1.1" /* RFC 4511: return no attributes (counting only) */
#define LDAP_MAX_ANSWER (16u * 1024 * 1024)
#define LDAP_MAX_ENTRIES 100000u

typedef struct {
    pnet_account acct; /* url, bind DN as username, password */
    char *base_url;    /* acct.url without trailing slashes */
    char *base_dn;
    char *filter;
    char *identity_filter; /* NULL: none configured */
    char *display_name;    /* the container's PR_DISPLAY_NAME */
    bool authenticates;    /* logged on with the logon password */
    uint8_t uid[MAPIUID_LEN];
    provider_status st;
} ldap_state;

/* One search's outcome. */
typedef struct {
    CURLcode rc;
    bool too_large;
    char err[CURL_ERROR_SIZE];
    ldap_result res;
} ldap_answer;

static void ldap_free(ldap_state *s)
{
    if (!s)
        return;
    pnet_account_clear(&s->acct); /* wipes the password */
    free(s->base_url);
    free(s->base_dn);
    free(s->filter);
    free(s->identity_filter);
    free(s->display_name);
    free(s);
}

/* Server-supplied error text goes into the status string, which must be
 * printable UTF-8: anything else becomes '?'. */
static void sanitize(char *text)
{
    for (unsigned char *p = (unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p >= 0x7F)
            *p = '?';
}

/* Runs one search. S_OK means the transfer was attempted (a->rc says how it
 * went); only running out of memory fails. */
static HRESULT ldap_search(const ldap_state *s, const char *dn, const char *attrs,
                           const char *scope, const char *filter, ldap_answer *a)
{
    memset(a, 0, sizeof *a);
    char *edn = ldap_url_escape(dn);
    char *efilter = ldap_url_escape(filter);
    char *url = NULL;
    HRESULT hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (!edn || !efilter)
        goto out;
    size_t len =
        strlen(s->base_url) + strlen(edn) + strlen(attrs) + strlen(scope) + strlen(efilter) + 8;
    if (!(url = malloc(len)))
        goto out;
    snprintf(url, len, "%s/%s?%s?%s?%s", s->base_url, edn, attrs, scope, efilter);
    CURL *c = pnet_easy(&s->acct, "ldap,ldaps");
    if (!c)
        goto out;
    pnet_buffer buf = {.max = LDAP_MAX_ANSWER};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pnet_buffer_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    a->rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    hr = S_OK;
    if (buf.overflow) {
        a->too_large = true;
        a->rc = CURLE_WRITE_ERROR;
    } else if (a->rc == CURLE_OK) {
        hr = ldap_ldif_parse(buf.data ? buf.data : "", buf.len, LDAP_MAX_ENTRIES, &a->res);
        if (hr == MAPI_E_NOT_ENOUGH_RESOURCES) {
            a->too_large = true;
            a->rc = CURLE_WRITE_ERROR;
            hr = S_OK;
        }
    } else if (a->rc == CURLE_WRITE_ERROR) {
        hr = MAPI_E_NOT_ENOUGH_MEMORY; /* the buffer could not grow */
    }
    char why[sizeof a->err];
    snprintf(a->err, sizeof a->err, "%s", pnet_why(a->rc, a->err, why, sizeof why));
    sanitize(a->err);
    pnet_buffer_free(&buf);
out:
    free(url);
    free(edn);
    free(efilter);
    return hr;
}

/* Sets the status for a failed search. */
static void note_failure(ldap_state *s, const ldap_answer *a)
{
    if (a->too_large)
        pfs_set_status(&s->st, STATUS_FAILURE, "directory answer too large (limit %u entries)",
                       LDAP_MAX_ENTRIES);
    else if (pnet_unreachable(a->rc))
        pfs_set_status(&s->st, STATUS_OFFLINE, "LDAP server unreachable: %s", a->err);
    else if (a->rc == CURLE_LOGIN_DENIED)
        pfs_set_status(&s->st, STATUS_FAILURE, "bind refused for %s",
                       s->acct.username ? s->acct.username : "anonymous");
    else
        pfs_set_status(&s->st, STATUS_FAILURE, "LDAP search failed: %s", a->err);
}

/* Counts the address book's entries: the status row's "N entries". Returns
 * the search's result code (the status is set either way). */
static HRESULT refresh(ldap_state *s, CURLcode *rc)
{
    ldap_answer a;
    HRESULT hr = ldap_search(s, s->base_dn, LDAP_NO_ATTRS, "sub", s->filter, &a);
    if (HR_FAILED(hr))
        return hr;
    *rc = a.rc;
    if (a.rc == CURLE_OK)
        pfs_set_status(&s->st, STATUS_AVAILABLE, "%zu entr%s", a.res.count,
                       a.res.count == 1 ? "y" : "ies");
    else
        note_failure(s, &a);
    ldap_result_clear(&a.res);
    return S_OK;
}

static HRESULT dup_opt(const char *v, char **out)
{
    *out = NULL;
    if (v && !(*out = strdup(v)))
        return MAPI_E_NOT_ENOUGH_MEMORY;
    return S_OK;
}

static HRESULT load_settings(ldap_state *s, const provider_config *cfg, const char *password)
{
    HRESULT hr = pnet_account_load(cfg, password, &s->acct);
    if (HR_FAILED(hr))
        return hr;
    const char *base = provider_config_setting(cfg, "base_dn");
    if (!base || !*base)
        return MAPI_E_UNCONFIGURED;
    const char *bind = provider_config_setting(cfg, "bind_dn");
    if (bind && *bind) {
        free(s->acct.username);
        if (!(s->acct.username = strdup(bind)))
            return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    const char *filter = provider_config_setting(cfg, "filter");
    const char *idf = provider_config_setting(cfg, "identity_filter");
    hr = dup_opt(base, &s->base_dn);
    if (HR_SUCCEEDED(hr))
        hr = dup_opt(filter && *filter ? filter : LDAP_DEFAULT_FILTER, &s->filter);
    if (HR_SUCCEEDED(hr))
        hr = dup_opt(idf && *idf ? idf : NULL, &s->identity_filter);
    if (HR_SUCCEEDED(hr))
        hr = dup_opt(provider_config_display_name(cfg), &s->display_name);
    if (HR_SUCCEEDED(hr))
        hr = dup_opt(s->acct.url, &s->base_url);
    if (HR_FAILED(hr))
        return hr;
    /* pnet_account_load fails without a url, so base_url is set; checked
     * here as well because the analyzer cannot see into that file. */
    if (!s->base_url)
        return MAPI_E_UNCONFIGURED;
    size_t n = strlen(s->base_url);
    while (n > 0 && s->base_url[n - 1] == '/')
        s->base_url[--n] = '\0';
    return S_OK;
}

static HRESULT ldap_logon(const provider_config *cfg, const provider_logon_args *args, void **state)
{
    *state = NULL;
    ldap_state *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    memcpy(s->uid, args->uid, MAPIUID_LEN);
    s->authenticates = args->password != NULL;
    HRESULT hr = load_settings(s, cfg, args->password);
    /* Authenticating needs a DN to bind as and a real password (see top). */
    if (HR_SUCCEEDED(hr) && s->authenticates && !s->acct.username)
        hr = MAPI_E_UNCONFIGURED;
    if (HR_SUCCEEDED(hr) && s->authenticates && !*args->password)
        hr = MAPI_E_LOGON_FAILED;
    /* Never send a DN without a password: the server would accept it as an
     * unauthenticated bind. (This also stops an "upstream" logon that came
     * without a password from passing as the configured user.) */
    if (HR_SUCCEEDED(hr) && s->acct.username && (!s->acct.password || !*s->acct.password))
        hr = MAPI_E_UNCONFIGURED;
    CURLcode rc = CURLE_OK;
    if (HR_SUCCEEDED(hr))
        hr = refresh(s, &rc);
    if (HR_SUCCEEDED(hr) && s->authenticates) {
        /* libcurl binds before it searches: a failed search still means the
         * bind (the password) was accepted. Anything else fails closed. */
        if (pnet_unreachable(rc))
            hr = MAPI_E_NETWORK_ERROR;
        else if (rc != CURLE_OK && rc != CURLE_LDAP_SEARCH_FAILED)
            hr = MAPI_E_LOGON_FAILED;
    }
    if (HR_FAILED(hr)) {
        ldap_free(s);
        return hr;
    }
    *state = s;
    return S_OK;
}

static void ldap_logoff(void *state) { ldap_free(state); }

static HRESULT ldap_check_password(void *state, const char *password)
{
    const ldap_state *s = state;
    if (!s->authenticates || !s->acct.password || !password)
        return MAPI_E_LOGON_FAILED;
    /* Compare fixed-size digests so the time depends on neither the length
     * nor the content of the stored password. */
    unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
    crypto_generichash(a, sizeof a, (const unsigned char *)s->acct.password,
                       strlen(s->acct.password), NULL, 0);
    crypto_generichash(b, sizeof b, (const unsigned char *)password, strlen(password), NULL, 0);
    int diff = sodium_memcmp(a, b, sizeof a);
    /* Stack copies: wiped by hand. */
    sodium_memzero(a, sizeof a);
    sodium_memzero(b, sizeof b);
    return diff == 0 ? S_OK : MAPI_E_LOGON_FAILED;
}

static void ldap_status(void *state, provider_status *out)
{
    const ldap_state *s = state;
    *out = s->st;
}

static HRESULT ldap_validate_state(void *state, uint32_t flags)
{
    (void)flags; /* every flag means the same here: search again */
    CURLcode rc;
    return refresh(state, &rc);
}

/* Cheap: one base-scope search of base_dn without attributes; the full count
 * only when the server has just come back. */
static void ldap_poll(void *state)
{
    ldap_state *s = state;
    ldap_answer a;
    if (HR_FAILED(ldap_search(s, s->base_dn, LDAP_NO_ATTRS, "base", "(objectClass=*)", &a)))
        return; /* out of memory: the next poll tries again */
    CURLcode rc;
    if (a.rc != CURLE_OK)
        note_failure(s, &a);
    else if (s->st.status_code != STATUS_AVAILABLE)
        (void)refresh(s, &rc);
    ldap_result_clear(&a.res);
}

/* ---- entries ------------------------------------------------------------ */

static const char *entry_display(const ldap_entry *e)
{
    const char *d = ldap_entry_string(e, "displayName");
    return d ? d : ldap_entry_string(e, "cn");
}

static HRESULT entry_id_of(const ldap_state *s, const char *dn, uint8_t **eid, size_t *len)
{
    size_t n = strlen(dn);
    char *key = malloc(n + 1);
    if (!key)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    key[0] = 'E';
    memcpy(key + 1, dn, n);
    HRESULT hr = entryid_build(s->uid, key, n + 1, eid, len);
    free(key);
    return hr;
}

/* The MAPI_MAILUSER properties of e. Entries without a mail address have no
 * address properties (MAPI allows a mail user that cannot receive mail). */
static HRESULT entry_object(const ldap_state *s, const ldap_entry *e, bool with_eid, mapi_object *o)
{
    o->object_type = MAPI_MAILUSER;
    const char *display = entry_display(e);
    const char *mail = ldap_entry_string(e, "mail");
    HRESULT hr = S_OK;
    if (with_eid) {
        uint8_t *eid;
        size_t len;
        hr = entry_id_of(s, e->dn, &eid, &len);
        if (HR_SUCCEEDED(hr)) {
            hr = mapi_object_add_binary(o, PR_ENTRYID, "entry_id", eid, len);
            free(eid);
        }
    }
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_DISPLAY_NAME, "display_name", display ? display : e->dn);
    if (HR_SUCCEEDED(hr) && mail) {
        uint8_t *sk = NULL;
        size_t sk_len = 0;
        hr = mapi_object_add_string(o, PR_ADDRTYPE, "address_type", "SMTP");
        if (HR_SUCCEEDED(hr))
            hr = mapi_object_add_string(o, PR_EMAIL_ADDRESS, "email_address", mail);
        if (HR_SUCCEEDED(hr))
            hr = search_key_build("SMTP", mail, &sk, &sk_len);
        if (HR_SUCCEEDED(hr))
            hr = mapi_object_add_binary(o, PR_SEARCH_KEY, "search_key", sk, sk_len);
        free(sk);
    }
    return hr;
}

typedef struct {
    const ldap_entry *e;
    const char *display;
} sorted_entry;

static int by_display(const void *a, const void *b)
{
    const sorted_entry *x = a, *y = b;
    int c = strcasecmp(x->display, y->display);
    return c ? c : strcmp(x->e->dn, y->e->dn);
}

/* The address-book filter: the configured one, narrowed by the search text
 * (escaped, so it can only ever be a value). malloc'd. */
static char *book_filter(const ldap_state *s, const char *search)
{
    if (!search || !*search)
        return strdup(s->filter);
    char *v = ldap_filter_escape(search);
    if (!v)
        return NULL;
    size_t len = strlen(s->filter) + 3 * strlen(v) + 64;
    char *f = malloc(len);
    if (f)
        snprintf(f, len, "(&%s(|(cn=*%s*)(displayName=*%s*)(mail=*%s*)))", s->filter, v, v, v);
    free(v);
    return f;
}

static HRESULT add_rows(const ldap_state *s, const ldap_result *res, size_t offset, size_t max,
                        mapi_rows *rows)
{
    sorted_entry *v = calloc(res->count ? res->count : 1, sizeof *v);
    if (!v)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    for (size_t i = 0; i < res->count; i++) {
        v[i].e = &res->entries[i];
        v[i].display = entry_display(&res->entries[i]);
        if (!v[i].display)
            v[i].display = res->entries[i].dn;
    }
    /* Directory order is arbitrary: sort so pages and clients see a stable book. */
    qsort(v, res->count, sizeof *v, by_display);
    HRESULT hr = S_OK;
    for (size_t i = offset; i < res->count && i - offset < max && HR_SUCCEEDED(hr); i++) {
        mapi_object *row;
        hr = mapi_rows_add(rows, &row);
        if (HR_SUCCEEDED(hr))
            hr = entry_object(s, v[i].e, true, row);
    }
    free(v);
    return hr;
}

/* The whole answer is read and sorted for every page (LDAP's paged-results
 * control needs one connection per reader, which a session does not keep
 * per client): pages come from one sort order, the directory's size limit
 * bounds the work. */
static HRESULT ldap_address_book(void *state, const char *search, size_t offset, size_t max,
                                 mapi_object *container, mapi_rows *entries, size_t *total)
{
    ldap_state *s = state;
    *total = 0;
    char *filter = book_filter(s, search);
    if (!filter)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    ldap_answer a;
    HRESULT hr = ldap_search(s, s->base_dn, LDAP_ENTRY_ATTRS, "sub", filter, &a);
    free(filter);
    if (HR_FAILED(hr))
        return hr;
    CURLcode rc;
    if (a.rc != CURLE_OK) {
        note_failure(s, &a);
        hr = MAPI_E_NETWORK_ERROR;
    } else if (!search || !*search) {
        pfs_set_status(&s->st, STATUS_AVAILABLE, "%zu entr%s", a.res.count,
                       a.res.count == 1 ? "y" : "ies");
    } else if (s->st.status_code != STATUS_AVAILABLE) {
        hr = refresh(s, &rc); /* back: the row's count comes from the whole book */
    }
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(container, PR_DISPLAY_NAME, "display_name", s->display_name);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_long(container, PR_CONTENT_COUNT, "content_count",
                                  a.res.count > UINT32_MAX ? UINT32_MAX : (uint32_t)a.res.count);
    if (HR_SUCCEEDED(hr)) {
        *total = a.res.count;
        hr = add_rows(s, &a.res, offset, max, entries);
    }
    ldap_result_clear(&a.res);
    return hr;
}

/* Only DNs of this book: inside base_dn, no NUL, and (checked by the
 * search) matching the configured filter. */
static HRESULT ldap_open_entry(void *state, const uint8_t *key, size_t key_len, mapi_object *out)
{
    ldap_state *s = state;
    if (key_len < 2 || key[0] != 'E' || memchr(key + 1, '\0', key_len - 1))
        return MAPI_E_NOT_FOUND;
    const char *dnp = (const char *)key + 1;
    size_t dnlen = key_len - 1;
    if (!ldap_utf8_valid(dnp, dnlen) || !ldap_dn_within(dnp, dnlen, s->base_dn))
        return MAPI_E_NOT_FOUND;
    char *dn = strndup(dnp, dnlen);
    if (!dn)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    ldap_answer a;
    HRESULT hr = ldap_search(s, dn, LDAP_ENTRY_ATTRS, "base", s->filter, &a);
    free(dn);
    if (HR_FAILED(hr))
        return hr;
    if (a.rc == CURLE_LDAP_SEARCH_FAILED) {
        hr = MAPI_E_NOT_FOUND; /* noSuchObject, or not a valid DN at all */
    } else if (a.rc != CURLE_OK) {
        note_failure(s, &a);
        hr = MAPI_E_NETWORK_ERROR;
    } else if (a.res.count != 1) {
        hr = MAPI_E_NOT_FOUND; /* exists, but not an entry of this book */
    } else {
        hr = entry_object(s, &a.res.entries[0], false, out);
    }
    ldap_result_clear(&a.res);
    return hr;
}

static bool ldap_same_entry(void *state, const uint8_t *a, size_t alen, const uint8_t *b,
                            size_t blen)
{
    (void)state;
    if (alen > 0 && blen > 0 && a[0] == 'E' && b[0] == 'E')
        return ldap_dn_equal((const char *)a + 1, alen - 1, (const char *)b + 1, blen - 1);
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* ---- identity ----------------------------------------------------------- */

static HRESULT ldap_identity(void *state, const provider_config *cfg, provider_identity *out)
{
    (void)cfg;
    ldap_state *s = state;
    memset(out, 0, sizeof *out);
    ldap_answer a;
    HRESULT hr;
    if (s->identity_filter)
        hr = ldap_search(s, s->base_dn, LDAP_ENTRY_ATTRS, "sub", s->identity_filter, &a);
    else if (s->authenticates)
        hr = ldap_search(s, s->acct.username, LDAP_ENTRY_ATTRS, "base", "(objectClass=*)", &a);
    else
        return MAPI_E_NOT_FOUND;
    if (HR_FAILED(hr))
        return hr;
    /* Exactly one entry: an ambiguous filter must not pick somebody. */
    const ldap_entry *e = a.rc == CURLE_OK && a.res.count == 1 ? &a.res.entries[0] : NULL;
    const char *display = e ? entry_display(e) : NULL;
    const char *mail = e ? ldap_entry_string(e, "mail") : NULL;
    if (!display || !mail) {
        ldap_result_clear(&a.res);
        return MAPI_E_NOT_FOUND;
    }
    out->display = strdup(display);
    out->addrtype = strdup("SMTP");
    out->address = strdup(mail);
    hr = out->display && out->addrtype && out->address ? S_OK : MAPI_E_NOT_ENOUGH_MEMORY;
    if (HR_SUCCEEDED(hr))
        hr = entry_id_of(s, e->dn, &out->entry_id, &out->entry_id_len);
    ldap_result_clear(&a.res);
    if (HR_FAILED(hr)) {
        free(out->display);
        free(out->addrtype);
        free(out->address);
        memset(out, 0, sizeof *out);
    }
    return hr;
}

/* ---- configuration ------------------------------------------------------ */

static bool is_filter(const char *f) { return f[0] == '(' && f[strlen(f) - 1] == ')'; }

static HRESULT ldap_check_config(const provider_config *cfg, char *err, size_t errlen)
{
    const char *url = provider_config_setting(cfg, "url");
    if (url && *url) {
        bool ldaps = strncmp(url, "ldaps://", 8) == 0;
        const char *host = url + (ldaps ? 8 : 7);
        if (!ldaps && strncmp(url, "ldap://", 7) != 0) {
            snprintf(err, errlen, "settings.url: must start with ldap:// or ldaps://");
            return MAPI_E_INVALID_PARAMETER;
        }
        /* The base DN, attributes and filter come from their own settings,
         * and credentials never travel in a URL (it may be logged). */
        size_t h = strcspn(host, "/?#@");
        if (host[h] == '?' || host[h] == '#' || host[h] == '@' ||
            (host[h] == '/' && host[h + strspn(host + h, "/")] != '\0')) {
            snprintf(err, errlen,
                     "settings.url: only ldap[s]://host[:port] (base_dn and credentials are "
                     "separate settings)");
            return MAPI_E_INVALID_PARAMETER;
        }
    }
    static const char *const FILTERS[] = {"filter", "identity_filter"};
    for (size_t i = 0; i < 2; i++) {
        const char *f = provider_config_setting(cfg, FILTERS[i]);
        if (f && *f && !is_filter(f)) {
            snprintf(err, errlen, "settings.%s: an LDAP filter in parentheses, like \"(uid=x)\"",
                     FILTERS[i]);
            return MAPI_E_INVALID_PARAMETER;
        }
    }
    const char *t = provider_config_setting(cfg, "timeout_ms");
    if (t) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v <= 0) {
            snprintf(err, errlen, "settings.timeout_ms: a positive number of milliseconds");
            return MAPI_E_INVALID_PARAMETER;
        }
    }
    return S_OK;
}

static const char *const REQUIRED_SETTINGS[] = {"url", "base_dn", NULL};

const provider_ops PROVIDER_LDAP = {
    .kind = "ldap",
    .resource_type = MAPI_AB_PROVIDER,
    .dll_name = "mgwldap",
    .provider_display = "mapigw",
    .resource_methods = STATUS_VALIDATE_STATE,
    .required_settings = REQUIRED_SETTINGS,
    .check_config = ldap_check_config,
    .logon = ldap_logon,
    .logoff = ldap_logoff,
    .check_password = ldap_check_password,
    .status = ldap_status,
    .validate_state = ldap_validate_state,
    .poll = ldap_poll,
    .identity = ldap_identity,
    .address_book = ldap_address_book,
    .open_entry = ldap_open_entry,
    .same_entry = ldap_same_entry,
};
