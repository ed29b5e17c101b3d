/* model.c - what is known per session id, shared by all client threads
 * (see "The model" in stress.c). */
#include "stress.h"

/* Per session id, shared by all threads: the latest send time of a request
 * that surely touched it (a 2xx with a handle of it, or the logon that created
 * it), and whether a MAPI_LOGOFF_SHARED was sent for it / answered 204. */
typedef struct srec {
    struct srec *next;
    double sure_touch;
    double lsh_sent; /* 0: never */
    double lsh_done; /* 0: not yet */
    char id[];
} srec;

#define NBUCKETS 8192
static srec *buckets[NBUCKETS];
static pthread_mutex_t srec_lock = PTHREAD_MUTEX_INITIALIZER;

static srec *srec_get_locked(const char *id)
{
    unsigned h = 5381;
    for (const char *p = id; *p; p++)
        h = h * 33 + (unsigned char)*p;
    srec **b = &buckets[h % NBUCKETS];
    for (srec *r = *b; r; r = r->next)
        if (strcmp(r->id, id) == 0)
            return r;
    srec *r = calloc(1, sizeof *r + strlen(id) + 1);
    if (!r)
        die("out of memory");
    strcpy(r->id, id);
    r->next = *b;
    *b = r;
    return r;
}

void srec_touch(const char *id, double sent)
{
    pthread_mutex_lock(&srec_lock);
    srec *r = srec_get_locked(id);
    if (sent > r->sure_touch)
        r->sure_touch = sent;
    pthread_mutex_unlock(&srec_lock);
}

sinfo srec_read(const char *id)
{
    pthread_mutex_lock(&srec_lock);
    const srec *r = srec_get_locked(id);
    sinfo copy = {r->sure_touch, r->lsh_sent, r->lsh_done};
    pthread_mutex_unlock(&srec_lock);
    return copy;
}

void srec_lsh(const char *id, double sent, double done)
{
    pthread_mutex_lock(&srec_lock);
    srec *r = srec_get_locked(id);
    if (sent && (!r->lsh_sent || sent < r->lsh_sent))
        r->lsh_sent = sent;
    if (done && (!r->lsh_done || done < r->lsh_done))
        r->lsh_done = done;
    pthread_mutex_unlock(&srec_lock);
}
