/* profile_split.c - a large profiles file parsed one profile at a time.
 *
 * jansson builds the whole document as a tree: for 50,000 profiles some
 * 2.5 million values and half a gigabyte, built, walked once and freed. Here
 * only the top level is parsed as a whole, except the "profiles" array,
 * whose elements are found by their brackets and parsed one by one when the
 * loader asks. Anything unusual (not an object at the top, a key twice, an
 * element that is not valid JSON) makes the split give up: the loader then
 * parses the whole text as before, so every error is reported as jansson words
 * it, with the right line and column.
 */
#include "profile_internal.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The end of the JSON value that starts at p, by structure only (strings with
 * their escapes, nesting); NULL when it does not end. jansson validates the
 * value itself afterwards. */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;
    for (; p < end; p++) {
        char c = *p;
        if (c == '"') {
            /* The closing quote: the next one after an even run of
             * backslashes (memchr: most of a file is inside strings). */
            const char *q = p + 1;
            for (;;) {
                q = memchr(q, '"', (size_t)(end - q));
                if (!q)
                    return NULL;
                size_t bs = 0;
                while (q - bs - 1 > p && q[-1 - (ptrdiff_t)bs] == '\\')
                    bs++;
                if (bs % 2 == 0)
                    break;
                q++;
            }
            p = q;
            if (depth == 0)
                return p + 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (--depth < 0)
                return NULL;
            if (depth == 0)
                return p + 1;
        } else if (depth == 0 &&
                   (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            return p; /* the end of a number, true, false or null */
        }
    }
    return depth == 0 ? end : NULL;
}

static json_t *load_piece(const char *p, const char *end)
{
    json_error_t e;
    return json_loadb(p, (size_t)(end - p), JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
}

/* The elements of the array at p ('['), as extents. */
static bool split_array(const char *p, const char *end, profile_split *out, const char **after)
{
    size_t cap = 0;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']') {
        *after = p + 1;
        return true;
    }
    for (;;) {
        const char *v = skip_value(p, end);
        if (!v || v == p)
            return false;
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            size_t *ns = realloc(out->start, ncap * sizeof *ns);
            if (!ns)
                return false;
            out->start = ns;
            size_t *nl = realloc(out->len, ncap * sizeof *nl);
            if (!nl)
                return false;
            out->len = nl;
            cap = ncap;
        }
        out->start[out->n] = (size_t)(p - out->text);
        out->len[out->n] = (size_t)(v - p);
        out->n++;
        p = skip_ws(v, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') {
            *after = p + 1;
            return true;
        }
        return false;
    }
}

bool profile_split_text(const char *text, size_t len, json_t **root, profile_split *out)
{
    memset(out, 0, sizeof *out);
    out->text = text;
    *root = NULL;
    const char *end = text + len, *p = skip_ws(text, end);
    json_t *r = json_object();
    if (!r || p >= end || *p != '{')
        goto give_up;
    p = skip_ws(p + 1, end);
    bool first = true, seen_profiles = false;
    for (;;) {
        if (p < end && *p == '}' && first) {
            p++;
            break;
        }
        const char *k = skip_value(p, end);
        if (!k || *p != '"')
            goto give_up;
        json_t *key = load_piece(p, k);
        if (!json_is_string(key) || json_object_get(r, json_string_value(key)) ||
            strlen(json_string_value(key)) != json_string_length(key)) {
            json_decref(key);
            goto give_up;
        }
        p = skip_ws(k, end);
        if (p >= end || *p != ':') {
            json_decref(key);
            goto give_up;
        }
        p = skip_ws(p + 1, end);
        json_t *value;
        if (strcmp(json_string_value(key), "profiles") == 0 && p < end && *p == '[') {
            /* A placeholder: the loader takes the elements from out. */
            if (!split_array(p, end, out, &p) || !(value = json_array())) {
                json_decref(key);
                goto give_up;
            }
            seen_profiles = true;
        } else {
            const char *v = skip_value(p, end);
            if (!v || !(value = load_piece(p, v))) {
                json_decref(key);
                goto give_up;
            }
            p = v;
        }
        int rc = json_object_set_new(r, json_string_value(key), value);
        json_decref(key);
        if (rc != 0)
            goto give_up;
        first = false;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        goto give_up;
    }
    if (skip_ws(p, end) != end || !seen_profiles)
        goto give_up;
    *root = r;
    return true;
give_up:
    json_decref(r);
    profile_split_free(out);
    return false;
}

json_t *profile_split_element(const profile_split *s, size_t i)
{
    const char *p = s->text + s->start[i];
    return load_piece(p, p + s->len[i]);
}

void profile_split_free(profile_split *s)
{
    free(s->start);
    free(s->len);
    s->start = s->len = NULL;
    s->n = 0;
}
