"""cnnc.distributed under mpirun (2 and 4 processes) against PyTorch: dist_worker.py."""
import os
import shutil
import subprocess
import sys

import pytest

import cnnc

HERE = os.path.dirname(os.path.abspath(__file__))
MPIRUN = shutil.which("mpirun")


def _skip_reason():
    if not cnnc.distributed.is_available():
        return "cnnc was built without MPI (install libopenmpi-dev and openmpi-bin, rebuild)"
    if not MPIRUN:
        return "mpirun not found (install openmpi-bin)"
    return None


@pytest.mark.parametrize("np_", [2, 4])
def test_ddp_syncbn_against_torch(np_):
    reason = _skip_reason()
    if reason:
        print("skipped: " + reason)
        pytest.skip(reason)
    cmd = [MPIRUN, "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "..", "python"))
    cmd += ["-np", str(np_), sys.executable, os.path.join(HERE, "dist_worker.py")]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    print(p.stdout)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "OK" in p.stdout.splitlines()


def test_not_initialized_errors():
    if not cnnc.distributed.is_available():
        pytest.skip("cnnc was built without MPI")
    assert not cnnc.distributed.is_initialized()
    with pytest.raises(RuntimeError, match="Default process group has not been initialized"):
        cnnc.distributed.get_rank()
    with pytest.raises(ValueError, match="backend='mpi'"):
        cnnc.distributed.init_process_group(backend="gloo")
    bn = cnnc.nn.SyncBatchNorm(3)
    assert repr(bn) == "SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
