#include "srv_dovecot.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DOVECOT_BIN "/usr/sbin/dovecot"
#define START_WAIT_MS 10000

/* Who the mail processes run as, and so who must own the Maildirs. */
typedef struct {
    char login_user[64];
    char internal_user[64];
    uid_t mail_uid;
    gid_t mail_gid;
} run_as;

static void pick_users(run_as *r)
{
    if (geteuid() == 0) {
        /* dovecot refuses to run login or mail processes as root. */
        const struct passwd *nobody = getpwnam("nobody");
        cr_assert_not_null(nobody, "no user \"nobody\"");
        cr_assert_not_null(getpwnam("dovenull"), "no user \"dovenull\" (package dovecot-core)");
        snprintf(r->login_user, sizeof r->login_user, "dovenull");
        snprintf(r->internal_user, sizeof r->internal_user, "root");
        r->mail_uid = nobody->pw_uid;
        r->mail_gid = nobody->pw_gid;
        return;
    }
    const struct passwd *me = getpwuid(geteuid());
    cr_assert_not_null(me, "no passwd entry for uid %u", (unsigned)geteuid());
    snprintf(r->login_user, sizeof r->login_user, "%s", me->pw_name);
    snprintf(r->internal_user, sizeof r->internal_user, "%s", me->pw_name);
    r->mail_uid = me->pw_uid;
    r->mail_gid = me->pw_gid;
}

/* mkdir -p owned by the mail user, so dovecot can write where we wrote. */
static void mkdir_owned(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    run_as r;
    pick_users(&r);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) == 0) {
                if (geteuid() == 0)
                    cr_assert_eq(chown(buf, r.mail_uid, r.mail_gid), 0, "chown %s", buf);
            } else if (errno != EEXIST) {
                cr_assert_fail("mkdir %s: %s", buf, strerror(errno));
            }
            *p = c;
            if (!c)
                break;
        }
    }
}

static void spawn(srv_dovecot *d)
{
    char *const argv[] = {DOVECOT_BIN, "-F", "-c", d->conf, NULL};
    srv_spawn(&d->p, argv);
    cr_assert(srv_wait_port(&d->p, d->port, START_WAIT_MS),
              "dovecot did not listen on port %d; see %s", d->port, d->p.log);
}

void srv_dovecot_start(srv_dovecot *d, const srv_dovecot_user *users, size_t n)
{
    cr_assert(access(DOVECOT_BIN, X_OK) == 0, "%s missing (package dovecot-imapd)", DOVECOT_BIN);
    memset(d, 0, sizeof *d);
    srv_mkdir(&d->p, "mgw-dovecot");
    /* The unprivileged login and mail processes must reach their sockets
     * and Maildirs inside the temp dir (mkdtemp makes it 0700). */
    cr_assert_eq(chmod(d->p.dir, 0711), 0);
    d->port = srv_free_port();
    run_as r;
    pick_users(&r);

    char users_path[512], mail[512], path[1100];
    snprintf(users_path, sizeof users_path, "%s/users", d->p.dir);
    FILE *f = fopen(users_path, "w");
    cr_assert_not_null(f, "fopen %s: %s", users_path, strerror(errno));
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s:{PLAIN}%s::::::\n", users[i].name, users[i].password);
    cr_assert_eq(fclose(f), 0);
    snprintf(mail, sizeof mail, "%s/mail", d->p.dir);
    mkdir_owned(mail);
    for (size_t i = 0; i < n; i++) {
        /* An empty INBOX exists from the start, as on a real server. */
        static const char *const SUB[] = {"cur", "new", "tmp"};
        for (size_t k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/%s/Maildir/%s", mail, users[i].name, SUB[k]);
            mkdir_owned(path);
        }
    }

    char conf[4096];
    snprintf(conf, sizeof conf,
             "base_dir = %1$s/run\n"
             "state_dir = %1$s/state\n"
             "log_path = /dev/stderr\n"
             "info_log_path = /dev/stderr\n"
             "listen = 127.0.0.1\n"
             "protocols = imap\n"
             "ssl = no\n"
             "disable_plaintext_auth = no\n"
             "auth_mechanisms = plain login\n"
             "auth_failure_delay = 0\n"
             "default_login_user = %2$s\n"
             "default_internal_user = %3$s\n"
             "first_valid_uid = 1\n"
             "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %4$s\n}\n"
             "userdb {\n  driver = static\n  args = uid=%5$u gid=%6$u home=%1$s/mail/%%u\n}\n"
             "mail_location = maildir:~/Maildir\n"
             "service imap-login {\n  chroot =\n"
             "  inet_listener imap {\n    address = 127.0.0.1\n    port = %7$d\n  }\n"
             "  inet_listener imaps {\n    port = 0\n  }\n}\n",
             d->p.dir, r.login_user, r.internal_user, users_path, (unsigned)r.mail_uid,
             (unsigned)r.mail_gid, d->port);
    char out[512];
    snprintf(d->conf, sizeof d->conf, "%s", srv_write_file(&d->p, "dovecot.conf", conf, out));
    spawn(d);
}

