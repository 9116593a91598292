#!/usr/bin/env python3
"""Export a PyTorch model to ONNX so that libnnprobe can probe it.

    python3 examples/torch-to-onnx.py model.onnx [--check-data DIR]
    nnprobe-info model.onnx

The model is a small MNIST-shaped residual CNN: Conv, BatchNorm, ReLU, MaxPool, a residual
Add, Flatten, Linear, Dropout and a LogSoftmax head (which libnnprobe drops on loading: its
nets output logits). Replace `Net` by your own model; what loads is listed in
include/nnprobe/onnx.h. Export in eval() mode with a dynamic batch dimension.

With --check-data DIR the script also writes DIR/input.f32 (5 random images) and
DIR/logits.f32 (the model's outputs before its LogSoftmax head), raw little-endian float32,
which tests/onnx_torch_compare checks the loaded net against.
"""
import argparse
import os

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(2))
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(8, 8, 3, padding=1))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 14 * 14, 32), nn.Tanh(),
                                        nn.Dropout(0.3), nn.Linear(32, 10))
        self.head = nn.LogSoftmax(dim=1)

    def logits(self, x):
        h = self.stem(x)
        h = h + self.block(h)  # residual connection: an ONNX Add
        return self.classifier(h)

    def forward(self, x):
        return self.head(self.logits(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("output", help="ONNX file to write")
    ap.add_argument("--check-data", metavar="DIR", help="also write input.f32 and logits.f32")
    args = ap.parse_args()

    torch.manual_seed(0)
    model = Net()
    # give batch norm non-trivial running statistics, as a trained model has
    with torch.no_grad():
        model.train()
        for _ in range(3):
            model(torch.rand(16, 1, 28, 28))
    model.eval()

    x = torch.rand(5, 1, 28, 28)
    torch.onnx.export(model, x, args.output, input_names=["image"], output_names=["log_probs"],
                      dynamic_axes={"image": {0: "N"}, "log_probs": {0: "N"}}, opset_version=13)
    print(f"wrote {args.output}")
    if args.check_data:
        os.makedirs(args.check_data, exist_ok=True)
        with torch.no_grad():
            y = model.logits(x)
        x.numpy().astype("<f4").tofile(os.path.join(args.check_data, "input.f32"))
        y.numpy().astype("<f4").tofile(os.path.join(args.check_data, "logits.f32"))


if __name__ == "__main__":
    main()
