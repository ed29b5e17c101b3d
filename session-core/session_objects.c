/* session_objects.c - what a session reaches through its providers:
 * GetMsgStoresTable, OpenMsgStore, OpenAddressBook, OpenEntry and
 * CompareEntryIDs. Entry ids are routed by their MAPIUID (entryid.h). */
#include "session_internal.h"

#include "identity.h"
#include "mapi_flags.h"

#include <stdlib.h>
#include <string.h>

/* Called with the session lock held; *index gets the provider's place in
 * the view. */
static provider_inst *provider_by_uid(session *s, const uint8_t *uid, size_t *index)
{
    const session_view *v = session_view_of(s);
    for (size_t i = 0; i < v->provider_count; i++)
        if (memcmp(v->providers[i]->uid, uid, MAPIUID_LEN) == 0) {
            *index = i;
            return v->providers[i];
        }
    return NULL;
}

/* Locks s unless it ended. */
static HRESULT lock_live(session *s)
{
    session_lock(s);
    if (!atomic_load(&s->ended))
        return S_OK;
    session_unlock(s);
    return MAPI_E_END_OF_SESSION;
}

static HRESULT add_entry_id(mapi_object *o, const uint8_t *uid, const void *key, size_t key_len)
{
    if (mapi_object_find(o, PR_ENTRYID))
        return S_OK;
    uint8_t *eid;
    size_t len;
    HRESULT hr = entryid_build(uid, key, key_len, &eid, &len);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_binary(o, PR_ENTRYID, "entry_id", eid, len);
    free(eid);
    return hr;
}

/* The gateway's columns of the store behind provider k of the view; the
 * provider's own (from ops->store) win where both have one. */
static HRESULT store_row(const session *s, size_t k, mapi_object *o)
{
    const session_view *v = session_view_of(s);
    const provider_inst *sp = v->providers[k];
    const status_row *row = &v->rows[v->provider_row[k]];
    uint8_t ik[STATUS_INSTANCE_KEY_LEN];
    session_row_key(s, v->provider_row[k], ik);
    o->object_type = MAPI_STORE;
    uint32_t flags = provider_config_resource_flags(sp->cfg);
    HRESULT hr = add_entry_id(o, sp->uid, NULL, 0);
    if (HR_SUCCEEDED(hr) && !mapi_object_find(o, PR_DISPLAY_NAME))
        hr = mapi_object_add_string(o, PR_DISPLAY_NAME, "display_name",
                                    provider_config_display_name(sp->cfg));
    if (HR_SUCCEEDED(hr) && !mapi_object_find(o, PR_DEFAULT_STORE))
        hr = mapi_object_add_bool(o, PR_DEFAULT_STORE, "default_store",
                                  (flags & STATUS_DEFAULT_STORE) != 0);
    if (HR_SUCCEEDED(hr) && !mapi_object_find(o, PR_RESOURCE_FLAGS))
        hr = mapi_object_add_long(o, PR_RESOURCE_FLAGS, "resource_flags", flags);
    if (HR_SUCCEEDED(hr) && !mapi_object_find(o, PR_MDB_PROVIDER))
        hr = mapi_object_add_binary(o, PR_MDB_PROVIDER, "mdb_provider", sp->uid, MAPIUID_LEN);
    if (HR_SUCCEEDED(hr) && !mapi_object_find(o, PR_PROVIDER_DISPLAY))
        hr = mapi_object_add_string(o, PR_PROVIDER_DISPLAY, "provider_display",
                                    sp->ops->provider_display);
    if (HR_SUCCEEDED(hr) && !mapi_object_find(o, PR_STATUS_CODE))
        hr = mapi_object_add_long(o, PR_STATUS_CODE, "status_code", row->status_code);
    if (HR_SUCCEEDED(hr) && !mapi_object_find(o, PR_INSTANCE_KEY))
        hr =
            mapi_object_add_binary(o, PR_INSTANCE_KEY, "instance_key", ik, STATUS_INSTANCE_KEY_LEN);
    return hr;
}

HRESULT session_stores_table(session *s, mapi_rows *out)
{
    memset(out, 0, sizeof *out);
    HRESULT hr = lock_live(s);
    if (HR_FAILED(hr))
        return hr;
    const session_view *v = session_view_of(s);
    for (size_t i = 0; i < v->provider_count && HR_SUCCEEDED(hr); i++) {
        if (v->providers[i]->ops->resource_type != MAPI_STORE_PROVIDER)
            continue;
        mapi_object *row;
        hr = mapi_rows_add(out, &row);
        if (HR_SUCCEEDED(hr))
            hr = store_row(s, i, row);
    }
    session_unlock(s);
    if (HR_FAILED(hr))
        mapi_rows_clear(out);
    return hr;
}

