/* h_console.c - the files compiled into the binary for browsers: the web
 * console (GET /, /console.js, /console.css, /favicon.svg) and the API docs built from
 * openapi.yaml at build time (GET /docs, /docs/init.js,
 * /docs/redoc.standalone.js). No bearer: they hold no session data (the
 * console asks for the token in the page and keeps it in memory only).
 *
 * Every answer carries a Content-Security-Policy that allows nothing but the
 * gateway itself: the console has no inline script or style at all; the docs
 * page (Redoc) needs inline styles (its CSS-in-JS) and a blob: worker for its
 * search, and nothing more. The api adds Cache-Control: no-store, as on every
 * answer (docs/DECISIONS.md: every response).
 */
#include "api_internal.h"

#include <string.h>

#define CSP_CONSOLE                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "                 \
    "frame-ancestors 'none'"
#define CSP_DOCS                                                                                   \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                    \
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "   \
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct {
    const char *path;
    const char *name; /* api_asset.name */
    const char *content_type;
    const char *csp;
    bool docs; /* built by scripts/build-docs.sh, absent when npm was not there */
} asset_route;

static const asset_route ASSET_ROUTES[] = {
    {"/", "console.html", "text/html; charset=utf-8", CSP_CONSOLE, false},
    {"/console.js", "console.js", "text/javascript; charset=utf-8", CSP_CONSOLE, false},
    {"/console.css", "console.css", "text/css; charset=utf-8", CSP_CONSOLE, false},
    /* Named by the page, so that browsers do not ask for /favicon.ico (a 404
     * is a console error). */
    {"/favicon.svg", "favicon.svg", "image/svg+xml", CSP_CONSOLE, false},
    {"/docs", "docs.html", "text/html; charset=utf-8", CSP_DOCS, true},
    {"/docs/init.js", "docs-init.js", "text/javascript; charset=utf-8", CSP_DOCS, true},
    {"/docs/redoc.standalone.js", "redoc.standalone.js", "text/javascript; charset=utf-8", CSP_DOCS,
     true},
};
#define ASSET_ROUTE_COUNT (sizeof ASSET_ROUTES / sizeof ASSET_ROUTES[0])

static const api_asset *find_asset(const api *a, const char *name)
{
    for (size_t i = 0; i < a->asset_count; i++)
        if (a->assets[i].name && a->assets[i].data && strcmp(a->assets[i].name, name) == 0)
            return &a->assets[i];
    return NULL;
}

void api_set_assets(api *a, const api_asset *assets, size_t count)
{
    a->assets = assets;
    a->asset_count = assets ? count : 0;
}

void h_asset(api_ctx *x)
{
    const char *path = x->req->path ? x->req->path : "";
    const asset_route *r = NULL;
    for (size_t i = 0; i < ASSET_ROUTE_COUNT; i++)
        if (strcmp(ASSET_ROUTES[i].path, path) == 0)
            r = &ASSET_ROUTES[i];
    const api_asset *asset = r ? find_asset(x->a, r->name) : NULL;
    if (!asset) {
        if (r && r->docs)
            api_problem(x, MAPI_E_NOT_FOUND, 0,
                        "the API docs were not built into this binary: building them needs the "
                        "pinned @redocly/cli in tests/openapi (scripts/lint-openapi.sh installs "
                        "it), then make; the document itself is at /openapi.yaml");
        else
            api_problem(x, MAPI_E_NOT_FOUND, 0, "this build carries no web console");
        return;
    }
    api_reply_bytes(x, 200, r->content_type, asset->data, asset->len);
    api_add_header(x, "Content-Security-Policy", r->csp);
    api_add_header(x, "X-Content-Type-Options", "nosniff");
    api_add_header(x, "Referrer-Policy", "no-referrer");
}
