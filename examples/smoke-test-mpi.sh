#!/bin/sh
# `mpirun -np 2 nnprobe-attack` writes what the single-process run writes, bit for bit
# (results CSV, adversarial IDX), on the tiny IDX data set of smoke-lib.sh (docs/cluster.md).
# Skipped (exit 77, with the reason) when nnprobe-attack was built without MPI or mpirun is
# missing.
# Usage: smoke-test-mpi.sh nnprobe-attack nnprobe-train MPI-BUILT(ON|OFF) [MPIEXEC]
set -u
BIN=${1:?usage: $0 nnprobe-attack nnprobe-train ON|OFF [mpiexec]}
TRAIN_BIN=${2:?}
BUILT=${3:?}
MPIEXEC=${4:-mpirun}
if [ "$BUILT" != ON ]; then
    echo "SKIP: nnprobe-attack was built without MPI (install libopenmpi-dev; NNP_MPI=AUTO|ON)"
    exit 77
fi
if ! command -v "$MPIEXEC" > /dev/null 2>&1; then
    echo "SKIP: $MPIEXEC not found (install openmpi-bin)"
    exit 77
fi
. "$(dirname "$0")/smoke-lib.sh"
# the single run with one OpenBLAS thread, as each of the ranks gets on this 2-core machine
# (OpenBLAS's summation order depends on its thread count)
OPENBLAS_NUM_THREADS=1
export OPENBLAS_NUM_THREADS
# A sanitizer build: OpenMPI keeps what MPI_Init allocates until exit, in components it has
# unloaded by then, so LeakSanitizer cannot even unwind those stacks to suppress them. Leak
# checking is off for the ranks here; the same attack code is leak-checked without MPI by
# smoke-test-shard.sh (ASan's other checks stay on).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" # the last setting wins
export ASAN_OPTIONS
# OpenMPI as root in a container: allowed explicitly; 2 ranks on any core count
MPIRUN="$MPIEXEC --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS -x ASAN_OPTIONS"

# shellcheck disable=SC2086
"$TRAIN_BIN" 4-8t-2 $DATA --epochs 40 --quiet --save "$TMP/m.onnx" > /dev/null ||
    { echo "FAIL: training the model"; exit 1; }

for run in "lbfgs --count 20 --batch 3 --target random --max-iter 40" \
           "pgd --count 20 --batch 4 --attack pgd --epsilon 0.3 --steps 2 --step-size 0.01"; do
    name=${run%% *}
    args=${run#* }
    # shellcheck disable=SC2086
    "$BIN" "$TMP/m.onnx" $DATA $args --quiet --results "$TMP/$name-1.csv" \
        --out "$TMP/$name-1.idx" > "$TMP/$name-1.txt" || fail "$name: the single run"
    # shellcheck disable=SC2086
    $MPIRUN -np 2 "$BIN" "$TMP/m.onnx" $DATA $args --quiet --results "$TMP/$name-2.csv" \
        --out "$TMP/$name-2.idx" > "$TMP/$name-2.txt" 2> "$TMP/err" ||
        { fail "$name: mpirun -np 2"; cat "$TMP/err"; }
    cmp -s "$TMP/$name-1.csv" "$TMP/$name-2.csv" || fail "$name: results differ under mpirun"
    cmp -s "$TMP/$name-1.idx" "$TMP/$name-2.idx" || fail "$name: x_adv differ under mpirun"
    # one report (rank 0's), the same summary lines
    [ "$(grep -c '^success' "$TMP/$name-2.txt")" -eq 1 ] || fail "$name: not one report"
    grep '^success\|^distortion\|^error' "$TMP/$name-1.txt" > "$TMP/a"
    grep '^success\|^distortion\|^error' "$TMP/$name-2.txt" > "$TMP/b"
    cmp -s "$TMP/a" "$TMP/b" || fail "$name: the summaries differ"
    [ "$fails" -eq 0 ] && echo "ok: $name: mpirun -np 2 = the single run"
done
[ "$fails" -eq 0 ] && echo "all MPI checks passed"
exit $((fails > 0))
