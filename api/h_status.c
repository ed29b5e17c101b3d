/* h_status.c - the session's view: GET /status (GetStatusTable), GET
 * /status/{ik} (OpenEntry on a status row), GET /identity (QueryIdentity).
 */
#include "api_internal.h"
#include "json_write.h"
#include "status_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The row keys a columns= list may name (render_status_row's keys). */
static const char *const ROW_KEYS[] = {
    "instance_key",   "row_id",           "entry_id",          "object_type",
    "display_name",   "provider_display", "provider_dll_name", "resource_type",
    "resource_flags", "resource_methods", "status_code",       "status_string",
    "identity",
};
#define ROW_KEY_COUNT (sizeof ROW_KEYS / sizeof ROW_KEYS[0])

/* Parses columns= into keep[]; instance_key is always kept (docs/contract/http.md 4.1). */
static bool parse_columns(api_ctx *x, const char *value, bool keep[ROW_KEY_COUNT])
{
    memset(keep, 0, ROW_KEY_COUNT * sizeof keep[0]);
    keep[0] = true;
    if (!value || !*value) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "columns: expected a comma-separated list");
        return false;
    }
    const char *p = value;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        for (size_t k = 0; k < ROW_KEY_COUNT; k++)
            if (strlen(ROW_KEYS[k]) == len && memcmp(ROW_KEYS[k], p, len) == 0) {
                keep[k] = true;
                found = true;
            }
        if (!found) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "columns: unknown column \"%.*s\"",
                        (int)(len > 64 ? 64 : len), p);
            return false;
        }
        if (!end)
            return true;
        p = end + 1;
    }
}

/* resource_type= is a name (MAPI_SPOOLER) or a decimal number; either must
 * be a known resource type. */
static bool parse_resource_type(api_ctx *x, const char *value, uint32_t *out)
{
    if (value && mapi_name_lookup(&MAPI_RESOURCE_TYPE_NAMES, value, out))
        return true;
    if (value && value[0] >= '0' && value[0] <= '9' && strlen(value) <= 9) {
        uint32_t v = 0;
        const char *p = value;
        while (*p >= '0' && *p <= '9')
            v = v * 10 + (uint32_t)(*p++ - '0');
        if (*p == '\0' && mapi_enum_name(&MAPI_RESOURCE_TYPE_NAMES, v)) {
            *out = v;
            return true;
        }
    }
    api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                "resource_type: expected a resource type name (MAPI_SPOOLER) or its number");
    return false;
}

/* RFC 9110 13.1.2: If-None-Match is "*" or a list of entity tags, compared
 * weakly (a W/ prefix does not matter). */
static bool etag_matches(const char *header, const char *etag)
{
    if (!header)
        return false;
    const char *p = header;
    size_t elen = strlen(etag);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        const char *tag = p;
        if (len == 1 && tag[0] == '*')
            return true;
        if (len >= 2 && tag[0] == 'W' && tag[1] == '/')
            tag += 2, len -= 2;
        if (len == elen && memcmp(tag, etag, len) == 0)
            return true;
        p = end ? end + 1 : p + strlen(p);
    }
    return false;
}

/* Filters one rendered row down to the kept columns. */
static void keep_columns(json_t *row, const bool keep[ROW_KEY_COUNT])
{
    for (size_t k = 0; k < ROW_KEY_COUNT; k++)
        if (!keep[k])
            json_object_del(row, ROW_KEYS[k]);
}

/* What of a GET /status query changes the body: the resource_type filter
 * and the columns kept. */
static uint64_t query_variant(bool has_type, uint32_t type, bool has_columns,
                              const bool keep[ROW_KEY_COUNT])
{
    uint64_t v = has_type ? (1ull << 63) | ((uint64_t)(type & 0xFFFFFFu) << 32) : 0;
    if (has_columns) {
        v |= 1ull << 62;
        for (size_t k = 0; k < ROW_KEY_COUNT; k++)
            if (keep[k])
                v |= 1ull << k;
    }
    return v;
}

static char *text_alloc(size_t n) { return json_text_alloc(n); }

/* The ETag, and the 304 when the client has this version. */
static void finish_status(api_ctx *x, const char *etag)
{
    api_add_header(x, "ETag", etag);
    if (x->resp->status == 200 && etag_matches(x->req->if_none_match, etag))
        api_reply_not_modified(x);
}

