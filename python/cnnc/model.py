"""Model files (architecture + weights in one .safetensors file; docs/model-format.md):

    net = cnnc.load("resnet18.safetensors")   # a cnnc.nn.Module, as torch's model
    cnnc.save(net, "resnet18-tuned.safetensors")

Files come from PyTorch through `python3 -m cnnc.export` (cnnc.export.export), and go
back with cnnc.export.load_state_dict.
"""
import os
from ctypes import c_char_p, c_void_p

from . import _lib

_PROTOTYPES = [
    ("cnnc_model_load", c_void_p, [c_char_p], "ptr"),
    ("cnnc_model_save", _lib.S, [c_void_p, c_char_p], "status"),
]
_lib.declare(_PROTOTYPES)


def _path(path, fn):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("%s(): path must be a str or os.PathLike, got %s" % (fn, type(path).__name__))
    return os.fsencode(path)


def load(path):
    """The model in the cnnc model file at path, as a cnnc.nn.Module (training mode,
    as a freshly built torch module; call .eval() for inference)."""
    from .nn.modules import _wrap_module
    return _wrap_module(_lib.cnnc_model_load(_path(path, "load")))


def save(module, path):
    """Writes module (a loaded model or a Sequential of built-in modules) to path."""
    from .nn.modules import Module
    if not isinstance(module, Module):
        raise TypeError("save(): module must be a cnnc.nn.Module, got %s" % type(module).__name__)
    _lib.cnnc_model_save(module._h, _path(path, "save"))
