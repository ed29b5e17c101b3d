/* Unit suite for outq.c: the durable outbound queue (real folders under a
 * fresh /tmp/mgw-prov-XXXXXX per test, provider_fixture.h). The envelope
 * parser's suite is test_envelope.c. */
#include "provider_fixture.h"

#include "../../session-core/providers/outq.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(outq, .init = fx_setup, .fini = fx_teardown);

static outq *new_queue(char dir[512])
{
    fx_path(dir, "q");
    cr_assert_eq(mkdir(dir, 0700), 0);
    outq *q = outq_new(dir, "queue");
    cr_assert_not_null(q);
    return q;
}

static void enqueue(outq *q, const char *text, char name[96])
{
    cr_assert_eq(outq_enqueue(q, text, strlen(text), name, 96), 0);
}

/* A sink that records what it was handed and fails where told to. */
typedef struct {
    int calls;
    char got[8][64];
    int fail_at;       /* 1-based call that fails; 0: none */
    bool stop;         /* ... and sets *stop */
    outq *nested;      /* flushed again from inside the callback */
    outq_report inner; /* what the nested flush reported */
    int undos;
} recorder;

static HRESULT rec_deliver(void *ctx, const outq_msg *m, char *why, size_t whylen, bool *stop)
{
    recorder *r = ctx;
    int i = r->calls++;
    ssize_t n = read(m->fd, r->got[i % 8], sizeof r->got[0] - 1);
    cr_assert(n >= 0);
    r->got[i % 8][n] = '\0';
    if (r->nested) {
        recorder inner = {0};
        outq_sink s = {rec_deliver, NULL, &inner};
        outq_deliver_all(r->nested, &s, &r->inner);
        cr_assert_eq(inner.calls, 0, "the nested flush delivered a locked message");
    }
    if (r->fail_at == i + 1) {
        snprintf(why, whylen, "refused #%d", i + 1);
        *stop = r->stop;
        return MAPI_E_NETWORK_ERROR;
    }
    return S_OK;
}

static void rec_undo(void *ctx, const outq_msg *m)
{
    (void)m;
    ((recorder *)ctx)->undos++;
}

Test(outq, enqueue_is_atomic_and_lists_oldest_first)
{
    char dir[512], names3[3][96], p[700];
    outq *q = new_queue(dir);
    enqueue(q, "first", names3[0]);
    enqueue(q, "second", names3[1]);
    enqueue(q, "third", names3[2]);
    /* Dot files and folders are not messages. */
    snprintf(p, sizeof p, "%s/.partial", dir);
    fx_write_file(p, "x");
    snprintf(p, sizeof p, "%s/sub", dir);
    cr_assert_eq(mkdir(p, 0700), 0);

    cr_assert_eq(outq_count(q), 3);
    char **names;
    size_t n;
    cr_assert_eq(outq_list(q, &names, &n), 0);
    cr_assert_eq(n, 3u);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(names[i], names3[i]);
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        char *text = fx_read_file(p);
        cr_assert_str_eq(text, i == 0 ? "first" : i == 1 ? "second" : "third");
        free(text);
        struct stat sb;
        cr_assert_eq(stat(p, &sb), 0);
        cr_assert_eq(sb.st_mode & 0777, 0600);
    }
    outq_names_free(names, n);
    /* No temporary file is left behind. */
    char all[8][128];
    cr_assert_eq(fx_list_dir(dir, all, 8), 4u); /* 3 messages + sub */
    outq_free(q);
}

Test(outq, enqueue_into_a_missing_folder_fails_and_queues_nothing)
{
    char dir[512];
    fx_path(dir, "missing");
    outq *q = outq_new(dir, "queue");
    cr_assert_not_null(q);
    cr_assert_neq(outq_enqueue(q, "x", 1, NULL, 0), 0);
    cr_assert_eq(outq_count(q), -1);
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, NULL, NULL}, &rep),
                 MAPI_E_CALL_FAILED);
    cr_assert(strstr(rep.why, "cannot read queue: ") != NULL, "was: %s", rep.why);
    /* Reasons reach clients: the folder as shown, never its server path. */
    cr_assert_null(strstr(rep.why, fx.root), "was: %s", rep.why);
    outq_free(q);
}

