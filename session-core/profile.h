/* profile.h - the profile store: named MAPI profiles loaded from a JSON file.
 *
 * A profile has a name (1..64 UTF-8 characters), an authentication (an argon2id
 * verifier, or none) and message services, each holding provider configurations.
 * The store is immutable once loaded, except for each profile's verifier, which
 * change-password replaces under the profile's own lock.
 *
 * Ownership: profile_store is reference-counted. A session keeps a reference to
 * the store it logged on with, so a reload (SIGHUP) never pulls a profile from
 * under a live session. profile, service_config and provider_config pointers are
 * borrowed from the store and live as long as a reference to it.
 *
 * Thread-safety: every function may be called concurrently, once loaded.
 */
#pragma once

#include "hresult.h"
#include "provider_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROFILE_NAME_MAX_CHARS 64
#define PROFILE_VERIFIER_MAX 128 /* an argon2id verifier string with its NUL */

typedef struct profile_store profile_store;
typedef struct profile profile;
typedef struct service_config service_config;

typedef enum {
    PROFILE_AUTH_NONE,     /* anybody may log on; start-up warns about it */
    PROFILE_AUTH_ARGON2ID, /* password checked against an argon2id verifier */
    PROFILE_AUTH_UPSTREAM, /* password handed to the primary-identity provider (an IMAP login) */
} profile_auth_kind;

/* Loads and validates a profiles file. base_dir resolves relative provider
 * paths (NULL: the file's own folder). On failure returns MAPI_E_INVALID_PARAMETER
 * (or NOT_ENOUGH_MEMORY) and writes a message naming the file, the profile and
 * the field to err. Warnings (a profile without authentication, a provider
 * without settings) are passed to warn, if not NULL. */
HRESULT profile_store_load(const char *path, const char *base_dir, profile_store **out, char *err,
                           size_t errlen, void (*warn)(void *ctx, const char *msg), void *warn_ctx);

/* The same from a string in memory; source names it in messages. */
HRESULT profile_store_load_string(const char *json, const char *source, const char *base_dir,
                                  profile_store **out, char *err, size_t errlen,
                                  void (*warn)(void *ctx, const char *msg), void *warn_ctx);

profile_store *profile_store_ref(profile_store *store);
void profile_store_unref(profile_store *store); /* NULL is fine */

size_t profile_store_count(const profile_store *store);
const profile *profile_store_at(const profile_store *store, size_t i);
/* The explicit profile of that exact (byte-wise) name; else, for a name a
 * template takes, that template's prototype (its auth kind and unexpanded
 * providers: what a reload compares a derived profile's authentication with,
 * never a profile to log on to); else NULL. */
const profile *profile_store_find(const profile_store *store, const char *name);

/* The profile a logon name addresses: the explicit profile of that name,
 * else the profile derived from the first template (in file order) whose
 * patterns match it. A derived profile lives in a store of its own: *store
 * is then replaced by a reference to that store (the caller's reference to
 * the old one is dropped), so that whoever keeps the store keeps the profile,
 * and it is freed with the last reference (no memory for users not logged
 * on). While it lives, every logon of that name gets the same profile (one
 * logon lock, one shared session). NULL: no such profile, a name no template
 * accepts (profile_name_for_template), or out of memory. */
const profile *profile_store_resolve(profile_store **store, const char *name);

/* The templates, in file order, as their prototypes (profile_store_find). */
size_t profile_store_template_count(const profile_store *store);
const profile *profile_store_template(const profile_store *store, size_t i);
/* The patterns of template i. */
size_t profile_template_match_count(const profile_store *store, size_t i);
const char *profile_template_match_at(const profile_store *store, size_t i, size_t j);
/* How many derived profiles are alive now. */
size_t profile_store_derived_count(profile_store *store);

/* What a template accepts as a logon name, strictly, because it ends up in
 * Maildir paths, IMAP logins and LDAP DNs and filters: local@domain, at most
 * 64 bytes, the local part of letters, digits, '.', '_' and '-' (no leading
 * or trailing '.', no "..", no leading '-'), the domain dot-separated labels
 * of letters, digits and inner '-'. Lower-cased into out (65 bytes); false
 * for anything else. */
bool profile_name_for_template(const char *name, char out[PROFILE_NAME_MAX_CHARS + 1]);
/* The profile marked default, or NULL. */
const profile *profile_store_default(const profile_store *store);

const char *profile_name(const profile *p);
profile_auth_kind profile_auth(const profile *p);
size_t profile_service_count(const profile *p);
const service_config *profile_service(const profile *p, size_t i);

/* Checks a logon password. PROFILE_AUTH_NONE accepts anything (also NULL);
 * PROFILE_AUTH_UPSTREAM too: its providers check it at logon. S_OK or
 * MAPI_E_LOGON_FAILED. PROFILE_AUTH_ARGON2ID costs exactly one argon2id
 * verification whatever the password (a missing or empty one is verified
 * too, then refused), so a refusal's timing does not say why. */
HRESULT profile_check_password(const profile *p, const char *password);

/* One argon2id verification against the store's dummy verifier (random, no
 * password matches it; cost parameters those most of the store's argon2id
 * profiles use, else libsodium's interactive ones): what a logon to an
 * unknown profile, or to a profile without a verifier of its own, spends
 * so that it costs what a wrong password costs. NULL counts as "". */
void profile_store_dummy_check(const profile_store *store, const char *password);

/* A new argon2id verifier for password, with the cost parameters of the
 * store's dummy verifier (those most of its profiles use), so that a
 * profile made through the API costs at logon what an unknown name costs.
 * NULL store: libsodium's interactive limits. S_OK or NOT_ENOUGH_MEMORY. */
HRESULT profile_store_hash_password(const profile_store *st, const char *password,
                                    char out[PROFILE_VERIFIER_MAX]);

/* Argon2id verifications run so far by this process (profile and dummy
 * checks, change-password's check of the old password). */
uint64_t profile_password_checks(void);

/* Whether b authenticates like a: the same kind and, for argon2id, the same
 * verifier (as a holds it now). For ending sessions on a reload. */
bool profile_same_auth(const profile *a, const profile *b);

/* Replaces the verifier after checking old_password (one argon2id
 * verification, also for a missing or empty one): S_OK, MAPI_E_NO_ACCESS
 * (wrong old password), MAPI_E_NO_SUPPORT (profile without authentication),
 * MAPI_E_INVALID_PARAMETER (empty new password). In memory: the core writes
 * it into the profiles file (profile_admin.h) or, with a shared store, into
 * Redis. */
HRESULT profile_change_password(const profile *p, const char *old_password,
                                const char *new_password);

/* Whether p is an argon2id profile whose current verifier is exactly this
 * string (the server uses it to recognise a published demo verifier). */
bool profile_verifier_is(const profile *p, const char *verifier);

/* The verifier as p holds it now (NUL-terminated): false for a profile
 * that is not argon2id. */
bool profile_verifier_copy(const profile *p, char out[PROFILE_VERIFIER_MAX]);
/* Makes verifier p's verifier if p's is still expected (a password
 * changed on another gateway: shared_store.h); false otherwise or when it
 * is not an argon2id verifier. */
bool profile_verifier_adopt(const profile *p, const char *expected, const char *verifier);

/* The per-profile logon lock (MAPI's logon mutex, scoped per profile): 0 on
 * success; with timeout_ms >= 0, returns -1 when not acquired in time. */
int profile_logon_lock(const profile *p, long timeout_ms);
void profile_logon_unlock(const profile *p);

const char *service_name(const service_config *s);
size_t service_provider_count(const service_config *s);
const provider_config *service_provider(const service_config *s, size_t i);
