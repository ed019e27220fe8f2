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


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 4, False), (10, 4, True), (2, 8, False),
                                                   (3, 4, True), (12, 4, True), (0, 3, False)])
def test_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    from torch.utils.data import DistributedSampler
    for r in range(replicas):
        want = DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)
        got = cnnc.data.DistributedSampler(range(n), replicas, r, shuffle=False,
                                           drop_last=drop_last)
        assert len(got) == len(want)
        assert list(got) == list(want)


def test_sampler_shuffles_per_epoch_and_partitions():
    shards = [cnnc.data.DistributedSampler(range(50), 4, r, seed=3) for r in range(4)]
    first = [list(s) for s in shards]
    assert sorted(sum(first, [])) == sorted(list(range(50)) + [first[0][0], first[1][0]])
    for s in shards:
        s.set_epoch(1)
    assert [list(s) for s in shards] != first
    with pytest.raises(ValueError, match="Invalid rank 4"):
        cnnc.data.DistributedSampler(range(5), 4, 4)
