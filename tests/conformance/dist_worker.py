"""One rank of tests/conformance/test_distributed.py (run under mpirun).

cnnc with torch's names (cnnc.distributed, DistributedDataParallel, SyncBatchNorm)
against PyTorch in this one process: with SyncBatchNorm, torch training the same model
on the whole global batch with plain BatchNorm; with BatchNorm, torch emulating DDP
(each shard normalised alone, gradients averaged, rank 0's buffers at each forward).
Shards are uneven (rank 1 empty with SyncBatchNorm when there are 4 ranks). Prints
"OK <worst relative difference>" on rank 0, exits 1 on a failure."""
import os
import sys

import numpy as np
import torch

import cnnc
import cnnc.distributed as dist

STEPS, LR, TOL = 3, 0.1, 1e-5


def torch_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64, 3))


def cnnc_net(sd):
    net = cnnc.nn.Sequential(cnnc.nn.Conv2d(3, 4, 3, padding=1), cnnc.nn.BatchNorm2d(4),
                             cnnc.nn.ReLU(), cnnc.nn.Flatten(), cnnc.nn.Linear(64, 3))
    if dist.get_rank() == 0:  # the others get rank 0's values from DDP
        net.load_state_dict(sd)
    return net


def data(step, B):
    g = np.random.RandomState(100 + step)
    return (g.randn(B, 3, 4, 4).astype(np.float32), g.randn(B, 3).astype(np.float32))


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)) if b.size else 0.0


def torch_reference(sync, counts, rank):
    net = torch_net()
    B, W = sum(counts), len(counts)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    losses, mine = [], None
    for step in range(STEPS):
        x, t = (torch.from_numpy(a) for a in data(step, B))
        opt.zero_grad()
        if sync:
            loss = ((net(x) - t) ** 2).sum() / B
            loss.backward()
            losses.append(loss.item())
        else:
            prev = {k: v.clone() for k, v in net.named_buffers()}
            total, first = 0.0, None
            for r in range(W):
                for k, v in net.named_buffers():
                    v.copy_(prev[k])
                s = sum(counts[:r])
                loss = ((net(x[s:s + counts[r]]) - t[s:s + counts[r]]) ** 2).sum() / B
                loss.backward()
                total += loss.item()
                snap = {k: v.clone() for k, v in net.named_buffers()}
                first = snap if r == 0 else first
                mine = snap if r == rank else mine
            keep = mine if step == STEPS - 1 else first
            for k, v in net.named_buffers():
                v.copy_(keep[k])
            losses.append(total)
        opt.step()
    return net, losses


def run(sync, counts):
    W, R = dist.get_world_size(), dist.get_rank()
    B, s = sum(counts), sum(counts[:R])
    ref, ref_losses = torch_reference(sync, counts, R)
    tnet = torch_net()
    net = cnnc_net({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    if sync:
        net = cnnc.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    ddp = cnnc.nn.parallel.DistributedDataParallel(net, bucket_cap_mb=0.0005)
    opt = cnnc.optim.SGD(net.parameters(), lr=LR)
    worst = 0.0
    for step in range(STEPS):
        x, t = data(step, B)
        opt.zero_grad()
        y = ddp(cnnc.tensor(x[s:s + counts[R]]))
        d = y - cnnc.tensor(t[s:s + counts[R]])
        loss = (d * d).sum() * (W / B)
        loss.backward()
        g = cnnc.tensor([loss.item() / W])
        dist.all_reduce(g, op=dist.ReduceOp.SUM)
        worst = max(worst, abs(g.numpy()[0] - ref_losses[step]) / abs(ref_losses[step]))
        opt.step()
    sd = net.state_dict()
    for k, v in ref.state_dict().items():
        worst = max(worst, rel(sd[k], v.numpy()))
    w = cnnc.tensor([worst])
    dist.all_reduce(w, op=dist.ReduceOp.MAX)
    return float(w.numpy()[0])


def main():
    cnnc.set_num_threads(1)
    torch.set_num_threads(1)
    dist.init_process_group(backend="mpi")
    W, R = dist.get_world_size(), dist.get_rank()
    uneven = [5, 0, 4, 3][:W] if W == 4 else [5, 3][:W]
    results = {"SyncBatchNorm vs torch whole batch": run(True, uneven),
               "BatchNorm vs torch DDP emulation": run(False, [5, 3, 4, 6][:W])}
    ok = all(v < TOL for v in results.values())
    if R == 0:
        for k, v in results.items():
            print("%s: %.2e" % (k, v))
        print("OK" if ok else "FAIL")
    dist.destroy_process_group()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "python"))
    main()
