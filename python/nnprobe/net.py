"""Networks (``net.h``, ``onnx.h``): building, ONNX in and out, the layer table, parameters,
forward passes; and workspaces."""
from __future__ import annotations

import ctypes
import enum
import os
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple, TypeVar, Union

import numpy as np

from . import _lib
from ._core import L, batch_of, check, f32, make_opts, out_array, ptr

PathLike = Union[str, "os.PathLike[str]"]
_Self = TypeVar("_Self", bound="_Owned")


class _Owned:
    """A C object (``self._h``, freed by ``self._free``) freed by :meth:`close`, at the end
    of a ``with`` block or when the Python object is garbage collected."""

    def close(self) -> None:
        """Frees the C object now."""
        h, self._h = getattr(self, "_h", None), None
        if h:
            self._free(h)

    def __del__(self) -> None:
        self.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LayerKind(enum.IntEnum):
    """``nnp_layer_kind`` (values pinned by the C library)."""
    INPUT = 0
    DENSE = 1
    RELU = 2
    SIGMOID = 3
    TANH = 4
    SOFTPLUS = 5
    CONV2D = 6
    MAXPOOL = 7
    AVGPOOL = 8
    GLOBAL_AVGPOOL = 9
    LRN = 10
    CONTRAST_NORM = 11
    BATCHNORM = 12
    DROPOUT = 13
    FLATTEN = 14
    ADD = 15
    LEAKY_RELU = 16
    CLIP = 17
    HARD_SIGMOID = 18
    HARD_SWISH = 19
    PAD = 20

    @property
    def c_name(self) -> str:
        """The library's short name of the kind ("dense", "relu", ...)."""
        return L.layer_kind_name(int(self)).decode()


def _kind(k: Union[int, str, LayerKind]) -> int:
    if isinstance(k, str):
        key = k.strip().upper().replace("-", "_")
        aliases = {"LEAKYRELU": "LEAKY_RELU", "LEAKY": "LEAKY_RELU",
                   "HARDSIGMOID": "HARD_SIGMOID", "HARDSWISH": "HARD_SWISH"}
        try:
            return int(LayerKind[aliases.get(key, key)])
        except KeyError:
            raise ValueError("unknown layer kind %r" % k) from None
    return int(k)


def layer_kind_name(kind: Union[int, LayerKind]) -> str:
    """``nnp_layer_kind_name()``: "dense", "relu", ...; "unknown" for unknown values."""
    return L.layer_kind_name(int(kind)).decode()


@dataclass(frozen=True)
class LayerInfo:
    """One row of the layer table (``nnp_layer_info``)."""
    index: int
    kind: Union[LayerKind, int]
    inputs: Tuple[int, ...]
    shape: Tuple[int, int, int]        #: output C, H, W
    output_size: int
    weight_count: int
    bias_count: int
    kernel: Tuple[int, int]            #: kernel_h, kernel_w (0, 0 for other kinds)
    stride: Tuple[int, int]
    pad: Tuple[int, int, int, int]     #: top, left, bottom, right
    dilation: Tuple[int, int]
    groups: int
    alpha: float
    beta: float = 0.0                  #: hard sigmoid's β
    clip: Tuple[float, float] = (0.0, 0.0)  #: clip's (min, max), possibly infinite
    ceil_mode: bool = False            #: pooling: output sizes rounded up

    @property
    def name(self) -> str:
        """The kind's short name, e.g. "conv2d"."""
        return layer_kind_name(self.kind)


def _layer_out() -> Tuple[ctypes.c_size_t, Any]:
    v = ctypes.c_size_t()
    return v, ctypes.byref(v)


