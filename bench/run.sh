#!/usr/bin/env bash
# bench/run.sh - mapigw against a reference libmicrohttpd server (bench/README.md).
#
# Builds build/release/mapigw, build/bench/refserver and build/bench/loader,
# then on 127.0.0.1 only:
#   1. GET /identity, GET /status, logon+logoff (profile "nopw", no password)
#      and logon+logoff (profile "hashed", argon2id m=64 MiB t=2 p=1; and four
#      such profiles in turn): wrk runs interleaved reference, gateway,
#      reference, gateway... (BENCH_ROUNDS each). The reference renders the
#      gateway's own status table per request with jansson; then the same
#      scenarios against the ceiling (the reference answering fixed bodies of
#      the gateway's sizes: no lookup, no JSON);
#   1b. BENCH_STREAMS GET /events streams of one session (bench/sse): bytes per
#      stream, the time a status change takes to reach each, and GET /identity
#      with them open against a gateway with none;
#   2. bytes per idle session: VmRSS of one gateway before and after
#      BENCH_SESSIONS_MID, then BENCH_SESSIONS_BIG logons (bench/loader);
#   3. GET /identity on that gateway (BENCH_SESSIONS_BIG live sessions)
#      interleaved with a fresh gateway holding one session;
#   4. GET /identity while BENCH_FLOOD_CONNECTIONS connections send logons to
#      made-up profile names with passwords (bench/loader --flood), from one
#      address and from a new address per logon, alternating with no flood on
#      the same gateway; with BENCH_BASELINE=BINARY the same on that binary
#      too (e.g. an older build), for before/after figures;
#   5. profiles at scale: start time and bytes per profile of a generated
#      BENCH_PROFILES-profile file (bench/gen-profiles.sh), and bytes per
#      session of BENCH_TEMPLATED distinct users logged on through one
#      template (local providers, one shared folder).
#   6. the Redis session store (a redis-server started here, AOF with fsync
#      always): GET /identity and logon+logoff with --store redis vs the
#      memory store, interleaved; GET /identity on two replicas (half the
#      threads each) behind haproxy vs one replica with all the threads; the
#      time a logoff on replica A takes to reach replica B (bench/propagation,
#      BENCH_PROPAGATION samples: p50, p99, max); bytes per idle session in
#      Redis (INFO used_memory before and after BENCH_SESSIONS_MID logons).
# Prints the medians with their ratios and PASS/MISS per target, and writes
# them, with the machine and the exact commands, to bench/RESULTS.md.
#
# Knobs (environment):
#   BENCH_DURATION=5 seconds per wrk run      BENCH_ROUNDS=3 runs per server
#   BENCH_SESSIONS_BIG=1000000                BENCH_SESSIONS_MID=100000
#   BENCH_CONNECTIONS=32 (wrk, GET and nopw)  BENCH_HASH_CONNECTIONS=4 (hashed)
#   BENCH_THREADS=4 (server thread pools)     BENCH_QUICK=1 smoke: 1 s, 2 rounds,
#   BENCH_RESULTS=FILE (where the report goes;  10k sessions, report in
#                       default bench/RESULTS.md)  build/bench/RESULTS.quick.md
#   BENCH_STRICT=1: exit 1 when a target is missed (default: only errors fail)
#   BENCH_FLOOD_CONNECTIONS=16 (section 4)    BENCH_BASELINE=BINARY (section 4 on it too)
#   BENCH_BASELINE_LABEL=TEXT (names the baseline in the report, e.g. "main at 8a87258")
#   BENCH_ONLY=LIST: only these sections (compare,streams,memory,flood,profiles,redis; default all)
#   BENCH_STREAMS=10000 open GET /events streams (section 1b)  BENCH_STREAM_ADDRESSES=125
#   BENCH_PROFILES=50000 (section 5)         BENCH_TEMPLATED=100000 (section 5)
#   BENCH_PROPAGATION=1000 logoffs timed from replica A to replica B (section 6)
#   BENCH_GATEWAY=BINARY: bench this binary instead of building build/release/mapigw
# Any non-2xx answer, socket error, failed logon or dead server fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
BIG=${BENCH_SESSIONS_BIG:-1000000}
MID=${BENCH_SESSIONS_MID:-100000}
CONNS=${BENCH_CONNECTIONS:-32}
HASH_CONNS=${BENCH_HASH_CONNECTIONS:-4}
HASH4=hashed1,hashed2,hashed3,hashed4 # bench/profiles.json: four argon2id profiles, password "bench"
HASH4_CONNS=4
STREAMS=${BENCH_STREAMS:-10000}
STREAM_ADDRS=${BENCH_STREAM_ADDRESSES:-125} # 127.0.0.2 and up: 80 streams each
FLOOD_CONNS=${BENCH_FLOOD_CONNECTIONS:-16}
BASELINE=${BENCH_BASELINE:-}
BASE_LABEL=${BENCH_BASELINE_LABEL:-baseline build}
THREADS=${BENCH_THREADS:-4}
NPROFILES=${BENCH_PROFILES:-50000}
NTEMPLATED=${BENCH_TEMPLATED:-100000}
RESULTS=${BENCH_RESULTS:-bench/RESULTS.md}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    DURATION=1 ROUNDS=2 BIG=10000 MID=1000 NPROFILES=5000 NTEMPLATED=10000 STREAMS=1000
    BENCH_PROPAGATION=${BENCH_PROPAGATION:-50}
    RESULTS=${BENCH_RESULTS:-build/bench/RESULTS.quick.md}
fi
[ "$MID" -le "$BIG" ] || MID=$BIG
WRK_THREADS=2
LOADER_PARALLEL=32
LONG=31536000 # a year: no session expires during the run
PROPAGATION=${BENCH_PROPAGATION:-1000}
GW_FLAGS=(--max-sessions 2000000 --max-sessions-per-profile 2000000
          --idle-timeout "$LONG" --lifetime "$LONG" --profiles bench/profiles.json)
VERIFIER=$(sed -n 's/.*"verifier": *"\([^"]*\)".*/\1/p' bench/profiles.json | head -1) # profile "hashed", the first
PASSWORD=bench # the password behind that verifier

say() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "FAILED: $*"; say "logs kept in ${TMP:-(none yet)}"; exit 1; }
# want SECTION: whether BENCH_ONLY (default: everything) includes it.
want() { [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *",$1,"* ]]; }

# --- build --------------------------------------------------------------------
mkdir -p build/bench
if [ -n "${BENCH_GATEWAY:-}" ]; then
    say "benching $BENCH_GATEWAY; building build/bench/refserver, build/bench/loader"
    cp "$BENCH_GATEWAY" build/release/mapigw.bench-tmp 2>/dev/null ||
        { mkdir -p build/release && cp "$BENCH_GATEWAY" build/release/mapigw.bench-tmp; }
