"""Argument rules against PyTorch: the int 3 and the 1-tuple (3,), None and (), tuples
of the wrong length, in every op family and module that takes `int | tuple`; and the
binding's inputs (issue 9, item 12): out-of-range ints, strings and floats where ints
belong, cnnc.Tensor(5)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnc
import cnnc.nn.functional as CF
from helpers import assert_close, randn, rng

FORMS = {"int": 2, "1-tuple": (2,), "2-tuple": (2, 2), "3-tuple": (2, 2, 2), "()": (), "None": None}
SHAPES = {"x3": (1, 2, 8), "x4": (1, 2, 8, 8), "x5": (1, 2, 4, 4, 4), "w": (3, 2, 3, 3),
          "wt": (2, 3, 3, 3)}


def outcome(fn):
    try:
        return fn(), None
    except Exception as e:  # noqa: BLE001  (the exception is the result compared)
        return None, e


def same_outcome(cnnc_fn, torch_fn, message=True):
    """Both succeed with the same values, or both raise: cnnc's exception an instance of
    torch's type (cnnc.Error is a RuntimeError and a ValueError, cnnc.IndexRangeError
    an IndexError) and, when message, the same first line of message (torch's
    argument-parser TypeErrors word their overloads; only the type is compared)."""
    th, te = outcome(torch_fn)
    cn, ce = outcome(cnnc_fn)
    if te is None:
        assert ce is None, "cnnc raised %r, torch gave a result" % (ce,)
        for c, t in zip(cn if isinstance(cn, tuple) else (cn,), th if isinstance(th, tuple) else (th,)):
            if isinstance(t, torch.Tensor):
                assert_close(c, t)
            elif not isinstance(t, torch.nn.Module):
                assert c == t, (c, t)
        return None
    assert ce is not None, "torch raised %r, cnnc gave a result" % (te,)
    assert isinstance(ce, type(te)), "cnnc raised %r, torch %r" % (ce, te)
    if message and not isinstance(te, TypeError):
        assert str(ce).split("\n")[0] == str(te).split("\n")[0], (str(ce), str(te))
    return ce


def inputs(lib, names, grad=False):
    r = rng(0)
    out = []
    for n in names:
        a = randn(r, *SHAPES[n])
        out.append(lib.tensor(a, requires_grad=grad) if lib is cnnc else torch.tensor(a, requires_grad=grad))
    return out


def unpool_input(lib, F, nsp):
    x, = inputs(lib, ["x4" if nsp == 2 else "x3"])
    return (F.max_pool2d if nsp == 2 else F.max_pool1d)(x, 2, return_indices=True)


# Every family with `int | tuple` arguments: (name, call(F, lib, v)).
CASES = [
    ("conv2d stride", lambda F, L, v: F.conv2d(*inputs(L, ["x4", "w"]), stride=v)),
    ("conv2d padding", lambda F, L, v: F.conv2d(*inputs(L, ["x4", "w"]), padding=v)),
    ("conv2d dilation", lambda F, L, v: F.conv2d(*inputs(L, ["x4", "w"]), dilation=v)),
    ("conv_transpose2d output_padding",
     lambda F, L, v: F.conv_transpose2d(*inputs(L, ["x4", "wt"]), stride=3, output_padding=v)),
    ("max_pool1d kernel_size", lambda F, L, v: F.max_pool1d(*inputs(L, ["x3"]), v)),
    ("max_pool1d kernel_size (grad)", lambda F, L, v: F.max_pool1d(*inputs(L, ["x3"], True), v)),
    ("max_pool1d stride", lambda F, L, v: F.max_pool1d(*inputs(L, ["x3"]), 2, stride=v)),
    ("max_pool2d kernel_size", lambda F, L, v: F.max_pool2d(*inputs(L, ["x4"]), v)),
    ("max_pool2d stride", lambda F, L, v: F.max_pool2d(*inputs(L, ["x4"]), 2, stride=v)),
    ("max_pool2d padding", lambda F, L, v: F.max_pool2d(*inputs(L, ["x4"]), 4, padding=v)),
    ("max_pool2d dilation", lambda F, L, v: F.max_pool2d(*inputs(L, ["x4"]), 2, dilation=v)),
    ("max_pool3d kernel_size", lambda F, L, v: F.max_pool3d(*inputs(L, ["x5"]), v)),
    ("avg_pool1d kernel_size", lambda F, L, v: F.avg_pool1d(*inputs(L, ["x3"]), v)),
    ("avg_pool2d kernel_size", lambda F, L, v: F.avg_pool2d(*inputs(L, ["x4"]), v)),
    ("avg_pool2d stride", lambda F, L, v: F.avg_pool2d(*inputs(L, ["x4"]), 2, stride=v)),
    ("avg_pool3d kernel_size", lambda F, L, v: F.avg_pool3d(*inputs(L, ["x5"]), v)),
    ("adaptive_avg_pool1d", lambda F, L, v: F.adaptive_avg_pool1d(*inputs(L, ["x3"]), v)),
    ("adaptive_avg_pool2d", lambda F, L, v: F.adaptive_avg_pool2d(*inputs(L, ["x4"]), v)),
    ("adaptive_avg_pool3d", lambda F, L, v: F.adaptive_avg_pool3d(*inputs(L, ["x5"]), v)),
    ("adaptive_max_pool1d", lambda F, L, v: F.adaptive_max_pool1d(*inputs(L, ["x3"]), v)),
    ("adaptive_max_pool2d", lambda F, L, v: F.adaptive_max_pool2d(*inputs(L, ["x4"]), v)),
    ("adaptive_max_pool3d", lambda F, L, v: F.adaptive_max_pool3d(*inputs(L, ["x5"]), v)),
    ("max_unpool2d kernel_size", lambda F, L, v: F.max_unpool2d(*unpool_input(L, F, 2), v)),
    ("max_unpool1d kernel_size", lambda F, L, v: F.max_unpool1d(*unpool_input(L, F, 1), v)),
    ("max_unpool2d stride", lambda F, L, v: F.max_unpool2d(*unpool_input(L, F, 2), 2, stride=v)),
    ("max_unpool2d padding", lambda F, L, v: F.max_unpool2d(*unpool_input(L, F, 2), 2, padding=v)),
    ("max_unpool2d output_size",
     lambda F, L, v: F.max_unpool2d(*unpool_input(L, F, 2), 2, output_size=v)),
    ("max_unpool1d output_size",
     lambda F, L, v: F.max_unpool1d(*unpool_input(L, F, 1), 2, output_size=v)),
    ("interpolate size 2-d", lambda F, L, v: F.interpolate(*inputs(L, ["x4"]), size=v)),
    ("interpolate size 1-d", lambda F, L, v: F.interpolate(*inputs(L, ["x3"]), size=v)),
    ("interpolate scale_factor",
     lambda F, L, v: F.interpolate(*inputs(L, ["x4"]), scale_factor=v if not isinstance(v, tuple)
                                   else tuple(float(e) for e in v))),
    ("layer_norm", lambda F, L, v: F.layer_norm(*inputs(L, ["x4"]), v)),
    ("softmax dim", lambda F, L, v: F.softmax(*inputs(L, ["x4"]), dim=v)),
    ("pad", lambda F, L, v: F.pad(*inputs(L, ["x4"]), v)),
]
# PyTorch itself crashes (a segfault reading kernel_size[0] of an empty list).
TORCH_CRASHES = {("max_unpool2d kernel_size", "()"), ("max_unpool1d kernel_size", "()")}


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("name,call", CASES, ids=[c[0] for c in CASES])
def test_int_and_tuple_forms(name, call, form):
    if (name, form) in TORCH_CRASHES:
        pytest.skip("PyTorch 1.13 segfaults here; cnnc raises")
    v = FORMS[form]
    same_outcome(lambda: call(CF, cnnc, v), lambda: call(TF, torch, v))


def test_one_tuple_output_size_is_refused():
    """The issue's example: F.adaptive_avg_pool2d(x, (4,)) is not the int 4."""
    x = cnnc.randn(1, 2, 8, 8)
    assert CF.adaptive_avg_pool2d(x, 4).shape == (1, 2, 4, 4)
    with pytest.raises(cnnc.Error, match="output_size must be 2"):
        CF.adaptive_avg_pool2d(x, (4,))


