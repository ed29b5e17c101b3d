/* Unit suite "config": the options table (server/config_table.c) and what it
 * drives: parsing of flags and MAPIGW_* variables, validation and its
 * messages, the sub-configs handed to the core, the api and the daemon, and
 * --help. The black-box suite "config" runs the binary itself. */
#include "../../server/config_table.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EACH_OPTION(o)                                                                             \
    for (const config_option *o = CONFIG_OPTIONS; o < CONFIG_OPTIONS + CONFIG_OPTION_COUNT; o++)

static bool has_field(const config_option *o) { return o->to[0].kind != FIELD_NONE; }

Test(config, every_option_has_help_and_somewhere_to_go)
{
    cr_assert_gt(CONFIG_OPTION_COUNT, 30);
    cr_assert_leq(CONFIG_OPTION_COUNT, CONFIG_OPTION_MAX);
    EACH_OPTION(o)
    {
        cr_expect(strncmp(o->flag, "--", 2) == 0 && o->flag[2], "flag %s", o->flag);
        cr_expect(o->help && o->help[0], "%s has no help", o->flag);
        cr_expect(o->check || has_field(o), "%s fills nothing and checks nothing", o->flag);
        bool named = o->type == OPTION_UINT || o->type == OPTION_STRING;
        cr_expect(named ? o->metavar && o->metavar[0] : o->metavar == NULL,
                  "%s: a number or text needs a metavar, a yes/no or a choice has none", o->flag);
        if (o->type == OPTION_CHOICE)
            cr_expect(o->choices && o->choices[0].name && o->choices[1].name, "%s: choices",
                      o->flag);
        if (o->type == OPTION_UINT)
            cr_expect_leq(o->min, o->max, "%s", o->flag);
        /* Both slots of a row hold the same type of value. */
        if (o->to[1].kind != FIELD_NONE)
            cr_expect(o->to[0].kind != FIELD_NONE &&
                          (o->to[1].kind == FIELD_STRING) == (o->to[0].kind == FIELD_STRING),
                      "%s", o->flag);
    }
}

Test(config, flags_and_variables_are_unique)
{
    EACH_OPTION(a)
    {
        cr_expect(strcmp(a->flag, "--help") != 0 && strcmp(a->flag, "--version") != 0);
        /* '=' separates a flag from its value ("--flag=value"). */
        cr_expect(strchr(a->flag, '=') == NULL, "%s", a->flag);
        for (const config_option *b = CONFIG_OPTIONS; b < a; b++) {
            cr_expect_str_neq(a->flag, b->flag);
            cr_expect_str_neq(a->env, b->env);
        }
    }
}

