"""ModuleList, ModuleDict, shared children (nn.Sequential(r, r)), modules with several
results, and nn.init against PyTorch."""
import numpy as np
import pytest
import torch
import torch.nn as tnn

import cnnc
import cnnc.nn as nn
from helpers import assert_close, check_error, check_module, randn, rng


def test_module_list():
    cl = nn.ModuleList([nn.Linear(3, 4), nn.ReLU()])
    tl = tnn.ModuleList([tnn.Linear(3, 4), tnn.ReLU()])
    cl.append(nn.Tanh())
    tl.append(tnn.Tanh())
    cl.extend([nn.Linear(4, 2)])
    tl.extend([tnn.Linear(4, 2)])
    assert repr(cl) == repr(tl)
    assert len(cl) == len(tl) == 4
    assert list(cl.state_dict()) == list(tl.state_dict())
    assert type(cl[2]).__name__ == "Tanh"
    x = cnnc.tensor(np.ones((2, 3), np.float32))
    with pytest.raises(cnnc.Error, match=r'Module \[ModuleList\] is missing the required "forward" function'):
        cl(x)
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        tl(torch.ones(2, 3))


def test_module_dict():
    cd = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "act": nn.ReLU()})
    td = tnn.ModuleDict({"conv": tnn.Conv2d(1, 2, 3), "act": tnn.ReLU()})
    cd["act"] = nn.Sigmoid()
    td["act"] = tnn.Sigmoid()
    cd["pool"] = nn.MaxPool2d(2)
    td["pool"] = tnn.MaxPool2d(2)
    assert repr(cd) == repr(td)
    assert cd.keys() == list(td.keys())
    assert "pool" in cd and "x" not in cd
    assert list(cd.state_dict()) == list(td.state_dict())
    assert type(cd["act"]).__name__ == "Sigmoid"


def test_shared_child_in_sequential():
    torch.manual_seed(0)
    r = tnn.Linear(4, 4)
    ts = tnn.Sequential(r, tnn.Tanh(), r)
    c = nn.Linear(4, 4)
    cs = nn.Sequential(c, nn.Tanh(), c)
    assert list(cs.state_dict()) == list(ts.state_dict())
    assert [n for n, _ in cs.named_parameters()] == [n for n, _ in ts.named_parameters()]
    assert repr(cs) == repr(ts)
    check_module(cs, ts, randn(rng(0), 3, 4))


def test_nested_shared_and_append_again():
    cl = nn.Linear(2, 2)
    cs = nn.Sequential(cl)
    cs.append(cl)
    ts = tnn.Sequential(tnn.Linear(2, 2))
    ts.append(ts[0])
    assert list(cs.state_dict()) == list(ts.state_dict())
    del cl
    cs(cnnc.tensor(np.ones((1, 2), np.float32)))  # still alive through the Sequential


@pytest.mark.parametrize("ri", [False, True])
def test_maxpool_return_indices_through_forward_n(ri):
    x = randn(rng(1), 1, 2, 6, 6)
    cm, tm = nn.MaxPool2d(2, return_indices=ri), tnn.MaxPool2d(2, return_indices=ri)
    co, to = cm(cnnc.tensor(x)), tm(torch.tensor(x))
    if ri:
        assert isinstance(co, tuple) and len(co) == 2
        assert_close(co[0], to[0])
        assert_close(co[1], to[1])
    else:
        assert_close(co, to)


def test_forward_argument_count_errors():
    x = cnnc.tensor(np.ones((2, 3), np.float32))
    check_error(lambda: nn.ReLU()(x, x), lambda: tnn.ReLU()(torch.ones(2), torch.ones(2)),
                "forward() takes 2 positional arguments but 3 were given")


# --- nn.init -------------------------------------------------------------------------------

GAINS = [("linear", None), ("conv2d", None), ("conv_transpose3d", None), ("sigmoid", None),
         ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
         ("leaky_relu", 3), ("selu", None)]


@pytest.mark.parametrize("nl,param", GAINS)
def test_calculate_gain(nl, param):
    assert nn.init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)


def test_init_errors():
    check_error(lambda: nn.init.calculate_gain("swish"),
                lambda: torch.nn.init.calculate_gain("swish"), "Unsupported nonlinearity swish")
    check_error(lambda: nn.init.calculate_gain("leaky_relu", True),
                lambda: torch.nn.init.calculate_gain("leaky_relu", True), "not a valid number")
    for fn in ("xavier_uniform_", "kaiming_normal_"):
        check_error(lambda: getattr(nn.init, fn)(cnnc.zeros(5)),
                    lambda: getattr(torch.nn.init, fn)(torch.zeros(5)),
                    "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    check_error(lambda: nn.init.kaiming_uniform_(cnnc.zeros(4, 4), mode="fan_avg"),
                lambda: torch.nn.init.kaiming_uniform_(torch.zeros(4, 4), mode="fan_avg"),
                "Mode fan_avg not supported, please use one of ['fan_in', 'fan_out']")
    check_error(lambda: nn.init.uniform_(cnnc.zeros(3), 1, 0),
                lambda: torch.nn.init.uniform_(torch.zeros(3), 1, 0),
                "uniform_ expects to return a [from, to) range, but found from=1 > to=0")


SHAPE = (128, 64, 3, 3)


def _stats(t):
    a = t.numpy() if isinstance(t, cnnc.Tensor) else t.detach().numpy()
    return float(np.abs(a).max()), float(a.std()), float(a.mean())


@pytest.mark.parametrize("fn,kwargs", [
    ("uniform_", {"a": -0.3, "b": 0.7}), ("normal_", {"mean": 0.5, "std": 2.0}),
    ("xavier_uniform_", {"gain": 1.5}), ("xavier_normal_", {}),
    ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": 5 ** 0.5}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"a": 0.1, "nonlinearity": "leaky_relu"})])
def test_init_distributions(fn, kwargs):
    c = getattr(nn.init, fn)(cnnc.zeros(*SHAPE), **kwargs)
    t = getattr(torch.nn.init, fn)(torch.zeros(*SHAPE), **kwargs)
    (cmax, cstd, cmean), (tmax, tstd, tmean) = _stats(c), _stats(t)
    assert abs(cstd - tstd) < 0.02 * tstd
    assert abs(cmean - tmean) < 0.02 * tstd + 1e-3
    if "uniform" in fn:  # the same bounds
        assert abs(cmax - tmax) < 0.005 * tmax


@pytest.mark.parametrize("fn,val", [("constant_", 0.25), ("zeros_", 0.0), ("ones_", 1.0)])
def test_init_constants(fn, val):
    args = (val,) if fn == "constant_" else ()
    c = getattr(nn.init, fn)(cnnc.tensor(np.full((3, 4), 7, np.float32)), *args)
    assert (c.numpy() == val).all()


def test_init_on_parameters_keeps_them_leaves():
    m = nn.Conv2d(3, 8, 3)
    v0 = m.weight._version if hasattr(m.weight, "_version") else None
    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    nn.init.zeros_(m.bias)
    assert m.weight.requires_grad and m.weight.is_leaf
    assert (m.bias.numpy() == 0).all()
    if v0 is not None:
        assert m.weight._version > v0
