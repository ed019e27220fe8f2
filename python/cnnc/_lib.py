"""ctypes loading of libcnnc.so, the C prototypes and the error translation.

Everything that knows a C signature lives here; the rest of the package calls
these functions and never declares a prototype itself. Structs mirror
include/cnnc.h field by field (they are passed by value).
"""
import ctypes
import os
from ctypes import (POINTER, Structure, c_bool, c_char_p, c_double, c_int, c_int64,
                    c_size_t, c_uint64, c_void_p)

MAX_DIMS = 8  # CNNC_MAX_DIMS

# cnnc_status
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_OUT_OF_MEMORY = 2
ERR_RUNTIME = 3
ERR_NOT_FOUND = 4
ERR_IO = 5

# cnnc_dtype
FLOAT32 = 0
INT64 = 1

# cnnc_value_kind
VALUE_NONE, VALUE_BOOL, VALUE_INT, VALUE_FLOAT, VALUE_INTS, VALUE_STRING, VALUE_FLOATS = range(7)


class Error(RuntimeError, ValueError):
    """A cnnc call failed; the message is the library's (cnnc_last_error)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class IndexRangeError(Error, IndexError):
    """A dim or a tuple index out of range, where PyTorch raises IndexError."""


# Messages whose PyTorch exception is an IndexError (c10::IndexError, or Python's own
# in torch/nn/functional.py); every other library error is an Error.
_INDEX_ERROR_PREFIXES = ("Dimension out of range", "tuple index out of range")


def error_for(message, status=None):
    """The exception for a library message (an Error, or its IndexError kind)."""
    cls = IndexRangeError if message.startswith(_INDEX_ERROR_PREFIXES) else Error
    return cls(message, status)


class Handle(int):
    """A new reference (cnnc_tensor *, cnnc_module *...) returned by a "ptr" prototype:
    an int address marked as a library handle, so cnnc.Tensor(handle) wraps it while
    cnnc.Tensor(5) builds a 5-element tensor as torch.Tensor does."""
    __slots__ = ()


def _library_path():
    env = os.environ.get("CNNC_LIBRARY")
    if env:
        return env
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(repo, "build", "libcnnc.so")


lib = ctypes.CDLL(_library_path())


# --- structs (exact C layout) --------------------------------------------------

class CStruct(Structure):
    """A struct of the C API. _c_types_ names the C types it mirrors field by field
    (tests/conformance/test_binding.py checks every field's name, type, offset and
    size against the header, for every CStruct and any other Structure in cnnc)."""
    _c_types_ = ()


class Value(CStruct):
    _c_types_ = ("cnnc_value",)
    _fields_ = [("kind", c_int), ("n", c_int), ("ints", c_int64 * MAX_DIMS),
                ("f", c_double), ("s", c_char_p), ("fs", c_double * MAX_DIMS)]


class LinearOptions(CStruct):
    _c_types_ = ("cnnc_linear_options",)
    _fields_ = [("bias", c_bool)]


class ReluOptions(CStruct):
    _c_types_ = ("cnnc_relu_options",)
    _fields_ = [("inplace", c_bool)]


class FlattenOptions(CStruct):
    _c_types_ = ("cnnc_flatten_options",)
    _fields_ = [("start_dim", c_int), ("end_dim", c_int)]


class Allocator(CStruct):  # declared for completeness
    _c_types_ = ("cnnc_allocator",)
    _fields_ = [("alloc", c_void_p), ("free", c_void_p), ("ctx", c_void_p)]


# --- error translation ---------------------------------------------------------

def last_error():
    msg = lib.cnnc_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def raise_last(fallback="cnnc call failed"):
    status = lib.cnnc_last_status()
    name = lib.cnnc_status_name(status)
    raise error_for(last_error() or fallback, name.decode() if name else status)


def _check_ptr(result, func, args):
    if not result:
        raise_last(func.__name__ + " returned NULL")
    return Handle(result) if type(result) is int else result


def _check_status(result, func, args):
    if result != OK:
        msg = last_error() or ("%s failed" % func.__name__)
        name = lib.cnnc_status_name(result)
        raise error_for(msg, name.decode() if name else result)
    return result


# --- prototypes ----------------------------------------------------------------
# check: "ptr" raises on NULL, "status" raises on a status other than CNNC_OK,
# None returns the raw result (NULL / NOT_FOUND are meaningful there).

T = c_void_p  # cnnc_tensor *
M = c_void_p  # cnnc_module *
L = c_void_p  # cnnc_tensor_list *
S = c_int     # cnnc_status
SHAPE = POINTER(c_int64)
DIMS = POINTER(c_int)

_PROTOTYPES = [
    # errors, memory, runtime
    ("cnnc_version", c_char_p, [], None),
    ("cnnc_last_error", c_char_p, [], None),
    ("cnnc_last_status", S, [], None),
    ("cnnc_clear_error", None, [], None),
    ("cnnc_status_name", c_char_p, [S], None),
    ("cnnc_free", None, [c_void_p], None),
    ("cnnc_set_num_threads", S, [c_int], "status"),
    ("cnnc_get_num_threads", c_int, [], None),
    ("cnnc_thread_cleanup", None, [], None),
    ("cnnc_set_isa", S, [c_char_p], "status"),
    ("cnnc_get_isa", c_char_p, [], None),
    ("cnnc_manual_seed", None, [c_uint64], None),
    ("cnnc_get_rng_state", T, [], "ptr"),
    ("cnnc_set_rng_state", S, [T], "status"),
    ("cnnc_set_grad_enabled", c_bool, [c_bool], None),
    ("cnnc_is_grad_enabled", c_bool, [], None),
    # tensors
    ("cnnc_dtype_name", c_char_p, [c_int], None),
    ("cnnc_empty", T, [c_int, SHAPE, c_int], "ptr"),
    ("cnnc_zeros", T, [c_int, SHAPE, c_int], "ptr"),
    ("cnnc_ones", T, [c_int, SHAPE, c_int], "ptr"),
    ("cnnc_full", T, [c_int, SHAPE, c_double, c_int], "ptr"),
    ("cnnc_from_data", T, [c_int, SHAPE, c_int, c_void_p], "ptr"),
    ("cnnc_rand", T, [c_int, SHAPE], "ptr"),
    ("cnnc_randn", T, [c_int, SHAPE], "ptr"),
    ("cnnc_arange", T, [c_double, c_double, c_double, c_int], "ptr"),
    ("cnnc_tensor_retain", T, [T], None),
    ("cnnc_tensor_release", None, [T], None),
    ("cnnc_tensor_ndim", c_int, [T], None),
    ("cnnc_tensor_shape", SHAPE, [T], None),
    ("cnnc_tensor_size", c_int64, [T, c_int], None),
    ("cnnc_tensor_numel", c_int64, [T], None),
    ("cnnc_tensor_dtype", c_int, [T], None),
    ("cnnc_tensor_data", c_void_p, [T], None),
    ("cnnc_tensor_data_const", c_void_p, [T], None),
    ("cnnc_tensor_item", S, [T, POINTER(c_double)], "status"),
    ("cnnc_tensor_fill_", S, [T, c_double], "status"),
    ("cnnc_tensor_zero_", S, [T], "status"),
    ("cnnc_tensor_copy_", S, [T, T], "status"),
    ("cnnc_tensor_detach", T, [T], "ptr"),
    ("cnnc_tensor_clone", T, [T], "ptr"),
    ("cnnc_tensor_shape_string", c_void_p, [T], "ptr"),
    ("cnnc_tensor_to_string", c_void_p, [T], "ptr"),
    # autograd
    ("cnnc_tensor_requires_grad", c_bool, [T], None),
    ("cnnc_tensor_set_requires_grad", S, [T, c_bool], "status"),
    ("cnnc_tensor_is_leaf", c_bool, [T], None),
    ("cnnc_tensor_grad", T, [T], None),
    ("cnnc_tensor_set_grad", S, [T, T], "status"),
    ("cnnc_tensor_grad_fn_name", c_char_p, [T], None),
    ("cnnc_tensor_version", c_uint64, [T], None),
    ("cnnc_backward", S, [T, T, c_bool], "status"),
    # functional ops
    ("cnnc_add", T, [T, T], "ptr"),
    ("cnnc_sub", T, [T, T], "ptr"),
    ("cnnc_mul", T, [T, T], "ptr"),
    ("cnnc_div", T, [T, T], "ptr"),
    ("cnnc_neg", T, [T], "ptr"),
    ("cnnc_add_scalar", T, [T, c_double], "ptr"),
    ("cnnc_mul_scalar", T, [T, c_double], "ptr"),
    ("cnnc_sum", T, [T], "ptr"),
    ("cnnc_sum_dims", T, [T, c_int, DIMS, c_bool], "ptr"),
    ("cnnc_mean", T, [T], "ptr"),
    ("cnnc_mean_dims", T, [T, c_int, DIMS, c_bool], "ptr"),
    ("cnnc_reshape", T, [T, c_int, SHAPE], "ptr"),
    ("cnnc_view", T, [T, c_int, SHAPE], "ptr"),
    ("cnnc_flatten", T, [T, c_int, c_int], "ptr"),
    ("cnnc_transpose", T, [T, c_int, c_int], "ptr"),
    ("cnnc_permute", T, [T, c_int, DIMS], "ptr"),
    ("cnnc_cat", T, [c_int, POINTER(c_void_p), c_int], "ptr"),
    ("cnnc_matmul", T, [T, T], "ptr"),
    ("cnnc_relu", T, [T], "ptr"),
    ("cnnc_relu_", S, [T], "status"),
    ("cnnc_linear", T, [T, T, T], "ptr"),
    # tensor lists
    ("cnnc_tensor_list_new", L, [], "ptr"),
    ("cnnc_tensor_list_free", None, [L], None),
    ("cnnc_tensor_list_append", S, [L, c_char_p, T], "status"),
    ("cnnc_tensor_list_size", c_size_t, [L], None),
    ("cnnc_tensor_list_name", c_char_p, [L, c_size_t], None),
    ("cnnc_tensor_list_get", T, [L, c_size_t], None),
    # modules
    ("cnnc_module_retain", M, [M], None),
    ("cnnc_module_release", None, [M], None),
    ("cnnc_module_forward", T, [M, T], "ptr"),
    ("cnnc_module_forward_n", c_int, [M, c_int, POINTER(c_void_p), POINTER(c_void_p)], None),
    ("cnnc_module_get_submodule", M, [M, c_char_p], "ptr"),
    ("cnnc_module_type", c_char_p, [M], None),
    ("cnnc_module_train", None, [M, c_bool], None),
    ("cnnc_module_eval", None, [M], None),
    ("cnnc_module_is_training", c_bool, [M], None),
    ("cnnc_module_tensor", S, [M, c_char_p, POINTER(c_void_p)], None),
    ("cnnc_module_set_tensor", S, [M, c_char_p, T], "status"),
    ("cnnc_module_num_children", c_size_t, [M], None),
    ("cnnc_module_child", M, [M, c_size_t, POINTER(c_char_p)], "ptr"),
    ("cnnc_module_named_parameters", L, [M], "ptr"),
    ("cnnc_module_named_buffers", L, [M], "ptr"),
    ("cnnc_module_state_dict", L, [M], "ptr"),
    ("cnnc_module_load_state_dict", S, [M, L, c_bool], "status"),
    ("cnnc_module_zero_grad", None, [M, c_bool], None),
    ("cnnc_module_repr", c_void_p, [M], "ptr"),
    ("cnnc_module_vars", c_void_p, [M], "ptr"),
    ("cnnc_module_num_attrs", c_size_t, [M], None),
    ("cnnc_module_attr_at", S, [M, c_size_t, POINTER(c_char_p), POINTER(Value)], "status"),
    ("cnnc_module_attr", S, [M, c_char_p, POINTER(Value)], None),
    # concrete modules
    ("cnnc_linear_new", M, [c_int64, c_int64, LinearOptions], "ptr"),
    ("cnnc_relu_new", M, [ReluOptions], "ptr"),
    ("cnnc_flatten_new", M, [FlattenOptions], "ptr"),
    ("cnnc_identity_new", M, [], "ptr"),
    ("cnnc_sequential_new", M, [c_int, POINTER(c_void_p)], "ptr"),
    ("cnnc_sequential_append", S, [M, M], "status"),
    ("cnnc_modulelist_new", M, [c_int, POINTER(c_void_p)], "ptr"),
    ("cnnc_modulelist_append", S, [M, M], "status"),
    ("cnnc_moduledict_new", M, [], "ptr"),
    ("cnnc_moduledict_set", S, [M, c_char_p, M], "status"),
]

MAX_INPUTS = 16   # CNNC_MAX_INPUTS
MAX_OUTPUTS = 8   # CNNC_MAX_OUTPUTS

_CHECKS = {"ptr": _check_ptr, "status": _check_status, None: None}


def _declare(name, restype, argtypes, check):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    if _CHECKS[check]:
        fn.errcheck = _CHECKS[check]
    globals()[name] = fn


def declare(prototypes):
    """Binds (name, restype, argtypes, check) entries as attributes of this module;
    each op family's file (nn/conv.py, ...) declares its own functions with it."""
    for p in prototypes:
        _declare(*p)


declare(_PROTOTYPES)


# --- small marshalling helpers -------------------------------------------------

def take_string(ptr):
    """Decodes a library-allocated char * and frees it with cnnc_free."""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib.cnnc_free(ptr)


def pointer_array(handles):
    return len(handles), (c_void_p * max(len(handles), 1))(*handles)


def value_to_python(v):
    if v.kind == VALUE_NONE:
        return None
    if v.kind == VALUE_BOOL:
        return bool(v.ints[0])
    if v.kind == VALUE_INT:
        return int(v.ints[0])
    if v.kind == VALUE_FLOAT:
        return float(v.f)
    if v.kind == VALUE_INTS:
        return tuple(int(v.ints[i]) for i in range(v.n))
    if v.kind == VALUE_STRING:
        return v.s.decode("utf-8", "replace") if v.s is not None else None
    if v.kind == VALUE_FLOATS:
        return tuple(float(v.fs[i]) for i in range(v.n))
    raise Error("unknown cnnc_value kind %d" % v.kind)
