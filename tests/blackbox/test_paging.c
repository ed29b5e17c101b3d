/* Black-box suite "paging": the one cursor scheme of every list
 * (docs/contract/http.md 1.6): GET /entries/{eid}/contents, GET /addressbook
 * and GET /sessions answer at most max rows, a "total", and a "next" cursor
 * while rows remain; a cursor that was changed, or issued for another list,
 * session or search, is 400 MAPI_E_INVALID_PARAMETER. */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(paging, .fini = fini_gw, .timeout = 90);

#define MAIL "[\"MAPI_NEW_SESSION\"]"
#define ADMIN_KEY "paging-admin-key-0123456789abcdefghijkl"

static json_t *get_ok(const char *path, const char *token, gw_resp *r)
{
    gw_get(G, path, token, r);
    cr_assert_eq(r->status, 200, "GET %s: %ld %s", path, r->status, r->body);
    cr_assert(json_is_object(r->json), "GET %s: %s", path, r->body);
    return r->json;
}

static void expect_400(const char *path, const char *token)
{
    gw_resp r;
    gw_get(G, path, token, &r);
    gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
    gw_resp_free(&r);
}

/* Five messages in alice's INBOX, one second apart (n.x.host is n). */
static void five_messages(void)
{
    for (int i = 1; i <= 5; i++) {
        char rel[64], text[64];
        snprintf(rel, sizeof rel, "alice/Maildir/cur/%d.x.host:2,S", i);
        snprintf(text, sizeof text, "Subject: message %d\r\n\r\nbody\r\n", i);
        char *p = gw_data_path(G, "%s", rel);
        gw_write_file(p, text);
        struct timeval tv[2] = {{1000000 + i, 0}, {1000000 + i, 0}};
        cr_assert_eq(utimes(p, tv), 0);
        free(p);
    }
}

/* The entry id of INBOX (malloc'd). */
static char *inbox_id(const char *token)
{
    gw_resp r;
    json_t *j = get_ok("/stores", token, &r);
    char path[512];
    snprintf(path, sizeof path, "/stores/%s",
             gw_jstr(json_array_get(json_object_get(j, "rows"), 0), "entry_id"));
    gw_resp_free(&r);
    j = get_ok(path, token, &r);
    json_t *f;
    size_t i;
    char *id = NULL;
    json_array_foreach(json_object_get(j, "folders"), i, f)
    {
        if (strcmp(gw_jstr(f, "display_name"), "Inbox") == 0 ||
            strcmp(gw_jstr(f, "display_name"), "INBOX") == 0)
            id = strdup(gw_jstr(f, "entry_id"));
    }
    cr_assert(id, "no INBOX: %s", r.body);
    gw_resp_free(&r);
    return id;
}

/* Follows "next" from first (a path with max=) to the end; names[] gets the
 * value of key of each row of list, in order. Returns the rows seen. Every
 * page carries total == want_total, at most max rows, and next only while
 * places remain. */
static size_t follow(const char *first, const char *token, const char *list, const char *key,
                     size_t max, long want_total, char names[][64], size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", first);
    size_t seen = 0, pages = 0;
    for (;;) {
        gw_resp r;
        json_t *j = get_ok(path, token, &r);
        json_t *rows = json_object_get(j, list);
        cr_assert(json_is_array(rows), "%s", r.body);
        cr_assert_leq(json_array_size(rows), max, "%s", r.body);
        cr_assert_eq(json_integer_value(json_object_get(j, "total")), want_total, "%s", r.body);
        json_t *row;
        size_t i;
        json_array_foreach(rows, i, row)
        {
            cr_assert_lt(seen, cap);
            snprintf(names[seen++], 64, "%s", gw_jstr(row, key));
        }
        const char *next = gw_jstr(j, "next");
        pages++;
        cr_assert_leq(pages, 20, "the cursors never end");
        if (!next) {
            gw_resp_free(&r);
            return seen;
        }
        cr_assert_eq(json_array_size(rows), max, "a short page with a next: %s", r.body);
        /* Opaque, but URL-safe as it is: base64url. */
        cr_assert_eq(
            strspn(next, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            strlen(next), "%s", next);
        const char *q = strchr(first, '?');
        snprintf(path, sizeof path, "%.*s?max=%zu&cursor=%s", (int)(q ? q - first : 0), first, max,
                 next);
        if (strstr(first, "search=")) /* keep the search of the first page */
            snprintf(path + strlen(path), sizeof path - strlen(path), "&%s",
                     strstr(first, "search="));
        gw_resp_free(&r);
    }
}

Test(paging, contents_pages_follow_next_to_the_end)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    five_messages();
    char *inbox = inbox_id(s.token);
    char path[512], names[16][64];
    snprintf(path, sizeof path, "/entries/%s/contents?max=2", inbox);
    size_t n = follow(path, s.token, "rows", "subject", 2, 5, names, 16);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof want, "message %zu", 5 - i); /* newest first */
        cr_expect_str_eq(names[i], want);
    }
    /* One page holds everything: a total and no next. */
    snprintf(path, sizeof path, "/entries/%s/contents", inbox);
    gw_resp r;
    json_t *j = get_ok(path, s.token, &r);
    cr_expect_eq(json_integer_value(json_object_get(j, "total")), 5);
    cr_expect_null(json_object_get(j, "next"), "%s", r.body);
    gw_resp_free(&r);
    free(inbox);
    gw_session_free(&s);
}

