#!/usr/bin/python3
"""The reference for bench/run-lbfgs-attack-bench: the paper's L-BFGS attack as researchers run it
today, SciPy's L-BFGS-B with PyTorch gradients, one example at a time.

    scipy_attack.py DIR [--threads N]

Reads what bench_attack wrote to DIR (models fc10.bin and fc100-100-10.bin as raw float32
dense layers, x.bin, labels.bin, targets.bin), and for each model runs, per example, the same
penalty problem and search over c as nnp_attack_lbfgs with its default options:
  minimise ||r||^2 + c * CE(x + r, target)  over x + r in [0,1]^784,
  c from 1: x10 until success (at most 10 times), /10 while succeeding (at most 10 times),
  then 8 geometric bisections; every solve starts from x; the least-L2 success is kept.
  fmin_l_bfgs_b(m=10, maxiter=1000, pgtol=1e-5, factr=1e7): SciPy's defaults except maxiter.
The model runs in float32 (as trained); ||r||^2 is summed in float64.
Prints one line per model in bench_attack's format."""
import sys
import time

import numpy as np
import scipy.optimize
import torch

D, K = 784, 10
C_INIT, C_FACTOR, BRACKET, BISECT = 1.0, 10.0, 10, 8


def load_model(path, sizes):
    raw = np.fromfile(path, dtype=np.float32)
    layers, off = [], 0
    for i in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[i], sizes[i + 1])
        n = sizes[i] * sizes[i + 1]
        lin.weight.data = torch.from_numpy(raw[off:off + n].reshape(sizes[i + 1], sizes[i]).copy())
        off += n
        lin.bias.data = torch.from_numpy(raw[off:off + sizes[i + 1]].copy())
        off += sizes[i + 1]
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(torch.nn.Sigmoid())
    assert off == raw.size, f"{path}: {raw.size} floats, expected {off}"
    return torch.nn.Sequential(*layers).eval()


def attack_one(net, x0, target):
    evals = [0]
    tgt = torch.tensor([target])

    def fg(c):
        def f(v):
            evals[0] += 1
            xt = torch.from_numpy(v.astype(np.float32)).reshape(1, D).requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(net(xt), tgt)
            loss.backward()
            r = v - x0
            val = float(np.dot(r, r)) + c * float(loss.item())
            grad = 2.0 * r + c * xt.grad.numpy().reshape(D).astype(np.float64)
            return val, grad
        return f

    def label(v):
        with torch.no_grad():
            return int(net(torch.from_numpy(v.astype(np.float32)).reshape(1, D)).argmax())

    if label(x0) == target:
        return True, 0.0, evals[0]
    bounds = [(0.0, 1.0)] * D
    c, lo, hi = C_INIT, 0.0, float("inf")
    up = down = bis = 0
    best = None
    while True:
        v, _, _ = scipy.optimize.fmin_l_bfgs_b(fg(c), x0.copy(), bounds=bounds, m=10,
                                               maxiter=1000, pgtol=1e-5, factr=1e7)
        ok = label(v) == target
        if ok:
            l2 = float(np.linalg.norm(v - x0))
            if best is None or l2 < best:
                best = l2
            hi = c
        else:
            lo = c
        if hi == float("inf"):
            if up >= BRACKET:
                break
            c *= C_FACTOR
            up += 1
        elif lo == 0.0:
            if down >= BRACKET:
                break
            c /= C_FACTOR
            down += 1
        elif bis < BISECT:
            c = (lo * hi) ** 0.5
            bis += 1
        else:
            break
    if best is None:
        return False, 0.0, evals[0]
    return True, best / D ** 0.5, evals[0]


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    d = args[0]
    threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 1
    torch.set_num_threads(threads)
    x = np.fromfile(f"{d}/x.bin", dtype=np.float32).reshape(-1, D).astype(np.float64)
    t = np.fromfile(f"{d}/targets.bin", dtype=np.int32)
    n = len(t)
    for name, sizes in (("fc10", [D, K]), ("fc100-100-10", [D, 100, 100, K])):
        net = load_model(f"{d}/{name}.bin", sizes)
        t0 = time.perf_counter()
        ok = changed = 0
        rms_sum = evals = 0.0
        for i in range(n):
            s, rms, e = attack_one(net, x[i], int(t[i]))
            ok += s
            evals += e
            if s and rms > 0:
                changed += 1
                rms_sum += rms
        sec = time.perf_counter() - t0
        print(f"model={name} success={ok}/{n} mean_rms={rms_sum / max(changed, 1):.6f} "
              f"seconds={sec:.4f} evals={evals / n:.1f}", flush=True)


if __name__ == "__main__":
    main()
