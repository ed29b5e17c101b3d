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
 */
#include "mapi_flags.h"
#include "provider.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAILDIR_MODE 0700

/* The three Maildir sub-folders, in the order they are checked and reported. */
static const char *const SUBDIRS[] = {"cur", "new", "tmp"};
#define NSUBDIRS (sizeof SUBDIRS / sizeof SUBDIRS[0])

typedef struct {
    char *path;                /* the Maildir folder, resolved */
    char *sub[NSUBDIRS];       /* path/cur, path/new, path/tmp */
    char create_error[PROVIDER_STATUS_STRING_MAX]; /* why create failed, "" if it did not */
    provider_status st;
} maildir_state;

static void set_status(provider_status *st, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_status(provider_status *st, uint32_t code, const char *fmt, ...)
{
    va_list ap;
    st->status_code = code;
    va_start(ap, fmt);
    vsnprintf(st->status_string, sizeof st->status_string, fmt, ap);
    va_end(ap);
}

/* strerror is not thread-safe and sessions run concurrently: use the GNU
 * strerror_r (the Makefile defines _GNU_SOURCE), which returns the text. */
static const char *errtext(int err, char *buf, size_t len)
{
    return strerror_r(err, buf, len);
}

/* a + "/" + b, malloc'd; NULL when out of memory. */
static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + 1 + lb + 1);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* `mkdir -p path`: every missing component is created with mode. Returns 0 or
 * an errno value (ENOMEM included). An existing non-folder component makes a
 * later mkdir fail with ENOTDIR/EEXIST; the folder check reports it. */
static int mkdir_p(const char *path, mode_t mode)
{
    char *copy = strdup(path);
    if (!copy)
        return ENOMEM;
    int rc = 0;
    /* Start after a leading '/' so the root itself is never created. */
    for (char *p = copy + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (p > copy && p[-1] != '/' && mkdir(copy, mode) != 0 && errno != EEXIST) {
            rc = errno;
            break;
        }
        if (end)
            break;
        *p = '/';
    }
    free(copy);
    return rc;
}

/* Counts the entries of dir that are not dot files (Maildir's tmp names and
 * "." / ".." alike). Returns -1 with errno when the folder cannot be read. */
static long count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    int err = errno;
    closedir(d);
    if (err) {
        errno = err;
        return -1;
    }
    return n;
}

/* Checks one sub-folder: exists, is a folder, readable and searchable. On a
 * problem writes the reason into st (STATUS_FAILURE) and returns false. */
static bool check_folder(const char *dir, provider_status *st)
{
    char eb[128];
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT)
            set_status(st, STATUS_FAILURE, "folder missing: %s", dir);
        else if (errno == ENOTDIR)
            set_status(st, STATUS_FAILURE, "folder missing: %s (a parent is not a folder)",
                       dir);
        else
            set_status(st, STATUS_FAILURE, "cannot check folder %s: %s", dir,
                       errtext(errno, eb, sizeof eb));
        return false;
    }
    if (!S_ISDIR(sb.st_mode)) {
        set_status(st, STATUS_FAILURE, "not a folder: %s", dir);
        return false;
    }
    if (access(dir, R_OK | X_OK) != 0) {
        set_status(st, STATUS_FAILURE, "folder not readable: %s", dir);
        return false;
    }
    return true;
}

/* Re-checks the Maildir for real and stores the result in s->st. Returns
 * true when AVAILABLE. */
static bool maildir_refresh(maildir_state *s)
{
    char eb[128];
    for (size_t i = 0; i < NSUBDIRS; i++) {
        if (!check_folder(s->sub[i], &s->st)) {
            /* A failed create at logon explains a missing folder better
             * than "missing" does. */
            if (s->create_error[0])
                set_status(&s->st, STATUS_FAILURE, "%s", s->create_error);
            return false;
        }
    }
    /* sub[0] is cur, sub[1] is new (SUBDIRS order). */
    long cur = count_entries(s->sub[0]);
    if (cur < 0) {
        set_status(&s->st, STATUS_FAILURE, "folder not readable: %s: %s", s->sub[0],
                   errtext(errno, eb, sizeof eb));
        return false;
    }
    long fresh = count_entries(s->sub[1]);
    if (fresh < 0) {
        set_status(&s->st, STATUS_FAILURE, "folder not readable: %s: %s", s->sub[1],
                   errtext(errno, eb, sizeof eb));
        return false;
    }
    long total = cur + fresh;
    set_status(&s->st, STATUS_AVAILABLE, "%ld message%s (%ld new)", total,
               total == 1 ? "" : "s", fresh);
    return true;
}

static void maildir_free(maildir_state *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < NSUBDIRS; i++)
        free(s->sub[i]);
    free(s->path);
    free(s);
}

/* Creates path and its three sub-folders; remembers the first failure in
 * s->create_error so the status can say why the folders are missing. */
static void maildir_create(maildir_state *s)
{
    char eb[128];
    int err = mkdir_p(s->path, MAILDIR_MODE);
    if (err) {
        snprintf(s->create_error, sizeof s->create_error, "cannot create folder %s: %s",
                 s->path, errtext(err, eb, sizeof eb));
        return;
    }
    for (size_t i = 0; i < NSUBDIRS; i++) {
        if (mkdir(s->sub[i], MAILDIR_MODE) != 0 && errno != EEXIST) {
            snprintf(s->create_error, sizeof s->create_error,
                     "cannot create folder %s: %s", s->sub[i],
                     errtext(errno, eb, sizeof eb));
            return;
        }
    }
}

static HRESULT maildir_check_config(const provider_config *cfg, char *err, size_t errlen)
{
    const char *create = provider_config_setting(cfg, "create");
    if (create && strcmp(create, "true") != 0 && strcmp(create, "false") != 0) {
        snprintf(err, errlen, "settings.create: must be true or false, not \"%s\"", create);
        return MAPI_E_INVALID_PARAMETER;
    }
    return S_OK;
}

static HRESULT maildir_logon(const provider_config *cfg, void **state)
{
    *state = NULL;
    const char *path = provider_config_path(cfg, "path");
    if (!path || !*path)
        return MAPI_E_UNCONFIGURED;

    maildir_state *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    s->path = strdup(path);
    if (!s->path)
        goto oom;
    for (size_t i = 0; i < NSUBDIRS; i++) {
        s->sub[i] = path_join(path, SUBDIRS[i]);
        if (!s->sub[i])
            goto oom;
    }

    const char *create = provider_config_setting(cfg, "create");
    if (create && strcmp(create, "true") == 0)
        maildir_create(s);
    /* The result only sets the status: a broken Maildir still logs on. */
    maildir_refresh(s);
    *state = s;
    return S_OK;

oom:
    maildir_free(s);
    return MAPI_E_NOT_ENOUGH_MEMORY;
}

static void maildir_logoff(void *state)
{
    maildir_free(state);
}

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

const provider_ops PROVIDER_MAILDIR = {
    .kind = "maildir",
    .resource_type = MAPI_STORE_PROVIDER,
    .dll_name = "mgwmdir",
    .provider_display = "mapigw",
    .resource_methods = STATUS_VALIDATE_STATE,
    .check_config = maildir_check_config,
    .logon = maildir_logon,
    .logoff = maildir_logoff,
    .status = maildir_status,
    .validate_state = maildir_validate_state,
    .flush_queues = NULL,
    .identity_entry_id = NULL,
};
