"""Command line: ``python -m nnprobe info MODEL.onnx`` and ``python -m nnprobe attack ...``.

``attack`` mirrors the C example program ``nnprobe-attack`` (examples/nnprobe-attack.c):
the same options, defaults, targets and output files, so that both give the same results on
the same ONNX model and data. It attacks ONNX models only (the C program can also train a
preset first: train it with ``nnprobe-train --save`` or from Python).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Optional, Sequence

import numpy as np

from . import (Dataset, Error, Interrupted, Net, attack, error_rate, library_version,
               noise_gaussian, perturbation_rescale, transfer_matrix)

EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
FIELDS = ("index", "true_label", "clean_label", "target", "adv_label", "success", "finished",
          "rms", "l2", "linf", "c", "iterations", "evaluations")


# Per attack: (argparse dest, option name) of the options it takes; an option without a
# default (None) is left to the C default.
ATTACK_OPTS = {
    "lbfgs": (("c_factor", "c_factor"), ("bracket_steps", "c_bracket_steps"),
              ("bisect_steps", "c_bisect_steps"), ("history", "history"),
              ("c_init", "c_init"), ("max_iter", "max_iterations")),
    "fgsm": (("epsilon", "epsilon"), ("minimal", "minimal"), ("search_steps", "search_steps")),
    "pgd": (("epsilon", "epsilon"), ("norm", "norm"), ("random_start", "random_start"),
            ("seed", "seed"), ("steps", "steps"), ("step_size", "step_size")),
    "deepfool": (("overshoot", "overshoot"), ("candidates", "candidates"),
                 ("max_iter", "max_iterations")),
    "cw": (("confidence", "confidence"), ("learning_rate", "learning_rate"),
           ("c_init", "c_init"), ("steps", "steps"), ("search_steps", "binary_search_steps")),
}


def _layer_attrs(li) -> str:
    from .net import LayerKind
    if li.kind == LayerKind.CONV2D:
        return "kernel %dx%d stride %dx%d pad %d,%d,%d,%d dilation %dx%d groups %d" % (
            li.kernel + li.stride + li.pad + li.dilation + (li.groups,))
    if li.kind in (LayerKind.MAXPOOL, LayerKind.AVGPOOL):
        return "kernel %dx%d stride %dx%d pad %d,%d,%d,%d" % (li.kernel + li.stride + li.pad)
    if li.kind == LayerKind.LEAKY_RELU:
        return "alpha %g" % li.alpha
    return ""


def cmd_info(args: argparse.Namespace) -> int:
    try:
        net = Net.from_bytes(sys.stdin.buffer.read()) if args.model == "-" else \
            Net.load(args.model)
    except Error as e:
        print("nnprobe info: %s: %s" % (args.model, e), file=sys.stderr)
        return EXIT_FAILURE
    c, h, w = net.input_shape
    print("model        %s" % args.model)
    print("input        %dx%dx%d (%d values per example)" % (c, h, w, net.input_size))
    print("layer  kind            inputs    output CxHxW       params  attributes")
    for li in net.layers():
        ins = ",".join(map(str, li.inputs)) or "-"
        shape = "%dx%dx%d" % li.shape
        print(("%5d  %-15s %-9s %-15s %9d  %s" % (li.index, li.name, ins, shape,
                                                  li.weight_count + li.bias_count,
                                                  _layer_attrs(li))).rstrip())
    print("outputs      %d (logits)" % net.output_size)
    print("parameters   %d" % net.param_count)
    print("workspace    %d bytes at batch 1, %d at batch 128 (cap: NNPROBE_MAX_WORKSPACE_BYTES, "
          "default 4 GiB)" % (net.workspace_bytes(1), net.workspace_bytes(128)))
    return 0


def _targets(mode: str, y: np.ndarray, classes: int, seed: int) -> Optional[np.ndarray]:
    """The example program's targets: next = label+1; random = label + a draw in
    1..classes−1 from its LCG (Knuth's MMIX constants), seeded by --seed."""
    if mode == "none":
        return None
    mask = (1 << 64) - 1
    state = (seed * 0x9E3779B97F4A7C15 + 1) & mask
    out = np.empty(len(y), np.int32)
    for i, label in enumerate(y):
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        off = 1 + (state >> 33) % (classes - 1)
        out[i] = (int(label) + (1 if mode == "next" else off)) % classes
    return out


def _write_results(path: str, res, y: np.ndarray, first: int) -> None:
    rows = []
    for i in range(len(res)):
        t = res.table[i]
        rows.append([first + i, int(y[i]), int(t["clean_label"]), int(t["target"]),
                     int(t["label"]), int(t["success"]), int(t["finished"]),
                     "%.9g" % t["rms"], "%.9g" % t["l2"], "%.9g" % t["linf"], "%.9g" % t["c"],
                     int(t["iterations"]), int(t["evaluations"])])
    with open(path, "w") as f:
        if path.endswith(".json"):
            json.dump([{k: (float(v) if isinstance(v, str) else v) for k, v in zip(FIELDS, r)}
                       for r in rows], f, indent=1)
            f.write("\n")
        else:
            f.write(",".join(FIELDS) + "\n")
            for r in rows:
                f.write(",".join(str(v) for v in r) + "\n")


def _summary(res, seconds: float, clean_err: float, adv_err: float) -> None:
    n = len(res)
    ok = res.success
    changed = ok & (res.rms > 0)
    partial = "" if res.finished.all() else " (interrupted: partial)"
    print("examples     %d attacked%s" % (n, partial))
    print("success      %d/%d (%.1f%%), %d already misclassified or at the target"
          % (ok.sum(), n, 100.0 * ok.sum() / n, ok.sum() - changed.sum()))
    if changed.any():
        print("distortion   RMS mean %.4f median %.4f; L2 mean %.3f; Linf mean %.3f (over the "
              "%d changed successes)" % (res.rms[changed].mean(), np.median(res.rms[changed]),
                                         res.l2[changed].mean(), res.linf[changed].mean(),
                                         changed.sum()))
    print("error        %.1f%% on the clean examples, %.1f%% on the adversarial ones"
          % (100 * clean_err, 100 * adv_err))
    print("cost         %.0f gradient evaluations per example; %.2f s, %.1f ms per example"
          % (res.evaluations.mean(), seconds, 1000 * seconds / n))


def _figure(path: str, x: np.ndarray, x_adv: np.ndarray, count: int) -> None:
    """The example program's figure: one row per example, original | difference ×10 around
    grey | adversarial, 2-pixel white gaps; channels stacked vertically (as C×H rows)."""
    try:
        import matplotlib.image
    except ImportError:
        raise SystemExit("nnprobe attack: --png needs matplotlib (Debian: python3-matplotlib)")
    k = min(count, len(x))
    n = len(x)
    imgs = x.reshape(n, -1, x.shape[-1])[:k]      # (k, C·H, W)
    advs = x_adv.reshape(n, -1, x.shape[-1])[:k]
    diff = np.clip(0.5 + 10 * (advs - imgs), 0, 1)
    h, w, gap = imgs.shape[1], imgs.shape[2], 2
    out = np.ones((k * (h + gap) - gap, 3 * w + 2 * gap), np.float32)
    for i in range(k):
        r = i * (h + gap)
        for j, img in enumerate((imgs[i], diff[i], advs[i])):
            c = j * (w + gap)
            out[r:r + h, c:c + w] = img
    matplotlib.image.imsave(path, out, cmap="gray", vmin=0, vmax=1)


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    last = [0.0]

    def draw(done: int, total: int) -> bool:
        now = time.monotonic()
        if now - last[0] > 0.2 or done == total:
            last[0] = now
            sys.stderr.write("\r%5.1f%%" % (100.0 * done / max(total, 1)))
            sys.stderr.flush()
        return False
    return draw


def cmd_attack(args: argparse.Namespace) -> int:
    test_images = args.test_images or os.path.join(args.data_dir, TEST_FILES[0])
    test_labels = args.test_labels or os.path.join(args.data_dir, TEST_FILES[1])
    try:
        net = Net.load(args.model)
        others = [Net.load(p) for p in args.transfer]
        test = Dataset.load_idx(test_images, test_labels)
    except Error as e:
        print("nnprobe attack: %s" % e, file=sys.stderr)
        return EXIT_FAILURE
    count = args.count
    if args.first + count > len(test):
        print("nnprobe attack: --first %d --count %d: the test set has %d examples"
              % (args.first, count, len(test)), file=sys.stderr)
        return EXIT_USAGE
    x = np.ascontiguousarray(test.images[args.first:args.first + count])
    y = test.labels[args.first:args.first + count]
    print("model        %s, test error %.2f%%" % (args.model,
                                                  100 * error_rate(net, test.images,
                                                                   test.labels).error_rate))
    targets = _targets(args.target, y, net.output_size, args.seed)
    a = args.attack
    given = dict(vars(args), random_start=not args.no_random_start)
    opts = dict(batch_size=args.batch)
    opts.update((dst, given[src]) for src, dst in ATTACK_OPTS[a] if given[src] is not None)
    mode = {"none": "untargeted", "next": "targeted at label+1", "random": "random targets"}
    print("attack       %s, %s, %d test examples from #%d" % (a, mode[args.target], count,
                                                             args.first))
    sys.stdout.flush()
    t0 = time.monotonic()
    rc = 0
    try:
        res = attack(a, net, x, y, targets, progress=_progress(args.quiet), **opts)
    except Interrupted as e:
        res, rc = e.partial, EXIT_INTERRUPTED
    except Error as e:
        if e.partial is None:
            print("nnprobe attack: %s" % e, file=sys.stderr)
            return EXIT_FAILURE
        res, rc = e.partial, EXIT_INTERRUPTED
    seconds = time.monotonic() - t0
    if not args.quiet and sys.stderr.isatty():
        sys.stderr.write("\n")
    _summary(res, seconds, error_rate(net, x, y).error_rate,
             error_rate(net, res.x_adv, y).error_rate)
    if others or args.noise is not None or args.amplify is not None:
        sets, names = [x, res.x_adv], ["clean", "adversarial (for model 0)"]
        if args.noise is not None:
            sets.append(noise_gaussian(x, args.noise, args.seed))
            names.append("gaussian noise, stddev %g" % args.noise)
        if args.amplify is not None:
            sets.append(perturbation_rescale(x, res.x_adv, args.amplify))
            names.append("adversarial amplified to RMS %g" % args.amplify)
        m = transfer_matrix([net] + others, sets, y)
        print("evaluation   error rate of each model (column) on each set (row)")
        print("  %-34s" % "set" + "".join(" %10s" % ("model %d" % k) for k in range(m.shape[1])))
        for name, row in zip(names, m):
            print("  %-34s" % name + "".join(" %9.1f%%" % (100 * e) for e in row))
        print("  model 0 = %s" % args.model + "".join(
            ", model %d = %s" % (k + 1, p) for k, p in enumerate(args.transfer)))
    if args.results:
        _write_results(args.results, res, y, args.first)
        print("results      %s" % args.results)
    if args.out:
        Dataset.from_arrays(res.x_adv, y).save_idx(args.out, args.out + ".labels")
        print("adversarial  %s (+ .labels)" % args.out)
    if args.png:
        _figure(args.png, x, res.x_adv, args.figure_count)
        print("figure       %s" % args.png)
    return rc


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nnprobe",
                                description="Probe trained neural networks with libnnprobe.")
    p.add_argument("-V", "--version", action="version",
                   version="nnprobe (Python) with libnnprobe %s" % library_version)
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("info", help="print an ONNX model's layer table")
    i.add_argument("model", help="ONNX file ('-': standard input)")
    a = sub.add_parser("attack", help="adversarial examples, as examples/nnprobe-attack",
                       description="Find adversarial examples for an ONNX classifier, as in "
                       "Szegedy et al. (2013), §4.1; the options of nnprobe-attack.")
    a.add_argument("model", help="ONNX model file")
    g = a.add_argument_group("data")
    g.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                   help="t10k-images-idx3-ubyte.gz etc. from DIR (default %(default)s)")
    g.add_argument("--test-images")
    g.add_argument("--test-labels")
    g.add_argument("--first", type=int, default=0, help="first test example attacked")
    g.add_argument("--count", type=int, default=100, help="test examples attacked (100)")
    g.add_argument("--seed", type=int, default=1, help="random targets, PGD's start (1)")
    g = a.add_argument_group("attack")
    g.add_argument("--attack", default="lbfgs", choices=["lbfgs", "fgsm", "pgd", "deepfool", "cw"])
    g.add_argument("--target", default="none", choices=["none", "next", "random"])
    g.add_argument("--batch", type=int, default=128, help="examples per batched pass (128)")
    g.add_argument("--c-init", type=float, help="lbfgs: first c (1); cw: (0.001)")
    g.add_argument("--c-factor", type=float, default=10.0)
    g.add_argument("--bracket-steps", type=int, default=10)
    g.add_argument("--bisect-steps", type=int, default=8)
    g.add_argument("--history", type=int, default=10)
    g.add_argument("--max-iter", type=int, help="lbfgs: steps per c (1000); deepfool (50)")
    g.add_argument("--epsilon", type=float, default=0.1)
    g.add_argument("--minimal", action="store_true", help="fgsm: smallest epsilon")
    g.add_argument("--norm", default="linf", choices=["linf", "l2"])
    g.add_argument("--steps", type=int, help="pgd: steps (40); cw: Adam steps per c (1000)")
    g.add_argument("--step-size", type=float)
    g.add_argument("--no-random-start", action="store_true")
    g.add_argument("--overshoot", type=float, default=0.02)
    g.add_argument("--candidates", type=int, default=10)
    g.add_argument("--search-steps", type=int, help="cw: values of c (9); fgsm --minimal (16)")
    g.add_argument("--confidence", type=float, default=0.0)
    g.add_argument("--learning-rate", type=float, default=0.01)
    g = a.add_argument_group("evaluation and output")
    g.add_argument("--transfer", action="append", default=[], metavar="MODEL",
                   help="also evaluate the sets on this ONNX model (repeatable)")
    g.add_argument("--noise", type=float, help="add a Gaussian-noise set of this stddev")
    g.add_argument("--amplify", type=float, help="add the adversarial set rescaled to RMS R")
    g.add_argument("--out", help="adversarial images, float32 IDX (+ FILE.labels)")
    g.add_argument("--results", help="per-example results, CSV (JSON if FILE ends in .json)")
    g.add_argument("--png", help="figure: original | difference x10 around grey | "
                   "adversarial, one row per example (needs matplotlib)")
    g.add_argument("--figure-count", type=int, default=10, help="rows of the figure (10)")
    g.add_argument("--quiet", action="store_true", help="no progress display")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        return cmd_info(args) if args.command == "info" else cmd_attack(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
