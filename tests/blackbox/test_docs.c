/* Black-box: the documentation agrees with the binary. Every row of
 * `mapigw --help` (flag, argument, environment twin, default) appears as
 * such in README.md's configuration table, and every flag and variable in
 * the man page docs/mapigw.1. The project root is found from
 * $MAPIGW_TEST_PROFILES (<root>/tests/profiles). */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static void root_path(char *out, size_t size, const char *rel)
{
    const char *profiles = getenv("MAPIGW_TEST_PROFILES");
    cr_assert_not_null(profiles, "MAPIGW_TEST_PROFILES is not set");
    snprintf(out, size, "%s/../../%s", profiles, rel);
}

/* Copies the column [from, from + width) of line, trimmed, into out. */
static void column(const char *line, size_t from, size_t width, char *out, size_t size)
{
    size_t len = strlen(line);
    out[0] = '\0';
    if (from >= len)
        return;
    size_t n = len - from < width ? len - from : width;
    while (n && line[from + n - 1] == ' ')
        n--;
    snprintf(out, size, "%.*s", (int)n, line + from);
}

/* s with every '-' as roff's "\-" and '|' as "\(or"-free plain text. */
static void roff_dashes(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; *s && o + 3 < size; s++) {
        if (*s == '-')
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
}

Test(docs, help_matches_readme_and_man_page, .timeout = 30)
{
    const char *bin = getenv("MAPIGW_BIN");
    cr_assert_not_null(bin, "MAPIGW_BIN is not set");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --help", bin);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char path[4096];
    root_path(path, sizeof path, "README.md");
    char *readme = read_all(path);
    root_path(path, sizeof path, "docs/mapigw.1");
    char *man = read_all(path);

    char line[1024];
    size_t rows = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "--", 2) != 0)
            continue;
        char flag[64], env[64], def[64];
        column(line, 0, 40, flag, sizeof flag);
        column(line, 41, 34, env, sizeof env);
        column(line, 76, 30, def, sizeof def);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(flag, " "), flag);
        char roff[160];
        roff_dashes(name, roff, sizeof roff);
        cr_expect(strstr(man, roff) != NULL, "%s is not in docs/mapigw.1", name);
        if (!env[0])
            continue; /* --help, --version */
        rows++;
        /* README: | `--flag ARG` | ENV | default | ... ('|' escaped). */
        char arg_md[64];
        size_t o = 0;
        for (const char *c = flag; *c && o + 2 < sizeof arg_md; c++) {
            if (*c == '|')
                arg_md[o++] = '\\';
            arg_md[o++] = *c;
        }
        arg_md[o] = '\0';
        char row[256];
        snprintf(row, sizeof row, "| `%s` | %s | %s |", arg_md, env, def);
        cr_expect(strstr(readme, row) != NULL, "README.md has no row starting %s", row);
        cr_expect(strstr(man, env) != NULL, "%s is not in docs/mapigw.1", env);
    }
    cr_expect_eq(pclose(p), 0);
    cr_expect_gt(rows, 20, "only %zu flags parsed from --help", rows);
    cr_expect(strstr(man, "hash\\-password") != NULL, "no hash-password in docs/mapigw.1");
    free(readme);
    free(man);
}
