#!/usr/bin/env bash
# image-test.sh - builds docker/Dockerfile without a Docker engine and checks
# the image: a Debian bookworm base made here with debootstrap (cached in
# build/image/rootfs), imported with podman, the Dockerfile built with buildah
# (chroot isolation, vfs storage), the container run with podman and checked
# with curl. Image storage is kept in build/image/storage (cached between runs;
# `make clean` removes it). Needs root (debootstrap, chroot isolation).
#
# Environment:
#   MAPIGW_DEBIAN_MIRROR  debootstrap mirror (default: the one apt uses here,
#                         else Debian's own archive)
#   IMAGE_TEST_PORT       host port published on 127.0.0.1 (default: a free one)
#   IMAGE_TEST_NETWORK    slirp4netns|host (default: slirp4netns, host as fallback)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
top=$PWD
work=$top/build/image
rootfs=$work/rootfs
base_tag=localhost/mapigw-base:bookworm
image_tag=localhost/mapigw:image-test
name=mapigw-image-test-$$
STORE=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)

passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*" >&2; }
step() { echo "== image-test: $* ($((SECONDS - start))s)"; }
finish() {
  echo "image-test: $passed passed, $failed failed ($((SECONDS - start))s)"
  [ "$failed" -eq 0 ]
}

# --- tools ---------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
  echo "image-test needs root (debootstrap, buildah --isolation chroot)." >&2
  echo "as root: apt-get install -y --no-install-recommends debootstrap buildah podman uidmap slirp4netns runc crun conmon curl python3" >&2
  exit 1
fi
need=()
for t in debootstrap:debootstrap buildah:buildah podman:podman slirp4netns:slirp4netns \
         runc:runc crun:crun conmon:conmon curl:curl python3:python3; do
  command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap >/dev/null
fi

