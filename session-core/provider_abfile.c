/* provider_abfile.c - the "abfile" address-book provider.
 *
 * A JSON file {"entries":[{"display","address_type","address"}, ...]}. Extra
 * keys are tolerated (the file is user data, not configuration); the three
 * named keys must be strings. The row shows AVAILABLE with the entry count, or
 * FAILURE when the file is missing or unreadable. A file that is present but
 * not a valid address book at logon fails the provider alone
 * (MAPI_E_FAILONEPROVIDER); found invalid later by ValidateState it only turns
 * the row to FAILURE, since MAPI cannot drop a provider that is logged on.
 *
 * Settings: path (the file), create ("true": when the file is missing, write
 * one holding the provider's configured identity; parent folders are created
 * with mode 0700, the file with 0600).
 */
#include "mapi_flags.h"
#include "provider.h"
#include "provider_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* The MAPIUID of mapigw abfile entry ids, FFAE7B1D3F3C7CED4F164AB4969A37FA
 * (random, fixed forever: entry ids handed to clients embed it). An entry id
 * is 4 zero flag bytes, this UID, then "ADDRTYPE:address" in UTF-8 without a
 * NUL, spelled as in the file. */
static const uint8_t ABFILE_UID[16] = {0xFF, 0xAE, 0x7B, 0x1D, 0x3F, 0x3C, 0x7C, 0xED,
                                       0x4F, 0x16, 0x4A, 0xB4, 0x96, 0x9A, 0x37, 0xFA};
#define ABFILE_ENTRYID_HEADER (4 + sizeof ABFILE_UID)

#define ABFILE_DIR_MODE 0700
#define ABFILE_FILE_MODE 0600

typedef struct {
    char *path;
    json_t *entries; /* the loaded, valid "entries" array; NULL when none */
    provider_status st;
} abfile_state;

typedef enum { LOAD_OK, LOAD_MISSING, LOAD_UNREADABLE, LOAD_INVALID, LOAD_NOMEM } load_result;

/* Checks the document's shape; on a problem writes which field into why. */
static bool valid_shape(const json_t *root, char *why, size_t whylen)
{
    static const char *const FIELDS[] = {"display", "address_type", "address"};
    if (!json_is_object(root)) {
        snprintf(why, whylen, "not a JSON object");
        return false;
    }
    const json_t *entries = json_object_get(root, "entries");
    if (!json_is_array(entries)) {
        snprintf(why, whylen, "entries: missing or not an array");
        return false;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(entries, i, e)
    {
        if (!json_is_object(e)) {
            snprintf(why, whylen, "entries[%zu]: not an object", i);
            return false;
        }
        for (size_t f = 0; f < sizeof FIELDS / sizeof FIELDS[0]; f++) {
            if (!json_is_string(json_object_get(e, FIELDS[f]))) {
                snprintf(why, whylen, "entries[%zu].%s: missing or not a string", i, FIELDS[f]);
                return false;
            }
        }
    }
    return true;
}

/* Reads and checks the file. LOAD_OK sets *entries (a new reference); every
 * other result writes the reason for the status row into why. */
static load_result abfile_load(const char *path, json_t **entries, char *why, size_t whylen)
{
    char eb[128];
    *entries = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            snprintf(why, whylen, "address book file missing: %s", path);
            return LOAD_MISSING;
        }
        snprintf(why, whylen, "address book file not readable: %s: %s", path,
                 pfs_errtext(errno, eb, sizeof eb));
        return LOAD_UNREADABLE;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        snprintf(why, whylen, "address book file not readable: %s: not a regular file", path);
        return LOAD_UNREADABLE;
    }
    json_error_t jerr;
    json_t *root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
    close(fd);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return LOAD_NOMEM;
        snprintf(why, whylen, "address book file invalid: %s: line %d: %s", path, jerr.line,
                 jerr.text);
        return LOAD_INVALID;
    }
    char shape[128];
    if (!valid_shape(root, shape, sizeof shape)) {
        snprintf(why, whylen, "address book file invalid: %s: %s", path, shape);
        json_decref(root);
        return LOAD_INVALID;
    }
    *entries = json_incref(json_object_get(root, "entries"));
    json_decref(root);
    return LOAD_OK;
}

/* The initial file: the configured identity as the only entry, or none. */
static char *initial_document(const provider_config *cfg)
{
    const char *display = provider_config_identity_display(cfg);
    const char *type = provider_config_identity_addrtype(cfg);
    const char *address = provider_config_identity_address(cfg);
    json_t *entries = json_array();
    json_t *root = json_object();
    char *text = NULL;
    if (!entries || !root)
        goto out;
    if (display && type && address) {
        json_t *e = json_pack("{s:s, s:s, s:s}", "display", display, "address_type", type,
                              "address", address);
        if (!e || json_array_append_new(entries, e) != 0)
            goto out;
    }
    if (json_object_set(root, "entries", entries) != 0)
        goto out;
    text = json_dumps(root, JSON_INDENT(2));
out:
    json_decref(entries);
    json_decref(root);
    return text;
}

/* Writes the initial file atomically: a temp file next to it (0600, fsync'd),
 * then renamed into place. RENAME_NOREPLACE keeps a file someone else wrote in
 * the meantime (a concurrent logon of the same profile, or the user). Returns
 * 0 or an errno value. */
