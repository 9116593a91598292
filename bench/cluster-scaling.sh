#!/bin/sh
# Wall time of the L-BFGS attack on N Fashion-MNIST test images with 1 process and with 2
# (mpirun -np 2, and 2 shards run side by side as a Slurm array would), one OpenBLAS thread
# each, in alternating rounds; checks that every variant writes the single run's results.
# docs/cluster.md reports its numbers.
# Usage: bench/cluster-scaling.sh BUILD_DIR MODEL.onnx [N] [ROUNDS]
set -eu
B=${1:?usage: $0 BUILD_DIR MODEL.onnx [N] [ROUNDS]}/examples
MODEL=${2:?}
N=${3:-1000}
ROUNDS=${4:-3}
OPENBLAS_NUM_THREADS=1
export OPENBLAS_NUM_THREADS
T=$(mktemp -d "${TMPDIR:-/tmp}/nnp-scaling.XXXXXX")
trap 'rm -rf "$T"' EXIT
A="$MODEL --count $N --quiet"
now() { date +%s.%N; }
el() { echo "$2 - $1" | bc; }
echo "round variant seconds load1"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    l=$(cut -d' ' -f1 /proc/loadavg); t0=$(now)
    # shellcheck disable=SC2086
    "$B/nnprobe-attack" $A --results "$T/one.csv" > /dev/null
    echo "$r 1-process $(el "$t0" "$(now)") $l"
    l=$(cut -d' ' -f1 /proc/loadavg); t0=$(now)
    # shellcheck disable=SC2086
    mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS -np 2 \
        "$B/nnprobe-attack" $A --results "$T/mpi.csv" > /dev/null
    echo "$r mpirun-np-2 $(el "$t0" "$(now)") $l"
    l=$(cut -d' ' -f1 /proc/loadavg); t0=$(now)
    for i in 0 1; do
        # shellcheck disable=SC2086
        ( s0=$(now); "$B/nnprobe-attack" $A --shard $i/2 --results "$T/s$i.csv" > /dev/null
          echo "$r   shard-$i/2 $(el "$s0" "$(now)") -" ) &
    done
    wait
    "$B/nnprobe-merge" -o "$T/merged.csv" "$T/s0.csv" "$T/s1.csv" 2> /dev/null
    echo "$r 2-shards $(el "$t0" "$(now)") $l"
    cmp -s "$T/one.csv" "$T/mpi.csv" || echo "MISMATCH: mpirun results differ"
    cmp -s "$T/one.csv" "$T/merged.csv" || echo "MISMATCH: merged shards differ"
    r=$((r + 1))
done
