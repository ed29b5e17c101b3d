/* Unit suite for the "spool" transport provider (provider_spool.c): the
 * queue's status row and FlushQueues' Maildir delivery, including the failures
 * that must leave messages queued. Real folders under a fresh
 * /tmp/mgw-prov-XXXXXX per test (provider_fixture.h). */
#include "provider_fixture.h"

#include "../../session-core/mapi_flags.h"
#include "../../session-core/profile.h"
#include "../../session-core/provider.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

TestSuite(provider_spool, .init = fx_setup, .fini = fx_teardown);

static const provider_config *spool_config(const char *queue, const char *deliver_to)
{
    char json[1200];
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"Out\","
             "\"settings\":{\"path\":\"%s\",\"deliver_to\":\"%s\",\"create\":true}}",
             queue, deliver_to);
    return fx_load_provider(json);
}

static const char *const BODIES[3] = {
    "From: a@x\r\n\r\nfirst\r\n",
    "From: b@x\r\n\r\nsecond, a little longer\r\n",
    "From: c@x\r\n\r\nthird\r\n",
};

/* A spool logged on with create=true and the three BODIES queued. */
static void spool_with_three(char queue[512], char md[512])
{
    fx_path(queue, "spool");
    fx_path(md, "Maildir");
    const provider_config *cfg = spool_config(queue, md);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    char p[600];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/msg%d.eml", queue, i);
        fx_write_file(p, BODIES[i]);
    }
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE | STATUS_OUTBOUND_ENABLED);
    cr_assert_str_eq(st.status_string, "3 messages queued");
}

/* Contents of every file in dir, sorted, compared with BODIES (sorted). */
static void assert_holds_bodies(const char *dir, size_t want)
{
    char names[8][128];
    size_t n = fx_list_dir(dir, names, 8);
    cr_assert_eq(n, want, "%s holds %zu files", dir, n);
    char *got[3];
    char p[700];
    for (size_t i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        got[i] = fx_read_file(p);
    }
    qsort(got, n, sizeof got[0], (int (*)(const void *, const void *))strcmp);
    int matched = 0;
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < 3; b++)
            if (strcmp(got[i], BODIES[b]) == 0)
                matched++;
        free(got[i]);
    }
    cr_assert_eq((size_t)matched, want);
}

Test(provider_spool, spool_flush_delivers_into_maildir_new)
{
    char queue[512], md[512], p[700];
    spool_with_three(queue, md);
    /* Neither a dot file nor a folder is a message. */
    snprintf(p, sizeof p, "%s/.partial", queue);
    fx_write_file(p, "not yet");
    snprintf(p, sizeof p, "%s/subdir", queue);
    cr_assert_eq(mkdir(p, 0700), 0);

    cr_assert_eq(fx.ops->flush_queues(fx.state, FLUSH_UPLOAD), S_OK);
    snprintf(p, sizeof p, "%s/new", md);
    assert_holds_bodies(p, 3);
    char names[8][128];
    size_t n = fx_list_dir(p, names, 8);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        cr_assert(l > 7 && strcmp(names[i] + l - 7, ".mapigw") == 0, "name %s", names[i]);
        cr_assert_not_null(strchr(names[i], '_'));
    }
    snprintf(p, sizeof p, "%s/tmp", md);
    cr_assert_eq(fx_list_dir(p, names, 8), 0);
    cr_assert_eq(fx_list_dir(queue, names, 8), 1); /* subdir only */
    cr_assert_str_eq(names[0], "subdir");
    snprintf(p, sizeof p, "%s/.partial", queue);
    cr_assert_eq(access(p, F_OK), 0);

    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_AVAILABLE | STATUS_OUTBOUND_ENABLED);
    cr_assert_str_eq(st.status_string, "0 messages queued");
}

Test(provider_spool, spool_flush_with_no_flags_uploads_and_download_alone_does_nothing)
{
    char queue[512], md[512], p[700];
    spool_with_three(queue, md);
    cr_assert_eq(fx.ops->flush_queues(fx.state, FLUSH_DOWNLOAD), S_OK);
    assert_holds_bodies(queue, 3);
    cr_assert_str_eq(fx_status().status_string, "3 messages queued");

    cr_assert_eq(fx.ops->flush_queues(fx.state, 0), S_OK);
    snprintf(p, sizeof p, "%s/new", md);
    assert_holds_bodies(p, 3);
    assert_holds_bodies(queue, 0);
}

