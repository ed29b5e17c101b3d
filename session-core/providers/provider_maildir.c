/* provider_maildir.c - the "maildir" store provider.
 *
 * A Maildir folder (cur/, new/, tmp/) on the local file system. The status row
 * shows what is really there: AVAILABLE with the message count when the three
 * folders exist and can be read, FAILURE with the reason otherwise. A missing
 * folder is not a logon failure (provider.h): MAPI keeps the provider and its
 * row tells the user what is wrong, and ValidateState notices a repair.
 *
 * Settings: path (the Maildir folder), create ("true": create the folders at
 * logon, like `mkdir -p`, mode 0700).
 *
 * tmp/ files an interrupted delivery left behind are removed once 36 hours
 * old (the Maildir convention): at logon and hourly (provider_ops.maintain).
 * Status strings name folders as pfs_shown_path shows them (relative to the
 * data folder), never by their absolute path.
 *
 * Object access (the store, its Maildir++ folders and their messages) is
 * maildir_store.c's, contents tables maildir_contents.c's; this file keeps
 * the instance and its status.
 */
#include "maildir_store.h"
#include "../mapi_flags.h"
#include "../provider.h"
#include "provider_fs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAILDIR_MODE 0700

/* The three Maildir sub-folders, in the order they are checked and reported. */
static const char *const SUBDIRS[] = {"cur", "new", "tmp"};
#define NSUBDIRS (sizeof SUBDIRS / sizeof SUBDIRS[0])

typedef struct {
    char *path;                                    /* the Maildir folder, resolved */
    char *shown;                                   /* path as status strings show it */
    char *shown_sub[NSUBDIRS];                     /* shown/cur, shown/new, shown/tmp */
    char *display_name;                            /* the store's, from the config */
    uint8_t uid[MAPIUID_LEN];                      /* this instance's (entry ids) */
    char *sub[NSUBDIRS];                           /* path/cur, path/new, path/tmp */
    char create_error[PROVIDER_STATUS_STRING_MAX]; /* why create failed, "" if it did not */
    provider_status st;
} maildir_state;

/* Maildir counts every entry that is not a dot file (its tmp names and
 * "." / ".." alike). */
static bool is_message_name(int dirfd_, const char *name)
{
    (void)dirfd_;
    return name[0] != '.';
}

/* Re-checks the Maildir for real and stores the result in s->st. Returns
 * true when AVAILABLE. */
static bool maildir_refresh(maildir_state *s)
{
    char eb[128];
    for (size_t i = 0; i < NSUBDIRS; i++) {
        if (!pfs_check_folder(s->sub[i], s->shown_sub[i], PFS_FOLDER_SAY_NOTDIR, &s->st)) {
            /* A failed create at logon explains a missing folder better
             * than "missing" does. */
            if (s->create_error[0])
                pfs_set_status(&s->st, STATUS_FAILURE, "%s", s->create_error);
            return false;
        }
    }
    /* sub[0] is cur, sub[1] is new (SUBDIRS order). */
    long cur = pfs_count_entries(s->sub[0], is_message_name);
    if (cur < 0) {
        pfs_set_status(&s->st, STATUS_FAILURE, "folder not readable: %s: %s", s->shown_sub[0],
                       pfs_errtext(errno, eb, sizeof eb));
        return false;
    }
    long fresh = pfs_count_entries(s->sub[1], is_message_name);
    if (fresh < 0) {
        pfs_set_status(&s->st, STATUS_FAILURE, "folder not readable: %s: %s", s->shown_sub[1],
                       pfs_errtext(errno, eb, sizeof eb));
        return false;
    }
    long total = cur + fresh;
    pfs_set_status(&s->st, STATUS_AVAILABLE, "%ld message%s (%ld new)", total,
                   total == 1 ? "" : "s", fresh);
    return true;
}

static void maildir_free(maildir_state *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < NSUBDIRS; i++) {
        free(s->sub[i]);
        free(s->shown_sub[i]);
    }
    free(s->path);
    free(s->shown);
    free(s->display_name);
    free(s);
}

/* Removes what interrupted deliveries left in tmp/ (36 hours untouched).
 * A tmp/ that cannot be read is the status's to report, not this. */
static void maildir_sweep_tmp(const maildir_state *s)
{
    size_t removed;
    (void)pfs_sweep_stale(s->sub[2], time(NULL) - PFS_MAILDIR_TMP_MAX_AGE_S, &removed);
}

/* Creates path and its three sub-folders; remembers the first failure in
 * s->create_error so the status can say why the folders are missing. */
static void maildir_create(maildir_state *s)
{
    char eb[128];
    int err = pfs_mkdir_p(s->path, MAILDIR_MODE);
    if (err) {
        snprintf(s->create_error, sizeof s->create_error, "cannot create folder %s: %s", s->shown,
                 pfs_errtext(err, eb, sizeof eb));
        return;
    }
    for (size_t i = 0; i < NSUBDIRS; i++) {
        if (mkdir(s->sub[i], MAILDIR_MODE) != 0 && errno != EEXIST) {
            snprintf(s->create_error, sizeof s->create_error, "cannot create folder %s: %s",
                     s->shown_sub[i], pfs_errtext(errno, eb, sizeof eb));
            return;
        }
    }
}

