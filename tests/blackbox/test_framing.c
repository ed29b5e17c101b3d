/* Black-box: HTTP message framing, over raw sockets
 * because libcurl neither sends ambiguous framing nor shows whether the
 * gateway closed the connection.
 *
 * Requests (RFC 9112 6.1, 6.3): a request whose body length is ambiguous -
 * both Content-Length and Transfer-Encoding, Content-Length fields that
 * differ, a transfer coding other than chunked - is answered 400 problem+json
 * with "Connection: close", and the connection closes: bytes after it (a
 * smuggled request) are never answered. Two equal Content-Length fields are
 * one length (RFC 9110 8.6 allows taking them as one): accepted, and the
 * connection stays usable.
 *
 * Responses (RFC 9110 8.6): a 304 carries the Content-Length of the 200 it
 * stands for (never a false 0), no Content-Type, and no body bytes. */
#include "../support/gw.h"
#include "../support/raw_http.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gw *G;

static void fini_gw(void)
{
    gw_finish(G);
    G = NULL;
}

TestSuite(framing, .fini = fini_gw, .timeout = 120);

/* A request that names the profile in a body of 18 bytes. */
#define LOGON_BODY "{\"profile\":\"nopw\"}"
#define LOGON_HEAD                                                                                 \
    "POST /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
/* Smuggled after the first request: must never be answered. */
#define SMUGGLED "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

static void expect_serving(void)
{
    gw_resp r;
    gw_get(G, "/healthz", NULL, &r);
    cr_expect_eq(r.status, 200, "GET /healthz afterwards: %ld %s", r.status, r.errbuf);
    gw_resp_free(&r);
}

/* Sends req on a fresh connection and asserts: one answer only, 400
 * problem+json MAPI_E_INVALID_PARAMETER whose detail names why, with
 * "Connection: close", and the connection closed by the gateway. */
