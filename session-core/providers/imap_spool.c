/* imap_spool.c - what the spooler writes into an "imap" store (its Outbox,
 * Sent Items and the reports in INBOX): provider_ops.put_message and
 * move_message over the instance's connection.
 *
 * put_message APPENDs (libcurl's IMAP upload) after a CREATE whose refusal
 * (the folder exists) is ignored. The name it gives the message is its
 * Message-ID, which the spooler always sets: move_message finds the message
 * again with UID SEARCH HEADER Message-ID, then UID COPY to the target
 * (created the same way), and UID STORE \Deleted + EXPUNGE in the source.
 * No entry id is offered for the Outbox copy (the server's UID of an APPEND
 * is not known without UIDPLUS's answer, which libcurl does not hand out).
 */
#include "imap_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* CREATE folder; "it exists" and every other refusal are the APPEND's or
 * COPY's to report. */
static void create_folder(imap_state *s, const char *folder)
{
    if (strcasecmp(folder, "INBOX") == 0)
        return;
    char *cmd = imap_command_for("CREATE ", folder, "");
    if (!cmd)
        return;
    pnet_buffer out;
    (void)imap_run(s, NULL, cmd, IMAP_SMALL_MAX_BYTES, &out);
    pnet_buffer_free(&out);
    free(cmd);
}

/* The Message-ID field's value of msg's header ("" when none). */
static void message_id_of(const char *msg, size_t len, char *out, size_t outlen)
{
    out[0] = '\0';
    for (size_t pos = 0; pos < len;) {
        const char *eol = memchr(msg + pos, '\n', len - pos);
        size_t n = eol ? (size_t)(eol - (msg + pos)) : len - pos;
        if (n == 0 || (n == 1 && msg[pos] == '\r'))
            return; /* end of the header */
        if (n > 11 && strncasecmp(msg + pos, "Message-ID:", 11) == 0) {
            size_t b = pos + 11, e = pos + n;
            while (b < e && (msg[b] == ' ' || msg[b] == '\t'))
                b++;
            while (e > b && (msg[e - 1] == '\r' || msg[e - 1] == ' '))
                e--;
            if (e - b < outlen)
                snprintf(out, outlen, "%.*s", (int)(e - b), msg + b);
            return;
        }
        pos += n + 1;
    }
}

HRESULT imap_put_message(void *state, const char *folder, const char *msg, size_t len, char *name,
                         size_t namelen)
{
    imap_state *s = state;
    message_id_of(msg, len, name, namelen);
    if (!s->curl && HR_FAILED(imap_new_handle(s)))
        return MAPI_E_NOT_ENOUGH_MEMORY;
    create_folder(s, folder);
    char *esc = curl_easy_escape(s->curl, folder, 0);
    size_t n = esc ? strlen(s->root) + strlen(esc) + 1 : 0;
    char *url = esc ? malloc(n) : NULL;
    if (url)
        snprintf(url, n, "%s%s", s->root, esc);
    curl_free(esc);
    if (!url)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    pnet_upload u = {msg, len, 0};
    pnet_buffer out = {.max = IMAP_SMALL_MAX_BYTES};
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, pnet_upload_read);
    curl_easy_setopt(s->curl, CURLOPT_READDATA, &u);
    curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(s->curl);
    curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, (curl_read_callback)NULL);
    curl_easy_setopt(s->curl, CURLOPT_READDATA, (void *)NULL);
    curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)-1);
    pnet_buffer_free(&out);
    free(url);
    if (rc != CURLE_OK) {
        imap_set_error_status(s, rc, NULL);
        return imap_read_error(rc);
    }
    return S_OK;
}

HRESULT imap_move_message(void *state, const char *from, const char *name, const char *to)
{
    imap_state *s = state;
    if (!name[0])
        return MAPI_E_NOT_FOUND;
    char *cmd = imap_command_for("UID SEARCH HEADER Message-ID ", name, "");
    if (!cmd)
        return MAPI_E_INVALID_PARAMETER;
    pnet_buffer out;
    CURLcode rc = imap_run(s, from, cmd, IMAP_SMALL_MAX_BYTES, &out);
    free(cmd);
    uint32_t *uids = NULL;
    size_t n = 0;
    HRESULT hr =
        rc == CURLE_OK ? imap_parse_search(out.data, out.len, &uids, &n) : imap_read_error(rc);
    pnet_buffer_free(&out);
    if (HR_SUCCEEDED(hr) && n == 0)
        hr = MAPI_E_NOT_FOUND;
    char set[32];
    if (HR_SUCCEEDED(hr))
        snprintf(set, sizeof set, "%u", uids[0]);
    free(uids);
    if (HR_SUCCEEDED(hr) && to) {
        create_folder(s, to);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "UID COPY %s ", set);
        cmd = imap_command_for(prefix, to, "");
        memset(&out, 0, sizeof out);
        rc = cmd ? imap_run(s, from, cmd, IMAP_SMALL_MAX_BYTES, &out) : CURLE_OUT_OF_MEMORY;
        free(cmd);
        pnet_buffer_free(&out);
        hr = rc == CURLE_OK ? S_OK : imap_read_error(rc);
    }
    if (HR_SUCCEEDED(hr)) {
        char store[96];
        snprintf(store, sizeof store, "UID STORE %s +FLAGS.SILENT (\\Deleted)", set);
        rc = imap_run(s, from, store, IMAP_SMALL_MAX_BYTES, &out);
        pnet_buffer_free(&out);
        if (rc == CURLE_OK)
            rc = imap_run(s, from, "EXPUNGE", IMAP_SMALL_MAX_BYTES, &out);
        pnet_buffer_free(&out);
        hr = rc == CURLE_OK ? S_OK : imap_read_error(rc);
    }
    return hr;
}
