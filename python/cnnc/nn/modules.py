"""cnnc.nn modules: a generic wrapper over cnnc_module plus one tiny class per layer.

Module holds everything (attributes, names, state_dict, repr) by asking the C
API; a concrete class only maps torch's constructor arguments to its C
constructor. A new layer is:

    class MaxPool2d(Module):
        def __init__(self, kernel_size, stride=None, ...):
            super().__init__(_lib.cnnc_maxpool2d_new(_lib.MaxPool2dOptions(...)))
"""
import ctypes
from collections import OrderedDict

from .. import _args, _lib
from ..tensor import Tensor, tensor

_TYPES = {}  # cnnc_module_type name -> Python class, for wrapping children


def _factory_kwargs(device, dtype):
    """torch's device=/dtype= keywords: only CPU float32 exists in cnnc."""
    if device is not None and str(device) != "cpu":
        raise ValueError("cnnc only supports device='cpu', got %r" % (device,))
    if dtype is not None and str(dtype).replace("torch.", "") not in ("float32", "float"):
        raise ValueError("cnnc modules only support dtype float32, got %r" % (dtype,))


def _tensor_list(handle):
    """[(name, Tensor or None)] from a new cnnc_tensor_list, which is freed."""
    try:
        n = _lib.cnnc_tensor_list_size(handle)
        return [(_lib.cnnc_tensor_list_name(handle, i).decode(),
                 Tensor._borrowed(_lib.cnnc_tensor_list_get(handle, i))) for i in range(n)]
    finally:
        _lib.cnnc_tensor_list_free(handle)


def _wrap_module(handle):
    """Wraps a NEW module reference in the Python class of its C type."""
    cls = _TYPES.get(_lib.cnnc_module_type(handle).decode(), Module)
    m = cls.__new__(cls)
    object.__setattr__(m, "_h", handle)
    return m


