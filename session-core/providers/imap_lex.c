/* imap_lex.c - the bounded IMAP tokenizer (imap_lex.h). */
#include "imap_lex.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void imap_lex_skip_sp(imap_lex *l)
{
    while (l->p < l->end && *l->p == ' ')
        l->p++;
}

bool imap_lex_eat(imap_lex *l, char c)
{
    imap_lex_skip_sp(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return true;
    }
    return false;
}

bool imap_lex_peek(imap_lex *l, char c)
{
    imap_lex_skip_sp(l);
    return l->p < l->end && *l->p == c;
}

/* RFC 3501 ATOM-CHAR, but accepting the list wildcards and ']' that mailbox
 * names and flags use. */
bool imap_atom_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

bool imap_lex_atom(imap_lex *l, const char **s, size_t *n)
{
    imap_lex_skip_sp(l);
    *s = l->p;
    while (l->p < l->end && imap_atom_char((unsigned char)*l->p))
        l->p++;
    *n = (size_t)(l->p - *s);
    return *n > 0;
}

bool imap_lex_atom_is(imap_lex *l, const char *word)
{
    const char *s;
    size_t n;
    return imap_lex_atom(l, &s, &n) && n == strlen(word) && strncasecmp(s, word, n) == 0;
}

bool imap_lex_number(imap_lex *l, uint32_t *out)
{
    const char *s;
    size_t n;
    if (!imap_lex_atom(l, &s, &n) || n > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Copies [s, s+n) into a new string, cut at max bytes. */
static char *dup_cut(const char *s, size_t n, size_t max)
{
    if (n > max)
        n = max;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* "{123}" or "{123+}". Without l->literals it ends the line: the bytes are
 * not in our input (imap_parse.h), so the cursor moves to the end. With it,
 * CRLF (or LF) and the literal's bytes follow, all within the response. */
static imap_tok lex_literal(imap_lex *l, char **out, size_t max, bool cut_ok)
{
    l->p++; /* '{' */
    size_t digits = 0;
    uint64_t n = 0;
    while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
        if (digits < 11)
            n = n * 10 + (uint64_t)(*l->p - '0');
        l->p++;
        digits++;
    }
    if (l->p < l->end && *l->p == '+')
        l->p++;
    if (digits == 0 || l->p >= l->end || *l->p != '}')
        return IMAP_TOK_ERROR;
    if (!l->literals) {
        l->p = l->end;
        return IMAP_TOK_LITERAL;
    }
    l->p++;
    if (l->p < l->end && *l->p == '\r')
        l->p++;
    if (digits > 10 || l->p >= l->end || *l->p != '\n')
        return IMAP_TOK_ERROR;
    l->p++;
    if (n > (uint64_t)(l->end - l->p))
        return IMAP_TOK_ERROR; /* claims more than the response holds */
    const char *s = l->p;
    l->p += n;
    if (!out)
        return IMAP_TOK_STRING;
    if (n > max && !cut_ok)
        return IMAP_TOK_ERROR;
    if (!(*out = dup_cut(s, (size_t)n, max)))
        return IMAP_TOK_OOM;
    return IMAP_TOK_STRING;
}

/* A quoted string, unescaped. Longer than max: cut (cut_ok) or IMAP_TOK_ERROR. */
static imap_tok lex_quoted(imap_lex *l, char **out, size_t max, bool cut_ok)
{
    l->p++; /* '"' */
    const char *start = l->p;
    size_t n = 0;
    /* First pass: find the end and the unescaped length. */
    while (l->p < l->end && *l->p != '"') {
        unsigned char c = (unsigned char)*l->p;
        if (c == '\r' || c == '\n' || c == '\0')
            return IMAP_TOK_ERROR;
        if (c == '\\') {
            if (l->p + 1 >= l->end || (l->p[1] != '\\' && l->p[1] != '"'))
                return IMAP_TOK_ERROR;
            l->p++;
        }
        l->p++;
        n++;
    }
    if (l->p >= l->end)
        return IMAP_TOK_ERROR; /* unterminated */
    const char *stop = l->p;
    l->p++; /* closing '"' */
    if (!out)
        return IMAP_TOK_STRING;
    if (n > max && !cut_ok)
        return IMAP_TOK_ERROR;
    size_t keep = n > max ? max : n;
    char *d = malloc(keep + 1);
    if (!d)
        return IMAP_TOK_OOM;
    size_t k = 0;
    for (const char *q = start; q < stop && k < keep; q++) {
        if (*q == '\\')
            q++;
        d[k++] = *q;
    }
    d[k] = '\0';
    *out = d;
    return IMAP_TOK_STRING;
}

/* nstring / astring: a quoted string, a literal, NIL (nil_ok) or an atom
 * (atom_ok). out may be NULL to skip the value. */
imap_tok imap_lex_string(imap_lex *l, char **out, size_t max, bool cut_ok, bool nil_ok,
                         bool atom_ok)
{
    if (out)
        *out = NULL;
    imap_lex_skip_sp(l);
    if (l->p >= l->end)
        return IMAP_TOK_ERROR;
    if (*l->p == '"')
        return lex_quoted(l, out, max, cut_ok);
    if (*l->p == '{')
        return lex_literal(l, out, max, cut_ok);
    const char *s;
    size_t n;
    if (!imap_lex_atom(l, &s, &n))
        return IMAP_TOK_ERROR;
    if (nil_ok && n == 3 && strncasecmp(s, "NIL", 3) == 0)
        return IMAP_TOK_NIL;
    if (!atom_ok)
        return IMAP_TOK_ERROR;
    if (n > max && !cut_ok)
        return IMAP_TOK_ERROR;
    if (out && !(*out = dup_cut(s, n, max)))
        return IMAP_TOK_OOM;
    return IMAP_TOK_STRING;
}

/* Skips one value of any shape (nested lists included). IMAP_TOK_STRING when
 * skipped, IMAP_TOK_LITERAL when the rest of the line is gone (a literal
 * without its bytes), IMAP_TOK_ERROR. */
imap_tok imap_lex_skip_value(imap_lex *l)
{
    int depth = 0;
    do {
        imap_lex_skip_sp(l);
        if (l->p >= l->end)
            return IMAP_TOK_ERROR;
        if (*l->p == '(') {
            if (++depth > IMAP_MAX_DEPTH)
                return IMAP_TOK_ERROR;
            l->p++;
        } else if (*l->p == ')') {
            if (depth == 0)
                return IMAP_TOK_ERROR;
            depth--;
            l->p++;
        } else {
            imap_tok t = imap_lex_string(l, NULL, 0, true, true, true);
            if (t != IMAP_TOK_STRING && t != IMAP_TOK_NIL)
                return t;
        }
    } while (depth > 0);
    return IMAP_TOK_STRING;
}

/* Calls fn for each line of buf that starts with "* " (the cursor is put
 * after the star). fn returns false to stop (out of memory). */
bool imap_each_untagged(const char *buf, size_t len, bool (*fn)(imap_lex *l, void *ctx), void *ctx)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *text_end = (le > p && le[-1] == '\r') ? le - 1 : le;
        if (text_end - p >= 2 && p[0] == '*' && p[1] == ' ') {
            imap_lex l = {p + 1, text_end, false};
            if (!fn(&l, ctx))
                return false;
        }
        p = nl ? nl + 1 : end;
    }
    return true;
}
/* Whether the line [p, text_end) ends in a literal's "{n}" or "{n+}"; *n its
 * size. */
