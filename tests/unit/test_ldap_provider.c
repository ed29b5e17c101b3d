/* Unit suite for the "ldap" kind without a directory server: its vtable,
 * the settings checked when profiles load, MAPI_E_UNCONFIGURED, the refusals
 * that must happen before any traffic (empty upstream password, a bind DN
 * without a password), an unreachable server (OFFLINE, NETWORK_ERROR, never a
 * hang) and entry ids it must not even look up. The behaviour against a real
 * slapd is in tests/blackbox/test_ldap.c. */
#include "provider_fixture.h"

#include "../../session-core/mapi_flags.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

TestSuite(ldap_provider, .init = fx_setup, .fini = fx_teardown, .timeout = 20);

/* A loopback port nobody listens on (bound, then released). */
/* The last address book's total (not asserted where a test does not care). */
static size_t ab_total;

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

static const provider_config *load_ldap(const char *settings)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"ldap\",\"display_name\":\"Dir\","
             "\"settings\":{%s}}",
             settings);
    return fx_load_provider(json);
}

/* A configuration against a closed port, with extra settings appended. */
static const provider_config *load_down(const char *extra)
{
    char settings[1024];
    snprintf(settings, sizeof settings,
             "\"url\":\"ldap://127.0.0.1:%d\",\"base_dn\":\"ou=people,dc=example,dc=org\","
             "\"timeout_ms\":2000%s",
             closed_port(), extra);
    return load_ldap(settings);
}

static void expect_load_error(const char *settings, const char *field)
{
    char json[2048], err[512] = "";
    snprintf(json, sizeof json,
             "{\"profiles\":[{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":"
             "\"s\",\"providers\":[{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"ldap\","
             "\"display_name\":\"Dir\",\"settings\":{%s}}]}]}]}",
             settings);
    profile_store *st = NULL;
    HRESULT hr =
        profile_store_load_string(json, "test.json", fx.root, &st, err, sizeof err, NULL, NULL);
    cr_expect_eq(hr, MAPI_E_INVALID_PARAMETER, "settings {%s} loaded", settings);
    cr_expect_not_null(strstr(err, field), "settings {%s}: error was: %s", settings, err);
    profile_store_unref(st);
}

Test(ldap_provider, kind)
{
    const provider_ops *o = provider_kind_find("ldap");
    cr_assert_not_null(o);
    cr_expect_eq(o->resource_type, MAPI_AB_PROVIDER);
    cr_expect_str_eq(o->dll_name, "mgwldap");
    cr_expect_eq(o->resource_methods, STATUS_VALIDATE_STATE);
    cr_expect_not_null(o->check_password);
    cr_expect_not_null(o->address_book);
    cr_expect_not_null(o->open_entry);
    cr_expect_not_null(o->identity);
    cr_expect_null(o->flush_queues);
}

Test(ldap_provider, settings_checked_at_load)
{
    expect_load_error("\"url\":\"http://x\"", "settings.url");
    expect_load_error("\"url\":\"ldap://h/dc=x\"", "settings.url");
    expect_load_error("\"url\":\"ldap://u:pw@h\"", "settings.url");
    expect_load_error("\"url\":\"ldap://h?cn\"", "settings.url");
    expect_load_error("\"filter\":\"uid=x\"", "settings.filter");
    expect_load_error("\"identity_filter\":\"(uid=x\"", "settings.identity_filter");
    expect_load_error("\"timeout_ms\":\"soon\"", "settings.timeout_ms");
    expect_load_error("\"timeout_ms\":0", "settings.timeout_ms");
}

Test(ldap_provider, unconfigured)
{
    static const char *const SETTINGS[] = {
        "\"base_dn\":\"dc=x\"",
        "\"url\":\"ldap://127.0.0.1\"",
        /* a bind DN without a password would be an unauthenticated bind */
        "\"url\":\"ldap://127.0.0.1\",\"base_dn\":\"dc=x\",\"bind_dn\":\"cn=a,dc=x\"",
    };
    for (size_t i = 0; i < sizeof SETTINGS / sizeof SETTINGS[0]; i++) {
        fx_teardown();
        fx_setup();
        const provider_config *cfg = load_ldap(SETTINGS[i]);
        void *state = (void *)1;
        cr_expect_eq(fx.ops->logon(cfg, &fx.args, &state), MAPI_E_UNCONFIGURED, "settings {%s}",
                     SETTINGS[i]);
        cr_expect_null(state);
    }
}

/* Refused before any traffic: the port is closed, so anything else than
 * LOGON_FAILED (NETWORK_ERROR) would show that the provider tried. */
