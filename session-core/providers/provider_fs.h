/* provider_fs.h - small file-system helpers the provider kinds share
 * (provider_maildir.c, provider_abfile.c, provider_spool.c): status-row
 * wording, `mkdir -p`, folder checks and counts, the "create" setting.
 * Private to the provider kinds (providers/): the core never includes it.
 *
 * Ownership: pfs_path_join and pfs_shown_path return a malloc'd string the
 * caller frees; every other pointer passed in is borrowed for the call only.
 *
 * Status strings are read by clients: they name files and folders as
 * pfs_shown_path shows them, never by their absolute path on the server.
 * Thread-safety: every helper is reentrant (no static state; strerror_r, never
 * strerror), so concurrent sessions may call them at once. They block on the
 * file system.
 */
#pragma once

#include "../hresult.h"
#include "../provider_config.h"
#include "../provider.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Sets st's code and its status string (printf-style, truncated to fit). */
/* snprintf into a fixed-size reason buffer, where cutting a long path short
 * is intended (going through vsnprintf tells the compiler's truncation check
 * so). */
void pfs_say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void pfs_set_status(provider_status *st, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The text of errno value err (GNU strerror_r): buf, or a static string. */
const char *pfs_errtext(int err, char *buf, size_t len);

/* a + "/" + b, malloc'd; NULL when out of memory. */
char *pfs_path_join(const char *a, const char *b);

/* `mkdir -p path`: every missing component is created with mode (the root
 * never is). Returns 0 or an errno value (ENOMEM included). An existing
 * non-folder component makes a later mkdir fail with ENOTDIR/EEXIST; the
 * folder check reports it. path must not be empty. */
int pfs_mkdir_p(const char *path, mode_t mode);

/* `mkdir -p` of the folder holding path; nothing for a bare file name or a
 * file in the root. Returns 0 or an errno value. */
int pfs_mkdir_parent(const char *path, mode_t mode);

/* pfs_check_folder flags. */
enum {
    PFS_FOLDER_WRITABLE = 1u << 0,   /* also: files can be created and removed */
    PFS_FOLDER_SAY_NOTDIR = 1u << 1, /* ENOTDIR says "a parent is not a folder" */
};

/* Checks that dir exists, is a folder, and can be listed (and, with
 * PFS_FOLDER_WRITABLE, written). On a problem writes the reason into st
 * (STATUS_FAILURE), naming the folder as shown (pfs_shown_path), and
 * returns false; st is left alone on success. */
bool pfs_check_folder(const char *dir, const char *shown, unsigned flags, provider_status *st);

/* How the path setting key appears in status strings, which clients read:
 * never the server's absolute layout. A relative setting (relative to the
 * data folder) is shown as written ("alice/Maildir"); an absolute one as
 * ".../" and its last component (".../Maildir"). malloc'd; NULL when the
 * setting is absent or out of memory. */
char *pfs_shown_path(const provider_config *cfg, const char *key);

/* A Maildir's tmp/ files left behind by interrupted deliveries are removed
 * once neither read nor written for this long (the Maildir convention). */
#define PFS_MAILDIR_TMP_MAX_AGE_S (36L * 60 * 60)

/* Removes the regular files of dir (not followed through a symbolic link;
 * dot files included, sub-folders and links left alone) whose last access
 * and last modification are both before older_than. Returns 0 or an errno
 * value (the folder cannot be opened or read); *removed counts the files
 * removed, also on failure. */
int pfs_sweep_stale(const char *dir, time_t older_than, size_t *removed);

/* Counts the entries of dir for which counts(dirfd, name) is true. Returns
 * -1 with errno when the folder cannot be read. */
long pfs_count_entries(const char *dir, bool (*counts)(int dirfd, const char *name));

/* Writes all len bytes, retrying short writes and EINTR. 0 or an errno value. */
int pfs_write_all(int fd, const void *buf, size_t len);

/* The kinds' shared "create" setting: provider_ops.check_config for a kind
 * whose only checked setting it is (true or false, or absent). */
HRESULT pfs_check_create_setting(const provider_config *cfg, char *err, size_t errlen);

/* true when the provider's "create" setting is "true". */
bool pfs_create_requested(const provider_config *cfg);
