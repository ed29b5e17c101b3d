#!/usr/bin/env bash
# check-layers.sh - the include rules that keep the layers apart (README "Layout").
#
#   server/ -> api/ -> session-core/: nothing includes upward.
#   session-core/providers/ (the provider kinds and their parsers) include their
#     own folder and the provider-facing core headers in PROVIDER_API below,
#     nothing else of the core: no sessions, views, session store or profile store.
#     Those headers in turn include only each other.
#   The rest of session-core/ (the core) includes nothing of providers/ but
#     providers/providers.h, the one place where the kinds are registered.
#   api/ and server/ include nothing of providers/.
#   <microhttpd.h> only in server/; no <jansson.h> in a session-core header.
#
#   scripts/check-layers.sh          check every .c/.h under session-core/, api/,
#                                    server/; print each offending file:line and
#                                    include, exit 1 if there is any (make layers)
#   scripts/check-layers.sh --graph  print the include graph instead, one
#                                    "file -> included file" per line (repo paths)
#
# Quoted includes are resolved as the compiler does (relative to the including
# file; the Makefile adds no -I of its own), so a name that resolves to no
# file is an error too.
set -euo pipefail
cd "$(dirname "$0")/.."

PROVIDER_API=(provider.h provider_config.h entryid.h mapi_object.h hresult.h mapi_flags.h analyzer.h)
REGISTRATION=session-core/providers/providers.h

mode=check
case "${1:-}" in
  "") ;;
  --graph) mode=graph ;;
  *) echo "usage: $0 [--graph]" >&2; exit 2 ;;
esac

# dir/name with "." and ".." folded, relative to the repository root.
normalize() {
  local IFS=/ part out=()
  # shellcheck disable=SC2206 # splitting on / is the point
  local parts=($1)
  for part in "${parts[@]}"; do
    case "$part" in
      "" | .) ;;
      ..) if ((${#out[@]})) && [[ ${out[-1]} != .. ]]; then unset 'out[-1]'; else out+=(..); fi ;;
      *) out+=("$part") ;;
    esac
  done
  echo "${out[*]}"
}

group() {
  case "$1" in
    session-core/providers/*) echo providers ;;
    session-core/*) echo core ;;
    api/*) echo api ;;
    server/*) echo server ;;
    *) echo outside ;;
  esac
}

is_provider_api() {
  local h
  for h in "${PROVIDER_API[@]}"; do [[ $1 == "session-core/$h" ]] && return 0; done
  return 1
}

failures=0
fail() { # file line include resolved why
  printf 'check-layers: %s:%s: #include %s (%s): %s\n' "$1" "$2" "$3" "$4" "$5" >&2
  failures=$((failures + 1))
}

mapfile -t files < <(find session-core api server -type f -name '*.[ch]' | sort)
[ ${#files[@]} -gt 0 ] || { echo "check-layers: no sources found" >&2; exit 2; }

api_list="${PROVIDER_API[*]}"
for f in "${files[@]}"; do
  from=$(group "$f")
  while IFS=: read -r line text; do
    if [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]*)\> ]]; then
      [[ $mode == check ]] || continue
      sys=${BASH_REMATCH[1]}
      if [[ $sys == microhttpd.h && $from != server ]]; then
        fail "$f" "$line" "<$sys>" "libmicrohttpd" "only server/ speaks HTTP"
      elif [[ $sys == jansson.h && $f == session-core/*.h ]]; then
        fail "$f" "$line" "<$sys>" "jansson" "no JSON in session-core headers"
      fi
      continue
    fi
    [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]*)\" ]] || continue
    inc=${BASH_REMATCH[1]}
    to=$(normalize "$(dirname "$f")/$inc")
    if [[ $mode == graph ]]; then
      echo "$f -> $to"
      continue
    fi
    shown="\"$inc\""
    if [[ ! -f $to ]]; then
      fail "$f" "$line" "$shown" "$to" "no such file (quoted includes are relative to the including file)"
      continue
    fi
    into=$(group "$to")
    case "$from" in
      providers)
        if [[ $into == core ]] && ! is_provider_api "$to"; then
          fail "$f" "$line" "$shown" "$to" "a provider includes core internals; it may include its own folder and $api_list (give it what it needs through provider.h)"
        elif [[ $into != core && $into != providers ]]; then
          fail "$f" "$line" "$shown" "$to" "a provider includes something outside session-core/"
        fi ;;
      core)
        if [[ $into == providers && $to != "$REGISTRATION" ]]; then
          fail "$f" "$line" "$shown" "$to" "the core includes a provider's internals; it reaches the kinds only through $REGISTRATION"
        elif [[ $into != core && $into != providers ]]; then
          fail "$f" "$line" "$shown" "$to" "session-core includes upward or outside (server -> api -> session-core)"
        elif is_provider_api "$f" && ! is_provider_api "$to" && [[ $to != "$REGISTRATION" ]]; then
          fail "$f" "$line" "$shown" "$to" "a provider-facing header includes a header providers may not see ($api_list)"
        fi ;;
      api)
        if [[ $into == server || $into == outside ]]; then
          fail "$f" "$line" "$shown" "$to" "api includes upward or outside (server -> api -> session-core)"
        elif [[ $into == providers ]]; then
          fail "$f" "$line" "$shown" "$to" "api includes a provider's internals; only the core reaches the providers"
        fi ;;
      server)
        if [[ $into == providers ]]; then
          fail "$f" "$line" "$shown" "$to" "server includes a provider's internals; only the core reaches the providers"
        elif [[ $into == outside ]]; then
          fail "$f" "$line" "$shown" "$to" "server includes something outside the gateway's code"
        fi ;;
    esac
  done < <(grep -n -E '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done

[[ $mode == check ]] || exit 0
if ((failures)); then
  echo "check-layers: $failures include(s) break the layers (rules: scripts/check-layers.sh, README \"Layout\")" >&2
  exit 1
fi
echo "check-layers: ${#files[@]} files, layers and provider boundary hold"
