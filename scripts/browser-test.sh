#!/usr/bin/env bash
# browser-test.sh [GATEWAY_BIN] - the web console, the API docs and CORS in a
# real browser: Debian's /usr/bin/chromium (package chromium), headless,
# driven by playwright-core pinned in tests/browser/package.json (exact
# version) and package-lock.json; installs it with `npm ci` when missing (no
# browser download: playwright-core has none). The gateway is GATEWAY_BIN,
# else $MAPIGW_BIN, else build/release/mapigw. Screenshots go to
# $MAPIGW_TEST_LOGS/browser/ when it is set (make browser-test: the release test
# logs), else build/browser/. Bounded: the whole run is stopped after 120 s.
# Prints "browser-test: N passed, M failed"; exit status non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=tests/browser
bin=$(realpath -m "${1:-${MAPIGW_BIN:-build/release/mapigw}}")

fail() { echo "browser-test: FAILED: $*" >&2; exit 1; }
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed (scripts/install-deps.sh test)"
done
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is needed (Debian: apt-get install chromium)"
[ -x "$bin" ] || fail "no gateway at $bin (make VARIANT=release build/release/mapigw)"

want=$(node -p 'require(process.argv[1]).devDependencies["playwright-core"]' "$PWD/$tools/package.json")
have=$(node -p 'try{require(process.argv[1]).version}catch(e){""}' \
         "$PWD/$tools/node_modules/playwright-core/package.json")
if [ "$have" != "$want" ]; then
  echo "browser-test: installing playwright-core $want into $tools/node_modules (npm ci)"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    fail "npm ci in $tools did not succeed"
fi

mkdir -p build/browser
timeout -k 5 120 node "$tools/browser-test.mjs" "$bin" || {
  status=$?
  [ "$status" -eq 124 ] && echo "browser-test: timed out after 120 s" >&2
  exit "$status"
}
