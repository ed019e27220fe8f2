"""cnnc.Tensor: a Python owner of one cnnc_tensor reference, torch-like.

Each Tensor owns exactly one new reference and releases it in __del__. Borrowed
pointers from the library (grad, list entries, module tensors) are retained
before they are wrapped. cnnc.Tensor(...) called by a user is torch.Tensor(...):
sizes or data; a library handle (a _lib.Handle, what a "ptr" prototype returns) is
wrapped as is.
"""
import ctypes
import numbers

import numpy as np

from . import _args, _lib

_DTYPES = {_lib.FLOAT32: "float32", _lib.INT64: "int64"}
_CODES = {"float32": _lib.FLOAT32, "int64": _lib.INT64}
_NUMPY = {_lib.FLOAT32: np.float32, _lib.INT64: np.int64}

float32 = "float32"
int64 = "int64"


def dtype_code(dtype, default=_lib.FLOAT32):
    """'float32' / 'int64' / numpy dtype / None -> cnnc_dtype."""
    if dtype is None:
        return default
    name = getattr(dtype, "name", None) or str(dtype)
    name = name.replace("torch.", "")
    name = {"float": "float32", "long": "int64"}.get(name, name)
    if name not in _CODES:
        raise TypeError("cnnc supports dtypes float32 and int64, got %r" % (dtype,))
    return _CODES[name]


def _is_scalar(x):
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