static HRESULT maildir_logon(const provider_config *cfg, const provider_logon_args *args,
                             void **state)
{
    *state = NULL;
    const char *path = provider_config_path(cfg, "path");
    if (!path || !*path)
        return MAPI_E_UNCONFIGURED;

    maildir_state *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    memcpy(s->uid, args->uid, MAPIUID_LEN);
    s->path = strdup(path);
    s->shown = pfs_shown_path(cfg, "path");
    const char *display = provider_config_display_name(cfg);
    s->display_name = strdup(display ? display : "");
    if (!s->path || !s->shown || !s->display_name)
        goto oom;
    for (size_t i = 0; i < NSUBDIRS; i++) {
        s->sub[i] = pfs_path_join(path, SUBDIRS[i]);
        s->shown_sub[i] = pfs_path_join(s->shown, SUBDIRS[i]);
        if (!s->sub[i] || !s->shown_sub[i])
            goto oom;
    }

    if (pfs_create_requested(cfg))
        maildir_create(s);
    /* The result only sets the status: a broken Maildir still logs on. */
    maildir_refresh(s);
    maildir_sweep_tmp(s);
    *state = s;
    return S_OK;

oom:
    maildir_free(s);
    return MAPI_E_NOT_ENOUGH_MEMORY;
}

static void maildir_logoff(void *state) { maildir_free(state); }

static void maildir_maintain(void *state) { maildir_sweep_tmp(state); }

static void maildir_status(void *state, provider_status *out)
{
    const maildir_state *s = state;
    *out = s->st;
}

static HRESULT maildir_validate_state(void *state, uint32_t flags)
{
    (void)flags; /* no flag changes what a local folder check does */
    maildir_state *s = state;
    /* The logon's create error is history now: report what is there. */
    s->create_error[0] = '\0';
    maildir_refresh(s);
    return S_OK;
}

static maildir_view view_of(const maildir_state *s)
{
    return (maildir_view){.root = s->path, .uid = s->uid, .display_name = s->display_name};
}

static HRESULT maildir_store(void *state, mapi_object *store, mapi_rows *folders)
{
    maildir_state *s = state;
    /* Reading the store is a fresh look at it: the row learns what it finds. */
    s->create_error[0] = '\0';
    if (!maildir_refresh(s))
        return MAPI_E_CALL_FAILED;
    maildir_view v = view_of(s);
    return maildir_store_read(&v, store, folders);
}

static HRESULT maildir_open_entry(void *state, const uint8_t *key, size_t key_len, mapi_object *out)
{
    const maildir_state *s = state;
    maildir_view v = view_of(s);
    return maildir_store_open(&v, key, key_len, out);
}

static HRESULT maildir_contents(void *state, const uint8_t *folder_key, size_t key_len,
                                size_t offset, size_t max, mapi_rows *out, size_t *total)
{
    const maildir_state *s = state;
    maildir_view v = view_of(s);
    return maildir_store_contents(&v, folder_key, key_len, offset, max, out, total);
}

static HRESULT maildir_put_message(void *state, const char *folder, const char *msg, size_t len,
                                   char *name, size_t namelen)
{
    maildir_state *s = state;
    maildir_view v = view_of(s);
    return maildir_store_put(&v, folder, msg, len, name, namelen);
}

static HRESULT maildir_move_message(void *state, const char *from, const char *name, const char *to)
{
    maildir_state *s = state;
    maildir_view v = view_of(s);
    return maildir_store_move(&v, from, name, to);
}

static HRESULT maildir_message_key(void *state, const char *folder, const char *name, uint8_t **key,
                                   size_t *key_len)
{
    (void)state;
    return maildir_store_message_key(folder, name, key, key_len);
}

static const char *const REQUIRED_SETTINGS[] = {"path", NULL};

const provider_ops PROVIDER_MAILDIR = {
    .kind = "maildir",
    .shared_instance = true,
    .resource_type = MAPI_STORE_PROVIDER,
    .dll_name = "mgwmdir",
    .provider_display = "mapigw",
    .resource_methods = STATUS_VALIDATE_STATE,
    .required_settings = REQUIRED_SETTINGS,
    .check_config = pfs_check_create_setting,
    .logon = maildir_logon,
    .logoff = maildir_logoff,
    .status = maildir_status,
    .validate_state = maildir_validate_state,
    .flush_queues = NULL,
    .maintain = maildir_maintain,
    .store = maildir_store,
    .contents = maildir_contents,
    .open_entry = maildir_open_entry,
    .put_message = maildir_put_message,
    .move_message = maildir_move_message,
    .message_key = maildir_message_key,
};
