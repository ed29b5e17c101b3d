/* h_objects.c - objects reached through the session (docs/contract/http.md 6 "Objects
 * reached through the session"):
 *   GET  /stores            IMAPISession::GetMsgStoresTable
 *   GET  /stores/{eid}      IMAPISession::OpenMsgStore (MDB_NO_DIALOG)
 *   GET  /addressbook       IMAPISession::OpenAddressBook (AB_NO_DIALOG)
 *   GET  /entries/{eid}     IMAPISession::OpenEntry
 *   GET  /entries/{eid}/contents  IMAPIFolder::GetContentsTable
 *   POST /entries/compare   IMAPISession::CompareEntryIDs
 *
 * Entry ids arrive as hex; their form is checked here (400
 * MAPI_E_INVALID_ENTRYID), what they name is the core's business (its
 * INVALID_ENTRYID / UNKNOWN_ENTRYID answers map through api_problem).
 */
#include "api_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* OpenAddressBook's search string is at most 256 characters (code points);
 * pages (max, cursor) are page.c's. */
#define AB_SEARCH_MAX 256u

static const char *const NO_QUERY[] = {NULL};

/* Authenticates and checks that no query parameter is present. */
static bool begin(api_ctx *x, const char *const *query, api_auth *auth)
{
    if (!api_authenticate(x, false, auth))
        return false;
    if (!request_check_query(x, query)) {
        api_auth_release(auth);
        return false;
    }
    return true;
}

/* The {id} of the path as entry id bytes (*eid the caller's); on a bad one
 * the answer is set and auth released. */
static bool path_entry_id(api_ctx *x, api_auth *auth, uint8_t **eid, size_t *len)
{
    if (request_entry_id(x, x->params[0].s, x->params[0].len, "entry id", eid, len))
        return true;
    api_auth_release(auth);
    return false;
}

/* A failure of the core, with a detail that says what was asked. */
static void object_problem(api_ctx *x, HRESULT hr, const char *what)
{
    if (hr == MAPI_E_UNKNOWN_ENTRYID)
        api_problem(x, hr, 0, "no %s with this entry id in this session", what);
    else if (hr == MAPI_E_INVALID_ENTRYID)
        api_problem(x, hr, 0, "the entry id is not one this gateway issues");
    else
        api_problem(x, hr, 0, "the %s is not available", what);
}

void h_stores_table(api_ctx *x)
{
    api_auth auth;
    if (!begin(x, NO_QUERY, &auth))
        return;
    mapi_rows rows;
    HRESULT hr = session_stores_table(auth.session, &rows);
    api_auth_release(&auth);
    if (HR_FAILED(hr)) {
        object_problem(x, hr, "message store table");
        return;
    }
    json_t *out = json_object();
    bool ok = out != NULL;
    ok &= json_set(out, "rows", render_rows(&rows));
    ok &= json_set(out, "row_count", json_integer((json_int_t)rows.count));
    mapi_rows_clear(&rows);
    api_reply_json(x, 200, json_built(out, ok));
}

void h_store_open(api_ctx *x)
{
    api_auth auth;
    if (!begin(x, NO_QUERY, &auth))
        return;
    uint8_t *eid;
    size_t len;
    if (!path_entry_id(x, &auth, &eid, &len))
        return;
    mapi_object store;
    mapi_rows folders;
    HRESULT hr = session_open_store(auth.session, eid, len, &store, &folders);
    api_auth_release(&auth);
    free(eid);
    if (HR_FAILED(hr)) {
        object_problem(x, hr, "message store");
        return;
    }
    json_t *out = json_object();
    bool ok = out != NULL;
    ok &= json_set(out, "store", render_object(&store));
    ok &= json_set(out, "folders", render_rows(&folders));
    mapi_object_clear(&store);
    mapi_rows_clear(&folders);
    api_reply_json(x, 200, json_built(out, ok));
}

