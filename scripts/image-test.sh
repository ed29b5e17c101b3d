#!/usr/bin/env bash
# image-test.sh - builds docker/Dockerfile without a Docker engine and checks
# the image and docker/compose.yaml: a Debian bookworm base made here with
# debootstrap (cached in build/image/rootfs), imported with podman, the
# Dockerfile built with buildah (chroot isolation, vfs storage), the container
# run with podman and checked with curl (the image alone refuses its demo
# profile on 0.0.0.0; with a profiles folder and an admin key file mounted as
# an operator would: health, logon, admin list, JSON log lines on stdout
# without secrets, exit status 0 on SIGTERM), then the compose file checked
# and run with podman-compose on the same profiles folder; then the scaled
# deployment, docker/compose.scaled.yaml (Redis master, replica, Sentinel,
# three gateways on the store, haproxy; docker/Dockerfile.infra built too):
# a logon through haproxy, the token on each gateway and spread round robin,
# a logoff through haproxy that ends it on all three. Needs root
# (debootstrap, chroot isolation).
#
# Image storage lives in build/image/storage for the run only: at the end (also
# on failure or interruption) every container, volume and image of it is
# removed and the folder deleted; only the debootstrap rootfs stays cached
# (`make clean` removes it). Nothing outside build/image is written, and the
# containers are stopped through podman, then by PID if anything survived.
#
# Environment:
#   MAPIGW_DEBIAN_MIRROR  debootstrap mirror (default: the one apt uses here,
#                         else it stops and asks for this variable)
#   IMAGE_TEST_PORT       host port published on 127.0.0.1 (default: a free one)
#   IMAGE_TEST_NETWORK    slirp4netns|host (default: slirp4netns, host as fallback)
#   IMAGE_TEST_KEEP=1     keep the storage (images, stopped containers) for a look
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
top=$PWD
work=$top/build/image
rootfs=$work/rootfs
base_tag=localhost/mapigw-base:bookworm
image_tag=localhost/mapigw:image-test
name=mapigw-image-test-$$
project=mapigw-image-test-$$ # podman-compose project: containers, volumes
STORE=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)

passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*" >&2; }
step() { echo "== image-test: $* ($((SECONDS - start))s)"; }
finish() {
  echo "image-test: $passed passed, $failed failed ($((SECONDS - start))s)"
  [ "$failed" -eq 0 ]
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- tools ---------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
  echo "image-test needs root (debootstrap, buildah --isolation chroot)." >&2
  echo "as root: apt-get install -y --no-install-recommends debootstrap buildah podman podman-compose uidmap slirp4netns runc crun conmon curl python3 python3-yaml" >&2
  exit 1
fi
need=()
for t in debootstrap:debootstrap buildah:buildah podman:podman slirp4netns:slirp4netns \
         runc:runc crun:crun conmon:conmon curl:curl python3:python3 \
         podman-compose:podman-compose; do
  command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap >/dev/null
fi

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
nofile=$(lim -n) nproc=$(lim -u)

# --- cleanup -------------------------------------------------------------------
# Runs on every exit. Containers go through podman first; any process of
# theirs still alive afterwards (conmon, the gateway) is killed by the PID
# recorded at start, after checking that the PID still is that process.
mkdir -p "$work"
: >"$work/stop.log"
procs=() # "pid:what" where what is a container id (conmon) or "mapigw"
compose_cmd=()
record_pids() { # container
  local info cid cpid pid
  info=$("${PODMAN[@]}" inspect --format '{{.Id}} {{.State.ConmonPid}} {{.State.Pid}}' "$1" 2>/dev/null) || return 0
  read -r cid cpid pid <<<"$info"
  [ "${cpid:-0}" -gt 0 ] && procs+=("$cpid:$cid")
  [ "${pid:-0}" -gt 0 ] && procs+=("$pid:mapigw")
  return 0
}
still_ours() { # pid what
  [ -r "/proc/$1/cmdline" ] || return 1
  if [ "$2" = mapigw ]; then [ "$(cat "/proc/$1/comm" 2>/dev/null)" = mapigw ]
  else tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"; fi
}
cleanup() {
  local rc=$? p pid what left=()
  set +e
  trap - EXIT INT TERM
  if [ ${#compose_cmd[@]} -gt 0 ]; then
    "${compose_cmd[@]}" down -v -t 5 >>"$work/compose.log" 2>&1
  fi
  for c in $("${PODMAN[@]}" ps -a -q 2>/dev/null); do
    "${PODMAN[@]}" rm -f -v -t 5 "$c" >/dev/null 2>&1
  done
  for p in "${procs[@]}"; do
    pid=${p%%:*} what=${p#*:}
    if still_ours "$pid" "$what"; then kill -TERM "$pid" 2>/dev/null; left+=("$p"); fi
  done
  if [ ${#left[@]} -gt 0 ]; then
    sleep 2
    for p in "${left[@]}"; do
      pid=${p%%:*} what=${p#*:}
      still_ours "$pid" "$what" && kill -KILL "$pid" 2>/dev/null
      echo "image-test: process $pid ($what) outlived its container: stopped by PID" >&2
    done
  fi
  if [ "${IMAGE_TEST_KEEP:-0}" = 1 ]; then
    echo "image-test: IMAGE_TEST_KEEP=1: storage kept in build/image/storage"
  else
    buildah "${STORE[@]}" rm --all >/dev/null 2>&1
    "${PODMAN[@]}" volume prune -f >/dev/null 2>&1
    "${PODMAN[@]}" rmi -a -f >/dev/null 2>&1
    if [ -z "$("${PODMAN[@]}" ps -a -q 2>/dev/null)" ]; then
      rm -rf "$work/storage" "$work/run"
    else
      echo "image-test: containers left in build/image/storage" >&2
    fi
  fi
  rm -f "$work/podman-for-compose" "$work/compose.override.yaml" "$work/compose.scaled.override.yaml"
  rm -rf "$work/profiles" "$work/secrets" "$work/scaled" # this run's passwords and admin key
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- base image: debootstrap (cached) --------------------------------------
mirror=${MAPIGW_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  if [ -z "$mirror" ]; then
    echo "image-test: no Debian mirror in this machine's apt sources; set MAPIGW_DEBIAN_MIRROR" >&2
    exit 1
  fi
fi
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

# A previous run that was killed outright may have left its storage behind.
if [ -d "$work/storage" ] && [ "${IMAGE_TEST_KEEP:-0}" != 1 ]; then
  for c in $("${PODMAN[@]}" ps -a -q 2>/dev/null); do "${PODMAN[@]}" rm -f -v -t 0 "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work/storage" "$work/run"
fi
step "importing the rootfs as $base_tag"
tar -C "$rootfs" --numeric-owner --exclude=./.mapigw-debootstrap-ok -c . |
  "${PODMAN[@]}" import --change 'CMD ["/bin/bash"]' - "$base_tag" >"$work/import.log" 2>&1
ok "base image $base_tag"

# --- build -------------------------------------------------------------------
# Redoc's pinned bundle for /docs, fetched here once (npm) so that the
# builder stage finds it in the context and needs no npm of its own.
scripts/fetch-redoc.sh >/dev/null || { fail "scripts/fetch-redoc.sh"; finish; exit 1; }
version=$(cat VERSION)
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
step "buildah bud (chroot isolation, vfs)"
if buildah "${STORE[@]}" bud --isolation chroot --format docker --pull=false \
     --build-arg BASE="$base_tag" --build-arg VERSION="$version" --build-arg GIT_COMMIT="$commit" \
     -f docker/Dockerfile -t "$image_tag" . >"$work/build.log" 2>&1; then
  ok "image built ($image_tag; log build/image/build.log)"
else
  tail -n 30 "$work/build.log" >&2
  fail "buildah bud (log: $work/build.log)"; finish; exit 1
fi

# The image's configuration, as the Dockerfile promises it.
cfg=$("${PODMAN[@]}" image inspect "$image_tag")
if printf '%s' "$cfg" | python3 -c '
import json, sys
img = json.load(sys.stdin)[0]
c = img.get("Config", {})
env = dict(e.split("=", 1) for e in c.get("Env", []))
want_env = {"MAPIGW_LISTEN": "0.0.0.0", "MAPIGW_PORT": "8080",
            "MAPIGW_PROFILES": "/etc/mapigw/profiles.json",
            "MAPIGW_DATA_DIR": "/var/lib/mapigw", "MAPIGW_LOG_FORMAT": "json",
            "MAPIGW_LOG_OUTPUT": "stdout"}
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
if not hc.get("StartPeriod"): errs.append("healthcheck without a start period")
labels = c.get("Labels") or {}
want_labels = {"org.opencontainers.image.title": "mapigw",
               "org.opencontainers.image.version": sys.argv[1],
               "org.opencontainers.image.revision": sys.argv[2],
               "org.opencontainers.image.licenses": "Apache-2.0"}
for k, v in want_labels.items():
    if labels.get(k) != v: errs.append("label %s=%r, expected %r" % (k, labels.get(k), v))
for k in ("org.opencontainers.image.description", "org.opencontainers.image.documentation"):
    if not labels.get(k): errs.append("no label " + k)
if errs: sys.exit("; ".join(errs))
' "$version" "$commit"; then ok "image config: MAPIGW_* env (logs: json on stdout), non-root user, entrypoint, 8080, SIGTERM, volumes, healthcheck with a start period, OCI labels"
else fail "image config"; fi

# What the image ships besides the binary, and the binary stripped.
files=$("${PODMAN[@]}" run --rm --network none "${cg[@]}" --health-interval disable \
          --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" --entrypoint /bin/sh "$image_tag" -c '
  for f in /usr/local/share/man/man1/mapigw.1.gz /usr/local/share/doc/mapigw/LICENSE \
           /usr/local/share/doc/mapigw/README.md /usr/local/share/doc/mapigw/openapi.yaml \
           /usr/local/share/doc/mapigw/contract/http.md /usr/local/share/mapigw/profiles.default.json; do
    [ -s "$f" ] || echo "missing $f"
  done
  ls /usr/local/share/doc/mapigw/third-party/LICENSE-redoc-* >/dev/null 2>&1 || echo "missing the Redoc licence"
  zcat /usr/local/share/man/man1/mapigw.1.gz | grep -q "^\.TH MAPIGW" || echo "the man page is not one"
  echo checked' 2>>"$work/stop.log" || true)  # stderr: podman's complaints about systemd timers
if [ "$files" = checked ]; then ok "man page, docs, licences and default profiles in the image"
else fail "image files: $files"; fi
rm -f "$work/mapigw.bin"
cid=$("${PODMAN[@]}" create "$image_tag" 2>/dev/null) &&
  "${PODMAN[@]}" cp "$cid:/usr/local/bin/mapigw" "$work/mapigw.bin" >/dev/null 2>&1 || true
[ -n "${cid:-}" ] && "${PODMAN[@]}" rm -f "$cid" >/dev/null 2>&1 || true
if [ -s "$work/mapigw.bin" ] && ! readelf -S "$work/mapigw.bin" | grep -q -E '\.symtab|\.debug_'; then
  ok "the binary is stripped ($(wc -c <"$work/mapigw.bin") bytes)"
else fail "the binary in the image is not stripped (or could not be copied out)"; fi
rm -f "$work/mapigw.bin"

# The variables the gateway in the image knows (its --help), for the compose check.
twins=$("${PODMAN[@]}" run --rm --network none "${cg[@]}" --ulimit "nofile=$nofile:$nofile" \
          --ulimit "nproc=$nproc:$nproc" "$image_tag" --help 2>/dev/null | grep -o 'MAPIGW_[A-Z_]*' | sort -u | tr '\n' ' ' || true)
case " $twins " in *" MAPIGW_LOG_OUTPUT "*) ok "mapigw --help in the image lists $(wc -w <<<"$twins") MAPIGW_* variables" ;;
                   *) fail "mapigw --help in the image: no MAPIGW_LOG_OUTPUT in '$twins'" ;; esac

# --- the image alone: its demo profile on 0.0.0.0 is refused ---------------------
# No network: the guard decides before anything is bound.
# Bounded: a gateway that did start would otherwise run here for ever.
refusal=$(timeout -k 5 60 "${PODMAN[@]}" run --rm --network none "${cg[@]}" \
            --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" "$image_tag" 2>&1) &&
  rc=0 || rc=$?
# A JSON log line (the image logs JSON): its quotes are escaped.
if [ "$rc" = 2 ] && grep -q 'refusing to start' <<<"$refusal" &&
   grep -q -F 'profile \"demo\" (the published demo password)' <<<"$refusal"; then
  ok "the image as built exits 2: it will not serve the demo password on 0.0.0.0"
else fail "the image with its demo profile on 0.0.0.0: exit $rc: $refusal"; fi

# --- an operator's set-up: own profiles folder, admin key as a file ------------
# A fresh password hashed by the image itself; profiles.json readable by the
# image's user (uid 10001) through a read-only bind mount.
profile=image-test
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
admin_key=$(python3 -c 'import secrets; print(secrets.token_hex(32))') # as compose.yaml says
mkdir -p "$work/profiles" "$work/secrets"
export MAPIGW_PROFILES_DIR=$work/profiles # compose.yaml's bind mount, for every podman-compose call
verifier=$(printf '%s\n' "$password" | "${PODMAN[@]}" run --rm -i --network none "${cg[@]}" \
             --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" "$image_tag" hash-password)
python3 - server/profiles.default.json "$work/profiles/profiles.json" "$profile" "$verifier" <<'PY'
import json, sys
src, dst, name, verifier = sys.argv[1:]
doc = json.load(open(src))
p = doc["profiles"][0]
p["name"], p["auth"] = name, {"type": "argon2id", "verifier": verifier}
for svc in p["services"]:
    for prov in svc["providers"]:
        prov["settings"] = {k: (v.replace("demo/", name + "/", 1) if isinstance(v, str) else v)
                            for k, v in prov["settings"].items()}
doc["default_profile"] = name
json.dump(doc, open(dst, "w"), indent=2)
PY
printf '%s\n' "$admin_key" >"$work/secrets/admin_key"
chmod 0755 "$work/profiles" "$work/secrets"
chmod 0644 "$work/profiles/profiles.json" "$work/secrets/admin_key" # uid 10001 reads them; removed at the end
if [ "${verifier#\$argon2id\$}" != "$verifier" ]; then ok "profiles folder with a fresh argon2id verifier from \`mapigw hash-password\` in the image"
else fail "hash-password in the image: '$verifier'"; fi

# --- run ---------------------------------------------------------------------
port=${IMAGE_TEST_PORT:-$(free_port)}
gw=http://127.0.0.1:$port
# --health-interval disable: no systemd timer (none runs here); the image's
# HEALTHCHECK is still run below, with `podman healthcheck run`. k8s-file: the
# log file records the stream (stdout/stderr) of every line.
RUN=("${PODMAN[@]}" run -d --name "$name" "${cg[@]}"
     --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc"
     --health-interval disable --read-only --tmpfs /tmp --cap-drop ALL
     --security-opt no-new-privileges --log-driver k8s-file
     -v "$work/profiles:/etc/mapigw:ro"
     -v "$work/secrets/admin_key:/run/secrets/mapigw_admin_key:ro"
     -e MAPIGW_ADMIN_KEY_FILE=/run/secrets/mapigw_admin_key)
started=
for net in ${IMAGE_TEST_NETWORK:-slirp4netns host}; do
  "${PODMAN[@]}" rm -f -v -t 0 "$name" >/dev/null 2>&1 || true
  case "$net" in
    host) args=(--network host -e MAPIGW_LISTEN=127.0.0.1 -e MAPIGW_PORT="$port") ;;
    *)    args=(--network "$net" -p "127.0.0.1:$port:8080") ;;
  esac
  step "podman run --network $net, published on 127.0.0.1:$port"
  if "${RUN[@]}" "${args[@]}" "$image_tag" >"$work/run.log" 2>&1; then
    started=$net; record_pids "$name"; break
  fi
  sed 's/^/  /' "$work/run.log" >&2
done
[ -n "$started" ] && ok "container started (network $started)" || { fail "podman run"; finish; exit 1; }

wait_healthz() { # url
  for _ in $(seq 1 60); do
    curl -fsS -m 2 -o /dev/null "$1/healthz" 2>/dev/null && return 0
    sleep 0.5
  done
  return 1
}
if wait_healthz "$gw"; then ok "GET /healthz 200"
else fail "no /healthz within 30s"; "${PODMAN[@]}" logs "$name" >&2 || true; finish; exit 1; fi

if "${PODMAN[@]}" healthcheck run "$name" >/dev/null 2>&1 ||
   "${PODMAN[@]}" exec "$name" /usr/local/bin/mapigw-healthcheck; then
  ok "the image's HEALTHCHECK command succeeds inside the container"
else fail "HEALTHCHECK command"; fi

uid=$("${PODMAN[@]}" exec "$name" id -u 2>/dev/null || echo '?')
[ "$uid" != "0" ] && [ "$uid" != "?" ] && ok "runs as uid $uid (not root)" || fail "runs as uid $uid"

logon() { # url; sets code, token, sid
  local resp body
  resp=$(curl -sS -m 10 -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"profile\":\"$profile\",\"password\":\"$password\",\"flags\":[\"MAPI_NEW_SESSION\"]}" \
    "$1/sessions" || true)
  code=${resp##*$'\n'}; body=${resp%$'\n'*}
  token=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' 2>/dev/null || true)
  sid=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null || true)
  [ "$code" = 201 ] && [ -n "$token" ]
}
if logon "$gw"; then ok "logon to the mounted profile: 201"; else fail "logon: HTTP $code"; fi

code=$(curl -sS -m 10 -o "$work/status.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$gw/status" || true)
if [ "$code" = 200 ] && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["rows"]' "$work/status.json" 2>/dev/null
then ok "GET /status: 200 with rows"; else fail "GET /status: HTTP $code"; fi

code=$(curl -sS -m 10 -o "$work/admin.json" -w '%{http_code}' -H "Authorization: Bearer $admin_key" "$gw/sessions" || true)
if [ "$code" = 200 ] && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["sessions"]' "$work/admin.json" 2>/dev/null
then ok "GET /sessions with the admin key from MAPIGW_ADMIN_KEY_FILE: 200"; else fail "admin GET /sessions: HTTP $code"; fi
rm -f "$work/admin.json"

code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $token" "$gw/sessions/$sid" || true)
[ "$code" = 204 ] && ok "logoff: 204" || fail "logoff: HTTP $code"

# /docs from the binary alone: the page, its script and Redoc's bundle.
docs_ok=1
for p in /docs /docs/init.js /docs/redoc.standalone.js; do
  code=$(curl -sS -m 10 -o "$work/docs.part" -w '%{http_code}' "$gw$p" || true)
  [ "$code" = 200 ] && [ -s "$work/docs.part" ] || { docs_ok=0; fail "GET $p: HTTP $code"; }
done
rm -f "$work/docs.part"
[ "$docs_ok" = 1 ] && ok "GET /docs, /docs/init.js and /docs/redoc.standalone.js: 200 from the image"
code=$(curl -sS -m 10 -o "$work/metrics.txt" -w '%{http_code}' "$gw/metrics" || true)
if [ "$code" = 200 ] && grep -q -F "mapigw_build_info{version=\"$version\",commit=\"$commit\"} 1" "$work/metrics.txt"
then ok "mapigw_build_info names version $version and commit $commit"
else fail "mapigw_build_info: $(grep build_info "$work/metrics.txt" 2>/dev/null || echo "HTTP $code")"; fi
rm -f "$work/metrics.txt"

# --- stop: SIGTERM, exit 0; logs: JSON lines on stdout -------------------------
# stop_and_check CONTAINER LABEL: podman stop -t 10 sends the image's
# STOPSIGNAL (SIGTERM) and would SIGKILL after 10 s (exit status 137).
stop_and_check() {
  local t0=$SECONDS state
  # (stderr: podman's complaint that no systemd runs the healthcheck timer)
  "${PODMAN[@]}" stop -t 10 "$1" >/dev/null 2>>"$work/stop.log" || true
  state=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}} {{.State.OOMKilled}}' "$1" || true)
  if [ "${state%% *}" = 0 ]; then ok "$2: podman stop -t 10 (SIGTERM): exit status 0 after $((SECONDS - t0))s"
  else fail "$2: exit status after SIGTERM: $state"; fi
}
# check_logs CONTAINER LABEL OUT: `podman logs` stdout into OUT; every line
# one JSON object, an access line for GET /status 200, the SIGTERM shutdown;
# and the container's k8s-file log shows every line came on stdout.
check_logs() {
  local logpath
  "${PODMAN[@]}" logs "$1" >"$3" 2>"$3.podman-stderr" || true
  logpath=$("${PODMAN[@]}" inspect --format '{{.HostConfig.LogConfig.Path}}' "$1" || true)
  if python3 - "$3" "$logpath" "$password" "$admin_key" "$token" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "no log line on stdout (podman logs)"
msgs = []
for l in lines:
    m = json.loads(l)                                   # every line one JSON object
    assert isinstance(m, dict), "not an object: %r" % l
    msgs.append(m)
assert any(m.get("msg") == "request" and m.get("method") == "GET" and m.get("path") == "/status"
           and m.get("status") == 200 for m in msgs), "no access line for GET /status 200"
assert any(m.get("msg") == "shutting down" and m.get("detail") == "SIGTERM" for m in msgs), "no SIGTERM line"
assert msgs[-1].get("msg") == "stopped", "last line is not \"stopped\""
# k8s-file: "<time> <stream> <F|P> <text>" per line
streams = {}
for l in open(sys.argv[2]):
    parts = l.split(" ", 3)
    if len(parts) >= 3:
        streams[parts[1]] = streams.get(parts[1], 0) + 1
assert set(streams) == {"stdout"}, "streams in the container log: %r" % streams
# Secrets never reach the log.
text = open(sys.argv[1]).read() + open(sys.argv[2]).read()
for s in sys.argv[3:]:
    assert not s or s not in text, "a secret (%s...) is in the log" % s[:4]
PY
  then ok "$2: $(grep -c . "$3") log lines, all on stdout, each one JSON object, no secret; access line for GET /status, SIGTERM logged"
  else fail "$2: log lines (build/image/${3##*/})"; fi
}
step "podman stop (SIGTERM)"
stop_and_check "$name" "container"
check_logs "$name" "container" "$work/container.log"
"${PODMAN[@]}" rm -f -v -t 0 "$name" >/dev/null 2>&1 || true

# --- compose -------------------------------------------------------------------
step "docker/compose.yaml: static checks"
if python3 - docker/compose.yaml "$twins" <<'PY'
import os, sys, yaml
path, twins = sys.argv[1], set(sys.argv[2].split())
doc = yaml.safe_load(open(path))
errs = []
svc = (doc.get("services") or {}).get("mapigw")
if not isinstance(svc, dict):
    sys.exit("no services.mapigw")
b = svc.get("build") or {}
df = os.path.join(os.path.dirname(path), b.get("context", "."), b.get("dockerfile", "Dockerfile"))
if os.path.realpath(df) != os.path.realpath("docker/Dockerfile"):
    errs.append("build: %s is not docker/Dockerfile" % df)
if "BASE" not in (b.get("args") or {}): errs.append("build.args: no BASE")
if not svc.get("image"): errs.append("no image")
env = svc.get("environment") or {}
if isinstance(env, list): env = dict(e.split("=", 1) for e in env)
for k in env:
    if k not in twins: errs.append("environment: %s is not a variable of mapigw --help" % k)
for k, v in {"MAPIGW_LISTEN": "0.0.0.0", "MAPIGW_LOG_FORMAT": "json", "MAPIGW_LOG_OUTPUT": "stdout"}.items():
    if str(env.get(k)) != v: errs.append("environment: %s=%r, expected %r" % (k, env.get(k), v))
declared = doc.get("volumes") or {}
targets = {}
import re
subst = lambda s: re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", s)
for v in svc.get("volumes") or []:
    src, _, rest = subst(v).partition(":") if isinstance(v, str) else (v.get("source"), ":", v.get("target"))
    targets[rest.split(":")[0]] = src
    if src and not src.startswith((".", "/")) and src not in declared:
        errs.append("volume %s is not declared" % src)
for t in ("/var/lib/mapigw", "/etc/mapigw"):
    if t not in targets: errs.append("no volume on %s" % t)
# Profiles come from the operator's folder, never from the image's demo file.
if not str(targets.get("/etc/mapigw", "")).startswith((".", "/")):
    errs.append("/etc/mapigw is not a bind mount of a profiles folder: %r" % targets.get("/etc/mapigw"))
for k in env:
    if k == "MAPIGW_ADMIN_KEY" or k == "MAPIGW_ALLOW_INSECURE_PROFILES":
        errs.append("environment: %s must not be set in the example" % k)
hc = (svc.get("healthcheck") or {}).get("test")
if not (isinstance(hc, list) and hc and hc[0] in ("CMD", "CMD-SHELL") and "mapigw-healthcheck" in " ".join(hc)):
    errs.append("healthcheck.test %r" % hc)
if svc.get("stop_signal") != "SIGTERM": errs.append("stop_signal %r" % svc.get("stop_signal"))
for p in svc.get("ports") or []:
    if not (str(p).startswith("127.0.0.1:") and str(p).endswith(":8080")):
        errs.append("port %r not on the loopback or not to 8080" % p)
if not svc.get("read_only"): errs.append("not read_only")
if errs: sys.exit("; ".join(errs))
PY
then ok "compose.yaml: service mapigw, build of docker/Dockerfile, MAPIGW_* environment, volumes (profiles: a bind mount), healthcheck, SIGTERM, loopback port"
else fail "compose.yaml static checks"; fi

# podman-compose 1.0.3 (Debian 12) always attaches a compose bridge network
# (`podman network create`, then `run --net <project>_default`), which needs
# netavark with iptables: not here. Its podman is this wrapper: no network
# commands, no --net/--network-alias, so the network_mode of the override
# (the one `podman run` used above) applies; and this run's storage, runtime
# and cgroup setting.
cat >"$work/podman-for-compose" <<EOF
#!/bin/bash
# Written by scripts/image-test.sh for one run; removed at its end.
case "\$1" in network) exit 0 ;; esac
args=()
$([ ${#cg[@]} -eq 0 ] || printf '[ "$1" = run ] && { args=(run %s); shift; }' "$(printf '%q ' "${cg[@]}")")
while [ \$# -gt 0 ]; do
  case "\$1" in --net|--network-alias) shift 2 ;; *) args+=("\$1"); shift ;; esac
done
exec $(printf '%q ' "${PODMAN[@]}")"\${args[@]}"
EOF
chmod 0755 "$work/podman-for-compose"
cport=${IMAGE_TEST_COMPOSE_PORT:-$(free_port)}
cgw=http://127.0.0.1:$cport
{
  echo "# Written by scripts/image-test.sh for one run: this run's image, network, rlimits."
  echo "services:"
  echo "  mapigw:"
  echo "    image: $image_tag"
  echo "    network_mode: $started"
  echo "    ulimits: {nofile: {soft: $nofile, hard: $nofile}, nproc: {soft: $nproc, hard: $nproc}}"
  echo "    logging: {driver: k8s-file}"
  if [ "$started" = host ]; then
    echo "    environment: {MAPIGW_LISTEN: 127.0.0.1, MAPIGW_PORT: \"$cport\"}"
  fi
} >"$work/compose.override.yaml"
COMPOSE=(podman-compose --podman-path "$work/podman-for-compose" -p "$project"
         -f docker/compose.yaml -f "$work/compose.override.yaml")
: >"$work/compose.log"

step "podman-compose up -d (project $project, published on 127.0.0.1:$cport)"
compose_cmd=("${COMPOSE[@]}")
MAPIGW_PUBLISHED_PORT=$cport "${COMPOSE[@]}" up -d --no-build >>"$work/compose.log" 2>&1 || true
cname=$("${PODMAN[@]}" ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}' | head -n1 || true)
if [ -n "$cname" ] && [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$cname" || true)" = true ]; then
  record_pids "$cname"
  ok "podman-compose up: $cname running"
else
  tail -n 30 "$work/compose.log" >&2
  fail "podman-compose up (build/image/compose.log)"; finish; exit 1
fi

if wait_healthz "$cgw"; then ok "compose: GET /healthz 200"
else fail "compose: no /healthz within 30s"; "${PODMAN[@]}" logs "$cname" >&2 || true; finish; exit 1; fi
if "${PODMAN[@]}" healthcheck run "$cname" >/dev/null 2>&1; then
  ok "compose: the service's healthcheck succeeds"
else fail "compose: healthcheck"; fi
# The profile comes from the host folder MAPIGW_PROFILES_DIR, mounted read-only.
if logon "$cgw"; then ok "compose: logon to the profile from MAPIGW_PROFILES_DIR: 201"
else fail "compose: logon: HTTP $code"; fi
code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$cgw/status" || true)
[ "$code" = 200 ] && ok "compose: GET /status: 200" || fail "compose: GET /status: HTTP $code"
vols=$("${PODMAN[@]}" volume ls -q --filter "label=io.podman.compose.project=$project" | sort | tr '\n' ' ' || true)
[ "$vols" = "${project}_data " ] && ok "compose: named volume $vols" || fail "compose: volumes '$vols'"

step "compose: podman stop (SIGTERM), podman-compose down -v"
stop_and_check "$cname" "compose"
check_logs "$cname" "compose" "$work/compose-container.log"
"${COMPOSE[@]}" down -v -t 5 >>"$work/compose.log" 2>&1 || true
compose_cmd=()
leftover=$("${PODMAN[@]}" ps -a -q --filter "label=io.podman.compose.project=$project" || echo '?')
leftover+=$("${PODMAN[@]}" volume ls -q --filter "label=io.podman.compose.project=$project" || echo '?')
[ -z "$leftover" ] && ok "podman-compose down -v: no container or volume left" || fail "podman-compose down -v left: $leftover"

# --- the scaled deployment: docker/compose.scaled.yaml ----------------------------
# Redis master, replica and Sentinel, three gateways on the Sentinel and
# haproxy in front, all from this run's images. Host networking (podman-compose
# 1.0.3 cannot make its bridge network here, see above): each service on
# 127.0.0.1 with a port of its own, in configuration files written for the run
# that replace docker/scaled/* (same settings, other addresses).
step "buildah bud docker/Dockerfile.infra (redis-server, redis-sentinel, haproxy from Debian)"
infra_tag=localhost/mapigw-infra:image-test
if buildah "${STORE[@]}" bud --isolation chroot --format docker --pull=false \
     --build-arg BASE="$base_tag" -f docker/Dockerfile.infra -t "$infra_tag" . >"$work/build-infra.log" 2>&1; then
  ok "infra image built ($infra_tag; log build/image/build-infra.log)"
else
  tail -n 30 "$work/build-infra.log" >&2
  fail "buildah bud docker/Dockerfile.infra (log: $work/build-infra.log)"; finish; exit 1
fi
sproject=mapigw-scaled-test-$$
sc=$work/scaled
rm -rf "$sc" && mkdir -p "$sc"
p_redis=$(free_port) p_replica=$(free_port) p_sentinel=$(free_port) p_lb=${IMAGE_TEST_SCALED_PORT:-$(free_port)}
p_gw=("$(free_port)" "$(free_port)" "$(free_port)")
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$sc/redis_password"
redis_password=$(cat "$sc/redis_password")
# docker/scaled/*.conf with this run's addresses.
sed -e "s/^bind .*/bind 127.0.0.1/" -e "s/^port .*/port $p_redis/" \
    -e "s/^replica-announce-ip .*/replica-announce-ip 127.0.0.1/" docker/scaled/redis.conf >"$sc/redis.conf"
sed -e "s/^bind .*/bind 127.0.0.1/" -e "s/^port .*/port $p_replica/" \
    -e "s/^replicaof .*/replicaof 127.0.0.1 $p_redis/" \
    -e "s/^replica-announce-ip .*/replica-announce-ip 127.0.0.1/" docker/scaled/replica.conf >"$sc/replica.conf"
sed -e "s/^port .*/port $p_sentinel\nbind 127.0.0.1/" \
    -e "s/^sentinel monitor mapigw redis 6379/sentinel monitor mapigw 127.0.0.1 $p_redis/" \
    docker/scaled/sentinel.conf >"$sc/sentinel.conf"
# maxconn: haproxy wants about 2 descriptors a connection, and this run's
# containers get at most 4096 (see lim above).
sed -e "s/^    bind :8080/    bind 127.0.0.1:$p_lb/" -e "s/^    maxconn .*/    maxconn 1000/" \
    -e "s/^    server mapigw-1 mapigw-1:8080/    server mapigw-1 127.0.0.1:${p_gw[0]}/" \
    -e "s/^    server mapigw-2 mapigw-2:8080/    server mapigw-2 127.0.0.1:${p_gw[1]}/" \
    -e "s/^    server mapigw-3 mapigw-3:8080/    server mapigw-3 127.0.0.1:${p_gw[2]}/" \
    docker/scaled/haproxy.cfg >"$sc/haproxy.cfg"
chmod 0755 "$sc"
chmod 0644 "$sc"/* # read by the redis, haproxy and mapigw users; removed at the end
if grep -q "127.0.0.1:${p_gw[2]}" "$sc/haproxy.cfg" && grep -q "monitor mapigw 127.0.0.1 $p_redis" "$sc/sentinel.conf" &&
   grep -q "replicaof 127.0.0.1 $p_redis" "$sc/replica.conf"; then
  ok "docker/scaled/* rewritten for host networking (redis $p_redis, replica $p_replica, sentinel $p_sentinel, gateways ${p_gw[*]}, haproxy $p_lb)"
else fail "docker/scaled/* no longer has the lines image-test rewrites"; fi
{
  echo "# Written by scripts/image-test.sh for one run: this run's images, host network, ports."
  echo "services:"
  for svc in redis:redis.conf:/etc/mapigw-redis/redis.conf redis-replica:replica.conf:/etc/mapigw-redis/redis.conf \
             sentinel:sentinel.conf:/etc/mapigw-redis/sentinel.conf haproxy:haproxy.cfg:/etc/haproxy/mapigw.cfg; do
    IFS=: read -r name file target <<<"$svc"
    echo "  $name:"
    echo "    image: $infra_tag"
    echo "    network_mode: host"
    echo "    ulimits: {nofile: {soft: $nofile, hard: $nofile}, nproc: {soft: $nproc, hard: $nproc}}"
    echo "    logging: {driver: k8s-file}"
    echo "    volumes: [\"$sc/$file:$target:ro\"]"
  done
  for i in 1 2 3; do
    echo "  mapigw-$i:"
    echo "    image: $image_tag"
    echo "    network_mode: host"
    echo "    ulimits: {nofile: {soft: $nofile, hard: $nofile}, nproc: {soft: $nproc, hard: $nproc}}"
    echo "    logging: {driver: k8s-file}"
    echo "    environment: {MAPIGW_LISTEN: 127.0.0.1, MAPIGW_PORT: \"${p_gw[$((i - 1))]}\", MAPIGW_STORE: \"redis-sentinel://mapigw@127.0.0.1:$p_sentinel\"}"
  done
  echo "secrets:"
  echo "  redis_password: {file: $sc/redis_password}"
} >"$work/compose.scaled.override.yaml"
SCOMPOSE=(podman-compose --podman-path "$work/podman-for-compose" -p "$sproject"
          -f docker/compose.scaled.yaml -f "$work/compose.scaled.override.yaml")
: >"$work/compose-scaled.log"
step "podman-compose -f docker/compose.scaled.yaml up -d (project $sproject, haproxy on 127.0.0.1:$p_lb)"
compose_cmd=("${SCOMPOSE[@]}")
"${SCOMPOSE[@]}" up -d --no-build >>"$work/compose-scaled.log" 2>&1 || true
running=0
for _ in $(seq 1 60); do # the last ones may still be starting: 30 s
  running=0
  for c in $("${PODMAN[@]}" ps -a --filter "label=io.podman.compose.project=$sproject" --format '{{.Names}}'); do
    [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$c" || true)" = true ] && running=$((running + 1))
  done
  [ "$running" = 7 ] && break
  sleep 0.5
done
for c in $("${PODMAN[@]}" ps -a --filter "label=io.podman.compose.project=$sproject" --format '{{.Names}}'); do
  record_pids "$c"
done
if [ "$running" = 7 ]; then ok "scaled: 7 containers running (redis, replica, sentinel, 3 gateways, haproxy)"
else
  tail -n 30 "$work/compose-scaled.log" >&2
  "${PODMAN[@]}" ps -a --filter "label=io.podman.compose.project=$sproject" >&2 || true
  fail "scaled: $running of 7 containers running (build/image/compose-scaled.log)"; finish; exit 1
fi
lb=http://127.0.0.1:$p_lb
wait_ready() { # url: GET /readyz 200 within 60 s
  for _ in $(seq 1 120); do
    curl -fsS -m 2 -o /dev/null "$1/readyz" 2>/dev/null && return 0
    sleep 0.5
  done
  return 1
}
ready=0
for i in 0 1 2; do wait_ready "http://127.0.0.1:${p_gw[$i]}" && ready=$((ready + 1)); done
if [ "$ready" = 3 ] && wait_ready "$lb"; then ok "scaled: the three gateways and haproxy answer GET /readyz 200 (the store is up)"
else
  for c in $("${PODMAN[@]}" ps -a --filter "label=io.podman.compose.project=$sproject" --format '{{.Names}}'); do
    echo "--- $c" >&2; "${PODMAN[@]}" logs --tail 15 "$c" >&2 || true
  done
  fail "scaled: $ready of 3 gateways ready, or haproxy not"; finish; exit 1
fi
master=$("${PODMAN[@]}" exec "${sproject}_sentinel_1" redis-cli -p "$p_sentinel" sentinel get-master-addr-by-name mapigw 2>/dev/null | tail -n1 || true)
[ "$master" = "$p_redis" ] && ok "scaled: the Sentinel names the master (port $master)" || fail "scaled: the Sentinel names master '$master', not $p_redis"
role=$("${PODMAN[@]}" exec "${sproject}_redis-replica_1" redis-cli -p "$p_replica" --no-auth-warning -a "$redis_password" role 2>/dev/null | head -n1 || true)
[ "$role" = slave ] && ok "scaled: the Redis replica replicates the master" || fail "scaled: the replica's role is '$role'"

if logon "$lb"; then ok "scaled: logon through haproxy: 201"; else fail "scaled: logon through haproxy: HTTP $code"; fi
all=0
for i in 0 1 2; do
  code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:${p_gw[$i]}/identity" || true)
  [ "$code" = 200 ] && all=$((all + 1))
done
[ "$all" = 3 ] && ok "scaled: the token works on each of the three gateways (GET /identity 200)" ||
  fail "scaled: the token works on $all of the three gateways"
# Round robin without stickiness: every gateway serves GET /identity through
# haproxy, besides the one direct request above. haproxy may still be taking
# a gateway in (its checks: rise 2 every 2 s) though the gateway answers
# already, so requests go in rounds of three until each gateway has had one,
# for at most 30 s; every answer must be 200 all along.
identity_per_gateway() {
  local i spread=
  for i in 1 2 3; do
    spread+="$("${PODMAN[@]}" logs "${sproject}_mapigw-${i}_1" 2>/dev/null | python3 -c '
import json, sys
n = 0
for l in sys.stdin:
    try: m = json.loads(l)
    except ValueError: continue
    n += m.get("msg") == "request" and m.get("path") == "/identity" and m.get("status") == 200
print(n)' || echo 0) "
  done
  echo "$spread"
}
codes='' rounds=0 deadline=$((SECONDS + 30))
while :; do
  for _ in 1 2 3; do
    codes+="$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$lb/identity" || true) "
  done
  rounds=$((rounds + 1))
  spread=$(identity_per_gateway)
  read -r n1 n2 n3 <<<"$spread"
  { [ "$n1" -ge 2 ] && [ "$n2" -ge 2 ] && [ "$n3" -ge 2 ]; } || [ "$SECONDS" -ge "$deadline" ] && break
  sleep 1
done
[ -z "${codes//200 /}" ] && ok "scaled: $((rounds * 3)) × GET /identity through haproxy: 200" ||
  fail "scaled: GET /identity through haproxy: $codes"
if [ "$n1" -ge 2 ] && [ "$n2" -ge 2 ] && [ "$n3" -ge 2 ]; then ok "scaled: haproxy spread the requests over the three gateways (GET /identity per gateway: $spread, $rounds round(s) of 3)"
else fail "scaled: GET /identity per gateway after $rounds round(s) of 3: $spread(round robin should give each more than the direct one)"; fi

code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $token" "$lb/sessions/$sid" || true)
[ "$code" = 204 ] && ok "scaled: logoff through haproxy: 204" || fail "scaled: logoff through haproxy: HTTP $code"
dead=0
for i in 0 1 2; do
  for _ in $(seq 1 50); do # the bound is the store's grace (3 s): 10 s
    code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:${p_gw[$i]}/identity" || true)
    [ "$code" = 401 ] && { dead=$((dead + 1)); break; }
    sleep 0.2
  done
done
[ "$dead" = 3 ] && ok "scaled: after the logoff the token is refused (401) by all three gateways" ||
  fail "scaled: after the logoff the token is refused by $dead of the three gateways"

step "scaled: podman-compose down -v"
for i in 1 2 3; do stop_and_check "${sproject}_mapigw-${i}_1" "scaled mapigw-$i"; done
"${SCOMPOSE[@]}" down -v -t 5 >>"$work/compose-scaled.log" 2>&1 || true
compose_cmd=()
leftover=$("${PODMAN[@]}" ps -a -q --filter "label=io.podman.compose.project=$sproject" || echo '?')
leftover+=$("${PODMAN[@]}" volume ls -q --filter "label=io.podman.compose.project=$sproject" || echo '?')
[ -z "$leftover" ] && ok "scaled: podman-compose down -v: no container or volume left" || fail "scaled: podman-compose down -v left: $leftover"

finish
