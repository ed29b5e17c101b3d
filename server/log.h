/* log.h - structured event and access log on stderr (or stdout), one line
 * per event.
 *
 * JSON lines (default) or "key=value" text. Every line is built in a local
 * buffer and written whole, with write(2) under one process-wide lock, so
 * lines from concurrent threads never interleave (also past PIPE_BUF, and
 * when the descriptor takes a short write). Event lines are written at once;
 * access lines, once the flusher runs, in batches at most LOG_FLUSH_MS old
 * (a crash loses at most that much of the access log).
 *
 * What never reaches the log: Authorization headers, tokens, passwords, query
 * strings, bodies. Callers pass only the fields below; paths go through
 * log_access, which redacts any path segment that looks like a token ("mgw_").
 *
 * Thread-safety: log_init once before any thread starts; everything else may
 * be called from any thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    LOG_FORMAT_JSON,
    LOG_FORMAT_TEXT,
} log_format;

typedef enum {
    LOG_DEBUG,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
} log_level;

/* Where the lines go: stderr (default) or stdout (containers, whose runtime
 * collects stdout as the log stream). */
typedef enum {
    LOG_OUTPUT_STDERR,
    LOG_OUTPUT_STDOUT,
} log_output;

#define LOG_FLUSH_MS 100

void log_init(log_format format, log_output output);

/* Starts the thread that writes batched access lines every LOG_FLUSH_MS;
 * until then access lines are written at once. 0, or -1 (then nothing is
 * batched). */
int log_start_flusher(void);
/* Writes the batched lines now. */
void log_flush(void);
/* Stops the flusher and writes what is left: call before exit. */
void log_shutdown(void);

/* One extra field of an event line. */
typedef enum {
    LOG_FIELD_STR, /* s; NULL renders as null */
    LOG_FIELD_INT, /* i */
} log_field_kind;

typedef struct {
    const char *key;
    log_field_kind kind;
    const char *s;
    long long i;
} log_field;

#define LOG_STR(k, v) ((log_field){.key = (k), .kind = LOG_FIELD_STR, .s = (v)})
#define LOG_INT(k, v) ((log_field){.key = (k), .kind = LOG_FIELD_INT, .i = (long long)(v)})

/* An event: msg is a short fixed phrase ("listening", "profiles reloaded");
 * details go into fields. Long values are cut (the line stays well-formed). */
void log_event(log_level level, const char *msg, const log_field *fields, size_t nfields);

/* Shorthand for an event with one "detail" field (may be NULL). */
void log_msg(log_level level, const char *msg, const char *detail);

/* The access log line of one request ("msg":"request"). */
typedef struct {
    const char *method;
    const char *path;       /* decoded path without query; redacted here */
    const char *route;      /* route pattern or NULL */
    int status;             /* 0: no response was sent */
    const char *mapi_error; /* or NULL */
    double duration_ms;
    const char *client;     /* client address or NULL */
    const char *request_id; /* api_request_id's, or NULL */
} log_access_entry;

void log_access(const log_access_entry *e);
