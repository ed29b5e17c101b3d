/* provider_net.h - what the network provider kinds (imap, smtp, ldap) share:
 * their account settings and a libcurl handle set up the same safe way
 * (timeouts on everything, only the kind's own protocols, no signals, TLS
 * verified unless the profile says otherwise).
 *
 * Settings read from the provider's configuration:
 *   url          imap://host:port, imaps://..., smtp://..., ldap://...  (required)
 *   username     login name (optional)
 *   password     login password (optional; for upstream-authenticated
 *                profiles the logon password is used instead)
 *   timeout_ms   bound on connecting and on each transfer (default 5000)
 *   ca_file      CA bundle for TLS (optional)
 *   tls_verify   "false" to accept any certificate (tests only; default true)
 *
 * Ownership: pnet_account owns its strings; pnet_account_clear wipes the
 * password. Thread-safety: pnet_global_init may be called from any thread,
 * any number of times; an account and its CURL handle belong to one provider
 * instance (serialised by the session).
 */
#pragma once

#include "../hresult.h"
#include "../provider_config.h"

#include <curl/curl.h>
#include <stdbool.h>

typedef struct {
    char *url;
    char *username;
    char *password;
    long timeout_ms;
    char *ca_file;
    bool tls_verify;
} pnet_account;

/* Initialises libcurl once per process. */
HRESULT pnet_global_init(void);

/* Reads the settings; password_override (the logon password of an upstream
 * profile) wins over the configured password. MAPI_E_UNCONFIGURED when url is
 * missing, MAPI_E_NOT_ENOUGH_MEMORY. */
HRESULT pnet_account_load(const provider_config *cfg, const char *password_override,
                          pnet_account *out);
void pnet_account_clear(pnet_account *a);

/* A new easy handle for the account: timeouts, credentials, TLS settings,
 * allowed protocols (a CURLOPT_PROTOCOLS_STR list such as "imap,imaps"), no
 * signals. NULL when out of memory. The caller sets the URL and the
 * transfer. */
CURL *pnet_easy(const pnet_account *a, const char *protocols);

/* The MAPI error for a libcurl result: CURLE_LOGIN_DENIED -> LOGON_FAILED;
 * connection, resolution, timeouts, TLS and protocol failures ->
 * NETWORK_ERROR; out of memory -> NOT_ENOUGH_MEMORY; others -> CALL_FAILED. */
HRESULT pnet_hresult(CURLcode rc);

/* True for results that mean "the server cannot be reached now" (as opposed
 * to "it answered no"): STATUS_OFFLINE rather than STATUS_FAILURE. */
bool pnet_unreachable(CURLcode rc);

/* Words for why a transfer failed, for a status string: libcurl's error
 * buffer (errbuf, may be "" or NULL) when it says something, else its
 * generic text for rc; but a connection the server closed is said so
 * ("the server closed the connection") rather than in libcurl's words for
 * it ("response reading failed (errno: 0)", "Server returned nothing"), and
 * an unusable CA or certificate file only in libcurl's generic words (its
 * error buffer names the file: status strings never show server paths).
 * Writes into out and returns it. */
const char *pnet_why(CURLcode rc, const char *errbuf, char *out, size_t len);

/* A growable buffer for libcurl's write callback, with a hard maximum so a
 * hostile server cannot exhaust memory. */
typedef struct {
    char *data;
    size_t len;
    size_t max;
    bool overflow;
} pnet_buffer;

/* CURLOPT_WRITEFUNCTION for a pnet_buffer passed as CURLOPT_WRITEDATA; the
 * data is kept NUL-terminated. */
size_t pnet_buffer_write(char *ptr, size_t size, size_t nmemb, void *userdata);
void pnet_buffer_free(pnet_buffer *b);

/* What libcurl uploads (an SMTP DATA, an IMAP APPEND): bytes read from data
 * by pnet_upload_read, passed as CURLOPT_READDATA. Borrows data. */
typedef struct {
    const char *data;
    size_t len, pos;
} pnet_upload;

/* CURLOPT_READFUNCTION for a pnet_upload. */
size_t pnet_upload_read(char *ptr, size_t size, size_t nmemb, void *userdata);
