"""Adversarial attacks (``attack.h``): the paper's box-constrained L-BFGS, FGSM, PGD,
DeepFool and Carlini–Wagner L2, on batches of examples in [0,1]."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np

from . import _lib
from ._core import L, ProgressFn, batch_of, defaults_of, f32, i32, make_opts, ptr, \
    run_with_progress
from .net import Net


def _result_dtype() -> np.dtype:
    c = _lib.AttackResultC
    fmt = {"success": np.intc, "finished": np.intc, "clean_label": np.int32,
           "label": np.int32, "target": np.int32, "rms": np.float64, "l2": np.float64,
           "linf": np.float64, "c": np.float64, "iterations": np.uintp,
           "evaluations": np.uintp}
    names = [f[0] for f in c._fields_]
    return np.dtype({"names": names, "formats": [fmt[n] for n in names],
                     "offsets": [getattr(c, n).offset for n in names],
                     "itemsize": ctypes.sizeof(c)})


#: NumPy structured dtype laid out exactly as ``nnp_attack_result`` (the C library writes
#: the results straight into an array of it).
RESULT_DTYPE = _result_dtype()


@dataclass
class AttackResult:
    """Outcome of an attack on n examples.

    ``table`` is the structured array the C library filled (``RESULT_DTYPE``, one record per
    example); the other fields are NumPy views of its columns, plus the adversarial
    examples ``x_adv`` (the shape of the input).
    """
    x_adv: np.ndarray
    table: np.ndarray

    @property
    def success(self) -> np.ndarray:
        """(n,) bool: x_adv reaches the goal."""
        return self.table["success"] != 0

    @property
    def finished(self) -> np.ndarray:
        """(n,) bool: False only for examples a cancellation interrupted."""
        return self.table["finished"] != 0

    @property
    def clean_label(self) -> np.ndarray:
        """(n,) the net's label for x."""
        return self.table["clean_label"]

    @property
    def label(self) -> np.ndarray:
        """(n,) the net's label for x_adv."""
        return self.table["label"]

    @property
    def target(self) -> np.ndarray:
        """(n,) the target, −1 when untargeted."""
        return self.table["target"]

    @property
    def rms(self) -> np.ndarray:
        """(n,) the paper's distortion, RMS per input value."""
        return self.table["rms"]

    @property
    def l2(self) -> np.ndarray:
        return self.table["l2"]

    @property
    def linf(self) -> np.ndarray:
        return self.table["linf"]

    @property
    def c(self) -> np.ndarray:
        """(n,) L-BFGS/C&W: the loss weight c of the solution; FGSM/PGD: ε."""
        return self.table["c"]

    @property
    def iterations(self) -> np.ndarray:
        return self.table["iterations"]

    @property
    def evaluations(self) -> np.ndarray:
        return self.table["evaluations"]

    def __len__(self) -> int:
        return len(self.table)


_ATTACKS = {
    "lbfgs": (_lib.LbfgsOptsC, "attack_lbfgs_opts_init_sized", "attack_lbfgs"),
    "fgsm": (_lib.FgsmOptsC, "attack_fgsm_opts_init_sized", "attack_fgsm"),
    "pgd": (_lib.PgdOptsC, "attack_pgd_opts_init_sized", "attack_pgd"),
    "deepfool": (_lib.DeepfoolOptsC, "attack_deepfool_opts_init_sized", "attack_deepfool"),
    "cw": (_lib.CwOptsC, "attack_cw_opts_init_sized", "attack_cw"),
}
NORMS = {"linf": 0, "inf": 0, "l2": 2}


def attack_defaults(name: str) -> Dict[str, Any]:
    """The C defaults of an attack's options ("lbfgs", "fgsm", "pgd", "deepfool", "cw")."""
    cls, init, _ = _ATTACKS[name]
    return defaults_of(cls, getattr(L, init))


