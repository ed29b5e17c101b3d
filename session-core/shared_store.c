/* shared_store.c - the verbs of shared_store.h over Redis. The worker
 * thread (stream of ends, use flushes, reaper, pulse) is in shared_worker.c. */
#include "shared_store_internal.h"

#include "shared_scripts.h"
#include "throttle.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t key(const shared_store *st, char *buf, size_t size, const char *kind,
                  const void *name, size_t len)
{
    size_t p = strlen(st->prefix), k = strlen(kind);
    if (p + k + len > size)
        return 0;
    memcpy(buf, st->prefix, p);
    memcpy(buf + p, kind, k);
    memcpy(buf + p + k, name, len);
    return p + k + len;
}

static long long int_of(const redisReply *r)
{
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* The code of a script's answer ({code, ...}); SHARED_SCRIPT_* */
static long long code_of(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return -1;
    return int_of(r->element[0]);
}

static HRESULT hr_of_code(long long code)
{
    switch (code) {
    case SHARED_SCRIPT_OK:
        return S_OK;
    case SHARED_SCRIPT_RESOURCES:
        return MAPI_E_NOT_ENOUGH_RESOURCES;
    case SHARED_SCRIPT_LIMIT:
        return MAPI_E_SESSION_LIMIT;
    case SHARED_SCRIPT_NOT_FOUND:
        return MAPI_E_NOT_FOUND;
    case SHARED_SCRIPT_ENDED:
        return MAPI_E_END_OF_SESSION;
    default:
        return MAPI_E_CALL_FAILED;
    }
}

static void copy_str(char *dst, size_t size, const redisReply *r)
{
    size_t n = 0;
    if (r && r->type == REDIS_REPLY_STRING) {
        n = r->len < size - 1 ? r->len : size - 1;
        memcpy(dst, r->str, n);
    }
    dst[n] = '\0';
}

#define UINT_ARG(buf, v) (snprintf((buf), sizeof(buf), "%llu", (unsigned long long)(v)), (buf))

static unsigned cap(unsigned v) { return v ? v : 1; }

static void throttle_key(const char *pname, const char *client, bool pair, char out[2 * 16 + 1]);

HRESULT shared_store_logon(shared_store *st, const shared_logon *in, shared_session *out)
{
    char fl[24], idle[24], life[24], maxs[24], maxp[24], pk[33] = "", ck[33] = "";
    if (in->throttle) {
        throttle_key(in->pname, in->client, true, pk);
        throttle_key(NULL, in->client, false, ck);
    }
    const char *argv[] = {st->prefix,
                          in->id,
                          in->pname,
                          UINT_ARG(fl, in->flags),
                          UINT_ARG(idle, in->idle_s),
                          UINT_ARG(life, in->lifetime_s),
                          (const char *)in->handle->bytes,
                          in->sealed ? (const char *)in->sealed : "",
                          in->publish_shared ? "1" : "0",
                          UINT_ARG(maxs, cap(st->cfg.max_sessions)),
                          UINT_ARG(maxp, cap(st->cfg.max_sessions_per_profile)),
                          pk,
                          ck};
    size_t lens[13];
    for (size_t i = 0; i < 13; i++)
        lens[i] = i == 6   ? TOKEN_HASH_LEN
                  : i == 7 ? (in->sealed ? in->sealed_len : 0)
                           : strlen(argv[i]);
    redisReply *r;
    HRESULT hr = redis_link_script(st->link, &SHARED_LOGON, 13, argv, lens, &r);
    if (HR_FAILED(hr))
        return hr;
    long long code = code_of(r);
    if (code == SHARED_SCRIPT_THROTTLED) {
        memset(out, 0, sizeof *out);
        out->throttled_s = r->elements >= 2 ? (unsigned)int_of(r->element[1]) : 1;
        freeReplyObject(r);
        return MAPI_E_LOGON_FAILED;
    }
    hr = hr_of_code(code);
    if (hr == S_OK && r->elements < 4)
        hr = MAPI_E_CALL_FAILED;
    if (hr == S_OK) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", in->id);
        snprintf(out->profile, sizeof out->profile, "%s", in->pname);
        out->flags = in->flags;
        out->serial = (uint64_t)int_of(r->element[1]);
        out->created_at = out->last_used_at = (time_t)int_of(r->element[2]);
        out->shared = int_of(r->element[3]) != 0;
        out->idle_timeout_s = in->idle_s;
        out->lifetime_s = in->lifetime_s;
        out->expires_at =
            out->created_at + (in->idle_s < in->lifetime_s ? in->idle_s : in->lifetime_s);
        out->handles = 1;
    }
    freeReplyObject(r);
    return hr;
}

