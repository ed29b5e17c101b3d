/* imap_objects.c - the objects of the "imap" store provider: the store and
 * its folder hierarchy, folders ('F' name) and their contents tables, and
 * messages ('M' folder NUL uid) by entry key (entryid.h). Reads never change
 * the mailbox: FETCH asks for FLAGS, ENVELOPE and BODY.PEEK[HEADER.FIELDS],
 * never BODY[], which would set \Seen. Messages are fetched with the whole
 * conversation captured (imap_run_raw), so subjects and senders the server
 * sends as literals are read too, and the header fields are RFC 2047
 * decoded. */
#include "imap_client.h"

#include "../mapi_flags.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- objects ---- */

static HRESULT add_folder_id(const imap_state *s, mapi_object *o, uint32_t tag, const char *name,
                             const char *folder, size_t len)
{
    uint8_t *key = malloc(len + 1);
    if (!key)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    key[0] = 'F';
    memcpy(key + 1, folder, len);
    uint8_t *eid;
    size_t elen;
    HRESULT hr = entryid_build(s->uid, key, len + 1, &eid, &elen);
    free(key);
    if (HR_SUCCEEDED(hr)) {
        hr = mapi_object_add_binary(o, tag, name, eid, elen);
        free(eid);
    }
    return hr;
}

static HRESULT folder_object(const imap_state *s, const imap_folder *f, mapi_object *o)
{
    o->object_type = MAPI_FOLDER;
    const char *name = f->e.name;
    /* The display name is the last level; the parent entry id keeps the
     * hierarchy of this flat table. */
    const char *leaf = f->e.delim ? strrchr(name, f->e.delim) : NULL;
    const char *shown = leaf && leaf[1] ? leaf + 1 : name;
    /* Shown decoded from modified UTF-7; a name that is not valid mUTF-7
     * (a server sending raw UTF-8, say) is shown as sent. Encoders end a
     * base64 run before any printable ASCII, so a leaf decodes on its own
     * (with a delimiter from the base64 set it fails, and shows as sent). */
    char *display = NULL;
    HRESULT dhr = imap_mutf7_decode(shown, &display);
    if (dhr == MAPI_E_INVALID_PARAMETER)
        display = strdup(shown);
    if (!display)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    imap_utf8_sanitize(display);
    HRESULT hr = add_folder_id(s, o, PR_ENTRYID, "entry_id", name, strlen(name));
    if (HR_SUCCEEDED(hr) && leaf && leaf[1] && leaf > name)
        hr = add_folder_id(s, o, PR_PARENT_ENTRYID, "parent_entry_id", name, (size_t)(leaf - name));
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_DISPLAY_NAME, "display_name", display);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_long(o, PR_CONTENT_COUNT, "content_count", f->messages);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_long(o, PR_CONTENT_UNREAD, "content_unread", f->unseen);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_bool(o, PR_SUBFOLDERS, "subfolders", f->subfolders);
    free(display);
    return hr;
}

/* Refused credentials are not tried again on every read: that would lock
 * the account on many servers, and they slow refused addresses down anyway.
 * validate-state is the way to try again (the row says so). */
static bool refused(const imap_state *s) { return s->refused; }

HRESULT imap_store(void *state, mapi_object *store, mapi_rows *folders)
{
    imap_state *s = state;
    if (refused(s))
        return MAPI_E_NETWORK_ERROR;
    imap_folder *f;
    size_t n;
    CURLcode rc = imap_sync_all(s, &f, &n);
    if (rc != CURLE_OK)
        return imap_read_error(rc);
    /* The core adds the rest of the store row (default store, status, ...). */
    store->object_type = MAPI_STORE;
    uint8_t *eid;
    size_t elen;
    HRESULT hr = entryid_build(s->uid, NULL, 0, &eid, &elen);
    if (HR_SUCCEEDED(hr)) {
        hr = mapi_object_add_binary(store, PR_ENTRYID, "entry_id", eid, elen);
        free(eid);
    }
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(store, PR_DISPLAY_NAME, "display_name", s->display_name);
    for (size_t i = 0; i < n && HR_SUCCEEDED(hr); i++) {
        mapi_object *row;
        hr = mapi_rows_add(folders, &row);
        if (HR_SUCCEEDED(hr))
            hr = folder_object(s, &f[i], row);
    }
    imap_folders_free(f, n);
    return hr;
}

/* One folder by exact name (LIST "" "name" may match more when the name
 * holds wildcards): S_OK, MAPI_E_NOT_FOUND, or a read error. */