def test_where_pytorch_crashes_cnnc_raises():
    y, i = unpool_input(cnnc, CF, 2)
    with pytest.raises(cnnc.Error, match="There should be exactly two elements"):
        CF.max_unpool2d(y, i, ())


# --- modules keep the forms and list them as PyTorch does --------------------------------

MODULES = [
    ("MaxPool2d", ((3,),), "x4"), ("MaxPool2d", (2, (1,)), "x4"), ("MaxPool2d", (2, ()), "x4"),
    ("MaxPool1d", ((3,),), "x3"), ("AvgPool2d", ((3,),), "x4"), ("AvgPool1d", ((3, 3),), "x3"),
    ("AvgPool1d", (3,), "x3"), ("AvgPool3d", ((2,),), "x5"), ("AdaptiveAvgPool2d", ((4,),), "x4"),
    ("AdaptiveAvgPool2d", ((),), "x4"), ("AdaptiveAvgPool2d", ((None, 4),), "x4"),
    ("AdaptiveAvgPool1d", ((4,),), "x3"), ("AdaptiveMaxPool2d", ((4,),), "x4"),
    ("MaxUnpool2d", ((2,),), None), ("MaxUnpool2d", (2,), None), ("MaxUnpool1d", ((2,),), None),
    ("ZeroPad2d", ((1,),), "x4"), ("ZeroPad2d", (1,), "x4"), ("ZeroPad2d", ((1, 2),), "x4"),
    ("ConstantPad1d", ((1, 2, 3), 0.0), "x3"), ("ConstantPad2d", ((), 1.0), "x4"),
    ("ReflectionPad2d", ((1,),), "x4"),
    ("Upsample", ((4,),), "x4"), ("Upsample", (4,), "x4"), ("Upsample", (None, (2.0,)), "x4"),
    ("Upsample", (None, ()), "x4"), ("Upsample", ((),), "x4"), ("Upsample", (None, 2), "x4"),
    ("LayerNorm", ((8,),), "x4"), ("LayerNorm", (8,), "x4"), ("LayerNorm", ((),), "x4"),
    ("Conv2d", (2, 3, (3,)), "x4"), ("Conv2d", (2, 3, 3, (2,)), "x4"),
    ("Conv2d", (2, 3, 3, 1, (1,)), "x4"), ("Conv2d", (2, 3, 3, (1, 1, 1)), "x4"),
    ("Conv2d", (2, 3, (3, 3, 3)), "x4"), ("Conv1d", (2, 3, (3,)), "x3"),
    ("ConvTranspose2d", (2, 3, 3, 2, 0, (1,)), "x4"), ("ConvTranspose2d", (2, 3, 3, (2,)), "x4"),
    ("ConvTranspose2d", (2, 3, (3,)), "x4"),
]


