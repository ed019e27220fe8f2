"""Tensors: creation, shapes (0-d, zero-size), data, elementwise ops with
broadcasting, reductions, shape ops, cat and matmul, forward and gradients."""
import itertools

import numpy as np
import pytest
import torch

import cnnc
from helpers import (assert_close, broadcastable, check_error, check_op, nonzero, randn,
                     random_shape, rng, seeds)

SHAPES = [(), (1,), (5,), (0,), (2, 3), (2, 0, 3), (3, 1, 4, 2), (1, 2, 1, 2, 1, 2)]


# --- creation ----------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("np_dtype", [np.float32, np.float64, np.int32, np.int64])
def test_tensor_from_numpy(shape, np_dtype):
    a = (np.arange(int(np.prod(shape))) - 3).reshape(shape).astype(np_dtype)
    c = cnnc.tensor(a)
    want = torch.tensor(a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int64))
    assert_close(c, want, 0, 0)
    assert c.shape == c.numpy().shape == tuple(want.shape)
    assert c.ndim == want.ndim and c.numel() == want.numel()
    assert c.dtype == ("float32" if a.dtype.kind == "f" else "int64")
    assert c.numpy().dtype == (np.float32 if a.dtype.kind == "f" else np.int64)
    assert not c.requires_grad and c.is_leaf and c.grad is None and c.grad_fn is None


@pytest.mark.parametrize("data", [1.5, 3, [1.0, 2.5], [[1, 2], [3, 4]], [], [[]],
                                  [[0.5], [-1.0]]])
def test_tensor_from_python(data):
    assert_close(cnnc.tensor(data), torch.tensor(data), 0, 0)


def test_tensor_noncontiguous_numpy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4).transpose(2, 0, 1)[::2]
    assert_close(cnnc.tensor(a), torch.tensor(np.ascontiguousarray(a)), 0, 0)


def test_numpy_is_a_copy():
    c = cnnc.tensor(np.ones((2, 2), np.float32))
    a = c.numpy()
    a[:] = 7
    np.testing.assert_array_equal(c.numpy(), np.ones((2, 2), np.float32))
    src = np.zeros(3, np.float32)
    c = cnnc.tensor(src)
    src[:] = 5
    np.testing.assert_array_equal(c.numpy(), np.zeros(3, np.float32))


def test_item():
    assert cnnc.tensor(2.5).item() == torch.tensor(2.5).item()
    assert cnnc.tensor([[3.25]]).item() == 3.25
    assert cnnc.tensor(7).item() == 7 and isinstance(cnnc.tensor(7).item(), int)
    assert cnnc.tensor([[2**62 + 1]]).item() == torch.tensor([[2**62 + 1]]).item() == 2**62 + 1
    check_error(lambda: cnnc.tensor([1.0, 2.0]).item(), lambda: torch.tensor([1.0, 2.0]).item())
    check_error(lambda: cnnc.tensor(np.zeros((0,), np.float32)).item(),
                lambda: torch.zeros(0).item())


@pytest.mark.parametrize("shape", SHAPES)
def test_zeros_ones_full(shape):
    assert_close(cnnc.zeros(*shape), torch.zeros(shape), 0, 0)
    assert_close(cnnc.ones(shape), torch.ones(shape), 0, 0)
    assert_close(cnnc.zeros(shape, dtype="int64"), torch.zeros(shape, dtype=torch.int64), 0, 0)
    assert_close(cnnc.full(shape, 2.5), torch.full(shape, 2.5), 0, 0)
    assert_close(cnnc.full(shape, -3), torch.full(shape, -3), 0, 0)
    assert_close(cnnc.ones(shape, dtype="int64"), torch.ones(shape, dtype=torch.int64), 0, 0)
    assert cnnc.empty(shape).shape == tuple(torch.empty(shape).shape)
    z = cnnc.zeros(shape, requires_grad=True)
    assert z.requires_grad and z.is_leaf


