"""Every status code maps to its exception class, carrying nnp_last_error()'s message."""
import ctypes

import numpy as np
import pytest

import nnprobe
from nnprobe import _lib
from nnprobe._core import L, raise_status

from conftest import SHAPE, mlp


def test_class_per_status():
    expected = {1: nnprobe.InvalidArgument, 2: nnprobe.OutOfMemory, 3: nnprobe.FileError,
                4: nnprobe.FormatError, 5: nnprobe.VersionError, 6: nnprobe.Cancelled,
                7: nnprobe.Unsupported, 8: nnprobe.NumericError}
    for status in range(1, nnprobe.status_count()):
        cls = nnprobe.errors.BY_STATUS[status]
        assert cls is expected[status]
        assert issubclass(cls, nnprobe.Error)
        with pytest.raises(cls) as ei:
            raise_status(status)
        assert ei.value.status == status
        assert ei.value.status_name == nnprobe.status_name(status)
    # builtin bases, so that generic handlers catch them too
    assert issubclass(nnprobe.InvalidArgument, ValueError)
    assert issubclass(nnprobe.FileError, OSError)
    assert issubclass(nnprobe.OutOfMemory, MemoryError)
    assert issubclass(nnprobe.Interrupted, KeyboardInterrupt)


def test_unknown_status_is_base_error():
    with pytest.raises(nnprobe.Error) as ei:
        raise_status(1000)
    assert type(ei.value) is nnprobe.Error
    assert ei.value.status_name == "NNP_UNKNOWN"


def test_status_strings():
    assert nnprobe.status_name(1) == "NNP_EINVAL"
    assert nnprobe.status_str(0) != nnprobe.status_str(1)


def test_einval_message():
    net = nnprobe.Net(1, 2, 2)
    with pytest.raises(nnprobe.InvalidArgument) as ei:
        net.add_dense(0)
    assert "nnp_net_add_dense" in str(ei.value) and "units" in str(ei.value)
    assert ei.value.status == 1


def test_eio(tmp_path):
    with pytest.raises(nnprobe.FileError) as ei:
        nnprobe.Net.load(tmp_path / "missing.onnx")
    assert "missing.onnx" in str(ei.value)


def test_eformat():
    with pytest.raises(nnprobe.FormatError):
        nnprobe.Net.from_bytes(b"\xff\xff\xff\xff not a protobuf")


def test_eunsupported(tmp_path):
    net = nnprobe.Net(1, 2, 2)
    net.add_contrast_norm(1.0, 0.5)
    with pytest.raises(nnprobe.Unsupported) as ei:
        net.save(tmp_path / "cn.onnx")
    assert ei.value.status == 7


def test_enumeric(problem):
    xtr, ytr, _, _ = problem
    net = mlp()
    ds = nnprobe.Dataset.from_arrays(xtr[:50], ytr[:50])
    with pytest.raises(nnprobe.NumericError):
        nnprobe.train(net, ds, epochs=5, learning_rate=1e30, momentum=0.0)


def test_eversion():
    """A larger (newer-header) options struct with non-zero extra bytes is refused."""
    class Bigger(ctypes.Structure):
        _fields_ = [("base", _lib.TrainOptsC), ("extra", ctypes.c_uint64)]
    o = Bigger()
    assert L.train_opts_init_sized(ctypes.byref(o), ctypes.sizeof(o)) == 0
    assert o.extra == 0  # init zeroes the fields it does not know
    o.extra = 1
    net = mlp()
    ds = nnprobe.Dataset.from_arrays(np.full((2,) + SHAPE, 0.5, np.float32), [0, 1])
    status = L.train(net.handle, ds.handle, ctypes.byref(o), None)
    with pytest.raises(nnprobe.VersionError) as ei:
        raise_status(status)
    assert "nnp_train_opts" in str(ei.value) or "size" in str(ei.value)


def test_enomem():
    """A workspace too large for any machine."""
    net = mlp()
    with pytest.raises((nnprobe.OutOfMemory, nnprobe.InvalidArgument)) as ei:
        nnprobe.Workspace(net, 1 << 40)
    if isinstance(ei.value, nnprobe.InvalidArgument):
        pytest.skip("library refuses the size as EINVAL before allocating: %s" % ei.value)


def test_ecancelled_in_python():
    net = mlp()
    x = np.full((3,) + SHAPE, 0.5, np.float32)
    with pytest.raises(nnprobe.Cancelled) as ei:
        nnprobe.attack_pgd(net, x, [0, 1, 2], steps=5, progress=lambda d, t: True)
    assert ei.value.partial is not None


def test_unknown_option():
    net = mlp()
    x = np.zeros((1,) + SHAPE, np.float32)
    with pytest.raises(TypeError, match="unknown option 'epsilom'"):
        nnprobe.attack_fgsm(net, x, [0], epsilom=0.1)
    with pytest.raises(ValueError, match="steps = -1 must be >= 0"):
        nnprobe.attack_pgd(net, x, [0], steps=-1)
    with pytest.raises(TypeError, match="integer"):
        nnprobe.attack_pgd(net, x, [0], steps=2.5)
    with pytest.raises(nnprobe.InvalidArgument, match="steps"):
        nnprobe.attack_pgd(net, x, [0], steps=10**7)  # the library's own range check
    nnprobe.attack_pgd(net, x, [0], steps=3.0, seed=np.uint64(5))  # integral values are fine


def test_error_message_is_per_thread():
    """Messages are read on the calling thread right after the call."""
    import threading
    msgs = {}

    def work(k):
        net = nnprobe.Net(1, 1, 1)
        try:
            net.add_dense(0) if k == 0 else net.add_dropout(2.0)
        except nnprobe.InvalidArgument as e:
            msgs[k] = str(e)
    ts = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert "add_dense" in msgs[0] and "dropout" in msgs[1]
