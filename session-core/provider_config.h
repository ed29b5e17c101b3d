/* provider_config.h - what a provider sees of its configuration: one
 * provider entry of a profile's message service (profile.h loads them).
 *
 * Kept apart from profile.h so that the provider kinds (providers/) see their
 * own settings and nothing of the profile store: no other profile, no
 * password verifier, no logon lock.
 *
 * Ownership: a provider_config and the strings it returns are borrowed from
 * its profile store, which the core keeps while the provider is logged on.
 * Thread-safety: every function may be called concurrently (the store is
 * immutable once loaded).
 */
#pragma once

#include <stdint.h>

typedef struct provider_config provider_config;
struct provider_ops;

/* MAPI_STORE_PROVIDER, MAPI_AB_PROVIDER or MAPI_TRANSPORT_PROVIDER. */
uint32_t provider_config_type(const provider_config *c);
const char *provider_config_kind(const provider_config *c);
/* The kind's vtable (provider.h), found when the file loaded. */
const struct provider_ops *provider_config_ops(const provider_config *c);
/* The provider's MAPIUID (entryid_provider_uid of its profile and place),
 * computed when the file loads. */
const uint8_t *provider_config_uid(const provider_config *c);
const char *provider_config_display_name(const provider_config *c);
uint32_t provider_config_resource_flags(const provider_config *c);
/* The configured identity; all three NULL when the provider has none. */
const char *provider_config_identity_display(const provider_config *c);
const char *provider_config_identity_addrtype(const provider_config *c);
const char *provider_config_identity_address(const provider_config *c);
/* A kind-specific setting (strings, numbers and booleans are rendered as
 * strings: "true"/"false"); NULL when absent. Relative paths are not resolved
 * here: use provider_config_path. */
const char *provider_config_setting(const provider_config *c, const char *key);
/* The setting as a path resolved against the store's base folder; NULL when
 * absent. The string lives as long as the store. */
const char *provider_config_path(const provider_config *c, const char *key);
