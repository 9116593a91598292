"""Evaluation helpers (``eval.h``): error rate, transfer matrix (the paper's Tables 2 and
4), the Gaussian-noise baseline and rescaled ("amplified") perturbations."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from ._core import L, batch_of, check, f32, i32, out_array
from .net import Net


@dataclass
class ErrorRate:
    """Result of :func:`error_rate`."""
    error_rate: float   #: fraction misclassified, in [0, 1]
    mean_loss: float    #: mean softmax cross-entropy, nats


def error_rate(net: Net, x: Any, labels: Any) -> ErrorRate:
    """Error rate and mean cross-entropy of ``net`` on n examples (``nnp_eval_error_rate``)."""
    xx = f32(x, "x")
    n = batch_of(xx, net.input_size)
    y = i32(labels, "labels")
    if y.size != n:
        raise ValueError("labels: %d expected, got %d" % (n, y.size))
    e, m = ctypes.c_double(), ctypes.c_double()
    check(L.eval_error_rate(net.handle, xx.ctypes.data, y.ctypes.data, n, ctypes.byref(e),
                            ctypes.byref(m)))
    return ErrorRate(e.value, m.value)


def transfer_matrix(nets: Sequence[Net], sets: Sequence[Any], labels: Any) -> np.ndarray:
    """Error rate of every net on every set: an (n_sets, n_nets) float64 array, entry
    [s, k] net k's error on set s (``nnp_eval_transfer_matrix``). All sets share
    ``labels``."""
    nets = list(nets)
    if not nets or not len(sets):
        raise ValueError("nets and sets must not be empty")
    arrs = [f32(s, "sets[%d]" % i) for i, s in enumerate(sets)]
    n = batch_of(arrs[0], nets[0].input_size, "sets[0]")
    for i, a in enumerate(arrs):
        if a.size != arrs[0].size:
            raise ValueError("sets[%d]: %d values, sets[0] has %d" % (i, a.size, arrs[0].size))
    y = i32(labels, "labels")
    if y.size != n:
        raise ValueError("labels: %d expected, got %d" % (n, y.size))
    net_ptrs = (ctypes.c_void_p * len(nets))(*[m.handle for m in nets])
    set_ptrs = (ctypes.c_void_p * len(arrs))(*[a.ctypes.data for a in arrs])
    errors = np.empty((len(arrs), len(nets)), np.float64)
    check(L.eval_transfer_matrix(net_ptrs, len(nets), set_ptrs, len(arrs), y.ctypes.data, n,
                                 errors.ctypes.data))
    return errors


def noise_gaussian(x: Any, stddev: float, seed: int = 1,
                   out: Optional[np.ndarray] = None) -> np.ndarray:
    """clip(x + N(0, stddev²), 0, 1), independent noise per value from ``seed``
    (``nnp_eval_noise_gaussian``). ``out`` may be ``x`` itself (in place)."""
    xx = f32(x, "x")
    o = out_array(out, xx.shape, np.float32)
    check(L.eval_noise_gaussian(xx.ctypes.data, xx.size, stddev, seed, o.ctypes.data))
    return o


def perturbation_rescale(x: Any, x_adv: Any, rms: float,
                         out: Optional[np.ndarray] = None) -> np.ndarray:
    """Each example's perturbation x_adv − x rescaled to RMS ``rms`` per value, clipped to
    [0,1] (Table 4's "amplified" sets; ``nnp_eval_perturbation_rescale``). The first axis
    is the example."""
    xx = f32(x, "x")
    xa = f32(x_adv, "x_adv")
    if xx.shape != xa.shape or xx.ndim < 1 or xx.size == 0:
        raise ValueError("x and x_adv: equal non-empty shapes expected")
    n = xx.shape[0]
    d = xx.size // n
    o = out_array(out, xx.shape, np.float32)
    check(L.eval_perturbation_rescale(xx.ctypes.data, xa.ctypes.data, n, d, rms,
                                      o.ctypes.data))
    return o
