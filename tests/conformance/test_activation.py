"""Pointwise activations, PReLU, softmax / log_softmax (functional and modules)
against torch 1.13: forward, input and weight gradients, in-place forms, NaN and
boundary rules, reprs, attributes and errors."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as cnn
import cnnc.nn.functional as F
from helpers import check_error, check_module, check_op, randn, random_shape, rng, seeds

warnings.filterwarnings("ignore", category=UserWarning)

# name -> (parameter sampler(r, for_inplace) -> kwargs, in-place keyword?, name_ function?,
#          boundary values of x worth hitting exactly)
NAN = float("nan")
INF = float("inf")


def _p_hardtanh(r, inplace):
    lo = float(r.choice([-1.0, -2.5, 0.0, 0.5, r.uniform(-3, 1)]))
    hi = float(r.choice([1.0, 2.0, lo, lo - 1.0, lo + r.uniform(0, 3)]))  # incl. max <= min
    return {"min_val": lo, "max_val": hi}


def _p_leaky(r, inplace):
    opts = [0.01, 0.0, 0.2, 1.5, r.uniform(0, 1)] + ([] if inplace else [-0.5, -2.0])
    return {"negative_slope": float(r.choice(opts))}


def _p_alpha(r, inplace):
    opts = [1.0, 0.5, 2.0, 0.0, r.uniform(0.1, 3)] + ([] if inplace else [-0.7, -2.0])
    return {"alpha": float(r.choice(opts))}


def _p_celu(r, inplace):
    opts = [1.0, 0.5, 2.0, 1e-3, r.uniform(0.1, 3)] + ([] if inplace else [-0.7, -2.0])
    return {"alpha": float(r.choice(opts))}


def _p_gelu(r, inplace):
    return {"approximate": str(r.choice(["none", "tanh"]))}


def _p_softplus(r, inplace):
    beta = r.choice([1, 2, 0.5, -1.0, 3.0, r.uniform(0.1, 4)])
    threshold = r.choice([20, 1.0, 4.0, 0.0, -2.0, r.uniform(-1, 10)])
    return {"beta": float(beta), "threshold": float(threshold)}


def _p_none(r, inplace):
    return {}


SPECS = {
    "relu6": (_p_none, True, None, [0.0, 6.0, -6.0]),
    "hardtanh": (_p_hardtanh, True, "hardtanh_", [-1.0, 1.0, 0.0, 2.0, -2.5, 0.5]),
    "leaky_relu": (_p_leaky, True, "leaky_relu_", [0.0]),
    "elu": (_p_alpha, True, "elu_", [0.0]),
    "selu": (_p_none, True, "selu_", [0.0]),
    "celu": (_p_celu, True, "celu_", [0.0]),
    "gelu": (_p_gelu, False, None, [0.0]),
    "silu": (_p_none, True, None, [0.0]),
    "mish": (_p_none, True, None, [0.0]),
    "sigmoid": (_p_none, False, None, [0.0]),
    "tanh": (_p_none, False, None, [0.0]),
    "hardsigmoid": (_p_none, True, None, [-3.0, 3.0, 0.0]),
    # +3 is left to test_boundaries_vectorized: torch's scalar tail loop differs there
    "hardswish": (_p_none, True, None, [-3.0, 0.0]),
    "softplus": (_p_softplus, False, None, [0.0, 2.0, 4.0, -2.0, 20.0, 10.0]),
}


def cn_fn(name):
    return getattr(F, name)


def th_fn(name):
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh}.get(name) or getattr(TF, name)


def _sample_x(r, name, shape, scale=None):
    x = np.asarray(randn(r, *shape) * np.float32(scale if scale else r.choice([0.5, 1.0, 3.0, 8.0])),
                   np.float32)
    flat = x.reshape(-1)
    if flat.size:
        specials = SPECS[name][3]
        k = r.randint(0, max(1, flat.size // 3) + 1)
        idx = r.choice(flat.size, size=min(k, flat.size), replace=False)
        flat[idx] = np.asarray(r.choice(specials, size=len(idx)), np.float32)
    return np.asarray(x, np.float32)


# --- random configurations ---------------------------------------------------------------

@pytest.mark.parametrize("name", list(SPECS))
@seeds(12)
def test_activation_random(name, seed):
    r = rng(seed * 101 + len(name))
    shape = random_shape(r, r.randint(0, 6), lo=0 if r.rand() < 0.15 else 1, hi=6)
    kw = SPECS[name][0](r, False)
    x = _sample_x(r, name, shape)
    check_op(lambda a: cn_fn(name)(a, **kw), lambda a: th_fn(name)(a, **kw), [x], seed=seed,
             atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", list(SPECS))
@seeds(4)
def test_activation_positional(name, seed):
    """The same call with positional arguments (torch's parameter order; gelu's
    approximate is keyword-only in torch and cnnc)."""
    r = rng(seed + 7)
    kw = SPECS[name][0](r, False) if name != "gelu" else {}
    x = _sample_x(r, name, (3, 5))
    check_op(lambda a: cn_fn(name)(a, *kw.values()), lambda a: th_fn(name)(a, *kw.values()),
             [x], seed=seed)


@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if s[1]])
@seeds(6)
def test_activation_inplace_keyword(name, seed):
    """inplace=True on a non-leaf: same values, same gradients through it."""
    r = rng(seed * 13 + 5)
    kw = SPECS[name][0](r, True)
    x = _sample_x(r, name, random_shape(r, r.randint(1, 5)))
    res = check_op(lambda a: cn_fn(name)(a * 1.5, inplace=True, **kw),
                   lambda a: th_fn(name)(a * 1.5, inplace=True, **kw), [x], seed=seed)
    assert res.cnnc_out.grad_fn == res.torch_out.grad_fn.name()


@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if s[2]])
@seeds(6)
def test_activation_underscore_function(name, seed):
    r = rng(seed * 17 + 3)
    kw = SPECS[name][0](r, True)
    fn_ = SPECS[name][2]
    x = _sample_x(r, name, random_shape(r, r.randint(0, 5)))

    def run(mod, a):
        b = a * 1.0
        out = getattr(mod, fn_)(b, **kw)
        assert out is b
        return out
    res = check_op(lambda a: run(F, a), lambda a: run(TF, a), [x], seed=seed)
    assert res.cnnc_out.grad_fn == res.torch_out.grad_fn.name()


@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if s[1]])
def test_activation_inplace_no_grad_and_version(name):
    x = _sample_x(rng(2), name, (4, 6))
    c, t = cnnc.tensor(x), torch.tensor(x)
    v0 = c._version
    out = cn_fn(name)(c, inplace=True)
    th_fn(name)(t, inplace=True)
    assert out is c and c._version > v0
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if s[1]])
def test_activation_inplace_leaf_errors(name):
    check_error(lambda: cn_fn(name)(cnnc.ones(2, requires_grad=True), inplace=True),
                lambda: th_fn(name)(torch.ones(2, requires_grad=True), inplace=True), "leaf")


@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if s[2]])
def test_activation_underscore_leaf_errors(name):
    fn_ = SPECS[name][2]
    check_error(lambda: getattr(F, fn_)(cnnc.ones(2, requires_grad=True)),
                lambda: getattr(TF, fn_)(torch.ones(2, requires_grad=True)), "leaf")


@pytest.mark.parametrize("name", list(SPECS))
def test_activation_grad_fn_names(name):
    kw = SPECS[name][0](rng(0), False)
    c = F.__dict__[name](cnnc.ones(3, requires_grad=True), **kw)
    t = th_fn(name)(torch.ones(3, requires_grad=True), **kw)
    assert c.grad_fn == t.grad_fn.name()


def test_inplace_chain_and_saved_input():
    """silu_/mish_/hardswish_/hardsigmoid_ need their input: torch saves it before the
    overwrite, so a chain of in-place ops still differentiates correctly."""
    x = randn(rng(5), 64)

    def net(mod, a):
        b = a * 2
        mod.silu(b, inplace=True)
        mod.hardswish(b, inplace=True)
        mod.mish(b, inplace=True)
        mod.hardsigmoid(b, inplace=True)
        mod.hardtanh_(b, 0.1, 0.6)  # keeps a copy of its input, as torch
        mod.relu6(b, inplace=True)
        mod.elu(b, alpha=0.5, inplace=True)  # saves its result: the last in-place op
        return b * 3
    check_op(lambda a: net(F, a), lambda a: net(TF, a), [x])


@pytest.mark.parametrize("shape", [(3, 37, 11), (2, 16, 9, 9), (45,)])
def test_hardtanh_inplace_mask_sizes(shape):
    """relu6_/hardtanh_ keep a gradient mask (one bit per element), not a copy: whole
    and partial 32-element words, with the bounds, NaN and infinities in the input
    (in its first 32 elements, which torch runs through its vector loop), and the
    result overwritten in place afterwards (torch keeps the input, so its backward
    still works)."""
    r = rng(7)
    x = (randn(r, *shape) * 5).astype(np.float32)
    flat = x.reshape(-1)
    flat[: min(flat.size, len(SPECIAL))] = SPECIAL[: min(flat.size, len(SPECIAL))]

    def net(mod, a):
        b = a * 1
        mod.relu6(b, inplace=True)
        c = b * 0.5
        mod.hardtanh_(c, -1.0, 2.0)
        mod.relu_(c)
        return c * 3
    check_op(lambda a: net(F, a), lambda a: net(TF, a), [x])


@pytest.mark.parametrize("first,second", [("elu_", "leaky_relu_"), ("leaky_relu_", "hardtanh_"),
                                          ("selu_", "celu_"),
                                          ("celu_", "selu_")])
def test_inplace_after_result_saving_inplace_errors(first, second):
    """leaky_relu_/elu_/selu_/celu_ save their result: overwriting it again breaks backward."""
    def run(mod, lib):
        a = lib.ones(5, requires_grad=True) * -0.5
        getattr(mod, first)(a)
        getattr(mod, second)(a)
        a.sum().backward()
    check_error(lambda: run(F, cnnc), lambda: run(TF, torch), "modified by an inplace operation")


def test_inplace_then_saved_input_modified_errors():
    """gelu saves its input: modifying it afterwards makes backward fail, as torch."""
    def run(mod, lib):
        a = lib.ones(4, requires_grad=True) * 1
        y = mod.gelu(a)
        mod.relu_(a)
        y.sum().backward()
    check_error(lambda: run(F, cnnc), lambda: run(TF, torch), "modified by an inplace operation")


# --- NaN, infinities, exact boundaries (vector-loop sizes) ---------------------------------

SPECIAL = [NAN, INF, -INF, 0.0, -0.0, 3.0, -3.0, 1.0, -1.0, 6.0, 20.0, 1e-30, -1e-30, 88.0,
           -88.0, 100.0, -100.0, 1e-8, 0.5, -0.5]


@pytest.mark.parametrize("name", list(SPECS))
@seeds(3)
def test_special_values(name, seed):
    """Every special value, at sizes that torch runs entirely through its vector loop
    (multiples of 32 elements), whose NaN/boundary rules cnnc follows."""
    r = rng(seed)
    vals = np.asarray(SPECIAL * 4, np.float32)[:64]
    x = np.where(r.rand(64) < 0.5, vals, randn(r, 64) * 4).astype(np.float32)
    x[: len(SPECIAL)] = SPECIAL
    kw = SPECS[name][0](r, False)
    g = randn(r, 64)
    check_op(lambda a: cn_fn(name)(a, **kw), lambda a: th_fn(name)(a, **kw), [x.reshape(2, 32)],
             grad_output=g.reshape(2, 32))


@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if s[1]])
def test_special_values_inplace(name):
    x = np.asarray((SPECIAL * 4)[:64], np.float32).reshape(4, 16)
    kw = SPECS[name][0](rng(1), True)
    check_op(lambda a: cn_fn(name)(a * 1, inplace=True, **kw),
             lambda a: th_fn(name)(a * 1, inplace=True, **kw), [x])


def test_boundaries_vectorized():
    """hardswish's gradient at exactly +-3, hardtanh's/relu6's at their bounds,
    leaky_relu's at 0, softplus at its threshold."""
    base = np.zeros(64, np.float32)
    base[:12] = [3, -3, 0, -0.0, 6, -1, 1, 2, 20, 10, 5, -5]
    cases = [(F.hardswish, TF.hardswish), (F.hardsigmoid, TF.hardsigmoid),
             (F.relu6, TF.relu6), (F.hardtanh, TF.hardtanh),
             (lambda a: F.hardtanh(a, -1.0, 3.0), lambda a: TF.hardtanh(a, -1.0, 3.0)),
             (F.leaky_relu, TF.leaky_relu),
             (lambda a: F.softplus(a, 2, 20), lambda a: TF.softplus(a, 2, 20)),
             (lambda a: F.softplus(a, 0.5, 5), lambda a: TF.softplus(a, 0.5, 5)),
             (lambda a: F.softplus(a, 1, 10), lambda a: TF.softplus(a, 1, 10))]
    for c, t in cases:
        check_op(c, t, [base.reshape(4, 16)], grad_output=np.ones((4, 16), np.float32))