class Module:
    """A cnnc_module reference owned by Python (released in __del__)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _TYPES[cls.__name__] = cls

    def __init__(self, handle):
        if not handle:
            raise _lib.Error("cannot wrap a NULL module")
        object.__setattr__(self, "_h", handle)

    def __del__(self, _release=_lib.cnnc_module_release):
        h = self.__dict__.get("_h")
        if h:
            self.__dict__["_h"] = None
            try:
                _release(h)
            except Exception:  # interpreter shutdown
                pass

    def __call__(self, *inputs):
        """forward(*inputs): one result as a Tensor, several as a tuple."""
        for x in inputs:
            if not isinstance(x, Tensor):
                raise TypeError("%s expects cnnc.Tensor inputs, got %s"
                                % (type(self).__name__, type(x).__name__))
        if len(inputs) > _lib.MAX_INPUTS:
            raise TypeError("%s.forward() takes at most %d inputs, got %d"
                            % (type(self).__name__, _lib.MAX_INPUTS, len(inputs)))
        n, arr = _lib.pointer_array([x._h for x in inputs])
        out = (ctypes.c_void_p * _lib.MAX_OUTPUTS)()
        k = _lib.cnnc_module_forward_n(self._h, n, arr, out)
        if k < 0:
            _lib.raise_last()
        results = tuple(Tensor._wrap(out[i]) for i in range(k))
        return results[0] if k == 1 else results

    forward = __call__

    def __repr__(self):
        return _lib.take_string(_lib.cnnc_module_repr(self._h))

    def vars(self):
        return _lib.take_string(_lib.cnnc_module_vars(self._h))

    # --- mode -------------------------------------------------------------------
    @property
    def training(self):
        return bool(_lib.cnnc_module_is_training(self._h))

    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        _lib.cnnc_module_train(self._h, mode)
        return self

    def eval(self):
        _lib.cnnc_module_eval(self._h)
        return self

    # --- tensors ------------------------------------------------------------------
    def named_parameters(self):
        return iter(_tensor_list(_lib.cnnc_module_named_parameters(self._h)))

    def parameters(self):
        return (t for _, t in self.named_parameters())

    def named_buffers(self):
        return iter(_tensor_list(_lib.cnnc_module_named_buffers(self._h)))

    def buffers(self):
        return (t for _, t in self.named_buffers())

    def state_dict(self):
        sd = _tensor_list(_lib.cnnc_module_state_dict(self._h))
        return OrderedDict((k, v.numpy() if v is not None else None) for k, v in sd)

    def load_state_dict(self, state_dict, strict=True):
        """Copies every value (numpy arrays, cnnc Tensors, or anything with
        .numpy()/array protocol) into the module's tensor of the same name."""
        lst = _lib.cnnc_tensor_list_new()
        try:
            keep = []
            for name, value in state_dict.items():
                if value is not None and not isinstance(value, Tensor):
                    if hasattr(value, "detach"):  # a torch tensor
                        value = value.detach().cpu().numpy()
                    value = tensor(value)
                keep.append(value)
                _lib.cnnc_tensor_list_append(lst, str(name).encode(),
                                             value._h if value is not None else None)
            _lib.cnnc_module_load_state_dict(self._h, lst, bool(strict))
        finally:
            _lib.cnnc_tensor_list_free(lst)

    def save(self, path):
        """Writes state_dict() to a safetensors file (cnnc_module_save)."""
        from .. import io
        io.module_save(self, path)

    def load(self, path, strict=True):
        """load_state_dict() from a safetensors file (cnnc_module_load)."""
        from .. import io
        io.module_load(self, path, strict)

    def zero_grad(self, set_to_none=False):
        _lib.cnnc_module_zero_grad(self._h, bool(set_to_none))

    # --- children -------------------------------------------------------------------
    def named_children(self):
        out = []
        for i in range(_lib.cnnc_module_num_children(self._h)):
            name = ctypes.c_char_p()
            child = _lib.cnnc_module_child(self._h, i, ctypes.byref(name))
            out.append((name.value.decode(), _wrap_module(_lib.cnnc_module_retain(child))))
        return iter(out)

    def children(self):
        return (m for _, m in self.named_children())

    # --- attribute access through the C API ------------------------------------
    def _tensor_slot(self, name):
        """(found, Tensor or None) for a parameter/buffer name."""
        out = ctypes.c_void_p()
        status = _lib.cnnc_module_tensor(self._h, name.encode(), ctypes.byref(out))
        if status == _lib.ERR_NOT_FOUND:
            return False, None
        if status != _lib.OK:
            _lib.raise_last()
        return True, Tensor._borrowed(out.value)

    def __getattr__(self, name):
        if name.startswith("_") or self.__dict__.get("_h") is None:
            raise AttributeError(name)
        found, t = self._tensor_slot(name)
        if found:
            return t
        value = _lib.Value()
        status = _lib.cnnc_module_attr(self._h, name.encode(), ctypes.byref(value))
        if status == _lib.OK:
            return _lib.value_to_python(value)
        if status != _lib.ERR_NOT_FOUND:
            _lib.raise_last()
        for child_name, child in self.named_children():
            if child_name == name:
                return child
        raise AttributeError("'%s' object has no attribute '%s'" % (type(self).__name__, name))

    def __setattr__(self, name, value):
        if not name.startswith("_") and self._tensor_slot(name)[0]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError("cannot assign '%s' as tensor '%s' (cnnc.Tensor or None expected)"
                                % (type(value).__name__, name))
            _lib.cnnc_module_set_tensor(self._h, name.encode(),
                                        value._h if value is not None else None)
            return
        if not name.startswith("_") and _lib.cnnc_module_attr(
                self._h, name.encode(), ctypes.byref(_lib.Value())) == _lib.OK:
            raise AttributeError("'%s' setting '%s' is read-only in cnnc"
                                 % (type(self).__name__, name))
        object.__setattr__(self, name, value)

    def __dir__(self):
        names = set(super().__dir__())
        names.update(n.split(".")[0] for n, _ in
                     _tensor_list(_lib.cnnc_module_state_dict(self._h)))
        for i in range(_lib.cnnc_module_num_attrs(self._h)):
            name, value = ctypes.c_char_p(), _lib.Value()
            _lib.cnnc_module_attr_at(self._h, i, ctypes.byref(name), ctypes.byref(value))
            names.add(name.value.decode())
        return sorted(names)


