"""nn.Linear / ReLU / Flatten / Identity / Sequential against torch.nn."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as tnn

import cnnc
import cnnc.nn as nn
from helpers import (assert_close, assert_same_state, check_error, check_module, check_op,
                     copy_state, randn, rng, seeds)


def nested(lib):
    m = lib.nn
    return m.Sequential(m.Linear(4, 5), m.ReLU(), m.Sequential(m.Linear(5, 3), m.Flatten()))


# --- forward/backward conformance ------------------------------------------------------------

@seeds(6)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_module(seed, bias):
    r = rng(seed)
    fin, fout = int(r.randint(1, 10)), int(r.randint(1, 10))
    batch = [(), (3,), (2, 4), (0,)][seed % 4]
    check_module(nn.Linear(fin, fout, bias=bias), tnn.Linear(fin, fout, bias=bias),
                 randn(r, *batch, fin), seed=seed)


def test_linear_positional_and_keywords():
    for args, kw in [((3, 4), {}), ((3, 4, False), {}), ((), dict(in_features=3, out_features=4)),
                     ((3,), dict(out_features=4, bias=False))]:
        c, t = nn.Linear(*args, **kw), tnn.Linear(*args, **kw)
        assert repr(c) == repr(t)
        check_module(c, t, randn(rng(0), 2, 3))


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
@pytest.mark.parametrize("fin,fout", [(0, 3), (3, 0)])
def test_linear_zero_features(fin, fout):
    check_module(nn.Linear(fin, fout), tnn.Linear(fin, fout), randn(rng(1), 2, fin))


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("shape", [(), (0,), (3, 4), (2, 3, 4, 5)])
def test_relu_module(inplace, shape):
    x = randn(rng(2), *shape)
    if inplace:  # an in-place ReLU needs a non-leaf input
        c, t = nn.ReLU(inplace=True), tnn.ReLU(inplace=True)
        res = check_op(lambda a: c(a * 1), lambda a: t(a * 1), [x])
        assert res.cnnc_out.grad_fn == "ReluBackward0"
        check_module(nn.Sequential(nn.Linear(1, 2), nn.ReLU(True)),
                     tnn.Sequential(tnn.Linear(1, 2), tnn.ReLU(True)), x.reshape(-1, 1))
        check_error(lambda: c(cnnc.tensor(x, requires_grad=True)),
                    lambda: t(torch.tensor(x, requires_grad=True)), "leaf")
    else:
        check_module(nn.ReLU(), tnn.ReLU(), x)


def test_inplace_relu_after_flatten():
    """ReLU(inplace=True) on Flatten's output (a view of a non-leaf), as in many CNN heads."""
    def build(lib):
        m = lib.nn
        return m.Sequential(m.Linear(4, 6), m.Flatten(0, -1), m.ReLU(inplace=True), m.Linear(12, 3))
    check_module(build(cnnc), build(torch), randn(rng(12), 2, 4))


@pytest.mark.parametrize("args", [(), (0,), (0, -1), (1, 2), (-3, -2), (2, 3)])
def test_flatten_module(args):
    x = randn(rng(3), 2, 3, 4, 5)
    check_module(nn.Flatten(*args), tnn.Flatten(*args), x)
    if args:
        kw = dict(zip(("start_dim", "end_dim"), args))
        check_module(nn.Flatten(**kw), tnn.Flatten(**kw), x)


def test_flatten_module_errors():
    check_error(lambda: nn.Flatten()(cnnc.zeros(3)), lambda: tnn.Flatten()(torch.zeros(3)))
    check_error(lambda: nn.Flatten(2, 1)(cnnc.zeros(2, 3, 4)),
                lambda: tnn.Flatten(2, 1)(torch.zeros(2, 3, 4)))