# --- base image: debootstrap (cached) --------------------------------------
mirror=${MAPIGW_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
mkdir -p "$work"
if [ ! -e "$rootfs/.mapigw-debootstrap-ok" ]; then
  step "debootstrap bookworm (minbase) from $mirror"
  rm -rf "$rootfs" "$rootfs.tmp"
  if ! debootstrap --variant=minbase bookworm "$rootfs.tmp" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    fail "debootstrap (log: $work/debootstrap.log)"; finish; exit 1
  fi
  mv "$rootfs.tmp" "$rootfs"
  touch "$rootfs/.mapigw-debootstrap-ok"
fi
ok "base rootfs in build/image/rootfs"

if ! podman "${STORE[@]}" image exists "$base_tag" ||
   [ "$rootfs/.mapigw-debootstrap-ok" -nt "$work/base.imported" ]; then
  step "importing the rootfs as $base_tag"
  tar -C "$rootfs" --numeric-owner --exclude=./.mapigw-debootstrap-ok -c . |
    podman "${STORE[@]}" import --change 'CMD ["/bin/bash"]' - "$base_tag" >/dev/null
  touch "$work/base.imported"
fi
ok "base image $base_tag"

# --- build -------------------------------------------------------------------
step "buildah bud (chroot isolation, vfs)"
if buildah "${STORE[@]}" bud --isolation chroot --format docker --pull=false \
     --build-arg BASE="$base_tag" -f docker/Dockerfile -t "$image_tag" . >"$work/build.log" 2>&1; then
  ok "image built ($image_tag; log build/image/build.log)"
else
  tail -n 30 "$work/build.log" >&2
  fail "buildah bud (log: $work/build.log)"; finish; exit 1
fi

# The image's configuration, as the Dockerfile promises it.
cfg=$(podman "${STORE[@]}" image inspect "$image_tag")
if printf '%s' "$cfg" | python3 -c '
import json, sys
img = json.load(sys.stdin)[0]
c = img.get("Config", {})
env = dict(e.split("=", 1) for e in c.get("Env", []))
want_env = {"MAPIGW_LISTEN": "0.0.0.0", "MAPIGW_PORT": "8080",
            "MAPIGW_PROFILES": "/etc/mapigw/profiles.json",
            "MAPIGW_DATA_DIR": "/var/lib/mapigw", "MAPIGW_LOG_FORMAT": "json"}
errs = []
for k, v in want_env.items():
    if env.get(k) != v: errs.append("env %s=%r" % (k, env.get(k)))
if c.get("User") in (None, "", "root", "0"): errs.append("user %r" % c.get("User"))
if c.get("Entrypoint") != ["/usr/local/bin/mapigw"]: errs.append("entrypoint %r" % c.get("Entrypoint"))
if "8080/tcp" not in (c.get("ExposedPorts") or {}): errs.append("expose %r" % c.get("ExposedPorts"))
if c.get("StopSignal") != "SIGTERM": errs.append("stopsignal %r" % c.get("StopSignal"))
vols = set((c.get("Volumes") or {}).keys())
if not {"/var/lib/mapigw", "/etc/mapigw"} <= vols: errs.append("volumes %r" % sorted(vols))
hc = img.get("Healthcheck") or c.get("Healthcheck") or {}
if not hc.get("Test"): errs.append("no healthcheck")
if errs: sys.exit("; ".join(errs))
'; then ok "image config: MAPIGW_* env, non-root user, entrypoint, 8080, SIGTERM, volumes, healthcheck"
else fail "image config"; fi

# --- run ---------------------------------------------------------------------
# The OCI runtime: crun needs a pure cgroup v2 host; on a hybrid or v1 host
# (as here: cgroup v1 controllers plus /sys/fs/cgroup/unified) runc with the
# cgroupfs manager. Both get rlimits at or below this shell's hard limits
# (podman's defaults are above them, and setrlimit fails).
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
  PODMAN=(podman "${STORE[@]}" --runtime crun --cgroup-manager cgroupfs); cg=(--cgroups=disabled)
else
  PODMAN=(podman "${STORE[@]}" --runtime runc --cgroup-manager cgroupfs); cg=()
fi
lim() { local h; h=$(ulimit -H "$1"); [ "$h" = unlimited ] || [ "$h" -gt 4096 ] && h=4096; echo "$h"; }
cleanup() { podman "${STORE[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
port=${IMAGE_TEST_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
gw=http://127.0.0.1:$port
# --health-interval disable: no systemd timer (none runs here); the image's
# HEALTHCHECK is still run below, with `podman healthcheck run`.
RUN=("${PODMAN[@]}" run -d --name "$name" "${cg[@]}"
     --ulimit "nofile=$(lim -n):$(lim -n)" --ulimit "nproc=$(lim -u):$(lim -u)"
     --health-interval disable --read-only --tmpfs /tmp --cap-drop ALL
     --security-opt no-new-privileges)
started=
for net in ${IMAGE_TEST_NETWORK:-slirp4netns host}; do
  cleanup
  case "$net" in
    host) args=(--network host -e MAPIGW_LISTEN=127.0.0.1 -e MAPIGW_PORT="$port") ;;
    *)    args=(--network "$net" -p "127.0.0.1:$port:8080") ;;
  esac
  step "podman run --network $net, published on 127.0.0.1:$port"
  if "${RUN[@]}" "${args[@]}" "$image_tag" >"$work/run.log" 2>&1; then
    started=$net; break
  fi
  sed 's/^/  /' "$work/run.log" >&2
done
[ -n "$started" ] && ok "container started (network $started)" || { fail "podman run"; finish; exit 1; }

healthy=
for _ in $(seq 1 60); do
  if curl -fsS -m 2 -o /dev/null "$gw/healthz" 2>/dev/null; then healthy=1; break; fi
  sleep 0.5
done
[ -n "$healthy" ] && ok "GET /healthz 200" || { fail "no /healthz within 30s"; "${PODMAN[@]}" logs "$name" >&2 || true; finish; exit 1; }

if "${PODMAN[@]}" healthcheck run "$name" >/dev/null 2>&1 ||
   "${PODMAN[@]}" exec "$name" /usr/local/bin/mapigw-healthcheck; then
  ok "the image's HEALTHCHECK command succeeds inside the container"
else fail "HEALTHCHECK command"; fi

uid=$("${PODMAN[@]}" exec "$name" id -u 2>/dev/null || echo '?')
[ "$uid" != "0" ] && [ "$uid" != "?" ] && ok "runs as uid $uid (not root)" || fail "runs as uid $uid"

resp=$(curl -sS -m 10 -w '\n%{http_code}' -H 'Content-Type: application/json' \
  -d '{"profile":"demo","password":"demo","flags":["MAPI_NEW_SESSION"]}' "$gw/sessions" || true)
code=${resp##*$'\n'}; body=${resp%$'\n'*}
token=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' 2>/dev/null || true)
sid=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null || true)
[ "$code" = 201 ] && [ -n "$token" ] && ok "logon to demo: 201" || fail "logon: HTTP $code $body"

code=$(curl -sS -m 10 -o "$work/status.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$gw/status" || true)
if [ "$code" = 200 ] && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["rows"]' "$work/status.json" 2>/dev/null
then ok "GET /status: 200 with rows"; else fail "GET /status: HTTP $code"; fi

code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $token" "$gw/sessions/$sid" || true)
[ "$code" = 204 ] && ok "logoff: 204" || fail "logoff: HTTP $code"

# --- stop: SIGTERM, exit 0, JSON log lines ------------------------------------
step "podman stop (SIGTERM)"
"${PODMAN[@]}" stop -t 15 "$name" >/dev/null
state=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}} {{.State.OOMKilled}}' "$name")
[ "${state%% *}" = 0 ] && ok "stopped by SIGTERM with exit status 0" || fail "exit status after SIGTERM: $state"

"${PODMAN[@]}" logs "$name" >"$work/container.log" 2>&1 || true
if python3 - "$work/container.log" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "no log lines"
msgs = [json.loads(l) for l in lines]          # every line one JSON object
assert all(isinstance(m, dict) for m in msgs)
text = " ".join(json.dumps(m) for m in msgs)
assert "SIGTERM" in text, "no shutdown line"
PY
then ok "$(grep -c . "$work/container.log") log lines, each one JSON object, shutdown logged"
else fail "log lines (build/image/container.log)"; fi

cleanup
finish
