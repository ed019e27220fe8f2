"""F.pad (constant, reflect, replicate, circular) and the padding modules against
torch 1.13: randomized shapes and pads (positive, negative, mixed), batched and
unbatched, forward and input gradients; PyTorch's errors; reprs and attributes."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as cnn
import cnnc.nn.functional as F
from helpers import check_error, check_module, check_op, randn, rng, seeds

MODES = ["constant", "reflect", "replicate", "circular"]


def torch_raises(fn):
    try:
        fn()
    except (RuntimeError, ValueError, IndexError, TypeError):
        return True
    return False


def circular_is_defined(shape, pad):
    """torch reads uninitialised memory when a circular pad exceeds what is left
    of its dim after the other side's crop; those configurations are not compared."""
    k = len(pad) // 2
    for i in range(k):
        size = shape[len(shape) - 1 - i]
        l, r = pad[2 * i], pad[2 * i + 1]
        left = size - max(-l, 0) - max(-r, 0)
        if max(l, 0) > left or max(r, 0) > left:
            return False
    return True


def compare(x, pad, mode, value=None, seed=0):
    """Both raise, or both agree on the output and the input gradient."""
    args = (pad, mode) if value is None else (pad, mode, value)
    if torch_raises(lambda: TF.pad(torch.tensor(x), *args)):
        check_error(lambda: F.pad(cnnc.tensor(x), *args), lambda: TF.pad(torch.tensor(x), *args))
        return "error"
    if TF.pad(torch.tensor(x), *args).numel() == 0:
        # torch's reflection/replication backward leaves the input gradient
        # uninitialised when the output is empty; cnnc's is zeros
        check_op(lambda a: F.pad(a, *args), lambda a: TF.pad(a, *args), [x], requires_grad=False)
        cx = cnnc.tensor(x, requires_grad=True)
        out = F.pad(cx, *args)
        out.backward(cnnc.zeros(*out.shape))
        assert not np.any(cx.grad.numpy())
        return "ok"
    check_op(lambda a: F.pad(a, *args), lambda a: TF.pad(a, *args), [x], seed=seed)
    return "ok"


def random_pad(r, k, shape, lo=-3, hi=4):
    return tuple(int(v) for v in r.randint(lo, hi, size=2 * k))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("batched", [True, False])
@seeds(12)
def test_pad_random(mode, k, batched, seed):
    r = rng(seed * 31 + k)
    spatial = tuple(int(v) for v in r.randint(1, 7, size=k))
    shape = ((int(r.randint(1, 3)),) if batched else ()) + (int(r.randint(1, 4)),) + spatial
    x = randn(r, *shape)
    if seed % 3 == 0:
        pad = tuple(int(v) for v in r.randint(0, 3, size=2 * k))  # positive only
    elif seed % 3 == 1:
        pad = tuple(int(v) for v in r.randint(-2, 1, size=2 * k))  # crops only
    else:
        pad = random_pad(r, k, shape)  # mixed
    if mode == "circular" and not circular_is_defined(shape, pad):
        pad = tuple(max(0, min(v, 1)) for v in pad)
    value = float(r.uniform(-2, 2)) if mode == "constant" else None
    compare(x, pad, mode, value, seed)


@pytest.mark.parametrize("ndim", [1, 2, 3, 4, 5, 6])
@seeds(8)
def test_constant_pad_any_rank(ndim, seed):
    r = rng(100 + seed * 7 + ndim)
    shape = tuple(int(v) for v in r.randint(1, 5, size=ndim))
    npairs = int(r.randint(0, ndim + 1))
    pad = tuple(int(v) for v in r.randint(-2, 3, size=2 * npairs))
    compare(randn(r, *shape), pad, "constant", float(r.uniform(-3, 3)), seed)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("k", [1, 2, 3])
@seeds(10)
def test_pad_edges_of_rules(mode, k, seed):
    """Pads near the input size (reflect's pad < size, negative outputs)."""
    r = rng(500 + seed)
    spatial = tuple(int(v) for v in r.randint(1, 5, size=k))
    shape = (2, 2) + spatial
    pad = []
    for i in range(k):
        size = spatial[k - 1 - i]
        pad += [int(r.randint(-size, size + 1)), int(r.randint(-size, size + 1))]
    compare(randn(r, *shape), tuple(pad), mode, None, seed)


