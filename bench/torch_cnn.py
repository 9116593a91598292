#!/usr/bin/python3
"""PyTorch reference for bench_cnn: the CNN conv5x5x32-pool-conv5x5x64-pool-fc1024-fc10.
Layers: conv5x5x32(pad 2)-relu-maxpool2-conv5x5x64(pad 2)-relu-maxpool2-fc1024-relu-fc10 on
1x28x28 inputs. Measured: the gradient of the summed softmax cross-entropy
with respect to the input, and the forward pass alone, at the same batch sizes and with the
same timing method as bench_cnn.c. Parameters: PyTorch's own random init (same shapes).
Settings and timing: bench/torchbench.py (OMP_WAIT_POLICY=PASSIVE, --threads 2, autograd
w.r.t. the input only).

Run with /usr/bin/python3 (Debian's python3-torch). Usage:
  torch_cnn.py [--min-time S] [--reps N] [--batches 1,32,256] [--threads N] [--csv]
"""
import sys

import torchbench  # first: it sets OMP_WAIT_POLICY, then imports torch

import torch  # noqa: E402

C1, C2, FC1, CLASSES = 32, 64, 1024, 10
FWD_MACS = 28 * 28 * C1 * 25 + 14 * 14 * C2 * (C1 * 25) + (7 * 7 * C2) * FC1 + FC1 * CLASSES


def build_net():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, C1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(C1, C2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * C2, FC1), nn.ReLU(), nn.Linear(FC1, CLASSES),
    )


if __name__ == "__main__":
    sys.exit(torchbench.run("torch_cnn", "CNN conv5x5x32-pool-conv5x5x64-pool-fc1024-fc10",
                            __doc__.split("\n")[0], build_net, (1, 28, 28), CLASSES, FWD_MACS))
