"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) against torch.optim 1.13: the
same parameters and gradients in both libraries, parameters and state compared
bit for bit after every step; parameter groups, zero_grad, skipped parameters,
state_dict layout and round trips, errors."""
import warnings

import numpy as np
import pytest
import torch

import cnnc
import cnnc.optim as optim
from helpers import check_error, rng, seeds

KINDS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]
SHAPES = [(3, 4), (17,), (2, 3, 5), (), (1000,), (0,), (33, 7), (70001,)]  # the last: parallel chunks


def random_options(kind, r):
    """A random valid configuration of every option of the optimizer."""
    flag = lambda: bool(r.randint(2))  # noqa: E731
    lr = float(r.choice([0.1, 1e-3, 0.37, 0.0, 2.0]))
    wd = float(r.choice([0.0, 0.0, 1e-2, 0.3]))
    if kind == "SGD":
        momentum = float(r.choice([0.0, 0.9, 0.5, 1.3]))
        nesterov = flag() and momentum > 0
        dampening = 0.0 if nesterov else float(r.choice([0.0, 0.1, 0.9]))
        return dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=wd,
                    nesterov=nesterov, maximize=flag())
    if kind in ("Adam", "AdamW"):
        betas = (float(r.choice([0.9, 0.0, 0.5, 0.99])), float(r.choice([0.999, 0.9, 0.0])))
        return dict(lr=lr, betas=betas, eps=float(r.choice([1e-8, 1e-3, 0.0, 1.0])),
                    weight_decay=wd, amsgrad=flag(), maximize=flag())
    if kind == "RMSprop":
        return dict(lr=lr, alpha=float(r.choice([0.99, 0.5, 0.0, 1.0])),
                    eps=float(r.choice([1e-8, 1e-2])), weight_decay=wd,
                    momentum=float(r.choice([0.0, 0.9, 0.3])), centered=flag(), maximize=flag())
    return dict(lr=lr, lr_decay=float(r.choice([0.0, 0.1, 1e-3])), weight_decay=wd,
                initial_accumulator_value=float(r.choice([0.0, 0.1, 2.0])),
                eps=float(r.choice([1e-10, 1e-3])), maximize=flag())


def make_params(r, shapes=SHAPES):
    init = [np.asarray(r.standard_normal(s), np.float32) for s in shapes]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    cp = [cnnc.tensor(a.copy(), requires_grad=True) for a in init]
    return tp, cp


def set_grads(r, tp, cp, skip=()):
    for i, (t, c) in enumerate(zip(tp, cp)):
        if i in skip:
            t.grad, c.grad = None, None
            continue
        g = np.asarray(r.standard_normal(t.shape) * r.choice([1e-3, 1.0, 30.0]), np.float32)
        t.grad, c.grad = torch.tensor(g), cnnc.tensor(g)


def assert_params_equal(tp, cp, what):
    for i, (t, c) in enumerate(zip(tp, cp)):
        np.testing.assert_array_equal(c.numpy(), t.detach().numpy(),
                                      err_msg="%s: parameter %d" % (what, i))


def assert_state_equal(ot, oc, what="state_dict"):
    """Same layout (indices, keys, param_groups) and bitwise-equal values."""
    ts, cs = ot.state_dict(), oc.state_dict()
    assert sorted(ts["state"]) == sorted(cs["state"]), what
    for i, tst in ts["state"].items():
        assert list(cs["state"][i]) == list(tst), "%s: keys of state %d" % (what, i)
        for k, v in tst.items():
            c = cs["state"][i][k]
            if v is None or isinstance(v, int):
                assert c == v and type(c) == type(v), "%s: state[%d][%r]" % (what, i, k)
            else:
                assert isinstance(c, np.ndarray) and c.dtype == v.numpy().dtype
                assert c.shape == tuple(v.shape), "%s: shape of state[%d][%r]" % (what, i, k)
                np.testing.assert_array_equal(c, v.numpy(), err_msg="%s: state[%d][%r]" % (what, i, k))
    assert len(ts["param_groups"]) == len(cs["param_groups"])
    for tg, cg in zip(ts["param_groups"], cs["param_groups"]):
        assert set(tg) == set(cg), "%s: group keys %s vs %s" % (what, sorted(tg), sorted(cg))
        for k in tg:
            assert cg[k] == tg[k], "%s: group[%r]: cnnc %r, torch %r" % (what, k, cg[k], tg[k])


def run_both(kind, kw, r, steps=5, shapes=SHAPES, skip_every=3):
    tp, cp = make_params(r, shapes)
    ot, oc = getattr(torch.optim, kind)(tp, **kw), getattr(optim, kind)(cp, **kw)
    for s in range(steps):
        skip = {j for j in range(len(tp)) if (j + s) % skip_every == 0} if skip_every else set()
        set_grads(r, tp, cp, skip)
        ot.step()
        oc.step()
        assert_params_equal(tp, cp, "%s %s step %d" % (kind, kw, s))
    assert_state_equal(ot, oc)
    return tp, cp, ot, oc


@pytest.mark.parametrize("kind", KINDS)
@seeds(12)
def test_random_configurations(kind, seed):
    """Random values of every option; some parameters skip some steps (no grad)."""
    r = rng(seed * 7 + KINDS.index(kind))
    run_both(kind, random_options(kind, r), r)


HAND_PICKED = {
    "SGD": [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9, nesterov=True),
            dict(lr=0.1, momentum=0.9, dampening=0.5), dict(lr=0.1, weight_decay=0.1),
            dict(lr=0.1, maximize=True), dict(lr=0.1, momentum=0.9, nesterov=True,
                                              weight_decay=1e-4, maximize=True)],
    "Adam": [dict(), dict(lr=0.1, amsgrad=True), dict(betas=(0.5, 0.6)), dict(eps=1e-3),
             dict(weight_decay=0.1), dict(maximize=True), dict(betas=(0.0, 0.0))],
    "AdamW": [dict(), dict(amsgrad=True), dict(weight_decay=0.0), dict(weight_decay=2.0),
              dict(maximize=True, amsgrad=True), dict(lr=1.0, betas=(0.1, 0.2))],
    "RMSprop": [dict(), dict(centered=True), dict(momentum=0.9), dict(centered=True, momentum=0.5),
                dict(alpha=0.5), dict(weight_decay=0.1), dict(maximize=True), dict(eps=0.1)],
    "Adagrad": [dict(), dict(lr_decay=0.01), dict(weight_decay=0.1),
                dict(initial_accumulator_value=0.5), dict(eps=1e-2), dict(maximize=True)],
}


@pytest.mark.parametrize("kind,kw", [(k, kw) for k in KINDS for kw in HAND_PICKED[k]])
def test_hand_picked(kind, kw):
    run_both(kind, kw, rng(1), steps=8, skip_every=0)


@pytest.mark.parametrize("kind", KINDS)
def test_nonfinite_gradients(kind):
    """NaN and infinities in the gradients propagate as in torch."""
    r = rng(3)
    tp, cp = make_params(r, [(40,)])
    ot, oc = getattr(torch.optim, kind)(tp, lr=0.1), getattr(optim, kind)(cp, lr=0.1)
    for s in range(3):
        g = np.asarray(r.standard_normal(40), np.float32)
        g[s::7] = [np.nan, np.inf, -np.inf, 0.0, 1e30, -1e-30][s % 6]
        tp[0].grad, cp[0].grad = torch.tensor(g), cnnc.tensor(g)
        ot.step()
        oc.step()
        assert_params_equal(tp, cp, "%s step %d" % (kind, s))


@pytest.mark.parametrize("kind", KINDS)
def test_param_groups(kind):
    """Groups with their own options, a group added later, lr changed through
    param_groups between steps (as a user or a scheduler does)."""
    r = rng(5)
    tp, cp = make_params(r, [(4, 3), (5,), (2, 2), (7,)])
    extra = {"SGD": {"momentum": 0.5, "nesterov": True}, "Adam": {"amsgrad": True},
             "AdamW": {"betas": (0.8, 0.9)}, "RMSprop": {"centered": True, "momentum": 0.1},
             "Adagrad": {"lr_decay": 0.5}}[kind]
    defaults = dict(lr=0.05, momentum=0.9) if kind == "SGD" else dict(lr=0.05)

    def groups(ps):
        return [{"params": ps[:2]}, dict({"params": [ps[2]], "lr": 0.2}, **extra)]

    ot = getattr(torch.optim, kind)(groups(tp), **defaults)
    oc = getattr(optim, kind)(groups(cp), **defaults)
    assert len(oc.param_groups) == 2
    for step in range(6):
        if step == 2 and kind != "Adagrad":
            ot.add_param_group({"params": tp[3], "weight_decay": 0.1})
            oc.add_param_group({"params": cp[3], "weight_decay": 0.1})
        if step == 4:
            for gt, gc in zip(ot.param_groups, oc.param_groups):
                gt["lr"] = gc["lr"] = gt["lr"] * 0.3
        set_grads(r, tp, cp)
        ot.step()
        oc.step()
        assert_params_equal(tp, cp, "%s step %d" % (kind, step))
    for gt, gc in zip(ot.param_groups, oc.param_groups):
        assert list(gc) == ["params"] + [k for k in gt if k != "params"] or set(gc) == set(gt)
        for k in gt:
            if k == "params":
                assert [p.shape for p in gc[k]] == [tuple(p.shape) for p in gt[k]]
            else:
                assert gc[k] == gt[k], k
    assert_state_equal(ot, oc)


def test_adagrad_group_added_later_has_no_state():
    """1.13 quirk: Adagrad initialises state in its constructor only."""
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    ca, cb = cnnc.zeros(2, requires_grad=True), cnnc.zeros(3, requires_grad=True)
    ot, oc = torch.optim.Adagrad([a]), optim.Adagrad([ca])
    ot.add_param_group({"params": [b]})
    oc.add_param_group({"params": [cb]})
    b.grad, cb.grad = torch.ones(3), cnnc.ones(3)
    with pytest.raises(KeyError) as e:
        ot.step()
    with pytest.raises(cnnc.Error) as c:
        oc.step()
    assert str(e.value) in str(c.value)
    np.testing.assert_array_equal(cb.numpy(), np.zeros(3, np.float32))  # nothing changed


@pytest.mark.parametrize("set_to_none", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_zero_grad(kind, set_to_none):
    r = rng(6)
    tp, cp = make_params(r, [(3,), (2, 2), (4,)])
    ot, oc = getattr(torch.optim, kind)(tp, lr=0.1), getattr(optim, kind)(cp, lr=0.1)
    set_grads(r, tp, cp, skip={1})
    cgrad = cp[0].grad
    ot.zero_grad(set_to_none=set_to_none)
    oc.zero_grad(set_to_none=set_to_none)
    for t, c in zip(tp, cp):
        assert (t.grad is None) == (c.grad is None)
        if t.grad is not None:
            np.testing.assert_array_equal(c.grad.numpy(), t.grad.numpy())
    if not set_to_none:  # zeroed in place: the same gradient tensor
        np.testing.assert_array_equal(cgrad.numpy(), np.zeros(3, np.float32))
    ot.zero_grad()
    oc.zero_grad()  # default set_to_none=False in 1.13
    assert (tp[0].grad is None) == (cp[0].grad is None)


@pytest.mark.parametrize("kind", KINDS)
def test_version_and_closure(kind):
    t, c = torch.zeros(3, requires_grad=True), cnnc.zeros(3, requires_grad=True)
    ot, oc = getattr(torch.optim, kind)([t], lr=0.1), getattr(optim, kind)([c], lr=0.1)
    t.grad, c.grad = torch.ones(3), cnnc.ones(3)
    vt, vc = t._version, c._version
    assert oc.step(lambda: 42.0) == ot.step(lambda: 42.0) == 42.0
    assert t._version > vt and c._version > vc
    assert c.requires_grad and c.is_leaf


@pytest.mark.parametrize("kind", KINDS)
@seeds(3)
def test_state_dict_round_trips(kind, seed):
    """cnnc -> dict -> new cnnc optimizer resumes bit for bit; torch's state_dict
    loads into cnnc and cnnc's into torch, and all three continue identically."""
    r = rng(seed + 40)
    kw = random_options(kind, r)
    shapes = [(3, 4), (5,), ()]
    tp, cp, ot, oc = run_both(kind, kw, r, steps=3, shapes=shapes, skip_every=0)
    sd = oc.state_dict()
    # a fresh cnnc optimizer on copies of the parameters, loaded from cnnc's dict
    cp2 = [cnnc.tensor(p.numpy(), requires_grad=True) for p in cp]
    oc2 = getattr(optim, kind)(cp2, **dict(kw, lr=123.0))
    oc2.load_state_dict(sd)
    # a fresh cnnc optimizer loaded from torch's own dict
    cp3 = [cnnc.tensor(p.numpy(), requires_grad=True) for p in cp]
    oc3 = getattr(optim, kind)(cp3, lr=7.0)
    oc3.load_state_dict(ot.state_dict())
    # a fresh torch optimizer loaded from cnnc's dict
    tp4 = [torch.tensor(p.numpy(), requires_grad=True) for p in cp]
    ot4 = getattr(torch.optim, kind)(tp4, lr=7.0)
    tsd = {"state": {i: {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v)
                         for k, v in st.items()} for i, st in sd["state"].items()},
           "param_groups": sd["param_groups"]}
    ot4.load_state_dict(tsd)
    for s in range(3):
        g = [np.asarray(r.standard_normal(sh), np.float32) for sh in shapes]
        for ps, mk in ((tp, torch.tensor), (tp4, torch.tensor), (cp, cnnc.tensor),
                       (cp2, cnnc.tensor), (cp3, cnnc.tensor)):
            for p, gi in zip(ps, g):
                p.grad = mk(gi)
        for o in (ot, ot4, oc, oc2, oc3):
            o.step()
        for ps, what in ((cp, "uninterrupted"), (cp2, "cnnc dict"), (cp3, "torch dict")):
            assert_params_equal(tp, ps, "%s %s step %d" % (kind, what, s))
        assert_params_equal(tp4, cp, "torch loaded from cnnc's dict, step %d" % s)
    assert_state_equal(ot, oc2)


