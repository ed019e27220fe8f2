"""nn.Conv1d/2d/3d and nn.ConvTranspose1d/2d/3d against torch.nn: randomized
constructor arguments (fixed seeds) including padding_mode and padding strings;
forward, input and parameter gradients, state_dict keys, repr, attributes,
initialisation, a transposed module's output_size, and the constructor errors."""
import math

import numpy as np
import pytest
import torch

import cnnc
from helpers import check_error, check_module, copy_state, randn, rng, seeds

CONV = {1: (cnnc.nn.Conv1d, torch.nn.Conv1d), 2: (cnnc.nn.Conv2d, torch.nn.Conv2d),
        3: (cnnc.nn.Conv3d, torch.nn.Conv3d)}
CONVT = {1: (cnnc.nn.ConvTranspose1d, torch.nn.ConvTranspose1d),
         2: (cnnc.nn.ConvTranspose2d, torch.nn.ConvTranspose2d),
         3: (cnnc.nn.ConvTranspose3d, torch.nn.ConvTranspose3d)}
ATTRS = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
         "transposed", "output_padding", "groups", "padding_mode"]


def per_dim(r, dim, lo, hi):
    vals = [int(r.randint(lo, hi)) for _ in range(dim)]
    if r.rand() < 0.4:
        return vals[0]
    return tuple(vals)


def tup(v, dim):
    return v if isinstance(v, tuple) else (v,) * dim


