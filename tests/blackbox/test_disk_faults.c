/* Black-box suite "disk_faults": a spool transport's flush when the disk
 * fails under it.
 *
 * - Full disk: the gateway runs under `prlimit --fsize=N` (RLIMIT_FSIZE, the
 *   way a full file system looks to a writer: EFBIG, plus SIGXFSZ) and the
 *   spool holds a message larger than N: the flush answers an error, the
 *   message is still queued byte for byte, nothing half-written is visible
 *   in the Maildir's new/, and the gateway lives on.
 * - An unwritable deliver_to (the Maildir's tmp/ replaced by a regular file):
 *   the flush answers an error and loses nothing; once tmp/ is back the next
 *   flush delivers each message exactly once.
 */
#include "../support/gw.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gw *G;

static void fini_gw(void)
{
    unsetenv("MAPIGW_BIN_WRAPPER");
    gw_finish(G);
    G = NULL;
}

TestSuite(disk_faults, .fini = fini_gw, .timeout = 120);

#define MAIL "[\"MAPI_NEW_SESSION\"]"

#define ROW "Fault Outbox"

/* A gateway whose profile "spool" has a Maildir store and a spool transport
 * delivering into it, under the data dir. */
static void start_spool(void)
{
    char dir[] = "/tmp/mapigw-bb-disk-XXXXXX";
    cr_assert(mkdtemp(dir) != NULL);
    char file[128];
    snprintf(file, sizeof file, "%s/spool-profiles.json", dir);
    gw_write_file(file,
                  "{\"default_profile\":\"spool\",\"profiles\":[{\"name\":\"spool\","
                  "\"auth\":{\"type\":\"none\"},\"services\":[{\"name\":\"Local\",\"providers\":["
                  "{\"type\":\"MAPI_STORE_PROVIDER\",\"kind\":\"maildir\",\"display_name\":"
                  "\"Fault Mailbox\",\"resource_flags\":[\"STATUS_DEFAULT_STORE\"],"
                  "\"settings\":{\"path\":\"spool/Maildir\",\"create\":true}},"
                  "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"" ROW
                  "\",\"settings\":{\"path\":\"spool/queue\",\"deliver_to\":\"spool/Maildir\","
                  "\"create\":true}}]}]}]}");
    G = gw_start(file, NULL);
    gw_rmrf(dir);
}

/* Queues a message the way a client of the folder does: under a dot name,
 * then renamed. */
static void queue_message(const char *name, const char *text, size_t len)
{
    char *tmp = gw_data_path(G, "spool/queue/.%s.tmp", name);
    char *final = gw_data_path(G, "spool/queue/%s", name);
    FILE *f = fopen(tmp, "wb");
    cr_assert(f, "%s: %s", tmp, strerror(errno));
    cr_assert_eq(fwrite(text, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, final), 0);
    free(tmp);
    free(final);
}

/* A message of about len bytes (headers, then lines of text). */
static char *make_message(const char *subject, size_t len, size_t *out_len)
{
    char *m = malloc(len + 512);
    cr_assert(m);
    int n = snprintf(
        m, 512, "From: spool@example.invalid\r\nTo: bob@example.invalid\r\nSubject: %s\r\n\r\n",
        subject);
    size_t l = (size_t)n;
    while (l + 80 < len) {
        for (size_t i = 0; i < 76; i++, l++)
            m[l] = (char)('a' + (int)((l * 7 + i) % 26));
        m[l++] = '\r';
        m[l++] = '\n';
    }
    m[l] = '\0';
    *out_len = l;
    return m;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)(n > 0 ? n : 0) + 1);
    cr_assert(d);
    size_t got = fread(d, 1, (size_t)(n > 0 ? n : 0), f);
    fclose(f);
    d[got] = '\0';
    *len = got;
    return d;
}

typedef struct {
    const char *name;
    char *text;
    size_t len;
} qmsg;

/* Where each message is now: in the queue (byte-identical), delivered into
 * new/ (byte-identical), both or neither; anything else in new/ or tmp/ is
 * a half-written file. Sets queued[i] and delivered[i] (counts). */
