/* h_events.c - GET /events: the session's notifications (IMAPISession::Advise
 * with a NULL entry id) as Server-Sent Events, and the api_stream that
 * produces them (api.h).
 *
 * No thread waits for events. The stream subscribes with session_advise; the
 * core calls stream_on_wake when it queues an event, which forwards to the
 * server's wake callback (the server then resumes the suspended connection
 * and reads again). Each read takes what is queued and renders it:
 *
 *   id: <tag>-<seq>\nevent: table_modified\ndata: {"event":"fnevTableModified",
 *       "table_event":"TABLE_ROW_MODIFIED","row":{<status row>}}\n\n
 *   id: <tag>-<seq>\nevent: critical_error\ndata: {"event":"fnevCriticalError",
 *       "mapi_error":"MAPI_E_END_OF_SESSION","mapi_code":"0x80040200",
 *       "reason":"logoff_shared"}\n\n
 *   id: <tag>-<seq>\nevent: resync\ndata: {"event":"resync","reason":"overflow"}\n\n
 *
 * <tag> is the session object's (session_event_id): a Last-Event-ID this
 * replica did not issue for this session gets a resync, one it did gets the
 * table events since then (session_advise_from). The credential is the
 * bearer token or a ticket (tickets.c), never both.
 *
 * A critical error is the session's end (docs/contract/mapi.md 2.7), or the end of
 * the bearer's own handle (a plain logoff while other handles live on): the
 * stream ends right after it. Comments (": ...") open the stream, so a client knows
 * at once that it is subscribed, and keep idle streams alive.
 */
#include "api_internal.h"

#include "../session-core/hex.h"

#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* EventSource waits retry ms before reconnecting after the stream ends. */
#define EVENTS_RETRY_MS 3000
#define STR2(x) #x
#define STR(x) STR2(x)
static const char HELLO[] = ": mapigw events\nretry: " STR(EVENTS_RETRY_MS) "\n\n";
static const char KEEPALIVE[] = ": keep-alive\n\n";

struct api_stream {
    session_sub *sub;
    /* Guards the server's callback and the close reason: both are set from
     * threads other than the reader's. */
    pthread_mutex_t lock;
    void (*wake)(void *ctx);
    void *wake_ctx;
    const char *close_reason; /* static; set by api_stream_close */
    atomic_bool keepalive_due;
    /* Reader state: only the (one) reading thread touches these. */
    char *out; /* rendered bytes not yet handed out */
    size_t out_len, out_off;
    bool hello_sent;
    bool ending; /* the last event is rendered: end once out is drained */
    uint64_t last_seq;
    char tag[2 * SESSION_EVENT_TAG_LEN + 1]; /* of every id, in hex */
};

/* Called by the core with the subscription's lock held: only forwards. */
static void stream_on_wake(void *ctx)
{
    api_stream *st = ctx;
    pthread_mutex_lock(&st->lock);
    if (st->wake)
        st->wake(st->wake_ctx);
    pthread_mutex_unlock(&st->lock);
}

void api_stream_set_wake(api_stream *st, void (*wake)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&st->lock);
    st->wake = wake;
    st->wake_ctx = ctx;
    pthread_mutex_unlock(&st->lock);
}

void api_stream_keepalive(api_stream *st) { atomic_store(&st->keepalive_due, true); }

void api_stream_close(api_stream *st, const char *reason)
{
    pthread_mutex_lock(&st->lock);
    if (!st->close_reason)
        st->close_reason = reason ? reason : "shutdown";
    pthread_mutex_unlock(&st->lock);
}

void api_stream_free(api_stream *st)
{
    if (!st)
        return;
    /* First: once unadvised, the core never calls stream_on_wake again. */
    session_unadvise(st->sub);
    pthread_mutex_destroy(&st->lock);
    free(st->out);
    free(st);
}

/* Takes text (malloc'd) as the next bytes to hand out. */
static void set_out(api_stream *st, char *text, size_t len)
{
    free(st->out);
    st->out = text;
    st->out_len = len;
    st->out_off = 0;
}