@pytest.mark.parametrize("kind", KINDS)
def test_state_mapping(kind):
    """optimizer.state[p]: the live state tensors, as torch's."""
    r = rng(8)
    tp, cp, ot, oc = run_both(kind, {"lr": 0.1}, r, steps=2, shapes=[(3,), (2, 2)], skip_every=0)
    assert len(oc.state) == len(ot.state) == 2
    for t, c in zip(tp, cp):
        ts, cs = ot.state[t], oc.state[c]
        assert list(cs) == list(ts)
        for k, v in ts.items():
            if isinstance(v, torch.Tensor):
                np.testing.assert_array_equal(cs[k].numpy(), v.numpy())
            else:
                assert (cs[k] is None) == (v is None) and (v is None or cs[k].item() == v)
    assert oc.state[cnnc.zeros(1)] == {}


def test_state_dict_layout():
    """Indices over all groups, None momentum buffers, int steps (RMSprop),
    'params' last, initial_lr from a scheduler kept."""
    a, b, c = (torch.zeros(2, requires_grad=True) for _ in range(3))
    ca, cb, cc = (cnnc.zeros(2, requires_grad=True) for _ in range(3))
    for kind, kw in (("SGD", dict(lr=0.1)), ("RMSprop", dict(momentum=0.5)), ("Adam", {})):
        ot = getattr(torch.optim, kind)([{"params": [a, b]}, {"params": [c], "lr": 0.3}], **kw)
        oc = getattr(optim, kind)([{"params": [ca, cb]}, {"params": [cc], "lr": 0.3}], **kw)
        torch.optim.lr_scheduler.StepLR(ot, 3)
        cnnc.optim.lr_scheduler.StepLR(oc, 3)
        for p, q in ((a, ca), (c, cc)):
            p.grad, q.grad = torch.ones(2), cnnc.ones(2)
        ot.step()
        oc.step()
        assert_state_equal(ot, oc, kind)
        sd = oc.state_dict()
        assert list(sd["param_groups"][1])[-1] == "params"
        assert sd["param_groups"][1]["params"] == [2]


