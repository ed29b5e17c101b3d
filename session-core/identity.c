#include "identity.h"

#include "mapi_flags.h"

#include <stdlib.h>
#include <string.h>

const uint8_t MAPI_ONE_OFF_UID[16] = {0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19,
                                      0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02};

/* 4 flag bytes + MAPIUID + version (2) + flags (2). */
#define ONE_OFF_HEADER_LEN 24

/* The placeholder QueryIdentity hands out when no provider supplies an
 * identity (docs/contract/http.md 5). */
#define PLACEHOLDER_DISPLAY "Unknown user"
#define PLACEHOLDER_ADDRTYPE "NONE"
#define PLACEHOLDER_ADDRESS ""

/* Decodes one code point from s (NUL-terminated), strictly: no overlong
 * forms, no surrogates, nothing above U+10FFFF, no truncated sequences.
 * Returns the number of bytes consumed, 0 for invalid input. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        /* A NUL here is a truncated sequence and fails this test too. */
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* UTF-16 code units needed for s, terminating NUL included; 0 when s is not
 * valid UTF-8. */
static size_t utf16_units(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t units = 1;
    while (*p) {
        uint32_t cp;
        size_t n = utf8_decode(p, &cp);
        if (n == 0)
            return 0;
        units += cp > 0xFFFF ? 2 : 1;
        p += n;
    }
    return units;
}

static uint8_t *put_u16le(uint8_t *out, uint32_t unit)
{
    out[0] = (uint8_t)(unit & 0xFF);
    out[1] = (uint8_t)(unit >> 8 & 0xFF);
    return out + 2;
}

/* Writes s (already validated) as NUL-terminated UTF-16LE. */
static uint8_t *put_utf16le(uint8_t *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = 0;
        p += utf8_decode(p, &cp);
        if (cp > 0xFFFF) {
            cp -= 0x10000;
            out = put_u16le(out, 0xD800 | (cp >> 10));
            out = put_u16le(out, 0xDC00 | (cp & 0x3FF));
        } else {
            out = put_u16le(out, cp);
        }
    }
    return put_u16le(out, 0);
}

HRESULT entryid_one_off(const char *display, const char *addrtype, const char *address,
                        uint8_t **out, size_t *out_len)
{
    /* A missing string is an empty one: MAPI's one-off always has all three. */
    const char *strs[3] = {display ? display : "", addrtype ? addrtype : "",
                           address ? address : ""};
    size_t len = ONE_OFF_HEADER_LEN;
    *out = NULL;
    *out_len = 0;
    for (size_t i = 0; i < 3; i++) {
        size_t units = utf16_units(strs[i]);
        if (units == 0)
            return MAPI_E_INVALID_PARAMETER;
        /* Each unit came from at least one input byte, so this cannot wrap
         * before malloc would fail anyway. */
        len += 2 * units;
    }
    uint8_t *buf = malloc(len);
    if (!buf)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    memset(buf, 0, 4);
    memcpy(buf + 4, MAPI_ONE_OFF_UID, sizeof MAPI_ONE_OFF_UID);
    uint8_t *p = put_u16le(buf + 20, 0); /* version */
    p = put_u16le(p, MAPI_ONE_OFF_UNICODE);
    for (size_t i = 0; i < 3; i++)
        p = put_utf16le(p, strs[i]);
    *out = buf;
    *out_len = len;
    return S_OK;
}

void identity_clear(identity *id)
{
    if (!id)
        return;
    free(id->entry_id);
    free(id->display);
    free(id->search_key);
    free(id->source_display_name);
    memset(id, 0, sizeof *id);
}

static HRESULT copy_bytes(uint8_t **dst, size_t *dst_len, const uint8_t *src, size_t len)
{
    *dst = malloc(len ? len : 1);
    if (!*dst)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    if (len)
        memcpy(*dst, src, len);
    *dst_len = len;
    return S_OK;
}

static HRESULT copy_str(char **dst, const char *src)
{
    *dst = strdup(src ? src : "");
    return *dst ? S_OK : MAPI_E_NOT_ENOUGH_MEMORY;
}