Test(config, every_variable_is_mapigw_and_its_flag_in_upper_case)
{
    EACH_OPTION(o)
    {
        char want[96] = "MAPIGW_";
        size_t n = strlen(want);
        for (const char *c = o->flag + 2; *c && n + 1 < sizeof want; c++)
            want[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        want[n] = '\0';
        cr_expect_str_eq(o->env, want, "%s", o->flag);
    }
}

static bool is_yes_no(const char *v) { return strcmp(v, "yes") == 0 || strcmp(v, "no") == 0; }

/* Checked here by the table's own rules, independently of the parser. */
Test(config, every_default_is_within_its_range)
{
    EACH_OPTION(o)
    {
        if (!o->def) {
            cr_expect_neq(o->type, OPTION_BOOL, "%s: a yes/no needs a default", o->flag);
            cr_expect_neq(o->type, OPTION_CHOICE, "%s: a choice needs a default", o->flag);
            continue;
        }
        switch (o->type) {
        case OPTION_UINT: {
            char *end = NULL;
            unsigned long long v = strtoull(o->def, &end, 10);
            cr_expect(isdigit((unsigned char)o->def[0]) && *end == '\0', "%s: '%s'", o->flag,
                      o->def);
            cr_expect(v >= o->min && v <= o->max, "%s: %llu outside %llu..%llu", o->flag, v, o->min,
                      o->max);
            break;
        }
        case OPTION_BOOL:
            cr_expect(is_yes_no(o->def), "%s: '%s'", o->flag, o->def);
            break;
        case OPTION_CHOICE: {
            bool found = false;
            for (const option_choice *c = o->choices; c->name; c++)
                found |= strcmp(c->name, o->def) == 0;
            cr_expect(found, "%s: '%s' is not a choice", o->flag, o->def);
            break;
        }
        case OPTION_STRING:
            cr_expect(o->def[0] != '\0', "%s", o->flag);
            break;
        }
    }
    config cfg;
    cr_assert(config_defaults(&cfg), "the table's defaults do not parse");
    config_free(&cfg);
}

/* The number or text a field holds, through the row's own description. */
static unsigned long long field_number(const config *cfg, const option_field *f)
{
    const char *at = (const char *)cfg + f->offset;
    switch (f->kind) {
    case FIELD_U16:
        return *(const uint16_t *)(const void *)at;
    case FIELD_UNSIGNED:
        return *(const unsigned *)(const void *)at;
    case FIELD_LONG:
        return (unsigned long long)*(const long *)(const void *)at;
    case FIELD_SIZE:
        return *(const size_t *)(const void *)at;
    case FIELD_BOOL:
        return *(const bool *)(const void *)at;
    case FIELD_NONE:
    case FIELD_STRING:
        break;
    }
    return ~0ull;
}

static const char *field_string(const config *cfg, const option_field *f)
{
    return *(const char *const *)(const void *)((const char *)cfg + f->offset);
}

/* Each default lands in every field its row names: the sub-configs for the
 * core, the api and the daemon are filled from the table alone. */
Test(config, defaults_fill_the_sub_configs)
{
    config cfg;
    cr_assert(config_defaults(&cfg));
    EACH_OPTION(o)
    {
        for (size_t t = 0; t < 2 && o->to[t].kind != FIELD_NONE; t++) {
            const option_field *f = &o->to[t];
            if (f->kind == FIELD_STRING) {
                const char *s = field_string(&cfg, f);
                if (o->def)
                    cr_expect(s && strcmp(s, o->def) == 0, "%s: %s", o->flag, s ? s : "NULL");
                else
                    cr_expect_null(s, "%s", o->flag);
                continue;
            }
            unsigned long long want = 0;
            if (o->type == OPTION_UINT && o->def)
                want = strtoull(o->def, NULL, 10);
            else if (o->type == OPTION_BOOL)
                want = strcmp(o->def, "yes") == 0;
            else if (o->type == OPTION_CHOICE)
                for (const option_choice *c = o->choices; c->name; c++)
                    if (strcmp(c->name, o->def) == 0)
                        want = c->value;
            cr_expect_eq(field_number(&cfg, f), want, "%s (slot %zu)", o->flag, t);
        }
    }
    /* What the floors used to default to on their own, now from the table. */
    cr_expect_eq(cfg.core.idle_timeout_s, 1800);
    cr_expect_eq(cfg.core.logon_timeout_short_ms, 3000);
    cr_expect_eq(cfg.api.limits.max_json_depth, 16);
    cr_expect_eq(cfg.api.limits.max_header_bytes, cfg.httpd.max_header_bytes);
    cr_expect_eq(cfg.api.max_body_bytes, cfg.httpd.max_body_bytes);
    cr_expect_eq(cfg.httpd.request_timeout_s, 30);
    cr_expect_eq(cfg.httpd.events_keepalive_s, 15);
    cr_expect_str_eq(cfg.httpd.listen, "127.0.0.1");
    cr_expect(!cfg.httpd.listen_is_ipv6);
    config_free(&cfg);
}

/* ---- parsing -------------------------------------------------------------- */

typedef struct {
    config cfg;
    config_action action;
    char *out, *err;
} parsed;

static parsed parse(const char *const *args)
{
    char *argv[16] = {"mapigw"};
    int argc = 1;
    while (args && args[argc - 1] && argc < 15) {
        argv[argc] = (char *)args[argc - 1];
        argc++;
    }
    parsed p;
    size_t ol = 0, el = 0;
    FILE *out = open_memstream(&p.out, &ol), *err = open_memstream(&p.err, &el);
    cr_assert(out && err);
    p.action = config_parse(argc, argv, &p.cfg, out, err);
    fclose(out);
    fclose(err);
    return p;
}

static void parsed_free(parsed *p)
{
    if (p->action == CONFIG_RUN)
        config_free(&p->cfg);
    free(p->out);
    free(p->err);
}

Test(config, a_flag_wins_over_its_variable_and_an_empty_variable_is_unset)
{
    setenv("MAPIGW_IDLE_TIMEOUT", "77", 1);
    setenv("MAPIGW_LIFETIME", "", 1);
    setenv("MAPIGW_LISTEN", "::1", 1);
    parsed p = parse(NULL);
    cr_assert_eq(p.action, CONFIG_RUN, "%s", p.err);
    cr_expect_eq(p.cfg.core.idle_timeout_s, 77);
    cr_expect_eq(p.cfg.core.lifetime_s, 86400);
    cr_expect_str_eq(p.cfg.httpd.listen, "::1");
    cr_expect(p.cfg.httpd.listen_is_ipv6);
    parsed_free(&p);

    const char *const args[] = {"--idle-timeout", "99", "--listen=127.0.0.2", NULL};
    p = parse(args);
    cr_assert_eq(p.action, CONFIG_RUN, "%s", p.err);
    cr_expect_eq(p.cfg.core.idle_timeout_s, 99);
    cr_expect_str_eq(p.cfg.httpd.listen, "127.0.0.2");
    cr_expect(!p.cfg.httpd.listen_is_ipv6);
    parsed_free(&p);

    /* a bad variable that a flag overrides is no error */
    setenv("MAPIGW_PORT", "bad", 1);
    const char *const port[] = {"--port", "5", NULL};
    p = parse(port);
    cr_assert_eq(p.action, CONFIG_RUN, "%s", p.err);
    cr_expect_eq(p.cfg.httpd.port, 5);
    parsed_free(&p);
    unsetenv("MAPIGW_PORT");
    unsetenv("MAPIGW_IDLE_TIMEOUT");
    unsetenv("MAPIGW_LIFETIME");
    unsetenv("MAPIGW_LISTEN");
}

Test(config, values_reach_every_floor)
{
    const char *const args[] = {"--max-header-bytes=2048",
                                "--max-body-bytes",
                                "1000",
                                "--log-output",
                                "stdout",
                                "--allow-insecure-profiles",
                                "--max-json-string",
                                "100",
                                NULL};
    parsed p = parse(args);
    cr_assert_eq(p.action, CONFIG_RUN, "%s", p.err);
    cr_expect_eq(p.cfg.httpd.max_header_bytes, 2048);
    cr_expect_eq(p.cfg.api.limits.max_header_bytes, 2048);
    cr_expect_eq(p.cfg.httpd.max_body_bytes, 1000);
    cr_expect_eq(p.cfg.api.max_body_bytes, 1000);
    cr_expect_eq(p.cfg.api.limits.max_json_string, 100);
    cr_expect_eq(p.cfg.log_out, LOG_OUTPUT_STDOUT);
    cr_expect(p.cfg.allow_insecure_profiles);
    parsed_free(&p);
}

/* One line per kind of mistake, naming where the value came from; the
 * wording is part of the contract (scripts and people read it). */
Test(config, each_kind_of_mistake_has_its_message)
{
    static const struct {
        const char *args[4];
        const char *env_name, *env_value;
        const char *message;
    } cases[] = {
        {{"--port", "65536"}, NULL, NULL, "mapigw: --port: expected 0..65535, got '65536'\n"},
        {{"--port", " 1"}, NULL, NULL, "mapigw: --port: expected 0..65535, got ' 1'\n"},
        {{NULL},
         "MAPIGW_LIFETIME",
         "-1",
         "mapigw: MAPIGW_LIFETIME: expected 1..31536000, got '-1'\n"},
        {{"--profiles="}, NULL, NULL, "mapigw: --profiles: expected a value, got ''\n"},
        {{"--allow-insecure-profiles=perhaps"},
         NULL,
         NULL,
         "mapigw: --allow-insecure-profiles: expected 'yes' or 'no', got 'perhaps'\n"},
        {{NULL},
         "MAPIGW_LOG_OUTPUT",
         "file",
         "mapigw: MAPIGW_LOG_OUTPUT: expected 'stderr' or 'stdout', got 'file'\n"},
        {{"--listen", "1.2.3"},
         NULL,
         NULL,
         "mapigw: --listen: expected an IPv4 or IPv6 literal, got '1.2.3'\n"},
        {{"--admin-key", "mgw_0123456789abcdef0123456789abcdef"},
         NULL,
         NULL,
         "mapigw: --admin-key: must not start with \"mgw_\" (reserved for session tokens)\n"},
        {{"--admin-key", "0123456789abcdef0123456789abcdef", "--admin-key-file", "/k"},
         NULL,
         NULL,
         "mapigw: --admin-key and --admin-key-file: give the admin key once\n"},
        {{NULL},
         "MAPIGW_ADMIN_KEY_FILE",
         "/nonexistent/k",
         "mapigw: MAPIGW_ADMIN_KEY_FILE: cannot read '/nonexistent/k': No such file or "
         "directory\n"},
        {{"--threads"}, NULL, NULL, "mapigw: --threads: missing value\n"},
        {{"--thread=2"}, NULL, NULL, "mapigw: unknown option '--thread=2' (see --help)\n"},
        {{"hash-password", "x"},
         NULL,
         NULL,
         "mapigw: hash-password: unexpected argument 'x' (the password is read from stdin)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].env_name)
            setenv(cases[i].env_name, cases[i].env_value, 1);
        parsed p = parse(cases[i].args);
        if (cases[i].env_name)
            unsetenv(cases[i].env_name);
        cr_expect_eq(p.action, CONFIG_EXIT_USAGE, "case %zu", i);
        cr_expect_str_eq(p.err, cases[i].message, "case %zu", i);
        cr_expect_str_eq(p.out, "", "case %zu", i);
        parsed_free(&p);
    }
}

Test(config, the_admin_key_flag_beats_the_files_variable)
{
    setenv("MAPIGW_ADMIN_KEY_FILE", "/nonexistent/k", 1);
    const char *const args[] = {"--admin-key", "0123456789abcdef0123456789abcdef", NULL};
    parsed p = parse(args);
    unsetenv("MAPIGW_ADMIN_KEY_FILE");
    cr_assert_eq(p.action, CONFIG_RUN, "%s", p.err);
    cr_expect_str_eq(p.cfg.api.admin_key, "0123456789abcdef0123456789abcdef");
    parsed_free(&p);
}

/* ---- --help --------------------------------------------------------------- */

Test(config, help_shows_every_option_within_80_columns)
{
    const char *const args[] = {"--port", "1", "-h", NULL};
    parsed p = parse(args);
    cr_assert_eq(p.action, CONFIG_EXIT_OK);
    cr_expect_str_eq(p.err, "");
    EACH_OPTION(o)
    {
        char buf[64], line[128], items[160];
        const char *arg = config_option_metavar(o, buf, sizeof buf);
        snprintf(line, sizeof line, "\n  %s%s%s\n      ", o->flag, arg[0] ? " " : "", arg);
        cr_expect(strstr(p.out, line) != NULL, "no line '%s' followed by its help", line + 1);
        snprintf(items, sizeof items, "[default: %s] [env: %s]\n", o->def ? o->def : "none",
                 o->env);
        cr_expect(strstr(p.out, items) != NULL, "no '%s'", items);
    }
    size_t n = 0;
    for (const char *l = p.out; *l; n++) {
        size_t len = strcspn(l, "\n");
        cr_expect_leq(len, CONFIG_HELP_WIDTH, "line %zu: %.*s", n + 1, (int)len, l);
        l += len + (l[len] == '\n');
    }
    cr_expect_gt(n, CONFIG_OPTION_COUNT * 3);
    parsed_free(&p);
}
