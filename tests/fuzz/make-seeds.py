#!/usr/bin/python3
"""Writes the fuzzers' seed corpora: tests/fuzz/corpus/idx/ and tests/fuzz/corpus/onnx/.

    /usr/bin/python3 tests/fuzz/make-seeds.py      (needs the onnx module: python3-onnx)

The seeds are checked in; run this again only to change them (the output is deterministic:
gzip headers carry mtime 0, the ONNX models are built from fixed values). Each seed's file
name says what it is.

IDX seeds are in fuzz_idx_load's input layout (see tests/fuzz/fuzz_idx_load.c): a flags byte
(bit 0 gzip images, bit 1 gzip labels, bit 2 no label file, bit 3 save as float, bit 4 save
to .gz, bit 5 load the parts as NumPy .npy files: the "npy-" seeds, written by numpy's own
numpy.lib.format and then damaged by hand), a LEB128 varint giving the image part's length, the image file, the label file. A
part that is "gzip" in a seed is either compressed here (a crafted gzip file, flag clear) or
compressed by the harness (flag set, so mutations act on the plain bytes).

ONNX seeds are models: small valid ones built with onnx.helper (dense, conv, pooling,
batch norm, the layers the loader supports) and the crafted ones of issue 17: the amplifying
1x1 convolution whose pads grow the map at every layer, a node and an op named with an escape
sequence, cycles and self-loops, 2^62 and 40-dimensional tensors, short raw_data, duplicate
names; and two for the wire-format reader: a graph in two fields, a raw_data given twice.
"""
import gzip
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
IDX_DIR = os.path.join(HERE, "corpus", "idx")
ONNX_DIR = os.path.join(HERE, "corpus", "onnx")

GZ_IMAGES, GZ_LABELS, NO_LABELS, SAVE_FLOAT, SAVE_GZ, NPY = 1, 2, 4, 8, 16, 32


# ---------------------------------------------------------------------------------------
# IDX

def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def ubyte_images(n, h, w, seed=1):
    rng = np.random.RandomState(seed)
    return idx(0x08, [n, h, w], rng.randint(0, 256, size=n * h * w, dtype=np.uint8).tobytes())


def float_images(n, dims, seed=2):
    rng = np.random.RandomState(seed)
    count = n * int(np.prod(dims))
    vals = rng.uniform(0, 1, size=count).astype(">f4")
    return idx(0x0D, [n] + list(dims), vals.tobytes())


def labels(n, seed=3):
    rng = np.random.RandomState(seed)
    return idx(0x08, [n], rng.randint(0, 10, size=n, dtype=np.uint8).tobytes())


def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def fuzz_input(flags, images, labs=b""):
    return bytes([flags]) + varint(len(images)) + images + labs


