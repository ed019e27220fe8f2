"""Whole-network rows for bench.py: torchvision models and small nets, each built in
PyTorch and mirrored in cnnc from cnnc.nn modules (the torch model's weights copied
in), then timed side by side as inference (eval mode, no grad) and as a training step
(train mode: forward, cross-entropy, backward, SGD step).

The mirror walks the torch module tree: leaves (Conv2d, BatchNorm2d, ReLU, ReLU6,
MaxPool2d, AdaptiveAvgPool2d, Linear, Dropout, Flatten) become the cnnc module of the
same constructor arguments; Sequential runs its children in order; the torchvision
blocks with their own forward (ResNet's BasicBlock, MobileNetV2's InvertedResidual)
and the networks' top-level forwards are written out here, as torchvision writes them.
"""
import numpy as np

from benchlib import cnnc, torch

tnn = torch.nn


class Mirror:
    """A cnnc network mirroring a torch one: call it on a cnnc tensor."""

    def __init__(self, tmodel):
        self.modules = []  # every cnnc leaf module (train/eval switches them)
        self.params = []  # cnnc parameters in torch's parameters() order
        self.fn = self._build(tmodel)

    def __call__(self, x):
        return self.fn(x)

    def train(self, mode=True):
        for m in self.modules:
            m.train(mode)

    # ---- leaves ------------------------------------------------------------------------
    def _leaf(self, t):
        N = cnnc.nn
        if isinstance(t, tnn.Conv2d):
            m = N.Conv2d(t.in_channels, t.out_channels, t.kernel_size, stride=t.stride,
                         padding=t.padding, dilation=t.dilation, groups=t.groups,
                         bias=t.bias is not None)
        elif isinstance(t, tnn.BatchNorm2d):
            m = N.BatchNorm2d(t.num_features, eps=t.eps, momentum=t.momentum)
        elif isinstance(t, tnn.ReLU6):
            m = N.ReLU6()
        elif isinstance(t, tnn.ReLU):
            m = N.ReLU()
        elif isinstance(t, tnn.MaxPool2d):
            m = N.MaxPool2d(t.kernel_size, stride=t.stride, padding=t.padding,
                            dilation=t.dilation, ceil_mode=t.ceil_mode)
        elif isinstance(t, tnn.AdaptiveAvgPool2d):
            m = N.AdaptiveAvgPool2d(t.output_size)
        elif isinstance(t, tnn.Linear):
            m = N.Linear(t.in_features, t.out_features, bias=t.bias is not None)
        elif isinstance(t, tnn.Dropout):
            m = N.Dropout(t.p)
        elif isinstance(t, tnn.Flatten):
            m = N.Flatten(t.start_dim, t.end_dim)
        else:
            raise TypeError("bench/models.py: no cnnc mirror for %s" % type(t).__name__)
        state = {k: v.detach().numpy().copy() for k, v in t.state_dict().items()}
        if state:
            m.load_state_dict(state)
        named = dict(m.named_parameters())
        for name, _ in t.named_parameters():
            self.params.append(named[name])
        self.modules.append(m)
        return m

    # ---- structure ---------------------------------------------------------------------
    def _build(self, t):
        import torchvision.models as tvm
        F = cnnc.nn.functional
        if isinstance(t, tvm.resnet.ResNet):
            stem = [self._build(m) for m in (t.conv1, t.bn1, t.relu, t.maxpool)]
            layers = [self._build(m) for m in (t.layer1, t.layer2, t.layer3, t.layer4)]
            pool, fc = self._build(t.avgpool), self._build(t.fc)

            def resnet(x):
                for f in stem + layers:
                    x = f(x)
                return fc(cnnc.flatten(pool(x), 1))
            return resnet
        if isinstance(t, tvm.resnet.BasicBlock):
            c1, b1, c2, b2 = (self._build(m) for m in (t.conv1, t.bn1, t.conv2, t.bn2))
            down = self._build(t.downsample) if t.downsample is not None else None

            def basic_block(x):
                out = F.relu(b1(c1(x)))
                out = b2(c2(out))
                return F.relu(cnnc.add(out, down(x) if down else x))
            return basic_block
        if isinstance(t, tvm.mobilenetv2.MobileNetV2):
            feats, head = self._build(t.features), self._build(t.classifier)

            def mobilenet_v2(x):
                x = F.adaptive_avg_pool2d(feats(x), (1, 1))
                return head(cnnc.flatten(x, 1))
            return mobilenet_v2
        if isinstance(t, tvm.mobilenetv2.InvertedResidual):
            conv, res = self._build(t.conv), t.use_res_connect
            return (lambda x: cnnc.add(x, conv(x))) if res else conv
        if isinstance(t, tvm.vgg.VGG):
            feats, pool, head = (self._build(m) for m in (t.features, t.avgpool, t.classifier))
            return lambda x: head(cnnc.flatten(pool(feats(x)), 1))
        if isinstance(t, tnn.Sequential):
            parts = [self._build(m) for m in t]

            def sequential(x):
                for f in parts:
                    x = f(x)
                return x
            return sequential
        return self._leaf(t)


def lenet5():
    """LeNet-5 for 28x28 MNIST (padding 2 on the first convolution, max pooling)."""
    return tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(16 * 5 * 5, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
        tnn.Linear(84, 10))


def seed_net():
    """The seed's network: Conv2d(1, 3, 3, stride 2, padding 1), ReLU, a linear head."""
    return tnn.Sequential(tnn.Conv2d(1, 3, 3, stride=2, padding=1), tnn.ReLU(), tnn.Flatten(),
                          tnn.Linear(3 * 14 * 14, 10))


def model_specs(quick):
    """(name, constructor, input shape, classes) rows; --quick shrinks the big ones."""
    import torchvision.models as tvm
    big = (2, 3, 112, 112) if quick else (8, 3, 224, 224)
    return [
        ("resnet18", lambda: tvm.resnet18(num_classes=1000), big, 1000),
        ("mobilenet_v2", lambda: tvm.mobilenet_v2(num_classes=1000), big, 1000),
        ("vgg11_bn", lambda: tvm.vgg11_bn(num_classes=10), (2 if quick else 8, 3, 64, 64), 10),
        ("lenet5", lenet5, (64, 1, 28, 28), 10),
        ("seed conv 1->3", seed_net, (64, 1, 28, 28), 10),
    ]


class Runner:
    """One library's side of a model row: inference and training-step callables."""

    def __init__(self, lib, model, params, x, y):
        self.lib, self.model, self.x, self.y = lib, model, x, y
        self.opt = lib.optim.SGD(params, lr=1e-3)

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


def build(spec, rng):
    """(cnnc Runner, torch Runner, max |difference| of the eval outputs)."""
    name, ctor, shape, classes = spec
    torch.manual_seed(0)
    tm = ctor()
    mirror = Mirror(tm)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.integers(0, classes, size=(shape[0],))
    th = Runner(torch, tm, list(tm.parameters()), torch.tensor(x), torch.tensor(y))
    cn = Runner(cnnc, mirror, mirror.params, cnnc.tensor(x), cnnc.tensor(y.astype(np.int64)))
    diff = float(np.max(np.abs(cn.infer().numpy() - th.infer().numpy())))
    return cn, th, diff