Test(outq, deliver_all_hands_over_in_order_and_removes_after_success)
{
    char dir[512], name[96];
    outq *q = new_queue(dir);
    enqueue(q, "one", name);
    enqueue(q, "two", name);
    enqueue(q, "three", name);
    recorder r = {0};
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, rec_undo, &r}, &rep), S_OK);
    cr_assert_eq(r.calls, 3);
    cr_assert_str_eq(r.got[0], "one");
    cr_assert_str_eq(r.got[1], "two");
    cr_assert_str_eq(r.got[2], "three");
    cr_assert_eq(rep.delivered, 3u);
    cr_assert_eq(rep.failed, 0u);
    cr_assert_str_eq(rep.why, "");
    cr_assert_eq(outq_count(q), 0);
    cr_assert_eq(r.undos, 0);
    outq_free(q);
}

Test(outq, a_failure_keeps_that_message_and_the_others_still_go)
{
    char dir[512], name[96], keep[96];
    outq *q = new_queue(dir);
    enqueue(q, "one", name);
    enqueue(q, "two", keep);
    enqueue(q, "three", name);
    recorder r = {.fail_at = 2};
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, NULL, &r}, &rep),
                 MAPI_E_NETWORK_ERROR);
    cr_assert_eq(r.calls, 3);
    cr_assert_eq(rep.delivered, 2u);
    cr_assert_eq(rep.failed, 1u);
    cr_assert_str_eq(rep.why, "refused #2");
    char **names;
    size_t n;
    cr_assert_eq(outq_list(q, &names, &n), 0);
    cr_assert_eq(n, 1u);
    cr_assert_str_eq(names[0], keep);
    outq_names_free(names, n);
    outq_free(q);
}

Test(outq, stop_leaves_the_rest_untried_and_queued)
{
    char dir[512], name[96];
    outq *q = new_queue(dir);
    for (int i = 0; i < 4; i++)
        enqueue(q, "m", name);
    recorder r = {.fail_at = 1, .stop = true};
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, NULL, &r}, &rep),
                 MAPI_E_NETWORK_ERROR);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(rep.failed, 4u);
    cr_assert_eq(rep.delivered, 0u);
    cr_assert_eq(outq_count(q), 4);
    outq_free(q);
}

/* A second flush while the first holds a message skips it, so it is sent
 * once; a message locked by somebody else is skipped and stays queued. */
Test(outq, the_lock_prevents_double_delivery)
{
    char dir[512], name[96], p[700];
    outq *q = new_queue(dir);
    outq *other = outq_new(dir, "queue");
    cr_assert_not_null(other);
    enqueue(q, "only", name);
    recorder r = {.nested = other};
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){rec_deliver, NULL, &r}, &rep), S_OK);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.inner.skipped, 1u);
    cr_assert_eq(r.inner.delivered, 0u);
    cr_assert_eq(outq_count(q), 0);

    enqueue(q, "held", name);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    recorder r2 = {0};
    cr_assert_eq(outq_deliver_all(other, &(outq_sink){rec_deliver, NULL, &r2}, &rep), S_OK);
    cr_assert_eq(r2.calls, 0);
    cr_assert_eq(rep.skipped, 1u);
    cr_assert_eq(outq_count(q), 1);
    close(fd);
    cr_assert_eq(outq_deliver_all(other, &(outq_sink){rec_deliver, NULL, &r2}, &rep), S_OK);
    cr_assert_eq(r2.calls, 1);
    cr_assert_eq(outq_count(q), 0);
    outq_free(other);
    outq_free(q);
}

/* Delivered but not removable: the sink is asked to take it back. */
static HRESULT move_away(void *ctx, const outq_msg *m, char *why, size_t whylen, bool *stop)
{
    (void)why, (void)whylen, (void)stop;
    const char *dir = ctx;
    char from[700], to[700];
    snprintf(from, sizeof from, "%s/%s", dir, m->name);
    snprintf(to, sizeof to, "%s/.moved", dir);
    cr_assert_eq(rename(from, to), 0);
    return S_OK;
}

static int undos;
static void count_undo(void *ctx, const outq_msg *m)
{
    (void)ctx, (void)m;
    undos++;
}

Test(outq, a_removal_failure_undoes_the_delivery)
{
    char dir[512], name[96];
    outq *q = new_queue(dir);
    enqueue(q, "x", name);
    outq_report rep;
    cr_assert_eq(outq_deliver_all(q, &(outq_sink){move_away, count_undo, dir}, &rep),
                 MAPI_E_CALL_FAILED);
    cr_assert_eq(undos, 1);
    cr_assert_eq(rep.delivered, 0u);
    cr_assert(strstr(rep.why, "cannot remove queue/") != NULL, "was: %s", rep.why);
    cr_assert_null(strstr(rep.why, dir), "was: %s", rep.why);
    outq_free(q);
}