def idx_seeds():
    s = {}
    img, lab = ubyte_images(4, 5, 5), labels(4)
    s["valid-ubyte-plain"] = fuzz_input(0, img, lab)
    s["valid-ubyte-gzip-by-harness"] = fuzz_input(GZ_IMAGES | GZ_LABELS | SAVE_GZ, img, lab)
    s["valid-ubyte-gzip-crafted"] = fuzz_input(SAVE_FLOAT, gz(img), gz(lab))
    s["valid-ubyte-no-labels"] = fuzz_input(NO_LABELS | SAVE_FLOAT, img)
    s["valid-ubyte-2d"] = fuzz_input(0, idx(0x08, [3, 7], bytes(range(21))), labels(3))
    fimg = float_images(3, [2, 3, 3])
    s["valid-float-4d-plain"] = fuzz_input(SAVE_FLOAT, fimg, labels(3))
    s["valid-float-4d-gzip"] = fuzz_input(GZ_IMAGES | SAVE_FLOAT | SAVE_GZ, fimg, gz(labels(3)))
    s["valid-float-3d-save-ubyte"] = fuzz_input(0, float_images(2, [4, 4]), labels(2))
    # gzip(1) concatenates members; the loader reads them as one stream
    half = len(img) // 2
    s["valid-gzip-two-members"] = fuzz_input(0, gz(img[:half]) + gz(img[half:]), lab)
    # truncated: header only, half the data, half a header
    s["truncated-data"] = fuzz_input(0, img[: len(img) - 7], lab)
    s["truncated-header"] = fuzz_input(0, img[:9], lab[:5])
    s["truncated-gzip"] = fuzz_input(0, gz(img)[:-12], lab)
    s["trailing-data"] = fuzz_input(0, img + b"\x00\x01", lab)
    s["trailing-garbage-after-gzip"] = fuzz_input(0, gz(img) + b"garbage", lab)
    # wrong magic, types and dimension counts
    s["wrong-magic"] = fuzz_input(0, b"\x01\x02" + img[2:], lab)
    s["wrong-type-int32"] = fuzz_input(0, bytes([0, 0, 0x0C]) + img[3:], lab)
    s["labels-float"] = fuzz_input(0, img, bytes([0, 0, 0x0D, 1]) + lab[4:])
    s["labels-2d"] = fuzz_input(0, img, idx(0x08, [4, 1], lab[8:]))
    s["images-5d"] = fuzz_input(0, idx(0x08, [1, 1, 1, 1, 1], b"\x05"), labels(1))
    s["count-mismatch"] = fuzz_input(0, img, labels(5))
    s["zero-dimension"] = fuzz_input(0, idx(0x08, [4, 0, 5], b""), lab)
    s["float-out-of-range"] = fuzz_input(
        SAVE_FLOAT, idx(0x0D, [1, 2], struct.pack(">ff", 0.5, 1.5)), labels(1))
    s["float-nan"] = fuzz_input(0, idx(0x0D, [1, 2], struct.pack(">ff", float("nan"), 0.5)), labels(1))
    # huge dimensions: 2^31 examples, 2^32-1 per dimension, a product above 2^31
    s["huge-count"] = fuzz_input(0, idx(0x08, [0x80000000, 28, 28], b"\x00" * 16), lab)
    s["huge-dims"] = fuzz_input(0, idx(0x08, [1, 0xFFFFFFFF, 0xFFFFFFFF], b"\x00" * 16), lab)
    s["huge-product"] = fuzz_input(0, idx(0x0D, [2, 65536, 65536, 2], b"\x00" * 16), lab)
    # the header declares more than the file holds (plain and gzip)
    s["declares-more-plain"] = fuzz_input(0, idx(0x08, [60000, 28, 28], bytes(100)), labels(4))
    s["declares-more-gzip"] = fuzz_input(0, gz(idx(0x08, [60000, 28, 28], bytes(4096))), labels(4))
    # gzip whose trailer lies: ISIZE says 2^32-1 bytes, CRC wrong; and ISIZE small for a big
    # stream (the decompressed size modulo 2^32 is all the trailer can hold)
    g = bytearray(gz(img))
    g[-4:] = struct.pack("<I", 0xFFFFFFFF)
    s["gzip-trailer-lies-isize"] = fuzz_input(0, bytes(g), lab)
    g = bytearray(gz(img))
    g[-8:-4] = struct.pack("<I", 0x12345678)
    s["gzip-trailer-lies-crc"] = fuzz_input(0, bytes(g), lab)
    big = idx(0x08, [64, 28, 28], bytes(64 * 28 * 28))
    g = bytearray(gz(big))
    g[-4:] = struct.pack("<I", 16)
    s["gzip-trailer-lies-small"] = fuzz_input(0, bytes(g), gz(labels(64)))
    # a small bomb: 16-byte header declaring 2^20 examples, then 4 MB of zeros that inflate
    # from a few KB (the header declares more than the 4 MB, the stream holds less)
    s["gzip-bomb-small"] = fuzz_input(0, gz(idx(0x08, [1 << 20, 28, 28], bytes(4 << 20))), labels(4))
    s["empty"] = b""
    s["empty-parts"] = fuzz_input(0, b"", b"")
    s["empty-gzip-parts"] = fuzz_input(GZ_IMAGES | GZ_LABELS, b"", b"")
    return s


def npy(arr, version=(1, 0), fortran=False):
    import io
    b = io.BytesIO()
    np.lib.format.write_array(b, np.asfortranarray(arr) if fortran else arr, version=version)
    return b.getvalue()


