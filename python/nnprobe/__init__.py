"""nnprobe: Python binding of libnnprobe, the C library that probes trained neural networks
as in Szegedy et al. (2013), "Intriguing properties of neural networks".

The C library does the work; this package passes NumPy arrays to it through its C ABI
(ctypes). float32 C-contiguous arrays are passed without copies; other dtypes and layouts
are converted once. Long calls release the GIL; progress callbacks are Python callables,
and Ctrl-C cancels a long call cleanly (:class:`Interrupted`, with partial results).

The library is found through ``NNPROBE_LIBRARY`` (a file), then
``pkg-config --variable=libdir nnprobe``, then the dynamic loader's path; one with an ABI
this package does not know is refused. See ``docs/python.md``.
"""
from __future__ import annotations

from . import _lib
from ._core import L as _L
from ._core import check as _check
from .attack import (RESULT_DTYPE, AttackResult, attack, attack_cw, attack_deepfool,
                     attack_defaults, attack_fgsm, attack_lbfgs, attack_pgd)
from .dataset import Dataset
from .errors import (Cancelled, Error, FileError, FormatError, Interrupted, InvalidArgument,
                     NumericError, OutOfMemory, Unsupported, VersionError)
from .evaluation import ErrorRate, error_rate, noise_gaussian, perturbation_rescale, \
    transfer_matrix
from .grad import LossGrad, UnitGrad, grad_loss, grad_unit, grad_vjp
from .lipschitz import (INFO_DTYPE, Clever, LowerBound, lipschitz_bounds, lipschitz_clever,
                        lipschitz_defaults, lipschitz_lower)
from .maxact import (OptimiseResult, SearchResult, directions_random, directions_unit,
                     maxact_optimise, maxact_search, optimise_defaults, search_defaults)
from .net import LayerInfo, LayerKind, Net, Workspace, layer_kind_name
from .train import train, train_defaults

__version__ = "0.2.0"

#: The C library's release, e.g. "0.2.0" (``nnp_version_string``).
library_version: str = _L.release_string
#: MAJOR*10000 + MINOR*100 + PATCH of the C library (``nnp_version_number``).
library_version_number: int = _L.release_number
#: The ABI number of the loaded library (its SONAME's last component).
library_abi: int = _L.abi
#: The ABI numbers this binding knows (a library with another SONAME is refused).
KNOWN_ABIS = _lib.KNOWN_ABIS
#: The file or loader name the library was loaded from, and how it was found.
library_path: str = _L.path
library_origin: str = _L.origin


def status_name(status: int) -> str:
    """``nnp_status_name``: "NNP_EINVAL" etc.; "NNP_UNKNOWN" for unknown values."""
    return _L.status_name(status).decode()


def status_str(status: int) -> str:
    """``nnp_status_str``: "invalid argument" etc."""
    return _L.status_str(status).decode()


def status_count() -> int:
    """``nnp_status_count``: one past the largest status code."""
    return _L.status_count()


def threads_set(count: int = 0) -> None:
    """``nnp_threads_set``: threads every later call of the library uses (its own loops and
    the BLAS); 0 restores the default (``NNPROBE_THREADS``, else every CPU)."""
    _check(_L.threads_set(count))


def threads_get() -> int:
    """``nnp_threads_get``: the number of threads the library's calls use now."""
    return _L.threads_get()


def layer_kind_count() -> int:
    """``nnp_layer_kind_count``: one past the largest layer kind."""
    return _L.layer_kind_count()


__all__ = [
    "AttackResult", "Cancelled", "Clever", "Dataset", "Error", "ErrorRate", "FileError",
    "FormatError", "INFO_DTYPE", "Interrupted", "InvalidArgument", "LayerInfo", "LayerKind",
    "LossGrad", "LowerBound", "Net", "NumericError", "OptimiseResult", "OutOfMemory",
    "RESULT_DTYPE", "SearchResult", "UnitGrad", "Unsupported", "VersionError", "Workspace",
    "attack", "attack_cw", "attack_deepfool", "attack_defaults", "attack_fgsm",
    "attack_lbfgs", "attack_pgd", "directions_random", "directions_unit", "error_rate",
    "grad_loss", "grad_unit", "grad_vjp", "layer_kind_count", "layer_kind_name",
    "library_abi", "library_origin", "library_path", "library_version",
    "library_version_number", "lipschitz_bounds", "lipschitz_clever", "lipschitz_defaults",
    "lipschitz_lower", "maxact_optimise", "maxact_search", "noise_gaussian",
    "optimise_defaults", "perturbation_rescale", "search_defaults", "status_count",
    "status_name", "status_str", "threads_get", "threads_set", "train", "train_defaults", "transfer_matrix",
]