def test_gelu_tails_and_large_inputs():
    x = np.linspace(-12, 12, 4801, dtype=np.float32)
    for approx in ("none", "tanh"):
        check_op(lambda a: F.gelu(a, approximate=approx),
                 lambda a: TF.gelu(a, approximate=approx), [x], atol=1e-5)


@pytest.mark.parametrize("name", list(SPECS))
def test_wide_range(name):
    """A dense sweep over [-40, 40] (exp/log/erf/tanh approximations everywhere)."""
    x = np.linspace(-40, 40, 16001, dtype=np.float32)
    check_op(lambda a: cn_fn(name)(a), lambda a: th_fn(name)(a), [x], atol=1e-5,
             grad_output=np.ones_like(x))


# --- errors ------------------------------------------------------------------------------

def test_celu_alpha_zero():
    check_error(lambda: F.celu(cnnc.ones(2), 0.0), lambda: TF.celu(torch.ones(2), 0.0),
                "ZeroDivisionError: alpha cannot be 0 for CELU")
    check_error(lambda: F.celu_(cnnc.ones(2), 0.0), lambda: TF.celu_(torch.ones(2), 0.0),
                "alpha cannot be 0 for CELU")
    check_error(lambda: cnn.CELU(0.0)(cnnc.ones(2)), lambda: tnn.CELU(0.0)(torch.ones(2)),
                "alpha cannot be 0")


