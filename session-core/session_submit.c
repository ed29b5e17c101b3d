/* session_submit.c - IMessage::SubmitMessage and the MAPI spooler
 * (docs/contract/mapi.md, "Submitting messages").
 *
 * Submit: recipients are resolved (address-book entry ids opened, lone
 * display names resolved as IAddrBook::ResolveName does), each one routed to
 * the first transport of the profile's order that handles its address type,
 * the message written to the default store's Outbox and then queued, once per
 * transport, with the spooler's envelope (X-Mapigw-Rcpt: the recipients that
 * transport takes; X-Mapigw-Outbox: the Outbox copy; X-Mapigw-Options). The
 * transports deliver from their durable queues (outq.h) when polled.
 *
 * Outcomes: after transports ran, session_spool_outcomes moves each finished
 * message's Outbox copy to Sent Items (or deletes it: DELETE_AFTER_SUBMIT)
 * and puts a non-delivery report (refused for good) or a delivery report
 * (delivered, when asked for) into the Inbox.
 *
 * Locking: resolution uses the session's public calls (each takes the lock);
 * routing, the Outbox copy and the queueing run under the session lock, each
 * provider call under its instance's lock.
 */
#include "session_internal.h"

#include "mapi_flags.h"
#include "submit_mime.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OUTBOX "Outbox"
#define SENT_ITEMS "Sent Items"
#define INBOX "INBOX"
#define NAME_MAX_LEN 128

void submit_result_clear(submit_result *r)
{
    if (!r)
        return;
    free(r->entry_id);
    for (size_t i = 0; i < r->rcpt_count; i++) {
        free(r->rcpt[i].display);
        free(r->rcpt[i].addrtype);
        free(r->rcpt[i].address);
        free(r->rcpt[i].transport);
    }
    free(r->rcpt);
    mapi_rows_clear(&r->candidates);
    memset(r, 0, sizeof *r);
}

static const char *prop_str(const mapi_object *o, uint32_t tag)
{
    const mapi_prop *p = mapi_object_find(o, tag);
    return p ? p->v.str : NULL;
}

static HRESULT set_resolved(submit_resolved *r, const char *display, const char *addrtype,
                            const char *address)
{
    r->display = display ? strdup(display) : NULL;
    r->addrtype = strdup(addrtype);
    r->address = strdup(address);
    return (display && !r->display) || !r->addrtype || !r->address ? MAPI_E_NOT_ENOUGH_MEMORY
                                                                   : S_OK;
}

/* ResolveName on one display name: one match resolves; several are
 * ambiguous unless exactly one matches the name in full (display name or
 * address, case-insensitively); none is MAPI_E_NOT_FOUND. */
static HRESULT resolve_name(session *s, const char *name, submit_resolved *r, submit_result *out)
{
    mapi_rows books, entries;
    size_t total = 0;
    HRESULT hr = session_address_book(s, name, 0, SUBMIT_MAX_CANDIDATES, &books, &entries, &total);
    mapi_rows_clear(&books);
    if (HR_FAILED(hr))
        return hr;
    const mapi_object *pick = NULL;
    size_t exact = 0;
    for (size_t i = 0; i < entries.count; i++) {
        const char *d = prop_str(&entries.rows[i], PR_DISPLAY_NAME);
        const char *a = prop_str(&entries.rows[i], PR_EMAIL_ADDRESS);
        if ((d && strcasecmp(d, name) == 0) || (a && strcasecmp(a, name) == 0)) {
            exact++;
            pick = &entries.rows[i];
        }
    }
    if (entries.count == 1)
        pick = &entries.rows[0];
    else if (exact != 1)
        pick = NULL;
    if (!pick) {
        if (entries.count == 0) {
            snprintf(out->why, sizeof out->why, "no address-book entry matches \"%.64s\"", name);
            hr = MAPI_E_NOT_FOUND;
        } else {
            snprintf(out->why, sizeof out->why, "%zu address-book entries match \"%.64s\"", total,
                     name);
            out->candidates = entries;
            return MAPI_E_AMBIGUOUS_RECIP;
        }
    } else {
        const char *t = prop_str(pick, PR_ADDRTYPE), *a = prop_str(pick, PR_EMAIL_ADDRESS);
        if (!t || !a) {
            snprintf(out->why, sizeof out->why, "\"%.64s\" has no address", name);
            hr = MAPI_E_NOT_FOUND;
        } else {
            hr = set_resolved(r, prop_str(pick, PR_DISPLAY_NAME), t, a);
        }
    }
    mapi_rows_clear(&entries);
    return hr;
}