def same_module(cm, tm):
    assert repr(cm) == repr(tm)
    for a in ATTRS:
        assert getattr(cm, a) == getattr(tm, a), a
    assert [n for n, _ in cm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert list(cm.state_dict().keys()) == list(tm.state_dict().keys())


@pytest.mark.parametrize("dim", [1, 2, 3])
@seeds(20)
def test_conv_module_random(dim, seed):
    r = rng(seed * 13 + dim)
    groups = int(r.choice([1, 1, 2, 3]))
    cin, cout = groups * int(r.randint(1, 4)), groups * int(r.randint(1, 4))
    k = per_dim(r, dim, 1, 4)
    dil = per_dim(r, dim, 1, 3) if r.rand() < 0.5 else 1
    mode = str(r.choice(["zeros", "reflect", "replicate", "circular"]))
    kind = r.choice(["int", "same", "valid"])
    kwargs = dict(dilation=dil, groups=groups, bias=bool(r.rand() < 0.7), padding_mode=mode)
    if kind == "same":
        kwargs["padding"] = "same"
        pads = (0,) * dim
        eff_pad = [(d * (kk - 1)) for d, kk in zip(tup(dil, dim), tup(k, dim))]
    elif kind == "valid":
        kwargs["padding"] = "valid"
        kwargs["stride"] = per_dim(r, dim, 1, 3)
        pads = (0,) * dim
        eff_pad = [0] * dim
    else:
        p = per_dim(r, dim, 0, 3)
        kwargs["padding"] = p
        kwargs["stride"] = per_dim(r, dim, 1, 3)
        pads = tup(p, dim)
        eff_pad = [2 * x for x in pads]
    spatial = []
    for i in range(dim):
        eff_k = tup(dil, dim)[i] * (tup(k, dim)[i] - 1) + 1
        # reflect needs pad < size; the kernel must fit the padded input
        spatial.append(max(eff_k, eff_pad[i] + 1, pads[i] + 1) + int(r.randint(0, 5)))
    cm, tm = CONV[dim][0](cin, cout, k, **kwargs), CONV[dim][1](cin, cout, k, **kwargs)
    same_module(cm, tm)
    # torch 1.13's circular F.pad refuses unbatched inputs (test_forward_errors checks both raise)
    batched = r.rand() < 0.8 or mode == "circular"
    x = randn(r, *(((int(r.randint(1, 3)),) if batched else ()) + (cin,) + tuple(spatial)))
    red = (cin // groups) * int(np.prod(tup(k, dim)))
    check_module(cm, tm, x, rtol=1e-4, atol=1e-4 * math.sqrt(red) * 4, grad_atol=2e-3, seed=seed)


@pytest.mark.parametrize("dim", [1, 2, 3])
@seeds(20)
def test_conv_transpose_module_random(dim, seed):
    r = rng(seed * 17 + dim + 300)
    groups = int(r.choice([1, 1, 2]))
    cin, cout = groups * int(r.randint(1, 4)), groups * int(r.randint(1, 4))
    k = per_dim(r, dim, 1, 4)
    stride = per_dim(r, dim, 1, 4)
    dil = per_dim(r, dim, 1, 3) if r.rand() < 0.4 else 1
    pad = per_dim(r, dim, 0, 2)
    op = tuple(int(r.randint(0, max(s, d))) for s, d in zip(tup(stride, dim), tup(dil, dim)))
    kwargs = dict(stride=stride, padding=pad, output_padding=op, groups=groups,
                  bias=bool(r.rand() < 0.7), dilation=dil)
    cm, tm = CONVT[dim][0](cin, cout, k, **kwargs), CONVT[dim][1](cin, cout, k, **kwargs)
    same_module(cm, tm)
    spatial = [2 * tup(pad, dim)[i] + int(r.randint(1, 5)) for i in range(dim)]
    batched = r.rand() < 0.8
    x = randn(r, *(((int(r.randint(1, 3)),) if batched else ()) + (cin,) + tuple(spatial)))
    check_module(cm, tm, x, rtol=1e-4, atol=5e-4, grad_atol=2e-3, seed=seed)


def test_issue_walkthrough():
    """Conv2d(1, 3, kernel_size=3, stride=2, padding=1) on [1, 1, 28, 28]."""
    cm = cnnc.nn.Conv2d(1, 3, kernel_size=3, stride=2, padding=1)
    tm = torch.nn.Conv2d(1, 3, kernel_size=3, stride=2, padding=1)
    assert repr(cm) == "Conv2d(1, 3, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))" == repr(tm)
    assert cm.weight.shape == (3, 1, 3, 3) and cm.bias.shape == (3,)
    res = check_module(cm, tm, randn(rng(0), 1, 1, 28, 28))
    assert res.cnnc_out.shape == (1, 3, 14, 14)


@pytest.mark.parametrize("cls,args,fan_in", [
    ("Conv1d", (4, 6, 3), 12), ("Conv2d", (6, 8, (3, 2), 1, 0, 1, 2), 18),
    ("Conv3d", (2, 4, 2), 16), ("ConvTranspose1d", (4, 6, 3), 18),
    ("ConvTranspose2d", (6, 8, (3, 2), 1, 0, 0, 2), 24), ("ConvTranspose3d", (2, 4, 2), 32),
    ("Conv2d", (64, 64, 3), 576),
])
def test_initialisation(cls, args, fan_in):
    """kaiming_uniform(a=sqrt(5)) and the bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    fan_in = weight.size(1) * prod(kernel); seeded (same seed, same values)."""
    bound = 1.0 / math.sqrt(fan_in)
    cnnc.manual_seed(3)
    m = getattr(cnnc.nn, cls)(*args)
    tm = getattr(torch.nn, cls)(*args)
    assert m.weight.shape == tuple(tm.weight.shape)
    w, b = m.weight.numpy(), m.bias.numpy()
    assert np.all(np.abs(w) <= bound) and np.all(np.abs(b) <= bound)
    assert np.abs(tm.weight.detach().numpy()).max() <= bound  # the same rule in torch
    if w.size >= 1000:  # uniform: mean 0, std bound / sqrt(3), spread to the bounds
        assert abs(w.mean()) < 0.05 * bound
        assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
        assert w.max() > 0.95 * bound and w.min() < -0.95 * bound
    assert len(np.unique(w)) > w.size // 2
    cnnc.manual_seed(3)
    m2 = getattr(cnnc.nn, cls)(*args)
    np.testing.assert_array_equal(m2.weight.numpy(), w)
    np.testing.assert_array_equal(m2.bias.numpy(), b)
    assert m.weight.requires_grad and m.bias.requires_grad and m.weight.is_leaf


def test_no_bias():
    cm, tm = cnnc.nn.Conv2d(2, 4, 3, bias=False), torch.nn.Conv2d(2, 4, 3, bias=False)
    same_module(cm, tm)
    assert cm.bias is None
    assert [n for n, _ in cm.named_parameters()] == ["weight"]
    check_module(cm, tm, randn(rng(1), 2, 2, 6, 6), atol=1e-4)


def test_bias_set_to_none_changes_repr():
    cm = cnnc.nn.Conv1d(2, 4, 3)
    cm.bias = None
    assert repr(cm) == "Conv1d(2, 4, kernel_size=(3,), stride=(1,), bias=False)"
    assert cm(cnnc.ones(1, 2, 5)).shape == (1, 4, 3)


def test_repr_every_field():
    args = dict(stride=(2, 1), padding=(1, 2), dilation=(2, 2), groups=2, bias=False,
                padding_mode="circular")
    assert repr(cnnc.nn.Conv2d(4, 6, (3, 5), **args)) == repr(torch.nn.Conv2d(4, 6, (3, 5), **args))
    args = dict(stride=2, padding=1, output_padding=1, groups=2, bias=False, dilation=2)
    assert repr(cnnc.nn.ConvTranspose3d(4, 6, 3, **args)) == \
        repr(torch.nn.ConvTranspose3d(4, 6, 3, **args))
    assert repr(cnnc.nn.Conv1d(2, 2, 3, padding="same")) == repr(torch.nn.Conv1d(2, 2, 3, padding="same"))
    assert repr(cnnc.nn.Conv1d(2, 2, 3, padding="valid")) == \
        repr(torch.nn.Conv1d(2, 2, 3, padding="valid"))


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_transposed_output_size(dim):
    cm = CONVT[dim][0](3, 2, 3, stride=3, padding=1)
    tm = CONVT[dim][1](3, 2, 3, stride=3, padding=1)
    from helpers import copy_state
    copy_state(cm, tm)
    x = randn(rng(dim), 2, 3, *([4] * dim))
    lo = (4 - 1) * 3 - 2 + 2 + 1
    for size in ([lo] * dim, [lo + 2] * dim, [lo + 1] * dim, [2, 2] + [lo + 1] * dim):
        c = cm(cnnc.tensor(x), output_size=size)
        t = tm(torch.tensor(x), output_size=size)
        assert c.shape == tuple(t.shape)
        np.testing.assert_allclose(c.numpy(), t.detach().numpy(), rtol=1e-4, atol=1e-5)
    # unbatched input: 1 + d sizes allowed
    c = cm(cnnc.tensor(x[0]), output_size=[2] + [lo + 1] * dim)
    t = tm(torch.tensor(x[0]), output_size=[2] + [lo + 1] * dim)
    assert c.shape == tuple(t.shape)
    # gradients through output_size's output_padding
    cx, tx = cnnc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g = randn(rng(5), *tuple(tm(tx, output_size=[lo + 2] * dim).shape))
    cm(cx, output_size=[lo + 2] * dim).backward(cnnc.tensor(g))
    tm(tx, output_size=[lo + 2] * dim).backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(cm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4, atol=1e-3)
    # errors
    check_error(lambda: cm(cnnc.tensor(x), output_size=[lo + 3] * dim),
                lambda: tm(torch.tensor(x), output_size=[lo + 3] * dim),
                ["requested an output size of", "but valid sizes range from", "(for an input of"])
    check_error(lambda: cm(cnnc.tensor(x), output_size=[lo - 1] * dim),
                lambda: tm(torch.tensor(x), output_size=[lo - 1] * dim), "requested an output size")
    check_error(lambda: cm(cnnc.tensor(x), output_size=[lo] * (dim + 1)),
                lambda: tm(torch.tensor(x), output_size=[lo] * (dim + 1)),
                "ConvTranspose%dD: for %dD input, output_size must have %d or %d elements (got %d)"
                % (dim, dim + 2, dim, dim + 2, dim + 1))


@pytest.mark.parametrize("make", [
    lambda nn: nn.Conv2d(4, 4, 3, groups=0),
    lambda nn: nn.Conv2d(4, 4, 3, groups=-1),
    lambda nn: nn.Conv2d(3, 4, 3, groups=2),
    lambda nn: nn.Conv2d(4, 3, 3, groups=2),
    lambda nn: nn.ConvTranspose2d(3, 4, 3, groups=2),
    lambda nn: nn.Conv1d(2, 2, 3, padding="foo"),
    lambda nn: nn.Conv2d(2, 2, 3, padding="same", stride=2),
    lambda nn: nn.Conv3d(2, 2, 3, padding="same", stride=(1, 1, 2)),
    lambda nn: nn.Conv2d(2, 2, 3, padding_mode="mirror"),
    lambda nn: nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"),
    lambda nn: nn.ConvTranspose1d(2, 2, 3, padding_mode="bad"),
    lambda nn: nn.Conv2d(-1, 2, 3),
    lambda nn: nn.Conv2d(2, -2, 3),
    lambda nn: nn.Conv2d(2, 2, -3),
])
def test_constructor_errors(make):
    cm, tm = check_error(lambda: make(cnnc.nn), lambda: make(torch.nn))
    # the deterministic part of torch's message (a set's order varies between runs)
    head = tm.split("{")[0].split(":")[0]
    assert head in cm, (cm, tm)


@pytest.mark.parametrize("make,x", [
    (lambda nn: nn.Conv2d(2, 4, 3), (1, 3, 5, 5)),             # channel count
    (lambda nn: nn.Conv2d(2, 4, 3), (1, 2, 2, 2)),             # kernel larger than input
    (lambda nn: nn.Conv2d(2, 4, 3), (3, 5, 5)),                # unbatched channel count
    (lambda nn: nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular"), (2, 5, 5)),  # torch 1.13
    (lambda nn: nn.Conv1d(2, 4, 3), (1, 2, 5, 5)),             # rank
    (lambda nn: nn.Conv2d(2, 4, 3, padding=3, padding_mode="reflect"), (1, 2, 3, 3)),  # reflect pad
    (lambda nn: nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect"), (1, 2, 0, 3)),
    (lambda nn: nn.ConvTranspose2d(2, 4, 3, padding=4), (1, 2, 1, 1)),
])
def test_forward_errors(make, x):
    cm, tm = make(cnnc.nn), make(torch.nn)
    check_error(lambda: cm(cnnc.zeros(*x)), lambda: tm(torch.zeros(*x)))


def test_train_eval_and_vars():
    cm = cnnc.nn.Conv2d(2, 4, 3)
    assert cm.training
    cm.eval()
    assert not cm.training
    text = cm.vars()
    assert "weight" in text and "kernel_size" in text


def test_in_sequential():
    r = rng(2)
    cm = cnnc.nn.Sequential(cnnc.nn.Conv2d(3, 8, 3, padding=1), cnnc.nn.ReLU(),
                            cnnc.nn.Conv2d(8, 8, 3, stride=2, groups=8, padding_mode="replicate",
                                           padding=1),
                            cnnc.nn.ConvTranspose2d(8, 4, 2, stride=2), cnnc.nn.Flatten())
    tm = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                             torch.nn.Conv2d(8, 8, 3, stride=2, groups=8, padding_mode="replicate",
                                             padding=1),
                             torch.nn.ConvTranspose2d(8, 4, 2, stride=2), torch.nn.Flatten())
    check_module(cm, tm, randn(r, 2, 3, 10, 10), atol=1e-4, grad_atol=1e-3)


@pytest.mark.parametrize("x, cout, kwargs", [
    ((2, 32, 7, 7), 48, dict(padding=1)),              # 7x7 maps: Winograd only when cached
    ((1, 64, 14, 14), 64, dict(padding=1)),            # one image
    ((3, 20, 5, 6), 17, dict(padding=2)),              # part tiles, a partial GEMM panel
    ((2, 32, 8, 8), 32, dict(padding=1, groups=2)),
    ((2, 16, 9, 9), 16, dict(padding=1, padding_mode="reflect")),
])
def test_no_grad_forward_keeps_packed_weights(x, cout, kwargs):
    """A module's no-grad forwards keep its Winograd-transformed filters between calls:
    against torch on the first call, bit-identical on the next, and rebuilt when the
    weights change (load_state_dict) or when CNNC_WEIGHT_CACHE=0 turns the cache off."""
    import os
    r = rng(12)
    xa = randn(r, *x)
    cm, tm = cnnc.nn.Conv2d(x[1], cout, 3, **kwargs), torch.nn.Conv2d(x[1], cout, 3, **kwargs)
    cm.eval()
    rt, at = 1e-4, 2e-5  # outputs O(1): the filters are U(+-1/sqrt(fan_in))
    for _ in range(2):
        copy_state(cm, tm)
        with cnnc.no_grad():
            first, again = cm(cnnc.tensor(xa)).numpy(), cm(cnnc.tensor(xa)).numpy()
            os.environ["CNNC_WEIGHT_CACHE"] = "0"
            try:
                off = cm(cnnc.tensor(xa)).numpy()
            finally:
                del os.environ["CNNC_WEIGHT_CACHE"]
        with torch.no_grad():
            want = tm(torch.from_numpy(xa)).numpy()
        np.testing.assert_array_equal(first, again)
        np.testing.assert_allclose(first, want, rtol=rt, atol=at)
        np.testing.assert_allclose(off, want, rtol=rt, atol=at)
        with torch.no_grad():
            tm.weight.mul_(-0.5)