@pytest.mark.parametrize("shape", [(), (0,), (2, 3)])
def test_identity_module(shape):
    check_module(nn.Identity(), tnn.Identity(), randn(rng(4), *shape))
    check_module(nn.Identity(54, unused="x"), tnn.Identity(54, unused="x"), randn(rng(4), *shape))


@seeds(4)
def test_sequential_mlp(seed):
    r = rng(seed)
    sizes = [int(v) for v in r.randint(1, 12, size=4)]

    def build(lib):
        m = lib.nn
        return m.Sequential(m.Flatten(), m.Linear(sizes[0] * 2, sizes[1]), m.ReLU(),
                            m.Linear(sizes[1], sizes[2]), m.ReLU(inplace=True),
                            m.Sequential(m.Identity(), m.Linear(sizes[2], sizes[3])))
    check_module(build(cnnc), build(torch), randn(r, 5, sizes[0], 2), seed=seed)


def test_empty_sequential():
    check_module(nn.Sequential(), tnn.Sequential(), randn(rng(5), 2, 3))
    assert len(nn.Sequential()) == 0 and repr(nn.Sequential()) == repr(tnn.Sequential())


def test_two_steps_accumulate_parameter_grads():
    c, t = nested(cnnc), nested(torch)
    copy_state(c, t)
    r = rng(6)
    for _ in range(2):
        x = randn(r, 3, 4)
        c(cnnc.tensor(x)).sum().backward()
        t(torch.tensor(x)).sum().backward()
    for (n, cp), (_, tp) in zip(c.named_parameters(), t.named_parameters()):
        assert_close(cp.grad, tp.grad, what=n)


def test_module_input_must_be_a_tensor():
    with pytest.raises(TypeError):
        nn.Linear(2, 3)(np.zeros((1, 2), np.float32))


def test_module_forward_errors():
    check_error(lambda: nn.Linear(3, 4)(cnnc.zeros(2, 5)), lambda: tnn.Linear(3, 4)(torch.zeros(2, 5)),
                "shapes cannot be multiplied")
    check_error(lambda: nested(cnnc)(cnnc.zeros(2, 3)), lambda: nested(torch)(torch.zeros(2, 3)))


def test_constructor_errors():
    check_error(lambda: nn.Linear(-1, 3), lambda: tnn.Linear(-1, 3))
    check_error(lambda: nn.Linear(3, -2), lambda: tnn.Linear(3, -2))


# --- state_dict ------------------------------------------------------------------------------------

def test_state_dict_keys_nested():
    c, t = nested(cnnc), nested(torch)
    assert list(c.state_dict()) == list(t.state_dict()) == [
        "0.weight", "0.bias", "2.0.weight", "2.0.bias"]
    for k, v in c.state_dict().items():
        assert v.shape == tuple(t.state_dict()[k].shape) and v.dtype == np.float32
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in c.named_buffers()] == [n for n, _ in t.named_buffers()] == []
    assert list(c.buffers()) == []
    assert isinstance(c.state_dict(), OrderedDict)


def test_state_dict_no_bias_and_shared_order():
    c = nn.Sequential(nn.Linear(2, 3, bias=False), nn.Identity(), nn.Linear(3, 1))
    t = tnn.Sequential(tnn.Linear(2, 3, bias=False), tnn.Identity(), tnn.Linear(3, 1))
    assert list(c.state_dict()) == list(t.state_dict()) == ["0.weight", "2.weight", "2.bias"]


def test_state_dict_is_a_copy():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    before = sd["weight"].copy()
    sd["weight"][:] = 42
    np.testing.assert_array_equal(m.state_dict()["weight"], before)


def test_load_state_dict_copies_values():
    c, t = nested(cnnc), nested(torch)
    sd = OrderedDict((k, v.detach().numpy().copy()) for k, v in t.state_dict().items())
    c.load_state_dict(sd)
    for v in sd.values():  # the module must hold copies, not views of our arrays
        v[...] = 1234.0
    assert_same_state(c, t, 0, 0)
    x = randn(rng(7), 2, 4)
    assert_close(c(cnnc.tensor(x)), t(torch.tensor(x)))