/* Fills out from the row that supplies the identity. */
static HRESULT identity_from_row(const status_row *r, identity *out)
{
    HRESULT hr;
    /* Steps 1 and 2 of QueryIdentity: the row's own entry id, or a one-off
     * built from what the row publishes. */
    if (r->identity_entry_id && r->identity_entry_id_len > 0)
        hr = copy_bytes(&out->entry_id, &out->entry_id_len, r->identity_entry_id,
                        r->identity_entry_id_len);
    else
        hr = entryid_one_off(r->identity_display, r->identity_addrtype, r->identity_address,
                             &out->entry_id, &out->entry_id_len);
    if (hr == MAPI_E_INVALID_PARAMETER)
        /* Row strings come from the validated profiles file (jansson only
         * yields valid UTF-8), so bad UTF-8 here is a bug, not a bad request. */
        hr = MAPI_E_CALL_FAILED;
    if (HR_FAILED(hr))
        return hr;
    if (HR_FAILED(hr = copy_str(&out->display, r->identity_display)))
        return hr;
    if (r->identity_search_key && r->identity_search_key_len > 0)
        hr = copy_bytes(&out->search_key, &out->search_key_len, r->identity_search_key,
                        r->identity_search_key_len);
    else
        hr = search_key_build(r->identity_addrtype, r->identity_address, &out->search_key,
                              &out->search_key_len);
    if (HR_FAILED(hr))
        return hr;
    if (HR_FAILED(hr = copy_str(&out->source_display_name, r->display_name)))
        return hr;
    memcpy(out->source_instance_key, r->instance_key, STATUS_INSTANCE_KEY_LEN);
    out->has_source = true;
    out->hr = S_OK;
    return S_OK;
}

static HRESULT identity_placeholder(identity *out)
{
    HRESULT hr = entryid_one_off(PLACEHOLDER_DISPLAY, PLACEHOLDER_ADDRTYPE, PLACEHOLDER_ADDRESS,
                                 &out->entry_id, &out->entry_id_len);
    if (HR_FAILED(hr))
        return hr;
    if (HR_FAILED(hr = copy_str(&out->display, PLACEHOLDER_DISPLAY)))
        return hr;
    hr = search_key_build(PLACEHOLDER_ADDRTYPE, PLACEHOLDER_ADDRESS, &out->search_key,
                          &out->search_key_len);
    if (HR_FAILED(hr))
        return hr;
    out->has_source = false;
    /* A warning, not an error: the client shows a generic user (docs/contract/mapi.md 5). */
    out->hr = MAPI_W_NO_SERVICE;
    return MAPI_W_NO_SERVICE;
}

/* Rows whose identity columns were copied from their service's supplier
 * (identity_share_service) repeat it; they never supply it themselves. */
static bool supplies(const status_row *r) { return r->has_identity && !r->identity_shared; }

size_t identity_source(const status_row *rows, size_t count)
{
    /* The designated supplier first; a flagged row without identity columns
     * supplies nothing, so it does not win. */
    for (size_t i = 0; i < count; i++)
        if ((rows[i].resource_flags & STATUS_PRIMARY_IDENTITY) && supplies(&rows[i]))
            return i;
    /* No row flagged: the first identity entry id found, in table order
     * (docs/contract/mapi.md 5, step 3). A row with a name and address but no entry
     * id does not count here, even when it comes first. */
    for (size_t i = 0; i < count; i++)
        if (supplies(&rows[i]) && rows[i].identity_entry_id && rows[i].identity_entry_id_len > 0)
            return i;
    /* Nobody publishes an entry id: a one-off entry id from the first row that
     * publishes the rest, before falling back to the placeholder. */
    for (size_t i = 0; i < count; i++)
        if (supplies(&rows[i]))
            return i;
    return SIZE_MAX;
}

HRESULT identity_query(const status_table *table, identity *out)
{
    memset(out, 0, sizeof *out);
    size_t i = table ? identity_source(table->rows, table->count) : SIZE_MAX;
    HRESULT hr =
        i != SIZE_MAX ? identity_from_row(&table->rows[i], out) : identity_placeholder(out);
    if (HR_FAILED(hr))
        identity_clear(out);
    return hr;
}

HRESULT identity_share_service(status_row *rows, size_t count, const size_t *service)
{
    size_t src = identity_source(rows, count);
    if (src == SIZE_MAX || service[src] == SIZE_MAX)
        return S_OK;
    for (size_t i = 0; i < count; i++) {
        if (i == src || service[i] != service[src])
            continue;
        if (status_row_copy_identity(&rows[i], &rows[src]) != 0)
            return MAPI_E_NOT_ENOUGH_MEMORY;
        rows[i].identity_shared = true;
    }
    return S_OK;
}
