"""Shared pieces of the norm family's conformance tests (no tests of its own)."""
import numpy as np
import torch

import cnnc
from helpers import assert_close, randn, rng


def randomize_affine(tm, r):
    """Random weight/bias (and running stats) in the torch module, so that affine and
    eval mode are exercised with non-trivial values; check_module then copies them."""
    with torch.no_grad():
        for name, p in tm.named_parameters():
            p.copy_(torch.tensor(randn(r, *p.shape)))
        if getattr(tm, "running_mean", None) is not None:
            tm.running_mean.copy_(torch.tensor(randn(r, *tm.running_mean.shape)))
            tm.running_var.copy_(torch.tensor(np.asarray(r.uniform(0.5, 2.0, tm.running_var.shape),
                                                         np.float32)))


def step(cm, tm, x, seed, rtol=1e-4, atol=1e-5, grad_atol=None, what=""):
    """One forward + backward of both modules on x with the same upstream gradient;
    compares the output, the input grad, every parameter grad and every buffer,
    then drops the grads."""
    ga = atol if grad_atol is None else grad_atol
    assert cm.training == tm.training
    xc = cnnc.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yt = tm(xt)
    yc = cm(xc)
    assert_close(yc, yt, rtol, atol, "output " + what)
    g = randn(rng(10007 + seed), *yt.shape)
    yt.backward(torch.tensor(g))
    yc.backward(cnnc.tensor(g))
    assert_close(xc.grad, xt.grad, rtol, ga, "input grad " + what)
    cp, tp = list(cm.named_parameters()), list(tm.named_parameters())
    assert [n for n, _ in cp] == [n for n, _ in tp]
    for (n, c), (_, t) in zip(cp, tp):
        assert_close(c.grad, t.grad, rtol, ga, "grad of %s %s" % (n, what))
    cb, tb = list(cm.named_buffers()), list(tm.named_buffers())
    assert [n for n, _ in cb] == [n for n, _ in tb]
    for (n, c), (_, t) in zip(cb, tb):
        assert_close(c, t, rtol, atol, "buffer %s %s" % (n, what))
    cm.zero_grad(set_to_none=True)
    tm.zero_grad(set_to_none=True)
    return yc, yt


def float64_reference_check(cnnc_out, torch_out, ref, factor=2.0, floor=2e-6):
    """cnnc is at least about as close to the float64 reference as torch."""
    ec = float(np.max(np.abs(cnnc_out.astype(np.float64) - ref)))
    et = float(np.max(np.abs(torch_out.astype(np.float64) - ref)))
    assert ec <= factor * et + floor, "cnnc error %.3g vs torch error %.3g" % (ec, et)
    return ec, et
