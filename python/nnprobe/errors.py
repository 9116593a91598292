"""Exceptions: one class per ``nnp_status`` code, all under :class:`Error`."""
from __future__ import annotations

from typing import Any, Dict, Optional, Type


class Error(Exception):
    """A libnnprobe call failed.

    Attributes:
        status: the ``nnp_status`` code (an int, pinned in ``status.h``).
        status_name: its symbolic name, e.g. ``"NNP_EINVAL"``.
        message: ``nnp_last_error()``'s text, naming the function and the argument at fault.
        partial: partial results the C call left (see :class:`Cancelled`), else None.
    """

    status = -1

    def __init__(self, message: str, status: Optional[int] = None,
                 status_name: str = "", partial: Any = None):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.status_name = status_name
        self.message = message
        self.partial = partial


class InvalidArgument(Error, ValueError):
    """``NNP_EINVAL``: a NULL pointer, an index, size or option value out of range."""
    status = 1


class OutOfMemory(Error, MemoryError):
    """``NNP_ENOMEM``: memory allocation failed."""
    status = 2


class FileError(Error, OSError):
    """``NNP_EIO``: a file could not be opened, read or written."""
    status = 3


class FormatError(Error, ValueError):
    """``NNP_EFORMAT``: malformed input file or buffer (ONNX, IDX)."""
    status = 4


class VersionError(Error):
    """``NNP_EVERSION``: an options struct from a newer header with non-zero extra fields."""
    status = 5


class Cancelled(Error):
    """``NNP_ECANCELLED``: a progress callback asked to stop.

    ``partial`` holds what the C function documents as left after a cancellation (e.g. an
    :class:`~nnprobe.AttackResult` whose ``finished`` says which examples are complete), or
    None where the C API leaves nothing usable.
    """
    status = 6


class Unsupported(Error, NotImplementedError):
    """``NNP_EUNSUPPORTED``: a valid request the library does not implement (e.g. an ONNX
    operator)."""
    status = 7


class NumericError(Error, ArithmeticError):
    """``NNP_ENUMERIC``: a computation produced NaN or infinity."""
    status = 8


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during a long call: the call was cancelled through its progress
    callback and returned; ``partial`` holds its partial results as for :class:`Cancelled`.

    A subclass of KeyboardInterrupt, so code that does not care behaves as with any Ctrl-C.
    """

    def __init__(self, message: str = "interrupted", partial: Any = None):
        super().__init__(message)
        self.partial = partial


#: status code -> exception class
BY_STATUS: Dict[int, Type[Error]] = {
    cls.status: cls for cls in (InvalidArgument, OutOfMemory, FileError, FormatError,
                                VersionError, Cancelled, Unsupported, NumericError)
}
