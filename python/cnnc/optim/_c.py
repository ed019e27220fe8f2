"""The C side of cnnc.optim: structs mirroring include/cnnc/optim.h, the
prototypes, and the Python-literal text of state_dict metadata."""
import ast
import ctypes
import numbers
from ctypes import (CFUNCTYPE, POINTER, c_bool, c_char_p, c_double, c_int,
                    c_int64, c_size_t, c_void_p)

import numpy as np

from .. import _args, _lib
from ..tensor import Tensor, tensor

T = c_void_p  # cnnc_tensor *
L = c_void_p  # cnnc_tensor_list *
O = c_void_p  # cnnc_optimizer *
S = c_void_p  # cnnc_lr_scheduler *
ST = c_int    # cnnc_status


class Params(_lib.CStruct):
    _c_types_ = ("cnnc_params",)
    _fields_ = [("list", c_void_p), ("n", c_size_t), ("tensors", POINTER(c_void_p))]


class Hparam(_lib.CStruct):
    _c_types_ = ("cnnc_hparam",)
    _fields_ = [("name", c_char_p), ("value", _lib.Value)]


class ParamGroup(_lib.CStruct):
    _c_types_ = ("cnnc_param_group",)
    _fields_ = [("params", Params), ("n_hparams", c_size_t), ("hparams", POINTER(Hparam))]


class SGDOptions(_lib.CStruct):
    _c_types_ = ("cnnc_sgd_options",)
    _fields_ = [("lr", c_double), ("momentum", c_double), ("dampening", c_double),
                ("weight_decay", c_double), ("nesterov", c_bool), ("maximize", c_bool)]


class AdamOptions(_lib.CStruct):
    _c_types_ = ("cnnc_adam_options", "cnnc_adamw_options")
    _fields_ = [("lr", c_double), ("betas", c_double * 2), ("eps", c_double),
                ("weight_decay", c_double), ("amsgrad", c_bool), ("maximize", c_bool)]


class RMSpropOptions(_lib.CStruct):
    _c_types_ = ("cnnc_rmsprop_options",)
    _fields_ = [("lr", c_double), ("alpha", c_double), ("eps", c_double),
                ("weight_decay", c_double), ("momentum", c_double), ("centered", c_bool),
                ("maximize", c_bool)]


class AdagradOptions(_lib.CStruct):
    _c_types_ = ("cnnc_adagrad_options",)
    _fields_ = [("lr", c_double), ("lr_decay", c_double), ("weight_decay", c_double),
                ("initial_accumulator_value", c_double), ("eps", c_double), ("maximize", c_bool)]


OptionalInt = _args.OptionalInt


class GroupValues(_lib.CStruct):
    _c_types_ = ("cnnc_group_values",)
    _fields_ = [("value", c_double), ("n", c_size_t), ("values", POINTER(c_double))]


class StepLROptions(_lib.CStruct):
    _c_types_ = ("cnnc_steplr_options", "cnnc_multisteplr_options")
    _fields_ = [("gamma", c_double), ("last_epoch", c_int64), ("verbose", c_bool)]


class EpochOptions(_lib.CStruct):
    _c_types_ = ("cnnc_exponentiallr_options", "cnnc_lambdalr_options",
                 "cnnc_sequentiallr_options")
    _fields_ = [("last_epoch", c_int64), ("verbose", c_bool)]


class CosineAnnealingLROptions(_lib.CStruct):
    _c_types_ = ("cnnc_cosineannealinglr_options",)
    _fields_ = [("eta_min", c_double), ("last_epoch", c_int64), ("verbose", c_bool)]


class LinearLROptions(_lib.CStruct):
    _c_types_ = ("cnnc_linearlr_options",)
    _fields_ = [("start_factor", c_double), ("end_factor", c_double), ("total_iters", c_int64),
                ("last_epoch", c_int64), ("verbose", c_bool)]


class OneCycleLROptions(_lib.CStruct):
    _c_types_ = ("cnnc_onecyclelr_options",)
    _fields_ = [("total_steps", OptionalInt), ("epochs", OptionalInt),
                ("steps_per_epoch", OptionalInt), ("pct_start", c_double),
                ("anneal_strategy", c_char_p), ("cycle_momentum", c_bool),
                ("base_momentum", GroupValues), ("max_momentum", GroupValues),
                ("div_factor", c_double), ("final_div_factor", c_double),
                ("three_phase", c_bool), ("last_epoch", c_int64), ("verbose", c_bool)]


