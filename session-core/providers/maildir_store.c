/* maildir_store.c - stores, folders and messages of a Maildir++ folder (see
 * maildir_store.h).
 */
#include "maildir_store.h"

#include "provider_fs.h"
#include "rfc822.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INBOX "INBOX"
/* ".Name" is one path component, so a name has at most NAME_MAX - 1 bytes. */
#define FOLDER_NAME_MAX (NAME_MAX - 1)

bool maildir_name_seen(const char *name)
{
    const char *info = strchr(name, ':');
    return info && info[1] == '2' && info[2] == ',' && strchr(info + 3, 'S') != NULL;
}

/* A folder name as a key may hold it (maildir_store.h); INBOX included. */
static bool valid_folder_name(const char *name, size_t len)
{
    if (len == 0 || len > FOLDER_NAME_MAX || memchr(name, '\0', len) || memchr(name, '/', len))
        return false;
    /* No empty hierarchy level: rules out ".", "..", ".x", "x." and "a..b". */
    if (name[0] == '.' || name[len - 1] == '.')
        return false;
    for (size_t i = 1; i < len; i++)
        if (name[i] == '.' && name[i - 1] == '.')
            return false;
    return rfc822_is_utf8(name, len); /* display names must be UTF-8 */
}

static bool valid_base_name(const char *base, size_t len)
{
    return len > 0 && len <= NAME_MAX && base[0] != '.' && !memchr(base, '\0', len) &&
           !memchr(base, '/', len) && !memchr(base, ':', len);
}

/* The directory of folder name (valid): the Maildir itself or root/.name. */
static char *folder_dir(const maildir_view *v, const char *name)
{
    if (strcmp(name, INBOX) == 0)
        return strdup(v->root);
    size_t lr = strlen(v->root), ln = strlen(name);
    char *p = malloc(lr + 2 + ln + 1);
    if (!p)
        return NULL;
    memcpy(p, v->root, lr);
    memcpy(p + lr, "/.", 2);
    memcpy(p + lr + 2, name, ln + 1);
    return p;
}

/* Whether sub of dir is a real folder (not a symbolic link to one). */
static bool is_real_dir_at(int dirfd_, const char *sub)
{
    struct stat sb;
    return fstatat(dirfd_, sub, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
}

/* Whether the entry name of the open Maildir root is a Maildir++ folder. */
static bool is_subfolder(int rootfd, const char *name)
{
    if (!is_real_dir_at(rootfd, name))
        return false;
    int fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = is_real_dir_at(fd, "cur") && is_real_dir_at(fd, "new") && is_real_dir_at(fd, "tmp");
    close(fd);
    return ok;
}

typedef struct {
    char **names;
    size_t count, cap;
} name_list;

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static bool names_add(name_list *l, const char *name)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **bigger = realloc(l->names, cap * sizeof *bigger);
        if (!bigger)
            return false;
        l->names = bigger;
        l->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return false;
    l->names[l->count++] = copy;
    return true;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The Maildir++ subfolders of the root, sorted. MAPI_E_CALL_FAILED when the
 * root cannot be listed. */
static HRESULT list_subfolders(const maildir_view *v, name_list *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(v->root);
    if (!d)
        return MAPI_E_CALL_FAILED;
    HRESULT hr = S_OK;
    struct dirent *e;
    errno = 0;
    while (HR_SUCCEEDED(hr) && (e = readdir(d)) != NULL) {
        const char *name = e->d_name + 1;
        /* ".INBOX" would alias the Maildir's own key: not a folder here. */
        if (e->d_name[0] == '.' && valid_folder_name(name, strlen(name)) &&
            strcmp(name, INBOX) != 0 && is_subfolder(dirfd(d), e->d_name) && !names_add(out, name))
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
        errno = 0;
    }
    if (HR_SUCCEEDED(hr) && errno != 0)
        hr = MAPI_E_CALL_FAILED;
    closedir(d);
    if (HR_FAILED(hr))
        names_free(out);
    else if (out->count > 1)
        qsort(out->names, out->count, sizeof *out->names, cmp_names);
    return hr;
}

/* Counts the messages of dir/sub (names not starting with '.'); with unseen,
 * also those without the Seen flag. false when it cannot be read. */
static bool count_messages(const char *dir, const char *sub, long *all, long *unseen)
{
    char *path = pfs_path_join(dir, sub);
    DIR *d = path ? opendir(path) : NULL;
    free(path);
    if (!d)
        return false;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            (*all)++;
            if (unseen && !maildir_name_seen(e->d_name))
                (*unseen)++;
        }
        errno = 0;
    }
    bool ok = errno == 0;
    closedir(d);
    return ok;
}

