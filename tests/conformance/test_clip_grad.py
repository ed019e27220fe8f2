"""nn.utils.clip_grad_norm_ / clip_grad_value_ against PyTorch 1.13: the total
norm and every clipped gradient bit for bit, every norm type, parameters without
gradients, non-finite gradients and error_if_nonfinite."""
import numpy as np
import pytest
import torch
from torch.nn.utils import clip_grad_norm_ as t_clip_norm
from torch.nn.utils import clip_grad_value_ as t_clip_value

import cnnc
from cnnc.nn.utils import clip_grad_norm_, clip_grad_value_
from helpers import check_error, rng, seeds

NORMS = [2.0, 1.0, 3.0, 0.5, 2.5, float("inf"), float("-inf"), 0.0, -1.0, 4, "inf"]
SHAPES = [(3, 4), (17,), (), (5, 1, 2), (0,), (1000,), (4099,), (8,), (13,), (7,)]


def params(r, shapes, scale=1.0, skip=(), special=None):
    tp, cp = [], []
    for i, s in enumerate(shapes):
        p = np.asarray(r.standard_normal(s), np.float32)
        t, c = torch.tensor(p, requires_grad=True), cnnc.tensor(p, requires_grad=True)
        if i not in skip:
            g = np.asarray(r.standard_normal(s) * scale, np.float32)
            if special is not None and g.size:
                g.reshape(-1)[i % g.size] = special
            t.grad, c.grad = torch.tensor(g), cnnc.tensor(g)
        tp.append(t)
        cp.append(c)
    return tp, cp


def assert_grads_equal(tp, cp):
    for i, (t, c) in enumerate(zip(tp, cp)):
        assert (t.grad is None) == (c.grad is None)
        if t.grad is not None:
            np.testing.assert_array_equal(c.grad.numpy(), t.grad.numpy(), err_msg="grad %d" % i)


@pytest.mark.parametrize("norm_type", NORMS)
@seeds(6)
def test_clip_grad_norm(norm_type, seed):
    r = rng(seed)
    shapes = [SHAPES[j] for j in r.permutation(len(SHAPES))[:r.randint(1, len(SHAPES) + 1)]]
    scale = float(r.choice([1e-4, 1.0, 100.0]))
    max_norm = float(r.choice([0.1, 1.0, 5.0, 1e6, 0.0]))
    skip = {int(j) for j in r.randint(0, len(shapes), size=r.randint(0, 2))}
    tp, cp = params(r, shapes, scale, skip)
    if float(norm_type) == float("inf") and any(t.grad is not None and t.numel() == 0 for t in tp):
        check_error(lambda: clip_grad_norm_(cp, max_norm, norm_type=norm_type),
                    lambda: t_clip_norm(tp, max_norm, norm_type=norm_type),
                    match="max(): Expected reduction dim to be specified for input.numel() == 0")
        return
    tn = t_clip_norm(tp, max_norm, norm_type=norm_type)
    cn = clip_grad_norm_(cp, max_norm, norm_type=norm_type)
    assert isinstance(cn, cnnc.Tensor) and cn.shape == () and cn.dtype == "float32"
    np.testing.assert_array_equal(cn.numpy(), tn.numpy())
    assert_grads_equal(tp, cp)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 8, 9, 15, 16, 17, 31, 100, 1027, 40000])
def test_clip_grad_norm_sizes(n):
    """The p = 2 reduction's lanes and tails (sizes around multiples of 8 and 4)."""
    r = rng(n)
    tp, cp = params(r, [(n,)] * 3 + [(n + 3,)], scale=3.0)
    np.testing.assert_array_equal(clip_grad_norm_(cp, 0.5).numpy(), t_clip_norm(tp, 0.5).numpy())
    assert_grads_equal(tp, cp)


def test_single_tensor_and_no_grads():
    r = rng(0)
    tp, cp = params(r, [(5,)])
    np.testing.assert_array_equal(clip_grad_norm_(cp[0], 1.0).numpy(),
                                  t_clip_norm(tp[0], 1.0).numpy())
    assert_grads_equal(tp, cp)
    tp, cp = params(r, [(5,), (2,)], skip={0, 1})
    t0, c0 = t_clip_norm(tp, 1.0), clip_grad_norm_(cp, 1.0)
    assert c0.shape == () and c0.item() == t0.item() == 0.0
    assert clip_grad_norm_([], 1.0).item() == 0.0


@pytest.mark.parametrize("special", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
def test_nonfinite(special, norm_type):
    r = rng(1)
    tp, cp = params(r, [(6,), (9,)], special=special)
    check_error(lambda: clip_grad_norm_(cp, 1.0, norm_type, error_if_nonfinite=True),
                lambda: t_clip_norm(tp, 1.0, norm_type, error_if_nonfinite=True),
                match="The total norm of order %s for gradients from `parameters` is non-finite, "
                      "so it cannot be clipped. To disable this error and scale the gradients "
                      "by the non-finite norm anyway, set `error_if_nonfinite=False`"
                      % float(norm_type))
    assert_grads_equal(tp, cp)  # untouched
    tn, cn = t_clip_norm(tp, 1.0, norm_type), clip_grad_norm_(cp, 1.0, norm_type)
    np.testing.assert_array_equal(cn.numpy(), tn.numpy())
    assert_grads_equal(tp, cp)


@pytest.mark.parametrize("clip", [0.5, 1.0, 0.0, 1e-3, 100.0, -0.5, float("inf")])
@seeds(3)
def test_clip_grad_value(clip, seed):
    r = rng(seed)
    tp, cp = params(r, SHAPES, scale=2.0, skip={1}, special=float("nan") if seed == 2 else None)
    t_clip_value(tp, clip)
    clip_grad_value_(cp, clip)
    assert_grads_equal(tp, cp)


def test_version_counters():
    """clip_grad_norm_ changes the grads through detach() (version bumped);
    clip_grad_value_ through .data (not)."""
    r = rng(2)
    tp, cp = params(r, [(4,)], scale=10.0)
    vt, vc = tp[0].grad._version, cp[0].grad._version
    t_clip_norm(tp, 0.1)
    clip_grad_norm_(cp, 0.1)
    assert (tp[0].grad._version > vt) == (cp[0].grad._version > vc) == True  # noqa: E712
    vt, vc = tp[0].grad._version, cp[0].grad._version
    t_clip_value(tp, 0.01)
    clip_grad_value_(cp, 0.01)
    assert tp[0].grad._version == vt and cp[0].grad._version == vc


def test_argument_errors():
    with pytest.raises(TypeError):
        clip_grad_norm_([1.0], 1.0)
    with pytest.raises(TypeError):
        clip_grad_value_([None], 1.0)
