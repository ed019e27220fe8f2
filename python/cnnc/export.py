"""cnnc.export: a PyTorch module -> a cnnc model file, and back.

A cnnc model is one .safetensors file: the weights and buffers under their
PyTorch state_dict names, and the architecture as JSON in the metadata entry
"cnnc.model" (docs/model-format.md). This module needs torch alone (and numpy);
it never loads the cnnc library.

    python3 -m cnnc.export torchvision.models:resnet18 resnet18.safetensors
    python3 -m cnnc.export path/net.py:Net net.safetensors --input-shape 1,1,28,28

    from cnnc.export import export, load_state_dict
    export(torch_module, example_input, "net.safetensors")
    torch_module.load_state_dict(load_state_dict("net.safetensors"))

The architecture comes from torch.fx, tracing the module in eval mode: branches
on self.training are taken as in eval (aux classifiers are left out), and
functional calls given training=self.training see False. Modules cnnc has are
kept as module calls (so their train/eval behaviour follows the loaded model);
everything else is traced through. An op with no cnnc counterpart is an error
naming the op and the node, never skipped.
"""
import argparse
import collections
import importlib
import importlib.util
import json
import operator
import os
import sys

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from .safetensors import load_file, save_file

FORMAT = "cnnc.model"
VERSION = 1
METADATA_KEY = "cnnc.model"


class ExportError(ValueError):
    """The module uses something a cnnc model file cannot express."""


# --- modules -------------------------------------------------------------------------

def _bias(m):
    return m.bias is not None


def _conv(m):
    args = dict(in_channels=m.in_channels, out_channels=m.out_channels,
                kernel_size=list(m.kernel_size), stride=list(m.stride),
                padding=m.padding if isinstance(m.padding, str) else list(m.padding),
                dilation=list(m.dilation), groups=m.groups, bias=_bias(m),
                padding_mode=m.padding_mode)
    if m.transposed:
        args["output_padding"] = list(m.output_padding)
    return args


def _fields(*names):
    return lambda m: {n: getattr(m, n) for n in names}


def _norm(m):
    return dict(num_features=m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                track_running_stats=m.track_running_stats)


_POOL = ("kernel_size", "stride", "padding")
_INPLACE = _fields("inplace")

# torch class -> its constructor arguments (the names cnnc_module_create takes)
MODULE_ARGS = {
    nn.Linear: lambda m: dict(in_features=m.in_features, out_features=m.out_features, bias=_bias(m)),
    **{c: _conv for c in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                          nn.ConvTranspose3d)},
    **{c: _fields(*_POOL, "dilation", "return_indices", "ceil_mode")
       for c in (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)},
    nn.AvgPool1d: _fields(*_POOL, "ceil_mode", "count_include_pad"),
    **{c: _fields(*_POOL, "ceil_mode", "count_include_pad", "divisor_override")
       for c in (nn.AvgPool2d, nn.AvgPool3d)},
    **{c: _fields("output_size") for c in (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                                           nn.AdaptiveAvgPool3d)},
    **{c: _fields("output_size", "return_indices") for c in (nn.AdaptiveMaxPool1d,
                                                             nn.AdaptiveMaxPool2d,
                                                             nn.AdaptiveMaxPool3d)},
    **{c: _fields(*_POOL) for c in (nn.MaxUnpool1d, nn.MaxUnpool2d, nn.MaxUnpool3d)},
    **{c: _fields("padding", "value") for c in (nn.ConstantPad1d, nn.ConstantPad2d,
                                                nn.ConstantPad3d)},
    nn.ZeroPad2d: _fields("padding"),
    **{c: _fields("padding") for c in (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d,
                                       nn.ReplicationPad1d, nn.ReplicationPad2d,
                                       nn.ReplicationPad3d)},
    nn.Upsample: _fields("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"),
    nn.UpsamplingNearest2d: _fields("size", "scale_factor"),
    nn.UpsamplingBilinear2d: _fields("size", "scale_factor"),
    **{c: _norm for c in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d,
                          nn.InstanceNorm2d, nn.InstanceNorm3d)},
    nn.LayerNorm: _fields("normalized_shape", "eps", "elementwise_affine"),
    nn.GroupNorm: _fields("num_groups", "num_channels", "eps", "affine"),
    nn.LocalResponseNorm: _fields("size", "alpha", "beta", "k"),
    **{c: _INPLACE for c in (nn.ReLU, nn.ReLU6, nn.SELU, nn.SiLU, nn.Mish, nn.Hardsigmoid,
                             nn.Hardswish)},
    nn.Sigmoid: _fields(), nn.Tanh: _fields(), nn.Identity: _fields(),
    nn.Hardtanh: _fields("min_val", "max_val", "inplace"),
    nn.LeakyReLU: _fields("negative_slope", "inplace"),
    nn.ELU: _fields("alpha", "inplace"), nn.CELU: _fields("alpha", "inplace"),
    nn.GELU: _fields("approximate"), nn.Softplus: _fields("beta", "threshold"),
    nn.PReLU: _fields("num_parameters"),
    nn.Softmax: _fields("dim"), nn.LogSoftmax: _fields("dim"),
    nn.Dropout: _fields("p", "inplace"), nn.Dropout2d: _fields("p", "inplace"),
    nn.Dropout3d: _fields("p", "inplace"),
    nn.Flatten: _fields("start_dim", "end_dim"),
}
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)

