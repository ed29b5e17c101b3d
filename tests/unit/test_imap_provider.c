/* Unit suite for the "imap" store provider (provider_imap.c) without a
 * server: settings checks, an unreachable server (a closed port on
 * 127.0.0.1: an offline row, or a 502 for upstream authentication), entry
 * keys refused before any network call, password checks and entry
 * comparison. The server-facing behaviour is in tests/blackbox/test_imap.c
 * against a real dovecot. */
#include "provider_fixture.h"

#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile.h"
#include "../../session-core/provider.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(imap_provider, .init = fx_setup, .fini = fx_teardown, .timeout = 30);

/* A loopback port with nobody listening (bound, then released). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static const provider_config *imap_config(const char *settings)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"imap\",\"display_name\":\"IMAP\","
             "\"settings\":{%s}}",
             settings);
    return fx_load_provider(json);
}

static const provider_config *unreachable_config(void)
{
    char s[256];
    snprintf(s, sizeof s,
             "\"url\":\"imap://127.0.0.1:%d/\",\"username\":\"u\",\"password\":\"p\","
             "\"timeout_ms\":2000",
             closed_port());
    return imap_config(s);
}

Test(imap_provider, kind_table_entry)
{
    const provider_ops *ops = provider_kind_find("imap");
    cr_assert_not_null(ops);
    cr_expect_eq(ops->resource_type, MAPI_STORE_PROVIDER);
    cr_expect_str_eq(ops->dll_name, "mgwimap");
    cr_expect_eq(ops->resource_methods, STATUS_VALIDATE_STATE);
    cr_expect(ops->check_password && ops->poll && ops->store && ops->open_entry);
}

Test(imap_provider, missing_url_is_unconfigured)
{
    const provider_config *cfg = imap_config("\"username\":\"u\"");
    cr_expect_eq(fx.ops->logon(cfg, &fx.args, &fx.state), MAPI_E_UNCONFIGURED);
    cr_expect_null(fx.state);
}

Test(imap_provider, bad_settings_fail_the_profiles_file)
{
    const char *bad[] = {"\"url\":\"http://127.0.0.1/\"", "\"url\":\"imap://h\",\"timeout_ms\":0",
                         "\"url\":\"imap://h\",\"timeout_ms\":\"soon\"",
                         "\"url\":\"imap://h\",\"tls_verify\":\"maybe\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[1024], err[512] = "";
        snprintf(json, sizeof json,
                 "{\"profiles\":[{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":[{"
                 "\"name\":\"s\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"
                 "\"imap\",\"display_name\":\"I\",\"settings\":{%s}}]}]}]}",
                 bad[i]);
        profile_store *st = NULL;
        cr_expect_eq(
            profile_store_load_string(json, "t.json", fx.root, &st, err, sizeof err, NULL, NULL),
            MAPI_E_INVALID_PARAMETER, "accepted %s", bad[i]);
        cr_expect(strstr(err, "settings.") != NULL, "message %s", err);
        profile_store_unref(st);
    }
}

Test(imap_provider, unreachable_server_is_an_offline_row)
{
    const provider_config *cfg = unreachable_config();
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    provider_status st = fx_status();
    cr_expect_eq(st.status_code, STATUS_OFFLINE);
    cr_expect(strncmp(st.status_string, "server unreachable: ", 20) == 0, "%s", st.status_string);

    mapi_object store;
    mapi_rows folders;
    memset(&store, 0, sizeof store);
    memset(&folders, 0, sizeof folders);
    cr_expect_eq(fx.ops->store(fx.state, &store, &folders), MAPI_E_NETWORK_ERROR);
    mapi_object_clear(&store);
    mapi_rows_clear(&folders);

    mapi_object o;
    memset(&o, 0, sizeof o);
    cr_expect_eq(fx.ops->open_entry(fx.state, (const uint8_t *)"FINBOX", 6, &o),
                 MAPI_E_NETWORK_ERROR);
    mapi_object_clear(&o);

    fx.ops->poll(fx.state);
    cr_expect_eq(fx.ops->validate_state(fx.state, FORCE_XP_CONNECT), S_OK);
    cr_expect_eq(fx_status().status_code, STATUS_OFFLINE);
}

Test(imap_provider, unreachable_server_fails_an_upstream_logon)
{
    const provider_config *cfg = unreachable_config();
    fx.args.password = "the-user-password";
    cr_expect_eq(fx.ops->logon(cfg, &fx.args, &fx.state), MAPI_E_NETWORK_ERROR);
    cr_expect_null(fx.state);
}

Test(imap_provider, force_download_with_the_server_down_still_logs_on)
{
    const provider_config *cfg = unreachable_config();
    fx.args.logon_flags = MAPI_FORCE_DOWNLOAD;
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_expect_eq(fx_status().status_code, STATUS_OFFLINE);
}

Test(imap_provider, malformed_keys_are_not_found_without_asking_the_server)
{
    const provider_config *cfg = unreachable_config();
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    static const struct {
        const char *key;
        size_t len;
    } bad[] = {
        {"F", 1},
        {"X", 1},
        {"XINBOX", 6},
        {"MINBOX", 6},
        {"MINBOX\0", 7},
        {"MINBOX\0"
         "0",
         8},
        {"MINBOX\0"
         "01",
         9},
        {"MINBOX\0"
         "x1",
         9},
        {"M\0"
         "1",
         3},
        {"FIN\0BOX", 8},
        {"MINBOX\0"
         "4294967296",
         17},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mapi_object o;
        memset(&o, 0, sizeof o);
        cr_expect_eq(fx.ops->open_entry(fx.state, (const uint8_t *)bad[i].key, bad[i].len, &o),
                     MAPI_E_NOT_FOUND, "key %zu", i);
        mapi_object_clear(&o);
    }
    /* An empty key is the store itself, which the core answers. */
}

Test(imap_provider, check_password_only_for_the_authenticating_instance)
{
    const provider_config *cfg = unreachable_config();
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    cr_expect_eq(fx.ops->check_password(fx.state, "p"), MAPI_E_LOGON_FAILED);
    cr_expect_eq(fx.ops->check_password(fx.state, NULL), MAPI_E_LOGON_FAILED);
}

Test(imap_provider, same_entry_treats_inbox_case_insensitively)
{
    const provider_config *cfg = unreachable_config();
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
#define SAME(a, b)                                                                                 \
    fx.ops->same_entry(fx.state, (const uint8_t *)a, sizeof a - 1, (const uint8_t *)b, sizeof b - 1)
    cr_expect(SAME("FINBOX", "Finbox"));
    cr_expect(SAME("MINBOX\0"
                   "7",
                   "MInBoX\0"
                   "7"));
    cr_expect_not(SAME("MINBOX\0"
                       "7",
                       "MINBOX\0"
                       "8"));
    cr_expect_not(SAME("FArchive", "Farchive"), "other names are case-sensitive");
    cr_expect_not(SAME("FINBOX", "MINBOX"));
    cr_expect_not(SAME("FINBOXES", "Finboxes"));
    cr_expect(SAME("FArchive", "FArchive"));
#undef SAME
}
