#!/bin/sh
# Smoke test of nnprobe-grad on the tiny IDX data set that smoke-lib.sh writes.
# Usage: smoke-test-grad.sh path/to/nnprobe-grad
# Exit status 0 when every check passes; prints the failing check otherwise.
set -u
BIN=${1:?usage: $0 path/to/nnprobe-grad}
. "$(dirname "$0")/smoke-lib.sh"

# table ROWS: the output has a header and ROWS rows of 10 columns whose rel.diff (the last
# column) is below 1e-2.
table() {
    awk -v rows="$1" '
        $1 == "index" { hdr = NR; next }
        hdr && NF == 10 && $1 ~ /^[0-9]+$/ { n++; if (!($10 + 0 < 1e-2) || $10 == "n/a") bad = bad " " $1 ":" $10 }
        END { if (!hdr) { print "no table header"; exit 1 }
              if (n != rows) { print n " rows, expected " rows; exit 1 }
              if (bad != "") { print "rel.diff >= 1e-2 at" bad; exit 1 } }' "$TMP/out" ||
        { fail "table"; cat "$TMP/out"; }
}

# hexhead FILE N: the first N bytes of FILE in hex, without spaces.
hexhead() { od -An -tx1 -N"$2" "$1" | tr -d ' \n'; }

expect 0 "--version" --version
grep -q '^nnprobe-grad (libnnprobe) ' "$TMP/out" || fail "--version output"
expect 0 "--help" --help
grep -q 'save-gradients' "$TMP/out" || fail "--help lists --save-gradients"

# shellcheck disable=SC2086
expect 0 "grad 4-6s-2, 5 examples, --save-gradients" 4-6s-2 $DATA --epochs 20 --count 5 \
    --quiet --save-gradients "$TMP/g.idx"
table 5
for key in 'model' 'data' 'test error' 'vjp layer    2 (sigmoid, 6 units)' 'saved'; do
    grep -q "^$key" "$TMP/out" || { fail "no '$key' line"; cat "$TMP/out"; }
done
# float IDX, 3 dimensions 5x2x2: 16-byte header + 5*4 floats; labels: 8 + 5 bytes
[ "$(wc -c < "$TMP/g.idx")" -eq 96 ] || fail "gradient file size $(wc -c < "$TMP/g.idx"), expected 96"
[ "$(hexhead "$TMP/g.idx" 16)" = 00000d03000000050000000200000002 ] || fail "gradient file header"
[ "$(wc -c < "$TMP/g-labels.idx" 2>/dev/null)" = 13 ] || fail "label file g-labels.idx size"
# the saved files load (values in [0,1], consistent counts): use them as a test set
# shellcheck disable=SC2086
expect 0 "saved gradients load as a data set" 4-6s-2 $TRAIN --test-images "$TMP/g.idx" \
    --test-labels "$TMP/g-labels.idx" --epochs 1 --count 5 --quiet
table 5

# shellcheck disable=SC2086
expect 0 "--pick, gzip output, --save-labels" 4-3t-3r-2 $DATA --epochs 20 --pick 7,2,19 \
    --layer 4 --quiet --save-gradients "$TMP/p.idx.gz" --save-labels "$TMP/pl.idx"
table 3
[ "$(awk '$1 == "index" { h = 1; next } h && NF == 10 { printf "%s,", $1 }' "$TMP/out")" = "7,2,19," ] ||
    fail "--pick rows"
grep -q '^vjp layer    4 (relu, 3 units)' "$TMP/out" || fail "--layer 4"
[ "$(hexhead "$TMP/p.idx.gz" 2)" = 1f8b ] || fail "p.idx.gz is not gzip"
[ -s "$TMP/pl.idx" ] || fail "--save-labels file missing"
# shellcheck disable=SC2086
expect 0 "saved gzip gradients load" 4-6s-2 $TRAIN --test-images "$TMP/p.idx.gz" \
    --test-labels "$TMP/pl.idx" --epochs 1 --count 3 --quiet

# shellcheck disable=SC2086
expect 2 "input size mismatch" 5-2 $DATA
grep -q 'does not match' "$TMP/err" || fail "mismatch message"
expect 2 "missing spec" --count 2
expect 2 "bad spec" 4-3q-2
expect 2 "--count 0" 4-2 --count 0
# shellcheck disable=SC2086
expect 2 "--count beyond the test set" 4-2 $DATA --count 21
# shellcheck disable=SC2086
expect 2 "--pick beyond the test set" 4-2 $DATA --pick 1,20
grep -q 'index 20' "$TMP/err" || fail "--pick message"
expect 2 "--pick not a list" 4-2 --pick 1,,2
expect 2 "--count and --pick disagree" 4-2 --count 3 --pick 1,2
# shellcheck disable=SC2086
expect 2 "--layer beyond the net" 4-3s-2 $DATA --layer 4
expect 2 "--save-labels alone" 4-2 --save-labels "$TMP/x.idx"
# shellcheck disable=SC2086
expect 2 "--limit beyond the data" 4-2 $DATA --limit 61
expect 1 "missing data file" 4-2 --data-dir "$TMP/nonexistent"
grep -q 'NNP_EIO' "$TMP/err" || fail "EIO message"
# shellcheck disable=SC2086
expect 2 "unwritable --save-gradients (refused before the work)" 4-2 $DATA --count 2 --quiet \
    --save-gradients "$TMP/nonexistent/g.idx"
grep -q -- '--save-gradients: cannot write there: .*No such file' "$TMP/err" || fail "message on save"
# shellcheck disable=SC2086
# an ONNX model is probed as it is (smoke-test-data.sh runs one); a missing one is a file error
expect 1 "a missing ONNX file" "$TMP/x.onnx" $DATA
grep -q "x.onnx: cannot open" "$TMP/err" || fail "missing ONNX-file message"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
