#!/usr/bin/env bash
# install-deps.sh build|test - installs the Debian packages mapigw needs that
# are missing. Runs apt-get as root; otherwise says what to install and fails.
set -euo pipefail

# nodejs and npm fetch Redoc once for /docs (scripts/fetch-redoc.sh); jq is
# what README.md's walkthrough uses to keep the token and ids in variables.
build_pkgs=(build-essential pkg-config libmicrohttpd-dev libjansson-dev libhiredis-dev
            libcurl4-openssl-dev libsodium-dev nodejs npm jq)
test_pkgs=(libcriterion-dev dovecot-imapd slapd ldap-utils python3-aiosmtpd
           clang-14 libclang-rt-14-dev cppcheck valgrind chromium
           redis-server redis-tools redis-sentinel)

case "${1:-build}" in
  build) want=("${build_pkgs[@]}") ;;
  test)  want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  # A tool installed outside dpkg (node, npm) counts as present.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm)    command -v npm  >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "mapigw needs these Debian packages: ${missing[*]}" >&2
  echo "install them as root:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
