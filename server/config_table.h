/* config_table.h - the shape of the options table (config_table.c),
 * private to config.c, config_table.c and the unit suite
 * (tests/unit/test_config.c).
 *
 * One row per option: what it is called (flag, variable), what it takes
 * (type, range or choices), what it is when not given (default), where its
 * value goes (fields of config, located by offsetof and typed from the field
 * itself), what --help says, and any check a type cannot express.
 *
 * Thread-safety: read-only data.
 */
#pragma once

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    OPTION_UINT,   /* strict decimal within min..max */
    OPTION_BOOL,   /* yes|no (true|false, 1|0, on|off); the flag alone means yes */
    OPTION_STRING, /* any text but the empty one */
    OPTION_CHOICE, /* one of choices[], by exact name */
} option_type;

/* The C type of a field an option fills. */
typedef enum {
    FIELD_NONE, /* an unused slot */
    FIELD_U16,
    FIELD_UNSIGNED, /* unsigned, and the enums of the log */
    FIELD_LONG,
    FIELD_SIZE,
    FIELD_BOOL,
    FIELD_STRING,
} field_kind;

typedef struct {
    size_t offset; /* into config */
    field_kind kind;
} option_field;

/* A config field for a row: OPTION_TO(core.idle_timeout_s). The kind comes
 * from the field's own type, so a row cannot write the wrong width (a type
 * not listed here does not compile). */
#define OPTION_FIELD_KIND(lvalue)                                                                  \
    _Generic((lvalue),                                                                             \
        uint16_t: FIELD_U16,                                                                       \
        unsigned: FIELD_UNSIGNED,                                                                  \
        long: FIELD_LONG,                                                                          \
        size_t: FIELD_SIZE,                                                                        \
        bool: FIELD_BOOL,                                                                          \
        const char *: FIELD_STRING)
#define OPTION_TO(member)                                                                          \
    {                                                                                              \
        offsetof(config, member), OPTION_FIELD_KIND(((config *)0)->member)                         \
    }

typedef struct {
    const char *name; /* as typed */
    unsigned value;   /* stored in the field */
} option_choice;

typedef struct config_option config_option;

/* What a type cannot say (an address literal, a key's shape, a file to
 * read). Runs after the type's own check, before the value is stored; may
 * fill fields itself. false after printing one line "mapigw: <source>: ..."
 * to err. */
typedef bool (*option_check)(const config_option *o, const char *value, const char *source,
                             config *cfg, FILE *err);

struct config_option {
    const char *flag;             /* "--idle-timeout" */
    const char *env;              /* "MAPIGW_" + the flag's name in upper case, '-' as '_' */
    const char *metavar;          /* --help's name of the value; NULL for BOOL and CHOICE */
    option_type type;             /* how the value is read and checked */
    unsigned long long min, max;  /* OPTION_UINT */
    const option_choice *choices; /* OPTION_CHOICE: ends with {NULL, 0} */
    const char *def;              /* the default as one would type it; NULL: unset */
    option_field to[2];           /* where the value goes (both when two floors need it) */
    option_check check;           /* NULL: the type says everything */
    const char *help;             /* what --help says */
};

extern const config_option CONFIG_OPTIONS[];
extern const size_t CONFIG_OPTION_COUNT;
/* Room for this many rows (config.c keeps one raw value per row on the
 * stack); config_table.c fails to compile past it. */
#define CONFIG_OPTION_MAX 64

/* --help's name of o's value: its metavar, "a|b" for a choice (written
 * into buf), "" for a boolean. */
const char *config_option_metavar(const config_option *o, char *buf, size_t size);

/* The widest line --help prints: it must fit an 80-column terminal without
 * the terminal wrapping it. */
#define CONFIG_HELP_WIDTH 79
