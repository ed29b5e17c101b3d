/* profile_internal.h - the profile store's concrete structs and the verbs its
 * files (profile.c: accessors, references, passwords, locks; profile_load.c:
 * parsing and validating the profiles file; profile_template.c: templates and
 * the profiles derived from them) share. Private to session-core/: everything
 * else goes through profile.h.
 */
#pragma once

#include "entryid.h"
#include "htab.h"
#include "profile.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdalign.h>
#include <stdint.h>

typedef struct {
    char *key;
    char *value;
    char *path; /* value resolved against the store's base folder, made at load */
} setting;

struct provider_config {
    uint32_t type;
    const char *kind;               /* the kind table's own string: static */
    const struct provider_ops *ops; /* the kind, found once at load */
    char *display_name;
    uint32_t resource_flags;
    char *id_display, *id_addrtype, *id_address; /* all or none */
    setting *settings;
    size_t nsettings;
    uint8_t uid[MAPIUID_LEN]; /* entryid_provider_uid of its place, once */
};

struct service_config {
    char *name;
    provider_config *providers;
    size_t count;
};

struct profile {
    htab_node node; /* in the store's name index */
    char *name;
    profile_auth_kind auth;
    /* Fixed size so change-password swaps it in place, without allocating
     * under the lock; guarded by auth_lock. */
    char verifier[crypto_pwhash_STRBYTES];
    pthread_mutex_t auth_lock;
    pthread_mutex_t logon_lock;
    bool locks_ready;
    service_config *services;
    size_t nservices;
};

/* A template: the profile every logon name matching one of its patterns
 * gets, with ${user}, ${local} and ${domain} in its strings replaced. */
typedef struct {
    char **match; /* lower-case patterns, '*' any run of characters */
    size_t nmatch;
    profile proto; /* name: the template's own; strings unexpanded */
} profile_template;

/* Where a loaded store's strings and small arrays live: a few large blocks
 * instead of some thirty allocations per profile (time and bytes at 50,000
 * profiles), all freed at once with the store. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block;

struct profile_store {
    atomic_size_t refs;
    arena_block *arena; /* NULL for a derived store: its parts are malloc'd */
    profile *profiles;
    size_t count;
    htab index; /* the explicit profiles by name */
    const profile *def;
    profile_template *templates; /* in file order */
    size_t ntemplates;
    /* The derived stores alive now (a session, a logon or a pooled provider
     * instance holds them), by name; each removes itself when freed. */
    pthread_mutex_t derived_lock;
    bool derived_ready;
    htab derived;
    /* A derived store holds one profile, a reference to the store whose
     * template made it, and its node in that store's derived table. */
    profile_store *parent;
    const profile_template *from;
    htab_node derived_node;
    bool listed;                        /* derived_node is in parent->derived */
    char dummy[crypto_pwhash_STRBYTES]; /* profile_store_dummy_check's verifier */
};

/* libsodium initialised once per process; false when it cannot be.
 * Thread-safe. */
bool profile_sodium_ready(void);

/* Builds st->dummy from the loaded profiles (profile_store_dummy_check). */
void profile_store_make_dummy(profile_store *st);

/* Frees a store and everything it owns, also a half-built one (profiles
 * beyond the one that failed are all-zero). Called by the last unref, and by
 * the loader when a file is rejected. */
void profile_store_free(profile_store *st);

/* Frees what a derived profile owns (not the struct); a loaded store's
 * profiles own nothing outside its arena. */
void profile_clear(profile *p);

/* n zeroed bytes from st's arena (suitably aligned); NULL when out of memory. */
void *profile_arena_alloc(profile_store *st, size_t n);

/* Hash of a profile name for the store's tables. */
uint64_t profile_name_hash(const char *name);

/* Whether s has "${" placeholders other than ${user}, ${local}, ${domain}
 * (or one left open): the loader refuses such a template string. */
bool profile_template_bad_placeholder(const char *s);

/* Whether pattern is a valid template pattern (lower-cased in place). */
bool profile_template_pattern_ok(char *pattern);

/* The explicit profile of exactly that name, or NULL. */
const profile *profile_store_find_explicit(const profile_store *st, const char *name);

/* The prototype of the template that takes name, or NULL. */
const profile *profile_template_find(const profile_store *st, const char *name);

/* A profiles file's text split for parsing one profile at a time
 * (profile_split.c). */
typedef struct json_t json_t;
typedef struct {
    const char *text;
    size_t *start, *len; /* the "profiles" elements' extents in text */
    size_t n;
} profile_split;

/* Parses text's top level into *root (a new object; "profiles" is an empty
 * placeholder array) and finds the profiles' extents. false, with nothing to
 * free, when text is anything but plainly shaped: parse it whole instead. */
bool profile_split_text(const char *text, size_t len, json_t **root, profile_split *out);
/* Element i parsed (a new reference), or NULL when it is not valid JSON. */
json_t *profile_split_element(const profile_split *s, size_t i);
void profile_split_free(profile_split *s);
