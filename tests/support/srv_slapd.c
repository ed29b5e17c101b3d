#include "srv_slapd.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLAPD "/usr/sbin/slapd"
#define SLAPADD "/usr/sbin/slapadd"
#define START_TIMEOUT_MS 10000
#define SLAPADD_TIMEOUT_MS 30000

static const char LDIF[] = "dn: " SRV_SLAPD_SUFFIX "\n"
                           "objectClass: dcObject\n"
                           "objectClass: organization\n"
                           "o: Example\n"
                           "dc: example\n"
                           "\n"
                           "dn: " SRV_SLAPD_PEOPLE "\n"
                           "objectClass: organizationalUnit\n"
                           "ou: people\n"
                           "\n"
                           "dn: " SRV_SLAPD_ALICE_DN "\n"
                           "objectClass: inetOrgPerson\n"
                           "uid: alice\n"
                           "cn: Alice Example\n"
                           "sn: Example\n"
                           "displayName: Alice Lidell\n"
                           "mail: alice@example.org\n"
                           "userPassword: alice-pw\n"
                           "\n"
                           "dn: uid=bob," SRV_SLAPD_PEOPLE "\n"
                           "objectClass: inetOrgPerson\n"
                           "uid: bob\n"
                           "cn:: Qm9iIE3DvGxsZXI=\n" /* "Bob Müller" */
                           "sn: Muller\n"
                           "mail: bob@example.org\n"
                           "userPassword: bob-pw\n"
                           "\n"
                           "dn: uid=carol," SRV_SLAPD_PEOPLE "\n"
                           "objectClass: inetOrgPerson\n"
                           "uid: carol\n"
                           "cn: Carol Stars *)( Odd\n"
                           "sn: Odd\n"
                           "mail: carol@example.org\n"
                           "\n"
                           "dn: cn=robot," SRV_SLAPD_PEOPLE "\n"
                           "objectClass: organizationalRole\n"
                           "cn: robot\n";

/* Every path slapd writes is inside dir (the database, pid and args). */
static void write_config(const srv_slapd *s, char *conf)
{
    char text[2048];
    snprintf(text, sizeof text,
             "include /etc/ldap/schema/core.schema\n"
             "include /etc/ldap/schema/cosine.schema\n"
             "include /etc/ldap/schema/inetorgperson.schema\n"
             "modulepath /usr/lib/ldap\n"
             "moduleload back_mdb\n"
             "pidfile %s/slapd.pid\n"
             "argsfile %s/slapd.args\n"
             "database mdb\n"
             "maxsize 16777216\n"
             "directory %s/db\n"
             "suffix \"" SRV_SLAPD_SUFFIX "\"\n"
             "rootdn \"cn=admin," SRV_SLAPD_SUFFIX "\"\n"
             "rootpw admin-secret\n"
             "access to attrs=userPassword by anonymous auth by self auth by * none\n"
             "access to * by * read\n",
             s->proc.dir, s->proc.dir, s->proc.dir);
    srv_write_file(&s->proc, "slapd.conf", text, conf);
}

/* Runs slapadd to completion (it only writes local files; bounded all the same). */
static void load_entries(const srv_slapd *s, const char *conf)
{
    char ldif[512], db[512];
    srv_write_file(&s->proc, "data.ldif", LDIF, ldif);
    snprintf(db, sizeof db, "%s/db", s->proc.dir);
    cr_assert_eq(mkdir(db, 0700), 0, "mkdir %s: %s", db, strerror(errno));
    srv_proc add = s->proc;
    char *argv[] = {SLAPADD, "-f", (char *)conf, "-l", ldif, NULL};
    srv_spawn(&add, argv);
    int status = srv_wait_exit(&add, SLAPADD_TIMEOUT_MS);
    cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "slapadd failed (status %d); see %s", status, s->proc.log);
}

static void spawn_slapd(srv_slapd *s)
{
    char conf[512], listen[64];
    snprintf(conf, sizeof conf, "%s/slapd.conf", s->proc.dir);
    snprintf(listen, sizeof listen, "ldap://127.0.0.1:%d/", s->port);
    /* -d 0: stay in the foreground (so the PID is slapd's) without debug output */
    char *argv[] = {SLAPD, "-d", "0", "-h", listen, "-f", conf, NULL};
    srv_spawn(&s->proc, argv);
    cr_assert(srv_wait_port(&s->proc, s->port, START_TIMEOUT_MS),
              "slapd did not start on port %d; see %s", s->port, s->proc.log);
}

void srv_slapd_start(srv_slapd *s)
{
    memset(s, 0, sizeof *s);
    cr_assert_eq(access(SLAPD, X_OK), 0, SLAPD " missing: install slapd and ldap-utils");
    srv_mkdir(&s->proc, "mapigw-slapd");
    char conf[512];
    write_config(s, conf);
    load_entries(s, conf);
    s->port = srv_free_port();
    snprintf(s->url, sizeof s->url, "ldap://127.0.0.1:%d", s->port);
    spawn_slapd(s);
}

void srv_slapd_stop(srv_slapd *s) { srv_stop(&s->proc); }

void srv_slapd_restart(srv_slapd *s)
{
    if (s->proc.pid <= 0)
        spawn_slapd(s);
}

void srv_slapd_destroy(srv_slapd *s) { srv_destroy(&s->proc); }
