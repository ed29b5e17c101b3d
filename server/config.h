/* config.h - the gateway's command line and its MAPIGW_* environment twins
 * (docs/DECISIONS.md, "Command line"). A flag wins over its variable; an
 * empty variable counts as unset, so a container can blank one out.
 *
 * Ownership: string fields borrow argv or the environment, both of which live
 * as long as the process (nothing here calls setenv), except an admin key
 * read from --admin-key-file, which the config owns until config_free.
 *
 * Thread-safety: config_parse reads the environment; call it once, from main,
 * before any thread starts.
 */
#pragma once

#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *listen; /* IPv4 or IPv6 literal (validated) */
    bool listen_is_ipv6;
    uint16_t port;         /* 0: the kernel picks one */
    const char *port_file; /* NULL: none */
    const char *profiles;
    const char *data_dir;
    const char *admin_key; /* NULL: admin endpoints off */
    char *owned_admin_key; /* read from --admin-key-file (admin_key points here); config_free */
    /* Serve 'auth: none' profiles and the demo password on a non-loopback
     * address (guard.h); without it the gateway refuses to start. */
    bool allow_insecure_profiles;
    unsigned idle_timeout_s;
    unsigned lifetime_s;
    unsigned max_sessions;
    unsigned max_sessions_per_profile;
    unsigned max_handles_per_session;
    long logon_timeout_ms;
    size_t max_body_bytes;
    size_t max_header_bytes; /* header names + values: 431 past it */
    size_t max_url_bytes;    /* decoded path + query: 414 past it */
    unsigned max_json_depth; /* request bodies: 400 past it */
    size_t max_json_string;  /* any string or key of a request body: 400 past it */
    unsigned threads;
    unsigned connection_timeout_s;
    unsigned request_timeout_s; /* a whole request must arrive within this */
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0: no per-address limit */
    unsigned reap_interval_s;
    unsigned poll_interval_s;    /* core_poll period */
    unsigned events_keepalive_s; /* keep-alive comment period of event streams */
    unsigned throttle_after;     /* failed logons per (profile, client) before 429 */
    unsigned throttle_max_delay_s;
    unsigned max_password_checks; /* argon2id checks at once; 0: half the CPUs, at least 2 */
    const char *cors_origins;     /* comma-separated; NULL: CORS off */
    log_format log_fmt;
    log_output log_out;
} config;

typedef enum {
    CONFIG_RUN,           /* start the gateway with the parsed config */
    CONFIG_HASH_PASSWORD, /* the hash-password subcommand */
    CONFIG_EXIT_OK,       /* --help or --version was printed */
    CONFIG_EXIT_USAGE,    /* an error was printed to err; exit 2 */
} config_action;

/* Parses argv and the environment into cfg. --help and --version print to
 * out; every error prints one line "mapigw: <flag>: <what is wrong>" to err.
 * After CONFIG_RUN, release cfg with config_free. */
config_action config_parse(int argc, char **argv, config *cfg, FILE *out, FILE *err);

/* Wipes and frees what the config owns (a key read from a file). */
void config_free(config *cfg);

/* Prints the flag table (flag, env, default, meaning). */
void config_print_help(FILE *out);