def _attrs(m):
    return {k: v for k, v in vars(m).items() if not k.startswith("_") and k != "training"}


@pytest.mark.parametrize("cls,args,x", MODULES, ids=["%s%r" % (c, a) for c, a, _ in MODULES])
def test_module_forms(cls, args, x):
    th = getattr(torch.nn, cls)(*args)
    cn = getattr(cnnc.nn, cls)(*args)
    assert repr(cn) == repr(th)
    for name, value in _attrs(th).items():
        assert getattr(cn, name) == value, name
    if x is not None:
        torch.manual_seed(0)
        cn.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
        same_outcome(lambda: cn(*inputs(cnnc, [x])), lambda: th(*inputs(torch, [x])))


def test_module_field_listing_shows_one_tuples():
    text = cnnc.nn.MaxPool2d((3,), (1,)).vars()
    assert "kernel_size: (3,)" in text and "stride: (1,)" in text
    assert "padding: 0" in cnnc.nn.MaxPool2d((3,)).vars()


# --- issue 9, item 12: the binding's inputs ---------------------------------------------------

def test_tensor_constructor_is_torch_tensor():
    """cnnc.Tensor(5) builds a 5-element tensor (it used to take 5 as a handle and crash)."""
    for args in [(5,), (2, 3), (0,), (np.int64(3),), ()]:
        c, t = cnnc.Tensor(*args), torch.Tensor(*args)
        assert c.shape == tuple(t.shape) and c.dtype == "float32"
    for data in ([1, 2], [[1.5, 2], [3, 4]], np.arange(6, dtype=np.int64).reshape(2, 3),
                 np.ones((2, 2), np.float64), (7,)):
        assert_close(cnnc.Tensor(data), torch.Tensor(data), 0, 0)
    base = cnnc.tensor(np.ones(3, np.float32))
    alias = cnnc.Tensor(base)
    base.fill_(2.0)
    np.testing.assert_array_equal(alias.numpy(), [2, 2, 2])
    for args in [(-1,), (2 ** 64,), (2 ** 63,), (2.5,), ("a",), (None,), (True,), (2, [3]),
                 (["a"],), ([[1], [2, 3]],)]:
        same_outcome(lambda: cnnc.Tensor(*args), lambda: torch.Tensor(*args), message=False)


