"""Data sets: from arrays, views, subsets, IDX in and out."""
import gc
import gzip
import weakref

import numpy as np
import pytest

import nnprobe


@pytest.fixture
def arrays():
    rng = np.random.default_rng(3)
    return rng.random((10, 2, 3, 4), dtype=np.float32), rng.integers(0, 4, 10).astype(np.int32)


def test_from_arrays_shapes(arrays):
    x, y = arrays
    ds = nnprobe.Dataset.from_arrays(x, y)
    assert len(ds) == ds.count == 10 and ds.shape == (2, 3, 4) and ds.example_size == 24
    assert ds.class_count == y.max() + 1
    np.testing.assert_array_equal(ds.images, x)
    np.testing.assert_array_equal(ds.labels, y)
    assert nnprobe.Dataset.from_arrays(x[:, 0]).shape == (1, 3, 4)
    d2 = nnprobe.Dataset.from_arrays(x.reshape(10, -1).astype(np.float64))
    assert d2.shape == (1, 1, 24) and d2.labels is None and d2.class_count == 0
    assert "10 × 2×3×4" in repr(ds)
    with pytest.raises(TypeError):
        nnprobe.Dataset()


def test_images_view_is_readonly_and_keeps_owner(arrays):
    x, y = arrays
    ds = nnprobe.Dataset.from_arrays(x, y)
    im = ds.images
    assert not im.flags.writeable
    assert im.ctypes.data == ds.images.ctypes.data  # a view of the same memory
    with pytest.raises(ValueError):
        im[0, 0, 0, 0] = 1
    assert im.base._owner is ds._owned
    del ds
    gc.collect()
    np.testing.assert_array_equal(im, x)  # still valid: the view keeps the set alive
    d2 = nnprobe.Dataset.from_arrays(x, y)
    im2 = d2.images
    owned = weakref.ref(d2._owned)
    d2.close()
    assert "closed" in repr(d2)
    with pytest.raises(ValueError):
        len(d2)
    assert owned() is not None and owned().ptr  # not freed while the view exists
    np.testing.assert_array_equal(im2, x)
    del im2
    gc.collect()
    assert owned() is None  # freed with the last view


def test_from_arrays_refusals(arrays):
    x, y = arrays
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.Dataset.from_arrays(x * 2, y)
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.Dataset.from_arrays(x, -y - 1)
    with pytest.raises(ValueError):
        nnprobe.Dataset.from_arrays(x, y[:3])
    with pytest.raises(ValueError):
        nnprobe.Dataset.from_arrays(x.reshape(-1))


def test_subset_select_permute(arrays):
    x, y = arrays
    ds = nnprobe.Dataset.from_arrays(x, y)
    s = ds.subset(3, 4)
    np.testing.assert_array_equal(s.images, x[3:7])
    np.testing.assert_array_equal(s.labels, y[3:7])
    idx = [9, 0, 0, 5]
    t = ds.select(np.array(idx))
    np.testing.assert_array_equal(t.images, x[idx])
    np.testing.assert_array_equal(t.labels, y[idx])
    with pytest.raises(nnprobe.InvalidArgument):
        ds.subset(8, 5)
    with pytest.raises(nnprobe.InvalidArgument):
        ds.select([10])
    with pytest.raises(ValueError):
        ds.select([-1])
    a, b = nnprobe.Dataset.from_arrays(x, y), nnprobe.Dataset.from_arrays(x, y)
    a.permute_labels(7)
    b.permute_labels(7)
    np.testing.assert_array_equal(a.labels, b.labels)          # deterministic per seed
    np.testing.assert_array_equal(np.sort(a.labels), np.sort(y))  # histogram kept
    big = nnprobe.Dataset.from_arrays(np.zeros((200, 1, 1, 1), np.float32),
                                      np.arange(200) % 7)
    big.permute_labels(1)
    assert not np.array_equal(big.labels, np.arange(200) % 7)
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.Dataset.from_arrays(x).permute_labels(1)


def test_idx_roundtrip(arrays, tmp_path):
    x, y = arrays
    ds = nnprobe.Dataset.from_arrays(x, y)
    ds.save_idx(tmp_path / "im.idx", tmp_path / "lb.idx")
    back = nnprobe.Dataset.load_idx(tmp_path / "im.idx", tmp_path / "lb.idx")
    np.testing.assert_array_equal(back.images, x)
    np.testing.assert_array_equal(back.labels, y)
    ds.save_idx(tmp_path / "im8.idx.gz", tmp_path / "lb8.idx.gz", type="ubyte")
    with gzip.open(tmp_path / "im8.idx.gz") as f:
        assert f.read(4) == b"\x00\x00\x08\x04"  # IDX magic: ubyte, 4 dimensions
    b8 = nnprobe.Dataset.load_idx(tmp_path / "im8.idx.gz")
    np.testing.assert_allclose(b8.images, np.round(x * 255) / 255, atol=1e-7)
    assert b8.labels is None
    with pytest.raises(ValueError):
        ds.save_idx(tmp_path / "a", type="double")
    with pytest.raises(nnprobe.InvalidArgument):
        nnprobe.Dataset.from_arrays(x).save_idx(tmp_path / "a", tmp_path / "b")


def test_idx_errors(tmp_path):
    with pytest.raises(nnprobe.FileError):
        nnprobe.Dataset.load_idx(tmp_path / "none.idx")
    p = tmp_path / "trunc.idx"
    p.write_bytes(b"\x00\x00\x08\x03" + (100).to_bytes(4, "big") + (28).to_bytes(4, "big")
                  + (28).to_bytes(4, "big") + b"\x00" * 10)
    with pytest.raises(nnprobe.FormatError) as ei:
        nnprobe.Dataset.load_idx(p)
    assert "trunc.idx" in str(ei.value)


def test_npy(tmp_path):
    """NumPy's own np.save files, read by the library's .npy reader (docs/data.md)."""
    rng = np.random.default_rng(4)
    x = rng.random((5, 3, 4, 2), dtype=np.float32)
    y = np.array([0, 3, 1, 2, 3], dtype=np.int64)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    ds = nnprobe.Dataset.load_npy(tmp_path / "x.npy", tmp_path / "y.npy")
    assert ds.shape == (3, 4, 2)
    np.testing.assert_array_equal(ds.images.reshape(x.shape), x)
    np.testing.assert_array_equal(ds.labels, y)
    u8 = (x * 255).astype(np.uint8)
    np.save(tmp_path / "u8.npy", u8)
    back = nnprobe.Dataset.load_npy(tmp_path / "u8.npy")
    np.testing.assert_allclose(back.images.reshape(x.shape), u8 / np.float32(255), atol=1e-7)
    assert back.labels is None
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    with pytest.raises(nnprobe.FormatError) as ei:
        nnprobe.Dataset.load_npy(tmp_path / "f.npy")
    assert "Fortran-order" in str(ei.value)
    np.save(tmp_path / "y4.npy", y[:4])
    with pytest.raises(nnprobe.FormatError) as ei:
        nnprobe.Dataset.load_npy(tmp_path / "x.npy", tmp_path / "y4.npy")
    assert "count mismatch" in str(ei.value)
    with pytest.raises(nnprobe.FileError):
        nnprobe.Dataset.load_npy(tmp_path / "none.npy")
