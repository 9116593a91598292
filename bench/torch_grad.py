#!/usr/bin/python3
"""PyTorch reference for bench_grad: FC200-200-10 (784-200-200-10, sigmoid after each hidden
dense layer), gradient of the summed softmax cross-entropy with respect to the input, and the
forward pass alone, at the same batch sizes and with the same timing method as bench_grad.c.
Settings and timing: bench/torchbench.py (OMP_WAIT_POLICY=PASSIVE, --threads 2, autograd
w.r.t. the input only).

Run with /usr/bin/python3 (Debian's python3-torch). Usage:
  torch_grad.py [--min-time S] [--reps N] [--batches 1,32,256] [--threads N] [--csv]
"""
import sys

import torchbench  # first: it sets OMP_WAIT_POLICY, then imports torch

import torch  # noqa: E402

IN_SIZE, H1, H2, CLASSES = 784, 200, 200, 10
FWD_MACS = IN_SIZE * H1 + H1 * H2 + H2 * CLASSES


def build_net():
    return torch.nn.Sequential(
        torch.nn.Linear(IN_SIZE, H1), torch.nn.Sigmoid(),
        torch.nn.Linear(H1, H2), torch.nn.Sigmoid(),
        torch.nn.Linear(H2, CLASSES),
    )


if __name__ == "__main__":
    sys.exit(torchbench.run("torch_grad", "FC200-200-10", __doc__.split("\n")[0], build_net,
                            (IN_SIZE,), CLASSES, FWD_MACS))
