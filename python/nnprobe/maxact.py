"""What does a unit mean? (``maxact.h``): maximum-activation search over a data set and
input optimisation, for units or any directions of a layer (the paper's §3)."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np

from . import _lib
from ._core import L, ProgressFn, check, defaults_of, f32, make_opts, run_with_progress
from .dataset import Dataset
from .net import Net, Workspace, _ws


def directions_unit(dim: int, unit: int) -> np.ndarray:
    """The basis vector e_unit of dimension ``dim`` (float32)."""
    v = np.empty(dim, np.float32)
    check(L.maxact_directions_unit(dim, unit, v.ctypes.data if dim else None))
    return v


def directions_random(dim: int, count: int, seed: int = 1) -> np.ndarray:
    """``count`` random unit vectors of dimension ``dim``, (count, dim) float32;
    deterministic per seed, row i independent of count."""
    v = np.empty((count, dim), np.float32)
    check(L.maxact_directions_random(dim, count, seed, v.ctypes.data if v.size else None))
    return v


def _directions(net: Net, layer: int, directions: Any) -> "tuple[int, np.ndarray, int]":
    if layer < 0:
        layer += net.layer_count
    d = f32(directions, "directions")
    size = net.layer_info(layer).output_size
    if d.size == 0 or d.size % size:
        raise ValueError("directions: rows of %d values (layer %d's output size) expected"
                         % (size, layer))
    return layer, d, d.size // size


@dataclass
class SearchResult:
    """Result of :func:`maxact_search`: rows are directions."""
    top_index: np.ndarray     #: (n_dir, k) example indices, decreasing score
    top_score: np.ndarray     #: (n_dir, k) their scores
    bottom_index: np.ndarray  #: (n_dir, k) example indices, increasing score
    bottom_score: np.ndarray  #: (n_dir, k)
    found: int                #: min(k, examples); entries beyond are index −1, score NaN


def search_defaults() -> Dict[str, Any]:
    """The C defaults of ``nnp_maxact_search_opts``."""
    return defaults_of(_lib.MaxactSearchOptsC, L.maxact_search_opts_init_sized)


def optimise_defaults() -> Dict[str, Any]:
    """The C defaults of ``nnp_maxact_optimise_opts``."""
    return defaults_of(_lib.MaxactOptimiseOptsC, L.maxact_optimise_opts_init_sized)


def maxact_search(net: Net, data: Dataset, layer: int, directions: Any, k: int = 9, *,
                  ws: Optional[Workspace] = None, progress: Optional[ProgressFn] = None,
                  **opts: Any) -> SearchResult:
    """The k examples of ``data`` with the largest and smallest ⟨φ_layer(x), v⟩ for each
    direction v (rows of ``directions``), in one pass (``nnp_maxact_search``). Option:
    batch_size. Unfilled entries (k > examples) have index −1."""
    layer, d, n_dir = _directions(net, layer, directions)
    o = make_opts(_lib.MaxactSearchOptsC, L.maxact_search_opts_init_sized, opts,
                  "maxact_search")
    ti = np.empty((n_dir, k), np.uintp)
    bi = np.empty((n_dir, k), np.uintp)
    ts = np.empty((n_dir, k), np.float32)
    bs = np.empty((n_dir, k), np.float32)
    found = ctypes.c_size_t()

    def call() -> int:
        return L.maxact_search(net.handle, _ws(ws, net), data.handle, layer, d.ctypes.data,
                               n_dir, k, ctypes.byref(o), ti.ctypes.data, ts.ctypes.data,
                               bi.ctypes.data, bs.ctypes.data, ctypes.byref(found))

    run_with_progress(call, o, progress)
    top = ti.astype(np.int64)
    bot = bi.astype(np.int64)
    top[ti == np.iinfo(np.uintp).max] = -1
    bot[bi == np.iinfo(np.uintp).max] = -1
    return SearchResult(top, ts, bot, bs, found.value)


@dataclass
class OptimiseResult:
    """Result of :func:`maxact_optimise`."""
    x: np.ndarray          #: (n_dir, C, H, W) inputs after the last step
    score: np.ndarray      #: (n_dir,) ⟨φ_l(x), v⟩
    objective: np.ndarray  #: (n_dir,) the penalised objective J(x)


def maxact_optimise(net: Net, layer: int, directions: Any, *, start: Any = None,
                    ws: Optional[Workspace] = None, progress: Optional[ProgressFn] = None,
                    **opts: Any) -> OptimiseResult:
    """For each direction, an input in [0,1] that locally maximises
    ⟨φ_layer(x), v⟩ − l2·Σx² − tv·TV(x) (``nnp_maxact_optimise``). Options: steps,
    step_size, l2, tv, tv_eps, jitter, seed; ``start``: n_dir start inputs or None. On
    cancellation (or Ctrl-C) ``partial`` is the inputs after the last completed step."""
    layer, d, n_dir = _directions(net, layer, directions)
    o = make_opts(_lib.MaxactOptimiseOptsC, L.maxact_optimise_opts_init_sized, opts,
                  "maxact_optimise")
    st = None
    if start is not None:
        st = f32(start, "start")
        if st.size != n_dir * net.input_size:
            raise ValueError("start: %d values expected" % (n_dir * net.input_size))
        o.start = st.ctypes.data_as(_lib.c_float_p)
    x = np.empty((n_dir,) + net.input_shape, np.float32)
    score = np.empty(n_dir, np.float32)
    obj = np.empty(n_dir, np.float32)

    def call() -> int:
        return L.maxact_optimise(net.handle, _ws(ws, net), layer, d.ctypes.data, n_dir,
                                 ctypes.byref(o), x.ctypes.data, score.ctypes.data,
                                 obj.ctypes.data)

    run_with_progress(call, o, progress, partial=lambda status: x)
    del st
    return OptimiseResult(x, score, obj)