HRESULT maildir_add_entry_id(const maildir_view *v, mapi_object *o, uint32_t tag, const char *json,
                             const void *key, size_t key_len)
{
    uint8_t *eid;
    size_t len;
    HRESULT hr = entryid_build(v->uid, key, key_len, &eid, &len);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_binary(o, tag, json, eid, len);
    free(eid);
    return hr;
}

/* 'F' + name, malloc'd. */
static uint8_t *folder_key(const char *name, size_t *len)
{
    size_t ln = strlen(name);
    uint8_t *k = malloc(1 + ln);
    if (!k)
        return NULL;
    k[0] = 'F';
    memcpy(k + 1, name, ln);
    *len = 1 + ln;
    return k;
}

/* A folder's properties. MAPI_E_NOT_FOUND when it cannot be read. */
static HRESULT folder_object(const maildir_view *v, const char *name, bool has_children,
                             mapi_object *o)
{
    char *dir = folder_dir(v, name);
    char *display = strdup(name);
    size_t key_len = 0;
    uint8_t *key = folder_key(name, &key_len);
    HRESULT hr = dir && display && key ? S_OK : MAPI_E_NOT_ENOUGH_MEMORY;
    long all = 0, unseen = 0, fresh = 0;
    if (HR_SUCCEEDED(hr) &&
        (!count_messages(dir, "new", &fresh, NULL) || !count_messages(dir, "cur", &all, &unseen)))
        hr = MAPI_E_NOT_FOUND;
    if (HR_SUCCEEDED(hr)) {
        if (strcmp(name, INBOX) != 0)
            for (char *p = display; *p; p++)
                if (*p == '.')
                    *p = '/'; /* Maildir++'s delimiter, shown as a path */
        /* Everything in new/ is unread: Maildir has no flags there. */
        all += fresh;
        unseen += fresh;
        o->object_type = MAPI_FOLDER;
        hr = maildir_add_entry_id(v, o, PR_ENTRYID, "entry_id", key, key_len);
    }
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_DISPLAY_NAME, "display_name", display);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_long(o, PR_CONTENT_COUNT, "content_count",
                                  all > UINT32_MAX ? UINT32_MAX : (uint32_t)all);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_long(o, PR_CONTENT_UNREAD, "content_unread",
                                  unseen > UINT32_MAX ? UINT32_MAX : (uint32_t)unseen);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_bool(o, PR_SUBFOLDERS, "subfolders", has_children);
    free(dir);
    free(display);
    free(key);
    return hr;
}

/* Whether the sorted list holds a child of name ("name." + something). */
static bool has_children(const name_list *l, const char *name)
{
    if (strcmp(name, INBOX) == 0)
        return false; /* the subfolders are shown beside INBOX, not under it */
    size_t ln = strlen(name);
    for (size_t i = 0; i < l->count; i++)
        if (strncmp(l->names[i], name, ln) == 0 && l->names[i][ln] == '.')
            return true;
    return false;
}

HRESULT maildir_store_read(const maildir_view *v, mapi_object *store, mapi_rows *folders)
{
    store->object_type = MAPI_STORE;
    HRESULT hr = maildir_add_entry_id(v, store, PR_ENTRYID, "entry_id", NULL, 0);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(store, PR_DISPLAY_NAME, "display_name", v->display_name);
    if (HR_FAILED(hr))
        return hr;
    name_list subs;
    hr = list_subfolders(v, &subs);
    if (HR_FAILED(hr))
        return hr;
    mapi_object *row;
    hr = mapi_rows_add(folders, &row);
    if (HR_SUCCEEDED(hr)) {
        hr = folder_object(v, INBOX, false, row);
        if (hr == MAPI_E_NOT_FOUND)
            hr = MAPI_E_CALL_FAILED; /* the store itself cannot be read */
    }
    for (size_t i = 0; i < subs.count && HR_SUCCEEDED(hr); i++) {
        mapi_object one = {0};
        hr = folder_object(v, subs.names[i], has_children(&subs, subs.names[i]), &one);
        if (hr == MAPI_E_NOT_FOUND) {
            hr = S_OK; /* removed or unreadable since the listing: left out */
        } else if (HR_SUCCEEDED(hr)) {
            hr = mapi_rows_add(folders, &row);
            if (HR_SUCCEEDED(hr)) {
                *row = one;
                memset(&one, 0, sizeof one);
            }
        }
        mapi_object_clear(&one);
    }
    names_free(&subs);
    return hr;
}

