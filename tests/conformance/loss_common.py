"""Shared by the loss tests (test_loss*.py): a check_op that also records the worst
normwise relative error (max |cnnc - torch| / max |torch|, NaN/inf positions
excluded after they were found equal) per loss and per kind (value, grad).

With $CNNC_LOSS_REPORT set to a path, the table is written there when the test
process exits (the figures quoted in the loss work's notes)."""
import atexit
import os

import numpy as np
import torch

import cnnc
from helpers import check_op

WORST = {}  # (loss, "value" | "grad") -> worst normwise relative error


def _normwise(c, t):
    a, b = np.asarray(c, np.float64), np.asarray(t, np.float64)
    finite = np.isfinite(b)
    if not finite.any():
        return 0.0
    scale = np.abs(b[finite]).max()
    diff = np.abs(a[finite] - b[finite]).max()
    return 0.0 if diff == 0 else float(diff / scale) if scale > 0 else float("inf")


def record(loss, kind, c, t):
    if c is None or t is None:
        return
    c = c.numpy() if isinstance(c, cnnc.Tensor) else c
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else t
    if np.size(t) == 0:
        return
    key = (loss, kind)
    WORST[key] = max(WORST.get(key, 0.0), _normwise(c, t))


def check_loss(loss, cfn, tfn, inputs, requires_grad=True, rtol=1e-4, atol=1e-5, **kw):
    """helpers.check_op, then records the value and gradient errors under `loss`."""
    res = check_op(cfn, tfn, inputs, requires_grad, rtol, atol, **kw)
    outs_c = res.cnnc_out if isinstance(res.cnnc_out, (list, tuple)) else [res.cnnc_out]
    outs_t = res.torch_out if isinstance(res.torch_out, (list, tuple)) else [res.torch_out]
    for c, t in zip(outs_c, outs_t):
        record(loss, "value", c, t)
    for c, t in zip(res.cnnc_inputs, res.torch_inputs):
        if isinstance(t, torch.Tensor):
            record(loss, "grad", c.grad, t.grad)
    return res


def _write_report():
    path = os.environ.get("CNNC_LOSS_REPORT")
    if not path or not WORST:
        return
    with open(path, "w") as f:
        for (loss, kind), v in sorted(WORST.items()):
            f.write("%-36s %-6s %.3g\n" % (loss, kind, v))


atexit.register(_write_report)


def both(fn_c, fn_t, *arrays, **kw):
    """Calls fn_c on cnnc tensors and fn_t on torch tensors made from the same arrays
    (None passes through); keyword arrays too."""
    def conv(mod, v):
        if v is None or not isinstance(v, np.ndarray):
            return v
        return cnnc.tensor(v) if mod is cnnc else torch.tensor(v)
    return (lambda: fn_c(*[conv(cnnc, a) for a in arrays], **{k: conv(cnnc, v) for k, v in kw.items()}),
            lambda: fn_t(*[conv(torch, a) for a in arrays], **{k: conv(torch, v) for k, v in kw.items()}))
