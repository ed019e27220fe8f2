"""cnnc.io: tensor files through the C library (include/cnnc/io.h).

    import cnnc
    cnnc.io.save_safetensors({"w": cnnc.ones(2, 3)}, "t.safetensors", metadata={"k": "v"})
    cnnc.io.load_safetensors("t.safetensors")          # OrderedDict name -> cnnc.Tensor
    cnnc.io.load_safetensors_metadata("t.safetensors") # {'k': 'v'}
    cnnc.io.save_npy(cnnc.ones(3), "x.npy")
    cnnc.io.load_npy("x.npy")                          # cnnc.Tensor
    module.save("net.safetensors"); module.load("net.safetensors", strict=True)

The C reader converts as the header says: safetensors F32/F16/BF16/F64 -> float32,
I64/I32/I16/I8/U8/U16/U32/BOOL -> int64; .npy <f4/<f8/<f2 -> float32, <i8/<i4/|i1/|u1/|b1
-> int64. A malformed file raises cnnc.Error with the library's message. The
safetensors functions need a library built with cJSON (has_io()); without it they raise
cnnc.Error saying so. (cnnc.safetensors is the pure-Python format, for torch-only use.)
"""
import ctypes
import os
from collections import OrderedDict
from ctypes import POINTER, c_bool, c_char_p, c_size_t, c_void_p

from . import _lib
from .tensor import Tensor, tensor

__all__ = ["has_io", "load_safetensors", "loads_safetensors", "load_safetensors_metadata",
           "save_safetensors", "load_npy", "loads_npy", "save_npy"]

T = c_void_p
L = c_void_p
M = c_void_p
S = ctypes.c_int

_lib.declare([
    ("cnnc_has_io", c_bool, [], None),
    ("cnnc_npy_load", S, [c_char_p, POINTER(c_void_p)], "status"),
    ("cnnc_npy_load_buffer", S, [c_void_p, c_size_t, POINTER(c_void_p)], "status"),
    ("cnnc_npy_save", S, [c_char_p, T], "status"),
    ("cnnc_tensor_list_set_meta", S, [L, c_char_p, c_char_p], "status"),
    ("cnnc_tensor_list_meta_size", c_size_t, [L], None),
    ("cnnc_tensor_list_meta_at", S, [L, c_size_t, POINTER(c_char_p), POINTER(c_char_p)], "status"),
])
if _lib.cnnc_has_io():
    _lib.declare([
        ("cnnc_safetensors_load", S, [c_char_p, POINTER(c_void_p)], "status"),
        ("cnnc_safetensors_load_buffer", S, [c_void_p, c_size_t, POINTER(c_void_p)], "status"),
        ("cnnc_safetensors_save", S, [c_char_p, L], "status"),
        ("cnnc_module_save", S, [M, c_char_p], "status"),
        ("cnnc_module_load", S, [M, c_char_p, c_bool], "status"),
    ])


def has_io():
    """True when the library has the safetensors functions (built with cJSON)."""
    return bool(_lib.cnnc_has_io())


def _need_io():
    if not has_io():
        raise _lib.Error("this cnnc library was built without cJSON (libcjson-dev): "
                         "safetensors files are not available")


def _path(path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("path must be a str, bytes or os.PathLike, not %s" % type(path).__name__)
    return os.fsencode(path)


def _take_list(handle):
    """(OrderedDict name -> Tensor, metadata dict) from a new list, which is freed."""
    try:
        tensors = OrderedDict()
        for i in range(_lib.cnnc_tensor_list_size(handle)):
            name = _lib.cnnc_tensor_list_name(handle, i).decode("utf-8", "surrogateescape")
            tensors[name] = Tensor._borrowed(_lib.cnnc_tensor_list_get(handle, i))
        meta = {}
        for i in range(_lib.cnnc_tensor_list_meta_size(handle)):
            k, v = c_char_p(), c_char_p()
            _lib.cnnc_tensor_list_meta_at(handle, i, ctypes.byref(k), ctypes.byref(v))
            meta[k.value.decode("utf-8", "surrogateescape")] = v.value.decode("utf-8", "surrogateescape")
        return tensors, meta
    finally:
        _lib.cnnc_tensor_list_free(handle)


def _load_list(path):
    _need_io()
    out = c_void_p()
    _lib.cnnc_safetensors_load(_path(path), ctypes.byref(out))
    return _take_list(out.value)


def load_safetensors(path):
    """The tensors of a safetensors file, OrderedDict name -> cnnc.Tensor in file order."""
    return _load_list(path)[0]


def load_safetensors_metadata(path):
    """The __metadata__ map of a safetensors file ({} when it has none)."""
    return _load_list(path)[1]


def loads_safetensors(data):
    """(tensors, metadata) from the bytes of a safetensors file."""
    _need_io()
    data = bytes(data)
    out = c_void_p()
    _lib.cnnc_safetensors_load_buffer(data, len(data), ctypes.byref(out))
    return _take_list(out.value)


def _as_cnnc(name, value):
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    import numpy as np
    a = np.asarray(value)
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    if a.dtype.kind not in "fiu":
        raise TypeError("tensor '%s': cannot store dtype %s (float or integer expected)" % (name, a.dtype))
    return tensor(a)


def save_safetensors(tensors, path, metadata=None):
    """Writes tensors (a mapping name -> cnnc.Tensor or array; floats as F32, integers
    and bools as I64) in its order, with metadata (str -> str) as __metadata__."""
    _need_io()
    if not hasattr(tensors, "items"):
        raise TypeError("tensors must be a mapping name -> tensor, not %s" % type(tensors).__name__)
    lst = _lib.cnnc_tensor_list_new()
    try:
        keep = []
        for name, value in tensors.items():
            if not isinstance(name, str):
                raise TypeError("tensor names must be str, got %r" % (name,))
            t = None if value is None else _as_cnnc(name, value)
            keep.append(t)
            _lib.cnnc_tensor_list_append(lst, name.encode("utf-8", "surrogateescape"),
                                         t._h if t is not None else None)
        for k, v in (metadata or {}).items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata must map str to str, got %r: %r" % (k, v))
            _lib.cnnc_tensor_list_set_meta(lst, k.encode(), v.encode())
        _lib.cnnc_safetensors_save(_path(path), lst)
    finally:
        _lib.cnnc_tensor_list_free(lst)


def load_npy(path):
    """A .npy file as a cnnc.Tensor."""
    out = c_void_p()
    _lib.cnnc_npy_load(_path(path), ctypes.byref(out))
    return Tensor._wrap(_lib.Handle(out.value))


def loads_npy(data):
    """A cnnc.Tensor from the bytes of a .npy file."""
    data = bytes(data)
    out = c_void_p()
    _lib.cnnc_npy_load_buffer(data, len(data), ctypes.byref(out))
    return Tensor._wrap(_lib.Handle(out.value))


def save_npy(t, path):
    """Writes a tensor (cnnc.Tensor or array) as .npy ('<f4' or '<i8', format 1.0)."""
    _lib.cnnc_npy_save(_path(path), _as_cnnc("t", t)._h)


def module_save(module, path):
    """module.state_dict() to a safetensors file (cnnc_module_save)."""
    _need_io()
    _lib.cnnc_module_save(module._h, _path(path))


def module_load(module, path, strict=True):
    """A safetensors file into module.load_state_dict (cnnc_module_load)."""
    _need_io()
    _lib.cnnc_module_load(module._h, _path(path), bool(strict))
