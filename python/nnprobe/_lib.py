"""Loading libnnprobe and declaring its C ABI for ctypes (internal).

Everything the binding knows about the C headers is written here, once: the struct mirrors
and the prototype of every exported function used. ``python/tests/test_abi.py`` compiles a
small C program against the real headers and checks every struct's size and field offsets
against these mirrors.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import struct
import subprocess
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_float, c_int,
                    c_size_t, c_uint, c_uint64, c_void_p)
from typing import List, Optional, Tuple

#: ABI numbers (the SONAME's last component, docs/abi.md) this binding was written for.
KNOWN_ABIS = (0,)
#: Oldest library release whose function names this binding uses (0.2.0: the renamed API).
MIN_VERSION = 200

c_int32_p = POINTER(ctypes.c_int32)
c_size_p = POINTER(c_size_t)
c_double_p = POINTER(c_double)
c_float_p = POINTER(c_float)

#: int (*)(uint64_t done, uint64_t total, void *user)
PROGRESS_FN = CFUNCTYPE(c_int, c_uint64, c_uint64, c_void_p)
# nnp_train_batch_fn(const nnp_net *net, float *x, int32_t *labels, size_t n, uint64_t step, void *user)
TRAIN_BATCH_FN = CFUNCTYPE(c_int, c_void_p, ctypes.POINTER(ctypes.c_float),
                           ctypes.POINTER(ctypes.c_int32), c_size_t, c_uint64, c_void_p)

NNP_MAX_LAYER_INPUTS = 4
c_enum = c_int  # every nnp_ enum has values 0..16: GCC and Clang give it the size of int


class LibraryError(ImportError):
    """The C library could not be found, loaded, or has an ABI this binding does not know."""


# ---------------------------------------------------------------- struct mirrors

class LayerInfoC(Structure):
    _fields_ = [("size", c_size_t), ("kind", c_enum), ("n_inputs", c_size_t),
                ("inputs", c_size_t * NNP_MAX_LAYER_INPUTS), ("channels", c_size_t),
                ("height", c_size_t), ("width", c_size_t), ("output_size", c_size_t),
                ("weight_count", c_size_t), ("bias_count", c_size_t),
                ("kernel_h", c_size_t), ("kernel_w", c_size_t), ("stride_h", c_size_t),
                ("stride_w", c_size_t), ("pad_top", c_size_t), ("pad_left", c_size_t),
                ("pad_bottom", c_size_t), ("pad_right", c_size_t), ("dilation_h", c_size_t),
                ("dilation_w", c_size_t), ("groups", c_size_t), ("alpha", c_double),
                ("beta", c_double), ("clip_min", c_double), ("clip_max", c_double),
                ("ceil_mode", c_int)]


class Conv2dOptsC(Structure):
    _fields_ = [("size", c_size_t), ("out_channels", c_size_t), ("kernel_h", c_size_t),
                ("kernel_w", c_size_t), ("stride_h", c_size_t), ("stride_w", c_size_t),
                ("pad_top", c_size_t), ("pad_left", c_size_t), ("pad_bottom", c_size_t),
                ("pad_right", c_size_t), ("dilation_h", c_size_t), ("dilation_w", c_size_t),
                ("groups", c_size_t), ("bias", c_int)]


class Pool2dOptsC(Structure):
    _fields_ = [("size", c_size_t), ("kernel_h", c_size_t), ("kernel_w", c_size_t),
                ("stride_h", c_size_t), ("stride_w", c_size_t), ("pad_top", c_size_t),
                ("pad_left", c_size_t), ("pad_bottom", c_size_t), ("pad_right", c_size_t),
                ("count_include_pad", c_int), ("ceil_mode", c_int)]


class TrainOptsC(Structure):
    _fields_ = [("size", c_size_t), ("epochs", c_size_t), ("batch_size", c_size_t),
                ("learning_rate", c_double), ("momentum", c_double), ("lr_decay", c_double),
                ("loss", c_enum), ("decay_mode", c_enum), ("weight_decay", c_double_p),
                ("n_weight_decay", c_size_t), ("first_trainable_layer", c_size_t),
                ("seed", c_uint64), ("progress", PROGRESS_FN), ("progress_user", c_void_p),
                ("dropout", c_int), ("batch_hook", TRAIN_BATCH_FN), ("batch_hook_user", c_void_p)]


class AttackResultC(Structure):
    _fields_ = [("success", c_int), ("finished", c_int), ("clean_label", ctypes.c_int32),
                ("label", ctypes.c_int32), ("target", ctypes.c_int32), ("rms", c_double),
                ("l2", c_double), ("linf", c_double), ("c", c_double),
                ("iterations", c_size_t), ("evaluations", c_size_t)]


class LbfgsOptsC(Structure):
    _fields_ = [("size", c_size_t), ("c_init", c_double), ("c_factor", c_double),
                ("c_bracket_steps", c_size_t), ("c_bisect_steps", c_size_t),
                ("history", c_size_t), ("max_iterations", c_size_t), ("pgtol", c_double),
                ("ftol", c_double), ("batch_size", c_size_t), ("progress", PROGRESS_FN),
                ("progress_user", c_void_p)]


class FgsmOptsC(Structure):
    _fields_ = [("size", c_size_t), ("epsilon", c_double), ("minimal", c_int),
                ("search_steps", c_size_t), ("batch_size", c_size_t),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p)]


class PgdOptsC(Structure):
    _fields_ = [("size", c_size_t), ("norm", c_enum), ("epsilon", c_double),
                ("steps", c_size_t), ("step_size", c_double), ("random_start", c_int),
                ("seed", c_uint64), ("batch_size", c_size_t), ("progress", PROGRESS_FN),
                ("progress_user", c_void_p), ("first_index", c_size_t)]


class DeepfoolOptsC(Structure):
    _fields_ = [("size", c_size_t), ("max_iterations", c_size_t), ("overshoot", c_double),
                ("candidates", c_size_t), ("batch_size", c_size_t),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p)]


class CwOptsC(Structure):
    _fields_ = [("size", c_size_t), ("c_init", c_double), ("binary_search_steps", c_size_t),
                ("steps", c_size_t), ("learning_rate", c_double), ("confidence", c_double),
                ("abort_early", c_int), ("batch_size", c_size_t),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p)]


class MaxactSearchOptsC(Structure):
    _fields_ = [("size", c_size_t), ("batch_size", c_size_t), ("progress", PROGRESS_FN),
                ("progress_user", c_void_p), ("first_index", c_size_t)]


class MaxactOptimiseOptsC(Structure):
    _fields_ = [("size", c_size_t), ("steps", c_size_t), ("step_size", c_double),
                ("l2", c_double), ("tv", c_double), ("tv_eps", c_double),
                ("jitter", c_size_t), ("seed", c_uint64), ("start", c_float_p),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p)]


class LipschitzOptsC(Structure):
    _fields_ = [("size", c_size_t), ("exact", c_int), ("tol", c_double),
                ("max_iter", c_size_t), ("max_basis", c_size_t),
                ("fourier_grid_h", c_size_t), ("fourier_grid_w", c_size_t),
                ("power_iters", c_size_t), ("batch_size", c_size_t), ("seed", c_uint64),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p),
                ("full_reorth", c_int), ("lower_from", c_size_t),
                ("clever_batches", c_size_t), ("clever_samples", c_size_t),
                ("paper_bound", c_int), ("first_index", c_size_t)]


class LipschitzInfoC(Structure):
    _fields_ = [("size", c_size_t), ("kind", c_enum), ("bound", c_double),
                ("exact", c_double), ("accuracy", c_double), ("converged", c_int),
                ("iterations", c_size_t), ("applications", c_size_t),
                ("stride_h", c_size_t), ("stride_w", c_size_t), ("grid_h", c_size_t),
                ("grid_w", c_size_t), ("overlap", c_size_t), ("upper_to", c_double),
                ("upper_to_exact", c_double)]


#: C struct name -> ctypes mirror; the ABI test checks each against the headers.
STRUCTS = {
    "nnp_layer_info": LayerInfoC,
    "nnp_net_conv2d_opts": Conv2dOptsC,
    "nnp_net_pool2d_opts": Pool2dOptsC,
    "nnp_train_opts": TrainOptsC,
    "nnp_attack_result": AttackResultC,
    "nnp_attack_lbfgs_opts": LbfgsOptsC,
    "nnp_attack_fgsm_opts": FgsmOptsC,
    "nnp_attack_pgd_opts": PgdOptsC,
    "nnp_attack_deepfool_opts": DeepfoolOptsC,
    "nnp_attack_cw_opts": CwOptsC,
    "nnp_maxact_search_opts": MaxactSearchOptsC,
    "nnp_maxact_optimise_opts": MaxactOptimiseOptsC,
    "nnp_lipschitz_opts": LipschitzOptsC,
    "nnp_lipschitz_info": LipschitzInfoC,
}

# ---------------------------------------------------------------- prototypes

P = c_void_p      # any handle or array pointer (arrays are passed as their address)
PP = POINTER(c_void_p)
S = c_int         # nnp_status

PROTOTYPES = {
    # status.h, version.h
    "nnp_status_count": (c_int, []),
    "nnp_status_str": (c_char_p, [c_int]),
    "nnp_status_name": (c_char_p, [c_int]),
    "nnp_last_error": (c_char_p, []),
    "nnp_version_number": (c_uint, []),
    "nnp_version_string": (c_char_p, []),
    # runtime.h
    "nnp_threads_set": (S, [c_size_t]),
    "nnp_threads_get": (c_size_t, []),
    # net.h
    "nnp_layer_kind_count": (c_int, []),
    "nnp_layer_kind_name": (c_char_p, [c_int]),
    "nnp_net_create": (S, [c_size_t, c_size_t, c_size_t, PP]),
    "nnp_net_free": (None, [P]),
    "nnp_net_clone": (S, [P, PP]),
    "nnp_net_normalized": (S, [P, P, P, c_size_t, PP]),
    "nnp_net_add_dense": (S, [P, c_size_t, c_size_p]),
    "nnp_net_add_activation": (S, [P, c_int, c_size_p]),
    "nnp_net_add_leaky_relu": (S, [P, c_double, c_size_p]),
    "nnp_net_add_clip": (S, [P, c_double, c_double, c_size_p]),
    "nnp_net_add_hard_sigmoid": (S, [P, c_double, c_double, c_size_p]),
    "nnp_net_add_pad": (S, [P, c_size_t, c_size_t, c_size_t, c_size_t, c_size_p]),
    "nnp_net_branch_from": (S, [P, c_size_t]),
    "nnp_net_conv2d_opts_init_sized": (S, [P, c_size_t]),
    "nnp_net_add_conv2d": (S, [P, P, c_size_p]),
    "nnp_net_pool2d_opts_init_sized": (S, [P, c_size_t]),
    "nnp_net_add_maxpool2d": (S, [P, P, c_size_p]),
    "nnp_net_add_avgpool2d": (S, [P, P, c_size_p]),
    "nnp_net_add_global_avgpool": (S, [P, c_size_p]),
    "nnp_net_add_lrn": (S, [P, c_size_t, c_float, c_float, c_float, c_size_p]),
    "nnp_net_add_contrast_norm": (S, [P, c_float, c_float, c_size_p]),
    "nnp_net_add_batchnorm": (S, [P, c_float, c_size_p]),
    "nnp_net_add_dropout": (S, [P, c_float, c_size_p]),
    "nnp_net_add_flatten": (S, [P, c_size_p]),
    "nnp_net_add_add": (S, [P, c_size_t, c_size_t, c_size_p]),
    "nnp_net_layer_count": (c_size_t, [P]),
    "nnp_net_input_size": (c_size_t, [P]),
    "nnp_net_output_size": (c_size_t, [P]),
    "nnp_net_param_count": (c_size_t, [P]),
    "nnp_net_layer_info": (S, [P, c_size_t, P]),
    "nnp_net_init_params": (S, [P, c_uint64]),
    "nnp_net_get_params": (S, [P, c_size_t, P, P]),
    "nnp_net_set_params": (S, [P, c_size_t, P, P]),
    "nnp_workspace_bytes": (S, [P, c_size_t, c_size_p]),
    "nnp_workspace_create": (S, [P, c_size_t, PP]),
    "nnp_workspace_free": (None, [P]),
    "nnp_net_forward": (S, [P, P, P, c_size_t, P]),
    "nnp_net_forward_layer": (S, [P, P, P, c_size_t, c_size_t, P]),
    # grad.h
    "nnp_grad_loss": (S, [P, P, P, P, c_size_t, P, P, P]),
    "nnp_grad_unit": (S, [P, P, P, c_size_t, c_size_t, c_size_t, P, P]),
    "nnp_grad_vjp": (S, [P, P, P, c_size_t, c_size_t, P, P]),
    # dataset.h
    "nnp_dataset_load_idx": (S, [c_char_p, c_char_p, PP]),
    "nnp_dataset_load_npy": (S, [c_char_p, c_char_p, PP]),
    "nnp_dataset_create": (S, [c_size_t, c_size_t, c_size_t, c_size_t, P, P, PP]),
    "nnp_dataset_free": (None, [P]),
    "nnp_dataset_count": (c_size_t, [P]),
    "nnp_dataset_example_size": (c_size_t, [P]),
    "nnp_dataset_shape": (S, [P, c_size_p, c_size_p, c_size_p]),
    "nnp_dataset_images": (c_void_p, [P]),
    "nnp_dataset_labels": (c_void_p, [P]),
    "nnp_dataset_class_count": (c_size_t, [P]),
    "nnp_dataset_subset": (S, [P, c_size_t, c_size_t, PP]),
    "nnp_dataset_select": (S, [P, P, c_size_t, PP]),
    "nnp_dataset_permute_labels": (S, [P, c_uint64]),
    "nnp_dataset_save_idx": (S, [P, c_char_p, c_char_p, c_int]),
    # train.h
    "nnp_train_opts_init_sized": (S, [P, c_size_t]),
    "nnp_train": (S, [P, P, P, c_double_p]),
    # attack.h
    "nnp_attack_lbfgs_opts_init_sized": (S, [P, c_size_t]),
    "nnp_attack_lbfgs": (S, [P, P, P, P, c_size_t, P, P, P]),
    "nnp_attack_fgsm_opts_init_sized": (S, [P, c_size_t]),
    "nnp_attack_fgsm": (S, [P, P, P, P, c_size_t, P, P, P]),
    "nnp_attack_pgd_opts_init_sized": (S, [P, c_size_t]),
    "nnp_attack_pgd": (S, [P, P, P, P, c_size_t, P, P, P]),
    "nnp_attack_deepfool_opts_init_sized": (S, [P, c_size_t]),
    "nnp_attack_deepfool": (S, [P, P, P, P, c_size_t, P, P, P]),
    "nnp_attack_cw_opts_init_sized": (S, [P, c_size_t]),
    "nnp_attack_cw": (S, [P, P, P, P, c_size_t, P, P, P]),
    # eval.h
    "nnp_eval_error_rate": (S, [P, P, P, c_size_t, c_double_p, c_double_p]),
    "nnp_eval_transfer_matrix": (S, [P, c_size_t, P, c_size_t, P, c_size_t, P]),
    "nnp_eval_noise_gaussian": (S, [P, c_size_t, c_double, c_uint64, P]),
    "nnp_eval_perturbation_rescale": (S, [P, P, c_size_t, c_size_t, c_double, P]),
    # onnx.h
    "nnp_net_load_onnx": (S, [c_char_p, PP]),
    "nnp_net_load_onnx_memory": (S, [c_char_p, c_size_t, PP]),
    "nnp_net_save_onnx": (S, [P, c_char_p]),
    # maxact.h
    "nnp_maxact_directions_unit": (S, [c_size_t, c_size_t, P]),
    "nnp_maxact_directions_random": (S, [c_size_t, c_size_t, c_uint64, P]),
    "nnp_maxact_search_opts_init_sized": (S, [P, c_size_t]),
    "nnp_maxact_search": (S, [P, P, P, c_size_t, P, c_size_t, c_size_t, P, P, P, P, P,
                              c_size_p]),
    "nnp_maxact_optimise_opts_init_sized": (S, [P, c_size_t]),
    "nnp_maxact_optimise": (S, [P, P, c_size_t, P, c_size_t, P, P, P, P]),
    # lipschitz.h
    "nnp_lipschitz_opts_init_sized": (S, [P, c_size_t]),
    "nnp_lipschitz_bounds": (S, [P, P, P, c_size_t]),
    "nnp_lipschitz_lower": (S, [P, P, c_size_t, c_size_t, P, P, c_double_p, c_size_p]),
    "nnp_lipschitz_clever": (S, [P, P, ctypes.c_int32, ctypes.c_int32, c_double, P,
                                 c_double_p, c_double_p, c_double_p]),
}


# ---------------------------------------------------------------- discovery

def elf_soname(path: str) -> Optional[str]:
    """DT_SONAME of an ELF shared object, read from its section table; None if the file is
    not ELF or has none."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) < 64 or data[:4] != b"\x7fELF":
        return None
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    try:
        if is64:
            shoff, = struct.unpack_from(end + "Q", data, 0x28)
            shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
            sh_fmt, dyn_fmt = end + "IIQQQQIIQQ", end + "qQ"
        else:
            shoff, = struct.unpack_from(end + "I", data, 0x20)
            shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
            sh_fmt, dyn_fmt = end + "IIIIIIIIII", end + "iI"
        sections = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize)
                    for i in range(shnum)]
        dyn_size = struct.calcsize(dyn_fmt)
        for sh in sections:
            if sh[1] != 6:  # SHT_DYNAMIC
                continue
            offset, size, link = sh[4], sh[5], sh[6]
            strtab_off = sections[link][4]
            for k in range(size // dyn_size):
                tag, val = struct.unpack_from(dyn_fmt, data, offset + k * dyn_size)
                if tag == 0:
                    break
                if tag == 14:  # DT_SONAME
                    stop = data.index(b"\0", strtab_off + val)
                    return data[strtab_off + val:stop].decode("utf-8", "replace")
    except (struct.error, IndexError, ValueError):
        return None
    return None


def abi_of(path: str) -> Tuple[Optional[int], str]:
    """(ABI number, how it was determined) of a library file: its SONAME, else its name."""
    name = elf_soname(path)
    how = "SONAME"
    if name is None:
        name, how = os.path.basename(path), "file name"
    m = re.search(r"nnprobe\.so\.(\d+)", name) or re.search(r"nnprobe\.(\d+)\.dylib", name) \
        or re.search(r"nnprobe-(\d+)\.dll", name)
    return (int(m.group(1)) if m else None), "%s %s" % (how, name)


def _pkg_config_candidates() -> List[str]:
    exe = shutil.which(os.environ.get("PKG_CONFIG", "pkg-config"))
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--variable=libdir", "nnprobe"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    libdir = out.stdout.strip()
    if out.returncode != 0 or not libdir:
        return []
    return [os.path.join(libdir, "libnnprobe.so.%d" % abi) for abi in KNOWN_ABIS] + \
        [os.path.join(libdir, "libnnprobe.so"), os.path.join(libdir, "libnnprobe.dylib")]


def find_library() -> Tuple[str, str]:
    """(path or loader name, where it came from), searched in the documented order:
    ``NNPROBE_LIBRARY``, ``pkg-config --variable=libdir nnprobe``, the system loader path."""
    env = os.environ.get("NNPROBE_LIBRARY")
    if env:
        if not os.path.exists(env):
            raise LibraryError("NNPROBE_LIBRARY=%s: no such file" % env)
        return env, "NNPROBE_LIBRARY"
    for cand in _pkg_config_candidates():
        if os.path.exists(cand):
            return cand, "pkg-config"
    for abi in KNOWN_ABIS:
        name = "libnnprobe.so.%d" % abi
        try:
            ctypes.CDLL(name)
            return name, "loader path"
        except OSError:
            pass
    found = ctypes.util.find_library("nnprobe")
    if found:
        return found, "loader path"
    raise LibraryError(
        "libnnprobe not found: set NNPROBE_LIBRARY to the library file (e.g. "
        "build/libnnprobe.so.0), or install it where pkg-config or the dynamic loader finds it")


class Library:
    """The loaded C library with its prototypes declared."""

    def __init__(self, path: str, origin: str):
        self.path = path
        self.origin = origin
        if os.path.sep not in path:  # a loader name: the ABI is in the name we asked for
            abi, how = abi_of(path)
        else:
            abi, how = abi_of(os.path.realpath(path))
        if abi not in KNOWN_ABIS:
            raise LibraryError(
                "%s (from %s) has ABI %s (%s); this binding knows ABI %s only"
                % (path, origin, "unknown" if abi is None else abi, how,
                   ", ".join(str(a) for a in KNOWN_ABIS)))
        self.abi = abi
        try:
            self.dll = ctypes.CDLL(path)  # CDLL: the GIL is released in every call
        except OSError as e:
            raise LibraryError("cannot load %s (from %s): %s" % (path, origin, e)) from e
        try:
            vfn = self.dll.nnp_version_number
        except AttributeError:
            raise LibraryError("%s (from %s) has no nnp_version_number: not libnnprobe >= 0.2"
                               % (path, origin)) from None
        vfn.restype, vfn.argtypes = c_uint, []
        self.release_number = int(vfn())
        if self.release_number < MIN_VERSION:
            raise LibraryError("%s (from %s) is libnnprobe %d.%d.%d; this binding needs 0.2.0 "
                               "or newer with ABI 0" % (path, origin,
                                                        self.release_number // 10000,
                                                        self.release_number // 100 % 100,
                                                        self.release_number % 100))
        missing = []
        for name, (restype, argtypes) in PROTOTYPES.items():
            try:
                fn = getattr(self.dll, name)
            except AttributeError:
                missing.append(name)
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name[4:], fn)  # nnp_grad_loss -> self.grad_loss
        if missing:
            raise LibraryError("%s (from %s) lacks %s" % (path, origin, ", ".join(missing)))
        self.release_string = self.version_string().decode()


_LIB: Optional[Library] = None


def load() -> Library:
    """The library, loaded on first use."""
    global _LIB
    if _LIB is None:
        path, origin = find_library()
        _LIB = Library(path, origin)
    return _LIB
