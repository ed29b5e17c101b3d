/* log.c - structured log lines on stderr or stdout (see log.h).
 *
 * A line is assembled in a fixed stack buffer: no allocation, so logging works
 * even when memory is short. Event lines are then written with write(2) (no
 * stdio buffer in between) while holding g_write_lock, so a line that needs
 * more than one write (a short write, or past PIPE_BUF on a pipe) still
 * reaches the descriptor whole, never interleaved with another thread's.
 * Access lines are appended to a batch under the same lock and written
 * together: one write(2) per request was a quarter of the CPU of
 * GET /identity. The batch goes out when full, before any event line, every
 * LOG_FLUSH_MS from the flusher thread, and at log_shutdown. Every append
 * checks the room left and keeps a reserve for the line's closing characters,
 * so a cut line is still valid JSON.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LINE_CAP 8192
#define LINE_RESERVE 4 /* room always kept for "}\n" */
#define VALUE_MAX 1024 /* bytes of one value before it is cut */
#define PATH_MAX_LOG 1024

#define BATCH_CAP 65536

static log_format g_format = LOG_FORMAT_JSON;
static int g_fd = STDERR_FILENO;
static pthread_mutex_t g_write_lock = PTHREAD_MUTEX_INITIALIZER;
/* Access lines not written yet: whole lines only, under g_write_lock. */
static char g_batch[BATCH_CAP];
static size_t g_batch_len;

/* The flusher thread, woken early by log_shutdown. */
static pthread_mutex_t g_flusher_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_flusher_wake; /* on CLOCK_MONOTONIC: log_start_flusher */
static bool g_flusher_running, g_flusher_stop;
static pthread_t g_flusher;

void log_init(log_format format, log_output output)
{
    g_format = format;
    g_fd = output == LOG_OUTPUT_STDOUT ? STDOUT_FILENO : STDERR_FILENO;
}

/* With g_write_lock held. */
static void write_all(const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(g_fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* nowhere to report a failing log descriptor */
        off += (size_t)w;
    }
}

/* With g_write_lock held. */
static void flush_batch(void)
{
    write_all(g_batch, g_batch_len);
    g_batch_len = 0;
}

void log_flush(void)
{
    pthread_mutex_lock(&g_write_lock);
    flush_batch();
    pthread_mutex_unlock(&g_write_lock);
}

static void *flusher_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_flusher_lock);
    while (!g_flusher_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until); /* a clock change must not stall it */
        until.tv_sec += LOG_FLUSH_MS / 1000;
        until.tv_nsec += (LOG_FLUSH_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_flusher_wake, &g_flusher_lock, &until);
        pthread_mutex_unlock(&g_flusher_lock);
        log_flush();
        pthread_mutex_lock(&g_flusher_lock);
    }
    pthread_mutex_unlock(&g_flusher_lock);
    return NULL;
}

int log_start_flusher(void)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&g_flusher_wake, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return -1;
    if (pthread_create(&g_flusher, NULL, flusher_main, NULL) != 0) {
        pthread_cond_destroy(&g_flusher_wake);
        return -1;
    }
    g_flusher_running = true;
    return 0;
}

void log_shutdown(void)
{
    if (g_flusher_running) {
        pthread_mutex_lock(&g_flusher_lock);
        g_flusher_stop = true;
        pthread_cond_signal(&g_flusher_wake);
        pthread_mutex_unlock(&g_flusher_lock);
        pthread_join(g_flusher, NULL);
        pthread_cond_destroy(&g_flusher_wake);
        g_flusher_running = false;
    }
    log_flush();
}

typedef struct {
    char buf[LINE_CAP];
    size_t len;
} line;

static size_t room(const line *l)
{
    return l->len + LINE_RESERVE < LINE_CAP ? LINE_CAP - LINE_RESERVE - l->len : 0;
}

