#!/usr/bin/python3
"""References for bench_lipschitz, on the weights it wrote (--dir): the spectral norm of the
784->200 dense layer by NumPy's SVD, and the operator norm of the 64->64 3x3 zero-padded conv
on 64x32x32 by PyTorch power iteration (conv2d, then conv_transpose2d: the usual way), run
until it is within --tol (relative) of a float64 reference value. The stopping rule knows the
reference (an oracle), so the power iteration stops at the first step that is accurate
enough: the count and time are the least it could need.

float64 references: the dense one by NumPy's SVD in float64; the conv one by SciPy's ARPACK
(scipy.sparse.linalg.svds, tol 1e-12) on the operator built from float64 conv2d /
conv_transpose2d. Also counts plain power-iteration steps for the dense layer (float64 NumPy,
same oracle rule), to compare operator applications with Lanczos.

Usage: lipschitz_ref.py --dir DIR [--reps N] [--tol T] [--threads N] [--csv]
Run with /usr/bin/python3 (Debian's python3-torch, python3-scipy).
"""
import argparse
import math
import sys
import time

import torchbench  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch is imported)

import numpy as np  # noqa: E402
import scipy.sparse.linalg as sla  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def best_time(fn, reps):
    best, out = math.inf, None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def dense_case(d, reps, tol):
    W = np.fromfile(f"{d}/dense.f32", dtype=np.float32).reshape(200, 784)
    ref = float(np.linalg.svd(W.astype(np.float64), compute_uv=False)[0])
    t, s = best_time(lambda: np.linalg.svd(W, compute_uv=False)[0], reps)
    # plain power iteration in float64 with the oracle stop
    W64 = W.astype(np.float64)
    v = np.random.default_rng(1).standard_normal(784)
    it, sigma = 0, 0.0
    while it < 100000:
        v /= np.linalg.norm(v)
        u = W64 @ v
        sigma = float(np.linalg.norm(u))
        it += 1
        if abs(sigma - ref) <= tol * ref:
            break
        v = W64.T @ u
    return ref, t, float(s), it


def conv_case(d, reps, tol, max_iter):
    w32 = torch.from_numpy(np.fromfile(f"{d}/conv.f32", dtype=np.float32).reshape(64, 64, 3, 3))
    w64 = w32.double()
    shape = (1, 64, 32, 32)
    n = 64 * 32 * 32

    def mv(x):
        return F.conv2d(torch.from_numpy(np.asarray(x, dtype=np.float64)).reshape(shape), w64,
                        padding=1).reshape(-1).numpy()

    def rmv(y):
        return F.conv_transpose2d(torch.from_numpy(np.asarray(y, dtype=np.float64)).reshape(shape),
                                  w64, padding=1).reshape(-1).numpy()

    op = sla.LinearOperator((n, n), matvec=mv, rmatvec=rmv, dtype=np.float64)
    t0 = time.perf_counter()
    ref = float(sla.svds(op, k=1, tol=1e-12, return_singular_vectors=False,
                         random_state=np.random.default_rng(0))[0])
    t_ref = time.perf_counter() - t0

    def power():
        g = torch.Generator().manual_seed(1)
        v = torch.randn(shape, generator=g)
        it, sigma = 0, 0.0
        with torch.no_grad():
            while it < max_iter:
                v = v / v.norm()
                u = F.conv2d(v, w32, padding=1)
                sigma = float(u.norm())
                it += 1
                if abs(sigma - ref) <= tol * ref:
                    break
                v = F.conv_transpose2d(u, w32, padding=1)
        return sigma, it

    t, (sigma, it) = best_time(power, reps)
    return ref, t_ref, t, sigma, it


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--torch-reps", type=int, default=1)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--max-iter", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--csv", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dref, dt, ds, dit = dense_case(a.dir, a.reps, a.tol)
    cref, ct_ref, ct, cs, cit = conv_case(a.dir, a.torch_reps, a.tol, a.max_iter)
    if a.csv:
        print("case,ref64,value,seconds,power_iterations,ref_seconds")
        print(f"dense_numpy_svd,{dref:.12g},{ds:.12g},{dt:.6g},{dit},")
        print(f"conv_torch_power,{cref:.12g},{cs:.12g},{ct:.6g},{cit},{ct_ref:.6g}")
        print(f"info,numpy {np.__version__},torch {torch.__version__},"
              f"threads={torch.get_num_threads()}")
    else:
        print(f"dense: float64 SVD {dref:.10g}; NumPy SVD (float32) {ds:.10g} in {dt:.4g} s; "
              f"power iteration needs {dit} steps")
        print(f"conv: float64 ARPACK {cref:.10g} ({ct_ref:.3g} s); PyTorch power iteration "
              f"{cs:.10g} after {cit} steps, {ct:.4g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
