"""NaN and Inf against PyTorch 1.13, over every op family: forward and input gradient.

Where PyTorch is inconsistent with itself, the comment at the case says so and which
side cnnc takes. Values are compared with NaNs in the same places and Infs equal."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnc
import cnnc.nn.functional as F
from helpers import check_error, check_op, randn, rng

NAN, INF = np.nan, np.inf


def sprinkle(r, shape, frac=0.2, values=(NAN, INF, -INF)):
    """Normal values with a fraction replaced by NaN/Inf/-Inf."""
    x = randn(r, *shape)
    m = r.rand(*shape) < frac
    x[m] = r.choice(values, int(m.sum()))
    return x


# ---- issue 9 item 8 ------------------------------------------------------------------------

def test_batch_norm_eval_backward_ignores_x():
    """In eval, d(out)/dx = weight / sqrt(running_var + eps) everywhere, NaN/Inf x too."""
    x = np.array([[1, NAN], [INF, 2], [-INF, 3]], np.float32)
    rm, rv = np.array([0.5, 1], np.float32), np.array([2, 3], np.float32)
    w, b = np.array([1.5, -2], np.float32), np.array([0.1, 0.2], np.float32)
    res = check_op(lambda a, ww, bb: F.batch_norm(a, cnnc.tensor(rm), cnnc.tensor(rv), ww, bb),
                   lambda a, ww, bb: TF.batch_norm(a, torch.tensor(rm), torch.tensor(rv), ww, bb),
                   [x, w, b], grad_output=np.ones_like(x))
    want = np.broadcast_to(w / np.sqrt(rv + 1e-5), x.shape)
    np.testing.assert_allclose(res.cnnc_inputs[0].grad.numpy(), want, rtol=1e-6)
    x4 = sprinkle(rng(1), (2, 3, 4, 4))
    check_op(lambda a: F.instance_norm(a, cnnc.tensor(rm[:1].repeat(3)), cnnc.tensor(rv[:1].repeat(3)),
                                       use_input_stats=False),
             lambda a: TF.instance_norm(a, torch.tensor(rm[:1].repeat(3)), torch.tensor(rv[:1].repeat(3)),
                                        use_input_stats=False), [x4])


@pytest.mark.parametrize("shape,kw", [
    ((1, 1, 4), dict(scale_factor=2, mode="linear", align_corners=True)),
    ((1, 1, 4), dict(scale_factor=2, mode="linear")),
    ((1, 1, 3, 4), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    ((1, 1, 3, 5), dict(size=(7, 9), mode="bilinear", align_corners=True)),
    ((1, 1, 2, 3, 4), dict(scale_factor=2, mode="trilinear", align_corners=True)),
    ((1, 1, 5, 4), dict(scale_factor=(1.5, 2.5), mode="bilinear", antialias=True)),
    ((1, 1, 6, 5), dict(size=(3, 2), mode="bilinear", antialias=True)),
    ((1, 1, 6, 5), dict(size=(4, 3), mode="bicubic", antialias=True)),
])
def test_interpolate_all_inf(shape, kw):
    """All-Inf input: Inf wherever PyTorch's weights are all non-zero. aten computes a linear
    source position in double (3/7f * 7 = 3.00000003, not 3), so the next input's weight is
    a tiny non-zero there, not 0 (Inf * 0 = NaN); the antialias filters read only the taps
    inside the input."""
    x = np.full(shape, INF, np.float32)
    check_op(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x])


@pytest.mark.parametrize("n", [4, 5, 7, 9])
@pytest.mark.parametrize("out", [3, 7, 9, 13, 17])
@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate_nan_neighbours(n, out, align_corners):
    """A NaN spreads to the outputs whose two (or four) taps include it, a zero-weight tap at
    an integer source position included, decided in PyTorch's arithmetic."""
    for pos in range(n):
        x = np.arange(n, dtype=np.float32).reshape(1, 1, n) + 1
        x[0, 0, pos] = NAN
        check_op(lambda a: F.interpolate(a, size=out, mode="linear", align_corners=align_corners),
                 lambda a: TF.interpolate(a, size=out, mode="linear", align_corners=align_corners), [x])
        x2 = np.repeat(x.reshape(1, 1, 1, n), 2, axis=2)
        check_op(lambda a: F.interpolate(a, size=(3, out), mode="bilinear", align_corners=align_corners),
                 lambda a: TF.interpolate(a, size=(3, out), mode="bilinear", align_corners=align_corners),
                 [x2])


# ---- the sweep: every op family, forward and input gradient ---------------------------------

def _same(name):
    return getattr(F, name), getattr(TF, name)


