"""Nets: builders, layer table, parameters, clone, ONNX round trip, forward passes."""
import copy

import numpy as np
import pytest

import nnprobe
from nnprobe import LayerKind

from conftest import CLASSES, SHAPE, mlp, numpy_mlp


def test_create_and_sizes(net):
    assert net.layer_count == len(net) == 4
    assert net.input_size == 36 and net.output_size == CLASSES
    assert net.param_count == 36 * 24 + 24 + 24 * CLASSES + CLASSES
    assert net.input_shape == SHAPE
    assert "4 layers" in repr(net)


def test_layer_table(net):
    t = net.layers()
    assert [li.kind for li in t] == [LayerKind.INPUT, LayerKind.DENSE, LayerKind.RELU,
                                     LayerKind.DENSE]
    assert [li.inputs for li in t] == [(), (0,), (1,), (2,)]
    assert t[1].shape == (24, 1, 1) and t[1].weight_count == 36 * 24 and t[1].bias_count == 24
    assert t[2].name == "relu"
    assert net.layer_info(-1) == t[3]
    with pytest.raises(nnprobe.InvalidArgument):
        net.layer_info(4)


def test_every_builder():
    net = nnprobe.Net(3, 8, 8)
    c = net.add_conv2d(4, kernel=3, pad=1, stride=1)
    bn = net.add_batchnorm(1e-3)
    a = net.add_activation("relu")
    net.add_conv2d(4, kernel=(3, 1), pad=(1, 0), groups=2, bias=False)
    s = net.add_add(a, net.layer_count - 1)
    net.add_leaky_relu(0.2)
    net.add_lrn(3, 1e-4, 0.75, 2.0)
    mp = net.add_maxpool2d(kernel=3, stride=2, pad=1)
    net.branch_from(mp)
    net.add_avgpool2d(kernel=2, stride=2, count_include_pad=True)
    net.add_global_avgpool()
    net.add_contrast_norm(1.0, 0.5)
    net.add_flatten()
    net.add_dropout(0.3)
    net.add_dense(6)
    for kind in ("sigmoid", "tanh", "softplus", LayerKind.LEAKY_RELU):
        net.add_activation(kind)
    t = net.layers()
    assert t[c].kind == LayerKind.CONV2D and t[c].kernel == (3, 3) and t[c].pad == (1,) * 4
    assert t[c].shape == (4, 8, 8) and t[c].weight_count == 4 * 3 * 9
    assert t[bn].weight_count == 12 and t[bn].bias_count == 4
    assert t[4].groups == 2 and t[4].bias_count == 0 and t[4].kernel == (3, 1)
    assert t[s].kind == LayerKind.ADD and t[s].inputs == (a, 4)
    assert t[6].kind == LayerKind.LEAKY_RELU and t[6].alpha == pytest.approx(0.2)
    assert t[7].kind == LayerKind.LRN
    assert t[mp].kernel == (3, 3) and t[mp].stride == (2, 2) and t[mp].shape == (4, 4, 4)
    assert t[mp + 1].inputs == (mp,) and t[mp + 1].shape == (4, 2, 2)
    assert t[mp + 2].kind == LayerKind.GLOBAL_AVGPOOL and t[mp + 2].shape == (4, 1, 1)
    kinds = [li.kind for li in t[mp + 3:]]
    assert kinds == [LayerKind.CONTRAST_NORM, LayerKind.FLATTEN, LayerKind.DROPOUT,
                     LayerKind.DENSE, LayerKind.SIGMOID, LayerKind.TANH, LayerKind.SOFTPLUS,
                     LayerKind.LEAKY_RELU]
    net.init_params(1)
    y = net(np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32))
    assert y.shape == (2, 6) and np.all(np.isfinite(y))
    with pytest.raises(ValueError):
        net.add_activation("nope")
    with pytest.raises(nnprobe.InvalidArgument):
        net.add_activation(LayerKind.DENSE)
    with pytest.raises(TypeError):
        net.add_conv2d(2, kernal=3)