/* The provider owning eid (with the session lock held), or the error for a
 * caller. */
static HRESULT route(session *s, const uint8_t *eid, size_t len, provider_inst **sp, size_t *k,
                     const uint8_t **key, size_t *key_len)
{
    const uint8_t *uid;
    if (!entryid_split(eid, len, &uid, key, key_len))
        return MAPI_E_INVALID_ENTRYID;
    *sp = provider_by_uid(s, uid, k);
    return *sp ? S_OK : MAPI_E_UNKNOWN_ENTRYID;
}

HRESULT session_open_store(session *s, const uint8_t *eid, size_t len, mapi_object *store,
                           mapi_rows *folders)
{
    memset(store, 0, sizeof *store);
    memset(folders, 0, sizeof *folders);
    HRESULT hr = lock_live(s);
    if (HR_FAILED(hr))
        return hr;
    provider_inst *sp;
    const uint8_t *key;
    size_t key_len, k;
    hr = route(s, eid, len, &sp, &k, &key, &key_len);
    if (HR_SUCCEEDED(hr) && (sp->ops->resource_type != MAPI_STORE_PROVIDER || key_len != 0))
        hr = MAPI_E_UNKNOWN_ENTRYID; /* an entry id, but not of a store */
    else if (HR_SUCCEEDED(hr) && !sp->ops->store)
        hr = MAPI_E_NO_SUPPORT;
    if (HR_SUCCEEDED(hr)) {
        pinst_lock(sp);
        hr = sp->ops->store(sp->state, store, folders);
        pinst_unlock(sp);
        HRESULT rh = session_refresh_rows(s); /* reading may have found the store gone */
        if (HR_SUCCEEDED(hr))
            hr = HR_FAILED(rh) ? rh : store_row(s, k, store);
    }
    session_unlock(s);
    if (HR_FAILED(hr)) {
        mapi_object_clear(store);
        mapi_rows_clear(folders);
    }
    return hr;
}

HRESULT session_folder_contents(session *s, const uint8_t *eid, size_t len, size_t offset,
                                size_t max, mapi_rows *out, size_t *total)
{
    memset(out, 0, sizeof *out);
    *total = PROVIDER_TOTAL_UNKNOWN;
    HRESULT hr = lock_live(s);
    if (HR_FAILED(hr))
        return hr;
    provider_inst *sp;
    const uint8_t *key;
    size_t key_len, k;
    hr = route(s, eid, len, &sp, &k, &key, &key_len);
    if (HR_SUCCEEDED(hr) &&
        (sp->ops->resource_type != MAPI_STORE_PROVIDER || key_len < 2 || key[0] != 'F'))
        hr = MAPI_E_UNKNOWN_ENTRYID; /* not a folder */
    else if (HR_SUCCEEDED(hr) && !sp->ops->contents)
        hr = MAPI_E_NO_SUPPORT;
    if (HR_SUCCEEDED(hr)) {
        pinst_lock(sp);
        hr = sp->ops->contents(sp->state, key, key_len, offset, max, out, total);
        pinst_unlock(sp);
        if (hr == MAPI_E_NOT_FOUND)
            hr = MAPI_E_UNKNOWN_ENTRYID;
        HRESULT rh = session_refresh_rows(s);
        if (HR_SUCCEEDED(hr) && HR_FAILED(rh))
            hr = rh;
    }
    session_unlock(s);
    if (HR_FAILED(hr))
        mapi_rows_clear(out);
    return hr;
}

static HRESULT move_into(mapi_rows *rows, mapi_object *o)
{
    mapi_object *slot;
    HRESULT hr = mapi_rows_add(rows, &slot);
    if (HR_FAILED(hr))
        return hr;
    *slot = *o;
    memset(o, 0, sizeof *o);
    return S_OK;
}

