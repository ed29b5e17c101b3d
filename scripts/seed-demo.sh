#!/usr/bin/env bash
# seed-demo.sh DATA_DIR - puts the demo profile's sample data (server/demo/:
# a Maildir with a welcome message, one with an attachment, one unread and an
# Archive folder, and an address book of a few contacts) into DATA_DIR/demo,
# where server/profiles.default.json points. Once: a later run finds
# DATA_DIR/demo/.seeded and leaves the data (and whatever the user did to it)
# alone. Each message's file time is its Date: header, which the gateway shows
# as the delivery time. `make run` calls it before starting the gateway.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DATA_DIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/../server/demo" && pwd)
data=$1
dst=$data/demo
[ -e "$dst/.seeded" ] && exit 0
mkdir -p -m 0700 "$data" "$dst"
(cd "$src" && find . -type d) | while read -r d; do mkdir -p -m 0700 "$dst/$d"; done
for folder in "$dst/Maildir" "$dst/Maildir/".*/; do
  case "$folder" in */./|*/../) continue ;; esac
  mkdir -p -m 0700 "$folder/cur" "$folder/new" "$folder/tmp"
done
(cd "$src" && find . -type f) | while read -r f; do
  [ -e "$dst/$f" ] || install -m 0600 "$src/$f" "$dst/$f"
  date=$(sed -n '1,/^$/s/^Date: //p' "$src/$f" | head -n 1)
  [ -z "$date" ] || touch -d "$date" "$dst/$f" 2>/dev/null || true
done
touch "$dst/.seeded"
echo "seed-demo: sample mail and contacts in $dst"
