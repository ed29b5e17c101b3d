/* json_write.h - compact JSON text of a jansson value, fast.
 *
 * jansson's json_dumpb walks strings through a callback per piece and was
 * the largest cost of a small answer (a third of GET /identity's
 * instructions). This writer produces the same bytes as
 * json_dumpb(JSON_COMPACT) for every value the API builds: objects in
 * insertion order, strings as UTF-8 with '"', '\\' and control characters
 * escaped, integers in decimal; reals are handed to jansson.
 *
 * Thread-safety: reentrant; the value must not change while written.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A NUL-terminated text and its length in *len; NULL when out of memory or
 * when json is NULL. Texts here come from jansson's allocator, as
 * json_dumps's do: release them with json_text_free. */
char *json_write_compact(const json_t *json, size_t *len);
/* The same text followed by a newline: an answer's body (every JSON body of
 * the gateway ends with one, so that a terminal prompt starts on its own line
 * and line-oriented tools see a complete line). */
char *json_write_line(const json_t *json, size_t *len);

/* jansson's allocator (json_set_alloc_funcs), for memory that is released
 * beside jansson's own: the texts here, json_dumps's, response bodies. In the
 * gateway it is the wiping one (server/secmem.h). json_text_free(NULL) is
 * fine. */
void *json_text_alloc(size_t n);
void json_text_free(void *p);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid:
 * overlong forms, surrogates and code points above U+10FFFF are invalid, as
 * jansson's own check has it. s must hold a NUL-terminated string. */
size_t json_utf8_sequence(const unsigned char *s);

/* ---- writing JSON text directly (hot answers) -----------------------------
 * For an answer on every request's path, building a jansson tree only to
 * write it out again costs more than the rest of the request: these append
 * to a text with the same escaping as json_write_compact. Start from
 * JSON_TEXT_INIT; any failure is remembered and json_text_finish returns
 * NULL. Keys are written as given (literals: never escaped). */
typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
    bool comma;     /* a value was written at this level: the next needs a ',' */
    bool after_key; /* a key was written: its value needs no ',' */
} json_text;

#define JSON_TEXT_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, false, false, false                                                            \
    }

/* Values: after json_text_key, or as items between array_open and
 * array_close (commas are the builder's business). */
void json_text_open(json_text *t);  /* '{' */
void json_text_close(json_text *t); /* '}' */
void json_text_array_open(json_text *t);
void json_text_array_close(json_text *t);
/* "key": (with the comma before it when needed); then exactly one value. */
void json_text_key(json_text *t, const char *key);
/* A string (NULL: null); bytes that are not UTF-8 become U+FFFD, as the
 * jansson-built answers have it (render_string_or_null). */
void json_text_string(json_text *t, const char *s);
/* Bytes as hex in a string, as render_hex writes them (NULL: null). */
void json_text_hex(json_text *t, const uint8_t *data, size_t len);
void json_text_int(json_text *t, long long v);
void json_text_bool(json_text *t, bool v);
void json_text_null(json_text *t);
/* The newline after the last value of an answer's body. */
void json_text_end_line(json_text *t);
/* The text (NUL-terminated, the caller's: json_text_free it) and its
 * length; NULL after any failure (nothing to free then). */
char *json_text_finish(json_text *t, size_t *len);
