/* imap_objects.c - the objects of the "imap" store provider: the store and
 * its folder hierarchy, folders ('F' name) and messages ('M' folder NUL uid)
 * by entry key (entryid.h). Reads never change the mailbox: FETCH asks for
 * FLAGS and ENVELOPE, never BODY[], which would set \Seen. */
#include "imap_client.h"

#include "mapi_flags.h"

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
    char *display = strdup(leaf && leaf[1] ? leaf + 1 : name);
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
    /* LIST first: libcurl reports a failed SELECT as CURLE_LOGIN_DENIED,
     * which must not read as refused credentials. */
    imap_folder f;
    memset(&f, 0, sizeof f);
    hr = find_folder(s, name, &f);
    free(f.e.name);
    if (HR_SUCCEEDED(hr) && (f.e.flags & IMAP_LIST_NOSELECT))
        hr = MAPI_E_NOT_FOUND;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "UID FETCH %u (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)",
             (unsigned)uid);
    pnet_buffer b;
    memset(&b, 0, sizeof b);
    CURLcode rc = CURLE_OK;
    if (HR_SUCCEEDED(hr))
        rc = imap_run(s, name, cmd, IMAP_SMALL_MAX_BYTES, &b);
    if (HR_SUCCEEDED(hr) && rc == CURLE_LOGIN_DENIED) {
        hr = MAPI_E_NOT_FOUND; /* the folder went away between LIST and SELECT */
    } else if (HR_SUCCEEDED(hr) && rc != CURLE_OK) {
        imap_set_error_status(s, rc, &b);
        hr = imap_read_error(rc);
    }
    imap_message m;
    memset(&m, 0, sizeof m);
    if (HR_SUCCEEDED(hr))
        hr = imap_parse_fetch(b.data ? b.data : "", b.len, uid, &m);
    if (HR_SUCCEEDED(hr))
        hr = message_object(s, name, &m, out);
    imap_message_clear(&m);
    pnet_buffer_free(&b);
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
