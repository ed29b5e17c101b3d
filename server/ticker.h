/* ticker.h - a thread that calls one function at a fixed interval: the
 * provider poller (core_poll) and the event-stream keep-alive run on these.
 *
 * Ownership: ticker_start borrows ctx (it must outlive the ticker);
 * ticker_stop joins the thread and frees the ticker.
 *
 * Thread-safety: start and stop belong to one thread; fn runs on the
 * ticker's own thread, never twice at once.
 */
#pragma once

typedef struct ticker ticker;

/* Starts a thread calling fn(ctx) every interval_s seconds (the first call
 * after one interval). name is for logs (static). NULL when the thread
 * cannot be created. */
ticker *ticker_start(const char *name, unsigned interval_s, void (*fn)(void *ctx), void *ctx);

/* Stops the thread: waits for a running call of fn to return (it is not
 * interrupted), then frees. NULL is fine. */
void ticker_stop(ticker *t);
