"""Max-activation search and input optimisation against NumPy rankings."""
import numpy as np
import pytest

import nnprobe


def test_directions():
    np.testing.assert_array_equal(nnprobe.directions_unit(5, 2), np.eye(5, dtype=np.float32)[2])
    r = nnprobe.directions_random(24, 10, seed=3)
    assert r.shape == (10, 24) and r.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(nnprobe.directions_random(24, 3, seed=3), r[:3])
    assert not np.array_equal(nnprobe.directions_random(24, 3, seed=4), r[:3])
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.directions_unit(5, 5)


def test_search_matches_numpy(trained, problem):
    x = problem[0][:60]
    ds = nnprobe.Dataset.from_arrays(x)
    dirs = np.vstack([nnprobe.directions_unit(24, 3), nnprobe.directions_random(24, 4, 1)])
    k = 5
    seen = []
    r = nnprobe.maxact_search(trained, ds, 2, dirs, k, batch_size=16,
                              progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (60, 60)
    act = trained.forward_layer(x, 2).reshape(60, -1).astype(np.float64)
    scores = act @ dirs.T.astype(np.float64)
    assert r.found == k and r.top_index.shape == (5, k)
    for d in range(len(dirs)):
        np.testing.assert_allclose(r.top_score[d], scores[r.top_index[d], d], rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(r.top_score[d], -np.sort(-scores[:, d])[:k], rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(r.bottom_score[d], np.sort(scores[:, d])[:k], rtol=1e-5,
                                   atol=1e-6)
    with nnprobe.Workspace(trained, 16) as ws:
        again = nnprobe.maxact_search(trained, ds, 2, dirs, k, ws=ws)
    np.testing.assert_array_equal(again.top_index, r.top_index)
    many = nnprobe.maxact_search(trained, ds.subset(0, 3), -1, np.eye(5), 4)
    assert many.found == 3 and np.all(many.top_index[:, 3] == -1)
    assert np.all(np.isnan(many.top_score[:, 3]))
    with pytest.raises(ValueError):
        nnprobe.maxact_search(trained, ds, 2, np.ones(7), 3)
    with pytest.raises(nnprobe.Cancelled):
        nnprobe.maxact_search(trained, ds, 2, dirs, 3, batch_size=8, progress=lambda d, t: True)


def test_optimise(trained):
    dirs = np.eye(5, dtype=np.float32)[:2]
    start = np.full((2, 1, 6, 6), 0.5, np.float32)
    before = trained.forward(start)[[0, 1], [0, 1]]
    r = nnprobe.maxact_optimise(trained, -1, dirs, start=start, steps=30, step_size=0.05)
    assert r.x.shape == (2, 1, 6, 6) and r.x.min() >= 0 and r.x.max() <= 1
    after = trained.forward(r.x)[[0, 1], [0, 1]]
    np.testing.assert_allclose(r.score, after, rtol=1e-5)
    assert np.all(after > before)
    np.testing.assert_allclose(r.objective, r.score, rtol=1e-6)  # no penalties by default
    pen = nnprobe.maxact_optimise(trained, -1, dirs, start=start, steps=30, l2=0.1, tv=0.1,
                                  jitter=1, seed=2)
    x64 = pen.x.astype(np.float64)
    assert np.all(pen.objective < pen.score - 0.1 * (x64.reshape(2, -1) ** 2).sum(1) + 1e-3)
    with pytest.raises(nnprobe.Cancelled) as ei:
        nnprobe.maxact_optimise(trained, -1, dirs, steps=50, progress=lambda d, t: d >= 10)
    part = ei.value.partial
    assert part.shape == (2, 1, 6, 6) and part.min() >= 0 and part.max() <= 1
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.maxact_optimise(trained, -1, dirs, jitter=6)
    with pytest.raises(ValueError):
        nnprobe.maxact_optimise(trained, -1, dirs, start=start[:1])
    assert nnprobe.optimise_defaults()["steps"] == 200
    assert nnprobe.search_defaults()["batch_size"] == 256
