/* render_object.c - MAPI objects (property lists, mapi_object.h) as JSON.
 *
 * The core hands the api objects and table rows as tagged properties; this
 * file renders any of them the same way, so a new property or a new provider
 * kind needs no api change: the property's JSON name comes with it, and its
 * type (the low 16 bits of the tag) decides the JSON form:
 *   PT_LONG -> number, PT_BOOLEAN -> bool, PT_I8 -> number,
 *   PT_SYSTIME -> RFC 3339 string, PT_UNICODE -> string,
 *   PT_BINARY -> upper-case hex (docs/contract/http.md 1).
 * Two PT_LONG properties are flag sets and render as {"value","names"}:
 * PR_RESOURCE_FLAGS and PR_STATUS_CODE, as in the status table.
 */
#include "api_internal.h"

#include <stdio.h>
#include <string.h>

/* PR_OBJECT_TYPE names (mapidefs.h). The core's name sets hold flags and
 * resource types only; object types are a rendering concern of the api. */
static const mapi_name OBJECT_TYPES[] = {
    {"MAPI_STORE", MAPI_STORE},       {"MAPI_ADDRBOOK", MAPI_ADDRBOOK},
    {"MAPI_FOLDER", MAPI_FOLDER},     {"MAPI_ABCONT", MAPI_ABCONT},
    {"MAPI_MESSAGE", MAPI_MESSAGE},   {"MAPI_MAILUSER", MAPI_MAILUSER},
    {"MAPI_DISTLIST", MAPI_DISTLIST}, {"MAPI_STATUS", MAPI_STATUS},
};
static const mapi_name_set OBJECT_TYPE_NAMES = {"object type", OBJECT_TYPES,
                                                sizeof OBJECT_TYPES / sizeof OBJECT_TYPES[0], 0};

static json_t *render_prop(const mapi_prop *p)
{
    switch (PROP_TYPE(p->tag)) {
    case PT_LONG:
        if (p->tag == PR_RESOURCE_FLAGS)
            return render_flags(&MAPI_RESOURCE_FLAG_NAMES, p->v.l);
        if (p->tag == PR_STATUS_CODE)
            return render_flags(&MAPI_STATUS_CODE_NAMES, p->v.l);
        return json_integer((json_int_t)p->v.l);
    case PT_BOOLEAN:
        return json_boolean(p->v.b);
    case PT_I8:
        return json_integer((json_int_t)p->v.i8);
    case PT_SYSTIME:
        return render_time(p->v.time);
    case PT_UNICODE:
        return render_string_or_null(p->v.str);
    case PT_BINARY:
        return render_hex(p->v.bin.data, p->v.bin.len);
    default:
        /* A type the api does not know yet: say so rather than fail the
         * whole answer. */
        return json_null();
    }
}

json_t *render_object(const mapi_object *o)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;
    ok &= json_set(obj, "object_type", render_enum(&OBJECT_TYPE_NAMES, o->object_type));
    for (size_t i = 0; ok && i < o->count; i++) {
        const mapi_prop *p = &o->props[i];
        char fallback[16];
        const char *key = p->name;
        if (!key || !*key || strcmp(key, "object_type") == 0) {
            /* Never let a nameless property, or one clashing with
             * object_type, hide another: name it by its tag. */
            snprintf(fallback, sizeof fallback, "0x%08X", (unsigned)p->tag);
            key = fallback;
        }
        /* The first property of a name wins, as mapi_object_find does. */
        if (json_object_get(obj, key))
            continue;
        ok &= json_set(obj, key, render_prop(p));
    }
    return json_built(obj, ok);
}

json_t *render_rows(const mapi_rows *rows)
{
    json_t *arr = json_array();
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < rows->count; i++) {
        json_t *row = render_object(&rows->rows[i]);
        ok = row && json_array_append_new(arr, row) == 0;
    }
    return json_built(arr, ok);
}

json_t *render_warning(HRESULT hr)
{
    char code[16];
    snprintf(code, sizeof code, "0x%08X", (unsigned)(uint32_t)hr);
    json_t *w = json_object();
    bool ok = w != NULL;
    ok &= json_set(w, "mapi_error", json_string(hresult_name(hr)));
    ok &= json_set(w, "mapi_code", json_string(code));
    return json_built(w, ok);
}