static void expect_refused(const char *what, const char *req, const char *why)
{
    int fd = raw_connect(G);
    cr_assert(raw_send(fd, req, strlen(req)), "%s: send", what);
    char buf[8192];
    bool closed = false;
    raw_read(fd, buf, sizeof buf, 5000, &closed);
    close(fd);
    cr_assert_eq(raw_status(buf), 400, "%s: expected 400, got: %s", what, buf);
    cr_expect_eq(raw_count_answers(buf), 1u, "%s: the smuggled request was answered: %s", what,
                 buf);
    char v[128];
    cr_expect(raw_header(buf, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0,
              "%s: no Connection: close: %s", what, buf);
    cr_expect(raw_header(buf, "Content-Type", v, sizeof v) &&
                  strcmp(v, "application/problem+json") == 0,
              "%s: %s", what, buf);
    cr_expect(closed, "%s: the connection stayed open after the 400", what);
    json_t *j = raw_body_json(buf);
    cr_expect_str_eq(gw_jstr(j, "mapi_error"), "MAPI_E_INVALID_PARAMETER", "%s", what);
    cr_expect_eq(json_integer_value(json_object_get(j, "status")), 400, "%s", what);
    const char *detail = gw_jstr(j, "detail");
    cr_expect(detail && strstr(detail, why), "%s: detail '%s' does not say '%s'", what,
              detail ? detail : "(none)", why);
    json_decref(j);
}

Test(framing, content_length_and_transfer_encoding_refused)
{
    G = gw_start("main.json", NULL);
    /* A front end going by Content-Length (18) would see one logon; the
     * gateway's library goes by the chunks and would then read the rest as a
     * second request. */
    expect_refused("CL then TE",
                   LOGON_HEAD "Content-Length: 18\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "12\r\n" LOGON_BODY "\r\n0\r\n\r\n" SMUGGLED,
                   "both Transfer-Encoding and Content-Length");
    expect_refused("TE then CL",
                   LOGON_HEAD "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                              "0\r\n\r\n" SMUGGLED,
                   "both Transfer-Encoding and Content-Length");
    /* On a GET too: no route reads a body before the framing is checked. */
    expect_refused("GET with both",
                   "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
                   "both Transfer-Encoding and Content-Length");
    expect_serving();
}

Test(framing, differing_content_lengths_refused)
{
    G = gw_start("main.json", NULL);
    expect_refused("18 then 60",
                   LOGON_HEAD "Content-Length: 18\r\nContent-Length: 60\r\n\r\n" LOGON_BODY
                              "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                   "Content-Length fields that differ");
    expect_refused("60 then 18",
                   LOGON_HEAD "Content-Length: 60\r\nContent-Length: 18\r\n\r\n" LOGON_BODY
                              "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                   "Content-Length fields that differ");
    expect_refused("a second one that is no number",
                   LOGON_HEAD "Content-Length: 18\r\nContent-Length: 18x\r\n\r\n" LOGON_BODY,
                   "Content-Length fields that differ");
    expect_serving();
}

Test(framing, other_transfer_codings_refused)
{
    G = gw_start("main.json", NULL);
    expect_refused("gzip", LOGON_HEAD "Transfer-Encoding: gzip\r\n\r\n" LOGON_BODY,
                   "Transfer-Encoding other than chunked");
    expect_refused("gzip, chunked",
                   LOGON_HEAD "Transfer-Encoding: gzip, chunked\r\n\r\n12\r\n" LOGON_BODY
                              "\r\n0\r\n\r\n",
                   "Transfer-Encoding other than chunked");
    expect_refused("chunked twice",
                   LOGON_HEAD "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "12\r\n" LOGON_BODY "\r\n0\r\n\r\n",
                   "Transfer-Encoding other than chunked");
    expect_refused(
        "HTTP/1.0 chunked",
        "POST /sessions HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n12\r\n" LOGON_BODY "\r\n0\r\n\r\n",
        "HTTP/1.0");
    expect_serving();
}

/* Sends req, then GET /healthz on the same connection: the first answer has
 * the status want, the second is the health answer, and the connection is
 * still open. */
static void expect_kept(const char *what, const char *req, int want)
{
    int fd = raw_connect(G);
    char both[4096];
    snprintf(both, sizeof both, "%s%s", req, SMUGGLED);
    cr_assert(raw_send(fd, both, strlen(both)));
    char buf[8192];
    bool closed = false;
    cr_assert_gt(raw_read_answer(fd, buf, sizeof buf, 5000, &closed), 0u, "%s: no answer", what);
    cr_expect_eq(raw_status(buf), want, "%s: %s", what, buf);
    if (want == 201) {
        /* Not left in the log: the token must be recorded as a secret. */
        json_t *j = raw_body_json(buf);
        if (gw_jstr(j, "token"))
            gw_add_secret(G, gw_jstr(j, "token"));
        json_decref(j);
    }
    cr_assert_gt(raw_read_answer(fd, buf, sizeof buf, 5000, &closed), 0u,
                 "%s: no second answer on the connection (closed: %d)", what, closed);
    cr_expect_eq(raw_status(buf), 200, "%s: second answer: %s", what, buf);
    cr_expect(strstr(buf, "\"status\":\"ok\"") != NULL, "%s: %s", what, buf);
    close(fd);
}

Test(framing, equal_content_lengths_and_plain_chunks_accepted)
{
    G = gw_start("main.json", NULL);
    expect_kept("two Content-Length: 18",
                LOGON_HEAD "Content-Length: 18\r\nContent-Length: 18\r\n\r\n" LOGON_BODY, 201);
    expect_kept("one Content-Length", LOGON_HEAD "Content-Length: 18\r\n\r\n" LOGON_BODY, 201);
    expect_kept("chunked (any case)",
                LOGON_HEAD "Transfer-Encoding: Chunked\r\n\r\n12\r\n" LOGON_BODY "\r\n0\r\n\r\n",
                201);
}

/* Item 9: the 304 of GET /status. */
Test(framing, not_modified_has_the_length_of_its_200)
{
    G = gw_start("main.json", NULL);
    gw_session s;
    gw_logon_ok(G, "nopw", NULL, "[\"MAPI_NEW_SESSION\"]", &s);
    const char *queries[] = {"", "?columns=display_name,status_code"};
    for (size_t q = 0; q < 2; q++) {
        char req[1024];
        snprintf(req, sizeof req,
                 "GET /status%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                 queries[q], s.token);
        int fd = raw_connect(G);
        cr_assert(raw_send(fd, req, strlen(req)));
        char buf[16384], etag[256], len200[32], v[64];
        bool closed = false;
        cr_assert_gt(raw_read_answer(fd, buf, sizeof buf, 5000, &closed), 0u);
        cr_assert_eq(raw_status(buf), 200, "%s", buf);
        cr_assert(raw_header(buf, "ETag", etag, sizeof etag), "%s", buf);
        cr_assert(raw_header(buf, "Content-Length", len200, sizeof len200), "%s", buf);
        cr_assert_gt(atoi(len200), 100, "%s", buf);

        /* The conditional GET and a pipelined request behind it: if the 304
         * sent body bytes, they would come before the second answer. */
        snprintf(req, sizeof req,
                 "GET /status%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                 "If-None-Match: %s\r\n\r\n" SMUGGLED,
                 queries[q], s.token, etag);
        cr_assert(raw_send(fd, req, strlen(req)));
        cr_assert_gt(raw_read_answer(fd, buf, sizeof buf, 5000, &closed), 0u);
        cr_assert_eq(raw_status(buf), 304, "%s", buf);
        cr_expect(raw_header(buf, "ETag", v, sizeof v) && strcmp(v, etag) == 0, "%s", buf);
        cr_expect(!raw_header(buf, "Content-Type", v, sizeof v), "304 with a Content-Type: %s",
                  buf);
        if (raw_header(buf, "Content-Length", v, sizeof v))
            cr_expect_str_eq(v, len200, "the 304's Content-Length is not the 200's (%s): %s",
                             len200, buf);
        cr_assert_gt(raw_read_answer(fd, buf, sizeof buf, 5000, &closed), 0u,
                     "no answer after the 304 (closed: %d)", closed);
        cr_expect(strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, "\"status\":\"ok\""),
                  "body bytes after the 304? next answer: %s", buf);
        close(fd);
    }
    gw_session_free(&s);
}
