/* imap_client.c - transfers, error wording and the folder sync of the
 * "imap" store provider (imap_client.h). */
#include "imap_client.h"

#include "../mapi_flags.h"
#include "provider_fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh easy handle (and so a fresh connection on the next transfer). */
HRESULT imap_new_handle(imap_state *s)
{
    if (s->curl)
        curl_easy_cleanup(s->curl);
    s->curl = pnet_easy(&s->acct, IMAP_PROTOCOLS);
    if (!s->curl)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, pnet_buffer_write);
    return S_OK;
}

/* One IMAP command: on the server root (folder NULL) or in a folder, which
 * libcurl SELECTs first. Untagged answers land in out (the caller frees it
 * in every case); with raw, every line of the conversation does instead
 * (libcurl passes them all to the header callback, literal bytes included),
 * and the untagged lines go to a scratch buffer bounded the same way. */
static CURLcode run(imap_state *s, const char *folder, const char *command, size_t max,
                    pnet_buffer *out, bool raw)
{
    memset(out, 0, sizeof *out);
    out->max = max;
    pnet_buffer scratch;
    memset(&scratch, 0, sizeof scratch);
    scratch.max = max;
    /* A replacement handle that could not be made (out of memory in
     * validate-state) is made again here rather than used as NULL. */
    if (!s->curl && HR_FAILED(imap_new_handle(s)))
        return CURLE_OUT_OF_MEMORY;
    char *url = NULL;
    if (folder) {
        char *esc = curl_easy_escape(s->curl, folder, 0);
        size_t n = esc ? strlen(s->root) + strlen(esc) + 1 : 0;
        url = esc ? malloc(n) : NULL;
        if (url)
            snprintf(url, n, "%s%s", s->root, esc);
        curl_free(esc);
        if (!url)
            return CURLE_OUT_OF_MEMORY;
    }
    curl_easy_setopt(s->curl, CURLOPT_URL, url ? url : s->root);
    curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, command);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, raw ? &scratch : out);
    if (raw) {
        curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, pnet_buffer_write);
        curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, out);
    }
    s->errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(s->curl);
    if (raw) {
        curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, (curl_write_callback)NULL);
        curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, (void *)NULL);
        /* Either buffer full means the answer was too large. */
        out->overflow = out->overflow || scratch.overflow;
    }
    pnet_buffer_free(&scratch);
    free(url);
    return rc;
}

CURLcode imap_run(imap_state *s, const char *folder, const char *command, size_t max,
                  pnet_buffer *out)
{
    return run(s, folder, command, max, out, false);
}

CURLcode imap_run_raw(imap_state *s, const char *folder, const char *command, size_t max,
                      pnet_buffer *out)
{
    return run(s, folder, command, max, out, true);
}

/* prefix + quoted name + suffix, with '%' written as "%25" because libcurl
 * URL-decodes custom requests. NULL when the name cannot be quoted (it then
 * cannot be named in a command without a literal) or out of memory. */
char *imap_command_for(const char *prefix, const char *name, const char *suffix)
{
    size_t qlen = 2 * strlen(name) + 3;
    char *q = malloc(qlen);
    if (!q || !imap_quote(name, q, qlen)) {
        free(q);
        return NULL;
    }
    size_t n = strlen(prefix) + 3 * strlen(q) + strlen(suffix) + 1;
    char *cmd = malloc(n);
    if (cmd) {
        size_t k = (size_t)snprintf(cmd, n, "%s", prefix);
        for (const char *p = q; *p; p++)
            k += (size_t)snprintf(cmd + k, n - k, *p == '%' ? "%%25" : "%c", *p);
        snprintf(cmd + k, n - k, "%s", suffix);
    }
    free(q);
    return cmd;
}

/* The status row after a failed transfer. */
void imap_set_error_status(imap_state *s, CURLcode rc, const pnet_buffer *b)
{
    char why[CURL_ERROR_SIZE];
    pnet_why(rc, s->errbuf, why, sizeof why);
    if (rc == CURLE_LOGIN_DENIED) {
        s->refused = true;
        pfs_set_status(&s->st, STATUS_FAILURE, "credentials refused by the server");
    } else if (pnet_unreachable(rc)) {
        pfs_set_status(&s->st, STATUS_OFFLINE, "server unreachable: %s", why);
    } else if (b && b->overflow) {
        pfs_set_status(&s->st, STATUS_FAILURE, "server answer larger than %zu bytes", b->max);
    } else {
        pfs_set_status(&s->st, STATUS_FAILURE, "server error: %s", why);
    }
}

/* What a failed transfer means to a caller reading objects: the store cannot
 * be read now (502), whatever the reason; the row says why. */