class Tensor:
    """A cnnc_tensor reference. Tensor(*sizes) is an uninitialised float32 tensor of
    those sizes, Tensor(data) a float32 copy of a sequence or array, Tensor(t) shares
    t's data, Tensor() is empty: torch.Tensor's forms and errors."""

    __slots__ = ("_h", "__weakref__")

    def __init__(self, *args):
        if len(args) == 1 and type(args[0]) is _lib.Handle:  # a new reference from the library
            self._h = args[0]
            return
        self._h = None
        self._h = _new_handle(args)

    @classmethod
    def _wrap(cls, handle):
        """Takes over a new reference (an int address, not NULL)."""
        if not handle:
            raise _lib.Error("cannot wrap a NULL tensor")
        t = object.__new__(cls)
        t._h = handle
        return t

    @classmethod
    def _borrowed(cls, handle):
        """Wraps a borrowed pointer (retaining it), None for NULL."""
        return cls._wrap(_lib.cnnc_tensor_retain(handle)) if handle else None

    def __del__(self, _release=_lib.cnnc_tensor_release):
        h = getattr(self, "_h", None)
        if h:
            self._h = None
            try:
                _release(h)
            except Exception:  # interpreter shutdown
                pass

    # --- metadata --------------------------------------------------------------
    @property
    def shape(self):
        n = _lib.cnnc_tensor_ndim(self._h)
        p = _lib.cnnc_tensor_shape(self._h)
        return tuple(int(p[i]) for i in range(n))

    def size(self, dim=None):
        if dim is None:
            return self.shape
        n = _lib.cnnc_tensor_size(self._h, _args.dim_arg(dim, "size", "dim", self.ndim, named=True))
        if n < 0:
            _lib.raise_last()
        return int(n)

    @property
    def ndim(self):
        return _lib.cnnc_tensor_ndim(self._h)

    def dim(self):
        return self.ndim

    def numel(self):
        return int(_lib.cnnc_tensor_numel(self._h))

    @property
    def dtype(self):
        return _DTYPES[_lib.cnnc_tensor_dtype(self._h)]

    @property
    def _version(self):
        return int(_lib.cnnc_tensor_version(self._h))

    # --- data ------------------------------------------------------------------
    def numpy(self):
        """A copy of the data as a numpy array of the same shape and dtype."""
        out = np.empty(self.shape, dtype=_NUMPY[_lib.cnnc_tensor_dtype(self._h)])
        if out.size:
            src = _lib.cnnc_tensor_data_const(self._h)
            if not src:
                _lib.raise_last()
            ctypes.memmove(out.ctypes.data, src, out.nbytes)
        return out

    def __array__(self, dtype=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def tolist(self):
        return self.numpy().tolist()

    def item(self):
        v = ctypes.c_double()
        _lib.cnnc_tensor_item(self._h, ctypes.byref(v))  # checks "one element"
        if self.dtype == "int64":  # exact beyond 2**53
            return int(self.numpy().reshape(-1)[0])
        return float(v.value)

    def __repr__(self):
        return _lib.take_string(_lib.cnnc_tensor_to_string(self._h))

    # --- autograd --------------------------------------------------------------
    @property
    def requires_grad(self):
        return bool(_lib.cnnc_tensor_requires_grad(self._h))

    @requires_grad.setter
    def requires_grad(self, value):
        _lib.cnnc_tensor_set_requires_grad(self._h, bool(value))

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return bool(_lib.cnnc_tensor_is_leaf(self._h))

    @property
    def grad(self):
        return Tensor._borrowed(_lib.cnnc_tensor_grad(self._h))

    @grad.setter
    def grad(self, value):
        if value is not None and not isinstance(value, Tensor):
            raise TypeError("grad must be a cnnc.Tensor or None")
        _lib.cnnc_tensor_set_grad(self._h, value._h if value is not None else None)

    @property
    def grad_fn(self):
        name = _lib.cnnc_tensor_grad_fn_name(self._h)
        return name.decode() if name else None

    def backward(self, gradient=None, retain_graph=None):
        if gradient is not None and not isinstance(gradient, Tensor):
            gradient = tensor(gradient)
        _lib.cnnc_backward(self._h, gradient._h if gradient is not None else None,
                           bool(retain_graph))

    def detach(self):
        return Tensor(_lib.cnnc_tensor_detach(self._h))

    def clone(self):
        return Tensor(_lib.cnnc_tensor_clone(self._h))

    # --- in place --------------------------------------------------------------
    def fill_(self, value):
        _lib.cnnc_tensor_fill_(self._h, _args.float_arg(value, "fill_", "value"))
        return self

    def zero_(self):
        _lib.cnnc_tensor_zero_(self._h)
        return self

    def copy_(self, src):
        src = _as_tensor(src)  # keep the (possibly temporary) wrapper alive over the call
        _lib.cnnc_tensor_copy_(self._h, src._h)
        return self

    def relu_(self):
        _lib.cnnc_relu_(self._h)
        return self

    # --- ops -------------------------------------------------------------------
    def relu(self):
        return Tensor(_lib.cnnc_relu(self._h))

    def sum(self, dim=None, keepdim=False):
        return _reduce(_lib.cnnc_sum, _lib.cnnc_sum_dims, self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return _reduce(_lib.cnnc_mean, _lib.cnnc_mean_dims, self, dim, keepdim)

    def reshape(self, *shape):
        return Tensor(_lib.cnnc_reshape(self._h, *_args.shape_arg(_args.varargs(shape), "reshape",
                                                                  "shape")))

    def view(self, *shape):
        return Tensor(_lib.cnnc_view(self._h, *_args.shape_arg(_args.varargs(shape), "view", "size")))

    def flatten(self, start_dim=0, end_dim=-1):
        n = self.ndim
        return Tensor(_lib.cnnc_flatten(self._h, _args.dim_arg(start_dim, "flatten", "start_dim", n),
                                        _args.dim_arg(end_dim, "flatten", "end_dim", n)))

    def transpose(self, dim0, dim1):
        n = self.ndim
        return Tensor(_lib.cnnc_transpose(self._h, _args.dim_arg(dim0, "transpose", "dim0", n),
                                          _args.dim_arg(dim1, "transpose", "dim1", n)))

    def permute(self, *dims):
        return Tensor(_lib.cnnc_permute(self._h, *_args.dims_arg(_args.varargs(dims), "permute",
                                                                 "dims", self.ndim)))

    def matmul(self, other):
        other = _as_tensor(other)
        return Tensor(_lib.cnnc_matmul(self._h, other._h))

    # --- operators -------------------------------------------------------------
    def __add__(self, other):
        if _is_scalar(other):
            return Tensor(_lib.cnnc_add_scalar(self._h, float(other)))
        if isinstance(other, Tensor):
            return Tensor(_lib.cnnc_add(self._h, other._h))
        return NotImplemented

    def __radd__(self, other):
        if _is_scalar(other):
            return Tensor(_lib.cnnc_add_scalar(self._h, float(other)))
        return NotImplemented

    def __sub__(self, other):
        if _is_scalar(other):
            return Tensor(_lib.cnnc_add_scalar(self._h, -float(other)))
        if isinstance(other, Tensor):
            return Tensor(_lib.cnnc_sub(self._h, other._h))
        return NotImplemented

    def __rsub__(self, other):
        if _is_scalar(other):
            return (-self).__add__(other)
        return NotImplemented

    def __mul__(self, other):
        if _is_scalar(other):
            return Tensor(_lib.cnnc_mul_scalar(self._h, float(other)))
        if isinstance(other, Tensor):
            return Tensor(_lib.cnnc_mul(self._h, other._h))
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other):
        # A scalar divisor is a 0-d tensor, so a / s divides exactly like torch
        # (and a / 0 gives inf instead of a Python ZeroDivisionError).
        if _is_scalar(other):
            other = full((), float(other))
        if isinstance(other, Tensor):
            return Tensor(_lib.cnnc_div(self._h, other._h))
        return NotImplemented

    def __rtruediv__(self, other):
        if _is_scalar(other):
            num = full((), float(other))  # a local: the handle must outlive the call
            return Tensor(_lib.cnnc_div(num._h, self._h))
        return NotImplemented

    def __matmul__(self, other):
        if isinstance(other, Tensor):
            return Tensor(_lib.cnnc_matmul(self._h, other._h))
        return NotImplemented

    def __neg__(self):
        return Tensor(_lib.cnnc_neg(self._h))


def _reduce(all_fn, dims_fn, t, dim, keepdim):
    if dim is None and not keepdim:
        return Tensor(all_fn(t._h))
    fn = "sum" if all_fn is _lib.cnnc_sum else "mean"
    dims = _args.dims_arg(() if dim is None else dim, fn, "dim", t.ndim, named=True)
    return Tensor(dims_fn(t._h, *dims, bool(keepdim)))


def _as_tensor(x):
    return x if isinstance(x, Tensor) else tensor(x)


# --- creation ------------------------------------------------------------------

def tensor(data, dtype=None, requires_grad=False):
    """From a numpy array, nested list or scalar: floats -> float32, ints -> int64."""
    if isinstance(data, Tensor):
        data = data.numpy()
    arr = np.asarray(data)
    if dtype is None:
        if arr.dtype.kind == "f":
            code = _lib.FLOAT32
        elif arr.dtype.kind in "iu":
            code = _lib.INT64
        else:
            raise TypeError("cnnc.tensor: unsupported data type %s (float or integer expected)"
                            % arr.dtype)
    else:
        code = dtype_code(dtype)
    t = Tensor(_from_array(arr, code))
    if requires_grad:
        t.requires_grad = True
    return t


def _from_array(arr, code):
    """A new handle holding a copy of a numpy array as dtype code."""
    arr = np.asarray(arr, dtype=_NUMPY[code], order="C")  # (ascontiguousarray makes 0-d 1-d)
    ndim, shape = _args.shape_arg(arr.shape, "tensor")
    return _lib.cnnc_from_data(ndim, shape, code, arr.ctypes.data if arr.size else None)


def _new_handle(args):
    """torch.Tensor(*args): sizes, data, a tensor, or nothing (an empty tensor)."""
    if not args:
        return _lib.cnnc_empty(1, (ctypes.c_int64 * 1)(0), _lib.FLOAT32)
    if len(args) == 1 and isinstance(args[0], Tensor):
        return _lib.cnnc_tensor_detach(args[0]._h)
    if len(args) == 1 and not _args._is_int(args[0]):
        data = args[0]
        if isinstance(data, (str, bytes)):
            raise TypeError("new(): invalid data type '%s'" % type(data).__name__)
        if not isinstance(data, (list, tuple, np.ndarray)):
            raise TypeError("new(): data must be a sequence (got %s)" % type(data).__name__)
        arr = np.asarray(data)
        if arr.dtype.kind in "US":
            raise ValueError("too many dimensions 'str'")
        if arr.dtype.kind not in "biuf":
            raise TypeError("new(): invalid data type '%s'" % arr.dtype)
        return _from_array(arr, _lib.FLOAT32)
    return _lib.cnnc_empty(*_args.shape_arg(args, "new", "size"), _lib.FLOAT32)


def _created(handle, requires_grad):
    t = Tensor(handle)
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(*size, dtype=None, requires_grad=False):
    return _created(_lib.cnnc_zeros(*_args.shape_arg(_args.varargs(size), "zeros"), dtype_code(dtype)),
                    requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return _created(_lib.cnnc_ones(*_args.shape_arg(_args.varargs(size), "ones"), dtype_code(dtype)),
                    requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    return _created(_lib.cnnc_empty(*_args.shape_arg(_args.varargs(size), "empty"), dtype_code(dtype)),
                    requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    default = _lib.INT64 if isinstance(fill_value, numbers.Integral) \
        and not isinstance(fill_value, (bool, np.bool_)) else _lib.FLOAT32
    return _created(_lib.cnnc_full(*_args.shape_arg(size, "full"),
                                   _args.float_arg(fill_value, "full", "fill_value"),
                                   dtype_code(dtype, default)), requires_grad)


def rand(*size, requires_grad=False):
    return _created(_lib.cnnc_rand(*_args.shape_arg(_args.varargs(size), "rand")), requires_grad)


def randn(*size, requires_grad=False):
    return _created(_lib.cnnc_randn(*_args.shape_arg(_args.varargs(size), "randn")), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    code = dtype_code(dtype, _lib.INT64 if ints else _lib.FLOAT32)
    vals = [_args.float_arg(v, "arange", k)
            for v, k in ((start, "start"), (end, "end"), (step, "step"))]
    return _created(_lib.cnnc_arange(*vals, code), requires_grad)
