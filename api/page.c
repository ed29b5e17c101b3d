/* page.c - the one cursor scheme of every list (docs/contract/http.md 1.6
 * "Paging"): GET /entries/{eid}/contents, GET /addressbook, GET /sessions.
 *
 * A page is a window (offset, max) on the list's order. The next page is
 * named by an opaque cursor: version, list, offset, and a 16-byte keyed
 * BLAKE2b tag over them and the list's scope (the session and what the list
 * is of), under a key drawn at start-up. A cursor changed by one bit, made
 * for another list, another session or another search, or issued by another
 * gateway process (one that does not share this one's session store) fails
 * the tag and gets 400 MAPI_E_INVALID_PARAMETER: a
 * client can neither forge a position nor carry a cursor across scopes.
 */
#include "api_internal.h"

#include <sodium.h>
#include <string.h>

#define CURSOR_VERSION 1u
#define CURSOR_TAG_LEN 16u
#define CURSOR_HEAD_LEN 10u /* version, list, offset (64-bit little-endian) */
#define CURSOR_LEN (CURSOR_HEAD_LEN + CURSOR_TAG_LEN)
/* Base64url of CURSOR_LEN bytes without padding, and its NUL. */
#define CURSOR_TEXT_MAX 40u

static void part_hash(crypto_generichash_state *st, const void *p, size_t len)
{
    uint8_t n[8];
    for (size_t i = 0; i < 8; i++)
        n[i] = (uint8_t)((uint64_t)len >> (8 * i));
    crypto_generichash_update(st, n, sizeof n);
    if (len)
        crypto_generichash_update(st, p, len);
}

static void cursor_tag(const api *a, const uint8_t head[CURSOR_HEAD_LEN], const page_scope *sc,
                       uint8_t tag[CURSOR_TAG_LEN])
{
    /* Gateways sharing a session store share the key: a cursor from one
     * replica works on the next behind a round-robin balancer. */
    uint8_t shared[32];
    bool use_shared = core_store_key(a->core, "mapigw list cursors", shared);
    crypto_generichash_state st;
    crypto_generichash_init(&st, use_shared ? shared : a->cursor_key,
                            use_shared ? sizeof shared : sizeof a->cursor_key, CURSOR_TAG_LEN);
    sodium_memzero(shared, sizeof shared);
    crypto_generichash_update(&st, head, CURSOR_HEAD_LEN);
    part_hash(&st, sc->session_id, sc->session_id ? strlen(sc->session_id) : 0);
    part_hash(&st, sc->what, sc->what_len);
    crypto_generichash_final(&st, tag, CURSOR_TAG_LEN);
}

static void cursor_head(uint8_t head[CURSOR_HEAD_LEN], page_list list, uint64_t offset)
{
    head[0] = CURSOR_VERSION;
    head[1] = (uint8_t)list;
    for (size_t i = 0; i < 8; i++)
        head[2 + i] = (uint8_t)(offset >> (8 * i));
}

static bool bad_cursor(api_ctx *x)
{
    api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                "cursor: not a cursor this gateway issued for this list (a cursor is bound to "
                "the list, its session, its search and the gateway process)");
    return false;
}

/* The offset a cursor names, after checking its tag. */
static bool cursor_parse(api_ctx *x, const char *text, const page_scope *sc, size_t *offset)
{
    uint8_t raw[CURSOR_LEN + 1];
    size_t len = 0;
    size_t tlen = text ? strlen(text) : 0;
    if (tlen == 0 || tlen >= CURSOR_TEXT_MAX ||
        sodium_base642bin(raw, sizeof raw, text, tlen, NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != CURSOR_LEN || raw[0] != CURSOR_VERSION || raw[1] != (uint8_t)sc->list)
        return bad_cursor(x);
    uint8_t tag[CURSOR_TAG_LEN];
    cursor_tag(x->a, raw, sc, tag);
    if (crypto_verify_16(tag, raw + CURSOR_HEAD_LEN) != 0)
        return bad_cursor(x);
    uint64_t off = 0;
    for (size_t i = 0; i < 8; i++)
        off |= (uint64_t)raw[2 + i] << (8 * i);
    if (off > SIZE_MAX / 2)
        return bad_cursor(x); /* never issued: offsets grow by at most max */
    *offset = (size_t)off;
    return true;
}

/* max=: a plain decimal number 1..10000 (no sign, no blanks). */
static bool parse_max(api_ctx *x, const char *v, size_t *out)
{
    size_t n = 0;
    bool ok = v && *v && strlen(v) <= 5;
    for (const char *p = v; ok && *p; p++) {
        ok = *p >= '0' && *p <= '9';
        n = n * 10 + (size_t)(*p - '0');
    }
    if (!ok || n < 1 || n > PAGE_MAX_LIMIT) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "max: expected a number from 1 to %u",
                    PAGE_MAX_LIMIT);
        return false;
    }
    *out = n;
    return true;
}

bool page_parse(api_ctx *x, const page_scope *sc, page_window *out)
{
    out->offset = 0;
    out->max = PAGE_MAX_DEFAULT;
    bool has_max = false, has_cursor = false;
    const char *max = request_query(x, "max", &has_max);
    const char *cursor = request_query(x, "cursor", &has_cursor);
    if (has_max && !parse_max(x, max, &out->max))
        return false;
    return !has_cursor || cursor_parse(x, cursor, sc, &out->offset);
}

bool page_render(api_ctx *x, json_t *out, const page_scope *sc, const page_window *w, size_t rows,
                 size_t total)
{
    bool ok = true;
    bool more = total == SIZE_MAX ? rows >= w->max : w->offset + w->max < total;
    if (total != SIZE_MAX)
        ok &= json_set(out, "total", json_integer((json_int_t)total));
    if (!more)
        return ok;
    uint8_t raw[CURSOR_LEN];
    cursor_head(raw, sc->list, (uint64_t)(w->offset + w->max));
    cursor_tag(x->a, raw, sc, raw + CURSOR_HEAD_LEN);
    char text[CURSOR_TEXT_MAX];
    sodium_bin2base64(text, sizeof text, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return ok & json_set(out, "next", json_string(text));
}