HRESULT shared_store_join(shared_store *st, const char *pname, const token_hash *h,
                          const uint8_t *sealed, size_t sealed_len, shared_session *out)
{
    char maxh[24];
    const char *argv[] = {st->prefix, pname, (const char *)h->bytes,
                          sealed ? (const char *)sealed : "",
                          UINT_ARG(maxh, cap(st->cfg.max_handles_per_session))};
    size_t lens[] = {strlen(st->prefix), strlen(pname), TOKEN_HASH_LEN, sealed ? sealed_len : 0,
                     strlen(maxh)};
    redisReply *r;
    HRESULT hr = redis_link_script(st->link, &SHARED_JOIN, 5, argv, lens, &r);
    if (HR_FAILED(hr))
        return hr;
    hr = hr_of_code(code_of(r));
    if (hr == S_OK && r->elements < 7)
        hr = MAPI_E_CALL_FAILED;
    if (hr == S_OK) {
        memset(out, 0, sizeof *out);
        copy_str(out->id, sizeof out->id, r->element[1]);
        snprintf(out->profile, sizeof out->profile, "%s", pname);
        out->flags = (uint32_t)int_of(r->element[2]);
        out->created_at = (time_t)int_of(r->element[3]);
        out->idle_timeout_s = (unsigned)int_of(r->element[4]);
        out->lifetime_s = (unsigned)int_of(r->element[5]);
        out->serial = (uint64_t)int_of(r->element[6]);
        out->shared = true;
    }
    freeReplyObject(r);
    return hr;
}

/* The fields of a record, in the order read_record asks for them. */
static const char *const FIELDS[] = {"p", "f", "c", "i", "l", "n", "u", "k", "S"};
#define NFIELDS (sizeof FIELDS / sizeof *FIELDS)

static bool fill_record(const char *id, const redisReply *hm, const redisReply *score,
                        shared_session *out)
{
    if (!hm || hm->type != REDIS_REPLY_ARRAY || hm->elements < NFIELDS ||
        hm->element[0]->type != REDIS_REPLY_STRING)
        return false;
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", id);
    copy_str(out->profile, sizeof out->profile, hm->element[0]);
    out->flags = (uint32_t)int_of(hm->element[1]);
    out->created_at = (time_t)int_of(hm->element[2]);
    out->idle_timeout_s = (unsigned)int_of(hm->element[3]);
    out->lifetime_s = (unsigned)int_of(hm->element[4]);
    out->serial = (uint64_t)int_of(hm->element[5]);
    out->last_used_at = (time_t)int_of(hm->element[6]);
    out->handles = (size_t)int_of(hm->element[7]);
    out->shared = hm->element[8]->type == REDIS_REPLY_STRING;
    out->expires_at = (time_t)int_of(score);
    return true;
}

/* HMGET of a record's fields (and extra ones after them), ZSCORE, TIME. */
static HRESULT read_record(shared_store *st, const char *id, const char *extra, size_t extra_len,
                           redisReply **replies)
{
    char sk[SHARED_KEY_MAX], zk[SHARED_KEY_MAX];
    size_t skl = key(st, sk, sizeof sk, "s:", id, strlen(id));
    size_t zkl = key(st, zk, sizeof zk, "z", "", 0);
    if (!skl || !zkl)
        return MAPI_E_INVALID_PARAMETER;
    const char *hm[2 + NFIELDS + 1] = {"HMGET", sk};
    size_t hml[2 + NFIELDS + 1] = {5, skl};
    for (size_t i = 0; i < NFIELDS; i++) {
        hm[2 + i] = FIELDS[i];
        hml[2 + i] = strlen(FIELDS[i]);
    }
    int hmc = 2 + (int)NFIELDS;
    if (extra) {
        hm[hmc] = extra;
        hml[hmc++] = extra_len;
    }
    const char *zs[] = {"ZSCORE", zk, id};
    size_t zsl[] = {6, zkl, strlen(id)};
    const char *tm[] = {"TIME"};
    size_t tml[] = {4};
    redis_cmd cmds[] = {{hmc, hm, hml}, {3, zs, zsl}, {1, tm, tml}};
    return redis_link_pipeline(st->link, 3, cmds, replies);
}

