#!/usr/bin/env python3
"""A PyTorch model exported to ONNX and attacked from Python with libnnprobe: the paper's
adversarial-examples figure (Szegedy et al. 2013, Fig. 5) drawn with matplotlib.

    python3 examples/python/torch_attack.py [--data-dir DIR] [--out DIR] [--train N]
                                            [--epochs E] [--count K] [--attack lbfgs]

1. trains a small CNN in PyTorch on N Fashion-MNIST training images (DIR holds the IDX .gz
   files, as scripts/install-deps installs them to /usr/share/datasets/fashion-mnist);
2. exports it to OUT/model.onnx (batch dimension dynamic) and loads it with nnprobe;
   checks that libnnprobe's logits and input gradients agree with PyTorch's;
3. attacks K test images with the paper's box-constrained L-BFGS (or --attack fgsm, pgd,
   deepfool, cw), untargeted;
4. draws OUT/adversarial.png: for each example the original, the perturbation ×10 around
   grey, and the adversarial image with both labels, as in the paper's figure.

Run it with the library built in build/ and the binding on the path, e.g.
    NNPROBE_LIBRARY=build/libnnprobe.so.0 PYTHONPATH=python python3 examples/python/torch_attack.py
Then examples/python/lipschitz_table.py OUT/model.onnx prints its Lipschitz table.
"""
import argparse
import os
import sys

import numpy as np

import nnprobe

CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Boot"]


def load(data_dir, train):
    kind = "train" if train else "t10k"
    return nnprobe.Dataset.load_idx(
        os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % kind),
        os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % kind))


def build_model(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def train_torch(torch, model, x, y, epochs, seed):
    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    for epoch in range(epochs):
        perm = torch.randperm(len(xt))
        total = 0.0
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print("torch        epoch %d: mean loss %.4f" % (epoch + 1, total / len(xt)))
    model.eval()


def figure(path, x, x_adv, res, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    k = len(x)
    fig, axes = plt.subplots(k, 3, figsize=(4.5, 1.5 * k), squeeze=False)
    for i in range(k):
        diff = 0.5 + 10 * (x_adv[i, 0] - x[i, 0])
        for j, (img, label) in enumerate((
                (x[i, 0], CLASSES[res.clean_label[i]]),
                (np.clip(diff, 0, 1), "×10, rms %.3g" % res.rms[i] if res.rms[i] > 0
                 else "already misclassified"),
                (x_adv[i, 0], CLASSES[res.label[i]]))):
            ax = axes[i, j]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default="torch-attack-out")
    ap.add_argument("--train", type=int, default=10000, help="training images (10000)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--count", type=int, default=8, help="test images attacked (8)")
    ap.add_argument("--attack", default="lbfgs",
                    choices=["lbfgs", "fgsm", "pgd", "deepfool", "cw"])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch_attack.py: PyTorch is not installed (Debian: python3-torch)",
              file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)

    train, test = load(args.data_dir, True), load(args.data_dir, False)
    n = min(args.train, len(train))
    x_train = train.images[:n].copy()  # writable: torch.from_numpy wants that
    y_train = train.labels[:n]
    model = build_model(torch)
    train_torch(torch, model, x_train, y_train, args.epochs, args.seed)

    onnx_path = os.path.join(args.out, "model.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), onnx_path, input_names=["x"],
                      output_names=["logits"], opset_version=13,
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
    net = nnprobe.Net.load(onnx_path)
    print("nnprobe      %r" % net)

    x = test.images[:args.count].copy()
    y = test.labels[:args.count]
    xt = torch.tensor(x, requires_grad=True)
    logits = model(xt)
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(y.astype(np.int64)),
                                      reduction="sum").backward()
    g = nnprobe.grad_loss(net, x, y, logits=True)
    print("agreement    max |logits diff| %.2e, max |input gradient diff| %.2e"
          % (np.abs(g.logits - logits.detach().numpy()).max(),
             np.abs(g.dx - xt.grad.numpy()).max()))
    err = nnprobe.error_rate(net, test.images[:2000], test.labels[:2000])
    print("test error   %.1f%% on 2000 test images (mean loss %.3f)"
          % (100 * err.error_rate, err.mean_loss))

    res = nnprobe.attack(args.attack, net, x, y)
    ok = res.success
    print("attack       %s: %d/%d succeed, mean RMS distortion %.4f (the paper's measure)"
          % (args.attack, ok.sum(), len(ok), res.rms[ok].mean() if ok.any() else float("nan")))
    png = os.path.join(args.out, "adversarial.png")
    figure(png, x, res.x_adv, res, "%s attack on a PyTorch CNN (libnnprobe)" % args.attack)
    print("figure       %s" % png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