X23 = np.zeros((2, 3), np.float32)
X4 = randn(rng(1), 1, 2, 8, 8)
W4 = randn(rng(2), 3, 2, 3, 3)


def _both(fn):
    """fn(lib, functional, x23, x4, w4) for cnnc and torch."""
    return (lambda: fn(cnnc, CF, cnnc.tensor(X23), cnnc.tensor(X4), cnnc.tensor(W4)),
            lambda: fn(torch, TF, torch.tensor(X23), torch.tensor(X4), torch.tensor(W4)))


# (id, call): every case of item 12, compared with torch's exception type (and message
# where both come from the same check).
BINDING_CASES = [
    ("size(2**32+1)", lambda L, F, x, x4, w: x.size(2 ** 32 + 1)),
    ("size(2**63)", lambda L, F, x, x4, w: x.size(2 ** 63)),
    ("size(2**64+1)", lambda L, F, x, x4, w: x.size(2 ** 64 + 1)),
    ("size(1.0)", lambda L, F, x, x4, w: x.size(1.0)),
    ("size('1')", lambda L, F, x, x4, w: x.size("1")),
    ("size(True)", lambda L, F, x, x4, w: x.size(True)),
    ("size(np.int64(1))", lambda L, F, x, x4, w: x.size(np.int64(1))),
    ("conv2d stride=2**64+1", lambda L, F, x, x4, w: F.conv2d(x4, w, stride=2 ** 64 + 1)),
    ("conv2d stride=2**63", lambda L, F, x, x4, w: F.conv2d(x4, w, stride=2 ** 63)),
    ("conv2d stride=2**63-1", lambda L, F, x, x4, w: F.conv2d(x4, w, stride=2 ** 63 - 1)),
    ("conv2d stride=(2**64, 1)", lambda L, F, x, x4, w: F.conv2d(x4, w, stride=(2 ** 64, 1))),
    ("conv2d stride=1.0", lambda L, F, x, x4, w: F.conv2d(x4, w, stride=1.0)),
    ("conv2d stride=(1.0, 1)", lambda L, F, x, x4, w: F.conv2d(x4, w, stride=(1.0, 1))),
    ("conv2d stride='1'", lambda L, F, x, x4, w: F.conv2d(x4, w, stride="1")),
    ("conv2d stride=True", lambda L, F, x, x4, w: F.conv2d(x4, w, stride=True)),
    ("conv2d groups=1.0", lambda L, F, x, x4, w: F.conv2d(x4, w, groups=1.0)),
    ("conv2d groups=2**64", lambda L, F, x, x4, w: F.conv2d(x4, w, groups=2 ** 64)),
    ("zeros(2**64+1)", lambda L, F, x, x4, w: L.zeros(2 ** 64 + 1)),
    ("zeros(2**63)", lambda L, F, x, x4, w: L.zeros(2 ** 63)),
    ("zeros(2.0)", lambda L, F, x, x4, w: L.zeros(2.0)),
    ("zeros('2')", lambda L, F, x, x4, w: L.zeros("2")),
    ("zeros(True)", lambda L, F, x, x4, w: L.zeros(True)),
    ("zeros(-1)", lambda L, F, x, x4, w: L.zeros(-1)),
    ("ones(2, '3')", lambda L, F, x, x4, w: L.ones(2, "3")),
    ("randn(2**64)", lambda L, F, x, x4, w: L.randn(2 ** 64)),
    ("reshape(2.0, 3)", lambda L, F, x, x4, w: x.reshape(2.0, 3)),
    ("reshape(2**64)", lambda L, F, x, x4, w: x.reshape(2 ** 64)),
    ("permute(2**32, 0)", lambda L, F, x, x4, w: x.permute(2 ** 32, 0)),
    ("permute(2**64, 0)", lambda L, F, x, x4, w: x.permute(2 ** 64, 0)),
    ("permute(1.0, 0)", lambda L, F, x, x4, w: x.permute(1.0, 0)),
    ("transpose(2**32, 0)", lambda L, F, x, x4, w: x.transpose(2 ** 32, 0)),
    ("transpose(2**64, 0)", lambda L, F, x, x4, w: x.transpose(2 ** 64, 0)),
    ("transpose('1', 0)", lambda L, F, x, x4, w: x.transpose("1", 0)),
    ("flatten('1')", lambda L, F, x, x4, w: x.flatten("1")),
    ("flatten(0, 2**40)", lambda L, F, x, x4, w: x.flatten(0, 2 ** 40)),
    ("sum(2**32)", lambda L, F, x, x4, w: x.sum(2 ** 32)),
    ("sum(2**64)", lambda L, F, x, x4, w: x.sum(2 ** 64)),
    ("sum((2**32,))", lambda L, F, x, x4, w: x.sum((2 ** 32,))),
    ("sum((2**64,))", lambda L, F, x, x4, w: x.sum((2 ** 64,))),
    ("sum('1')", lambda L, F, x, x4, w: x.sum("1")),
    ("sum('a')", lambda L, F, x, x4, w: x.sum("a")),
    ("sum(1.0)", lambda L, F, x, x4, w: x.sum(1.0)),
    ("sum((0, 1.0))", lambda L, F, x, x4, w: x.sum((0, 1.0))),
    ("mean('1')", lambda L, F, x, x4, w: x.mean("1")),
    ("cat dim='1'", lambda L, F, x, x4, w: L.cat([x, x], "1")),
    ("cat dim=2**64", lambda L, F, x, x4, w: L.cat([x, x], 2 ** 64)),
    ("cat dim=2**32", lambda L, F, x, x4, w: L.cat([x, x], 2 ** 32)),
    ("pad (2**64, 1)", lambda L, F, x, x4, w: F.pad(x4, (2 ** 64, 1))),
    ("pad (2**63, 1)", lambda L, F, x, x4, w: F.pad(x4, (2 ** 63, 1))),
    ("pad (1.5, 1.5)", lambda L, F, x, x4, w: F.pad(x4, (1.5, 1.5))),
    ("pad ('1', 1)", lambda L, F, x, x4, w: F.pad(x4, ("1", 1))),
    ("interpolate size=2**64", lambda L, F, x, x4, w: F.interpolate(x4, size=2 ** 64)),
    ("interpolate size=(2**64, 2)", lambda L, F, x, x4, w: F.interpolate(x4, size=(2 ** 64, 2))),
    ("interpolate size=2.0", lambda L, F, x, x4, w: F.interpolate(x4, size=2.0)),
    ("interpolate scale_factor='2'", lambda L, F, x, x4, w: F.interpolate(x4, scale_factor="2")),
    ("interpolate scale_factor=(2, '2')",
     lambda L, F, x, x4, w: F.interpolate(x4, scale_factor=(2, "2"))),
    ("interpolate scale_factor=True", lambda L, F, x, x4, w: F.interpolate(x4, scale_factor=True)),
    ("softmax dim='1'", lambda L, F, x, x4, w: F.softmax(x4, dim="1")),
    ("softmax dim='a'", lambda L, F, x, x4, w: F.softmax(x, dim="a")),
    ("softmax dim=1.0", lambda L, F, x, x4, w: F.softmax(x4, dim=1.0)),
    ("softmax dim=2**64", lambda L, F, x, x4, w: F.softmax(x4, dim=2 ** 64)),
    ("max_pool2d kernel_size=2.5", lambda L, F, x, x4, w: F.max_pool2d(x4, 2.5)),
    ("max_pool2d kernel_size=2**64", lambda L, F, x, x4, w: F.max_pool2d(x4, 2 ** 64)),
    ("max_pool2d kernel_size=2**40", lambda L, F, x, x4, w: F.max_pool2d(x4, 2 ** 40)),
    ("avg_pool2d divisor_override=1.5",
     lambda L, F, x, x4, w: F.avg_pool2d(x4, 2, divisor_override=1.5)),
    ("group_norm num_groups=1.5", lambda L, F, x, x4, w: F.group_norm(x4, 1.5)),
    ("layer_norm (8.0,)", lambda L, F, x, x4, w: F.layer_norm(x4, (8.0,))),
    ("layer_norm 8", lambda L, F, x, x4, w: F.layer_norm(x4, 8)),
    ("batch_norm eps='1'", lambda L, F, x, x4, w: F.batch_norm(x4, None, None, training=True, eps="1")),
    ("nn.Conv2d('3', 4, 3)", lambda L, F, x, x4, w: L.nn.Conv2d("3", 4, 3)),
    ("nn.Conv2d(3, 4, 3.0)", lambda L, F, x, x4, w: L.nn.Conv2d(3, 4, 3.0)),
    ("nn.Conv2d(3, 4, '3')", lambda L, F, x, x4, w: L.nn.Conv2d(3, 4, "3")),
    ("nn.Conv2d(2**64, 4, 3)", lambda L, F, x, x4, w: L.nn.Conv2d(2 ** 64, 4, 3)),
    ("nn.Conv2d(3, 4, 2**64)", lambda L, F, x, x4, w: L.nn.Conv2d(3, 4, 2 ** 64)),
    ("nn.Conv2d(True, 4, 3)", lambda L, F, x, x4, w: repr(L.nn.Conv2d(True, 4, 3)).replace("True", "1")),
    ("nn.Linear('3', 4)", lambda L, F, x, x4, w: L.nn.Linear("3", 4)),
    ("nn.Linear(3.5, 4)", lambda L, F, x, x4, w: L.nn.Linear(3.5, 4)),
    ("nn.BatchNorm2d(2.5)", lambda L, F, x, x4, w: L.nn.BatchNorm2d(2.5)),
    ("nn.BatchNorm2d('2')", lambda L, F, x, x4, w: L.nn.BatchNorm2d("2")),
    ("nn.MaxPool2d(2.5)(x)", lambda L, F, x, x4, w: L.nn.MaxPool2d(2.5)(x4)),
    ("nn.Flatten('1')(x)", lambda L, F, x, x4, w: L.nn.Flatten("1")(x4)),
    ("set_num_threads(1.0)", lambda L, F, x, x4, w: L.set_num_threads(1.0)),
    ("manual_seed(2**64)", lambda L, F, x, x4, w: L.manual_seed(2 ** 64)),
    ("manual_seed(-2**63-1)", lambda L, F, x, x4, w: L.manual_seed(-2 ** 63 - 1)),
    ("arange('3')", lambda L, F, x, x4, w: L.arange("3")),
    ("full(2, 1.0)", lambda L, F, x, x4, w: L.full(2, 1.0)),
]


