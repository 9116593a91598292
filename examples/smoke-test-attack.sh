#!/bin/sh
# Smoke test of nnprobe-attack on the tiny IDX data set that smoke-lib.sh writes.
# Usage: smoke-test-attack.sh path/to/nnprobe-attack [path/to/nnprobe-train]
# (with nnprobe-train, also attacks a model it saved as ONNX)
# Exit status 0 when every check passes; prints the failing check otherwise.
set -u
BIN=${1:?usage: $0 path/to/nnprobe-attack [path/to/nnprobe-train]}
TRAIN_BIN=${2:-}
. "$(dirname "$0")/smoke-lib.sh"

expect 0 "--help" --help
grep -q 'lbfgs' "$TMP/out" || fail "--help does not name the lbfgs attack"
# shellcheck disable=SC2086
expect 0 "untargeted attack with every output" 4-8t-2 $DATA --epochs 40 --count 12 --quiet \
    --results "$TMP/r.csv" --out "$TMP/adv.idx" --png "$TMP/fig.png" --figure-count 3
grep -q '^success      12/12 (100.0%)' "$TMP/out" || { fail "not every example adversarial"; cat "$TMP/out"; }
grep -q '^error .* 100.0% on the adversarial ones' "$TMP/out" || { fail "error line"; cat "$TMP/out"; }
[ "$(wc -l < "$TMP/r.csv")" -eq 13 ] || fail "CSV should have a header and 12 rows"
head -1 "$TMP/r.csv" | grep -q '^index,true_label,clean_label,target,adv_label,success' || fail "CSV header"
# every row: success 1, finished 1, rms in [0, 1]
awk -F, 'NR > 1 && !($6 == 1 && $7 == 1 && $8 >= 0 && $8 <= 1) { bad = 1 } END { exit bad }' \
    "$TMP/r.csv" || fail "a CSV row is not a finished success"
# IDX float32 images: magic 0x00000d03, 12 examples
[ "$(od -An -tx1 -N4 "$TMP/adv.idx" | tr -d ' ')" = 00000d03 ] || fail "adversarial IDX magic"
[ -s "$TMP/adv.idx.labels" ] || fail "no label file"
[ "$(od -An -c -j1 -N3 "$TMP/fig.png" | tr -d ' ')" = PNG ] || fail "figure is not a PNG"
# shellcheck disable=SC2086
expect 0 "JSON results" 4-8t-2 $DATA --epochs 40 --count 5 --quiet --results "$TMP/r.json"
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert len(r) == 5 and all(e["finished"] == 1 and 0 <= e["rms"] <= 1 for e in r), r' \
        "$TMP/r.json" || fail "JSON results do not parse or are wrong"
else
    grep -q '"evaluations"' "$TMP/r.json" || fail "JSON results"
fi
# shellcheck disable=SC2086
expect 0 "targeted (next label)" 4-8t-2 $DATA --epochs 40 --count 6 --target next --quiet
grep -q 'targeted at label+1' "$TMP/out" || fail "targeted mode not reported"
for a in fgsm pgd deepfool cw; do
    # shellcheck disable=SC2086
    expect 0 "--attack $a" 4-8t-2 $DATA --epochs 40 --count 8 --attack $a --epsilon 0.9 --quiet \
        --results "$TMP/r-$a.csv"
    grep -q "^attack       $a" "$TMP/out" || fail "--attack $a not reported"
    awk -F, 'NR > 1 && !($8 >= 0 && $8 <= 1 && $7 == 1) { bad = 1 } END { exit bad }' "$TMP/r-$a.csv" ||
        fail "--attack $a: a CSV row is unfinished or out of range"
done
# shellcheck disable=SC2086
expect 0 "evaluation table" 4-8t-2 $DATA --epochs 40 --count 10 --quiet --transfer 4-6s-2 \
    --noise 0.1 --amplify 0.2
