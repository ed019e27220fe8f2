"""cnnc.nn dropout modules (torch.nn's constructor signatures): the module's
train()/eval() mode decides whether it drops."""
from .. import _lib
from .functional_activation import DropoutOptions
from .modules import Module

__all__ = ["Dropout", "Dropout2d", "Dropout3d"]


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__(_lib.cnnc_dropout_new(DropoutOptions(float(p), True, bool(inplace))))


class Dropout2d(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__(_lib.cnnc_dropout2d_new(DropoutOptions(float(p), True, bool(inplace))))


class Dropout3d(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__(_lib.cnnc_dropout3d_new(DropoutOptions(float(p), True, bool(inplace))))
