/* provider_abfile.c - the "abfile" address-book provider.
 *
 * A JSON file {"entries":[{"display","address_type","address"}, ...]}. Extra
 * keys are tolerated (the file is user data, not configuration); the three
 * named keys must be strings. The row shows AVAILABLE with the entry count, or
 * FAILURE when the file is missing or unreadable. A file that is present but
 * not a valid address book at logon fails the provider alone
 * (MAPI_E_FAILONEPROVIDER); found invalid later by ValidateState it only turns
 * the row to FAILURE, since MAPI cannot drop a provider that is logged on.
 *
 * Settings: path (the file), create ("true": when the file is missing, write
 * one holding the provider's configured identity; parent folders are created
 * with mode 0700, the file with 0600).
 *
 * Entry ids (entryid.h): 4 zero flag bytes, the instance's MAPIUID, then 'E'
 * and "ADDRTYPE:address" in UTF-8 without a NUL, spelled as in the file; the
 * container's key is empty. Two keys name the same entry when their address
 * types and addresses match without regard to ASCII case, as MAPI's search
 * keys do. The address book and OpenEntry re-read the file, so they show what
 * it holds now; a file that is missing or invalid then is MAPI_E_CALL_FAILED.
 */
#include "../entryid.h"
#include "../mapi_flags.h"
#include "../provider.h"
#include "provider_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define ABFILE_DIR_MODE 0700
#define ABFILE_FILE_MODE 0600

typedef struct {
    char *path;
    char *shown;              /* path as status strings show it (pfs_shown_path) */
    char *display_name;       /* the container's, from the config */
    uint8_t uid[MAPIUID_LEN]; /* this instance's (entry ids) */
    json_t *entries;          /* the loaded, valid "entries" array; NULL when none */
    provider_status st;
} abfile_state;

typedef enum { LOAD_OK, LOAD_MISSING, LOAD_UNREADABLE, LOAD_INVALID, LOAD_NOMEM } load_result;

/* Checks the document's shape; on a problem writes which field into why. */
static bool valid_shape(const json_t *root, char *why, size_t whylen)
{
    static const char *const FIELDS[] = {"display", "address_type", "address"};
    if (!json_is_object(root)) {
        snprintf(why, whylen, "not a JSON object");
        return false;
    }
    const json_t *entries = json_object_get(root, "entries");
    if (!json_is_array(entries)) {
        snprintf(why, whylen, "entries: missing or not an array");
        return false;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(entries, i, e)
    {
        if (!json_is_object(e)) {
            snprintf(why, whylen, "entries[%zu]: not an object", i);
            return false;
        }
        for (size_t f = 0; f < sizeof FIELDS / sizeof FIELDS[0]; f++) {
            if (!json_is_string(json_object_get(e, FIELDS[f]))) {
                snprintf(why, whylen, "entries[%zu].%s: missing or not a string", i, FIELDS[f]);
                return false;
            }
        }
    }
    return true;
}

/* Reads and checks the file. LOAD_OK sets *entries (a new reference); every
 * other result writes the reason for the status row into why. */
static load_result abfile_load(const char *path, const char *shown, json_t **entries, char *why,
                               size_t whylen)
{
    char eb[128];
    *entries = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            snprintf(why, whylen, "address book file missing: %s", shown);
            return LOAD_MISSING;
        }
        snprintf(why, whylen, "address book file not readable: %s: %s", shown,
                 pfs_errtext(errno, eb, sizeof eb));
        return LOAD_UNREADABLE;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        snprintf(why, whylen, "address book file not readable: %s: not a regular file", shown);
        return LOAD_UNREADABLE;
    }
    json_error_t jerr;
    json_t *root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
    close(fd);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return LOAD_NOMEM;
        snprintf(why, whylen, "address book file invalid: %s: line %d: %s", shown, jerr.line,
                 jerr.text);
        return LOAD_INVALID;
    }
    char shape[128];
    if (!valid_shape(root, shape, sizeof shape)) {
        snprintf(why, whylen, "address book file invalid: %s: %s", shown, shape);
        json_decref(root);
        return LOAD_INVALID;
    }
    *entries = json_incref(json_object_get(root, "entries"));
    json_decref(root);
    return LOAD_OK;
}

/* The initial file: the configured identity as the only entry, or none. */
static char *initial_document(const provider_config *cfg)
{
    const char *display = provider_config_identity_display(cfg);
    const char *type = provider_config_identity_addrtype(cfg);
    const char *address = provider_config_identity_address(cfg);
    json_t *entries = json_array();
    json_t *root = json_object();
    char *text = NULL;
    if (!entries || !root)
        goto out;
    if (display && type && address) {
        json_t *e = json_pack("{s:s, s:s, s:s}", "display", display, "address_type", type,
                              "address", address);
        if (!e || json_array_append_new(entries, e) != 0)
            goto out;
    }
    if (json_object_set(root, "entries", entries) != 0)
        goto out;
    text = json_dumps(root, JSON_INDENT(2));
out:
    json_decref(entries);
    json_decref(root);
    return text;
}

