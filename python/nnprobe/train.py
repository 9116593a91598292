"""Training (``train.h``): minibatch SGD with momentum and per-layer weight decay."""
from __future__ import annotations

import ctypes
from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy as np

from . import _lib
from ._core import L, ProgressFn, defaults_of, make_opts, run_with_progress
from .dataset import Dataset
from .net import Net

LOSSES = {"softmax_xent": 0, "xent": 0, "mse": 1}
DECAY_MODES = {"sum": 0, "per_unit": 1}


def train_defaults() -> Dict[str, Any]:
    """The C defaults of ``nnp_train_opts`` (from ``nnp_train_opts_init_sized``)."""
    return defaults_of(_lib.TrainOptsC, L.train_opts_init_sized)


BatchHook = Callable[[Net, np.ndarray, np.ndarray, int], Any]


def train(net: Net, data: Dataset, *, weight_decay: Union[None, float, Sequence[float]] = None,
          progress: Optional[ProgressFn] = None, batch_hook: Optional[BatchHook] = None,
          **opts: Any) -> Optional[float]:
    """Trains ``net`` in place on ``data`` (``nnp_train``); returns the mean loss of the last
    completed epoch (None if none completed).

    Keyword options are ``nnp_train_opts`` fields with the C defaults (see
    :func:`train_defaults`): epochs, batch_size, learning_rate, momentum, lr_decay,
    loss ("softmax_xent" or "mse"), decay_mode ("sum" or "per_unit"),
    first_trainable_layer, seed, dropout (1: inverted dropout at the dropout layers while
    training). ``weight_decay`` is one λ for every dense and convolution
    layer or one per such layer. ``progress(step, total_steps)`` is called after each step;
    a truthy return cancels (Cancelled; the net keeps the parameters after the last
    completed step). Ctrl-C cancels likewise and raises :class:`~nnprobe.Interrupted`.

    ``batch_hook(net, x, labels, step)`` is called before each step with that step's
    minibatch as NumPy views of the library's copies (x: (n,) + input shape float32, labels:
    (n,) int32), which it may rewrite in place, e.g. to mix in adversarial examples computed
    on ``net`` (read-only there: it holds the current parameters). The views are valid only
    during the call. A truthy return cancels (Cancelled); an exception in the hook cancels
    and is re-raised.
    """
    if isinstance(opts.get("loss"), str):
        opts["loss"] = LOSSES[opts["loss"]]
    if isinstance(opts.get("decay_mode"), str):
        opts["decay_mode"] = DECAY_MODES[opts["decay_mode"]]
    o = make_opts(_lib.TrainOptsC, L.train_opts_init_sized, opts, "train")
    wd = None
    if weight_decay is not None:
        wd = np.ascontiguousarray(np.atleast_1d(np.asarray(weight_decay, dtype=np.float64)))
        o.weight_decay = wd.ctypes.data_as(_lib.c_double_p)
        o.n_weight_decay = wd.size
    final = ctypes.c_double(float("nan"))
    hook_error: list = []
    c_hook = None
    if batch_hook is not None:
        shape = net.input_shape

        def trampoline(_net, x_p, y_p, n, step, _user):
            try:
                x = np.ctypeslib.as_array(x_p, shape=(n,) + tuple(shape))
                y = np.ctypeslib.as_array(y_p, shape=(n,))
                return 1 if batch_hook(net, x, y, int(step)) else 0
            except BaseException as e:  # noqa: B902 - handed back to the caller below
                hook_error.append(e)
                return 1

        c_hook = _lib.TRAIN_BATCH_FN(trampoline)
        o.batch_hook = c_hook

    def call() -> int:
        return L.train(net.handle, data.handle, ctypes.byref(o), ctypes.byref(final))

    try:
        run_with_progress(call, o, progress,
                          partial=lambda status: None if final.value != final.value else final.value)
    except Exception:
        if hook_error:
            raise hook_error[0]
        raise
    del wd, c_hook  # kept alive until here: the C struct points into them
    return None if final.value != final.value else final.value
