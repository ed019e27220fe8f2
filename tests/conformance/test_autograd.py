"""Autograd bookkeeping, side by side with torch: accumulation, fan-out, retain_graph,
implicit/explicit gradients, leaves, no_grad, in-place checks, grad_fn names."""
import numpy as np
import pytest
import torch

import cnnc
from helpers import assert_close, check_error, check_op, randn, rng

LIBS = [cnnc, torch]


def both(fn):
    """fn(lib) for cnnc and torch; returns (cnnc_result, torch_result)."""
    return fn(cnnc), fn(torch)


def leaf(lib, a, requires_grad=True):
    return lib.tensor(np.asarray(a, np.float32), requires_grad=requires_grad)


def test_grad_accumulates_across_backward_calls():
    a = randn(rng(0), 3, 4)

    def run(lib):
        x = leaf(lib, a)
        (x * x).sum().backward()
        g1 = x.grad.numpy().copy()
        (x * 3).sum().backward()
        return g1, x.grad
    (c1, c), (t1, t) = both(run)
    assert_close(c1, t1)
    assert_close(c, t)
    np.testing.assert_allclose(t.numpy(), 2 * a + 3, rtol=1e-6)


def test_fan_out():
    a = randn(rng(1), 5)
    check_op(lambda x: x * x + x, lambda x: x * x + x, [a])
    check_op(lambda x: (x * 2).relu() * x - x / 3, lambda x: (x * 2).relu() * x - x / 3, [a])

    def diamond(x):
        y = x * 2
        return y * y + y.sum() + (-y)
    check_op(diamond, diamond, [a])


def test_same_tensor_both_operands():
    a = randn(rng(2), 3, 3)
    check_op(lambda x: x @ x, lambda x: x @ x, [a])
    check_op(lambda x: x - x, lambda x: x - x, [a])
    check_op(lambda x: x / x, lambda x: x / x, [np.abs(a) + 0.5])


def test_grad_of_grad_tensor_zeroing():
    """x.grad.zero_() and x.grad = None, then accumulate again."""
    def run(lib):
        x = leaf(lib, [1.0, -2.0, 3.0])
        (x * x).sum().backward()
        x.grad.zero_()
        after_zero = x.grad.numpy().copy()
        (x * 2).sum().backward()
        acc = x.grad.numpy().copy()
        x.grad = None
        none = x.grad
        (x * 5).sum().backward()
        return after_zero, acc, none, x.grad
    c, t = both(run)
    assert_close(c[0], t[0])
    assert_close(c[1], t[1])
    assert c[2] is None and t[2] is None
    assert_close(c[3], t[3])


def test_set_grad():
    def run(lib):
        x = leaf(lib, [1.0, 2.0])
        x.grad = lib.tensor(np.array([0.5, 0.25], np.float32))
        (x * 2).sum().backward()
        return x.grad
    c, t = both(run)
    assert_close(c, t)


def test_set_grad_wrong_shape_errors():
    def run(lib):
        x = leaf(lib, [1.0, 2.0])
        x.grad = lib.zeros(3)
    check_error(lambda: run(cnnc), lambda: run(torch))


def test_backward_twice_without_retain_graph_errors():
    def run(lib):
        x = leaf(lib, [1.0, 2.0])
        y = (x * x).sum()
        y.backward()
        y.backward()
    check_error(lambda: run(cnnc), lambda: run(torch), "backward through the graph a second time")


def test_backward_twice_with_retain_graph():
    a = randn(rng(3), 4)

    def run(lib):
        x = leaf(lib, a)
        y = (x * x * 2).relu().sum()
        y.backward(retain_graph=True)
        g1 = x.grad.numpy().copy()
        y.backward(retain_graph=True)
        y.backward()
        return g1, x.grad
    c, t = both(run)
    assert_close(c[0], t[0])
    assert_close(c[1], t[1])
    np.testing.assert_allclose(c[1].numpy(), 3 * c[0], rtol=1e-6)


def test_backward_on_intermediate_twice_shares_graph():
    """Backward from y, then from z = f(y) through the freed part errors."""
    def run(lib):
        x = leaf(lib, [1.0, 2.0])
        y = x * x
        y.sum().backward()
        (y * 2).sum().backward()
    check_error(lambda: run(cnnc), lambda: run(torch), "backward through the graph a second time")


