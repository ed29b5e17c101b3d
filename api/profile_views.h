/* profile_views.h - what the profile administration handlers (h_admin.c,
 * h_services.c) share: the views of render_profile.c and request helpers.
 * Private to api/.
 *
 * Views take a profiles-file entry (borrowed) and return a new reference,
 * or NULL when out of memory. Thread-safety: pure functions; the entry must
 * not be changed meanwhile (handlers hold private copies).
 */
#pragma once

#include "api_internal.h"

#include "../session-core/profile_admin.h"

json_t *view_provider(json_t *prov, size_t position);
json_t *view_providers(json_t *svc);
json_t *view_service(json_t *svc);
json_t *view_services(json_t *entry);
json_t *view_profile(json_t *entry, bool is_default, const char *version);

/* Adds ETag: "<version>". */
bool views_etag(api_ctx *x, const char *version);
/* Path parameter i as a C string of fewer than size bytes: false if it does
 * not fit (or holds a NUL). */
bool views_param(api_ctx *x, size_t i, char *out, size_t size);
/* Location: /profiles/<name, percent-encoded>[/services/<uid>]. */
bool views_location(api_ctx *x, const char *name, const char *uid);

/* The services handlers of h_services.c. */
void h_profile_services(api_ctx *x);        /* GET /profiles/{name}/services */
void h_profile_service_add(api_ctx *x);     /* POST /profiles/{name}/services */
void h_profile_service(api_ctx *x);         /* GET /profiles/{name}/services/{uid} */
void h_profile_service_patch(api_ctx *x);   /* PATCH /profiles/{name}/services/{uid} */
void h_profile_service_delete(api_ctx *x);  /* DELETE /profiles/{name}/services/{uid} */
void h_profile_service_providers(api_ctx *x); /* GET .../services/{uid}/providers */
void h_own_services(api_ctx *x);            /* GET /services */
void h_own_service(api_ctx *x);             /* GET /services/{uid} */
void h_own_service_patch(api_ctx *x);       /* PATCH /services/{uid} */
void h_own_service_providers(api_ctx *x);   /* GET /services/{uid}/providers */
/* The profile handlers of h_admin.c. */
void h_profile_create(api_ctx *x);   /* POST /profiles */
void h_profile_get(api_ctx *x);      /* GET /profiles/{name} */
void h_profile_patch(api_ctx *x);    /* PATCH /profiles/{name} */
void h_profile_delete(api_ctx *x);   /* DELETE /profiles/{name} */
void h_profile_password(api_ctx *x); /* PUT /profiles/{name}/password */

/* The administrator, for a handler: NULL with 501 written when there is
 * none (a core without a profiles file, as in unit tests). Admin routes
 * check the key first (403). */
profile_admin *views_admin(api_ctx *x);
/* Answers a failed profile_admin call (its err as detail). */
void views_problem(api_ctx *x, HRESULT hr, const char *err);
