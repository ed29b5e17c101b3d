/* Tokens are the only credential a session has: their form, their entropy
 * and their hashing are checked here byte by byte. */
#include "../../session-core/token.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

Test(token, new_has_prefix_length_and_alphabet)
{
    char t[TOKEN_STRING_LEN + 1];
    token_hash h;
    cr_assert_eq(token_new(t, &h), S_OK);
    cr_assert_eq(strlen(t), 47);
    cr_assert_eq(strncmp(t, "mgw_", 4), 0);
    for (size_t i = 4; i < 47; i++)
        cr_assert_not_null(strchr(B64URL, t[i]), "char %zu is '%c'", i, t[i]);
    /* 256 bits in 43 characters: the last one's two padding bits are zero. */
    cr_assert_eq((strchr(B64URL, t[46]) - B64URL) & 3, 0);
}

Test(token, parse_accepts_new_token_with_the_same_hash)
{
    char t[TOKEN_STRING_LEN + 1];
    token_hash h, h2;
    cr_assert_eq(token_new(t, &h), S_OK);
    cr_assert(token_parse(t, strlen(t), &h2));
    cr_assert(token_hash_equal(&h, &h2));
    cr_assert_eq(memcmp(h.bytes, h2.bytes, TOKEN_HASH_LEN), 0);
}

static int cmp_tokens(const void *a, const void *b) { return strcmp(a, b); }

Test(token, thousand_tokens_are_distinct)
{
    enum { N = 1000 };
    char(*t)[TOKEN_STRING_LEN + 1] = calloc(N, sizeof *t);
    cr_assert_not_null(t);
    token_hash h;
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(token_new(t[i], &h), S_OK);
    qsort(t, N, sizeof *t, cmp_tokens);
    for (size_t i = 1; i < N; i++)
        cr_assert_neq(strcmp(t[i - 1], t[i]), 0, "duplicate token");
    free(t);
}

Test(token, parse_rejects_malformed)
{
    char t[TOKEN_STRING_LEN + 1];
    char bad[TOKEN_STRING_LEN + 2];
    token_hash h;
    cr_assert_eq(token_new(t, &h), S_OK);

    memcpy(bad, t, sizeof t);
    bad[0] = 'M'; /* prefix is case-sensitive */
    cr_assert_not(token_parse(bad, TOKEN_STRING_LEN, &h));
    memcpy(bad, t, sizeof t);
    bad[3] = '-';
    cr_assert_not(token_parse(bad, TOKEN_STRING_LEN, &h));

    cr_assert_not(token_parse(t, TOKEN_STRING_LEN - 1, &h));
    memcpy(bad, t, sizeof t);
    bad[TOKEN_STRING_LEN] = 'A';
    bad[TOKEN_STRING_LEN + 1] = '\0';
    cr_assert_not(token_parse(bad, TOKEN_STRING_LEN + 1, &h));
    cr_assert_not(token_parse("", 0, &h));
    cr_assert_not(token_parse(NULL, 0, &h));

    const char outside[] = {'+', '/', '=', ' ', '.', '\0', (char)0xC3};
    for (size_t i = 0; i < sizeof outside; i++) {
        memcpy(bad, t, sizeof t);
        bad[10] = outside[i];
        cr_assert_not(token_parse(bad, TOKEN_STRING_LEN, &h), "accepted 0x%02x",
                      (unsigned char)outside[i]);
    }
    /* 'B' has a padding bit set: no 32-byte value encodes to it at the end. */
    memcpy(bad, t, sizeof t);
    bad[TOKEN_STRING_LEN - 1] = 'B';
    cr_assert_not(token_parse(bad, TOKEN_STRING_LEN, &h));
    bad[TOKEN_STRING_LEN - 1] = 'E';
    cr_assert(token_parse(bad, TOKEN_STRING_LEN, &h));
}

Test(token, hash_differs_for_different_tokens)
{
    char a[TOKEN_STRING_LEN + 1], b[TOKEN_STRING_LEN + 1];
    token_hash ha, hb, ha2;
    cr_assert_eq(token_new(a, &ha), S_OK);
    cr_assert_eq(token_new(b, &hb), S_OK);
    cr_assert_not(token_hash_equal(&ha, &hb));
    /* One character changed changes the hash. */
    a[20] = a[20] == 'A' ? 'B' : 'A';
    cr_assert(token_parse(a, TOKEN_STRING_LEN, &ha2));
    cr_assert_not(token_hash_equal(&ha, &ha2));
}

Test(token, hash_is_sha256_of_the_whole_string)
{
    /* A fixed token; the hash is `printf mgw_AAA... | sha256sum`. */
    const char *t = "mgw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    static const uint8_t want[32] = {0x17, 0x08, 0x67, 0x75, 0xc7, 0xe8, 0x12, 0x37,
                                     0x1a, 0xa3, 0x5f, 0x3f, 0xb5, 0xdd, 0x9e, 0x9a,
                                     0xaf, 0x70, 0x27, 0x68, 0x00, 0xc5, 0xa1, 0x3e,
                                     0x00, 0x64, 0x83, 0xdb, 0x75, 0x28, 0x7a, 0x07};
    token_hash h;
    cr_assert(token_parse(t, strlen(t), &h));
    cr_assert_arr_eq(h.bytes, want, 32);
}

Test(token, session_id_is_lower_hex)
{
    char a[SESSION_ID_LEN + 1], b[SESSION_ID_LEN + 1];
    cr_assert_eq(session_id_new(a), S_OK);
    cr_assert_eq(session_id_new(b), S_OK);
    cr_assert_eq(strlen(a), 32);
    cr_assert_eq(strspn(a, "0123456789abcdef"), 32);
    cr_assert_str_neq(a, b);
}

Test(token, random_bytes_fills_large_buffers)
{
    /* Above 256 bytes getrandom may return short reads; all must be filled. */
    uint8_t buf[4096] = {0};
    cr_assert_eq(random_bytes(buf, sizeof buf), S_OK);
    size_t zeros = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        zeros += buf[i] == 0;
    cr_assert_lt(zeros, 64, "%zu zero bytes of 4096", zeros);
}

Test(token, secret_equal)
{
    cr_assert(secret_equal("0123456789abcdef", 16, "0123456789abcdef", 16));
    cr_assert_not(secret_equal("0123456789abcdef", 16, "0123456789abcdeF", 16));
    cr_assert_not(secret_equal("0123456789abcdef", 16, "0123456789abcde", 15));
    cr_assert_not(secret_equal("abc", 3, "abcd", 4));
    cr_assert(secret_equal("", 0, "", 0));
}
