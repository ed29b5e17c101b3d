/* status_cache.c - the slots of status_cache.h. */
#include "status_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64

typedef struct {
    char id[SESSION_ID_LEN + 1];
    uint64_t version, variant;
    char *body; /* NULL: empty */
    size_t len;
} slot;

struct status_cache {
    pthread_mutex_t locks[STRIPES];
    slot slots[STATUS_CACHE_SLOTS];
};

/* FNV-1a over the id and the variant: ids are random already. */
static size_t slot_of(const char *id, uint64_t variant)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h = (h ^ variant) * 1099511628211ull;
    return (size_t)(h % STATUS_CACHE_SLOTS);
}

status_cache *status_cache_new(void)
{
    status_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    return c;
}

void status_cache_free(status_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < STATUS_CACHE_SLOTS; i++)
        free(c->slots[i].body);
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c);
}

static bool holds(const slot *s, const char *id, uint64_t version, uint64_t variant)
{
    return s->body && s->version == version && s->variant == variant && strcmp(s->id, id) == 0;
}

bool status_cache_get(status_cache *c, const char *id, uint64_t version, uint64_t variant,
                      char *(*alloc)(size_t), char **buf, size_t *len)
{
    if (strlen(id) != SESSION_ID_LEN)
        return false;
    size_t i = slot_of(id, variant);
    pthread_mutex_t *lock = &c->locks[i % STRIPES];
    bool hit = false;
    pthread_mutex_lock(lock);
    slot *s = &c->slots[i];
    if (holds(s, id, version, variant) && (*buf = alloc(s->len ? s->len : 1))) {
        memcpy(*buf, s->body, s->len);
        *len = s->len;
        hit = true;
    }
    pthread_mutex_unlock(lock);
    return hit;
}

void status_cache_put(status_cache *c, const char *id, uint64_t version, uint64_t variant,
                      const char *body, size_t len)
{
    if (strlen(id) != SESSION_ID_LEN)
        return;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, body, len);
    size_t i = slot_of(id, variant);
    pthread_mutex_t *lock = &c->locks[i % STRIPES];
    pthread_mutex_lock(lock);
    slot *s = &c->slots[i];
    char *old = s->body;
    memcpy(s->id, id, SESSION_ID_LEN + 1);
    s->version = version;
    s->variant = variant;
    s->body = copy;
    s->len = len;
    pthread_mutex_unlock(lock);
    free(old);
}