HRESULT imap_read_error(CURLcode rc)
{
    return rc == CURLE_OUT_OF_MEMORY ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_NETWORK_ERROR;
}

/* MESSAGES and UNSEEN of one folder. A folder that cannot be named or that
 * the server will not count (it vanished, \Noselect) counts 0; only a lost
 * connection or refused login fails. */
CURLcode imap_folder_counts(imap_state *s, imap_folder *f)
{
    f->messages = f->unseen = 0;
    if (f->e.flags & IMAP_LIST_NOSELECT)
        return CURLE_OK;
    char *cmd = imap_command_for("STATUS ", f->e.name, " (MESSAGES UNSEEN)");
    if (!cmd)
        return CURLE_OK;
    pnet_buffer b;
    CURLcode rc = imap_run(s, NULL, cmd, IMAP_SMALL_MAX_BYTES, &b);
    free(cmd);
    if (rc == CURLE_OK && !imap_parse_status(b.data ? b.data : "", b.len, &f->messages, &f->unseen))
        f->messages = f->unseen = 0;
    pnet_buffer_free(&b);
    if (rc == CURLE_LOGIN_DENIED || rc == CURLE_OUT_OF_MEMORY || pnet_unreachable(rc))
        return rc;
    return CURLE_OK;
}

void imap_folders_free(imap_folder *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i].e.name);
    free(f);
}

/* LIST "" pattern (the command is given whole) into folders, without
 * counts. On failure the status row is set. */
CURLcode imap_list_folders(imap_state *s, const char *command, imap_folder **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pnet_buffer b;
    CURLcode rc = imap_run(s, NULL, command, IMAP_LIST_MAX_BYTES, &b);
    imap_list_entry *e = NULL;
    size_t count = 0;
    if (rc == CURLE_OK && HR_FAILED(imap_parse_list(b.data ? b.data : "", b.len, &e, &count)))
        rc = CURLE_OUT_OF_MEMORY;
    if (rc != CURLE_OK)
        imap_set_error_status(s, rc, &b);
    pnet_buffer_free(&b);
    if (rc != CURLE_OK)
        return rc;
    imap_folder *f = count ? calloc(count, sizeof *f) : NULL;
    if (count && !f) {
        imap_list_free(e, count);
        return CURLE_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < count; i++)
        f[i].e = e[i]; /* names move over */
    free(e);
    *out = f;
    *n = count;
    return CURLE_OK;
}

/* The full sync: every folder with its counts. Sets the status row either
 * way. The folders are returned when out is not NULL. */
CURLcode imap_sync_all(imap_state *s, imap_folder **out, size_t *nout)
{
    imap_folder *f;
    size_t n;
    CURLcode rc = imap_list_folders(s, "LIST \"\" *", &f, &n);
    if (rc != CURLE_OK)
        return rc;
    unsigned long total = 0, unseen = 0;
    for (size_t i = 0; i < n && rc == CURLE_OK; i++) {
        /* Servers without CHILDREN (RFC 3348) still show it in the names. */
        f[i].subfolders = (f[i].e.flags & IMAP_LIST_HASCHILDREN) != 0;
        size_t len = strlen(f[i].e.name);
        for (size_t j = 0; j < n && !f[i].subfolders && f[i].e.delim; j++)
            f[i].subfolders =
                strncmp(f[j].e.name, f[i].e.name, len) == 0 && f[j].e.name[len] == f[i].e.delim;
        rc = imap_folder_counts(s, &f[i]);
        total += f[i].messages;
        unseen += f[i].unseen;
    }
    if (rc != CURLE_OK) {
        imap_set_error_status(s, rc, NULL);
        imap_folders_free(f, n);
        return rc;
    }
    s->synced = true;
    s->refused = false;
    s->retry_s = 0;
    pfs_set_status(&s->st, STATUS_AVAILABLE, "%zu folder%s, %lu message%s (%lu unseen)", n,
                   n == 1 ? "" : "s", total, total == 1 ? "" : "s", unseen);
    if (out) {
        *out = f;
        *nout = n;
    } else {
        imap_folders_free(f, n);
    }
    return CURLE_OK;
}

/* A NOOP: connects and logs in when needed. The row only changes on
 * failure, or from "first sync pending" wording at logon. */
CURLcode imap_check_connection(imap_state *s)
{
    pnet_buffer b;
    CURLcode rc = imap_run(s, NULL, "NOOP", IMAP_SMALL_MAX_BYTES, &b);
    if (rc != CURLE_OK)
        imap_set_error_status(s, rc, &b);
    pnet_buffer_free(&b);
    return rc;
}