static HRESULT find_folder(imap_state *s, const char *name, imap_folder *out)
{
    char *cmd = imap_command_for("LIST \"\" ", name, "");
    if (!cmd)
        return MAPI_E_NOT_FOUND; /* no such name can exist on the server */
    imap_folder *f;
    size_t n;
    CURLcode rc = imap_list_folders(s, cmd, &f, &n);
    free(cmd);
    if (rc != CURLE_OK)
        return imap_read_error(rc);
    HRESULT hr = MAPI_E_NOT_FOUND;
    for (size_t i = 0; i < n; i++) {
        if (hr == MAPI_E_NOT_FOUND && strcmp(f[i].e.name, name) == 0) {
            *out = f[i];
            out->subfolders = (f[i].e.flags & IMAP_LIST_HASCHILDREN) != 0;
            f[i].e.name = NULL; /* moved */
            hr = S_OK;
        }
    }
    imap_folders_free(f, n);
    return hr;
}

/* Folder names in keys: non-empty, no NUL, bounded. INBOX in any case is
 * INBOX. Returns a malloc'd name, NULL (with *hr) when not acceptable. */
static char *key_name(const uint8_t *p, size_t len, HRESULT *hr)
{
    *hr = MAPI_E_NOT_FOUND;
    if (len == 0 || len > IMAP_NAME_MAX || memchr(p, '\0', len))
        return NULL;
    char *name = malloc(len + 1);
    if (!name) {
        *hr = MAPI_E_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    memcpy(name, p, len);
    name[len] = '\0';
    if (strcasecmp(name, "INBOX") == 0)
        memcpy(name, "INBOX", 5);
    return name;
}

static HRESULT open_folder(imap_state *s, const char *name, mapi_object *out)
{
    imap_folder f;
    memset(&f, 0, sizeof f);
    HRESULT hr = find_folder(s, name, &f);
    if (HR_FAILED(hr))
        return hr;
    CURLcode rc = imap_folder_counts(s, &f);
    if (rc != CURLE_OK) {
        imap_set_error_status(s, rc, NULL);
        hr = imap_read_error(rc);
    }
    if (HR_SUCCEEDED(hr))
        hr = folder_object(s, &f, out);
    free(f.e.name);
    return hr;
}

/* A canonical UID: 1..4294967295 without leading zeros, so one message has
 * one key. */
static bool parse_uid(const uint8_t *p, size_t len, uint32_t *uid)
{
    if (len == 0 || len > 10 || p[0] == '0')
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *uid = (uint32_t)v;
    return true;
}

static HRESULT message_object(const imap_state *s, const char *folder, const imap_message *m,
                              mapi_object *o)
{
    o->object_type = MAPI_MESSAGE;
    HRESULT hr = add_folder_id(s, o, PR_PARENT_ENTRYID, "parent_entry_id", folder, strlen(folder));
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_SUBJECT, "subject", m->subject);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_SENDER_NAME, "sender_name",
                                    m->from_name ? m->from_name : m->from_address);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_SENDER_EMAIL_ADDRESS, "sender_email_address",
                                    m->from_address);
    if (HR_SUCCEEDED(hr) && m->has_date)
        hr = mapi_object_add_time(o, PR_MESSAGE_DELIVERY_TIME, "message_delivery_time",
                                  m->internal_date);
    if (HR_SUCCEEDED(hr) && m->has_size)
        hr = mapi_object_add_long(o, PR_MESSAGE_SIZE, "message_size", m->size);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_long(o, PR_MESSAGE_FLAGS, "message_flags", m->seen ? MSGFLAG_READ : 0);
    return hr;
}

/* What FETCH asks for; the header section decodes what ENVELOPE leaves
 * RFC 2047 encoded. */
#define FETCH_ITEMS                                                                                \
    "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])"
#define CONTENTS_BATCH 100 /* UIDs per FETCH of a contents table */

/* A command in folder (found by LIST just before), its answer into *b (freed
 * by the caller in every case). A failed SELECT (libcurl reports it as
 * CURLE_LOGIN_DENIED, which must not read as refused credentials) is a
 * folder gone since the LIST; other failures set the row. */
