"""Lipschitz bounds against NumPy's singular values and Jacobians."""
import numpy as np
import pytest

import nnprobe
from nnprobe import LayerKind

from conftest import SHAPE, numpy_mlp


def test_bounds_match_numpy(trained):
    info = nnprobe.lipschitz_bounds(trained)
    assert info.dtype == nnprobe.INFO_DTYPE and len(info) == trained.layer_count
    w1 = trained.get_params(1)[0].astype(np.float64)
    w2 = trained.get_params(3)[0].astype(np.float64)
    s1, s2 = np.linalg.norm(w1, 2), np.linalg.norm(w2, 2)
    assert list(info["kind"]) == [LayerKind.INPUT, LayerKind.DENSE, LayerKind.RELU,
                                  LayerKind.DENSE]
    assert info["bound"][0] == 1 and info["bound"][2] == 1
    np.testing.assert_allclose(info["bound"][[1, 3]], [s1, s2], rtol=1e-5)
    np.testing.assert_allclose(info["exact"][[1, 3]], [s1, s2], rtol=1e-5)
    assert np.isnan(info["exact"][2])
    assert info["converged"][1] == 1
    np.testing.assert_allclose(info["upper_to"][-1], s1 * s2, rtol=1e-5)
    np.testing.assert_allclose(info["upper_to_exact"][-1], s1 * s2, rtol=1e-5)


def test_bounds_options_and_progress():
    net = nnprobe.Net(2, 8, 8)
    net.add_conv2d(3, kernel=3, pad=1)
    net.add_relu()
    net.add_maxpool2d()
    net.add_dense(4)
    net.init_params(3)
    seen = []
    full = nnprobe.lipschitz_bounds(net, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert full["grid_h"][1] > 0 and full["bound"][1] >= full["exact"][1] * (1 - 1e-4)
    no_paper = nnprobe.lipschitz_bounds(net, paper_bound=False)
    assert np.isnan(no_paper["bound"][1])
    np.testing.assert_allclose(no_paper["exact"][1], full["exact"][1], rtol=1e-4)
    no_exact = nnprobe.lipschitz_bounds(net, exact=0)
    assert np.isnan(no_exact["exact"][1])
    with pytest.raises(nnprobe.Cancelled):
        nnprobe.lipschitz_bounds(net, progress=lambda d, t: True)
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.lipschitz_bounds(net, tol=0.5)
    assert nnprobe.lipschitz_defaults()["max_iter"] == 1000


def test_lower_matches_jacobian_norms(trained, problem):
    x = problem[2][:6]
    lo = nnprobe.lipschitz_lower(trained, x, power_iters=200, tol=1e-9)
    _, h, w1, _, w2, _ = numpy_mlp(trained, x)
    ref = np.array([np.linalg.norm(w2 @ (w1 * (hi > 0)[:, None]), 2) for hi in h])
    np.testing.assert_allclose(lo.norms, ref, rtol=1e-4)
    assert lo.argmax == int(np.argmax(ref)) and lo.lower == pytest.approx(ref.max(), rel=1e-4)
    up = nnprobe.lipschitz_bounds(trained)["upper_to"][-1]
    assert lo.lower <= up * (1 + 1e-6)
    first = nnprobe.lipschitz_lower(trained, x, layer=1)
    np.testing.assert_allclose(first.norms, np.linalg.norm(w1, 2), rtol=1e-4)
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.lipschitz_lower(trained, x, layer=0)


def test_clever(trained, problem):
    x, y = problem[2][0], int(problem[3][0])
    t = (y + 1) % 5
    c = nnprobe.lipschitz_clever(trained, x, y, t, 0.5, clever_batches=10,
                                 clever_samples=32, seed=3)
    up = nnprobe.lipschitz_bounds(trained)["upper_to"][-1]
    assert 0 < c.max_sampled <= np.sqrt(2) * up
    assert np.isfinite(c.estimate) and c.estimate > 0
    assert 0 <= c.score <= 0.5
    again = nnprobe.lipschitz_clever(trained, x, y, t, 0.5, clever_batches=10,
                                     clever_samples=32, seed=3)
    assert again == c
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.lipschitz_clever(trained, x, y, y, 0.5)
    with pytest.raises(ValueError):
        nnprobe.lipschitz_clever(trained, np.zeros((2,) + SHAPE, np.float32), y, t, 0.5)
