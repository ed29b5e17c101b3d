#!/usr/bin/env bash
# stress.sh GATEWAY_BINARY [stress options...]
#
# Builds the stress client (tests/stress/*.c: its own program, plain cc +
# libcurl + jansson + pthread, never sanitized: it is the load, not the subject)
# into build/stress/ and runs it against GATEWAY_BINARY: many clients at once
# for a bounded time, every answer checked, final session count 0, SIGTERM
# exit status 0, no sanitizer report in the gateway's log (see the comment at
# the top of stress.c).
#
# Works for build/release/mapigw, build/asan/mapigw and build/tsan/mapigw; for
# a sanitized gateway the matching *SAN_OPTIONS are set here (unless already
# set) so that a report is logged rather than ending the run, and the gateway
# log is then grepped for reports.
#
# Environment: STRESS_CLIENTS (16), STRESS_SECONDS (15), STRESS_SEED (random),
# STRESS_WORKDIR (build/stress/run-<variant>; data dir and gateway.log).
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 GATEWAY_BINARY [stress options]" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
gateway=$(realpath "$1")
shift
[ -x "$gateway" ] || { echo "stress.sh: $gateway is not executable" >&2; exit 2; }

outdir="$root/build/stress"
mkdir -p "$outdir"
client="$outdir/stress"
srcs=("$root"/tests/stress/*.c)
rebuild=0
if [ ! -x "$client" ] || [ "$0" -nt "$client" ]; then
    rebuild=1
fi
for f in "${srcs[@]}" "$root"/tests/stress/*.h; do
    if [ "$f" -nt "$client" ]; then
        rebuild=1
    fi
done
if [ "$rebuild" -eq 1 ]; then
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla \
        $(pkg-config --cflags libcurl jansson) -o "$client" "${srcs[@]}" \
        $(pkg-config --libs libcurl jansson) -lpthread
fi

variant=$(basename "$(dirname "$gateway")")
workdir=${STRESS_WORKDIR:-$outdir/run-$variant}
rm -rf "$workdir"
mkdir -p "$workdir"

# Sanitizer runtimes of the gateway. halt_on_error=0 for TSan: every race is
# logged and the run goes on (the log is checked below and by the client).
# No TSan suppressions are needed so far: libsodium, jansson, libcurl and
# libmicrohttpd are uninstrumented, but their races would have to touch
# memory TSan sees, and none was reported in these runs.
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:history_size=4}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}"

args=(--clients "${STRESS_CLIENTS:-16}" --seconds "${STRESS_SECONDS:-15}"
      --profiles "$root/tests/profiles/stress.json" --workdir "$workdir")
[ -n "${STRESS_SEED:-}" ] && args+=(--seed "$STRESS_SEED")

status=0
"$client" "${args[@]}" "$@" "$gateway" || status=$?

log="$workdir/gateway.log"
if grep -q -E 'WARNING: ThreadSanitizer|ERROR: (AddressSanitizer|LeakSanitizer)|runtime error|SUMMARY: (ThreadSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)' "$log" 2>/dev/null; then
    echo "stress.sh: sanitizer report(s) in $log:" >&2
    grep -E -A30 'WARNING: ThreadSanitizer|ERROR: (AddressSanitizer|LeakSanitizer)|runtime error' "$log" | head -120 >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "stress.sh: FAILED against $gateway (gateway log: $log)" >&2
else
    echo "stress.sh: passed against $gateway"
fi
exit "$status"
