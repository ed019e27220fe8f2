"""cnnc.optim optimizers with torch.optim's constructor signatures.

The C library does the work (include/cnnc/optim.h); these classes map torch's
arguments, parameter lists and dicts onto it:

    opt = cnnc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt = cnnc.optim.Adam([{'params': w}, {'params': b, 'weight_decay': 0}], lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()
    opt.param_groups[0]['lr'] = 0.01          # reaches the C optimizer
    sd = opt.state_dict()                      # torch's layout, numpy arrays
"""
import ctypes
from collections.abc import Mapping, MutableMapping

from .. import _lib, enable_grad
from ..tensor import Tensor
from . import _c

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


class _RequiredParameter:
    """torch.optim.optimizer.required: SGD's lr has no default."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    return type(obj).__module__ + "." + type(obj).__name__ if isinstance(obj, Tensor) \
        else type(obj).__name__


def _group_struct(group):
    """A torch param-group dict as a cnnc_param_group (the result keeps its arrays)."""
    if not isinstance(group, dict):
        raise TypeError("param group must be a dict")
    if "params" not in group:
        raise KeyError("params")
    params = group["params"]
    if isinstance(params, Tensor):
        params = [params]
    elif isinstance(params, set):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                        "the ordering of tensors in sets will change between runs. Please use a "
                        "list instead.")
    else:
        params = list(params)
    for p in params:
        if p is not None and not isinstance(p, Tensor):
            raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                            + _typename(p))
    handles = [p._h if p is not None else None for p in params]
    n, arr = _lib.pointer_array(handles)
    nh, harr = _c.hparams(group)
    s = _c.ParamGroup(params=_c.Params(list=None, n=n, tensors=ctypes.cast(arr, ctypes.POINTER(
        ctypes.c_void_p))), n_hparams=nh, hparams=harr)
    s._keep = (arr, harr, params)
    return s


class ParamGroup(MutableMapping):
    """optimizer.param_groups[i]: a dict view of the C group. 'params' lists the
    group's tensors; every other key reads and writes the C optimizer."""

    def __init__(self, optimizer, index):
        self._opt, self._i = optimizer, index

    def _keys(self):
        out = []
        for i in range(_lib.cnnc_optimizer_num_hparams(self._opt._h, self._i)):
            name = ctypes.c_char_p()
            _lib.cnnc_optimizer_hparam_at(self._opt._h, self._i, i, ctypes.byref(name), None)
            out.append(name.value.decode())
        return out

    def __getitem__(self, key):
        if key == "params":
            lst = _lib.cnnc_optimizer_param_group_params(self._opt._h, self._i)
            try:
                return [t for _, t in _c.list_tensors(lst)]
            finally:
                _lib.cnnc_tensor_list_free(lst)
        v = _lib.Value()
        status = _lib.cnnc_optimizer_hparam(self._opt._h, self._i, str(key).encode(),
                                            ctypes.byref(v))
        if status == _lib.ERR_NOT_FOUND:
            raise KeyError(key)
        if status != _lib.OK:
            _lib.raise_last()
        return _c.from_value(v)

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError("param group keys must be strings")
        _lib.cnnc_optimizer_set_hparam(self._opt._h, self._i,
                                       _c.Hparam(name=key.encode(), value=_c.to_value(value)))

    def __delitem__(self, key):
        raise TypeError("cnnc param group entries cannot be deleted")

    def __iter__(self):
        return iter(["params"] + self._keys())

    def __len__(self):
        return 1 + len(self._keys())

    def __repr__(self):
        return repr(dict(self))


class State(Mapping):
    """optimizer.state: parameter -> {key: Tensor}, the optimizer's own state
    tensors (changed by later steps); a parameter not stepped yet maps to {}
    (torch's defaultdict)."""

    def __init__(self, optimizer):
        self._opt = optimizer

    def __getitem__(self, param):
        if not isinstance(param, Tensor):
            raise KeyError(param)
        try:
            lst = _lib.cnnc_optimizer_param_state(self._opt._h, param._h)
        except _lib.Error as e:
            if e.status == "CNNC_ERR_NOT_FOUND":  # not optimized: torch's defaultdict gives {}
                return {}
            raise
        try:
            return dict(_c.list_tensors(lst))
        finally:
            _lib.cnnc_tensor_list_free(lst)

    def _params(self):
        return [p for g in self._opt.param_groups for p in g["params"]]

    def __iter__(self):
        return iter([p for p in self._params() if self[p]])

    def __len__(self):
        return sum(1 for _ in self)


