"""Training throughput: `cnnc train` against the same training loop in PyTorch.

    CNNC_BIN=build/cnnc /usr/bin/python3 bench/train_bench.py [--threads 2] [--batch 64]
        [--images 4096] [--epochs 3] [--arch lenet,cnn-small,resnet-small]

For each architecture, `cnnc train` runs on the synthetic set (1x28x28, or 3x32x32
for resnet-small) with SGD (momentum 0.9) and its CSV log gives the images/s of the
last epoch (the first is warm-up; the evaluation is not counted). PyTorch runs the
same network (the same layers as tools/train_models.c and examples/resnet.c), batch
size, optimizer, thread count and number of images, the batches cut from a shuffled,
normalised tensor as a DataLoader over in-memory data would, and times its last
epoch the same way. ratio = cnnc img/s / torch img/s (> 1: cnnc is faster).
Benchmarks are not tests: nothing here asserts a time.
"""
import argparse
import csv
import os
import subprocess
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_threads import set_torch_threads

HERE = os.path.dirname(os.path.abspath(__file__))


def lenet(c, size):
    pad = 2 if size == 28 else 0
    f = ((size + 2 * pad - 4) // 2 - 4) // 2
    return nn.Sequential(nn.Conv2d(c, 6, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * f * f, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def cnn_small(c, size):
    f = size // 4
    return nn.Sequential(nn.Conv2d(c, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1, bias=False),
                         nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * f * f, 10))


class BasicBlock(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample else x))


def resnet_small(c, size):
    w = 16
    return nn.Sequential(nn.Conv2d(c, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                         BasicBlock(w, w, 1), BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 4 * w, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, 10))


ARCHS = {"lenet": (lenet, 1, 28), "cnn-small": (cnn_small, 1, 28),
         "resnet-small": (resnet_small, 3, 32)}


def torch_rate(arch, args):
    make, c, size = ARCHS[arch]
    torch.manual_seed(0)
    model = make(c, size)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    images = torch.randn(args.images, c, size, size, generator=g)
    labels = torch.randint(0, 10, (args.images,), generator=g)
    rate = 0.0
    for _ in range(args.epochs):
        perm = torch.randperm(args.images, generator=g)
        start, seen = time.perf_counter(), 0
        for i in range(0, args.images, args.batch):
            idx = perm[i:i + args.batch]
            x, y = images[idx], labels[idx]
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            seen += len(idx)
        rate = seen / (time.perf_counter() - start)
    return rate


def cnnc_rate(arch, args):
    _, c, size = ARCHS[arch]
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "log.csv")
        cmd = [args.cnnc, "train", "--arch", arch, "--threads", str(args.threads),
               "--batch-size", str(args.batch), "--epochs", str(args.epochs),
               "--train-size", str(args.images), "--test-size", "100",
               "--channels", str(c), "--image-size", str(size), "--optimizer", "sgd",
               "--lr", "0.01", "--momentum", "0.9", "--log", log]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(log) as f:
            rows = list(csv.DictReader(f))
    return float(rows[-1]["images_per_s"])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cnnc", default=os.environ.get("CNNC_BIN",
                                                    os.path.join(HERE, "..", "build", "cnnc")))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--images", type=int, default=4096)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--arch", default="lenet,cnn-small,resnet-small")
    args = p.parse_args()
    set_torch_threads(args.threads)
    print("training throughput, batch %d, %d threads, %d images per epoch, last of %d epochs"
          % (args.batch, args.threads, args.images, args.epochs))
    print("%-14s %12s %12s %7s" % ("arch", "cnnc img/s", "torch img/s", "ratio"))
    for arch in args.arch.split(","):
        c, t = cnnc_rate(arch, args), torch_rate(arch, args)
        print("%-14s %12.0f %12.0f %7.2f" % (arch, c, t, c / t), flush=True)


if __name__ == "__main__":
    main()