static int abfile_create(const char *path, const provider_config *cfg)
{
    static atomic_ulong counter;
    int err = pfs_mkdir_parent(path, ABFILE_DIR_MODE);
    if (err)
        return err;
    char *text = initial_document(cfg);
    if (!text)
        return ENOMEM;
    size_t tlen = strlen(path) + 64;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(text);
        return ENOMEM;
    }
    snprintf(tmp, tlen, "%s.%ld.%lu.tmp", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, ABFILE_FILE_MODE);
    if (fd < 0) {
        err = errno;
        goto out;
    }
    err = pfs_write_all(fd, text, strlen(text));
    if (!err)
        err = pfs_write_all(fd, "\n", 1);
    /* The data must be on disk before the name points at it. */
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0) {
        err = errno;
        /* File systems without RENAME_NOREPLACE: a plain rename; the race it
         * loses only replaces one generated file with an identical one. */
        if (err == EINVAL || err == ENOSYS)
            err = rename(tmp, path) == 0 ? 0 : errno;
        else if (err == EEXIST)
            err = 0; /* somebody else created it: theirs wins */
    }
    unlink(tmp); /* gone after a rename; removes the leftover otherwise */
out:
    free(tmp);
    free(text);
    return err;
}

/* Re-reads the file into s. LOAD_INVALID and LOAD_NOMEM are returned for the
 * caller to decide; every other outcome is only a status. */
static load_result abfile_refresh(abfile_state *s)
{
    json_t *entries;
    char why[PROVIDER_STATUS_STRING_MAX];
    load_result r = abfile_load(s->path, &entries, why, sizeof why);
    if (r == LOAD_NOMEM)
        return r; /* keep the previous state: nothing new was learnt */
    json_decref(s->entries);
    s->entries = entries;
    if (r == LOAD_OK) {
        size_t n = json_array_size(entries);
        pfs_set_status(&s->st, STATUS_AVAILABLE, "%zu entr%s", n, n == 1 ? "y" : "ies");
    } else {
        pfs_set_status(&s->st, STATUS_FAILURE, "%s", why);
    }
    return r;
}

static void abfile_free(abfile_state *s)
{
    if (!s)
        return;
    json_decref(s->entries);
    free(s->path);
    free(s);
}

static HRESULT abfile_logon(const provider_config *cfg, const provider_logon_args *args,
                            void **state)
{
    (void)args;
    char eb[128];
    *state = NULL;
    const char *path = provider_config_path(cfg, "path");
    if (!path || !*path)
        return MAPI_E_UNCONFIGURED;
    abfile_state *s = calloc(1, sizeof *s);
    if (!s)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    s->path = strdup(path);
    if (!s->path) {
        abfile_free(s);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }

    int create_err = 0;
    struct stat sb;
    if (pfs_create_requested(cfg) && stat(path, &sb) != 0 && errno == ENOENT)
        create_err = abfile_create(path, cfg);
    if (create_err == ENOMEM) {
        abfile_free(s);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }

    load_result r = abfile_refresh(s);
    if (r == LOAD_NOMEM || r == LOAD_INVALID) {
        abfile_free(s);
        return r == LOAD_NOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : MAPI_E_FAILONEPROVIDER;
    }
    /* Still missing after a failed create: the create error says why. */
    if (r == LOAD_MISSING && create_err)
        pfs_set_status(&s->st, STATUS_FAILURE, "cannot create address book file %s: %s", path,
                       pfs_errtext(create_err, eb, sizeof eb));
    *state = s;
    return S_OK;
}

static void abfile_logoff(void *state) { abfile_free(state); }

static void abfile_status(void *state, provider_status *out)
{
    const abfile_state *s = state;
    *out = s->st;
}

static HRESULT abfile_validate_state(void *state, uint32_t flags)
{
    (void)flags; /* no flag changes what re-reading a local file does */
    /* An invalid file is only a status now (see the top of the file). */
    return abfile_refresh(state) == LOAD_NOMEM ? MAPI_E_NOT_ENOUGH_MEMORY : S_OK;
}

static HRESULT abfile_identity(void *state, const provider_config *cfg, provider_identity *out)
{
    const abfile_state *s = state;
    memset(out, 0, sizeof *out);
    const char *type = provider_config_identity_addrtype(cfg);
    const char *address = provider_config_identity_address(cfg);
    if (!type || !address || !s->entries)
        return MAPI_E_NOT_FOUND;

    size_t i;
    const json_t *e;
    json_array_foreach(s->entries, i, e)
    {
        const char *et = json_string_value(json_object_get(e, "address_type"));
        const char *ea = json_string_value(json_object_get(e, "address"));
        /* Address types and SMTP addresses compare without case, as MAPI's
         * search keys do (ASCII letters only). */
        if (!et || !ea || strcasecmp(et, type) != 0 || strcasecmp(ea, address) != 0)
            continue;
        size_t lt = strlen(et), la = strlen(ea);
        size_t len = ABFILE_ENTRYID_HEADER + lt + 1 + la;
        uint8_t *id = malloc(len);
        if (!id)
            return MAPI_E_NOT_ENOUGH_MEMORY;
        memset(id, 0, 4);
        memcpy(id + 4, ABFILE_UID, sizeof ABFILE_UID);
        memcpy(id + ABFILE_ENTRYID_HEADER, et, lt);
        id[ABFILE_ENTRYID_HEADER + lt] = ':';
        memcpy(id + ABFILE_ENTRYID_HEADER + lt + 1, ea, la);
        out->entry_id = id;
        out->entry_id_len = len;
        return S_OK;
    }
    return MAPI_E_NOT_FOUND;
}

const provider_ops PROVIDER_ABFILE = {
    .kind = "abfile",
    .resource_type = MAPI_AB_PROVIDER,
    .dll_name = "mgwab",
    .provider_display = "mapigw",
    .resource_methods = STATUS_VALIDATE_STATE,
    .check_config = pfs_check_create_setting,
    .logon = abfile_logon,
    .logoff = abfile_logoff,
    .status = abfile_status,
    .validate_state = abfile_validate_state,
    .flush_queues = NULL,
    .identity = abfile_identity,
};