void h_address_book(api_ctx *x)
{
    static const char *const QUERY[] = {"search", "max", "cursor", NULL};
    api_auth auth;
    if (!begin(x, QUERY, &auth))
        return;
    bool has_search = false;
    const char *search = request_query(x, "search", &has_search);
    if (search) {
        /* utf8_length counts code points of valid UTF-8 only: check first. */
        json_t *valid = json_string(search);
        bool utf8 = valid != NULL;
        json_decref(valid);
        if (!utf8 || utf8_length(search, strlen(search)) > AB_SEARCH_MAX) {
            api_auth_release(&auth);
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                        "search: expected UTF-8 text of at most %u characters", AB_SEARCH_MAX);
            return;
        }
        if (!*search)
            search = NULL; /* "search=" filters nothing */
    }
    page_scope scope = {PAGE_ADDRESS_BOOK, session_id(auth.session), search,
                        search ? strlen(search) : 0};
    page_window w;
    if (!page_parse(x, &scope, &w)) {
        api_auth_release(&auth);
        return;
    }

    mapi_rows containers, entries;
    size_t total = 0;
    HRESULT hr =
        session_address_book(auth.session, search, w.offset, w.max, &containers, &entries, &total);
    if (HR_FAILED(hr)) {
        api_auth_release(&auth);
        object_problem(x, hr, "address book");
        return;
    }
    json_t *out = json_object();
    bool ok = out != NULL;
    ok &= json_set(out, "containers", render_rows(&containers));
    ok &= json_set(out, "entries", render_rows(&entries));
    ok &= json_set(out, "entry_count", json_integer((json_int_t)entries.count));
    ok &= page_render(x, out, &scope, &w, entries.count, total);
    api_auth_release(&auth); /* scope.session_id lives as long as the reference */
    /* Warnings are successes with a note (docs/contract/http.md 1): a failed
     * address-book provider does not fail the book. */
    if (hr == MAPI_W_ERRORS_RETURNED)
        ok &= json_set(out, "warning", render_warning(hr));
    mapi_rows_clear(&containers);
    mapi_rows_clear(&entries);
    api_reply_json(x, 200, json_built(out, ok));
}

void h_entry_open(api_ctx *x)
{
    api_auth auth;
    if (!begin(x, NO_QUERY, &auth))
        return;
    uint8_t *eid;
    size_t len;
    if (!path_entry_id(x, &auth, &eid, &len))
        return;
    mapi_object obj;
    HRESULT hr = session_open_entry(auth.session, eid, len, &obj);
    api_auth_release(&auth);
    free(eid);
    if (HR_FAILED(hr)) {
        object_problem(x, hr, "object");
        return;
    }
    json_t *out = render_object(&obj);
    mapi_object_clear(&obj);
    api_reply_json(x, 200, out);
}

void h_entry_contents(api_ctx *x)
{
    static const char *const QUERY[] = {"max", "cursor", NULL};
    api_auth auth;
    if (!begin(x, QUERY, &auth))
        return;
    uint8_t *eid = NULL;
    size_t len;
    if (!path_entry_id(x, &auth, &eid, &len))
        return;
    page_scope scope = {PAGE_CONTENTS, session_id(auth.session), eid, len};
    page_window w;
    mapi_rows rows;
    size_t total = SIZE_MAX;
    HRESULT hr = MAPI_E_INVALID_PARAMETER;
    if (page_parse(x, &scope, &w)) {
        hr = session_folder_contents(auth.session, eid, len, w.offset, w.max, &rows, &total);
        if (HR_FAILED(hr))
            object_problem(x, hr, "folder");
    }
    if (HR_FAILED(hr)) {
        api_auth_release(&auth);
        free(eid);
        return;
    }
    json_t *out = json_object();
    bool ok = out != NULL;
    ok &= json_set(out, "rows", render_rows(&rows));
    ok &= json_set(out, "row_count", json_integer((json_int_t)rows.count));
    ok &= page_render(x, out, &scope, &w, rows.count, total);
    api_auth_release(&auth);
    free(eid);
    mapi_rows_clear(&rows);
    api_reply_json(x, 200, json_built(out, ok));
}

/* One entry id member of the compare body: a string, checked for form. */
static bool body_entry_id(api_ctx *x, json_t *body, const char *key, uint8_t **out, size_t *len)
{
    json_t *v = json_object_get(body, key);
    if (!json_is_string(v)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s: a hexadecimal string is required", key);
        return false;
    }
    return request_entry_id(x, json_string_value(v), json_string_length(v), key, out, len);
}

void h_entries_compare(api_ctx *x)
{
    static const char *const KEYS[] = {"entry_id_1", "entry_id_2", NULL};
    api_auth auth;
    if (!begin(x, NO_QUERY, &auth))
        return;
    json_t *body = request_json_object(x);
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    bool ok = body && request_check_keys(x, body, KEYS) &&
              body_entry_id(x, body, "entry_id_1", &a, &alen) &&
              body_entry_id(x, body, "entry_id_2", &b, &blen);
    json_decref(body);
    if (!ok) {
        api_auth_release(&auth);
        free(a);
        free(b);
        return;
    }
    bool equal = false;
    HRESULT hr = session_compare_entry_ids(auth.session, a, alen, b, blen, &equal);
    api_auth_release(&auth);
    free(a);
    free(b);
    if (HR_FAILED(hr)) {
        object_problem(x, hr, "object");
        return;
    }
    json_t *out = json_object();
    if (!json_set(out, "equal", json_boolean(equal))) {
        json_decref(out);
        api_reply_oom(x);
        return;
    }
    api_reply_json(x, 200, out);
}