def test_load_state_dict_accepts_torch_and_cnnc_tensors():
    t = tnn.Linear(3, 2)
    c = nn.Linear(3, 2)
    c.load_state_dict(t.state_dict())
    assert_same_state(c, t, 0, 0)
    c2 = nn.Linear(3, 2)
    c2.load_state_dict({"weight": c.weight, "bias": c.bias})
    assert_same_state(c2, t, 0, 0)


def _sd(t):
    return OrderedDict((k, v.detach().numpy().copy()) for k, v in t.state_dict().items())


def test_load_state_dict_size_mismatch():
    t_src = tnn.Linear(3, 5)
    sd = _sd(t_src)
    cm, tm = check_error(lambda: nn.Linear(3, 4).load_state_dict(sd),
                         lambda: tnn.Linear(3, 4).load_state_dict(t_src.state_dict()),
                         "size mismatch for weight")
    check_error(lambda: nn.Linear(3, 4).load_state_dict(sd, strict=False),
                lambda: tnn.Linear(3, 4).load_state_dict(t_src.state_dict(), strict=False),
                "size mismatch")


def test_load_state_dict_missing_and_unexpected_keys():
    t = tnn.Linear(3, 4)
    sd = _sd(t)
    missing = OrderedDict([("weight", sd["weight"])])
    extra = OrderedDict(sd, foo=np.zeros(2, np.float32))
    check_error(lambda: nn.Linear(3, 4).load_state_dict(missing),
                lambda: tnn.Linear(3, 4).load_state_dict(
                    {k: torch.tensor(v) for k, v in missing.items()}),
                ["Missing key(s) in state_dict", "bias"])
    check_error(lambda: nn.Linear(3, 4).load_state_dict(extra),
                lambda: tnn.Linear(3, 4).load_state_dict(
                    {k: torch.tensor(v) for k, v in extra.items()}),
                ["Unexpected key(s) in state_dict", "foo"])
    # strict=False: the keys present are loaded, the others ignored, in both.
    for d in (missing, extra):
        c, tm = nn.Linear(3, 4), tnn.Linear(3, 4)
        copy_state(c, tm)
        c.load_state_dict(d, strict=False)
        tm.load_state_dict({k: torch.tensor(v) for k, v in d.items()}, strict=False)
        assert_same_state(c, tm, 0, 0)
        np.testing.assert_array_equal(c.state_dict()["weight"], sd["weight"])


def test_load_state_dict_nested_and_failed_load_changes_nothing():
    c, t = nested(cnnc), nested(torch)
    before = c.state_dict()
    bad = _sd(t)
    bad["2.0.bias"] = np.zeros(7, np.float32)  # the last key is wrong
    with pytest.raises(cnnc.Error):
        c.load_state_dict(bad)
    for k, v in c.state_dict().items():  # cnnc's contract: nothing changed on error
        np.testing.assert_array_equal(v, before[k])
    c.load_state_dict(_sd(t))
    assert_same_state(c, t, 0, 0)


def test_load_state_dict_dtype_mismatch():
    sd = _sd(tnn.Linear(2, 2))
    sd["bias"] = np.array([1, 2], np.int64)
    m = nn.Linear(2, 2)
    try:  # torch converts the dtype on copy; cnnc may refuse, but must not corrupt.
        m.load_state_dict(sd)
        np.testing.assert_array_equal(m.state_dict()["bias"], [1.0, 2.0])
    except cnnc.Error as e:
        assert str(e)


# --- train/eval, parameters, zero_grad ---------------------------------------------------------

def _flags(m):
    return [m.training] + [f for ch in m.children() for f in _flags(ch)]


