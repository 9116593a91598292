"""Shared machinery (internal): status checking, array conversion, options, progress and
Ctrl-C handling."""
from __future__ import annotations

import ctypes
import math
import signal
import threading
from typing import Any, Callable, Dict, Optional, Tuple, Type

import numpy as np

from . import _lib
from .errors import BY_STATUS, Cancelled, Error, Interrupted

L = _lib.load()

ProgressFn = Callable[[int, int], Any]


def raise_status(status: int, partial: Any = None) -> None:
    """Raises the exception of a non-zero status, with nnp_last_error()'s message (read
    first, on the calling thread, before anything else can call the library)."""
    msg = L.last_error()
    text = msg.decode("utf-8", "replace") if msg else ""
    name = L.status_name(status).decode()
    cls = BY_STATUS.get(status, Error)
    raise cls(text or name, status=status, status_name=name, partial=partial)


def check(status: int) -> None:
    if status:
        raise_status(status)


# ---------------------------------------------------------------- arrays

def f32(a: Any, name: str = "array") -> np.ndarray:
    """``a`` as a C-contiguous float32 array: the same object when it already is one (no
    copy), else one converted copy."""
    if type(a) is np.ndarray and a.dtype == np.float32 and a.flags.c_contiguous:
        return a
    arr = np.ascontiguousarray(a, dtype=np.float32)
    if arr.dtype != np.float32:  # pragma: no cover - ascontiguousarray guarantees it
        raise TypeError("%s: cannot convert to float32" % name)
    return arr


def i32(a: Any, name: str = "labels") -> np.ndarray:
    """``a`` as a C-contiguous int32 array (no copy if it already is one). Values that do
    not fit int32 (or are not integral) are refused rather than wrapped."""
    if type(a) is np.ndarray and a.dtype == np.int32 and a.flags.c_contiguous:
        return a
    arr = np.asarray(a)
    if arr.dtype.kind not in "iub":
        if arr.size and not np.all(np.isfinite(arr)) or arr.size and np.any(arr != np.round(arr)):
            raise TypeError("%s: integers expected" % name)
    if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
        raise ValueError("%s: values do not fit int32" % name)
    return np.ascontiguousarray(arr, dtype=np.int32)


def out_array(out: Optional[np.ndarray], shape: Tuple[int, ...], dtype: Any,
              name: str = "out") -> np.ndarray:
    """A caller's output array (checked: dtype, C-contiguity, size, writeable) or a new one.
    The C function writes straight into it."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError("%s: a numpy array expected" % name)
    if out.dtype != dtype:
        raise TypeError("%s: dtype %s expected, got %s" % (name, np.dtype(dtype), out.dtype))
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("%s: must be C-contiguous and writeable" % name)
    need = math.prod(shape)
    if out.size != need:
        raise ValueError("%s: %d elements expected, got %d" % (name, need, out.size))
    return out


def ptr(a: Optional[np.ndarray]) -> Optional[int]:
    """Address of an array's data (None for None)."""
    return None if a is None else a.ctypes.data


def batch_of(x: np.ndarray, per_example: int, name: str = "x") -> int:
    """Number of examples in a batch-major array of ``per_example`` values per example."""
    if x.size == 0 or per_example == 0 or x.size % per_example:
        raise ValueError("%s: %d values is not a positive multiple of %d values per example"
                         % (name, x.size, per_example))
    return x.size // per_example


# ---------------------------------------------------------------- options

def make_opts(cls: Type[ctypes.Structure], init: Any, kwargs: Dict[str, Any],
              what: str) -> ctypes.Structure:
    """An options struct filled by its ``_init_sized`` function (the C defaults), then the
    keyword arguments, each of which must name a field."""
    o = cls()
    check(init(ctypes.byref(o), ctypes.sizeof(o)))
    types = {f[0]: f[1] for f in cls._fields_}
    names = set(types) - {"size", "progress", "progress_user", "batch_hook", "batch_hook_user"}
    for k, v in kwargs.items():
        if k not in names:
            raise TypeError("%s: unknown option %r (options: %s)"
                            % (what, k, ", ".join(sorted(names))))
        if isinstance(v, bool):
            v = int(v)
        if types[k] in (ctypes.c_size_t, ctypes.c_uint64):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if not isinstance(v, (int, np.integer)):
                raise TypeError("%s: option %s takes an integer, not %r" % (what, k, v))
            if v < 0:  # ctypes would wrap it to a huge unsigned value
                raise ValueError("%s: option %s = %d must be >= 0" % (what, k, v))
            v = int(v)
        setattr(o, k, v)
    return o


