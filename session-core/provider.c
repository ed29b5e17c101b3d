#include "provider.h"

#include <stdint.h>
#include <string.h>

/* One line per built-in kind: each lives in its own provider_<kind>.c. */
extern const provider_ops PROVIDER_MAILDIR;
extern const provider_ops PROVIDER_ABFILE;
extern const provider_ops PROVIDER_SPOOL;
extern const provider_ops PROVIDER_IMAP;
extern const provider_ops PROVIDER_SMTP;
extern const provider_ops PROVIDER_LDAP;

static const provider_ops *const KINDS[] = {
    &PROVIDER_MAILDIR, &PROVIDER_ABFILE, &PROVIDER_SPOOL,
    &PROVIDER_IMAP,    &PROVIDER_SMTP,   &PROVIDER_LDAP,
};

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