ACTIVATIONS = ["relu", "relu6", "sigmoid", "tanh", "silu", "mish", "gelu", "elu", "selu", "celu",
               "softplus", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_sweep_activation(name):
    """160 values: PyTorch's vectorized loop covers all of them (see the next test)."""
    c, t = _same(name)
    x = sprinkle(rng(1), (4, 5, 8))
    x[0, 0, :3] = [60.0, -60.0, 0.0]
    x[0, 1, :2] = [3.0, -3.0]
    check_op(c, t, [x])


@pytest.mark.parametrize("name,x,vector,tail", [
    ("hardtanh", NAN, 0.0, 1.0),
    ("relu6", NAN, 0.0, 1.0),
    ("elu", NAN, NAN, 1.0),
    ("hardswish", NAN, NAN, 1.0),
    ("hardswish", 3.0, 1.0, 1.5),
])
def test_activation_backward_pytorch_inconsistent(name, x, vector, tail):
    """PyTorch is inconsistent with itself here: its vectorized loop (all but the last
    n % 16 or n % 32 values of a tensor) and its scalar tail loop give different input
    gradients for NaN (and for hardswish at exactly 3). cnnc takes the vectorized side
    everywhere, so its result does not depend on where the value sits."""
    c, t = _same(name)
    for pos, want in [(0, vector), (69, tail)]:  # 70 values: the last 6 are PyTorch's tail
        v = np.ones(70, np.float32) * 0.5
        v[pos] = x
        tx = torch.tensor(v, requires_grad=True)
        t(tx).backward(torch.ones(70))
        np.testing.assert_equal(tx.grad.numpy()[pos], np.float32(want))
        cx = cnnc.tensor(v, requires_grad=True)
        c(cx).backward(cnnc.ones(70))
        np.testing.assert_equal(cx.grad.numpy()[pos], np.float32(vector))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sweep_softmax(name, dim):
    c, t = _same(name)
    x = sprinkle(rng(2), (3, 4, 5), frac=0.1)
    check_op(lambda a: c(a, dim=dim), lambda a: t(a, dim=dim), [x])


def test_sweep_prelu():
    x, w = sprinkle(rng(3), (2, 3, 4)), np.array([0.25, -0.5, 2.0], np.float32)
    check_op(F.prelu, TF.prelu, [x, w])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("transposed", [False, True])
def test_sweep_conv(nd, transposed):
    r = rng(nd + 10 * transposed)
    x = sprinkle(r, (2, 3) + (5,) * nd, frac=0.05)
    w = randn(r, *((3, 2) if transposed else (2, 3)), *(3,) * nd)
    b = randn(r, 2)
    kind = ("conv_transpose%dd" if transposed else "conv%dd") % nd
    c, t = _same(kind)
    check_op(lambda a, ww, bb: c(a, ww, bb, stride=2, padding=1),
             lambda a, ww, bb: t(a, ww, bb, stride=2, padding=1), [x, w, b], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_sweep_pools(nd):
    r = rng(20 + nd)
    x = sprinkle(r, (2, 3) + (6,) * nd, frac=0.1)
    for name, kw in [("max_pool%dd", dict(kernel_size=2)),
                     ("max_pool%dd", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
                     ("avg_pool%dd", dict(kernel_size=2)),
                     ("avg_pool%dd", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
                     ("adaptive_avg_pool%dd", dict(output_size=4)),
                     ("adaptive_max_pool%dd", dict(output_size=4))]:
        c, t = _same(name % nd)
        check_op(lambda a: c(a, **kw), lambda a: t(a, **kw), [x])


def test_sweep_max_pool_nan_and_inf_windows():
    """max picks NaN over anything (PyTorch's `val > max || isnan(val)`), -Inf windows give -Inf."""
    x = np.array([[[NAN, 1, -INF, -INF, 2, INF, NAN, NAN]]], np.float32)
    for k in [2, 3]:
        check_op(lambda a: F.max_pool1d(a, k, 1), lambda a: TF.max_pool1d(a, k, 1), [x])
        check_op(lambda a: F.adaptive_max_pool1d(a, 3), lambda a: TF.adaptive_max_pool1d(a, 3), [x])


@pytest.mark.parametrize("kind", ["batch", "batch_eval", "instance", "group", "layer", "lrn"])
def test_sweep_norms(kind):
    r = rng(30)
    x = sprinkle(r, (3, 4, 5, 5), frac=0.05)
    x[2] = randn(r, 4, 5, 5)  # one clean sample: NaN stays inside the statistics it touches
    rm, rv = randn(r, 4), np.abs(randn(r, 4)) + 0.5
    w, b = randn(r, 4), randn(r, 4)
    fns = {
        "batch": (lambda m: (lambda a, ww, bb: m.batch_norm(a, None, None, ww, bb, training=True)), True),
        "batch_eval": (lambda m: (lambda a, ww, bb: m.batch_norm(
            a, (cnnc if m is F else torch).tensor(rm), (cnnc if m is F else torch).tensor(rv), ww, bb)), True),
        "instance": (lambda m: (lambda a, ww, bb: m.instance_norm(a, weight=ww, bias=bb)), True),
        "group": (lambda m: (lambda a, ww, bb: m.group_norm(a, 2, ww, bb)), True),
        "layer": (lambda m: (lambda a: m.layer_norm(a, (5, 5))), False),
        "lrn": (lambda m: (lambda a: m.local_response_norm(a, 3)), False),
    }
    make, affine = fns[kind]
    check_op(make(F), make(TF), [x, w, b] if affine else [x], rtol=1e-3, atol=1e-4)


INTERP = [
    ((2, 2, 7), dict(scale_factor=2, mode="nearest")),
    ((2, 2, 7), dict(size=5, mode="nearest-exact")),
    ((2, 2, 7), dict(scale_factor=1.5, mode="linear")),
    ((2, 2, 7), dict(size=12, mode="linear", align_corners=True)),
    ((2, 2, 5, 6), dict(scale_factor=2, mode="bilinear")),
    ((2, 2, 5, 6), dict(size=(3, 4), mode="bilinear", align_corners=True)),
    ((2, 2, 6, 7), dict(size=(3, 4), mode="bilinear", antialias=True)),
    ((2, 2, 6, 7), dict(size=(3, 5), mode="area")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(size=(2, 5, 3), mode="nearest")),
]


@pytest.mark.parametrize("shape,kw", INTERP)
def test_sweep_interpolate(shape, kw):
    x = sprinkle(rng(len(shape)), shape, frac=0.1)
    check_op(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x])


@pytest.mark.parametrize("align_corners", [False, True])
def test_sweep_bicubic_nan(align_corners):
    """bicubic (plain and antialias) with NaN, not Inf. Where a weight is exactly 0 in exact
    arithmetic (integer source positions, the filter's edge), PyTorch's is float rounding
    noise (+-1e-7, from its FMA-contracted coefficient polynomials), so an Inf there gives
    PyTorch +-Inf and cnnc NaN (Inf * 0): cnnc keeps the correctly rounded weights, and
    finite inputs agree to rounding."""
    x = sprinkle(rng(5), (2, 2, 5, 6), frac=0.1, values=(NAN,))
    for kw in [dict(scale_factor=2), dict(size=(7, 4)), dict(size=(3, 9)),
               dict(size=(4, 3), antialias=True), dict(size=(2, 3), antialias=True)]:
        check_op(lambda a: F.interpolate(a, mode="bicubic", align_corners=align_corners, **kw),
                 lambda a: TF.interpolate(a, mode="bicubic", align_corners=align_corners, **kw), [x])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_sweep_pad(mode):
    x = sprinkle(rng(40), (2, 3, 5, 6), frac=0.15)
    check_op(lambda a: F.pad(a, (2, 1, 1, 2), mode=mode), lambda a: TF.pad(a, (2, 1, 1, 2), mode=mode), [x])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_sweep_losses(reduction):
    r = rng(50)
    x, y = sprinkle(r, (4, 5), frac=0.15), sprinkle(r, (4, 5), frac=0.15)
    for name in ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]:
        c, t = _same(name)
        check_op(lambda a, b: c(a, b, reduction=reduction), lambda a, b: t(a, b, reduction=reduction), [x, y])
    check_op(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
             lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction), [x, y])
    p = np.array([[0.0, 1.0, 0.5, 0.3, 0.2]], np.float32)
    q = np.array([[0.0, 1.0, 1.0, INF, NAN]], np.float32)
    check_op(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
             lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction), [p, q])
    p[0, 3] = NAN  # a NaN probability is refused by both
    cmsg, tmsg = check_error(lambda: F.binary_cross_entropy(cnnc.tensor(p), cnnc.tensor(q)),
                             lambda: TF.binary_cross_entropy(torch.tensor(p), torch.tensor(q)))
    assert cmsg == tmsg
    logp = sprinkle(r, (4, 5), frac=0.15)
    check_op(lambda a, b: F.kl_div(a, b, reduction=reduction), lambda a, b: TF.kl_div(a, b, reduction=reduction),
             [logp, np.abs(y)])
    target = np.array([0, 3, 4, 1], np.int64)
    check_op(lambda a, tt: F.cross_entropy(a, tt, reduction=reduction),
             lambda a, tt: TF.cross_entropy(a, tt, reduction=reduction), [x, target])
    check_op(lambda a, tt: F.nll_loss(a, tt, reduction=reduction),
             lambda a, tt: TF.nll_loss(a, tt, reduction=reduction), [x, target])


def test_sweep_reductions_and_linear():
    r = rng(60)
    x = sprinkle(r, (3, 4, 5), frac=0.1)
    check_op(lambda a: a.sum(), lambda a: a.sum(), [x])
    check_op(lambda a: a.mean(), lambda a: a.mean(), [x])
    for dims in [0, 1, (0, 2)]:
        check_op(lambda a: a.sum(dims), lambda a: a.sum(dims), [x])
        check_op(lambda a: a.mean(dims), lambda a: a.mean(dims), [x])
    w, b = randn(r, 6, 5), randn(r, 6)
    check_op(F.linear, TF.linear, [x, w, b], rtol=1e-3, atol=1e-4)
