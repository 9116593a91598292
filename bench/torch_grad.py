#!/usr/bin/python3
"""PyTorch reference for bench_grad: FC200-200-10 (784-200-200-10, sigmoid after each hidden
dense layer), gradient of the summed softmax cross-entropy with respect to the input, and the
forward pass alone, at the same batch sizes and with the same timing method as bench_grad.c:
the case runs until 0.2 s have passed (warm-up and calibration), then the iteration count is
fixed so one repetition lasts about --min-time seconds; the best examples/s of --reps
repetitions is reported.

The reference gets its best settings:
  * OMP_WAIT_POLICY=PASSIVE, set here before torch is imported (Debian's torch uses GNU
    OpenMP; with the default active spin-wait it is several times slower on 2 cores);
  * torch.set_num_threads(--threads, default 2);
  * parameters do not require grad, so autograd computes only the input gradient
    (torch.autograd.grad(loss, x) on an input with requires_grad=True);
  * forward only under torch.no_grad().

Run with /usr/bin/python3 (Debian's python3-torch). Usage:
  torch_grad.py [--min-time S] [--reps N] [--batches 1,32,256] [--threads N] [--csv]
"""
import argparse
import math
import os
import sys
import time

# must precede `import torch`: OpenMP reads it once, when the runtime starts
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import torch  # noqa: E402

IN_SIZE, H1, H2, CLASSES = 784, 200, 200, 10
FWD_MACS = IN_SIZE * H1 + H1 * H2 + H2 * CLASSES


def time_best(fn, min_time, reps):
    """Best seconds per call of fn() over `reps` repetitions of ~min_time s each."""
    calls = 0
    t0 = time.perf_counter()
    while True:
        fn()
        calls += 1
        el = time.perf_counter() - t0
        if el >= 0.2 and calls >= 3:
            break
    iters = max(1, math.ceil(min_time / (el / calls)))
    best = math.inf
    for _ in range(reps):
        s = time.perf_counter()
        for _ in range(iters):
            fn()
        best = min(best, (time.perf_counter() - s) / iters)
    return best, iters


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per repetition")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batches", default="1,32,256")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--csv", action="store_true", help="machine-readable output")
    a = ap.parse_args()
    batches = [int(b) for b in a.batches.split(",")]

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(IN_SIZE, H1), torch.nn.Sigmoid(),
        torch.nn.Linear(H1, H2), torch.nn.Sigmoid(),
        torch.nn.Linear(H2, CLASSES),
    )
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)

    results = []
    for n in batches:
        x = torch.rand(n, IN_SIZE)
        xg = x.clone().requires_grad_(True)
        labels = torch.arange(n) % CLASSES
        out = {}

        def grad():
            loss = torch.nn.functional.cross_entropy(net(xg), labels, reduction="sum")
            (dx,) = torch.autograd.grad(loss, xg)
            out["dx"] = dx

        def forward():
            with torch.no_grad():
                out["z"] = net(x)

        for case, fn, mult in (("grad", grad, 4), ("forward", forward, 2)):
            t, iters = time_best(fn, a.min_time, a.reps)
            results.append((case, n, n / t, mult * n * FWD_MACS / t * 1e-9, iters))
        if not (torch.isfinite(out["dx"]).all() and torch.isfinite(out["z"]).all()):
            print("torch_grad: non-finite result", file=sys.stderr)
            return 1

    if a.csv:
        print("record,case,batch,ex_per_s,gflop_per_s")
        for case, n, eps, gf, _ in results:
            print(f"torch,{case},{n},{eps:.1f},{gf:.3f}")
        print(f"torch_info,version,{torch.__version__},threads={torch.get_num_threads()},"
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    else:
        print(f"torch_grad: FC200-200-10, PyTorch {torch.__version__}, "
              f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY="
              f"{os.environ.get('OMP_WAIT_POLICY')}")
        print(f"timing: best of {a.reps} repetitions of ~{a.min_time:.2f} s each, "
              "after a 0.2 s warm-up\n")
        print(f"{'case':<8} {'batch':>6} {'examples/s':>14} {'GFLOP/s':>10}")
        for case, n, eps, gf, _ in results:
            print(f"{case:<8} {n:>6} {eps:>14.1f} {gf:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