def test_gelu_bad_approximate():
    check_error(lambda: F.gelu(cnnc.ones(2), approximate="foo"),
                lambda: TF.gelu(torch.ones(2), approximate="foo"),
                "approximate argument must be either none or tanh.")
    # torch defers this to forward; cnnc refuses when building the module
    check_error(lambda: cnn.GELU("Tanh")(cnnc.ones(2)), lambda: tnn.GELU("Tanh")(torch.ones(2)),
                "approximate argument must be either none or tanh")


@pytest.mark.parametrize("fn,arg", [("leaky_relu_", -0.5), ("elu_", -0.5), ("celu_", -2.0)])
def test_inplace_negative_slope_backward_errors(fn, arg):
    def run(mod, lib):
        a = lib.ones(3, requires_grad=True) * -1
        getattr(mod, fn)(a, arg)
        a.sum().backward()
    check_error(lambda: run(F, cnnc), lambda: run(TF, torch),
                "backward calculation is triggered with a negative slope")


def test_inplace_negative_slope_without_backward_is_fine():
    for fn, arg in [("leaky_relu_", -0.5), ("elu_", -0.5), ("celu_", -2.0)]:
        x = randn(rng(3), 8)
        c, t = cnnc.tensor(x), torch.tensor(x)
        getattr(F, fn)(c, arg)
        getattr(TF, fn)(t, arg)
        np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)


