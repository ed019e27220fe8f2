"""Every user error of the foundation raises in cnnc (cnnc.Error, never a crash)
where torch raises; where cnnc follows torch's wording, a shared fragment is asserted."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnc
import cnnc.nn.functional as F
from helpers import check_error

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pair(expr):
    """The same expression for both libraries: Z is zeros, L is the library,
    FN its functional module, NN its nn."""
    code = compile(expr, "<%s>" % expr, "eval")

    def make(lib, fn):
        return lambda: eval(code, {"Z": lambda *s: lib.zeros(s), "L": lib, "FN": fn,
                                   "NN": lib.nn, "np": np})
    return make(cnnc, F), make(torch, TF)


# (expression, fragment both messages contain or None)
CASES = [
    # matmul
    ("Z(3) @ Z(4)", None),
    ("Z(2, 3) @ Z(4, 5)", "shapes cannot be multiplied (2x3 and 4x5)"),
    ("Z(3) @ Z(2, 4)", "shapes cannot be multiplied"),
    ("Z(2, 3) @ Z(2)", None),
    ("Z(2, 2, 3) @ Z(3, 3, 4)", "must match the size of tensor b"),
    ("Z() @ Z(3)", "both arguments to matmul need to be at least 1D"),
    ("Z(3) @ Z()", "both arguments to matmul need to be at least 1D"),
    ("L.matmul(Z(2, 3, 4), Z(5, 6))", "shapes cannot be multiplied"),
    # broadcasting
    ("Z(2, 3) + Z(4)",
     "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"),
    ("Z(2, 3) * Z(3, 2)", "must match the size of tensor b (2) at non-singleton dimension 1"),
    ("Z(2, 3) - Z(5, 1, 4)", "must match the size of tensor b"),
    ("Z(0) / Z(2)", "must match the size of tensor b"),
    # reshape / view
    ("Z(2, 3).reshape(7)", "shape '[7]' is invalid for input of size 6"),
    ("Z(2, 3).view(4)", "shape '[4]' is invalid for input of size 6"),
    ("Z(6).reshape(-1, -1)", "only one dimension can be inferred"),
    ("Z(6).reshape(-2, 3)", "invalid shape dimension -2"),
    ("Z(0).reshape(-1, 0)", None),
    ("Z(2, 3).reshape(4, -1)", "shape '[4, -1]' is invalid for input of size 6"),
    # dims out of range
    ("Z(2, 3).transpose(0, 2)",
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("Z(2, 3).transpose(-3, 0)",
     "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    ("Z(2, 3).sum(2)", "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("Z(2, 3).mean(-3)", "Dimension out of range"),
    ("Z(2, 3).flatten(0, 2)", "Dimension out of range"),
    ("Z(2, 3).flatten(1, 0)", "start_dim cannot come after end_dim"),
    ("Z(2, 3).sum((0, 0))", "dim 0 appears multiple times in the list of dims"),
    ("Z(2, 3).mean((1, -1))", "dim 1 appears multiple times in the list of dims"),
    ("Z(2, 3).permute(0)", None),
    ("Z(2, 3).permute(0, 0)", None),
    ("Z(2, 3).permute(0, 2)", "Dimension out of range"),
    ("Z(2, 3).size(2)", "Dimension out of range"),
    # cat
    ("L.cat([Z(2, 3), Z(2, 4)], 0)",
     "Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for "
     "tensor number 1 in the list"),
    ("L.cat([Z(2, 3), Z(2, 3, 1)], 0)", "Tensors must have same number of dimensions: got 2 and 3"),
    ("L.cat([Z(2, 3), Z(2, 3)], 2)", "Dimension out of range"),
    ("L.cat([], 0)", "expected a non-empty list of Tensors"),
    ("L.cat([Z(), Z()], 0)", "zero-dimensional tensor (at position 0) cannot be concatenated"),
    # linear
    ("FN.linear(Z(2, 3), Z(4, 5))", "mat1 and mat2 shapes cannot be multiplied (2x3 and 5x4)"),
    ("FN.linear(Z(3), Z(4, 2))", "shapes cannot be multiplied"),
    ("FN.linear(Z(2, 3), Z(4, 3), Z(5))", None),
    ("FN.linear(Z(5, 2, 3), Z(4, 5), Z(4))", "shapes cannot be multiplied"),
    ("NN.Linear(3, 4)(Z(2, 5))", "shapes cannot be multiplied"),
    ("NN.Linear(-1, 3)", "Trying to create tensor with negative dimension"),
    # creation
    ("Z(2, -1)", "Trying to create tensor with negative dimension -1: [2, -1]"),
    ("L.arange(0, 5, 0)", "step must be nonzero"),
    ("L.arange(0, 5, -1)", "upper bound and larger bound inconsistent with step sign"),
    ("L.tensor([1, 2], requires_grad=True)", ["floating point", "can require gradients"]),
    ("L.ones(2, requires_grad=True).relu_()",
     "a leaf Variable that requires grad is being used in an in-place operation"),
    # modules
    ("NN.Flatten()(Z(3))", "Dimension out of range"),
    ("NN.Sequential(NN.Linear(2, 3), NN.Linear(4, 1))(Z(1, 2))", "shapes cannot be multiplied"),
]


@pytest.mark.parametrize("expr,fragment", CASES, ids=[c[0] for c in CASES])
def test_error_case(expr, fragment):
    c, t = pair(expr)
    check_error(c, t, fragment)


def test_every_error_leaves_the_process_alive():
    """Run all error cases in a child process: it must exit normally (no abort/segfault)."""
    code = "\n".join([
        "import numpy as np, cnnc, cnnc.nn.functional as F",
        "L, FN, NN = cnnc, F, cnnc.nn",
        "Z = lambda *s: cnnc.zeros(s)",
        "n = 0",
        "for e in %r:" % [c[0] for c in CASES],
        "    try: eval(e)",
        "    except cnnc.Error: n += 1",
        "print(n)"])
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"),
               CNNC_LIBRARY=cnnc._lib.lib._name)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == len(CASES)


def test_error_after_error_is_fresh():
    with pytest.raises(cnnc.Error) as a:
        cnnc.zeros(2, 3) @ cnnc.zeros(4, 5)
    with pytest.raises(cnnc.Error) as b:
        cnnc.zeros(2, 3).reshape(7)
    assert str(a.value) != str(b.value)
    assert "7" in str(b.value)


def test_module_attribute_errors():
    with pytest.raises(AttributeError):
        cnnc.nn.ReLU().weight
    with pytest.raises(AttributeError):
        torch.nn.ReLU().weight
    with pytest.raises(AttributeError):
        cnnc.nn.Linear(2, 2).in_features = 3  # settings are read-only in cnnc


@pytest.mark.parametrize("shape", [(2 ** 40, 2 ** 40), (2 ** 62, 4), (2 ** 35,), (3, 2 ** 61, 0, 5)])
def test_huge_sizes(shape):
    """Overflowing or unallocatable sizes are errors in both (a zero dim makes any
    size valid)."""
    if 0 in shape:
        assert cnnc.zeros(shape).shape == tuple(torch.zeros(shape).shape)
    else:
        check_error(lambda: cnnc.zeros(shape), lambda: torch.zeros(shape))