def test_zoo_builders_against_numpy():
    """Clip (ReLU6 and one-sided), hard sigmoid, hard swish, zero padding and a ceil-mode max
    pool, checked against NumPy written here."""
    net = nnprobe.Net(2, 5, 5)
    p = net.add_pad(1, 0, 0, 2)
    c = net.add_clip(0, 6)
    net.add_clip(hi=4.5)
    h = net.add_hard_sigmoid(-0.5, 0.25)
    net.branch_from(c)
    w = net.add_activation("hardswish")
    mp = net.add_maxpool2d(kernel=2, stride=2, ceil_mode=True)
    t = net.layers()
    assert t[p].kind == LayerKind.PAD and t[p].shape == (2, 6, 7) and t[p].pad == (1, 0, 0, 2)
    assert t[c].kind == LayerKind.CLIP and t[c].clip == (0.0, 6.0)
    assert t[c + 1].clip == (float("-inf"), 4.5)
    assert t[h].kind == LayerKind.HARD_SIGMOID and t[h].alpha == -0.5 and t[h].beta == 0.25
    assert t[w].kind == LayerKind.HARD_SWISH and t[w].name == "hard_swish"
    assert t[mp].ceil_mode and t[mp].shape == (2, 3, 4)  # 6×7: 3 rows, ceil 2.5 + 1 = 4 columns
    x = (np.random.default_rng(1).random((3, 2, 5, 5), dtype=np.float32) - 0.5) * 16
    xp = np.pad(x, ((0, 0), (0, 0), (1, 0), (0, 2)))
    r6 = np.clip(xp, 0, 6)
    np.testing.assert_array_equal(net.forward_layer(x, c), r6)
    np.testing.assert_allclose(net.forward_layer(x, h),
                               np.clip(-0.5 * np.minimum(r6, 4.5) + 0.25, 0, 1), atol=1e-7)
    hs = r6 * np.clip(r6 / 6 + 0.5, 0, 1)
    np.testing.assert_allclose(net.forward_layer(x, w), hs, rtol=1e-6)
    hsp = np.pad(hs, ((0, 0), (0, 0), (0, 0), (0, 1)), constant_values=-np.inf)
    want = hsp.reshape(3, 2, 3, 2, 4, 2).max(axis=(3, 5))
    np.testing.assert_allclose(net.forward_layer(x, mp), want, rtol=1e-6)
    with pytest.raises(nnprobe.InvalidArgument):
        net.add_clip(1, 0)
    with pytest.raises(nnprobe.InvalidArgument):
        net.add_activation("clip")


def test_params_roundtrip_and_copies(net):
    w, b = net.get_params(1)
    assert w.shape == (24, 36) and b.shape == (24,) and w.dtype == np.float32
    w2 = np.arange(w.size, dtype=np.float64).reshape(w.shape) / w.size
    net.set_params(1, w2, np.ones(24))
    w3, b3 = net.get_params(1)
    np.testing.assert_array_equal(w3, w2.astype(np.float32))
    np.testing.assert_array_equal(b3, np.ones(24, np.float32))
    w3[:] = 0  # a copy: the net is unchanged
    np.testing.assert_array_equal(net.get_params(1)[0], w2.astype(np.float32))
    net.set_params(1, bias=np.zeros(24))  # weights left alone
    np.testing.assert_array_equal(net.get_params(1)[0], w2.astype(np.float32))
    with pytest.raises(ValueError):
        net.set_params(1, np.zeros(3))
    bad = w2.copy()
    bad[0, 0] = np.nan
    with pytest.raises(nnprobe.InvalidArgument):
        net.set_params(1, bad)
    np.testing.assert_array_equal(net.get_params(1)[0], w2.astype(np.float32))
    e, eb = net.get_params(2)
    assert e.size == 0 and eb.size == 0


def test_conv_weight_shape():
    net = nnprobe.Net(2, 5, 5)
    net.add_conv2d(6, kernel=(3, 2), groups=2)
    w, b = net.get_params(1)
    assert w.shape == (6, 1, 3, 2) and b.shape == (6,)


def test_init_params_deterministic():
    a, b, c = mlp(seed=5), mlp(seed=5), mlp(seed=6)
    np.testing.assert_array_equal(a.get_params(1)[0], b.get_params(1)[0])
    assert not np.array_equal(a.get_params(1)[0], c.get_params(1)[0])
    w = a.get_params(1)[0]
    lim = np.sqrt(6 / (36 + 24))
    assert np.abs(w).max() <= lim and np.all(a.get_params(1)[1] == 0)


def test_clone_is_independent(net):
    c = net.clone()
    d = copy.deepcopy(net)
    x = np.random.default_rng(1).random((3,) + SHAPE, dtype=np.float32)
    np.testing.assert_array_equal(c(x), net(x))
    c.set_params(3, bias=np.full(CLASSES, 5.0))
    assert not np.array_equal(c(x), net(x))
    np.testing.assert_array_equal(d(x), net(x))


