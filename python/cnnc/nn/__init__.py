"""cnnc.nn: modules with torch.nn's constructor signatures, and nn.functional."""
from . import functional
from .modules import Flatten, Identity, Linear, Module, ReLU, Sequential

__all__ = ["Module", "Linear", "ReLU", "Flatten", "Identity", "Sequential", "functional"]
