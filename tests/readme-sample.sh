#!/bin/sh
# README.md's C sample must stay a correct program: extracts the first ```c block after the
# "## Using it" heading, compiles it as C11 with -Wall -Wextra -Werror against the built shared
# library, and runs it (it must exit 0). Registered as the ctest docs_readme_sample (label docs).
#
# usage: readme-sample.sh README WORK_DIR LIBRARY INCLUDE_DIR...
#   LIBRARY      the built libnnprobe.so (linked by path, found at run time through an rpath)
#   INCLUDE_DIR  directories holding nnprobe/*.h (source include/ and the build's include/)
# env:   CC (default cc); NNP_SAMPLE_CFLAGS extra flags, e.g. -fsanitize=... in sanitizer builds
set -eu

if [ $# -lt 4 ]; then
    echo "usage: $0 README WORK_DIR LIBRARY INCLUDE_DIR..." >&2
    exit 2
fi
readme=$1
work=$2
lib=$3
shift 3
CC=${CC:-cc}

mkdir -p "$work"
src=$work/readme_sample.c
# The block's lines between its fences; nothing if the heading or the block is missing.
awk '
    /^## / { in_section = ($0 == "## Using it"); next }
    in_section && !done && /^```c[[:space:]]*$/ { in_block = 1; next }
    in_block && /^```/ { in_block = 0; done = 1; next }
    in_block { print }
' "$readme" > "$src"
if [ ! -s "$src" ]; then
    echo "FAIL: no \`\`\`c block under \"## Using it\" in $readme"
    exit 1
fi
echo "== sample: $(wc -l < "$src") lines from $readme"

incs=""
for d in "$@"; do incs="$incs -I$d"; done
libdir=$(cd "$(dirname "$lib")" && pwd)
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
if ! $CC -std=c11 -Wall -Wextra -Werror ${NNP_SAMPLE_CFLAGS:-} $incs -o "$work/readme_sample" \
        "$src" "$lib" "-Wl,-rpath,$libdir" -lm; then
    echo "FAIL: the README sample does not compile warning-free (source: $src)"
    exit 1
fi
echo "== compiled with -std=c11 -Wall -Wextra -Werror"
rc=0
"$work/readme_sample" || rc=$?
if [ "$rc" != 0 ]; then
    echo "FAIL: the README sample exited with status $rc (source: $src)"
    exit 1
fi
echo "== ran: exit 0"