@pytest.mark.parametrize("name,call", BINDING_CASES, ids=[c[0] for c in BINDING_CASES])
def test_binding_inputs_raise_as_torch(name, call):
    same_outcome(*_both(call))


def test_out_of_range_ints_no_longer_wrap():
    """The values the issue saw wrap through ctypes: each raises now."""
    x = cnnc.zeros(2, 3)
    with pytest.raises(cnnc.IndexRangeError, match="but got 4294967297"):
        x.size(2 ** 32 + 1)  # was dim 1's size
    with pytest.raises(RuntimeError, match="Overflow when unpacking long"):
        CF.conv2d(cnnc.zeros(1, 1, 4, 4), cnnc.zeros(1, 1, 1, 1), stride=2 ** 64 + 1)  # ran with stride 1
    with pytest.raises(TypeError):
        cnnc.zeros(2 ** 64 + 1)  # had shape (1,)
    with pytest.raises(TypeError):
        CF.pad(cnnc.zeros(1, 1, 2, 2), (2 ** 64 + 1, 0))


def test_num_threads_out_of_range():
    """torch.set_num_threads(2**32 + 1) silently keeps some wrapped value (and 2**64
    aborts the process); cnnc refuses ints that do not fit the C int."""
    old = cnnc.get_num_threads()
    for n in (2 ** 32 + 1, 2 ** 64):
        with pytest.raises(cnnc.Error):
            cnnc.set_num_threads(n)
        assert cnnc.get_num_threads() == old


def test_float_channels_where_torch_raises_value_error():
    """nn.Conv2d(3.7, 4, 3): torch's ValueError comes from its divisibility check
    (3.7 % 1 != 0; Conv2d(3.0, 4, 3) raises TypeError in torch.empty instead); cnnc
    refuses any float where an int belongs with a TypeError, before any check."""
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        torch.nn.Conv2d(3.7, 4, 3)
    with pytest.raises(TypeError):
        torch.nn.Conv2d(3.0, 4, 3)
    for v in (3.7, 3.0):
        with pytest.raises(TypeError, match="in_channels"):
            cnnc.nn.Conv2d(v, 4, 3)
