"""Every error PyTorch raises for the convolutions raises in cnnc too, with the same
message (the fragment compared is the whole message where torch's is deterministic)."""
import pytest
import torch
import torch.nn.functional as TF

import cnnc
import cnnc.nn.functional as F
from helpers import check_error

FN = {"conv1d": (F.conv1d, TF.conv1d), "conv2d": (F.conv2d, TF.conv2d),
      "conv3d": (F.conv3d, TF.conv3d), "conv_transpose1d": (F.conv_transpose1d, TF.conv_transpose1d),
      "conv_transpose2d": (F.conv_transpose2d, TF.conv_transpose2d),
      "conv_transpose3d": (F.conv_transpose3d, TF.conv_transpose3d)}

# (function, input shape, weight shape, bias shape or None, kwargs, message torch and cnnc share)
CASES = [
    ("conv2d", (1, 2, 28, 28), (3, 1, 3, 3), None, {},
     "Given groups=1, weight of size [3, 1, 3, 3], expected input[1, 2, 28, 28] to have 1 channels, "
     "but got 2 channels instead"),
    ("conv2d", (2, 28, 28), (3, 1, 3, 3), None, {},
     "Given groups=1, weight of size [3, 1, 3, 3], expected input[1, 2, 28, 28] to have 1 channels, "
     "but got 2 channels instead"),
    ("conv2d", (1, 2, 5, 5), (3, 1, 3, 3), None, {"groups": 0}, "non-positive groups is not supported"),
    ("conv2d", (1, 2, 5, 5), (3, 1, 3, 3), None, {"groups": -2}, "non-positive groups is not supported"),
    ("conv2d", (1, 4, 5, 5), (3, 2, 3, 3), None, {"groups": 2},
     "Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of size "
     "[[3, 2, 3, 3]] instead"),
    ("conv2d", (1, 4, 5, 5), (3, 1, 3, 3), None, {"groups": 4},
     "Given groups=4, expected weight to be at least 4 at dimension 0, but got weight of size "
     "[3, 1, 3, 3] instead"),
    ("conv2d", (1, 6, 5, 5), (4, 2, 3, 3), None, {"groups": 2},
     "Given groups=2, weight of size [4, 2, 3, 3], expected input[1, 6, 5, 5] to have 4 channels, "
     "but got 6 channels instead"),
    ("conv2d", (1, 1, 2, 2), (1, 1, 3, 3), None, {},
     "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be "
     "greater than actual input size"),
    ("conv2d", (1, 1, 2, 5), (1, 1, 5, 3), None, {"padding": 1, "dilation": (1, 2)},
     "Calculated padded input size per channel: (4 x 7). Kernel size: (5 x 5)."),
    ("conv1d", (1, 2, 5), (2, 2, 6), None, {"padding": "valid"},
     "Calculated padded input size per channel: (5). Kernel size: (6)."),
    ("conv3d", (1, 2, 0, 5, 5), (3, 2, 3, 3, 3), None, {"padding": 1},
     "Calculated padded input size per channel: (2 x 7 x 7). Kernel size: (3 x 3 x 3)."),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"padding": "same", "stride": 2},
     "padding='same' is not supported for strided convolutions"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"padding": "same", "stride": (1, 2)},
     "padding='same' is not supported for strided convolutions"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"padding": "foo"}, "Invalid padding string: 'foo'"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"padding": -1}, "negative padding is not supported"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"stride": 0}, "non-positive stride is not supported"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"stride": (1, -1)},
     "non-positive stride is not supported"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"dilation": 0},
     "dilation should be greater than zero, but got [0, 0]"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"dilation": -1},
     "dilation should be greater than zero, but got [-1, -1]"),
    ("conv1d", (1, 2, 5), (1, 2, 2), None, {"dilation": -1},
     "dilation should be greater than zero, but got [1, -1]"),
    ("conv3d", (1, 1, 5, 5, 5), (3, 1, 3, 3, 3), None, {"dilation": 0},
     "dilation should be greater than zero, but got [0, 0, 0]"),
    ("conv2d", (1, 2, 5, 5), (2, 1, 2, 2), None, {"dilation": 0, "groups": 2},
     "non-positive dilation is not supported"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"stride": (1, 1, 1)},
     "expected stride to be a single integer value or a list of 2 values to match the convolution "
     "dimensions, but got stride=[1, 1, 1]"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"stride": ()},
     "expected stride to be a single integer value or a list of 2 values to match the convolution "
     "dimensions, but got stride=[]"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"padding": (1, 1, 1)},
     "expected padding to be a single integer value or a list of 2 values"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), None, {"dilation": (1, 1, 1)},
     "but got dilation=[1, 1, 1]"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3), None, {},
     "expected stride to be a single integer value or a list of 1 values to match the convolution "
     "dimensions, but got stride=[1, 1]"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3, 3), None, {"stride": 2}, "but got stride=[2, 2]"),
    ("conv2d", (1, 1, 5, 5), (3, 1), None, {}, "weight should have at least three dimensions"),
    ("conv2d", (1, 1, 5, 5), (3,), None, {"padding": "same"},
     "weight should have at least three dimensions"),
    ("conv2d", (1, 2, 5, 5), (2, 2, 2), None, {"padding": "same"},
     "Expected 3-dimensional input for 3-dimensional weight[2, 2, 2], but got 4-dimensional input "
     "of size [1, 2, 5, 5] instead"),
    ("conv2d", (1, 2, 5, 5), (2, 2, 3, 3), None, {"padding": "same", "stride": (1, 1, 1)},
     "stride cannot broadcast to 2 dimensions"),
    ("conv2d", (1, 2, 5, 5), (2, 2, 3, 3), None, {"padding": "same", "dilation": (1, 1, 1)},
     "dilation cannot broadcast to 2 dimensions"),
    ("conv2d", (1, 1, 1, 5, 5), (3, 1, 3, 3), None, {},
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [1, 1, 1, 5, 5]"),
    ("conv2d", (5, 5), (3, 1, 3, 3), None, {},
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [5, 5]"),
    ("conv2d", (2, 5, 5, 5, 5), (2, 2, 3, 3), None, {"padding": "foo"},
     "Expected 3D (unbatched) or 4D (batched) input to conv2d"),
    ("conv1d", (1, 1, 5, 5), (2, 1, 3), None, {},
     "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: [1, 1, 5, 5]"),
    ("conv3d", (1, 5, 5), (2, 1, 3, 3, 3), None, {},
     "Expected 4D (unbatched) or 5D (batched) input to conv3d, but got input of size: [1, 5, 5]"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), (4,), {},
     "Given weight of size [3, 1, 3, 3], expected bias to be 1-dimensional with 3 elements, but got "
     "bias of size [4] instead"),
    ("conv2d", (1, 1, 5, 5), (3, 1, 3, 3), (3, 1), {},
     "expected bias to be 1-dimensional with 3 elements, but got bias of size [3, 1] instead"),
    ("conv2d", (1, 1, 5, 5), (0, 1, 3, 3), None, {},
     "Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of size "
     "[0, 1, 3, 3] instead"),
    ("conv2d", (1, 1, 0, 5), (2, 1, 1, 1), None, {"padding": 1},
     "Only zero batch or zero channel inputs are supported, but got input shape: [1, 1, 0, 5]"),
    ("conv1d", (1, 2, 0), (1, 2, 1), None, {"padding": 1},
     "Only zero batch or zero channel inputs are supported, but got input shape: [1, 2, 1, 0]"),
    ("conv2d", (1, 1, 5, 5), (2, 1, 0, 3), None, {},
     "kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 3"),
    ("conv1d", (1, 1, 5), (2, 1, 0), None, {},
     "kernel size should be greater than zero, but got kernel_height: 1 kernel_width: 0"),
    ("conv3d", (1, 1, 5, 5, 5), (2, 1, 3, 3, 0), None, {},
     "kernel size should be greater than zero, but got: 3 x 3 x 0 (TxHxW)"),
    ("conv2d", (1, 1, 5, 5), (1, 1, 0, 3), None, {"dilation": 0},
     "kernel size should be greater than zero, but got [0, 3]"),
    # transposed
    ("conv_transpose2d", (1, 2, 5, 5), (4, 3, 3, 3), None, {},
     "Given transposed=1, weight of size [4, 3, 3, 3], expected input[1, 2, 5, 5] to have 4 "
     "channels, but got 2 channels instead"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), (4,), {},
     "Given transposed=1, weight of size [4, 3, 3, 3], expected bias to be 1-dimensional with 3 "
     "elements, but got bias of size [4] instead"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), None, {"groups": 3},
     "Given groups=3, expected weight to be divisible by 3 at dimension 0, but got weight of size "
     "[[4, 3, 3, 3]] instead"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), None, {"output_padding": 1},
     "output padding must be smaller than either stride or dilation, but got output_padding_height: "
     "1 output_padding_width: 1 stride_height: 1 stride_width: 1 dilation_height: 1 dilation_width: 1"),
    ("conv_transpose1d", (1, 2, 3), (2, 2, 2), None, {"output_padding": 3},
     "output padding must be smaller than either stride or dilation, but got output_padding_height: "
     "0 output_padding_width: 3 stride_height: 1 stride_width: 1 dilation_height: 1 dilation_width: 1"),
    ("conv_transpose3d", (1, 2, 1, 1, 1), (2, 2, 2, 2, 2), None, {"output_padding": (1, 3, 1),
                                                                   "stride": 2},
     "output padding must be smaller than either stride or dilation, but got output_padding_depth: "
     "1 output_padding_height: 3 output_padding_width: 1 stride_depth: 2 stride_height: 2 "
     "stride_width: 2 dilation_depth: 1 dilation_height: 1 dilation_width: 1"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), None, {"output_padding": -1, "stride": 2},
     "negative output_padding is not supported"),
    ("conv_transpose2d", (1, 4, 1, 1), (4, 3, 3, 3), None, {"padding": 2},
     "Given input size per channel: (1 x 1). Calculated output size per channel: (-1 x -1). Output "
     "size is too small"),
    ("conv_transpose2d", (1, 4, 1, 1), (4, 3, 2, 2), None, {"padding": 1},
     "Calculated output size per channel: (0 x 0). Output size is too small"),
    ("conv_transpose1d", (1, 2, 3), (2, 2, 2), None, {"padding": 3},
     "Given input size per channel: (1 x 3). Calculated output size per channel: (1 x -2). Output "
     "size is too small"),
    ("conv_transpose3d", (1, 4, 1, 1, 1), (4, 3, 3, 3, 3), None, {"padding": 2},
     "Given input size per channel: (1 x 1 x 1). Calculated output size per channel: (-1 x -1 x -1)."),
    ("conv_transpose2d", (1, 4, 0, 2), (4, 3, 3, 3), None, {},
     "Only zero batch or zero channel inputs are supported, but got input shape: [1, 4, 0, 2]"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), None, {"padding": -1},
     "negative padding is not supported"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), None, {"stride": 0},
     "non-positive stride is not supported"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), None, {"dilation": 0},
     "dilation should be greater than zero, but got dilation_height: 0, dilation_width: 0"),
    ("conv_transpose1d", (1, 4, 5), (4, 3, 3), None, {"dilation": 0},
     "dilation should be greater than zero, but got dilation_height: 1, dilation_width: 0"),
    ("conv_transpose3d", (1, 4, 5, 5, 5), (4, 3, 3, 3, 3), None, {"dilation": 0},
     "dilation should be greater than zero, but got dilation_depth: 0, dilation_height: 0, "
     "dilation_width: 0"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), None, {"groups": 0},
     "non-positive groups is not supported"),
    ("conv_transpose2d", (4, 5), (4, 3, 3, 3), None, {},
     "Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input of size: [4, 5]"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3), None, {},
     "expected stride to be a single integer value or a list of 1 values"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 3, 3), None, {"output_padding": (0, 0, 0)},
     "expected output_padding to be a single integer value or a list of 2 values to match the "
     "convolution dimensions, but got output_padding=[0, 0, 0]"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 3, 0, 2), None, {},
     "kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 2"),
    ("conv_transpose2d", (1, 4, 5, 5), (4, 0, 3, 3), None, {},
     "non-empty 2D or 4D weight tensor expected, but got: [4, 0, 3, 3]"),
    ("conv_transpose1d", (1, 4, 5), (4, 0, 3), None, {},
     "non-empty 2D or 4D weight tensor expected, but got: [4, 0, 1, 3]"),
    ("conv_transpose3d", (1, 4, 5, 5, 5), (4, 3, 0, 0, 0), None, {},
     "non-empty 5D (n_output_plane x n_input_plane x kernel_depth x kernel_height x kernel_width) "
     "tensor expected for weight, but got: [4, 3, 0, 0, 0]"),
    ("conv_transpose2d", (1, 0, 5, 5), (0, 3, 3, 3), None, {},
     "Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of size "
     "[0, 3, 3, 3] instead"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "%s-%s" % (c[0], c[5][:40]))