def test_param_groups_extra_keys_round_trip():
    """Keys a user adds to a group (a name, a number) survive state_dict."""
    t, c = torch.zeros(2, requires_grad=True), cnnc.zeros(2, requires_grad=True)
    ot = torch.optim.SGD([{"params": [t], "name": "it's a\\name", "k": 3}], lr=0.1)
    oc = optim.SGD([{"params": [c], "name": "it's a\\name", "k": 3}], lr=0.1)
    assert_state_equal(ot, oc)
    c2 = cnnc.zeros(2, requires_grad=True)
    oc2 = optim.SGD([c2], lr=0.5)
    oc2.load_state_dict(oc.state_dict())
    assert oc2.param_groups[0]["name"] == "it's a\\name" and oc2.param_groups[0]["k"] == 3
    assert oc2.param_groups[0]["lr"] == 0.1


def test_repr():
    t, c = torch.zeros(2, requires_grad=True), cnnc.zeros(2, requires_grad=True)
    kw = dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0)
    assert repr(optim.SGD([c], **kw)) == repr(torch.optim.SGD([t], **kw))
    kw = dict(lr=0.1, weight_decay=0.5)
    assert repr(optim.Adam([c], **kw)) == repr(torch.optim.Adam([t], **kw))


# --- errors -------------------------------------------------------------------------