/* SIGKILL to every child of the master. dovecot's master, on SIGTERM, waits
 * for its imap processes to end their sessions, so open client connections
 * would survive a "stopped" server; a server that goes away must take them
 * with it. The children are found through /proc by their parent's PID. */
static void kill_children(pid_t master)
{
    DIR *dir = opendir("/proc");
    if (!dir)
        return;
    const struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], stat[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = '\0';
        /* "pid (comm) state ppid ...": comm may hold spaces, so parse after
         * the last ')'. */
        const char *rp = strrchr(stat, ')');
        long ppid = 0;
        if (rp && sscanf(rp + 1, " %*c %ld", &ppid) == 1 && ppid == (long)master)
            kill((pid_t)pid, SIGKILL);
    }
    closedir(dir);
}

void srv_dovecot_stop(srv_dovecot *d)
{
    if (d->p.pid > 0)
        kill_children(d->p.pid);
    srv_stop(&d->p);
}

void srv_dovecot_restart(srv_dovecot *d)
{
    srv_dovecot_stop(d);
    spawn(d);
}

void srv_dovecot_destroy(srv_dovecot *d)
{
    if (d->p.pid > 0)
        kill_children(d->p.pid);
    if (d->p.dir[0])
        srv_destroy(&d->p);
}

/* <dir>/mail/<user>/Maildir or its ".folder" sub-Maildir (Maildir++). */
static void folder_path(const srv_dovecot *d, const char *user, const char *folder, char *out,
                        size_t len)
{
    if (!folder || strcmp(folder, "INBOX") == 0)
        snprintf(out, len, "%s/mail/%s/Maildir", d->p.dir, user);
    else
        snprintf(out, len, "%s/mail/%s/Maildir/.%s", d->p.dir, user, folder);
}

void srv_dovecot_add_folder(srv_dovecot *d, const char *user, const char *folder)
{
    char base[700], path[800];
    folder_path(d, user, folder, base, sizeof base);
    static const char *const SUB[] = {"cur", "new", "tmp"};
    for (size_t k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", base, SUB[k]);
        mkdir_owned(path);
    }
    if (folder && strcmp(folder, "INBOX") != 0) {
        snprintf(path, sizeof path, "%s/maildirfolder", base);
        int fd = open(path, O_WRONLY | O_CREAT, 0644);
        cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
        close(fd);
    }
}

void srv_dovecot_deliver(srv_dovecot *d, const char *user, const char *folder, const char *message,
                         bool seen)
{
    static unsigned counter;
    srv_dovecot_add_folder(d, user, folder);
    char base[700], tmp[900], dest[900], name[128];
    folder_path(d, user, folder, base, sizeof base);
    /* Maildir delivery: write into tmp/, then rename into new/ (unseen) or
     * cur/ with the S flag (seen). */
    snprintf(name, sizeof name, "%ld.M%uP%d.mgwtest", (long)time(NULL), ++counter, (int)getpid());
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", base, name);
    if (seen)
        snprintf(dest, sizeof dest, "%s/cur/%s:2,S", base, name);
    else
        snprintf(dest, sizeof dest, "%s/new/%s", base, name);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f, "fopen %s: %s", tmp, strerror(errno));
    fputs(message, f);
    cr_assert_eq(fclose(f), 0);
    if (geteuid() == 0) {
        run_as r;
        pick_users(&r);
        cr_assert_eq(chown(tmp, r.mail_uid, r.mail_gid), 0, "chown %s", tmp);
    }
    cr_assert_eq(rename(tmp, dest), 0, "rename %s: %s", dest, strerror(errno));
}

const char *srv_dovecot_url(const srv_dovecot *d, char *out, size_t len)
{
    snprintf(out, len, "imap://127.0.0.1:%d", d->port);
    return out;
}
