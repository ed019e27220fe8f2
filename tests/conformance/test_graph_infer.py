"""The model runtime's inference plan (src/graph/graph_infer.c): without gradients,
activations run in place on inputs nothing reads after them, adds write into an operand
nothing reads after them, with the activation that is their only reader in the same
pass. Checked here on exported models whose values are also read elsewhere (a graph
input, an output, a value read by a later node, a view of a value): those must keep
their values. Every output equals PyTorch's, and equals, bit for bit, the same model
run with gradients on (where nothing runs in place) when no BatchNorm is folded."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F

import cnnc
import cnnc.export


class Reuse(tnn.Module):
    """Activations and adds whose inputs are read again later, or are graph inputs,
    outputs and views: none of those may be overwritten."""

    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = tnn.Conv2d(4, 4, 1)
        self.relu = tnn.ReLU()
        self.relu6 = tnn.ReLU6()
        self.lrelu = tnn.LeakyReLU(0.2)
        self.silu = tnn.SiLU()

    def forward(self, x):
        inp = self.silu(x)            # a graph input: never overwritten
        y = self.conv(x + inp)
        a = self.relu(y)              # y is read again below
        z = a + y                     # both operands die here: the sum goes into one
        r = torch.relu(z)             # the add's only reader: fused into it
        s = self.conv2(r)
        t = self.relu6(s * 3.0)       # the product dies here: in place
        u = F.hardtanh(t, -0.5, 2.5)
        v = u + s                     # s is still read below: the sum goes into u
        w = self.lrelu(v)             # v is also an output: not in place
        f = torch.flatten(w, 1)       # a view of w, which is read later
        g = F.gelu(f, approximate="tanh")
        h = w + y                     # y's last use; read by two nodes: no fusion
        k = F.elu(h) + F.leaky_relu(h, 0.1)
        return v, g, k, torch.sigmoid(a)


class Block(tnn.Module):
    """A ResNet basic block and a MobileNetV2 residual: convolutions with folded
    BatchNorms, the add and its relu, relu6 after the expansion."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = tnn.Conv2d(4, 8, 3, padding=1, bias=False), tnn.BatchNorm2d(8)
        self.c2, self.b2 = tnn.Conv2d(8, 4, 3, padding=1, bias=False), tnn.BatchNorm2d(4)
        self.e, self.be = tnn.Conv2d(4, 12, 1, bias=False), tnn.BatchNorm2d(12)
        self.p, self.bp = tnn.Conv2d(12, 4, 1, bias=False), tnn.BatchNorm2d(4)
        self.relu = tnn.ReLU(inplace=True)
        self.relu6 = tnn.ReLU6(inplace=False)
        self.hs = tnn.Hardswish()

    def forward(self, x):
        y = self.relu(self.b1(self.c1(x)))
        y = self.relu(self.b2(self.c2(y)) + x)
        z = self.bp(self.p(self.relu6(self.be(self.e(y)))))
        return self.hs(z + y)


def _loaded(model, x, tmp_path):
    path = str(tmp_path / "m.safetensors")
    cnnc.export.export(model, x, path)
    return cnnc.load(path)


def _outputs(out):
    return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]


def _check(model, shape, tmp_path, exact):
    torch.manual_seed(0)
    model.eval()
    for m in model.modules():
        if isinstance(m, tnn.BatchNorm2d):  # eval statistics that are not 0 and 1
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(*shape)
    net = _loaded(model, x, tmp_path)
    net.eval()
    with torch.no_grad():
        ref = model(x)
    ref = [r.numpy() for r in (ref if isinstance(ref, tuple) else (ref,))]
    xc = cnnc.tensor(x.numpy())
    graded = _outputs(net(xc))
    for _ in range(2):  # twice: the second run's tensors come from the first's blocks
        with cnnc.no_grad():
            got = _outputs(net(xc))
        assert np.array_equal(xc.numpy(), x.numpy()), "the graph input was overwritten"
        assert len(got) == len(ref)
        for g, gr, r in zip(got, graded, ref):
            np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)
            if exact:
                assert np.array_equal(g, gr)


def test_values_read_elsewhere_keep_their_values(tmp_path):
    _check(Reuse(), (2, 3, 6, 5), tmp_path, exact=True)


def test_residual_blocks(tmp_path):
    _check(Block(), (2, 4, 9, 7), tmp_path, exact=False)


@pytest.mark.parametrize("act", [tnn.ReLU(), tnn.ReLU6(), tnn.Hardtanh(-0.25, 0.75), tnn.LeakyReLU(0.3),
                                 tnn.ELU(0.7), tnn.CELU(1.3), tnn.SELU(), tnn.SiLU(), tnn.Mish(),
                                 tnn.Hardsigmoid(), tnn.Hardswish(), tnn.Sigmoid(), tnn.Tanh(),
                                 tnn.Softplus(2.0, 3.0), tnn.GELU(), tnn.GELU("tanh")],
                         ids=lambda m: repr(m))
