"""Gradient queries against an independent NumPy backward pass."""
import numpy as np
import pytest

import nnprobe

from conftest import CLASSES, SHAPE, numpy_mlp


def numpy_grads(net, x, y):
    z, h, w1, b1, w2, b2 = numpy_mlp(net, x)
    zmax = z.max(1, keepdims=True)
    lse = np.log(np.exp(z - zmax).sum(1)) + zmax[:, 0]
    loss = lse - z[np.arange(len(y)), y]
    p = np.exp(z - lse[:, None])
    p[np.arange(len(y)), y] -= 1
    dh = (p @ w2) * (h > 0)
    return (dh @ w1).reshape(x.shape), loss, z


@pytest.fixture
def batch(problem):
    xtr, ytr, _, _ = problem
    return xtr[:16].copy(), ytr[:16].copy()


def test_grad_loss_matches_numpy(trained, batch):
    x, y = batch
    g = nnprobe.grad_loss(trained, x, y, logits=True)
    dx, loss, z = numpy_grads(trained, x, y)
    np.testing.assert_allclose(g.dx, dx, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g.loss, loss, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g.logits, z, rtol=1e-4, atol=1e-5)
    assert g.dx.shape == x.shape
    g2 = nnprobe.grad_loss(trained, x, y, loss=False)
    assert g2.loss is None and g2.logits is None
    np.testing.assert_array_equal(g2.dx, g.dx)


def test_grad_loss_finite_difference(trained, batch):
    """Independent of any backward pass: central differences of the loss in float64."""
    x, y = batch
    x, y = x[:1].astype(np.float64), y[:1]
    g = nnprobe.grad_loss(trained, x, y).dx.reshape(-1)

    def loss(v):
        _, l, _ = numpy_grads(trained, v.reshape(1, *SHAPE), y)
        return l[0]
    e = 1e-4
    fd = np.array([(loss(x.reshape(-1) + e * np.eye(36)[j]) - loss(x.reshape(-1) - e * np.eye(36)[j]))
                   / (2 * e) for j in range(36)])
    np.testing.assert_allclose(g, fd, rtol=1e-3, atol=1e-4)


def test_grad_unit_and_vjp(trained, batch):
    x, _ = batch
    z, h, w1, b1, w2, b2 = numpy_mlp(trained, x)
    for layer, unit in ((3, 2), (1, 5), (-1, 0)):
        r = nnprobe.grad_unit(trained, x, layer, unit)
        L = layer % trained.layer_count
        if L == 1:
            ref = np.tile(w1[unit], (len(x), 1))
            val = h[:, unit]
        else:
            ref = (w2[unit] * (h > 0)) @ w1
            val = z[:, unit]
        np.testing.assert_allclose(r.dx.reshape(len(x), -1), ref, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(r.value, val, rtol=1e-4, atol=1e-5)
        # the VJP with the basis vector is the same gradient
        v = np.zeros((len(x), trained.layer_info(L).output_size), np.float32)
        v[:, unit] = 1
        np.testing.assert_allclose(nnprobe.grad_vjp(trained, x, L, v), r.dx, rtol=1e-6,
                                   atol=1e-7)
    # VJP at the logits with softmax − onehot is the loss gradient
    y = np.argmax(z, 1)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    np.testing.assert_allclose(nnprobe.grad_vjp(trained, x, 3, p),
                               nnprobe.grad_loss(trained, x, y).dx, rtol=1e-3, atol=1e-6)
    assert nnprobe.grad_unit(trained, x, 3, 0, value=False).value is None
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.grad_unit(trained, x, 3, CLASSES)
    with pytest.raises(ValueError):
        nnprobe.grad_vjp(trained, x, 3, np.zeros(3, np.float32))


def test_grad_no_copy_and_workspace(trained, batch):
    x, y = batch
    out = np.empty_like(x)
    with nnprobe.Workspace(trained, 16) as ws:
        g = nnprobe.grad_loss(trained, x, y, ws=ws, out=out)
        assert g.dx.ctypes.data == out.ctypes.data
        u = nnprobe.grad_unit(trained, x, 3, 1, ws=ws, out=out)
        assert u.dx.ctypes.data == out.ctypes.data
        v = nnprobe.grad_vjp(trained, x, 3, np.ones((16, CLASSES), np.float32), ws=ws, out=out)
        assert v.ctypes.data == out.ctypes.data
    g2 = nnprobe.grad_loss(trained, x, y.astype(np.int64))  # labels converted
    np.testing.assert_array_equal(g2.dx, nnprobe.grad_loss(trained, x, y).dx)


def test_grad_errors(trained, batch):
    x, y = batch
    with pytest.raises(nnprobe.InvalidArgument):
        bad = y.copy()
        bad[3] = CLASSES
        nnprobe.grad_loss(trained, x, bad)
    with pytest.raises(ValueError):
        nnprobe.grad_loss(trained, x, y[:3])
    with pytest.raises(TypeError):
        nnprobe.grad_loss(trained, x, y + 0.5)
    with pytest.raises(ValueError):
        nnprobe.grad_loss(trained, x, y.astype(np.int64) + 2**40)