static void locate(const qmsg *m, size_t nm, int *queued, int *delivered)
{
    char *qdir = gw_data_path(G, "spool/queue");
    char *ndir = gw_data_path(G, "spool/Maildir/new");
    char *tdir = gw_data_path(G, "spool/Maildir/tmp");
    for (size_t i = 0; i < nm; i++) {
        queued[i] = delivered[i] = 0;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", qdir, m[i].name);
        size_t l;
        char *d = read_file(p, &l);
        if (d) {
            cr_expect(l == m[i].len && memcmp(d, m[i].text, l) == 0,
                      "queued message %s changed: %zu bytes, was %zu", m[i].name, l, m[i].len);
            queued[i] = 1;
            free(d);
        }
    }
    DIR *dd = opendir(ndir);
    cr_assert(dd, "cannot open %s", ndir);
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", ndir, e->d_name);
        size_t l;
        char *d = read_file(p, &l);
        cr_assert(d);
        bool known = false;
        /* the delivered copy holds the message's bytes (a delivery may add
         * trace headers in front: look for the original at the end) */
        for (size_t i = 0; i < nm && !known; i++) {
            if (l >= m[i].len && memcmp(d + l - m[i].len, m[i].text, m[i].len) == 0) {
                delivered[i]++;
                known = true;
            }
        }
        cr_expect(known, "new/%s (%zu bytes) is not a complete queued message: half-written?",
                  e->d_name, l);
        free(d);
    }
    closedir(dd);
    struct stat sb;
    if (stat(tdir, &sb) == 0 && S_ISDIR(sb.st_mode))
        cr_expect_eq(gw_count_dir(tdir), 0, "the failed delivery left files in tmp/");
    free(qdir);
    free(ndir);
    free(tdir);
}

/* POST flush-queues (upload) on the transport row; returns the status, r
 * holds the answer. */
static long flush(const char *token, gw_resp *r)
{
    gw_resp t;
    cr_assert_eq(gw_get(G, "/status", token, &t), 200, "%s", t.body);
    json_t *row = gw_find_row(t.json, ROW);
    cr_assert(row, "no row %s: %s", ROW, t.body);
    char path[128];
    snprintf(path, sizeof path, "/status/%s/flush-queues", gw_jstr(row, "instance_key"));
    gw_resp_free(&t);
    return gw_post(G, path, token, "{\"flags\":[\"FLUSH_UPLOAD\"]}", r);
}

/* The flush failed with a complete problem answer. */
static void expect_flush_error(const gw_resp *r, const char *what)
{
    cr_assert(r->status >= 400, "%s: the flush answered %ld: %s", what, r->status, r->body);
    const char *me = r->json ? gw_jstr(r->json, "mapi_error") : NULL;
    cr_assert(me && strncmp(me, "MAPI_E_", 7) == 0, "%s: no MAPI error in %s", what, r->body);
    gw_assert_problem(r, r->status, me);
}

static void expect_transport_failure(const char *token)
{
    gw_resp t;
    cr_assert_eq(gw_get(G, "/status", token, &t), 200);
    json_t *row = gw_find_row(t.json, ROW);
    cr_assert(row);
    cr_expect(gw_jvalue(json_object_get(row, "status_code")) & 0x4u,
              "the transport row does not show STATUS_FAILURE after a failed flush: %s", t.body);
    gw_resp_free(&t);
}

#define FSIZE_LIMIT 65536

