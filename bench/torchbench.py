"""What the PyTorch references of the bench programs share (torch_grad.py, torch_cnn.py).

Importing this module sets OMP_WAIT_POLICY=PASSIVE before it imports torch: Debian's torch
uses GNU OpenMP, whose default active spin-wait makes it several times slower on 2 cores, and
OpenMP reads the variable once, when its runtime starts. A script must therefore import this
module before torch.

run() measures, for each batch size, the gradient of the summed softmax cross-entropy with
respect to the input (torch.autograd.grad on an input with requires_grad=True, parameters not
requiring grad) and the forward pass alone under torch.no_grad(), with the timing method of
bench/benchutil.c: the case runs until 0.2 s have passed (warm-up and calibration), then the
iteration count is fixed so one repetition lasts about --min-time seconds; the best
examples/s of --reps repetitions is reported.
"""
import argparse
import math
import os
import sys
import time

# must precede `import torch`: OpenMP reads it once, when the runtime starts
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import torch  # noqa: E402


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


def run(prog, title, description, build_net, in_shape, classes, fwd_macs):
    """The whole program: command line, measurements, output; returns the exit status.

    prog: name in messages; title: workload on the text header line; description: --help text;
    build_net(): the torch module (called after torch.manual_seed); in_shape: one example's
    input shape; classes: number of logits; fwd_macs: multiply-adds of one forward pass of one
    example (the gradient counts twice as many)."""
    ap = argparse.ArgumentParser(description=description)
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
    net = build_net()
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)

    results = []
    for n in batches:
        x = torch.rand(n, *in_shape)
        xg = x.clone().requires_grad_(True)
        labels = torch.arange(n) % classes
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
            results.append((case, n, n / t, mult * n * fwd_macs / t * 1e-9, iters))
        if not (torch.isfinite(out["dx"]).all() and torch.isfinite(out["z"]).all()):
            print(f"{prog}: non-finite result", file=sys.stderr)
            return 1

    if a.csv:
        print("record,case,batch,ex_per_s,gflop_per_s")
        for case, n, eps, gf, _ in results:
            print(f"torch,{case},{n},{eps:.1f},{gf:.3f}")
        print(f"torch_info,version,{torch.__version__},threads={torch.get_num_threads()},"
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    else:
        print(f"{prog}: {title}, PyTorch {torch.__version__}, "
              f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY="
              f"{os.environ.get('OMP_WAIT_POLICY')}")
        print(f"timing: best of {a.reps} repetitions of ~{a.min_time:.2f} s each, "
              "after a 0.2 s warm-up\n")
        print(f"{'case':<8} {'batch':>6} {'examples/s':>14} {'GFLOP/s':>10}")
        for case, n, eps, gf, _ in results:
            print(f"{case:<8} {n:>6} {eps:>14.1f} {gf:>10.2f}")
    return 0
