#!/usr/bin/env bash
# readme-test.sh [MAPIGW_BIN] - README.md runs as pasted. Every ```sh block of
# README.md is run verbatim, in order, in one bash shell (so variables flow
# from block to block, as for a reader pasting them into a terminal) against a
# gateway started as `make run` starts it (the Makefile's RUN_ARGS_BASE, the
# default profiles file, demo data seeded by scripts/seed-demo.sh) except for
# the port, which is free (--port 0) and given to the blocks as $GW.
#
# Fences: ```sh            run; every request it makes must answer < 400
#                          (from the gateway's access log), so a placeholder
#                          or a wrong order cannot pass quietly;
#         ```sh expect-errors  run; 4xx/5xx answers are what it shows;
#         ```sh no-test    not run (make run itself, docker, make bench):
#                          counted and listed.
# A block whose first line is "#!" is a script: it is saved to a file and run
# with sh, as the README tells readers to. Any command that fails fails the
# block (set -e, pipefail), and a failing block fails the test.
# The blocks together must end within 120 s times MAPIGW_TEST_TIME_SCALE.
# Environment: RUN_ARGS_BASE (make passes it), MAPIGW_TEST_TIME_SCALE.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${1:-$root/build/release/mapigw}
run_args=${RUN_ARGS_BASE:---listen 127.0.0.1 --cors-origins http://127.0.0.1:5173}
scale=${MAPIGW_TEST_TIME_SCALE:-2}
readme=${README:-README.md} # another file only to test this script
secs() { awk -v s="$scale" -v n="$1" 'BEGIN { printf "%d", n * s + 0.999 }'; }
out=$root/build/readme-test
fail() { echo "readme-test: FAILED: $*" >&2; exit 1; }
[ -x "$bin" ] || fail "no gateway binary at $bin (make first)"
for t in curl jq awk; do
  command -v "$t" >/dev/null 2>&1 || fail "$t is needed (scripts/install-deps.sh build installs it)"
done

rm -rf "$out" && mkdir -p "$out/blocks"
# Split README.md into blocks: out/blocks/N.sh and an index line per block
# "N LINE KIND" (KIND: run, errors, skip, script).
awk -v dir="$out/blocks" '
  /^```/ {
    if (inblock) { close(file); inblock = 0; next }
    info = substr($0, 4)
    if (info ~ /^(sh|bash|shell)([ \t]|$)/) {
      n++; inblock = 1; file = sprintf("%s/%03d.sh", dir, n); first = 1
      kind = "run"
      if (info ~ /[ \t]no-test([ \t]|$)/) kind = "skip"
      else if (info ~ /[ \t]expect-errors([ \t]|$)/) kind = "errors"
      else if (info !~ /^(sh|bash|shell)[ \t]*$/) kind = "unknown:" info
      printf "%d %d %s\n", n, NR, kind > (dir "/index")
      printf "" > file
      next
    }
    fencedother = !fencedother
    next
  }
  inblock { print > file }
' "$readme"
[ -s "$out/blocks/index" ] || fail "no \`\`\`sh block found in README.md"
if grep -q ' unknown:' "$out/blocks/index"; then
  grep ' unknown:' "$out/blocks/index" | sed 's/^/  block /' >&2
  fail "a \`\`\`sh fence with an unknown word (use no-test or expect-errors)"
fi

# The gateway, as make run starts it, on a free port.
data=$out/data
scripts/seed-demo.sh "$data" >/dev/null
# shellcheck disable=SC2086 # RUN_ARGS_BASE is a list of arguments
"$bin" $run_args --port 0 --port-file "$out/port" --data-dir "$data" >"$out/gateway.log" 2>&1 &
gw_pid=$!
cleanup() {
  kill -TERM "$gw_pid" 2>/dev/null || true
  wait "$gw_pid" 2>/dev/null || true
}
trap cleanup EXIT
deadline=$((SECONDS + $(secs 10)))
while [ ! -s "$out/port" ] && [ $SECONDS -lt $deadline ]; do
  kill -0 "$gw_pid" 2>/dev/null || { cat "$out/gateway.log" >&2; fail "the gateway exited at start"; }
  sleep 0.1
done
[ -s "$out/port" ] || fail "the gateway did not start within $(secs 10) s"
export GW=http://127.0.0.1:$(cat "$out/port")

# The blocks, in one shell. After each: the access lines it caused (the log
# flushes them within 100 ms) must all be < 400 unless it expects errors.
settle=$(awk -v s="$scale" 'BEGIN { printf "%.2f", 0.3 * s }')
runner=$out/runner.sh
{
  echo 'set -eo pipefail'
  echo "__out='$out'"
  cat <<'SH'
__block=0 __line=0
__seen=0
__on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$__block" -ne 0 ]; then
    echo "readme-test: block $__block (README.md line $__line) failed with exit status $rc" >&2
  fi
  exit "$rc"
}
trap __on_exit EXIT
__after() { # kind
  sleep "$__settle"
  local lines bad
  lines=$(grep '"msg":"request"' "$__out/gateway.log" | tail -n +$((__seen + 1)) || true)
  __seen=$(grep -c '"msg":"request"' "$__out/gateway.log" || true)
  if [ "$1" = run ] && [ -n "$lines" ]; then
    bad=$(printf '%s\n' "$lines" | grep -E '"status":[45][0-9][0-9]' || true)
    if [ -n "$bad" ]; then
      echo "readme-test: block $__block (README.md line $__line) got error answers:" >&2
      printf '%s\n' "$bad" | sed 's/^/  /' >&2
      return 1
    fi
  fi
}
SH
  echo "__settle=$settle"
  while read -r n line kind; do
    f=$(printf '%s/blocks/%03d.sh' "$out" "$n")
    [ "$kind" = skip ] && continue
    echo "__block=$n __line=$line"
    echo "echo \"== README.md block $n (line $line)\""
    if head -n 1 "$f" | grep -q '^#!'; then
      echo "sh '$f'"
    else
      cat "$f"
    fi
    echo "__after $kind"
  done <"$out/blocks/index"
  echo '__block=0'
} >"$runner"

# A block that never ends (a stream without -m, a prompt) fails too.
if ! timeout -k 5 "$(secs 120)" bash "$runner" >"$out/blocks.out" 2>&1; then
  tail -n 40 "$out/blocks.out" >&2
  echo "readme-test: output of every block in $out/blocks.out, gateway log in $out/gateway.log" >&2
  fail "a README.md block does not run as pasted"
fi
ran=$(awk '$3 == "run" || $3 == "errors"' "$out/blocks/index" | wc -l)
errs=$(awk '$3 == "errors"' "$out/blocks/index" | wc -l)
skipped=$(awk '$3 == "skip" { printf "%s%d", (n++ ? ", " : ""), $2 }' "$out/blocks/index")
nskip=$(awk '$3 == "skip"' "$out/blocks/index" | wc -l)
requests=$(grep -c '"msg":"request"' "$out/gateway.log" || true)
echo "readme-test: OK: $ran README.md blocks ran as pasted ($errs expecting errors; $requests requests), $nskip skipped as no-test (lines $skipped)"
