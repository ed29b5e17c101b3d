/* tickets.c - event tickets: what a browser's EventSource, which cannot send
 * an Authorization header, puts in GET /events?ticket= instead of the token
 * (docs/contract/http.md 7.2).
 *
 * A ticket is "mgt_" and 43 base64url characters (256 bits from the OS
 * CSPRNG). The gateway keeps, per ticket, the SHA-256 of the ticket (found
 * by its first 8 bytes, then compared in full in constant time), its
 * deadline, the hash of the
 * handle that asked for it, and that handle's token sealed
 * (XSalsa20-Poly1305) under a key derived from the ticket. Redeeming
 * unseals the token and authenticates it as any request does: a ticket
 * whose handle logged off or expired opens nothing, without any hook into
 * the core. What is kept opens nothing without the ticket, which only the
 * client holds. A ticket is removed at its first use, good or bad, and
 * when its deadline passes.
 *
 * Tickets live in this process: with a shared session store, a ticket is
 * redeemed only on the replica that issued it (the contract says so; the
 * console asks for a new one when a stream cannot open).
 */
#include "api_internal.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Outstanding tickets, in all and per handle: a page reconnecting asks for
 * one at a time; more than a few waiting for one handle is a loop gone
 * wrong, and its oldest ones make room. */
#define TICKETS_MAX 1024
#define TICKETS_PER_HANDLE 8
#define TICKET_RANDOM_BYTES 32

typedef struct {
    bool used; /* the slot holds a ticket */
    uint8_t id[crypto_hash_sha256_BYTES];
    token_hash handle;
    time_t expires_at;
    uint64_t serial; /* issue order, for the per-handle bound */
    uint8_t nonce[crypto_secretbox_NONCEBYTES];
    uint8_t sealed[TOKEN_STRING_LEN + crypto_secretbox_MACBYTES];
} ticket_slot;

struct api_tickets {
    pthread_mutex_t lock;
    unsigned ttl_s;
    uint64_t serial;
    ticket_slot slots[TICKETS_MAX];
};

api_tickets *tickets_new(unsigned ttl_s)
{
    api_tickets *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    t->ttl_s = ttl_s ? ttl_s : 1;
    return t;
}

void tickets_free(api_tickets *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    sodium_memzero(t->slots, sizeof t->slots);
    free(t);
}

unsigned tickets_ttl(const api_tickets *t) { return t->ttl_s; }

static void slot_clear(ticket_slot *s) { sodium_memzero(s, sizeof *s); }

/* The first 8 bytes of a SHA-256, to pass over slots at once. Hashes of
 * 256-bit random values: which slots share a prefix with a guess says
 * nothing of any ticket. A candidate is then compared in full in constant
 * time. */
static uint64_t prefix(const uint8_t *h)
{
    uint64_t p;
    memcpy(&p, h, sizeof p);
    return p;
}

static bool same_handle(const ticket_slot *s, const token_hash *h)
{
    return prefix(s->handle.bytes) == prefix(h->bytes) && token_hash_equal(&s->handle, h);
}

/* The lookup id and the sealing key of a ticket: two hashes under
 * different contexts, so that the stored one says nothing of the key. */
static void ticket_id(const char *ticket, size_t len, uint8_t id[crypto_hash_sha256_BYTES])
{
    crypto_hash_sha256(id, (const unsigned char *)ticket, len);
}

static void ticket_key(const char *ticket, size_t len, uint8_t key[crypto_secretbox_KEYBYTES])
{
    static const char CONTEXT[] = "mapigw event ticket seal v1";
    crypto_generichash(key, crypto_secretbox_KEYBYTES, (const unsigned char *)ticket, len,
                       (const unsigned char *)CONTEXT, sizeof CONTEXT - 1);
}

/* Drops expired tickets (lock held). */
static void sweep(api_tickets *t, time_t now)
{
    for (size_t i = 0; i < TICKETS_MAX; i++)
        if (t->slots[i].used && t->slots[i].expires_at <= now)
            slot_clear(&t->slots[i]);
}