@pytest.mark.parametrize("mode", MODES)
def test_pad_all_combinations_small(mode):
    """Every pad pair in [-2, 2]^2 on the last dim of a [1, 2, 3] (and 4-D) input."""
    x = randn(rng(7), 1, 2, 3)
    x4 = randn(rng(8), 1, 1, 3, 3)
    outcomes = set()
    for a in range(-2, 3):
        for b in range(-2, 3):
            if mode == "circular" and not circular_is_defined(x.shape, (a, b)):
                continue
            outcomes.add(compare(x, (a, b), mode))
            if mode != "circular" or circular_is_defined(x4.shape, (0, 0, a, b)):
                outcomes.add(compare(x4, (1, 0, a, b), mode))
    assert "ok" in outcomes


def test_pad_zero_sized():
    for shape, pad, mode in [((2, 3, 0), (1, 1), "constant"), ((0, 2, 4), (1, 1), "reflect"),
                             ((0, 2, 4), (1, 1), "replicate"), ((0, 2, 4), (1, 1), "circular"),
                             ((0, 3, 2, 4), (1, 1, 1, 1), "reflect"),
                             ((0, 3, 2, 4, 4), (1, 1, 1, 1, 1, 1), "replicate"),
                             ((1, 2, 0, 3), (1, 1, 0, 0), "circular"), ((3, 4), (0, -4), "constant"),
                             ((2, 3, 5), (-3, -2), "constant"), ((3, 4, 4), (-4, 1, 0, 0), "reflect"),
                             ((3, 4, 4, 4), (-4, 0, 0, 0, 0, 0), "reflect"), ((), (), "constant"),
                             ((3,), (), "constant"), ((2, 0, 3), (1, 1, 0, 0), "constant"),
                             # left pads past the (cropped) output: empty middle runs
                             ((2, 2, 4, 3, 2), (2, -3, 3, 1, 3, 2), "replicate"),
                             ((1, 6, 2, 2), (2, -3, 1, 0, -2, -3), "replicate"),
                             ((2, 3, 4), (3, -5), "reflect"), ((2, 3, 4), (3, -6), "replicate"),
                             ((1, 2, 3, 4), (1, -4, 2, -4), "reflect")]:
        compare(randn(rng(1), *shape), pad, mode)