def test_train_eval_recursion():
    c, t = nested(cnnc), nested(torch)
    assert _flags(c) == _flags(t) == [True] * 6
    assert c.eval() is c and t.eval() is t
    assert _flags(c) == _flags(t) == [False] * 6
    c[2].train()
    t[2].train()
    assert _flags(c) == _flags(t)
    assert c.train(False) is c
    t.train(False)
    assert _flags(c) == _flags(t) == [False] * 6
    c.train()
    t.train()
    assert _flags(c) == _flags(t) == [True] * 6


def test_parameters_count():
    for build in (nested, lambda lib: lib.nn.Linear(7, 3, bias=False), lambda lib: lib.nn.ReLU()):
        c, t = build(cnnc), build(torch)
        cp, tp = list(c.parameters()), list(t.parameters())
        assert len(cp) == len(tp)
        assert sum(p.numel() for p in cp) == sum(p.numel() for p in tp)
        assert all(p.requires_grad and p.is_leaf for p in cp)


def test_zero_grad_both_ways():
    c, t = nested(cnnc), nested(torch)
    copy_state(c, t)
    x = randn(rng(8), 2, 4)
    c(cnnc.tensor(x)).sum().backward()
    t(torch.tensor(x)).sum().backward()
    c.zero_grad()
    t.zero_grad(set_to_none=False)
    for (n, cp), (_, tp) in zip(c.named_parameters(), t.named_parameters()):
        assert_close(cp.grad, tp.grad, what=n)
        assert not np.any(cp.grad.numpy())
    c.zero_grad(set_to_none=True)
    t.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in c.parameters())
    assert all(p.grad is None for p in t.parameters())


def test_frozen_parameter_gets_no_grad():
    c, t = nn.Linear(3, 2), tnn.Linear(3, 2)
    copy_state(c, t)
    c.weight.requires_grad = False  # the wrapper shares the module's tensor
    t.weight.requires_grad = False
    assert not c.weight.requires_grad
    check_module(c, t, randn(rng(9), 4, 3), load_state=False)


# --- attributes, children, repr --------------------------------------------------------------------

def test_attributes():
    c, t = nn.Linear(3, 4, bias=False), tnn.Linear(3, 4, bias=False)
    assert (c.in_features, c.out_features) == (t.in_features, t.out_features) == (3, 4)
    assert c.bias is None and t.bias is None
    assert c.weight.shape == tuple(t.weight.shape) and c.weight.requires_grad
    assert nn.ReLU(True).inplace is True and nn.ReLU().inplace is False
    f = nn.Flatten(2, -2)
    assert (f.start_dim, f.end_dim) == (2, -2)
    with pytest.raises(AttributeError):
        c.nonexistent
    with pytest.raises(AttributeError):
        t.nonexistent


def test_set_parameter():
    c, t = nn.Linear(3, 2), tnn.Linear(3, 2)
    r = rng(10)
    w, b = randn(r, 2, 3), randn(r, 2)
    c.weight = cnnc.tensor(w, requires_grad=True)
    t.weight = tnn.Parameter(torch.tensor(w))
    c.bias = cnnc.tensor(b, requires_grad=True)
    t.bias = tnn.Parameter(torch.tensor(b))
    check_module(c, t, randn(r, 5, 3), load_state=False)
    c.bias = None
    t.bias = None
    assert c.bias is None and list(c.state_dict()) == list(t.state_dict()) == ["weight"]
    check_module(c, t, randn(r, 5, 3), load_state=False)


def test_set_parameter_wrong_type():
    with pytest.raises(TypeError):
        nn.Linear(3, 2).weight = np.zeros((2, 3), np.float32)


