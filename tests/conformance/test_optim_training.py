"""A small CNN (conv, batchnorm, relu, max pool, linear; a squared-error loss
from the tensor ops) trained in PyTorch and in cnnc from the same weights on the
same batches, with each optimizer configuration and a scheduler: every weight
and running statistic after every step. The optimizers themselves are exact
(test_optim.py); here the gradients come from each library's own backward, so
the weights drift apart by float rounding only."""
import numpy as np
import pytest
import torch
import torch.nn as tnn

import cnnc
import cnnc.nn as nn
from helpers import rng

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CONFIGS = {
    "sgd_nesterov_wd": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
                        lambda M, o: M.StepLR(o, 7, gamma=0.5)),
    "adam_amsgrad": ("Adam", dict(lr=3e-3, amsgrad=True),
                     lambda M, o: M.OneCycleLR(o, 1e-2, total_steps=40)),
    "adamw": ("AdamW", dict(lr=3e-3, weight_decay=0.05),
              lambda M, o: M.CosineAnnealingLR(o, 40, eta_min=1e-4)),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.9),
                                  lambda M, o: M.LinearLR(o, 0.2, total_iters=10)),
    "adagrad": ("Adagrad", dict(lr=0.05, lr_decay=1e-3),
                lambda M, o: M.ExponentialLR(o, 0.97)),
}


def models():
    """No conv bias before the batchnorm: its true gradient is 0, so what each
    library computes is rounding noise, which Adam-like optimizers normalize
    into full-size steps of random sign."""
    tm = tnn.Sequential(tnn.Conv2d(3, 8, 3, padding=1, bias=False), tnn.BatchNorm2d(8), tnn.ReLU(),
                        tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(8 * 4 * 4, 5))
    cm = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                       nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    cm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    return tm, cm


def drift(tm, cm):
    """(max abs difference, max relative difference where |torch| >= 1e-2, and
    whether allclose(rtol=1e-4, atol=1e-5) holds) over every state_dict entry."""
    worst_abs = worst_rel = 0.0
    close = True
    cs = cm.state_dict()
    for k, v in tm.state_dict().items():
        t = v.detach().numpy().astype(np.float64)
        c = np.asarray(cs[k], np.float64)
        d = np.abs(t - c)
        if not d.size:
            continue
        worst_abs = max(worst_abs, float(d.max()))
        big = np.abs(t) >= 1e-2
        if big.any():
            worst_rel = max(worst_rel, float((d[big] / np.abs(t[big])).max()))
        close = close and bool(np.all(d <= 1e-4 * np.abs(t) + 1e-5))
    return worst_abs, worst_rel, close


def train(name, steps=40):
    kind, kw, sched = CONFIGS[name]
    r = rng(11)
    tm, cm = models()
    ot = getattr(torch.optim, kind)(tm.parameters(), **kw)
    oc = getattr(cnnc.optim, kind)(list(cm.parameters()), **kw)
    st, sc = sched(torch.optim.lr_scheduler, ot), sched(cnnc.optim.lr_scheduler, oc)
    history = []
    for step in range(steps):
        x = np.asarray(r.standard_normal((4, 3, 8, 8)), np.float32)
        y = np.asarray(r.standard_normal((4, 5)), np.float32)
        ot.zero_grad()
        oc.zero_grad()
        dt = tm(torch.tensor(x)) - torch.tensor(y)
        lt = (dt * dt).mean()
        dc = cm(cnnc.tensor(x)) - cnnc.tensor(y)
        lc = (dc * dc).mean()
        lt.backward()
        lc.backward()
        ot.step()
        oc.step()
        st.step()
        sc.step()
        assert sc.get_last_lr() == st.get_last_lr()
        history.append((abs(lc.item() - lt.item()) / abs(lt.item()),) + drift(tm, cm))
    return history


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_training_matches_torch(name):
    history = train(name)
    for step, (loss_rel, abs_, rel, close) in enumerate(history[:10]):
        assert loss_rel < 1e-4 and close, "step %d: loss rel %.3g, weights abs %.3g rel %.3g" % (
            step, loss_rel, abs_, rel)
    loss_rel, abs_, rel, close = history[-1]
    assert loss_rel < 1e-3 and rel < 1e-2, "step 40: loss rel %.3g, weights rel %.3g" % (
        loss_rel, rel)
