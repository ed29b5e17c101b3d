/* Black-box: the command line and its MAPIGW_* twins (docs/contract/http.md
 * section 12, DECISIONS.md "Command line"): a variable is read, a flag wins
 * over it, a bad value stops the gateway with exit 2 and one line naming
 * the flag or the variable, and --help fits an 80-column terminal. The
 * options table itself (every row's default within its range, unique names,
 * twins named after their flags) is checked by the unit suite "config". */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(config, .fini = fini_gw, .timeout = 90);

/* Under JSON logs (the harness's) a configuration error is one JSON line
 * ("msg":"invalid configuration") whose detail is the text line ("mapigw:
 * <what>\n") without its prefix and newline. */
static bool is_error_line(const char *errs, const char *message)
{
    json_error_t e;
    json_t *j = json_loads(errs, JSON_DISABLE_EOF_CHECK, &e);
    if (!j)
        return false;
    const char *msg = json_string_value(json_object_get(j, "msg"));
    const char *level = json_string_value(json_object_get(j, "level"));
    const char *detail = json_string_value(json_object_get(j, "detail"));
    size_t skip = strncmp(message, "mapigw: ", 8) == 0 ? 8 : 0;
    size_t n = strlen(message + skip);
    if (n && message[skip + n - 1] == '\n')
        n--;
    bool ok = msg && level && detail && strcmp(msg, "invalid configuration") == 0 &&
              strcmp(level, "error") == 0 && strlen(detail) == n &&
              strncmp(detail, message + skip, n) == 0 &&
              strchr(errs, '\n') == errs + strlen(errs) - 1;
    json_decref(j);
    return ok;
}

/* Runs the gateway with args (after the harness's own flags) and, when
 * env_name is set, that variable; expects exit status want and returns
 * stdout and stderr (free both). */
static void run_exit(const char *const *args, const char *env_name, const char *env_value, int want,
                     char **out, char **errs)
{
    if (env_name)
        setenv(env_name, env_value, 1);
    gw *g = gw_spawn_split("main.json", args);
    int st = gw_wait_exit(g, 10000);
    if (env_name)
        unsetenv(env_name);
    *out = gw_read_stdout(g);
    *errs = gw_read_log(g);
    gw_free(g);
    cr_assert_eq(st, want, "exit status %d (expected %d) for %s%s%s:\n%s%s", st, want,
                 args && args[0] ? args[0] : "", env_name ? " with " : "", env_name ? env_name : "",
                 *errs, *out);
}

Test(config, env_twins_and_flag_precedence)
{
    setenv("MAPIGW_IDLE_TIMEOUT", "77", 1);
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    json_t *idle = json_object_get(s.resp.json, "idle_timeout_s");
    cr_expect(json_is_integer(idle) && json_integer_value(idle) == 77, "env twin ignored: %s",
              s.resp.body);
    gw_session_free(&s);
    gw_finish(G);
    const char *args[] = {"--idle-timeout", "99", NULL};
    G = gw_start("main.json", args);
    gw_logon_ok(G, "alice", "alice-pw", "[\"MAPI_NEW_SESSION\"]", &s);
    idle = json_object_get(s.resp.json, "idle_timeout_s");
    cr_expect(json_is_integer(idle) && json_integer_value(idle) == 99,
              "the flag does not win over the variable: %s", s.resp.body);
    gw_session_free(&s);
    unsetenv("MAPIGW_IDLE_TIMEOUT");
}

Test(config, log_output_env_twin_and_flag_precedence)
{
    setenv("MAPIGW_LOG_OUTPUT", "stdout", 1);
    G = gw_start_split("main.json", NULL);
    cr_assert_eq(gw_stop(G), 0);
    char *out = gw_read_stdout(G), *errs = gw_read_log(G);
    cr_expect(strstr(out, "\"msg\":\"listening\"") != NULL, "MAPIGW_LOG_OUTPUT=stdout ignored");
    cr_expect_str_eq(errs, "");
    free(out);
    free(errs);
    gw_finish(G);
    const char *args[] = {"--log-output", "stderr", NULL};
    G = gw_start_split("main.json", args);
    cr_assert_eq(gw_stop(G), 0);
    out = gw_read_stdout(G);
    errs = gw_read_log(G);
    cr_expect_str_eq(out, "", "the flag does not win over MAPIGW_LOG_OUTPUT");
    cr_expect(strstr(errs, "\"msg\":\"listening\"") != NULL, "no log on stderr");
    free(out);
    free(errs);
    unsetenv("MAPIGW_LOG_OUTPUT");
}

Test(config, log_output_bogus_refused)
{
    const char *args[] = {"--log-output", "bogus", NULL};
    G = gw_spawn_split("main.json", args);
    int st = gw_wait_exit(G, 10000);
    cr_expect_eq(st, 2, "exit status %d for --log-output bogus, expected 2", st);
    char *errs = gw_read_log(G), *out = gw_read_stdout(G);
    cr_expect(
        is_error_line(errs, "mapigw: --log-output: expected 'stderr' or 'stdout', got 'bogus'"),
        "no clear message on stderr: %s", errs);
    cr_expect_str_eq(out, "");
    free(errs);
    free(out);
    gw_free(G);
    /* the variable is named when it holds the bad value */
    setenv("MAPIGW_LOG_OUTPUT", "file", 1);
    G = gw_spawn_split("main.json", NULL);
    st = gw_wait_exit(G, 10000);
    cr_expect_eq(st, 2, "exit status %d for MAPIGW_LOG_OUTPUT=file, expected 2", st);
    errs = gw_read_log(G);
    cr_expect(
        is_error_line(errs, "mapigw: MAPIGW_LOG_OUTPUT: expected 'stderr' or 'stdout', got 'file'"),
        "no message naming the variable: %s", errs);
    free(errs);
    gw_free(G);
    G = NULL;
    unsetenv("MAPIGW_LOG_OUTPUT");
}

