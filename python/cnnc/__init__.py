"""cnnc: PyTorch's CNN layers in C11, driven torch-style through ctypes.

    import cnnc
    x = cnnc.tensor(np.ones((2, 3)), requires_grad=True)
    y = cnnc.nn.Linear(3, 4)(x).relu().sum()
    y.backward()

The library is found via $CNNC_LIBRARY, else <repo>/build/libcnnc.so.
"""
import functools

from . import _args, _lib
from ._lib import Error, IndexRangeError
from .tensor import (Tensor, arange, empty, float32, full, int64, ones, rand, randn, tensor,
                     zeros)

__version__ = _lib.cnnc_version().decode()


# --- runtime settings ------------------------------------------------------------

def manual_seed(seed):
    """torch.manual_seed: int(seed) in [-2**63, 2**64) (negative ones wrap, as torch's)."""
    seed = int(seed)
    if not -2 ** 63 <= seed < 2 ** 64:
        raise Error("Overflow when unpacking long")
    _lib.cnnc_manual_seed(seed & 0xFFFFFFFFFFFFFFFF)


def get_rng_state():
    """torch.get_rng_state: the default generator's state, an int64 tensor of shape [4]
    (its four 64-bit words; torch's is a uint8 tensor of its own generator's layout)."""
    return Tensor._wrap(_lib.cnnc_get_rng_state())


def set_rng_state(new_state):
    """torch.set_rng_state(new_state): restores a state from get_rng_state."""
    _lib.cnnc_set_rng_state(_args.tensor_arg(new_state, "set_rng_state", "new_state"))


def set_num_threads(n):
    if not _args._is_int(n):
        raise _lib.Error("set_num_threads expects an int, but got %s" % type(n).__name__)
    _lib.cnnc_set_num_threads(_args.int_arg(n, "set_num_threads", "n", c_int_range=True))


def get_num_threads():
    return int(_lib.cnnc_get_num_threads())


def set_isa(name):
    """Sets the instruction set the kernels run with: "avx512", "avx2" or "scalar"
    (a level this CPU lacks, or an unknown name, raises; see cnnc_set_isa)."""
    if not isinstance(name, str):
        raise TypeError(f"set_isa(): name must be a str, not {type(name).__name__}")
    _lib.cnnc_set_isa(name.encode())


def get_isa():
    """The instruction set the kernels run with now ("avx512", "avx2" or "scalar")."""
    return _lib.cnnc_get_isa().decode()


def thread_cleanup():
    """Frees the calling thread's cached scratch memory (call before a thread that
    used cnnc exits; optional)."""
    _lib.cnnc_thread_cleanup()


def is_grad_enabled():
    return bool(_lib.cnnc_is_grad_enabled())


class set_grad_enabled:
    """torch.set_grad_enabled: applies at once; also a context manager restoring
    the previous mode (grad mode is per thread)."""

    def __init__(self, mode):
        self._prev = bool(_lib.cnnc_set_grad_enabled(bool(mode)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _lib.cnnc_set_grad_enabled(self._prev)
        return False


class _GradMode:
    _mode = None

    def __enter__(self):
        self._prev = bool(_lib.cnnc_set_grad_enabled(self._mode))
        return self

    def __exit__(self, *exc):
        _lib.cnnc_set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """torch.no_grad: a context manager (and decorator) turning grad mode off."""
    _mode = False


class enable_grad(_GradMode):
    _mode = True


# --- functional forms of the tensor ops ---------------------------------------------

def add(input, other):
    return input + other


def sub(input, other):
    return input - other


def mul(input, other):
    return input * other


def div(input, other):
    return input / other


def neg(input):
    return -input


def matmul(input, other):
    return input.matmul(other)


def relu(input):
    return input.relu()


def sum(input, dim=None, keepdim=False):
    return input.sum(dim, keepdim)


def mean(input, dim=None, keepdim=False):
    return input.mean(dim, keepdim)


def reshape(input, shape):
    return input.reshape(shape)


def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


def transpose(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def permute(input, dims):
    return input.permute(dims)


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("cat expects a sequence of cnnc.Tensor")
    ndim = tensors[0].ndim if tensors else 1
    dim = _args.dim_arg(dim, "cat", "dim", ndim, named=True)
    n, arr = _lib.pointer_array([t._h for t in tensors])
    return Tensor(_lib.cnnc_cat(n, arr, dim))


from . import nn  # noqa: E402  (nn needs the names above)
from . import optim  # noqa: E402
from . import data  # noqa: E402
from . import io  # noqa: E402
from .model import load, save  # noqa: E402
from . import distributed  # noqa: E402

__all__ = ["load", "save", "Error", "IndexRangeError", "Tensor", "tensor", "zeros", "ones", "empty", "full", "rand",
           "randn",
           "arange", "float32", "int64", "manual_seed", "set_num_threads",
           "get_num_threads", "set_isa", "get_isa", "thread_cleanup", "no_grad", "enable_grad",
           "set_grad_enabled",
           "is_grad_enabled", "add", "sub", "mul", "div", "neg", "matmul", "relu", "sum",
           "mean", "reshape", "flatten", "transpose", "permute", "cat", "nn", "optim", "data", "io", "distributed"]