HRESULT session_address_book(session *s, const char *search, size_t offset, size_t max,
                             mapi_rows *containers, mapi_rows *entries, size_t *total)
{
    memset(containers, 0, sizeof *containers);
    memset(entries, 0, sizeof *entries);
    *total = 0;
    HRESULT hr = lock_live(s);
    if (HR_FAILED(hr))
        return hr;
    bool errors = session_view_of(s)->ab_failures > 0;
    /* The book is the providers' lists one after another: each is asked for
     * its part of the page, places counted by the totals before it. */
    for (size_t i = 0; i < session_view_of(s)->provider_count && HR_SUCCEEDED(hr); i++) {
        provider_inst *sp = session_view_of(s)->providers[i];
        if (sp->ops->resource_type != MAPI_AB_PROVIDER || !sp->ops->address_book)
            continue;
        mapi_object container = {0};
        size_t room = max > entries->count ? max - entries->count : 0;
        size_t local = offset > *total ? offset - *total : 0, part = 0;
        pinst_lock(sp);
        HRESULT ph =
            sp->ops->address_book(sp->state, search, local, room, &container, entries, &part);
        pinst_unlock(sp);
        if (ph == MAPI_E_NOT_ENOUGH_MEMORY) {
            hr = ph;
        } else if (HR_FAILED(ph)) {
            errors = true; /* MAPI still returns the book, with a warning */
        } else {
            *total += part;
            container.object_type = MAPI_ABCONT;
            hr = add_entry_id(&container, sp->uid, NULL, 0);
            if (HR_SUCCEEDED(hr))
                hr = move_into(containers, &container);
        }
        mapi_object_clear(&container);
    }
    if (HR_SUCCEEDED(hr))
        hr = session_refresh_rows(s); /* what the providers just found */
    const session_view *v = session_view_of(s);
    for (size_t i = 0; i < v->provider_count && HR_SUCCEEDED(hr); i++) {
        if (v->providers[i]->ops->resource_type == MAPI_AB_PROVIDER &&
            (v->rows[v->provider_row[i]].status_code & (STATUS_FAILURE | STATUS_OFFLINE)))
            errors = true;
    }
    session_unlock(s);
    if (HR_FAILED(hr)) {
        mapi_rows_clear(containers);
        mapi_rows_clear(entries);
        return hr;
    }
    return errors ? MAPI_W_ERRORS_RETURNED : S_OK;
}

/* ---- OpenEntry ---------------------------------------------------------- */

static HRESULT status_object(session *s, const uint8_t *key, size_t key_len, mapi_object *out)
{
    if (key_len != STATUS_INSTANCE_KEY_LEN)
        return MAPI_E_UNKNOWN_ENTRYID;
    size_t i = session_row_index(s, key);
    if (i != SIZE_MAX) {
        const status_row *row = &session_view_of(s)->rows[i];
        uint8_t eid[STATUS_ENTRY_ID_LEN];
        memcpy(eid, row->entry_id, STATUS_ENTRY_ID_LEN);
        memcpy(eid + 4 + MAPIUID_LEN, key, STATUS_INSTANCE_KEY_LEN);
        out->object_type = MAPI_STATUS;
        HRESULT hr = mapi_object_add_binary(out, PR_ENTRYID, "entry_id", eid, STATUS_ENTRY_ID_LEN);
        if (HR_SUCCEEDED(hr))
            hr = mapi_object_add_binary(out, PR_INSTANCE_KEY, "instance_key", key,
                                        STATUS_INSTANCE_KEY_LEN);
        if (HR_SUCCEEDED(hr))
            hr = mapi_object_add_string(out, PR_DISPLAY_NAME, "display_name", row->display_name);
        if (HR_SUCCEEDED(hr))
            hr = mapi_object_add_string(out, PR_PROVIDER_DISPLAY, "provider_display",
                                        row->provider_display);
        if (HR_SUCCEEDED(hr))
            hr = mapi_object_add_long(out, PR_STATUS_CODE, "status_code", row->status_code);
        if (HR_SUCCEEDED(hr))
            hr = mapi_object_add_string(out, PR_STATUS_STRING, "status_string", row->status_string);
        return hr;
    }
    return MAPI_E_UNKNOWN_ENTRYID;
}