def npy_header(dict_text, data=b"", version=1):
    body = dict_text + " " * ((64 - (10 + len(dict_text) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H", len(body)) + body.encode() + data


def npy_seeds():
    """fuzz_idx_load inputs with the NPY flag: .npy images and .npy or IDX labels."""
    rng = np.random.RandomState(5)
    f4 = rng.rand(3, 3, 4, 4).astype("<f4")
    u1 = rng.randint(0, 256, size=(4, 5, 5)).astype(np.uint8)
    y8 = np.array([0, 2, 1], dtype="<i8")
    s = {}
    s["npy-valid-f4-nchw"] = fuzz_input(NPY | SAVE_FLOAT, npy(f4), npy(y8))
    s["npy-valid-u1-nhw-v2-gzip"] = fuzz_input(NPY | GZ_IMAGES, npy(u1, (2, 0)),
                                               npy(np.arange(4, dtype="<i4"), (3, 0)))
    s["npy-valid-f8-nd-idx-labels"] = fuzz_input(NPY, npy(rng.rand(3, 7)), labels(3))
    s["npy-valid-no-labels"] = fuzz_input(NPY | NO_LABELS, npy(f4))
    s["npy-fortran"] = fuzz_input(NPY, npy(f4, fortran=True), npy(y8))
    s["npy-out-of-range"] = fuzz_input(NPY, npy(f4 * 3), npy(y8))
    s["npy-truncated"] = fuzz_input(NPY, npy(f4)[:-5], npy(y8))
    s["npy-trailing"] = fuzz_input(NPY, npy(f4) + b"xx", npy(y8))
    s["npy-bad-magic"] = fuzz_input(NPY, b"\x93NUMPZ" + npy(f4)[6:], npy(y8))
    s["npy-huge-shape"] = fuzz_input(NPY, npy_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 3, 224, 224), }",
        bytes(64)), npy(y8))
    s["npy-bad-dict"] = fuzz_input(NPY, npy_header("{'descr': '<f4', 'shape': (2, 2), 'x': ()}",
                                                   bytes(16)), npy(y8))
    s["npy-object"] = fuzz_input(NPY, npy_header(
        "{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", bytes(16)), npy(y8))
    s["npy-negative-label"] = fuzz_input(NPY, npy(f4), npy(np.array([0, -1, 2], dtype="<i8")))
    s["npy-count-mismatch"] = fuzz_input(NPY, npy(f4), npy(np.arange(5, dtype="<i8")))
    return s


# ---------------------------------------------------------------------------------------
# ONNX

