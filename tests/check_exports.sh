#!/bin/sh
# Checks the exported ABI of the shared library against the public headers (docs/abi.md):
#   1. the SONAME is the expected one (libnnprobe.so.<ABI>);
#   2. every exported symbol starts with nnp_ (apart from a few linker-made symbols);
#   3. every exported nnp_ symbol is declared with NNP_API in a public header;
#   4. every NNP_API declaration in the public headers is exported (i.e. implemented).
# Idea from curl's test1119, which keeps headers and the symbol list in agreement.
#
# usage: check_exports.sh LIBRARY EXPECTED_SONAME INCLUDE_DIR...
#   INCLUDE_DIRs are the nnprobe/ header folders: the source tree's and the build tree's
#   (which holds the generated version.h).
# env:   NM, OBJDUMP (default nm, objdump); NNP_SANITIZED=1 also allows sanitizer runtime symbols.
set -eu

if [ $# -lt 3 ]; then
    echo "usage: $0 LIBRARY EXPECTED_SONAME INCLUDE_DIR..." >&2
    exit 2
fi
lib=$1
want_soname=$2
shift 2
NM=${NM:-nm}
OBJDUMP=${OBJDUMP:-objdump}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
die() { echo "FAIL: $*"; fail=1; }

[ -f "$lib" ] || { echo "FAIL: $lib does not exist"; exit 1; }

# ---- 1. SONAME ----
soname=$("$OBJDUMP" -p "$lib" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" = "$want_soname" ]; then
    echo "ok: SONAME $soname"
else
    die "SONAME is '${soname:-<none>}', expected '$want_soname'"
fi

# ---- exported symbols (strip @VERSION suffixes a version script would add) ----
"$NM" -D --defined-only "$lib" | awk 'NF >= 2 { print $NF }' | sed 's/@.*//' | sort -u \
    >"$tmp/exported"

# Symbols the linker itself defines in every shared object; harmless, not ours.
# Listed explicitly so that nothing else slips through.
cat >"$tmp/linker" <<'EOF'
_init
_fini
_edata
_end
__bss_start
__bss_start__
__bss_end__
_bss_end__
__end__
_DYNAMIC
_GLOBAL_OFFSET_TABLE_
_PROCEDURE_LINKAGE_TABLE_
EOF

# ---- 2. only nnp_* ----
grep -v '^nnp_' "$tmp/exported" | grep -vxF -f "$tmp/linker" >"$tmp/foreign" || true
if [ "${NNP_SANITIZED:-0}" = 1 ]; then
    # A sanitizer build may define instrumentation symbols (ASan ODR indicators, module ctors).
    grep -vE '^(__asan|__odr_asan|__ubsan|__tsan|__sanitizer|__lsan)' "$tmp/foreign" \
        >"$tmp/foreign2" || true
    mv "$tmp/foreign2" "$tmp/foreign"
fi
if [ -s "$tmp/foreign" ]; then
    die "exported symbols without the nnp_ prefix (make them static, or hidden by leaving out NNP_API):"
    sed 's/^/    /' "$tmp/foreign"
else
    echo "ok: all $(grep -c '^nnp_' "$tmp/exported" || true) exported symbols start with nnp_"
fi
grep '^nnp_' "$tmp/exported" >"$tmp/exported_nnp" || true

# ---- NNP_API declarations in the headers ----
# Strips comments and preprocessor lines, splits the rest into ';'-terminated statements, and
# prints the declared name of each statement that contains NNP_API: the first nnp_ identifier
# followed by '(' for a function (so attribute macros such as NNP_DEPRECATED("...") are
# skipped), else the last identifier (an exported variable).
decls() {
    awk '
    { src = src $0 "\n" }
    END {
        # comments: /* ... */ (across lines), then // to end of line
        out = ""
        while ((i = index(src, "/*")) > 0) {
            out = out substr(src, 1, i - 1) " "
            rest = substr(src, i + 2)
            j = index(rest, "*/")
            if (j == 0) { src = ""; break }
            src = substr(rest, j + 2)
        }
        out = out src
        n = split(out, line, "\n")
        text = ""; cont = 0
        for (k = 1; k <= n; k++) {
            l = line[k]
            sub(/\/\/.*/, "", l)
            # preprocessor lines, with their backslash continuations
            if (cont || l ~ /^[ \t]*#/) { cont = (l ~ /\\[ \t]*$/); continue }
            text = text " " l
        }
        m = split(text, stmt, ";")
        for (k = 1; k <= m; k++) {
            s = stmt[k]
            if (s !~ /(^|[^A-Za-z0-9_])NNP_API([^A-Za-z0-9_]|$)/) continue
            if (match(s, /nnp_[A-Za-z0-9_]*[ \t]*\(/)) {
                name = substr(s, RSTART, RLENGTH)
                sub(/[ \t]*\($/, "", name)
            } else {
                if (index(s, "(") > 0) s = substr(s, 1, index(s, "(") - 1)
                sub(/[=\[].*$/, "", s)
                match(s, /[A-Za-z_][A-Za-z0-9_]*[ \t]*$/)
                name = substr(s, RSTART, RLENGTH)
                sub(/[ \t]+$/, "", name)
            }
            print name
        }
    }' "$@"
}

headers=""
for d in "$@"; do
    for h in "$d"/*.h; do
        [ -f "$h" ] && headers="$headers $h"
    done
done
if [ -z "$headers" ]; then
    echo "FAIL: no headers found in: $*"
    exit 1
fi
# shellcheck disable=SC2086 # word splitting of the header list is intended (paths have no blanks)
decls $headers | sort -u >"$tmp/declared"
# shellcheck disable=SC2086
cat $headers >"$tmp/all_headers"

# ---- 3. exported => declared with NNP_API ----
comm -23 "$tmp/exported_nnp" "$tmp/declared" >"$tmp/undeclared"
if [ -s "$tmp/undeclared" ]; then
    die "exported but not declared with NNP_API in a public header:"
    while read -r s; do
        if grep -q "\\<$s\\>" "$tmp/all_headers"; then
            echo "    $s (mentioned in a header, but its declaration lacks NNP_API)"
        else
            echo "    $s (in no public header: declare it, or drop NNP_API from its definition)"
        fi
    done <"$tmp/undeclared"
else
    echo "ok: every exported nnp_ symbol is declared with NNP_API"
fi

# ---- 4. declared => exported ----
comm -13 "$tmp/exported" "$tmp/declared" >"$tmp/missing"
if [ -s "$tmp/missing" ]; then
    die "declared with NNP_API in a public header but not exported (not implemented, static, or not compiled):"
    sed 's/^/    /' "$tmp/missing"
else
    echo "ok: all $(wc -l <"$tmp/declared" | tr -d ' ') NNP_API declarations are exported"
fi

exit "$fail"
