#!/usr/bin/env bash
# build-docs.sh OUT.c - the human-readable API docs (GET /docs) as a C file for
# the binary (scripts/embed.sh): mapigw_docs_html (web/docs.html),
# mapigw_docs_init_js (web/docs-init.js: Redoc renders the gateway's own
# /openapi.yaml) and mapigw_redoc_js (Redoc's standalone bundle, pinned,
# fetched once by scripts/fetch-redoc.sh into .cache/redoc).
#
# The page makes no request to any other host: no inline script, no font
# service, and the bundle's one CDN reference (the side menu's logo) is
# replaced by an empty data: URL. The build fails if any http(s) script,
# stylesheet or font reference is left, or when the bundle cannot be had (no
# npm and no cached copy): a gateway without /docs is not built silently.
set -euo pipefail
out=$(realpath -m "$1")
cd "$(dirname "$0")/.."
mkdir -p "$(dirname "$out")"

bundle=$(scripts/fetch-redoc.sh) || {
  echo "build-docs: Redoc's bundle is missing (see above); /docs needs it" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Redoc's side menu shows a logo from cdn.redoc.ly (no option turns it off):
# point it at an empty data: URL, which fails to load and hides the image.
logo='"https://cdn.redoc.ly/redoc/logo-mini.svg"'
grep -q -F "$logo" "$bundle" || { echo "build-docs: the Redoc logo URL was not found in $bundle" >&2; exit 1; }
sed "s#$logo#\"data:,\"#" "$bundle" >"$work/redoc.standalone.js"
! grep -q -E 'cdn\.redoc(ly)?\.(ly|com)/redoc/[a-z-]+\.(svg|png|js|css)' "$work/redoc.standalone.js" ||
  { echo "build-docs: $bundle still loads from a Redoc CDN" >&2; exit 1; }

# Nothing may load from elsewhere: no http(s) URL in a src= or href= of a
# script, link or style, no @import/url() of one, and no inline script.
if grep -n -o -E '<(script|link|img|iframe)[^>]*(src|href)="(https?:)?//[^"]*"|@import[^;]*(https?:)?//|url\((["'"'"']?)(https?:)?//[^)]*\)|fonts\.googleapis|<script>' \
     web/docs.html web/docs-init.js; then
  echo "build-docs: the docs page refers to another host or holds an inline script (above)" >&2
  exit 1
fi

{
  scripts/embed.sh mapigw_docs_html web/docs.html
  scripts/embed.sh mapigw_docs_init_js web/docs-init.js | sed 1d
  scripts/embed.sh mapigw_redoc_js "$work/redoc.standalone.js" | sed 1d
} >"$work/out.c"
mv "$work/out.c" "$out"
echo "build-docs: $out (Redoc $(basename "$bundle" .standalone.js | sed 's/^redoc-//'), $(wc -c <"$work/redoc.standalone.js") bytes)" >&2
