#!/bin/sh
# Shards of nnprobe-attack and nnprobe-maxact merged by nnprobe-merge equal the single run, bit
# for bit (results CSV, adversarial IDX, top lists), on the tiny IDX data set of smoke-lib.sh;
# nnprobe-merge refuses a missing shard, a shard of another run and an interrupted one, naming
# the shard's index, and writes nothing then. docs/cluster.md.
# Usage: smoke-test-shard.sh nnprobe-attack nnprobe-merge nnprobe-train nnprobe-maxact \
#        nnprobe-lipschitz
set -u
ATTACK=${1:?usage: $0 nnprobe-attack nnprobe-merge nnprobe-train nnprobe-maxact nnprobe-lipschitz}
MERGE=${2:?}
TRAIN_BIN=${3:?}
MAXACT=${4:?}
LIPSCHITZ=${5:?}
BIN=$MERGE
. "$(dirname "$0")/smoke-lib.sh"
# OpenBLAS sums in an order that depends on its thread count: every run here uses one thread
OPENBLAS_NUM_THREADS=1
export OPENBLAS_NUM_THREADS

# three classes (label i % 3), so that random targets differ between examples
write_labels3() {
    { byte 0; byte 0; byte 8; byte 1; be32 "$2"
      i=0
      while [ "$i" -lt "$2" ]; do byte $((i % 3)); i=$((i + 1)); done; } > "$1-labels.idx"
}
write_labels3 "$TMP/train" 60
write_labels3 "$TMP/test" 20
# shellcheck disable=SC2086
"$TRAIN_BIN" 4-8t-3 $DATA --epochs 40 --quiet --save "$TMP/m.onnx" > /dev/null ||
    { echo "FAIL: training the model"; exit 1; }

# attack_shards NAME ARGS...: the whole run, 3 shards, the merge; compares CSV and IDX
attack_shards() {
    name=$1; rows=$2; shift 2
    # shellcheck disable=SC2086
    "$ATTACK" "$TMP/m.onnx" $DATA "$@" --quiet --results "$TMP/$name-whole.csv" \
        --out "$TMP/$name-whole.idx" > "$TMP/$name-whole.txt" || fail "$name: the whole run"
    for i in 0 1 2; do
        # shellcheck disable=SC2086
        "$ATTACK" "$TMP/m.onnx" $DATA "$@" --quiet --shard $i/3 --results "$TMP/$name-$i.csv" \
            --out "$TMP/$name-$i.idx" > /dev/null || fail "$name: shard $i/3"
    done
    expect 0 "$name: merging 3 shards" -o "$TMP/$name-merged.csv" --out "$TMP/$name-merged.idx" \
        "$TMP/$name-2.csv" "$TMP/$name-0.csv" "$TMP/$name-1.csv"
    cmp -s "$TMP/$name-merged.csv" "$TMP/$name-whole.csv" || fail "$name: merged results differ"
    # the error rates merged from the shards' counts: the single run's "error" line
    grep '^error ' "$TMP/$name-whole.txt" > "$TMP/a"
    grep '^error ' "$TMP/err" > "$TMP/b"
    cmp -s "$TMP/a" "$TMP/b" || fail "$name: merged error rates differ"
    cmp -s "$TMP/$name-merged.idx" "$TMP/$name-whole.idx" || fail "$name: merged x_adv differ"
    cmp -s "$TMP/$name-merged.idx.labels" "$TMP/$name-whole.idx.labels" ||
        fail "$name: merged labels differ"
    [ "$(wc -l < "$TMP/$name-merged.csv")" -eq $((rows + 1)) ] ||
        fail "$name: merged CSV is not $rows rows"
}
attack_shards lbfgs 20 --count 20 --batch 3 --target random --max-iter 40
attack_shards pgd 20 --count 20 --batch 4 --attack pgd --epsilon 0.3 --steps 2 --step-size 0.01
# more shards than batches: empty shards merge too
attack_shards fgsm 5 --count 5 --batch 4 --attack fgsm --epsilon 0.5

# nnprobe-maxact: top lists (ties included) of 3 shards merged
# shellcheck disable=SC2086
"$MAXACT" "$TMP/m.onnx" $DATA --layer 2 --unit 0,3,7 --top 6 --steps 0 --batch 3 --quiet \
    --lists "$TMP/l-whole.csv" > /dev/null || fail "maxact: the whole run"
