/* Black-box: the documentation agrees with the binary. Every option of
 * `mapigw --help` (flag, argument, environment twin, default) appears as
 * such in README.md's configuration table, and every flag and variable in
 * the man page docs/mapigw.1. The project root is found from
 * $MAPIGW_TEST_PROFILES (<root>/tests/profiles).
 *
 * --help shows an option as "  --flag ARG" on a line of its own, then
 * lines indented by six holding its help and "[default: D] [env: VAR]". */
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

/* Copies the text of "[key: text]" in line into out, if line has it. */
static void item(const char *line, const char *key, char *out, size_t size)
{
    char open[32];
    snprintf(open, sizeof open, "[%s: ", key);
    const char *p = strstr(line, open);
    if (!p)
        return;
    p += strlen(open);
    size_t n = strcspn(p, "]");
    snprintf(out, size, "%.*s", (int)n, p);
}

typedef struct {
    char flag[64]; /* "--flag ARG" */
    char env[64];
    char def[64];
} help_row;

/* Checks one option of --help against the README and the man page. */
static void check_row(const help_row *h, const char *readme, const char *man, size_t *rows)
{
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(h->flag, " ,"), h->flag);
    char roff[160];
    roff_dashes(name, roff, sizeof roff);
    cr_expect(strstr(man, roff) != NULL, "%s is not in docs/mapigw.1", name);
    if (!h->env[0])
        return; /* --help, --version */
    (*rows)++;
    cr_expect(h->def[0] != '\0', "--help shows no default for %s", name);
    /* README: | `--flag ARG` | ENV | default | ... ('|' escaped). */
    char arg_md[64];
    size_t o = 0;
    for (const char *c = h->flag; *c && o + 2 < sizeof arg_md; c++) {
        if (*c == '|')
            arg_md[o++] = '\\';
        arg_md[o++] = *c;
    }
    arg_md[o] = '\0';
    char row[256];
    snprintf(row, sizeof row, "| `%s` | %s | %s |", arg_md, h->env, h->def);
    cr_expect(strstr(readme, row) != NULL, "README.md has no row starting %s", row);
    cr_expect(strstr(man, h->env) != NULL, "%s is not in docs/mapigw.1", h->env);
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
    help_row h;
    bool in_option = false;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "  --", 4) == 0) {
            if (in_option)
                check_row(&h, readme, man, &rows);
            memset(&h, 0, sizeof h);
            snprintf(h.flag, sizeof h.flag, "%.63s", line + 2);
            in_option = true;
        } else if (in_option && strncmp(line, "      ", 6) == 0) {
            item(line, "default", h.def, sizeof h.def);
            item(line, "env", h.env, sizeof h.env);
        } else if (in_option) {
            check_row(&h, readme, man, &rows);
            in_option = false;
        }
    }
    if (in_option)
        check_row(&h, readme, man, &rows);
    cr_expect_eq(pclose(p), 0);
    cr_expect_gt(rows, 20, "only %zu flags parsed from --help", rows);
    cr_expect(strstr(man, "hash\\-password") != NULL, "no hash-password in docs/mapigw.1");
    free(readme);
    free(man);
}

/* GET /docs works from every build: the page, its start-up script and
 * Redoc's bundle are compiled into the binary (scripts/build-docs.sh fetches
 * the pinned bundle once; the build fails without it), and the page loads
 * nothing from another host. */
Test(docs, api_reference_is_served_by_the_binary)
{
    gw *g = gw_start("main.json", NULL);
    gw_resp r;
    cr_assert_eq(gw_get(g, "/docs", NULL, &r), 200, "/docs: %s", r.body);
    cr_expect(strstr(gw_header(&r, "Content-Type"), "text/html") != NULL);
    cr_expect(strstr(r.body, "<script src=\"/docs/redoc.standalone.js\"></script>") != NULL);
    cr_expect(strstr(r.body, "<script src=\"/docs/init.js\"></script>") != NULL);
    cr_expect_null(strstr(r.body, "http://"), "the page names another host");
    cr_expect_null(strstr(r.body, "https://"), "the page names another host");
    gw_resp_free(&r);
    cr_assert_eq(gw_get(g, "/docs/init.js", NULL, &r), 200);
    cr_expect(strstr(r.body, "Redoc.init('/openapi.yaml'") != NULL, "%s", r.body);
    gw_resp_free(&r);
    cr_assert_eq(gw_get(g, "/docs/redoc.standalone.js", NULL, &r), 200);
    cr_expect_gt(r.body_len, 500000, "Redoc's bundle is %zu bytes", r.body_len);
    cr_expect_null(strstr(r.body, "cdn.redoc.ly/redoc/logo"), "the bundle still loads its logo");
    gw_resp_free(&r);
    gw_finish(g);
}