def test_error(case):
    fn, xs, ws, bs, kwargs, msg = case
    cfn, tfn = FN[fn]

    def call(lib, f):
        b = lib.zeros(*bs) if bs is not None else None
        return f(lib.zeros(*xs), lib.zeros(*ws), b, **kwargs)
    check_error(lambda: call(cnnc, cfn), lambda: call(torch, tfn), msg)


def test_transposed_string_padding_is_a_type_error():
    with pytest.raises(TypeError):
        TF.conv_transpose2d(torch.zeros(1, 4, 5, 5), torch.zeros(4, 3, 3, 3), padding="same")
    with pytest.raises(TypeError):
        F.conv_transpose2d(cnnc.zeros(1, 4, 5, 5), cnnc.zeros(4, 3, 3, 3), padding="same")


def test_not_float_and_not_tensors():
    with pytest.raises(cnnc.Error, match="float32"):
        F.conv2d(cnnc.tensor([[[[1, 2], [3, 4]]]]), cnnc.zeros(1, 1, 1, 1))
    with pytest.raises(cnnc.Error, match="float32"):
        F.conv2d(cnnc.zeros(1, 1, 2, 2), cnnc.zeros(1, 1, 1, 1), cnnc.tensor([1]))
    with pytest.raises(TypeError):
        F.conv2d([[1.0]], cnnc.zeros(1, 1, 1, 1))
    with pytest.raises(TypeError):
        F.conv2d(cnnc.zeros(1, 1, 2, 2), cnnc.zeros(1, 1, 1, 1), stride="2")
