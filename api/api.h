/* api.h - the HTTP API floor: maps one HTTP request to the session core and
 * renders the answer (JSON, problem+json). It knows no sockets: server/ fills
 * an api_request from libmicrohttpd and sends the api_response back, and tests
 * can call api_handle directly.
 *
 * Ownership: api_new borrows the core (it must outlive the api). Responses own
 * their body and header values; api_response_clear frees them.
 *
 * Thread-safety: api_handle may be called concurrently from any number of
 * threads; api_new/api_free may not.
 */
#pragma once

#include "../session-core/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct api api;

typedef struct {
    const char *key;
    const char *value; /* may be NULL ("?flag" without "=") */
} api_kv;

typedef struct {
    const char *method;  /* "GET", ... */
    const char *path;    /* decoded path, without the query string */
    const api_kv *query; /* decoded query arguments */
    size_t query_count;
    const char *authorization; /* Authorization header or NULL */
    const char *content_type;  /* Content-Type header or NULL */
    const char *if_none_match; /* If-None-Match header or NULL */
    const char *body;          /* request body (not NUL-terminated) */
    size_t body_len;
    bool body_too_large;     /* the server stopped reading past the limit */
    const char *client_addr; /* for logs and throttling */
} api_request;

#define API_MAX_HEADERS 8

typedef struct {
    int status;
    const char *content_type; /* static string */
    char *body;               /* malloc'd, may be NULL */
    size_t body_len;
    size_t header_count;
    struct {
        const char *name; /* static string */
        char *value;      /* malloc'd */
    } headers[API_MAX_HEADERS];
    /* For the access log: the MAPI error name of an error answer, or NULL.
     * Static string. */
    const char *mapi_error;
    /* For the access log: the route pattern ("/sessions/{id}"), static. */
    const char *route;
} api_response;

typedef struct {
    const char *admin_key;    /* NULL: admin endpoints are off */
    size_t max_body_bytes;    /* for error details; the server enforces it */
    const char *openapi_yaml; /* served at GET /openapi.yaml (borrowed), or NULL */
    size_t openapi_yaml_len;
    const char *version; /* reported by /healthz */
} api_config;

/* Copies what it needs from cfg. NULL when out of memory. */
api *api_new(core *c, const api_config *cfg);
void api_free(api *a);

/* Handles one complete request; *resp is overwritten (zero it first or clear
 * a previous one). Always produces a response, even when out of memory (a
 * static 503 body then: release responses only with api_response_clear).
 * HEAD is answered as GET, body included so that Content-Length matches; the
 * server must not send the body of a HEAD response. */
void api_handle(api *a, const api_request *req, api_response *resp);
void api_response_clear(api_response *resp);

/* For the server's readiness and shutdown: true while the api answers
 * logons (profiles loaded, not shutting down). api_new returns a ready api;
 * while not ready, /readyz and POST /sessions answer 503
 * MAPI_E_NOT_INITIALIZED. */
void api_set_ready(api *a, bool ready);