def test_negative_size_errors():
    check_error(lambda: cnnc.zeros(2, -1), lambda: torch.zeros(2, -1))
    check_error(lambda: cnnc.ones(-3), lambda: torch.ones(-3))
    check_error(lambda: cnnc.full((-1,), 1.0), lambda: torch.full((-1,), 1.0))


def test_too_many_dims_is_an_error():
    with pytest.raises(cnnc.Error):
        cnnc.zeros(*([1] * 9))
    with pytest.raises(cnnc.Error):
        cnnc.tensor(np.zeros([1] * 9, np.float32))
    assert cnnc.zeros(*([1] * 8)).shape == (1,) * 8


@pytest.mark.parametrize("args", [(5,), (0,), (2, 7), (1, 10, 3), (10, 1, -3), (0.5, 3.1, 0.7),
                                  (-1.0, 1.0, 0.25), (3, 3), (1.0, 2.0, 0.3), (0, 1, 0.1),
                                  (5.5,), (0, 10, 4)])
def test_arange(args):
    assert_close(cnnc.arange(*args), torch.arange(*args), 1e-6, 1e-6)


@seeds(8)
def test_arange_random_float(seed):
    r = rng(seed)
    start = float(r.uniform(-5, 5))
    step = float(r.uniform(0.05, 2)) * (1 if r.rand() < 0.5 else -1)
    end = start + step * float(r.uniform(0, 30))
    assert_close(cnnc.arange(start, end, step), torch.arange(start, end, step), 1e-5, 1e-5)
    assert_close(cnnc.arange(start, end, step, dtype="float32"),
                 torch.arange(start, end, step, dtype=torch.float32), 1e-5, 1e-5)


def test_arange_errors():
    check_error(lambda: cnnc.arange(0, 5, 0), lambda: torch.arange(0, 5, 0))
    check_error(lambda: cnnc.arange(0, 5, -1), lambda: torch.arange(0, 5, -1))
    check_error(lambda: cnnc.arange(5, 0, 1), lambda: torch.arange(5, 0, 1))


@pytest.mark.parametrize("shape", [(), (0,), (3,), (1000,), (4, 0, 2), (64, 65)])
def test_rand_randn_shapes(shape):
    for fn in (cnnc.rand, cnnc.randn):
        t = fn(*shape)
        assert t.shape == shape and t.dtype == "float32" and not t.requires_grad
    u = cnnc.rand(*shape).numpy()
    assert np.all((u >= 0) & (u < 1))
    assert cnnc.randn(*shape, requires_grad=True).requires_grad


def test_manual_seed_reproducible():
    cnnc.manual_seed(123)
    a = cnnc.randn(50).numpy()
    b = cnnc.rand(50).numpy()
    cnnc.manual_seed(123)
    np.testing.assert_array_equal(a, cnnc.randn(50).numpy())
    np.testing.assert_array_equal(b, cnnc.rand(50).numpy())
    cnnc.manual_seed(124)
    assert not np.array_equal(a, cnnc.randn(50).numpy())


def test_rand_randn_distribution():
    cnnc.manual_seed(7)
    n = 200000
    u = cnnc.rand(n).numpy().astype(np.float64)
    g = cnnc.randn(n).numpy().astype(np.float64)
    # 6-sigma bounds on the sample mean / std: a correct generator never fails them.
    assert abs(u.mean() - 0.5) < 6 * np.sqrt(1 / 12 / n)
    assert abs(u.std() - np.sqrt(1 / 12)) < 0.005
    assert abs(g.mean()) < 6 / np.sqrt(n)
    assert abs(g.std() - 1) < 0.01
    assert abs(np.mean(g ** 3)) < 0.05  # symmetric
    assert abs(np.mean(g ** 4) - 3) < 0.1  # gaussian tails
    assert len(np.unique(u)) > 0.99 * n


