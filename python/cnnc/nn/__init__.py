"""cnnc.nn: modules with torch.nn's constructor signatures, and nn.functional.

One file per op family, as torch/nn/modules/ has them; each lists its classes in
__all__."""
from . import functional
from .modules import (Flatten, Identity, Linear, Module, ModuleDict, ModuleList, ReLU,
                      Sequential)
from . import init
from .conv import *           # noqa: F401,F403  Conv1d/2d/3d, ConvTranspose1d/2d/3d
from .pooling import *        # noqa: F401,F403  MaxPool, AvgPool, Adaptive*, MaxUnpool
from .padding import *        # noqa: F401,F403  ZeroPad2d, ConstantPad, ReflectionPad, ...
from .upsampling import *     # noqa: F401,F403  Upsample, UpsamplingNearest2d, ...
from .normalization import *  # noqa: F401,F403  BatchNorm, LayerNorm, InstanceNorm, GroupNorm
from .activation import *     # noqa: F401,F403  ReLU6, LeakyReLU, ELU, GELU, Softmax, ...
from .dropout import *        # noqa: F401,F403  Dropout, Dropout2d, Dropout3d
from .loss import *           # noqa: F401,F403  CrossEntropyLoss, NLLLoss, MSELoss, BCELoss, ...
from . import conv, pooling, padding, upsampling, normalization, activation, dropout, loss
from . import utils  # noqa: E402  (clip_grad_norm_, clip_grad_value_)
from . import parallel  # noqa: E402  (DistributedDataParallel)

__all__ = (["Module", "Linear", "ReLU", "Flatten", "Identity", "Sequential", "ModuleList",
            "ModuleDict", "functional", "init"]
           + conv.__all__ + pooling.__all__ + padding.__all__ + upsampling.__all__
           + normalization.__all__ + activation.__all__ + dropout.__all__ + loss.__all__)