try:  # torchvision's StochasticDepth is a cnnc module too
    import torchvision.models.shufflenetv2 as _shufflenet
    import torchvision.ops as _tv_ops
    MODULE_ARGS[_tv_ops.StochasticDepth] = _fields("p", "mode")
    _AUTOWRAP = (_shufflenet.channel_shuffle, _tv_ops.stochastic_depth)
except ImportError:  # torchvision is optional
    _tv_ops = _shufflenet = None
    _AUTOWRAP = ()


def _json_value(v):
    """A constructor argument or op literal as JSON (tuples as lists)."""
    if isinstance(v, (tuple, list, torch.Size)):
        return [_json_value(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, torch.dtype):
        raise ExportError("dtype arguments are not supported (%s)" % v)
    raise ExportError("cannot store %r (%s) in a model file" % (v, type(v).__name__))


def _own_tensors(m):
    params = [n for n, p in m._parameters.items() if p is not None]
    buffers = [{"name": n, "persistent": n not in m._non_persistent_buffers_set}
               for n, b in m._buffers.items() if b is not None]
    return params, buffers


def module_entries(root):
    """One entry per module of the tree, in named_modules order (parents first)."""
    entries, first_path = [], {}
    for path, m in root.named_modules(remove_duplicate=False):
        if id(m) in first_path:
            entries.append({"path": path, "shared": first_path[id(m)]})
            continue
        first_path[id(m)] = path
        e = {"path": path, "type": type(m).__name__}
        if type(m) in MODULE_ARGS and path:
            e["args"] = {k: _json_value(v) for k, v in MODULE_ARGS[type(m)](m).items()}
        elif type(m) in CONTAINERS and path:
            pass
        else:  # a class of the user's: kept as a holder of its tensors and children
            params, buffers = _own_tensors(m)
            if m.extra_repr():
                e["extra_repr"] = m.extra_repr()
            if params:
                e["parameters"] = params
            if buffers:
                e["buffers"] = buffers
        entries.append(e)
    return entries


# --- tracing -------------------------------------------------------------------------------

class Tracer(fx.Tracer):
    """fx tracing that keeps every module cnnc has as a call, knows how many results
    chunk/split give (so `a, b = x.chunk(2, 1)` traces), and keeps torchvision's
    channel_shuffle and stochastic_depth as single calls."""

    def __init__(self):
        super().__init__(autowrap_functions=_AUTOWRAP)

    def is_leaf_module(self, m, qualname):
        return type(m) in MODULE_ARGS

    def iter(self, obj):
        n = _result_count(obj.node)
        if n is None:
            return super().iter(obj)
        return iter([obj[i] for i in range(n)])


def _result_count(node):
    """How many tensors a node gives when that is known from its arguments alone."""
    if node.op in ("call_method", "call_function") and node.target in ("chunk", torch.chunk):
        k = node.args[1] if len(node.args) > 1 else node.kwargs.get("chunks")
        return k if isinstance(k, int) else None
    if node.op in ("call_method", "call_function") and node.target in ("split", torch.split):
        s = node.args[1] if len(node.args) > 1 else node.kwargs.get("split_size_or_sections")
        return len(s) if isinstance(s, (list, tuple)) else None
    return None


# --- ops -------------------------------------------------------------------------------------

REQ = object()  # a required parameter

# cnnc op -> its parameters in order, with PyTorch's defaults (the model format's
# positional arguments); DROP marks parameters PyTorch has and cnnc ignores.
DROP = object()
OPS = {
    "add": [("input", REQ), ("other", REQ), ("alpha", DROP)],
    "sub": [("input", REQ), ("other", REQ), ("alpha", DROP)],
    "mul": [("input", REQ), ("other", REQ)], "div": [("input", REQ), ("other", REQ)],
    "neg": [("input", REQ)],
    "relu": [("input", REQ), ("inplace", DROP)], "relu6": [("input", REQ), ("inplace", DROP)],
    "sigmoid": [("input", REQ)], "tanh": [("input", REQ)],
    "hardsigmoid": [("input", REQ), ("inplace", DROP)],
    "hardswish": [("input", REQ), ("inplace", DROP)], "silu": [("input", REQ), ("inplace", DROP)],
    "mish": [("input", REQ), ("inplace", DROP)],
    "leaky_relu": [("input", REQ), ("negative_slope", 0.01), ("inplace", DROP)],
    "elu": [("input", REQ), ("alpha", 1.0), ("inplace", DROP)],
    "hardtanh": [("input", REQ), ("min_val", -1.0), ("max_val", 1.0), ("inplace", DROP)],
    "gelu": [("input", REQ), ("approximate", "none")],
    "softmax": [("input", REQ), ("dim", None), ("_stacklevel", DROP), ("dtype", DROP)],
    "log_softmax": [("input", REQ), ("dim", None), ("_stacklevel", DROP), ("dtype", DROP)],
    "dropout": [("input", REQ), ("p", 0.5), ("training", True), ("inplace", DROP)],
    "dropout2d": [("input", REQ), ("p", 0.5), ("training", True), ("inplace", DROP)],
    "dropout3d": [("input", REQ), ("p", 0.5), ("training", True), ("inplace", DROP)],
    "contiguous": [("input", REQ), ("memory_format", DROP)],
    "cat": [("tensors", REQ), ("dim", 0)],
    "flatten": [("input", REQ), ("start_dim", 0), ("end_dim", -1)],
    "reshape": [("input", REQ), ("shape", REQ)], "view": [("input", REQ), ("shape", REQ)],
    "permute": [("input", REQ), ("dims", REQ)],
    "transpose": [("input", REQ), ("dim0", REQ), ("dim1", REQ)],
    "unsqueeze": [("input", REQ), ("dim", REQ)], "squeeze": [("input", REQ), ("dim", None)],
    "mean": [("input", REQ), ("dim", None), ("keepdim", False), ("dtype", DROP)],
    "sum": [("input", REQ), ("dim", None), ("keepdim", False), ("dtype", DROP)],
    "chunk": [("input", REQ), ("chunks", REQ), ("dim", 0)],
    "split": [("tensor", REQ), ("split_size_or_sections", REQ), ("dim", 0)],
    "narrow": [("input", REQ), ("dim", REQ), ("start", REQ), ("length", REQ)],
    "getitem": [("input", REQ), ("index", REQ)],
    "channel_shuffle": [("x", REQ), ("groups", REQ)],
    "adaptive_avg_pool1d": [("input", REQ), ("output_size", REQ)],
    "adaptive_avg_pool2d": [("input", REQ), ("output_size", REQ)],
    "adaptive_avg_pool3d": [("input", REQ), ("output_size", REQ)],
    "adaptive_max_pool2d": [("input", REQ), ("output_size", REQ), ("return_indices", False)],
    "max_pool2d": [("input", REQ), ("kernel_size", REQ), ("stride", None), ("padding", 0),
                   ("dilation", 1), ("ceil_mode", False), ("return_indices", False)],
    "avg_pool2d": [("input", REQ), ("kernel_size", REQ), ("stride", None), ("padding", 0),
                   ("ceil_mode", False), ("count_include_pad", True), ("divisor_override", None)],
    "interpolate": [("input", REQ), ("size", None), ("scale_factor", None), ("mode", "nearest"),
                    ("align_corners", None), ("recompute_scale_factor", None),
                    ("antialias", False)],
    "pad": [("input", REQ), ("pad", REQ), ("mode", "constant"), ("value", None)],
    "layer_norm": [("input", REQ), ("normalized_shape", REQ), ("weight", None), ("bias", None),
                   ("eps", 1e-5)],
    "linear": [("input", REQ), ("weight", REQ), ("bias", None)],
    "matmul": [("input", REQ), ("other", REQ)],
    "stochastic_depth": [("input", REQ), ("p", REQ), ("mode", REQ), ("training", True)],
}
OPS["max_pool1d"] = OPS["max_pool3d"] = OPS["max_pool2d"]
OPS["avg_pool1d"] = OPS["avg_pool2d"][:-1]
OPS["avg_pool3d"] = OPS["avg_pool2d"]
OPS["adaptive_max_pool1d"] = OPS["adaptive_max_pool3d"] = OPS["adaptive_max_pool2d"]

# fx targets -> cnnc op names (functions by identity, methods by name)
FUNCTIONS = {operator.add: "add", operator.iadd: "add", torch.add: "add",
             operator.sub: "sub", operator.isub: "sub", torch.sub: "sub",
             operator.mul: "mul", operator.imul: "mul", torch.mul: "mul",
             operator.truediv: "div", operator.itruediv: "div", torch.div: "div",
             operator.neg: "neg", torch.neg: "neg", operator.getitem: "getitem",
             torch.relu: "relu", torch.sigmoid: "sigmoid", torch.tanh: "tanh",
             torch.cat: "cat", torch.concat: "cat", torch.flatten: "flatten",
             torch.reshape: "reshape", torch.permute: "permute", torch.transpose: "transpose",
             torch.unsqueeze: "unsqueeze", torch.squeeze: "squeeze", torch.mean: "mean",
             torch.sum: "sum", torch.chunk: "chunk", torch.split: "split",
             torch.narrow: "narrow", torch.matmul: "matmul", torch.softmax: "softmax",
             torch.log_softmax: "log_softmax"}
for _name in ("relu", "relu6", "hardsigmoid", "hardswish", "silu", "mish", "leaky_relu", "elu",
              "hardtanh", "gelu", "softmax", "log_softmax", "dropout", "dropout2d", "dropout3d",
              "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
              "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
              "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
              "interpolate", "pad", "layer_norm", "linear", "sigmoid", "tanh"):
    FUNCTIONS[getattr(F, _name)] = _name
if _shufflenet is not None:
    FUNCTIONS[_shufflenet.channel_shuffle] = "channel_shuffle"
    FUNCTIONS[_tv_ops.stochastic_depth] = "stochastic_depth"
METHODS = {"add": "add", "add_": "add", "sub": "sub", "mul": "mul", "mul_": "mul", "div": "div",
           "neg": "neg", "relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh",
           "flatten": "flatten", "view": "view", "reshape": "reshape", "permute": "permute",
           "transpose": "transpose", "contiguous": "contiguous", "unsqueeze": "unsqueeze",
           "squeeze": "squeeze", "mean": "mean", "sum": "sum", "chunk": "chunk",
           "split": "split", "narrow": "narrow", "softmax": "softmax",
           "log_softmax": "log_softmax", "matmul": "matmul"}
VARARG_SHAPES = {"view", "reshape", "permute"}  # x.view(2, 3) as well as x.view((2, 3))


def _op_name(node):
    if node.op == "call_function":
        name = FUNCTIONS.get(node.target)
        what = getattr(node.target, "__module__", "") + "." + getattr(node.target, "__name__", str(node.target))
    else:
        name = METHODS.get(node.target)
        what = "Tensor." + str(node.target)
    if name is None:
        raise ExportError("node '%s': %s has no cnnc counterpart" % (node.name, what))
    return name


def _bind(node, op):
    """PyTorch's call (positional and keyword) as cnnc's positional arguments."""
    params = OPS[op]
    args, kwargs = list(node.args), dict(node.kwargs)
    if op in VARARG_SHAPES and node.op == "call_method" and len(args) > 2:
        args = [args[0], list(args[1:])]
    names = [p for p, _ in params]
    for k in kwargs:
        if k not in names:
            raise ExportError("node '%s': %s got the unknown argument '%s'" % (node.name, op, k))
    if len(args) > len(params):
        raise ExportError("node '%s': %s got %d arguments" % (node.name, op, len(args)))
    out = []
    for i, (name, default) in enumerate(params):
        v = args[i] if i < len(args) else kwargs.get(name, default)
        if v is REQ:
            raise ExportError("node '%s': %s needs '%s'" % (node.name, op, name))
        if default is not DROP:
            out.append(v)
    while len(out) > 1 and out[-1] is None:  # trailing Nones are the defaults
        out.pop()
    return out


# --- the graph -----------------------------------------------------------------------------------

class _Graph:
    def __init__(self, root):
        self.root = root
        self.nodes, self.inputs, self.outputs = [], [], []
        self.refs = {}  # fx node -> its reference in the file

    def arg(self, v, node):
        if isinstance(v, fx.Node):
            if v not in self.refs:
                raise ExportError("node '%s' uses '%s', which gives no tensor" % (node.name, v.name))
            return dict(self.refs[v])
        if isinstance(v, (list, tuple)):
            return [self.arg(x, node) for x in v]
        if isinstance(v, slice) or v is Ellipsis:
            raise ExportError("node '%s': tensor indexing with slices is not supported" % node.name)
        return _json_value(v)

    def add(self, node):
        if node.op == "placeholder":
            self.inputs.append(node.name)
            self.nodes.append({"name": node.name, "input": True})
        elif node.op == "get_attr":
            if not _is_state(self.root, node.target):
                raise ExportError("node '%s' reads '%s', which is no parameter or buffer"
                                  % (node.name, node.target))
            self.nodes.append({"name": node.name, "attr": node.target})
        elif node.op == "call_module":
            self.nodes.append({"name": node.name, "module": node.target,
                               "args": [self.arg(a, node) for a in node.args]})
            if node.kwargs:
                raise ExportError("node '%s': keyword arguments to module %s" % (node.name, node.target))
        elif node.op in ("call_function", "call_method"):
            op = _op_name(node)
            if op == "getitem" and isinstance(node.args[0], fx.Node) and isinstance(node.args[1], int):
                parent = self.refs.get(node.args[0])  # x[i] of a node with several results
                if parent is not None and "index" not in parent:
                    self.refs[node] = {"node": parent["node"], "index": node.args[1]}
                    return
            self.nodes.append({"name": node.name, "op": op,
                               "args": [self.arg(a, node) for a in _bind(node, op)]})
        elif node.op == "output":
            res = node.args[0]
            res = list(res) if isinstance(res, (tuple, list)) else [res]
            self.outputs = [self.arg(r, node) for r in res]
            return
        self.refs[node] = {"node": node.name}


def _is_state(root, target):
    """Is target (a dotted name) a parameter or buffer of the tree?"""
    path, _, name = target.rpartition(".")
    try:
        m = root.get_submodule(path) if path else root
    except AttributeError:
        return False
    return m._parameters.get(name) is not None or m._buffers.get(name) is not None


def architecture(module, example_inputs):
    """The model-file JSON (a dict) for module traced in eval mode."""
    was_training = module.training
    module.eval()
    try:
        graph = Tracer().trace(module)
    finally:
        module.train(was_training)
    g = _Graph(module)
    for node in graph.nodes:
        g.add(node)
    shapes = [list(x.shape) for x in example_inputs] if example_inputs is not None else None
    return {
        "format": FORMAT, "version": VERSION, "type": type(module).__name__,
        "modules": module_entries(module),
        "inputs": [dict({"name": n}, **({"shape": shapes[i]} if shapes and i < len(shapes) else {}))
                   for i, n in enumerate(g.inputs)],
        "nodes": [n for n in g.nodes if not n.get("input")],
        "outputs": g.outputs,
    }


def _as_tuple(example_input):
    if example_input is None:
        return None
    return tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)