def test_requires_grad_only_for_float():
    check_error(lambda: cnnc.tensor([1, 2], requires_grad=True),
                lambda: torch.tensor([1, 2], requires_grad=True))
    t = cnnc.tensor([1, 2])

    def set_int():
        t.requires_grad = True
    tt = torch.tensor([1, 2])

    def set_int_torch():
        tt.requires_grad = True
    check_error(set_int, set_int_torch)


def test_repr():
    r = repr(cnnc.tensor([[0.1, 2.0]]))
    assert r == repr(torch.tensor([[0.1, 2.0]])) == "tensor([[0.1000, 2.0000]])"
    r = repr(cnnc.tensor([[0.1, 2.0]], requires_grad=True))
    assert r == repr(torch.tensor([[0.1, 2.0]], requires_grad=True))
    assert repr(cnnc.tensor([1, 2, 3])) == repr(torch.tensor([1, 2, 3]))
    assert repr(cnnc.tensor(1.5)) == repr(torch.tensor(1.5))
    big = repr(cnnc.zeros(100, 100))
    assert big.startswith("tensor(") and "..." in big


def test_detach_shares_storage_and_version():
    for lib in (cnnc, torch):
        x = lib.tensor(np.array([-1.0, 2.0], np.float32), requires_grad=True)
        y = x * 2
        d = y.detach()
        assert not d.requires_grad and d.is_leaf and d.grad_fn is None
        d.relu_()
        np.testing.assert_array_equal(np.asarray(y.detach().numpy()), [0.0, 4.0])
        assert y._version == d._version == 1


def test_views_share_storage():
    for lib in (cnnc, torch):
        x = lib.tensor(np.array([[-1.0, 2.0], [3.0, -4.0]], np.float32))
        for v in (x.reshape(4), x.view(-1), x.flatten()):
            v.relu_()
        np.testing.assert_array_equal(x.numpy(), [[0.0, 2.0], [3.0, 0.0]])


def test_clone_is_independent_and_differentiable():
    for lib in (cnnc, torch):
        x = lib.tensor(np.array([-1.0, 2.0], np.float32), requires_grad=True)
        c = x.clone()
        assert c.requires_grad and not c.is_leaf
        c.relu_()
        np.testing.assert_array_equal(x.detach().numpy(), [-1.0, 2.0])
        c.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])