grep -q '^  adversarial (for model 0) *100.0% *[0-9.]*%$' "$TMP/out" || { fail "evaluation: adversarial row"; cat "$TMP/out"; }
grep -q '^  gaussian noise, stddev 0.1 ' "$TMP/out" || fail "evaluation: noise row"
grep -q '^  adversarial amplified to RMS 0.2 ' "$TMP/out" || fail "evaluation: amplified row"
grep -q '^  model 0 = 4-8t-2, model 1 = 4-6s-2$' "$TMP/out" || fail "evaluation: model legend"
# shellcheck disable=SC2086
expect 2 "--transfer with another input size" 4-8t-2 $DATA --epochs 1 --count 4 --transfer 5-2 --quiet
# shellcheck disable=SC2086
expect 2 "pgd with a bad norm" 4-2 $DATA --attack pgd --norm l3
if [ -n "$TRAIN_BIN" ]; then
    # shellcheck disable=SC2086
    "$TRAIN_BIN" 4-8t-2 $DATA --epochs 40 --batch 10 --lr 0.3 --quiet --save "$TMP/m.onnx" \
        > "$TMP/train.out" 2>&1 || fail "nnprobe-train --save"
    # shellcheck disable=SC2086
    expect 0 "an ONNX model" "$TMP/m.onnx" $DATA --count 8 --quiet
    grep -q "^model        $TMP/m.onnx, loaded" "$TMP/out" || { fail "ONNX model line"; cat "$TMP/out"; }
    grep -q '^success      8/8' "$TMP/out" || { fail "ONNX model: not every example"; cat "$TMP/out"; }
    # shellcheck disable=SC2086
    expect 1 "a missing ONNX file" "$TMP/none.onnx" $DATA --count 8 --quiet
fi
# shellcheck disable=SC2086
expect 2 "unknown attack" 4-2 $DATA --attack nope
grep -q "unknown attack 'nope'" "$TMP/err" || fail "unknown attack message"
# shellcheck disable=SC2086
expect 2 "--count beyond the test set" 4-2 $DATA --count 21
# shellcheck disable=SC2086
expect 1 "c-init 0 is refused by the library" 4-2 $DATA --epochs 1 --count 5 --c-init 0 --quiet
grep -q 'c_init' "$TMP/err" || fail "c_init not named"
expect 1 "missing data" 4-2 --data-dir "$TMP/nowhere"
# Output files (issue 17): every writer goes through nnp_file_write. A symlink given as an output
# path stays a symlink and its target gets the data.
echo old > "$TMP/real.csv"; ln -s real.csv "$TMP/link.csv"
echo old > "$TMP/real.png"; ln -s real.png "$TMP/link.png"
echo old > "$TMP/real.idx"; ln -s real.idx "$TMP/link.idx"
# shellcheck disable=SC2086
expect 0 "symlinks as output paths" 4-8t-2 $DATA --epochs 40 --count 4 --quiet \
    --results "$TMP/link.csv" --png "$TMP/link.png" --figure-count 2 --out "$TMP/link.idx"
[ -L "$TMP/link.csv" ] && [ -L "$TMP/link.png" ] && [ -L "$TMP/link.idx" ] ||
    fail "an output symlink was replaced"
[ "$(od -An -tx1 -N4 "$TMP/real.idx" | tr -d ' ')" = 00000d03 ] || fail "the IDX symlink's target"
head -1 "$TMP/real.csv" | grep -q '^index,' || fail "the symlink's target was not written"
[ "$(od -An -c -j1 -N3 "$TMP/real.png" | tr -d ' ')" = PNG ] || fail "the PNG symlink's target"
# A PNG write that fails (file-size limit 0, SIGXFSZ ignored, so write() gets EFBIG) leaves the
# existing file whole: libpng's own writer used to delete the path after a failed write.
echo keep > "$TMP/keep.png"
# shellcheck disable=SC2086
rc=$( (trap '' XFSZ; ulimit -f 0; "$BIN" 4-8t-2 $DATA --epochs 40 --count 4 --quiet \
    --png "$TMP/keep.png" >/dev/null 2>&1; echo $?) | tail -1)
[ "$rc" = 1 ] || fail "a failed PNG write: exit status $rc, expected 1"
[ "$(cat "$TMP/keep.png" 2>/dev/null)" = keep ] || fail "a failed PNG write destroyed the old file"
ls "$TMP"/keep.png.tmp* >/dev/null 2>&1 && fail "a failed PNG write left its temporary file"
# An output path that cannot be written is refused before the work, with status 2.
for o in --results --out --png; do
    # shellcheck disable=SC2086
    expect 2 "$o in a missing directory" 4-8t-2 $DATA --epochs 40 --count 4 --quiet $o "$TMP/no/f"
    grep -q "^nnprobe-attack: $o: cannot write there: .*$TMP/no/f.*No such file" "$TMP/err" ||
        fail "$o: no clear message"
done
[ "$fails" -eq 0 ]
