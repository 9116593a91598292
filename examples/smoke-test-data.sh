#!/bin/sh
# Smoke test of the data options (docs/data.md): 3-channel data as 4-D IDX and as NumPy .npy
# (both written here with printf), --data/--labels, --mean/--std/--normalize on an ONNX model,
# random points for an ONNX model without data, the refusals (bad mean/std lists, channel
# count, channel-last and Fortran-order arrays, an attack without labels), and a directory of
# PNGs (written with Python's standard library when python3 is there, else skipped).
# Usage: smoke-test-data.sh nnprobe-train nnprobe-lipschitz nnprobe-attack nnprobe-maxact
#        nnprobe-grad
set -u
TRAIN_BIN=${1:?usage: $0 nnprobe-train nnprobe-lipschitz nnprobe-attack nnprobe-maxact nnprobe-grad}
LIP=${2:?}
ATK=${3:?}
MAX=${4:?}
GRAD=${5:?}
BIN=$TRAIN_BIN
. "$(dirname "$0")/smoke-lib.sh"

# rgb_idx PREFIX N: N images of 3x2x2 unsigned bytes as 4-D IDX (N x C x H x W), label i%2:
# class 0 has a bright red channel, class 1 a bright blue one.
rgb_idx() {
    n=$2
    { byte 0; byte 0; byte 8; byte 4; be32 "$n"; be32 3; be32 2; be32 2
      i=0
      while [ "$i" -lt "$n" ]; do
          a=$((150 + i * 7 % 100)); z=$((i * 3 % 40))
          if [ $((i % 2)) -eq 0 ]; then r=$a; b=$z; else r=$z; b=$a; fi
          byte $r; byte $r; byte $r; byte $r; byte 60; byte 60; byte 60; byte 60
          byte $b; byte $b; byte $b; byte $b
          i=$((i + 1))
      done; } > "$1-images.idx"
    { byte 0; byte 0; byte 8; byte 1; be32 "$n"
      i=0
      while [ "$i" -lt "$n" ]; do byte $((i % 2)); i=$((i + 1)); done; } > "$1-labels.idx"
}
rgb_idx "$TMP/rgb-train" 40
rgb_idx "$TMP/rgb-test" 12