def export(module, example_input, path):
    """Writes module (its architecture and state_dict) to path as a cnnc model file.
    example_input (a tensor or a tuple of them) is checked to run and its shapes are
    recorded (cnnc info reports the work per input from them)."""
    inputs = _as_tuple(example_input)
    arch = architecture(module, inputs)
    if inputs is not None:
        was_training = module.training
        module.eval()
        with torch.no_grad():
            module(*inputs)
        module.train(was_training)
    tensors = collections.OrderedDict()
    for k, v in module.state_dict().items():
        a = v.detach().cpu().numpy()
        tensors[k] = a.astype(np.int64) if a.dtype.kind in "iub" else a.astype(np.float32)
    save_file(tensors, path, metadata={METADATA_KEY: json.dumps(arch, separators=(",", ":"))})
    return arch


def load_state_dict(path):
    """The state_dict of a cnnc model (or any safetensors) file, as torch tensors in
    the file's order: module.load_state_dict(load_state_dict(path))."""
    return collections.OrderedDict((k, torch.from_numpy(np.array(v))) for k, v in load_file(path).items())


def read_architecture(path):
    """The architecture dict stored in a cnnc model file."""
    from .safetensors import load_metadata
    meta = load_metadata(path) or {}
    if METADATA_KEY not in meta:
        raise ExportError("%s holds no cnnc model (no '%s' metadata)" % (path, METADATA_KEY))
    return json.loads(meta[METADATA_KEY])