static bool ends_in_literal(const char *p, const char *text_end, uint64_t *n)
{
    const char *q = text_end;
    if (q == p || *--q != '}')
        return false;
    if (q > p && q[-1] == '+')
        q--;
    const char *digits_end = q;
    while (q > p && q[-1] >= '0' && q[-1] <= '9')
        q--;
    size_t digits = (size_t)(digits_end - q);
    if (digits == 0 || digits > 10 || q == p || q[-1] != '{')
        return false;
    *n = 0;
    for (const char *d = q; d < digits_end; d++)
        *n = *n * 10 + (uint64_t)(*d - '0');
    return true;
}

bool imap_each_response(const char *buf, size_t len, bool (*fn)(imap_lex *l, void *ctx), void *ctx)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *q = p, *text_end;
        for (;;) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            const char *le = nl ? nl : end;
            text_end = (le > q && le[-1] == '\r') ? le - 1 : le;
            uint64_t n;
            if (!nl || !ends_in_literal(q, text_end, &n) || n > (uint64_t)(end - (nl + 1))) {
                q = nl ? nl + 1 : end;
                break;
            }
            q = nl + 1 + n; /* the line goes on after the literal's bytes */
        }
        if (text_end - p >= 2 && p[0] == '*' && p[1] == ' ') {
            imap_lex l = {p + 1, text_end, true};
            if (!fn(&l, ctx))
                return false;
        }
        p = q;
    }
    return true;
}
