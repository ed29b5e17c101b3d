/* render.c - MAPI values as JSON, in the shapes docs/contract/http.md and DECISIONS.md fix:
 * flag sets {"value","names"}, enumerations {"value","name"}, binary values
 * as upper-case hex, times as RFC 3339 UTC, status rows, sessions, identity.
 *
 * Every function returns a new reference or NULL when out of memory; partial
 * objects are released before returning NULL.
 */
#include "api_internal.h"
#include "json_write.h"

#include "../session-core/hex.h"

#include <stdlib.h>
#include <string.h>

bool json_set(json_t *obj, const char *key, json_t *value)
{
    if (!obj || !value) {
        json_decref(value);
        return false;
    }
    /* json_object_set_new steals value even when it fails. */
    return json_object_set_new(obj, key, value) == 0;
}

json_t *json_built(json_t *obj, bool ok)
{
    if (ok)
        return obj;
    json_decref(obj);
    return NULL;
}

void render_flags_text(json_text *out, const mapi_name_set *set, uint32_t value)
{
    /* The same object as render_flags, written directly. */
    json_text_open(out);
    json_text_key(out, "value");
    json_text_int(out, value);
    json_text_key(out, "names");
    json_text_array_open(out);
    for (size_t i = 0; i < set->count; i++) {
        uint32_t bit = set->names[i].value;
        if (bit != 0 && (value & bit) == bit)
            json_text_string(out, set->names[i].name);
    }
    json_text_array_close(out);
    json_text_close(out);
}

json_t *render_flags(const mapi_name_set *set, uint32_t value)
{
    json_t *obj = json_object();
    json_t *names = json_array();
    bool ok = obj && names;
    /* Names in the table's order, so clients can compare lists; a name whose
     * bits are all set is listed (every name here is one bit). */
    for (size_t i = 0; ok && i < set->count; i++) {
        uint32_t bit = set->names[i].value;
        if (bit != 0 && (value & bit) == bit)
            ok = json_array_append_new(names, json_string(set->names[i].name)) == 0;
    }
    ok &= json_set(obj, "value", json_integer(value));
    ok &= json_set(obj, "names", names); /* steals names */
    return json_built(obj, ok);
}

json_t *render_enum(const mapi_name_set *set, uint32_t value)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;
    ok &= json_set(obj, "value", json_integer(value));
    ok &= json_set(obj, "name", render_string_or_null(mapi_enum_name(set, value)));
    return json_built(obj, ok);
}

json_t *render_hex(const uint8_t *data, size_t len)
{
    char *hex = hex_encode_alloc(data, len);
    if (!hex)
        return NULL;
    json_t *s = json_stringn(hex, 2 * len);
    free(hex);
    return s;
}

/* Strings from providers (status strings with file names, say) need not be
 * UTF-8, and jansson refuses such strings: replace each bad byte with U+FFFD
 * rather than fail the whole answer. */
static json_t *json_string_lossy(const char *s)
{
    size_t len = strlen(s);
    char *buf = malloc(3 * len + 1);
    if (!buf)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = json_utf8_sequence((const unsigned char *)s + i);
        if (n == 0) {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, s + i, n);
            o += n;
            i += n;
        }
    }
    json_t *v = json_stringn(buf, o);
    free(buf);
    return v;
}

json_t *render_string_or_null(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    return v ? v : json_string_lossy(s);
}

bool render_time_format(time_t t, char buf[RENDER_TIME_MAX])
{
    struct tm tm;
    return gmtime_r(&t, &tm) && strftime(buf, RENDER_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) != 0;
}

json_t *render_time(time_t t)
{
    char buf[RENDER_TIME_MAX];
    if (!render_time_format(t, buf))
        return json_null(); /* a time beyond the calendar: nothing to say */
    return json_string(buf);
}

void render_time_text(json_text *out, time_t t)
{
    char buf[RENDER_TIME_MAX];
    if (render_time_format(t, buf))
        json_text_string(out, buf);
    else
        json_text_null(out);
}

static json_t *render_row_identity(const status_row *row)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;
    ok &= json_set(obj, "display", render_string_or_null(row->identity_display));
    /* A provider may publish a name and address but no entry id. */
    if (row->identity_entry_id)
        ok &= json_set(obj, "entry_id",
                       render_hex(row->identity_entry_id, row->identity_entry_id_len));
    ok &= json_set(obj, "search_key",
                   row->identity_search_key
                       ? render_hex(row->identity_search_key, row->identity_search_key_len)
                       : json_null());
    ok &= json_set(obj, "address_type", render_string_or_null(row->identity_addrtype));
    ok &= json_set(obj, "address", render_string_or_null(row->identity_address));
    return json_built(obj, ok);
}

