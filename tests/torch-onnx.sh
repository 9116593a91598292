#!/bin/sh
# The documented PyTorch -> ONNX -> libnnprobe path (docs/onnx.md): examples/torch-to-onnx.py
# exports a residual CNN, nnprobe-info prints its layer table, and onnx_torch_compare checks
# the loaded net's logits against PyTorch's. Exit 77 (skipped) without python3-torch.
# Usage: torch-onnx.sh SOURCE_DIR nnprobe-info onnx_torch_compare
set -u
SRC=$1 INFO=$2 COMPARE=$3
PY=""
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import torch' >/dev/null 2>&1; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    echo "torch-onnx: python3-torch not installed; skipped"
    exit 77
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nnp-torch.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
"$PY" "$SRC/examples/torch-to-onnx.py" "$TMP/model.onnx" --check-data "$TMP" || exit 1
"$INFO" "$TMP/model.onnx" > "$TMP/info" || { cat "$TMP/info"; exit 1; }
cat "$TMP/info"
for kind in conv2d maxpool2d add flatten dense tanh; do
    grep -q "^ *[0-9]*  $kind " "$TMP/info" || { echo "FAIL: no $kind layer"; exit 1; }
done
grep -q '^outputs      10 (logits)$' "$TMP/info" || { echo "FAIL: outputs line"; exit 1; }
"$COMPARE" "$TMP/model.onnx" "$TMP/input.f32" "$TMP/logits.f32"