static bool put_raw(line *l, const char *s, size_t n)
{
    if (n > room(l))
        return false;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

static bool put(line *l, const char *s) { return put_raw(l, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when the
 * bytes there are not one. JSON must be valid UTF-8, and decoded paths come
 * from the network, so anything else is replaced. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Appends s escaped (JSON string body, or text-format escapes), cut at
 * VALUE_MAX bytes or at the room left, never inside an escape or a UTF-8
 * sequence. Reserves `tail` bytes for what the caller appends afterwards. */
static void put_escaped(line *l, const char *s, size_t tail)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t used = 0;
    for (size_t i = 0; i < n;) {
        /* A run of plain ASCII goes in one copy when it fits whole. */
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '"' && p[j] != '\\')
            j++;
        if (j > i + 1 && used + (j - i) <= VALUE_MAX && (j - i) + tail + 3 <= room(l)) {
            put_raw(l, (const char *)p + i, j - i);
            used += j - i;
            i = j;
            continue;
        }
        char esc[8];
        const char *out = esc;
        size_t out_len;
        size_t step = 1;
        if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\', esc[1] = (char)p[i], out_len = 2;
        } else if (p[i] < 0x20 || p[i] == 0x7f) {
            out_len = (size_t)snprintf(esc, sizeof esc,
                                       g_format == LOG_FORMAT_JSON ? "\\u%04x" : "\\x%02x", p[i]);
        } else if (p[i] < 0x80) {
            out = (const char *)p + i, out_len = 1;
        } else if ((step = utf8_len(p + i, n - i)) > 0) {
            out = (const char *)p + i, out_len = step;
        } else {
            step = 1;
            out = "\xef\xbf\xbd", out_len = 3; /* U+FFFD */
        }
        if (used + out_len > VALUE_MAX || out_len + tail + 3 > room(l)) {
            put_raw(l, "...", 3);
            return;
        }
        put_raw(l, out, out_len);
        used += out_len;
        i += step;
    }
}

/* Text values are quoted only when they need it, to stay grep-friendly. */
static bool text_needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return true;
    return false;
}

static void put_str_field(line *l, const char *key, const char *value)
{
    if (g_format == LOG_FORMAT_JSON) {
        /* ,"key":"" plus at least a little of the value, or nothing at all. */
        if (room(l) < strlen(key) + 16)
            return;
        put(l, ",\"");
        put(l, key);
        if (!value) {
            put(l, "\":null");
            return;
        }
        put(l, "\":\"");
        put_escaped(l, value, 1);
        put(l, "\"");
    } else {
        if (!value)
            return; /* text lines just leave absent fields out */
        if (room(l) < strlen(key) + 16)
            return;
        put(l, " ");
        put(l, key);
        put(l, "=");
        bool quote = text_needs_quotes(value);
        if (quote)
            put(l, "\"");
        put_escaped(l, value, quote ? 1 : 0);
        if (quote)
            put(l, "\"");
    }
}

/* A number already rendered as text (ints, durations). */
static void put_num_field(line *l, const char *key, const char *num)
{
    if (room(l) < strlen(key) + strlen(num) + 8)
        return;
    put(l, g_format == LOG_FORMAT_JSON ? ",\"" : " ");
    put(l, key);
    put(l, g_format == LOG_FORMAT_JSON ? "\":" : "=");
    put(l, num);
}

static const char *level_name(log_level level)
{
    switch (level) {
    case LOG_DEBUG:
        return "debug";
    case LOG_INFO:
        return "info";
    case LOG_WARN:
        return "warn";
    case LOG_ERROR:
        return "error";
    }
    return "info";
}

static void begin(line *l, log_level level, const char *msg)
{
    /* The date and time change once a second: formatted once per second
     * per thread, the milliseconds by hand. */
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[32];
    static _Thread_local size_t cached_len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        cached_len = strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    char stamp[40];
    long ms = ts.tv_nsec / 1000000L;
    memcpy(stamp, cached, cached_len);
    stamp[cached_len] = '.';
    stamp[cached_len + 1] = (char)('0' + ms / 100);
    stamp[cached_len + 2] = (char)('0' + ms / 10 % 10);
    stamp[cached_len + 3] = (char)('0' + ms % 10);
    stamp[cached_len + 4] = 'Z';
    stamp[cached_len + 5] = '\0';

    l->len = 0;
    if (g_format == LOG_FORMAT_JSON) {
        put(l, "{\"ts\":\"");
        put(l, stamp);
        put(l, "\",\"level\":\"");
        put(l, level_name(level));
        put(l, "\"");
        put_str_field(l, "msg", msg);
    } else {
        put(l, stamp);
        put(l, " ");
        put(l, level_name(level));
        put(l, " ");
        put_escaped(l, msg, 0);
    }
}

