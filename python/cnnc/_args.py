"""PyTorch's argument rules for the binding, in one place.

Every Python value the binding hands to C goes through these: ints (scalar, list,
`int | tuple` as cnnc_ints, dims), floats (scalar, `float | tuple` as cnnc_doubles),
bools with None. They raise what torch raises for the same bad input:

- TypeError for a value of the wrong type (a str, float or bool where an int belongs,
  a float or None in a tuple of ints, an int where a tuple is required);
- cnnc.Error (a RuntimeError) "Overflow when unpacking long" for a scalar int beyond
  int64, and c10's "value cannot be converted to type int32_t without overflow" for
  one beyond a C int; TypeError for such an element of a tuple (torch's parser);
- cnnc.IndexRangeError (an IndexError) for a dim outside the tensor's range, also
  when it does not fit a C int; a str dim is torch's named-dim RuntimeError.

No check here duplicates one of the library's: values of the right type go to C,
which validates them.
"""
import numbers
import operator
from ctypes import c_bool, c_double, c_int, c_int64

from . import _lib

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
C_INT_MIN, C_INT_MAX = -2 ** 31, 2 ** 31 - 1
POOL_KEEP = INT64_MIN  # CNNC_POOL_KEEP: a None entry of an adaptive output size


# --- the structs every option struct is built from -------------------------------------

class Ints(_lib.CStruct):
    """cnnc_ints: None (n 0), the int (n 1), or a tuple (tuple set, or n > 1)."""
    _c_types_ = ("cnnc_ints",)
    _fields_ = [("n", c_int), ("tuple", c_bool), ("v", c_int64 * _lib.MAX_DIMS)]


class Doubles(_lib.CStruct):
    """cnnc_doubles: None, the float, or a tuple."""
    _c_types_ = ("cnnc_doubles",)
    _fields_ = [("n", c_int), ("tuple", c_bool), ("v", c_double * _lib.MAX_DIMS)]


class OptionalInt(_lib.CStruct):
    _c_types_ = ("cnnc_optional_int",)
    _fields_ = [("has_value", c_bool), ("value", c_int64)]


class OptionalDouble(_lib.CStruct):
    _c_types_ = ("cnnc_optional_double",)
    _fields_ = [("has_value", c_bool), ("value", c_double)]


# --- scalars -----------------------------------------------------------------------------

def _name(v):
    return type(v).__name__


def _is_int(v, allow_bool=False):
    """An int as torch's parser takes one: Python and numpy ints, never a bool unless
    allowed."""
    if isinstance(v, bool):
        return allow_bool
    return isinstance(v, numbers.Integral)


def _overflow(v, fn, name, lo=INT64_MIN, hi=INT64_MAX, python=False):
    """v within int64 (and [lo, hi]). Beyond int64 an argument of torch's parser is its
    RuntimeError; one PyTorch's Python code first puts into a tuple (python) is the
    TypeError of that tuple's element."""
    if not INT64_MIN <= v <= INT64_MAX:
        if python:
            raise TypeError("%s(): argument '%s' must be tuple of ints, but found element of type "
                            "int at pos 1" % (fn, name))
        raise _lib.Error("Overflow when unpacking long")
    if not lo <= v <= hi:
        raise _lib.Error("value cannot be converted to type int32_t without overflow")
    return v


def int_arg(v, fn, name, c_int_range=False, python=False):
    """A scalar int argument (int64, or a C int when c_int_range). python: an argument
    PyTorch's Python code computes with (module constructors: a bool is an int, as in
    Conv2d(True, 4, 3); too large for int64 is a TypeError, where torch.empty gets it)."""
    if not _is_int(v, python):
        raise TypeError("%s(): argument '%s' must be int, not %s" % (fn, name, _name(v)))
    v = operator.index(v)
    return _overflow(v, fn, name, C_INT_MIN if c_int_range else INT64_MIN,
                     C_INT_MAX if c_int_range else INT64_MAX, python)


def float_arg(v, fn, name):
    """A float argument: any real number (bools too, as torch's parser)."""
    if not isinstance(v, numbers.Real) or isinstance(v, (str, bytes)):
        raise TypeError("%s(): argument '%s' must be float, not %s" % (fn, name, _name(v)))
    return float(v)


def optional_float(v, fn, name):
    """cnnc_optional_double: None or a float."""
    if v is None:
        return OptionalDouble(False, 0.0)
    return OptionalDouble(True, float_arg(v, fn, name))


def optional_int(v, fn, name):
    """cnnc_optional_int: None or an int."""
    if v is None:
        return OptionalInt(False, 0)
    return OptionalInt(True, int_arg(v, fn, name))


def optional_bool(v):
    """PyTorch's Optional[bool] as the library's int: -1 None, 0 False, 1 True."""
    return -1 if v is None else int(bool(v))


def string_arg(v, fn, name):
    if not isinstance(v, str):
        raise TypeError("%s(): argument '%s' must be str, not %s" % (fn, name, _name(v)))
    return v.encode()


# --- lists of ints ---------------------------------------------------------------------------

def _sequence(v):
    return isinstance(v, (tuple, list))  # torch.Size is a tuple


def int_list(v, fn, name, keep_none=False):
    """The values of a tuple of ints (torch's IntArrayRef given as a sequence). Each
    element an int within int64 (else torch's TypeError naming its 1-based position);
    keep_none: None entries become POOL_KEEP."""
    if not _sequence(v):
        raise TypeError("%s(): argument '%s' must be tuple of ints, not %s" % (fn, name, _name(v)))
    out = []
    for pos, e in enumerate(v, 1):
        if e is None and keep_none:
            out.append(POOL_KEEP)
            continue
        if not _is_int(e) or not INT64_MIN <= operator.index(e) <= INT64_MAX:
            raise TypeError("%s(): argument '%s' must be tuple of ints, but found element of type "
                            "%s at pos %d" % (fn, name, _name(e), pos))
        out.append(operator.index(e))
    return out