def test_non_scalar_backward_needs_gradient():
    def run(lib):
        (leaf(lib, [1.0, 2.0]) * 2).backward()
    check_error(lambda: run(cnnc), lambda: run(torch), "grad can be implicitly created only for scalar outputs")


def test_zero_size_backward():
    check_op(lambda x: x.sum(), lambda x: x.sum(), [np.zeros((0, 3), np.float32)])
    check_op(lambda x: x * 2, lambda x: x * 2, [np.zeros((2, 0), np.float32)])


@pytest.mark.parametrize("gshape", [(3,), (2, 1), (1, 2), (), (2, 2)])
def test_gradient_shape_mismatch_errors(gshape):
    def run(lib):
        y = leaf(lib, [1.0, 2.0]) * 2
        y.backward(lib.ones(gshape))
    check_error(lambda: run(cnnc), lambda: run(torch), "Mismatch in shape")


def test_explicit_gradient_for_scalar_and_vector():
    check_op(lambda x: x.sum(), lambda x: x.sum(), [randn(rng(4), 3)], grad_output=np.float32(2.5))
    check_op(lambda x: x * x, lambda x: x * x, [randn(rng(5), 3)],
             grad_output=np.array([1, -1, 0.5], np.float32))


def test_backward_without_grad_errors():
    def run(lib):
        leaf(lib, [1.0], requires_grad=False).sum().backward()
    check_error(lambda: run(cnnc), lambda: run(torch), "does not require grad")


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_leaf_and_nonleaf_bookkeeping():
    def run(lib):
        x = leaf(lib, [1.0, -2.0])
        w = leaf(lib, [3.0, 4.0], requires_grad=False)
        y = x * w
        z = w + w
        y.sum().backward()
        return [x.is_leaf, y.is_leaf, z.is_leaf, w.is_leaf, y.requires_grad, z.requires_grad,
                x.grad_fn is None, y.grad_fn is None, z.grad_fn is None,
                y.grad is None, w.grad is None, z.grad is None]
    c, t = both(run)
    assert c == t


def test_requires_grad_setter_rules():
    def run(lib):
        y = leaf(lib, [1.0]) * 2
        y.requires_grad = False
    check_error(lambda: run(cnnc), lambda: run(torch), "leaf")

    def toggle(lib):
        x = leaf(lib, [1.0], requires_grad=False)
        x.requires_grad = True
        a = x.requires_grad
        x.requires_grad = False
        return a, x.requires_grad, x.requires_grad_().requires_grad
    c, t = both(toggle)
    assert c == t == (True, False, True)


def test_detach_stops_gradient():
    a = randn(rng(6), 4)
    check_op(lambda x: x * x.detach(), lambda x: x * x.detach(), [a])
    check_op(lambda x: x.detach() * 2 + x, lambda x: x.detach() * 2 + x, [a])


# --- no_grad ---------------------------------------------------------------------------

def test_no_grad():
    def run(lib):
        x = leaf(lib, [1.0, -2.0])
        with lib.no_grad():
            y = (x * 2).relu() + x
            inner = lib.is_grad_enabled()
            with lib.no_grad():
                pass
            still_off = lib.is_grad_enabled()
        z = x * 2
        return (y.requires_grad, y.is_leaf, y.grad_fn, inner, still_off,
                lib.is_grad_enabled(), z.requires_grad)
    c, t = both(run)
    assert c == t == (False, True, None, False, False, True, True)


def test_no_grad_restores_after_exception_and_decorates():
    for lib in LIBS:
        with pytest.raises(ZeroDivisionError):
            with lib.no_grad():
                1 / 0
        assert lib.is_grad_enabled()

        @lib.no_grad()
        def f(x):
            return x * 2
        assert not f(leaf(lib, [1.0])).requires_grad
        assert lib.is_grad_enabled()


def test_set_grad_enabled():
    for lib in LIBS:
        with lib.set_grad_enabled(False):
            assert not (leaf(lib, [1.0]) * 2).requires_grad
        assert lib.is_grad_enabled()
        with lib.no_grad():
            with lib.enable_grad():
                assert (leaf(lib, [1.0]) * 2).requires_grad
            assert not lib.is_grad_enabled()


def test_in_place_on_leaf_allowed_under_no_grad():
    def run(lib):
        x = leaf(lib, [1.0, -2.0])
        with lib.no_grad():
            x.relu_()
        (x * 3).sum().backward()
        return x.detach().numpy(), x.grad
    c, t = both(run)
    assert_close(c[0], t[0])
    assert_close(c[1], t[1])


