#include "status_row.h"

#include <stdlib.h>
#include <string.h>

/* NULL stays NULL: most optional columns are absent. */
static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

static int dup_bytes(uint8_t **dst, const uint8_t *src, size_t len)
{
    *dst = NULL;
    if (!src)
        return 0;
    /* malloc(0) may return NULL; one spare byte keeps "present but empty"
     * distinguishable from "absent". */
    *dst = malloc(len ? len : 1);
    if (!*dst)
        return -1;
    if (len)
        memcpy(*dst, src, len);
    return 0;
}

static void clear_identity(status_row *r)
{
    free(r->identity_display);
    free(r->identity_addrtype);
    free(r->identity_address);
    free(r->identity_entry_id);
    free(r->identity_search_key);
    r->identity_display = r->identity_addrtype = r->identity_address = NULL;
    r->identity_entry_id = r->identity_search_key = NULL;
    r->identity_entry_id_len = r->identity_search_key_len = 0;
    r->has_identity = false;
}

void status_row_clear(status_row *r)
{
    if (!r)
        return;
    free(r->display_name);
    free(r->provider_display);
    free(r->provider_dll_name);
    free(r->status_string);
    free(r->resource_path);
    clear_identity(r);
    memset(r, 0, sizeof *r);
}

int status_row_copy(status_row *dst, const status_row *src)
{
    /* Scalars and fixed arrays first, then every pointer replaced by its own
     * copy; a failure part-way clears what was copied so far, so the caller
     * never has to free a half-copied row. */
    *dst = *src;
    dst->display_name = dst->provider_display = dst->provider_dll_name = NULL;
    dst->status_string = dst->resource_path = NULL;
    dst->identity_display = dst->identity_addrtype = dst->identity_address = NULL;
    dst->identity_entry_id = dst->identity_search_key = NULL;

    if (dup_str(&dst->display_name, src->display_name) ||
        dup_str(&dst->provider_display, src->provider_display) ||
        dup_str(&dst->provider_dll_name, src->provider_dll_name) ||
        dup_str(&dst->status_string, src->status_string) ||
        dup_str(&dst->resource_path, src->resource_path) ||
        dup_str(&dst->identity_display, src->identity_display) ||
        dup_str(&dst->identity_addrtype, src->identity_addrtype) ||
        dup_str(&dst->identity_address, src->identity_address) ||
        dup_bytes(&dst->identity_entry_id, src->identity_entry_id, src->identity_entry_id_len) ||
        dup_bytes(&dst->identity_search_key, src->identity_search_key,
                  src->identity_search_key_len)) {
        status_row_clear(dst);
        return -1;
    }
    return 0;
}

int status_row_copy_identity(status_row *dst, const status_row *src)
{
    clear_identity(dst);
    if (dup_str(&dst->identity_display, src->identity_display) ||
        dup_str(&dst->identity_addrtype, src->identity_addrtype) ||
        dup_str(&dst->identity_address, src->identity_address) ||
        dup_bytes(&dst->identity_entry_id, src->identity_entry_id, src->identity_entry_id_len) ||
        dup_bytes(&dst->identity_search_key, src->identity_search_key,
                  src->identity_search_key_len)) {
        clear_identity(dst);
        return -1;
    }
    dst->identity_entry_id_len = dst->identity_entry_id ? src->identity_entry_id_len : 0;
    dst->identity_search_key_len = dst->identity_search_key ? src->identity_search_key_len : 0;
    dst->has_identity = src->has_identity;
    return 0;
}

void status_table_free(status_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++)
        status_row_clear(&t->rows[i]);
    free(t->rows);
    t->rows = NULL;
    t->count = 0;
}

void status_instance_key(uint64_t serial, size_t index, uint8_t ik[STATUS_INSTANCE_KEY_LEN])
{
    uint64_t k = serial << STATUS_ROW_INDEX_BITS | (uint64_t)index;
    for (int b = STATUS_INSTANCE_KEY_LEN - 1; b >= 0; b--) {
        ik[b] = (uint8_t)(k & 0xFF);
        k >>= 8;
    }
}

void status_instance_key_split(const uint8_t ik[STATUS_INSTANCE_KEY_LEN], uint64_t *serial,
                               size_t *index)
{
    uint64_t k = 0;
    for (int b = 0; b < STATUS_INSTANCE_KEY_LEN; b++)
        k = k << 8 | ik[b];
    if (serial)
        *serial = k >> STATUS_ROW_INDEX_BITS;
    if (index)
        *index = (size_t)(k & ((UINT64_C(1) << STATUS_ROW_INDEX_BITS) - 1));
}
