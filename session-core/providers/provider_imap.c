/* provider_imap.c - the "imap" store provider: an IMAP mailbox reached with
 * libcurl (imap:// or imaps://).
 *
 * The status row says what the server last answered: AVAILABLE with folder
 * and message counts, OFFLINE when it cannot be reached ("server unreachable:
 * <why>"), FAILURE when it refuses the credentials or answers nonsense.
 * Logon always makes one bounded round trip (a NOOP, or the full first sync
 * with MAPI_FORCE_DOWNLOAD) so the row is true from the start; otherwise the
 * first sync (folder list + counts) runs in the first poll. With upstream
 * authentication (args->password) the logon's answer decides the whole logon:
 * refused -> MAPI_E_LOGON_FAILED, unreachable -> MAPI_E_NETWORK_ERROR.
 *
 * One CURL easy handle per instance, so libcurl keeps the IMAP connection
 * (and its login) between calls; ValidateState replaces it to force a fresh
 * connection. Reads never change the mailbox: FETCH asks for FLAGS,
 * ENVELOPE and BODY.PEEK[HEADER.FIELDS], never BODY[], which would set \Seen.
 * Folder contents tables list messages largest UID (newest) first.
 *
 * Settings (provider_net.h): url, username, password, timeout_ms, ca_file,
 * tls_verify. An upstream profile without a username logs in with the
 * provider's identity address.
 *
 * Entry-id keys (entryid.h): 'F' name for a folder, 'M' folder NUL uid for a
 * message; names are the server's own (modified UTF-7) spelling. Folder
 * display names are decoded to UTF-8 (imap_mutf7_decode).
 */
#include "imap_client.h"
#include "../mapi_flags.h"
#include "../provider.h"
#include "provider_fs.h"
#include "provider_net.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RETRY_MIN_S 2 /* poll's first reconnect delay when offline */
#define RETRY_MAX_S 60

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void imap_free(imap_state *s)
{
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    pnet_account_clear(&s->acct);
    /* The provider's own copies are not request memory: wiped by hand. */
    sodium_memzero(s->pw_hash, sizeof s->pw_hash);
    free(s->root);
    free(s);
}

static HRESULT imap_check_config(const provider_config *cfg, char *err, size_t errlen)
{
    const char *url = provider_config_setting(cfg, "url");
    if (url && strncasecmp(url, "imap://", 7) != 0 && strncasecmp(url, "imaps://", 8) != 0) {
        snprintf(err, errlen, "settings.url: must start with imap:// or imaps://");
        return MAPI_E_INVALID_PARAMETER;
    }
    const char *t = provider_config_setting(cfg, "timeout_ms");
    if (t) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v <= 0 || v > 600000) {
            snprintf(err, errlen, "settings.timeout_ms: must be a number from 1 to 600000");
            return MAPI_E_INVALID_PARAMETER;
        }
    }
    const char *v = provider_config_setting(cfg, "tls_verify");
    if (v && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
        snprintf(err, errlen, "settings.tls_verify: must be true or false");
        return MAPI_E_INVALID_PARAMETER;
    }
    return S_OK;
}