def test_int64_and_null_refused():
    for name in SPECS:
        with pytest.raises(cnnc.Error, match="float32"):
            cn_fn(name)(cnnc.tensor([1, 2, 3]))
    with pytest.raises(TypeError):
        F.elu([1.0])


# --- PReLU ---------------------------------------------------------------------------------

@seeds(16)
def test_prelu_random(seed):
    r = rng(seed)
    nd = r.randint(0, 6)
    shape = random_shape(r, nd, lo=0 if r.rand() < 0.1 else 1, hi=5)
    c = shape[1] if nd >= 2 else 1
    wshape = r.choice(["scalar", "one", "channels"])
    w = {"scalar": randn(r), "one": randn(r, 1), "channels": randn(r, c)}[wshape]
    x = np.asarray(randn(r, *shape), np.float32)
    x.reshape(-1)[:: 4] = 0.0  # x == 0 takes the w * x branch, as torch
    check_op(F.prelu, TF.prelu, [x, np.asarray(w, np.float32)], seed=seed)
    check_op(F.prelu, TF.prelu, [x, np.asarray(w, np.float32)], requires_grad=[False, True],
             seed=seed)
    check_op(F.prelu, TF.prelu, [x, np.asarray(w, np.float32)], requires_grad=[True, False],
             seed=seed)


