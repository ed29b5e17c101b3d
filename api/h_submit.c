/* h_submit.c - sending mail (docs/contract/http.md 17 "Submitting messages"):
 *   POST /messages          IMAPIFolder::CreateMessage in the default store's
 *                           Outbox + IMessage::SubmitMessage
 *   GET  /message-options   IMAPISession::QueryDefaultMessageOpt
 *
 * The body's form and limits are checked here (400, 413); resolving,
 * routing and queueing are the core's (session_submit.c).
 */
#include "api_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char *const MSG_KEYS[] = {"to",      "cc",        "bcc",         "subject",
                                       "body",    "html_body", "attachments", "delete_after_submit",
                                       "options", NULL};
static const char *const ATT_KEYS[] = {"filename", "content_type", "content_base64", NULL};
/* An attachment's decoded bytes at most (the request's own limit,
 * --max-body-bytes, usually binds first). */
#define ATT_MAX_BYTES (1u << 20)
static const char *const RCPT_KEYS[] = {"display_name", "address_type", "address", "entry_id",
                                        NULL};
static const char *const OPT_KEYS[] = {"priority", "read_receipt", "delivery_receipt", NULL};
static const char *const KIND_NAMES[] = {"", "MAPI_TO", "MAPI_CC", "MAPI_BCC"};

/* The per-message options of the SMTP transport (MessageOptions). */
static const char *const SMTP_OPTIONS[] = {"priority", "read_receipt", "delivery_receipt"};

typedef struct {
    submit_recipient *rcpt;
    uint8_t **eids; /* entry ids decoded, one slot per recipient */
    size_t count;
    submit_attachment *att;
    size_t att_count;
} rcpt_list;

static void rcpt_list_free(rcpt_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->eids[i]);
    free(l->eids);
    free(l->rcpt);
    for (size_t i = 0; i < l->att_count; i++)
        free((void *)l->att[i].data);
    free(l->att);
}

static bool opt_string(api_ctx *x, json_t *obj, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s: a string is required", key);
        return false;
    }
    if (json_string_length(v) > max) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 413, "%s: longer than %zu bytes", key, max);
        return false;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s: a NUL character", key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool opt_bool(api_ctx *x, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    *out = false;
    if (!v)
        return true;
    if (!json_is_boolean(v)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s: true or false", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static bool read_recipients(api_ctx *x, json_t *body, rcpt_list *l)
{
    static const char *const LISTS[] = {NULL, "to", "cc", "bcc"};
    size_t total = 0;
    for (int k = SUBMIT_TO; k <= SUBMIT_BCC; k++) {
        json_t *a = json_object_get(body, LISTS[k]);
        if (a && !json_is_array(a)) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s: an array of recipients is required",
                        LISTS[k]);
            return false;
        }
        total += a ? json_array_size(a) : 0;
    }
    if (total == 0 || total > SUBMIT_MAX_RECIPIENTS) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "1 to %d recipients (to, cc, bcc) are required",
                    SUBMIT_MAX_RECIPIENTS);
        return false;
    }
    l->rcpt = calloc(total, sizeof *l->rcpt);
    l->eids = calloc(total, sizeof *l->eids);
    if (!l->rcpt || !l->eids) {
        x->oom = true;
        return false;
    }
    for (int k = SUBMIT_TO; k <= SUBMIT_BCC; k++) {
        json_t *a = json_object_get(body, LISTS[k]), *r;
        size_t i;
        json_array_foreach(a, i, r)
        {
            submit_recipient *out = &l->rcpt[l->count];
            out->kind = (submit_kind)k;
            l->count++;
            if (!json_is_object(r)) {
                api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "%s[%zu]: an object is required",
                            LISTS[k], i);
                return false;
            }
            const char *eid;
            if (!request_check_keys(x, r, RCPT_KEYS) ||
                !opt_string(x, r, "display_name", 256, &out->display) ||
                !opt_string(x, r, "address_type", 64, &out->addrtype) ||
                !opt_string(x, r, "address", 320, &out->address) ||
                !opt_string(x, r, "entry_id", 2048, &eid))
                return false;
            if (eid) {
                if (!request_entry_id(x, eid, strlen(eid), "entry id", &l->eids[l->count - 1],
                                      &out->entry_id_len))
                    return false;
                out->entry_id = l->eids[l->count - 1];
            }
        }
    }
    return true;
}

