/* provider.c - the table of built-in kinds, made from providers/providers.h. */
#include "provider.h"

#include "providers/providers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PROVIDER_KIND_ENTRY(ops) &ops,
static const provider_ops *const KINDS[] = {PROVIDER_KINDS(PROVIDER_KIND_ENTRY)};
#undef PROVIDER_KIND_ENTRY

_Static_assert(sizeof KINDS / sizeof KINDS[0] <= PROVIDER_KIND_MAX,
               "more kinds in providers/providers.h than PROVIDER_KIND_MAX counters");

const provider_ops *provider_kind_find(const char *kind)
{
    if (!kind)
        return NULL;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(KINDS[i]->kind, kind) == 0)
            return KINDS[i];
    return NULL;
}

size_t provider_kind_count(void) { return sizeof KINDS / sizeof KINDS[0]; }

const provider_ops *provider_kind_at(size_t i)
{
    return i < provider_kind_count() ? KINDS[i] : NULL;
}

size_t provider_kind_index(const provider_ops *ops)
{
    for (size_t i = 0; i < provider_kind_count(); i++)
        if (KINDS[i] == ops)
            return i;
    return SIZE_MAX;
}

void provider_outcome_clear(provider_outcome *o)
{
    if (!o)
        return;
    free(o->outbox);
    free(o->why);
    free(o->recipients);
    free(o->message);
    memset(o, 0, sizeof *o);
}
