"""Learning-rate schedulers against torch.optim.lr_scheduler 1.13: the lr of every
group (and OneCycleLR's momentum / beta1) compared exactly after every step,
recursive and closed forms, SequentialLR's quirks, ReduceLROnPlateau with
metrics, state_dict layout and round trips, errors."""
import numpy as np
import pytest
import torch
import torch.optim.lr_scheduler as TL

import cnnc
import cnnc.optim.lr_scheduler as CL
from helpers import check_error, rng, seeds

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch's step-order advice


def optimizers(kind="SGD", lrs=(0.1, 0.03), **kw):
    """The same optimizer in both libraries, one group per lr."""
    tp = [torch.zeros(2, requires_grad=True) for _ in lrs]
    cp = [cnnc.zeros(2, requires_grad=True) for _ in lrs]
    if kind == "SGD":
        kw.setdefault("momentum", 0.9)
    ot = getattr(torch.optim, kind)([{"params": [p], "lr": lr} for p, lr in zip(tp, lrs)], **kw)
    oc = getattr(cnnc.optim, kind)([{"params": [p], "lr": lr} for p, lr in zip(cp, lrs)], **kw)
    return ot, oc


def group_values(o, key):
    return [g[key] for g in o.param_groups]


def assert_same(ot, oc, st, sc, what, last_lr=True):
    assert group_values(oc, "lr") == group_values(ot, "lr"), what
    for key in ("momentum", "betas"):
        if key in ot.param_groups[0]:
            assert group_values(oc, key) == group_values(ot, key), "%s: %s" % (what, key)
    if last_lr:
        assert sc.get_last_lr() == st.get_last_lr(), what
    assert sc.last_epoch == st.last_epoch, what


def run(make, steps=40, kind="SGD", lrs=(0.1, 0.03), epochs=None, metrics=None, **okw):
    """Builds the scheduler with make(module, optimizer) and steps both; epochs[i],
    when given, is passed to step(epoch) (the closed form)."""
    ot, oc = optimizers(kind, lrs, **okw)
    st, sc = make(TL, ot), make(CL, oc)
    plateau = isinstance(st, TL.ReduceLROnPlateau)
    assert_same(ot, oc, st, sc, "after construction", last_lr=not plateau)
    for i in range(steps):
        if metrics is not None:
            st.step(metrics[i])
            sc.step(metrics[i])
        elif epochs is not None:
            st.step(epochs[i])
            sc.step(epochs[i])
        else:
            st.step()
            sc.step()
        assert_same(ot, oc, st, sc, "step %d" % i, last_lr=not plateau)
    return ot, oc, st, sc


SCHEDULERS = {
    "StepLR": [lambda M, o: M.StepLR(o, 7), lambda M, o: M.StepLR(o, 1, gamma=0.9),
               lambda M, o: M.StepLR(o, 3, gamma=1.7)],
    "MultiStepLR": [lambda M, o: M.MultiStepLR(o, [3, 10, 20]),
                    lambda M, o: M.MultiStepLR(o, [5, 5, 2, 30], gamma=0.37),
                    lambda M, o: M.MultiStepLR(o, [])],
    "ExponentialLR": [lambda M, o: M.ExponentialLR(o, 0.9), lambda M, o: M.ExponentialLR(o, 1.01)],
    "CosineAnnealingLR": [lambda M, o: M.CosineAnnealingLR(o, 10),
                          lambda M, o: M.CosineAnnealingLR(o, 7, eta_min=0.003),
                          lambda M, o: M.CosineAnnealingLR(o, 1, eta_min=1e-4)],
    "LinearLR": [lambda M, o: M.LinearLR(o), lambda M, o: M.LinearLR(o, 0.1, 0.9, 13),
                 lambda M, o: M.LinearLR(o, 1.0, 0.2, 4), lambda M, o: M.LinearLR(o, 0.5, 0.5, 3)],
    "LambdaLR": [lambda M, o: M.LambdaLR(o, lambda e: 0.95 ** e),
                 lambda M, o: M.LambdaLR(o, [lambda e: 1.0 / (e + 1), lambda e: e % 4 + 0.5])],
    "OneCycleLR": [lambda M, o: M.OneCycleLR(o, 0.5, total_steps=41),
                   lambda M, o: M.OneCycleLR(o, [0.5, 0.2], epochs=5, steps_per_epoch=9,
                                             anneal_strategy="linear"),
                   lambda M, o: M.OneCycleLR(o, 1.0, total_steps=41, three_phase=True,
                                             pct_start=0.25, div_factor=10.0,
                                             final_div_factor=100.0),
                   lambda M, o: M.OneCycleLR(o, 0.3, total_steps=50, cycle_momentum=False),
                   lambda M, o: M.OneCycleLR(o, 0.3, total_steps=45, base_momentum=[0.8, 0.7],
                                             max_momentum=(0.95, 0.99), three_phase=True,
                                             anneal_strategy="linear")],
}
CASES = [(name, i) for name, fs in SCHEDULERS.items() for i in range(len(fs))]