# --- command line ----------------------------------------------------------------------------------

def _factory(spec):
    """'package.module:name' or 'path/file.py:name' -> the object named."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise SystemExit("MODEL must be package.module:factory or path/file.py:Name, got %r" % spec)
    if where.endswith(".py") or os.path.sep in where:
        s = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(where))[0], where)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
    else:
        mod = importlib.import_module(where)
    return getattr(mod, name)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m cnnc.export",
                                description="Export a PyTorch module to a cnnc model file.")
    p.add_argument("model", help="package.module:factory (torchvision.models:resnet18) or file.py:Name")
    p.add_argument("out", help="the .safetensors file to write")
    p.add_argument("--input-shape", default="1,3,224,224",
                   help="shape of the example input, comma-separated (default 1,3,224,224)")
    p.add_argument("--kwargs", default="{}", help="JSON keyword arguments for the factory")
    p.add_argument("--seed", type=int, default=0, help="torch seed for the initial weights")
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    module = _factory(a.model)(**json.loads(a.kwargs))
    if not isinstance(module, nn.Module):
        raise SystemExit("%s did not give a torch.nn.Module" % a.model)
    shape = [int(s) for s in a.input_shape.split(",") if s]
    try:
        arch = export(module, torch.randn(*shape), a.out)
    except ExportError as e:
        raise SystemExit("cnnc.export: %s" % e)
    n_params = sum(p.numel() for p in module.parameters())
    print("%s: %s, %d modules, %d nodes, %d parameters" % (a.out, arch["type"], len(arch["modules"]),
                                                          len(arch["nodes"]), n_params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
