"""cnnc.nn.functional: torch.nn.functional's signatures over the C functional ops."""
from .. import _args, _lib
from ..tensor import Tensor


def relu(input, inplace=False):
    if inplace:
        return relu_(input)
    return Tensor(_lib.cnnc_relu(_args.tensor_arg(input, "relu", "input")))


def relu_(input):
    _lib.cnnc_relu_(_args.tensor_arg(input, "relu_", "input"))
    return input


def linear(input, weight, bias=None):
    return Tensor(_lib.cnnc_linear(_args.tensor_arg(input, "linear", "input"),
                                   _args.tensor_arg(weight, "linear", "weight"),
                                   _args.tensor_arg(bias, "linear", "bias", optional=True)))


# The op families' functions, one file each.
from .functional_conv import *        # noqa: E402,F401,F403  conv*, conv_transpose*
from .functional_pool import *        # noqa: E402,F401,F403  pooling, unpooling
from .functional_resample import *    # noqa: E402,F401,F403  pad, interpolate
from .functional_norm import *        # noqa: E402,F401,F403  normalization
from .functional_activation import *  # noqa: E402,F401,F403  activations, softmax, dropout
from .functional_loss import *        # noqa: E402,F401,F403  losses
