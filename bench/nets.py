"""Small PyTorch networks shared by the bench's model rows (bench/models.py) and the
model conformance test (tests/conformance/test_model.py). Torch only: no cnnc here."""
import torch
import torch.nn as tnn


class LeNet5(tnn.Module):
    """LeNet-5 for 28x28 MNIST: tanh, average pooling, padding 2 on the first conv."""

    def __init__(self):
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Conv2d(1, 6, 5, padding=2), tnn.Tanh(), tnn.AvgPool2d(2),
            tnn.Conv2d(6, 16, 5), tnn.Tanh(), tnn.AvgPool2d(2))
        self.classifier = tnn.Sequential(
            tnn.Flatten(), tnn.Linear(16 * 5 * 5, 120), tnn.Tanh(), tnn.Linear(120, 84), tnn.Tanh(),
            tnn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class DoubleConv(tnn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(tnn.Conv2d(cin, cout, 3, padding=1, bias=False), tnn.BatchNorm2d(cout),
                         tnn.ReLU(inplace=True), tnn.Conv2d(cout, cout, 3, padding=1, bias=False),
                         tnn.BatchNorm2d(cout), tnn.ReLU(inplace=True))


class UNet(tnn.Module):
    """Two levels down, one transposed-conv up and one interpolate up, cat skips;
    w channels at full resolution (2w, 4w below)."""

    def __init__(self, cin=3, classes=2, w=8):
        super().__init__()
        self.inc = DoubleConv(cin, w)
        self.down1 = tnn.Sequential(tnn.MaxPool2d(2), DoubleConv(w, 2 * w))
        self.down2 = tnn.Sequential(tnn.MaxPool2d(2), DoubleConv(2 * w, 4 * w))
        self.up1 = tnn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.conv1 = DoubleConv(4 * w, 2 * w)
        self.conv2 = DoubleConv(3 * w, w)
        self.outc = tnn.Conv2d(w, classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        y = self.conv1(torch.cat([x2, self.up1(x3)], dim=1))
        y = tnn.functional.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        return self.outc(self.conv2(torch.cat([x1, y], dim=1)))


def seed_net():
    """The seed's network: Conv2d(1, 3, 3, stride 2, padding 1), ReLU, a linear head."""
    return tnn.Sequential(tnn.Conv2d(1, 3, 3, stride=2, padding=1), tnn.ReLU(), tnn.Flatten(),
                          tnn.Linear(3 * 14 * 14, 10))