def ints_arg(v, fn, name, none=False, int_ok=True, keep_none=False, python=False):
    """`int | tuple[int, ...]` (| None when none) as a cnnc_ints, in its form: the int
    (int_ok; torch's int[n] arguments), the tuple (any sequence), None. keep_none:
    None entries of a tuple are PyTorch's "keep this size" (adaptive pooling). python:
    PyTorch's Python code turns the int into a tuple first (modules' _pair, interpolate's
    size), so an int beyond int64 is a tuple element's TypeError."""
    if v is None:
        if none:
            return Ints()
        raise TypeError("%s(): argument '%s' must be tuple of ints, not NoneType" % (fn, name))
    if _is_int(v):
        if not int_ok:
            raise TypeError("%s(): argument '%s' must be tuple of ints, not int" % (fn, name))
        out = Ints(n=1)
        out.v[0] = _overflow(operator.index(v), fn, name, python=python)
        return out
    vals = int_list(v, fn, name, keep_none)
    if len(vals) > _lib.MAX_DIMS:
        raise _lib.Error("%s(): argument '%s' has %d values; cnnc takes at most %d"
                         % (fn, name, len(vals), _lib.MAX_DIMS))
    out = Ints(n=len(vals), tuple=True)
    for i, x in enumerate(vals):
        out.v[i] = x
    return out


def doubles_arg(v, fn, name):
    """`float | tuple[float, ...] | None` as a cnnc_doubles, in its form."""
    out = Doubles()
    if v is None:
        return out
    if isinstance(v, numbers.Real) and not isinstance(v, (str, bytes)):
        out.n, out.v[0] = 1, float(v)
        return out
    if not _sequence(v):
        raise TypeError("%s(): argument '%s' must be tuple of floats, not %s" % (fn, name, _name(v)))
    vals = list(v)
    for pos, e in enumerate(vals, 1):
        if not isinstance(e, numbers.Real) or isinstance(e, (str, bytes)):
            raise TypeError("%s(): argument '%s' must be tuple of floats, but found element of "
                            "type %s at pos %d" % (fn, name, _name(e), pos))
    if len(vals) > _lib.MAX_DIMS:
        raise _lib.Error("%s(): argument '%s' has %d values; cnnc takes at most %d"
                         % (fn, name, len(vals), _lib.MAX_DIMS))
    out.n, out.tuple = len(vals), True
    for i, x in enumerate(vals):
        out.v[i] = float(x)
    return out


def shape_arg(v, fn, name="size"):
    """A shape (sizes, `*size` or one sequence) as (ndim, int64_t *)."""
    vals = int_list(v, fn, name)
    return len(vals), ((c_int64 * len(vals))(*vals) if vals else None)


def varargs(args):
    """f(2, 3) and f((2, 3)) both give (2, 3), as torch's `*size` arguments."""
    if len(args) == 1 and not _is_int(args[0], allow_bool=True):
        return args[0]
    return args


# --- dims ------------------------------------------------------------------------------------

def _dim_range_error(d, ndim):
    n = max(ndim, 1)
    raise _lib.IndexRangeError("Dimension out of range (expected to be in range of [%d, %d], "
                               "but got %d)" % (-n, n - 1, d))


def _named_dim(v, ndim):
    """torch's named-dim overloads: a str is looked up as a dimension name."""
    if not v.isidentifier():
        raise _lib.Error("Invalid name: a valid identifier contains only digits, alphabetical "
                         "characters, and/or underscore and starts with a non-digit. got: '%s'." % v)
    raise _lib.Error("Name '%s' not found in Tensor[%s]." % (v, ", ".join(["None"] * ndim)))


def dim_arg(v, fn, name, ndim, named=False):
    """A dim (a C int): an int; beyond int64 torch's overflow; within int64 but not a
    C int, out of range for any tensor (IndexError with the C library's message).
    named: the op has torch's named-dim overload (a str dim is looked up by name)."""
    if named and isinstance(v, str):
        _named_dim(v, ndim)
    if not _is_int(v):
        raise TypeError("%s(): argument '%s' must be int, not %s" % (fn, name, _name(v)))
    v = _overflow(operator.index(v), fn, name)
    if not C_INT_MIN <= v <= C_INT_MAX:
        _dim_range_error(v, ndim)
    return v


def dims_arg(v, fn, name, ndim, named=False):
    """A tuple of dims (a sequence, or an int for a one-dim form) as (n, int *)."""
    if _is_int(v) or (named and isinstance(v, str)):
        vals = [dim_arg(v, fn, name, ndim, named)]
    else:
        if named and _sequence(v) and v and all(isinstance(e, str) for e in v):
            _named_dim(v[0], ndim)  # torch's DimnameList overload
        vals = int_list(v, fn, name)
        for d in vals:
            if not C_INT_MIN <= d <= C_INT_MAX:
                _dim_range_error(d, ndim)
    return len(vals), ((c_int * len(vals))(*vals) if vals else None)


# --- tensors -----------------------------------------------------------------------------------

def tensor_arg(t, fn, name, optional=False):
    """A cnnc.Tensor argument's handle (None allowed when optional)."""
    from .tensor import Tensor
    if t is None and optional:
        return None
    if not isinstance(t, Tensor):
        raise TypeError("%s(): argument '%s' must be Tensor%s, not %s"
                        % (fn, name, " or None" if optional else "", _name(t)))
    return t._h
