/* json_write.c - compact JSON writer (see json_write.h). */
#include "json_write.h"

#include "../session-core/hex.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef json_text out;

/* Through jansson's allocator, as json_dumps does: json_set_alloc_funcs
 * governs every byte of JSON the api makes (its out-of-memory tests rely on
 * it), and in the gateway that allocator wipes what it frees (server/secmem.h),
 * so the texts need no wipe of their own. */
void *json_text_alloc(size_t n)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    return m(n);
}

void json_text_free(void *p)
{
    if (!p)
        return;
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    f(p);
}

static bool reserve(out *o, size_t more)
{
    if (o->oom)
        return false;
    if (o->len + more + 1 <= o->cap)
        return true;
    size_t cap = o->cap ? o->cap : 1024;
    while (cap < o->len + more + 1)
        cap *= 2;
    /* Not realloc: an answer may hold a token, and realloc would leave a
     * copy of it in freed memory (jansson's free wipes the old block). */
    char *b = json_text_alloc(cap);
    if (!b) {
        o->oom = true;
        return false;
    }
    if (o->buf) {
        memcpy(b, o->buf, o->len);
        json_text_free(o->buf);
    }
    o->buf = b;
    o->cap = cap;
    return true;
}

static void put(out *o, const char *s, size_t n)
{
    if (!reserve(o, n))
        return;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put_c(out *o, char c)
{
    if (reserve(o, 1))
        o->buf[o->len++] = c;
}

/* As jansson escapes with its default flags: '"', '\\', the short forms of
 * \b \f \n \r \t, other bytes below 0x20 as \u00XX; everything else (UTF-8
 * included, '/' included) as it is. */
static void put_string(out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF"; /* jansson's "\\u%04X" */
    put_c(o, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(o, s + start, i - start);
        start = i + 1;
        /* The short escapes JSON has for control characters. */
        static const char SHORT[0x20] = {
            ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t elen = 2;
        if (c < 0x20 && SHORT[c]) {
            esc[1] = SHORT[c];
        } else if (c < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            elen = 6;
        }
        put(o, esc, elen);
    }
    put(o, s + start, n - start);
    put_c(o, '"');
}

static void write_value(out *o, const json_t *j, int depth);

static void write_real(out *o, const json_t *j)
{
    /* Rare in answers: jansson's own formatting keeps the bytes identical. */
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        o->oom = true;
        return;
    }
    put(o, text, strlen(text));
    json_text_free(text);
}

static void write_value(out *o, const json_t *j, int depth)
{
    if (depth > 2048) { /* the API never builds this; jansson would refuse */
        o->oom = true;
        return;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        put_c(o, '{');
        const char *key;
        size_t key_len;
        json_t *v;
        bool first = true;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)j, tmp, key, key_len, v)
        {
            if (!first)
                put_c(o, ',');
            first = false;
            put_string(o, key, key_len);
            put_c(o, ':');
            write_value(o, v, depth + 1);
        }
        put_c(o, '}');
        break;
    }
    case JSON_ARRAY:
        put_c(o, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                put_c(o, ',');
            write_value(o, json_array_get(j, i), depth + 1);
        }
        put_c(o, ']');
        break;
    case JSON_STRING:
        put_string(o, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER: {
        char num[32];
        int n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        put(o, num, (size_t)n);
        break;
    }
    case JSON_REAL:
        write_real(o, j);
        break;
    case JSON_TRUE:
        put(o, "true", 4);
        break;
    case JSON_FALSE:
        put(o, "false", 5);
        break;
    case JSON_NULL:
        put(o, "null", 4);
        break;
    }
}

char *json_write_compact(const json_t *json, size_t *len)
{
    if (!json)
        return NULL;
    out o = JSON_TEXT_INIT;
    write_value(&o, json, 0);
    return json_text_finish(&o, len);
}

char *json_write_line(const json_t *json, size_t *len)
{
    if (!json)
        return NULL;
    out o = JSON_TEXT_INIT;
    write_value(&o, json, 0);
    put_c(&o, '\n');
    return json_text_finish(&o, len);
}

size_t json_utf8_sequence(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Before any value: the comma that separates it from the previous item,
 * unless it is the value of the key just written. */
static void before_value(json_text *t)
{
    if (t->after_key)
        t->after_key = false;
    else if (t->comma)
        put_c(t, ',');
    t->comma = true;
}

static void open_with(json_text *t, char bracket)
{
    before_value(t);
    put_c(t, bracket);
    t->comma = false;
}

static void close_with(json_text *t, char bracket)
{
    put_c(t, bracket);
    t->comma = true;
}

void json_text_open(json_text *t) { open_with(t, '{'); }
void json_text_close(json_text *t) { close_with(t, '}'); }
void json_text_array_open(json_text *t) { open_with(t, '['); }
void json_text_array_close(json_text *t) { close_with(t, ']'); }

void json_text_key(json_text *t, const char *key)
{
    if (t->comma)
        put_c(t, ',');
    put_c(t, '"');
    put(t, key, strlen(key));
    put(t, "\":", 2);
    t->after_key = true;
}

void json_text_end_line(json_text *t) { put_c(t, '\n'); }

void json_text_null(json_text *t)
{
    before_value(t);
    put(t, "null", 4);
}

void json_text_bool(json_text *t, bool v)
{
    before_value(t);
    if (v)
        put(t, "true", 4);
    else
        put(t, "false", 5);
}

void json_text_int(json_text *t, long long v)
{
    before_value(t);
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", v);
    put(t, num, (size_t)n);
}

void json_text_string(json_text *t, const char *s)
{
    if (!s) {
        json_text_null(t);
        return;
    }
    before_value(t);
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n && json_utf8_sequence((const unsigned char *)s + i) > 0)
        i += json_utf8_sequence((const unsigned char *)s + i);
    if (i == n) {
        put_string(t, s, n);
        return;
    }
    /* Not UTF-8: each bad byte becomes U+FFFD, then the usual escaping. */
    char *fixed = json_text_alloc(3 * n + 1);
    if (!fixed) {
        t->oom = true;
        return;
    }
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t k = json_utf8_sequence((const unsigned char *)s + i);
        if (k == 0) {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(fixed + o, s + i, k);
            o += k;
            i += k;
        }
    }
    put_string(t, fixed, o);
    json_text_free(fixed);
}

void json_text_hex(json_text *t, const uint8_t *data, size_t len)
{
    if (!data) {
        json_text_null(t);
        return;
    }
    before_value(t);
    if (!reserve(t, 2 * len + 3))
        return;
    t->buf[t->len++] = '"';
    hex_encode(data, len, t->buf + t->len); /* the gateway's one hex form */
    t->len += 2 * len;
    t->buf[t->len++] = '"';
}

char *json_text_finish(json_text *t, size_t *len)
{
    if (t->oom || !reserve(t, 0)) {
        json_text_free(t->buf);
        t->buf = NULL;
        return NULL;
    }
    t->buf[t->len] = '\0';
    *len = t->len;
    char *text = t->buf;
    t->buf = NULL;
    return text;
}
