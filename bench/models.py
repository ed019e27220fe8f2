"""Whole-network rows for bench.py: torchvision models and small nets (bench/nets.py)
built in PyTorch, exported with cnnc.export (torch.fx -> a cnnc model file) and loaded
with cnnc.load (the C graph runtime, src/graph), then timed side by side as inference
(eval mode, no grad: the runtime folds each eval BatchNorm into the convolution before
it) and as a training step on the same loaded model (train mode: forward,
cross-entropy, backward, SGD step).

Before timing, build() checks that both libraries hold the same weights (every
parameter and buffer of the loaded model equal to the torch state_dict's) and
measures how far apart the eval outputs are. A freshly built network's BatchNorms have
running statistics 0 and 1, which in eval mode can shrink the activations towards
zero through a deep net (MobileNetV2's outputs would be ~1e-9); so each BatchNorm's running statistics are first set to the batch
statistics of the bench input, as a trained network's would roughly be.
"""
import os
import tempfile

import numpy as np

import nets
from benchlib import cnnc, torch

import cnnc.export  # noqa: E402  (torch-only; benchlib put python/ on sys.path)


def model_specs(quick):
    """(name, constructor, input shape, classes, target shape, rows) rows; quick shrinks
    the big ones. The U-Net's target is a class per pixel. rows: the rows timed
    ("inference", "train step"); the batch-1 networks are inference only (an embedded
    program's latency per image)."""
    import torchvision.models as tvm
    big = (2, 3, 112, 112) if quick else (8, 3, 224, 224)
    one = (1,) + big[1:]
    unet = (2, 3, 48, 48) if quick else (8, 3, 96, 96)
    both, infer = ("inference", "train step"), ("inference",)
    specs = [
        ("resnet18", lambda: tvm.resnet18(num_classes=1000), big, 1000, big[:1], both),
        ("mobilenet_v2", lambda: tvm.mobilenet_v2(num_classes=1000), big, 1000, big[:1], both),
        ("vgg11_bn", lambda: tvm.vgg11_bn(num_classes=10), (2 if quick else 8, 3, 64, 64), 10,
         (2 if quick else 8,), both),
        ("unet w32", lambda: nets.UNet(3, 2, w=32), unet, 2, unet[:1] + unet[2:], both),
        ("lenet5", nets.LeNet5, (64, 1, 28, 28), 10, (64,), both),
        ("seed conv 1->3", nets.seed_net, (64, 1, 28, 28), 10, (64,), both),
    ]
    return specs + [(name, ctor, one, classes, (1,), infer)
                    for name, ctor, _, classes, _, _ in specs[:2]]


class Runner:
    """One library's side of a model row: inference and training-step callables."""

    def __init__(self, lib, model, x, y):
        self.lib, self.model, self.x, self.y = lib, model, x, y
        self.opt = lib.optim.SGD(list(model.parameters()), lr=1e-3)

    def infer(self):
        self.model.train(False)
        with self.lib.no_grad():
            return self.model(self.x)

    def train_step(self):
        self.model.train(True)
        self.opt.zero_grad(set_to_none=True)
        loss = self.lib.nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss


def _loaded(tmodel, x):
    """tmodel exported and loaded back as a cnnc module; raises unless every parameter
    and buffer came through unchanged."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        cnnc.export.export(tmodel, x, path)
        net = cnnc.load(path)
    ours = dict(net.named_parameters())
    ours.update(net.named_buffers())
    for name, ref in tmodel.state_dict().items():
        got = ours.pop(name, None)
        if got is None or not np.array_equal(got.numpy(), ref.numpy()):
            raise ValueError("%s differs from torch's after export and load" % name)
    if ours:
        raise ValueError("loaded model has extra tensors: %s" % ", ".join(sorted(ours)))
    return net


def calibrate(tmodel, x):
    """Running statistics of every BatchNorm set to those of x's batch (one forward in
    train mode with momentum 1, no grad)."""
    norms = [m for m in tmodel.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 1.0
    tmodel.train()
    with torch.no_grad():
        tmodel(x)
    for m, mom in zip(norms, saved):
        m.momentum = mom


def build(spec, rng):
    """(cnnc Runner, torch Runner, largest |difference| of the eval outputs over the
    largest |torch output|)."""
    name, ctor, shape, classes, target = spec[:5]
    torch.manual_seed(0)
    tm = ctor()
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.integers(0, classes, size=target)
    calibrate(tm, torch.tensor(x))
    net = _loaded(tm, torch.tensor(x))
    th = Runner(torch, tm, torch.tensor(x), torch.tensor(y))
    cn = Runner(cnnc, net, cnnc.tensor(x), cnnc.tensor(y.astype(np.int64)))
    ours, ref = cn.infer().numpy(), th.infer().numpy()
    return cn, th, float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-30))