# npy FILE DESCR SHAPE [FORTRAN]: a version 1.0 .npy header (NEP 1: magic, version, uint16 LE
# length, the dict padded with spaces to a multiple of 64 bytes and ended by a newline); the
# caller appends the data.
npy() {
    dict="{'descr': '$2', 'fortran_order': ${4:-False}, 'shape': $3, }"
    len=$(( (10 + ${#dict} + 1 + 63) / 64 * 64 - 10 ))
    { printf '\223NUMPY'; byte 1; byte 0; byte $((len & 255)); byte $((len >> 8))
      printf "%-$((len - 1))s\n" "$dict"; } > "$1"
}
# the test images again as .npy (|u1, N x 3 x 2 x 2: the IDX file's data bytes) and the labels
# as int64
npy "$TMP/x.npy" '|u1' '(12, 3, 2, 2)'
tail -c 144 "$TMP/rgb-test-images.idx" >> "$TMP/x.npy"
npy "$TMP/y.npy" '<i8' '(12,)'
{ i=0; while [ "$i" -lt 12 ]; do byte $((i % 2)); byte 0; byte 0; byte 0; byte 0; byte 0; byte 0; byte 0
  i=$((i + 1)); done; } >> "$TMP/y.npy"
npy "$TMP/xf.npy" '|u1' '(12, 3, 2, 2)' True
tail -c 144 "$TMP/rgb-test-images.idx" >> "$TMP/xf.npy"
npy "$TMP/xhwc.npy" '|u1' '(12, 2, 2, 3)'
tail -c 144 "$TMP/rgb-test-images.idx" >> "$TMP/xhwc.npy"
RGB="--train-images $TMP/rgb-train-images.idx --train-labels $TMP/rgb-train-labels.idx"
RGB="$RGB --test-images $TMP/rgb-test-images.idx --test-labels $TMP/rgb-test-labels.idx"
M="$TMP/rgb.onnx"

# shellcheck disable=SC2086
expect 0 "train on 3-channel 4-D IDX, save ONNX" 12-c1x4r-2 $RGB --epochs 20 --quiet --save "$M"
[ -s "$M" ] || fail "no model written"

BIN=$LIP
expect 0 "lipschitz: --data .npy --labels .npy" "$M" --data "$TMP/x.npy" --labels "$TMP/y.npy" --quiet --points 4
grep -q '^test error' "$TMP/out" || fail "no test error with labels"
grep -q 'input 3x2x2' "$TMP/out" || fail "model input 3x2x2"
expect 0 "lipschitz: --normalize imagenet" "$M" --data "$TMP/x.npy" --normalize imagenet --quiet --points 4
# layer 1 is the normalisation, bound max 1/std = 1/0.224 = 4.46429 (exact)
awk '$1 == 1 && $2 == "batchnorm" && $4 + 0 > 4.4642 && $4 + 0 < 4.4643 { ok = 1 } END { exit !ok }' \
    "$TMP/out" || { fail "normalisation row with bound 4.46429"; cat "$TMP/out"; }
grep -q '^test error' "$TMP/out" && fail "test error without labels"
expect 0 "lipschitz: --mean/--std one value each" "$M" --data "$TMP/x.npy" --mean 0.5 --std 0.25 --quiet --points 4
awk '$1 == 1 && $2 == "batchnorm" && $4 + 0 == 4 { ok = 1 } END { exit !ok }' "$TMP/out" ||
    fail "bound 1/0.25 = 4 for --std 0.25"
expect 2 "lipschitz: two means for three channels" "$M" --data "$TMP/x.npy" --mean 0.5,0.5 --std 0.2,0.2 --quiet
grep -q 'has 3 input channels' "$TMP/err" || fail "channel-count message"
expect 2 "lipschitz: --std 0" "$M" --data "$TMP/x.npy" --mean 0.5 --std 0 --quiet
grep -q 'must be > 0' "$TMP/err" || fail "--std 0 message"
expect 2 "lipschitz: --std not a list of numbers" "$M" --std 0.2,,0.3 --mean 0.1 --quiet
expect 2 "lipschitz: --mean without --std" "$M" --data "$TMP/x.npy" --mean 0.5 --quiet
grep -q 'give both --mean and --std' "$TMP/err" || fail "--mean alone message"
expect 2 "lipschitz: --normalize unknown" "$M" --normalize cifar --quiet
expect 2 "lipschitz: --mean on a model trained here" 12-4r-2 $RGB --normalize imagenet --quiet
grep -q 'ONNX model' "$TMP/err" || fail "preset normalisation message"
expect 2 "lipschitz: 1-channel data for a 3-channel model" "$M" $DATA --quiet
expect 2 "lipschitz: channel-last .npy" "$M" --data "$TMP/xhwc.npy" --quiet
grep -q 'transpose(0, 3, 1, 2)' "$TMP/err" || fail "channel-last message names the transpose"
expect 1 "lipschitz: Fortran-order .npy" "$M" --data "$TMP/xf.npy" --quiet
grep -q 'Fortran-order' "$TMP/err" || fail "Fortran-order message"
# no data options: the default data (Fashion-MNIST, 784 values, or missing) do not fit 3x2x2
expect 0 "lipschitz: ONNX model, no data: random points" "$M" --quiet --points 3
grep -q 'using 3 random points' "$TMP/err" || fail "random-points note"
grep -q 'over 3 random points' "$TMP/out" || fail "lower bound over random points"

BIN=$ATK
expect 2 "attack: ONNX model, no data: refused" "$M" --quiet
grep -q -- '--data images.npy --labels labels.npy' "$TMP/err" || fail "attack names the fix"
expect 2 "attack: --data without --labels" "$M" --data "$TMP/x.npy" --quiet
grep -q 'need the true labels' "$TMP/err" || fail "attack labels message"
expect 0 "attack: .npy, normalised, fgsm" "$M" --data "$TMP/x.npy" --labels "$TMP/y.npy" --normalize imagenet --attack fgsm --count 6 --quiet
grep -q '^success' "$TMP/out" || fail "attack report"

BIN=$MAX
expect 0 "maxact: ONNX model, no data: random points" "$M" --layer 1 --unit 0 --steps 5 --quiet
grep -q 'random points' "$TMP/err" || fail "maxact random-points note"

BIN=$GRAD
expect 0 "grad: ONNX model, no data: random points, predictions as labels" "$M" --quiet --count 3
grep -q 'using 3 random points' "$TMP/err" || fail "grad random-points note"
grep -q 'predictions are used as labels' "$TMP/err" || fail "grad predicted-labels note"
# the finite difference in pixel space agrees with the gradient through the normalisation
expect 0 "grad: normalised ONNX model on .npy" "$M" --data "$TMP/x.npy" --labels "$TMP/y.npy" --normalize imagenet --count 4 --quiet
awk '$1 ~ /^[0-9]+$/ && NF == 10 { n++; if ($10 == "n/a" || $10 + 0 > 1e-2) bad++ }
     END { exit !(n == 4 && bad == 0) }' "$TMP/out" || { fail "grad FD check in pixel space"; cat "$TMP/out"; }

# a directory of PNGs, DIR/<class>/*.png (labels 0, 1 in sorted order), 2x2 RGB
BIN=$ATK
if command -v python3 > /dev/null 2>&1 && python3 - "$TMP/png" << 'EOF'
import os, struct, sys, zlib
def png(path, rgb):  # 2x2 RGB, 8 bits (PNG specification, chunks IHDR IDAT IEND)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    rows = b"".join(b"\0" + bytes(rgb) * 2 for _ in range(2))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
for k, cls in enumerate(["a-red", "b-blue"]):
    os.makedirs(os.path.join(sys.argv[1], cls))
    for i in range(4):
        v = 150 + 20 * i
        png(os.path.join(sys.argv[1], cls, "%d.png" % i), (v, 60, 30) if k == 0 else (30, 60, v))
EOF
then
    expect 0 "attack: a directory of PNGs" "$M" --data "$TMP/png" --attack fgsm --count 8 --quiet
    grep -q '^success' "$TMP/out" || fail "attack report on PNGs"
    printf 'not a png' > "$TMP/png/a-red/9.png"
    expect 1 "attack: a broken PNG" "$M" --data "$TMP/png" --quiet
    grep -q '9.png' "$TMP/err" || fail "broken PNG named"
else
    echo "skip: no python3 to write PNGs"
fi

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
