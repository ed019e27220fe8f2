"""cnnc.nn padding modules (torch.nn's constructor signatures)."""
from .. import _lib
from .functional_resample import ints
from .modules import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d",
           "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
           "ZeroPad2d"]


class ConstantPad1d(Module):
    def __init__(self, padding, value):
        super().__init__(_lib.cnnc_constantpad1d_new(ints(padding, "padding"), float(value)))


class ConstantPad2d(Module):
    def __init__(self, padding, value):
        super().__init__(_lib.cnnc_constantpad2d_new(ints(padding, "padding"), float(value)))


class ConstantPad3d(Module):
    def __init__(self, padding, value):
        super().__init__(_lib.cnnc_constantpad3d_new(ints(padding, "padding"), float(value)))


class ZeroPad2d(Module):
    def __init__(self, padding):
        super().__init__(_lib.cnnc_zeropad2d_new(ints(padding, "padding")))


class ReflectionPad1d(Module):
    def __init__(self, padding):
        super().__init__(_lib.cnnc_reflectionpad1d_new(ints(padding, "padding")))


class ReflectionPad2d(Module):
    def __init__(self, padding):
        super().__init__(_lib.cnnc_reflectionpad2d_new(ints(padding, "padding")))


class ReflectionPad3d(Module):
    def __init__(self, padding):
        super().__init__(_lib.cnnc_reflectionpad3d_new(ints(padding, "padding")))


class ReplicationPad1d(Module):
    def __init__(self, padding):
        super().__init__(_lib.cnnc_replicationpad1d_new(ints(padding, "padding")))


class ReplicationPad2d(Module):
    def __init__(self, padding):
        super().__init__(_lib.cnnc_replicationpad2d_new(ints(padding, "padding")))


class ReplicationPad3d(Module):
    def __init__(self, padding):
        super().__init__(_lib.cnnc_replicationpad3d_new(ints(padding, "padding")))