Test(paging, address_book_pages_keep_their_search)
{
    G = gw_start("main.json", NULL);
    char *dir = gw_data_path(G, "alice");
    gw_mkdirs(dir);
    free(dir);
    char *f = gw_data_path(G, "alice/contacts.json");
    gw_write_file(
        f, "{\"entries\":["
           "{\"display\":\"Ann One\",\"address_type\":\"SMTP\",\"address\":\"a@x.invalid\"},"
           "{\"display\":\"Ben Two\",\"address_type\":\"SMTP\",\"address\":\"b@y.invalid\"},"
           "{\"display\":\"Cid Three\",\"address_type\":\"SMTP\",\"address\":\"c@x.invalid\"},"
           "{\"display\":\"Dee Four\",\"address_type\":\"SMTP\",\"address\":\"d@x.invalid\"}"
           "]}");
    free(f);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &s);
    char names[16][64];
    size_t n = follow("/addressbook?max=1", s.token, "entries", "display_name", 1, 4, names, 16);
    cr_assert_eq(n, 4);
    cr_expect_str_eq(names[0], "Ann One");
    cr_expect_str_eq(names[3], "Dee Four");
    n = follow("/addressbook?max=2&search=x.invalid", s.token, "entries", "display_name", 2, 3,
               names, 16);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(names[2], "Dee Four");

    /* The cursor of one search does not page another. */
    gw_resp r;
    json_t *j = get_ok("/addressbook?max=1&search=x.invalid", s.token, &r);
    char path[512];
    snprintf(path, sizeof path, "/addressbook?max=1&search=y.invalid&cursor=%s",
             gw_jstr(j, "next"));
    expect_400(path, s.token);
    snprintf(path, sizeof path, "/addressbook?max=1&cursor=%s", gw_jstr(j, "next"));
    expect_400(path, s.token);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* Two books in one profile: the pages run through the first book, then the
 * second, and the total counts both. */
Test(paging, address_book_pages_run_across_books, .fini = gw_test_files_clean)
{
#define BOOK(name, file)                                                                           \
    "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"" name "\","            \
    "\"settings\":{\"path\":\"two/" file ".json\",\"create\":true}}"
    const char *a = BOOK("Book A", "a"), *b = BOOK("Book B", "b");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"profiles\":[{\"name\":\"two\",\"auth\":{\"type\":\"none\"},\"services\":"
             "[{\"name\":\"Books\",\"providers\":[%s,%s]}]}]}",
             a, b);
    G = gw_start(gw_test_file("two.json", text), NULL);
    char *dir = gw_data_path(G, "two");
    gw_mkdirs(dir);
    free(dir);
    static const char *const files[][2] = {
        {"two/a.json", "{\"entries\":[{\"display\":\"A1\",\"address_type\":\"SMTP\","
                       "\"address\":\"a1@x.invalid\"},{\"display\":\"A2\",\"address_type\":"
                       "\"SMTP\",\"address\":\"a2@x.invalid\"},{\"display\":\"A3\","
                       "\"address_type\":\"SMTP\",\"address\":\"a3@x.invalid\"}]}"},
        {"two/b.json", "{\"entries\":[{\"display\":\"B1\",\"address_type\":\"SMTP\","
                       "\"address\":\"b1@x.invalid\"},{\"display\":\"B2\",\"address_type\":"
                       "\"SMTP\",\"address\":\"b2@x.invalid\"}]}"},
    };
    for (size_t i = 0; i < 2; i++) {
        char *f = gw_data_path(G, "%s", files[i][0]);
        gw_write_file(f, files[i][1]);
        free(f);
    }
    gw_session s;
    gw_logon_ok(G, "two", NULL, MAIL, &s);
    char names[16][64];
    size_t n = follow("/addressbook?max=2", s.token, "entries", "display_name", 2, 5, names, 16);
    cr_assert_eq(n, 5);
    static const char *const want[] = {"A1", "A2", "A3", "B1", "B2"};
    for (size_t i = 0; i < 5; i++)
        cr_expect_str_eq(names[i], want[i]);
    /* Every page carries both containers. */
    gw_resp r;
    json_t *j = get_ok("/addressbook?max=1", s.token, &r);
    cr_expect_eq(json_array_size(json_object_get(j, "containers")), 2u, "%s", r.body);
    gw_resp_free(&r);
    gw_session_free(&s);
}

