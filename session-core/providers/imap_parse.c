/* imap_parse.c - LIST and STATUS answers, quoting and UTF-8 clean-up
 * (imap_parse.h); FETCH is in imap_fetch.c, the tokenizer in imap_lex.c. */
#include "imap_parse.h"

#include "imap_lex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- LIST ---- */

typedef struct {
    imap_list_entry *v;
    size_t n;
    bool oom;
} list_ctx;

static unsigned list_flag(const char *s, size_t n)
{
    static const struct {
        const char *name;
        unsigned flag;
    } F[] = {{"\\Noselect", IMAP_LIST_NOSELECT},
             {"\\NonExistent", IMAP_LIST_NOSELECT},
             {"\\HasChildren", IMAP_LIST_HASCHILDREN},
             {"\\HasNoChildren", IMAP_LIST_HASNOCHILDREN}};
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++)
        if (strlen(F[i].name) == n && strncasecmp(s, F[i].name, n) == 0)
            return F[i].flag;
    return 0;
}

static bool list_line(imap_lex *l, void *vctx)
{
    list_ctx *c = vctx;
    if (c->n >= IMAP_LIST_MAX || !imap_lex_atom_is(l, "LIST") || !imap_lex_eat(l, '('))
        return true;
    unsigned flags = 0;
    const char *s;
    size_t n;
    while (!imap_lex_peek(l, ')')) {
        if (!imap_lex_atom(l, &s, &n))
            return true;
        flags |= list_flag(s, n);
    }
    l->p++; /* ')' */
    char *delim = NULL;
    imap_tok t = imap_lex_string(l, &delim, 2, false, true, false);
    if (t == IMAP_TOK_OOM)
        return !(c->oom = true);
    if (t != IMAP_TOK_NIL && (t != IMAP_TOK_STRING || strlen(delim) != 1)) {
        free(delim);
        return true;
    }
    char d = delim ? delim[0] : '\0';
    free(delim);
    char *name = NULL;
    t = imap_lex_string(l, &name, IMAP_NAME_MAX, false, false, true);
    if (t == IMAP_TOK_OOM)
        return !(c->oom = true);
    if (t != IMAP_TOK_STRING || !*name) {
        free(name);
        return true;
    }
    /* INBOX is case-insensitive (RFC 3501 5.1); one spelling for keys. */
    if (strcasecmp(name, "INBOX") == 0)
        memcpy(name, "INBOX", 5);
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0) {
            free(name); /* a server repeating itself */
            return true;
        }
    imap_list_entry *v = realloc(c->v, (c->n + 1) * sizeof *v);
    if (!v) {
        free(name);
        return !(c->oom = true);
    }
    c->v = v;
    c->v[c->n++] = (imap_list_entry){name, d, flags};
    return true;
}

HRESULT imap_parse_list(const char *buf, size_t len, imap_list_entry **out, size_t *count)
{
    list_ctx c = {NULL, 0, false};
    imap_each_untagged(buf, len, list_line, &c);
    if (c.oom) {
        imap_list_free(c.v, c.n);
        *out = NULL;
        *count = 0;
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    *out = c.v;
    *count = c.n;
    return S_OK;
}

void imap_list_free(imap_list_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(entries[i].name);
    free(entries);
}

/* ---- STATUS ---- */

typedef struct {
    bool done, has_messages, has_unseen;
    uint32_t messages, unseen;
} status_ctx;

static bool status_line(imap_lex *l, void *vctx)
{
    status_ctx *c = vctx;
    if (c->done || !imap_lex_atom_is(l, "STATUS"))
        return true;
    imap_tok t = imap_lex_string(l, NULL, 0, true, false, true);
    if (t != IMAP_TOK_STRING || !imap_lex_eat(l, '('))
        return true;
    c->done = true; /* only the first STATUS answer counts */
    while (!imap_lex_peek(l, ')')) {
        const char *s;
        size_t n;
        uint32_t v;
        if (!imap_lex_atom(l, &s, &n) || !imap_lex_number(l, &v))
            return true;
        if (n == 8 && strncasecmp(s, "MESSAGES", 8) == 0) {
            c->messages = v;
            c->has_messages = true;
        } else if (n == 6 && strncasecmp(s, "UNSEEN", 6) == 0) {
            c->unseen = v;
            c->has_unseen = true;
        }
    }
    return true;
}

bool imap_parse_status(const char *buf, size_t len, uint32_t *messages, uint32_t *unseen)
{
    status_ctx c = {0};
    imap_each_untagged(buf, len, status_line, &c);
    if (!c.has_messages || !c.has_unseen)
        return false;
    *messages = c.messages;
    *unseen = c.unseen;
    return true;
}

/* ---- SEARCH ---- */

typedef struct {
    uint32_t *v;
    size_t n, cap;
    bool oom;
} search_ctx;

static bool search_line(imap_lex *l, void *vctx)
{
    search_ctx *c = vctx;
    if (!imap_lex_atom_is(l, "SEARCH"))
        return true;
    uint32_t uid;
    while (c->n < IMAP_SEARCH_MAX && imap_lex_number(l, &uid)) {
        if (uid == 0)
            continue;
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            uint32_t *bigger = realloc(c->v, cap * sizeof *bigger);
            if (!bigger) {
                c->oom = true;
                return false;
            }
            c->v = bigger;
            c->cap = cap;
        }
        c->v[c->n++] = uid;
    }
    return true;
}

static int cmp_desc(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return (a < b) - (a > b);
}

HRESULT imap_parse_search(const char *buf, size_t len, uint32_t **uids, size_t *n)
{
    search_ctx c = {NULL, 0, 0, false};
    imap_each_untagged(buf, len, search_line, &c);
    if (c.oom) {
        free(c.v);
        *uids = NULL;
        *n = 0;
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    if (c.n > 1)
        qsort(c.v, c.n, sizeof *c.v, cmp_desc);
    size_t k = 0;
    for (size_t i = 0; i < c.n; i++)
        if (k == 0 || c.v[k - 1] != c.v[i])
            c.v[k++] = c.v[i];
    if (k == 0) {
        free(c.v);
        c.v = NULL;
    }
    *uids = c.v;
    *n = k;
    return S_OK;
}

/* ---- output ---- */

bool imap_quote(const char *name, char *out, size_t outlen)
{
    size_t k = 0;
    if (outlen < 3)
        return false;
    out[k++] = '"';
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f)
            return false;
        bool esc = *p == '"' || *p == '\\';
        if (k + (esc ? 2 : 1) + 2 > outlen)
            return false;
        if (esc)
            out[k++] = '\\';
        out[k++] = (char)*p;
    }
    out[k++] = '"';
    out[k] = '\0';
    return true;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2;
        cp = p[0] & 0x1F;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        cp = p[0] & 0x0F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void imap_utf8_sanitize(char *s)
{
    if (!s)
        return;
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        size_t k = utf8_seq(p, n);
        if (k == 0 || (k == 1 && (*p < 0x20 || *p == 0x7f))) {
            *p = '?';
            k = 1;
        }
        p += k;
        n -= k;
    }
}