class Optimizer:
    """A cnnc_optimizer owned by Python (released in __del__)."""

    _new = None      # the C constructor (cnnc_<name>_new_groups)
    _options = None  # its options struct

    def __init__(self, params, options):
        self._h = None
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        structs = [_group_struct(g) for g in groups]
        arr = (_c.ParamGroup * max(len(structs), 1))(*structs)
        self._h = type(self)._new(len(structs), arr, options)

    def __del__(self, _release=_lib.cnnc_optimizer_release):
        h = getattr(self, "_h", None)
        if h:
            self._h = None
            try:
                _release(h)
            except Exception:  # interpreter shutdown
                pass

    def __repr__(self):
        return _lib.take_string(_lib.cnnc_optimizer_repr(self._h))

    @property
    def state(self):
        return State(self)

    @property
    def param_groups(self):
        return [ParamGroup(self, i)
                for i in range(_lib.cnnc_optimizer_num_param_groups(self._h))]

    def add_param_group(self, param_group):
        _lib.cnnc_optimizer_add_param_group(self._h, _group_struct(param_group))

    def zero_grad(self, set_to_none=False):
        _lib.cnnc_optimizer_zero_grad(self._h, bool(set_to_none))

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        _lib.cnnc_optimizer_step(self._h)
        return loss

    def state_dict(self):
        """{'state': {index: {key: numpy array / int / None}}, 'param_groups': [dicts]}."""
        lst = _lib.cnnc_optimizer_state_dict(self._h)
        try:
            state = {}
            for name, t in _c.list_tensors(lst):
                _, idx, key = name.split(".", 2)
                value = t
                if t is not None:
                    value = t.numpy()
                    if value.ndim == 0 and value.dtype.kind == "i":
                        value = int(value)  # RMSprop's step is a Python int in torch
                state.setdefault(int(idx), {})[key] = value
            groups = _c.unflatten(
                [(k, _c.parse_literal(v)) for k, v in _c.list_meta(lst)]).get("param_groups", [])
        finally:
            _lib.cnnc_tensor_list_free(lst)
        for g in groups:  # 'params' last, as torch's state_dict
            g["params"] = g.pop("params")
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Loads a dict in torch's layout (cnnc's or torch's own state_dict)."""
        lst = _lib.cnnc_tensor_list_new()
        try:
            keep = []
            for idx, st in state_dict["state"].items():
                for key, value in st.items():
                    t = _c.as_tensor(value)
                    keep.append(t)
                    _lib.cnnc_tensor_list_append(lst, ("state.%d.%s" % (idx, key)).encode(),
                                                 t._h if t is not None else None)
            for g, group in enumerate(state_dict["param_groups"]):
                for key, value in group.items():
                    _lib.cnnc_tensor_list_set_meta(lst, ("param_groups.%d.%s" % (g, key)).encode(),
                                                   _c.literal(value).encode())
            _lib.cnnc_optimizer_load_state_dict(self._h, lst)
        finally:
            _lib.cnnc_tensor_list_free(lst)


def _unsupported(**flags):
    for name, value in flags.items():
        if value:
            raise ValueError("cnnc: %s=True is not supported (cnnc is a CPU float32 library "
                             "with one implementation)" % name)


class SGD(Optimizer):
    _new = _lib.cnnc_sgd_new_groups

    def __init__(self, params, lr=required, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False):
        _unsupported(differentiable=differentiable)
        super().__init__(params, _c.SGDOptions(
            lr=float("nan") if lr is required else float(lr), momentum=float(momentum),
            dampening=float(dampening), weight_decay=float(weight_decay),
            nesterov=bool(nesterov), maximize=bool(maximize)))


def _adam_options(lr, betas, eps, weight_decay, amsgrad, maximize):
    return _c.AdamOptions(lr=float(lr), betas=(ctypes.c_double * 2)(*map(float, betas)),
                          eps=float(eps), weight_decay=float(weight_decay),
                          amsgrad=bool(amsgrad), maximize=bool(maximize))


class Adam(Optimizer):
    _new = _lib.cnnc_adam_new_groups

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=False):
        _unsupported(capturable=capturable, differentiable=differentiable, fused=fused)
        super().__init__(params, _adam_options(lr, betas, eps, weight_decay, amsgrad, maximize))


class AdamW(Optimizer):
    _new = _lib.cnnc_adamw_new_groups

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False):
        _unsupported(capturable=capturable)
        super().__init__(params, _adam_options(lr, betas, eps, weight_decay, amsgrad, maximize))


class RMSprop(Optimizer):
    _new = _lib.cnnc_rmsprop_new_groups

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, foreach=None, maximize=False, differentiable=False):
        _unsupported(differentiable=differentiable)
        super().__init__(params, _c.RMSpropOptions(
            lr=float(lr), alpha=float(alpha), eps=float(eps), weight_decay=float(weight_decay),
            momentum=float(momentum), centered=bool(centered), maximize=bool(maximize)))


class Adagrad(Optimizer):
    _new = _lib.cnnc_adagrad_new_groups

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False):
        super().__init__(params, _c.AdagradOptions(
            lr=float(lr), lr_decay=float(lr_decay), weight_decay=float(weight_decay),
            initial_accumulator_value=float(initial_accumulator_value), eps=float(eps),
            maximize=bool(maximize)))
