#!/usr/bin/env bash
# codegen-test.sh [MAPIGW_BIN] - openapi.yaml as code generators see it:
#   1. every CORS preflight (OPTIONS) and static-file operation (the console,
#      the docs) is marked x-internal, which openapi-generator (7.3+) skips
#      and Redocly's remove-x-internal decorator removes;
#   2. bundles openapi.yaml without them (pinned @redocly/cli, tests/openapi;
#      tests/codegen/redocly.yaml) and checks none is left;
#   3. generates a TypeScript client with the pinned openapi-typescript-codegen
#      and compiles it with the pinned TypeScript (tests/codegen/package.json
#      and package-lock.json; `npm ci` on first use), into build/codegen;
#   4. runs tests/codegen/client-test.mjs: the generated client logs on to the
#      real binary, reads the status table and logs off.
# Exit status 0 when every step passes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${1:-$root/build/release/mapigw}
out=$root/build/codegen
fail() { echo "codegen-test: FAILED: $*" >&2; exit 1; }

for tool in node npm npx; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool is needed (Debian: apt-get install nodejs npm, or scripts/install-deps.sh test)"
done
[ -x "$bin" ] || fail "no gateway binary at $bin (make first)"

# Pinned tools at their pinned versions, else npm ci (as scripts/lint-openapi.sh does).
pinned_ok() { # dir pkg...
  local dir=$1 pkg want have; shift
  for pkg in "$@"; do
    want=$(node -p 'require(process.argv[1]).devDependencies[process.argv[2]]' "$root/$dir/package.json" "$pkg")
    have=$(node -p 'try{require(process.argv[1]).version}catch(e){""}' "$root/$dir/node_modules/$pkg/package.json")
    [ "$have" = "$want" ] || return 1
  done
}
if ! pinned_ok tests/openapi @redocly/cli; then
  echo "codegen-test: installing the pinned linter tools into tests/openapi/node_modules (npm ci)"
  (cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci in tests/openapi"
fi
if ! pinned_ok tests/codegen openapi-typescript-codegen typescript; then
  echo "codegen-test: installing the pinned generator into tests/codegen/node_modules (npm ci)"
  (cd tests/codegen && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci in tests/codegen"
fi

rm -rf "$out" && mkdir -p "$out"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
(cd tests/openapi && npx --no -- redocly bundle "$root/openapi.yaml" --ext json -o "$out/openapi.full.json") \
  >"$out/bundle.log" 2>&1 || { cat "$out/bundle.log" >&2; fail "redocly bundle openapi.yaml"; }
(cd tests/openapi && npx --no -- redocly bundle "$root/openapi.yaml" --config "$root/tests/codegen/redocly.yaml" \
   --remove-unused-components --ext json -o "$out/openapi.client.json") \
  >>"$out/bundle.log" 2>&1 || { cat "$out/bundle.log" >&2; fail "redocly bundle (remove-x-internal)"; }

# 1 and 2: what is internal is marked, and none of it reaches the client's
# document; paths left without an operation are dropped.
node - "$out/openapi.full.json" "$out/openapi.client.json" <<'JS' || fail "internal operations (above)"
const fs = require('fs');
const [fullPath, clientPath] = process.argv.slice(2);
const full = JSON.parse(fs.readFileSync(fullPath)), client = JSON.parse(fs.readFileSync(clientPath));
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const STATIC = /^(text\/html|text\/javascript|text\/css)/;
const internal = (op, method) => method === 'options' ||
  Object.values(op.responses || {}).some((r) => Object.keys(r.content || {}).some((t) => STATIC.test(t)));
const errs = [];
let marked = 0;
for (const [p, item] of Object.entries(full.paths))
  for (const m of METHODS) {
    const op = item[m];
    if (!op) continue;
    if (internal(op, m) && op['x-internal'] !== true) errs.push(`${m.toUpperCase()} ${p} is a preflight or a static file but not x-internal`);
    if (op['x-internal'] === true) marked++;
  }
let kept = 0;
for (const p of Object.keys(client.paths)) {
  const item = client.paths[p];
  if (!METHODS.some((m) => item[m])) { delete client.paths[p]; continue; }
  for (const m of METHODS) {
    if (!item[m]) continue;
    kept++;
    if (internal(item[m], m)) errs.push(`${m.toUpperCase()} ${p} reached the client's document`);
  }
}
const srv = (full.servers || [])[0] || {};
if (!srv.variables || /127\.0\.0\.1:8080/.test(srv.url)) errs.push(`servers[0] is a fixed URL (${srv.url}), not a template with variables`);
if (errs.length) { console.error(errs.join('\n')); process.exit(1); }
fs.writeFileSync(clientPath, JSON.stringify(client, null, 1));
console.log(`codegen-test: ${marked} internal operations marked and left out; ${kept} operations for the client`);
JS

# 3: generate and compile.
(cd tests/codegen && npx --no -- openapi --input "$out/openapi.client.json" --output "$out/client" \
   --client fetch --name MapigwClient --useOptions) >"$out/generate.log" 2>&1 ||
  { cat "$out/generate.log" >&2; fail "openapi-typescript-codegen"; }
(cd tests/codegen && npx --no -- tsc --outDir "$out/js" --module commonjs --target es2020 --lib es2020,dom \
   --strict --skipLibCheck "$out/client/index.ts") >"$out/tsc.log" 2>&1 ||
  { cat "$out/tsc.log" >&2; fail "the generated client does not compile (tsc --strict)"; }
gen=$(node -p 'require(process.argv[1]).devDependencies["openapi-typescript-codegen"]' "$root/tests/codegen/package.json")
echo "codegen-test: TypeScript client generated (openapi-typescript-codegen $gen) and compiled into $out/js"

# 4: drive the real gateway with it.
node tests/codegen/client-test.mjs "$bin" "$out/js/index.js" || fail "client-test.mjs (above)"