static bool read_attachments(api_ctx *x, json_t *body, rcpt_list *l)
{
    json_t *a = json_object_get(body, "attachments"), *v;
    if (!a)
        return true;
    if (!json_is_array(a) || json_array_size(a) > SUBMIT_MAX_ATTACHMENTS) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "attachments: an array of at most %d objects",
                    SUBMIT_MAX_ATTACHMENTS);
        return false;
    }
    l->att = calloc(json_array_size(a) + 1, sizeof *l->att);
    if (!l->att) {
        x->oom = true;
        return false;
    }
    size_t i;
    json_array_foreach(a, i, v)
    {
        submit_attachment *out = &l->att[l->att_count];
        const char *b64 = NULL;
        if (!json_is_object(v)) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "attachments[%zu]: an object", i);
            return false;
        }
        if (!request_check_keys(x, v, ATT_KEYS) ||
            !opt_string(x, v, "filename", SUBMIT_MAX_FILENAME, &out->filename) ||
            !opt_string(x, v, "content_type", 127, &out->content_type) ||
            !opt_string(x, v, "content_base64", ATT_MAX_BYTES / 3 * 4 + 4, &b64))
            return false;
        if (!out->filename || !b64) {
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                        "attachments[%zu]: filename and content_base64 are required", i);
            return false;
        }
        size_t cap = strlen(b64) / 4 * 3 + 3, len = 0;
        uint8_t *data = malloc(cap);
        if (!data) {
            x->oom = true;
            return false;
        }
        if (sodium_base642bin(data, cap, b64, strlen(b64), NULL, &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            free(data);
            api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                        "attachments[%zu].content_base64: not base64 (RFC 4648, with padding)", i);
            return false;
        }
        out->data = data;
        out->len = len;
        l->att_count++;
    }
    return true;
}

static bool read_options(api_ctx *x, json_t *body, submit_request *req)
{
    json_t *o = json_object_get(body, "options");
    if (!o)
        return true;
    if (!json_is_object(o)) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "options: an object is required");
        return false;
    }
    const char *prio;
    if (!request_check_keys(x, o, OPT_KEYS) || !opt_string(x, o, "priority", 16, &prio) ||
        !opt_bool(x, o, "read_receipt", &req->read_receipt) ||
        !opt_bool(x, o, "delivery_receipt", &req->delivery_receipt))
        return false;
    if (prio && strcmp(prio, "high") == 0)
        req->priority = 1;
    else if (prio && strcmp(prio, "low") == 0)
        req->priority = -1;
    else if (prio && strcmp(prio, "normal") != 0) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0, "options.priority: high, normal or low");
        return false;
    }
    return true;
}

static json_t *render_result(const submit_request *req, const submit_result *res)
{
    json_t *out = json_object(), *list = json_array();
    bool ok = out && list;
    for (size_t i = 0; ok && i < res->rcpt_count; i++) {
        const submit_resolved *r = &res->rcpt[i];
        json_t *o = json_object();
        ok = o != NULL;
        ok &= json_set(o, "recipient_type", json_string(KIND_NAMES[req->rcpt[i].kind]));
        ok &= json_set(o, "display_name", render_string_or_null(r->display));
        ok &= json_set(o, "address_type", render_string_or_null(r->addrtype));
        ok &= json_set(o, "address", render_string_or_null(r->address));
        ok &= json_set(o, "transport", render_string_or_null(r->transport));
        ok &= json_array_append_new(list, json_built(o, ok)) == 0;
    }
    ok &= json_set(out, "recipients", list);
    ok &= json_set(out, "entry_id",
                   res->entry_id ? render_hex(res->entry_id, res->entry_id_len) : json_null());
    ok &= json_set(out, "internet_message_id", json_string(res->message_id));
    ok &= json_set(out, "folder", json_string("Outbox"));
    return json_built(out, ok);
}

