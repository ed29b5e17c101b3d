#!/usr/bin/env bash
# fuzz.sh - builds and runs the libFuzzer harnesses of tests/fuzz/ (README there).
#
#   scripts/fuzz.sh build               compile every harness into build/fuzz/
#   scripts/fuzz.sh smoke               replay each corpus and regression input,
#                                       then fuzz each harness briefly (make test)
#   scripts/fuzz.sh run SECONDS [h...]  fuzz each harness SECONDS; inputs that
#                                       add coverage are merged into its corpus
#
# Any crash, leak, sanitizer report or timeout fails the command (exit 1) and
# names the harness; the input is kept under build/fuzz/artifacts/<harness>/.
# Environment: FUZZ_CC (clang-14), FUZZ_JOBS (harnesses run at once: the number
# of cores), FUZZ_SMOKE_SECONDS (8).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

CC=${FUZZ_CC:-clang-14}
OUT=build/fuzz
HARNESSES=(router auth request profiles entryid imap ldif message)
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
SMOKE_SECONDS=${FUZZ_SMOKE_SECONDS:-8}
# The Makefile passes its own list (PKGS), so the two cannot drift apart.
read -ra PKGS <<< "${MAPIGW_PKGS:-libmicrohttpd jansson libcurl libsodium hiredis}"

die() { echo "fuzz: $*" >&2; exit 1; }

# ---- build ------------------------------------------------------------------

check_toolchain() {
  command -v "$CC" >/dev/null 2>&1 ||
    die "$CC not found: install clang-14 and libclang-rt-14-dev (scripts/install-deps.sh test)"
  pkg-config --exists "${PKGS[@]}" || die "pkg-config cannot find: ${PKGS[*]} (scripts/install-deps.sh build)"
  local probe="$OUT/probe"
  mkdir -p "$OUT"
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' \
    > "$probe.c"
  "$CC" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>"$probe.err" ||
    die "$CC cannot link -fsanitize=fuzzer (install libclang-rt-14-dev): $(head -3 "$probe.err")"
}

# Flags: the project's pkg-config cflags/libs, sanitizers that stop at the
# first report so libFuzzer sees it as a crash.
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 $SAN $(pkg-config --cflags "${PKGS[@]}" 2>/dev/null)"
LIBS="$(pkg-config --libs "${PKGS[@]}" 2>/dev/null) -lpthread"

# True when $2 (an object) is missing or older than anything its .d names.
stale() {
  local src=$1 obj=$2 dep="${2%.o}.d" f
  [[ -f $obj && -f $dep ]] || return 0
  # shellcheck disable=SC2013 # the .d file is a list of words
  for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep"); do
    [[ $f -nt $obj ]] && return 0
  done
  [[ $src -nt $obj ]]
}

compile_one() { # src obj extra-flags...
  local src=$1 obj=$2
  shift 2
  mkdir -p "$(dirname "$obj")"
  # shellcheck disable=SC2086
  $CC $CFLAGS -fsanitize=fuzzer-no-link "$@" -MMD -MP -c "$src" -o "$obj" || {
    echo "fuzz: compiling $src failed" >&2
    return 1
  }
}

