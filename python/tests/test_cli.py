"""`python -m nnprobe`: info and attack, against the C example programs' outputs."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import nnprobe

from conftest import REPO


def py_cli(*args, **kw):
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    env["NNPROBE_LIBRARY"] = os.path.realpath(nnprobe.library_path)
    return subprocess.run([sys.executable, "-m", "nnprobe"] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, timeout=300, **kw)


@pytest.fixture
def files(trained, problem, tmp_path):
    _, _, x, y = problem
    trained.save(tmp_path / "m.onnx")
    nnprobe.Dataset.from_arrays(x[:15], y[:15]).save_idx(tmp_path / "im.idx",
                                                         tmp_path / "lb.idx")
    return tmp_path


def test_info(files):
    r = py_cli("info", files / "m.onnx")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == "input        1x6x6 (36 values per example)"
    assert lines[3].split()[:4] == ["0", "input", "-", "1x6x6"]
    assert lines[4].split() == ["1", "dense", "0", "24x1x1", str(36 * 24 + 24)]
    assert lines[-2] == "parameters   %d" % (36 * 24 + 24 + 24 * 5 + 5)
    assert re.fullmatch(r"workspace    \d+ bytes at batch 1, \d+ at batch 128 \(cap: "
                        r"NNPROBE_MAX_WORKSPACE_BYTES, default 4 GiB\)", lines[-1]), lines[-1]
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    r = subprocess.run([sys.executable, "-m", "nnprobe", "info", "-"], env=env,
                       input=(files / "m.onnx").read_bytes(), capture_output=True)
    assert r.returncode == 0 and r.stdout.decode().splitlines()[3:] == lines[3:]
    bad = py_cli("info", files / "missing.onnx")
    assert bad.returncode == 1 and "missing.onnx" in bad.stderr


def test_info_same_as_c_program(files, build_dir):
    exe = os.path.join(build_dir, "examples", "nnprobe-info")
    if not os.path.exists(exe):
        pytest.skip("examples not built")
    c = subprocess.run([exe, str(files / "m.onnx")], capture_output=True, text=True)
    assert py_cli("info", files / "m.onnx").stdout == c.stdout


@pytest.mark.parametrize("target", ["none", "next", "random"])
def test_attack_same_csv_as_c_program(files, build_dir, target):
    exe = os.path.join(build_dir, "examples", "nnprobe-attack")
    if not os.path.exists(exe):
        pytest.skip("examples not built")
    common = [files / "m.onnx", "--test-images", files / "im.idx", "--test-labels",
              files / "lb.idx", "--count", 12, "--first", 2, "--attack", "pgd", "--steps", 10,
              "--epsilon", 0.2, "--target", target, "--seed", 5, "--quiet"]
    r = py_cli("attack", *common, "--results", files / "py.csv", "--out", files / "py.idx")
    assert r.returncode == 0, r.stderr
    subprocess.run([exe] + [str(a) for a in common] + ["--results", str(files / "c.csv"),
                                                       "--out", str(files / "c.idx")],
                   check=True, capture_output=True)
    assert (files / "py.csv").read_text() == (files / "c.csv").read_text()
    assert (files / "py.idx").read_bytes() == (files / "c.idx").read_bytes()
    assert "success" in r.stdout and "test examples from #2" in r.stdout


def test_attack_json_and_evaluation(files):
    r = py_cli("attack", files / "m.onnx", "--test-images", files / "im.idx", "--test-labels",
               files / "lb.idx", "--count", 5, "--attack", "fgsm", "--epsilon", 0.3,
               "--results", files / "r.json", "--noise", 0.1, "--amplify", 0.1,
               "--transfer", files / "m.onnx", "--quiet")
    assert r.returncode == 0, r.stderr
    rows = json.loads((files / "r.json").read_text())
    assert len(rows) == 5 and set(rows[0]) >= {"rms", "success", "adv_label"}
    assert "gaussian noise, stddev 0.1" in r.stdout and "model 1" in r.stdout
    # the same attack through the API gives the same numbers
    ds = nnprobe.Dataset.load_idx(files / "im.idx", files / "lb.idx")
    net = nnprobe.Net.load(files / "m.onnx")
    res = nnprobe.attack_fgsm(net, ds.images[:5], ds.labels[:5], epsilon=0.3)
    np.testing.assert_allclose([row["rms"] for row in rows], res.rms, rtol=1e-8)


def test_attack_usage_errors(files):
    r = py_cli("attack", files / "m.onnx", "--test-images", files / "im.idx", "--test-labels",
               files / "lb.idx", "--count", 100)
    assert r.returncode == 2
    r = py_cli("attack", files / "nope.onnx", "--test-images", files / "im.idx")
    assert r.returncode == 1
    r = py_cli("bogus")
    assert r.returncode == 2


def test_attack_png(files):
    mpl = pytest.importorskip("matplotlib.image", reason="matplotlib not installed")
    r = py_cli("attack", files / "m.onnx", "--test-images", files / "im.idx", "--test-labels",
               files / "lb.idx", "--count", 5, "--attack", "fgsm", "--png", files / "f.png",
               "--figure-count", 3, "--out", files / "adv.idx", "--quiet")
    assert r.returncode == 0, r.stderr
    img = mpl.imread(str(files / "f.png"))
    assert img.shape[:2] == (3 * 6 + 2 * 2, 3 * 6 + 2 * 2)  # 3 rows of 6x6 images, 2px gaps
    adv = nnprobe.Dataset.load_idx(files / "adv.idx").images
    # the colour map has 256 levels: within 2/255 after its rounding and the PNG's
    np.testing.assert_allclose(img[0:6, 16:22, 0], adv[0, 0], atol=2 / 255 + 1e-6)
