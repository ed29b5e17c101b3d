/* config.h - the gateway's command line and its MAPIGW_* environment twins
 * (docs/DECISIONS.md, "Command line"). A flag wins over its variable; an
 * empty variable counts as unset, so a container can blank one out.
 *
 * One table in config.c (its shape: config_table.h) holds every option once:
 * flag, variable, default, type and range, help text, and the config field it
 * fills. Parsing, validation, --help and the sub-configs below all follow it,
 * so a default is written there and nowhere else: the core, the api and the
 * daemon take complete configs and keep no defaults of their own.
 *
 * Ownership: string fields borrow argv, the environment or the table's
 * literals, all of which live as long as the process (nothing here calls
 * setenv), except an admin key read from --admin-key-file, which the config
 * owns until config_free.
 *
 * Thread-safety: config_parse reads the environment; call it once, from main,
 * before any thread starts. config_defaults reads nothing but the table.
 */
#pragma once

#include "httpd.h"
#include "log.h"

#include "../api/api.h"
#include "../session-core/core.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    /* What the table fills for the floors below, ready to hand over. */
    core_config core;   /* core_new */
    api_config api;     /* api_new; main adds the OpenAPI document and the version */
    httpd_config httpd; /* httpd_start; main adds password_workers (from the core) */

    /* The daemon's own. */
    const char *port_file; /* NULL: none */
    const char *profiles;
    const char *data_dir;
    /* Serve 'auth: none' profiles and the demo password on a non-loopback
     * address (guard.h); without it the gateway refuses to start. */
    bool allow_insecure_profiles;
    unsigned reap_interval_s;
    unsigned poll_interval_s; /* core_poll period */
    const char *cors_origins; /* comma-separated; NULL: CORS off */
    log_format log_fmt;
    log_output log_out;
    char *owned_admin_key; /* read from --admin-key-file (api.admin_key points here); config_free */
    char *owned_store_password; /* read from --store-password-file (core.store_password);
                                   config_free */
    char *owned_profiles; /* the default profiles file found by the binary (profiles points here) */
} config;

typedef enum {
    CONFIG_RUN,           /* start the gateway with the parsed config */
    CONFIG_HASH_PASSWORD, /* the hash-password subcommand */
    CONFIG_EXIT_OK,       /* --help or --version was printed */
    CONFIG_EXIT_USAGE,    /* an error was printed to err; exit 2 */
} config_action;

/* Parses argv and the environment into cfg. --help and --version print to
 * out; every error prints one line "mapigw: <flag>: <what is wrong>" to err.
 * cfg->log_fmt and cfg->log_out are set also when parsing fails (from what
 * was read, when valid), so the caller can report the errors in that format.
 * The default --profiles (not one given) is looked up beside the binary:
 * <bin>/../share/mapigw/, then <bin>/ (the working folder when neither has
 * it). After CONFIG_RUN, release cfg with config_free. */
config_action config_parse(int argc, char **argv, config *cfg, FILE *out, FILE *err);

/* The table's defaults alone (no argv, no environment): what mapigw runs
 * with when given nothing. For tests and tools that build the floors below
 * without the daemon. false (a message on stderr) only if the table holds a
 * default it would refuse, which the unit suite rules out. */
bool config_defaults(config *cfg);

/* Calls fn for every MAPIGW_* variable of the environment that names no
 * option (name: the "NAME=value" entry, len: the length of NAME). */
void config_foreach_unknown_env(void (*fn)(const char *name, size_t len, void *ctx), void *ctx);

/* Wipes and frees what the config owns (a key read from a file). */
void config_free(config *cfg);

/* Prints the usage and every option, for an 80-column terminal: the flag and
 * its argument on one line, the help below it, indented and wrapped, then
 * the default and the variable. */
void config_print_help(FILE *out);
