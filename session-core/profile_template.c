/* profile_template.c - profile templates: which logon names a template takes
 * (strictly validated: they end up in paths, IMAP logins and LDAP DNs), the
 * ${user} ${local} ${domain} expansion, and the derived profiles, each in a
 * one-profile store that lives while something references it.
 */
#include "profile.h"
#include "profile_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_BYTES PROFILE_NAME_MAX_CHARS
/* '*' per pattern: the matcher backtracks, and a name is short. */
#define PATTERN_MAX_STARS 2
#define PATTERN_MAX_BYTES 256

typedef struct {
    char user[NAME_MAX_BYTES + 1]; /* local@domain, lower-cased */
    char local[NAME_MAX_BYTES + 1];
    char domain[NAME_MAX_BYTES + 1];
} name_parts;

static bool is_alnum(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); }

static char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch; }

/* No character here is special in a path component (no '/', and "." and ".."
 * are refused as wholes), an IMAP quoted string, an LDAP DN (RFC 4514: none of
 * , + " \ < > ; = # or spaces) or an LDAP filter (RFC 4515: none of * ( ) \). */
static bool local_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!is_alnum(ch) && ch != '.' && ch != '_' && ch != '-')
            return false;
        if (ch == '.' && s[i + 1] == '.')
            return false;
    }
    return true;
}

