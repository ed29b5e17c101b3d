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
 * Contents tables (maildir_contents.c): one row per message file of cur/ and
 * new/ -- a regular file (checked without following links, then opened
 * O_NOFOLLOW), not a dot file -- newest first by mtime in whole seconds (what
 * PR_MESSAGE_DELIVERY_TIME shows), ties by base name ascending. A base name
 * found twice (new/ and cur/, or "x" and "x:2,S") is listed once: as the file
 * OpenEntry of its key opens (new/ first, then directory order), so every
 * row's PR_ENTRYID opens that very message.
 *
 * Private to providers/ (the maildir kind). Thread-safety: no shared state;
 * blocks on the file system.
 */
#pragma once

#include "../entryid.h"
#include "../hresult.h"
#include "../mapi_object.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

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

/* The contents table of folder key 'F' + name (checked as for OpenEntry):
 * appends to out the MAPI_MESSAGE rows (PR_ENTRYID, PR_SUBJECT,
 * PR_SENDER_NAME, PR_SENDER_EMAIL_ADDRESS, PR_MESSAGE_DELIVERY_TIME,
 * PR_MESSAGE_SIZE, PR_MESSAGE_FLAGS) at places offset .. offset + max - 1,
 * newest first, and sets *total to the number of messages listed.
 * MAPI_E_NOT_FOUND for a key that names no folder; MAPI_E_CALL_FAILED when
 * INBOX cannot be read. Files that vanish or cannot be read while the table
 * is built keep their place but give no row. On failure out is as it was. */
HRESULT maildir_store_contents(const maildir_view *v, const uint8_t *key, size_t key_len,
                               size_t offset, size_t max, mapi_rows *out, size_t *total);

/* ---- maildir_write.c: what the spooler writes ---- */

/* A new message of folder ("INBOX" or a Maildir++ folder name, created when
 * missing) with the Maildir protocol (tmp/, fsync, rename to new/, fsync of
 * new/); its base name into name (namelen >= 64). */
HRESULT maildir_store_put(const maildir_view *v, const char *folder, const char *msg, size_t len,
                          char *name, size_t namelen);
/* Moves message name (as maildir_store_put made it) of folder from into
 * folder to's cur/ with the Seen flag; to NULL deletes it.
 * MAPI_E_NOT_FOUND when it is not there. */
HRESULT maildir_store_move(const maildir_view *v, const char *from, const char *name,
                           const char *to);
/* The key ('M' + folder + NUL + name) OpenEntry takes for it; malloc'd. */
HRESULT maildir_store_message_key(const char *folder, const char *name, uint8_t **key,
                                  size_t *key_len);

/* ---- shared by maildir_store.c and maildir_contents.c ---- */

/* Whether a Maildir file name carries the Seen flag (":2,...S..."). */
bool maildir_name_seen(const char *name);

/* The folder of key 'F' + name, checked as OpenEntry does (valid name; INBOX
 * or a listed Maildir++ folder): *name and *dir (its directory) malloc'd.
 * MAPI_E_NOT_FOUND when it names no folder, MAPI_E_CALL_FAILED when the root
 * cannot be listed. */
HRESULT maildir_folder_of_key(const maildir_view *v, const uint8_t *key, size_t key_len,
                              char **name, char **dir);

/* Adds the entry id of key (v->uid + key) as property tag / json. */
HRESULT maildir_add_entry_id(const maildir_view *v, mapi_object *o, uint32_t tag, const char *json,
                             const void *key, size_t key_len);

/* A message's properties from its open file fd (stat sb) and Seen flag:
 * PR_SUBJECT, PR_SENDER_NAME, PR_SENDER_EMAIL_ADDRESS (from at most
 * RFC822_HEAD_MAX bytes of header), PR_INTERNET_MESSAGE_ID when with_msgid,
 * PR_MESSAGE_DELIVERY_TIME (mtime), PR_MESSAGE_SIZE, PR_MESSAGE_FLAGS.
 * MAPI_E_CALL_FAILED when the file cannot be read. */
HRESULT maildir_message_props(mapi_object *o, int fd, const struct stat *sb, bool seen,
                              bool with_msgid);
