/* Unit suite for api/json_write.c: the same bytes as jansson's
 * json_dumpb(JSON_COMPACT), on hand-picked values and on thousands of random
 * trees (seeded, so a failure repeats). */
#include "../../api/json_write.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void expect_same(const json_t *j)
{
    char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert_not_null(want);
    size_t len = 0;
    char *got = json_write_compact(j, &len);
    cr_assert_not_null(got);
    cr_expect_eq(len, strlen(want), "length %zu, jansson %zu: %s vs %s", len, strlen(want), got,
                 want);
    cr_expect_str_eq(got, want);
    json_text_free(want);
    json_text_free(got);
}

Test(json_write, hand_picked_values)
{
    const char *docs[] = {
        "{}",
        "[]",
        "{\"a\":[],\"b\":{},\"c\":[{}]}",
        "{\"z\":1,\"a\":2,\"m\":3}", /* insertion order, not sorted */
        "{\"int\":-9223372036854775807,\"zero\":0,\"big\":9223372036854775807}",
        "{\"t\":true,\"f\":false,\"n\":null}",
        "{\"real\":1.5,\"whole\":2.0,\"tiny\":1e-300,\"neg\":-0.25}",
        "{\"esc\":\"quote \\\" backslash \\\\ slash / nl \\n cr \\r tab \\t bs \\b ff \\f\"}",
        "{\"ctl\":\"\\u0001\\u001f\\u0000x\"}",
        "{\"utf8\":\"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\u2028\"}",
        "{\"k\\\"ey\\n\":\"v\"}",
        "[1,\"two\",3.0,[4,[5,[6]]],{\"seven\":null}]",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_error_t err;
        json_t *j = json_loads(docs[i], JSON_ALLOW_NUL, &err);
        cr_assert_not_null(j, "doc %zu: %s", i, err.text);
        expect_same(j);
        json_decref(j);
    }
    size_t len = 99;
    cr_expect_null(json_write_compact(NULL, &len));
}

static unsigned rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7FFF;
}

static json_t *random_string(unsigned *seed)
{
    static const char *const pieces[] = {"a",
                                         "Z",
                                         "0",
                                         " ",
                                         "\"",
                                         "\\",
                                         "/",
                                         "\n",
                                         "\t",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "mgw_",
                                         "{}",
                                         "[,]"};
    char buf[256] = "";
    size_t n = rnd(seed) % 12, len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[rnd(seed) % (sizeof pieces / sizeof pieces[0])];
        size_t pl = strlen(p);
        memcpy(buf + len, p, pl);
        len += pl;
    }
    if (rnd(seed) % 8 == 0)
        buf[len++] = '\0'; /* embedded NUL */
    return json_stringn(buf, len);
}

static json_t *random_value(unsigned *seed, int depth)
{
    unsigned kind = rnd(seed) % (depth > 4 ? 6 : 8);
    switch (kind) {
    case 0:
        return json_integer((json_int_t)rnd(seed) * (rnd(seed) % 2 ? -1 : 1) * 65537);
    case 1:
        return json_real((double)rnd(seed) / (double)(rnd(seed) + 1));
    case 2:
        return random_string(seed);
    case 3:
        return json_true();
    case 4:
        return json_false();
    case 5:
        return json_null();
    case 6: {
        json_t *a = json_array();
        for (unsigned i = rnd(seed) % 5; i > 0; i--)
            json_array_append_new(a, random_value(seed, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd(seed) % 5; i > 0; i--) {
            json_t *k = random_string(seed);
            json_object_setn_new(o, json_string_value(k), json_string_length(k),
                                 random_value(seed, depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

Test(json_write, random_trees_match_jansson)
{
    unsigned seed = 20261124;
    for (int i = 0; i < 3000; i++) {
        json_t *j = random_value(&seed, 0);
        cr_assert_not_null(j);
        expect_same(j);
        json_decref(j);
    }
}

Test(json_write, text_builder_matches_jansson)
{
    static const uint8_t bytes[] = {0x00, 0x9f, 0xff, 0x10};
    json_text t = JSON_TEXT_INIT;
    json_text_open(&t);
    json_text_key(&t, "hex");
    json_text_hex(&t, bytes, sizeof bytes);
    json_text_key(&t, "nohex");
    json_text_hex(&t, NULL, 0);
    json_text_key(&t, "s");
    json_text_string(&t, "Caf\xc3\xa9 \"q\" \\ \n \x01");
    json_text_key(&t, "bad");
    json_text_string(&t, "a\xff"
                         "b\xc3"); /* not UTF-8: U+FFFD per bad byte */
    json_text_key(&t, "none");
    json_text_string(&t, NULL);
    json_text_key(&t, "inner");
    json_text_open(&t);
    json_text_key(&t, "x");
    json_text_null(&t);
    json_text_close(&t);
    json_text_key(&t, "after");
    json_text_string(&t, "");
    json_text_key(&t, "list");
    json_text_array_open(&t);
    json_text_int(&t, -42);
    json_text_bool(&t, true);
    json_text_array_open(&t);
    json_text_array_close(&t);
    json_text_open(&t);
    json_text_key(&t, "f");
    json_text_bool(&t, false);
    json_text_close(&t);
    json_text_string(&t, "end");
    json_text_array_close(&t);
    json_text_key(&t, "n");
    json_text_int(&t, 9007199254740993LL);
    json_text_close(&t);
    size_t len = 0;
    char *got = json_text_finish(&t, &len);
    cr_assert_not_null(got);

    json_t *want = json_pack("{s:s, s:n, s:s, s:s, s:n, s:{s:n}, s:s, s:[I,b,[],{s:b},s], s:I}",
                             "hex", "009FFF10", "nohex", "s", "Caf\xc3\xa9 \"q\" \\ \n \x01", "bad",
                             "a\xef\xbf\xbd"
                             "b\xef\xbf\xbd",
                             "none", "inner", "x", "after", "", "list", (json_int_t)-42, 1, "f", 0,
                             "end", "n", (json_int_t)9007199254740993LL);
    cr_assert_not_null(want);
    char *text = json_dumps(want, JSON_COMPACT);
    cr_expect_str_eq(got, text);
    cr_expect_eq(len, strlen(text));
    json_text_free(text);
    json_text_free(got);
    json_decref(want);
}

/* Nesting past 2048 levels is refused (NULL), not a stack overflow; just
 * under it is written like jansson writes it. */
static json_t *nested(int depth)
{
    json_t *v = json_array();
    for (int i = 1; i < depth && v; i++) {
        json_t *outer = json_array();
        cr_assert_not_null(outer);
        cr_assert_eq(json_array_append_new(outer, v), 0);
        v = outer;
    }
    cr_assert_not_null(v);
    return v;
}

Test(json_write, nesting_limit)
{
    json_t *ok = nested(2000);
    expect_same(ok);
    json_decref(ok);
    json_t *deep = nested(3000);
    size_t len = 0;
    cr_expect_null(json_write_compact(deep, &len));
    json_decref(deep);
}