/* OpenEntry of 'F' + name. */
static HRESULT open_folder(const maildir_view *v, const char *name, mapi_object *out)
{
    name_list subs;
    HRESULT hr = list_subfolders(v, &subs);
    if (HR_FAILED(hr))
        return hr;
    bool known = strcmp(name, INBOX) == 0;
    for (size_t i = 0; i < subs.count && !known; i++)
        known = strcmp(subs.names[i], name) == 0;
    hr = known ? folder_object(v, name, has_children(&subs, name), out) : MAPI_E_NOT_FOUND;
    names_free(&subs);
    return hr;
}

HRESULT maildir_folder_of_key(const maildir_view *v, const uint8_t *key, size_t key_len,
                              char **name, char **dir)
{
    *name = *dir = NULL;
    if (key_len < 2 || key[0] != 'F' || !valid_folder_name((const char *)key + 1, key_len - 1))
        return MAPI_E_NOT_FOUND;
    char *n = strndup((const char *)key + 1, key_len - 1);
    if (!n)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    name_list subs;
    HRESULT hr = list_subfolders(v, &subs);
    bool known = strcmp(n, INBOX) == 0;
    for (size_t i = 0; HR_SUCCEEDED(hr) && i < subs.count && !known; i++)
        known = strcmp(subs.names[i], n) == 0;
    names_free(&subs); /* zeroed when the listing failed */
    if (HR_SUCCEEDED(hr) && !known)
        hr = MAPI_E_NOT_FOUND;
    char *d = HR_SUCCEEDED(hr) ? folder_dir(v, n) : NULL;
    if (HR_SUCCEEDED(hr) && !d)
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (HR_FAILED(hr)) {
        free(n);
        return hr;
    }
    *name = n;
    *dir = d;
    return S_OK;
}

/* Finds the message with that base name in dir/new, then dir/cur. On S_OK,
 * *fd is the open file and *seen its Seen flag. */
static HRESULT find_message(const char *dir, const char *base, int *fd, bool *seen)
{
    static const char *const SUBS[] = {"new", "cur"};
    size_t lb = strlen(base);
    for (size_t i = 0; i < 2; i++) {
        char *path = pfs_path_join(dir, SUBS[i]);
        if (!path)
            return MAPI_E_NOT_ENOUGH_MEMORY;
        DIR *d = opendir(path);
        free(path);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, base, lb) != 0 ||
                (e->d_name[lb] != '\0' && e->d_name[lb] != ':'))
                continue;
            /* O_NONBLOCK: a FIFO planted under a message name must not hang
             * the session; only regular files are messages. */
            int f = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            struct stat sb;
            if (f >= 0 && fstat(f, &sb) == 0 && S_ISREG(sb.st_mode)) {
                *fd = f;
                *seen = i == 1 && maildir_name_seen(e->d_name);
                closedir(d);
                return S_OK;
            }
            if (f >= 0)
                close(f);
        }
        closedir(d);
    }
    return MAPI_E_NOT_FOUND;
}

/* The summary properties read from the message's header; the Message-ID
 * only when with_msgid. */