static HRESULT imap_logon(const provider_config *cfg, const provider_logon_args *args, void **state)
{
    *state = NULL;
    HRESULT hr = pnet_global_init();
    if (HR_FAILED(hr))
        return hr;
    imap_state *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    hr = pnet_account_load(cfg, args->password, &s->acct);
    if (HR_FAILED(hr)) {
        free(s);
        return hr;
    }
    memcpy(s->uid, args->uid, MAPIUID_LEN);
    s->display_name = provider_config_display_name(cfg);
    const char *who = provider_config_identity_address(cfg);
    if (!s->acct.username && args->password && who && !(s->acct.username = strdup(who)))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    size_t ulen = strlen(s->acct.url);
    while (ulen > 0 && s->acct.url[ulen - 1] == '/')
        ulen--;
    if (HR_SUCCEEDED(hr) && !(s->root = malloc(ulen + 2)))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (HR_SUCCEEDED(hr)) {
        memcpy(s->root, s->acct.url, ulen);
        memcpy(s->root + ulen, "/", 2);
        hr = imap_new_handle(s);
    }
    if (HR_FAILED(hr)) {
        imap_free(s);
        return hr;
    }
    if (args->password) {
        s->authenticates = true;
        crypto_generichash(s->pw_hash, sizeof s->pw_hash, (const unsigned char *)args->password,
                           strlen(args->password), NULL, 0);
    }

    CURLcode rc;
    if (args->logon_flags & MAPI_FORCE_DOWNLOAD) {
        rc = imap_sync_all(s, NULL, NULL);
    } else {
        rc = imap_check_connection(s);
        if (rc == CURLE_OK)
            pfs_set_status(&s->st, STATUS_AVAILABLE, "connected; first synchronisation pending");
    }
    if (rc == CURLE_OUT_OF_MEMORY) {
        imap_free(s);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    if (rc != CURLE_OK && args->password) {
        /* This provider authenticates the logon: its answer is the answer. */
        hr = rc == CURLE_LOGIN_DENIED ? MAPI_E_LOGON_FAILED : MAPI_E_NETWORK_ERROR;
        imap_free(s);
        return hr;
    }
    *state = s;
    return S_OK;
}

static void imap_logoff(void *state) { imap_free(state); }

static HRESULT imap_check_password(void *state, const char *password)
{
    const imap_state *s = state;
    if (!s->authenticates || !password)
        return MAPI_E_LOGON_FAILED;
    /* Hashes of equal length compared in constant time: neither the content
     * nor the length of the password leaks through timing. */
    uint8_t h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof h, (const unsigned char *)password, strlen(password), NULL, 0);
    int same = crypto_verify_32(h, s->pw_hash);
    sodium_memzero(h, sizeof h); /* a stack copy: wiped by hand */
    return same == 0 ? S_OK : MAPI_E_LOGON_FAILED;
}

static void imap_status(void *state, provider_status *out)
{
    const imap_state *s = state;
    *out = s->st;
}

static HRESULT imap_validate_state(void *state, uint32_t flags)
{
    /* Every flag (FORCE_XP_CONNECT, ...) is served by what we always do: drop
     * the connection and ask the server again. */
    (void)flags;
    imap_state *s = state;
    HRESULT hr = imap_new_handle(s);
    if (HR_FAILED(hr))
        return hr;
    s->refused = false;
    CURLcode rc = imap_sync_all(s, NULL, NULL);
    return rc == CURLE_OUT_OF_MEMORY ? MAPI_E_NOT_ENOUGH_MEMORY : S_OK;
}

/* Called every few seconds with the session locked: cheap when all is
 * well (a NOOP on the open connection); after a failure it reconnects with
 * a growing delay, so an unreachable server does not hold the session for a
 * timeout on every poll. Refused credentials are never retried here (that
 * would lock accounts): validate-state does it on request. */
static void imap_poll(void *state)
{
    imap_state *s = state;
    if (s->refused)
        return;
    bool healthy = s->st.status_code == STATUS_AVAILABLE;
    if (!healthy && now_s() < s->next_retry)
        return;
    CURLcode rc = healthy && s->synced ? imap_check_connection(s) : imap_sync_all(s, NULL, NULL);
    if (rc != CURLE_OK && !s->refused) {
        s->retry_s = s->retry_s ? s->retry_s * 2 : RETRY_MIN_S;
        if (s->retry_s > RETRY_MAX_S)
            s->retry_s = RETRY_MAX_S;
        s->next_retry = now_s() + s->retry_s;
    }
}

static const char *const REQUIRED_SETTINGS[] = {"url", NULL};

const provider_ops PROVIDER_IMAP = {
    .kind = "imap",
    .resource_type = MAPI_STORE_PROVIDER,
    .dll_name = "mgwimap",
    .provider_display = "mapigw",
    .resource_methods = STATUS_VALIDATE_STATE,
    .required_settings = REQUIRED_SETTINGS,
    .check_config = imap_check_config,
    .logon = imap_logon,
    .logoff = imap_logoff,
    .check_password = imap_check_password,
    .status = imap_status,
    .validate_state = imap_validate_state,
    .poll = imap_poll,
    .store = imap_store,
    .contents = imap_contents,
    .open_entry = imap_open_entry,
    .same_entry = imap_same_entry,
    .put_message = imap_put_message,
    .move_message = imap_move_message,
};