Test(provider_spool, spool_unwritable_tmp_keeps_everything_queued)
{
    char queue[512], md[512], tmp[600], p[700];
    spool_with_three(queue, md);
    snprintf(tmp, sizeof tmp, "%s/tmp", md);
    cr_assert_eq(chmod(tmp, 0500), 0);
    /* root ignores the mode: then a regular file where tmp/ belongs. */
    snprintf(p, sizeof p, "%s/probe", tmp);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        close(fd);
        cr_assert_eq(unlink(p), 0);
        cr_assert_eq(rmdir(tmp), 0);
        fx_write_file(tmp, "in the way");
    }

    HRESULT hr = fx.ops->flush_queues(fx.state, FLUSH_UPLOAD);
    cr_assert_eq(hr, MAPI_E_CALL_FAILED);
    assert_holds_bodies(queue, 3);
    snprintf(p, sizeof p, "%s/new", md);
    assert_holds_bodies(p, 0);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    /* The folder named as shown to clients, never by its server path. */
    cr_assert_not_null(strstr(st.status_string, ".../Maildir/tmp"), "was: %s", st.status_string);
    cr_assert_null(strstr(st.status_string, fx.root), "was: %s", st.status_string);

    /* Repaired: the next flush delivers all three. */
    if (fd >= 0) {
        cr_assert_eq(unlink(tmp), 0);
        cr_assert_eq(mkdir(tmp, 0700), 0);
    } else {
        cr_assert_eq(chmod(tmp, 0700), 0);
    }
    cr_assert_eq(fx.ops->validate_state(fx.state, 0), S_OK);
    cr_assert_str_eq(fx_status().status_string, "3 messages queued");
    cr_assert_eq(fx.ops->flush_queues(fx.state, FLUSH_UPLOAD), S_OK);
    assert_holds_bodies(p, 3);
    assert_holds_bodies(queue, 0);
}

/* A copy that fails half-way (a file size limit binds root too): that message
 * stays queued and nothing half-written shows in new/ or tmp/; the others go. */
Test(provider_spool, spool_failed_copy_keeps_that_message_queued)
{
    char queue[512], md[512], p[700];
    spool_with_three(queue, md);
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(p, sizeof p, "%s/big.eml", queue);
    fx_write_file(p, big);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1024;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    HRESULT hr = fx.ops->flush_queues(fx.state, FLUSH_UPLOAD);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

    cr_assert_eq(hr, MAPI_E_CALL_FAILED);
    char names[8][128];
    cr_assert_eq(fx_list_dir(queue, names, 8), 1);
    cr_assert_str_eq(names[0], "big.eml");
    char *still = fx_read_file(p);
    cr_assert_str_eq(still, big);
    free(still);
    snprintf(p, sizeof p, "%s/new", md);
    assert_holds_bodies(p, 3);
    snprintf(p, sizeof p, "%s/tmp", md);
    cr_assert_eq(fx_list_dir(p, names, 8), 0);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    cr_assert_eq(
        strncmp(st.status_string, "flush failed, 1 message still queued: cannot copy ", 50), 0,
        "was: %s", st.status_string);
}

Test(provider_spool, spool_missing_folder_is_failure)
{
    char queue[512], json[1200], md[512], want[700];
    fx_path(queue, "q");
    fx_path(md, "md");
    snprintf(json, sizeof json,
             "{\"type\":\"MAPI_TRANSPORT_PROVIDER\",\"kind\":\"spool\",\"display_name\":\"Out\","
             "\"settings\":{\"path\":\"%s\",\"deliver_to\":\"%s\"}}",
             queue, md);
    const provider_config *cfg = fx_load_provider(json);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    provider_status st = fx_status();
    cr_assert_eq(st.status_code, STATUS_FAILURE);
    snprintf(want, sizeof want, "folder missing: .../q");
    cr_assert_str_eq(st.status_string, want);
    cr_assert_eq(fx.ops->flush_queues(fx.state, FLUSH_UPLOAD), MAPI_E_CALL_FAILED);
    cr_assert_eq(fx_status().status_code, STATUS_FAILURE);
}

/* A delivery cut short leaves its copy in deliver_to/tmp;
 * the spool removes such copies once 36 h old, at logon and hourly. */
Test(provider_spool, stale_deliveries_in_tmp_are_removed)
{
    char queue[512], md[512], p[700];
    fx_path(queue, "spool");
    fx_path(md, "Maildir");
    const provider_config *cfg = spool_config(queue, md);
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK); /* creates the folders */
    fx.ops->logoff(fx.state);
    fx.state = NULL;

    static const struct {
        const char *name;
        long age_s;
        bool stays;
    } FILES[] = {{"1.crashed.mapigw", 37 * 3600, false},
                 {"2.half.mapigw", 36 * 3600 + 60, false},
                 {"3.recent.mapigw", 35 * 3600, true},
                 {"4.now.mapigw", 0, true}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/tmp/%s", md, FILES[i].name);
        fx_write_file(p, "From: a@x\r\n\r\npartial");
        struct timespec t[2] = {{time(NULL) - FILES[i].age_s, 0}, {time(NULL) - FILES[i].age_s, 0}};
        cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
    }
    cr_assert_eq(fx.ops->logon(cfg, &fx.args, &fx.state), S_OK);
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/tmp/%s", md, FILES[i].name);
        cr_expect_eq(access(p, F_OK) == 0, FILES[i].stays, "%s", FILES[i].name);
    }

    cr_assert_not_null(fx.ops->maintain);
    snprintf(p, sizeof p, "%s/tmp/5.later.mapigw", md);
    fx_write_file(p, "x");
    struct timespec old[2] = {{time(NULL) - 40 * 3600, 0}, {time(NULL) - 40 * 3600, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, p, old, 0), 0);
    fx.ops->maintain(fx.state);
    cr_expect_neq(access(p, F_OK), 0, "maintenance left a 40 h old tmp file");
    snprintf(p, sizeof p, "%s/tmp/4.now.mapigw", md);
    cr_expect_eq(access(p, F_OK), 0);
}