def test_prelu_large_shared_weight():
    """The weight gradient summed over a large tensor (chunked double sums)."""
    r = rng(1)
    x, w = randn(r, 3, 200000), np.asarray([0.3], np.float32)
    check_op(F.prelu, TF.prelu, [x, w], atol=1e-3, rtol=1e-4)
    x, w = randn(r, 4, 3, 50, 70), randn(r, 3)
    check_op(F.prelu, TF.prelu, [x, w], atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("xs,ws", [((2, 4, 3), (3,)), ((3,), (3,)), ((3,), (4,)),
                                   ((2, 3), (3, 1)), ((2, 3), (0,)), ((2, 3, 4), (2,))])
def test_prelu_errors(xs, ws):
    check_error(lambda: F.prelu(cnnc.zeros(xs), cnnc.zeros(ws)),
                lambda: TF.prelu(torch.zeros(xs), torch.zeros(ws)))


def test_prelu_error_messages():
    check_error(lambda: F.prelu(cnnc.zeros(2, 4, 3), cnnc.zeros(3)),
                lambda: TF.prelu(torch.zeros(2, 4, 3), torch.zeros(3)),
                "Mismatch of parameter numbers and input channel size. Found parameter "
                "numbers = 3 and channel size = 4.")
    check_error(lambda: F.prelu(cnnc.zeros(2, 3), cnnc.zeros(3, 1)),
                lambda: TF.prelu(torch.zeros(2, 3), torch.zeros(3, 1)),
                "prelu: Expected `weight` to be a scalar or 1D tensor, but got ndim = 2")


@pytest.mark.parametrize("num,init", [(1, 0.25), (3, 0.1), (5, -0.5), (0, 0.25)])
def test_prelu_module(num, init):
    c, t = cnn.PReLU(num, init), tnn.PReLU(num, init)
    assert repr(c) == repr(t)
    assert c.num_parameters == t.num_parameters
    shape = (2, max(num, 1), 3) if num != 1 else (4, 3, 2, 2)
    if num == 0:
        shape = (2, 0, 3)
    x = randn(rng(num), *shape)
    check_module(c, t, x, load_state=False)
    assert list(c.state_dict().keys()) == ["weight"]


def test_prelu_module_errors():
    check_error(lambda: cnn.PReLU(-1), lambda: tnn.PReLU(-1), "negative dimension")
    check_error(lambda: cnn.PReLU(3)(cnnc.zeros(2, 4)), lambda: tnn.PReLU(3)(torch.zeros(2, 4)),
                "Mismatch of parameter numbers")


# --- softmax / log_softmax -------------------------------------------------------------

SOFTMAX_FNS = [("softmax", F.softmax, TF.softmax), ("log_softmax", F.log_softmax, TF.log_softmax)]


@pytest.mark.parametrize("name,cf,tf", SOFTMAX_FNS)
@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4, 5])
@seeds(3)
def test_softmax_every_dim(name, cf, tf, ndim, seed):
    r = rng(seed * 31 + ndim)
    shape = random_shape(r, ndim, lo=1, hi=6)
    x = np.asarray(randn(r, *shape) * np.float32(r.choice([1.0, 5.0, 30.0])), np.float32)
    n = max(ndim, 1)
    for dim in list(range(-n, n)) + [None]:
        check_op(lambda a: cf(a, dim), lambda a: tf(a, dim), [x], seed=seed, atol=1e-5)
        check_op(lambda a: cf(a, dim=dim), lambda a: tf(a, dim=dim), [x], seed=seed, atol=1e-5)