static void free_replies(redisReply **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r[i])
            freeReplyObject(r[i]);
}

static time_t time_of(const redisReply *t)
{
    if (!t || t->type != REDIS_REPLY_ARRAY || t->elements < 1)
        return 0;
    return (time_t)int_of(t->element[0]);
}

HRESULT shared_store_get(shared_store *st, const char *id, shared_session *out)
{
    if (strlen(id) != SESSION_ID_LEN)
        return MAPI_E_NOT_FOUND;
    redisReply *r[3];
    HRESULT hr = read_record(st, id, NULL, 0, r);
    if (HR_FAILED(hr))
        return hr;
    hr = fill_record(id, r[0], r[1], out) && out->expires_at > time_of(r[2]) ? S_OK
                                                                             : MAPI_E_NOT_FOUND;
    free_replies(r, 3);
    return hr;
}

HRESULT shared_store_handle(shared_store *st, const token_hash *h, shared_session *out,
                            uint8_t **sealed, size_t *sealed_len)
{
    if (sealed) {
        *sealed = NULL;
        *sealed_len = 0;
    }
    char hk[SHARED_KEY_MAX];
    size_t hkl = key(st, hk, sizeof hk, "h:", h->bytes, TOKEN_HASH_LEN);
    const char *get[] = {"GET", hk};
    size_t getl[] = {3, hkl};
    redisReply *r;
    HRESULT hr = redis_link_command(st->link, 2, get, getl, &r);
    if (HR_FAILED(hr))
        return hr;
    char id[SESSION_ID_LEN + 1];
    bool found = r->type == REDIS_REPLY_STRING && r->len == SESSION_ID_LEN;
    copy_str(id, sizeof id, r);
    freeReplyObject(r);
    if (!found)
        return MAPI_E_END_OF_SESSION;

    char field[1 + TOKEN_HASH_LEN] = {'h'};
    memcpy(field + 1, h->bytes, TOKEN_HASH_LEN);
    redisReply *rr[3];
    hr = read_record(st, id, field, sizeof field, rr);
    if (HR_FAILED(hr))
        return hr;
    const redisReply *seal =
        rr[0] && rr[0]->type == REDIS_REPLY_ARRAY && rr[0]->elements == NFIELDS + 1
            ? rr[0]->element[NFIELDS]
            : NULL;
    /* The handle must still be one of the record's, and the record alive
     * by Redis's clock (an end not reaped yet is an end). */
    hr = fill_record(id, rr[0], rr[1], out) && seal && seal->type == REDIS_REPLY_STRING &&
                 out->expires_at > time_of(rr[2])
             ? S_OK
             : MAPI_E_END_OF_SESSION;
    bool orphan = rr[0] && rr[0]->type == REDIS_REPLY_ARRAY && rr[0]->elements > 0 &&
                  rr[0]->element[0]->type == REDIS_REPLY_NIL;
    if (orphan) {
        /* Its record went by Redis's own expiry (nobody reaped for an
         * hour): the handle is dead, and its key goes now. */
        const char *del[] = {"DEL", hk};
        size_t dell[] = {3, hkl};
        redisReply *d;
        if (redis_link_command(st->link, 2, del, dell, &d) == S_OK)
            freeReplyObject(d);
    }
    if (hr == S_OK && sealed && seal->len) {
        if ((*sealed = malloc(seal->len))) {
            memcpy(*sealed, seal->str, seal->len);
            *sealed_len = seal->len;
        } else {
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
        }
    }
    free_replies(rr, 3);
    return hr;
}

