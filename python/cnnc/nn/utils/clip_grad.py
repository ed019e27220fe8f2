"""torch.nn.utils.clip_grad_norm_ / clip_grad_value_ over the C library
(include/cnnc/optim.h); argument mapping only."""
import warnings
from ctypes import c_double, c_int, c_void_p

from ... import _lib
from ...optim import _c
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_"]

T = c_void_p
ST = c_int
_lib.declare([
    ("cnnc_clip_grad_norm_", T, [_c.Params, c_double, _c.ClipGradNormOptions], "ptr"),
    ("cnnc_clip_grad_value_", ST, [_c.Params, c_double], "status"),
])


def _params(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError("'%s' object has no attribute 'grad'" % type(p).__name__)
    return _c.params_struct(params)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Clips the gradients' total norm in place; returns the norm (a 0-d tensor)."""
    return Tensor(_lib.cnnc_clip_grad_norm_(_params(parameters), float(max_norm),
                                            _c.ClipGradNormOptions(
        norm_type=float(norm_type), error_if_nonfinite=bool(error_if_nonfinite))))


def clip_grad_norm(parameters, max_norm, norm_type=2., error_if_nonfinite=False):
    warnings.warn("torch.nn.utils.clip_grad_norm is now deprecated in favor "
                  "of torch.nn.utils.clip_grad_norm_.", stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters, clip_value):
    """Clamps every gradient to [-clip_value, clip_value] in place."""
    _lib.cnnc_clip_grad_value_(_params(parameters), float(clip_value))
