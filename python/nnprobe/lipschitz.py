"""Lipschitz analysis (``lipschitz.h``): per-layer upper bounds (the paper's §4.3 and
Table 5) and exact norms, empirical lower bounds, CLEVER estimates."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np

from . import _lib
from ._core import L, ProgressFn, batch_of, defaults_of, f32, make_opts, run_with_progress
from .net import Net


def _info_dtype() -> np.dtype:
    c = _lib.LipschitzInfoC
    fmt = {"size": np.uintp, "kind": np.intc, "converged": np.intc}
    names = [f[0] for f in c._fields_]
    return np.dtype({"names": names,
                     "formats": [fmt.get(n, np.uintp if t is ctypes.c_size_t else np.float64)
                                 for n, t in c._fields_],
                     "offsets": [getattr(c, n).offset for n in names],
                     "itemsize": ctypes.sizeof(c)})


#: NumPy structured dtype laid out as ``nnp_lipschitz_info`` (filled in place by the C call).
INFO_DTYPE = _info_dtype()


def lipschitz_defaults() -> Dict[str, Any]:
    """The C defaults of ``nnp_lipschitz_opts``."""
    return defaults_of(_lib.LipschitzOptsC, L.lipschitz_opts_init_sized)


def _opts(opts: Dict[str, Any], what: str) -> ctypes.Structure:
    return make_opts(_lib.LipschitzOptsC, L.lipschitz_opts_init_sized, opts, what)


def lipschitz_bounds(net: Net, *, progress: Optional[ProgressFn] = None,
                     **opts: Any) -> np.ndarray:
    """Per-layer Lipschitz data (``nnp_lipschitz_bounds``): a structured array with one
    record per layer (``INFO_DTYPE``: kind, bound, exact, accuracy, converged, iterations,
    applications, stride_h/w, grid_h/w, overlap, upper_to, upper_to_exact). The last
    record's ``upper_to``/``upper_to_exact`` bound the whole net.

    Options: ``nnp_lipschitz_opts`` fields (exact, tol, max_iter, max_basis,
    fourier_grid_h/w, seed, full_reorth, paper_bound), C defaults. A cancellation leaves no
    usable result (``partial`` is None); a Ctrl-C after the last progress report lets the
    call complete and :class:`~nnprobe.Interrupted` carries the complete table."""
    o = _opts(opts, "lipschitz_bounds")
    count = net.layer_count
    infos = np.zeros(count, INFO_DTYPE)
    infos["size"] = INFO_DTYPE.itemsize

    def call() -> int:
        return L.lipschitz_bounds(net.handle, ctypes.byref(o), infos.ctypes.data, count)

    # cancelled: the C API says the records must not be used; complete (a late Ctrl-C): they can
    run_with_progress(call, o, progress, partial=lambda status: infos if status == 0 else None)
    return infos


@dataclass
class LowerBound:
    """Result of :func:`lipschitz_lower`."""
    lower: float        #: max_i ‖J(x_i)‖₂, a true lower bound of the Lipschitz constant
    argmax: int         #: index of the point giving it
    norms: np.ndarray   #: (n,) ‖J(x_i)‖₂ per point


def lipschitz_lower(net: Net, x: Any, layer: int = -1, *,
                    progress: Optional[ProgressFn] = None, **opts: Any) -> LowerBound:
    """Empirical lower bound of the Lipschitz constant of input → ``layer`` (default the
    last: the whole net) from Jacobian norms at the points ``x`` (``nnp_lipschitz_lower``).
    Options: power_iters, batch_size, tol, seed, lower_from."""
    if layer < 0:
        layer += net.layer_count
    o = _opts(opts, "lipschitz_lower")
    xx = f32(x, "x")
    n = batch_of(xx, net.input_size)
    norms = np.empty(n, np.float64)
    lower, arg = ctypes.c_double(), ctypes.c_size_t()

    def call() -> int:
        return L.lipschitz_lower(net.handle, xx.ctypes.data, n, layer, ctypes.byref(o),
                                 norms.ctypes.data, ctypes.byref(lower), ctypes.byref(arg))

    run_with_progress(call, o, progress)
    return LowerBound(lower.value, arg.value, norms)


@dataclass
class Clever:
    """Result of :func:`lipschitz_clever`."""
    estimate: float     #: fitted local Lipschitz estimate of the margin (not a bound)
    max_sampled: float  #: largest sampled gradient norm (a lower bound)
    score: float        #: CLEVER score min(g(x)/estimate, radius)


def lipschitz_clever(net: Net, x: Any, label: int, target: int, radius: float, *,
                     progress: Optional[ProgressFn] = None, **opts: Any) -> Clever:
    """CLEVER-style estimate of the local Lipschitz constant of z_label − z_target in the L2
    ball of ``radius`` around one input ``x`` (``nnp_lipschitz_clever``). Options:
    clever_batches, clever_samples, seed."""
    o = _opts(opts, "lipschitz_clever")
    xx = f32(x, "x")
    if xx.size != net.input_size:
        raise ValueError("x: one input of %d values expected, got %d"
                         % (net.input_size, xx.size))
    est, mx, sc = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()

    def call() -> int:
        return L.lipschitz_clever(net.handle, xx.ctypes.data, label, target, radius,
                                  ctypes.byref(o), ctypes.byref(est), ctypes.byref(mx),
                                  ctypes.byref(sc))

    run_with_progress(call, o, progress)
    return Clever(est.value, mx.value, sc.value)
