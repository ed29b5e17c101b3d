/* config.c - command line and environment (see config.h): --help, parsing
 * and validation, all driven by the options table (config_table.c).
 *
 * Values are collected first (default, then environment, then flags on top)
 * and validated afterwards, in table order: a bad variable that a flag
 * overrides is not an error, and every message names where the bad value
 * came from. Validation is the type's (range, yes/no, choices, non-empty),
 * then the row's own check, then the value is stored in the row's fields.
 */
#include "config_table.h"

#include <sodium.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

extern char **environ;

#ifndef MAPIGW_VERSION
#define MAPIGW_VERSION "0.0.0"
#endif

/* ---- --help ------------------------------------------------------------- */

const char *config_option_metavar(const config_option *o, char *buf, size_t size)
{
    if (o->type == OPTION_BOOL)
        return "";
    if (o->type != OPTION_CHOICE)
        return o->metavar;
    size_t len = 0;
    buf[0] = '\0';
    for (const option_choice *c = o->choices; c->name; c++) {
        int n = snprintf(buf + len, size - len, "%s%s", c == o->choices ? "" : "|", c->name);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
    }
    return buf;
}

#define HELP_INDENT 6

/* text as words filling lines of CONFIG_HELP_WIDTH, each indented; a word
 * longer than a line gets a line of its own. */
static void print_wrapped(FILE *out, const char *text)
{
    size_t col = 0;
    for (const char *p = text; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        if (col > 0 && col + 1 + n > CONFIG_HELP_WIDTH) {
            fputc('\n', out);
            col = 0;
        }
        if (col == 0)
            col = (size_t)fprintf(out, "%*s%.*s", HELP_INDENT, "", (int)n, p);
        else
            col += (size_t)fprintf(out, " %.*s", (int)n, p);
        p += n;
    }
    if (col > 0)
        fputc('\n', out);
}

static void print_option(FILE *out, const char *flag, const char *metavar, const char *help,
                         const char *def, const char *env)
{
    fprintf(out, "  %s%s%s\n", flag, metavar[0] ? " " : "", metavar);
    print_wrapped(out, help);
    if (!env)
        return;
    /* Two items, each whole: on one line when they fit, else one each. */
    char d[128], e[128];
    int dn = snprintf(d, sizeof d, "[default: %s]", def ? def : "none");
    int en = snprintf(e, sizeof e, "[env: %s]", env);
    bool one_line = HELP_INDENT + dn + 1 + en <= CONFIG_HELP_WIDTH;
    fprintf(out, "%*s%s%s%*s%s\n", HELP_INDENT, "", d, one_line ? " " : "\n",
            one_line ? 0 : HELP_INDENT, "", e);
}

void config_print_help(FILE *out)
{
    fprintf(out,
            "usage: mapigw [options]\n"
            "       mapigw hash-password\n"
            "%*sreads a password from stdin, prints an argon2id verifier\n\n"
            "Every flag has an environment twin; the flag wins. Flags take their value as\n"
            "'--flag VALUE' or '--flag=VALUE'.\n\n"
            "Options:\n",
            HELP_INDENT + 5, "");
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        const config_option *o = &CONFIG_OPTIONS[i];
        char buf[64];
        print_option(out, o->flag, config_option_metavar(o, buf, sizeof buf), o->help, o->def,
                     o->env);
    }
    print_option(out, "--help, -h", "", "print this help", NULL, NULL);
    print_option(out, "--version", "", "print the version", NULL, NULL);
}

/* ---- parsing and validation --------------------------------------------- */

/* Strict decimal: no sign, no blanks, no trailing junk (strtoull alone would
 * take " -1" as a huge number). */
