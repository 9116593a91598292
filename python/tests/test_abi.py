"""The ctypes mirrors against the C headers, and library discovery / ABI refusal."""
import ctypes
import os
import subprocess
import sys

import pytest

import nnprobe
from nnprobe import _lib

from conftest import REPO

PKG = os.path.join(REPO, "python")


def python_constants():
    """C constant name -> the value the binding uses for it."""
    # the modules (nnprobe.train and nnprobe.attack are also the names of functions)
    attack, dataset, train = (sys.modules["nnprobe." + m] for m in ("attack", "dataset", "train"))
    consts = {"NNP_LAYER_" + k.name: int(k) for k in nnprobe.LayerKind}
    consts.update({"NNP_" + cls.__name__.upper(): cls.status
                   for cls in nnprobe.errors.BY_STATUS.values()})
    consts.update(NNP_LOSS_SOFTMAX_XENT=train.LOSSES["softmax_xent"],
                  NNP_LOSS_MSE=train.LOSSES["mse"], NNP_DECAY_SUM=train.DECAY_MODES["sum"],
                  NNP_DECAY_PER_UNIT=train.DECAY_MODES["per_unit"],
                  NNP_ATTACK_NORM_LINF=attack.NORMS["linf"],
                  NNP_ATTACK_NORM_L2=attack.NORMS["l2"], NNP_IDX_UBYTE=dataset.IDX_TYPES["ubyte"],
                  NNP_IDX_FLOAT=dataset.IDX_TYPES["float"],
                  NNP_MAX_LAYER_INPUTS=_lib.NNP_MAX_LAYER_INPUTS)
    return consts


# the binding's exception class names -> the status constants they stand for
STATUS_CONSTANTS = {"NNP_INVALIDARGUMENT": "NNP_EINVAL", "NNP_OUTOFMEMORY": "NNP_ENOMEM",
                    "NNP_FILEERROR": "NNP_EIO", "NNP_FORMATERROR": "NNP_EFORMAT",
                    "NNP_VERSIONERROR": "NNP_EVERSION", "NNP_CANCELLED": "NNP_ECANCELLED",
                    "NNP_UNSUPPORTED": "NNP_EUNSUPPORTED", "NNP_NUMERICERROR": "NNP_ENUMERIC"}


