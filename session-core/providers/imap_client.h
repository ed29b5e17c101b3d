/* imap_client.h - the "imap" store provider's state and its conversation
 * with the server over libcurl (private to provider_imap.c, imap_client.c
 * and imap_objects.c).
 *
 * Every transfer reuses the instance's one CURL easy handle, so libcurl
 * keeps the connection and its login; every transfer is bounded by the
 * account's timeout (provider_net.h) and every answer by a byte limit.
 * Functions that return a CURLcode other than CURLE_OK have set the status
 * row to say why (imap_set_error_status), unless noted.
 *
 * Ownership: imap_folder names are malloc'd (imap_folders_free). The state
 * belongs to one provider instance, which the session serialises.
 */
#pragma once

#include "imap_parse.h"
#include "../provider.h"
#include "provider_net.h"

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define IMAP_PROTOCOLS "imap,imaps"
#define IMAP_LIST_MAX_BYTES (4u << 20)    /* a LIST answer larger than this is hostile */
#define IMAP_SMALL_MAX_BYTES (256u << 10) /* STATUS, FETCH, NOOP answers */

typedef struct {
    imap_list_entry e;
    uint32_t messages, unseen;
    bool subfolders;
} imap_folder;

typedef struct {
    pnet_account acct;
    CURL *curl;
    char *root;               /* the url with exactly one trailing '/' */
    const char *display_name; /* borrowed from the profile store the session holds */
    uint8_t uid[MAPIUID_LEN];
    bool authenticates; /* logged on with the caller's password: pw_hash is set */
    uint8_t pw_hash[crypto_generichash_BYTES];
    bool synced;  /* the first full sync has been done */
    bool refused; /* the server refused the credentials: poll stops trying */
    time_t next_retry;
    int retry_s;
    char errbuf[CURL_ERROR_SIZE];
    provider_status st;
} imap_state;
/* A fresh easy handle, and so a fresh connection on the next transfer. */
HRESULT imap_new_handle(imap_state *s);

/* One command on the server root (folder NULL) or in a folder, which libcurl
 * SELECTs first. The untagged answers land in out, which the caller frees in
 * every case. Does not touch the status row. */
CURLcode imap_run(imap_state *s, const char *folder, const char *command, size_t max,
                  pnet_buffer *out);

/* imap_run, but out receives every line the server sent during the transfer
 * (the login and SELECT answers too), literal bytes included: what
 * imap_parse_fetch_raw reads. */
CURLcode imap_run_raw(imap_state *s, const char *folder, const char *command, size_t max,
                      pnet_buffer *out);

/* prefix + name as an IMAP quoted string + suffix, ready for
 * CURLOPT_CUSTOMREQUEST. malloc'd; NULL when the name cannot be quoted or
 * out of memory. */
char *imap_command_for(const char *prefix, const char *name, const char *suffix);

/* The status row after a failed transfer (b: its answer buffer, or NULL). */
void imap_set_error_status(imap_state *s, CURLcode rc, const pnet_buffer *b);

/* What a failed transfer means to a caller reading objects. */
HRESULT imap_read_error(CURLcode rc);

/* MESSAGES and UNSEEN of f (0 when the server will not count it). Fails only
 * for a lost connection, a refused login or no memory; does not set the row. */
CURLcode imap_folder_counts(imap_state *s, imap_folder *f);

/* The folders of a LIST command (given whole), without counts. */
CURLcode imap_list_folders(imap_state *s, const char *command, imap_folder **out, size_t *n);
void imap_folders_free(imap_folder *f, size_t n);

/* The full sync: every folder with its counts; sets the row either way
 * (AVAILABLE with the totals on success). out may be NULL. */
CURLcode imap_sync_all(imap_state *s, imap_folder **out, size_t *nout);

/* A NOOP (connecting and logging in when needed). */
CURLcode imap_check_connection(imap_state *s);

/* provider_ops.store, .contents, .open_entry and .same_entry
 * (imap_objects.c). */
HRESULT imap_store(void *state, mapi_object *store, mapi_rows *folders);
HRESULT imap_contents(void *state, const uint8_t *key, size_t key_len, size_t offset, size_t max,
                      mapi_rows *out, size_t *total);
HRESULT imap_open_entry(void *state, const uint8_t *key, size_t key_len, mapi_object *out);
bool imap_same_entry(void *state, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* imap_spool.c: the spooler's writes (provider_ops.put_message, move_message). */
HRESULT imap_put_message(void *state, const char *folder, const char *msg, size_t len, char *name,
                         size_t namelen);
HRESULT imap_move_message(void *state, const char *from, const char *name, const char *to);
