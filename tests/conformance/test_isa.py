"""The kernels' instruction set from Python: cnnc.set_isa / cnnc.get_isa, the
CNNC_ISA environment variable, and results equal to torch's at every level this CPU
runs (a few ops of each kernel family; tests/run.sh runs whole suites capped)."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as TF

import cnnc
import cnnc.nn.functional as F
from helpers import check_op, randn, rng

LEVELS = ["avx512", "avx2", "scalar"]
PYTHON_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "python")


@pytest.fixture
def restore_isa():
    before = cnnc.get_isa()
    yield
    cnnc.set_isa(before)


def supported_levels():
    """The levels this CPU runs (cnnc.set_isa refuses the others)."""
    before = cnnc.get_isa()
    ok = []
    for name in LEVELS:
        try:
            cnnc.set_isa(name)
            ok.append(name)
        except cnnc.Error as e:
            assert "%s is not available on this CPU (available: " % name in str(e)
    cnnc.set_isa(before)
    return ok


def test_set_and_get(restore_isa):
    levels = supported_levels()
    assert "scalar" in levels
    for name in levels:
        cnnc.set_isa(name)
        assert cnnc.get_isa() == name
    cnnc.set_isa("SCALAR")
    assert cnnc.get_isa() == "scalar"


def test_errors(restore_isa):
    cnnc.set_isa("scalar")
    with pytest.raises(cnnc.Error, match=r"unknown ISA 'sse9' \(expected avx512, avx2 or scalar\)"):
        cnnc.set_isa("sse9")
    with pytest.raises(TypeError):
        cnnc.set_isa(None)
    assert cnnc.get_isa() == "scalar"  # unchanged by the failed calls


def run_child(value):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    env.pop("CNNC_ISA", None)
    if value is not None:
        env["CNNC_ISA"] = value
    code = "import cnnc; print(cnnc.get_isa())"
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                       capture_output=True, text=True, timeout=120, cwd="/")
    assert p.returncode == 0, p.stderr
    return p.stdout.strip(), p.stderr


def test_environment_variable():
    best, err = run_child(None)
    assert best in LEVELS and err == ""
    assert run_child("scalar") == ("scalar", "")
    out, err = run_child("bogus")
    assert out == best and "ignoring CNNC_ISA=bogus" in err


@pytest.mark.parametrize("level", LEVELS)
def test_results_at_every_level(level, restore_isa):
    if level not in supported_levels():
        pytest.skip("this CPU does not run %s" % level)
    cnnc.set_isa(level)
    r = rng(7)
    # GEMM + im2col/implicit GEMM + Winograd + depthwise + row primitives (bias grad)
    x, w, b = randn(r, 2, 16, 12, 12), randn(r, 20, 16, 3, 3), randn(r, 20)
    check_op(lambda x, w, b: F.conv2d(x, w, b, padding=1),
             lambda x, w, b: TF.conv2d(x, w, b, padding=1), [x, w, b], rtol=1e-4, atol=2e-4)
    check_op(lambda x, w: F.conv2d(x, w, stride=2), lambda x, w: TF.conv2d(x, w, stride=2),
             [x, w], rtol=1e-4, atol=2e-4)
    wd = randn(r, 16, 1, 5, 5)
    check_op(lambda x, w: F.conv2d(x, w, padding=2, groups=16),
             lambda x, w: TF.conv2d(x, w, padding=2, groups=16), [x, wd], rtol=1e-4, atol=1e-4)
    # activations and softmax, norms, linear
    a = randn(r, 4, 300)
    check_op(F.gelu, TF.gelu, [a])
    check_op(lambda t: F.softmax(t, dim=1), lambda t: TF.softmax(t, dim=1), [a])
    check_op(lambda t: F.layer_norm(t, (300,)), lambda t: TF.layer_norm(t, (300,)), [a])
    check_op(lambda t: F.batch_norm(t, None, None, training=True),
             lambda t: TF.batch_norm(t, None, None, training=True), [x], rtol=1e-4, atol=1e-4)
    check_op(F.linear, TF.linear, [a, randn(r, 7, 300), randn(r, 7)], rtol=1e-4, atol=1e-4)
    assert cnnc.get_isa() == level
