"""NaN and Inf against PyTorch 1.13, over every op family: forward and input gradient.

Where PyTorch is inconsistent with itself, the comment at the case says so and which
side cnnc takes. Values are compared with NaNs in the same places and Infs equal."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnc
import cnnc.nn.functional as F
from helpers import check_op, randn, rng

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
