"""Training: it learns, is deterministic, reports progress, cancels."""
import numpy as np
import pytest

import nnprobe

from conftest import mlp


@pytest.fixture
def data(problem):
    xtr, ytr, _, _ = problem
    return nnprobe.Dataset.from_arrays(xtr, ytr)


def test_defaults_from_c():
    d = nnprobe.train_defaults()
    # the values documented in train.h
    assert d["epochs"] == 10 and d["batch_size"] == 100
    assert d["learning_rate"] == pytest.approx(0.1) and d["momentum"] == pytest.approx(0.9)
    assert d["lr_decay"] == 1 and d["loss"] == 0 and d["decay_mode"] == 0 and d["seed"] == 1
    assert "weight_decay" not in d


def test_train_learns_and_is_deterministic(data, problem):
    _, _, xte, yte = problem
    a, b = mlp(), mlp()
    before = nnprobe.error_rate(a, xte, yte)
    la = nnprobe.train(a, data, epochs=5, batch_size=25, learning_rate=0.05, seed=3)
    lb = nnprobe.train(b, data, epochs=5, batch_size=25, learning_rate=0.05, seed=3)
    after = nnprobe.error_rate(a, xte, yte)
    assert after.mean_loss < before.mean_loss and after.error_rate < 0.5
    assert la == lb and la is not None
    np.testing.assert_array_equal(a.get_params(1)[0], b.get_params(1)[0])


def test_progress_and_cancel(data):
    calls = []
    net = mlp()
    nnprobe.train(net, data, epochs=2, batch_size=100, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 8) for i in range(1, 9)]
    net = mlp()
    w0 = net.get_params(1)[0]
    with pytest.raises(nnprobe.Cancelled):
        nnprobe.train(net, data, epochs=2, batch_size=100, progress=lambda d, t: d >= 3)
    assert not np.array_equal(net.get_params(1)[0], w0)  # 3 steps were taken


def test_progress_exception_propagates(data):
    def boom(d, t):
        raise RuntimeError("from the callback")
    with pytest.raises(RuntimeError, match="from the callback"):
        nnprobe.train(mlp(), data, epochs=1, progress=boom)


def test_weight_decay_and_modes(data):
    plain, decayed, per_layer = mlp(), mlp(), mlp()
    kw = dict(epochs=3, batch_size=50, learning_rate=0.05)
    nnprobe.train(plain, data, **kw)
    nnprobe.train(decayed, data, weight_decay=0.05, **kw)
    nnprobe.train(per_layer, data, weight_decay=[0.05, 0.05], decay_mode="sum", **kw)
    n = lambda m: np.linalg.norm(m.get_params(1)[0])  # noqa: E731
    assert n(decayed) < n(plain)
    np.testing.assert_array_equal(decayed.get_params(1)[0], per_layer.get_params(1)[0])
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.train(mlp(), data, weight_decay=[0.1, 0.1, 0.1], **kw)
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.train(mlp(), data, epochs=0)


def test_mse_autoencoder_and_frozen_layers(problem):
    xtr = problem[0][:100]
    ae = nnprobe.Net(1, 6, 6)
    ae.add_dense(8)
    ae.add_activation("sigmoid")
    ae.add_dense(36)
    ae.init_params(2)
    ds = nnprobe.Dataset.from_arrays(xtr)
    w1 = ae.get_params(1)[0]
    nnprobe.train(ae, ds, loss="mse", epochs=2, batch_size=20, learning_rate=0.01,
                  first_trainable_layer=3)
    np.testing.assert_array_equal(ae.get_params(1)[0], w1)  # frozen
    r = ae(xtr)
    assert r.shape == (100, 36)


def test_batch_hook_sees_every_example_and_rewrites_batches(data, problem):
    xtr, ytr, _, _ = problem
    seen_steps, seen_labels = [], []

    def record(net, x, labels, step):
        assert x.dtype == np.float32 and x.shape[1:] == xtr.shape[1:]
        seen_steps.append(step)
        seen_labels.extend(labels.tolist())

    nnprobe.train(mlp(), data, epochs=1, batch_size=100, batch_hook=record)
    assert seen_steps == [0, 1, 2, 3]
    assert sorted(seen_labels) == sorted(ytr.tolist())  # each example once, with its label

    def all_zero(net, x, labels, step):
        labels[:] = 0  # rewritten in place: the net learns to answer class 0

    net = mlp()
    nnprobe.train(net, data, epochs=3, batch_size=50, batch_hook=all_zero)
    assert (np.argmax(net.forward(xtr[:40]), axis=1) == 0).all()

    with pytest.raises(nnprobe.Cancelled):
        nnprobe.train(mlp(), data, epochs=1, batch_size=100, batch_hook=lambda *a: a[3] >= 2)

    def boom(net, x, labels, step):
        raise ZeroDivisionError("from the hook")

    with pytest.raises(ZeroDivisionError):
        nnprobe.train(mlp(), data, epochs=1, batch_size=100, batch_hook=boom)


def test_dropout_training_is_seeded_and_leaves_inference_alone(data, problem):
    _, _, xte, _ = problem

    def net_with_dropout():
        n = nnprobe.Net(*xte.shape[1:])
        n.add_dense(24)
        n.add_relu()
        n.add_dropout(0.5)
        n.add_dense(5)
        n.init_params(7)
        return n

    a, b, c = net_with_dropout(), net_with_dropout(), net_with_dropout()
    nnprobe.train(a, data, epochs=2, batch_size=50, dropout=1, seed=4)
    nnprobe.train(b, data, epochs=2, batch_size=50, dropout=1, seed=4)
    nnprobe.train(c, data, epochs=2, batch_size=50, dropout=0, seed=4)
    np.testing.assert_array_equal(a.get_params(1)[0], b.get_params(1)[0])
    assert not np.array_equal(a.get_params(1)[0], c.get_params(1)[0])
    np.testing.assert_array_equal(a.forward(xte), a.forward(xte))  # inference: no masks
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.train(net_with_dropout(), data, dropout=2)