def test_forward_matches_numpy(net):
    x = np.random.default_rng(2).random((7,) + SHAPE, dtype=np.float32)
    z, h, *_ = numpy_mlp(net, x)
    np.testing.assert_allclose(net.forward(x), z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(net.forward_layer(x, 1).reshape(7, -1), h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(net.forward_layer(x, 2).reshape(7, -1), np.maximum(h, 0),
                               rtol=1e-5, atol=1e-5)
    assert net.forward_layer(x, 1).shape == (7, 24, 1, 1)
    np.testing.assert_array_equal(net.forward_layer(x, 0), x)
    np.testing.assert_array_equal(net.forward_layer(x, -1).reshape(7, -1), net(x))


def test_forward_input_shapes_and_dtypes(net):
    x = np.random.default_rng(3).random((4,) + SHAPE)
    ref = net(x.astype(np.float32))
    np.testing.assert_array_equal(net(x), ref)                       # float64: converted
    np.testing.assert_array_equal(net(x.reshape(4, 36)), ref)         # (n, D)
    np.testing.assert_array_equal(net(np.asfortranarray(x.reshape(4, 36))), ref)
    np.testing.assert_array_equal(net(x[:, :, ::1].tolist()), ref)  # nested lists
    np.testing.assert_array_equal(net(x[0].astype(np.float32)), ref[:1])  # one example
    with pytest.raises(ValueError):
        net(np.zeros(35, np.float32))
    with pytest.raises(ValueError):
        net(np.zeros(0, np.float32))


def test_forward_no_copy(net):
    """float32 C-contiguous in, caller's out array written in place."""
    x = np.random.default_rng(4).random((5,) + SHAPE, dtype=np.float32)
    out = np.empty((5, CLASSES), np.float32)
    y = net.forward(x, out=out)
    assert y is out and y.ctypes.data == out.ctypes.data
    np.testing.assert_array_equal(out, net(x))
    lay = np.empty((5, 24, 1, 1), np.float32)
    assert net.forward_layer(x, 1, out=lay) is lay
    from nnprobe._core import f32
    assert f32(x) is x                       # no conversion copy
    assert f32(x.astype(np.float64)) is not x
    with pytest.raises(TypeError):
        net.forward(x, out=np.empty((5, CLASSES), np.float64))
    with pytest.raises(ValueError):
        net.forward(x, out=np.empty((5, CLASSES + 1), np.float32))
    with pytest.raises(ValueError):
        net.forward(x, out=np.empty((CLASSES, 5), np.float32).T)


def test_workspace(net):
    x = np.random.default_rng(5).random((9,) + SHAPE, dtype=np.float32)
    with nnprobe.Workspace(net, 4) as ws:
        a = net.forward(x, ws=ws)      # grows past max_batch by itself
        b = net.forward(x[:2], ws=ws)
    np.testing.assert_array_equal(a, net(x))
    np.testing.assert_array_equal(b, a[:2])
    other = mlp()
    with pytest.raises(ValueError):
        net.forward(x, ws=nnprobe.Workspace(other))
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.Workspace(net, 0)
    ws = nnprobe.Workspace(net, 2)
    net.add_relu()  # a workspace must not outlive a change of the net's layers
    with pytest.raises(ValueError, match="gained layers"):
        net.forward(x, ws=ws)


def test_onnx_roundtrip(net, tmp_path):
    p = tmp_path / "m.onnx"
    net.save(p)
    a = nnprobe.Net.load(p)
    b = nnprobe.Net.from_bytes(p.read_bytes())
    x = np.random.default_rng(6).random((3,) + SHAPE, dtype=np.float32)
    for m in (a, b):
        assert [li.kind for li in m.layers()] == [li.kind for li in net.layers()]
        np.testing.assert_array_equal(m.get_params(1)[0], net.get_params(1)[0])
        np.testing.assert_array_equal(m(x), net(x))
    a.save(str(tmp_path / "again.onnx"))  # str paths too


def test_close(net):
    net2 = net.clone()
    net2.close()
    net2.close()  # idempotent
    assert "closed" in repr(net2)
    with pytest.raises(ValueError):
        net2.forward(np.zeros(36, np.float32))
    with mlp() as m:
        assert m.layer_count == 4


def test_workspace_bytes():
    # input 1x1x1 -> 1x1 conv padded to 101x101: activations and gradients of 10201 floats
    net = nnprobe.Net(1, 1, 1)
    net.add_conv2d(out_channels=1, kernel=1, pad=50)
    one = net.workspace_bytes(1)
    assert one >= 4 + 2 * 4 * 101 * 101
    assert net.workspace_bytes(3) >= 3 * (4 + 2 * 4 * 101 * 101)
    with pytest.raises(nnprobe.Error):
        net.workspace_bytes(0)


def test_normalized():
    """nnp_net_normalized: logits equal the original net's on inputs normalised here; layer
    1 is the normalisation; a wrong channel count is refused."""
    net = nnprobe.Net(3, 4, 4)
    net.add_dense(5)
    net.init_params(3)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    nn = net.normalized(mean, std)
    assert nn.layer_count == net.layer_count + 1
    x = np.random.default_rng(1).random((6, 3, 4, 4), dtype=np.float32)
    z = ((x - mean.reshape(1, 3, 1, 1)) / std.reshape(1, 3, 1, 1)).astype(np.float32)
    np.testing.assert_allclose(nn.forward(x.reshape(6, -1)), net.forward(z.reshape(6, -1)),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(nnprobe.InvalidArgument) as ei:
        net.normalized([0.5], [0.2])
    assert "1 mean/std values given" in str(ei.value)
    with pytest.raises(nnprobe.InvalidArgument):
        net.normalized(mean, [0.2, 0.0, 0.2])
