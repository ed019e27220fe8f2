"""The C examples (examples/*.c: networks written as user-defined cnnc modules)
against the same networks written in PyTorch: state_dict keys and order, forward
and every gradient in train mode, running statistics, and eval-mode forward."""
import ctypes
import os

import numpy as np
import pytest
import torch
import torch.nn as tnn
from torchvision.models.resnet import BasicBlock

import cnnc
from cnnc import _lib
from cnnc.nn.modules import _wrap_module
from helpers import assert_close, check_module, copy_state, randn, rng

_EX = ctypes.CDLL(os.path.join(os.path.dirname(_lib.lib._name), "libcnnc_examples.so"))
_EX.example_basic_block_new.restype = ctypes.c_void_p
_EX.example_basic_block_new.argtypes = [ctypes.c_int64] * 3
_EX.example_resnet_new.restype = ctypes.c_void_p
_EX.example_resnet_new.argtypes = [ctypes.c_int64] * 3 + [ctypes.c_int]
_EX.example_unet_new.restype = ctypes.c_void_p
_EX.example_unet_new.argtypes = [ctypes.c_int64] * 3


def _module(handle):
    if not handle:
        _lib.raise_last()
    return _wrap_module(handle)


# --- the PyTorch twins (named as the C type names, so print(module) matches) ------

class ResNet(tnn.Module):
    def __init__(self, in_channels, num_classes, width, blocks):
        super().__init__()
        self.conv1 = tnn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn1 = tnn.BatchNorm2d(width)
        self.relu = tnn.ReLU(inplace=True)
        self.layer1 = self._layer(width, width, 1, blocks)
        self.layer2 = self._layer(width, 2 * width, 2, blocks)
        self.layer3 = self._layer(2 * width, 4 * width, 2, blocks)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(4 * width, num_classes)

    @staticmethod
    def _layer(inplanes, planes, stride, blocks):
        layers = []
        for i in range(blocks):
            cin, s = (inplanes, stride) if i == 0 else (planes, 1)
            down = None
            if s != 1 or cin != planes:
                down = tnn.Sequential(tnn.Conv2d(cin, planes, 1, stride=s, bias=False),
                                      tnn.BatchNorm2d(planes))
            layers.append(BasicBlock(cin, planes, s, down))
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _double_conv(cin, cout):
    return tnn.Sequential(tnn.Conv2d(cin, cout, 3, padding=1, bias=False), tnn.BatchNorm2d(cout),
                          tnn.ReLU(), tnn.Conv2d(cout, cout, 3, padding=1, bias=False),
                          tnn.BatchNorm2d(cout), tnn.ReLU())


class UNet(tnn.Module):
    def __init__(self, in_channels, n_classes, w):
        super().__init__()
        self.inc = _double_conv(in_channels, w)
        self.down1 = tnn.Sequential(tnn.MaxPool2d(2), _double_conv(w, 2 * w))
        self.down2 = tnn.Sequential(tnn.MaxPool2d(2), _double_conv(2 * w, 4 * w))
        self.up1 = tnn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.conv1 = _double_conv(4 * w, 2 * w)
        self.up2 = tnn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.conv2 = _double_conv(2 * w, w)
        self.outc = tnn.Conv2d(w, n_classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        u = self.conv1(torch.cat([x2, self.up1(x3)], 1))
        u = self.conv2(torch.cat([x1, self.up2(u)], 1))
        return self.outc(u)


# --- the checks -------------------------------------------------------------------------

CASES = {
    "basic_block_same": (lambda: _EX.example_basic_block_new(8, 8, 1),
                         lambda: BasicBlock(8, 8), (2, 8, 10, 10)),
    "basic_block_down": (lambda: _EX.example_basic_block_new(8, 16, 2),
                         lambda: BasicBlock(8, 16, 2, tnn.Sequential(
                             tnn.Conv2d(8, 16, 1, stride=2, bias=False), tnn.BatchNorm2d(16))),
                         (2, 8, 9, 9)),
    "resnet": (lambda: _EX.example_resnet_new(3, 10, 8, 2),
               lambda: ResNet(3, 10, 8, 2), (4, 3, 16, 16)),
    "unet": (lambda: _EX.example_unet_new(1, 3, 4), lambda: UNet(1, 3, 4), (2, 1, 16, 16)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", range(2))
def test_train_step_matches_torch(name, seed):
    make_c, make_t, shape = CASES[name]
    torch.manual_seed(seed)
    cm, tm = _module(make_c()), make_t()
    x = randn(rng(seed), *shape)
    check_module(cm, tm, x, rtol=1e-4, atol=1e-4, grad_rtol=1e-3, grad_atol=1e-4)
    # a second step in train mode from torch's state (running statistics and
    # num_batches_tracked move on from 1), with the gradients zeroed in between
    cm.zero_grad()
    tm.zero_grad()
    check_module(cm, tm, randn(rng(seed + 100), *shape), rtol=1e-4, atol=1e-4,
                 grad_rtol=1e-3, grad_atol=1e-4)
    cm.eval()
    tm.eval()
    xe = randn(rng(seed + 200), *shape)
    assert_close(cm(cnnc.tensor(xe)), tm(torch.tensor(xe)), 1e-4, 1e-4, "eval output")


@pytest.mark.parametrize("name", sorted(CASES))
def test_repr_and_keys(name):
    make_c, make_t, _ = CASES[name]
    cm, tm = _module(make_c()), make_t()
    assert list(cm.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in cm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert repr(cm) == repr(tm)


def test_state_dict_round_trip_through_torch():
    cm, tm = _module(_EX.example_resnet_new(3, 10, 8, 1)), ResNet(3, 10, 8, 1)
    cm.train()
    cm(cnnc.tensor(randn(rng(0), 2, 3, 16, 16)))  # moves cnnc's running stats
    tm.load_state_dict({k: torch.tensor(v) for k, v in cm.state_dict().items()})
    copy_state(cm, tm)
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(cm.state_dict()[k], v.numpy())