/* Every kind of bad value is refused before anything starts: exit 2, one
 * line on stderr naming the flag or variable (never echoing a key), nothing
 * on stdout. */
Test(config, bad_values_exit_2_naming_the_source)
{
    static const struct {
        const char *args[4];
        const char *env_name, *env_value;
        const char *message;
    } cases[] = {
        {{"--port", "70000"}, NULL, NULL, "mapigw: --port: expected 0..65535, got '70000'\n"},
        {{NULL}, "MAPIGW_THREADS", "0", "mapigw: MAPIGW_THREADS: expected 1..1024, got '0'\n"},
        {{"--max-json-depth=1x"},
         NULL,
         NULL,
         "mapigw: --max-json-depth: expected 2..1000, got '1x'\n"},
        {{"--data-dir="}, NULL, NULL, "mapigw: --data-dir: expected a value, got ''\n"},
        {{"--listen", "localhost"},
         NULL,
         NULL,
         "mapigw: --listen: expected an IPv4 or IPv6 literal, got 'localhost'\n"},
        {{NULL},
         "MAPIGW_ALLOW_INSECURE_PROFILES",
         "maybe",
         "mapigw: MAPIGW_ALLOW_INSECURE_PROFILES: expected 'yes' or 'no', got 'maybe'\n"},
        {{"--log-format", "xml"},
         NULL,
         NULL,
         "mapigw: --log-format: expected 'json' or 'text', got 'xml'\n"},
        {{"--admin-key", "short-secret-key"},
         NULL,
         NULL,
         "mapigw: --admin-key: expected at least 32 characters\n"},
        {{"--admin-key", "0123456789abcdef0123456789abcdef"},
         "MAPIGW_ADMIN_KEY_FILE",
         "/nonexistent/key",
         NULL}, /* the flag wins over the other's variable: starts */
        {{"--cors-origins", "http://a:1,*"},
         NULL,
         NULL,
         "mapigw: --cors-origins: expected origins like http://host:port separated by commas, "
         "got '*'\n"},
        {{"--idle-timeout"}, NULL, NULL, "mapigw: --idle-timeout: missing value\n"},
        {{"--idle"}, NULL, NULL, "mapigw: unknown option '--idle' (see --help)\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!cases[i].message) {
            G = gw_start("main.json", cases[i].args);
            gw_finish(G);
            G = NULL;
            continue;
        }
        char *out, *errs;
        run_exit(cases[i].args, cases[i].env_name, cases[i].env_value, 2, &out, &errs);
        cr_expect(is_error_line(errs, cases[i].message), "case %zu: %s", i, errs);
        cr_expect_str_eq(out, "", "case %zu", i);
        cr_expect(strstr(errs, "short-secret-key") == NULL, "a key was echoed");
        free(out);
        free(errs);
    }
}

/* With text logs a configuration error is the plain "mapigw: ..." line. */
Test(config, text_logs_get_plain_error_lines)
{
    const char *args[] = {"--log-format", "text", "--port", "70000", NULL};
    char *out, *errs;
    run_exit(args, NULL, NULL, 2, &out, &errs);
    cr_expect_str_eq(errs, "mapigw: --port: expected 0..65535, got '70000'\n");
    cr_expect_str_eq(out, "");
    free(out);
    free(errs);
}

/* --help is written for an 80-column terminal: no line reaches the last
 * column (where terminals wrap), each option has its flag and argument on a
 * line of its own, its help indented below, then its default and variable. */
Test(config, help_fits_an_80_column_terminal)
{
    const char *const args[] = {"--help", NULL};
    char *out, *errs;
    run_exit(args, NULL, NULL, 0, &out, &errs);
    cr_expect_str_eq(errs, "");
    cr_expect(strstr(out, "  --idle-timeout S\n") != NULL);
    cr_expect(strstr(out, "[default: 1800] [env: MAPIGW_IDLE_TIMEOUT]\n") != NULL);
    cr_expect(strstr(out, "  --log-format json|text\n") != NULL);
    size_t options = 0, lineno = 0;
    bool in_option = false, saw_help = false, saw_items = false;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        cr_expect_lt(strlen(line), 80, "line %zu is %zu columns: %s", lineno, strlen(line), line);
        if (strncmp(line, "  --", 4) == 0) {
            if (in_option)
                cr_expect(saw_help, "an option before line %zu has no help", lineno);
            in_option = true;
            saw_help = saw_items = false;
            options++;
        } else if (in_option && strncmp(line, "      ", 6) == 0 && line[6] != ' ') {
            if (strncmp(line + 6, "[default: ", 10) == 0) {
                cr_expect(strstr(line, "[env: MAPIGW_") != NULL, "line %zu: %s", lineno, line);
                saw_items = true;
            } else {
                cr_expect(!saw_items, "help after the default at line %zu", lineno);
                saw_help = true;
            }
        } else {
            cr_expect(!in_option, "line %zu is not part of an option: %s", lineno, line);
        }
    }
    cr_expect_gt(options, 30, "only %zu options in --help", options);
    free(out);
    free(errs);
}

Test(config, version_prints_one_line)
{
    const char *const args[] = {"--version", NULL};
    char *out, *errs;
    run_exit(args, NULL, NULL, 0, &out, &errs);
    cr_expect(strncmp(out, "mapigw ", 7) == 0 && strchr(out, '\n') == out + strlen(out) - 1,
              "--version printed: %s", out);
    cr_expect_str_eq(errs, "");
    free(out);
    free(errs);
}
