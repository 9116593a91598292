#!/usr/bin/python3
"""PyTorch reference for bench_attacks: the same attack workloads on FC200-200-10 written as
the plain PyTorch loops a researcher would write (no attack library), batched the same way.

  fgsm      one step, eps 0.1: clamp(x + eps*sign(grad CE), 0, 1)
  pgd-linf  40 steps, random start, eps 0.1, step 2.5*eps/40, projection onto the ball and box,
            the latest successful iterate kept (as nnp_attack_pgd)
  pgd-l2    the same in L2, eps 1.5, normalised-gradient steps
  cw        Carlini-Wagner L2, one value of c (0.1), 100 Adam steps (torch.optim.Adam, lr 0.01)
            on w with x' = (tanh w + 1)/2, no abort-early, least-distortion success kept

Settings and timing: bench/torchbench.py (OMP_WAIT_POLICY=PASSIVE, --threads 2, time_best).
Usage: torch_attacks.py [--min-time S] [--reps N] [--n N] [--batch N] [--threads N] [--csv]
"""
import argparse
import os
import sys

import torchbench  # first: it sets OMP_WAIT_POLICY, then imports torch

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

IN_SIZE, H1, H2, CLASSES = 784, 200, 200, 10


def build_net():
    return torch.nn.Sequential(
        torch.nn.Linear(IN_SIZE, H1), torch.nn.Sigmoid(),
        torch.nn.Linear(H1, H2), torch.nn.Sigmoid(),
        torch.nn.Linear(H2, CLASSES),
    )


def grad_ce(net, x, y):
    xg = x.clone().requires_grad_(True)
    z = net(xg)
    loss = F.cross_entropy(z, y, reduction="sum")
    (g,) = torch.autograd.grad(loss, xg)
    return g, z.detach()


def fgsm(net, x, y):
    g, _ = grad_ce(net, x, y)
    return (x + 0.1 * g.sign()).clamp(0, 1)


def pgd(net, x, y, l2):
    eps, steps = (1.5 if l2 else 0.1), 40
    alpha = 2.5 * eps / steps
    n = x.shape[0]
    if l2:
        d = torch.randn_like(x)
        d = d / d.norm(dim=1, keepdim=True)
        r = eps * torch.rand(n, 1) ** (1.0 / x.shape[1])
        xt = (x + r * d).clamp(0, 1)
    else:
        xt = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    best = xt.clone()
    for _ in range(steps):
        g, z = grad_ce(net, xt, y)
        ok = z.argmax(1) != y
        best[ok] = xt[ok]
        with torch.no_grad():
            if l2:
                gn = g.norm(dim=1, keepdim=True).clamp_min(1e-30)
                xt = xt + alpha * g / gn
                r = xt - x
                rn = r.norm(dim=1, keepdim=True)
                r = r * torch.clamp(eps / rn.clamp_min(1e-30), max=1.0)
                xt = (x + r).clamp(0, 1)
            else:
                xt = xt + alpha * g.sign()
                xt = torch.max(torch.min(xt, x + eps), x - eps).clamp(0, 1)
    with torch.no_grad():
        ok = net(xt).argmax(1) != y
    best[ok] = xt[ok]
    return best


def cw(net, x, y, c=0.1, steps=100, lr=0.01):
    w = torch.atanh((2 * x - 1) * 0.999999).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    best = x.clone()
    best_l2 = torch.full((x.shape[0],), float("inf"))
    onehot = F.one_hot(y, CLASSES).bool()
    for _ in range(steps):
        xa = (torch.tanh(w) + 1) / 2
        z = net(xa)
        zy = z[onehot]
        other = z.masked_fill(onehot, float("-inf")).amax(1)
        m = zy - other
        l2 = ((xa - x) ** 2).sum(1)
        with torch.no_grad():
            ok = (z.argmax(1) != y) & (m <= 0) & (l2 < best_l2)
            best_l2[ok] = l2[ok]
            best[ok] = xa[ok]
        loss = (l2 + c * m.clamp_min(0)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--csv", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    net = build_net().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    x = torch.rand(a.n, IN_SIZE)
    with torch.no_grad():
        y = net(x).argmax(1)  # the net's own labels: every example is attacked
    cases = {
        "fgsm": lambda xb, yb: fgsm(net, xb, yb),
        "pgd-linf": lambda xb, yb: pgd(net, xb, yb, False),
        "pgd-l2": lambda xb, yb: pgd(net, xb, yb, True),
        "cw": lambda xb, yb: cw(net, xb, yb),
    }
    if a.csv:
        print("case,n,batch,examples_per_s")
    else:
        print(f"torch_attacks: FC200-200-10, {a.n} examples, batch {a.batch}, PyTorch "
              f"{torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY="
              f"{os.environ.get('OMP_WAIT_POLICY')}")
    for name, fn in cases.items():
        def run():
            out = [fn(x[s:s + a.batch], y[s:s + a.batch]) for s in range(0, a.n, a.batch)]
            if not all(torch.isfinite(o).all() for o in out):
                raise SystemExit(f"torch_attacks: non-finite result in {name}")
        t, _ = torchbench.time_best(run, a.min_time, a.reps)
        ex = a.n / t
        if a.csv:
            print(f"{name},{a.n},{a.batch},{ex:.1f}")
        else:
            print(f"  {name:<9} {ex:10.1f} examples/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
