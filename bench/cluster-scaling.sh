#!/bin/sh
# Wall and CPU time of the L-BFGS attack on N Fashion-MNIST test images with 1 process and with
# 2 (mpirun -np 2, and 2 shards run side by side as a Slurm array would), one OpenBLAS thread
# each, in alternating rounds; checks that every variant writes the single run's results.
# CPU = user + sys of the process and its children (GNU time): on a shared machine the wall
# time measures the CPU the scheduler granted, the CPU time the work. docs/cluster.md reports
# the numbers.
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
TIME="/usr/bin/time -f %e,%U,%S"
# run NAME CMD...: "NAME wall cpu load1"
run() {
    name=$1; shift
    l=$(cut -d' ' -f1 /proc/loadavg)
    $TIME -o "$T/t" "$@" > /dev/null
    awk -F, -v n="$name" -v l="$l" '{ printf "%-14s %7.2f %7.2f %6s\n", n, $1, $2 + $3, l }' "$T/t"
}
printf "%-14s %7s %7s %6s\n" variant wall cpu load1
r=1
while [ "$r" -le "$ROUNDS" ]; do
    echo "round $r"
    # shellcheck disable=SC2086
    run 1-process "$B/nnprobe-attack" $A --results "$T/one.csv"
    # shellcheck disable=SC2086
    run mpirun-np-2 mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS -np 2 \
        "$B/nnprobe-attack" $A --results "$T/mpi.csv"
    l=$(cut -d' ' -f1 /proc/loadavg); t0=$(date +%s.%N)
    for i in 0 1; do
        # shellcheck disable=SC2086
        run "  shard-$i/2" "$B/nnprobe-attack" $A --shard $i/2 --results "$T/s$i.csv" &
    done
    wait
    printf "%-14s %7.2f %7s %6s\n" 2-shards "$(echo "$(date +%s.%N) - $t0" | bc)" - "$l"
    "$B/nnprobe-merge" -o "$T/merged.csv" "$T/s0.csv" "$T/s1.csv" 2> /dev/null
    cmp -s "$T/one.csv" "$T/mpi.csv" || echo "MISMATCH: mpirun results differ"
    cmp -s "$T/one.csv" "$T/merged.csv" || echo "MISMATCH: merged shards differ"
    r=$((r + 1))
done