@pytest.mark.parametrize("name,cf,tf", SOFTMAX_FNS)
@pytest.mark.parametrize("shape,dim", [((256, 1000), -1), ((8, 64, 7, 9), 1), ((3, 300, 5), 1),
                                       ((2, 3, 700), 1), ((1000,), 0), ((2, 0, 3), 1),
                                       ((2, 0, 3), 2), ((4, 1, 5), 1), ((3, 517), 1)])
def test_softmax_shapes(name, cf, tf, shape, dim):
    x = randn(rng(len(shape)), *shape) * np.float32(3)
    check_op(lambda a: cf(a, dim), lambda a: tf(a, dim), [x], atol=1e-5)


@pytest.mark.parametrize("name,cf,tf", SOFTMAX_FNS)
def test_softmax_stability_and_specials(name, cf, tf):
    x = np.asarray([[1000.0, 1001.0, 1002.0, -1000.0],
                    [-1e30, 0.0, 1e30, 5.0],
                    [NAN, 1.0, 2.0, 3.0],
                    [INF, 1.0, 2.0, 3.0],
                    [-INF, 1.0, 2.0, 3.0],
                    [-INF, -INF, -INF, -INF],
                    [88.0, 89.0, 90.0, -104.0],
                    [0.0, 0.0, 0.0, 0.0]], np.float32)
    for dim in (0, 1):
        check_op(lambda a: cf(a, dim), lambda a: tf(a, dim), [x], requires_grad=False)
    check_op(lambda a: cf(a, 1), lambda a: tf(a, 1), [x[:2]], atol=1e-5)


@pytest.mark.parametrize("name,cf,tf", SOFTMAX_FNS)
def test_softmax_dim_errors(name, cf, tf):
    for shape, dim in [((2, 3), 2), ((2, 3), -3), ((), 1), ((4,), 5)]:
        check_error(lambda: cf(cnnc.zeros(shape), dim), lambda: tf(torch.zeros(shape), dim),
                    "Dimension out of range")
    check_error(lambda: cf(cnnc.zeros(2, 3), 2), lambda: tf(torch.zeros(2, 3), 2),
                "Dimension out of range (expected to be in range of [-2, 1], but got 2)")


def test_softmax_dtype_argument():
    x = randn(rng(0), 3, 4)
    check_op(lambda a: F.softmax(a, 1, dtype=torch.float32),
             lambda a: TF.softmax(a, 1, dtype=torch.float32), [x])
    with pytest.raises(ValueError):
        F.softmax(cnnc.tensor(x), 1, dtype=torch.float64)


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, 2])
def test_softmax_modules(cls, dim):
    c, t = getattr(cnn, cls)(dim), getattr(tnn, cls)(dim)
    assert repr(c) == repr(t)
    assert c.dim == t.dim
    for shape in [(3, 4, 5), (2, 3, 4, 5), (5,)]:
        if dim is not None and not -len(shape) <= dim < len(shape):
            check_error(lambda: c(cnnc.zeros(shape)), lambda: t(torch.zeros(shape)),
                        "Dimension out of range")
            continue
        check_module(c, t, randn(rng(len(shape)), *shape))


# --- modules: reprs, attributes, forward/backward ------------------------------------------