def test_fill_zero_copy():
    for lib in (cnnc, torch):
        x = lib.zeros(2, 3)
        x.fill_(2.5)
        np.testing.assert_array_equal(x.numpy(), np.full((2, 3), 2.5, np.float32))
        x.zero_()
        np.testing.assert_array_equal(x.numpy(), np.zeros((2, 3), np.float32))
        x.copy_(lib.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)))
        np.testing.assert_array_equal(x.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
        assert x._version == 3


def test_in_place_on_leaf_requiring_grad_errors():
    check_error(lambda: cnnc.zeros(2, requires_grad=True).fill_(1),
                lambda: torch.zeros(2, requires_grad=True).fill_(1), "leaf")
    check_error(lambda: cnnc.zeros(2, requires_grad=True).zero_(),
                lambda: torch.zeros(2, requires_grad=True).zero_(), "leaf")


# --- elementwise -----------------------------------------------------------------------

BINARY = [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
          ("mul", lambda a, b: a * b), ("div", lambda a, b: a / b)]


@pytest.mark.parametrize("name,op", BINARY)
@seeds(12)
def test_binary_broadcast(name, op, seed):
    r = rng(seed)
    shape = random_shape(r, r.randint(0, 5))
    other = broadcastable(r, shape)
    if r.rand() < 0.5:
        shape, other = other, shape
    a, b = randn(r, *shape), nonzero(r, *other)
    check_op(op, op, [a, b], seed=seed)
    check_op(op, op, [a, b], requires_grad=[True, False], seed=seed)
    check_op(op, op, [a, b], requires_grad=[False, True], seed=seed)


@pytest.mark.parametrize("name,op", BINARY)
@pytest.mark.parametrize("sa,sb", [((), ()), ((), (3,)), ((2, 3), ()), ((0,), (1,)),
                                   ((2, 0, 3), (3,)), ((4, 1), (1, 5)), ((1,), (0,)),
                                   ((2, 1, 3), (4, 1)), ((5,), (5,))])
def test_binary_edge_shapes(name, op, sa, sb):
    r = rng(1)
    check_op(op, op, [randn(r, *sa), nonzero(r, *sb)])


@pytest.mark.parametrize("name,fn,tfn", [
    ("add", cnnc.add, torch.add), ("sub", cnnc.sub, torch.sub),
    ("mul", cnnc.mul, torch.mul), ("div", cnnc.div, torch.div)])
def test_module_level_binary(name, fn, tfn):
    r = rng(2)
    check_op(fn, tfn, [randn(r, 2, 3), nonzero(r, 3)])


@pytest.mark.parametrize("s", [2.5, -3, 0.5, 1])
@pytest.mark.parametrize("shape", [(), (0,), (2, 3)])
def test_scalar_operators(s, shape):
    x = randn(rng(3), *shape)
    for op in (lambda a: a + s, lambda a: s + a, lambda a: a - s, lambda a: s - a,
               lambda a: a * s, lambda a: s * a, lambda a: a / s, lambda a: -a):
        check_op(op, op, [x])
    y = nonzero(rng(4), *shape)
    check_op(lambda a: s / a, lambda a: s / a, [y])


def test_division_by_zero_matches_torch():
    x = np.array([1.0, -1.0, 0.0], np.float32)
    check_op(lambda a: a / 0, lambda a: a / 0, [x], requires_grad=False)
    check_op(lambda a, b: a / b, lambda a, b: a / b, [x, np.zeros(3, np.float32)],
             requires_grad=False)


@pytest.mark.parametrize("name,op", BINARY)
@pytest.mark.parametrize("sa,sb", [((2, 3), (4,)), ((2, 3), (3, 2)), ((0,), (2,)),
                                   ((2, 1, 3), (2, 2))])
def test_binary_broadcast_mismatch(name, op, sa, sb):
    check_error(lambda: op(cnnc.zeros(sa), cnnc.ones(sb)),
                lambda: op(torch.zeros(sa), torch.ones(sb)))


def test_requires_grad_propagation():
    for lib in (cnnc, torch):
        a = lib.ones(2, requires_grad=True)
        b = lib.ones(2)
        assert (a + b).requires_grad and (b * a).requires_grad
        assert not (b + b).requires_grad and (b + b).is_leaf
        assert not (a + b).is_leaf


# --- reductions ------------------------------------------------------------------------

@pytest.mark.parametrize("red", ["sum", "mean"])
@seeds(16)
def test_reduce_random(red, seed):
    r = rng(seed)
    ndim = r.randint(1, 6)
    shape = random_shape(r, ndim)
    k = r.randint(1, ndim + 1)
    dims = [int(d) for d in r.choice(ndim, size=k, replace=False)]
    dims = [d - ndim if r.rand() < 0.5 else d for d in dims]
    keepdim = bool(r.rand() < 0.5)
    dim = dims[0] if (k == 1 and r.rand() < 0.5) else tuple(dims)
    x = randn(r, *shape)
    check_op(lambda a: getattr(a, red)(dim, keepdim), lambda a: getattr(a, red)(dim, keepdim),
             [x], seed=seed)
    check_op(lambda a: getattr(cnnc, red)(a, dim=dim, keepdim=keepdim),
             lambda a: getattr(torch, red)(a, dim=dim, keepdim=keepdim), [x], seed=seed)


@pytest.mark.parametrize("red", ["sum", "mean"])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 4), (2, 3, 4, 5), (300, 301)])
def test_reduce_all(red, shape):
    x = randn(rng(5), *shape)
    check_op(lambda a: getattr(a, red)(), lambda a: getattr(a, red)(), [x])