HRESULT shared_store_sole_shared(shared_store *st, shared_session *out)
{
    char k[SHARED_KEY_MAX];
    size_t kl = key(st, k, sizeof k, "shs", "", 0);
    const char *argv[] = {"SRANDMEMBER", k, "2"};
    size_t lens[] = {11, kl, 1};
    redisReply *r;
    HRESULT hr = redis_link_command(st->link, 3, argv, lens, &r);
    if (HR_FAILED(hr))
        return hr;
    char id[SESSION_ID_LEN + 1] = "";
    bool one = r->type == REDIS_REPLY_ARRAY && r->elements == 1;
    if (one)
        copy_str(id, sizeof id, r->element[0]);
    freeReplyObject(r);
    return one ? shared_store_get(st, id, out) : MAPI_E_NOT_FOUND;
}

/* After an end: with replicas configured, wait (bounded) until that many
 * have it, so that a failover cannot bring a logged-off handle back. */
static void wait_replicas(shared_store *st)
{
    if (!st->cfg.wait_replicas)
        return;
    char n[24];
    const char *argv[] = {"WAIT", UINT_ARG(n, st->cfg.wait_replicas), SHARED_WAIT_MS_TEXT};
    size_t lens[] = {4, strlen(n), strlen(SHARED_WAIT_MS_TEXT)};
    redisReply *r;
    if (redis_link_command(st->link, 3, argv, lens, &r) == S_OK)
        freeReplyObject(r);
}

HRESULT shared_store_logoff(shared_store *st, const token_hash *h, bool all,
                            char id[SESSION_ID_LEN + 1], bool *session_ended)
{
    const char *argv[] = {st->prefix, (const char *)h->bytes, all ? "1" : "0"};
    size_t lens[] = {strlen(st->prefix), TOKEN_HASH_LEN, 1};
    redisReply *r;
    HRESULT hr = redis_link_script(st->link, &SHARED_LOGOFF, 3, argv, lens, &r);
    if (HR_FAILED(hr))
        return hr;
    hr = hr_of_code(code_of(r));
    if (hr == S_OK && r->elements >= 3) {
        if (id)
            copy_str(id, SESSION_ID_LEN + 1, r->element[1]);
        if (session_ended)
            *session_ended = int_of(r->element[2]) != 0;
    }
    freeReplyObject(r);
    if (hr == S_OK)
        wait_replicas(st);
    return hr;
}

HRESULT shared_store_end(shared_store *st, const char *id, const char *reason)
{
    if (strlen(id) != SESSION_ID_LEN)
        return MAPI_E_NOT_FOUND;
    const char *argv[] = {st->prefix, id, reason};
    size_t lens[] = {strlen(st->prefix), strlen(id), strlen(reason)};
    redisReply *r;
    HRESULT hr = redis_link_script(st->link, &SHARED_END, 3, argv, lens, &r);
    if (HR_FAILED(hr))
        return hr;
    hr = hr_of_code(code_of(r));
    freeReplyObject(r);
    if (hr == S_OK)
        wait_replicas(st);
    return hr;
}

#define LIST_BATCH 256

