#!/usr/bin/env bash
# fetch-redoc.sh [--check] - makes sure .cache/redoc holds Redoc's standalone
# bundle (redoc.standalone.js) at the pinned version, for GET /docs
# (scripts/build-docs.sh compiles it into the binary). Fetched once with
# `npm pack` (the package's tarball alone, no dependencies: the bundle is
# self-contained), checked against the pinned sha512 integrity, then kept:
# later builds, `make clean` included, need no network. The image build finds
# it in its context (.dockerignore lets .cache/redoc through).
#   --check  exit 0 when the bundle is there, 1 when it is not; fetch nothing.
# Exit status: 0 ready, 1 missing (--check) or the fetch failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the version and the registry's integrity of its tarball
# (`npm view redoc@VERSION dist.integrity`). Change both together.
REDOC_VERSION=2.5.3
REDOC_INTEGRITY=sha512-bBbat+Sx6xKWdyoCGTtA0BWeTEW9Vs4VnEja7q7ZLOk4IM7cHQLrf+kDxWF6dKeKxT8kOBnoy/OsNXCeLttpyQ==

dir=.cache/redoc
out=$dir/redoc-$REDOC_VERSION.standalone.js
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi
[ "${1:-}" = --check ] && exit 1

fail() { echo "fetch-redoc: $*" >&2; exit 1; }
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool is needed once to fetch Redoc $REDOC_VERSION for /docs (Debian: apt-get install nodejs npm, or scripts/install-deps.sh build)"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-redoc: fetching redoc@$REDOC_VERSION with npm pack (once; kept in $dir)" >&2
(cd "$tmp" && npm pack "redoc@$REDOC_VERSION" --silent --no-fund --no-audit >/dev/null 2>"$tmp/npm.log") ||
  { cat "$tmp/npm.log" >&2; fail "npm pack redoc@$REDOC_VERSION failed"; }
tgz=$tmp/redoc-$REDOC_VERSION.tgz
[ -s "$tgz" ] || fail "npm pack left no $tgz"
got=$(node -e '
  const c = require("crypto"), fs = require("fs");
  console.log("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));
' "$tgz")
[ "$got" = "$REDOC_INTEGRITY" ] || fail "redoc-$REDOC_VERSION.tgz has integrity $got, pinned $REDOC_INTEGRITY"
tar -xzf "$tgz" -C "$tmp" package/bundles/redoc.standalone.js package/LICENSE ||
  fail "no bundles/redoc.standalone.js in redoc-$REDOC_VERSION.tgz"
mkdir -p "$dir"
cp "$tmp/package/LICENSE" "$dir/LICENSE-redoc-$REDOC_VERSION"
mv "$tmp/package/bundles/redoc.standalone.js" "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