@pytest.mark.parametrize("red", ["sum", "mean"])
@pytest.mark.parametrize("shape,dim", [((0,), None), ((2, 0), 1), ((2, 0), 0), ((0, 3), (0, 1)),
                                       ((), 0), ((), -1), ((3, 4), ()), ((2, 1, 3), (0, 2))])
def test_reduce_edges(red, shape, dim):
    x = randn(rng(6), *shape)
    if dim is None:
        check_op(lambda a: getattr(a, red)(), lambda a: getattr(a, red)(), [x])
    else:
        for keepdim in (False, True):
            check_op(lambda a: getattr(a, red)(dim, keepdim),
                     lambda a: getattr(a, red)(dim, keepdim), [x])


@pytest.mark.parametrize("shape,dim", [((8, 64, 56, 56), (2, 3)), ((3, 7, 5), 1), ((6, 9), None),
                                       ((2, 3, 4, 5), (0, 2))])
def test_mean_grad_bits(shape, dim):
    """mean's gradient is PyTorch's to the bit: the upstream gradient divided by the
    count (3136, 7, 54, 24: not powers of two), not multiplied by its inverse."""
    x = randn(rng(7), *shape)
    fn = (lambda a: a.mean()) if dim is None else (lambda a: a.mean(dim))
    res = check_op(fn, fn, [x], seed=3)
    assert np.array_equal(res.cnnc_inputs[0].grad.numpy(), res.torch_inputs[0].grad.numpy())


@pytest.mark.parametrize("red", ["sum", "mean"])
def test_reduce_errors(red):
    check_error(lambda: getattr(cnnc.zeros(2, 3), red)(2),
                lambda: getattr(torch.zeros(2, 3), red)(2), "Dimension out of range")
    check_error(lambda: getattr(cnnc.zeros(2, 3), red)(-3),
                lambda: getattr(torch.zeros(2, 3), red)(-3), "Dimension out of range")
    check_error(lambda: getattr(cnnc.zeros(2, 3), red)((0, 0)),
                lambda: getattr(torch.zeros(2, 3), red)((0, 0)))
    check_error(lambda: getattr(cnnc.zeros(2, 3), red)((1, -1)),
                lambda: getattr(torch.zeros(2, 3), red)((1, -1)))


# --- shape ops -----------------------------------------------------------------------------

@seeds(12)
def test_reshape_view_random(seed):
    r = rng(seed)
    shape = random_shape(r, r.randint(1, 5))
    n = int(np.prod(shape))
    new = []
    rest = n
    for _ in range(r.randint(1, 4)):
        divs = [d for d in range(1, rest + 1) if rest % d == 0]
        d = int(r.choice(divs))
        new.append(d)
        rest //= d
    new.append(rest)
    r.shuffle(new)
    x = randn(r, *shape)
    check_op(lambda a: a.reshape(*new), lambda a: a.reshape(*new), [x], seed=seed)
    check_op(lambda a: a.view(tuple(new)), lambda a: a.view(tuple(new)), [x], seed=seed)
    neg = list(new)
    neg[r.randint(len(neg))] = -1
    check_op(lambda a: a.reshape(neg), lambda a: a.reshape(neg), [x], seed=seed)
    check_op(lambda a: cnnc.reshape(a, neg), lambda a: torch.reshape(a, neg), [x], seed=seed)


@pytest.mark.parametrize("shape,new", [((), (1,)), ((1,), ()), ((), ()), ((1, 1), ()),
                                       ((), (1, 1, 1)), ((0,), (0, 5)), ((2, 0), (-1,)),
                                       ((3, 0), (0, 2, 0)), ((6,), (2, -1)), ((4, 5), (-1,))])
def test_reshape_edges(shape, new):
    x = randn(rng(7), *shape)
    check_op(lambda a: a.reshape(new), lambda a: a.reshape(new), [x])
    check_op(lambda a: a.view(new), lambda a: a.view(new), [x])