ERRORS = [
    ((2, 3, 5), (1,), "constant", None, "Padding length must be divisible by 2"),
    ((2, 3, 5), (1, 2, 3), "reflect", None, "Padding length must be divisible by 2"),
    ((3, 4), (1, 1, 1, 1, 1, 1), "reflect", None, "Padding length too large"),
    ((5,), (1, 1, 1, 1), "constant", None, "Padding length too large"),
    ((5,), (1, 1), "reflect", None, "Only 2D, 3D, 4D, 5D padding with non-constant padding"),
    ((3, 5), (1, 1, 1, 1), "replicate", None, "Only 2D, 3D, 4D, 5D padding"),
    ((1, 1, 1, 2, 3, 4), (1, 1, 1, 1, 1, 1), "reflect", None, "Only 2D, 3D, 4D, 5D padding"),
    ((3, 5), (1, 1), "circular", None, "Invalid padding size, expected 0 but got 2"),
    ((2, 3, 5), (1, 1, 1, 1), "circular", None, "Invalid padding size, expected 2 but got 4"),
    ((2, 3, 5), (6, 0), "circular", None, "Padding value causes wrapping around more than once."),
    ((2, 3, 5), (-6, 0), "circular", None, "Negative padding value is resulting in an empty dimension"),
    ((2, 3, 5), (5, 0), "reflect", None,
     "Argument #4: Padding size should be less than the corresponding input dimension, but got: "
     "padding (5, 0) at dimension 2 of input [2, 3, 5]"),
    ((3, 4, 4), (0, 0, 0, 4), "reflect", None,
     "Argument #6: Padding size should be less than the corresponding input dimension, but got: "
     "padding (0, 4) at dimension 1 of input 3"),
    ((2, 3, 4, 4, 4), (0, 0, 0, 0, 4, 0), "reflect", None,
     "Argument #8: Padding size should be less than the corresponding input dimension, but got: "
     "padding (4, 0) at dimension 2 of input [2, 3, 4, 4, 4]"),
    ((2, 3, 5), (-3, -2), "reflect", None, "2input (W: 5)is too small. Calculated output W: 0"),
    ((2, 3, 5), (-3, -3), "replicate", None, "input (W: 5) is too small. Calculated output W: -1"),
    ((2, 0, 4), (1, 1), "reflect", None,
     "2D or 3D (batch mode) tensor expected for input, but got: [ torch.FloatTensor{2,0,4} ]"),
    ((3, 0, 3), (0, 1, 1, 1), "reflect", None,
     "3D or 4D (batch mode) tensor expected for input, but got: [ torch.FloatTensor{3,0,3} ]"),
    ((2, 0, 4), (1, 1), "replicate", None,
     "Expected 2D or 3D (batch mode) tensor with possibly 0 batch size and other non-zero "
     "dimensions for input, but got: [2, 0, 4]"),
    ((0, 3, 3), (0, 1, 1, 1), "replicate", None, "Expected 3D or 4D (batch mode) tensor"),
    ((3, 0, 4, 4), (1, 1, 1, 1, 1, 1), "reflect", None, "Expected 4D or 5D (batch mode) tensor"),
    ((3, 4, 4), (-5, 0, 0, 0), "replicate", None,
     "Trying to create tensor with negative dimension -1: [3, 4, -1]"),
    ((3, 4), (-4, 0, 1, 0), "constant", None,
     "The input size 4, plus negative padding -4 and 0 resulted in a negative output size, which "
     "is invalid. Check dimension 1 of your input."),
    ((3, 4), (-5, 0), "constant", None,
     "Dimension out of range (expected to be in range of [-4, 3], but got 5)"),
    ((3, 4), (0, -5), "constant", None, "start (0) + length (-1) exceeds dimension size (4)."),
    ((3, 4), (-3, -3, 1, 0), "constant", None, "start (0) + length (-2) exceeds dimension size (1)."),
    ((3, 4), (1, 1), "replicate", 1.5, 'Padding mode "replicate" doesn\'t take in value argument'),
    ((3, 4), (1, 1), "reflect", 1.0, 'Padding mode "reflect" doesn\'t take in value argument'),
    ((3, 4), (1, 1), "bad", None, "Unrecognised padding mode bad"),
    ((3, 4), (1, 1, 1), "bad", None, "Unrecognised padding mode bad"),
]


@pytest.mark.parametrize("shape,pad,mode,value,msg", ERRORS)
def test_pad_errors(shape, pad, mode, value, msg):
    x = randn(rng(0), *shape)
    args = (pad, mode) if value is None else (pad, mode, value)
    check_error(lambda: F.pad(cnnc.tensor(x), *args), lambda: TF.pad(torch.tensor(x), *args), msg)


def test_pad_errors_without_matching_text():
    """torch's texts for these are internal accidents (numel overflow); both raise."""
    for shape, pad, mode in [((2, 3, 4, 4), (-4, -1, 0, 0), "reflect"),
                             ((2, 3, 4, 4, 4), (0, 0, 0, 0, -4, -1), "replicate")]:
        x = randn(rng(0), *shape)
        check_error(lambda: F.pad(cnnc.tensor(x), pad, mode), lambda: TF.pad(torch.tensor(x), pad, mode))


def test_pad_value_zero_is_allowed_for_every_mode():
    x = randn(rng(2), 2, 3, 5)
    for mode in MODES:
        check_op(lambda a: F.pad(a, (1, 2), mode, 0.0), lambda a: TF.pad(a, (1, 2), mode, 0.0), [x])


def test_pad_special_values():
    x = np.array([[[np.nan, np.inf, -np.inf, 1.0]]], np.float32)
    for mode in MODES:
        a = F.pad(cnnc.tensor(x), (2, 3), mode).numpy()
        b = TF.pad(torch.tensor(x), (2, 3), mode).numpy()
        np.testing.assert_array_equal(a, b)
    a = F.pad(cnnc.tensor(x), (1, 1), value=float("nan")).numpy()
    b = TF.pad(torch.tensor(x), (1, 1), value=float("nan")).numpy()
    np.testing.assert_array_equal(a, b)