# --- in-place and the version counter --------------------------------------------------------

def test_relu_inplace_on_leaf_requiring_grad_errors():
    check_error(lambda: leaf(cnnc, [1.0]).relu_(), lambda: leaf(torch, [1.0]).relu_(),
                "a leaf Variable that requires grad is being used in an in-place operation")
    check_error(lambda: cnnc.nn.functional.relu(leaf(cnnc, [1.0]), inplace=True),
                lambda: torch.nn.functional.relu(leaf(torch, [1.0]), inplace=True), "leaf")


@pytest.mark.parametrize("view", ["reshape", "view", "flatten"])
def test_inplace_on_view_of_leaf_requiring_grad_errors(view):
    def run(lib):
        x = leaf(lib, [[1.0, -2.0]])
        getattr(x, view)(-1).relu_() if view != "flatten" else x.flatten().relu_()
    check_error(lambda: run(cnnc), lambda: run(torch), "in-place operation")


@pytest.mark.parametrize("view", ["reshape", "view", "flatten"])
def test_inplace_on_view_of_nonleaf(view):
    """torch allows relu_ on a view of a non-leaf and backpropagates through it."""
    a = np.array([[1.0, -2.0], [-0.5, 3.0]], np.float32)

    def fn(x):
        y = x * 2
        v = y.flatten() if view == "flatten" else getattr(y, view)(-1)
        v.relu_()
        return y * x
    check_op(fn, fn, [a])


def test_relu_inplace_on_nonleaf_backward():
    a = np.array([-1.0, 0.0, 2.0, -3.0, 4.0], np.float32)
    check_op(lambda x: (x * 2).relu_(), lambda x: (x * 2).relu_(), [a])
    check_op(lambda x: (x + 1).relu_() * x, lambda x: (x + 1).relu_() * x, [a])


def test_relu_inplace_twice_invalidates_the_first():
    """The first relu_ saved its output, which the second relu_ modifies: torch
    refuses at backward, and so must cnnc."""
    def run(lib):
        y = leaf(lib, [-1.0, 0.0, 2.0]) - 1
        y.relu_()
        y.relu_()
        (y * 3).sum().backward()
    check_error(lambda: run(cnnc), lambda: run(torch), "modified by an inplace operation")


def test_relu_inplace_returns_same_tensor_and_bumps_version():
    for lib in LIBS:
        y = leaf(lib, [1.0, -1.0]) * 1
        v = y._version
        assert y.relu_() is y
        assert y._version == v + 1
        assert y.grad_fn is not None and not y.is_leaf


@pytest.mark.parametrize("case", ["mul_saved_input", "relu_saved_output", "matmul_saved",
                                  "div_saved"])
def test_inplace_modification_of_saved_tensor_detected(case):
    def run(lib):
        x = leaf(lib, [[1.0, -2.0], [3.0, 0.5]])
        a = x * 1
        if case == "mul_saved_input":
            out = a * a
            a.relu_()
        elif case == "relu_saved_output":
            r = a.relu()
            out = r * 2
            r.relu_()
        elif case == "matmul_saved":
            out = a @ x
            a.relu_()
        else:
            out = x / a
            a.relu_()
        out.sum().backward()
    check_error(lambda: run(cnnc), lambda: run(torch),
                "modified by an inplace operation")


def test_inplace_on_unsaved_tensor_is_fine():
    """add saves nothing: modifying its input afterwards does not break backward."""
    def run(lib):
        x = leaf(lib, [1.0, -2.0])
        a = x * 2
        out = a + 1
        a.relu_()
        out.sum().backward()
        return x.grad
    c, t = both(run)
    assert_close(c, t)


# --- grad_fn names ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,fn", [
    ("add", lambda x: x + x), ("sub", lambda x: x - x), ("mul", lambda x: x * x),
    ("div", lambda x: x / x), ("neg", lambda x: -x), ("relu", lambda x: x.relu()),
    ("sum", lambda x: x.sum()), ("mean", lambda x: x.mean()),
    ("add_scalar", lambda x: x + 2), ("mul_scalar", lambda x: x * 2)])
def test_grad_fn_names(name, fn):
    c = fn(leaf(cnnc, [[1.0, 2.0]]))
    t = fn(leaf(torch, [[1.0, 2.0]]))
    assert c.grad_fn == type(t.grad_fn).__name__
