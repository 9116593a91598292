#!/usr/bin/env python3
"""The Lipschitz table of an ONNX model (the paper's Table 5, §4.3), from Python: per layer
the paper's upper bound, the exact operator norm of linear layers, and the bound of the net
up to that layer; then empirical lower bounds (Jacobian norms at test points) and CLEVER
estimates, which show how loose the upper bound is.

    python3 examples/python/lipschitz_table.py MODEL.onnx [--data-dir DIR] [--points N]

MODEL.onnx: e.g. torch-attack-out/model.onnx from examples/python/torch_attack.py.
"""
import argparse
import os
import sys

import numpy as np

import nnprobe


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--points", type=int, default=20, help="test points for the lower bound")
    args = ap.parse_args(argv)
    net = nnprobe.Net.load(args.model)
    table = nnprobe.lipschitz_bounds(net)
    print("%5s  %-15s %-12s %12s %12s %14s %14s" % ("layer", "kind", "output", "bound",
                                                   "exact", "upper_to", "upper_to_exact"))
    for li, row in zip(net.layers(), table):
        print("%5d  %-15s %-12s %12.4g %12.4g %14.4g %14.4g" % (
            li.index, li.name, "%dx%dx%d" % li.shape, row["bound"], row["exact"],
            row["upper_to"], row["upper_to_exact"]))
    print("whole net    upper bound %.4g (paper's), %.4g (exact norms)"
          % (table["upper_to"][-1], table["upper_to_exact"][-1]))

    test = nnprobe.Dataset.load_idx(
        os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz"),
        os.path.join(args.data_dir, "t10k-labels-idx1-ubyte.gz"))
    x = np.ascontiguousarray(test.images[:args.points])
    lo = nnprobe.lipschitz_lower(net, x)
    print("lower bound  %.4g: max over %d test points of ||J(x)||_2 (point %d); median %.4g"
          % (lo.lower, len(x), lo.argmax, np.median(lo.norms)))
    print("gap          upper/lower = %.3g" % (table["upper_to_exact"][-1] / lo.lower))
    pred = np.argmax(net(x[:3]), 1)
    for i in range(3):
        target = (int(pred[i]) + 1) % net.output_size
        c = nnprobe.lipschitz_clever(net, x[i], int(pred[i]), target, 1.0)
        print("clever       point %d, %d vs %d: local estimate %.4g (max sampled %.4g), "
              "robustness radius estimate %.3g" % (i, pred[i], target, c.estimate,
                                                   c.max_sampled, c.score))
    return 0


if __name__ == "__main__":
    sys.exit(main())
