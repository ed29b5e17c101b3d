#!/usr/bin/env bash
# analyze.sh - static analysis of the gateway's own C code.
#   1. cppcheck over session-core/ api/ server/ (warning, performance,
#      portability); false positives are listed, each with its reason, in
#      tests/cppcheck.supp or suppressed inline next to the line.
#   2. gcc -fanalyzer: every .c compiled with the project's CFLAGS (read from
#      the Makefile, so the two never drift apart) plus -fanalyzer -Werror.
# Exits non-zero on any finding. ANALYZE_JOBS sets the parallelism (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

dirs=(session-core api server)
out=build/analyze
jobs=${ANALYZE_JOBS:-2}
start=$SECONDS
failed=0

for tool in cppcheck gcc pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || { echo "analyze: $tool not found (make deps / install-deps.sh test)" >&2; exit 2; }
done

mapfile -t sources < <(find "${dirs[@]}" -name '*.c' | sort)
[ ${#sources[@]} -gt 0 ] || { echo "analyze: no sources found" >&2; exit 2; }

# Include paths of the libraries, as -I options only (cppcheck takes no other
# compiler flags).
pkg_incs=()
read -ra pkgs <<< "${MAPIGW_PKGS:-libmicrohttpd jansson libcurl libsodium hiredis}"
for flag in $(pkg-config --cflags "${pkgs[@]}"); do
  case "$flag" in -I*) pkg_incs+=("$flag") ;; esac
done

# --- 1. cppcheck ------------------------------------------------------------
# Only the libraries' include paths are given, not /usr/include: cppcheck
# would parse all of glibc for nothing (tests/cppcheck.supp says why
# missingIncludeSystem is suppressed).
echo "== analyze: cppcheck $(cppcheck --version | awk '{print $2}') over ${dirs[*]}"
mkdir -p "$out/cppcheck"
cppcheck --quiet --std=c11 -D_GNU_SOURCE -DMAPIGW_VERSION='"0"' \
  --enable=warning,performance,portability \
  --inline-suppr --suppressions-list=tests/cppcheck.supp \
  --error-exitcode=1 -j "$jobs" \
  --cppcheck-build-dir="$out/cppcheck" \
  "${pkg_incs[@]}" -Isession-core -Iapi -Iserver \
  --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
  "${dirs[@]}" || { echo "analyze: cppcheck found the problems above" >&2; failed=1; }

# --- 2. gcc -fanalyzer --------------------------------------------------------
# The compile line of one object as the Makefile would run it, without the
# dependency-file flags (-MMD -MP): the analyzer objects are throwaway.
cc_line=$(make --no-print-directory -n -B VARIANT=release BUILD="$out/probe" "$out/probe/${sources[0]%.c}.o" |
          grep -E -- ' -c ' | tail -n 1)
[ -n "$cc_line" ] || { echo "analyze: could not read CFLAGS from the Makefile" >&2; exit 2; }
eval "set -- $cc_line"
shift                                   # the compiler
cflags=()
while [ $# -gt 0 ]; do
  case "$1" in
    -c) shift 2; continue ;;            # -c <source>
    -o) shift 2; continue ;;            # -o <object>
    -MMD|-MP) ;;
    *) cflags+=("$1") ;;
  esac
  shift
done

echo "== analyze: gcc $(gcc -dumpfullversion) -fanalyzer over ${#sources[@]} files (-P$jobs)"
export ANALYZE_OUT=$out
log=$out/fanalyzer.log
rm -f "$out/fanalyzer.failed"
: >"$log"
# One gcc per file; each writes its diagnostics to its own log so parallel
# output does not interleave, then the logs are printed in file order.
if ! printf '%s\n' "${sources[@]}" |
     xargs -P "$jobs" -I{} sh -c '
       f=$1; shift
       o="$ANALYZE_OUT/obj/${f%.c}.o"; mkdir -p "$(dirname "$o")"
       gcc "$@" -fanalyzer -Werror -c "$f" -o "$o" >"$o.log" 2>&1 ||
         { echo "$f" >>"$ANALYZE_OUT/fanalyzer.failed"; exit 1; }' sh {} "${cflags[@]}"; then
  for f in "${sources[@]}"; do cat "$out/obj/${f%.c}.o.log" 2>/dev/null; done | tee "$log" >&2
  echo "analyze: gcc -fanalyzer found problems in: $(sort "$out/fanalyzer.failed" | tr '\n' ' ')" >&2
  rm -f "$out/fanalyzer.failed"
  failed=1
fi
rm -f "$out/fanalyzer.failed"
[ "$failed" -eq 0 ] || exit 1

echo "analyze: cppcheck clean, gcc -fanalyzer clean (${#sources[@]} files) in $((SECONDS - start))s"
