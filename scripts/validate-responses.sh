#!/usr/bin/env bash
# validate-responses.sh LOGDIR - checks every response the black-box suites
# received against openapi.yaml (a response that drifts from the
# document fails the tests).
#
# With MAPIGW_TEST_LOGS=LOGDIR, tests/support/gw_http.c appends one JSON line per
# response to LOGDIR/responses.jsonl. This script bundles openapi.yaml to JSON with
# the pinned @redocly/cli and runs tests/openapi/validate-responses.mjs (pinned
# ajv + ajv-formats) over the record. The tools are installed with `npm ci` into
# tests/openapi/node_modules when missing or not the pinned versions (as
# scripts/lint-openapi.sh does); nothing else touches the network.
# Exit status: 0 when every response matches, 1 on any drift, 2 on a usage error
# or when nothing was recorded.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 LOGDIR (the MAPIGW_TEST_LOGS folder of a black-box run)" >&2
  exit 2
fi
logdir=$(cd "$1" && pwd)
record=$logdir/responses.jsonl
cd "$(dirname "$0")/.."
root=$PWD
tools=tests/openapi
spec=openapi.yaml

fail() { echo "validate-responses: FAILED: $*" >&2; exit 1; }

if [ ! -s "$record" ]; then
  echo "validate-responses: no responses recorded in $record (were the black-box suites run with" \
       "MAPIGW_TEST_LOGS=$logdir?)" >&2
  exit 2
fi

for tool in node npm npx; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool is needed (Debian: apt-get install nodejs npm, or run scripts/install-deps.sh test)"
done
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=17)||(a===18&&b>=19)?0:1)' ||
  fail "Node.js ^18.19 or >= 20.17 is needed, found $(node --version)"

# Every pinned tool must be installed at its pinned version, else npm ci.
need_ci=0
for pkg in @redocly/cli ajv ajv-formats @stoplight/spectral-cli; do
  want=$(node -p 'require(process.argv[1]).devDependencies[process.argv[2]]' "$root/$tools/package.json" "$pkg")
  have=$(node -p 'try{require(process.argv[1]).version}catch(e){""}' "$root/$tools/node_modules/$pkg/package.json")
  [ "$have" = "$want" ] || need_ci=1
done
if [ "$need_ci" -eq 1 ] || [ ! -x "$tools/node_modules/.bin/redocly" ]; then
  echo "validate-responses: installing the pinned tools into $tools/node_modules (npm ci)"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    fail "npm ci in $tools did not succeed"
fi

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tools" && npx --no -- redocly bundle "$root/$spec" --ext json -o "$tmp/openapi.json" >"$tmp/bundle.out" 2>&1) ||
  { cat "$tmp/bundle.out" >&2; fail "redocly bundle $spec did not succeed"; }
node "$tools/validate-responses.mjs" "$tmp/openapi.json" "$record" ||
  fail "responses in $record drift from $spec (see above)"
