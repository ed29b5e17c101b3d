#!/usr/bin/env bash
# test-redis.sh start|stop|url [DIR] - one redis-server for a whole test run
# (make test-redis-mode): on 127.0.0.1, a free port, as the current user, in
# DIR (default build/redis) with its pid, port and log files there, AOF with
# fsync always as the replicas suite runs it. `start` waits (bounded) for
# PING; `url` prints redis://127.0.0.1:PORT; `stop` stops it by the recorded
# PID (SIGTERM, a bounded wait, then SIGKILL), checking first that the PID is
# still that redis-server, and removes DIR. The wait bounds scale with
# MAPIGW_TEST_TIME_SCALE, as the suites' do.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-}
dir=${2:-build/redis}
scale=${MAPIGW_TEST_TIME_SCALE:-1}
# whole seconds of a bound scaled by the run: secs BASE
secs() { awk -v b="$1" -v s="$scale" 'BEGIN { v = b * s; if (v < b) v = b; printf "%d", v + 0.999 }'; }

ours() { # pid: is it the redis-server this script started?
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "redis-server 127.0.0.1:$(cat "$dir/port" 2>/dev/null)"
}

case "$cmd" in
  start)
    command -v redis-server >/dev/null || { echo "test-redis.sh: install redis-server (make deps test)" >&2; exit 1; }
    if [ -s "$dir/pid" ] && ours "$(cat "$dir/pid")"; then
      echo "test-redis.sh: already running (pid $(cat "$dir/pid"), $dir)" >&2; exit 1
    fi
    rm -rf "$dir" && mkdir -p "$dir/data"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    echo "$port" >"$dir/port"
    # setsid: not in make's process group, so an interrupted make does not
    # leave it half-stopped; `stop` ends it by PID.
    setsid redis-server --port "$port" --bind 127.0.0.1 --dir "$(realpath "$dir/data")" --save "" \
      --appendonly yes --appendfsync always --daemonize no --logfile "" \
      </dev/null >"$dir/redis.log" 2>&1 &
    echo $! >"$dir/pid"
    deadline=$((SECONDS + $(secs 10)))
    until [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; do
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
        echo "test-redis.sh: redis-server did not answer PING on $port; $dir/redis.log:" >&2
        tail -n 20 "$dir/redis.log" >&2
        "$0" stop "$dir" || true
        exit 1
      fi
      sleep 0.05
    done
    echo "== redis-server pid $(cat "$dir/pid") on 127.0.0.1:$port ($dir)"
    ;;
  url)
    [ -s "$dir/port" ] || { echo "test-redis.sh: not started ($dir/port)" >&2; exit 1; }
    echo "redis://127.0.0.1:$(cat "$dir/port")"
    ;;
  stop)
    [ -s "$dir/pid" ] || { rm -rf "$dir"; exit 0; }
    pid=$(cat "$dir/pid")
    if ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      deadline=$((SECONDS + $(secs 10)))
      while ours "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
      if ours "$pid"; then
        echo "test-redis.sh: redis-server $pid ignored SIGTERM: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop|url [DIR]" >&2; exit 2 ;;
esac