else
    say "building build/release/mapigw, build/bench/refserver, build/bench/loader"
    make --no-print-directory VARIANT=release build/release/mapigw >&2
    cp build/release/mapigw build/release/mapigw.bench-tmp
fi
CC=${CC:-cc}
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror -O2 $(pkg-config --cflags libmicrohttpd jansson libsodium) \
    bench/refserver.c -o build/bench/refserver \
    $(pkg-config --libs libmicrohttpd jansson libsodium) -lpthread
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror -O2 $(pkg-config --cflags libcurl) \
    bench/loader.c -o build/bench/loader $(pkg-config --libs libcurl)
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror -O2 $(pkg-config --cflags libcurl) \
    bench/propagation.c -o build/bench/propagation $(pkg-config --libs libcurl)
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror -O2 $(pkg-config --cflags jansson) \
    bench/sse.c -o build/bench/sse $(pkg-config --libs jansson)
# A copy: every run of this benchmark uses the same binary even if the build
# tree changes meanwhile.
mv build/release/mapigw.bench-tmp build/bench/mapigw
if [ -n "$BASELINE" ]; then
    cp "$BASELINE" build/bench/mapigw.baseline
    BASE_VERSION=$(build/bench/mapigw.baseline --version 2>&1 | head -1)
    BASE_SHA=$(sha256sum build/bench/mapigw.baseline | cut -c1-16)
fi
GW=$ROOT/build/bench/mapigw
GW_VERSION=$("$GW" --version 2>&1 | head -1)
GW_SHA=$(sha256sum "$GW" | cut -c1-16)
REF=$ROOT/build/bench/refserver
LOADER=$ROOT/build/bench/loader
SSE=$ROOT/build/bench/sse