Test(disk_faults, full_disk_fails_the_flush_and_keeps_the_message)
{
    cr_assert_eq(access("/usr/bin/prlimit", X_OK), 0, "/usr/bin/prlimit is needed");
    char wrapper[64];
    snprintf(wrapper, sizeof wrapper, "/usr/bin/prlimit --fsize=%d --", FSIZE_LIMIT);
    setenv("MAPIGW_BIN_WRAPPER", wrapper, 1);
    start_spool();
    unsetenv("MAPIGW_BIN_WRAPPER");
    gw_session s;
    gw_logon_ok(G, "spool", NULL, MAIL, &s);

    qmsg m[2] = {{"1-large.eml", NULL, 0}, {"2-small.eml", NULL, 0}};
    m[0].text = make_message("larger than the file size limit", 4 * FSIZE_LIMIT, &m[0].len);
    m[1].text = make_message("small", 600, &m[1].len);
    cr_assert_gt(m[0].len, (size_t)FSIZE_LIMIT);
    queue_message(m[0].name, m[0].text, m[0].len);
    queue_message(m[1].name, m[1].text, m[1].len);

    gw_resp r;
    flush(s.token, &r);
    int st = gw_wait_exit(G, 200);
    cr_assert_eq(st, -1,
                 "the gateway died during a flush onto a full disk: exit status %d%s (log %s)", st,
                 st == 128 + SIGXFSZ ? " = SIGXFSZ (not ignored)" : "", gw_log_path(G));
    expect_flush_error(&r, "a flush onto a full disk");
    gw_resp_free(&r);

    int queued[2], delivered[2];
    locate(m, 2, queued, delivered);
    cr_expect_eq(queued[0], 1, "the large message is no longer queued");
    cr_expect_eq(delivered[0], 0, "the large message was delivered in spite of the limit");
    /* the small one fits: delivered or still queued, exactly once */
    cr_expect_eq(queued[1] + delivered[1], 1, "the small message: %d queued, %d delivered",
                 queued[1], delivered[1]);
    expect_transport_failure(s.token);

    /* the gateway lives on */
    cr_expect_eq(gw_get(G, "/healthz", NULL, &r), 200);
    gw_resp_free(&r);
    cr_expect_eq(gw_get(G, "/status", s.token, &r), 200);
    gw_resp_free(&r);
    /* a second attempt fails the same way and still loses nothing */
    flush(s.token, &r);
    cr_assert_eq(gw_wait_exit(G, 200), -1, "the gateway died on the second flush");
    expect_flush_error(&r, "a second flush onto a full disk");
    gw_resp_free(&r);
    locate(m, 2, queued, delivered);
    cr_expect_eq(queued[0], 1, "the large message is no longer queued after a second flush");
    cr_expect_eq(queued[1] + delivered[1], 1);
    free(m[0].text);
    free(m[1].text);
    gw_session_free(&s);
}

Test(disk_faults, unwritable_deliver_to_fails_the_flush_and_loses_nothing)
{
    start_spool();
    gw_session s;
    gw_logon_ok(G, "spool", NULL, MAIL, &s);
    qmsg m[2] = {{"a.eml", NULL, 0}, {"b.eml", NULL, 0}};
    m[0].text = make_message("first", 3000, &m[0].len);
    m[1].text = make_message("second", 700, &m[1].len);
    queue_message(m[0].name, m[0].text, m[0].len);
    queue_message(m[1].name, m[1].text, m[1].len);

    /* tmp/ becomes a regular file: nothing can be written there (also as
     * root, unlike a chmod) */
    char *tmp = gw_data_path(G, "spool/Maildir/tmp");
    cr_assert_eq(gw_rmrf(tmp), 0);
    gw_write_file(tmp, "not a folder\n");

    gw_resp r;
    flush(s.token, &r);
    expect_flush_error(&r, "a flush into an unwritable Maildir");
    gw_resp_free(&r);
    int queued[2], delivered[2];
    locate(m, 2, queued, delivered);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(queued[i], 1, "%s is no longer queued", m[i].name);
        cr_expect_eq(delivered[i], 0, "%s was delivered without tmp/", m[i].name);
    }
    expect_transport_failure(s.token);

    /* tmp/ back: the next flush delivers each message exactly once */
    cr_assert_eq(unlink(tmp), 0);
    cr_assert_eq(mkdir(tmp, 0700), 0);
    cr_expect_eq(flush(s.token, &r), 200, "the flush after the repair: %s", r.body);
    gw_resp_free(&r);
    locate(m, 2, queued, delivered);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(queued[i], 0, "%s still queued after a good flush", m[i].name);
        cr_expect_eq(delivered[i], 1, "%s delivered %d times", m[i].name, delivered[i]);
    }
    free(tmp);
    free(m[0].text);
    free(m[1].text);
    gw_session_free(&s);
}
