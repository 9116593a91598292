"""Shared fixtures: a small synthetic classification problem, a net trained on it, paths.

The library is the one named by NNPROBE_LIBRARY (scripts/run-tests sets it to the freshly
built one); when unset, a build/ tree next to python/ is used if it exists, else the
package's normal discovery (pkg-config, loader path).
"""
import os
import shutil
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))

if not os.environ.get("NNPROBE_LIBRARY"):
    _default = os.path.join(REPO, "build", "libnnprobe.so.0")
    if os.path.exists(_default):
        os.environ["NNPROBE_LIBRARY"] = _default
else:  # child processes of the tests run in other directories
    os.environ["NNPROBE_LIBRARY"] = os.path.abspath(os.environ["NNPROBE_LIBRARY"])

import nnprobe  # noqa: E402

CLASSES = 5
SHAPE = (1, 6, 6)
D = 36


def library_dir():
    p = nnprobe.library_path
    return os.path.dirname(os.path.realpath(p)) if os.path.sep in p else None


@pytest.fixture(scope="session")
def build_dir():
    """The CMake build tree of the library under test, if it is one (for the examples)."""
    d = os.environ.get("NNPROBE_BUILD_DIR") or library_dir()
    if not d or not os.path.exists(os.path.join(d, "CMakeCache.txt")):
        pytest.skip("the library under test is not in a CMake build tree "
                    "(set NNPROBE_BUILD_DIR); example programs unavailable")
    return d


@pytest.fixture(scope="session")
def include_dirs():
    """Header directories of the library under test: NNPROBE_INCLUDE_DIRS (':'-separated),
    else the source tree's include/ plus the build tree's generated include/."""
    env = os.environ.get("NNPROBE_INCLUDE_DIRS")
    if env:
        return env.split(os.pathsep)
    dirs = [os.path.join(REPO, "include")]
    lib = library_dir()
    if lib and os.path.exists(os.path.join(lib, "include", "nnprobe", "version.h")):
        dirs.append(os.path.join(lib, "include"))
    if not os.path.exists(os.path.join(dirs[-1], "nnprobe", "version.h")):
        pytest.skip("generated nnprobe/version.h not found; set NNPROBE_INCLUDE_DIRS")
    return dirs


@pytest.fixture(scope="session")
def cc():
    c = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not c:
        pytest.skip("no C compiler (cc) to compile the header checks")
    return c


def make_problem(n, seed):
    """n examples of CLASSES classes: a fixed template per class plus noise, in [0,1]."""
    templates = np.random.default_rng(12345).random((CLASSES,) + SHAPE)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n).astype(np.int32)
    x = 0.7 * templates[y] + 0.3 * rng.random((n,) + SHAPE)
    return x.astype(np.float32), y


@pytest.fixture(scope="session")
def problem():
    """(x_train, y_train, x_test, y_test)."""
    xtr, ytr = make_problem(400, 1)
    xte, yte = make_problem(40, 2)
    return xtr, ytr, xte, yte


def mlp(seed=7, hidden=24):
    net = nnprobe.Net(*SHAPE)
    net.add_dense(hidden)
    net.add_relu()
    net.add_dense(CLASSES)
    net.init_params(seed)
    return net


@pytest.fixture(scope="session")
def trained(problem):
    """A 36-24-5 ReLU net trained on the synthetic problem (read-only: do not modify)."""
    xtr, ytr, xte, yte = problem
    net = mlp()
    ds = nnprobe.Dataset.from_arrays(xtr, ytr)
    nnprobe.train(net, ds, epochs=15, batch_size=20, learning_rate=0.05)
    err = nnprobe.error_rate(net, xte, yte).error_rate
    assert err < 0.2, "fixture net did not learn (test error %g)" % err
    return net


@pytest.fixture
def net():
    """A fresh untrained 36-24-5 net the test may modify."""
    return mlp()


def numpy_mlp(net, x):
    """Reference forward pass of a dense-ReLU-dense net from its parameters, in float64:
    returns (logits, hidden pre-activation, W1, b1, W2, b2)."""
    w1, b1 = (a.astype(np.float64) for a in net.get_params(1))
    w2, b2 = (a.astype(np.float64) for a in net.get_params(3))
    h = x.reshape(len(x), -1).astype(np.float64) @ w1.T + b1
    z = np.maximum(h, 0) @ w2.T + b2
    return z, h, w1, b1, w2, b2