CONSTRUCTOR_ERRORS = [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(), "parameter group didn't specify a value of required optimization parameter lr"),
    ("Adam", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("Adam", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("Adam", dict(lr=float("nan")), "Invalid learning rate: nan"),
    ("AdamW", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    ("AdamW", dict(weight_decay=-2), "Invalid weight_decay value: -2"),
    ("RMSprop", dict(lr=-1), "Invalid learning rate: -1"),
    ("RMSprop", dict(eps=-1), "Invalid epsilon value: -1"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
    ("RMSprop", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("RMSprop", dict(alpha=-0.5), "Invalid alpha value: -0.5"),
    ("Adagrad", dict(lr=-1), "Invalid learning rate: -1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    ("Adagrad", dict(eps=-1), "Invalid epsilon value: -1"),
]


@pytest.mark.parametrize("kind,kw,msg", CONSTRUCTOR_ERRORS)
def test_constructor_errors(kind, kw, msg):
    check_error(lambda: getattr(optim, kind)([cnnc.zeros(2, requires_grad=True)], **kw),
                lambda: getattr(torch.optim, kind)([torch.zeros(2, requires_grad=True)], **kw),
                match=msg)


def test_parameter_errors():
    t, c = torch.zeros(2, requires_grad=True), cnnc.zeros(2, requires_grad=True)
    check_error(lambda: optim.SGD([], lr=0.1), lambda: torch.optim.SGD([], lr=0.1),
                match="optimizer got an empty parameter list")
    check_error(lambda: optim.SGD([{"params": [c]}, {"params": [c]}], lr=0.1),
                lambda: torch.optim.SGD([{"params": [t]}, {"params": [t]}], lr=0.1),
                match="some parameters appear in more than one parameter group")
    check_error(lambda: optim.SGD([c * 2], lr=0.1), lambda: torch.optim.SGD([t * 2], lr=0.1),
                match="can't optimize a non-leaf Tensor")
    check_error(lambda: optim.SGD([{"params": [c]}], momentum=0.9),
                lambda: torch.optim.SGD([{"params": [t]}], momentum=0.9),
                match="required optimization parameter lr")
    oc, ot = optim.SGD([c], lr=0.1), torch.optim.SGD([t], lr=0.1)
    check_error(lambda: oc.add_param_group({"params": [c]}),
                lambda: ot.add_param_group({"params": [t]}),
                match="some parameters appear in more than one parameter group")
    with pytest.raises(TypeError):
        optim.SGD(c, lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD([1.0], lr=0.1)
    with pytest.raises(cnnc.Error, match="duplicate parameters"):
        optim.SGD([c, c], lr=0.1)
    # a group may set its own lr without a default one
    optim.SGD([{"params": [c], "lr": 0.1}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.optim.SGD([{"params": [t], "lr": 0.1}])


def test_unsupported_modes():
    c = cnnc.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="capturable"):
        optim.Adam([c], capturable=True)
    with pytest.raises(cnnc.Error, match="fused=True is not supported"):
        optim.Adam([c]).param_groups[0]["fused"] = True
    with pytest.raises(cnnc.Error, match="must be a bool"):
        optim.SGD([c], lr=0.1).param_groups[0]["nesterov"] = 0.5
    with pytest.raises(cnnc.Error, match="must be a pair"):
        optim.Adam([c]).param_groups[0]["betas"] = (0.9,)


def test_load_state_dict_errors():
    t1, t2 = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    c1, c2 = cnnc.zeros(2, requires_grad=True), cnnc.zeros(3, requires_grad=True)
    ot, oc = torch.optim.Adam([t1, t2]), optim.Adam([c1, c2])
    for t, c in ((t1, c1), (t2, c2)):
        t.grad, c.grad = torch.ones(t.shape), cnnc.ones(*c.shape)
    ot.step()
    oc.step()
    sd_t, sd_c = ot.state_dict(), oc.state_dict()
    two_groups = dict(sd_c, param_groups=sd_c["param_groups"] * 2)
    check_error(lambda: oc.load_state_dict(two_groups),
                lambda: ot.load_state_dict(dict(sd_t, param_groups=sd_t["param_groups"] * 2)),
                match="loaded state dict has a different number of parameter groups")
    one = [dict(sd_c["param_groups"][0], params=[0])]
    check_error(lambda: oc.load_state_dict(dict(sd_c, param_groups=one)),
                lambda: ot.load_state_dict(dict(sd_t, param_groups=[
                    dict(sd_t["param_groups"][0], params=[0])])),
                match="loaded state dict contains a parameter group that doesn't match the "
                      "size of optimizer's group")
    before = oc.state_dict()
    bad = {"state": {0: dict(sd_c["state"][0], exp_avg=np.zeros(5, np.float32))},
           "param_groups": sd_c["param_groups"]}
    with pytest.raises(cnnc.Error, match="shape"):
        oc.load_state_dict(bad)
    with pytest.raises(cnnc.Error, match="has no state 'momentum_buffer'"):
        oc.load_state_dict({"state": {0: {"momentum_buffer": np.zeros(2, np.float32)}},
                            "param_groups": sd_c["param_groups"]})
    with pytest.raises(cnnc.Error, match="no parameter has index 7"):
        oc.load_state_dict({"state": {7: sd_c["state"][0]}, "param_groups": sd_c["param_groups"]})
    with pytest.raises(cnnc.Error, match="has no 'lr'"):
        g = dict(sd_c["param_groups"][0])
        del g["lr"]
        oc.load_state_dict({"state": {}, "param_groups": [g]})
    assert_state_equal_dicts(before, oc.state_dict())  # nothing changed
    # flags PyTorch's __setstate__ defaults may be missing
    g = {k: v for k, v in sd_c["param_groups"][0].items() if k not in ("amsgrad", "foreach")}
    oc.load_state_dict({"state": {}, "param_groups": [g]})
    assert oc.param_groups[0]["amsgrad"] is False and oc.param_groups[0]["foreach"] is None


def assert_state_equal_dicts(a, b):
    assert a["param_groups"] == b["param_groups"]
    assert sorted(a["state"]) == sorted(b["state"])
    for i in a["state"]:
        for k in a["state"][i]:
            np.testing.assert_array_equal(np.asarray(a["state"][i][k]), np.asarray(b["state"][i][k]))