def onnx_seeds():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.RandomState(7)

    def init(name, shape, scale=0.1):
        return numpy_helper.from_array((rng.randn(*shape) * scale).astype(np.float32), name)

    def model(nodes, inputs, outputs, inits, opset=13):
        g = helper.make_graph(nodes, "g", inputs, outputs, inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="make-seeds")
        m.ir_version = 7
        return m

    def vi(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    s = {}
    # dense: Flatten, Gemm, Relu, Gemm, Softmax
    s["valid-dense"] = model(
        [helper.make_node("Flatten", ["x"], ["f"], axis=1),
         helper.make_node("Gemm", ["f", "W1", "b1"], ["h"], transB=1),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "W2", "b2"], ["z"], transB=1),
         helper.make_node("Softmax", ["z"], ["y"], axis=1)],
        [vi("x", [1, 1, 4, 4])], [vi("y", [1, 3])],
        [init("W1", [8, 16]), init("b1", [8]), init("W2", [3, 8]), init("b2", [3])])
    # conv: Conv, BatchNormalization, Relu, MaxPool, AveragePool, Flatten, Gemm
    s["valid-conv"] = model(
        [helper.make_node("Conv", ["x", "K", "kb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["n"], epsilon=1e-5),
         helper.make_node("Relu", ["n"], ["r"]),
         helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("AveragePool", ["p"], ["a"], kernel_shape=[2, 2], strides=[1, 1]),
         helper.make_node("Flatten", ["a"], ["f"], axis=1),
         helper.make_node("Gemm", ["f", "W", "b"], ["y"], transB=1)],
        [vi("x", [1, 1, 6, 6])], [vi("y", [1, 2])],
        [init("K", [2, 1, 3, 3]), init("kb", [2]),
         numpy_helper.from_array(np.ones(2, np.float32), "g"), init("be", [2]), init("mu", [2]),
         numpy_helper.from_array(np.ones(2, np.float32), "var"),
         init("W", [2, 8]), init("b", [2])])
    # other activations, global pooling, LRN, dropout, reshape
    s["valid-misc"] = model(
        [helper.make_node("Conv", ["x", "K"], ["c"], kernel_shape=[1, 1]),
         helper.make_node("LRN", ["c"], ["l"], size=3),
         helper.make_node("Tanh", ["l"], ["t"]),
         helper.make_node("Sigmoid", ["t"], ["s"]),
         helper.make_node("LeakyRelu", ["s"], ["lr"], alpha=0.1),
         helper.make_node("GlobalAveragePool", ["lr"], ["gp"]),
         helper.make_node("Dropout", ["gp"], ["d"]),
         helper.make_node("Reshape", ["d", "shape"], ["y"])],
        [vi("x", [1, 1, 3, 3])], [vi("y", [1, 3])],
        [init("K", [3, 1, 1, 1]),
         numpy_helper.from_array(np.array([1, 3], np.int64), "shape")])

    # the amplifying model (issue 17, item 6): a 1x1 convolution with large pads grows the
    # map at each layer; three ReLUs follow
    s["crafted-amplifying-conv-pads"] = model(
        [helper.make_node("Conv", ["x", "K"], ["c"], kernel_shape=[1, 1],
                          pads=[8000, 8000, 8000, 8000]),
         helper.make_node("Relu", ["c"], ["r1"]),
         helper.make_node("Relu", ["r1"], ["r2"]),
         helper.make_node("Relu", ["r2"], ["y"])],
        [vi("x", [1, 1, 2, 2])], [vi("y", None)],
        [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "K")])
    s["crafted-amplifying-conv-chain"] = model(
        [helper.make_node("Conv", ["x", "K"], ["c1"], kernel_shape=[1, 1], pads=[90, 90, 90, 90]),
         helper.make_node("Conv", ["c1", "K"], ["c2"], kernel_shape=[1, 1], pads=[900, 900, 900, 900]),
         helper.make_node("Conv", ["c2", "K"], ["y"], kernel_shape=[1, 1], pads=[9000, 9000, 9000, 9000])],
        [vi("x", [1, 1, 1, 1])], [vi("y", None)],
        [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "K")])
    # names with escape sequences (item 7): clear screen, OSC set-title
    s["crafted-escape-node-name"] = model(
        [helper.make_node("Flatten", ["x"], ["f"], name="\x1b[2J\x1b]0;pwned\x07"),
         helper.make_node("Gemm", ["f", "W"], ["y"], transB=1)],
        [vi("x", [1, 1, 2, 2])], [vi("y", [1, 2])], [init("W", [2, 4])])
    s["crafted-escape-op-type"] = model(
        [helper.make_node("\x1b[2JRelu\x1b]0;title\x07", ["x"], ["y"], name="n\x1b[31m")],
        [vi("x", [1, 4])], [vi("y", [1, 4])], [])
    # cycles and self-loops
    s["crafted-self-loop"] = model(
        [helper.make_node("Relu", ["a"], ["a"])], [vi("a", [1, 4])], [vi("a", [1, 4])], [])
    s["crafted-cycle"] = model(
        [helper.make_node("Add", ["x", "b"], ["a"]),
         helper.make_node("Relu", ["a"], ["b"]),
         helper.make_node("Relu", ["b"], ["y"])],
        [vi("x", [1, 4])], [vi("y", [1, 4])], [])
    s["crafted-two-node-cycle"] = model(
        [helper.make_node("Relu", ["b"], ["a"]),
         helper.make_node("Relu", ["a"], ["b"])],
        [vi("x", [1, 4])], [vi("b", [1, 4])], [])
    # 2^62 dims: in the input, in an initializer's dims (with no data), and 40 dims
    s["crafted-dims-2p62-input"] = model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [vi("x", [1, 1 << 62])], [vi("y", [1, 1 << 62])], [])
    big = TensorProto()
    big.name, big.data_type = "W", TensorProto.FLOAT
    big.dims.extend([1 << 62, 4])
    s["crafted-dims-2p62-initializer"] = model(
        [helper.make_node("Flatten", ["x"], ["f"]),
         helper.make_node("Gemm", ["f", "W"], ["y"], transB=1)],
        [vi("x", [1, 4])], [vi("y", None)], [big])
    prod = TensorProto()
    prod.name, prod.data_type = "W", TensorProto.FLOAT
    prod.dims.extend([1 << 31, 1 << 31, 4])
    s["crafted-dims-product-overflow"] = model(
        [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)],
        [vi("x", [1, 4])], [vi("y", None)], [prod])
    s["crafted-40-dims"] = model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [vi("x", [1] * 40)], [vi("y", [1] * 40)], [])
    # short raw_data: dims 8x16 but 12 bytes
    short = TensorProto()
    short.name, short.data_type = "W", TensorProto.FLOAT
    short.dims.extend([8, 16])
    short.raw_data = b"\x00" * 12
    s["crafted-short-raw-data"] = model(
        [helper.make_node("Flatten", ["x"], ["f"]),
         helper.make_node("Gemm", ["f", "W"], ["y"], transB=1)],
        [vi("x", [1, 1, 4, 4])], [vi("y", [1, 8])], [short])
    # duplicate names: two initializers "W", two nodes writing "h"
    s["crafted-duplicate-names"] = model(
        [helper.make_node("Flatten", ["x"], ["h"]),
         helper.make_node("Relu", ["x"], ["h"]),
         helper.make_node("Gemm", ["h", "W"], ["y"], transB=1)],
        [vi("x", [1, 4])], [vi("y", [1, 2])], [init("W", [2, 4]), init("W", [3, 4])])
    # a weight of 3e38 and a batch norm with variance -1 (non-finite outputs, item 8)
    s["crafted-nonfinite-outputs"] = model(
        [helper.make_node("BatchNormalization", ["x", "g", "be", "mu", "var"], ["n"]),
         helper.make_node("Flatten", ["n"], ["f"]),
         helper.make_node("Gemm", ["f", "W"], ["y"], transB=1)],
        [vi("x", [1, 1, 2, 2])], [vi("y", [1, 2])],
        [numpy_helper.from_array(np.ones(1, np.float32), "g"),
         numpy_helper.from_array(np.zeros(1, np.float32), "be"),
         numpy_helper.from_array(np.zeros(1, np.float32), "mu"),
         numpy_helper.from_array(-np.ones(1, np.float32), "var"),
         numpy_helper.from_array(np.full((2, 4), 3e38, np.float32), "W")])
    # the torchvision zoo's element-wise and pooling operators (issue 13): Pad folded into a
    # Conv, Clip with a Constant bound and an empty one, HardSigmoid, Pad before a MaxPool
    # with ceil_mode, ReduceMean over H, W without keepdims
    def ints(name, v):
        return numpy_helper.from_array(np.array(v, np.int64), name)

    def scalar(name, v):
        return numpy_helper.from_array(np.array(v, np.float32), name)

    s["valid-zoo-ops"] = model(
        [helper.make_node("Pad", ["x", "pads1"], ["xp"]),
         helper.make_node("Conv", ["xp", "K", "kb"], ["c"], kernel_shape=[3, 3]),
         helper.make_node("Constant", [], ["six"], value=scalar("six_v", 6.0)),
         helper.make_node("Clip", ["c", "", "six"], ["cl"]),
         helper.make_node("HardSigmoid", ["cl"], ["h"], alpha=1.0 / 6, beta=0.5),
         helper.make_node("Pad", ["h", "pads2"], ["hp"]),
         helper.make_node("MaxPool", ["hp"], ["p"], kernel_shape=[3, 3], strides=[2, 2],
                          ceil_mode=1),
         helper.make_node("ReduceMean", ["p"], ["m"], axes=[2, 3], keepdims=0),
         helper.make_node("Gemm", ["m", "W", "b"], ["y"], transB=1)],
        [vi("x", [1, 1, 6, 6])], [vi("y", [1, 2])],
        [ints("pads1", [0, 0, 1, 1, 0, 0, 1, 1]), init("K", [2, 1, 3, 3]), init("kb", [2]),
         ints("pads2", [0, 0, 0, 1, 0, 0, 1, 0]), init("W", [2, 2]), init("b", [2])])
    # opset 14: HardSwish, AveragePool ceil_mode with count_include_pad, ReduceMean keepdims 1
    s["valid-zoo-ops-opset14"] = model(
        [helper.make_node("Conv", ["x", "K"], ["c"], kernel_shape=[1, 1]),
         helper.make_node("HardSwish", ["c"], ["hs"]),
         helper.make_node("Clip", ["hs", "lo", "hi"], ["cl"]),
         helper.make_node("AveragePool", ["cl"], ["a"], kernel_shape=[2, 2], strides=[2, 2],
                          pads=[0, 0, 1, 1], ceil_mode=1, count_include_pad=1),
         helper.make_node("ReduceMean", ["a"], ["m"], axes=[-1, -2], keepdims=1),
         helper.make_node("Flatten", ["m"], ["y"])],
        [vi("x", [1, 1, 5, 5])], [vi("y", [1, 3])],
        [init("K", [3, 1, 1, 1]), scalar("lo", -1.0), scalar("hi", 4.0)], opset=14)
    # opset 10: Clip and Pad with attributes
    s["valid-zoo-ops-opset10"] = model(
        [helper.make_node("Pad", ["x"], ["xp"], pads=[0, 0, 1, 0, 0, 0, 0, 2], value=0.0),
         helper.make_node("Conv", ["xp", "K"], ["c"], kernel_shape=[2, 2]),
         helper.make_node("Clip", ["c"], ["cl"], min=0.0, max=6.0),
         helper.make_node("Flatten", ["cl"], ["y"])],
        [vi("x", [1, 1, 3, 3])], [vi("y", None)], [init("K", [1, 1, 2, 2])], opset=10)
    # huge Pad and inverted Clip bounds
    s["crafted-pad-huge"] = model(
        [helper.make_node("Pad", ["x", "pads"], ["y"])],
        [vi("x", [1, 1, 2, 2])], [vi("y", None)],
        [ints("pads", [0, 0, 1 << 40, 1 << 20, 0, 0, 1 << 20, 1 << 20])])
    s["crafted-clip-inverted"] = model(
        [helper.make_node("Clip", ["x", "lo", "hi"], ["y"])],
        [vi("x", [1, 4])], [vi("y", [1, 4])], [scalar("lo", 3.0), scalar("hi", -3.0)])
    out = {k: v.SerializeToString() for k, v in s.items()}

    # the wire-format reader's own paths (lib/io/onnx_read.c), as raw bytes onnx.helper does
    # not write: the graph in two ModelProto fields (protobuf merges them), and a weight whose
    # raw_data comes twice (the last one wins)
    def field(num, payload):
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    dense = s["valid-dense"]
    head = onnx.ModelProto()
    head.CopyFrom(dense)
    head.ClearField("graph")
    first, second = onnx.GraphProto(), onnx.GraphProto()
    first.node.extend(dense.graph.node)
    first.input.extend(dense.graph.input)
    second.name = dense.graph.name
    second.initializer.extend(dense.graph.initializer)
    second.output.extend(dense.graph.output)
    out["crafted-graph-in-two-fields"] = (head.SerializeToString() +
                                          field(7, first.SerializeToString()) +
                                          field(7, second.SerializeToString()))
    rest = onnx.GraphProto()
    rest.CopyFrom(dense.graph)
    w1 = [t for t in rest.initializer if t.name == "W1"][0]
    stale = field(9, b"\xff" * len(w1.raw_data))
    twice = stale + w1.SerializeToString()
    rest.initializer.remove(w1)
    out["crafted-raw-data-twice"] = (head.SerializeToString() +
                                     field(7, rest.SerializeToString() + field(5, twice)))
    return out


def write(dirname, seeds):
    os.makedirs(dirname, exist_ok=True)
    for f in os.listdir(dirname):
        if not f.startswith("regression-"):  # regression seeds are kept by hand
            os.remove(os.path.join(dirname, f))
    total = 0
    for name, data in sorted(seeds.items()):
        with open(os.path.join(dirname, name), "wb") as f:
            f.write(data)
        total += len(data)
    print(f"{dirname}: {len(seeds)} seeds, {total} bytes")


def main():
    write(IDX_DIR, {**idx_seeds(), **npy_seeds()})
    write(ONNX_DIR, onnx_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
