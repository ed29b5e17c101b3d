#!/usr/bin/env bash
# embed.sh SYMBOL FILE - prints a C file defining SYMBOL (the file's bytes,
# NUL-terminated) and SYMBOL_len, so the binary serves the file it was built with.
set -euo pipefail
sym=$1 file=$2
echo "#include <stddef.h>"
echo "const char ${sym}[] = {"
od -An -v -tx1 "$file" | sed -E 's/ ([0-9a-f]{2})/0x\1,/g'
echo "0x00};"
echo "const size_t ${sym}_len = sizeof ${sym} - 1;"
