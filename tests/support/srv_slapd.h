/* srv_slapd.h - a throw-away OpenLDAP slapd on 127.0.0.1 for the black-box
 * suites.
 *
 * Debian's /usr/sbin/slapd (package slapd) runs in the foreground as the
 * current user with a slapd.conf in a temp dir: back_mdb from /usr/lib/ldap,
 * the core, cosine and inetorgperson schemas from /etc/ldap/schema, one
 * database for dc=example,dc=org whose files, pid and args files all live in
 * the temp dir. The entries are loaded with slapadd before the first start, so
 * nothing needs the network or a system path.
 *
 * Directory (SRV_SLAPD_PEOPLE = ou=people,dc=example,dc=org):
 *   uid=alice  cn "Alice Example", displayName "Alice Lidell",
 *              mail alice@example.org, userPassword "alice-pw"
 *   uid=bob    cn "Bob Müller" (base64 in libcurl's output), no displayName,
 *              mail bob@example.org, userPassword "bob-pw"
 *   uid=carol  cn "Carol Stars *)( Odd", mail carol@example.org
 * plus an organizationalRole (not an inetOrgPerson) cn=robot.
 * Anybody may read everything but userPassword; binds check userPassword.
 */
#pragma once

#include "srv.h"

#define SRV_SLAPD_SUFFIX "dc=example,dc=org"
#define SRV_SLAPD_PEOPLE "ou=people,dc=example,dc=org"
#define SRV_SLAPD_ALICE_DN "uid=alice,ou=people,dc=example,dc=org"
#define SRV_SLAPD_USERS 3 /* inetOrgPerson entries under SRV_SLAPD_PEOPLE */

typedef struct {
    srv_proc proc;
    int port;
    char url[64]; /* ldap://127.0.0.1:<port> */
} srv_slapd;

/* Creates the temp dir, loads the entries and starts slapd on a free port;
 * waits (bounded) until it accepts connections. Asserts on failure. */
void srv_slapd_start(srv_slapd *s);
/* Stops slapd by PID; the data stays, so srv_slapd_restart brings it back on
 * the same port. */
void srv_slapd_stop(srv_slapd *s);
void srv_slapd_restart(srv_slapd *s);
/* Stops and removes the temp dir. Safe to call twice. */
void srv_slapd_destroy(srv_slapd *s);