static bool set_out_copy(api_stream *st, const char *text)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (!copy)
        return false;
    memcpy(copy, text, len + 1);
    set_out(st, copy, len);
    return true;
}

static json_t *critical_error_data(const char *reason)
{
    char code[16];
    snprintf(code, sizeof code, "0x%08X", (unsigned)(uint32_t)MAPI_E_END_OF_SESSION);
    json_t *data = json_object();
    bool ok = data != NULL;
    ok &= json_set(data, "event", json_string("fnevCriticalError"));
    ok &= json_set(data, "mapi_error", json_string(hresult_name(MAPI_E_END_OF_SESSION)));
    ok &= json_set(data, "mapi_code", json_string(code));
    ok &= json_set(data, "reason", json_string(reason ? reason : "logoff"));
    return json_built(data, ok);
}

static json_t *resync_data(const char *reason)
{
    json_t *data = json_object();
    bool ok = data != NULL;
    ok &= json_set(data, "event", json_string("resync"));
    ok &= json_set(data, "reason", json_string(reason ? reason : "overflow"));
    return json_built(data, ok);
}

static json_t *table_modified_data(const status_row *row)
{
    json_t *data = json_object();
    bool ok = data != NULL;
    ok &= json_set(data, "event", json_string("fnevTableModified"));
    ok &= json_set(data, "table_event", json_string("TABLE_ROW_MODIFIED"));
    ok &= json_set(data, "row", render_status_row(row));
    return json_built(data, ok);
}

/* Renders one SSE event into st->out; steals data. false when out of
 * memory. */
static bool render_event(api_stream *st, uint64_t seq, const char *name, json_t *data)
{
    if (!data)
        return false;
    size_t json_len = 0;
    char *json = api_dump_json(data, &json_len);
    json_decref(data);
    if (!json)
        return false;
    /* Compact JSON has no raw newline (strings escape them), so one data:
     * line carries the whole payload. */
    size_t cap = json_len + strlen(name) + 64;
    char *text = malloc(cap);
    if (!text) {
        json_text_free(json);
        return false;
    }
    int n = snprintf(text, cap, "id: %s-%" PRIu64 "\nevent: %s\ndata: %s\n\n", st->tag, seq, name,
                     json);
    json_text_free(json);
    if (n < 0 || (size_t)n >= cap) {
        free(text);
        return false;
    }
    set_out(st, text, (size_t)n);
    st->last_seq = seq;
    return true;
}

long api_stream_read(api_stream *st, char *buf, size_t max)
{
    if (max == 0)
        return 0;
    for (;;) {
        if (st->out_off < st->out_len) {
            size_t n = st->out_len - st->out_off;
            if (n > max)
                n = max;
            if (n > (size_t)LONG_MAX)
                n = (size_t)LONG_MAX;
            memcpy(buf, st->out + st->out_off, n);
            st->out_off += n;
            return (long)n;
        }
        set_out(st, NULL, 0);
        if (st->ending)
            return -1;
        if (!st->hello_sent) {
            st->hello_sent = true;
            if (!set_out_copy(st, HELLO))
                return -1;
            continue;
        }
        session_event ev;
        HRESULT hr = session_sub_next(st->sub, &ev);
        if (hr == S_OK) {
            bool ok;
            if (ev.kind == SESSION_EVENT_CRITICAL_ERROR) {
                st->ending = true;
                ok = render_event(st, ev.seq, "critical_error", critical_error_data(ev.reason));
            } else if (ev.kind == SESSION_EVENT_RESYNC) {
                ok = render_event(st, ev.seq, "resync", resync_data(ev.reason));
            } else {
                ok = render_event(st, ev.seq, "table_modified", table_modified_data(&ev.row));
            }
            session_event_clear(&ev);
            /* Out of memory: end the stream rather than silently skip an
             * event; the client reconnects and reads GET /status. */
            if (!ok)
                return -1;
            continue;
        }
        if (hr != MAPI_E_NOT_FOUND)
            return -1; /* the session ended without a word: nothing more */
        pthread_mutex_lock(&st->lock);
        const char *reason = st->close_reason;
        pthread_mutex_unlock(&st->lock);
        if (reason) {
            st->ending = true;
            if (!render_event(st, st->last_seq + 1, "critical_error", critical_error_data(reason)))
                return -1;
            continue;
        }
        if (atomic_exchange(&st->keepalive_due, false)) {
            if (!set_out_copy(st, KEEPALIVE))
                return -1;
            continue;
        }
        return 0;
    }
}

