"""Attacks: results consistent with the adversarial examples (checked with NumPy and
forward passes), options, cancellation, and agreement with the C example program."""
import csv
import os
import subprocess

import numpy as np
import pytest

import nnprobe

from conftest import CLASSES

ATTACKS = {
    "lbfgs": dict(max_iterations=100, c_bisect_steps=4),
    "fgsm": dict(epsilon=0.3),
    "pgd": dict(epsilon=0.3, steps=20),
    "deepfool": dict(),
    "cw": dict(steps=100, binary_search_steps=4, c_init=0.1),
}


@pytest.fixture
def xy(problem):
    _, _, xte, yte = problem
    return xte[:12].copy(), yte[:12].copy()


def check_consistent(net, x, res, labels, targets):
    n = len(x)
    xa = res.x_adv
    assert xa.shape == x.shape and xa.dtype == np.float32
    assert xa.min() >= 0 and xa.max() <= 1
    r = (xa.astype(np.float64) - x).reshape(n, -1)
    np.testing.assert_allclose(res.l2, np.sqrt((r ** 2).sum(1)), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.rms, np.sqrt((r ** 2).mean(1)), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.linf, np.abs(r).max(1), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(res.clean_label, np.argmax(net(x), 1))
    np.testing.assert_array_equal(res.label, np.argmax(net(xa), 1))
    if targets is None:
        np.testing.assert_array_equal(res.target, -1)
        np.testing.assert_array_equal(res.success, res.label != labels)
    else:
        np.testing.assert_array_equal(res.target, targets)
        np.testing.assert_array_equal(res.success, res.label == targets)
    assert res.finished.all() and len(res) == n


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_untargeted(trained, xy, name):
    x, y = xy
    fn = getattr(nnprobe, "attack_" + name)
    res = fn(trained, x, y, **ATTACKS[name])
    check_consistent(trained, x, res, y, None)
    assert res.success.mean() >= 0.5, (name, res.success)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_targeted(trained, xy, name):
    x, y = xy
    t = (y + 1) % CLASSES
    res = nnprobe.attack(name, trained, x, None, t, **ATTACKS[name])
    check_consistent(trained, x, res, y, t)


def test_attack_specifics(trained, xy):
    x, y = xy
    f = nnprobe.attack_fgsm(trained, x, y, epsilon=0.05)
    assert np.all(f.linf <= 0.05 + 1e-6)
    np.testing.assert_allclose(f.c[f.clean_label == y], 0.05)
    m = nnprobe.attack_fgsm(trained, x, y, epsilon=0.5, minimal=True, search_steps=10)
    assert np.all(m.c[m.success] <= 0.5) and np.all(m.linf <= m.c + 1e-6)
    p2 = nnprobe.attack_pgd(trained, x, y, norm="l2", epsilon=1.0, steps=10)
    assert np.all(p2.l2 <= 1.0 + 1e-5)
    p0 = nnprobe.attack_pgd(trained, x, y, steps=0)
    np.testing.assert_array_equal(p0.x_adv, x)
    a = nnprobe.attack_pgd(trained, x, y, steps=5, seed=4)
    b = nnprobe.attack_pgd(trained, x, y, steps=5, seed=4, batch_size=5)
    np.testing.assert_array_equal(a.x_adv, b.x_adv)  # random start independent of batching
    lb = nnprobe.attack_lbfgs(trained, x[:4], y[:4], max_iterations=50)
    assert np.all(lb.c[lb.success] > 0)


def test_defaults_from_c():
    d = nnprobe.attack_defaults("pgd")
    assert d["epsilon"] == pytest.approx(0.1) and d["steps"] == 40 and d["random_start"] == 1
    assert nnprobe.attack_defaults("cw")["binary_search_steps"] == 9
    assert nnprobe.attack_defaults("lbfgs")["history"] == 10
    with pytest.raises(KeyError):
        nnprobe.attack_defaults("nope")


def test_no_copy(trained, xy):
    x, y = xy
    out = np.empty_like(x)
    res = nnprobe.attack_fgsm(trained, x, y, out=out)
    assert res.x_adv is out
    assert res.table.dtype == nnprobe.RESULT_DTYPE
    assert res.rms.base is not None  # a view of the C-filled table, not a copy
    with pytest.raises(ValueError):
        nnprobe.attack_fgsm(trained, x, y, out=np.empty(3, np.float32))


def test_attack_errors(trained, xy):
    x, y = xy
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.attack_fgsm(trained, x * 3, y)  # outside [0,1]
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.attack_fgsm(trained, x)  # untargeted needs labels
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.attack_pgd(trained, x, y, epsilon=-1)
    with pytest.raises(ValueError):
        nnprobe.attack("bogus", trained, x, y)
    with pytest.raises(ValueError):
        nnprobe.attack_fgsm(trained, x, y[:2])


def test_cancel_gives_partial_results(trained, xy):
    x, y = xy
    seen = []

    def stop(done, total):
        seen.append((done, total))
        return done >= total // 2
    with pytest.raises(nnprobe.Cancelled) as ei:
        nnprobe.attack_pgd(trained, x, y, steps=50, batch_size=4, progress=stop)
    part = ei.value.partial
    assert isinstance(part, nnprobe.AttackResult)
    assert not part.finished.all() and part.finished.any()
    assert seen[-1][0] >= seen[-1][1] // 2 and seen[-1][0] < seen[-1][1]
    assert all(t == 12 * 50 for _, t in seen)
    assert part.x_adv.min() >= 0 and part.x_adv.max() <= 1


# ---- agreement with the C example program nnprobe-attack on the same model and data

EXAMPLE_ARGS = {
    "pgd": ["--epsilon", "0.2", "--steps", "15"],
    "fgsm": ["--epsilon", "0.2"],
    "deepfool": [],
    "lbfgs": ["--max-iter", "60"],
    "cw": ["--steps", "60", "--search-steps", "3"],
}
PY_OPTS = {
    "pgd": dict(epsilon=0.2, steps=15),
    "fgsm": dict(epsilon=0.2),
    "deepfool": dict(),
    "lbfgs": dict(max_iterations=60),
    "cw": dict(steps=60, binary_search_steps=3),
}


@pytest.mark.parametrize("name", sorted(EXAMPLE_ARGS))
def test_agrees_with_c_example(trained, xy, tmp_path, build_dir, name):
    exe = os.path.join(build_dir, "examples", "nnprobe-attack")
    if not os.path.exists(exe):
        pytest.skip("examples not built (%s)" % exe)
    x, y = xy
    trained.save(tmp_path / "m.onnx")
    nnprobe.Dataset.from_arrays(x, y).save_idx(tmp_path / "im.idx", tmp_path / "lb.idx")
    subprocess.run([exe, str(tmp_path / "m.onnx"), "--test-images", str(tmp_path / "im.idx"),
                    "--test-labels", str(tmp_path / "lb.idx"), "--count", str(len(x)),
                    "--attack", name, "--results", str(tmp_path / "r.csv"),
                    "--out", str(tmp_path / "adv.idx"), "--quiet"] + EXAMPLE_ARGS[name],
                   check=True, capture_output=True)
    with open(tmp_path / "r.csv") as f:
        rows = list(csv.DictReader(f))
    res = getattr(nnprobe, "attack_" + name)(trained, x, y, **PY_OPTS[name])
    assert len(rows) == len(x)
    for i, row in enumerate(rows):
        assert int(row["true_label"]) == y[i]
        assert int(row["clean_label"]) == res.clean_label[i]
        assert int(row["adv_label"]) == res.label[i]
        assert int(row["success"]) == res.success[i]
        assert int(row["iterations"]) == res.iterations[i]
        for k in ("rms", "l2", "linf", "c"):
            assert float(row[k]) == pytest.approx(float(res.table[k][i]), rel=1e-8, abs=1e-12)
    adv = nnprobe.Dataset.load_idx(tmp_path / "adv.idx")
    np.testing.assert_array_equal(adv.images.reshape(res.x_adv.shape), res.x_adv)