@pytest.mark.parametrize("shape,new", [((6,), (4,)), ((6,), (-1, -1)), ((6,), (4, -1)),
                                       ((0,), (-1, 0)), ((3, 0), (0, -1, 2)), ((2, 3), (-2, 3)),
                                       ((2, 3), (7,))])
def test_reshape_errors(shape, new):
    check_error(lambda: cnnc.zeros(shape).reshape(new), lambda: torch.zeros(shape).reshape(new))
    check_error(lambda: cnnc.zeros(shape).view(new), lambda: torch.zeros(shape).view(new))


@seeds(12)
def test_flatten_random(seed):
    r = rng(seed)
    ndim = r.randint(1, 6)
    x = randn(r, *random_shape(r, ndim))
    s = r.randint(0, ndim)
    e = r.randint(s, ndim)
    s = s - ndim if r.rand() < 0.5 else s
    e = e - ndim if r.rand() < 0.5 else e
    check_op(lambda a: a.flatten(s, e), lambda a: a.flatten(s, e), [x], seed=seed)
    check_op(lambda a: cnnc.flatten(a, start_dim=s, end_dim=e),
             lambda a: torch.flatten(a, start_dim=s, end_dim=e), [x], seed=seed)


@pytest.mark.parametrize("shape,s,e", [((), 0, -1), ((), 0, 0), ((0, 3), 0, -1), ((2, 0, 3), 1, 2),
                                       ((5,), 0, 0), ((2, 3), 1, 1)])
def test_flatten_edges(shape, s, e):
    check_op(lambda a: a.flatten(s, e), lambda a: a.flatten(s, e), [randn(rng(8), *shape)])


def test_flatten_errors():
    check_error(lambda: cnnc.zeros(2, 3).flatten(1, 0), lambda: torch.zeros(2, 3).flatten(1, 0))
    check_error(lambda: cnnc.zeros(2, 3).flatten(0, 2), lambda: torch.zeros(2, 3).flatten(0, 2),
                "Dimension out of range")
    check_error(lambda: cnnc.zeros(2, 3).flatten(-3, 1), lambda: torch.zeros(2, 3).flatten(-3, 1),
                "Dimension out of range")


@seeds(12)
def test_transpose_permute_random(seed):
    r = rng(seed)
    ndim = r.randint(1, 6)
    x = randn(r, *random_shape(r, ndim))
    d0, d1 = (int(d) for d in r.randint(-ndim, ndim, size=2))
    check_op(lambda a: a.transpose(d0, d1), lambda a: a.transpose(d0, d1), [x], seed=seed)
    check_op(lambda a: cnnc.transpose(a, d0, d1), lambda a: torch.transpose(a, d0, d1), [x],
             seed=seed)
    perm = [int(p) for p in r.permutation(ndim)]
    perm = [p - ndim if r.rand() < 0.3 else p for p in perm]
    check_op(lambda a: a.permute(*perm), lambda a: a.permute(*perm), [x], seed=seed)
    check_op(lambda a: cnnc.permute(a, perm), lambda a: torch.permute(a, perm), [x], seed=seed)


@pytest.mark.parametrize("shape", [(0, 3), (2, 0, 4), (1, 1), (3, 1, 2)])
def test_transpose_permute_edges(shape):
    x = randn(rng(9), *shape)
    check_op(lambda a: a.transpose(0, -1), lambda a: a.transpose(0, -1), [x])
    perm = tuple(reversed(range(len(shape))))
    check_op(lambda a: a.permute(perm), lambda a: a.permute(perm), [x])