/* Last-Event-ID: "<16 hex>-<decimal>", as render_event writes it. Anything
 * else is an id this gateway never issued: seq UINT64_MAX, which no session
 * reaches, so the stream starts with a resync. */
static void parse_last_id(const char *v, session_event_id *out)
{
    memset(out, 0, sizeof *out);
    out->seq = UINT64_MAX;
    size_t hex = 2 * SESSION_EVENT_TAG_LEN;
    if (strlen(v) < hex + 2 || v[hex] != '-')
        return;
    session_event_id id;
    memset(&id, 0, sizeof id);
    if (!hex_decode(v, hex, id.tag, sizeof id.tag))
        return;
    uint64_t seq = 0;
    for (const char *p = v + hex + 1; *p; p++) {
        if (*p < '0' || *p > '9' || seq > (UINT64_MAX - 9) / 10)
            return;
        seq = seq * 10 + (uint64_t)(*p - '0');
    }
    id.seq = seq;
    *out = id;
}

/* The stream's credential: the bearer token, or the token a ticket stands
 * for (copied into buf, which the caller wipes). false with the answer
 * written. */
static bool events_credential(api_ctx *x, char buf[TOKEN_STRING_LEN + 1], const char **token,
                              size_t *len)
{
    bool present;
    const char *ticket = request_query(x, "ticket", &present);
    const char *v;
    size_t vlen;
    bool bearer = api_bearer(x, &v, &vlen);
    if (!present) {
        if (!bearer) {
            /* The same answer as every other resource's (auth.c): one 401 for
             * every missing credential. */
            api_problem(x, MAPI_E_LOGON_FAILED, 401,
                        "this resource needs an Authorization: Bearer <token> header");
            return false;
        }
        *token = v;
        *len = vlen;
        return true;
    }
    if (bearer || x->req->authorization) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 400,
                    "send either a ticket or an Authorization header, not both");
        return false;
    }
    if (!ticket || tickets_redeem(x->a->tickets, ticket, strlen(ticket), time(NULL), buf) != S_OK) {
        /* Unknown, used, expired and malformed tickets look alike. */
        api_problem(x, MAPI_E_END_OF_SESSION, 401,
                    "the ticket is not valid: get a new one with POST /events/tickets");
        return false;
    }
    *token = buf;
    *len = TOKEN_STRING_LEN;
    return true;
}