@pytest.mark.parametrize("name,i", CASES)
@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_sequences(name, i, kind):
    """40 steps of the recursive form, lr (and momentum / betas) of every group."""
    run(SCHEDULERS[name][i], kind=kind)


CLOSED = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "LambdaLR"]


@pytest.mark.parametrize("name,i", [c for c in CASES if c[0] in CLOSED])
@seeds(2)
def test_closed_forms(name, i, seed):
    """step(epoch): jumps (forward, back, repeated, beyond the schedule)."""
    r = rng(seed)
    epochs = [int(e) for e in r.randint(0, 30, size=25)] + [0, 0, 5, 5, 40]
    run(SCHEDULERS[name][i], steps=len(epochs), epochs=epochs)


@pytest.mark.parametrize("name,i", [c for c in CASES if c[0] != "OneCycleLR"])
def test_resume_with_last_epoch(name, i):
    """last_epoch != -1: initial_lr is required and used (CosineAnnealingLR's
    first-step branch)."""
    ot, oc = optimizers()
    SCHEDULERS[name][i](TL, ot)
    SCHEDULERS[name][i](CL, oc)
    ot2, oc2 = optimizers(lrs=(0.5, 0.2))
    for gt, gc, g0 in zip(ot2.param_groups, oc2.param_groups, ot.param_groups):
        gt["initial_lr"] = gc["initial_lr"] = g0["initial_lr"]

    def make(M, o):
        return _with_last_epoch(SCHEDULERS[name][i], M, o, 6)
    st, sc = make(TL, ot2), make(CL, oc2)
    assert_same(ot2, oc2, st, sc, "resumed")
    for k in range(10):
        st.step()
        sc.step()
        assert_same(ot2, oc2, st, sc, "resumed step %d" % k)


def _with_last_epoch(make, M, o, last_epoch):
    """Calls the case's constructor with last_epoch set, by wrapping the class."""
    class Wrapped:
        def __getattr__(self, name):
            cls = getattr(M, name)
            return lambda *a, **kw: cls(*a, last_epoch=last_epoch, **kw)
    return make(Wrapped(), o)


def test_resume_requires_initial_lr():
    ot, oc = optimizers()
    check_error(lambda: CL.StepLR(oc, 3, last_epoch=4), lambda: TL.StepLR(ot, 3, last_epoch=4),
                match="param 'initial_lr' is not specified in param_groups[0] when resuming an "
                      "optimizer", torch_exceptions=(KeyError,))


def test_onecycle_momentum_and_too_many_steps():
    for kind in ("SGD", "Adam", "AdamW", "RMSprop"):
        kw = {"momentum": 0.5} if kind == "RMSprop" else {}
        ot, oc, st, sc = run(lambda M, o: M.OneCycleLR(o, 0.4, total_steps=20), steps=19,
                             kind=kind, **kw)
        st.step()
        sc.step()
        check_error(sc.step, st.step, match="Tried to step 22 times. The specified number of "
                                            "total steps is 20")
        assert sc.last_epoch == st.last_epoch == 21


