"""Evaluation helpers against NumPy."""
import numpy as np
import pytest

import nnprobe

from conftest import CLASSES, mlp


def test_error_rate_matches_numpy(trained, problem):
    _, _, x, y = problem
    r = nnprobe.error_rate(trained, x, y)
    z = trained(x).astype(np.float64)
    assert r.error_rate == pytest.approx(np.mean(np.argmax(z, 1) != y))
    zmax = z.max(1)
    lse = np.log(np.exp(z - zmax[:, None]).sum(1)) + zmax
    assert r.mean_loss == pytest.approx(np.mean(lse - z[np.arange(len(y)), y]), rel=1e-5)
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.error_rate(trained, x, np.full(len(y), CLASSES))


def test_transfer_matrix(trained, problem):
    _, _, x, y = problem
    other = mlp(seed=99)
    noisy = nnprobe.noise_gaussian(x, 0.3, seed=2)
    m = nnprobe.transfer_matrix([trained, other], [x, noisy], y)
    assert m.shape == (2, 2)
    for s, xs in enumerate([x, noisy]):
        for k, net in enumerate([trained, other]):
            assert m[s, k] == pytest.approx(nnprobe.error_rate(net, xs, y).error_rate)
    with pytest.raises(ValueError):
        nnprobe.transfer_matrix([trained], [x, x[:3]], y)
    wide = nnprobe.Net(1, 6, 6)
    wide.add_dense(CLASSES + 1)
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.transfer_matrix([trained, wide], [x], y)


def test_noise_gaussian():
    x = np.full((200, 50), 0.5, np.float32)
    a = nnprobe.noise_gaussian(x, 0.05, seed=1)
    b = nnprobe.noise_gaussian(x, 0.05, seed=1)
    c = nnprobe.noise_gaussian(x, 0.05, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.std(a - x) == pytest.approx(0.05, rel=0.05) and abs(np.mean(a - x)) < 0.005
    edge = nnprobe.noise_gaussian(np.zeros(1000, np.float32), 0.5, seed=3)
    assert edge.min() == 0 and edge.max() <= 1 and (edge == 0).mean() > 0.4
    y = x.copy()
    r = nnprobe.noise_gaussian(y, 0.05, seed=1, out=y)  # in place
    assert r is y
    np.testing.assert_array_equal(y, a)
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.noise_gaussian(x, -1.0)


def test_perturbation_rescale():
    rng = np.random.default_rng(0)
    x = np.full((4, 30), 0.5, np.float32)
    xa = (x + rng.normal(0, 0.01, x.shape)).astype(np.float32)
    xa[2] = x[2]  # zero perturbation: copied
    out = nnprobe.perturbation_rescale(x, xa, 0.05)
    r = (out.astype(np.float64) - x)
    rms = np.sqrt((r ** 2).mean(1))
    np.testing.assert_allclose(rms[[0, 1, 3]], 0.05, rtol=1e-4)
    np.testing.assert_array_equal(out[2], x[2])
    # the direction is kept
    d0 = (xa[0] - x[0]) / np.linalg.norm(xa[0] - x[0])
    np.testing.assert_allclose(r[0] / np.linalg.norm(r[0]), d0, atol=1e-4)
    same = xa.copy()
    assert nnprobe.perturbation_rescale(x, same, 0.05, out=same) is same
    with pytest.raises(ValueError):
        nnprobe.perturbation_rescale(x, xa[:2], 0.1)
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.perturbation_rescale(x, xa, -0.1)