static bool domain_ok(const char *s, size_t n)
{
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char ch = i < n ? s[i] : '.';
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum(ch) || (ch == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static bool split_name(const char *name, name_parts *np)
{
    size_t n = 0;
    for (; name[n]; n++) {
        if (n >= NAME_MAX_BYTES)
            return false;
        np->user[n] = lower(name[n]);
    }
    np->user[n] = '\0';
    const char *at = strchr(np->user, '@');
    if (!at || strchr(at + 1, '@'))
        return false;
    size_t ln = (size_t)(at - np->user), dn = n - ln - 1;
    if (!local_ok(np->user, ln) || !domain_ok(at + 1, dn))
        return false;
    memcpy(np->local, np->user, ln);
    np->local[ln] = '\0';
    memcpy(np->domain, at + 1, dn + 1);
    return true;
}

bool profile_name_for_template(const char *name, char out[PROFILE_NAME_MAX_CHARS + 1])
{
    name_parts np;
    if (!name || !split_name(name, &np))
        return false;
    memcpy(out, np.user, sizeof np.user);
    return true;
}

bool profile_template_pattern_ok(char *pattern)
{
    size_t stars = 0, n = 0;
    for (char *c = pattern; *c; c++, n++) {
        *c = lower(*c);
        if (*c == '*')
            stars++;
        else if (!is_alnum(*c) && !strchr(".-_@", *c))
            return false;
    }
    return n > 0 && n <= PATTERN_MAX_BYTES && stars <= PATTERN_MAX_STARS;
}

static bool glob(const char *p, const char *s)
{
    if (*p == '\0')
        return *s == '\0';
    if (*p == '*') {
        for (;; s++) {
            if (glob(p + 1, s))
                return true;
            if (!*s)
                return false;
        }
    }
    return *s == *p && glob(p + 1, s + 1);
}

/* The template that takes name, with its parts; NULL when none does, the name
 * is not one a template accepts, or it is an explicit profile's name in other
 * letter case (one person must not get two profiles). */
static const profile_template *template_for(const profile_store *st, const char *name,
                                            name_parts *np)
{
    if (!st->ntemplates || !split_name(name, np) || profile_store_find_explicit(st, np->user))
        return NULL;
    for (size_t i = 0; i < st->ntemplates; i++) {
        const profile_template *t = &st->templates[i];
        for (size_t j = 0; j < t->nmatch; j++)
            if (glob(t->match[j], np->user))
                return t;
    }
    return NULL;
}

const profile *profile_template_find(const profile_store *st, const char *name)
{
    name_parts np;
    const profile_template *t = template_for(st, name, &np);
    return t ? &t->proto : NULL;
}

static const char *const PLACEHOLDERS[] = {"${user}", "${local}", "${domain}"};

bool profile_template_bad_placeholder(const char *s)
{
    for (const char *d = strstr(s, "${"); d; d = strstr(d + 2, "${")) {
        size_t i = 0;
        while (i < 3 && strncmp(d, PLACEHOLDERS[i], strlen(PLACEHOLDERS[i])) != 0)
            i++;
        if (i == 3)
            return true;
    }
    return false;
}

/* t with its placeholders replaced; NULL for NULL or out of memory. */
static char *expand(const char *t, const name_parts *np)
{
    if (!t)
        return NULL;
    const char *values[] = {np->user, np->local, np->domain};
    size_t len = 0;
    for (int pass = 0; pass < 2; pass++) {
        char *out = pass ? malloc(len + 1) : NULL;
        if (pass && !out)
            return NULL;
        size_t o = 0;
        for (const char *c = t; *c;) {
            size_t i = 0;
            while (i < 3 && strncmp(c, PLACEHOLDERS[i], strlen(PLACEHOLDERS[i])) != 0)
                i++;
            const char *piece = i < 3 ? values[i] : c;
            size_t n = i < 3 ? strlen(values[i]) : 1;
            if (pass)
                memcpy(out + o, piece, n);
            o += n;
            c += i < 3 ? strlen(PLACEHOLDERS[i]) : 1;
        }
        if (pass) {
            out[o] = '\0';
            return out;
        }
        len = o;
    }
    return NULL;
}

/* Copies one provider with its strings expanded; false when out of memory
 * (what was copied is freed with the profile). */
static bool derive_provider(provider_config *d, const provider_config *s, const name_parts *np)
{
    *d = *s;
    d->display_name = d->id_display = d->id_addrtype = d->id_address = NULL;
    d->settings = NULL;
    d->nsettings = 0;
    if (!(d->display_name = expand(s->display_name, np)))
        return false;
    if (s->id_display && (!(d->id_display = expand(s->id_display, np)) ||
                          !(d->id_addrtype = expand(s->id_addrtype, np)) ||
                          !(d->id_address = expand(s->id_address, np))))
        return false;
    if (s->nsettings && !(d->settings = calloc(s->nsettings, sizeof *d->settings)))
        return false;
    for (size_t i = 0; i < s->nsettings; i++) {
        setting *to = &d->settings[d->nsettings++];
        to->key = strdup(s->settings[i].key);
        to->value = expand(s->settings[i].value, np);
        to->path = expand(s->settings[i].path, np);
        if (!to->key || !to->value || !to->path)
            return false;
    }
    return true;
}

static bool derive_profile(profile *p, const profile *proto, const name_parts *np)
{
    p->auth = proto->auth;
    if (!(p->name = strdup(np->user)))
        return false;
    if (pthread_mutex_init(&p->auth_lock, NULL) != 0)
        return false;
    if (pthread_mutex_init(&p->logon_lock, NULL) != 0) {
        pthread_mutex_destroy(&p->auth_lock);
        return false;
    }
    p->locks_ready = true;
    if (!(p->services = calloc(proto->nservices ? proto->nservices : 1, sizeof *p->services)))
        return false;
    for (size_t i = 0; i < proto->nservices; i++) {
        const service_config *ss = &proto->services[i];
        service_config *ds = &p->services[p->nservices++];
        if (!(ds->name = expand(ss->name, np)) ||
            !(ds->providers = calloc(ss->count ? ss->count : 1, sizeof *ds->providers)))
            return false;
        for (size_t j = 0; j < ss->count; j++) {
            provider_config *c = &ds->providers[ds->count++];
            if (!derive_provider(c, &ss->providers[j], np))
                return false;
            /* Entry ids name the user's own providers, as an explicit
             * profile of that name would. */
            entryid_provider_uid(p->name, i, j, c->uid);
        }
    }
    return true;
}

static profile_store *derive(profile_store *parent, const profile_template *t, const name_parts *np)
{
    profile_store *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    atomic_init(&d->refs, 1);
    d->parent = profile_store_ref(parent);
    d->from = t;
    memcpy(d->dummy, parent->dummy, sizeof d->dummy);
    d->profiles = calloc(1, sizeof *d->profiles);
    if (d->profiles)
        d->count = 1;
    if (!d->profiles || !derive_profile(&d->profiles[0], &t->proto, np)) {
        profile_store_free(d);
        return NULL;
    }
    return d;
}

static profile_store *derived_of(const htab_node *node)
{
    return (profile_store *)(uintptr_t)((const char *)node - offsetof(profile_store, derived_node));
}

/* A store whose last reference is being dropped is not found: it unlists
 * itself soon, and a new one is listed beside it meanwhile. */
static bool derived_eq(const htab_node *node, const void *key)
{
    const profile_store *d = derived_of(node);
    return atomic_load(&d->refs) > 0 && strcmp(d->profiles[0].name, key) == 0;
}

/* A reference to d unless its last one is being dropped right now. */
static bool ref_if_alive(profile_store *d)
{
    size_t n = atomic_load(&d->refs);
    while (n > 0)
        if (atomic_compare_exchange_weak(&d->refs, &n, n + 1))
            return true;
    return false;
}

const profile *profile_store_resolve(profile_store **store, const char *name)
{
    profile_store *st = *store;
    if (!st || !name)
        return NULL;
    const profile *p = profile_store_find_explicit(st, name);
    if (p)
        return p;
    name_parts np;
    const profile_template *t = template_for(st, name, &np);
    if (!t || !st->derived_ready)
        return NULL;
    uint64_t h = profile_name_hash(np.user);
    pthread_mutex_lock(&st->derived_lock);
    htab_node *n = htab_find(&st->derived, h, np.user, derived_eq);
    profile_store *d = n && ref_if_alive(derived_of(n)) ? derived_of(n) : NULL;
    bool fresh = false;
    if (!d && (d = derive(st, t, &np)) != NULL) {
        fresh = true;
        d->listed = htab_insert(&st->derived, &d->derived_node, h);
    }
    pthread_mutex_unlock(&st->derived_lock);
    if (!d)
        return NULL;
    if (fresh && !d->listed) {
        profile_store_unref(d); /* takes the lock to unlist: outside it */
        return NULL;
    }
    profile_store_unref(st);
    *store = d;
    return &d->profiles[0];
}

size_t profile_store_template_count(const profile_store *store) { return store->ntemplates; }

const profile *profile_store_template(const profile_store *store, size_t i)
{
    return i < store->ntemplates ? &store->templates[i].proto : NULL;
}

size_t profile_template_match_count(const profile_store *store, size_t i)
{
    return i < store->ntemplates ? store->templates[i].nmatch : 0;
}

const char *profile_template_match_at(const profile_store *store, size_t i, size_t j)
{
    return i < store->ntemplates && j < store->templates[i].nmatch ? store->templates[i].match[j]
                                                                   : NULL;
}

size_t profile_store_derived_count(profile_store *store)
{
    if (!store->derived_ready)
        return 0;
    pthread_mutex_lock(&store->derived_lock);
    size_t n = store->derived.count;
    pthread_mutex_unlock(&store->derived_lock);
    return n;
}