# --- servers ------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mapigw-bench.XXXXXX")
declare -A PID PORT
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    for name in "${!PID[@]}"; do
        kill "${PID[$name]}" 2>/dev/null || true
    done
    for name in "${!PID[@]}"; do
        wait "${PID[$name]}" 2>/dev/null || true
    done
    if [ "$rc" -eq 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT

# start NAME gateway|baseline|ref [flags...]: starts a server on 127.0.0.1
# with a free port; sets PID[NAME] and PORT[NAME]. Logs go to $TMP/NAME.log.
start() {
    local name=$1 kind=$2
    shift 2
    rm -f "$TMP/$name.port"
    if [ "$kind" = gateway ] || [ "$kind" = baseline ]; then
        local bin=$GW
        [ "$kind" = baseline ] && bin=$ROOT/build/bench/mapigw.baseline
        "$bin" --listen 127.0.0.1 --port 0 --port-file "$TMP/$name.port" \
            --data-dir "$TMP/$name.data" --threads "${GW_THREADS:-$THREADS}" "${GW_FLAGS[@]}" "$@" \
            2>"$TMP/$name.log" &
    else
        "$REF" --port 0 --port-file "$TMP/$name.port" --threads "$THREADS" "$@" \
            2>"$TMP/$name.log" &
    fi
    PID[$name]=$!
    for _ in $(seq 100); do
        [ -s "$TMP/$name.port" ] && break
        kill -0 "${PID[$name]}" 2>/dev/null || die "$name did not start: $(tail -3 "$TMP/$name.log")"
        sleep 0.1
    done
    [ -s "$TMP/$name.port" ] || die "$name wrote no port file within 10 s"
    PORT[$name]=$(cat "$TMP/$name.port")
    say "$name ($kind) pid ${PID[$name]} on 127.0.0.1:${PORT[$name]}"
}

stop() {
    local name=$1
    kill "${PID[$name]}" 2>/dev/null || true
    wait "${PID[$name]}" 2>/dev/null || true
    unset "PID[$name]"
}

alive() { kill -0 "${PID[$1]}" 2>/dev/null || die "$1 died: $(tail -5 "$TMP/$1.log")"; }

# logon NAME PROFILE [PASSWORD]: prints "ID TOKEN" of a new session.
logon() {
    local body='{"profile":"'$2'"'${3:+',"password":"'$3'"'}',"flags":["MAPI_NEW_SESSION"]}'
    local out
    out=$(curl -sS --noproxy '*' -m 30 -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
        -d "$body" "http://127.0.0.1:${PORT[$1]}/sessions") || die "logon on $1: curl failed"
    [ "${out##*$'\n'}" = 201 ] || die "logon on $1: $out"
    printf '%s %s\n' "$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' <<<"$out")" \
        "$(sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' <<<"$out")"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/${PID[$1]}/status"; }
gauge() {
    curl -sS --noproxy '*' -m 30 "http://127.0.0.1:${PORT[$1]}/metrics" |
        awk '$1 == "mapigw_sessions" {print $2}'
}

# --- wrk ----------------------------------------------------------------------
# wrk_run KEY NAME CONNS SCRIPT PATH [VAR=VALUE...]: one wrk run against
# server NAME; appends "req/s p50_ms p99_ms" to $TMP/KEY.runs. Fails on any
# socket error, non-2xx answer or bad answer counted by the script.
RUN_NO=0
wrk_cmd() { # the command line, as recorded in the report
    echo "wrk -t$WRK_THREADS -c$1 -d${DURATION}s --timeout 10s --latency -s bench/$2 http://127.0.0.1:PORT$3"
}
wrk_run() {
    local key=$1 name=$2 conns=$3 script=$4 path=$5
    shift 5
    RUN_NO=$((RUN_NO + 1))
    local out=$TMP/wrk-$RUN_NO-$key-$name.txt
    env "$@" wrk -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --timeout 10s --latency \
        -s "bench/$script" "http://127.0.0.1:${PORT[$name]}$path" >"$out" 2>&1 ||
        die "wrk against $name failed: $(cat "$out")"
    alive "$name"
    if grep -q -E '^ *(Non-2xx or 3xx responses|Socket errors):' "$out"; then
        die "wrk against $name ($key) saw errors: $(grep -E 'Non-2xx|Socket errors' "$out")"
    fi
    if grep -q '^BENCH bad=' "$out" && ! grep -q '^BENCH bad=0 ' "$out"; then
        die "wrk against $name ($key): bad answers: $(grep '^BENCH' "$out")"
    fi
    awk -v name="$name" '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /s$/) return v * 1000
            return v * 60000 # "m": minutes
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        END {
            if (rps == "" || p50 == "" || p99 == "") exit 1
            printf "%s %.3f %.3f %s\n", rps, p50, p99, name
        }' "$out" >>"$TMP/$key.runs" || die "cannot parse $out"
    say "  $key $name: $(tail -1 "$TMP/$key.runs" | awk '{printf "%.0f req/s p50 %.3f ms p99 %.3f ms", $1, $2, $3}')"
}

# median KEY NAME COLUMN (1 req/s, 2 p50, 3 p99)
median() {
    awk -v name="$2" -v col="$3" '$4 == name {print $col}' "$TMP/$1.runs" | sort -g |
        awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# interleave KEY A B CONNS SCRIPT PATH ENV_A ENV_B: a 1 s warm-up on each,
# then A B A B ... ROUNDS times. ENV_* are space-separated VAR=VALUE lists.
interleave() {
    local key=$1 a=$2 b=$3 conns=$4 script=$5 path=$6 env_a=$7 env_b=$8 r
    local saved=$DURATION
    DURATION=1
    # shellcheck disable=SC2086
    { wrk_run warmup "$a" "$conns" "$script" "$path" $env_a; wrk_run warmup "$b" "$conns" "$script" "$path" $env_b; }
    DURATION=$saved
    for r in $(seq "$ROUNDS"); do
        # shellcheck disable=SC2086
        wrk_run "$key" "$a" "$conns" "$script" "$path" $env_a
        # shellcheck disable=SC2086
        wrk_run "$key" "$b" "$conns" "$script" "$path" $env_b
    done
}

# The reference copies the gateway's libmicrohttpd memory pool size; warn if
# server/httpd_limits.c no longer computes it the way refserver.c assumes.
REF_POOL_NOTE=
if ! grep -q 'return 2 \* (max_header_bytes + max_url_bytes) + 8192;' server/httpd_limits.c; then
    REF_POOL_NOTE="WARNING: server/httpd_limits.c changed its connection memory pool formula; bench/refserver.c still uses 2 * (16384 + 4096) + 8192 bytes, so the comparison is not like for like."
    say "$REF_POOL_NOTE"
fi
START_TIME=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD_START%% *}" 'BEGIN {exit !(l > 0.5)}'; then
    say "warning: load average $LOAD_START before the start: other work is running, figures will be noisy"
fi
say "duration ${DURATION}s, $ROUNDS rounds, sessions $MID and $BIG, scratch $TMP"

# --- 1. reference vs gateway ----------------------------------------------------
if want compare; then
# The gateway first: the reference renders the gateway's own status table
# (same rows, same bytes) per request, and the ceiling answers bodies of the
# gateway's sizes.
# Room for the connections' password checks and for those still finishing
# from the previous wrk run (a check outlives its closed connection).
start gw gateway --max-password-checks $((2 * HASH4_CONNS))
s=$(logon gw nopw) && read -r _ GW_TOKEN <<<"$s"
curl -sS --noproxy '*' -m 10 -H "Authorization: Bearer $GW_TOKEN" \
    "http://127.0.0.1:${PORT[gw]}/status" >"$TMP/status-body.json" || die "GET /status on gw"
GW_LOGON_BYTES=$(curl -sS --noproxy '*' -m 30 -o /dev/null -w '%{size_download}' -X POST \
    -H 'Content-Type: application/json' -d '{"profile":"nopw","flags":["MAPI_NEW_SESSION"]}' \
    "http://127.0.0.1:${PORT[gw]}/sessions")
PROFILE_VERIFIERS=()
for p4 in hashed1 hashed2 hashed3 hashed4; do
    PROFILE_VERIFIERS+=(--profile-verifier "$p4=$(python3 -c 'import json,sys; print([p for p in json.load(open("bench/profiles.json"))["profiles"] if p["name"] == sys.argv[1]][0]["auth"]["verifier"])' "$p4")")
done
start ref ref --status-body "$TMP/status-body.json"
start refhash ref --verifier "$VERIFIER" "${PROFILE_VERIFIERS[@]}"
s=$(logon ref nopw) && read -r _ REF_TOKEN <<<"$s"

say "GET /identity"
interleave identity ref gw "$CONNS" get.lua /identity "BENCH_TOKEN=$REF_TOKEN" "BENCH_TOKEN=$GW_TOKEN"
say "GET /status"
interleave status ref gw "$CONNS" get.lua /status "BENCH_TOKEN=$REF_TOKEN" "BENCH_TOKEN=$GW_TOKEN"
say "logon+logoff, profile nopw (no password)"
interleave cycle ref gw "$CONNS" cycle.lua "" "BENCH_PROFILE=nopw" "BENCH_PROFILE=nopw"
say "logon+logoff, profile hashed (argon2id)"
interleave hashed refhash gw "$HASH_CONNS" cycle.lua "" \
    "BENCH_PROFILE=hashed BENCH_PASSWORD=$PASSWORD" "BENCH_PROFILE=hashed BENCH_PASSWORD=$PASSWORD"
say "logon+logoff, four argon2id profiles (hashed1..hashed4) in turn"
interleave hashed4 refhash gw "$HASH4_CONNS" cycle.lua "" \
    "BENCH_PROFILES=$HASH4 BENCH_PASSWORD=$PASSWORD" "BENCH_PROFILES=$HASH4 BENCH_PASSWORD=$PASSWORD"
# Sizes of the bodies compared, for the report.
body_size() {
    curl -sS --noproxy '*' -m 10 -o /dev/null -w '%{size_download}' \
        -H "Authorization: Bearer $2" "http://127.0.0.1:${PORT[$1]}$3"
}
SIZE_REF_IDENTITY=$(body_size ref "$REF_TOKEN" /identity)
SIZE_GW_IDENTITY=$(body_size gw "$GW_TOKEN" /identity)
SIZE_REF_STATUS=$(body_size ref "$REF_TOKEN" /status)
SIZE_GW_STATUS=$(body_size gw "$GW_TOKEN" /status)
stop ref
stop refhash
# The ceiling: libmicrohttpd answering fixed bodies of the gateway's sizes,
# no lookup, no JSON: the most any server on this library and machine does.
say "ceiling: fixed bodies of ${SIZE_GW_IDENTITY}, ${SIZE_GW_STATUS} and ${GW_LOGON_BYTES} bytes"
start ceil ref --ceiling --ceiling-identity-bytes "$SIZE_GW_IDENTITY" \
    --ceiling-status-bytes "$SIZE_GW_STATUS" --ceiling-logon-bytes "$GW_LOGON_BYTES"
interleave ceilidentity ceil gw "$CONNS" get.lua /identity "BENCH_TOKEN=$GW_TOKEN" "BENCH_TOKEN=$GW_TOKEN"
interleave ceilstatus ceil gw "$CONNS" get.lua /status "BENCH_TOKEN=$GW_TOKEN" "BENCH_TOKEN=$GW_TOKEN"
interleave ceilcycle ceil gw "$CONNS" cycle.lua "" "BENCH_PROFILE=nopw" "BENCH_PROFILE=nopw"
stop ceil
stop gw
fi

# --- 1b. ten thousand event streams ---------------------------------------------------
if want streams; then
say "event streams: $STREAMS streams of one session from $STREAM_ADDRS addresses"
# One file per stream on each side: the soft limit up to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((STREAMS + 500)) ] || die "open files limit $(ulimit -n) is below $STREAMS streams"
STREAM_FLAGS=(--max-connections $((STREAMS + 1000)) --max-connections-per-ip $((STREAMS / STREAM_ADDRS + CONNS + 16))
              --max-header-bytes 2048 --max-url-bytes 1024)
start quiet gateway "${STREAM_FLAGS[@]}"
start streams gateway "${STREAM_FLAGS[@]}"
s=$(logon quiet nopw) && read -r _ QUIET_TOKEN <<<"$s"
s=$(logon streams nopw) && read -r _ STREAMS_TOKEN <<<"$s"
RSS_S0=$(rss_kb streams)
coproc SSE { "$SSE" "${PORT[streams]}" "$STREAMS_TOKEN" "$STREAMS" "$STREAM_ADDRS" 2>"$TMP/sse.log"; }
read -r -t 300 line <&"${SSE[0]}" || die "sse: the streams did not open: $(tail -3 "$TMP/sse.log")"
[ "$line" = "open $STREAMS" ] || die "sse: $line"
sleep 1
RSS_S1=$(rss_kb streams)
BPSTREAM=$(((RSS_S1 - RSS_S0) * 1024 / STREAMS))
say "  $STREAMS streams open: VmRSS $RSS_S0 kB -> $RSS_S1 kB, $BPSTREAM bytes per stream"
: >"$TMP/sse.triggers"
for _ in $(seq "$ROUNDS"); do
    echo trigger >&"${SSE[1]}"
    read -r -t 30 line <&"${SSE[0]}" || die "sse: no answer to a trigger: $(tail -3 "$TMP/sse.log")"
    say "  $line"
    echo "$line" >>"$TMP/sse.triggers"
done
grep -q "received=$STREAMS " "$TMP/sse.triggers" || die "sse: a status change missed streams: $(cat "$TMP/sse.triggers")"
# The worst of the rounds' p99 (every round reached every stream).
STREAM_P99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' "$TMP/sse.triggers" | sort -g | tail -1)
STREAM_P50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' "$TMP/sse.triggers" | sort -g | tail -1)
interleave streamsidentity quiet streams "$CONNS" get.lua /identity "BENCH_TOKEN=$QUIET_TOKEN" "BENCH_TOKEN=$STREAMS_TOKEN"
exec {SSE[1]}>&-
wait "$SSE_PID" 2>/dev/null || true
stop quiet
stop streams
fi

# --- 2. bytes per idle session ----------------------------------------------------
if want memory; then
say "memory: $MID then $BIG idle sessions (profile nopw) on one gateway"
start big gateway
sleep 1
RSS0=$(rss_kb big)
load() { # load NAME COUNT
    local out
    out=$("$LOADER" "${PORT[$1]}" "$2" "$LOADER_PARALLEL") || die "loader: $out"
    say "  loader: $out"
    LOAD_RATE=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out")
}
load big "$MID"
RATE_MID=$LOAD_RATE
sleep 1
RSS_MID=$(rss_kb big)
GAUGE_MID=$(gauge big)
[ "$GAUGE_MID" = "$MID" ] || die "mapigw_sessions is $GAUGE_MID after $MID logons"
if [ "$BIG" -gt "$MID" ]; then
    load big $((BIG - MID))
    RATE_BIG=$LOAD_RATE
fi
sleep 1
RSS_BIG=$(rss_kb big)
GAUGE_BIG=$(gauge big)
[ "$GAUGE_BIG" = "$BIG" ] || die "mapigw_sessions is $GAUGE_BIG after $BIG logons"
BPS_MID=$(((RSS_MID - RSS0) * 1024 / MID))
BPS_BIG=$(((RSS_BIG - RSS0) * 1024 / BIG))
say "  VmRSS ${RSS0} kB -> ${RSS_MID} kB ($MID) -> ${RSS_BIG} kB ($BIG): $BPS_MID and $BPS_BIG bytes/session"

# --- 3. GET /identity with BIG live sessions vs one ------------------------------
say "GET /identity with $BIG live sessions vs 1"
start one gateway
s=$(logon one nopw) && read -r _ ONE_TOKEN <<<"$s"
s=$(logon big nopw) && read -r _ BIG_TOKEN <<<"$s"
interleave manysessions one big "$CONNS" get.lua /identity "BENCH_TOKEN=$ONE_TOKEN" "BENCH_TOKEN=$BIG_TOKEN"
GAUGE_BIG_AFTER=$(gauge big)
stop one
stop big
fi

# --- 5. profiles at scale ------------------------------------------------------------
if want profiles; then
say "profiles: a $NPROFILES-profile file; $NTEMPLATED templated users"
start tiny gateway
sleep 1
RSS_TINY=$(rss_kb tiny) # the same gateway with bench/profiles.json (2 profiles)
stop tiny
bench/gen-profiles.sh "$NPROFILES" >"$TMP/org.json"
T0=$(date +%s.%N)
start org gateway --profiles "$TMP/org.json"
# The port file is written once the profiles are loaded and the port bound.
START_S=$(awk -v a="$T0" -v b="$(date -r "$TMP/org.port" +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
sleep 1
RSS_ORG=$(rss_kb org)
WARNINGS=$(grep -c 'no authentication' "$TMP/org.log" || true)
stop org
BPP=$(((RSS_ORG - RSS_TINY) * 1024 / NPROFILES))
say "  start ${START_S} s, VmRSS ${RSS_TINY} kB (2 profiles) -> ${RSS_ORG} kB: $BPP bytes/profile, $WARNINGS warning line(s)"

bench/gen-profiles.sh 0 bench.example shared >"$TMP/template.json"
start tmpl gateway --profiles "$TMP/template.json"
sleep 1
RSS_T0=$(rss_kb tmpl)
out=$("$LOADER" "${PORT[tmpl]}" "$NTEMPLATED" "$LOADER_PARALLEL" \
    '{"profile":"user%N@bench.example","flags":["MAPI_NEW_SESSION"]}') || die "loader: $out"
say "  loader: $out"
RATE_TMPL=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out")
sleep 1
RSS_T1=$(rss_kb tmpl)
GAUGE_T=$(gauge tmpl)
[ "$GAUGE_T" = "$NTEMPLATED" ] || die "mapigw_sessions is $GAUGE_T after $NTEMPLATED templated logons"
stop tmpl
BPT=$(((RSS_T1 - RSS_T0) * 1024 / NTEMPLATED))
say "  VmRSS ${RSS_T0} kB -> ${RSS_T1} kB: $BPT bytes per templated session ($RATE_TMPL logons/s)"
fi

# --- 4. GET /identity under a logon flood -------------------------------------------
# flood_run NAME SPREAD: GET /identity on gateway NAME (as wrk_run) while
# bench/loader floods it with logons (SPREAD 0: from 127.0.0.1; 1: a new source
# address per logon); the loader's answer counts go to $TMP/flood-NAME.counts.
flood_run() {
    local name=$1 spread=$2 out=$TMP/flood-$1-$RUN_NO.txt lp
    "$LOADER" --flood "${PORT[$name]}" $((DURATION + 2)) "$FLOOD_CONNS" "$spread" >"$out" 2>&1 &
    lp=$!
    sleep 1 # the flood is in full swing before the measurement starts
    wrk_run flood "$name" "$CONNS" get.lua /identity "BENCH_TOKEN=$FLOOD_TOKEN"
    wait "$lp" || die "loader --flood against $name failed: $(cat "$out")"
    grep '^flood:' "$out" >>"$TMP/flood-$name.counts" || die "loader --flood printed nothing: $(cat "$out")"
}
# flood_counts NAME: "401=A 429=B 503=C" summed over its runs, and req/s.
flood_counts() {
    awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); sum[kv[1]] += kv[2]}} END {
        printf "%d logons answered (%.0f/s): 401 × %d, 429 × %d, 503 × %d, other × %d", sum["requests"],
            sum["requests"] / (sum["seconds"] > 0 ? sum["seconds"] : 1), sum["401"], sum["429"], sum["503"], sum["other"]}' \
        "$TMP/flood-$1.counts"
}
FLOOD_SETS=()
if want flood; then
    FLOOD_SETS=(gw)
    [ -z "$BASELINE" ] || FLOOD_SETS=(base gw)
    for set in "${FLOOD_SETS[@]}"; do
        kind=gateway
        [ "$set" = base ] && kind=baseline
        say "GET /identity under a logon flood ($FLOOD_CONNS connections, made-up profile names), $kind"
        start "$set-quiet" "$kind"
        # One gateway, three names: no flood, a flood from one address, from many.
        for alias in "$set-one" "$set-many"; do
            PID[$alias]=${PID[$set-quiet]}
            PORT[$alias]=${PORT[$set-quiet]}
        done
        s=$(logon "$set-quiet" nopw) && read -r _ FLOOD_TOKEN <<<"$s"
        DURATION_SAVED=$DURATION
        DURATION=1
        wrk_run warmup "$set-quiet" "$CONNS" get.lua /identity "BENCH_TOKEN=$FLOOD_TOKEN"
        DURATION=$DURATION_SAVED
        for r in $(seq "$ROUNDS"); do
            wrk_run flood "$set-quiet" "$CONNS" get.lua /identity "BENCH_TOKEN=$FLOOD_TOKEN"
            flood_run "$set-one" 0
            flood_run "$set-many" 1
        done
        say "  flood from one address: $(flood_counts "$set-one")"
        say "  flood from many addresses: $(flood_counts "$set-many")"
        stop "$set-quiet"
        unset "PID[$set-one]" "PID[$set-many]"
    done