static HRESULT add_header_props(mapi_object *o, int fd, bool with_msgid)
{
    char *head = NULL, *subject = NULL, *from = NULL, *msgid = NULL, *name = NULL, *addr = NULL;
    size_t len = 0;
    HRESULT hr = rfc822_read_head(fd, &head, &len);
    if (HR_SUCCEEDED(hr))
        hr = rfc822_header(head, len, "Subject", &subject);
    if (HR_SUCCEEDED(hr))
        hr = rfc822_header(head, len, "From", &from);
    if (HR_SUCCEEDED(hr) && with_msgid)
        hr = rfc822_header(head, len, "Message-ID", &msgid);
    if (HR_SUCCEEDED(hr) && from)
        hr = rfc822_mailbox(from, &name, &addr);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_SUBJECT, "subject", subject);
    /* MAPI shows the address as the name when the sender gave none. */
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_SENDER_NAME, "sender_name", name ? name : addr);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_SENDER_EMAIL_ADDRESS, "sender_email_address", addr);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_string(o, PR_INTERNET_MESSAGE_ID, "internet_message_id", msgid);
    free(head);
    free(subject);
    free(from);
    free(msgid);
    free(name);
    free(addr);
    return hr;
}

HRESULT maildir_message_props(mapi_object *o, int fd, const struct stat *sb, bool seen,
                              bool with_msgid)
{
    HRESULT hr = add_header_props(o, fd, with_msgid);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_time(o, PR_MESSAGE_DELIVERY_TIME, "message_delivery_time",
                                  sb->st_mtime);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_long(o, PR_MESSAGE_SIZE, "message_size",
                                  (uint64_t)sb->st_size > UINT32_MAX ? UINT32_MAX
                                                                     : (uint32_t)sb->st_size);
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_long(o, PR_MESSAGE_FLAGS, "message_flags", seen ? MSGFLAG_READ : 0);
    return hr;
}

/* OpenEntry of 'M' + folder + NUL + base (both checked). */
static HRESULT open_message(const maildir_view *v, const char *folder, const char *base,
                            mapi_object *out)
{
    mapi_object parent = {0};
    HRESULT hr = open_folder(v, folder, &parent);                 /* also: the folder exists */
    const mapi_prop *pid = mapi_object_find(&parent, PR_ENTRYID); /* set on success */
    char *dir = NULL;
    if (HR_SUCCEEDED(hr) && (!pid || !(dir = folder_dir(v, folder))))
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    int fd = -1;
    bool seen = false;
    if (HR_SUCCEEDED(hr))
        hr = find_message(dir, base, &fd, &seen);
    struct stat sb;
    if (HR_SUCCEEDED(hr) && fstat(fd, &sb) != 0)
        hr = MAPI_E_CALL_FAILED;
    if (HR_SUCCEEDED(hr)) {
        out->object_type = MAPI_MESSAGE;
        hr = maildir_message_props(out, fd, &sb, seen, true);
    }
    if (HR_SUCCEEDED(hr))
        hr = mapi_object_add_binary(out, PR_PARENT_ENTRYID, "parent_entry_id", pid->v.bin.data,
                                    pid->v.bin.len);
    if (fd >= 0)
        close(fd);
    free(dir);
    mapi_object_clear(&parent);
    return hr;
}

HRESULT maildir_store_open(const maildir_view *v, const uint8_t *key, size_t key_len,
                           mapi_object *out)
{
    if (key_len < 2)
        return MAPI_E_NOT_FOUND;
    const char *rest = (const char *)key + 1;
    size_t rest_len = key_len - 1;
    const char *nul = memchr(rest, '\0', rest_len);
    size_t folder_len = key[0] == 'M' && nul ? (size_t)(nul - rest) : rest_len;
    if ((key[0] != 'F' && key[0] != 'M') || (key[0] == 'M' && !nul) ||
        !valid_folder_name(rest, folder_len))
        return MAPI_E_NOT_FOUND;
    char *folder = strndup(rest, folder_len);
    if (!folder)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    HRESULT hr;
    if (key[0] == 'F') {
        hr = open_folder(v, folder, out);
    } else {
        const char *base = nul + 1;
        size_t base_len = rest_len - folder_len - 1;
        char *b = valid_base_name(base, base_len) ? strndup(base, base_len) : NULL;
        hr = b ? open_message(v, folder, b, out) : MAPI_E_NOT_FOUND;
        if (!b && valid_base_name(base, base_len))
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
        if (HR_SUCCEEDED(hr))
            hr = maildir_add_entry_id(v, out, PR_ENTRYID, "entry_id", key, key_len);
        free(b);
    }
    free(folder);
    return hr;
}