@seeds(6)
def test_plateau(seed):
    r = rng(seed)
    mode = ["min", "max"][seed % 2]
    tmode = ["rel", "abs"][(seed // 2) % 2]
    kw = dict(mode=mode, factor=float(r.choice([0.1, 0.5, 0.9])), patience=int(r.randint(0, 4)),
              threshold=float(r.choice([1e-4, 0.1, 0.0])), threshold_mode=tmode,
              cooldown=int(r.randint(0, 3)), min_lr=[0.0, 0.01] if seed % 3 == 0 else 1e-3,
              eps=float(r.choice([1e-8, 1e-3])))
    metrics = [float(x) for x in np.cumsum(r.standard_normal(60)) * 0.1 + 5]
    metrics[10:20] = [metrics[10]] * 10  # a plateau
    ot, oc, st, sc = run(lambda M, o: M.ReduceLROnPlateau(o, **kw), steps=60, metrics=metrics)
    assert sc.get_last_lr() == st._last_lr
    for k in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        assert sc.state_dict()[k] == st.state_dict()[k], k


def test_plateau_metric_tensor_and_epoch():
    ot, oc = optimizers()
    st, sc = TL.ReduceLROnPlateau(ot, patience=0), CL.ReduceLROnPlateau(oc, patience=0)
    for i, m in enumerate([1.0, 2.0, 3.0, 0.5, 0.5]):
        st.step(torch.tensor(m), epoch=10 + i if i == 2 else None)
        sc.step(cnnc.tensor(np.float32(m)), epoch=10 + i if i == 2 else None)
        assert group_values(oc, "lr") == group_values(ot, "lr")
        assert sc.last_epoch == st.last_epoch


SEQUENTIAL = [
    lambda M, o: M.SequentialLR(o, [M.LinearLR(o, 0.1, total_iters=5), M.CosineAnnealingLR(o, 20),
                                    M.ExponentialLR(o, 0.9)], milestones=[5, 25]),
    lambda M, o: M.SequentialLR(o, [M.ExponentialLR(o, 0.5), M.StepLR(o, 3)], milestones=[4]),
    lambda M, o: M.SequentialLR(o, [M.LambdaLR(o, lambda e: 0.9 ** e),
                                    M.MultiStepLR(o, [2, 8], gamma=0.5)], milestones=[6]),
    lambda M, o: M.SequentialLR(o, [M.LinearLR(o, 0.5, total_iters=3),
                                    M.OneCycleLR(o, 0.5, total_steps=50)], milestones=[3]),
    lambda M, o: M.SequentialLR(o, [M.StepLR(o, 2), M.ExponentialLR(o, 0.8),
                                    M.CosineAnnealingLR(o, 5, eta_min=0.01)], milestones=[7, 3]),
    lambda M, o: M.SequentialLR(o, [M.ExponentialLR(o, 0.9)], milestones=[], last_epoch=4),
]


@pytest.mark.parametrize("i", range(len(SEQUENTIAL)))
def test_sequential(i):
    """1.13's SequentialLR, quirks included (lr reset, schedulers moved back an
    epoch, step(0) at milestones, unsorted milestones taken as given)."""
    ot, oc, st, sc = run(SEQUENTIAL[i], steps=40)
    for a, b in zip(st._schedulers, sc._schedulers):
        assert a.last_epoch == b.last_epoch


def test_verbose(capfd):
    ot, oc = optimizers(lrs=(0.1,))
    st = TL.StepLR(ot, 2, verbose=True)
    st.step()
    st.step(5)
    want = capfd.readouterr().out
    sc = CL.StepLR(oc, 2, verbose=True)
    sc.step()
    sc.step(5)
    assert capfd.readouterr().out == want
    st, sc = (M.ReduceLROnPlateau(o, patience=0, verbose=True) for M, o in ((TL, ot), (CL, oc)))
    st.step(1.0)
    st.step(2.0)
    want = capfd.readouterr().out
    sc.step(1.0)
    sc.step(2.0)
    assert capfd.readouterr().out == want and "reducing learning rate" in want


# --- state_dict ------------------------------------------------------------------------

STATEFUL = ([SCHEDULERS[n][i] for n, i in CASES] + SEQUENTIAL[:4] +
            [lambda M, o: M.ReduceLROnPlateau(o, mode="max", patience=1, min_lr=[0.01, 0.02])])
SKIP_KEYS = {"anneal_func", "anneal_strategy", "_get_lr_called_within_step"}


def comparable(sd):
    out = {}
    for k, v in sd.items():
        if k in SKIP_KEYS:
            continue
        if isinstance(v, list) and v and isinstance(v[0], dict):
            v = [comparable(x) for x in v]
        out[k] = v
    return out


@pytest.mark.parametrize("i", range(len(STATEFUL)))
def test_state_dict(i):
    """Torch's layout; cnnc -> dict -> a new cnnc scheduler, and torch's dict into
    cnnc, continue exactly like the uninterrupted torch scheduler."""
    make = STATEFUL[i]
    metrics = [3.0, 2.0, 2.5, 2.5, 2.5, 1.0, 1.0, 1.0, 1.0] * 5
    ot, oc = optimizers()
    st, sc = make(TL, ot), make(CL, oc)
    plateau = isinstance(st, TL.ReduceLROnPlateau)

    def step(s, k):
        s.step(metrics[k]) if plateau else s.step()
    for k in range(7):
        step(st, k)
        step(sc, k)
    ts, cs = st.state_dict(), sc.state_dict()
    assert comparable(cs) == comparable(ts)
    resumed = []
    for sd, o in ((cs, oc), (ts, ot)):  # a checkpoint resumed: build, then load both
        oc2 = optimizers()[1]
        sc2 = make(CL, oc2)
        oc2.load_state_dict(o.state_dict())
        sc2.load_state_dict(sd)
        resumed.append((oc2, sc2))
    for k in range(7, 30):
        step(st, k)
        step(sc, k)
        for oc2, sc2 in resumed:
            step(sc2, k)
            assert group_values(oc2, "lr") == group_values(ot, "lr"), "resumed step %d" % k
            assert sc2.last_epoch == st.last_epoch


def test_load_state_dict_errors():
    ot, oc = optimizers()
    sc = CL.StepLR(oc, 3)
    sd = sc.state_dict()
    with pytest.raises(cnnc.Error, match="unexpected key 'foo'"):
        sc.load_state_dict(dict(sd, foo=1))
    with pytest.raises(cnnc.Error, match="must be an int"):
        sc.load_state_dict(dict(sd, step_size=2.5))
    missing = dict(sd)
    del missing["gamma"]
    with pytest.raises(cnnc.Error, match="has no 'gamma'"):
        sc.load_state_dict(missing)
    assert sc.state_dict() == sd  # nothing changed
    seq = CL.SequentialLR(oc, [CL.StepLR(oc, 2), CL.ExponentialLR(oc, 0.5)], [3])
    sd = seq.state_dict()
    bad = dict(sd, _schedulers=[sd["_schedulers"][0], dict(sd["_schedulers"][1], gamma="x")])
    with pytest.raises(cnnc.Error, match="gamma"):
        seq.load_state_dict(bad)
    assert seq.state_dict() == sd


# --- errors ---------------------------------------------------------------------------------

ERRORS = [
    (lambda M, o: M.LinearLR(o, start_factor=1.5), "Starting multiplicative factor expected to "
                                                   "be between 0 and 1."),
    (lambda M, o: M.LinearLR(o, end_factor=-0.1), "Ending multiplicative factor expected to be "
                                                  "between 0 and 1."),
    (lambda M, o: M.OneCycleLR(o, 0.1), "You must define either total_steps OR (epochs AND "
                                        "steps_per_epoch)"),
    (lambda M, o: M.OneCycleLR(o, 0.1, total_steps=0), "Expected positive integer total_steps, "
                                                       "but got 0"),
    (lambda M, o: M.OneCycleLR(o, 0.1, epochs=-2, steps_per_epoch=3), "Expected positive integer "
                                                                      "epochs, but got -2"),
    (lambda M, o: M.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=0), "Expected positive integer "
                                                                     "steps_per_epoch, but got 0"),
    (lambda M, o: M.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), "Expected float between 0 "
                                                                       "and 1 pct_start, but got 1.5"),
    (lambda M, o: M.OneCycleLR(o, 0.1, total_steps=10, pct_start=1), "Expected float between 0 "
                                                                     "and 1 pct_start, but got 1"),
    (lambda M, o: M.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"),
     "anneal_strategy must by one of 'cos' or 'linear', instead got exp"),
    (lambda M, o: M.OneCycleLR(o, [0.1], total_steps=10), "expected 2 values for max_lr, got 1"),
    (lambda M, o: M.OneCycleLR(o, 0.1, total_steps=10, max_momentum=[0.9, 0.9, 0.9]),
     "expected 2 values for max_momentum, got 3"),
    (lambda M, o: M.ReduceLROnPlateau(o, factor=1.0), "Factor should be < 1.0."),
    (lambda M, o: M.ReduceLROnPlateau(o, mode="avg"), "mode avg is unknown!"),
    (lambda M, o: M.ReduceLROnPlateau(o, threshold_mode="x"), "threshold mode x is unknown!"),
    (lambda M, o: M.ReduceLROnPlateau(o, min_lr=[0.1]), "expected 2 min_lrs, got 1"),
    (lambda M, o: M.LambdaLR(o, [lambda e: 1.0]), "Expected 2 lr_lambdas, but got 1"),
    (lambda M, o: M.SequentialLR(o, [M.StepLR(o, 2), M.StepLR(o, 3)], milestones=[1, 2]),
     "Sequential Schedulers expects number of schedulers provided to be one more than the "
     "number of milestone points, but got number of schedulers 2 and the number of milestones "
     "to be equal to 2"),
    (lambda M, o: M.LinearLR(o, start_factor=0.0), "float division by zero"),
    (lambda M, o: M.StepLR(o, 0), "integer modulo by zero"),
    (lambda M, o: M.CosineAnnealingLR(o, 0), "integer modulo by zero"),
    (lambda M, o: M.OneCycleLR(o, 0.1, total_steps=10, div_factor=0.0), "float division by zero"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    """Constructor errors, and errors of the first steps (Python's
    ZeroDivisionError included)."""
    make, msg = ERRORS[i]
    ot, oc = optimizers()

    def both(M, o):
        s = make(M, o)
        for _ in range(3):
            s.step()
    check_error(lambda: both(CL, oc), lambda: both(TL, ot), match=msg,
                torch_exceptions=(ValueError, ZeroDivisionError, TypeError))


def test_errors_other():
    ot, oc = optimizers()
    ot2, oc2 = optimizers()
    check_error(lambda: CL.SequentialLR(oc, [CL.StepLR(oc, 2), CL.StepLR(oc2, 2)], [2]),
                lambda: TL.SequentialLR(ot, [TL.StepLR(ot, 2), TL.StepLR(ot2, 2)], [2]),
                match="Sequential Schedulers expects all schedulers to belong to the same "
                      "optimizer, but got schedulers at index 1 to be different than the "
                      "optimizer passed in.")
    check_error(lambda: CL.OneCycleLR(cnnc.optim.Adagrad([cnnc.zeros(1, requires_grad=True)]),
                                      0.1, total_steps=5),
                lambda: TL.OneCycleLR(torch.optim.Adagrad([torch.zeros(1, requires_grad=True)]),
                                      0.1, total_steps=5),
                match="optimizer must support momentum with `cycle_momentum` option enabled")
    with pytest.raises(TypeError, match="is not an Optimizer"):
        CL.StepLR(ot, 2)
    with pytest.raises(cnnc.Error, match="ReduceLROnPlateau"):
        CL.SequentialLR(oc, [CL.StepLR(oc, 2), CL.ReduceLROnPlateau(oc)], [2])

    def bad(e):
        if e == 3:
            raise ArithmeticError("bad epoch %d" % e)
        return 1.0
    sc = CL.LambdaLR(oc, bad)
    sc.step()
    sc.step()
    with pytest.raises(ArithmeticError, match="bad epoch 3"):
        sc.step()
