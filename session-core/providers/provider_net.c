#include "provider_net.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void init_curl(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

HRESULT pnet_global_init(void)
{
    pthread_once(&curl_once, init_curl);
    return curl_init_result == CURLE_OK ? S_OK : MAPI_E_NOT_INITIALIZED;
}

static HRESULT dup_setting(const provider_config *cfg, const char *key, char **out)
{
    const char *v = provider_config_setting(cfg, key);
    *out = NULL;
    if (v && !(*out = strdup(v)))
        return MAPI_E_NOT_ENOUGH_MEMORY;
    return S_OK;
}

HRESULT pnet_account_load(const provider_config *cfg, const char *password_override,
                          pnet_account *out)
{
    memset(out, 0, sizeof *out);
    out->timeout_ms = 5000;
    out->tls_verify = true;
    const char *url = provider_config_setting(cfg, "url");
    if (!url || !*url)
        return MAPI_E_UNCONFIGURED;
    HRESULT hr = dup_setting(cfg, "url", &out->url);
    if (HR_SUCCEEDED(hr))
        hr = dup_setting(cfg, "username", &out->username);
    if (HR_SUCCEEDED(hr) && password_override) {
        if (!(out->password = strdup(password_override)))
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
    } else if (HR_SUCCEEDED(hr)) {
        hr = dup_setting(cfg, "password", &out->password);
    }
    if (HR_SUCCEEDED(hr)) {
        const char *ca = provider_config_path(cfg, "ca_file");
        if (ca && !(out->ca_file = strdup(ca)))
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
    }
    const char *t = provider_config_setting(cfg, "timeout_ms");
    if (t) {
        long v = strtol(t, NULL, 10);
        if (v > 0)
            out->timeout_ms = v;
    }
    const char *verify = provider_config_setting(cfg, "tls_verify");
    if (verify && strcmp(verify, "false") == 0)
        out->tls_verify = false;
    if (HR_FAILED(hr))
        pnet_account_clear(out);
    return hr;
}

void pnet_account_clear(pnet_account *a)
{
    /* The provider's own copy (strdup'd from the logon): wiped by hand. */
    if (a->password)
        sodium_memzero(a->password, strlen(a->password));
    free(a->password);
    free(a->url);
    free(a->username);
    free(a->ca_file);
    memset(a, 0, sizeof *a);
}

CURL *pnet_easy(const pnet_account *a, const char *protocols)
{
    if (HR_FAILED(pnet_global_init()))
        return NULL;
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    /* Every network call is bounded: a server that stops answering costs a
     * request at most timeout_ms, never a hang. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, a->timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, a->timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (a->username)
        curl_easy_setopt(c, CURLOPT_USERNAME, a->username);
    if (a->password)
        curl_easy_setopt(c, CURLOPT_PASSWORD, a->password);
    if (a->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, a->ca_file);
    if (!a->tls_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return c;
}

bool pnet_unreachable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
        return true;
    default:
        return false;
    }
}

HRESULT pnet_hresult(CURLcode rc)
{
    if (rc == CURLE_OK)
        return S_OK;
    if (rc == CURLE_LOGIN_DENIED)
        return MAPI_E_LOGON_FAILED;
    if (rc == CURLE_OUT_OF_MEMORY)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    if (pnet_unreachable(rc) || rc == CURLE_PEER_FAILED_VERIFICATION ||
        rc == CURLE_UNSUPPORTED_PROTOCOL)
        return MAPI_E_NETWORK_ERROR;
    return MAPI_E_CALL_FAILED;
}

const char *pnet_why(CURLcode rc, const char *errbuf, char *out, size_t len)
{
    const char *text = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
    /* libcurl's line readers (IMAP, SMTP, POP3) say "response reading
     * failed (errno: N)" for end of file, with a stale errno; no bytes at
     * all is CURLE_GOT_NOTHING. Both mean the server hung up on us. */
    if (rc == CURLE_GOT_NOTHING ||
        (rc == CURLE_RECV_ERROR && strncmp(text, "response reading failed", 23) == 0))
        text = "the server closed the connection";
    /* Its words for an unusable CA or certificate file name the file (and
     * the system's CA folder): status strings reach clients, so only the
     * generic text goes there. */
    if (rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CRL_BADFILE ||
        rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_ISSUER_ERROR)
        text = curl_easy_strerror(rc);
    snprintf(out, len, "%s", text);
    return out;
}

size_t pnet_upload_read(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    pnet_upload *u = userdata;
    size_t n = size * nmemb;
    if (n > u->len - u->pos)
        n = u->len - u->pos;
    memcpy(ptr, u->data + u->pos, n);
    u->pos += n;
    return n;
}

size_t pnet_buffer_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    pnet_buffer *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->max) {
        b->overflow = true;
        return 0; /* libcurl aborts the transfer: CURLE_WRITE_ERROR */
    }
    char *d = realloc(b->data, b->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, ptr, n);
    b->data = d;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

void pnet_buffer_free(pnet_buffer *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