MODULES = [
    ("ReLU6", (), {}), ("ReLU6", (True,), {}),
    ("Hardtanh", (), {}), ("Hardtanh", (-2.0, 2.5), {}), ("Hardtanh", (0.0, 6.0, True), {}),
    ("Hardtanh", (), {"min_val": -0.5, "max_val": 0.25}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2,), {}), ("LeakyReLU", (0.1, True), {}),
    ("LeakyReLU", (1e-05,), {}), ("LeakyReLU", (-0.3,), {}),
    ("ELU", (), {}), ("ELU", (0.5, True), {}), ("ELU", (-1.5,), {}),
    ("SELU", (), {}), ("SELU", (True,), {}),
    ("CELU", (), {}), ("CELU", (2.0,), {}), ("CELU", (0.3, True), {}),
    ("GELU", (), {}), ("GELU", ("tanh",), {}), ("GELU", (), {"approximate": "none"}),
    ("SiLU", (), {}), ("SiLU", (True,), {}), ("Mish", (), {}), ("Mish", (True,), {}),
    ("Sigmoid", (), {}), ("Tanh", (), {}),
    ("Hardsigmoid", (), {}), ("Hardsigmoid", (True,), {}),
    ("Hardswish", (), {}), ("Hardswish", (True,), {}),
    ("Softplus", (), {}), ("Softplus", (2,), {}), ("Softplus", (2, 10), {}),
    ("Softplus", (0.5, 3.5), {}), ("Softplus", (), {"beta": 3, "threshold": 1e20}),
]


@pytest.mark.parametrize("cls,args,kwargs", MODULES)
def test_module(cls, args, kwargs):
    c, t = getattr(cnn, cls)(*args, **kwargs), getattr(tnn, cls)(*args, **kwargs)
    assert repr(c) == repr(t)
    names = set(vars(t)) - set(vars(tnn.Module()))
    for n in names:
        assert getattr(c, n) == getattr(t, n), n
        assert type(getattr(c, n)) == type(getattr(t, n)), n
    assert list(c.state_dict().keys()) == []
    x = randn(rng(len(cls)), 2, 3, 4, 5) * np.float32(3)
    inplace = getattr(t, "inplace", False)
    if inplace:
        # an in-place module needs a non-leaf input
        check_op(lambda a: c(a * 1), lambda a: t(a * 1), [x])
    else:
        check_module(c, t, x)
    c.eval()
    t.eval()
    check_op(lambda a: c(a * 1), lambda a: t(a * 1), [x])


def test_module_inplace_returns_modified_input():
    x = randn(rng(0), 3, 4)
    c = cnnc.tensor(x)
    m = cnn.LeakyReLU(0.3, inplace=True)
    y = m(c)
    np.testing.assert_allclose(c.numpy(), np.where(x > 0, x, x * np.float32(0.3)), rtol=1e-6)
    np.testing.assert_array_equal(y.numpy(), c.numpy())


def test_hardtanh_module_requires_max_greater_than_min():
    check_error(lambda: cnn.Hardtanh(2.0, 1.0), lambda: tnn.Hardtanh(2.0, 1.0),
                torch_exceptions=AssertionError)
    check_error(lambda: cnn.Hardtanh(1.0, 1.0), lambda: tnn.Hardtanh(1.0, 1.0),
                torch_exceptions=AssertionError)
    # the functional accepts it (clamp: max wins)
    x = randn(rng(1), 64)
    check_op(lambda a: F.hardtanh(a, 2.0, 1.0), lambda a: TF.hardtanh(a, 2.0, 1.0), [x])


def test_hardtanh_deprecated_keywords():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = cnn.Hardtanh(min_value=-0.5, max_value=0.5)
        t = tnn.Hardtanh(min_value=-0.5, max_value=0.5)
    assert repr(c) == repr(t)


def test_modules_in_sequential():
    def build(nn):
        return nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8), nn.PReLU(),
                             nn.Linear(8, 5), nn.LogSoftmax(dim=1))
    torch.manual_seed(3)
    t = build(tnn)
    c = build(cnn)
    res = check_module(c, t, randn(rng(2), 4, 6), atol=1e-5)
    assert repr(c) == repr(t)
    assert res is not None