def test_transpose_permute_errors():
    check_error(lambda: cnnc.zeros(2, 3).transpose(0, 2), lambda: torch.zeros(2, 3).transpose(0, 2),
                "Dimension out of range")
    check_error(lambda: cnnc.zeros(2, 3).transpose(-3, 0),
                lambda: torch.zeros(2, 3).transpose(-3, 0), "Dimension out of range")
    check_error(lambda: cnnc.zeros(2, 3).permute(0), lambda: torch.zeros(2, 3).permute(0))
    check_error(lambda: cnnc.zeros(2, 3).permute(0, 0), lambda: torch.zeros(2, 3).permute(0, 0))
    check_error(lambda: cnnc.zeros(2, 3).permute(0, 2), lambda: torch.zeros(2, 3).permute(0, 2))
    check_error(lambda: cnnc.zeros(2, 3).permute(1, 0, 2),
                lambda: torch.zeros(2, 3).permute(1, 0, 2))


@seeds(12)
def test_cat_random(seed):
    r = rng(seed)
    ndim = r.randint(1, 5)
    base = list(random_shape(r, ndim))
    dim = int(r.randint(-ndim, ndim))
    arrays = []
    for _ in range(r.randint(1, 5)):
        s = list(base)
        s[dim] = r.randint(0, 4)
        arrays.append(randn(r, *s))
    k = len(arrays)
    check_op(lambda *ts: cnnc.cat(ts, dim), lambda *ts: torch.cat(ts, dim), arrays, seed=seed)
    rg = [bool(r.rand() < 0.5) for _ in range(k)]
    check_op(lambda *ts: cnnc.cat(list(ts), dim=dim), lambda *ts: torch.cat(list(ts), dim=dim),
             arrays, requires_grad=rg, seed=seed)


def test_cat_int64():
    a, b = np.arange(6).reshape(2, 3), np.arange(3).reshape(1, 3)
    check_op(lambda x, y: cnnc.cat([x, y]), lambda x, y: torch.cat([x, y]), [a, b])


def test_cat_errors():
    check_error(lambda: cnnc.cat([cnnc.zeros(2, 3), cnnc.zeros(2, 4)], 0),
                lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)], 0),
                "Sizes of tensors must match except in dimension 0")
    check_error(lambda: cnnc.cat([cnnc.zeros(2, 3), cnnc.zeros(2, 3, 1)], 0),
                lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 3, 1)], 0))
    check_error(lambda: cnnc.cat([cnnc.zeros(2, 3), cnnc.zeros(2, 3)], 2),
                lambda: torch.cat([torch.zeros(2, 3), torch.zeros(2, 3)], 2),
                "Dimension out of range")
    check_error(lambda: cnnc.cat([], 0), lambda: torch.cat([], 0))
    check_error(lambda: cnnc.cat([cnnc.zeros(()), cnnc.zeros(())], 0),
                lambda: torch.cat([torch.zeros(()), torch.zeros(())], 0))
    # torch promotes mixed dtypes here; cnnc documents "all of one dtype" and refuses.
    with pytest.raises(cnnc.Error):
        cnnc.cat([cnnc.zeros(2), cnnc.zeros(2, dtype="int64")])


# --- matmul ---------------------------------------------------------------------------------

def _matmul_shapes(r, ra, rb):
    m, k, n = (int(v) for v in r.randint(1, 6, size=3))
    batch = random_shape(r, max(ra, rb) - 2, 1, 3) if max(ra, rb) > 2 else ()
    ba = tuple(b if r.rand() < 0.7 else 1 for b in batch[len(batch) - max(ra - 2, 0):])
    bb = tuple(b if r.rand() < 0.7 else 1 for b in batch[len(batch) - max(rb - 2, 0):])
    sa = (k,) if ra == 1 else ba + (m, k)
    sb = (k,) if rb == 1 else bb + (k, n)
    return sa, sb


@pytest.mark.parametrize("ra,rb", list(itertools.product(range(1, 5), range(1, 5))))
@seeds(3)
def test_matmul_ranks(ra, rb, seed):
    r = rng(seed * 100 + ra * 10 + rb)
    sa, sb = _matmul_shapes(r, ra, rb)
    a, b = randn(r, *sa), randn(r, *sb)
    op = lambda x, y: x @ y  # noqa: E731
    check_op(op, op, [a, b], seed=seed)
    check_op(cnnc.matmul, torch.matmul, [a, b], requires_grad=[False, True], seed=seed)
    check_op(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), [a, b],
             requires_grad=[True, False], seed=seed)