void h_status_table(api_ctx *x)
{
    static const char *const QUERY[] = {"resource_type", "columns", NULL};
    api_auth auth;
    if (!api_authenticate(x, false, &auth))
        return;
    session *s = auth.session;

    bool has_type = false, has_columns = false;
    uint32_t type = 0;
    bool keep[ROW_KEY_COUNT];
    const char *type_value = request_query(x, "resource_type", &has_type);
    const char *columns_value = request_query(x, "columns", &has_columns);
    if (!request_check_query(x, QUERY) ||
        (has_type && !parse_resource_type(x, type_value, &type)) ||
        (has_columns && !parse_columns(x, columns_value, keep))) {
        api_auth_release(&auth);
        return;
    }

    /* A 304 is rendered as the 200 would be: it carries the 200's length
     * (RFC 9110 8.6; libmicrohttpd would otherwise send a false
     * "Content-Length: 0"), and that length depends on the query. */
    char etag[SESSION_ID_LEN + 48];
    uint64_t variant = query_variant(has_type, type, has_columns, keep);
    /* A table that has not changed since it was last rendered for this
     * session and query is sent again as it was (status_cache.h). */
    uint64_t version = session_status_version(s);
    char *cached = NULL;
    size_t cached_len = 0;
    if (version && status_cache_get(x->a->status_cache, session_id(s), version, variant, text_alloc,
                                    &cached, &cached_len)) {
        snprintf(etag, sizeof etag, "\"%s-%" PRIu64 "\"", session_id(s), version);
        api_auth_release(&auth);
        api_reply_json_text(x, 200, cached, cached_len);
        finish_status(x, etag);
        return;
    }
    status_table table;
    memset(&table, 0, sizeof table);
    HRESULT hr = session_status_table(s, &table);
    if (HR_FAILED(hr)) {
        api_auth_release(&auth);
        api_problem(x, hr, 0, "the status table is not available");
        return;
    }
    /* The ETag names the version of the rows actually sent. */
    snprintf(etag, sizeof etag, "\"%s-%" PRIu64 "\"", session_id(s), table.version);
    char sid[SESSION_ID_LEN + 1];
    snprintf(sid, sizeof sid, "%s", session_id(s));
    api_auth_release(&auth);

    json_t *rows = json_array();
    bool ok = rows != NULL;
    size_t count = 0;
    for (size_t i = 0; ok && i < table.count; i++) {
        if (has_type && table.rows[i].resource_type != type)
            continue;
        json_t *row = render_status_row(&table.rows[i]);
        if (row && has_columns)
            keep_columns(row, keep);
        ok = row && json_array_append_new(rows, row) == 0;
        count++;
    }
    uint64_t rendered = table.version;
    status_table_free(&table);
    json_t *out = json_object();
    ok &= json_set(out, "rows", rows);
    ok &= json_set(out, "row_count", json_integer((json_int_t)count));
    api_reply_json(x, 200, json_built(out, ok));
    if (x->resp->status == 200 && x->resp->body)
        status_cache_put(x->a->status_cache, sid, rendered, variant, x->resp->body,
                         x->resp->body_len);
    finish_status(x, etag);
}

void h_status_row(api_ctx *x)
{
    api_auth auth;
    if (!api_authenticate(x, false, &auth))
        return;
    if (!request_check_query(x, API_NO_QUERY)) {
        api_auth_release(&auth);
        return;
    }
    uint8_t ik[STATUS_INSTANCE_KEY_LEN];
    if (!request_instance_key(x, &x->params[0], ik)) {
        api_auth_release(&auth);
        return;
    }
    status_row row;
    memset(&row, 0, sizeof row);
    HRESULT hr = session_status_row(auth.session, ik, &row);
    api_auth_release(&auth);
    if (HR_FAILED(hr)) {
        api_problem(x, hr, 0,
                    hr == MAPI_E_NOT_FOUND ? "no status row with this instance key"
                                           : "the status row is not available");
        return;
    }
    api_reply_json(x, 200, render_status_row(&row));
    status_row_clear(&row);
}

void h_identity(api_ctx *x)
{
    api_auth auth;
    if (!api_authenticate(x, false, &auth))
        return;
    if (!request_check_query(x, API_NO_QUERY)) {
        api_auth_release(&auth);
        return;
    }
    identity id;
    memset(&id, 0, sizeof id);
    HRESULT hr = session_identity(auth.session, &id);
    api_auth_release(&auth);
    if (HR_FAILED(hr)) {
        /* Never 404 (docs/contract/http.md 5): only session or memory failures land here. */
        api_problem(x, hr, 0, "the identity is not available");
        return;
    }
    if (hr == MAPI_W_NO_SERVICE)
        id.hr = MAPI_W_NO_SERVICE;
    size_t len = 0;
    char *text = render_identity(&id, &len);
    api_reply_json_text(x, 200, text, len);
    identity_clear(&id);
}