# --- concrete modules: constructor argument mapping only ---------------------------

class Linear(Module):
    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        _factory_kwargs(device, dtype)
        super().__init__(_lib.cnnc_linear_new(
            _args.int_arg(in_features, "Linear", "in_features", python=True),
            _args.int_arg(out_features, "Linear", "out_features", python=True),
            _lib.LinearOptions(bias=bool(bias))))


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__(_lib.cnnc_relu_new(_lib.ReluOptions(inplace=bool(inplace))))


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__(_lib.cnnc_flatten_new(_lib.FlattenOptions(
            start_dim=_args.int_arg(start_dim, "Flatten", "start_dim", c_int_range=True),
            end_dim=_args.int_arg(end_dim, "Flatten", "end_dim", c_int_range=True))))


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__(_lib.cnnc_identity_new())


def _check_module(m):
    if not isinstance(m, Module):
        raise TypeError("%s is not a cnnc.nn.Module subclass" % type(m).__name__)
    return m


def _new_indexed(new, modules):
    """new(n, array) over the modules, each distinct one passed with a reference of
    its own (the C container takes one per distinct module)."""
    distinct = []
    for m in modules:
        if _check_module(m)._h not in distinct:
            distinct.append(m._h)
    for h in distinct:
        _lib.cnnc_module_retain(h)
    n, arr = _lib.pointer_array([m._h for m in modules])
    return new(n, arr)


def _append_child(append, container, module):
    """append(container, child): retains the child unless the container holds it."""
    h = _check_module(module)._h
    held = any(c._h == h for c in container.children())
    if not held:
        _lib.cnnc_module_retain(h)
    append(container._h, h)


class Sequential(Module):
    def __init__(self, *args):
        super().__init__(_new_indexed(_lib.cnnc_sequential_new, args))

    def append(self, module):
        _append_child(_lib.cnnc_sequential_append, self, module)
        return self

    def __len__(self):
        return int(_lib.cnnc_module_num_children(self._h))

    def __iter__(self):
        return self.children()

    def __getitem__(self, idx):
        children = [m for _, m in self.named_children()]
        if isinstance(idx, slice):
            return Sequential(*children[idx])
        return children[idx]


class ModuleList(Module):
    def __init__(self, modules=None):
        super().__init__(_new_indexed(_lib.cnnc_modulelist_new, list(modules or [])))

    def append(self, module):
        _append_child(_lib.cnnc_modulelist_append, self, module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __len__(self):
        return int(_lib.cnnc_module_num_children(self._h))

    def __iter__(self):
        return self.children()

    def __getitem__(self, idx):
        children = [m for _, m in self.named_children()]
        if isinstance(idx, slice):
            return ModuleList(children[idx])
        return children[idx]


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__(_lib.cnnc_moduledict_new())
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key, module):
        _append_child(lambda h, c: _lib.cnnc_moduledict_set(h, str(key).encode(), c), self, module)

    def __getitem__(self, key):
        return _wrap_module(_lib.cnnc_module_retain(
            _lib.cnnc_module_get_submodule(self._h, str(key).encode())))

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def keys(self):
        return [k for k, _ in self.named_children()]

    def values(self):
        return [m for _, m in self.named_children()]

    def items(self):
        return list(self.named_children())

    def __len__(self):
        return int(_lib.cnnc_module_num_children(self._h))

    def __iter__(self):
        return iter(self.keys())

    def __contains__(self, key):
        return key in self.keys()