static bool parse_uint(const char *s, unsigned long long min, unsigned long long max,
                       unsigned long long *out)
{
    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* yes|no for boolean options (true/false, 1/0, on/off too). */
static bool parse_bool(const char *v, bool *out)
{
    static const char *const YES[] = {"yes", "true", "1", "on"};
    static const char *const NO[] = {"no", "false", "0", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, YES[i]) == 0 || strcasecmp(v, NO[i]) == 0) {
            *out = strcasecmp(v, YES[i]) == 0;
            return true;
        }
    }
    return false;
}

/* "'a' or 'b'", "'a', 'b' or 'c'": the choices as a message says them. */
static void choices_text(const option_choice *c, char *buf, size_t size)
{
    size_t len = 0, count = 0;
    while (c[count].name)
        count++;
    buf[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        const char *sep = i == 0 ? "" : i + 1 == count ? " or " : ", ";
        int n = snprintf(buf + len, size - len, "%s'%s'", sep, c[i].name);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
    }
}

/* Where a raw value came from, for messages: the flag or the variable. */
typedef struct {
    const char *value;
    const char *source;
} raw_value;

static bool from_flag(const raw_value *r) { return r->source[0] == '-'; }

static void store(const option_field *f, config *cfg, unsigned long long n, const char *s)
{
    char *at = (char *)cfg + f->offset;
    switch (f->kind) {
    case FIELD_NONE:
        break;
    case FIELD_U16:
        *(uint16_t *)(void *)at = (uint16_t)n;
        break;
    case FIELD_UNSIGNED:
        *(unsigned *)(void *)at = (unsigned)n;
        break;
    case FIELD_LONG:
        *(long *)(void *)at = (long)n;
        break;
    case FIELD_SIZE:
        *(size_t *)(void *)at = (size_t)n;
        break;
    case FIELD_BOOL:
        *(bool *)(void *)at = n != 0;
        break;
    case FIELD_STRING:
        *(const char **)(void *)at = s;
        break;
    }
}

/* The type's check of raw (not NULL): the number a field of that type
 * stores in *n. false after one line to err. */
static bool check_type(const config_option *o, const raw_value *raw, unsigned long long *n,
                       FILE *err)
{
    const char *v = raw->value;
    if (o->type == OPTION_UINT) {
        if (parse_uint(v, o->min, o->max, n))
            return true;
        fprintf(err, "mapigw: %s: expected %llu..%llu, got '%s'\n", raw->source, o->min, o->max, v);
        return false;
    }
    if (v[0] == '\0') {
        fprintf(err, "mapigw: %s: expected a value, got ''\n", raw->source);
        return false;
    }
    if (o->type == OPTION_BOOL) {
        bool b = false;
        if (!parse_bool(v, &b)) {
            fprintf(err, "mapigw: %s: expected 'yes' or 'no', got '%s'\n", raw->source, v);
            return false;
        }
        *n = b;
    } else if (o->type == OPTION_CHOICE) {
        const option_choice *c = o->choices;
        while (c->name && strcmp(c->name, v) != 0)
            c++;
        if (!c->name) {
            char expected[128];
            choices_text(o->choices, expected, sizeof expected);
            fprintf(err, "mapigw: %s: expected %s, got '%s'\n", raw->source, expected, v);
            return false;
        }
        *n = c->value;
    }
    return true;
}

static size_t option_index(const char *flag)
{
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++)
        if (strcmp(CONFIG_OPTIONS[i].flag, flag) == 0)
            return i;
    return CONFIG_OPTION_COUNT;
}

/* One admin key: a flag beats the other's variable; two of one kind are a
 * mistake worth stopping for. */
static bool one_admin_key(raw_value raw[CONFIG_OPTION_MAX], FILE *err)
{
    size_t k = option_index("--admin-key"), f = option_index("--admin-key-file");
    if (k == CONFIG_OPTION_COUNT || f == CONFIG_OPTION_COUNT)
        return true;
    raw_value *key = &raw[k], *key_file = &raw[f];
    if (!key->value || !key_file->value)
        return true;
    if (from_flag(key) == from_flag(key_file)) {
        fprintf(err, "mapigw: %s and %s: give the admin key once\n", key->source, key_file->source);
        return false;
    }
    if (from_flag(key))
        key_file->value = NULL;
    else
        key->value = NULL;
    return true;
}

