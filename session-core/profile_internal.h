/* profile_internal.h - the profile store's concrete structs and the verbs its
 * two files (profile.c: accessors, references, passwords, locks; profile_load.c:
 * parsing and validating the profiles file) share. Private to session-core/:
 * everything else goes through profile.h.
 */
#pragma once

#include "entryid.h"
#include "profile.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
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

struct profile_store {
    atomic_size_t refs;
    profile *profiles;
    size_t count;
    const profile *def;
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
