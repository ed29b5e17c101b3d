/* outq.h - a durable outbound message queue in one folder, shared by the
 * transports that hold mail until a flush sends it (provider_spool.c,
 * provider_smtp.c).
 *
 * One regular file per message; names starting with '.' are not messages
 * (outq_enqueue's temporary files, editors' droppings). A message is
 * enqueued by writing a temporary file, fsync, rename, fsync of the folder:
 * after a crash it is either wholly queued or not at all. A flush hands each
 * message to a delivery callback and removes it only after the callback said
 * it was delivered; any failure leaves it queued with the reason reported.
 * The worst a crash can do is deliver a message twice, never lose it.
 *
 * Concurrency: several provider instances (sessions of one profile) may
 * flush the same folder at once. Each message is taken under
 * flock(LOCK_EX|LOCK_NB) and re-checked (still linked) before delivery, so
 * two flushes never deliver one message both.
 *
 * Reading a queued message's envelope (sender, recipients, the bytes to
 * send) is envelope.h's job.
 *
 * Ownership: outq owns a copy of its folder path. Strings and arrays an outq
 * function returns are malloc'd and the caller's (freed with the matching
 * _free). Thread-safety: an outq is used by one provider instance at a time
 * (the session serialises calls); different outq values on one folder may be
 * used concurrently from any threads or processes.
 */
#pragma once

#include "../hresult.h"

#include <stdbool.h>
#include <stddef.h>

#define OUTQ_WHY_MAX 256 /* room for a reason, as a status string has */

typedef struct outq outq;

/* A queue over the folder dir (not created or checked here); reasons name
 * it shown (clients read them: pfs_shown_path; NULL: "the queue folder").
 * NULL when out of memory. */
outq *outq_new(const char *dir, const char *shown);
void outq_free(outq *q); /* NULL is fine */
const char *outq_dir(const outq *q);

/* The number of queued messages, or -1 with errno. */
long outq_count(const outq *q);

/* Queues len bytes durably as a new message. The new file's name (at most
 * 95 characters) is written to name when name is not NULL. 0 or an errno
 * value; on failure nothing is queued. */
int outq_enqueue(outq *q, const void *data, size_t len, char *name, size_t namelen);

/* The queued messages' names, oldest first (modification time, then name).
 * *names is a malloc'd array of malloc'd strings (free with outq_names_free).
 * 0 or an errno value. */
int outq_list(const outq *q, char ***names, size_t *count);
void outq_names_free(char **names, size_t count);

/* What a delivery callback is handed: a locked, readable descriptor of the
 * queued file (at offset 0; the callback may read and seek it, never close
 * it) and its name. */
typedef struct {
    const char *name;
    int fd;
} outq_msg;

typedef struct {
    /* Delivers one message. S_OK: delivered, the queue removes it. A failure:
     * it stays queued; write why into why (whylen bytes) and set *stop when
     * trying the other messages now is pointless (server down, out of
     * memory). */
    HRESULT (*deliver)(void *ctx, const outq_msg *m, char *why, size_t whylen, bool *stop);
    /* Optional: called when the message was delivered but could not be
     * removed from the queue, so the sink can take the delivery back (it
     * would otherwise go again at the next flush). */
    void (*undo)(void *ctx, const outq_msg *m);
    void *ctx;
} outq_sink;

typedef struct {
    HRESULT hr;             /* S_OK, or the first failure (NOT_ENOUGH_MEMORY wins) */
    size_t delivered;       /* delivered and removed */
    size_t failed;          /* still queued after a failure */
    size_t skipped;         /* taken by another flush, or gone meanwhile */
    char why[OUTQ_WHY_MAX]; /* the first failure's reason, "" when none */
} outq_report;

/* Delivers every queued message, oldest first, through sink. A failed one
 * does not hold back the others unless the callback sets *stop. Returns
 * rep->hr. Failures of the queue itself (folder unreadable, a file that
 * cannot be opened or removed) are MAPI_E_CALL_FAILED with the reason. */
HRESULT outq_deliver_all(outq *q, const outq_sink *sink, outq_report *rep);