@pytest.mark.parametrize("sa,sb", [((0,), (0,)), ((0, 3), (3, 4)), ((2, 0), (0, 4)),
                                   ((2, 3), (3, 0)), ((0, 2, 3), (3, 4)), ((3,), (2, 3, 4)),
                                   ((5, 1, 2, 3), (4, 3, 2)), ((64, 96), (96, 80)),
                                   ((1, 1), (1, 1)), ((37, 129), (129,))])
def test_matmul_edges(sa, sb):
    r = rng(11)
    check_op(cnnc.matmul, torch.matmul, [randn(r, *sa), randn(r, *sb)], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("sa,sb", [((3,), (4,)), ((2, 3), (4, 5)), ((2, 3), (2,)), ((3,), (2, 4)),
                                   ((2, 2, 3), (3, 3, 4)), ((2, 3, 4), (4, 5, 6)), ((), (3,)),
                                   ((3,), ())])
def test_matmul_errors(sa, sb):
    check_error(lambda: cnnc.zeros(sa) @ cnnc.zeros(sb), lambda: torch.zeros(sa) @ torch.zeros(sb))


def test_zero_d_ops():
    x = np.array(1.5, np.float32)
    y = np.array(-2.0, np.float32)
    for op in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: (a - b).relu(),
               lambda a, b: (a / b).sum(), lambda a, b: (a * b).mean(),
               lambda a, b: a.reshape(1) * b):
        check_op(op, op, [x, y])


# repr: torch's formatter (integer / fixed / scientific mode, column width from the
# printed values only, summarised above 1000 elements, rows wrapped at 80 columns).
_REPR_CASES = {
    "short": lambda r: r.randn(16),
    "small values": lambda r: r.rand(16) * 0.1,
    "wrapped rows": lambda r: r.randn(3, 40),
    "3-d wrapped": lambda r: r.randn(2, 3, 30),
    "summarised ints": lambda r: np.arange(1001),
    "summarised 2-d": lambda r: r.randn(5, 300),
    "summarised square": lambda r: r.randn(40, 50),
    "summarised 1-d": lambda r: r.randn(2000),
    "int64": lambda r: np.arange(30, dtype=np.int64),
    "scientific large": lambda r: r.randn(1, 1, 25) * 1e5,
    "scientific small": lambda r: r.randn(7, 7) * 1e-6,
    "nan and inf": lambda r: np.array([np.nan, 1.5, -np.inf] * 10),
    "summarised tall": lambda r: r.randn(1001, 2),
}


@pytest.mark.parametrize("name", sorted(_REPR_CASES))
def test_repr_matches_torch(name):
    a = np.asarray(_REPR_CASES[name](np.random.RandomState(0)))
    a = a.astype(np.int64 if a.dtype == np.int64 else np.float32)
    assert repr(cnnc.tensor(a)) == repr(torch.tensor(a))


def test_rng_state_round_trip():
    """As torch.get_rng_state / set_rng_state: the numbers after a restored state are
    those after the saved one (the state's layout is cnnc's: int64 [4])."""
    for lib in (cnnc, torch):
        lib.manual_seed(3)
        state = lib.get_rng_state()
        a = lib.randn(7).numpy()
        lib.manual_seed(99)
        lib.set_rng_state(state)
        assert (lib.randn(7).numpy() == a).all()
    assert cnnc.get_rng_state().shape == (4,)
    with pytest.raises(cnnc.Error, match="int64 tensor of shape"):
        cnnc.set_rng_state(cnnc.zeros(4))
    with pytest.raises(cnnc.Error, match="all zeros"):
        cnnc.set_rng_state(cnnc.zeros(4, dtype=cnnc.int64))
    with pytest.raises(TypeError):
        cnnc.set_rng_state(None)
