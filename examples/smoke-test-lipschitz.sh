#!/bin/sh
# Smoke test of nnprobe-lipschitz on the tiny IDX data set that smoke-lib.sh writes, and on an
# untrained preset (no data).
# Usage: smoke-test-lipschitz.sh path/to/nnprobe-lipschitz
# Exit status 0 when every check passes; prints the failing check otherwise.
set -u
BIN=${1:?usage: $0 path/to/nnprobe-lipschitz}
. "$(dirname "$0")/smoke-lib.sh"

# table ROWS: the per-layer table has ROWS rows (numbered 1..ROWS), every upto.ex ≤ upto, and
# the whole-net lower bound is positive and ≤ both upper bounds.
table() {
    awk -v rows="$1" '
        $1 == "layer" && $2 == "kind" { hdr = 1; next }
        hdr && $1 ~ /^[0-9]+$/ && NF >= 5 { n++; if ($(NF) + 0 > $(NF - 1) * (1 + 1e-6)) bad = bad " " $1 }
        /upper bound \(product/ { up = $NF }
        /upper bound \(exact/ { upx = $NF }
        /lower bound max/ { lo = $(NF - 2) }
        END { if (!hdr) { print "no table header"; exit 1 }
              if (n != rows) { print n " rows, expected " rows; exit 1 }
              if (bad != "") { print "upto.ex > upto at" bad; exit 1 }
              if (!(lo > 0) || lo > upx * (1 + 1e-6) || upx > up * (1 + 1e-6)) {
                  print "bounds out of order: lower " lo " exact " upx " paper " up; exit 1 } }' \
        "$TMP/out" || { fail "table"; cat "$TMP/out"; }
}

expect 0 "--version" --version
grep -q '^nnprobe-lipschitz (libnnprobe) ' "$TMP/out" || fail "--version output"
expect 0 "--help" --help
grep -q -- '--untrained' "$TMP/out" || fail "--help lists --untrained"

# shellcheck disable=SC2086
expect 0 "dense 4-3r-2 trained on the tiny set" 4-3r-2 $DATA --epochs 5 --quiet
table 3
grep -q '^test error' "$TMP/out" || fail "no test error line"
grep -q '!' "$TMP/out" && fail "a layer did not converge"
# shellcheck disable=SC2086
expect 0 "conv 4-c2x3p1r-m2-2 trained" 4-c2x3p1r-m2-2 $DATA --epochs 2 --quiet --points 7
table 4
grep -q 'over 7 test points' "$TMP/out" || fail "--points 7"
awk '$1 == 1 && $2 == "conv2d" && $5 == "4x4" { ok = 1 } END { exit !ok }' "$TMP/out" ||
    fail "conv row with grid 4x4 (2x2 input + padding 1+1)"

expect 0 "untrained cnn-small" cnn-small --untrained --points 2 --power-iters 5 --quiet
table 9
grep -q 'over 2 random points' "$TMP/out" || fail "random points line"
awk '$1 == 1 && $2 == "conv2d" && $5 == "32x32" { ok = 1 } END { exit !ok }' "$TMP/out" ||
    fail "cnn-small conv1 grid 32x32"
expect 0 "--grid 40" cnn-small --untrained --points 1 --power-iters 2 --grid 40 --quiet
awk '$1 == 4 && $2 == "conv2d" && $5 == "40x40" { ok = 1 } END { exit !ok }' "$TMP/out" ||
    fail "--grid 40 on conv2"
# --exact-only: conv bounds and upto read nan, the exact norms and their product are the same
expect 0 "untrained cnn-small (for --exact-only)" cnn-small --untrained --points 1 --power-iters 2 --quiet
awk '/upper bound \(exact/ { print $NF }' "$TMP/out" > "$TMP/upx_default"
expect 0 "--exact-only" cnn-small --untrained --points 1 --power-iters 2 --quiet --exact-only
awk -v ref="$(cat "$TMP/upx_default")" '
    $1 == 1 && $2 == "conv2d" && $5 == "nan" && $(NF - 1) == "nan" { conv = 1 }
    /upper bound \(exact/ { d = $NF - ref; if (d < 0) d = -d; same = ref > 0 && d <= 1e-4 * ref }
    END { exit !(conv && same) }' "$TMP/out" ||
    { fail "--exact-only: conv bound nan and the same exact product"; cat "$TMP/out"; }
expect 0 "--max-iter 2 reports non-convergence" 784-30-10 --untrained --points 1 --max-iter 2 --quiet
grep -q 'did not reach' "$TMP/out" || fail "non-convergence note"
expect 0 "progress lines" 4-3r-2 --untrained --points 3
grep -q '^bounds: ' "$TMP/err" || fail "no progress on stderr"

expect 0 "--clever" 4-3r-2 --untrained --points 3 --quiet --clever 0.5
grep -q '^clever       ESTIMATE (not a bound)' "$TMP/out" || fail "--clever line"
awk '/local Lipschitz of the margin/ { est = $(NF - 6); mx = $(NF - 2) + 0; ok = (est >= mx && mx > 0) }
     END { exit !ok }' "$TMP/out" || { fail "--clever estimate >= largest sampled gradient"; cat "$TMP/out"; }
expect 2 "--clever 0" 4-2 --untrained --clever 0
expect 0 "--from 2" 4-3r-5t-2 --untrained --points 3 --quiet --from 2
awk '/^block / { up = $(NF - 4) + 0; upx = $NF + 0 }
     /lower bound max .* w.r.t. layer 2/ { lo = $(NF - 2) + 0 }
     END { exit !(lo > 0 && lo <= upx * (1 + 1e-6) && upx <= up * (1 + 1e-6)) }' "$TMP/out" ||
    { fail "--from 2: block bounds out of order"; cat "$TMP/out"; }
expect 2 "--from beyond the net" 4-3r-2 --untrained --from 3

expect 2 "missing model"
expect 1 "missing ONNX model file" "$TMP/model.onnx" $DATA
grep -q 'loading the model' "$TMP/err" || fail "missing ONNX model message"
expect 2 "--untrained with an ONNX model" "$TMP/model.onnx" --untrained
expect 2 "bad spec" 4-3q-2 --untrained
expect 2 "--tol 0" 4-2 --untrained --tol 0
expect 2 "--points 0" 4-2 --untrained --points 0
# shellcheck disable=SC2086
expect 2 "input size mismatch" 5-2 $DATA
expect 1 "missing data file" 4-2 --data-dir "$TMP/nonexistent"
grep -q 'NNP_EIO' "$TMP/err" || fail "EIO message"
expect 1 "--grid not a multiple of a stride" 16-c2x2s2-2 --untrained --grid 5 --quiet
grep -q 'fourier_grid_h' "$TMP/err" || fail "grid message names the field"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