static HRESULT run_in(imap_state *s, const char *folder, const char *cmd, bool raw, pnet_buffer *b)
{
    CURLcode rc = raw ? imap_run_raw(s, folder, cmd, IMAP_LIST_MAX_BYTES, b)
                      : imap_run(s, folder, cmd, IMAP_LIST_MAX_BYTES, b);
    if (rc == CURLE_LOGIN_DENIED)
        return MAPI_E_NOT_FOUND;
    if (rc != CURLE_OK) {
        imap_set_error_status(s, rc, b);
        return imap_read_error(rc);
    }
    return S_OK;
}

/* The messages uids[0..n) of folder, fetched in one command into m (n of
 * them; answered false for those gone since). */
static HRESULT fetch_messages(imap_state *s, const char *folder, const uint32_t *uids, size_t n,
                              imap_message *m)
{
    size_t cap = sizeof "UID FETCH " + n * 11 + sizeof FETCH_ITEMS + 1;
    char *cmd = malloc(cap);
    if (!cmd)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    size_t k = (size_t)snprintf(cmd, cap, "UID FETCH ");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(cmd + k, cap - k, "%s%u", i ? "," : "", (unsigned)uids[i]);
    snprintf(cmd + k, cap - k, " %s", FETCH_ITEMS);
    pnet_buffer b;
    HRESULT hr = run_in(s, folder, cmd, true, &b);
    if (HR_SUCCEEDED(hr))
        hr = imap_parse_fetch_raw(b.data ? b.data : "", b.len, uids, n, m);
    pnet_buffer_free(&b);
    free(cmd);
    return hr;
}

/* A folder by key name that can be read: S_OK (*noselect set for a folder
 * that holds no messages), MAPI_E_NOT_FOUND or a read error. */
static HRESULT listed_folder(imap_state *s, const char *name, bool *noselect)
{
    imap_folder f;
    memset(&f, 0, sizeof f);
    HRESULT hr = find_folder(s, name, &f);
    free(f.e.name);
    *noselect = HR_SUCCEEDED(hr) && (f.e.flags & IMAP_LIST_NOSELECT);
    return hr;
}

static HRESULT open_message(imap_state *s, const uint8_t *key, size_t len, mapi_object *out)
{
    const uint8_t *nul = memchr(key, '\0', len);
    uint32_t uid;
    if (!nul || !parse_uid(nul + 1, len - (size_t)(nul + 1 - key), &uid))
        return MAPI_E_NOT_FOUND;
    HRESULT hr;
    char *name = key_name(key, (size_t)(nul - key), &hr);
    if (!name)
        return hr;
    /* LIST first: a failed SELECT must not read as refused credentials. */
    bool noselect;
    hr = listed_folder(s, name, &noselect);
    if (HR_SUCCEEDED(hr) && noselect)
        hr = MAPI_E_NOT_FOUND;
    imap_message m;
    memset(&m, 0, sizeof m);
    if (HR_SUCCEEDED(hr))
        hr = fetch_messages(s, name, &uid, 1, &m);
    if (HR_SUCCEEDED(hr) && !m.answered)
        hr = MAPI_E_NOT_FOUND;
    if (HR_SUCCEEDED(hr))
        hr = message_object(s, name, &m, out);
    imap_message_clear(&m);
    free(name);
    return hr;
}

/* The contents row of m: its entry id ('M' folder NUL uid) and properties. */
static HRESULT message_row(const imap_state *s, const char *folder, const imap_message *m,
                           mapi_object *row)
{
    size_t lf = strlen(folder);
    uint8_t *key = malloc(lf + 2 + 10);
    if (!key)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    key[0] = 'M';
    memcpy(key + 1, folder, lf);
    key[1 + lf] = '\0';
    char num[16];
    int nd = snprintf(num, sizeof num, "%u", (unsigned)m->uid);
    memcpy(key + 2 + lf, num, (size_t)nd);
    uint8_t *eid;
    size_t elen;
    HRESULT hr = entryid_build(s->uid, key, lf + 2 + (size_t)nd, &eid, &elen);
    free(key);
    if (HR_SUCCEEDED(hr)) {
        hr = mapi_object_add_binary(row, PR_ENTRYID, "entry_id", eid, elen);
        free(eid);
    }
    if (HR_SUCCEEDED(hr))
        hr = message_object(s, folder, m, row);
    return hr;
}

