#include "mapi_object.h"

#include "analyzer.h"

#include <stdlib.h>
#include <string.h>

static mapi_prop *append(mapi_object *o, uint32_t tag, const char *name)
{
    if (o->count == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        mapi_prop *p = realloc(o->props, cap * sizeof *p);
        if (!p)
            return NULL;
        o->props = p;
        o->cap = cap;
    }
    mapi_prop *p = &o->props[o->count];
    memset(p, 0, sizeof *p);
    p->tag = tag;
    p->name = name;
    return p;
}

/* A scalar property: value's v, under tag and name. */
static HRESULT add_value(mapi_object *o, uint32_t tag, const char *name, const mapi_prop *value)
{
    mapi_prop *p = append(o, tag, name);
    if (!p)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    p->v = value->v;
    o->count++;
    return S_OK;
}

HRESULT mapi_object_add_long(mapi_object *o, uint32_t tag, const char *name, uint32_t v)
{
    return add_value(o, tag, name, &(mapi_prop){.v.l = v});
}

HRESULT mapi_object_add_bool(mapi_object *o, uint32_t tag, const char *name, bool v)
{
    return add_value(o, tag, name, &(mapi_prop){.v.b = v});
}

HRESULT mapi_object_add_i8(mapi_object *o, uint32_t tag, const char *name, int64_t v)
{
    return add_value(o, tag, name, &(mapi_prop){.v.i8 = v});
}

HRESULT mapi_object_add_time(mapi_object *o, uint32_t tag, const char *name, time_t v)
{
    return add_value(o, tag, name, &(mapi_prop){.v.time = v});
}

HRESULT mapi_object_add_string(mapi_object *o, uint32_t tag, const char *name, const char *str)
{
    if (!str)
        return S_OK;
    char *copy = strdup(str);
    mapi_prop *p = copy ? append(o, tag, name) : NULL;
    if (!p) {
        free(copy);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    /* o owns copy from here (mapi_object_clear frees it); see analyzer.h. */
    ANALYZER_STORE_FP_BEGIN
    p->v.str = copy;
    o->count++;
    return S_OK;
    ANALYZER_STORE_FP_END
}

HRESULT mapi_object_add_binary(mapi_object *o, uint32_t tag, const char *name, const void *data,
                               size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    mapi_prop *p = copy ? append(o, tag, name) : NULL;
    if (!p) {
        free(copy);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    if (len)
        memcpy(copy, data, len);
    p->v.bin.data = copy;
    p->v.bin.len = len;
    o->count++;
    return S_OK;
}

const mapi_prop *mapi_object_find(const mapi_object *o, uint32_t tag)
{
    for (size_t i = 0; i < o->count; i++)
        if (o->props[i].tag == tag)
            return &o->props[i];
    return NULL;
}

void mapi_object_clear(mapi_object *o)
{
    for (size_t i = 0; i < o->count; i++) {
        uint32_t type = PROP_TYPE(o->props[i].tag);
        if (type == PT_UNICODE)
            free(o->props[i].v.str);
        else if (type == PT_BINARY)
            free(o->props[i].v.bin.data);
    }
    free(o->props);
    memset(o, 0, sizeof *o);
}

HRESULT mapi_rows_add(mapi_rows *r, mapi_object **row)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        mapi_object *rows = realloc(r->rows, cap * sizeof *rows);
        if (!rows)
            return MAPI_E_NOT_ENOUGH_MEMORY;
        r->rows = rows;
        r->cap = cap;
    }
    *row = &r->rows[r->count++];
    memset(*row, 0, sizeof **row);
    return S_OK;
}

void mapi_rows_clear(mapi_rows *r)
{
    for (size_t i = 0; i < r->count; i++)
        mapi_object_clear(&r->rows[i]);
    free(r->rows);
    memset(r, 0, sizeof *r);
}
