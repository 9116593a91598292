"""Gradient-of-input queries (``grad.h``): d loss/dx, d unit/dx, vector–Jacobian products.
Each is one batched forward and backward pass; results are per example."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ._core import L, batch_of, check, f32, i32, out_array, ptr
from .net import Net, Workspace, _ws


@dataclass
class LossGrad:
    """Result of :func:`grad_loss`."""
    dx: np.ndarray                 #: d loss_i / d x_i, the shape of x
    loss: Optional[np.ndarray]     #: (n,) softmax cross-entropy per example, or None
    logits: Optional[np.ndarray]   #: (n, classes), or None


@dataclass
class UnitGrad:
    """Result of :func:`grad_unit`."""
    dx: np.ndarray                 #: d φ_l(x_i)[unit] / d x_i, the shape of x
    value: Optional[np.ndarray]    #: (n,) φ_l(x_i)[unit], or None


def grad_loss(net: Net, x: Any, labels: Any, *, ws: Optional[Workspace] = None,
              out: Optional[np.ndarray] = None, loss: bool = True,
              logits: bool = False) -> LossGrad:
    """Gradient of the softmax cross-entropy with respect to the input (``nnp_grad_loss``).

    Args:
        net: the classifier.
        x: n × input_size values (float32 C-contiguous arrays are used as they are).
        labels: n labels in 0 … classes−1.
        ws: an optional :class:`Workspace` for ``net`` (not shared between threads).
        out: optional float32 array of x's size that receives dx (no allocation).
        loss, logits: also return the per-example loss / the logits.
    """
    x = f32(x, "x")
    n = batch_of(x, net.input_size)
    y = i32(labels, "labels")
    if y.size != n:
        raise ValueError("labels: %d expected, got %d" % (n, y.size))
    dx = out_array(out, x.shape, np.float32)
    lo = np.empty(n, np.float32) if loss else None
    lg = np.empty((n, net.output_size), np.float32) if logits else None
    check(L.grad_loss(net.handle, _ws(ws, net), x.ctypes.data, y.ctypes.data, n,
                      dx.ctypes.data, ptr(lo), ptr(lg)))
    return LossGrad(dx.reshape(x.shape), lo, lg)


def grad_unit(net: Net, x: Any, layer: int, unit: int, *, ws: Optional[Workspace] = None,
              out: Optional[np.ndarray] = None, value: bool = True) -> UnitGrad:
    """Gradient of unit ``unit`` of layer ``layer`` (an index into its flattened C×H×W
    output; negative layers count from the end) with respect to the input
    (``nnp_grad_unit``). A class logit is a unit of the last layer."""
    if layer < 0:
        layer += net.layer_count
    x = f32(x, "x")
    n = batch_of(x, net.input_size)
    dx = out_array(out, x.shape, np.float32)
    v = np.empty(n, np.float32) if value else None
    check(L.grad_unit(net.handle, _ws(ws, net), x.ctypes.data, n, layer, unit,
                      dx.ctypes.data, ptr(v)))
    return UnitGrad(dx.reshape(x.shape), v)


def grad_vjp(net: Net, x: Any, layer: int, v: Any, *, ws: Optional[Workspace] = None,
             out: Optional[np.ndarray] = None) -> np.ndarray:
    """Vector–Jacobian product J_l(x_i)ᵀ v_i at layer ``layer`` (``nnp_grad_vjp``): ``v``
    holds n × output_size(layer) values; returns dx of x's shape."""
    if layer < 0:
        layer += net.layer_count
    x = f32(x, "x")
    n = batch_of(x, net.input_size)
    vv = f32(v, "v")
    need = n * net.layer_info(layer).output_size
    if vv.size != need:
        raise ValueError("v: %d values expected (n × the layer's output size), got %d"
                         % (need, vv.size))
    dx = out_array(out, x.shape, np.float32)
    check(L.grad_vjp(net.handle, _ws(ws, net), x.ctypes.data, n, layer, vv.ctypes.data,
                     dx.ctypes.data))
    return dx.reshape(x.shape)
