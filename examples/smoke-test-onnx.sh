#!/bin/sh
# Smoke test of the ONNX path of the examples: nnprobe-train --save writes a model,
# nnprobe-info prints its layer table; a broken file is refused with the loader's message.
# Usage: smoke-test-onnx.sh path/to/nnprobe-train path/to/nnprobe-info
set -u
TRAIN_BIN=${1:?usage: $0 nnprobe-train nnprobe-info}
INFO_BIN=${2:?usage: $0 nnprobe-train nnprobe-info}
BIN=$TRAIN_BIN
. "$(dirname "$0")/smoke-lib.sh"

# shellcheck disable=SC2086
expect 0 "train 4-8t-2 --save" 4-8t-2 $DATA --epochs 5 --batch 10 --lr 0.3 --quiet \
    --save "$TMP/model.onnx"
grep -q "^saved        $TMP/model.onnx (ONNX)$" "$TMP/out" || fail "no 'saved' line"
[ -s "$TMP/model.onnx" ] || fail "no model file written"

BIN=$INFO_BIN
expect 0 "info on the saved model" "$TMP/model.onnx"
# 4 inputs -> dense 8 -> tanh -> dense 2: (4+1)*8 + (8+1)*2 = 58 parameters
for line in '^input        1x2x2 (4 values per example)$' \
            '^    1  dense           0         8x1x1                  40$' \
            '^    2  tanh            1         8x1x1                   0$' \
            '^    3  dense           2         2x1x1                  18$' \
            '^outputs      2 (logits)$' '^parameters   58$' \
            '^workspace    [0-9][0-9]* bytes at batch 1, [0-9][0-9]* at batch 128 '; do
    grep -q "$line" "$TMP/out" || { fail "no line matching '$line'"; cat "$TMP/out"; }
done

"$INFO_BIN" - < "$TMP/model.onnx" > "$TMP/out2" 2>&1 || fail "info from standard input"
sed 1d "$TMP/out" > "$TMP/out1"
sed 1d "$TMP/out2" | cmp -s - "$TMP/out1" || { fail "standard input gives another table"; cat "$TMP/out2"; }
grep -q '^model        (standard input)$' "$TMP/out2" || fail "standard input: model line"

head -c 100 "$TMP/model.onnx" > "$TMP/truncated.onnx"
expect 1 "truncated model refused" "$TMP/truncated.onnx"
grep -q 'onnx: not a valid ONNX model' "$TMP/err" || { fail "truncated: message"; cat "$TMP/err"; }
expect 1 "missing file" "$TMP/none.onnx"
expect 2 "no argument"
[ "$fails" -eq 0 ] && echo "all ONNX smoke checks passed"
exit $((fails > 0))
