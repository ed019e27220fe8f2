"""pytest setup: cnnc (python/ on sys.path) and torch side by side, reproducibly."""
import os
import sys

import numpy as np
import pytest

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(_REPO, "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402  (the oracle: its absence is an error, never a skip)

import cnnc  # noqa: E402

torch.set_default_dtype(torch.float32)


@pytest.fixture(autouse=True)
def _reproducible():
    """Every test starts from the same seeds and with grad mode on."""
    np.random.seed(0)
    torch.manual_seed(0)
    cnnc.manual_seed(0)
    prev = cnnc.is_grad_enabled()
    cnnc.set_grad_enabled(True)
    yield
    cnnc.set_grad_enabled(prev)
    assert torch.is_grad_enabled()


def pytest_report_header(config):
    return "cnnc %s from %s; torch %s" % (cnnc.__version__, cnnc._lib.lib._name, torch.__version__)
