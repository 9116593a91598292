"""examples/python/ run end to end on a tiny synthetic data set (needs torch, matplotlib)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nnprobe

from conftest import REPO

pytest.importorskip("torch", reason="PyTorch not installed (python3-torch): examples/python "
                                    "need it")
pytest.importorskip("matplotlib", reason="matplotlib not installed (python3-matplotlib)")

EX = os.path.join(REPO, "examples", "python")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fmnist")
    rng = np.random.default_rng(0)
    for kind, n in (("train", 300), ("t10k", 40)):
        y = rng.integers(0, 10, n)
        x = rng.random((n, 1, 28, 28)) * 0.3
        for i, label in enumerate(y):  # a learnable pattern: a bright band per class
            x[i, 0, 2 * label:2 * label + 3, :] += 0.6
        nnprobe.Dataset.from_arrays(np.clip(x, 0, 1), y).save_idx(
            d / ("%s-images-idx3-ubyte.gz" % kind), d / ("%s-labels-idx1-ubyte.gz" % kind),
            type="ubyte")
    return d


def run(script, *args):
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"), MPLBACKEND="Agg",
               OMP_NUM_THREADS="1")  # the machine may be busy with other test stages
    return subprocess.run([sys.executable, os.path.join(EX, script)] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_torch_attack_and_lipschitz_table(data_dir, tmp_path):
    r = run("torch_attack.py", "--data-dir", data_dir, "--out", tmp_path, "--train", 200,
            "--epochs", 1, "--count", 4, "--attack", "deepfool")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "adversarial.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("agreement")][0]
    diffs = [float(w.rstrip(",")) for w in line.split() if w[0].isdigit()]
    assert max(diffs) < 1e-4, line
    net = nnprobe.Net.load(tmp_path / "model.onnx")
    assert net.input_shape == (1, 28, 28) and net.output_size == 10
    t = run("lipschitz_table.py", tmp_path / "model.onnx", "--data-dir", data_dir,
            "--points", 5)
    assert t.returncode == 0, t.stdout + t.stderr
    rows = [ln.split() for ln in t.stdout.splitlines() if ln.strip()[:1].isdigit()]
    assert len(rows) == net.layer_count
    table = nnprobe.lipschitz_bounds(net)
    assert float(rows[-1][-1]) == pytest.approx(table["upper_to_exact"][-1], rel=1e-3)