/* json_dumps's text comes from jansson's allocator: released through it (a
 * process may have installed its own, as the gateway does), not free(). */
static void free_json_text(char *text)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    if (text)
        f(text);
}

/* Writes the initial file atomically: a temp file next to it (0600, fsync'd),
 * then renamed into place. RENAME_NOREPLACE keeps a file someone else wrote in
 * the meantime (a concurrent logon of the same profile, or the user). Returns
 * 0 or an errno value. */
static int abfile_create(const char *path, const provider_config *cfg)
{
    static atomic_ulong counter;
    int err = pfs_mkdir_parent(path, ABFILE_DIR_MODE);
    if (err)
        return err;
    char *text = initial_document(cfg);
    if (!text)
        return ENOMEM;
    size_t tlen = strlen(path) + 64;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free_json_text(text);
        return ENOMEM;
    }
    snprintf(tmp, tlen, "%s.%ld.%lu.tmp", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, ABFILE_FILE_MODE);
    if (fd < 0) {
        err = errno;
        goto out;
    }
    err = pfs_write_all(fd, text, strlen(text));
    if (!err)
        err = pfs_write_all(fd, "\n", 1);
    /* The data must be on disk before the name points at it. */
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0) {
        err = errno;
        /* File systems without RENAME_NOREPLACE: a plain rename; the race it
         * loses only replaces one generated file with an identical one. */
        if (err == EINVAL || err == ENOSYS)
            err = rename(tmp, path) == 0 ? 0 : errno;
        else if (err == EEXIST)
            err = 0; /* somebody else created it: theirs wins */
    }
    unlink(tmp); /* gone after a rename; removes the leftover otherwise */
out:
    free(tmp);
    free_json_text(text);
    return err;
}

/* Re-reads the file into s. LOAD_INVALID and LOAD_NOMEM are returned for the
 * caller to decide; every other outcome is only a status. */
static load_result abfile_refresh(abfile_state *s)
{
    json_t *entries;
    char why[PROVIDER_STATUS_STRING_MAX];
    load_result r = abfile_load(s->path, s->shown, &entries, why, sizeof why);
    if (r == LOAD_NOMEM)
        return r; /* keep the previous state: nothing new was learnt */
    json_decref(s->entries);
    s->entries = entries;
    if (r == LOAD_OK) {
        size_t n = json_array_size(entries);
        pfs_set_status(&s->st, STATUS_AVAILABLE, "%zu entr%s", n, n == 1 ? "y" : "ies");
    } else {
        pfs_set_status(&s->st, STATUS_FAILURE, "%s", why);
    }
    return r;
}

static void abfile_free(abfile_state *s)
{
    if (!s)
        return;
    json_decref(s->entries);
    free(s->path);
    free(s->shown);
    free(s->display_name);
    free(s);
}

static HRESULT abfile_logon(const provider_config *cfg, const provider_logon_args *args,
                            void **state)
{
    char eb[128];
    *state = NULL;
    const char *path = provider_config_path(cfg, "path");
    if (!path || !*path)
        return MAPI_E_UNCONFIGURED;
    abfile_state *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    memcpy(s->uid, args->uid, MAPIUID_LEN);
    s->path = strdup(path);
    s->shown = pfs_shown_path(cfg, "path");
    const char *display = provider_config_display_name(cfg);
    s->display_name = strdup(display ? display : "");
    if (!s->path || !s->shown || !s->display_name) {
        abfile_free(s);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }

    int create_err = 0;
    struct stat sb;
    if (pfs_create_requested(cfg) && stat(path, &sb) != 0 && errno == ENOENT)
        create_err = abfile_create(path, cfg);
    if (create_err == ENOMEM) {
        abfile_free(s);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }

    load_result r = abfile_refresh(s);
    if (r == LOAD_NOMEM || r == LOAD_INVALID) {
        abfile_free(s);
        return r == LOAD_NOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_FAILONEPROVIDER;
    }
    /* Still missing after a failed create: the create error says why. */
    if (r == LOAD_MISSING && create_err)
        pfs_set_status(&s->st, STATUS_FAILURE, "cannot create address book file %s: %s", s->shown,
                       pfs_errtext(create_err, eb, sizeof eb));
    *state = s;
    return S_OK;
}

static void abfile_logoff(void *state) { abfile_free(state); }

