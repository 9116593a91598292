#!/bin/sh
# Smoke test of nnprobe-train on the tiny IDX data set that smoke-lib.sh writes.
# Usage: smoke-test-train.sh path/to/nnprobe-train
# Exit status 0 when every check passes; prints the failing check otherwise.
set -u
BIN=${1:?usage: $0 path/to/nnprobe-train}
. "$(dirname "$0")/smoke-lib.sh"

expect 0 "--version" --version
grep -q '^nnprobe-train (libnnprobe) ' "$TMP/out" || { echo "FAIL: --version output"; fails=$((fails + 1)); }
expect 0 "--help" --help
# shellcheck disable=SC2086
expect 0 "train 4-8t-2" 4-8t-2 $DATA --epochs 40 --batch 10 --lr 0.3 --quiet
for key in 'model' 'parameters   58' 'train loss' 'train error' 'test error' 'time'; do
    grep -q "^$key" "$TMP/out" || { echo "FAIL: no '$key' line"; cat "$TMP/out"; fails=$((fails + 1)); }
done
err=$(sed -n 's/^test error *\([0-9.]*\)%$/\1/p' "$TMP/out")
if [ -z "$err" ] || [ "$(echo "$err" | awk '{ print ($1 <= 10) }')" != 1 ]; then
    echo "FAIL: test error '$err'% on a separable set, expected <= 10%"; fails=$((fails + 1))
fi
# shellcheck disable=SC2086
expect 0 "train 4-3s-3r-2 with --lambda and --limit" 4-3s-3r-2 $DATA --epochs 2 --limit 30 \
    --lambda 1e-4,0,1e-5 --decay-mode per-unit --quiet
# shellcheck disable=SC2086
expect 0 "--random-labels" 4-8t-2 $DATA --epochs 40 --batch 10 --lr 0.3 --quiet --random-labels
grep -q '^labels       randomly permuted (seed 1).* 50% for 2 classes' "$TMP/out" ||
    { echo "FAIL: no random-labels line"; cat "$TMP/out"; fails=$((fails + 1)); }
err=$(sed -n 's/^test error *\([0-9.]*\)%$/\1/p' "$TMP/out")
if [ -z "$err" ] || [ "$(echo "$err" | awk '{ print ($1 >= 25) }')" != 1 ]; then
    echo "FAIL: test error '$err'% with random labels, expected >= 25%"; fails=$((fails + 1))
fi
# shellcheck disable=SC2086
expect 0 "--half p2 with --limit" 4-8t-2 $DATA --epochs 2 --half p2 --limit 10 --quiet
grep -q '^subset       P2: training examples 30..39 of 60 (--limit)$' "$TMP/out" ||
    { echo "FAIL: no --half subset line"; cat "$TMP/out"; fails=$((fails + 1)); }
grep -q '^data         10 training' "$TMP/out" || { echo "FAIL: --half data line"; fails=$((fails + 1)); }
# shellcheck disable=SC2086
expect 2 "--half p3" 4-2 $DATA --half p3
# shellcheck disable=SC2086
expect 2 "--limit beyond the half" 4-2 $DATA --half p1 --limit 31
write_set "$TMP/one" 1
expect 2 "--half of a 1-example set" 4-2 --train-images "$TMP/one-images.idx" \
    --train-labels "$TMP/one-labels.idx" --test-images "$TMP/test-images.idx" \
    --test-labels "$TMP/test-labels.idx" --half p1
grep -q 'need at least 2' "$TMP/err" || { echo "FAIL: --half message"; fails=$((fails + 1)); }
# shellcheck disable=SC2086
expect 2 "input size mismatch" 5-2 $DATA
grep -q 'does not match' "$TMP/err" || { echo "FAIL: mismatch message"; fails=$((fails + 1)); }
# shellcheck disable=SC2086
expect 2 "preset on 4-pixel data" fc10 $DATA
# shellcheck disable=SC2086
expect 2 "too few classes" 4-1 $DATA
expect 2 "bad spec" 4-3q-2
expect 2 "missing spec" --epochs 1
expect 2 "--epochs 0" 4-2 --epochs 0
expect 2 "--lr -1" 4-2 --lr -1
expect 2 "--lambda count" 4-3s-2 --lambda 1,2,3
expect 2 "unknown option --save" 4-2 --save model.onnx
# shellcheck disable=SC2086
expect 2 "--limit beyond the data" 4-2 $DATA --limit 61
expect 1 "missing data file" 4-2 --data-dir "$TMP/nonexistent"
grep -q 'NNP_EIO' "$TMP/err" || { echo "FAIL: EIO message"; fails=$((fails + 1)); }

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
