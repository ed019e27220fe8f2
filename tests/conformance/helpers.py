"""Side-by-side cnnc vs PyTorch checks, reused by every op family.

    check_op(cnnc_fn, torch_fn, inputs, requires_grad=True, rtol=1e-4, atol=1e-5,
             grad_output=None, seed=0, grad_rtol=None, grad_atol=None) -> OpResult
    check_module(cnnc_module, torch_module, input, requires_grad=True, rtol=1e-4,
                 atol=1e-5, grad_output=None, seed=0, grad_rtol=None, grad_atol=None,
                 load_state=True) -> OpResult
    check_error(cnnc_callable, torch_callable, match=None, cnnc_match=None,
                torch_exceptions=TORCH_ERRORS) -> (cnnc_message, torch_message)
    assert_close(cnnc_value, torch_value, rtol=1e-4, atol=1e-5, what="output")
    rng(seed), randn(r, *shape), rand(r, lo, hi, *shape), nonzero(r, *shape),
    random_shape(r, ndim, lo=1, hi=5), broadcastable(r, shape), seeds(n)

Inputs are numpy arrays (each becomes a fresh cnnc tensor and a fresh torch tensor
with the same values; float arrays may require grad) or anything else (Python
scalars, None, tuples...), which is passed unchanged to both functions.
"""
import numpy as np
import pytest
import torch

import cnnc

TORCH_ERRORS = (RuntimeError, ValueError, IndexError, TypeError)


# --- reproducible randomness -------------------------------------------------------

def seeds(n):
    """@seeds(8) == @pytest.mark.parametrize("seed", range(8))."""
    return pytest.mark.parametrize("seed", range(n))


def rng(seed):
    return np.random.RandomState(seed)


def randn(r, *shape):
    return np.asarray(r.standard_normal(shape), np.float32)


def rand(r, lo, hi, *shape):
    return np.asarray(r.uniform(lo, hi, shape), np.float32)


def nonzero(r, *shape):
    """Values with |x| in [0.5, 2): safe denominators."""
    return np.asarray(r.uniform(0.5, 2.0, shape) * r.choice([-1.0, 1.0], shape), np.float32)


def random_shape(r, ndim, lo=1, hi=5):
    return tuple(int(v) for v in r.randint(lo, hi + 1, size=ndim))


def broadcastable(r, shape):
    """A random shape that broadcasts against `shape` (fewer dims, some 1s)."""
    keep = r.randint(0, len(shape) + 1)
    out = list(shape[len(shape) - keep:])
    for i in range(len(out)):
        if r.rand() < 0.4:
            out[i] = 1
    return tuple(out)


# --- conversions ---------------------------------------------------------------------

def torch_dtype_name(t):
    return str(t.dtype).replace("torch.", "")


def _to_numpy(v):
    if isinstance(v, cnnc.Tensor):
        return v.numpy()
    if isinstance(v, torch.Tensor):
        return v.detach().numpy()
    return np.asarray(v)


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def assert_close(cn, th, rtol=1e-4, atol=1e-5, what="output"):
    """Same kind, shape, dtype and values (NaNs in the same places)."""
    if th is None or cn is None:
        assert cn is None and th is None, "%s: cnnc %r, torch %r" % (what, cn, th)
        return
    if isinstance(th, torch.Tensor):
        assert isinstance(cn, cnnc.Tensor), "%s: cnnc returned %r" % (what, type(cn))
        assert cn.shape == tuple(th.shape), "%s shape: cnnc %s, torch %s" % (
            what, cn.shape, tuple(th.shape))
        assert cn.dtype == torch_dtype_name(th), "%s dtype: cnnc %s, torch %s" % (
            what, cn.dtype, th.dtype)
    a, b = _to_numpy(cn), _to_numpy(th)
    assert a.shape == b.shape, "%s shape: cnnc %s, torch %s" % (what, a.shape, b.shape)
    if a.dtype.kind in "iub":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


class OpResult:
    """What a check saw, for further assertions by the test."""

    def __init__(self, cnnc_out, torch_out, cnnc_inputs, torch_inputs):
        self.cnnc_out, self.torch_out = cnnc_out, torch_out
        self.cnnc_inputs, self.torch_inputs = cnnc_inputs, torch_inputs


def _make_inputs(inputs, requires_grad):
    if isinstance(requires_grad, bool):
        requires_grad = [requires_grad] * len(inputs)
    assert len(requires_grad) == len(inputs)
    cn, th = [], []
    for x, rg in zip(inputs, requires_grad):
        if isinstance(x, np.generic):  # a numpy scalar is a 0-d tensor input
            x = np.asarray(x)
        if isinstance(x, np.ndarray):
            rg = bool(rg) and x.dtype.kind == "f"
            x = x.astype(np.float32) if x.dtype.kind == "f" else x.astype(np.int64)
            cn.append(cnnc.tensor(x, requires_grad=rg))
            th.append(torch.tensor(x, requires_grad=rg))
        else:
            cn.append(x)
            th.append(x)
    return cn, th


def _random_grads(outs, seed):
    r = rng(10007 + seed)
    return [randn(r, *tuple(o.shape)) if o.dtype == torch.float32 else None for o in outs]


def _backward_both(cn_outs, th_outs, grad_output, seed):
    """Backpropagates the same grad_output (random if None) through both."""
    if grad_output is None:
        grads = _random_grads(th_outs, seed)
    else:
        grads = [None if g is None else np.asarray(g, np.float32) for g in _flat(grad_output)]
    pairs = [(c, t, g) for c, t, g in zip(cn_outs, th_outs, grads)
             if g is not None and t.requires_grad]
    assert all(c.requires_grad for c, _, _ in pairs), "cnnc output does not require grad"
    if not pairs:
        return
    if len(pairs) == 1:
        c, t, g = pairs[0]
        c.backward(cnnc.tensor(g))
        t.backward(torch.tensor(g))
        return
    torch.autograd.backward([t for _, t, _ in pairs], [torch.tensor(g) for _, _, g in pairs])
    total = None
    for c, _, g in pairs:
        term = (c * cnnc.tensor(g)).sum()
        total = term if total is None else total + term
    total.backward()