class Net(_Owned):
    """A network handle (``nnp_net``): a DAG of layers, layer 0 the input, the last layer's
    output the logits.

    Create with ``Net(channels, height, width)`` and the ``add_*`` builders, or with
    :meth:`load` (ONNX). Read-only methods (forward, gradients, attacks, ...) may run
    concurrently from several threads on one net, each with its own :class:`Workspace` (or
    none); they release the GIL for the C call. Builders and :meth:`set_params` modify the
    net and need exclusive use of it.
    """

    def __init__(self, channels: int, height: int = 1, width: int = 1):
        handle = ctypes.c_void_p()
        check(L.net_create(channels, height, width, ctypes.byref(handle)))
        self._init(handle)

    def _init(self, handle: ctypes.c_void_p) -> None:
        self._h = handle.value
        self._as_param_ = self._h
        self._free = L.net_free
        self._input_size = L.net_input_size(self._h)  # fixed at creation

    @classmethod
    def _wrap(cls, handle: ctypes.c_void_p) -> "Net":
        obj = cls.__new__(cls)
        obj._init(handle)
        return obj

    # ---- lifetime

    def close(self) -> None:
        """Frees the C network now (also done when the object is garbage collected). As
        ``nnp_net_free``, it must not run while another thread uses the net."""
        self._as_param_ = None
        super().close()

    @property
    def handle(self) -> int:
        """The ``nnp_net *`` as an integer (for other FFI code); raises if closed."""
        if not self._h:
            raise ValueError("the net is closed")
        return self._h

    def clone(self) -> "Net":
        """A deep copy (``nnp_net_clone``)."""
        out = ctypes.c_void_p()
        check(L.net_clone(self.handle, ctypes.byref(out)))
        return Net._wrap(out)

    __copy__ = clone

    def normalized(self, mean: Any, std: Any) -> "Net":
        """A new net = this one behind the per-channel input normalisation (x - mean)/std
        (``nnp_net_normalized``; torchvision's ImageNet values are mean (0.485, 0.456, 0.406),
        std (0.229, 0.224, 0.225)): probes of the new net work on pixels in [0,1]. Layer i
        of this net is layer i + 1 of the new one (layer 1 is the normalisation). ``mean`` and
        ``std`` hold one value per input channel."""
        m = f32(mean, "mean").ravel()
        s = f32(std, "std").ravel()
        if m.size != s.size:
            raise ValueError("mean and std: %d and %d values" % (m.size, s.size))
        out = ctypes.c_void_p()
        check(L.net_normalized(self.handle, m.ctypes.data, s.ctypes.data, m.size,
                               ctypes.byref(out)))
        return Net._wrap(out)

    def __deepcopy__(self, memo: Any) -> "Net":
        return self.clone()

    # ---- ONNX

    @classmethod
    def load(cls, path: PathLike) -> "Net":
        """Loads an ONNX model file (``nnp_net_load_onnx``); see ``onnx.h`` for what loads.
        Raises FileError, FormatError or Unsupported with the library's message."""
        out = ctypes.c_void_p()
        check(L.net_load_onnx(os.fsencode(path), ctypes.byref(out)))
        return cls._wrap(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Net":
        """Loads a serialized ONNX ModelProto from memory (``nnp_net_load_onnx_memory``)."""
        data = bytes(data)
        out = ctypes.c_void_p()
        check(L.net_load_onnx_memory(data, len(data), ctypes.byref(out)))
        return cls._wrap(out)

    def save(self, path: PathLike) -> None:
        """Saves the net as an ONNX model file (``nnp_net_save_onnx``)."""
        check(L.net_save_onnx(self.handle, os.fsencode(path)))

    # ---- building

    def add_dense(self, units: int) -> int:
        """Appends a dense layer of ``units`` outputs; returns its index."""
        v, r = _layer_out()
        check(L.net_add_dense(self.handle, units, r))
        return v.value

    def add_activation(self, kind: Union[str, int, LayerKind]) -> int:
        """Appends "relu", "sigmoid", "tanh", "softplus" or "leaky_relu" (α = 0.01)."""
        v, r = _layer_out()
        check(L.net_add_activation(self.handle, _kind(kind), r))
        return v.value

    def add_relu(self) -> int:
        """Appends a ReLU; returns its index."""
        return self.add_activation(LayerKind.RELU)

    def add_leaky_relu(self, alpha: float = 0.01) -> int:
        """Appends a leaky ReLU of slope ``alpha`` for negative inputs."""
        v, r = _layer_out()
        check(L.net_add_leaky_relu(self.handle, alpha, r))
        return v.value

    def add_clip(self, lo: float = float("-inf"), hi: float = float("inf")) -> int:
        """Appends y = min(max(x, lo), hi) (``nnp_net_add_clip``; ReLU6: ``add_clip(0, 6)``)."""
        r, p = _layer_out()
        check(L.net_add_clip(self.handle, lo, hi, p))
        return r.value

    def add_hard_sigmoid(self, alpha: float = 0.2, beta: float = 0.5) -> int:
        """Appends y = max(0, min(1, alpha·x + beta)) (``nnp_net_add_hard_sigmoid``)."""
        r, p = _layer_out()
        check(L.net_add_hard_sigmoid(self.handle, alpha, beta, p))
        return r.value

    def add_pad(self, top: int = 0, left: int = 0, bottom: int = 0, right: int = 0) -> int:
        """Appends zero padding of the spatial axes (``nnp_net_add_pad``)."""
        r, p = _layer_out()
        check(L.net_add_pad(self.handle, top, left, bottom, right, p))
        return r.value

    def branch_from(self, layer: int) -> None:
        """The next sequentially added layer takes ``layer`` as its input."""
        check(L.net_branch_from(self.handle, layer))

    @staticmethod
    def _pair_opts(opts: dict, short: str, a: str, b: str) -> None:
        if short in opts:
            v = opts.pop(short)
            opts[a], opts[b] = (v, v) if np.isscalar(v) else tuple(v)

    @classmethod
    def _spatial_opts(cls, opts: dict) -> dict:
        cls._pair_opts(opts, "kernel", "kernel_h", "kernel_w")
        cls._pair_opts(opts, "stride", "stride_h", "stride_w")
        cls._pair_opts(opts, "dilation", "dilation_h", "dilation_w")
        if "pad" in opts:
            p = opts.pop("pad")
            p = (p,) * 4 if np.isscalar(p) else tuple(p)
            if len(p) == 2:
                p = (p[0], p[1], p[0], p[1])
            opts["pad_top"], opts["pad_left"], opts["pad_bottom"], opts["pad_right"] = p
        return opts

    def add_conv2d(self, out_channels: int, **opts: Any) -> int:
        """Appends a 2-D convolution. Options are ``nnp_net_conv2d_opts`` fields
        (kernel_h, kernel_w, stride_h, ..., groups, bias) with the C defaults, plus the
        shorthands ``kernel``, ``stride``, ``dilation`` (an int or an (h, w) pair) and
        ``pad`` (an int, (h, w), or (top, left, bottom, right))."""
        o = make_opts(_lib.Conv2dOptsC, L.net_conv2d_opts_init_sized,
                      dict(self._spatial_opts(dict(opts)), out_channels=out_channels),
                      "add_conv2d")
        v, r = _layer_out()
        check(L.net_add_conv2d(self.handle, ctypes.byref(o), r))
        return v.value

    def _pool(self, fn: Any, what: str, opts: dict) -> int:
        o = make_opts(_lib.Pool2dOptsC, L.net_pool2d_opts_init_sized,
                      self._spatial_opts(dict(opts)), what)
        v, r = _layer_out()
        check(fn(self.handle, ctypes.byref(o), r))
        return v.value

    def add_maxpool2d(self, **opts: Any) -> int:
        """Appends 2-D max pooling (``nnp_net_pool2d_opts`` fields as keywords, default 2×2
        stride 2; shorthands ``kernel``, ``stride``, ``pad``)."""
        return self._pool(L.net_add_maxpool2d, "add_maxpool2d", opts)

    def add_avgpool2d(self, **opts: Any) -> int:
        """Appends 2-D average pooling (options as :meth:`add_maxpool2d`, plus
        ``count_include_pad``)."""
        return self._pool(L.net_add_avgpool2d, "add_avgpool2d", opts)

    def add_global_avgpool(self) -> int:
        """Appends global average pooling (C×H×W to C×1×1)."""
        v, r = _layer_out()
        check(L.net_add_global_avgpool(self.handle, r))
        return v.value

    def add_lrn(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                k: float = 2.0) -> int:
        """Appends across-channel local response normalisation (ONNX LRN)."""
        v, r = _layer_out()
        check(L.net_add_lrn(self.handle, size, alpha, beta, k, r))
        return v.value

    def add_contrast_norm(self, eps: float, gamma: float) -> int:
        """Appends the paper's contrast normalisation x / (eps + ‖x‖²)^gamma."""
        v, r = _layer_out()
        check(L.net_add_contrast_norm(self.handle, eps, gamma, r))
        return v.value

    def add_batchnorm(self, eps: float = 1e-5) -> int:
        """Appends inference-form batch normalisation (parameters: scale, mean, var; bias)."""
        v, r = _layer_out()
        check(L.net_add_batchnorm(self.handle, eps, r))
        return v.value

    def add_dropout(self, ratio: float = 0.5) -> int:
        """Appends dropout (the identity at inference)."""
        v, r = _layer_out()
        check(L.net_add_dropout(self.handle, ratio, r))
        return v.value

    def add_flatten(self) -> int:
        """Appends a flatten layer."""
        v, r = _layer_out()
        check(L.net_add_flatten(self.handle, r))
        return v.value

    def add_add(self, a: int, b: int) -> int:
        """Appends the element-wise sum of layers ``a`` and ``b`` (a residual connection)."""
        v, r = _layer_out()
        check(L.net_add_add(self.handle, a, b, r))
        return v.value

    # ---- queries

    @property
    def layer_count(self) -> int:
        """Number of layers, the input layer included."""
        return L.net_layer_count(self.handle)

    def __len__(self) -> int:
        return self.layer_count

    @property
    def input_size(self) -> int:
        """Floats per input example, C·H·W."""
        return self._input_size

    @property
    def output_size(self) -> int:
        """Floats per output example (the number of classes of a classifier)."""
        return L.net_output_size(self.handle)

    @property
    def param_count(self) -> int:
        """Number of trainable parameters."""
        return L.net_param_count(self.handle)

    def workspace_bytes(self, batch: int) -> int:
        """Bytes a workspace for batches of ``batch`` examples takes (``nnp_workspace_bytes``),
        from the layer shapes, before any pass; passes refuse above the workspace cap
        (``NNPROBE_MAX_WORKSPACE_BYTES``, default 4 GiB)."""
        out = ctypes.c_size_t()
        check(L.workspace_bytes(self.handle, batch, ctypes.byref(out)))
        return out.value

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """Input shape (C, H, W)."""
        return self.layer_info(0).shape

    def layer_info(self, layer: int) -> LayerInfo:
        """Describes one layer (``nnp_net_layer_info``). Negative indices count from the end."""
        if layer < 0:
            layer += self.layer_count
        li = _lib.LayerInfoC()
        li.size = ctypes.sizeof(li)
        check(L.net_layer_info(self.handle, layer, ctypes.byref(li)))
        try:
            kind: Union[LayerKind, int] = LayerKind(li.kind)
        except ValueError:  # a kind appended by a newer library
            kind = int(li.kind)
        return LayerInfo(index=layer, kind=kind, inputs=tuple(li.inputs[:li.n_inputs]),
                         shape=(li.channels, li.height, li.width),
                         output_size=li.output_size, weight_count=li.weight_count,
                         bias_count=li.bias_count, kernel=(li.kernel_h, li.kernel_w),
                         stride=(li.stride_h, li.stride_w),
                         pad=(li.pad_top, li.pad_left, li.pad_bottom, li.pad_right),
                         dilation=(li.dilation_h, li.dilation_w), groups=li.groups,
                         alpha=li.alpha, beta=li.beta, clip=(li.clip_min, li.clip_max),
                         ceil_mode=bool(li.ceil_mode))

    def layers(self) -> List[LayerInfo]:
        """The whole layer table."""
        return [self.layer_info(i) for i in range(self.layer_count)]

    def __repr__(self) -> str:
        if not getattr(self, "_h", None):
            return "<nnprobe.Net (closed)>"
        return "<nnprobe.Net %d layers, input %s, %d outputs, %d parameters>" % (
            self.layer_count, "×".join(map(str, self.input_shape)), self.output_size,
            self.param_count)

    # ---- parameters

    def init_params(self, seed: int = 1) -> None:
        """Glorot-uniform weights and zero biases from ``seed`` (``nnp_net_init_params``)."""
        check(L.net_init_params(self.handle, seed))

    def _weight_shape(self, info: LayerInfo) -> Tuple[int, ...]:
        if info.kind == LayerKind.DENSE and info.weight_count:
            return (info.output_size, info.weight_count // info.output_size)
        if info.kind == LayerKind.CONV2D and info.weight_count:
            per = info.shape[0] * info.kernel[0] * info.kernel[1]
            return (info.shape[0], info.weight_count // per) + info.kernel
        return (info.weight_count,)

    def get_params(self, layer: int) -> Tuple[np.ndarray, np.ndarray]:
        """Copies of one layer's (weights, bias). Dense weights are (units, inputs) as
        PyTorch's Linear.weight, convolution weights (out, in/groups, kh, kw); batch norm's
        weights are scale, mean, var (3·C) and other kinds' flat. Parameter-free layers give
        empty arrays. The C API offers copies only, so changing them changes nothing: use
        :meth:`set_params`."""
        info = self.layer_info(layer)
        w = np.empty(self._weight_shape(info), np.float32)
        b = np.empty(info.bias_count, np.float32)
        check(L.net_get_params(self.handle, info.index, ptr(w) if w.size else None,
                               ptr(b) if b.size else None))
        return w, b

    def set_params(self, layer: int, weights: Any = None, bias: Any = None) -> None:
        """Replaces one layer's weights and/or bias (None leaves them), any shape with the
        right number of values; converted to float32 once. Non-finite values are refused
        (InvalidArgument) and nothing is changed."""
        info = self.layer_info(layer)
        w = None if weights is None else f32(weights, "weights")
        b = None if bias is None else f32(bias, "bias")
        if w is not None and w.size != info.weight_count:
            raise ValueError("weights: layer %d has %d weights, got %d"
                             % (info.index, info.weight_count, w.size))
        if b is not None and b.size != info.bias_count:
            raise ValueError("bias: layer %d has %d biases, got %d"
                             % (info.index, info.bias_count, b.size))
        check(L.net_set_params(self.handle, info.index, ptr(w), ptr(b)))

    # ---- passes

    def forward(self, x: Any, ws: Optional["Workspace"] = None,
                out: Optional[np.ndarray] = None) -> np.ndarray:
        """Logits of a batch: ``x`` holds n×input_size values (e.g. shape (n, C, H, W) or
        (n, D)); returns (n, output_size) float32 (written into ``out`` if given)."""
        x = f32(x, "x")
        n = batch_of(x, self.input_size)
        y = out_array(out, (n, self.output_size), np.float32)
        check(L.net_forward(self.handle, _ws(ws, self), x.ctypes.data, n, y.ctypes.data))
        return y

    __call__ = forward

    def forward_layer(self, x: Any, layer: int, ws: Optional["Workspace"] = None,
                      out: Optional[np.ndarray] = None) -> np.ndarray:
        """Activations of layer ``layer`` (negative counts from the end): (n, C, H, W) of
        that layer's output shape."""
        if layer < 0:
            layer += self.layer_count
        info = self.layer_info(layer)
        x = f32(x, "x")
        n = batch_of(x, self.input_size)
        y = out_array(out, (n,) + info.shape, np.float32)
        check(L.net_forward_layer(self.handle, _ws(ws, self), x.ctypes.data, n, layer,
                                  y.ctypes.data))
        return y


class Workspace(_Owned):
    """Scratch memory for passes over one net (``nnp_workspace``). Reusing one across calls
    avoids allocation. It must not be used by two threads at once (give each thread its
    own, or pass none: the call then makes its own)."""

    def __init__(self, net: Net, max_batch: int = 1):
        self.net = net  # the net must outlive the workspace
        h = ctypes.c_void_p()
        check(L.workspace_create(net.handle, max_batch, ctypes.byref(h)))
        self._h = h.value
        self._layers = L.net_layer_count(net.handle)
        self._free = L.workspace_free


def _ws(ws: Optional[Workspace], net: Net) -> Optional[int]:
    if ws is None:
        return None
    if ws.net is not net:
        raise ValueError("workspace was made for another net")
    if not ws._h:
        raise ValueError("workspace is closed")
    if L.net_layer_count(net._h) != ws._layers:  # the C API forbids it: sized for the old net
        raise ValueError("the net gained layers since the workspace was made; make a new one")
    return ws._h