class ReduceLROnPlateauOptions(_lib.CStruct):
    _c_types_ = ("cnnc_reducelronplateau_options",)
    _fields_ = [("mode", c_char_p), ("factor", c_double), ("patience", c_int64),
                ("threshold", c_double), ("threshold_mode", c_char_p), ("cooldown", c_int64),
                ("min_lr", GroupValues), ("eps", c_double), ("verbose", c_bool)]


class ClipGradNormOptions(_lib.CStruct):
    _c_types_ = ("cnnc_clip_grad_norm_options",)
    _fields_ = [("norm_type", c_double), ("error_if_nonfinite", c_bool)]


LR_LAMBDA = CFUNCTYPE(ST, c_void_p, c_int64, POINTER(c_double))  # cnnc_lr_lambda

_lib.declare([
    ("cnnc_sgd_new_groups", O, [c_size_t, POINTER(ParamGroup), SGDOptions], "ptr"),
    ("cnnc_adam_new_groups", O, [c_size_t, POINTER(ParamGroup), AdamOptions], "ptr"),
    ("cnnc_adamw_new_groups", O, [c_size_t, POINTER(ParamGroup), AdamOptions], "ptr"),
    ("cnnc_rmsprop_new_groups", O, [c_size_t, POINTER(ParamGroup), RMSpropOptions], "ptr"),
    ("cnnc_adagrad_new_groups", O, [c_size_t, POINTER(ParamGroup), AdagradOptions], "ptr"),
    ("cnnc_optimizer_retain", O, [O], None),
    ("cnnc_optimizer_release", None, [O], None),
    ("cnnc_optimizer_type", c_char_p, [O], "ptr"),
    ("cnnc_optimizer_step", ST, [O], "status"),
    ("cnnc_optimizer_zero_grad", ST, [O, c_bool], "status"),
    ("cnnc_optimizer_add_param_group", ST, [O, ParamGroup], "status"),
    ("cnnc_optimizer_num_param_groups", c_size_t, [O], None),
    ("cnnc_optimizer_param_group_params", L, [O, c_size_t], "ptr"),
    ("cnnc_optimizer_num_hparams", c_size_t, [O, c_size_t], None),
    ("cnnc_optimizer_hparam_at", ST, [O, c_size_t, c_size_t, POINTER(c_char_p),
                                      POINTER(_lib.Value)], "status"),
    ("cnnc_optimizer_hparam", ST, [O, c_size_t, c_char_p, POINTER(_lib.Value)], None),
    ("cnnc_optimizer_set_hparam", ST, [O, c_size_t, Hparam], "status"),
    ("cnnc_optimizer_param_state", L, [O, T], "ptr"),
    ("cnnc_optimizer_state_dict", L, [O], "ptr"),
    ("cnnc_optimizer_load_state_dict", ST, [O, L], "status"),
    ("cnnc_optimizer_repr", c_void_p, [O], "ptr"),
    # tensor-list metadata (core; declared here until the core binding has them)
    ("cnnc_tensor_list_set_meta", ST, [L, c_char_p, c_char_p], "status"),
    ("cnnc_tensor_list_meta_size", c_size_t, [L], None),
    ("cnnc_tensor_list_meta_at", ST, [L, c_size_t, POINTER(c_char_p), POINTER(c_char_p)],
     "status"),
])


# --- values ------------------------------------------------------------------------

def to_value(v):
    """A Python value of a param group dict as a cnnc_value (ctypes keeps a string's
    bytes alive in the struct it is assigned to)."""
    out = _lib.Value()
    if v is None:
        out.kind = _lib.VALUE_NONE
    elif isinstance(v, (bool, np.bool_)):
        out.kind, out.ints[0] = _lib.VALUE_BOOL, int(bool(v))
    elif isinstance(v, numbers.Integral):
        out.kind, out.ints[0] = _lib.VALUE_INT, int(v)
    elif isinstance(v, numbers.Real):
        out.kind, out.f = _lib.VALUE_FLOAT, float(v)
    elif isinstance(v, str):
        out.kind, out.s = _lib.VALUE_STRING, v.encode()
    elif isinstance(v, (tuple, list)) and all(isinstance(x, numbers.Real) for x in v) \
            and len(v) <= _lib.MAX_DIMS:
        out.kind, out.n = _lib.VALUE_FLOATS, len(v)
        for i, x in enumerate(v):
            out.fs[i] = float(x)
    else:
        raise TypeError("cnnc param groups hold numbers, bools, None, strings and tuples of "
                        "numbers; got %r" % (v,))
    return out