static void abfile_status(void *state, provider_status *out)
{
    const abfile_state *s = state;
    *out = s->st;
}

static HRESULT abfile_validate_state(void *state, uint32_t flags)
{
    (void)flags; /* no flag changes what re-reading a local file does */
    /* An invalid file is only a status now (see the top of the file). */
    return abfile_refresh(state) == LOAD_NOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : S_OK;
}

/* ---- entries and entry ids ---------------------------------------------- */

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Byte-wise ASCII case-insensitive equality: UTF-8 beyond ASCII compares
 * exactly, and no locale is involved. */
static bool same_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t lh = strlen(hay), ln = strlen(needle);
    for (size_t i = 0; i + ln <= lh; i++)
        if (same_nocase(hay + i, needle, ln))
            return true;
    return false;
}

static const char *entry_field(const json_t *e, const char *field)
{
    return json_string_value(json_object_get(e, field)); /* checked at load */
}

/* Whether key ('E' + "TYPE:address") names entry e (case-insensitively). */
static bool key_names(const uint8_t *key, size_t key_len, const json_t *e)
{
    const char *t = entry_field(e, "address_type"), *a = entry_field(e, "address");
    size_t lt = strlen(t), la = strlen(a);
    const char *k = (const char *)key + 1;
    return key_len == 1 + lt + 1 + la && key[0] == 'E' && same_nocase(k, t, lt) && k[lt] == ':' &&
           same_nocase(k + lt + 1, a, la);
}

/* The full entry id of entry e: header, 'E', "TYPE:address". */
static HRESULT entry_id_of(const abfile_state *s, const json_t *e, uint8_t **out, size_t *out_len)
{
    const char *t = entry_field(e, "address_type"), *a = entry_field(e, "address");
    size_t lt = strlen(t), la = strlen(a);
    char *key = malloc(1 + lt + 1 + la);
    if (!key)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    key[0] = 'E';
    memcpy(key + 1, t, lt);
    key[1 + lt] = ':';
    memcpy(key + 2 + lt, a, la);
    /* An address too long for an entry id: MAPI_E_INVALID_PARAMETER. */
    HRESULT hr = entryid_build(s->uid, key, 1 + lt + 1 + la, out, out_len);
    free(key);
    return hr;
}

/* Entry e as a MAPI_MAILUSER. */
static HRESULT entry_object(const abfile_state *s, const json_t *e, mapi_object *o)
{
    const char *t = entry_field(e, "address_type"), *a = entry_field(e, "address");
    uint8_t *eid = NULL, *sk = NULL;
    size_t eid_len = 0, sk_len = 0;
    o->object_type = MAPI_MAILUSER;
    HRESULT hr = entry_id_of(s, e, &eid, &eid_len);
    if (HR_SUCCEEDED(hr))
        hr = search_key_build(t, a, &sk, &sk_len);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_binary(o, PR_ENTRYID, "entry_id", eid, eid_len);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_DISPLAY_NAME, "display_name", entry_field(e, "display"));
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_ADDRTYPE, "address_type", t);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_EMAIL_ADDRESS, "email_address", a);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_binary(o, PR_SEARCH_KEY, "search_key", sk, sk_len);
    free(eid);
    free(sk);
    return hr;
}

/* The container: its entry id (empty key), display name and entry count. */
static HRESULT container_object(const abfile_state *s, mapi_object *o)
{
    uint8_t *eid;
    size_t len;
    o->object_type = MAPI_ABCONT;
    HRESULT hr = entryid_build(s->uid, NULL, 0, &eid, &len);
    if (HR_FAILED(hr))
        return hr;
    hr = mapi_object_add_binary(o, PR_ENTRYID, "entry_id", eid, len);
    free(eid);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_DISPLAY_NAME, "display_name", s->display_name);
    size_t n = json_array_size(s->entries);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_long(o, PR_CONTENT_COUNT, "content_count",
                                  n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
    return hr;
}

/* Re-reads the file for an object access: S_OK with s->entries, or why not. */
static HRESULT reload(abfile_state *s)
{
    load_result r = abfile_refresh(s);
    if (r == LOAD_NOMEM)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    return r == LOAD_OK ? S_OK : MAPI_E_CALL_FAILED;
}

