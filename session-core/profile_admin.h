/* profile_admin.h - the profiles file as something to administer (IProfAdmin,
 * IMsgServiceAdmin): reads of its entries with a version per profile, and
 * writes that are validated by the loader, written atomically and durably,
 * and installed in the core as a SIGHUP reload would be.
 *
 * A write reads the file as it is on disk (so an edit by hand is never
 * overwritten by an older copy), applies one change to the parsed document,
 * loads the result (the loader's validation and messages), writes it to a
 * temporary file in the same folder, fsyncs it, renames it over the file and
 * fsyncs the folder: a crash leaves the old file or the new one, never a
 * torn one. Then core_replace_profiles installs the new store (sessions of a
 * profile that is gone or authenticates differently end). Writes, reads of
 * the document and reloads are serialised by one lock, so a SIGHUP never
 * installs a file older than a write it raced with.
 *
 * Ownership: profile_admin_new copies the paths; the core is borrowed and
 * must outlive the admin. Documents and entries handed out are new
 * references the caller releases (json_decref).
 *
 * Thread-safety: every function may be called concurrently after
 * profile_admin_new; profile_admin_free may not.
 */
#pragma once

#include "hresult.h"
#include "profile.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct profile_admin profile_admin;
typedef struct core core;
typedef struct json_t json_t;

typedef struct {
    const char *path;     /* the profiles file */
    const char *base_dir; /* as profile_store_load's; NULL: the file's folder */
    /* Whether a loaded store may be served (the server's start-up guard);
     * NULL: any. On false, err says why and nothing is written. */
    bool (*accept)(void *ctx, const profile_store *st, char *err, size_t errlen);
    /* The loader's warnings; NULL: dropped. */
    void (*warn)(void *ctx, const char *msg);
    void *ctx;
} profile_admin_config;

/* A profile's version: 16 lower-case hex digits. */
#define PROFILE_VERSION_LEN 16

HRESULT profile_admin_new(core *c, const profile_admin_config *cfg, profile_admin **out);
void profile_admin_free(profile_admin *a); /* NULL is fine */

/* SIGHUP: loads the file and installs it. S_OK with how many profiles it
 * holds and how many sessions the change ended; else the file's problem in
 * err and the loaded profiles stay. */
HRESULT profile_admin_reload(profile_admin *a, size_t *profiles, size_t *ended, char *err,
                             size_t errlen);

/* Whether the file on disk is another than the one last installed or tried
 * (its device, inode, size or modification time differ): replicas that
 * share one profiles file reload it when another replica wrote it. */
bool profile_admin_changed(profile_admin *a);

/* The explicit profile of that name as the file has it now: a private copy
 * of its entry (*entry, a new reference), whether it is the default, and
 * its version. NOT_FOUND (also for a name only a template takes),
 * DISK_ERROR or INVALID_PARAMETER (the file is unreadable or not JSON) with
 * err. */
HRESULT profile_admin_get(profile_admin *a, const char *name, json_t **entry, bool *is_default,
                          char version[PROFILE_VERSION_LEN + 1], char *err, size_t errlen);

/* The explicit profile entry of that name in doc (borrowed), or NULL. */
json_t *profile_admin_find(json_t *doc, const char *name);
/* Whether doc's default_profile is name. */
bool profile_admin_is_default(json_t *doc, const char *name);
/* The version of a profile entry (and whether it is the default). */
void profile_admin_version(json_t *entry, bool is_default, char out[PROFILE_VERSION_LEN + 1]);

/* One change: edit is called with a private copy of the document (the file
 * as on disk now) and changes it in place, or fails with a message in err
 * (and the HRESULT the caller answers). name: the profile whose version
 * if_match is checked against (NULL if_match: no check; "*": it must
 * exist; any other value that is not its current version, quoted or not:
 * MAPI_E_OBJECT_CHANGED). After edit: INVALID_PARAMETER with the loader's
 * message, NO_ACCESS when the guard refuses, DISK_ERROR when the file cannot
 * be written (nothing changed then). *ended: sessions the change ended. */
typedef HRESULT (*profile_admin_edit_fn)(void *ctx, json_t *doc, char *err, size_t errlen);
HRESULT profile_admin_edit(profile_admin *a, const char *name, const char *if_match,
                           profile_admin_edit_fn edit, void *ctx, size_t *ended, char *err,
                           size_t errlen);
