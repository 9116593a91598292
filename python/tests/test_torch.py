"""Agreement with PyTorch: logits and input gradients of a PyTorch model exported to ONNX
and loaded by the library. Skipped (with the reason) when torch is not installed."""
import numpy as np
import pytest

import nnprobe

torch = pytest.importorskip("torch", reason="PyTorch not installed (Debian: python3-torch); "
                                            "the PyTorch agreement tests need it")
nn = torch.nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 16),
                                  nn.Tanh(), nn.Linear(16, 5))

    def forward(self, x):
        h = torch.relu(self.bn(self.c1(x)))
        h = h + torch.nn.functional.leaky_relu(self.c2(h), 0.1)  # residual Add
        return self.head(h)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    m = Model()
    with torch.no_grad():  # non-trivial batch-norm statistics
        m.bn.running_mean.uniform_(-0.2, 0.2)
        m.bn.running_var.uniform_(0.5, 1.5)
    m.eval()
    path = tmp_path_factory.mktemp("torch") / "model.onnx"
    torch.onnx.export(m, torch.zeros(1, 1, 8, 8), str(path), input_names=["x"],
                      output_names=["logits"], opset_version=13,
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
    return m, nnprobe.Net.load(path)


def test_layer_table(exported):
    _, net = exported
    kinds = [li.kind for li in net.layers()]
    assert nnprobe.LayerKind.ADD in kinds and nnprobe.LayerKind.CONV2D in kinds
    assert net.input_shape == (1, 8, 8) and net.output_size == 5


def test_logits_and_input_gradients_agree(exported):
    m, net = exported
    rng = np.random.default_rng(1)
    x = rng.random((6, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 5, 6)
    xt = torch.tensor(x, requires_grad=True)
    logits = m(xt)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="sum")
    loss.backward()
    z = logits.detach().numpy()
    np.testing.assert_allclose(net(x), z, rtol=1e-4, atol=1e-5)
    g = nnprobe.grad_loss(net, x, y, logits=True)
    np.testing.assert_allclose(g.dx, xt.grad.numpy(), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(g.logits, z, rtol=1e-4, atol=1e-5)
    # the gradient of one logit, too
    xt2 = torch.tensor(x, requires_grad=True)
    m(xt2)[:, 3].sum().backward()
    np.testing.assert_allclose(nnprobe.grad_unit(net, x, -1, 3).dx, xt2.grad.numpy(),
                               rtol=1e-3, atol=1e-6)


def test_normalized_3_channels_pixel_gradients(tmp_path):
    """A 3-channel model behind torchvision's Normalize: Net.normalized gives PyTorch's logits
    of the normalised input and its input gradient with respect to the pixels."""
    torch.manual_seed(3)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                      nn.Linear(4 * 6 * 6, 5)).eval()
    path = tmp_path / "rgb.onnx"
    torch.onnx.export(m, torch.zeros(1, 3, 6, 6), str(path), input_names=["x"],
                      opset_version=13, dynamic_axes={"x": {0: "N"}})
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    net = nnprobe.Net.load(path).normalized(mean, std)
    rng = np.random.default_rng(2)
    x = rng.random((4, 3, 6, 6), dtype=np.float32)
    y = rng.integers(0, 5, 4)
    xt = torch.tensor(x, requires_grad=True)
    mt, st = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    logits = m((xt - mt) / st)
    torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="sum").backward()
    g = nnprobe.grad_loss(net, x, y, logits=True)
    np.testing.assert_allclose(g.logits, logits.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(g.dx, xt.grad.numpy(), rtol=1e-3, atol=1e-6)
