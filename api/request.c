/* request.c - reading what the client sent: the JSON body, flag sets given
 * as names or numbers (in JSON or in a query string), query keys.
 *
 * Each check answers the problem itself and returns false/NULL, so handlers
 * read as a list of checks.
 */
#include "api_internal.h"

#include "../session-core/entryid.h"
#include "../session-core/hex.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool content_type_is_json(const char *ct)
{
    static const char JSON_TYPE[] = "application/json";
    const size_t n = sizeof JSON_TYPE - 1;
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, JSON_TYPE, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    /* Parameters ("; charset=utf-8") are allowed; "application/jsonx" is not. */
    return *ct == '\0' || *ct == ';';
}

/* jansson's messages end in " near '<text>'", quoting the input; the input may
 * be a password, and details never echo secrets, so keep only the reason. */
static void strip_near(char *text)
{
    char *near = strstr(text, " near ");
    if (near)
        *near = '\0';
}

/* Depth of the deepest array or object in a JSON text, counted without
 * parsing (strings skipped, escapes honoured), so that a deep body is
 * refused before jansson builds a tree for it. Malformed text is left to the
 * parser. true when deeper than max. */
static bool json_nesting_exceeds(const char *s, size_t len, unsigned max)
{
    unsigned depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return false;
}

static bool is_password_key(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n >= 8 && strcmp(key + n - 8, "password") == 0;
}

/* Entry-id members ("entry_id_1", ...) have their own rule, checked where
 * they are decoded (request_entry_id: 2..8192 hex digits, else 400
 * MAPI_E_INVALID_ENTRYID), and valid ones are longer than the default
 * string limit: they are left to it. */
static bool is_entry_id_key(const char *key) { return key && strncmp(key, "entry_id", 8) == 0; }

/* Every string value and object key of v is at most max_json_string bytes
 * (password members at most API_MAX_PASSWORD_BYTES; entry-id members are
 * left to their own rule), and the tree is at
 * most max_json_depth deep (the pre-scan has checked it already; this
 * keeps the walk itself bounded whatever the parser accepted). The details
 * name the key, never the value. */
static bool check_json_strings(api_ctx *x, json_t *v, const char *key, unsigned depth)
{
    const size_t max = x->a->max_json_string;
    if ((json_is_object(v) || json_is_array(v)) && depth > x->a->max_json_depth) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                    "the JSON body nests deeper than %u levels (limit --max-json-depth)",
                    x->a->max_json_depth);
        return false;
    }
    if (json_is_string(v)) {
        size_t len = json_string_length(v);
        if (key && is_password_key(key) && len > API_MAX_PASSWORD_BYTES) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%.64s: at most %d bytes", key,
                        API_MAX_PASSWORD_BYTES);
            return false;
        }
        if (len > max && !is_entry_id_key(key)) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                        "%.64s%sa string is longer than %zu bytes (limit --max-json-string)",
                        key ? key : "", key ? ": " : "", max);
            return false;
        }
        return true;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *member;
        json_object_foreach(v, k, member)
        {
            if (strlen(k) > max) {
                api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                            "an object key is longer than %zu bytes (limit --max-json-string)",
                            max);
                return false;
            }
            if (!check_json_strings(x, member, k, depth + 1))
                return false;
        }
        return true;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (!check_json_strings(x, item, key, depth + 1))
                return false;
        }
    }
    return true;
}

json_t *request_json_object(api_ctx *x)
{
    const api_request *req = x->req;
    if (!content_type_is_json(req->content_type)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 415,
                    "the request body must be sent as Content-Type: application/json");
        return NULL;
    }
    if (req->body_too_large) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 413,
                    "the request body exceeds %zu bytes (limit --max-body-bytes)",
                    x->a->max_body_bytes);
        return NULL;
    }
    if (json_nesting_exceeds(req->body ? req->body : "", req->body_len, x->a->max_json_depth)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                    "the JSON body nests deeper than %u levels (limit --max-json-depth)",
                    x->a->max_json_depth);
        return NULL;
    }
    json_error_t err;
    json_t *root =
        json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (json_error_code(&err) == json_error_out_of_memory) {
            api_reply_oom(x);
            return NULL;
        }
        strip_near(err.text);
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                    "malformed JSON body: %s (line %d, column %d, position %d)", err.text, err.line,
                    err.column, err.position);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "the request body must be a JSON object");
        return NULL;
    }
    if (!check_json_strings(x, root, NULL, 1)) {
        json_decref(root); /* jansson's allocator wipes any password in it */
        return NULL;
    }
    return root;
}

bool request_check_keys(api_ctx *x, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        (void)value;
        bool known = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                known = true;
        if (!known) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "unknown key \"%.64s\" in the request body",
                        key);
            return false;
        }
    }
    return true;
}

static bool check_known_bits(api_ctx *x, const mapi_name_set *set, uint32_t v, const char *key)
{
    if (!mapi_flags_known(set, v)) {
        api_problem(x, MAPI_E_UNKNOWN_FLAGS, 0, "%s: undefined %s bits 0x%08X", key, set->what,
                    (unsigned)(v & ~set->mask));
        return false;
    }
    return true;
}

