/* spool_outcome.h - the finished deliveries a transport keeps for the
 * spooler (provider_ops.take_outcomes), shared by provider_smtp.c and
 * provider_spool.c: a bounded list of provider_outcome.
 *
 * Ownership: the list owns its outcomes until they are taken. Thread-safety:
 * none of its own (the transport's instance lock serialises it).
 */
#pragma once

#include "../provider.h"
#include "envelope.h"

/* Grown as deliveries finish (up to PROVIDER_OUTCOMES_MAX), so that an idle
 * transport costs nothing: every logged-on user of a templated profile has
 * one. Starts zeroed. */
typedef struct {
    provider_outcome *items;
    size_t count, cap;
} outcome_list;

/* Appends the outcome of spooler message env (env->outbox set):
 * MAPI_E_NOT_ENOUGH_RESOURCES when the list is full (the message then stays
 * queued until the spooler took the earlier ones), MAPI_E_NOT_ENOUGH_MEMORY. */
HRESULT outcome_record(outcome_list *l, const envelope *env, bool delivered, const char *why);
/* Takes back the last one appended (its delivery was undone). */
void outcome_drop_last(outcome_list *l);
/* Moves up to max, oldest first, into out. */
size_t outcome_take(outcome_list *l, provider_outcome *out, size_t max);
void outcome_list_clear(outcome_list *l);