json_t *render_status_row(const status_row *row)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;
    ok &= json_set(obj, "instance_key", render_hex(row->instance_key, STATUS_INSTANCE_KEY_LEN));
    ok &= json_set(obj, "row_id", json_integer(row->row_id));
    ok &= json_set(obj, "entry_id", render_hex(row->entry_id, STATUS_ENTRY_ID_LEN));
    ok &= json_set(obj, "object_type", json_integer(row->object_type));
    ok &= json_set(obj, "display_name", render_string_or_null(row->display_name));
    ok &= json_set(obj, "provider_display", render_string_or_null(row->provider_display));
    ok &= json_set(obj, "provider_dll_name", render_string_or_null(row->provider_dll_name));
    ok &=
        json_set(obj, "resource_type", render_enum(&MAPI_RESOURCE_TYPE_NAMES, row->resource_type));
    ok &= json_set(obj, "resource_flags",
                   render_flags(&MAPI_RESOURCE_FLAG_NAMES, row->resource_flags));
    ok &= json_set(obj, "resource_methods",
                   render_flags(&MAPI_RESOURCE_METHOD_NAMES, row->resource_methods));
    ok &= json_set(obj, "status_code", render_flags(&MAPI_STATUS_CODE_NAMES, row->status_code));
    ok &= json_set(obj, "status_string", render_string_or_null(row->status_string));
    if (row->has_identity)
        ok &= json_set(obj, "identity", render_row_identity(row));
    return json_built(obj, ok);
}

json_t *render_session(session *s, const core_session_facts *facts)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;
    ok &= json_set(obj, "id", json_string(session_id(s)));
    ok &= json_set(obj, "profile", render_string_or_null(session_profile_name(s)));
    ok &= json_set(obj, "flags", render_flags(&MAPI_LOGON_FLAG_NAMES, session_flags(s)));
    ok &= json_set(obj, "shared", json_boolean(facts->shared));
    ok &= json_set(obj, "handles", json_integer((json_int_t)facts->handles));
    ok &= json_set(obj, "created_at", render_time(session_created_at(s)));
    ok &= json_set(obj, "last_used_at", render_time(session_last_used_at(s)));
    ok &= json_set(obj, "expires_at", render_time(session_expires_at(s)));
    ok &= json_set(obj, "idle_deadline_at",
                   render_time(session_last_used_at(s) + (time_t)session_idle_timeout_s(s)));
    ok &= json_set(obj, "lifetime_ends_at", render_time(session_lifetime_ends_at(s)));
    ok &= json_set(obj, "idle_timeout_s", json_integer(session_idle_timeout_s(s)));
    return json_built(obj, ok);
}

char *render_identity(const identity *id, size_t *len)
{
    /* Written as text: GET /identity is the hottest answer (bench/). */
    json_text t = JSON_TEXT_INIT;
    json_text_open(&t);
    json_text_key(&t, "entry_id");
    json_text_hex(&t, id->entry_id, id->entry_id_len);
    json_text_key(&t, "display");
    json_text_string(&t, id->display);
    json_text_key(&t, "search_key");
    json_text_hex(&t, id->search_key, id->search_key_len);
    json_text_key(&t, "source");
    if (id->has_source) {
        json_text_open(&t);
        json_text_key(&t, "instance_key");
        json_text_hex(&t, id->source_instance_key, STATUS_INSTANCE_KEY_LEN);
        json_text_key(&t, "display_name");
        json_text_string(&t, id->source_display_name);
        json_text_close(&t);
    } else {
        json_text_null(&t);
    }
    if (id->hr == MAPI_W_NO_SERVICE) {
        /* Warnings are successes with a note (docs/contract/http.md 1). */
        json_text_key(&t, "warning");
        json_text_open(&t);
        json_text_key(&t, "mapi_error");
        json_text_string(&t, "MAPI_W_NO_SERVICE");
        json_text_key(&t, "mapi_code");
        json_text_string(&t, "0x00040203");
        json_text_close(&t);
    }
    json_text_close(&t);
    json_text_end_line(&t);
    return json_text_finish(&t, len);
}
