#include "token.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <sys/random.h>

_Static_assert(TOKEN_STRING_LEN - TOKEN_PREFIX_LEN == (TOKEN_RANDOM_BYTES * 8 + 5) / 6,
               "43 base64url characters hold exactly 32 bytes");
_Static_assert(TOKEN_HASH_LEN == crypto_hash_sha256_BYTES, "token_hash is a SHA-256");

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void sodium_init_once(void)
{
    /* 1 means "already initialised", which is fine: another module may have
     * called sodium_init first. */
    sodium_ok = sodium_init() >= 0;
}

static bool sodium_ready(void)
{
    if (pthread_once(&sodium_once, sodium_init_once) != 0)
        return false;
    return sodium_ok;
}

HRESULT random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    /* getrandom may return fewer bytes than asked (above 256 bytes, or when a
     * signal arrives) and EINTR; both are retried. Any other error means the
     * kernel has no CSPRNG for us, and a token must never fall back to
     * something weaker. */
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return MAPI_E_CALL_FAILED;
        }
        p += n;
        len -= (size_t)n;
    }
    return S_OK;
}

/* base64url without padding; out receives 4*len/3 rounded up characters and
 * no NUL. */
static void b64url_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
        out[o++] = B64URL[v >> 6 & 63];
        out[o++] = B64URL[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
        out[o++] = B64URL[v >> 6 & 63];
    }
}

/* The whole string, prefix included, is hashed, so the stored hash commits to
 * exactly what the client sends. */
static bool hash_token(const char *s, token_hash *hash)
{
    if (!sodium_ready())
        return false;
    crypto_hash_sha256(hash->bytes, (const unsigned char *)s, TOKEN_STRING_LEN);
    return true;
}

HRESULT token_new(char out[TOKEN_STRING_LEN + 1], token_hash *hash)
{
    uint8_t raw[TOKEN_RANDOM_BYTES];
    if (!sodium_ready())
        return MAPI_E_CALL_FAILED;
    HRESULT hr = random_bytes(raw, sizeof raw);
    if (HR_FAILED(hr))
        return hr;
    memcpy(out, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
    b64url_encode(raw, sizeof raw, out + TOKEN_PREFIX_LEN);
    out[TOKEN_STRING_LEN] = '\0';
    sodium_memzero(raw, sizeof raw); /* a stack copy: wiped by hand */
    if (!hash_token(out, hash)) {
        sodium_memzero(out, TOKEN_STRING_LEN + 1);
        return MAPI_E_CALL_FAILED;
    }
    return S_OK;
}

/* 1 when c is in the base64url alphabet, 0 otherwise, without branching on
 * c: a token's content is secret even when it is malformed. */
static unsigned b64url_valid(unsigned char c)
{
    unsigned v = 0;
    v |= (unsigned)(((c - 'A') & 0xFFFF) < 26);
    v |= (unsigned)(((c - 'a') & 0xFFFF) < 26);
    v |= (unsigned)(((c - '0') & 0xFFFF) < 10);
    v |= (unsigned)(c == '-');
    v |= (unsigned)(c == '_');
    return v;
}

/* The value of a valid base64url character (garbage for others). */
static unsigned b64url_value(unsigned char c)
{
    unsigned upper = (unsigned)(((c - 'A') & 0xFFFF) < 26);
    unsigned lower = (unsigned)(((c - 'a') & 0xFFFF) < 26);
    unsigned digit = (unsigned)(((c - '0') & 0xFFFF) < 10);
    return (upper * (unsigned)(c - 'A')) + (lower * (unsigned)(c - 'a' + 26)) +
           (digit * (unsigned)(c - '0' + 52)) + ((c == '-') * 62u) + ((c == '_') * 63u);
}

bool token_parse(const char *s, size_t len, token_hash *hash)
{
    if (!s || len != TOKEN_STRING_LEN)
        return false;
    /* The prefix is public; a plain comparison is fine. */
    if (memcmp(s, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0)
        return false;
    unsigned ok = 1;
    for (size_t i = TOKEN_PREFIX_LEN; i < TOKEN_STRING_LEN; i++)
        ok &= b64url_valid((unsigned char)s[i]);
    /* 43 characters carry 258 bits for 256: the last one's two low bits are
     * padding and must be zero, so each 32-byte value has one spelling only. */
    ok &= (unsigned)((b64url_value((unsigned char)s[TOKEN_STRING_LEN - 1]) & 3u) == 0);
    if (!ok)
        return false;
    return hash_token(s, hash);
}

bool token_hash_equal(const token_hash *a, const token_hash *b)
{
    return sodium_memcmp(a->bytes, b->bytes, TOKEN_HASH_LEN) == 0;
}

HRESULT session_id_new(char out[SESSION_ID_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t raw[SESSION_ID_LEN / 2];
    HRESULT hr = random_bytes(raw, sizeof raw);
    if (HR_FAILED(hr))
        return hr;
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 0xF];
    }
    out[SESSION_ID_LEN] = '\0';
    return S_OK;
}

bool secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    if (!a || !b)
        return false;
    if (alen != blen) {
        /* Still spend the time of a comparison, so only the length (which is
         * not secret) shows in the timing. */
        volatile int sink = sodium_memcmp(a, a, alen);
        (void)sink;
        return false;
    }
    return sodium_memcmp(a, b, alen) == 0;
}
