/* imap_lex.h - the tokenizer under imap_parse.c and imap_fetch.c (private to
 * those files): a cursor over one untagged response line that only moves
 * forward and never past the line's end, whatever the line claims.
 *
 * In a line libcurl handed a custom request's write callback, literals ({n})
 * end the line for us: libcurl does not pass their bytes on (imap_parse.h),
 * so a literal yields IMAP_TOK_LITERAL and moves the cursor to the end. In a
 * response framed from the raw stream (imap_each_response, literals true)
 * the literal's bytes follow it and are read as a string, never past the
 * response's end. Thread-safety: pure functions.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_MAX_DEPTH 16 /* parenthesised lists nest deeper than this: malformed */

typedef struct {
    const char *p;
    const char *end;
    bool literals; /* the bytes of literals follow them (imap_each_response) */
} imap_lex;

/* What a string-valued token turned out to be. */
typedef enum {
    IMAP_TOK_STRING,
    IMAP_TOK_NIL,
    IMAP_TOK_LITERAL,
    IMAP_TOK_ERROR,
    IMAP_TOK_OOM
} imap_tok;

void imap_lex_skip_sp(imap_lex *l);
/* Consumes c (after spaces) if it is next. */
bool imap_lex_eat(imap_lex *l, char c);
/* Whether c is next (after spaces); consumes only the spaces. */
bool imap_lex_peek(imap_lex *l, char c);
/* RFC 3501 ATOM-CHAR, also accepting the list wildcards and ']'. */
bool imap_atom_char(unsigned char c);
/* An atom: *s points into the line, *n its length; false if none. */
bool imap_lex_atom(imap_lex *l, const char **s, size_t *n);
/* An atom equal to word, case-insensitively. */
bool imap_lex_atom_is(imap_lex *l, const char *word);
/* A number 0..4294967295 (at most 10 digits, no sign). */
bool imap_lex_number(imap_lex *l, uint32_t *out);
/* A quoted string, a literal, NIL (nil_ok) or an atom (atom_ok). With out
 * not NULL a string is malloc'd into *out (NULL otherwise), unescaped, cut at
 * max bytes when cut_ok and refused (IMAP_TOK_ERROR) when longer otherwise. */
imap_tok imap_lex_string(imap_lex *l, char **out, size_t max, bool cut_ok, bool nil_ok,
                         bool atom_ok);
/* Skips one value of any shape, lists nested up to IMAP_MAX_DEPTH:
 * IMAP_TOK_STRING when skipped, IMAP_TOK_LITERAL, IMAP_TOK_ERROR. */
imap_tok imap_lex_skip_value(imap_lex *l);
/* Calls fn for each line of buf starting with "* " (the cursor after the
 * star, CR LF or LF stripped); stops when fn returns false (out of memory)
 * and returns false then. */
bool imap_each_untagged(const char *buf, size_t len, bool (*fn)(imap_lex *l, void *ctx), void *ctx);

/* Like imap_each_untagged, for the raw stream of a conversation (every line
 * the server sent, as libcurl hands a header callback): a response is a line
 * that may continue after literals ("{n}" CRLF and n bytes), so the cursor
 * given to fn covers the whole response and reads literals (literals true).
 * A literal claiming more bytes than buf holds ends the response there. */
bool imap_each_response(const char *buf, size_t len, bool (*fn)(imap_lex *l, void *ctx), void *ctx);