def test_children_and_indexing():
    c, t = nested(cnnc), nested(torch)
    assert len(c) == len(t) == 3
    assert [type(m).__name__ for m in c.children()] == [type(m).__name__ for m in t.children()]
    assert [type(m).__name__ for m in c] == [type(m).__name__ for m in t]
    assert isinstance(c[0], nn.Linear) and isinstance(c[2], nn.Sequential)
    assert isinstance(c[-1][1], nn.Flatten)
    assert repr(c[2]) == repr(t[2]) and repr(c[-1]) == repr(t[-1])
    assert len(c[1:]) == len(t[1:]) == 2 and isinstance(c[1:], nn.Sequential)
    assert repr(c[1:][1]) == repr(t[1:][1])
    assert c[2][0].in_features == 5
    with pytest.raises(IndexError):
        c[3]
    with pytest.raises(IndexError):
        t[3]


def test_child_shares_parameters():
    c = nested(cnnc)
    c[0].weight = cnnc.zeros(5, 4, requires_grad=True)
    assert not np.any(c.state_dict()["0.weight"])
    c[2][0].zero_grad()


def test_sequential_append():
    c, t = nn.Sequential(nn.Linear(2, 3)), tnn.Sequential(tnn.Linear(2, 3))
    c.append(nn.ReLU())
    t.append(tnn.ReLU())
    assert repr(c) == repr(t) and len(c) == 2


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError):
        nn.Sequential(nn.ReLU(), "relu")


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
@pytest.mark.parametrize("build", [
    lambda m: m.Linear(3, 4), lambda m: m.Linear(3, 4, bias=False), lambda m: m.Linear(0, 1),
    lambda m: m.ReLU(), lambda m: m.ReLU(inplace=True), lambda m: m.Flatten(),
    lambda m: m.Flatten(0, 2), lambda m: m.Flatten(-3, -2), lambda m: m.Identity(),
    lambda m: m.Sequential(), nested,
    lambda m: m.Sequential(m.Sequential(m.Sequential(m.ReLU())), m.Identity())])
def test_repr_matches_torch(build):
    c = build(cnnc.nn) if build is not nested else nested(cnnc)
    t = build(torch.nn) if build is not nested else nested(torch)
    assert repr(c) == repr(t)


def test_vars_lists_parameters_and_settings():
    v = nn.Linear(3, 4).vars()
    for frag in ("weight", "bias", "in_features", "out_features", "training"):
        assert frag in v, v
    assert "[4, 3]" in v, v


def test_module_types_round_trip():
    c = nested(cnnc)
    assert type(c[2][1]).__name__ == "Flatten"
    assert type(c[1]).__name__ == "ReLU"


# --- initialisation ----------------------------------------------------------------------------------

def test_linear_init_distribution():
    cnnc.manual_seed(0)
    fin, fout = 400, 300
    m = nn.Linear(fin, fout)
    w, b = m.weight.numpy().astype(np.float64), m.bias.numpy().astype(np.float64)
    bound = 1 / np.sqrt(fin)
    tw = tnn.Linear(fin, fout).weight.detach().numpy().astype(np.float64)
    for arr in (w, tw):  # the same checks pass on torch's own weights
        assert arr.min() >= -bound and arr.max() <= bound
        assert arr.min() < -0.99 * bound and arr.max() > 0.99 * bound
        assert abs(arr.mean()) < 6 * bound / np.sqrt(3 * arr.size)
        assert abs(arr.std() - bound / np.sqrt(3)) < 0.01 * bound
        hist, _ = np.histogram(arr, bins=10, range=(-bound, bound))
        assert hist.min() > 0.9 * arr.size / 10  # uniform, not normal
    assert b.min() >= -bound and b.max() <= bound and b.std() > 0.4 * bound
    assert len(np.unique(b)) == fout


def test_linear_init_reproducible():
    cnnc.manual_seed(5)
    a = nn.Linear(8, 6).state_dict()
    cnnc.manual_seed(5)
    b = nn.Linear(8, 6).state_dict()
    cnnc.manual_seed(6)
    c = nn.Linear(8, 6).state_dict()
    np.testing.assert_array_equal(a["weight"], b["weight"])
    np.testing.assert_array_equal(a["bias"], b["bias"])
    assert not np.array_equal(a["weight"], c["weight"])
