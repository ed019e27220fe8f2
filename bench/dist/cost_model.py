"""The cost model of docs/scaling.md: data-parallel step time and efficiency on p ranks.

    /usr/bin/python3 bench/dist/cost_model.py

Per step and rank (weak scaling: the per-rank batch is fixed):
  compute  T_c = batch * flops_per_sample / node_flops        (forward + backward = 3x forward)
  DDP      buckets of the gradient (first 1 MiB, then 25 MiB, reverse layer order); each is a
           ring allreduce: 2 (p - 1) alpha + 2 (p - 1) / p * bytes / beta
  SyncBN   per BN layer, forward and backward: an allgather of (2 + 2C) and (1 + 2C) doubles
           per rank, recursive doubling: log2(p) alpha + (p - 1) * bytes / beta; blocking
  overlap  none:  T = T_c + T_sbn + sum(buckets)
           ideal: every bucket but the last hides behind the remaining backward (2/3 T_c):
                  T = T_c + T_sbn + T_last + max(0, sum(others) - 2/3 T_c)
  efficiency = T_c / T
Parameter counts and BN channels are computed from torchvision's models."""
import math

import torchvision.models as tvm
import torch

LINKS = {"10 Gb/s Ethernet (TCP)": (10e9 / 8, 25e-6), "100 Gb/s (RDMA)": (100e9 / 8, 3e-6)}
# forward GFLOP per 224x224 image (multiply-adds x 2), and an assumed sustained CPU node rate
MODELS = {"resnet18": (3.64, 1.0e12), "mobilenet_v2": (0.60, 0.25e12)}
BATCH = 32  # per rank


def describe(name):
    net = getattr(tvm, name)()
    sizes = [p.numel() * 4 for p in net.parameters()]
    bns = [m.num_features for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    return sizes, bns


def buckets(sizes, first=1 << 20, cap=25 << 20):
    out, cur = [], 0  # as PyTorch's reducer: a bucket closes once it reaches its limit
    for s in reversed(sizes):
        cur += s
        if cur >= (first if not out else cap):
            out.append(cur)
            cur = 0
    return out + [cur] if cur else out


def ring(bytes_, p, beta, alpha):
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * bytes_ / beta if p > 1 else 0.0


def allgather(bytes_, p, beta, alpha):
    return math.log2(p) * alpha + (p - 1) * bytes_ / beta if p > 1 else 0.0


def step(name, p, beta, alpha, sync_bn=True):
    sizes, bns = describe(name)
    gflop, rate = MODELS[name]
    tc = BATCH * 3 * gflop * 1e9 / rate
    bk = [ring(b, p, beta, alpha) for b in buckets(sizes)]
    tsbn = sum(allgather(8 * (2 + 2 * c), p, beta, alpha) + allgather(8 * (1 + 2 * c), p, beta, alpha)
               for c in bns) if sync_bn else 0.0
    none = tc + tsbn + sum(bk)
    ideal = tc + tsbn + bk[-1] + max(0.0, sum(bk[:-1]) - 2 / 3 * tc)
    return tc, tsbn, bk, none, ideal


def main():
    for name in MODELS:
        sizes, bns = describe(name)
        print("%s: %d parameters (%.1f MB of fp32 gradients), %d tensors, %d BatchNorm layers "
              "(%d channels), buckets %s MB" % (name, sum(sizes) // 4, sum(sizes) / 1e6, len(sizes),
                                                len(bns), sum(bns),
                                                [round(b / 1e6, 2) for b in buckets(sizes)]))
    for link, (beta, alpha) in LINKS.items():
        print("\n" + link + " (alpha %.0f us, beta %.2f GB/s), batch %d per rank" % (alpha * 1e6, beta / 1e9, BATCH))
        print("%-13s %4s %9s %9s %9s %11s %11s %7s %7s" % ("model", "p", "T_c ms", "SBN ms", "DDP ms",
                                                           "T none ms", "T ideal ms", "eff", "eff_ov"))
        for name in MODELS:
            for p in (1, 2, 4, 8, 16, 32, 64):
                tc, tsbn, bk, none, ideal = step(name, p, beta, alpha)
                print("%-13s %4d %9.1f %9.1f %9.1f %11.1f %11.1f %6.0f%% %6.0f%%" % (
                    name, p, tc * 1e3, tsbn * 1e3, sum(bk) * 1e3, none * 1e3, ideal * 1e3,
                    100 * tc / none, 100 * tc / ideal))


if __name__ == "__main__":
    main()