for i in 0 1 2; do
    # shellcheck disable=SC2086
    "$MAXACT" "$TMP/m.onnx" $DATA --layer 2 --unit 0,3,7 --top 6 --steps 0 --batch 3 --quiet \
        --shard $i/3 --lists "$TMP/l-$i.csv" > /dev/null || fail "maxact: shard $i/3"
done
expect 0 "maxact: merging 3 shards" -o "$TMP/l-merged.csv" "$TMP/l-0.csv" "$TMP/l-1.csv" \
    "$TMP/l-2.csv"
cmp -s "$TMP/l-merged.csv" "$TMP/l-whole.csv" || fail "maxact: merged lists differ"

# nnprobe-lipschitz: the lower bound's per-point norms of 3 shards merged
# shellcheck disable=SC2086
"$LIPSCHITZ" "$TMP/m.onnx" $DATA --points 20 --power-iters 10 --batch 3 --quiet \
    --norms "$TMP/n-whole.csv" > /dev/null || fail "lipschitz: the whole run"
for i in 0 1 2; do
    # shellcheck disable=SC2086
    "$LIPSCHITZ" "$TMP/m.onnx" $DATA --points 20 --power-iters 10 --batch 3 --quiet \
        --shard $i/3 --norms "$TMP/n-$i.csv" > /dev/null || fail "lipschitz: shard $i/3"
done
expect 0 "lipschitz: merging 3 shards" -o "$TMP/n-merged.csv" "$TMP/n-1.csv" "$TMP/n-0.csv" \
    "$TMP/n-2.csv"
cmp -s "$TMP/n-merged.csv" "$TMP/n-whole.csv" || fail "lipschitz: merged norms differ"

# refusals, each naming the shard, and no output written
rm -f "$TMP/bad.csv"
expect 1 "a missing shard is refused" -o "$TMP/bad.csv" "$TMP/lbfgs-0.csv" "$TMP/lbfgs-2.csv"
grep -q "shard 1 of 3 is missing" "$TMP/err" || fail "the missing shard is not named"
# shellcheck disable=SC2086
"$ATTACK" "$TMP/m.onnx" $DATA --count 20 --batch 3 --target random --max-iter 41 --quiet \
    --shard 1/3 --results "$TMP/other-1.csv" > /dev/null || fail "the other run's shard"
expect 1 "a shard of another run is refused" -o "$TMP/bad.csv" "$TMP/lbfgs-0.csv" \
    "$TMP/other-1.csv" "$TMP/lbfgs-2.csv"
grep -q "shard 1 (.*other-1.csv) is of another run" "$TMP/err" || fail "the foreign shard is not named"
sed '1s/status=complete/status=interrupted/' "$TMP/lbfgs-2.csv" > "$TMP/int-2.csv"
expect 1 "an interrupted shard is refused" -o "$TMP/bad.csv" "$TMP/lbfgs-0.csv" \
    "$TMP/lbfgs-1.csv" "$TMP/int-2.csv"
grep -q "shard 2 (.*int-2.csv) failed" "$TMP/err" || fail "the failed shard is not named"
sed '$d' "$TMP/lbfgs-1.csv" > "$TMP/short-1.csv"
expect 1 "a truncated shard is refused" -o "$TMP/bad.csv" "$TMP/lbfgs-0.csv" \
    "$TMP/short-1.csv" "$TMP/lbfgs-2.csv"
grep -q "shard 1 (.*short-1.csv) failed" "$TMP/err" || fail "the truncated shard is not named"
expect 1 "one shard twice is refused" "$TMP/lbfgs-0.csv" "$TMP/lbfgs-0.csv" "$TMP/lbfgs-1.csv" \
    "$TMP/lbfgs-2.csv"
grep -q "shard 0 is given twice" "$TMP/err" || fail "the repeated shard is not named"
[ ! -e "$TMP/bad.csv" ] || fail "a refused merge wrote its output"

"$ATTACK" --shard 3/3 > /dev/null 2> "$TMP/err"; [ $? -eq 2 ] || fail "--shard 3/3 accepted"
"$ATTACK" --shard 0/2 > /dev/null 2> "$TMP/err"; [ $? -eq 2 ] || fail "--shard without --results accepted"

[ "$fails" -eq 0 ] && echo "all shard checks passed"
exit $((fails > 0))