void h_events(api_ctx *x)
{
    static const char *const QUERY[] = {"ticket", "last_event_id", NULL};
    /* With a ticket the query is checked first, so that a malformed
     * request does not spend it; without one, the credential comes first, as
     * on every other resource. */
    bool with_ticket;
    request_query(x, "ticket", &with_ticket);
    if (with_ticket && !request_check_query(x, QUERY))
        return;
    char buf[TOKEN_STRING_LEN + 1];
    const char *token;
    size_t token_len;
    if (!events_credential(x, buf, &token, &token_len)) {
        sodium_memzero(buf, sizeof buf);
        return;
    }
    api_auth auth;
    if (!api_authenticate_token(x, token, token_len, &auth)) {
        sodium_memzero(buf, sizeof buf);
        return;
    }
    if (!with_ticket && !request_check_query(x, QUERY)) {
        api_auth_release(&auth);
        sodium_memzero(buf, sizeof buf);
        return;
    }
    if (strcmp(x->req->method, "HEAD") == 0) {
        /* HEAD says what GET would answer, without subscribing. */
        api_auth_release(&auth);
        sodium_memzero(buf, sizeof buf);
        api_reply_bytes(x, 200, "text/event-stream", "", 0);
        return;
    }
    /* The header is what EventSource sends by itself when it reconnects;
     * the parameter serves a page that opens a new one (with a new
     * ticket). */
    bool present;
    const char *last_text = x->req->last_event_id;
    if (!last_text)
        last_text = request_query(x, "last_event_id", &present);
    session_event_id last;
    if (last_text)
        parse_last_id(last_text, &last);
    api_stream *st = calloc(1, sizeof *st);
    if (!st || pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        api_auth_release(&auth);
        sodium_memzero(buf, sizeof buf);
        api_reply_oom(x);
        return;
    }
    atomic_init(&st->keepalive_due, false);
    /* Tied to the bearer's handle: its plain logoff ends this stream while
     * the session's other handles keep theirs. */
    HRESULT hr = session_advise_from(auth.session, &auth.handle, last_text ? &last : NULL,
                                     stream_on_wake, st, &st->sub);
    api_auth_release(&auth); /* the subscription holds its own reference */
    if (HR_FAILED(hr)) {
        pthread_mutex_destroy(&st->lock);
        free(st);
        sodium_memzero(buf, sizeof buf);
        /* The session ended between authentication and Advise: the token
         * is dead now, answer as for any dead token. */
        if (hr == MAPI_E_END_OF_SESSION)
            api_problem(x, hr, 401, "the bearer token is not a live session handle");
        else
            api_problem(x, hr, 0, "cannot subscribe to the session's events");
        return;
    }
    uint8_t tag[SESSION_EVENT_TAG_LEN];
    session_sub_tag(st->sub, tag);
    hex_encode(tag, sizeof tag, st->tag);
    /* The handle may have logged off between authentication and Advise,
     * after its streams were ended: look again now that this one is
     * subscribed. A logoff after this check finds the subscription. */
    bool live = api_authenticate_token(x, token, token_len, &auth);
    sodium_memzero(buf, sizeof buf);
    if (!live) {
        api_stream_free(st); /* the 401 is written */
        return;
    }
    api_auth_release(&auth);
    /* No body: the server sends what api_stream_read produces. */
    api_reply_empty(x, 200);
    x->resp->content_type = "text/event-stream";
    x->resp->stream = st;
    /* Proxies such as nginx buffer answers unless told not to; an event
     * stream must flow as it is produced. */
    api_add_header(x, "X-Accel-Buffering", "no");
}

void h_event_tickets_post(api_ctx *x)
{
    static const char *const NO_QUERY[] = {NULL};
    if (!request_check_query(x, NO_QUERY))
        return;
    const char *v;
    size_t len;
    api_auth auth;
    if (!api_authenticate(x, false, &auth))
        return;
    if (!api_bearer(x, &v, &len) || len != TOKEN_STRING_LEN) {
        api_auth_release(&auth);
        api_problem(x, MAPI_E_END_OF_SESSION, 401, "the bearer token is not a live session handle");
        return;
    }
    char ticket[TICKET_STRING_LEN + 1];
    time_t expires_at = 0;
    HRESULT hr =
        tickets_issue(x->a->tickets, v, len, &auth.handle, time(NULL), ticket, &expires_at);
    api_auth_release(&auth);
    if (hr == MAPI_E_NOT_ENOUGH_RESOURCES) {
        api_problem(x, hr, 503, "as many event tickets as allowed are waiting: retry later");
        return;
    }
    if (HR_FAILED(hr)) {
        api_problem(x, hr, 0, "cannot make an event ticket");
        return;
    }
    json_text t = JSON_TEXT_INIT;
    json_text_open(&t);
    json_text_key(&t, "ticket");
    json_text_string(&t, ticket);
    json_text_key(&t, "expires_at");
    render_time_text(&t, expires_at);
    json_text_key(&t, "expires_in_s");
    json_text_int(&t, tickets_ttl(x->a->tickets));
    json_text_close(&t);
    size_t out_len = 0;
    char *text = json_text_finish(&t, &out_len); /* jansson's allocator: wiped when freed */
    sodium_memzero(ticket, sizeof ticket);
    api_reply_json_text(x, 200, text, out_len);
}