def from_value(v):
    """A cnnc_value as Python; FLOATS (betas) as a tuple, as torch keeps them."""
    return _lib.value_to_python(v)


def hparams(d):
    """A dict's entries other than 'params' as a cnnc_hparam array (and its length)."""
    items = [(k, v) for k, v in d.items() if k != "params"]
    arr = (Hparam * max(len(items), 1))()
    for i, (k, v) in enumerate(items):
        if not isinstance(k, str):
            raise TypeError("param group keys must be strings, got %r" % (k,))
        arr[i].name = k.encode()
        arr[i].value = to_value(v)
    return len(items), arr


def params_struct(tensors):
    """cnnc_params over a list of cnnc Tensors (the array is kept by the struct's _keep)."""
    n, arr = _lib.pointer_array([t._h for t in tensors])
    p = Params(list=None, n=n, tensors=ctypes.cast(arr, POINTER(c_void_p)))
    p._keep = arr
    return p


# --- Python literals (the metadata text) ------------------------------------------------

def literal(v):
    """repr()-like text the C parsers read (floats exactly: repr round-trips)."""
    if v is None or isinstance(v, (bool, np.bool_)):
        return repr(None if v is None else bool(v))
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(literal(x) for x in v) + (",)" if len(v) == 1 else ")")
    if isinstance(v, list):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (literal(k), literal(x)) for k, x in v.items()) + "}"
    raise TypeError("cannot store %r in a cnnc state_dict" % (v,))


def _node(n):
    if isinstance(n, ast.Constant):
        return n.value
    if isinstance(n, ast.Name) and n.id in ("inf", "nan"):
        return float(n.id)
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
        v = _node(n.operand)
        return -v if isinstance(n.op, ast.USub) else v
    if isinstance(n, ast.Tuple):
        return tuple(_node(e) for e in n.elts)
    if isinstance(n, ast.List):
        return [_node(e) for e in n.elts]
    if isinstance(n, ast.Dict):
        return {_node(k): _node(v) for k, v in zip(n.keys, n.values)}
    raise _lib.Error("not a literal: %s" % ast.dump(n))


def parse_literal(text):
    return _node(ast.parse(text, mode="eval").body)


# --- state_dict lists ----------------------------------------------------------------------

def list_meta(handle):
    """[(key, text)] of a tensor list's metadata."""
    out = []
    for i in range(_lib.cnnc_tensor_list_meta_size(handle)):
        k, v = c_char_p(), c_char_p()
        _lib.cnnc_tensor_list_meta_at(handle, i, ctypes.byref(k), ctypes.byref(v))
        out.append((k.value.decode(), v.value.decode()))
    return out


def list_tensors(handle):
    """[(name, Tensor or None)] of a tensor list."""
    return [(_lib.cnnc_tensor_list_name(handle, i).decode(),
             Tensor._borrowed(_lib.cnnc_tensor_list_get(handle, i)))
            for i in range(_lib.cnnc_tensor_list_size(handle))]


def as_tensor(value):
    """A state value from a dict (numpy, torch, cnnc, Python number) as a cnnc Tensor:
    floating data as float32, integers as int64."""
    if value is None or isinstance(value, Tensor):
        return value
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iub":
        arr = arr.astype(np.int64)
    return tensor(arr)


def unflatten(entries):
    """[('a.0.b', v)] -> {'a': [{'b': v}]}: the nested lists of dicts of scheduler
    states (SequentialLR's _schedulers, OneCycleLR's _schedule_phases)."""
    out, nested = {}, {}
    for key, value in entries:
        parts = key.split(".", 2)
        if len(parts) == 3 and parts[1].isdigit():
            nested.setdefault(parts[0], {}).setdefault(int(parts[1]), []).append((parts[2], value))
        else:
            out[key] = value
    for name, by_index in nested.items():
        out[name] = [unflatten(by_index.get(i, [])) for i in range(max(by_index) + 1)]
    return out


def flatten(d, prefix=""):
    """The inverse of unflatten: [(key, value)] with lists of dicts spread out."""
    out = []
    for k, v in d.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, sub in enumerate(v):
                out.extend(flatten(sub, "%s%s.%d." % (prefix, k, i)))
        else:
            out.append((prefix + k, v))
    return out
