#!/usr/bin/env bash
# check-secrets.sh LOGDIR - the whole-suite secret grep.
#
# The black-box support records every secret a test used (tokens without
# their "mgw_" prefix, passwords, admin keys, forged tokens: gw_add_secret in
# tests/support/gw_assert.c) in LOGDIR/secrets.txt, one per line. This script
# greps every gateway log (LOGDIR/*.log) for every recorded secret, as fixed
# strings, so a token issued in one test and logged by another gateway, or a
# password that reached any log line, is caught across the whole suite. It
# also fails on anything token-like (mgw_ followed by 20 or more URL-safe
# characters) in a log, recorded or not.
#
# Prints "check-secrets: N secrets, M logs, 0 found" and exits 0 when clean;
# otherwise names each file and how many secrets it holds (never the secrets
# themselves: this output lands in CI logs) and exits 1. Exits 2 on a usage
# error or when there is nothing to check (no record or no log: a suite that
# recorded nothing cannot prove anything).
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 LOGDIR (a folder holding secrets.txt and the gateway *.log files)" >&2
    exit 2
fi
dir=$1
record=$dir/secrets.txt

if [ ! -s "$record" ]; then
    echo "check-secrets: no secrets recorded in $record (were the black-box suites run with" \
         "MAPIGW_TEST_LOGS=$dir?)" >&2
    exit 2
fi

shopt -s nullglob
logs=("$dir"/*.log)
shopt -u nullglob
if [ ${#logs[@]} -eq 0 ]; then
    echo "check-secrets: no *.log in $dir" >&2
    exit 2
fi

# Unique, non-empty patterns (one per line; grep -F treats each line as a
# fixed string, so regex characters in a secret mean nothing).
patterns=$(mktemp)
trap 'rm -f "$patterns"' EXIT
LC_ALL=C sort -u "$record" | LC_ALL=C grep -v '^$' >"$patterns" || true
nsecrets=$(wc -l <"$patterns")

found=0
for log in "${logs[@]}"; do
    # -a: a log that holds a stray binary byte is still searched as text.
    n=$(LC_ALL=C grep -a -o -F -f "$patterns" -- "$log" | LC_ALL=C sort -u | wc -l || true)
    if [ "$n" -gt 0 ]; then
        echo "check-secrets: $log: $n recorded secret(s) appear in this log" >&2
        found=$((found + n))
    fi
    t=$(LC_ALL=C grep -a -c -E 'mgw_[A-Za-z0-9_-]{20,}' -- "$log" || true)
    if [ "$t" -gt 0 ]; then
        echo "check-secrets: $log: $t line(s) hold something token-like (mgw_...)" >&2
        found=$((found + t))
    fi
done

echo "check-secrets: $nsecrets secrets, ${#logs[@]} logs, $found found"
[ "$found" -eq 0 ]
