/* spool_outcome.c - see spool_outcome.h. */
#include "spool_outcome.h"

#include <stdlib.h>
#include <string.h>

HRESULT outcome_record(outcome_list *l, const envelope *env, bool delivered, const char *why)
{
    if (l->count == PROVIDER_OUTCOMES_MAX)
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        if (cap > PROVIDER_OUTCOMES_MAX)
            cap = PROVIDER_OUTCOMES_MAX;
        provider_outcome *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return MAPI_E_NOT_ENOUGH_MEMORY;
        l->items = items;
        l->cap = cap;
    }
    /* Built aside and stored whole: the list never holds a half-made one. */
    provider_outcome made;
    provider_outcome *o = &made;
    memset(o, 0, sizeof *o);
    size_t rl = 1;
    for (size_t i = 0; i < env->rcpt_count; i++)
        rl += strlen(env->rcpt[i]) + 2;
    o->outbox = strdup(env->outbox);
    o->recipients = calloc(1, rl);
    o->message = malloc(env->len + 1);
    o->why = delivered ? NULL : strdup(why && why[0] ? why : "refused");
    if (!o->outbox || !o->recipients || !o->message || (!delivered && !o->why)) {
        provider_outcome_clear(o);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    for (size_t i = 0; i < env->rcpt_count; i++) {
        if (i)
            strcat(o->recipients, ", ");
        strcat(o->recipients, env->rcpt[i]);
    }
    memcpy(o->message, env->data, env->len);
    o->message[env->len] = '\0';
    o->len = env->len;
    o->delivered = delivered;
    o->delete_after = env->delete_after;
    o->delivery_report = env->delivery_report;
    l->items[l->count] = made;
    l->count++;
    return S_OK;
}

void outcome_drop_last(outcome_list *l)
{
    if (l->count)
        provider_outcome_clear(&l->items[--l->count]);
}

size_t outcome_take(outcome_list *l, provider_outcome *out, size_t max)
{
    size_t n = l->count < max ? l->count : max;
    if (n == 0)
        return 0;
    memcpy(out, l->items, n * sizeof *out);
    memmove(l->items, l->items + n, (l->count - n) * sizeof *out);
    l->count -= n;
    return n;
}

void outcome_list_clear(outcome_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        provider_outcome_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}