static HRESULT abfile_address_book(void *state, const char *search, size_t offset, size_t max,
                                   mapi_object *container, mapi_rows *entries, size_t *total)
{
    abfile_state *s = state;
    *total = 0;
    HRESULT hr = reload(s);
    if (HR_SUCCEEDED(hr))
        hr = container_object(s, container);
    size_t i, place = 0, end = offset > SIZE_MAX - max ? SIZE_MAX : offset + max;
    const json_t *e;
    json_array_foreach(s->entries, i, e)
    {
        if (HR_FAILED(hr))
            break;
        if (search && !contains_nocase(entry_field(e, "display"), search) &&
            !contains_nocase(entry_field(e, "address"), search))
            continue;
        /* Every match holds a place, listed or not, so the total and the
         * places agree from page to page. */
        if (place++ < offset || place > end)
            continue;
        /* Built aside, so entries (shared with the other address books)
         * only ever gets whole rows. */
        mapi_object one = {0};
        hr = entry_object(s, e, &one);
        if (hr == MAPI_E_INVALID_PARAMETER) {
            hr = S_OK; /* an address no entry id can hold: not listed */
        } else if (HR_SUCCEEDED(hr)) {
            mapi_object *row;
            hr = mapi_rows_add(entries, &row);
            if (HR_SUCCEEDED(hr)) {
                *row = one;
                memset(&one, 0, sizeof one);
            }
        }
        mapi_object_clear(&one);
    }
    *total = place;
    return hr;
}

static HRESULT abfile_open_entry(void *state, const uint8_t *key, size_t key_len, mapi_object *out)
{
    abfile_state *s = state;
    if (key_len != 0 && key[0] != 'E')
        return MAPI_E_NOT_FOUND;
    HRESULT hr = reload(s);
    if (HR_FAILED(hr))
        return hr;
    if (key_len == 0)
        return container_object(s, out);
    size_t i;
    const json_t *e;
    json_array_foreach(s->entries, i, e)
    {
        if (key_names(key, key_len, e))
            return entry_object(s, e, out);
    }
    return MAPI_E_NOT_FOUND;
}

/* Splits 'E' + "TYPE:address" at the first ':'; false for any other key. */
static bool split_key(const uint8_t *key, size_t len, const char **type, size_t *type_len,
                      const char **address, size_t *address_len)
{
    if (len < 2 || key[0] != 'E')
        return false;
    const char *k = (const char *)key + 1;
    const char *colon = memchr(k, ':', len - 1);
    if (!colon)
        return false;
    *type = k;
    *type_len = (size_t)(colon - k);
    *address = colon + 1;
    *address_len = len - 1 - *type_len - 1;
    return true;
}

static bool abfile_same_entry(void *state, const uint8_t *a, size_t alen, const uint8_t *b,
                              size_t blen)
{
    (void)state;
    const char *ta, *aa, *tb, *ab;
    size_t lta, laa, ltb, lab;
    if (!split_key(a, alen, &ta, &lta, &aa, &laa) || !split_key(b, blen, &tb, &ltb, &ab, &lab))
        return alen == blen && memcmp(a, b, alen) == 0;
    return lta == ltb && laa == lab && same_nocase(ta, tb, lta) && same_nocase(aa, ab, laa);
}

static HRESULT abfile_identity(void *state, const provider_config *cfg, provider_identity *out)
{
    const abfile_state *s = state;
    memset(out, 0, sizeof *out);
    const char *type = provider_config_identity_addrtype(cfg);
    const char *address = provider_config_identity_address(cfg);
    if (!type || !address || !s->entries)
        return MAPI_E_NOT_FOUND;

    size_t i;
    const json_t *e;
    json_array_foreach(s->entries, i, e)
    {
        const char *et = entry_field(e, "address_type"), *ea = entry_field(e, "address");
        /* Address types and SMTP addresses compare without case, as MAPI's
         * search keys do (ASCII letters only). */
        if (strlen(et) != strlen(type) || strlen(ea) != strlen(address) ||
            !same_nocase(et, type, strlen(et)) || !same_nocase(ea, address, strlen(ea)))
            continue;
        HRESULT hr = entry_id_of(s, e, &out->entry_id, &out->entry_id_len);
        /* Too long for an entry id: the row falls back to a one-off. */
        return hr == MAPI_E_INVALID_PARAMETER ? MAPI_E_NOT_FOUND : hr;
    }
    return MAPI_E_NOT_FOUND;
}

static const char *const REQUIRED_SETTINGS[] = {"path", NULL};

const provider_ops PROVIDER_ABFILE = {
    .kind = "abfile",
    .shared_instance = true,
    .resource_type = MAPI_AB_PROVIDER,
    .dll_name = "mgwab",
    .provider_display = "mapigw",
    .resource_methods = STATUS_VALIDATE_STATE,
    .required_settings = REQUIRED_SETTINGS,
    .check_config = pfs_check_create_setting,
    .logon = abfile_logon,
    .logoff = abfile_logoff,
    .status = abfile_status,
    .validate_state = abfile_validate_state,
    .flush_queues = NULL,
    .identity = abfile_identity,
    .address_book = abfile_address_book,
    .open_entry = abfile_open_entry,
    .same_entry = abfile_same_entry,
};
