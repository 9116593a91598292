#!/usr/bin/python3
"""PyTorch reference of bench/bench_train.c: FC100-100-10 on Fashion-MNIST, nnp_train()'s
default schedule, for bench/run-train-bench.

Net: Linear(784, 100) – Sigmoid – Linear(100, 100) – Sigmoid – Linear(100, 10), PyTorch's own
initialisation (seeded). Training: torch.optim.SGD(lr=0.1, momentum=0.9) on the mean softmax
cross-entropy of minibatches of 100, examples shuffled every epoch, 15 epochs. PyTorch's
momentum form (v ← μv + g, w ← w − lr·v) equals nnp_train's heavy-ball form
(v ← μv − lr·g, w ← w + v) at a constant learning rate. Pixels scaled to [0, 1] as the
library's IDX loader does. Timed: the training loop only, the data already tensors in memory.
Prints one line as bench_train does:
  side=pytorch epochs=<e> seconds=<s> test_error=<fraction> train_loss=<last epoch's mean loss>
Settings: bench/torchbench.py's (OMP_WAIT_POLICY=PASSIVE, --threads, default 2).
"""
import argparse
import gzip
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchbench  # noqa: E402,F401  (sets OMP_WAIT_POLICY before torch starts)
import numpy as np  # noqa: E402
import torch  # noqa: E402


def idx(path, header):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=header)


def load(d, prefix):
    x = idx(f"{d}/{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
    y = idx(f"{d}/{prefix}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    return torch.from_numpy(x.copy()), torch.from_numpy(y.copy())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data_dir, "train")
    xte, yte = load(a.data_dir, "t10k")
    net = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.Sigmoid(),
                              torch.nn.Linear(100, 100), torch.nn.Sigmoid(),
                              torch.nn.Linear(100, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    n, bs = xtr.shape[0], 100
    t0 = time.perf_counter()
    for _ in range(a.epochs):
        perm = torch.randperm(n)
        total = 0.0
        for k in range(0, n - bs + 1, bs):
            i = perm[k:k + bs]
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(xtr[i]), ytr[i])
            loss.backward()
            opt.step()
            total += loss.item() * bs
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        err = (net(xte).argmax(1) != yte).float().mean().item()
    print(f"side=pytorch epochs={a.epochs} seconds={seconds:.4f} test_error={err:.4f} "
          f"train_loss={total / (n // bs * bs):.5f} threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