# --- the checks ------------------------------------------------------------------------

def check_op(cnnc_fn, torch_fn, inputs, requires_grad=True, rtol=1e-4, atol=1e-5,
             grad_output=None, seed=0, grad_rtol=None, grad_atol=None):
    """Runs cnnc_fn(*inputs) and torch_fn(*inputs) on equal fresh tensors, compares
    every output (shape, dtype, values, requires_grad), backpropagates the same
    grad_output (random normal by default) and compares every input gradient."""
    cn_in, th_in = _make_inputs(inputs, requires_grad)
    th_out = torch_fn(*th_in)
    cn_out = cnnc_fn(*cn_in)
    cn_outs, th_outs = _flat(cn_out), _flat(th_out)
    assert len(cn_outs) == len(th_outs), "number of outputs: cnnc %d, torch %d" % (
        len(cn_outs), len(th_outs))
    for i, (c, t) in enumerate(zip(cn_outs, th_outs)):
        assert_close(c, t, rtol, atol, "output %d" % i)
        assert c.requires_grad == t.requires_grad, "output %d requires_grad: cnnc %s, torch %s" \
            % (i, c.requires_grad, t.requires_grad)
    _backward_both(cn_outs, th_outs, grad_output, seed)
    gr = rtol if grad_rtol is None else grad_rtol
    ga = atol if grad_atol is None else grad_atol
    for i, (c, t) in enumerate(zip(cn_in, th_in)):
        if isinstance(t, torch.Tensor):
            assert_close(c.grad, t.grad, gr, ga, "grad of input %d" % i)
    return OpResult(cn_out, th_out, cn_in, th_in)


def copy_state(cnnc_module, torch_module):
    """torch's state_dict (as numpy) loaded into the cnnc module."""
    cnnc_module.load_state_dict(
        {k: v.detach().numpy().copy() for k, v in torch_module.state_dict().items()})


def assert_same_state(cnnc_module, torch_module, rtol=1e-4, atol=1e-5, what="state_dict"):
    """state_dict keys, order, shapes, dtypes and values."""
    cs, ts = cnnc_module.state_dict(), torch_module.state_dict()
    assert list(cs.keys()) == list(ts.keys()), "%s keys: cnnc %s, torch %s" % (
        what, list(cs.keys()), list(ts.keys()))
    for k in ts:
        assert_close(cs[k], ts[k].detach().numpy(), rtol, atol, "%s[%r]" % (what, k))
        assert cs[k].dtype == ts[k].detach().numpy().dtype, "%s[%r] dtype" % (what, k)


def check_module(cnnc_module, torch_module, input, requires_grad=True, rtol=1e-4, atol=1e-5,
                 grad_output=None, seed=0, grad_rtol=None, grad_atol=None, load_state=True):
    """Loads torch's state_dict into cnnc (load_state), then compares: the state_dict,
    train/eval flag, forward, input grad, every parameter's grad by name, and the
    buffers and state_dict after the step."""
    if load_state:
        copy_state(cnnc_module, torch_module)
    assert_same_state(cnnc_module, torch_module, 0, 0, "state_dict before forward")
    assert cnnc_module.training == torch_module.training
    res = check_op(cnnc_module, torch_module, [input], requires_grad, rtol, atol, grad_output,
                   seed, grad_rtol, grad_atol)
    gr = rtol if grad_rtol is None else grad_rtol
    ga = atol if grad_atol is None else grad_atol
    cp = list(cnnc_module.named_parameters())
    tp = list(torch_module.named_parameters())
    assert [n for n, _ in cp] == [n for n, _ in tp], "parameter names"
    for (name, c), (_, t) in zip(cp, tp):
        assert c.requires_grad == t.requires_grad, "%s.requires_grad" % name
        assert_close(c.grad, t.grad, gr, ga, "grad of %s" % name)
    cb = list(cnnc_module.named_buffers())
    tb = list(torch_module.named_buffers())
    assert [n for n, _ in cb] == [n for n, _ in tb], "buffer names"
    for (name, c), (_, t) in zip(cb, tb):
        assert_close(c, t, rtol, atol, "buffer %s after the step" % name)
    assert_same_state(cnnc_module, torch_module, rtol, atol, "state_dict after the step")
    return res


def check_error(cnnc_callable, torch_callable, match=None, cnnc_match=None,
                torch_exceptions=TORCH_ERRORS):
    """Both must raise: cnnc a cnnc.Error with a non-empty message, torch one of
    torch_exceptions. `match` (a string or list of strings) must appear in both
    messages, `cnnc_match` in cnnc's only. Returns (cnnc_message, torch_message)."""
    with pytest.raises(torch_exceptions) as th:
        torch_callable()
    with pytest.raises(cnnc.Error) as cn:
        cnnc_callable()
    cm, tm = str(cn.value), str(th.value)
    assert cm.strip(), "cnnc raised an empty message"
    for frag in ([match] if isinstance(match, str) else (match or [])):
        assert frag in tm, "torch message %r lacks %r" % (tm, frag)
        assert frag in cm, "cnnc message %r lacks %r (torch: %r)" % (cm, frag, tm)
    for frag in ([cnnc_match] if isinstance(cnnc_match, str) else (cnnc_match or [])):
        assert frag in cm, "cnnc message %r lacks %r" % (cm, frag)
    return cm, tm
