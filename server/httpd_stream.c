/* httpd_stream.c - streaming answers (GET /events) without a thread each.
 *
 * libmicrohttpd pulls the body through sse_reader. When the api stream has
 * nothing to say, the reader suspends the connection and returns 0 (the
 * pattern microhttpd.h prescribes); a suspended connection costs no thread
 * and is not timed out. Three things resume it:
 *   - the stream's wake callback (the session queued an event; it runs on
 *     whichever thread queued it, with the core's lock held, so it only
 *     resumes);
 *   - the keep-alive ticker (every --events-keepalive seconds), which also
 *     lets a dead client be noticed when the comment cannot be written;
 *   - shutdown, which first asks every stream to end.
 * sc->lock and sc->suspended make sure a connection is resumed only while
 * suspended; a wake that comes while the reader runs sets sc->pending, and
 * the reader reads again instead of suspending, so no event is left waiting.
 *
 * Lifetime: a sse_conn lives from its response's creation to the request's
 * completion callback (or a failed queue). It unregisters under
 * h->streams_lock first, then frees the api stream, which unsubscribes: after
 * that neither the ticker nor the session can reach it.
 */
#include "httpd_internal.h"

#include <stdlib.h>

/* How much the reader may hand libmicrohttpd per call. */
#define SSE_BLOCK 1024

struct sse_conn {
    sse_conn *prev, *next; /* h->streams, under h->streams_lock */
    struct MHD_Connection *conn;
    api_stream *stream;
    pthread_mutex_t lock;
    bool suspended; /* under lock */
    bool pending;   /* under lock: woken while not suspended */
};

/* Resumes the connection if it is suspended, else notes the wake. */
static void sse_wake(void *ctx)
{
    sse_conn *sc = ctx;
    pthread_mutex_lock(&sc->lock);
    if (sc->suspended) {
        sc->suspended = false;
        MHD_resume_connection(sc->conn);
    } else {
        sc->pending = true;
    }
    pthread_mutex_unlock(&sc->lock);
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_conn *sc = cls;
    for (;;) {
        long n = api_stream_read(sc->stream, buf, max);
        if (n > 0)
            return (ssize_t)n;
        if (n < 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&sc->lock);
        if (sc->pending) {
            sc->pending = false;
            pthread_mutex_unlock(&sc->lock);
            continue;
        }
        sc->suspended = true;
        MHD_suspend_connection(sc->conn);
        pthread_mutex_unlock(&sc->lock);
        return 0;
    }
}

struct MHD_Response *sse_response_new(httpd *h, struct MHD_Connection *conn, api_stream *st,
                                      sse_conn **out)
{
    *out = NULL;
    sse_conn *sc = calloc(1, sizeof *sc);
    if (!sc || pthread_mutex_init(&sc->lock, NULL) != 0) {
        free(sc);
        api_stream_free(st);
        return NULL;
    }
    sc->conn = conn;
    sc->stream = st;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_reader, sc, NULL);
    if (!r) {
        pthread_mutex_destroy(&sc->lock);
        free(sc);
        api_stream_free(st);
        return NULL;
    }
    pthread_mutex_lock(&h->streams_lock);
    sc->next = h->streams;
    if (h->streams)
        h->streams->prev = sc;
    h->streams = sc;
    /* A stream opened while the gateway stops ends at once, as the others
     * did (sse_close_all has run or will run after this). */
    if (atomic_load(&h->draining))
        api_stream_close(st, "shutdown");
    pthread_mutex_unlock(&h->streams_lock);
    api_stream_set_wake(st, sse_wake, sc);
    *out = sc;
    return r;
}

void sse_conn_free(httpd *h, sse_conn *sc)
{
    if (!sc)
        return;
    pthread_mutex_lock(&h->streams_lock);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        h->streams = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    pthread_mutex_unlock(&h->streams_lock);
    api_stream_free(sc->stream); /* unsubscribes: no wake after this */
    pthread_mutex_destroy(&sc->lock);
    free(sc);
}

void sse_keepalive_all(void *ctx)
{
    httpd *h = ctx;
    pthread_mutex_lock(&h->streams_lock);
    for (sse_conn *sc = h->streams; sc; sc = sc->next) {
        api_stream_keepalive(sc->stream);
        sse_wake(sc);
    }
    pthread_mutex_unlock(&h->streams_lock);
}

void sse_close_all(httpd *h, const char *reason)
{
    pthread_mutex_lock(&h->streams_lock);
    for (sse_conn *sc = h->streams; sc; sc = sc->next) {
        api_stream_close(sc->stream, reason);
        sse_wake(sc);
    }
    pthread_mutex_unlock(&h->streams_lock);
}

void sse_release_all(httpd *h)
{
    pthread_mutex_lock(&h->streams_lock);
    for (sse_conn *sc = h->streams; sc; sc = sc->next) {
        api_stream_set_wake(sc->stream, NULL, NULL);
        pthread_mutex_lock(&sc->lock);
        if (sc->suspended) {
            sc->suspended = false;
            MHD_resume_connection(sc->conn);
        }
        /* The reader may still run once: let it end instead of suspending
         * a connection nobody would resume. */
        sc->pending = true;
        pthread_mutex_unlock(&sc->lock);
        api_stream_close(sc->stream, "shutdown");
    }
    pthread_mutex_unlock(&h->streams_lock);
}