/* Flips one character of a cursor (another base64url letter). */
static void flip(char *c, size_t at) { c[at] = c[at] == 'A' ? 'B' : 'A'; }

Test(paging, forged_or_foreign_cursors_are_400)
{
    G = gw_start("main.json", NULL);
    gw_session a, b;
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &a);
    gw_logon_ok(G, "alice", "alice-pw", MAIL, &b); /* another session of the same profile */
    five_messages();
    char *inbox = inbox_id(a.token);
    char path[1024];
    snprintf(path, sizeof path, "/entries/%s/contents?max=2", inbox);
    gw_resp r;
    json_t *j = get_ok(path, a.token, &r);
    cr_assert(gw_jstr(j, "next"), "%s", r.body);
    char *next = strdup(gw_jstr(j, "next"));
    gw_resp_free(&r);

    /* The cursor works for its own session and folder... */
    snprintf(path, sizeof path, "/entries/%s/contents?cursor=%s", inbox, next);
    gw_resp_free((get_ok(path, a.token, &r), &r));
    /* ...not for another session, even of the same profile and folder. */
    expect_400(path, b.token);
    /* Not for another list. */
    snprintf(path, sizeof path, "/addressbook?cursor=%s", next);
    expect_400(path, a.token);
    /* Not changed in any character: every position is covered by the tag. */
    for (size_t i = 0; i < strlen(next); i++) {
        char *forged = strdup(next);
        flip(forged, i);
        snprintf(path, sizeof path, "/entries/%s/contents?cursor=%s", inbox, forged);
        gw_get(G, path, a.token, &r);
        /* The last character carries only some bits: a flip may decode to
         * the same bytes, which is the same cursor. */
        if (!(r.status == 200 && i == strlen(next) - 1))
            gw_assert_problem(&r, 400, "MAPI_E_INVALID_PARAMETER");
        gw_resp_free(&r);
        free(forged);
    }
    /* Garbage of every shape. */
    static const char *const junk[] = {"", "x", "%2B%2F%3D", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        snprintf(path, sizeof path, "/entries/%s/contents?cursor=%s", inbox, junk[i]);
        expect_400(path, a.token);
        snprintf(path, sizeof path, "/addressbook?cursor=%s", junk[i]);
        expect_400(path, a.token);
    }
    free(next);
    free(inbox);
    gw_session_free(&a);
    gw_session_free(&b);
}

Test(paging, admin_session_list_pages_oldest_first)
{
    const char *args[] = {"--admin-key", ADMIN_KEY, NULL};
    G = gw_start("main.json", args);
    gw_add_secret(G, ADMIN_KEY);
    gw_session s[3];
    for (int i = 0; i < 3; i++)
        gw_logon_ok(G, "alice", "alice-pw", MAIL, &s[i]);
    char names[16][64];
    size_t n = follow("/sessions?max=2", ADMIN_KEY, "sessions", "id", 2, 3, names, 16);
    cr_assert_eq(n, 3);
    for (int i = 0; i < 3; i++) {
        bool found = false;
        for (size_t k = 0; k < n; k++)
            found |= strcmp(names[k], s[i].id) == 0;
        cr_expect(found, "session %s not listed", s[i].id);
    }
    cr_expect_str_neq(names[0], names[1]);
    cr_expect_str_neq(names[1], names[2]);
    /* A session's cursor is no admin cursor, and the list refuses what it
     * does not know. */
    gw_resp r;
    char path[512];
    json_t *j = get_ok("/addressbook?max=1", s[0].token, &r);
    const char *next = gw_jstr(j, "next");
    if (next) {
        snprintf(path, sizeof path, "/sessions?cursor=%s", next);
        expect_400(path, ADMIN_KEY);
    }
    gw_resp_free(&r);
    expect_400("/sessions?cursor=AAAA", ADMIN_KEY);
    expect_400("/sessions?max=0", ADMIN_KEY);
    expect_400("/sessions?other=1", ADMIN_KEY);
    for (int i = 0; i < 3; i++)
        gw_session_free(&s[i]);
}
