/* mapi_object.h - MAPI objects and table rows as property lists.
 *
 * What OpenEntry, OpenMsgStore, a hierarchy table or an address-book
 * container returns is, in MAPI, a set of tagged properties. The core and the
 * providers speak that form; the api floor renders each property under its
 * JSON name. Values are owned by the object (strings and binaries are
 * copied in); mapi_object_clear frees them.
 *
 * Thread-safety: an object is a value; do not share one between threads
 * without a lock.
 */
#pragma once

#include "hresult.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Property types (the low 16 bits of a tag). */
#define PT_LONG 0x0003u
#define PT_BOOLEAN 0x000Bu
#define PT_I8 0x0014u
#define PT_SYSTIME 0x0040u
#define PT_UNICODE 0x001Fu
#define PT_BINARY 0x0102u
#define PROP_TYPE(tag) ((tag)&0xFFFFu)

/* Tags used by the gateway (mapitags.h values). */
#define PR_ENTRYID 0x0FFF0102u
#define PR_OBJECT_TYPE 0x0FFE0003u
#define PR_RECORD_KEY 0x0FF90102u
#define PR_INSTANCE_KEY 0x0FF60102u
#define PR_PARENT_ENTRYID 0x0E090102u
#define PR_DISPLAY_NAME 0x3001001Fu
#define PR_ADDRTYPE 0x3002001Fu
#define PR_EMAIL_ADDRESS 0x3003001Fu
#define PR_COMMENT 0x3004001Fu
#define PR_PROVIDER_DISPLAY 0x3006001Fu
#define PR_SEARCH_KEY 0x300B0102u
#define PR_RESOURCE_FLAGS 0x30090003u
#define PR_DEFAULT_STORE 0x3400000Bu
#define PR_STORE_SUPPORT_MASK 0x340D0003u
#define PR_MDB_PROVIDER 0x34140102u
#define PR_CONTENT_COUNT 0x36020003u
#define PR_CONTENT_UNREAD 0x36030003u
#define PR_SUBFOLDERS 0x360A000Bu
#define PR_FOLDER_TYPE 0x36010003u
#define PR_CONTAINER_FLAGS 0x36000003u
#define PR_SUBJECT 0x0037001Fu
#define PR_SENDER_NAME 0x0C1A001Fu
#define PR_SENDER_EMAIL_ADDRESS 0x0C1F001Fu
#define PR_DISPLAY_TO 0x0E04001Fu
#define PR_MESSAGE_DELIVERY_TIME 0x0E060040u
#define PR_MESSAGE_FLAGS 0x0E070003u
#define PR_MESSAGE_SIZE 0x0E080003u
#define PR_INTERNET_MESSAGE_ID 0x1035001Fu
#define PR_STATUS_CODE 0x3E040003u
#define PR_STATUS_STRING 0x3E08001Fu

/* PR_OBJECT_TYPE values. */
#define MAPI_STORE 0x1u
#define MAPI_ADDRBOOK 0x2u
#define MAPI_FOLDER 0x3u
#define MAPI_ABCONT 0x4u
#define MAPI_MESSAGE 0x5u
#define MAPI_MAILUSER 0x6u
#define MAPI_DISTLIST 0x8u
/* MAPI_STATUS (0xA) is in mapi_flags.h. */

/* PR_MESSAGE_FLAGS bits. */
#define MSGFLAG_READ 0x1u
#define MSGFLAG_UNSENT 0x8u

typedef struct {
    uint32_t tag;
    const char *name; /* JSON key, a static string such as "display_name" */
    union {
        uint32_t l;
        bool b;
        int64_t i8;
        time_t time;
        char *str; /* UTF-8 */
        struct {
            uint8_t *data;
            size_t len;
        } bin;
    } v;
} mapi_prop;

typedef struct {
    uint32_t object_type; /* MAPI_FOLDER, ... */
    mapi_prop *props;
    size_t count;
    size_t cap;
} mapi_object;

typedef struct {
    mapi_object *rows;
    size_t count;
    size_t cap;
} mapi_rows;

/* Appends a property; the value is copied. MAPI_E_NOT_ENOUGH_MEMORY leaves
 * the object as it was. str must be valid UTF-8 (NULL: the property is not
 * added and S_OK returned). */
HRESULT mapi_object_add_long(mapi_object *o, uint32_t tag, const char *name, uint32_t v);
HRESULT mapi_object_add_bool(mapi_object *o, uint32_t tag, const char *name, bool v);
HRESULT mapi_object_add_i8(mapi_object *o, uint32_t tag, const char *name, int64_t v);
HRESULT mapi_object_add_time(mapi_object *o, uint32_t tag, const char *name, time_t v);
HRESULT mapi_object_add_string(mapi_object *o, uint32_t tag, const char *name, const char *str);
HRESULT mapi_object_add_binary(mapi_object *o, uint32_t tag, const char *name, const void *data,
                               size_t len);
/* The first property with that tag, or NULL. */
const mapi_prop *mapi_object_find(const mapi_object *o, uint32_t tag);
/* Frees the properties; the object is empty (and reusable) afterwards. */
void mapi_object_clear(mapi_object *o);

/* Appends an empty row (object_type 0) and returns it in *row (valid until the
 * next append). */
HRESULT mapi_rows_add(mapi_rows *r, mapi_object **row);
void mapi_rows_clear(mapi_rows *r);
