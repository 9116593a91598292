"""Labelled image data sets (``dataset.h``): IDX files in and out, from NumPy arrays,
subsets, label permutation."""
from __future__ import annotations

import ctypes
import os
from typing import Any, Optional, Tuple, Union

import numpy as np

from ._core import L, check, f32, i32

PathLike = Union[str, "os.PathLike[str]"]
#: ``nnp_idx_type`` values by name
IDX_TYPES = {"ubyte": 0, "float": 1}


class _Handle:
    """Owns one ``nnp_dataset *``: freed when the last reference goes (the Dataset and every
    ``images`` view hold one), so a view never outlives the memory it shows."""

    def __init__(self, ptr: int):
        self.ptr = ptr
        self._free = L.dataset_free

    def __del__(self) -> None:
        if self.ptr:
            self._free(self.ptr)
            self.ptr = 0


class _View:
    """Exposes library-owned memory to NumPy while keeping its owner alive."""

    def __init__(self, addr: int, shape: Tuple[int, ...], typestr: str, owner: Any):
        self.__array_interface__ = {"data": (addr, True), "shape": shape,
                                    "typestr": typestr, "version": 3}
        self._owner = owner


class Dataset:
    """n images of C×H×W floats in [0,1] and optional int32 labels (``nnp_dataset``).

    Make one with :meth:`load_idx` or :meth:`from_arrays`. ``images`` is a read-only view
    of the library's memory (no copy; it keeps the data set alive); ``labels`` is a copy.
    """

    def __init__(self) -> None:  # use the class methods
        raise TypeError("use Dataset.load_idx() or Dataset.from_arrays()")

    @classmethod
    def _wrap(cls, h: ctypes.c_void_p) -> "Dataset":
        obj = cls.__new__(cls)
        obj._owned = _Handle(h.value)
        return obj

    def close(self) -> None:
        """Releases the data set: freed now, or when the last ``images`` view goes."""
        self._owned = None

    @property
    def handle(self) -> int:
        """The ``nnp_dataset *`` as an integer; raises if closed."""
        owned = getattr(self, "_owned", None)
        if owned is None:
            raise ValueError("the data set is closed")
        return owned.ptr

    @classmethod
    def load_idx(cls, images: PathLike, labels: Optional[PathLike] = None) -> "Dataset":
        """Loads IDX files, plain or gzip (``nnp_dataset_load_idx``)."""
        h = ctypes.c_void_p()
        check(L.dataset_load_idx(os.fsencode(images),
                                 None if labels is None else os.fsencode(labels),
                                 ctypes.byref(h)))
        return cls._wrap(h)

    @classmethod
    def load_npy(cls, images: PathLike, labels: Optional[PathLike] = None) -> "Dataset":
        """Loads NumPy ``.npy`` files, plain or gzip (``nnp_dataset_load_npy``): images of
        dtype float32/float64 in [0,1] or uint8 (scaled by 1/255), shape (n, C, H, W),
        (n, H, W) or (n, D), C order; labels int64/int32/uint8 of shape (n,), or an IDX label
        file. The library reads the files itself (docs/data.md)."""
        h = ctypes.c_void_p()
        check(L.dataset_load_npy(os.fsencode(images),
                                 None if labels is None else os.fsencode(labels),
                                 ctypes.byref(h)))
        return cls._wrap(h)

    @classmethod
    def from_arrays(cls, images: Any, labels: Any = None) -> "Dataset":
        """A data set from arrays (copied by the library). ``images`` has shape (n, C, H, W),
        (n, H, W) (C = 1) or (n, D) (read as 1×1×D), values in [0,1]; ``labels`` n ints ≥ 0
        or None."""
        x = f32(images, "images")
        if x.ndim == 4:
            n, c, hh, w = x.shape
        elif x.ndim == 3:
            (n, hh, w), c = x.shape, 1
        elif x.ndim == 2:
            (n, w), c, hh = x.shape, 1, 1
        else:
            raise ValueError("images: shape (n, C, H, W), (n, H, W) or (n, D) expected")
        y = None
        if labels is not None:
            y = i32(labels, "labels")
            if y.size != n:
                raise ValueError("labels: %d expected, got %d" % (n, y.size))
        h = ctypes.c_void_p()
        check(L.dataset_create(n, c, hh, w, x.ctypes.data,
                               None if y is None else y.ctypes.data, ctypes.byref(h)))
        return cls._wrap(h)

    def save_idx(self, images: PathLike, labels: Optional[PathLike] = None,
                 type: str = "float") -> None:
        """Writes IDX files (``.gz`` compresses); ``type`` "float" (lossless) or "ubyte"."""
        t = IDX_TYPES.get(type)
        if t is None:
            raise ValueError("type: 'float' or 'ubyte'")
        check(L.dataset_save_idx(self.handle, os.fsencode(images),
                                 None if labels is None else os.fsencode(labels), t))

    def __len__(self) -> int:
        return L.dataset_count(self.handle)

    @property
    def count(self) -> int:
        """Number of examples."""
        return len(self)

    @property
    def example_size(self) -> int:
        """Floats per example, C·H·W."""
        return L.dataset_example_size(self.handle)

    @property
    def shape(self) -> Tuple[int, int, int]:
        """(C, H, W) of one example."""
        c, hh, w = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        check(L.dataset_shape(self.handle, ctypes.byref(c), ctypes.byref(hh), ctypes.byref(w)))
        return c.value, hh.value, w.value

    @property
    def class_count(self) -> int:
        """One more than the largest label (0 if unlabelled)."""
        return L.dataset_class_count(self.handle)

    @property
    def images(self) -> np.ndarray:
        """(n, C, H, W) float32, a read-only view of the library's copy."""
        addr = L.dataset_images(self.handle)
        return np.asarray(_View(addr, (len(self),) + self.shape, "<f4", self._owned))

    @property
    def labels(self) -> Optional[np.ndarray]:
        """(n,) int32 labels (a copy), or None if unlabelled."""
        addr = L.dataset_labels(self.handle)
        if not addr:
            return None
        return np.asarray(_View(addr, (len(self),), "<i4", self._owned)).copy()

    def subset(self, start: int, count: int) -> "Dataset":
        """Examples [start, start+count) as a new data set."""
        h = ctypes.c_void_p()
        check(L.dataset_subset(self.handle, start, count, ctypes.byref(h)))
        return Dataset._wrap(h)

    def select(self, index: Any) -> "Dataset":
        """The examples ``index`` (repeats allowed), in that order, as a new data set."""
        idx = np.asarray(index)
        if idx.size and (idx.dtype.kind not in "iu" or idx.min() < 0):
            raise ValueError("index: non-negative integers expected")
        idx = np.ascontiguousarray(idx, dtype=np.uintp)
        h = ctypes.c_void_p()
        check(L.dataset_select(self.handle, idx.ctypes.data if idx.size else None, idx.size,
                               ctypes.byref(h)))
        return Dataset._wrap(h)

    def permute_labels(self, seed: int = 1) -> None:
        """Replaces the labels by a random permutation of themselves, in place."""
        check(L.dataset_permute_labels(self.handle, seed))

    def __repr__(self) -> str:
        if getattr(self, "_owned", None) is None:
            return "<nnprobe.Dataset (closed)>"
        return "<nnprobe.Dataset %d × %s, %d classes>" % (
            len(self), "×".join(map(str, self.shape)), self.class_count)