fi

# --- 6. the Redis session store -------------------------------------------------------
# start_redis: one redis-server on 127.0.0.1 as the replicas suite and the
# scaled compose file run it (AOF, fsync always); PID[redis], PORT[redis].
start_redis() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$TMP/redis"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$TMP/redis" --save "" --appendonly yes \
        --appendfsync always --daemonize no --logfile "" >"$TMP/redis.log" 2>&1 &
    PID[redis]=$!
    PORT[redis]=$port
    for _ in $(seq 100); do
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
        kill -0 "${PID[redis]}" 2>/dev/null || die "redis-server did not start: $(tail -3 "$TMP/redis.log")"
        sleep 0.1
    done
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] || die "redis-server: no PONG within 10 s"
    say "redis pid ${PID[redis]} on 127.0.0.1:$port ($(redis-server --version | awk '{print $3}'))"
}
redis_mem() { redis-cli -p "${PORT[redis]}" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'; }
# start_lb NAME BACKEND...: haproxy on 127.0.0.1, round robin over the named
# gateways, no stickiness, as docker/scaled/haproxy.cfg; PID[NAME], PORT[NAME].
start_lb() {
    local name=$1 port b
    shift
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    {
        printf 'global\n    maxconn 4096\ndefaults\n    mode http\n    timeout connect 5s\n'
        printf '    timeout client 60s\n    timeout server 60s\n'
        printf 'frontend fe\n    bind 127.0.0.1:%s\n    default_backend be\n' "$port"
        printf 'backend be\n    balance roundrobin\n'
        for b in "$@"; do printf '    server %s 127.0.0.1:%s\n' "$b" "${PORT[$b]}"; done
    } >"$TMP/$name.cfg"
    haproxy -db -f "$TMP/$name.cfg" >"$TMP/$name.log" 2>&1 &
    PID[$name]=$!
    PORT[$name]=$port
    for _ in $(seq 100); do
        curl -s --noproxy '*' -m 1 -o /dev/null "http://127.0.0.1:$port/healthz" && break
        kill -0 "${PID[$name]}" 2>/dev/null || die "haproxy did not start: $(tail -3 "$TMP/$name.log")"
        sleep 0.1
    done
    say "$name (haproxy $(haproxy -v | awk 'NR == 1 {print $3}')) pid ${PID[$name]} on 127.0.0.1:$port -> $*"
}
if want redis; then
    start_redis
    REDIS_URL=redis://127.0.0.1:${PORT[redis]}
    say "GET /identity and logon+logoff: memory store vs --store redis"
    start gwmem gateway
    start gwred gateway --store "$REDIS_URL" --store-prefix bench-a:
    s=$(logon gwmem nopw) && read -r _ MEM_TOKEN <<<"$s"
    s=$(logon gwred nopw) && read -r _ RED_TOKEN <<<"$s"
    interleave redisidentity gwmem gwred "$CONNS" get.lua /identity "BENCH_TOKEN=$MEM_TOKEN" "BENCH_TOKEN=$RED_TOKEN"
    interleave rediscycle gwmem gwred "$CONNS" cycle.lua "" "BENCH_PROFILE=nopw" "BENCH_PROFILE=nopw"
    stop gwmem
    stop gwred

    HALF=$(((THREADS + 1) / 2))
    say "GET /identity: 2 replicas x $HALF threads behind haproxy vs 1 replica x $THREADS threads (--store redis)"
    GW_THREADS=$HALF start rep1 gateway --store "$REDIS_URL" --store-prefix bench-b:
    GW_THREADS=$HALF start rep2 gateway --store "$REDIS_URL" --store-prefix bench-b:
    start solo gateway --store "$REDIS_URL" --store-prefix bench-b:
    start_lb lb rep1 rep2
    s=$(logon rep1 nopw) && read -r _ REP_TOKEN <<<"$s"
    interleave replicas solo lb "$CONNS" get.lua /identity "BENCH_TOKEN=$REP_TOKEN" "BENCH_TOKEN=$REP_TOKEN"
    stop lb
    stop solo

    say "a logoff on replica A seen by replica B: $PROPAGATION samples"
    PROP_OUT=$("$ROOT/build/bench/propagation" "${PORT[rep1]}" "${PORT[rep2]}" "$PROPAGATION") ||
        die "propagation: $PROP_OUT"
    say "  $PROP_OUT"
    PROP_P50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$PROP_OUT")
    PROP_P99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$PROP_OUT")
    PROP_MAX=$(sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p' <<<"$PROP_OUT")
    stop rep1
    stop rep2

    say "bytes per idle session in Redis: $MID sessions"
    start gwmemred gateway --store "$REDIS_URL" --store-prefix bench-m:
    sleep 1
    REDIS_MEM0=$(redis_mem)
    out=$("$LOADER" "${PORT[gwmemred]}" "$MID" "$LOADER_PARALLEL") || die "loader: $out"
    say "  loader: $out"
    REDIS_RATE=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out")
    sleep 2 # the replica's batched idle-deadline updates are flushed
    REDIS_MEM1=$(redis_mem)
    REDIS_KEYS=$(redis-cli -p "${PORT[redis]}" --scan --pattern 'bench-m:s:*' | wc -l)
    [ "$REDIS_KEYS" = "$MID" ] || die "$REDIS_KEYS session records in Redis after $MID logons"
    REDIS_BPS=$(((REDIS_MEM1 - REDIS_MEM0) / MID))
    say "  used_memory $REDIS_MEM0 -> $REDIS_MEM1 bytes: $REDIS_BPS bytes/session"
    stop gwmemred
    stop redis
fi

# --- report -------------------------------------------------------------------------
ELAPSED=$(($(date +%s) - START_TIME))
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
ms() { awk -v v="$1" 'BEGIN {printf "%.3f", v}'; }
fmt_rps() { awk -v v="$1" -v d="${2:-1}" 'BEGIN {printf "%.0f", v / d}'; }
verdict() { # verdict VALUE OP LIMIT
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {ok = (op == ">=") ? v >= l : v <= l; print ok ? "PASS" : "MISS"}'
}
MISSED=0
TABLE=$TMP/table.md
{
    echo "| scenario | reference | gateway | ratio | p50 ref / gw (ms) | p99 ref / gw (ms) | target | result |"
    echo "|---|---|---|---|---|---|---|---|"
} >"$TABLE"
# row KEY A B LABEL UNIT DIVISOR TARGET_RATIO ("" = none)
row() {
    local key=$1 a=$2 b=$3 label=$4 unit=$5 div=$6 target=$7
    local ra rb r v="-" t="-"
    ra=$(median "$key" "$a" 1)
    rb=$(median "$key" "$b" 1)
    r=$(ratio "$rb" "$ra")
    if [ -n "$target" ]; then
        t="≥ $target×"
        v=$(verdict "$r" ">=" "$target")
        [ "$v" = PASS ] || MISSED=1
    fi
    printf '| %s | %s %s | %s %s | **%s×** | %s / %s (%s×) | %s / %s (%s×) | %s | %s |\n' \
        "$label" "$(fmt_rps "$ra" "$div")" "$unit" "$(fmt_rps "$rb" "$div")" "$unit" "$r" \
        "$(ms "$(median "$key" "$a" 2)")" "$(ms "$(median "$key" "$b" 2)")" \
        "$(ratio "$(median "$key" "$b" 2)" "$(median "$key" "$a" 2)")" \
        "$(ms "$(median "$key" "$a" 3)")" "$(ms "$(median "$key" "$b" 3)")" \
        "$(ratio "$(median "$key" "$b" 3)" "$(median "$key" "$a" 3)")" "$t" "$v" >>"$TABLE"
}
if want compare; then
    row identity ref gw "GET /identity" "req/s" 1 0.9
    row status ref gw "GET /status (the reference renders the same table with jansson)" "req/s" 1 0.9
    # p99 no more than 1.5x the reference's: the ratio of the p99s, gw / ref.
    P99R=$(ratio "$(median status gw 3)" "$(median status ref 3)")
    v=$(verdict "$P99R" "<=" 1.5)
    [ "$v" = PASS ] || MISSED=1
    printf '| GET /status p99, gateway / reference | | | **%s×** | | %s / %s ms | ≤ 1.5× | %s |\n' \
        "$P99R" "$(ms "$(median status ref 3)")" "$(ms "$(median status gw 3)")" "$v" >>"$TABLE"
    row cycle ref gw "logon+logoff, no password" "cycles/s" 2 0.7
    row hashed refhash gw "logon+logoff, argon2id, one profile" "cycles/s" 2 ""
    row hashed4 refhash gw "logon+logoff, argon2id, 4 profiles in turn ($HASH4_CONNS connections)" "cycles/s" 2 0.9
    row ceilidentity ceil gw "GET /identity (ref. column: the ceiling, a fixed body)" "req/s" 1 ""
    row ceilstatus ceil gw "GET /status (ref. column: the ceiling, a fixed body)" "req/s" 1 ""
    row ceilcycle ceil gw "logon+logoff, no password (ref. column: the ceiling, fixed bodies)" "cycles/s" 2 ""
fi
if want streams; then
    row streamsidentity quiet streams "GET /identity with $STREAMS event streams open (ref. column: none open)" "req/s" 1 0.9
    v=$(verdict "$BPSTREAM" "<=" 16384)
    [ "$v" = PASS ] || MISSED=1
    printf '| bytes per open event stream, %s streams (--max-header-bytes 2048 --max-url-bytes 1024) | | %s B | | VmRSS %s kB → %s kB | | ≤ 16384 B | %s |\n' \
        "$STREAMS" "$BPSTREAM" "$RSS_S0" "$RSS_S1" "$v" >>"$TABLE"
    v=$(verdict "$STREAM_P99" "<=" 200)
    [ "$v" = PASS ] || MISSED=1
    printf '| a status change reaching all %s streams, p50 / p99 (worst of %s rounds) | | %s / %s ms | | | | p99 ≤ 200 ms | %s |\n' \
        "$STREAMS" "$ROUNDS" "$STREAM_P50" "$STREAM_P99" "$v" >>"$TABLE"
fi
if want memory; then
    row manysessions one big "GET /identity, $BIG sessions (ref. column: gateway with 1)" "req/s" 1 0.9
    P99M=$(ratio "$(median manysessions big 3)" "$(median manysessions one 3)")
    v=$(verdict "$P99M" "<=" 1.5)
    [ "$v" = PASS ] || MISSED=1
    printf '| GET /identity p99, %s sessions / 1 session | | | **%s×** | | %s / %s ms | ≤ 1.5× | %s |\n' \
        "$BIG" "$P99M" "$(ms "$(median manysessions one 3)")" "$(ms "$(median manysessions big 3)")" "$v" >>"$TABLE"
    for n in "$MID:$BPS_MID:$RSS_MID" "$BIG:$BPS_BIG:$RSS_BIG"; do
        IFS=: read -r count bps rss <<<"$n"
        v=$(verdict "$bps" "<=" 400)
        [ "$v" = PASS ] || MISSED=1
        printf '| bytes per idle session, %s sessions | | %s B | | VmRSS %s kB → %s kB | | ≤ 400 B | %s |\n' \
            "$count" "$bps" "$RSS0" "$rss" "$v" >>"$TABLE"
    done
fi
if want profiles; then
    v=$(verdict "$START_S" "<=" 2)
    [ "$v" = PASS ] || MISSED=1
    printf '| start with %s explicit profiles (bench/gen-profiles.sh) | | %s s | | %s warning line(s) | | ≤ 2 s | %s |\n' \
        "$NPROFILES" "$START_S" "$WARNINGS" "$v" >>"$TABLE"
    v=$(verdict "$BPP" "<=" 2048)
    [ "$v" = PASS ] || MISSED=1
    printf '| bytes per explicit profile, %s profiles | | %s B | | VmRSS %s kB (2 profiles) → %s kB | | ≤ 2048 B | %s |\n' \
        "$NPROFILES" "$BPP" "$RSS_TINY" "$RSS_ORG" "$v" >>"$TABLE"
    # Each user has provider instances of their own, as the first session of
    # an explicit profile does (7.8 KB measured with 20,000 of them), plus the
    # derived profile itself while it is logged on (≤ 2 KB, as an explicit one).
    v=$(verdict "$BPT" "<=" 10240)
    [ "$v" = PASS ] || MISSED=1
    printf '| bytes per session, %s distinct templated users (local providers) | | %s B | | VmRSS %s kB → %s kB, %s logons/s | | ≤ 10240 B | %s |\n' \
        "$NTEMPLATED" "$BPT" "$RSS_T0" "$RSS_T1" "$RATE_TMPL" "$v" >>"$TABLE"
fi
for set in "${FLOOD_SETS[@]}"; do
    which="this build"
    [ "$set" = base ] && which=$BASE_LABEL
    row flood "$set-quiet" "$set-one" "GET /identity, logon flood from one address, $which (ref. column: no flood)" "req/s" 1 ""
    row flood "$set-quiet" "$set-many" "GET /identity, logon flood from many addresses, $which (ref. column: no flood)" "req/s" 1 ""
done

if want redis; then
    row redisidentity gwmem gwred "GET /identity, --store redis (ref. column: memory store)" "req/s" 1 0.85
    row rediscycle gwmem gwred "logon+logoff, no password, --store redis (ref. column: memory store)" "cycles/s" 2 0.4
    row replicas solo lb "GET /identity, 2 replicas × $HALF threads behind haproxy (ref. column: 1 replica × $THREADS threads)" "req/s" 1 ""
    printf '| logoff on replica A seen by replica B, p50 / p99 / max (%s logoffs) | | %s / %s / %s ms | | | | ≤ 3000 ms (the grace) | %s |\n' \
        "$PROPAGATION" "$(ms "$PROP_P50")" "$(ms "$PROP_P99")" "$(ms "$PROP_MAX")" "$(verdict "$PROP_MAX" "<=" 3000)" >>"$TABLE"
    [ "$(verdict "$PROP_MAX" "<=" 3000)" = PASS ] || MISSED=1
    v=$(verdict "$REDIS_BPS" "<=" 600)
    [ "$v" = PASS ] || MISSED=1
    printf '| bytes per idle session in Redis, %s sessions | | %s B | | used_memory %s → %s B | | ≤ 600 B | %s |\n' \
        "$MID" "$REDIS_BPS" "$REDIS_MEM0" "$REDIS_MEM1" "$v" >>"$TABLE"
fi

RUNS=$TMP/runs.md
{
    echo "| scenario | server | req/s | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|"
    for key in identity status cycle hashed hashed4 ceilidentity ceilstatus ceilcycle streamsidentity \
        manysessions flood redisidentity rediscycle replicas; do
        [ -f "$TMP/$key.runs" ] || continue
        awk -v k="$key" '{printf "| %s | %s | %.0f | %.3f | %.3f |\n", k, $4, $1, $2, $3}' "$TMP/$key.runs"
    done
} >"$RUNS"

echo
cat "$TABLE"
echo

CPU_MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
CPUS=$(nproc)
HV=$(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The results file itself does not count: each run rewrites it.
git diff-index --quiet HEAD -- ':!bench/RESULTS.md' 2>/dev/null || COMMIT="$COMMIT (with uncommitted changes)"
mkdir -p "$(dirname "$RESULTS")"
{
    echo "# mapigw benchmark results"
    echo
    echo "Written by \`make bench\` (bench/run.sh)$([ "${BENCH_QUICK:-0}" = 1 ] && echo ', BENCH_QUICK=1 smoke run: too short to trust')$([ -n "${BENCH_ONLY:-}" ] && echo ", sections $BENCH_ONLY only")."
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); whole run ${ELAPSED} s"
    echo "- commit: $COMMIT"
    echo "- machine: $CPU_MODEL, $CPUS CPUs${HV:+ (virtual machine, $HV)}, $(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM"
    echo "- kernel: $(uname -sr); $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')"
    echo "- load average (1, 5, 15 min) before the run: $LOAD_START (above ~0.5: other work was running and skews the"
    echo "  figures); after it: $LOAD_END (the benchmark's own load included)"
    echo "- gateway: $GW_VERSION, ${BENCH_GATEWAY:-build/release/mapigw} copied to build/bench/mapigw (sha256 $GW_SHA...)"
    [ -z "$BASELINE" ] || echo "- baseline (section 4 only): $BASE_LABEL, $BASE_VERSION, $BASELINE copied to build/bench/mapigw.baseline (sha256 $BASE_SHA...)"
    echo "- gcc: $($CC --version | head -1)"
    echo "- libmicrohttpd $(pkg-config --modversion libmicrohttpd), jansson $(pkg-config --modversion jansson), libsodium $(pkg-config --modversion libsodium), libcurl $(pkg-config --modversion libcurl)"
    echo "- wrk: $(wrk -v 2>&1 | head -1 | sed 's/ Copyright.*//')"
    echo
    echo "## Results (medians of $ROUNDS runs each)"
    echo
    [ -z "$REF_POOL_NOTE" ] || printf '%s\n\n' "$REF_POOL_NOTE"
    cat "$TABLE"
    echo
    echo "Ratios are gateway / reference, so above 1 is better for req/s and worse for latency. A logon+logoff"
    echo "cycle is two requests (POST /sessions, DELETE /sessions/{id}): cycles/s = req/s / 2, and its latencies are"
    echo "those of both kinds of request together."
    echo
    echo "## How it was measured"
    echo
    echo "- Everything on 127.0.0.1. The machine has $CPUS CPUs: wrk (2 threads) and the server under test"
    echo "  (libmicrohttpd pool of $THREADS threads, the gateway's default) share them, so the load generator takes"
    echo "  a good part of the CPU and the absolute figures are far below what a larger machine gives. The ratios"
    echo "  are what the targets are about, and both servers pay the same load generator."
    if want compare; then
        echo "- Reference: \`build/bench/refserver\` (bench/refserver.c), libmicrohttpd with exactly the gateway's daemon"
        echo "  flags and limits (connections, per IP, idle timeout, connection memory pool), a bearer-token hash table"
        echo "  under a rwlock and a JSON body built with jansson."
        echo "  Its bodies: GET /identity $SIZE_REF_IDENTITY bytes, GET /status $SIZE_REF_STATUS bytes; the gateway's:"
        echo "  GET /identity $SIZE_GW_IDENTITY bytes, GET /status $SIZE_GW_STATUS bytes (the whole status table, one row per"
        echo "  provider), so GET /status compares unequal work and has no target."
        echo "- For the argon2id logon the reference (\`refserver --verifier\`) checks the same verifier"
        echo "  (m=65536 KiB, t=2, p=1, as in server/profiles.default.json) with libsodium, so that ratio compares"
        echo "  like with like; against a reference without hashing it would only show the cost of argon2id."
    fi
    echo "- Gateway: \`build/bench/mapigw --listen 127.0.0.1 --port 0 --port-file F --data-dir TMP --threads $THREADS ${GW_FLAGS[*]}\`,"
    echo "  with its JSON access log on (stderr to a file): every request is logged, as in production."
    echo "  Profiles: bench/profiles.json, \"nopw\" (auth none) and \"hashed\" (argon2id, password \"$PASSWORD\"), each"
    echo "  with a Maildir store, a JSON address book and a spool transport (local providers, no network connection)."
    if want compare; then
        echo "- Each scenario: a 1 s warm-up on each server, then reference and gateway alternately, $ROUNDS runs each:"
        echo "  - GET: \`$(wrk_cmd "$CONNS" get.lua /identity)\` (and /status), BENCH_TOKEN=a token of one live session"
        echo "  - no password: \`$(wrk_cmd "$CONNS" cycle.lua "")\` with BENCH_PROFILE=nopw"
        echo "  - argon2id: \`$(wrk_cmd "$HASH_CONNS" cycle.lua "")\` with BENCH_PROFILE=hashed BENCH_PASSWORD=$PASSWORD"
        echo "    (fewer connections: each logon costs 64 MiB and tens of milliseconds of one CPU)"
        echo "  Any socket error, non-2xx answer or unexpected logon/logoff answer fails the run."
    fi
    if want memory; then
        echo "- Bytes per idle session: one fresh gateway; VmRSS from /proc/PID/status 1 s after start, then after"
        echo "  \`build/bench/loader PORT N $LOADER_PARALLEL\` (libcurl multi, $LOADER_PARALLEL keep-alive connections,"
        echo "  POST /sessions {\"profile\":\"nopw\",\"flags\":[\"MAPI_NEW_SESSION\"]}) created $MID sessions"
        echo "  (${RATE_MID:-?} logons/s), then $BIG in all (${RATE_BIG:-${RATE_MID:-?}} logons/s); bytes = (VmRSS after − VmRSS"
        echo "  before) / N. The gateway's mapigw_sessions gauge read $GAUGE_MID and $GAUGE_BIG at those points."
        echo "- $BIG sessions: GET /identity as above on that gateway (${GAUGE_BIG_AFTER:-?} live sessions at the end),"
        echo "  alternating with a fresh gateway holding one session."
    fi
    if [ "${#FLOOD_SETS[@]}" -gt 0 ]; then
        echo "- Logon flood: GET /identity as above (\`$(wrk_cmd "$CONNS" get.lua /identity)\`) on one gateway,"
        echo "  in turn with no flood, while \`build/bench/loader --flood PORT $((DURATION + 2)) $FLOOD_CONNS 0\` sends"
        echo "  logons to made-up profile names with a password over $FLOOD_CONNS keep-alive connections from 127.0.0.1,"
        echo "  and while \`build/bench/loader --flood PORT $((DURATION + 2)) $FLOOD_CONNS 1\` does the same with a new"
        echo "  connection per logon from the next address of 127.0.0.0/8 (no per-address budget sees it twice)."
        echo "  The flood starts 1 s before wrk. The flood's answers (all $ROUNDS runs):"
        for set in "${FLOOD_SETS[@]}"; do
            which="this build"
            [ "$set" = base ] && which=$BASE_LABEL
            echo "  - $which, one address: $(flood_counts "$set-one")"
            echo "  - $which, many addresses: $(flood_counts "$set-many")"
        done
    fi
    if want redis; then
        echo "- Redis store: \`redis-server $(redis-server --version | awk '{print $3}') --save \"\" --appendonly yes --appendfsync always\`"
        echo "  on 127.0.0.1 (as the replicas suite and docker/compose.scaled.yaml run it), one per run. GET /identity and"
        echo "  logon+logoff (nopw) as above, alternating a gateway with the memory store and one with"
        echo "  \`--store redis://127.0.0.1:PORT --store-prefix bench-a:\`."
        echo "- Replicas: two gateways with \`--threads $HALF\` on the same store and prefix behind"
        echo "  \`haproxy -db\` ($(haproxy -v | awk 'NR == 1 {print $3}'); balance roundrobin, no stickiness, keep-alive), against one"
        echo "  gateway with \`--threads $THREADS\` on that store, wrk straight at it; GET /identity with one token. haproxy"
        echo "  and both replicas share the machine's $CPUS CPUs with wrk: this shows the balancer's cost, not scaling."
        echo "- Logoff propagation: \`build/bench/propagation PORT_A PORT_B $PROPAGATION\` (bench/propagation.c): a logon on"
        echo "  A, GET /identity on B until 200 (B caches the handle), DELETE on A, then GET /identity on B over one"
        echo "  keep-alive connection until 401; the sample is from A's 204 to B's 401."
        echo "- Bytes per idle session in Redis: INFO used_memory before and 2 s after \`build/bench/loader PORT $MID\`"
        echo "  (${REDIS_RATE:-?} logons/s) on a gateway with its own prefix; $REDIS_KEYS session records counted with"
        echo "  SCAN; bytes = (after − before) / $MID. Every key of a session counts: its record, its handle, its"
        echo "  entry in the deadline set, its share of the capped event stream."
    fi
    echo
    echo "## Every run"
    echo
    cat "$RUNS"
} >"$RESULTS"
say "report written to $RESULTS (${ELAPSED} s)"
if [ "$MISSED" = 1 ]; then
    say "some targets were missed (MISS above)"
    [ "${BENCH_STRICT:-0}" = 1 ] && exit 1
fi
exit 0