def test_pad_large_threaded():
    x = randn(rng(3), 4, 16, 33, 35)
    for mode in MODES:
        for pad in [(3, 2, 1, 4), (-2, 3, 2, -1)]:
            check_op(lambda a: F.pad(a, pad, mode), lambda a: TF.pad(a, pad, mode), [x])


# --- modules ---------------------------------------------------------------------------------

MODULES = [
    ("ConstantPad1d", (2, 1.5), (2, 3, 4)), ("ConstantPad1d", ((1, -1), -2.0), (3, 4)),
    ("ConstantPad2d", (1, 0.5), (2, 3, 4, 4)), ("ConstantPad2d", ((1, 2, -1, 0), 3.0), (3, 4, 4)),
    ("ConstantPad3d", (1, 2.5), (1, 2, 3, 3, 3)), ("ConstantPad3d", ((1, 0, 2, 0, 0, 1), 1.0), (2, 3, 3, 3)),
    ("ZeroPad2d", (2,), (1, 2, 3, 3)), ("ZeroPad2d", ((1, 1, 2, 0),), (2, 3, 3)),
    ("ReflectionPad1d", (2,), (2, 3, 5)), ("ReflectionPad1d", ((3, 1),), (3, 5)),
    ("ReflectionPad2d", (2,), (2, 3, 4, 5)), ("ReflectionPad2d", ((1, 0, 2, 1),), (3, 4, 5)),
    ("ReflectionPad3d", (1,), (1, 2, 3, 3, 3)), ("ReflectionPad3d", ((1, 0, 2, 1, 0, 1),), (2, 3, 3, 3)),
    ("ReplicationPad1d", (3,), (2, 3, 5)), ("ReplicationPad1d", ((4, 1),), (3, 2)),
    ("ReplicationPad2d", (2,), (2, 3, 4, 5)), ("ReplicationPad2d", ((1, 0, 3, -1),), (3, 4, 5)),
    ("ReplicationPad3d", (2,), (1, 2, 3, 3, 3)), ("ReplicationPad3d", ((1, 0, 2, 1, 0, 1),), (2, 3, 3, 3)),
]


@pytest.mark.parametrize("name,args,shape", MODULES)
def test_pad_modules(name, args, shape):
    cm, tm = getattr(cnn, name)(*args), getattr(tnn, name)(*args)
    assert repr(cm) == repr(tm)
    assert cm.padding == tm.padding
    if hasattr(tm, "value"):
        assert cm.value == tm.value
    assert list(cm.state_dict().keys()) == []
    check_module(cm, tm, randn(rng(4), *shape))


def test_pad_module_errors_at_forward():
    x = randn(rng(0), 2, 3, 3)
    check_error(lambda: cnn.ReflectionPad1d(3)(cnnc.tensor(x)), lambda: tnn.ReflectionPad1d(3)(torch.tensor(x)),
                "Padding size should be less than")
    check_error(lambda: cnn.ReflectionPad2d(1)(cnnc.tensor(randn(rng(0), 3))),
                lambda: tnn.ReflectionPad2d(1)(torch.tensor(randn(rng(0), 3))))


def test_pad_in_a_sequential():
    cm = cnn.Sequential(cnn.ReflectionPad2d(1), cnn.ReLU(), cnn.ZeroPad2d((1, 0, 0, 1)))
    tm = tnn.Sequential(tnn.ReflectionPad2d(1), tnn.ReLU(), tnn.ZeroPad2d((1, 0, 0, 1)))
    assert repr(cm) == repr(tm)
    check_module(cm, tm, randn(rng(5), 2, 3, 4, 4))


def test_pad_grad_fn_names():
    x = cnnc.tensor(randn(rng(0), 1, 2, 4, 4), requires_grad=True)
    tx = torch.tensor(randn(rng(0), 1, 2, 4, 4), requires_grad=True)
    for mode, pad in [("constant", (1, 1)), ("reflect", (1, 1, 1, 1)), ("replicate", (1, 1, 1, 1))]:
        assert F.pad(x, pad, mode).grad_fn == TF.pad(tx, pad, mode).grad_fn.name()


def test_pad_not_a_tensor():
    with pytest.raises(TypeError):
        F.pad([1.0, 2.0], (1, 1))
