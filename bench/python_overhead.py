#!/usr/bin/env python3
"""Overhead of the Python binding: nnprobe.grad_loss against the C call nnp_grad_loss.

Both sides time the same pass — FC200-200-10 (784-200-200-10, sigmoid after each hidden
layer, bench/bench_grad.c's net), d softmax-xent / dx with labels, one workspace reused, no
loss or logits output — through the same library, at batch 1 and 256:

    C       build/bench/bench_grad --case grad --no-ref --csv (its own timing loop)
    Python  nnprobe.grad_loss(net, x, y, ws=ws, out=dx, loss=False) in the same kind of loop

and prints microseconds per call and their ratio (the binding's targets: ≤ 1.5× at batch 1,
≤ 1.05× at batch 256). Timing as bench_grad and bench/torch_grad.py do it: 0.2 s of warm-up
and calibration, then --reps repetitions of about --min-time seconds each, best one kept.
This is a benchmark, not a test: run it on a quiet machine.

With --threads T it also runs T threads of grad_loss calls (--thread-batch, 64) on one net (each with its
own workspace) and compares the throughput with one thread: the GIL is released during the
C call, so it should scale with free cores (OPENBLAS_NUM_THREADS=1 keeps BLAS from competing).

    NNPROBE_LIBRARY=build/libnnprobe.so.0 PYTHONPATH=python \\
        /usr/bin/python3 bench/python_overhead.py [--bench-grad build/bench/bench_grad]
        [--min-time 0.5] [--reps 5] [--rounds 3] [--threads 2]
"""
import argparse
import csv
import io
import os
import subprocess
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))

import nnprobe  # noqa: E402


def fc200(seed: int) -> nnprobe.Net:
    net = nnprobe.Net(1, 28, 28)
    net.add_dense(200)
    net.add_activation("sigmoid")
    net.add_dense(200)
    net.add_activation("sigmoid")
    net.add_dense(10)
    net.init_params(seed)
    return net


def best_rate(call, min_time: float, reps: int) -> float:
    """Calls per second: calibrate for 0.2 s, then the best of `reps` timed repetitions."""
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < 0.2:
        call()
        k += 1
    per = (time.perf_counter() - t0) / k
    iters = max(1, int(min_time / per))
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(iters):
            call()
        best = max(best, iters / (time.perf_counter() - t))
    return best


def c_rates(exe: str, batches, min_time: float, reps: int, seed: int) -> dict:
    """Examples/s of nnp_grad_loss per batch size, from bench_grad's CSV."""
    out = subprocess.run([exe, "--case", "grad", "--no-ref", "--csv", "--batches",
                          ",".join(map(str, batches)), "--min-time", str(min_time), "--reps",
                          str(reps), "--seed", str(seed)], check=True, capture_output=True,
                         text=True).stdout
    rates = {}
    for row in csv.DictReader(io.StringIO(out)):
        if row["record"] == "nnprobe" and row["case"] == "grad":
            rates[int(row["batch"])] = float(row["ex_per_s"])
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench-grad", default=os.path.join(os.path.dirname(HERE), "build",
                                                         "bench", "bench_grad"))
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="C/Python alternations (3)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--thread-batch", type=int, default=64)
    args = ap.parse_args()

    batches = (1, 256)
    print("library      %s (%s, from %s)" % (nnprobe.library_path, nnprobe.library_version,
                                               nnprobe.library_origin))
    print("BLAS threads OPENBLAS_NUM_THREADS=%s" % os.environ.get("OPENBLAS_NUM_THREADS", "(default)"))
    net = fc200(args.seed)
    rng = np.random.default_rng(args.seed)
    ws = nnprobe.Workspace(net, max(batches))
    print("%-6s %14s %14s %8s  %s" % ("batch", "C us/call", "Python us/call", "ratio", "target"))
    for n in batches:
        x = rng.random((n, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, n).astype(np.int32)
        dx = np.empty_like(x)
        # C and Python alternately, best of each: load from other processes hits both
        c_best, py = 0.0, 0.0
        for _ in range(args.rounds):
            c_best = max(c_best, c_rates(args.bench_grad, [n], args.min_time, args.reps,
                                         args.seed)[n])
            py = max(py, best_rate(lambda: nnprobe.grad_loss(net, x, y, ws=ws, out=dx,
                                                             loss=False),
                                   args.min_time, args.reps))
        c_us = 1e6 * n / c_best
        py_us = 1e6 / py
        target = 1.5 if n == 1 else 1.05
        print("%-6d %14.2f %14.2f %8.3f  <= %.2f %s" % (n, c_us, py_us, py_us / c_us, target,
                                                       "ok" if py_us / c_us <= target else "OVER"))

    if args.threads > 1:
        tb = args.thread_batch
        x = rng.random((tb, 1, 28, 28), dtype=np.float32)
        y = np.zeros(tb, np.int32)
        calls = max(20, 20000 // tb)

        def worker(count):
            w = nnprobe.Workspace(net, tb)
            out = np.empty_like(x)
            for _ in range(count):
                nnprobe.grad_loss(net, x, y, ws=w, out=out, loss=False)

        def run(t):
            ts = [threading.Thread(target=worker, args=(calls,)) for _ in range(t)]
            t0 = time.perf_counter()
            for th in ts:
                th.start()
            for th in ts:
                th.join()
            return t * calls / (time.perf_counter() - t0)
        one = max(run(1) for _ in range(3))
        many = max(run(args.threads) for _ in range(3))
        print("threads      1: %.0f calls/s; %d: %.0f calls/s (%.2fx) on one net, batch %d"
              % (one, args.threads, many, many / one, tb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
