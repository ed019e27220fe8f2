"""cnnc.nn padding modules (torch.nn's constructor signatures)."""
from .. import _args, _lib
from .modules import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d",
           "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
           "ZeroPad2d"]


class _PadNd(Module):
    _new = None

    def __init__(self, padding):
        name = type(self).__name__
        super().__init__(type(self)._new(_args.ints_arg(padding, name, "padding", python=True)))


class _ConstantPadNd(Module):
    _new = None

    def __init__(self, padding, value):
        name = type(self).__name__
        super().__init__(type(self)._new(_args.ints_arg(padding, name, "padding", python=True),
                                         _args.float_arg(value, name, "value")))


class ConstantPad1d(_ConstantPadNd):
    _new = _lib.cnnc_constantpad1d_new


class ConstantPad2d(_ConstantPadNd):
    _new = _lib.cnnc_constantpad2d_new


class ConstantPad3d(_ConstantPadNd):
    _new = _lib.cnnc_constantpad3d_new


class ZeroPad2d(_PadNd):
    _new = _lib.cnnc_zeropad2d_new


class ReflectionPad1d(_PadNd):
    _new = _lib.cnnc_reflectionpad1d_new


class ReflectionPad2d(_PadNd):
    _new = _lib.cnnc_reflectionpad2d_new


class ReflectionPad3d(_PadNd):
    _new = _lib.cnnc_reflectionpad3d_new


class ReplicationPad1d(_PadNd):
    _new = _lib.cnnc_replicationpad1d_new


class ReplicationPad2d(_PadNd):
    _new = _lib.cnnc_replicationpad2d_new


class ReplicationPad3d(_PadNd):
    _new = _lib.cnnc_replicationpad3d_new