/* One batch of a contents table: the rows of uids[0..n) still there. */
static HRESULT contents_batch(imap_state *s, const char *folder, const uint32_t *uids, size_t n,
                              mapi_rows *out)
{
    imap_message *m = calloc(n, sizeof *m);
    if (!m)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    HRESULT hr = fetch_messages(s, folder, uids, n, m);
    for (size_t i = 0; i < n && HR_SUCCEEDED(hr); i++) {
        if (!m[i].answered)
            continue; /* expunged since the SEARCH */
        mapi_object one;
        memset(&one, 0, sizeof one);
        hr = message_row(s, folder, &m[i], &one);
        mapi_object *row;
        if (HR_SUCCEEDED(hr))
            hr = mapi_rows_add(out, &row);
        if (HR_SUCCEEDED(hr)) {
            *row = one;
            memset(&one, 0, sizeof one);
        }
        mapi_object_clear(&one);
    }
    imap_messages_clear(m, n);
    free(m);
    return hr;
}

/* Newest first is largest UID first: UIDs grow with arrival in a folder
 * (RFC 3501 2.3.1.1). Only the rows returned are fetched. */
HRESULT imap_contents(void *state, const uint8_t *key, size_t key_len, size_t offset, size_t max,
                      mapi_rows *out, size_t *total)
{
    imap_state *s = state;
    *total = 0;
    if (key_len < 2 || key[0] != 'F')
        return MAPI_E_NOT_FOUND;
    if (refused(s))
        return MAPI_E_NETWORK_ERROR;
    HRESULT hr;
    char *name = key_name(key + 1, key_len - 1, &hr);
    if (!name)
        return hr;
    bool noselect;
    hr = listed_folder(s, name, &noselect);
    uint32_t *uids = NULL;
    size_t n = 0;
    if (HR_SUCCEEDED(hr) && !noselect) {
        /* libcurl skips the SELECT of the folder it already has selected;
         * a NOOP there makes the server look for new mail first. */
        pnet_buffer b;
        hr = run_in(s, name, "NOOP", false, &b);
        pnet_buffer_free(&b);
        if (HR_SUCCEEDED(hr))
            hr = run_in(s, name, "UID SEARCH ALL", false, &b);
        else
            memset(&b, 0, sizeof b);
        if (HR_SUCCEEDED(hr))
            hr = imap_parse_search(b.data ? b.data : "", b.len, &uids, &n);
        pnet_buffer_free(&b);
    }
    /* A page is a slice of this search: a message that arrives between two
     * pages moves the later ones by one place. */
    *total = n;
    size_t first = offset < n ? offset : n;
    if (n - first > max)
        n = first + max;
    size_t before = out->count;
    for (size_t i = first; i < n && HR_SUCCEEDED(hr); i += CONTENTS_BATCH)
        hr =
            contents_batch(s, name, uids + i, n - i < CONTENTS_BATCH ? n - i : CONTENTS_BATCH, out);
    if (HR_FAILED(hr)) {
        for (size_t i = before; i < out->count; i++)
            mapi_object_clear(&out->rows[i]);
        out->count = before;
    }
    free(uids);
    free(name);
    return hr;
}

HRESULT imap_open_entry(void *state, const uint8_t *key, size_t key_len, mapi_object *out)
{
    imap_state *s = state;
    if (key_len < 2)
        return MAPI_E_NOT_FOUND;
    if (refused(s))
        return MAPI_E_NETWORK_ERROR;
    if (key[0] == 'M')
        return open_message(s, key + 1, key_len - 1, out);
    if (key[0] != 'F')
        return MAPI_E_NOT_FOUND;
    HRESULT hr;
    char *name = key_name(key + 1, key_len - 1, &hr);
    if (!name)
        return hr;
    hr = open_folder(s, name, out);
    free(name);
    return hr;
}

/* INBOX is case-insensitive (RFC 3501 5.1): "Finbox" and "FINBOX" name the
 * same folder; every other name is compared byte for byte. */
bool imap_same_entry(void *state, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    (void)state;
    if (alen != blen || alen < 6 || a[0] != b[0])
        return alen == blen && memcmp(a, b, alen) == 0;
    size_t inbox_end = 6; /* type byte + "INBOX" */
    bool a_inbox = strncasecmp((const char *)a + 1, "INBOX", 5) == 0 &&
                   (alen == inbox_end || a[inbox_end] == '\0');
    bool b_inbox = strncasecmp((const char *)b + 1, "INBOX", 5) == 0 &&
                   (blen == inbox_end || b[inbox_end] == '\0');
    if (a_inbox && b_inbox)
        return memcmp(a + inbox_end, b + inbox_end, alen - inbox_end) == 0;
    return memcmp(a, b, alen) == 0;
}