build() {
  check_toolchain
  mkdir -p "$OUT/obj"
  # Different flags (another compiler, pkg-config) mean a clean rebuild.
  local stamp="$OUT/flags"
  if [[ ! -f $stamp || "$(cat "$stamp")" != "$CC $CFLAGS $LIBS" ]]; then
    rm -rf "${OUT:?}/obj" "${OUT:?}/bin"
    mkdir -p "$OUT/obj"
    echo "$CC $CFLAGS $LIBS" > "$stamp"
  fi
  local srcs=(session-core/*.c session-core/providers/*.c api/*.c server/config.c server/config_table.c server/secmem.c tests/fuzz/fuzz_common.c) todo=() s h
  for s in "${srcs[@]}"; do
    stale "$s" "$OUT/obj/${s%.c}.o" && todo+=("$s")
  done
  for h in "${HARNESSES[@]}"; do
    s=tests/fuzz/fuzz_$h.c
    [[ -f $s ]] || die "missing harness $s"
    stale "$s" "$OUT/obj/${s%.c}.o" && todo+=("$s")
  done
  if ((${#todo[@]})); then
    echo "fuzz: compiling ${#todo[@]} files with $CC"
    export -f compile_one
    export CC CFLAGS
    # Harnesses (ours) are held to -Werror; the sources under test are not,
    # so a newer compiler's warning cannot stop the fuzzing.
    # shellcheck disable=SC2016 # expanded by the inner bash
    printf '%s\n' "${todo[@]}" |
      xargs -P "$JOBS" -n1 bash -c 'w=(); [[ $1 == tests/fuzz/* ]] && w=(-Wall -Wextra -Werror); compile_one "$1" "build/fuzz/obj/${1%.c}.o" "${w[@]}"' _ ||
      die "build failed"
  fi
  local lib_objs=() o
  for s in "${srcs[@]}"; do lib_objs+=("$OUT/obj/${s%.c}.o"); done
  mkdir -p "$OUT/bin"
  for h in "${HARNESSES[@]}"; do
    local bin="$OUT/bin/fuzz_$h" hobj="$OUT/obj/tests/fuzz/fuzz_$h.o" newer=0
    [[ -f $bin ]] || newer=1
    for o in "$hobj" "${lib_objs[@]}"; do [[ $o -nt $bin ]] && newer=1 && break; done
    if ((newer)); then
      # shellcheck disable=SC2086
      $CC -fsanitize=fuzzer $SAN -o "$bin" "$hobj" "${lib_objs[@]}" $LIBS || die "linking fuzz_$h failed"
    fi
  done
}

# ---- running ----------------------------------------------------------------

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=0:handle_abort=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
unset LSAN_OPTIONS
for s in llvm-symbolizer-14 llvm-symbolizer; do
  if command -v "$s" >/dev/null 2>&1; then export ASAN_SYMBOLIZER_PATH; ASAN_SYMBOLIZER_PATH=$(command -v "$s"); break; fi
done

COMMON_FLAGS=(-rss_limit_mb=2048 -timeout=10 -detect_leaks=1 -print_final_stats=1)

# Runs harness $1 in mode $2 (smoke|run) for $3 seconds; writes the log to
# $OUT/logs/$1.$2.log and "status executions" to $OUT/logs/$1.$2.result.
run_one() {
  local h=$1 mode=$2 secs=$3
  local bin="$OUT/bin/fuzz_$h" corpus="tests/fuzz/corpus/$h" reg="tests/fuzz/regressions/$h"
  local log="$OUT/logs/$h.$mode.log" scratch="$OUT/scratch/$h" art="$OUT/artifacts/$h/"
  local tmp="$OUT/tmp/$h" rc=0 dirs=() execs=0
  rm -rf "$scratch" "$tmp" && mkdir -p "$scratch" "$tmp" "$art" "$corpus"
  [[ -d $reg ]] && [[ -n "$(ls -A "$reg" 2>/dev/null)" ]] && dirs+=("$reg")
  : > "$log"
  {
    # 1. Every corpus input once, nothing else; then each regression input
    #    as a file of its own, so that a failure names it ("Running: ...").
    echo "== replay: $corpus"
    TMPDIR=$tmp "$bin" "${COMMON_FLAGS[@]}" -runs=0 -artifact_prefix="$art" "$corpus" 2>&1 &&
      if ((${#dirs[@]})); then
        echo "== replay: $reg"
        TMPDIR=$tmp "$bin" "${COMMON_FLAGS[@]}" -artifact_prefix="$art" "$reg"/* 2>&1
      fi
  } >>"$log" || rc=1
  if ((rc == 0)); then
    # 2. Fuzzing, on a scratch copy (smoke) or into the corpus (run, below).
    cp -r "$corpus/." "$scratch/" 2>/dev/null
    for d in "${dirs[@]}"; do cp -r "$d/." "$scratch/" 2>/dev/null; done
    echo "== fuzz: ${secs}s" >>"$log"
    TMPDIR=$tmp "$bin" "${COMMON_FLAGS[@]}" -max_total_time="$secs" -artifact_prefix="$art" \
      "$scratch" >>"$log" 2>&1 || rc=1
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  fi
  if ((rc == 0)) && [[ $mode == run ]]; then
    # 3. Keep only what adds coverage: merge the scratch corpus into the repo's.
    echo "== merge into $corpus" >>"$log"
    local before after
    before=$(find "$corpus" -type f | wc -l)
    TMPDIR=$tmp "$bin" -merge=1 -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$art" \
      "$corpus" "$scratch" >>"$log" 2>&1 || rc=1
    after=$(find "$corpus" -type f | wc -l)
    echo "merged: $((after - before)) new corpus inputs" >>"$log"
  fi
  rm -rf "$tmp"
  echo "$rc ${execs:-0}" > "$OUT/logs/$h.$mode.result"
}

run_all() { # mode seconds harness...
  local mode=$1 secs=$2
  shift 2
  local hs=("$@") pids=() h start=$SECONDS
  mkdir -p "$OUT/logs"
  for h in "${hs[@]}"; do
    rm -f "$OUT/logs/$h.$mode.result"
    # At most $JOBS harnesses at once: each gets a core.
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n 2>/dev/null || true; done
    run_one "$h" "$mode" "$secs" &
    pids+=($!)
  done
  wait "${pids[@]}" 2>/dev/null
  local passed=0 failed=0 failed_names=() rc execs
  for h in "${hs[@]}"; do
    read -r rc execs < "$OUT/logs/$h.$mode.result" 2>/dev/null || { rc=1; execs=0; }
    if ((rc == 0)); then
      passed=$((passed + 1))
      printf 'fuzz-%s: %-9s ok    %10s executions\n' "$mode" "$h" "$execs"
      [[ $mode == run ]] && grep -h '^merged:' "$OUT/logs/$h.$mode.log" | sed "s/^/               /"
    else
      failed=$((failed + 1))
      failed_names+=("$h")
      printf 'fuzz-%s: %-9s FAILED (log: %s)\n' "$mode" "$h" "$OUT/logs/$h.$mode.log"
      # The report itself: the sanitizer's or libFuzzer's summary and the input.
      grep -E -A2 '^(==[0-9]+==ERROR|SUMMARY:|fuzz property breach|.*runtime error:)' \
        "$OUT/logs/$h.$mode.log" | head -20 | sed 's/^/    /'
      grep -E '(Test unit written to|^Running: |^INFO: Running with entropic)' "$OUT/logs/$h.$mode.log" |
        grep -v entropic | tail -2 | sed 's/^/    /'
    fi
  done
  echo "fuzz-$mode: $passed passed, $failed failed ($((SECONDS - start)) s)"
  if ((failed)); then
    echo "fuzz-$mode: failing harness(es): ${failed_names[*]}; crashing inputs are in $OUT/artifacts/<harness>/" >&2
    echo "fuzz-$mode: keep a crash as a regression: cp <input> tests/fuzz/regressions/<harness>/" >&2
    return 1
  fi
}

pick() { # harness names from the command line, or all of them
  if (($#)); then
    local h
    for h in "$@"; do [[ " ${HARNESSES[*]} " == *" $h "* ]] || die "unknown harness $h (${HARNESSES[*]})"; done
    echo "$@"
  else
    echo "${HARNESSES[@]}"
  fi
}

case "${1:-}" in
  build)
    build ;;
  smoke)
    shift
    build || exit 1
    # shellcheck disable=SC2046
    run_all smoke "$SMOKE_SECONDS" $(pick "$@") || exit 1 ;;
  run)
    secs=${2:-}
    [[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || die "usage: $0 run SECONDS [harness...]"
    shift 2
    build || exit 1
    # shellcheck disable=SC2046
    run_all run "$secs" $(pick "$@") || exit 1 ;;
  *)
    echo "usage: $0 build | smoke [harness...] | run SECONDS [harness...]" >&2
    exit 2 ;;
esac
