#!/usr/bin/env bash
# build-docs.sh OUT.c - builds the human-readable API docs (GET /docs) from
# openapi.yaml with the Redocly CLI pinned in tests/openapi, and prints them as
# a C file for the binary (scripts/embed.sh): mapigw_docs_html (the page),
# mapigw_docs_init_js (Redoc's start-up script with the rendered document) and
# mapigw_redoc_js (Redoc's standalone bundle, from the same pinned install).
#
# The page makes no request to any other host: Google Fonts are off
# (--disableGoogleFont), the bundle's CDN <script> is replaced by
# /docs/redoc.standalone.js, and the inline start-up script is moved to
# /docs/init.js (so no script is inline). The build fails if any
# http(s):// script, stylesheet or font reference is left.
#
# Never installs anything: when the pinned tool is not in
# tests/openapi/node_modules (scripts/lint-openapi.sh installs it), or node is
# missing, OUT.c defines no docs symbol and the gateway answers /docs with a 404
# problem saying the docs were not built. Exit status non-zero only when the
# tool is there and the build or the check fails.
set -euo pipefail
out=$(realpath -m "$1")
cd "$(dirname "$0")/.."
tools=tests/openapi
spec=openapi.yaml
mkdir -p "$(dirname "$out")"

stub() {
  echo "build-docs: $1; /docs will answer 404 (run scripts/lint-openapi.sh to install the tool, then make)" >&2
  {
    echo "/* API docs not built: $1. */"
    echo "typedef int mapigw_docs_not_built;"
  } >"$out"
  exit 0
}

command -v node >/dev/null 2>&1 || stub "node not found"
want=$(node -p 'require(process.argv[1]).devDependencies["@redocly/cli"]' "$PWD/$tools/package.json")
have=$(node -p 'try{require(process.argv[1]).version}catch(e){""}' \
         "$PWD/$tools/node_modules/@redocly/cli/package.json")
[ "$have" = "$want" ] && [ -x "$tools/node_modules/.bin/redocly" ] ||
  stub "@redocly/cli $want is not installed in $tools/node_modules"
bundle=$tools/node_modules/redoc/bundles/redoc.standalone.js
[ -f "$bundle" ] || stub "$bundle is missing"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
(cd "$tools" && npx --no -- redocly build-docs "$OLDPWD/$spec" --disableGoogleFont \
   --title "mapigw API" -o "$work/raw.html") >"$work/log" 2>&1 || {
  cat "$work/log" >&2; echo "build-docs: redocly build-docs failed" >&2; exit 1; }

# Move the CDN script and the inline start-up script out of the page.
node - "$work/raw.html" "$work/docs.html" "$work/init.js" <<'JS'
const fs = require('fs');
const [src, page, init] = process.argv.slice(2);
let html = fs.readFileSync(src, 'utf8');
const cdn = /<script src="https:\/\/cdn\.redocly\.com\/[^"]*\/redoc\.standalone\.js"><\/script>/;
if (!cdn.test(html)) { console.error('build-docs: the Redoc CDN <script> was not found'); process.exit(1); }
html = html.replace(cdn, '<script src="/docs/redoc.standalone.js"></script>');
const inline = /<script>([\s\S]*?)<\/script>/g;
const bodies = [];
html = html.replace(inline, (m, body) => { bodies.push(body); return '<script src="/docs/init.js"></script>'; });
if (bodies.length !== 1) { console.error('build-docs: expected one inline script, found ' + bodies.length); process.exit(1); }
fs.writeFileSync(page, html);
// Render on the client instead of hydrating the prerendered markup: Redoc's
// hydration of the CLI's markup mismatches (React errors #418/#423). The
// prerendered text stays in the page until the script replaces it.
const hydrate = 'Redoc.hydrate(__redoc_state, container);';
if (!bodies[0].includes(hydrate)) { console.error('build-docs: Redoc.hydrate call not found'); process.exit(1); }
fs.writeFileSync(init, bodies[0].replace(hydrate,
  'container.replaceChildren();\n      Redoc.init(__redoc_state.spec.data, __redoc_state.options, container);'));
JS

# Redoc's side menu shows a logo from cdn.redoc.ly (no option turns it off):
# point it at an empty data: URL, which fails to load and hides the image.
logo='"https://cdn.redoc.ly/redoc/logo-mini.svg"'
grep -q -F "$logo" "$bundle" || { echo "build-docs: the Redoc logo URL was not found in $bundle" >&2; exit 1; }
sed "s#$logo#\"data:,\"#" "$bundle" >"$work/redoc.standalone.js"
! grep -q -E 'cdn\.redoc(ly)?\.(ly|com)/redoc/[a-z-]+\.(svg|png|js|css)' "$work/redoc.standalone.js" ||
  { echo "build-docs: $bundle still loads from a Redoc CDN" >&2; exit 1; }

# Nothing may load from elsewhere: no http(s) URL in a src= or href= of a
# script, link or style, and no @import/url() of one (SVG namespace URIs and
# links in the text are fine).
if grep -n -o -E '<(script|link|img|iframe)[^>]*(src|href)="(https?:)?//[^"]*"|@import[^;]*(https?:)?//|url\((["'"'"']?)(https?:)?//[^)]*\)|fonts\.googleapis|cdn\.redocly' \
     "$work/docs.html" "$work/init.js"; then
  echo "build-docs: the docs page still refers to another host (above)" >&2
  exit 1
fi

{
  scripts/embed.sh mapigw_docs_html "$work/docs.html"
  scripts/embed.sh mapigw_docs_init_js "$work/init.js" | sed 1d
  scripts/embed.sh mapigw_redoc_js "$work/redoc.standalone.js" | sed 1d
} >"$work/out.c"
mv "$work/out.c" "$out"
echo "build-docs: $out ($(wc -c <"$work/docs.html") + $(wc -c <"$work/init.js") + $(wc -c <"$work/redoc.standalone.js") bytes, @redocly/cli $want)" >&2
