"""cnnc.nn.functional: torch.nn.functional's signatures over the C functional ops."""
from .. import _lib
from ..tensor import Tensor


def _handle(t, name, optional=False):
    if t is None and optional:
        return None
    if not isinstance(t, Tensor):
        raise TypeError("%s must be a cnnc.Tensor%s, not %s"
                        % (name, " or None" if optional else "", type(t).__name__))
    return t._h


def relu(input, inplace=False):
    if inplace:
        return relu_(input)
    return Tensor(_lib.cnnc_relu(_handle(input, "input")))


def relu_(input):
    _lib.cnnc_relu_(_handle(input, "input"))
    return input


def linear(input, weight, bias=None):
    return Tensor(_lib.cnnc_linear(_handle(input, "input"), _handle(weight, "weight"),
                                   _handle(bias, "bias", optional=True)))


# The op families' functions, one file each.
from .functional_conv import *        # noqa: E402,F401,F403  conv*, conv_transpose*
from .functional_pool import *        # noqa: E402,F401,F403  pooling, unpooling
from .functional_resample import *    # noqa: E402,F401,F403  pad, interpolate
from .functional_norm import *        # noqa: E402,F401,F403  normalization
from .functional_activation import *  # noqa: E402,F401,F403  activations, softmax, dropout
from .functional_loss import *        # noqa: E402,F401,F403  losses