def defaults_of(cls: Type[ctypes.Structure], init: Any) -> Dict[str, Any]:
    """The C defaults of an options struct as a dict (pointer and callback fields left out)."""
    o = cls()
    check(init(ctypes.byref(o), ctypes.sizeof(o)))
    out = {}
    for name, typ in cls._fields_:
        if name in ("size", "progress", "progress_user") or issubclass(
                typ, (ctypes._Pointer, ctypes._CFuncPtr)):
            continue
        out[name] = getattr(o, name)
    return out


# ---------------------------------------------------------------- progress and Ctrl-C

class Progress:
    """Installs a progress callback into an options struct for the duration of one call.

    The C library calls it on the calling thread; it runs ``user(done, total)`` (a truthy
    return cancels) and checks a Ctrl-C flag. On the main thread, SIGINT is redirected
    during the call to a handler that only sets that flag, so Ctrl-C cancels the C call at
    its next progress report instead of being lost in the callback; the previous handler is
    restored afterwards and :class:`Interrupted` (a KeyboardInterrupt) raised.
    """

    def __init__(self, user: Optional[ProgressFn]):
        self.user = user
        self.interrupted = False
        self.exc: Optional[BaseException] = None
        self._old_handler: Any = None
        self._installed = False
        self.cfunc = _lib.PROGRESS_FN(self._call)

    def _call(self, done: int, total: int, _user: Any) -> int:
        try:
            if self.interrupted:
                return 1
            if self.user is not None:
                return 1 if self.user(int(done), int(total)) else 0
            return 0
        except KeyboardInterrupt:
            self.interrupted = True
            return 1
        except BaseException as e:  # noqa: BLE001 - re-raised after the C call
            self.exc = e
            return 1

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.interrupted = True

    def attach(self, opts: ctypes.Structure) -> None:
        opts.progress = self.cfunc
        opts.progress_user = None

    def __enter__(self) -> "Progress":
        if threading.current_thread() is threading.main_thread():
            try:
                self._old_handler = signal.getsignal(signal.SIGINT)
                if self._old_handler is signal.default_int_handler:
                    signal.signal(signal.SIGINT, self._on_sigint)
                    self._installed = True
            except (ValueError, TypeError):  # pragma: no cover - e.g. embedded interpreters
                self._installed = False
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._old_handler)
            self._installed = False


def run_with_progress(fn: Callable[[], int], opts: ctypes.Structure,
                      progress: Optional[ProgressFn],
                      partial: Callable[[int], Any] = lambda status: None) -> None:
    """Calls ``fn()`` (a C call using ``opts``) with a progress callback installed.
    ``partial(status)`` gives the results to attach to Cancelled/Interrupted: after a
    cancellation (status NNP_ECANCELLED) what the C function documents as left, or after a
    Ctrl-C that came too late to cancel (status 0) the complete results."""
    pr = Progress(progress)
    pr.attach(opts)
    with pr:
        status = fn()
    if status == 0 and pr.exc is not None:
        raise pr.exc  # the callback failed after the call's last cancellation point
    if status == 0 and pr.interrupted:
        # Ctrl-C came after the last progress report: the call completed; deliver the
        # interrupt now, with the complete results attached.
        raise Interrupted("interrupted (Ctrl-C) after the call completed", partial(status))
    if status:
        # read the error message before anything else touches the library on this thread
        msg = L.last_error()
        part = partial(status) if status == 6 else None
        if status == 6 and pr.exc is not None:
            raise pr.exc
        if status == 6 and pr.interrupted:
            raise Interrupted("interrupted (Ctrl-C): the call was cancelled", part)
        name = L.status_name(status).decode()
        cls = BY_STATUS.get(status, Error)
        text = msg.decode("utf-8", "replace") if msg else name
        raise cls(text, status=status, status_name=name, partial=part)


__all__ = ["Cancelled", "Error", "Interrupted"]
