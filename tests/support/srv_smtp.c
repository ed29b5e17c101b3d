/* srv_smtp.c - the aiosmtpd SMTP sink (see srv_smtp.h). */
#include "srv_smtp.h"

#include "gw.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SMTP_START_TIMEOUT_MS 10000

/* aiosmtpd's command line has no AUTH options: this script runs the same
 * Mailbox sink with an authenticator that accepts one login. */
static const char AUTH_SINK[] =
    "import asyncio, sys\n"
    "from aiosmtpd.handlers import Mailbox\n"
    "from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword\n"
    "port, maildir, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode(), "
    "sys.argv[4].encode()\n"
    "def check(server, session, envelope, mechanism, data):\n"
    "    ok = isinstance(data, LoginPassword) and data.login == user and data.password == pw\n"
    "    return AuthResult(success=ok, handled=False)\n"
    "handler = Mailbox(maildir)\n"
    "loop = asyncio.new_event_loop()\n"
    "asyncio.set_event_loop(loop)\n"
    "loop.run_until_complete(loop.create_server(lambda: SMTP(handler, authenticator=check, "
    "auth_required=True, auth_require_tls=False), '127.0.0.1', port))\n"
    "loop.run_forever()\n";

/* The Mailbox sink, refusing for good (550) every recipient whose address
 * starts with "refused" (the suites' non-delivery cases). */
static const char REFUSING_SINK[] =
    "import asyncio, sys\n"
    "from aiosmtpd.handlers import Mailbox\n"
    "from aiosmtpd.smtp import SMTP\n"
    "port, maildir = int(sys.argv[1]), sys.argv[2]\n"
    "class Refusing(Mailbox):\n"
    "    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):\n"
    "        if address.startswith('refused'):\n"
    "            return '550 5.1.1 no such user here'\n"
    "        envelope.rcpt_tos.append(address)\n"
    "        return '250 OK'\n"
    "handler = Refusing(maildir)\n"
    "loop = asyncio.new_event_loop()\n"
    "asyncio.set_event_loop(loop)\n"
    "loop.run_until_complete(loop.create_server(lambda: SMTP(handler), '127.0.0.1', port))\n"
    "loop.run_forever()\n";

/* The Mailbox sink, slow: on DATA it creates <dir>/in-data, then waits
 * argv[3] seconds before it stores the message (a gateway can be killed
 * while it is sending). */
static const char SLOW_SINK[] =
    "import asyncio, os, sys\n"
    "from aiosmtpd.handlers import Mailbox\n"
    "from aiosmtpd.smtp import SMTP\n"
    "port, maildir, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])\n"
    "marker = os.path.join(os.path.dirname(maildir), 'in-data')\n"
    "class Slow(Mailbox):\n"
    "    async def handle_DATA(self, server, session, envelope):\n"
    "        open(marker, 'w').close()\n"
    "        await asyncio.sleep(delay)\n"
    "        return await super().handle_DATA(server, session, envelope)\n"
    "handler = Slow(maildir)\n"
    "loop = asyncio.new_event_loop()\n"
    "asyncio.set_event_loop(loop)\n"
    "loop.run_until_complete(loop.create_server(lambda: SMTP(handler), '127.0.0.1', port))\n"
    "loop.run_forever()\n";

static void spawn(srv_smtp *s)
{
    char listen[64], port[16];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
    snprintf(port, sizeof port, "%d", s->port);
    if (s->script[0]) {
        char *const argv[] = {"/usr/bin/python3", s->script, port, s->maildir, s->user,
                              s->password,        NULL};
        srv_spawn(&s->proc, argv);
    } else {
        /* -n: never setuid to nobody (the tests may run as root and the
         * Maildir is ours). */
        char *const argv[] = {
            "/usr/bin/python3",          "-m",       "aiosmtpd", "-n", "-l", listen, "-c",
            "aiosmtpd.handlers.Mailbox", s->maildir, NULL};
        srv_spawn(&s->proc, argv);
    }
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

void srv_smtp_start_auth(srv_smtp *s, const char *user, const char *password)
{
    memset(s, 0, sizeof *s);
    srv_mkdir(&s->proc, "mgw-smtp");
    snprintf(s->maildir, sizeof s->maildir, "%s/Maildir", s->proc.dir);
    snprintf(s->user, sizeof s->user, "%s", user);
    snprintf(s->password, sizeof s->password, "%s", password);
    char out[512];
    snprintf(s->script, sizeof s->script, "%s",
             srv_write_file(&s->proc, "auth_sink.py", AUTH_SINK, out));
    s->port = srv_free_port();
    spawn(s);
}

void srv_smtp_start_refusing(srv_smtp *s)
{
    memset(s, 0, sizeof *s);
    srv_mkdir(&s->proc, "mgw-smtp");
    snprintf(s->maildir, sizeof s->maildir, "%s/Maildir", s->proc.dir);
    char out[512];
    snprintf(s->script, sizeof s->script, "%s",
             srv_write_file(&s->proc, "refusing_sink.py", REFUSING_SINK, out));
    s->port = srv_free_port();
    spawn(s);
}

void srv_smtp_start_slow(srv_smtp *s, int delay_ms)
{
    memset(s, 0, sizeof *s);
    srv_mkdir(&s->proc, "mgw-smtp");
    snprintf(s->maildir, sizeof s->maildir, "%s/Maildir", s->proc.dir);
    snprintf(s->user, sizeof s->user, "%.3f", gw_ms(delay_ms) / 1000.0);
    char out[512];
    snprintf(s->script, sizeof s->script, "%s",
             srv_write_file(&s->proc, "slow_sink.py", SLOW_SINK, out));
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
    long long deadline = srv_now_ms() + gw_ms(timeout_ms);
    for (;;) {
        if (srv_smtp_count(s) >= n)
            return true;
        if (srv_now_ms() >= deadline)
            return false;
        nanosleep(&step, NULL);
    }
}

char *srv_smtp_message(const srv_smtp *s, int i)
{
    static char names[MAX_LISTED][300];
    int n = list_all(s, names);
    if (i < 0 || i >= n)
        return NULL;
    char path[700];
    snprintf(path, sizeof path, "%s/%s", s->maildir, names[i]);
    char *buf = gw_read_whole(path, NULL);
    cr_assert_not_null(buf, "open %s: %s", path, strerror(errno));
    return buf;
}
