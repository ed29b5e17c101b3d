/* srv_smtp.c - the aiosmtpd SMTP sink (see srv_smtp.h). */
#include "srv_smtp.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SMTP_START_TIMEOUT_MS 10000

static void spawn(srv_smtp *s)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
    /* -n: never setuid to nobody (the tests may run as root and the Maildir
     * is ours). */
    char *const argv[] = {
        "/usr/bin/python3",          "-m",       "aiosmtpd", "-n", "-l", listen, "-c",
        "aiosmtpd.handlers.Mailbox", s->maildir, NULL};
    srv_spawn(&s->proc, argv);
    cr_assert(srv_wait_port(&s->proc, s->port, SMTP_START_TIMEOUT_MS),
              "aiosmtpd did not listen on port %d; see %s", s->port, s->proc.log);
}

void srv_smtp_start(srv_smtp *s)
{
    memset(s, 0, sizeof *s);
    srv_mkdir(&s->proc, "mgw-smtp");
    snprintf(s->maildir, sizeof s->maildir, "%s/Maildir", s->proc.dir);
    s->port = srv_free_port();
    spawn(s);
}

void srv_smtp_stop(srv_smtp *s) { srv_stop(&s->proc); }

void srv_smtp_restart(srv_smtp *s)
{
    srv_stop(&s->proc);
    /* The old socket may linger briefly; asyncio sets SO_REUSEADDR, and
     * srv_wait_port retries until the new process listens. */
    spawn(s);
}

void srv_smtp_destroy(srv_smtp *s)
{
    if (s->proc.dir[0])
        srv_destroy(&s->proc);
}

const char *srv_smtp_url(const srv_smtp *s, char buf[64])
{
    snprintf(buf, 64, "smtp://127.0.0.1:%d", s->port);
    return buf;
}

/* The regular files of <maildir>/<sub>, appended to names (sorted later). */
static int list_sub(const srv_smtp *s, const char *sub, char names[][300], int max, int n)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", s->maildir, sub);
    DIR *d = opendir(dir);
    if (!d)
        return n;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(names[n++], 300, "%s/%s", sub, e->d_name);
    }
    closedir(d);
    return n;
}

#define MAX_LISTED 64

static int list_all(const srv_smtp *s, char names[][300])
{
    int n = list_sub(s, "new", names, MAX_LISTED, 0);
    n = list_sub(s, "cur", names, MAX_LISTED, n);
    qsort(names, (size_t)n, 300, (int (*)(const void *, const void *))strcmp);
    return n;
}

int srv_smtp_count(const srv_smtp *s)
{
    static char names[MAX_LISTED][300];
    return list_all(s, names);
}

bool srv_smtp_wait_count(const srv_smtp *s, int n, int timeout_ms)
{
    struct timespec step = {0, 20 * 1000 * 1000};
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (srv_smtp_count(s) >= n)
            return true;
        nanosleep(&step, NULL);
    }
    return false;
}

char *srv_smtp_message(const srv_smtp *s, int i)
{
    static char names[MAX_LISTED][300];
    int n = list_all(s, names);
    if (i < 0 || i >= n)
        return NULL;
    char path[700];
    snprintf(path, sizeof path, "%s/%s", s->maildir, names[i]);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}
