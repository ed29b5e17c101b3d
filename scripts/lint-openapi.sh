#!/usr/bin/env bash
# lint-openapi.sh - lints openapi.yaml with the Redocly CLI and Spectral CLI
# versions pinned in tests/openapi/package.json (exact versions) and
# package-lock.json, using the rules in tests/openapi/redocly.yaml and
# tests/openapi/.spectral.yaml (spectral:oas; a warning fails too). Installs the
# tools with `npm ci` into tests/openapi/node_modules when one is missing or not
# the pinned version, then runs them through npx without network access to the
# registry.
# Exit status: 0 when the document has no error, non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=tests/openapi
spec=openapi.yaml

fail() { echo "openapi-lint: FAILED: $*" >&2; exit 1; }

for tool in node npm npx; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool is needed (Debian: apt-get install nodejs npm, or run scripts/install-deps.sh test)"
done
# The strictest engines field of the pinned tree (@stoplight/spectral-cli, @opentelemetry via Redocly).
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=17)||(a===18&&b>=19)?0:1)' ||
  fail "Node.js ^18.19 or >= 20.17 is needed, found $(node --version)"

# The pinned versions, and the installed ones (empty when not installed).
pinned() { node -p 'require(process.argv[1]).devDependencies[process.argv[2]]' "$root/$tools/package.json" "$1"; }
installed() { node -p 'try{require(process.argv[1]).version}catch(e){""}' "$root/$tools/node_modules/$1/package.json"; }
want=$(pinned @redocly/cli)
want_spectral=$(pinned @stoplight/spectral-cli)
if [ "$(installed @redocly/cli)" != "$want" ] || [ "$(installed @stoplight/spectral-cli)" != "$want_spectral" ] ||
   [ ! -x "$tools/node_modules/.bin/redocly" ] || [ ! -x "$tools/node_modules/.bin/spectral" ]; then
  echo "openapi-lint: installing @redocly/cli $want and @stoplight/spectral-cli $want_spectral into $tools/node_modules (npm ci)"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    fail "npm ci in $tools did not succeed"
fi

# info.version must be the release in VERSION (the binary serves this document).
spec_version=$(sed -n 's/^  version: *//p' "$spec" | head -n 1)
[ "$spec_version" = "$(cat VERSION)" ] ||
  fail "$spec says info.version '$spec_version' but VERSION says '$(cat VERSION)'"

# No usage telemetry and no update check: linting needs no network.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
status=0
(cd "$tools" && npx --no -- redocly lint --config redocly.yaml "$root/$spec") || status=$?
if [ "$status" -ne 0 ]; then
  fail "$spec has errors (see above; @redocly/cli $want, rules in $tools/redocly.yaml)"
fi
status=0
(cd "$tools" && npx --no -- spectral lint --fail-severity=warn --ruleset .spectral.yaml "$root/$spec") || status=$?
if [ "$status" -ne 0 ]; then
  fail "$spec has errors (see above; @stoplight/spectral-cli $want_spectral, rules in $tools/.spectral.yaml)"
fi
echo "openapi-lint: OK: $spec passes (@redocly/cli $want, rules in $tools/redocly.yaml;" \
     "@stoplight/spectral-cli $want_spectral, rules in $tools/.spectral.yaml)"
