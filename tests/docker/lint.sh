#!/usr/bin/env bash
# lint.sh [DOCKERFILE] - lints docker/Dockerfile with the linters pinned in
# tests/docker/package.json (dockerfilelint, dockerfile-utils), installing them
# from package-lock.json on first use (npm ci). Fails on any finding.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
file=$(realpath "${1:-$here/../../docker/Dockerfile}")
cd "$here"
if [ ! -x node_modules/.bin/dockerfilelint ] || [ ! -x node_modules/.bin/dockerfile-utils ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
status=0

echo "== dockerfilelint $(node -p 'require("dockerfilelint/package.json").version') $file"
node_modules/.bin/dockerfilelint -c "$here" "$file" || status=1

echo "== dockerfile-utils $(node -p 'require("dockerfile-utils/package.json").version') lint $file"
out=$(node_modules/.bin/dockerfile-utils lint "$file" 2>&1) || status=1
# dockerfile-utils prints its diagnostics (warnings included) and may still exit 0.
if [ -n "$out" ]; then printf '%s\n' "$out"; status=1; fi

# Replaces dockerfilelint's missing_tag (off in .dockerfilelintrc): every FROM
# is ${BASE} with a tagged default, a build stage, or a tagged image.
stages=$(sed -n 's/^FROM .* AS \([A-Za-z0-9_-]*\).*/\1/Ip' "$file")
grep -q '^ARG BASE=[^[:space:]]*:[^[:space:]]\+$' "$file" || { echo "ARG BASE needs a tagged default" >&2; status=1; }
while read -r _ img _; do
  case "$img" in '${BASE}'|scratch|*:*|*@*) continue ;; esac
  grep -qx "$img" <<<"$stages" && continue
  echo "FROM $img: untagged image" >&2; status=1
done < <(grep -i '^FROM ' "$file")

[ $status -eq 0 ] && echo "docker lint: ok"
exit $status
