/* fuzz_profiles.c - the profiles file: profile_store_load_string on the
 * input, then every accessor over what was loaded, and a core built on it.
 *
 * Loading only validates (kinds check their settings; nothing is created
 * before a logon), so relative paths resolve under a fixed scratch folder
 * and nothing touches the file system. No logon is made: a fuzzed profile
 * may name any absolute path with "create": true.
 */
#include "fuzz_common.h"

#include "../../server/config.h"
#include "../../session-core/profile.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_tmpdir();
    return 0;
}

static void warn(void *ctx, const char *msg)
{
    size_t *n = ctx;
    if (!msg)
        fz_fail("warning without a message");
    (void)strlen(msg);
    (*n)++;
}

static void walk(const profile_store *store)
{
    static const char *const KEYS[] = {"path",    "create", "url", "host",      "deliver_to",
                                       "base_dn", "port",   "tls", "timeout_ms"};
    size_t n = profile_store_count(store);
    for (size_t i = 0; i < n; i++) {
        const profile *p = profile_store_at(store, i);
        const char *name = profile_name(p);
        if (!name || profile_store_find(store, name) == NULL)
            fz_fail("profile %zu: its name does not find it", i);
        if (!fz_utf8_valid(name, strlen(name), false))
            fz_fail("profile %zu: a name that is not UTF-8 was accepted", i);
        (void)profile_auth(p);
        for (size_t s = 0; s < profile_service_count(p); s++) {
            const service_config *svc = profile_service(p, s);
            (void)strlen(service_name(svc));
            for (size_t k = 0; k < service_provider_count(svc); k++) {
                const provider_config *c = service_provider(svc, k);
                (void)provider_config_type(c);
                (void)strlen(provider_config_kind(c));
                (void)strlen(provider_config_display_name(c));
                (void)provider_config_resource_flags(c);
                const char *d = provider_config_identity_display(c);
                const char *t = provider_config_identity_addrtype(c);
                const char *a = provider_config_identity_address(c);
                if ((d == NULL) != (t == NULL) || (t == NULL) != (a == NULL))
                    fz_fail("profile %zu: a half identity", i);
                for (size_t j = 0; j < sizeof KEYS / sizeof KEYS[0]; j++) {
                    const char *v = provider_config_setting(c, KEYS[j]);
                    const char *path = provider_config_path(c, KEYS[j]);
                    if (v)
                        (void)strlen(v);
                    if (path)
                        (void)strlen(path);
                }
            }
        }
    }
    const profile *def = profile_store_default(store);
    if (def && profile_store_find(store, profile_name(def)) != def)
        fz_fail("the default profile is not in the store");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = fz_strndup(data, size);
    profile_store *store = NULL;
    char err[512];
    size_t warnings = 0;
    HRESULT hr = profile_store_load_string(json, "fuzz.json", fz_tmpdir(), &store, err, sizeof err,
                                           warn, &warnings);
    if (hr == S_OK) {
        if (!store)
            fz_fail("S_OK without a store");
        walk(store);
        config defaults;
        if (!config_defaults(&defaults))
            fz_fail("config_defaults");
        core *c = NULL;
        if (core_new(&defaults.core, profile_store_ref(store), &c) == S_OK)
            core_free(c);
        profile_store_unref(store);
    } else {
        if (store)
            fz_fail("a failed load returned a store");
        if (hr != MAPI_E_INVALID_PARAMETER && hr != MAPI_E_NOT_ENOUGH_MEMORY)
            fz_fail("load returned 0x%08X", (unsigned)hr);
        if (!memchr(err, '\0', sizeof err) || err[0] == '\0')
            fz_fail("a failed load without a message");
    }
    free(json);
    return 0;
}