def test_every_activation_module_after_an_add(act, tmp_path):
    """conv + x, then the activation: fused into the add (its only reader); then the
    activation again on a fresh value: in place. Specials (inf, nan, -0) pass through."""

    class M(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = tnn.Conv2d(2, 2, 1)
            self.act = act

        def forward(self, x):
            return self.act(self.act(self.conv(x) + x) * 2.0)

    model = M()
    x = torch.randn(2, 2, 5, 37) * 4
    x[0, 0, 0, :4] = torch.tensor([float("inf"), float("-inf"), float("nan"), -0.0])
    net = _loaded(model, x, tmp_path)
    xc = cnnc.tensor(x.numpy())
    graded = net(xc).numpy()
    with cnnc.no_grad():
        got = net(xc).numpy()
    with torch.no_grad():
        ref = model(x).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert np.array_equal(got, graded, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(graded))


def test_fold_needs_the_batchnorm_to_be_the_only_reader(tmp_path):
    """A convolution read by another node before its BatchNorm is not folded (that
    node needs the convolution's own output)."""

    class M(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = tnn.Conv2d(3, 4, 3), tnn.BatchNorm2d(4)

        def forward(self, x):
            c = self.conv(x)
            return F.relu(c) + self.bn(c)

    _check(M(), (2, 3, 8, 8), tmp_path, exact=False)


# ---- activations fused into the convolution's epilogue ---------------------------------

class ConvAct(tnn.Module):
    """Convolutions (with folded BatchNorms or their own bias) each read only by an
    activation, which the runtime applies in the convolution's epilogue; with tap, the
    pre-activation values are outputs too, so nothing is fused (the twin to compare)."""

    def __init__(self, kind, tap=False):
        super().__init__()
        self.kind, self.tap = kind, tap
        c = 16
        if kind == "conv_bn_relu":  # 3x3 with 16 channels on 24x24: Winograd at inference
            self.conv, self.bn = tnn.Conv2d(c, c, 3, padding=1, bias=False), tnn.BatchNorm2d(c)
            self.act = tnn.ReLU()
        elif kind == "conv_bn_relu6":  # a MobileNetV2 block: expand, depthwise, project
            self.e, self.be = tnn.Conv2d(c, 4 * c, 1, bias=False), tnn.BatchNorm2d(4 * c)
            self.d, self.bd = tnn.Conv2d(4 * c, 4 * c, 3, stride=2, padding=1, groups=4 * c, bias=False), \
                tnn.BatchNorm2d(4 * c)
            self.p, self.bp = tnn.Conv2d(4 * c, c, 1, bias=False), tnn.BatchNorm2d(c)
            self.act = tnn.ReLU6(inplace=True)
        elif kind == "bias_relu":  # the relu as a function (an op node), then torch.relu
            self.conv, self.conv2 = tnn.Conv2d(c, 8, 5, stride=2, padding=2), tnn.Conv2d(8, 8, 3)
        elif kind == "depthwise_relu6":  # with its own bias, F.relu6 and hardtanh ops
            self.conv = tnn.Conv2d(c, c, 3, padding=1, groups=c)
            self.conv2 = tnn.Conv2d(c, 2 * c, 3, padding=1, groups=c)
        elif kind == "others":  # more activation modules after conv + BN
            self.conv, self.bn = tnn.Conv2d(c, 8, 1, bias=False), tnn.BatchNorm2d(8)
            self.c2, self.c3 = tnn.Conv2d(8, 8, 3, padding=1), tnn.Conv2d(8, 8, 3, padding=1, bias=False)
            self.lrelu, self.silu, self.hs = tnn.LeakyReLU(0.1), tnn.SiLU(), tnn.Hardswish()

    def _out(self, pre, post, taps):
        if self.tap:
            taps.append(pre)
        return post

    def forward(self, x):
        taps = []
        if self.kind == "conv_bn_relu":
            p = self.bn(self.conv(x))
            y = self._out(p, self.act(p), taps)
        elif self.kind == "conv_bn_relu6":
            p = self.be(self.e(x))
            y = self._out(p, self.act(p), taps)
            p = self.bd(self.d(y))
            y = self._out(p, self.act(p), taps)
            y = self.bp(self.p(y))
        elif self.kind == "bias_relu":
            p = self.conv(x)
            y = self._out(p, F.relu(p), taps)
            p = self.conv2(y)
            y = self._out(p, torch.relu(p), taps)
        elif self.kind == "depthwise_relu6":
            p = self.conv(x)
            y = self._out(p, F.relu6(p), taps)
            p = self.conv2(y)
            y = self._out(p, F.hardtanh(p, -1.0, 2.0), taps)
        else:
            p = self.bn(self.conv(x))
            y = self._out(p, self.lrelu(p), taps)
            p = self.c2(y)
            y = self._out(p, self.silu(p), taps)
            p = self.c3(y)
            y = self._out(p, self.hs(p), taps)
        return (y, *taps) if taps else y


KINDS = ["conv_bn_relu", "conv_bn_relu6", "bias_relu", "depthwise_relu6", "others"]


def _twins(kind, shape, tmp_path):
    """The fused model and its unfused twin (same weights), loaded, with PyTorch's output."""
    torch.manual_seed(0)
    fused, twin = ConvAct(kind), ConvAct(kind, tap=True)
    for m in fused.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    twin.load_state_dict(fused.state_dict())
    fused.eval(), twin.eval()
    x = torch.randn(*shape) * 2
    with torch.no_grad():
        ref = fused(x).numpy()
    (tmp_path / "f").mkdir()
    (tmp_path / "t").mkdir()
    net, net_t = _loaded(fused, x, tmp_path / "f"), _loaded(twin, x, tmp_path / "t")
    net.eval(), net_t.eval()
    return net, net_t, x, ref


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_conv_activation_epilogue(kind, threads, tmp_path):
    """Fused: PyTorch's values, and the bits of the unfused twin (the activation run as
    its own op) at every run, also on an input with inf, NaN and -0 in it."""
    net, net_t, x, ref = _twins(kind, (2, 16, 24, 24), tmp_path)
    special = x.numpy().copy()
    special[0, 0, 0, :3] = [np.inf, np.nan, -0.0]
    old = cnnc.get_num_threads()
    cnnc.set_num_threads(threads)
    try:
        xc = cnnc.tensor(x.numpy())
        with cnnc.no_grad():
            for xin in (x.numpy(), special, x.numpy()):
                got = net(cnnc.tensor(xin)).numpy()
                unfused = net_t(cnnc.tensor(xin))[0].numpy()
                if xin is not special:
                    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
                assert np.array_equal(got, unfused, equal_nan=True)
                assert np.array_equal(np.signbit(got), np.signbit(unfused))
        graded = net(xc).numpy()  # with gradients: nothing fused, the modules as they are
        np.testing.assert_allclose(graded, ref, rtol=1e-4, atol=1e-4)
    finally:
        cnnc.set_num_threads(old)


def test_conv_with_two_readers_is_not_fused(tmp_path):
    """The convolution's result is read by the activation and by an add: the add must
    see the values before the activation."""

    class M(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.conv2 = tnn.Conv2d(3, 6, 3, padding=1), tnn.Conv2d(3, 6, 1, bias=False)
            self.bn = tnn.BatchNorm2d(6)

        def forward(self, x):
            c = self.conv(x)  # read by the relu and the add
            d = self.bn(self.conv2(x))  # folded; read by the relu and the product
            return F.relu(c) + c, d * 2 + torch.relu(d)

    _check(M(), (2, 3, 9, 8), tmp_path, exact=False)


_TRACE_SCRIPT = """
import sys, numpy as np, cnnc
net = cnnc.load(sys.argv[1])
net.eval()
with cnnc.no_grad():
    net(cnnc.tensor(np.load(sys.argv[2])))
"""


@pytest.mark.parametrize("kind", ["conv_bn_relu", "conv_bn_relu6"])
def test_trace_names_the_fused_epilogue(kind, tmp_path):
    """CNNC_TRACE: the convolutions that took an activation name it as their epilogue;
    the unfused twin's do not."""
    import os
    import subprocess
    import sys
    torch.manual_seed(0)
    x = torch.randn(2, 16, 24, 24)
    np.save(tmp_path / "x.npy", x.numpy())
    lines = {}
    for tap in (False, True):
        path = str(tmp_path / ("m%d.safetensors" % tap))
        cnnc.export.export(ConvAct(kind, tap).eval(), x, path)
        env = dict(os.environ, CNNC_TRACE="1", PYTHONPATH=os.path.dirname(os.path.dirname(cnnc.__file__)))
        r = subprocess.run([sys.executable, "-c", _TRACE_SCRIPT, path, str(tmp_path / "x.npy")],
                           env=env, capture_output=True, text=True, check=True)
        lines[tap] = [l for l in r.stderr.splitlines()
                      if l.startswith("cnnc trace:") and l[11:].lstrip().startswith("conv.forward")]
    want = ["relu epilogue"] if kind == "conv_bn_relu" else ["hardtanh(0,6) epilogue"] * 2
    assert [w for w in want if any(w in l for l in lines[False])] == want, lines[False]
    assert sum("epilogue" in l for l in lines[False]) == len(want), lines[False]
    assert not any("epilogue" in l for l in lines[True]), lines[True]
    if kind == "conv_bn_relu":
        assert "winograd" in lines[False][0]
    else:
        assert any("depthwise + hardtanh(0,6) epilogue" in l for l in lines[False])
