"""Issue 11's parity test: a small CNN with conv, batch norm, ReLU, max pool,
upsample, a residual add, dropout (p=0, i.e. off), linear and cross-entropy, trained
in PyTorch and in cnnc from the same initial weights on the same batches for 100
steps, once per optimizer configuration, each with a scheduler. At every step the
loss, every weight and every running statistic agree (rtol 1e-4 for the first 10
steps, with atol 1e-5 for values near 0); afterwards the gradients are each
library's own, so float rounding makes them drift apart slowly. The drift at step
100 is printed (run with -s) and bounded (loss 1e-4, weights 1e-3 relative; measured
on AVX2: at most 2.4e-7 and 9.4e-5).

test_optim_training.py covers Adagrad and a squared-error loss on a plainer model."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as nn
import cnnc.nn.functional as F
from helpers import rng

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

STEPS = 100

CONFIGS = {
    "sgd_momentum_nesterov_wd": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True,
                                             weight_decay=5e-4),
                                 lambda M, o: M.StepLR(o, 30, gamma=0.5)),
    "adam_amsgrad": ("Adam", dict(lr=2e-3, amsgrad=True),
                     lambda M, o: M.OneCycleLR(o, 5e-3, total_steps=STEPS)),
    "adamw": ("AdamW", dict(lr=2e-3, weight_decay=0.05),
              lambda M, o: M.CosineAnnealingLR(o, STEPS, eta_min=1e-4)),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=5e-4, centered=True, momentum=0.9),
                                  lambda M, o: M.LinearLR(o, 0.2, total_iters=20)),
}


class Net:
    """stem = conv-bn-relu; out = relu(stem + conv-bn(stem)); max pool 2, upsample x2
    (bilinear), max pool 4, dropout(p=0), flatten, linear. The same code builds the
    PyTorch and the cnnc network from the library's nn module."""

    def __init__(self, lib):
        self.stem = lib.Sequential(lib.Conv2d(3, 8, 3, padding=1, bias=False),
                                   lib.BatchNorm2d(8), lib.ReLU())
        self.block = lib.Sequential(lib.Conv2d(8, 8, 3, padding=1, bias=False),
                                    lib.BatchNorm2d(8))
        self.head = lib.Sequential(lib.ReLU(), lib.MaxPool2d(2),
                                   lib.Upsample(scale_factor=2, mode="bilinear",
                                                align_corners=False),
                                   lib.MaxPool2d(4), lib.Dropout(p=0.0), lib.Flatten(),
                                   lib.Linear(8 * 2 * 2, 5))
        self.parts = {"stem": self.stem, "block": self.block, "head": self.head}

    def __call__(self, x):
        h = self.stem(x)
        return self.head(h + self.block(h))

    def parameters(self):
        return [p for m in self.parts.values() for p in m.parameters()]

    def state(self):
        """{name: float64 array} of every parameter and buffer."""
        out = {}
        for k, m in self.parts.items():
            for n, v in m.state_dict().items():
                v = v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
                out[k + "." + n] = v.astype(np.float64)
        return out


def networks():
    tm, cm = Net(tnn), Net(nn)
    for k in tm.parts:
        cm.parts[k].load_state_dict({n: v.detach().numpy().copy()
                                     for n, v in tm.parts[k].state_dict().items()})
    return tm, cm


def drift(ts, cs):
    """(max abs difference, max relative difference where |torch| >= 1e-2, whether
    every entry is within rtol 1e-4 / atol 1e-5, the worst entry's name)."""
    worst_abs = worst_rel = 0.0
    worst = ""
    close = True
    for k, t in ts.items():
        d = np.abs(t - cs[k])
        if not d.size:
            continue
        worst_abs = max(worst_abs, float(d.max()))
        big = np.abs(t) >= 1e-2
        if big.any():
            rel = float((d[big] / np.abs(t[big])).max())
            if rel > worst_rel:
                worst_rel, worst = rel, k
        close = close and bool(np.all(d <= 1e-4 * np.abs(t) + 1e-5))
    return worst_abs, worst_rel, close, worst


def train(name):
    kind, kw, sched = CONFIGS[name]
    r = rng(2024)
    torch.manual_seed(0)
    tm, cm = networks()
    ot = getattr(torch.optim, kind)(tm.parameters(), **kw)
    oc = getattr(cnnc.optim, kind)(cm.parameters(), **kw)
    st, sc = sched(torch.optim.lr_scheduler, ot), sched(cnnc.optim.lr_scheduler, oc)
    history = []
    for step in range(STEPS):
        x = np.asarray(r.standard_normal((8, 3, 8, 8)), np.float32)
        y = np.asarray(r.randint(0, 5, size=8), np.int64)
        ot.zero_grad()
        oc.zero_grad()
        lt = TF.cross_entropy(tm(torch.tensor(x)), torch.tensor(y))
        lc = F.cross_entropy(cm(cnnc.tensor(x)), cnnc.tensor(y))
        lt.backward()
        lc.backward()
        ot.step()
        oc.step()
        st.step()
        sc.step()
        assert sc.get_last_lr() == st.get_last_lr(), "step %d: learning rates differ" % step
        loss_rel = abs(lc.item() - lt.item()) / max(abs(lt.item()), 1e-12)
        history.append((loss_rel,) + drift(tm.state(), cm.state()))
    return history


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_training_parity(name):
    history = train(name)
    for step, (loss_rel, abs_, rel, close, worst) in enumerate(history[:10]):
        assert loss_rel < 1e-4 and close, (
            "step %d: loss rel %.3g, weights abs %.3g rel %.3g (%s)" % (step, loss_rel, abs_,
                                                                       rel, worst))
    loss_rel, abs_, rel, close, worst = history[-1]
    worst_loss = max(h[0] for h in history)
    print("\n%s: at step %d loss rel %.3g (worst over the run %.3g), weights/running stats "
          "max abs %.3g, max rel %.3g (%s)" % (name, STEPS, loss_rel, worst_loss, abs_, rel,
                                                worst))
    assert loss_rel < 1e-4 and rel < 1e-3, "step %d: loss rel %.3g, weights rel %.3g (%s)" % (
        STEPS, loss_rel, rel, worst)