static HRESULT resolve_entry(session *s, const submit_recipient *in, submit_resolved *r,
                             submit_result *out)
{
    mapi_object o;
    HRESULT hr = session_open_entry(s, in->entry_id, in->entry_id_len, &o);
    if (HR_FAILED(hr)) {
        snprintf(out->why, sizeof out->why, "the entry id names no address-book entry");
        return hr;
    }
    const char *t = prop_str(&o, PR_ADDRTYPE), *a = prop_str(&o, PR_EMAIL_ADDRESS);
    if (o.object_type != MAPI_MAILUSER || !t || !a) {
        snprintf(out->why, sizeof out->why, "the entry id is not a mail user with an address");
        hr = MAPI_E_INVALID_PARAMETER;
    } else {
        hr = set_resolved(r, in->display ? in->display : prop_str(&o, PR_DISPLAY_NAME), t, a);
    }
    mapi_object_clear(&o);
    return hr;
}

static HRESULT resolve_all(session *s, const submit_request *req, submit_result *out)
{
    out->rcpt = calloc(req->rcpt_count ? req->rcpt_count : 1, sizeof *out->rcpt);
    if (!out->rcpt)
        return MAPI_E_NOT_ENOUGH_MEMORY;
    out->rcpt_count = req->rcpt_count;
    for (size_t i = 0; i < req->rcpt_count; i++) {
        const submit_recipient *in = &req->rcpt[i];
        submit_resolved *r = &out->rcpt[i];
        out->bad_index = i;
        HRESULT hr;
        if (in->entry_id)
            hr = resolve_entry(s, in, r, out);
        else if (in->address && in->addrtype)
            hr = set_resolved(r, in->display, in->addrtype, in->address);
        else if (in->display && !in->address && !in->addrtype)
            hr = resolve_name(s, in->display, r, out);
        else {
            snprintf(out->why, sizeof out->why,
                     "a recipient needs an entry_id, an address_type and address, or a "
                     "display_name to resolve");
            hr = MAPI_E_INVALID_PARAMETER;
        }
        if (HR_SUCCEEDED(hr) && (!mime_header_safe(r->addrtype) || !mime_header_safe(r->address) ||
                                 (r->display && !mime_header_safe(r->display)))) {
            snprintf(out->why, sizeof out->why, "control characters in a recipient");
            hr = MAPI_E_INVALID_PARAMETER;
        }
        if (HR_SUCCEEDED(hr) && strcasecmp(r->addrtype, "SMTP") == 0 &&
            !mime_smtp_address(r->address)) {
            snprintf(out->why, sizeof out->why, "not an SMTP address: \"%.64s\"", r->address);
            hr = MAPI_E_INVALID_PARAMETER;
        }
        if (HR_FAILED(hr))
            return hr;
    }
    return S_OK;
}

/* The sender: the session's identity (QueryIdentity's row) when it is an
 * SMTP one; else none (the transport's "from" setting stands in). */
static HRESULT sender_of(session *s, char **display, char **address)
{
    *display = *address = NULL;
    status_table t;
    HRESULT hr = session_status_table(s, &t);
    if (HR_FAILED(hr))
        return hr;
    size_t i = identity_source(t.rows, t.count);
    if (i != SIZE_MAX && t.rows[i].identity_addrtype &&
        strcasecmp(t.rows[i].identity_addrtype, "SMTP") == 0 && t.rows[i].identity_address &&
        mime_smtp_address(t.rows[i].identity_address)) {
        *address = strdup(t.rows[i].identity_address);
        if (t.rows[i].identity_display && mime_header_safe(t.rows[i].identity_display))
            *display = strdup(t.rows[i].identity_display);
        if (!*address)
            hr = MAPI_E_NOT_ENOUGH_MEMORY;
    }
    status_table_free(&t);
    return hr;
}

static void add_list(mime_buf *b, const char *field, const submit_request *req,
                     const submit_result *r, submit_kind kind)
{
    bool first = true;
    for (size_t i = 0; i < req->rcpt_count; i++) {
        /* Headers carry Internet addresses only; a recipient of another
         * address type is in its transport's envelope alone. */
        if (req->rcpt[i].kind != kind || strcasecmp(r->rcpt[i].addrtype, "SMTP") != 0)
            continue;
        mime_add(b, first ? field : ",\r\n ");
        mime_add_mailbox(b, r->rcpt[i].display, r->rcpt[i].address);
        first = false;
    }
    if (!first)
        mime_add(b, "\r\n");
}

/* The text (text/plain, or multipart/alternative with text/html too), as
 * header fields, a blank line and the body. */
