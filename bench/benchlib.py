"""What a bench case file needs: the Case record and small helpers.

A family's rows live in bench/cases_<family>.py as a list named CASES, built with
these; bench.py loads every such file (in name order) after its own rows."""
import os
import sys
from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
if "CNNC_LIBRARY" not in os.environ:
    os.environ["CNNC_LIBRARY"] = os.path.join(ROOT, "build", "libcnnc.so")

try:
    import torch
except ImportError:
    sys.exit("bench: PyTorch is missing; run: sudo apt-get install -y python3-torch "
             "(and use /usr/bin/python3)")
import cnnc  # noqa: E402  (needs sys.path above)



# ---------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------

@dataclass
class Case:
    """One op on one shape.

    make_inputs(rng) -> list of numpy float32 arrays (the op's tensor inputs).
    cnnc_fn(*tensors) / torch_fn(*tensors) -> output tensor. With `module`, the
    functions get the module first: fn(model, *tensors).
    module(lib) -> a module built from lib.nn (lib is cnnc or torch); torch's
    initial weights are loaded into the cnnc one, so both compute the same thing.
    backward: also time forward+backward (a row of its own); the gradient of every
    input listed in grad_inputs (indices into the inputs) and of every parameter is
    computed and compared.
    forward: time the forward alone (a row of its own).
    """
    name: str
    shape: str
    make_inputs: Callable[[np.random.Generator], List[np.ndarray]]
    cnnc_fn: Callable
    torch_fn: Callable
    backward: bool = True
    forward: bool = True
    grad_inputs: Optional[List[int]] = None  # None: all inputs
    module: Optional[Callable] = None
    rtol: float = 1e-4
    atol: float = 1e-4
    # compare values with torch before timing; False for random ops (dropout's masks
    # come from each library's own generator), whose shapes are still compared
    values: bool = True
    # the work of one call, for the rate columns (0: not printed): floating-point
    # operations (GEMM-bound rows: GFLOP/s and share of the probed fp32 peak) or bytes
    # that must move at least (memory-bound rows: GB/s and share of the probed
    # bandwidth), for the forward row and for the forward+backward row
    flops: float = 0.0
    flops_bwd: float = 0.0
    bytes: float = 0.0
    bytes_bwd: float = 0.0


def both(fn):
    """fn(lib, *args) written once for both libraries -> (cnnc_fn, torch_fn)."""
    return dict(cnnc_fn=lambda *a: fn(cnnc, *a), torch_fn=lambda *a: fn(torch, *a))


def randn(*shapes):
    return lambda rng: [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def fmt_shape(*shapes):
    return " , ".join("[" + ",".join(str(d) for d in s) + "]" for s in shapes)




def nbytes(*shapes):
    """Bytes of float32 tensors of these shapes."""
    total = 0
    for s in shapes:
        n = 1
        for d in s:
            n *= d
        total += 4 * n
    return float(total)
