/* provider_fixture.h - the shared fixture of the provider-kind suites
 * (test_provider_*.c): a fresh /tmp/mgw-prov-XXXXXX folder per test, a
 * provider configuration loaded through profile_store_load_string (as in the
 * gateway), and small file helpers that assert on failure.
 *
 * Use: TestSuite(x, .init = fx_setup, .fini = fx_teardown). fx is reset by
 * fx_setup (fx.args zeroed except its uid, which is FX_UID); fx_teardown logs fx.state off with
 * fx.ops, drops fx.store and removes fx.root (also folders a test made read-only). Criterion runs
 * each test in its own process, so the one global fixture is not shared.
 */
#pragma once

#include "../../session-core/profile.h"
#include "../../session-core/provider.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    char root[64];            /* this test's folder */
    profile_store *store;     /* the loaded profiles */
    const provider_ops *ops;  /* the provider under test */
    void *state;              /* its logged-on state, logged off in teardown */
    provider_logon_args args; /* what logon is handed (see fx_setup) */
} provider_fixture;

/* The MAPIUID fx_setup gives the instance: 16 bytes 0xA0, 0xA1, ... 0xAF, so
 * a test sees that a kind builds its entry ids from args.uid. */
extern const uint8_t FX_UID[16];

extern provider_fixture fx;

void fx_setup(void);
void fx_teardown(void);

/* fx.root + "/" + rel, written into buf (512 bytes), which is returned. */
const char *fx_path(char buf[512], const char *rel);

/* Loads a profile "p" with one service holding provider_json, and returns that
 * provider's configuration (borrowed from fx.store); fx.ops is set to its
 * kind. */
const provider_config *fx_load_provider(const char *provider_json);

/* fx.ops->status of fx.state. */
provider_status fx_status(void);

void fx_write_file(const char *path, const char *text);
/* The whole file in a malloc'd string the caller frees (test files are small). */
char *fx_read_file(const char *path);
bool fx_is_dir_mode(const char *path, mode_t mode);
/* Names in dir not starting with '.', sorted; returns the count. */
size_t fx_list_dir(const char *dir, char names[][128], size_t max);

/* Whether (eid, len) is 4 zero bytes, FX_UID, then key[0..key_len). */
bool fx_is_entry_id(const uint8_t *eid, size_t len, const void *key, size_t key_len);

/* The property of o with that tag, asserting it is there (borrowed). */
const mapi_prop *fx_prop(const mapi_object *o, uint32_t tag);
/* Its string / long / bool value, asserting presence. */
const char *fx_str(const mapi_object *o, uint32_t tag);
uint32_t fx_long(const mapi_object *o, uint32_t tag);
bool fx_bool(const mapi_object *o, uint32_t tag);
/* The row whose PR_DISPLAY_NAME is display, or NULL. */
const mapi_object *fx_row(const mapi_rows *rows, const char *display);
