#!/bin/bash
# HEALTHCHECK for the mapigw image: GET /healthz over bash's /dev/tcp, so the
# runtime image needs no curl. Healthy only on an "HTTP/1.x 200" status line.
set -u
host=${MAPIGW_LISTEN:-127.0.0.1}
case "$host" in 0.0.0.0|::|'[::]'|'') host=127.0.0.1 ;; esac
port=${MAPIGW_PORT:-8080}
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 4 status <&3 || exit 1
case "$status" in
  HTTP/1.?" 200"*) exit 0 ;;
  *) echo "unhealthy: ${status%$'\r'}" >&2; exit 1 ;;
esac