static void add_text(mime_buf *b, const submit_request *req)
{
    static const char PLAIN[] = "Content-Type: text/plain; charset=utf-8\r\n"
                                "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    if (!req->html_body) {
        mime_add(b, PLAIN);
        mime_add_qp(b, req->body ? req->body : "");
        return;
    }
    char bd[MIME_BOUNDARY_LEN];
    mime_boundary(bd);
    mime_addf(b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n--%s\r\n", bd, bd);
    mime_add(b, PLAIN);
    mime_add_qp(b, req->body ? req->body : "");
    mime_addf(b,
              "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
              bd);
    mime_add_qp(b, req->html_body);
    mime_addf(b, "--%s--\r\n", bd);
}

/* The content: the text alone, or multipart/mixed with the attachments. */
static void add_content(mime_buf *b, const submit_request *req)
{
    if (!req->att_count) {
        add_text(b, req);
        return;
    }
    char bd[MIME_BOUNDARY_LEN];
    mime_boundary(bd);
    mime_addf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\n", bd, bd);
    add_text(b, req);
    for (size_t i = 0; i < req->att_count; i++) {
        const submit_attachment *a = &req->att[i];
        mime_addf(b, "--%s\r\nContent-Type: %s\r\nContent-Disposition: attachment", bd,
                  a->content_type ? a->content_type : "application/octet-stream");
        mime_add_filename_params(b, a->filename);
        mime_add(b, "\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        mime_add_base64(b, a->data, a->len);
    }
    mime_addf(b, "--%s--\r\n", bd);
}

/* The message as the recipients get it (no Bcc field: MAPI_BCC recipients
 * are only in the envelope). */
static HRESULT build_message(session *s, const submit_request *req, submit_result *r, mime_buf *b)
{
    char *from_display, *from;
    HRESULT hr = sender_of(s, &from_display, &from);
    if (HR_FAILED(hr))
        return hr;
    uint8_t rnd[12];
    char hex[25];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(r->message_id, sizeof r->message_id, "<%s@mapigw.invalid>", hex);
    if (from) {
        mime_add(b, "From: ");
        mime_add_mailbox(b, from_display, from);
        mime_add(b, "\r\n");
    }
    add_list(b, "To: ", req, r, SUBMIT_TO);
    add_list(b, "Cc: ", req, r, SUBMIT_CC);
    mime_add(b, "Subject: ");
    mime_add_unstructured(b, req->subject ? req->subject : "");
    mime_add(b, "\r\nDate: ");
    mime_add_date(b);
    mime_addf(b, "\r\nMessage-ID: %s\r\n", r->message_id);
    if (req->priority > 0)
        mime_add(b, "X-Priority: 1\r\nImportance: high\r\n");
    else if (req->priority < 0)
        mime_add(b, "X-Priority: 5\r\nImportance: low\r\n");
    if (req->read_receipt && from) {
        mime_add(b, "Disposition-Notification-To: ");
        mime_add_mailbox(b, from_display, from);
        mime_add(b, "\r\n");
    }
    mime_add(b, "MIME-Version: 1.0\r\n");
    add_content(b, req);
    free(from_display);
    free(from);
    return b->oom ? MAPI_E_NOT_ENOUGH_MEMORY : S_OK;
}

/* The default store's instance (session lock held), or NULL. */
static provider_inst *default_store(session *s)
{
    const session_view *v = session_view_of(s);
    for (size_t i = 0; i < v->provider_count; i++) {
        provider_inst *pi = v->providers[i];
        if (pi->ops->resource_type == MAPI_STORE_PROVIDER &&
            (provider_config_resource_flags(pi->cfg) & STATUS_DEFAULT_STORE))
            return pi;
    }
    return NULL;
}

static bool transport_handles(provider_inst *pi, const char *addrtype)
{
    if (pi->ops->resource_type != MAPI_TRANSPORT_PROVIDER || !pi->ops->handles || !pi->ops->submit)
        return false;
    pinst_lock(pi);
    bool yes = pi->ops->handles(pi->state, addrtype);
    pinst_unlock(pi);
    return yes;
}

/* route[i]: the index in the view of recipient i's transport. */
static HRESULT route_all(session *s, submit_result *r, size_t *route)
{
    const session_view *v = session_view_of(s);
    size_t transports = 0;
    for (size_t i = 0; i < v->provider_count; i++)
        transports += v->providers[i]->ops->resource_type == MAPI_TRANSPORT_PROVIDER;
    if (v->no_mail || (session_flags(s) & MAPI_NO_MAIL)) {
        snprintf(r->why, sizeof r->why, "the session logged on with MAPI_NO_MAIL: no spooler");
        return MAPI_E_NO_SUPPORT;
    }
    if (!transports) {
        snprintf(r->why, sizeof r->why, "the session has no transport provider");
        return MAPI_E_NO_SUPPORT;
    }
    for (size_t k = 0; k < r->rcpt_count; k++) {
        route[k] = SIZE_MAX;
        for (size_t i = 0; i < v->provider_count && route[k] == SIZE_MAX; i++)
            if (transport_handles(v->providers[i], r->rcpt[k].addrtype))
                route[k] = i;
        if (route[k] == SIZE_MAX) {
            r->bad_index = k;
            snprintf(r->why, sizeof r->why,
                     "no transport of this session handles address type %.32s",
                     r->rcpt[k].addrtype);
            return MAPI_E_NO_SUPPORT;
        }
        r->rcpt[k].transport = strdup(provider_config_display_name(v->providers[route[k]]->cfg));
        if (!r->rcpt[k].transport)
            return MAPI_E_NOT_ENOUGH_MEMORY;
    }
    return S_OK;
}

/* Queues msg on transport t with the envelope of the recipients routed to
 * it. */
static HRESULT queue_on(provider_inst *t, size_t ti, const submit_request *req, submit_result *r,
                        const size_t *route, const char *outbox, const mime_buf *msg)
{
    mime_buf env = {0};
    for (size_t k = 0; k < r->rcpt_count; k++) {
        if (route[k] != ti)
            continue;
        if (strcasecmp(r->rcpt[k].addrtype, "SMTP") == 0)
            mime_addf(&env, "X-Mapigw-Rcpt: <%.320s>\r\n", r->rcpt[k].address);
        else
            mime_addf(&env, "X-Mapigw-Rcpt-Other: %.64s:%.320s\r\n", r->rcpt[k].addrtype,
                      r->rcpt[k].address);
    }
    mime_addf(&env, "X-Mapigw-Outbox: %s\r\n", outbox);
    if (req->delete_after || req->delivery_receipt)
        mime_addf(&env, "X-Mapigw-Options: %s%s\r\n",
                  req->delete_after ? "delete-after-submit " : "",
                  req->delivery_receipt ? "delivery-report" : "");
    mime_add(&env, msg->p);
    HRESULT hr = env.oom ? MAPI_E_NOT_ENOUGH_MEMORY : S_OK;
    if (HR_SUCCEEDED(hr)) {
        char why[200] = "";
        pinst_lock(t);
        hr = t->ops->submit(t->state, env.p, env.len, why, sizeof why);
        pinst_unlock(t);
        if (HR_FAILED(hr))
            snprintf(r->why, sizeof r->why, "%s: %s", provider_config_display_name(t->cfg), why);
    }
    mime_buf_free(&env);
    return hr;
}

HRESULT session_submit_message(session *s, const submit_request *req, submit_result *out)
{
    memset(out, 0, sizeof *out);
    out->bad_index = SIZE_MAX;
    if (req->rcpt_count == 0 || req->rcpt_count > SUBMIT_MAX_RECIPIENTS) {
        snprintf(out->why, sizeof out->why, "1 to %d recipients are required",
                 SUBMIT_MAX_RECIPIENTS);
        return MAPI_E_INVALID_PARAMETER;
    }
    if (req->subject && !mime_header_safe(req->subject)) {
        snprintf(out->why, sizeof out->why, "subject: control characters or not UTF-8");
        return MAPI_E_INVALID_PARAMETER;
    }
    if (req->att_count > SUBMIT_MAX_ATTACHMENTS) {
        snprintf(out->why, sizeof out->why, "at most %d attachments", SUBMIT_MAX_ATTACHMENTS);
        return MAPI_E_INVALID_PARAMETER;
    }
    for (size_t i = 0; i < req->att_count; i++) {
        const submit_attachment *a = &req->att[i];
        if (!a->filename || !*a->filename || strlen(a->filename) > SUBMIT_MAX_FILENAME ||
            !mime_header_safe(a->filename) ||
            (a->content_type && !mime_content_type_ok(a->content_type))) {
            snprintf(out->why, sizeof out->why,
                     "attachments[%zu]: a filename of 1 to %d bytes without control characters "
                     "and a plain type/subtype are required",
                     i, SUBMIT_MAX_FILENAME);
            return MAPI_E_INVALID_PARAMETER;
        }
    }
    HRESULT hr = resolve_all(s, req, out);
    if (HR_FAILED(hr))
        return hr;
    out->bad_index = SIZE_MAX;
    mime_buf msg = {0};
    hr = build_message(s, req, out, &msg);
    size_t *route = calloc(out->rcpt_count, sizeof *route);
    if (HR_SUCCEEDED(hr) && !route)
        hr = MAPI_E_NOT_ENOUGH_MEMORY;
    if (HR_FAILED(hr)) {
        free(route);
        mime_buf_free(&msg);
        return hr;
    }
    session_lock(s);
    if (atomic_load(&s->ended))
        hr = MAPI_E_END_OF_SESSION;
    if (HR_SUCCEEDED(hr))
        hr = route_all(s, out, route);
    provider_inst *store = HR_SUCCEEDED(hr) ? default_store(s) : NULL;
    if (HR_SUCCEEDED(hr) && (!store || !store->ops->put_message)) {
        snprintf(out->why, sizeof out->why, "no default message store with an Outbox");
        hr = MAPI_E_NOT_FOUND;
    }
    char name[NAME_MAX_LEN] = "";
    if (HR_SUCCEEDED(hr)) {
        pinst_lock(store);
        hr = store->ops->put_message(store->state, OUTBOX, msg.p, msg.len, name, sizeof name);
        uint8_t *key = NULL;
        size_t key_len = 0;
        if (HR_SUCCEEDED(hr) && store->ops->message_key &&
            HR_SUCCEEDED(store->ops->message_key(store->state, OUTBOX, name, &key, &key_len)))
            hr = entryid_build(store->uid, key, key_len, &out->entry_id, &out->entry_id_len);
        free(key);
        pinst_unlock(store);
        if (HR_FAILED(hr) && !out->why[0])
            snprintf(out->why, sizeof out->why, "the Outbox copy could not be written");
    }
    /* Once per transport, in the profile's order. */
    const session_view *v = session_view_of(s);
    for (size_t ti = 0; HR_SUCCEEDED(hr) && ti < v->provider_count; ti++) {
        bool used = false;
        for (size_t k = 0; k < out->rcpt_count; k++)
            used |= route[k] == ti;
        if (used)
            hr = queue_on(v->providers[ti], ti, req, out, route, name, &msg);
    }
    if (HR_SUCCEEDED(hr))
        (void)session_refresh_rows(s); /* queued counts; out of memory: the next poll */
    session_unlock(s);
    free(route);
    mime_buf_free(&msg);
    return hr;
}

HRESULT session_message_options(session *s, const char *addrtype, bool *handled, char *transport,
                                size_t transport_len)
{
    *handled = false;
    transport[0] = '\0';
    session_lock(s);
    HRESULT hr = atomic_load(&s->ended) ? MAPI_E_END_OF_SESSION : S_OK;
    const session_view *v = session_view_of(s);
    for (size_t i = 0; HR_SUCCEEDED(hr) && !*handled && i < v->provider_count; i++)
        if (!v->no_mail && transport_handles(v->providers[i], addrtype)) {
            *handled = true;
            snprintf(transport, transport_len, "%s",
                     provider_config_display_name(v->providers[i]->cfg));
        }
    session_unlock(s);
    return hr;
}

/* ---- the spooler's second half ----------------------------------------- */

/* A non-delivery or delivery report for o into the store's Inbox; a
 * report that cannot be written is lost (the row of the store says why the
 * store fails, if it does). */
static void put_report(provider_inst *store, const provider_outcome *o)
{
    mime_buf b = {0};
    submit_report(o, &b);
    if (!b.oom) {
        char name[NAME_MAX_LEN];
        (void)store->ops->put_message(store->state, INBOX, b.p, b.len, name, sizeof name);
    }
    mime_buf_free(&b);
}

void session_spool_outcomes(session *s)
{
    const session_view *v = session_view_of(s);
    provider_inst *store = default_store(s);
    for (size_t i = 0; i < v->provider_count; i++) {
        provider_inst *t = v->providers[i];
        if (!t->ops->take_outcomes)
            continue;
        for (;;) {
            provider_outcome batch[8];
            pinst_lock(t);
            size_t n = t->ops->take_outcomes(t->state, batch, 8);
            pinst_unlock(t);
            for (size_t k = 0; k < n; k++) {
                provider_outcome *o = &batch[k];
                if (store && store->ops->move_message) {
                    pinst_lock(store);
                    (void)store->ops->move_message(store->state, OUTBOX, o->outbox,
                                                   o->delete_after ? NULL : SENT_ITEMS);
                    if (store->ops->put_message && (!o->delivered || o->delivery_report))
                        put_report(store, o);
                    pinst_unlock(store);
                }
                provider_outcome_clear(o);
            }
            if (n < 8)
                break;
        }
    }
}
