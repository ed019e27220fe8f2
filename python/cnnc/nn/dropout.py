"""cnnc.nn dropout modules (torch.nn's constructor signatures): the module's
train()/eval() mode decides whether it drops."""
from .. import _lib
from .functional_activation import dropout_options
from .modules import Module

__all__ = ["Dropout", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    _new = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__(type(self)._new(dropout_options(type(self).__name__, p, True, inplace)))


class Dropout(_DropoutNd):
    _new = _lib.cnnc_dropout_new


class Dropout2d(_DropoutNd):
    _new = _lib.cnnc_dropout2d_new


class Dropout3d(_DropoutNd):
    _new = _lib.cnnc_dropout3d_new