HRESULT tickets_issue(api_tickets *t, const char *token, size_t token_len, const token_hash *handle,
                      time_t now, char out[TICKET_STRING_LEN + 1], time_t *expires_at)
{
    if (token_len != TOKEN_STRING_LEN)
        return MAPI_E_INVALID_PARAMETER;
    uint8_t raw[TICKET_RANDOM_BYTES];
    if (random_bytes(raw, sizeof raw) != S_OK)
        return MAPI_E_CALL_FAILED;
    memcpy(out, TICKET_PREFIX, TICKET_PREFIX_LEN);
    sodium_bin2base64(out + TICKET_PREFIX_LEN, TICKET_STRING_LEN - TICKET_PREFIX_LEN + 1, raw,
                      sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);

    ticket_slot fresh;
    memset(&fresh, 0, sizeof fresh);
    fresh.used = true;
    ticket_id(out, TICKET_STRING_LEN, fresh.id);
    fresh.handle = *handle;
    fresh.expires_at = now + (time_t)t->ttl_s;
    randombytes_buf(fresh.nonce, sizeof fresh.nonce);
    uint8_t key[crypto_secretbox_KEYBYTES];
    ticket_key(out, TICKET_STRING_LEN, key);
    crypto_secretbox_easy(fresh.sealed, (const unsigned char *)token, TOKEN_STRING_LEN, fresh.nonce,
                          key);
    sodium_memzero(key, sizeof key);

    pthread_mutex_lock(&t->lock);
    sweep(t, now);
    size_t free_slot = TICKETS_MAX, oldest = TICKETS_MAX, mine = 0;
    for (size_t i = 0; i < TICKETS_MAX; i++) {
        ticket_slot *s = &t->slots[i];
        if (!s->used) {
            if (free_slot == TICKETS_MAX)
                free_slot = i;
        } else if (same_handle(s, handle)) {
            mine++;
            if (oldest == TICKETS_MAX || s->serial < t->slots[oldest].serial)
                oldest = i;
        }
    }
    if (mine >= TICKETS_PER_HANDLE) {
        slot_clear(&t->slots[oldest]);
        free_slot = oldest;
    }
    HRESULT hr = MAPI_E_NOT_ENOUGH_RESOURCES;
    if (free_slot < TICKETS_MAX) {
        fresh.serial = ++t->serial;
        t->slots[free_slot] = fresh;
        *expires_at = fresh.expires_at;
        hr = S_OK;
    }
    pthread_mutex_unlock(&t->lock);
    sodium_memzero(&fresh, sizeof fresh);
    if (hr != S_OK)
        sodium_memzero(out, TICKET_STRING_LEN + 1);
    return hr;
}

HRESULT tickets_redeem(api_tickets *t, const char *ticket, size_t len, time_t now,
                       char token[TOKEN_STRING_LEN + 1])
{
    if (len != TICKET_STRING_LEN || memcmp(ticket, TICKET_PREFIX, TICKET_PREFIX_LEN) != 0)
        return MAPI_E_END_OF_SESSION;
    uint8_t id[crypto_hash_sha256_BYTES];
    ticket_id(ticket, len, id);
    ticket_slot found;
    memset(&found, 0, sizeof found);
    bool have = false;
    pthread_mutex_lock(&t->lock);
    uint64_t want = prefix(id);
    for (size_t i = 0; i < TICKETS_MAX && !have; i++) {
        ticket_slot *s = &t->slots[i];
        if (s->used && prefix(s->id) == want && sodium_memcmp(s->id, id, sizeof id) == 0) {
            found = *s;
            have = true;
            slot_clear(s); /* single use, whatever comes next */
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (!have)
        return MAPI_E_END_OF_SESSION;
    HRESULT hr = MAPI_E_END_OF_SESSION;
    if (found.expires_at > now) {
        uint8_t key[crypto_secretbox_KEYBYTES];
        ticket_key(ticket, len, key);
        if (crypto_secretbox_open_easy((unsigned char *)token, found.sealed, sizeof found.sealed,
                                       found.nonce, key) == 0) {
            token[TOKEN_STRING_LEN] = '\0';
            hr = S_OK;
        }
        sodium_memzero(key, sizeof key);
    }
    sodium_memzero(&found, sizeof found);
    return hr;
}

void tickets_forget_handle(api_tickets *t, const token_hash *handle)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < TICKETS_MAX; i++)
        if (t->slots[i].used && same_handle(&t->slots[i], handle))
            slot_clear(&t->slots[i]);
    pthread_mutex_unlock(&t->lock);
}