static bool validate(raw_value raw[CONFIG_OPTION_MAX], config *cfg, FILE *err)
{
    if (!one_admin_key(raw, err))
        return false;
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        const config_option *o = &CONFIG_OPTIONS[i];
        if (!raw[i].value)
            continue;
        unsigned long long n = 0;
        if (!check_type(o, &raw[i], &n, err))
            return false;
        if (o->check && !o->check(o, raw[i].value, raw[i].source, cfg, err))
            return false;
        for (size_t t = 0; t < sizeof o->to / sizeof o->to[0]; t++)
            store(&o->to[t], cfg, n, raw[i].value);
    }
    return true;
}

/* Every option at its default, with its flag as the source. */
static void collect_defaults(raw_value raw[CONFIG_OPTION_MAX])
{
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        raw[i].value = CONFIG_OPTIONS[i].def;
        raw[i].source = CONFIG_OPTIONS[i].flag;
    }
}

bool config_defaults(config *cfg)
{
    raw_value raw[CONFIG_OPTION_MAX];
    memset(cfg, 0, sizeof *cfg);
    collect_defaults(raw);
    if (validate(raw, cfg, stderr))
        return true;
    config_free(cfg);
    return false;
}

/* The log format and output, checked alone and quietly, so that an error in
 * any other option can still be reported in the format asked for (config.h:
 * cfg->log_fmt and log_out are set even when parsing fails). */
static void early_log_options(raw_value raw[CONFIG_OPTION_MAX], config *cfg)
{
    static const char *const FLAGS[] = {"--log-format", "--log-output"};
    FILE *quiet = fopen("/dev/null", "w");
    if (!quiet)
        return;
    for (size_t f = 0; f < sizeof FLAGS / sizeof FLAGS[0]; f++) {
        size_t i = option_index(FLAGS[f]);
        if (i == CONFIG_OPTION_COUNT || !raw[i].value)
            continue;
        const config_option *o = &CONFIG_OPTIONS[i];
        unsigned long long n = 0;
        if (!check_type(o, &raw[i], &n, quiet))
            continue;
        for (size_t t = 0; t < sizeof o->to / sizeof o->to[0]; t++)
            store(&o->to[t], cfg, n, raw[i].value);
    }
    fclose(quiet);
}

/* The default profiles file is data installed with the binary, not something
 * of the working folder: <bin>/../share/mapigw/NAME (an installed tree, the
 * image), then <bin>/NAME (the build folder, where make copies it). Only the
 * table's default is looked up this way; a path given by flag or variable is
 * taken as given. Found: cfg->profiles points at an owned copy. */
static void resolve_default_profiles(raw_value raw[CONFIG_OPTION_MAX], config *cfg)
{
    size_t i = option_index("--profiles");
    if (i == CONFIG_OPTION_COUNT || raw[i].value != CONFIG_OPTIONS[i].def || !raw[i].value ||
        raw[i].value[0] == '/')
        return;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *const DIRS[] = {"/../share/mapigw/", "/"};
    for (size_t d = 0; d < sizeof DIRS / sizeof DIRS[0]; d++) {
        char path[PATH_MAX];
        int len = snprintf(path, sizeof path, "%s%s%s", exe, DIRS[d], raw[i].value);
        if (len < 0 || (size_t)len >= sizeof path || access(path, R_OK) != 0)
            continue;
        char *copy = strdup(path);
        if (!copy)
            return;
        free(cfg->owned_profiles);
        cfg->owned_profiles = copy;
        cfg->profiles = copy;
        return;
    }
}