static void submit_problem(api_ctx *x, HRESULT hr, const submit_result *res)
{
    if (hr == MAPI_E_AMBIGUOUS_RECIP) {
        json_t *extra = json_object();
        bool ok = extra &&
                  json_set(extra, "recipient_index", json_integer((json_int_t)res->bad_index)) &&
                  json_set(extra, "candidates", render_rows(&res->candidates));
        if (!ok) {
            json_decref(extra);
            x->oom = true;
            return;
        }
        api_problem_with(x, hr, 0, extra, "%s", res->why);
        json_decref(extra);
        return;
    }
    if (res->bad_index != SIZE_MAX) {
        json_t *extra = json_pack("{s:I}", "recipient_index", (json_int_t)res->bad_index);
        if (!extra) {
            x->oom = true;
            return;
        }
        api_problem_with(x, hr, hr == MAPI_E_NO_SUPPORT ? 422 : 0, extra, "%s",
                         res->why[0] ? res->why : "the recipient cannot be used");
        json_decref(extra);
        return;
    }
    api_problem(x, hr, hr == MAPI_E_NO_SUPPORT ? 422 : 0, "%s",
                res->why[0] ? res->why : "the message could not be submitted");
}

void h_messages_post(api_ctx *x)
{
    api_auth auth;
    if (!api_authenticate(x, false, &auth))
        return;
    static const char *const NO_QUERY[] = {NULL};
    json_t *body = NULL;
    rcpt_list l = {0};
    submit_request req = {0};
    bool ok = request_check_query(x, NO_QUERY) && (body = request_json_object(x)) &&
              request_check_keys(x, body, MSG_KEYS) && read_recipients(x, body, &l) &&
              opt_string(x, body, "subject", SUBMIT_MAX_SUBJECT, &req.subject) &&
              opt_string(x, body, "body", SUBMIT_MAX_BODY, &req.body) &&
              opt_string(x, body, "html_body", SUBMIT_MAX_BODY, &req.html_body) &&
              read_attachments(x, body, &l) &&
              opt_bool(x, body, "delete_after_submit", &req.delete_after) &&
              read_options(x, body, &req);
    if (ok) {
        req.rcpt = l.rcpt;
        req.rcpt_count = l.count;
        req.att = l.att;
        req.att_count = l.att_count;
        submit_result res;
        HRESULT hr = session_submit_message(auth.session, &req, &res);
        if (HR_FAILED(hr))
            submit_problem(x, hr, &res);
        else
            api_reply_json(x, 202, render_result(&req, &res));
        submit_result_clear(&res);
    }
    api_auth_release(&auth);
    rcpt_list_free(&l);
    json_decref(body);
}

void h_message_options(api_ctx *x)
{
    static const char *const QUERY[] = {"address_type", NULL};
    api_auth auth;
    if (!api_authenticate(x, false, &auth))
        return;
    if (!request_check_query(x, QUERY)) {
        api_auth_release(&auth);
        return;
    }
    bool present = false;
    const char *type = request_query(x, "address_type", &present);
    if (!type || !*type || strlen(type) > 64) {
        api_problem(x, MAPI_E_INVALID_PARAMETER, 0,
                    "address_type: a query parameter of 1 to 64 characters is required");
        api_auth_release(&auth);
        return;
    }
    bool handled = false;
    char transport[256];
    HRESULT hr = session_message_options(auth.session, type, &handled, transport, sizeof transport);
    api_auth_release(&auth);
    if (HR_FAILED(hr)) {
        api_problem(x, hr, 0, "the session cannot answer");
        return;
    }
    if (!handled) {
        api_problem(x, MAPI_E_NOT_FOUND, 0,
                    "no transport of this session handles address type %.64s", type);
        return;
    }
    json_t *out = json_object(), *opts = json_array(), *defaults = json_object();
    bool ok = out && opts && defaults;
    for (size_t i = 0; ok && i < sizeof SMTP_OPTIONS / sizeof SMTP_OPTIONS[0]; i++)
        ok = json_array_append_new(opts, json_string(SMTP_OPTIONS[i])) == 0;
    ok &= json_set(defaults, "priority", json_string("normal"));
    ok &= json_set(defaults, "read_receipt", json_false());
    ok &= json_set(defaults, "delivery_receipt", json_false());
    ok &= json_set(out, "address_type", json_string(type));
    ok &= json_set(out, "transport", json_string(transport));
    ok &= json_set(out, "options", opts);
    ok &= json_set(out, "defaults", defaults);
    api_reply_json(x, 200, json_built(out, ok));
}
