#!/usr/bin/env bash
# bench/gen-profiles.sh N [TEMPLATE_DOMAIN [TEMPLATE_DIR]] - writes to stdout a
# profiles file with N explicit profiles as an organisation would have them
# (one line each: a Maildir store, an address book holding the identity, a
# spool transport; every other one with an argon2id verifier, the rest
# `auth: none`), and with TEMPLATE_DOMAIN a template (auth: none) for every
# *@TEMPLATE_DOMAIN with the same local providers under TEMPLATE_DIR (default
# users/${domain}/${local}; one shared folder keeps a bench off the disk).
set -euo pipefail
N=${1:?usage: gen-profiles.sh N [TEMPLATE_DOMAIN [TEMPLATE_DIR]]}
DOMAIN=${2:-}
# shellcheck disable=SC2016 # the placeholders are the gateway's, not the shell's
DIR=${3:-'users/${domain}/${local}'}
awk -v n="$N" -v domain="$DOMAIN" -v tdir="$DIR" 'function services(dir, who, display) {
    return "\"services\":[{\"name\":\"Mail\",\"providers\":[" \
        "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":\"Mailbox\"," \
        "\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],\"settings\":{\"create\":true,\"path\":\"" dir "/Maildir\"}}," \
        "{\"type\":\"MAPI_AB_PROVIDER\",\"kind\":\"abfile\",\"display_name\":\"Contacts\"," \
        "\"resource_flags\":[\"STATUS_PRIMARY_IDENTITY\"],\"identity\":{\"display\":\"" display "\"," \
        "\"address_type\":\"SMTP\",\"address\":\"" who "\"},\"settings\":{\"path\":\"" dir "/contacts.json\",\"create\":true}}," \
        "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"Outbox\"," \
        "\"settings\":{\"path\":\"" dir "/spool\",\"deliver_to\":\"" dir "/Maildir\",\"create\":true}}]}]"
}
BEGIN {
    srand(16);
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    printf "{\"profiles\":[\n";
    for (i = 0; i < n; i++) {
        name = sprintf("user%d@example.com", i);
        if (i % 2) {
            v = "";
            for (k = 0; k < 65; k++) v = v substr(b64, int(rand() * 64) + 1, 1);
            auth = "{\"type\":\"argon2id\",\"verifier\":\"$argon2id$v=19$m=65536,t=2,p=1$" \
                substr(v, 1, 22) "$" substr(v, 23, 43) "\"}";
        } else {
            auth = "{\"type\":\"none\"}";
        }
        printf "{\"name\":\"%s\",\"auth\":%s,%s}%s\n", name, auth,
            services("users/" name, name, sprintf("User %06d", i)), i + 1 < n ? "," : "";
    }
    printf "]";
    if (domain != "")
        printf ",\"templates\":[{\"name\":\"%s\",\"match\":[\"*@%s\"],\"auth\":{\"type\":\"none\"},%s}]",
            domain, domain, services(tdir, "${user}", "${local}");
    printf "}\n";
}'
