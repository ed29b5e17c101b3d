/* sse_fixture.c - GET /events read by libcurl on a thread of the test
 * (sse_fixture.h). */
#include "sse_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    sse *s = ctx;
    size_t len = size * n;
    pthread_mutex_lock(&s->lock);
    char *grown = realloc(s->buf, s->len + len + 1);
    if (grown) {
        memcpy(grown + s->len, data, len);
        s->buf = grown;
        s->len += len;
        s->buf[s->len] = '\0';
    }
    pthread_mutex_unlock(&s->lock);
    return grown ? len : 0;
}

static int on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&((sse *)ctx)->stop) ? 1 : 0;
}

static void *reader(void *arg)
{
    sse *s = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (s->auth[0])
        h = curl_slist_append(h, s->auth);
    if (s->last_id[0])
        h = curl_slist_append(h, s->last_id);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L); /* a bound, far above any test's wait */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    s->rc = curl_easy_perform(c);
    long st = 0;
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    pthread_mutex_lock(&s->lock);
    s->status = st;
    snprintf(s->content_type, sizeof s->content_type, "%s", ct ? ct : "");
    pthread_mutex_unlock(&s->lock);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    atomic_store(&s->done, true);
    return NULL;
}

/* GET /events with a bearer token (or none), a query ("" or "?..."), and
 * a Last-Event-ID (NULL: none). */
sse *sse_open_with(gw *g, const char *token, const char *query, const char *last_id)
{
    sse *s = calloc(1, sizeof *s);
    cr_assert(s);
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/events%s", gw_port(g), query);
    if (token)
        snprintf(s->auth, sizeof s->auth, "Authorization: Bearer %s", token);
    if (last_id)
        snprintf(s->last_id, sizeof s->last_id, "Last-Event-ID: %s", last_id);
    cr_assert_eq(pthread_create(&s->thread, NULL, reader, s), 0);
    return s;
}

static long long clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to gw_ms(timeout_ms), on the clock, for needle in what the
 * stream received. */
bool sse_wait(sse *s, const char *needle, int timeout_ms)
{
    long long deadline = clock_ms() + gw_ms(timeout_ms);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool found = s->buf && strstr(s->buf, needle);
        pthread_mutex_unlock(&s->lock);
        if (found)
            return true;
        if (clock_ms() >= deadline)
            return false;
        gw_sleep_ms(20);
    }
}

/* Waits up to gw_ms(timeout_ms), on the clock, for the server to end the
 * stream. */
bool sse_wait_done(sse *s, int timeout_ms)
{
    long long deadline = clock_ms() + gw_ms(timeout_ms);
    while (!atomic_load(&s->done) && clock_ms() < deadline)
        gw_sleep_ms(20);
    return atomic_load(&s->done);
}

void sse_close(sse *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    free(s->buf);
    free(s);
}

/* An open stream says hello first: once it arrived, the subscription
 * exists. */
sse *sse_open_ready_with(gw *g, const char *token, const char *query, const char *last_id)
{
    sse *s = sse_open_with(g, token, query, last_id);
    cr_assert(sse_wait(s, ": mapigw events", 5000), "the stream did not open: %s",
              s->buf ? s->buf : "(nothing)");
    return s;
}

char *sse_text(sse *s)
{
    pthread_mutex_lock(&s->lock);
    char *copy = strdup(s->buf ? s->buf : "");
    pthread_mutex_unlock(&s->lock);
    cr_assert_not_null(copy);
    return copy;
}