/* Ends the line and writes it: an event line at once (after the batch, so
 * lines keep their order), an access line into the batch when a flusher
 * runs to write it. */
static void finish(line *l, bool batch)
{
    /* The reserve guarantees room for these. */
    if (g_format == LOG_FORMAT_JSON)
        l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    pthread_mutex_lock(&g_write_lock);
    if (batch && g_flusher_running) {
        if (g_batch_len + l->len > BATCH_CAP)
            flush_batch();
        memcpy(g_batch + g_batch_len, l->buf, l->len);
        g_batch_len += l->len;
    } else {
        flush_batch();
        write_all(l->buf, l->len);
    }
    pthread_mutex_unlock(&g_write_lock);
}

void log_event(log_level level, const char *msg, const log_field *fields, size_t nfields)
{
    line l;
    begin(&l, level, msg);
    for (size_t i = 0; i < nfields; i++) {
        if (fields[i].kind == LOG_FIELD_INT) {
            char num[32];
            snprintf(num, sizeof num, "%lld", fields[i].i);
            put_num_field(&l, fields[i].key, num);
        } else {
            put_str_field(&l, fields[i].key, fields[i].s);
        }
    }
    finish(&l, false);
}

void log_msg(log_level level, const char *msg, const char *detail)
{
    log_field f = LOG_STR("detail", detail);
    log_event(level, msg, &f, detail ? 1 : 0);
}

/* Copies path into out, replacing every segment that contains "mgw_" (any
 * case) by "<redacted>": tokens belong in headers, but a client that puts one
 * in a URL must not get it written to disk by us. */
static void redact_path(const char *path, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = path;
    while (*p && o + 1 < cap) {
        if (*p == '/') {
            out[o++] = *p++;
            continue;
        }
        size_t seg = strcspn(p, "/");
        bool secret = false;
        for (size_t i = 0; i + 4 <= seg && !secret; i++)
            secret = strncasecmp(p + i, "mgw_", 4) == 0;
        const char *src = secret ? "<redacted>" : p;
        size_t n = secret ? strlen("<redacted>") : seg;
        if (n > cap - 1 - o)
            n = cap - 1 - o;
        memcpy(out + o, src, n);
        o += n;
        p += seg;
    }
    out[o] = '\0';
}

/* v (>= 0) in decimal with `decimals` digits after a point: v / 10^decimals.
 * By hand: snprintf was a good part of an access line's cost. */
static void format_fixed(char *out, size_t cap, long long v, int decimals)
{
    char rev[32];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 || n <= (size_t)decimals);
    size_t k = 0;
    while (n > 0 && k + 2 < cap) {
        if ((int)n == decimals)
            out[k++] = '.';
        out[k++] = rev[--n];
    }
    out[k] = '\0';
}

void log_access(const log_access_entry *e)
{
    char path[PATH_MAX_LOG];
    redact_path(e->path ? e->path : "", path, sizeof path);

    line l;
    char num[48];
    begin(&l, LOG_INFO, "request");
    put_str_field(&l, "method", e->method);
    put_str_field(&l, "path", path);
    put_str_field(&l, "route", e->route);
    if (e->status > 0) {
        format_fixed(num, sizeof num, e->status, 0);
        put_num_field(&l, "status", num);
    } else {
        put_str_field(&l, "status", NULL);
    }
    put_str_field(&l, "mapi_error", e->mapi_error);
    double us = e->duration_ms >= 0 ? e->duration_ms * 1000.0 + 0.5 : 0.0;
    format_fixed(num, sizeof num, us < 9e15 ? (long long)us : 9000000000000000LL, 3);
    put_num_field(&l, "duration_ms", num);
    put_str_field(&l, "client", e->client);
    put_str_field(&l, "request_id", e->request_id);
    finish(&l, true);
}