def attack(name: str, net: Net, x: Any, labels: Any = None, targets: Any = None, *,
           progress: Optional[ProgressFn] = None, out: Optional[np.ndarray] = None,
           **opts: Any) -> AttackResult:
    """Runs attack ``name`` on a batch (see the attack_* functions)."""
    if name not in _ATTACKS:
        raise ValueError("unknown attack %r (%s)" % (name, ", ".join(_ATTACKS)))
    cls, init, fn_name = _ATTACKS[name]
    if isinstance(opts.get("norm"), str):
        opts["norm"] = NORMS[opts["norm"].lower()]
    o = make_opts(cls, getattr(L, init), opts, "attack_" + name)
    xx = f32(x, "x")
    n = batch_of(xx, net.input_size)
    y = None if labels is None else i32(labels, "labels")
    t = None if targets is None else i32(targets, "targets")
    for arr, what in ((y, "labels"), (t, "targets")):
        if arr is not None and arr.size != n:
            raise ValueError("%s: %d expected, got %d" % (what, n, arr.size))
    if out is not None:
        if out.dtype != np.float32 or not out.flags.c_contiguous or out.size != xx.size:
            raise ValueError("out: a C-contiguous float32 array of x's size expected")
        x_adv = out
    else:
        x_adv = np.empty(xx.shape, np.float32)
    table = np.zeros(n, RESULT_DTYPE)
    fn = getattr(L, fn_name)
    result = AttackResult(x_adv, table)

    def call() -> int:
        return fn(net.handle, xx.ctypes.data, ptr(y), ptr(t), n, ctypes.byref(o),
                  x_adv.ctypes.data, table.ctypes.data)

    run_with_progress(call, o, progress, partial=lambda status: result)
    return result


def attack_lbfgs(net: Net, x: Any, labels: Any = None, targets: Any = None, *,
                 progress: Optional[ProgressFn] = None, out: Optional[np.ndarray] = None,
                 **opts: Any) -> AttackResult:
    """The paper's box-constrained L-BFGS attack with its search over c (§4.1).

    ``x``: n examples in [0,1] (float32 C-contiguous used without a copy); ``labels``: the
    true labels (required when untargeted); ``targets``: target labels or None
    (untargeted). Options (C defaults, :func:`attack_defaults`): c_init, c_factor,
    c_bracket_steps, c_bisect_steps, history, max_iterations, pgtol, ftol, batch_size.
    ``progress(done, total)``: truthy return cancels; then :class:`~nnprobe.Cancelled`
    carries the partial :class:`AttackResult` in ``.partial`` (Ctrl-C: Interrupted, the
    same). ``out``: optional float32 array receiving x_adv.
    """
    return attack("lbfgs", net, x, labels, targets, progress=progress, out=out, **opts)


def attack_fgsm(net: Net, x: Any, labels: Any = None, targets: Any = None, *,
                progress: Optional[ProgressFn] = None, out: Optional[np.ndarray] = None,
                **opts: Any) -> AttackResult:
    """FGSM (L∞), options epsilon, minimal, search_steps, batch_size; as
    :func:`attack_lbfgs` otherwise. ``c`` holds the ε used."""
    return attack("fgsm", net, x, labels, targets, progress=progress, out=out, **opts)


def attack_pgd(net: Net, x: Any, labels: Any = None, targets: Any = None, *,
               progress: Optional[ProgressFn] = None, out: Optional[np.ndarray] = None,
               **opts: Any) -> AttackResult:
    """PGD, options norm ("linf" or "l2"), epsilon, steps, step_size, random_start, seed,
    batch_size; as :func:`attack_lbfgs` otherwise."""
    return attack("pgd", net, x, labels, targets, progress=progress, out=out, **opts)


def attack_deepfool(net: Net, x: Any, labels: Any = None, targets: Any = None, *,
                    progress: Optional[ProgressFn] = None, out: Optional[np.ndarray] = None,
                    **opts: Any) -> AttackResult:
    """DeepFool (L2), options max_iterations, overshoot, candidates, batch_size."""
    return attack("deepfool", net, x, labels, targets, progress=progress, out=out, **opts)


def attack_cw(net: Net, x: Any, labels: Any = None, targets: Any = None, *,
              progress: Optional[ProgressFn] = None, out: Optional[np.ndarray] = None,
              **opts: Any) -> AttackResult:
    """Carlini–Wagner L2, options c_init, binary_search_steps, steps, learning_rate,
    confidence, abort_early, batch_size."""
    return attack("cw", net, x, labels, targets, progress=progress, out=out, **opts)