Test(ldap_provider, empty_upstream_password)
{
    const provider_config *cfg = load_down(",\"bind_dn\":\"uid=a,dc=x\"");
    fx.args.password = "";
    cr_expect_eq(fx.ops->logon(cfg, &fx.args, &fx.state), MAPI_E_LOGON_FAILED);
    cr_expect_null(fx.state);
}

Test(ldap_provider, upstream_without_bind_dn)
{
    const provider_config *cfg = load_down("");
    fx.args.password = "pw";
    cr_expect_eq(fx.ops->logon(cfg, &fx.args, &fx.state), MAPI_E_UNCONFIGURED);
}

Test(ldap_provider, upstream_unreachable_is_network_error)
{
    const provider_config *cfg = load_down(",\"bind_dn\":\"uid=a,dc=x\"");
    fx.args.password = "pw";
    cr_expect_eq(fx.ops->logon(cfg, &fx.args, &fx.state), MAPI_E_NETWORK_ERROR);
    cr_expect_null(fx.state);
}

Test(ldap_provider, unreachable_logs_on_offline)
{
    const provider_config *cfg = load_down(",\"identity_filter\":\"(uid=a)\"");
    time_t t0 = time(NULL);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    provider_status st = fx_status();
    cr_expect_eq(st.status_code, STATUS_OFFLINE);
    cr_expect_not_null(strstr(st.status_string, "unreachable"), "%s", st.status_string);

    mapi_object c = {0};
    mapi_rows rows = {0};
    cr_expect_eq(fx.ops->address_book(fx.state, "x*)(", 0, 10, &c, &rows, &ab_total),
                 MAPI_E_NETWORK_ERROR);
    cr_expect_eq(rows.count, 0u);
    mapi_object_clear(&c);
    mapi_rows_clear(&rows);

    provider_identity id;
    cr_expect_eq(fx.ops->identity(fx.state, cfg, &id), MAPI_E_NOT_FOUND);
    cr_expect_null(id.entry_id);
    cr_expect_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    cr_expect_eq(fx_status().status_code, STATUS_OFFLINE);
    fx.ops->poll(fx.state);
    cr_expect_eq(fx_status().status_code, STATUS_OFFLINE);
    /* not authenticating: no password to check */
    cr_expect_eq(fx.ops->check_password(fx.state, "anything"), MAPI_E_LOGON_FAILED);
    cr_expect_leq(time(NULL) - t0, 5, "a closed port took too long");
}

/* Keys that are not entries of this book are refused without a search (the
 * server is unreachable, so a search would give NETWORK_ERROR). */
Test(ldap_provider, foreign_keys_not_found)
{
    const provider_config *cfg = load_down("");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
#define KEY(s)                                                                                     \
    {                                                                                              \
        s, sizeof s - 1                                                                            \
    }
    static const struct {
        const char *k;
        size_t n;
    } KEYS[] = {
        KEY(""),
        KEY("E"),
        KEY("Fuid=a,ou=people,dc=example,dc=org"), /* not an entry key */
        KEY("Ecn=admin,dc=example,dc=org"),        /* outside base_dn */
        KEY("Eou=xpeople,dc=example,dc=org"),
        KEY("Euid=a,ou=people,dc=example,dc=org\0hidden"),
        KEY("E\xff\xfe,ou=people,dc=example,dc=org"), /* not UTF-8 */
    };
#undef KEY
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        mapi_object o = {0};
        cr_expect_eq(fx.ops->open_entry(fx.state, (const uint8_t *)KEYS[i].k, KEYS[i].n, &o),
                     MAPI_E_NOT_FOUND, "key %zu", i);
        cr_expect_eq(o.count, 0u);
        mapi_object_clear(&o);
    }
    /* inside the book: looked up, and the server is down */
    const char *in = "Euid=a,ou=people,dc=example,dc=org";
    mapi_object o = {0};
    cr_expect_eq(fx.ops->open_entry(fx.state, (const uint8_t *)in, strlen(in), &o),
                 MAPI_E_NETWORK_ERROR);
    mapi_object_clear(&o);
}

Test(ldap_provider, same_entry_ignores_dn_case)
{
    const provider_config *cfg = load_down("");
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    const char *a = "Euid=Alice,ou=People,dc=example,dc=org";
    const char *b = "EUID=alice, ou=people,DC=EXAMPLE,dc=org";
    const char *c = "Euid=bob,ou=people,dc=example,dc=org";
    cr_expect(
        fx.ops->same_entry(fx.state, (const uint8_t *)a, strlen(a), (const uint8_t *)b, strlen(b)));
    cr_expect_not(
        fx.ops->same_entry(fx.state, (const uint8_t *)a, strlen(a), (const uint8_t *)c, strlen(c)));
    cr_expect(fx.ops->same_entry(fx.state, (const uint8_t *)"", 0, (const uint8_t *)"", 0));
}