/* UTF-16LE, NUL-terminated, at *p (advanced past it) -> malloc'd UTF-8. */
static char *utf16_take(const uint8_t **p, const uint8_t *end)
{
    size_t cap = 16, n = 0;
    char *out = malloc(cap);
    while (out && *p + 2 <= end) {
        uint32_t c = (uint32_t)(*p)[0] | (uint32_t)(*p)[1] << 8;
        *p += 2;
        if (c == 0) {
            out[n] = '\0';
            return out;
        }
        if (c >= 0xD800 && c <= 0xDBFF && *p + 2 <= end) {
            uint32_t lo = (uint32_t)(*p)[0] | (uint32_t)(*p)[1] << 8;
            if (lo < 0xDC00 || lo > 0xDFFF)
                break;
            *p += 2;
            c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            break;
        }
        if (n + 5 > cap) {
            char *bigger = realloc(out, cap *= 2);
            if (!bigger)
                break;
            out = bigger;
        }
        if (c < 0x80) {
            out[n++] = (char)c;
        } else if (c < 0x800) {
            out[n++] = (char)(0xC0 | c >> 6);
            out[n++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out[n++] = (char)(0xE0 | c >> 12);
            out[n++] = (char)(0x80 | (c >> 6 & 0x3F));
            out[n++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[n++] = (char)(0xF0 | c >> 18);
            out[n++] = (char)(0x80 | (c >> 12 & 0x3F));
            out[n++] = (char)(0x80 | (c >> 6 & 0x3F));
            out[n++] = (char)(0x80 | (c & 0x3F));
        }
    }
    free(out);
    return NULL;
}

/* A one-off entry id (identity.h layout) opened as the mail user it names. */
static HRESULT one_off_object(const uint8_t *eid, size_t len, mapi_object *out)
{
    const uint8_t *p = eid + ENTRYID_HEADER_LEN + 4, *end = eid + len;
    if (p > end || !(eid[ENTRYID_HEADER_LEN + 3] & (MAPI_ONE_OFF_UNICODE >> 8)))
        return MAPI_E_INVALID_ENTRYID; /* only the Unicode form is produced here */
    char *display = utf16_take(&p, end);
    char *type = display ? utf16_take(&p, end) : NULL;
    char *address = type ? utf16_take(&p, end) : NULL;
    HRESULT hr = address ? S_OK : MAPI_E_INVALID_ENTRYID;
    out->object_type = MAPI_MAILUSER;
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_binary(out, PR_ENTRYID, "entry_id", eid, len);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(out, PR_DISPLAY_NAME, "display_name", display);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(out, PR_ADDRTYPE, "address_type", type);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(out, PR_EMAIL_ADDRESS, "email_address", address);
    uint8_t *sk = NULL;
    size_t sk_len = 0;
    if (HR_SUCCEEDED(hr))
        hr = search_key_build(type, address, &sk, &sk_len);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_binary(out, PR_SEARCH_KEY, "search_key", sk, sk_len);
    free(sk);
    free(display);
    free(type);
    free(address);
    return hr;
}

HRESULT session_open_entry(session *s, const uint8_t *eid, size_t len, mapi_object *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *uid, *key;
    size_t key_len;
    if (!entryid_split(eid, len, &uid, &key, &key_len))
        return MAPI_E_INVALID_ENTRYID;
    HRESULT hr = lock_live(s);
    if (HR_FAILED(hr))
        return hr;
    size_t k = 0;
    provider_inst *sp = provider_by_uid(s, uid, &k);
    if (memcmp(uid, SESSION_STATUS_UID, MAPIUID_LEN) == 0) {
        hr = status_object(s, key, key_len, out);
    } else if (memcmp(uid, MAPI_ONE_OFF_UID, MAPIUID_LEN) == 0) {
        hr = one_off_object(eid, len, out);
    } else if (!sp) {
        hr = MAPI_E_UNKNOWN_ENTRYID;
    } else if (key_len == 0 && sp->ops->resource_type == MAPI_STORE_PROVIDER) {
        hr = store_row(s, k, out);
    } else if (!sp->ops->open_entry) {
        hr = MAPI_E_UNKNOWN_ENTRYID;
    } else {
        pinst_lock(sp);
        hr = sp->ops->open_entry(sp->state, key, key_len, out);
        pinst_unlock(sp);
        if (hr == MAPI_E_NOT_FOUND)
            hr = MAPI_E_UNKNOWN_ENTRYID;
        if (HR_SUCCEEDED(hr))
            hr = add_entry_id(out, sp->uid, key, key_len);
    }
    session_unlock(s);
    if (HR_FAILED(hr))
        mapi_object_clear(out);
    return hr;
}

HRESULT session_compare_entry_ids(session *s, const uint8_t *a, size_t alen, const uint8_t *b,
                                  size_t blen, bool *equal)
{
    *equal = false;
    const uint8_t *ua, *ka, *ub, *kb;
    size_t kal, kbl;
    if (!entryid_split(a, alen, &ua, &ka, &kal) || !entryid_split(b, blen, &ub, &kb, &kbl))
        return MAPI_E_INVALID_ENTRYID;
    HRESULT hr = lock_live(s);
    if (HR_FAILED(hr))
        return hr;
    size_t ka_index;
    provider_inst *pa = provider_by_uid(s, ua, &ka_index);
    bool known_a = pa || !memcmp(ua, SESSION_STATUS_UID, MAPIUID_LEN) ||
                   !memcmp(ua, MAPI_ONE_OFF_UID, MAPIUID_LEN);
    if (!known_a) {
        hr = MAPI_E_UNKNOWN_ENTRYID;
    } else if (memcmp(ua, ub, MAPIUID_LEN) != 0) {
        *equal = false; /* different owners never hold the same object */
    } else if (pa && pa->ops->same_entry) {
        pinst_lock(pa);
        *equal = pa->ops->same_entry(pa->state, ka, kal, kb, kbl);
        pinst_unlock(pa);
    } else {
        *equal = alen == blen && memcmp(a, b, alen) == 0;
    }
    session_unlock(s);
    return hr;
}