def c_layout(cc, include_dirs, tmp_path):
    """{struct: (sizeof, {field: offsetof})}, the header's ABI number and the values of the
    C constants the binding mirrors, printed by a C program compiled against the headers."""
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <nnprobe/nnprobe.h>",
             "int main(void) {"]
    for cname, cls in _lib.STRUCTS.items():
        lines.append('printf("S %s %%zu\\n", sizeof(%s));' % (cname, cname))
        for fname, _ in cls._fields_:
            lines.append('printf("F %s %s %%zu\\n", offsetof(%s, %s));'
                         % (cname, fname, cname, fname))
    for pyname in python_constants():
        cname = STATUS_CONSTANTS.get(pyname, pyname)
        lines.append('printf("C %s %%d\\n", (int)%s);' % (pyname, cname))
    lines += ['printf("A %d\\n", NNP_ABI_VERSION);', "return 0; }"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    cmd = [cc, "-std=c11", "-Wall", "-Werror", str(src), "-o", str(exe)]
    for d in include_dirs:
        cmd[1:1] = ["-I", d]
    subprocess.run(cmd, check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    sizes, offsets, consts, abi = {}, {}, {}, None
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "S":
            sizes[parts[1]] = int(parts[2])
        elif parts[0] == "F":
            offsets[(parts[1], parts[2])] = int(parts[3])
        elif parts[0] == "C":
            consts[parts[1]] = int(parts[2])
        else:
            abi = int(parts[1])
    return sizes, offsets, consts, abi


def test_struct_layouts_match_headers(cc, include_dirs, tmp_path):
    sizes, offsets, consts, abi = c_layout(cc, include_dirs, tmp_path)
    assert abi in _lib.KNOWN_ABIS
    assert consts == python_constants()
    assert set(sizes) == set(_lib.STRUCTS)
    for cname, cls in _lib.STRUCTS.items():
        assert ctypes.sizeof(cls) == sizes[cname], cname
        for fname, _ in cls._fields_:
            assert getattr(cls, fname).offset == offsets[(cname, fname)], (cname, fname)


def test_every_c_struct_is_mirrored(include_dirs):
    """Every typedef'd struct in the public headers is either mirrored or an opaque handle."""
    import re
    found = set()
    for d in include_dirs:
        hdir = os.path.join(d, "nnprobe")
        for name in os.listdir(hdir):
            if name.endswith(".h"):
                text = open(os.path.join(hdir, name), encoding="utf-8").read()
                found |= set(re.findall(r"typedef struct (nnp_\w+) \{", text))
    assert found == set(_lib.STRUCTS)


def test_numpy_dtypes_match_structs():
    for dt, cls in ((nnprobe.RESULT_DTYPE, _lib.AttackResultC),
                    (nnprobe.INFO_DTYPE, _lib.LipschitzInfoC)):
        assert dt.itemsize == ctypes.sizeof(cls)
        for fname, ftype in cls._fields_:
            assert dt.fields[fname][1] == getattr(cls, fname).offset
            assert dt.fields[fname][0].itemsize == ctypes.sizeof(ftype)


def test_enums_match_library():
    """Counts and names from the library itself (the values: test_struct_layouts...)."""
    assert nnprobe.layer_kind_count() == len(nnprobe.LayerKind)
    assert nnprobe.status_count() == len(nnprobe.errors.BY_STATUS) + 1
    names = {k.c_name for k in nnprobe.LayerKind}
    assert len(names) == len(nnprobe.LayerKind) and "unknown" not in names
    for k in nnprobe.LayerKind:  # the binding's string aliases reach every kind
        assert nnprobe.net._kind(k.name.lower()) == k
    assert nnprobe.layer_kind_name(999) == "unknown"


def test_versions():
    assert nnprobe.library_abi == 0
    v = nnprobe.library_version_number
    assert nnprobe.library_version == "%d.%d.%d" % (v // 10000, v // 100 % 100, v % 100)
    assert v >= _lib.MIN_VERSION
    assert _lib.elf_soname(os.path.realpath(nnprobe.library_path)) == "libnnprobe.so.0"


def run_import(env_extra, code="import nnprobe; print(nnprobe.library_origin, "
                               "nnprobe.library_path)"):
    env = dict(os.environ)
    env.pop("NNPROBE_LIBRARY", None)
    env["PYTHONPATH"] = PKG
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)


def test_discovery_env_missing_file():
    r = run_import({"NNPROBE_LIBRARY": "/nonexistent/libnnprobe.so.0"})
    assert r.returncode != 0
    assert "NNPROBE_LIBRARY=/nonexistent/libnnprobe.so.0: no such file" in r.stderr


def test_discovery_env():
    r = run_import({"NNPROBE_LIBRARY": os.path.realpath(nnprobe.library_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "NNPROBE_LIBRARY"


def test_discovery_pkg_config(tmp_path):
    """With NNPROBE_LIBRARY unset, pkg-config's libdir is used."""
    import shutil
    if not shutil.which("pkg-config"):
        pytest.skip("pkg-config not installed")
    libdir = tmp_path / "lib"
    libdir.mkdir()
    os.symlink(os.path.realpath(nnprobe.library_path), libdir / "libnnprobe.so.0")
    (tmp_path / "nnprobe.pc").write_text(
        "prefix=%s\nlibdir=${prefix}/lib\n\nName: nnprobe\nDescription: test\n"
        "Version: 0.2.0\nLibs: -L${libdir} -lnnprobe\n" % tmp_path)
    r = run_import({"PKG_CONFIG_PATH": str(tmp_path), "PKG_CONFIG_LIBDIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    origin, path = r.stdout.split()
    assert origin == "pkg-config"
    assert path == str(libdir / "libnnprobe.so.0")


def test_discovery_refuses_unknown_abi(cc, tmp_path):
    """A library whose SONAME carries another ABI number is refused, naming what it found."""
    src = tmp_path / "fake.c"
    src.write_text("unsigned nnp_version_number(void) { return 900; }\n")
    so = tmp_path / "libnnprobe.so.9"
    subprocess.run([cc, "-shared", "-fPIC", "-Wl,-soname,libnnprobe.so.9", str(src), "-o",
                    str(so)], check=True)
    assert _lib.abi_of(str(so)) == (9, "SONAME libnnprobe.so.9")
    r = run_import({"NNPROBE_LIBRARY": str(so)})
    assert r.returncode != 0
    assert "ABI 9 (SONAME libnnprobe.so.9)" in r.stderr
    assert "knows ABI 0 only" in r.stderr


def test_discovery_refuses_old_library(cc, tmp_path):
    src = tmp_path / "old.c"
    src.write_text("unsigned nnp_version_number(void) { return 100; }\n")
    so = tmp_path / "libnnprobe.so.0"
    subprocess.run([cc, "-shared", "-fPIC", "-Wl,-soname,libnnprobe.so.0", str(src), "-o",
                    str(so)], check=True)
    r = run_import({"NNPROBE_LIBRARY": str(so)})
    assert r.returncode != 0
    assert "is libnnprobe 0.1.0" in r.stderr


def test_elf_soname_of_non_elf(tmp_path):
    p = tmp_path / "x.so"
    p.write_bytes(b"not an elf file at all" * 10)
    assert _lib.elf_soname(str(p)) is None
    assert _lib.abi_of(str(tmp_path / "libnnprobe.so.3"))[0] == 3


def test_pip_installable_without_compiler(tmp_path):
    """`pip install ./python` works offline with no compiler (pure Python, setuptools)."""
    r = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("pip not available")
    import importlib.util
    if importlib.util.find_spec("setuptools") is None:  # pip needs it without isolation
        pytest.skip("setuptools not available")
    target = tmp_path / "site"
    env = dict(os.environ, CC="/bin/false", PIP_NO_INDEX="1")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                        "--no-index", "--no-deps", "--target", str(target), PKG],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "nnprobe" / "_lib.py").exists()
    env = dict(os.environ, PYTHONPATH=str(target))
    r = subprocess.run([sys.executable, "-c", "import nnprobe; print(nnprobe.__file__)"],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(target))
