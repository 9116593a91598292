#!/bin/sh
# Smoke test of nnprobe-maxact on the tiny IDX data set that smoke-lib.sh writes (2x2 images,
# 60 training and 20 test examples, two classes).
# Usage: smoke-test-maxact.sh path/to/nnprobe-maxact
# Exit status 0 when every check passes; prints the failing check otherwise.
set -u
BIN=${1:?usage: $0 path/to/nnprobe-maxact}
. "$(dirname "$0")/smoke-lib.sh"

# rows N K: the output has N table rows, each listing K "label(index)" entries with distinct
# indices below 20 (the test set).
rows() {
    awk -v want="$1" -v k="$2" '
        /^ *row / { hdr = 1; next }
        hdr && $1 ~ /^[0-9]+$/ {
            n++; m = 0; delete seen
            for (f = 1; f <= NF; f++) if ($f ~ /^[01]\([0-9]+\)$/) {
                m++; i = $f; sub(/^.\(/, "", i); sub(/\)$/, "", i)
                if (i + 0 >= 20 || (i in seen)) bad = bad " row" $1 ":" $f; seen[i] = 1 }
            if (m != k) bad = bad " row" $1 ":" m "entries" }
        END { if (n != want) { print n " rows, expected " want; exit 1 }
              if (bad != "") { print "bad entries:" bad; exit 1 } }' "$TMP/out" ||
        { fail "rows $1 x $2"; cat "$TMP/out"; }
}

# be32at FILE OFFSET: the big-endian 32-bit number at OFFSET.
be32at() { od -An -tu1 -j"$2" -N4 "$1" | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }'; }

expect 0 "--version" --version
grep -q '^nnprobe-maxact (libnnprobe) ' "$TMP/out" || fail "--version output"
expect 0 "--help" --help
grep -q 'random-directions' "$TMP/out" || fail "--help lists --random-directions"

# shellcheck disable=SC2086
expect 0 "units 0,3 of layer 2, top 3, PNG" 4-6s-2 $DATA --epochs 5 --layer 2 --unit 0,3 \
    --top 3 --quiet --png "$TMP/m.png"
rows 2 3
for key in 'model' 'layer        2 (sigmoid, 6 units)' 'directions   2 natural' 'png'; do
    grep -q "^$key" "$TMP/out" || { fail "no '$key' line"; cat "$TMP/out"; }
done
# PNG signature, IHDR width and height: at scale 2 a tile is 4 px plus 2 px padding; 3 top
# images and the optimised input after an 8 px gap: 2 + 4*6 + 8 = 34 wide, 2 + 2*6 = 14 high
[ "$(od -An -tx1 -N8 "$TMP/m.png" | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "not a PNG"
[ "$(be32at "$TMP/m.png" 16)" = 34 ] || fail "PNG width $(be32at "$TMP/m.png" 16), expected 34"
[ "$(be32at "$TMP/m.png" 20)" = 14 ] || fail "PNG height $(be32at "$TMP/m.png" 20), expected 14"

# k beyond the 20 test examples: every row lists all 20, once each
# shellcheck disable=SC2086
expect 0 "3 random directions, --top 25" 4-6s-2 $DATA --layer 1 --random-directions 3 --top 25 \
    --steps 0 --quiet
rows 3 20
grep -q '^directions   3 random' "$TMP/out" || fail "random directions line"
# the same seed gives the same table; another seed other directions
cp "$TMP/out" "$TMP/out1"
# shellcheck disable=SC2086
expect 0 "same seed again" 4-6s-2 $DATA --layer 1 --random-directions 3 --top 25 --steps 0 --quiet
cmp -s "$TMP/out" "$TMP/out1" || fail "same seed, different output"

# shellcheck disable=SC2086
{
expect 2 "missing --layer" 4-6s-2 $DATA --unit 0
expect 2 "neither --unit nor --random-directions" 4-6s-2 $DATA --layer 1
expect 2 "both --unit and --random-directions" 4-6s-2 $DATA --layer 1 --unit 0 --random-directions 2
expect 2 "--layer beyond the net" 4-6s-2 $DATA --layer 4 --unit 0 --quiet
grep -q 'layers 1..3' "$TMP/err" || fail "--layer message"
expect 2 "--unit beyond the layer" 4-6s-2 $DATA --layer 2 --unit 6 --quiet
grep -q 'units 0..5' "$TMP/err" || fail "--unit message"
expect 2 "--jitter as large as the image" 4-6s-2 $DATA --layer 2 --unit 0 --jitter 2
expect 1 "missing ONNX model file" "$TMP/model.onnx" $DATA --layer 1 --unit 0
grep -q 'loading the model' "$TMP/err" || fail "model file message"
expect 2 "preset that needs pretraining" ae400-10 $DATA --layer 1 --unit 0
expect 2 "input size mismatch" 5-2 $DATA --layer 1 --unit 0
expect 2 "three positional arguments" 4-2 "$TMP" extra --layer 1 --unit 0
expect 1 "missing data directory" 4-2 "$TMP/nonexistent" --layer 1 --unit 0
expect 1 "missing data file" 4-2 --train-images "$TMP/nope.idx" --layer 1 --unit 0
grep -q 'NNP_EIO' "$TMP/err" || fail "EIO message"
expect 2 "unwritable --png (refused before the work)" 4-6s-2 $DATA --layer 1 --unit 0 --quiet --png "$TMP/nonexistent/m.png"
}

# Ctrl-C during the optimisation (issue 17): status 130, and the search's results and the
# inputs of the steps done are still reported and drawn. A background job starts with SIGINT
# ignored (which the program rightly keeps), so python3 restores the default first.
if command -v python3 >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
        "$BIN" 4-6s-2 $DATA --layer 1 --unit 0 --quiet --steps 2000000000 --png "$TMP/int.png" \
        > "$TMP/out" 2> "$TMP/err" &
    pid=$!
    sleep 2
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" -eq 130 ] || { fail "Ctrl-C during --steps: exit status $rc, expected 130"; cat "$TMP/err"; }
    grep -q '^png ' "$TMP/out" && [ -s "$TMP/int.png" ] || fail "Ctrl-C: no partial figure"
    grep -q 'interrupted' "$TMP/err" || fail "Ctrl-C: not reported"
fi

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