bool request_json_flags(api_ctx *x, const mapi_name_set *set, const json_t *v, const char *key,
                        bool check_bits, uint32_t *out)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0 || n > (json_int_t)UINT32_MAX) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                        "%s: a flag mask must be an integer from 0 to 4294967295", key);
            return false;
        }
        if (check_bits && !check_known_bits(x, set, (uint32_t)n, key))
            return false;
        *out = (uint32_t)n;
        return true;
    }
    if (!json_is_array(v)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                    "%s: expected an array of %s names or an integer", key, set->what);
        return false;
    }
    uint32_t flags = 0;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s[%zu]: expected a %s name (a string)",
                        key, i, set->what);
            return false;
        }
        uint32_t bit;
        if (!mapi_name_lookup(set, json_string_value(item), &bit)) {
            api_problem(x, MAPI_E_UNKNOWN_FLAGS, 0, "%s[%zu]: unknown %s \"%.64s\"", key, i,
                        set->what, json_string_value(item));
            return false;
        }
        flags |= bit;
    }
    *out = flags;
    return true;
}

/* A decimal or 0x-hex number filling the whole string, up to UINT32_MAX.
 * Leading zeros are decimal, not octal: "010" is ten. */
static bool parse_u32(const char *s, size_t len, uint32_t *out)
{
    int base = 10;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        len -= 2;
    }
    if (len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
        if (v > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

bool request_query_flags(api_ctx *x, const mapi_name_set *set, const char *value, const char *key,
                         uint32_t *out)
{
    if (!value) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s needs a value", key);
        return false;
    }
    if (value[0] >= '0' && value[0] <= '9') {
        uint32_t v;
        if (!parse_u32(value, strlen(value), &v)) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                        "%s: not a number from 0 to 4294967295 (decimal or 0x-hex)", key);
            return false;
        }
        if (!check_known_bits(x, set, v, key))
            return false;
        *out = v;
        return true;
    }
    uint32_t flags = 0;
    const char *p = value;
    /* An empty value means no flags; otherwise each comma-separated item
     * must be a name (spaces around it tolerated). */
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *name = p;
        size_t nlen = len;
        while (nlen && *name == ' ')
            name++, nlen--;
        while (nlen && name[nlen - 1] == ' ')
            nlen--;
        char buf[64];
        uint32_t bit;
        if (nlen == 0) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s: empty item in the list", key);
            return false;
        }
        bool found = false;
        if (nlen < sizeof buf) {
            memcpy(buf, name, nlen);
            buf[nlen] = '\0';
            found = mapi_name_lookup(set, buf, &bit);
        }
        if (!found) {
            api_problem(x, MAPI_E_UNKNOWN_FLAGS, 0, "%s: unknown %s \"%.*s\"", key, set->what,
                        (int)(nlen > 64 ? 64 : nlen), name);
            return false;
        }
        flags |= bit;
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s: empty item in the list", key);
                return false;
            }
        }
    }
    *out = flags;
    return true;
}

const char *const API_NO_QUERY[] = {NULL};

bool request_check_query(api_ctx *x, const char *const *allowed)
{
    const api_request *req = x->req;
    for (size_t i = 0; i < req->query_count; i++) {
        const char *key = req->query[i].key ? req->query[i].key : "";
        if (strcmp(key, "access_token") == 0)
            continue; /* DECISIONS.md: ignored, never a credential */
        bool known = false;
        for (size_t k = 0; allowed[k]; k++)
            if (strcmp(key, allowed[k]) == 0)
                known = true;
        if (!known) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "unknown query parameter \"%.64s\"", key);
            return false;
        }
        for (size_t j = 0; j < i; j++)
            if (req->query[j].key && strcmp(req->query[j].key, key) == 0) {
                api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                            "query parameter \"%.64s\" given more than once", key);
                return false;
            }
    }
    return true;
}

const char *request_query(const api_ctx *x, const char *key, bool *present)
{
    const api_request *req = x->req;
    *present = false;
    for (size_t i = 0; i < req->query_count; i++)
        if (req->query[i].key && strcmp(req->query[i].key, key) == 0) {
            *present = true;
            return req->query[i].value;
        }
    return NULL;
}

size_t utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

bool request_instance_key(api_ctx *x, const api_span *ik, uint8_t out[STATUS_INSTANCE_KEY_LEN])
{
    if (!hex_decode(ik->s, ik->len, out, STATUS_INSTANCE_KEY_LEN)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "instance key: expected %d hexadecimal digits",
                    2 * STATUS_INSTANCE_KEY_LEN);
        return false;
    }
    return true;
}

bool request_entry_id(api_ctx *x, const char *hex, size_t len, const char *what, uint8_t **out,
                      size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* The bound is the core's own (ENTRYID_MAX_LEN bytes): a longer id could
     * never name anything, and refusing it here keeps a client from making
     * us allocate for nothing. */
    if (len == 0 || len % 2 != 0 || len > 2 * (size_t)ENTRYID_MAX_LEN) {
        api_problem(x, MAPI_E_INVALID_ENTRYID, 0,
                    "%s: expected an even number (2..%d) of hexadecimal digits", what,
                    2 * ENTRYID_MAX_LEN);
        return false;
    }
    uint8_t *buf = malloc(len / 2);
    if (!buf) {
        api_reply_oom(x);
        return false;
    }
    if (!hex_decode(hex, len, buf, len / 2)) {
        free(buf);
        api_problem(x, MAPI_E_INVALID_ENTRYID, 0, "%s: not a hexadecimal string", what);
        return false;
    }
    *out = buf;
    *out_len = len / 2;
    return true;
}
