/* Unit suite for what every provider kind shares: the kind table
 * (provider.c), the "create" setting check, and MAPI_E_UNCONFIGURED for a
 * missing path. The kinds' own behaviour is in test_provider_<kind>.c. */
#include "provider_fixture.h"

#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile.h"
#include "../../session-core/provider.h"
#include "../../session-core/providers/provider_net.h"

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

TestSuite(providers, .init = fx_setup, .fini = fx_teardown);

Test(providers, kind_table)
{
    const provider_ops *m = provider_kind_find("maildir");
    const provider_ops *a = provider_kind_find("abfile");
    const provider_ops *s = provider_kind_find("spool");
    cr_assert_not_null(m);
    cr_assert_not_null(a);
    cr_assert_not_null(s);
    cr_assert_eq(m->resource_type, MAPI_STORE_PROVIDER);
    cr_assert_eq(a->resource_type, MAPI_AB_PROVIDER);
    cr_assert_eq(s->resource_type, MAPI_TRANSPORT_PROVIDER);
    cr_assert_str_eq(m->dll_name, "mgwmdir");
    cr_assert_str_eq(a->dll_name, "mgwab");
    cr_assert_str_eq(s->dll_name, "mgwspool");
    cr_assert_str_eq(m->provider_display, "mapigw");
    cr_assert_eq(m->resource_methods, STATUS_VALIDATE_STATE);
    cr_assert_eq(a->resource_methods, STATUS_VALIDATE_STATE);
    cr_assert_eq(s->resource_methods, STATUS_VALIDATE_STATE | STATUS_FLUSH_QUEUES);
    cr_assert_null(m->flush_queues);
    cr_assert_not_null(s->flush_queues);
}

Test(providers, create_must_be_boolean)
{
    char json[] = "{\"profiles\":[{\"name\":\"p\",\"auth\":{\"type\":\"none\"},\"services\":"
                  "[{\"name\":\"s\",\"providers\":[{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":"
                  "\"maildir\",\"display_name\":\"M\",\"settings\":{\"path\":\"m\","
                  "\"create\":\"yes\"}}]}]}]}";
    char err[512] = "";
    HRESULT hr = profile_store_load_string(json, "test.json", fx.root, &fx.store, err, sizeof err,
                                           NULL, NULL);
    cr_assert_eq(hr, MAPI_E_INVALID_PARAMETER);
    cr_assert_not_null(strstr(err, "settings.create"), "error was: %s", err);
}

/* A missing path (or deliver_to) is MAPI_E_UNCONFIGURED for every kind, and
 * the state stays NULL. */
Test(providers, missing_path_is_unconfigured)
{
    static const char *const PROVIDERS[] = {
        "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"M\","
        "\"settings\":{\"create\":true}}",
        "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"A\"}",
        "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"S\","
        "\"settings\":{\"path\":\"spool\",\"create\":true}}",
        "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"S\","
        "\"settings\":{\"deliver_to\":\"md\"}}",
    };
    for (size_t i = 0; i < sizeof PROVIDERS / sizeof PROVIDERS[0]; i++) {
        const provider_config *cfg = fx_load_provider(PROVIDERS[i]);
        fx.state = (void *)&fx.state; /* must be reset to NULL */
        cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), MAPI_E_UNCONFIGURED, "%s",
                     PROVIDERS[i]);
        cr_assert_null(fx.state);
        profile_store_unref(fx.store);
        fx.store = NULL;
    }
    /* Nothing was created on the way. */
    char p[512];
    cr_assert_eq(access(fx_path(p, "spool"), F_OK), -1);
}

/* A server that hung up is said so, not in libcurl's words
 * with a stale errno; every other reason is libcurl's own. */
Test(providers, network_failures_are_worded_for_people)
{
    char out[CURL_ERROR_SIZE];
    cr_expect_str_eq(
        pnet_why(CURLE_RECV_ERROR, "response reading failed (errno: 0)", out, sizeof out),
        "the server closed the connection");
    cr_expect_str_eq(
        pnet_why(CURLE_RECV_ERROR, "response reading failed (errno: 115)", out, sizeof out),
        "the server closed the connection");
    cr_expect_str_eq(pnet_why(CURLE_GOT_NOTHING, "", out, sizeof out),
                     "the server closed the connection");
    cr_expect_str_eq(
        pnet_why(CURLE_RECV_ERROR, "Recv failure: Connection reset by peer", out, sizeof out),
        "Recv failure: Connection reset by peer");
    cr_expect_str_eq(pnet_why(CURLE_COULDNT_CONNECT, NULL, out, sizeof out),
                     curl_easy_strerror(CURLE_COULDNT_CONNECT));
    cr_expect_str_eq(pnet_why(CURLE_LOGIN_DENIED, "Login denied", out, sizeof out), "Login denied");
    /* Libcurl names the CA file; clients never see it. */
    pnet_why(CURLE_SSL_CACERT_BADFILE,
             "error setting certificate verify locations:  CAfile: /srv/secret/ca.pem CApath: "
             "/etc/ssl/certs",
             out, sizeof out);
    cr_expect_null(strchr(out, '/'), "was: %s", out);
    cr_expect_str_eq(out, curl_easy_strerror(CURLE_SSL_CACERT_BADFILE));
}
