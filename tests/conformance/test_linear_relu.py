"""F.relu / F.relu_ / Tensor.relu and F.linear against torch.nn.functional."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnc
import cnnc.nn.functional as F
from helpers import check_error, check_op, randn, random_shape, rng, seeds


# --- relu ----------------------------------------------------------------------------------

@seeds(10)
def test_relu_random(seed):
    r = rng(seed)
    x = randn(r, *random_shape(r, r.randint(0, 6)))
    x.flat[:: 3] = 0.0  # exact zeros: the gradient there is 0, as torch
    check_op(F.relu, TF.relu, [x], seed=seed)
    check_op(lambda a: a.relu(), lambda a: a.relu(), [x], seed=seed)
    check_op(cnnc.relu, torch.relu, [x], seed=seed)


@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,), (1000, 33)])
def test_relu_shapes(shape):
    x = randn(rng(1), *shape)
    check_op(F.relu, TF.relu, [x])
    check_op(lambda a: F.relu(a * 1, inplace=True), lambda a: TF.relu(a * 1, inplace=True), [x])
    check_op(lambda a: F.relu_(a * 1), lambda a: TF.relu_(a * 1), [x])


def test_relu_special_values():
    x = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1e-45, -1e-45, 3e38], np.float32)
    check_op(F.relu, TF.relu, [x], requires_grad=False)
    # relu keeps NaN; negative zero stays a zero (its sign is not compared by value).
    out = F.relu(cnnc.tensor(x)).numpy()
    assert np.isnan(out[2])


def test_relu_inplace_returns_input():
    y = cnnc.tensor([-1.0, 1.0], requires_grad=True) * 1
    assert F.relu(y, inplace=True) is y
    assert F.relu_(y) is y
    z = cnnc.tensor([-1.0, 1.0])
    assert F.relu_(z) is z
    np.testing.assert_array_equal(z.numpy(), [0.0, 1.0])


def test_relu_int64_is_refused():
    """torch also accepts int64; cnnc's functional ops are float32 (cnnc.h) and
    must refuse other dtypes with an error, never compute garbage."""
    with pytest.raises(cnnc.Error, match="float32"):
        F.relu(cnnc.tensor([-2, 0, 3]))
    with pytest.raises(cnnc.Error, match="float32"):
        F.linear(cnnc.tensor([[1, 2]]), cnnc.ones(3, 2))


def test_relu_inplace_leaf_requiring_grad_errors():
    check_error(lambda: F.relu_(cnnc.ones(2, requires_grad=True)),
                lambda: TF.relu_(torch.ones(2, requires_grad=True)), "leaf")


def test_relu_not_a_tensor():
    with pytest.raises(TypeError):
        F.relu([1.0, 2.0])


# --- linear --------------------------------------------------------------------------------

LINEAR_INPUTS = [(), (5,), (2, 3), (0,), (2, 0), (1, 1, 1)]


@pytest.mark.parametrize("batch", LINEAR_INPUTS)
@pytest.mark.parametrize("bias", [True, False])
@seeds(3)
def test_linear(batch, bias, seed):
    r = rng(seed)
    fin, fout = int(r.randint(1, 9)), int(r.randint(1, 9))
    x = randn(r, *batch, fin)
    w = randn(r, fout, fin)
    b = randn(r, fout) if bias else None
    check_op(F.linear, TF.linear, [x, w, b], seed=seed)
    check_op(lambda a, wt, bs: F.linear(a, wt, bias=bs),
             lambda a, wt, bs: TF.linear(a, wt, bias=bs),
             [x, w, b], requires_grad=[False, True, True], seed=seed)
    check_op(lambda a, wt, bs: F.linear(input=a, weight=wt, bias=bs),
             lambda a, wt, bs: TF.linear(input=a, weight=wt, bias=bs),
             [x, w, b], requires_grad=[True, False, False], seed=seed)


@pytest.mark.parametrize("fin,fout", [(0, 3), (3, 0), (1, 1), (257, 129), (64, 1)])
def test_linear_sizes(fin, fout):
    r = rng(fin + fout)
    x, w, b = randn(r, 4, fin), randn(r, fout, fin), randn(r, fout)
    check_op(F.linear, TF.linear, [x, w, b], rtol=1e-4, atol=1e-4)
    check_op(F.linear, TF.linear, [x, w, None], rtol=1e-4, atol=1e-4)


def test_linear_relu_chain():
    r = rng(3)
    x, w1, b1, w2 = randn(r, 6, 5), randn(r, 7, 5), randn(r, 7), randn(r, 2, 7)

    def net(lin, relu):
        return lambda a, p, q, s: lin(relu(lin(a, p, q)), s).sum()
    check_op(net(F.linear, F.relu), net(TF.linear, TF.relu), [x, w1, b1, w2])


@pytest.mark.parametrize("xs,ws,bs", [((2, 3), (4, 5), (4,)), ((3,), (4, 2), None),
                                      ((2, 3), (4, 3), (5,)),
                                      ((), (4, 3), None), ((2, 3), (4, 3), (4, 1)),
                                      ((2, 3), (1, 4, 3), None)])
def test_linear_shape_errors(xs, ws, bs):
    def run(lib, fn):
        return fn(lib.zeros(xs), lib.zeros(ws), None if bs is None else lib.zeros(bs))
    check_error(lambda: run(cnnc, F.linear), lambda: run(torch, TF.linear))


def test_linear_weight_mismatch_message():
    cm, tm = check_error(lambda: F.linear(cnnc.zeros(2, 3), cnnc.zeros(4, 5)),
                         lambda: TF.linear(torch.zeros(2, 3), torch.zeros(4, 5)),
                         "shapes cannot be multiplied")
    assert "2x3" in cm and "5x4" in cm, (cm, tm)