void config_foreach_unknown_env(void (*fn)(const char *name, size_t len, void *ctx), void *ctx)
{
    static const char PREFIX[] = "MAPIGW_";
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, PREFIX, sizeof PREFIX - 1) != 0)
            continue;
        size_t len = strcspn(*e, "=");
        bool known = false;
        for (size_t i = 0; i < CONFIG_OPTION_COUNT && !known; i++)
            known = CONFIG_OPTIONS[i].env && strlen(CONFIG_OPTIONS[i].env) == len &&
                    strncmp(CONFIG_OPTIONS[i].env, *e, len) == 0;
        if (!known)
            fn(*e, len, ctx);
    }
}

static int find_option(const char *arg, size_t *name_len)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        if (strlen(CONFIG_OPTIONS[i].flag) == len &&
            strncmp(CONFIG_OPTIONS[i].flag, arg, len) == 0) {
            *name_len = len;
            return (int)i;
        }
    }
    return -1;
}

config_action config_parse(int argc, char **argv, config *cfg, FILE *out, FILE *err)
{
    raw_value raw[CONFIG_OPTION_MAX];
    memset(cfg, 0, sizeof *cfg);
    collect_defaults(raw);
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        const char *env = getenv(CONFIG_OPTIONS[i].env);
        if (env && env[0] != '\0') {
            raw[i].value = env;
            raw[i].source = CONFIG_OPTIONS[i].env;
        }
    }

    int first = 1;
    bool hash_password = false;
    if (argc > 1 && strcmp(argv[1], "hash-password") == 0) {
        hash_password = true;
        first = 2;
    }
    for (int a = first; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_print_help(out);
            return CONFIG_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            fprintf(out, "mapigw %s\n", MAPIGW_VERSION);
            return CONFIG_EXIT_OK;
        }
        if (hash_password) {
            early_log_options(raw, cfg);
            fprintf(err,
                    "mapigw: hash-password: unexpected argument '%s' (the password is read "
                    "from stdin)\n",
                    arg);
            return CONFIG_EXIT_USAGE;
        }
        size_t name_len = 0;
        int id = find_option(arg, &name_len);
        if (id < 0) {
            early_log_options(raw, cfg);
            fprintf(err, "mapigw: unknown option '%s' (see --help)\n", arg);
            return CONFIG_EXIT_USAGE;
        }
        if (arg[name_len] == '=') {
            raw[id].value = arg + name_len + 1;
        } else if (CONFIG_OPTIONS[id].type == OPTION_BOOL) {
            raw[id].value = "yes";
        } else if (a + 1 < argc) {
            raw[id].value = argv[++a];
        } else {
            early_log_options(raw, cfg);
            fprintf(err, "mapigw: %s: missing value\n", CONFIG_OPTIONS[id].flag);
            return CONFIG_EXIT_USAGE;
        }
        raw[id].source = CONFIG_OPTIONS[id].flag;
    }
    if (hash_password)
        return CONFIG_HASH_PASSWORD;
    early_log_options(raw, cfg);
    if (validate(raw, cfg, err)) {
        resolve_default_profiles(raw, cfg);
        return CONFIG_RUN;
    }
    config_free(cfg);
    return CONFIG_EXIT_USAGE;
}

void config_free(config *cfg)
{
    if (cfg->owned_admin_key) {
        sodium_memzero(cfg->owned_admin_key, strlen(cfg->owned_admin_key));
        free(cfg->owned_admin_key);
    }
    cfg->owned_admin_key = NULL;
    cfg->api.admin_key = NULL;
    if (cfg->owned_store_password) {
        sodium_memzero(cfg->owned_store_password, strlen(cfg->owned_store_password));
        free(cfg->owned_store_password);
    }
    cfg->owned_store_password = NULL;
    cfg->core.store_password = NULL;
    if (cfg->owned_profiles && cfg->profiles == cfg->owned_profiles)
        cfg->profiles = NULL;
    free(cfg->owned_profiles);
    cfg->owned_profiles = NULL;
}
