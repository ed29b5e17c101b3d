#!/usr/bin/env bash
# lint-openapi.sh - lints openapi.yaml with the Redocly CLI version pinned in
# tests/openapi/package.json (exact version) and package-lock.json, using the
# rules in tests/openapi/redocly.yaml. Installs the tool with `npm ci` into
# tests/openapi/node_modules when it is missing or not the pinned version, then
# runs it through npx without network access to the registry.
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
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>18||(a===18&&b>=17)?0:1)' ||
  fail "Node.js >= 18.17 is needed, found $(node --version)"

# The pinned version, and the installed one (empty when not installed).
want=$(node -p 'require(process.argv[1]).devDependencies["@redocly/cli"]' "$root/$tools/package.json")
have=$(node -p 'try{require(process.argv[1]).version}catch(e){""}' \
         "$root/$tools/node_modules/@redocly/cli/package.json")
if [ "$have" != "$want" ] || [ ! -x "$tools/node_modules/.bin/redocly" ]; then
  echo "openapi-lint: installing @redocly/cli $want into $tools/node_modules (npm ci)"
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
echo "openapi-lint: OK: $spec passes (@redocly/cli $want, rules in $tools/redocly.yaml)"