HRESULT shared_store_list(shared_store *st, shared_session **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    char zk[SHARED_KEY_MAX];
    size_t zkl = key(st, zk, sizeof zk, "z", "", 0);
    const char *argv[] = {"ZRANGE", zk, "0", "-1", "WITHSCORES"};
    size_t lens[] = {6, zkl, 1, 2, 10};
    redisReply *z;
    HRESULT hr = redis_link_command(st->link, 5, argv, lens, &z);
    if (HR_FAILED(hr))
        return hr;
    size_t n = z->type == REDIS_REPLY_ARRAY ? z->elements / 2 : 0;
    shared_session *all = calloc(n ? n : 1, sizeof *all);
    if (!all) {
        freeReplyObject(z);
        return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    size_t kept = 0;
    for (size_t base = 0; base < n && HR_SUCCEEDED(hr); base += LIST_BATCH) {
        size_t m = n - base < LIST_BATCH ? n - base : LIST_BATCH;
        char keys[LIST_BATCH][SHARED_KEY_MAX];
        const char *hm[LIST_BATCH][2 + NFIELDS];
        size_t hml[LIST_BATCH][2 + NFIELDS];
        redis_cmd cmds[LIST_BATCH];
        redisReply *rep[LIST_BATCH];
        for (size_t i = 0; i < m; i++) {
            const redisReply *idr = z->element[2 * (base + i)];
            hm[i][0] = "HMGET";
            hml[i][0] = 5;
            hm[i][1] = keys[i];
            hml[i][1] = key(st, keys[i], sizeof keys[i], "s:", idr->str, idr->len);
            for (size_t f = 0; f < NFIELDS; f++) {
                hm[i][2 + f] = FIELDS[f];
                hml[i][2 + f] = strlen(FIELDS[f]);
            }
            cmds[i] = (redis_cmd){2 + (int)NFIELDS, hm[i], hml[i]};
        }
        hr = redis_link_pipeline(st->link, m, cmds, rep);
        for (size_t i = 0; HR_SUCCEEDED(hr) && i < m; i++) {
            const redisReply *idr = z->element[2 * (base + i)];
            char id[SESSION_ID_LEN + 1];
            copy_str(id, sizeof id, idr);
            if (fill_record(id, rep[i], z->element[2 * (base + i) + 1], &all[kept]))
                kept++;
        }
        if (HR_SUCCEEDED(hr))
            free_replies(rep, m);
    }
    freeReplyObject(z);
    if (HR_FAILED(hr)) {
        free(all);
        return hr;
    }
    *out = all;
    *count = kept;
    return S_OK;
}

HRESULT shared_store_counts(shared_store *st, size_t *sessions, size_t *handles)
{
    char ck[SHARED_KEY_MAX], kk[SHARED_KEY_MAX];
    size_t ckl = key(st, ck, sizeof ck, "c", "", 0), kkl = key(st, kk, sizeof kk, "k", "", 0);
    const char *argv[] = {"MGET", ck, kk};
    size_t lens[] = {4, ckl, kkl};
    redisReply *r;
    HRESULT hr = redis_link_command(st->link, 3, argv, lens, &r);
    if (HR_FAILED(hr))
        return hr;
    long long c = r->elements >= 2 ? int_of(r->element[0]) : 0;
    long long k = r->elements >= 2 ? int_of(r->element[1]) : 0;
    *sessions = c > 0 ? (size_t)c : 0;
    *handles = k > 0 ? (size_t)k : 0;
    freeReplyObject(r);
    return S_OK;
}

/* ---- failed-password budgets ------------------------------------------ */

/* A budget's key: a hash of what the in-memory throttle keys on, so that
 * neither a profile name nor an address appears in Redis. */
static void throttle_key(const char *pname, const char *client, bool pair, char out[2 * 16 + 1])
{
    char cbuf[THROTTLE_CLIENT_ID_MAX];
    const char *cid = throttle_client_id(client, cbuf);
    crypto_generichash_state s;
    crypto_generichash_init(&s, NULL, 0, 16);
    crypto_generichash_update(&s, (const unsigned char *)(pair ? "P" : "C"), 1);
    if (pair) {
        const char *p = pname ? pname : "";
        crypto_generichash_update(&s, (const unsigned char *)p, strlen(p) + 1);
    }
    crypto_generichash_update(&s, (const unsigned char *)cid, strlen(cid));
    unsigned char h[16];
    crypto_generichash_final(&s, h, sizeof h);
    sodium_bin2hex(out, 33, h, sizeof h);
}

HRESULT shared_store_throttle_check(shared_store *st, const char *pname, const char *client,
                                    unsigned *wait_s, bool *has_failures)
{
    *wait_s = 0;
    *has_failures = false;
    char pk[33], ck[33];
    throttle_key(pname, client, true, pk);
    throttle_key(NULL, client, false, ck);
    const char *argv[] = {st->prefix, pk, ck};
    size_t lens[] = {strlen(st->prefix), 32, 32};
    redisReply *r;
    HRESULT hr = redis_link_script(st->link, &SHARED_THROTTLE_CHECK, 3, argv, lens, &r);
    if (HR_FAILED(hr))
        return hr;
    if (code_of(r) == 0 && r->elements >= 2 && int_of(r->element[1]) > 0)
        *wait_s = (unsigned)int_of(r->element[1]);
    if (code_of(r) == 0 && r->elements >= 3)
        *has_failures = int_of(r->element[2]) != 0;
    freeReplyObject(r);
    return S_OK;
}

void shared_store_throttle_failure(shared_store *st, const char *pname, const char *client)
{
    char pk[33], ck[33], thr[24], cthr[24], maxd[24], leak[24];
    throttle_key(pname, client, true, pk);
    throttle_key(NULL, client, false, ck);
    const char *argv[] = {st->prefix,
                          pk,
                          ck,
                          UINT_ARG(thr, cap(st->cfg.throttle_threshold)),
                          UINT_ARG(cthr, cap(st->cfg.throttle_client_threshold)),
                          UINT_ARG(maxd, cap(st->cfg.throttle_max_delay_s)),
                          UINT_ARG(leak, THROTTLE_CLIENT_LEAK_S)};
    size_t lens[7];
    for (size_t i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r;
    if (redis_link_script(st->link, &SHARED_THROTTLE_FAIL, 7, argv, lens, &r) == S_OK)
        freeReplyObject(r);
}

void shared_store_throttle_success(shared_store *st, const char *pname, const char *client)
{
    char pk[33], k[SHARED_KEY_MAX];
    throttle_key(pname, client, true, pk);
    size_t kl = key(st, k, sizeof k, "t:", pk, 32);
    const char *argv[] = {"DEL", k};
    size_t lens[] = {3, kl};
    redisReply *r;
    if (redis_link_command(st->link, 2, argv, lens, &r) == S_OK)
        freeReplyObject(r);
}

/* ---- passwords changed with IMAPIStatus::ChangePassword ------------------ */

HRESULT shared_store_password_get(shared_store *st, const char *pname, char *base, char *now,
                                  size_t size)
{
    char k[SHARED_KEY_MAX];
    size_t kl = key(st, k, sizeof k, "pw", "", 0);
    const char *argv[] = {"HGET", k, pname};
    size_t lens[] = {4, kl, strlen(pname)};
    redisReply *r;
    HRESULT hr = redis_link_command(st->link, 3, argv, lens, &r);
    if (HR_FAILED(hr))
        return hr;
    const char *nl = r->type == REDIS_REPLY_STRING ? memchr(r->str, '\n', r->len) : NULL;
    hr = MAPI_E_NOT_FOUND;
    if (nl && (size_t)(nl - r->str) < size && r->len - (size_t)(nl - r->str) - 1 < size) {
        size_t bl = (size_t)(nl - r->str), nl2 = r->len - bl - 1;
        memcpy(base, r->str, bl);
        base[bl] = '\0';
        memcpy(now, nl + 1, nl2);
        now[nl2] = '\0';
        hr = S_OK;
    }
    freeReplyObject(r);
    return hr;
}

HRESULT shared_store_password_set(shared_store *st, const char *pname, const char *base,
                                  const char *now)
{
    char k[SHARED_KEY_MAX], v[2 * 256 + 2];
    size_t kl = key(st, k, sizeof k, "pw", "", 0);
    int vl = snprintf(v, sizeof v, "%s\n%s", base, now);
    if (vl < 0 || (size_t)vl >= sizeof v)
        return MAPI_E_INVALID_PARAMETER;
    const char *argv[] = {"HSET", k, pname, v};
    size_t lens[] = {4, kl, strlen(pname), (size_t)vl};
    redisReply *r;
    HRESULT hr = redis_link_command(st->link, 4, argv, lens, &r);
    if (HR_SUCCEEDED(hr))
        freeReplyObject(r);
    sodium_memzero(v, sizeof v);
    return hr;
}

void shared_store_password_forget(shared_store *st, const char *pname)
{
    char k[SHARED_KEY_MAX];
    size_t kl = key(st, k, sizeof k, "pw", "", 0);
    const char *argv[] = {"HDEL", k, pname};
    size_t lens[] = {4, kl, strlen(pname)};
    redisReply *r;
    if (redis_link_command(st->link, 3, argv, lens, &r) == S_OK)
        freeReplyObject(r);
}
