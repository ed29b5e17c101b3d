/* maildir_store.h - the MAPI objects of a Maildir++ store: the store, its
 * folder hierarchy, folders and messages (provider_maildir.c's object access).
 *
 * Folders: "INBOX" is the Maildir itself (cur/ + new/); every directory
 * ".Name" of it that holds cur/, new/ and tmp/ is the folder "Name", where '.'
 * separates hierarchy levels ("Parent.Child" is displayed "Parent/Child").
 * The hierarchy is one flat list: INBOX first, then the subfolders sorted by
 * name; PR_SUBFOLDERS says whether a folder has children ("A" has "A.B").
 *
 * Keys (entryid.h): 'F' + folder name; 'M' + folder name + NUL + the
 * message's base name (its file name up to ':'). A key is checked before any
 * path is built from it: a folder name is non-empty, has no '/', no NUL and
 * no empty level (so never "." or ".."), a base name has no '/', ':' or NUL
 * and does not start with '.'. Folder directories are not followed through
 * symbolic links, message files are opened O_NOFOLLOW and must be regular
 * files, so nothing outside the Maildir is ever read. Anything else:
 * MAPI_E_NOT_FOUND.
 *
 * Private to session-core/. Thread-safety: no shared state; blocks on the
 * file system.
 */
#pragma once

#include "entryid.h"
#include "hresult.h"
#include "mapi_object.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the store functions need to know of a provider instance; borrowed. */
typedef struct {
    const char *root;         /* the Maildir folder, which is INBOX */
    const uint8_t *uid;       /* the instance's MAPIUID (MAPIUID_LEN bytes) */
    const char *display_name; /* the store's PR_DISPLAY_NAME */
} maildir_view;

/* The store object (PR_ENTRYID, PR_DISPLAY_NAME) and one MAPI_FOLDER row per
 * folder (PR_ENTRYID, PR_DISPLAY_NAME, PR_CONTENT_COUNT, PR_CONTENT_UNREAD,
 * PR_SUBFOLDERS). MAPI_E_CALL_FAILED when INBOX cannot be read; subfolders
 * that cannot be read are left out. Appends to store and folders. */
HRESULT maildir_store_read(const maildir_view *v, mapi_object *store, mapi_rows *folders);

/* OpenEntry of a folder or message key (see above) into out. */
HRESULT maildir_store_open(const maildir_view *v, const uint8_t *key, size_t key_len,
                           mapi_object *out);
