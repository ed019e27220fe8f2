"""cnnc.data: data sets and the data loader, thin over include/cnnc/data.h.

    ds = cnnc.data.synthetic(train=True, size=1000, seed=0)      # [1000, 1, 28, 28]
    loader = cnnc.data.DataLoader(ds, batch_size=64, shuffle=True, seed=0,
                                  mean=[0.2], std=[0.3])
    for images, labels in loader:                                 # one epoch per loop
        x, y = images.numpy(), labels.numpy()

Readers: load_idx(images_path, labels_path), MNIST(root, train), CIFAR10(root, train),
load_cifar10_files(paths); from_tensors(images, labels, num_classes) wraps arrays you
have. Every argument is checked by the library; its errors raise cnnc.Error.
"""
import ctypes
from ctypes import (POINTER, Structure, c_bool, c_char_p, c_double, c_int, c_int64, c_uint64,
                    c_void_p)

from . import _lib
from ._args import Doubles, Ints  # cnnc_ints, cnnc_doubles
from .tensor import Tensor, tensor

__all__ = ["Dataset", "DataLoader", "gzip_supported", "load_idx", "MNIST", "CIFAR10",
           "load_cifar10_files", "synthetic", "from_tensors", "FASHION_MNIST_CLASSES",
           "DistributedSampler"]

D = c_void_p  # cnnc_dataset *
DL = c_void_p  # cnnc_dataloader *


class IdxOptions(Structure):  # cnnc_idx_options
    _c_types_ = ("cnnc_idx_options",)
    _fields_ = [("num_classes", c_int64), ("class_names", POINTER(c_char_p))]


class SyntheticOptions(Structure):  # cnnc_synthetic_options
    _c_types_ = ("cnnc_synthetic_options",)
    _fields_ = [("seed", c_uint64), ("channels", c_int64), ("image_size", c_int64)]


class DataLoaderOptions(Structure):  # cnnc_dataloader_options
    _c_types_ = ("cnnc_dataloader_options",)
    _fields_ = [("batch_size", c_int64), ("shuffle", c_bool), ("drop_last", c_bool),
                ("seed", c_uint64), ("indices", POINTER(c_int64)), ("num_indices", c_int64),
                ("crop_size", Ints), ("crop_padding", Ints), ("horizontal_flip_p", c_double),
                ("mean", Doubles), ("std", Doubles)]


class DistributedSamplerOptions(Structure):  # cnnc_distributed_sampler_options
    _c_types_ = ("cnnc_distributed_sampler_options",)
    _fields_ = [("num_replicas", c_int64), ("rank", c_int64), ("shuffle", c_bool),
                ("seed", c_uint64), ("drop_last", c_bool)]


_lib.declare([
    ("cnnc_distributed_sampler_len", c_int64, [c_int64, DistributedSamplerOptions], None),
    ("cnnc_distributed_sampler_indices", c_int64,
     [c_int64, c_int64, DistributedSamplerOptions, POINTER(c_int64), c_int64], None),
    ("cnnc_data_gzip_supported", c_bool, [], None),
    ("cnnc_dataset_new", D, [_lib.T, _lib.T, c_int64, POINTER(c_char_p)], "ptr"),
    ("cnnc_dataset_retain", D, [D], None),
    ("cnnc_dataset_release", None, [D], None),
    ("cnnc_dataset_size", c_int64, [D], None),
    ("cnnc_dataset_images", _lib.T, [D], "ptr"),
    ("cnnc_dataset_labels", _lib.T, [D], "ptr"),
    ("cnnc_dataset_num_classes", c_int64, [D], None),
    ("cnnc_dataset_class_name", c_char_p, [D, c_int64], "ptr"),
    ("cnnc_dataset_channel_stats", _lib.S, [D, POINTER(c_double), POINTER(c_double)], "status"),
    ("cnnc_dataset_load_idx", D, [c_char_p, c_char_p, IdxOptions], "ptr"),
    ("cnnc_dataset_load_mnist", D, [c_char_p, c_bool, IdxOptions], "ptr"),
    ("cnnc_dataset_load_cifar10_files", D, [c_int, POINTER(c_char_p)], "ptr"),
    ("cnnc_dataset_load_cifar10", D, [c_char_p, c_bool], "ptr"),
    ("cnnc_dataset_synthetic", D, [c_bool, c_int64, SyntheticOptions], "ptr"),
    ("cnnc_dataloader_new", DL, [D, DataLoaderOptions], "ptr"),
    ("cnnc_dataloader_free", None, [DL], None),
    ("cnnc_dataloader_next", _lib.S, [DL, POINTER(c_void_p), POINTER(c_void_p)], "status"),
    ("cnnc_dataloader_len", c_int64, [DL], None),
    ("cnnc_dataloader_epoch", c_int64, [DL], None),
    ("cnnc_dataloader_set_epoch", _lib.S, [DL, c_int64], "status"),
    ("cnnc_dataloader_set_indices", _lib.S, [DL, POINTER(c_int64), c_int64], "status"),
])

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot"]


def gzip_supported():
    """True when the library reads gzip-compressed IDX files (built with zlib)."""
    return bool(_lib.cnnc_data_gzip_supported())


def _path(p):
    return str(p).encode()


def _names(names):
    if names is None:
        return None
    names = [str(n).encode() for n in names]
    return (c_char_p * len(names))(*names)


def _ints(v):
    """None / int / sequence -> cnnc_ints (n == 0 is None, n == 1 the int form)."""
    if v is None:
        return Ints(0)
    is_tuple = not isinstance(v, int)
    vals = [int(v)] if not is_tuple else [int(x) for x in v]
    if len(vals) > _lib.MAX_DIMS:
        return Ints(len(vals), is_tuple)  # the library names the error
    return Ints(len(vals), is_tuple, (c_int64 * _lib.MAX_DIMS)(*vals))


def _doubles(v):
    if v is None:
        return Doubles(0)
    is_tuple = not isinstance(v, (int, float))
    vals = [float(v)] if not is_tuple else [float(x) for x in v]
    if len(vals) > _lib.MAX_DIMS:
        return Doubles(len(vals), is_tuple)  # the library names the error
    return Doubles(len(vals), is_tuple, (c_double * _lib.MAX_DIMS)(*vals))


class Dataset:
    """Owns one reference to a cnnc_dataset: images float32 [N, C, H, W] in [0, 1] (as
    ToTensor) and labels int64 [N]."""

    def __init__(self, handle):
        self._h = handle

    def __del__(self, _release=_lib.cnnc_dataset_release):
        h = getattr(self, "_h", None)
        if h:
            self._h = None
            _release(h)

    def __len__(self):
        return int(_lib.cnnc_dataset_size(self._h))

    @property
    def images(self):
        return Tensor._borrowed(_lib.cnnc_dataset_images(self._h))

    @property
    def labels(self):
        return Tensor._borrowed(_lib.cnnc_dataset_labels(self._h))

    @property
    def num_classes(self):
        return int(_lib.cnnc_dataset_num_classes(self._h))

    @property
    def classes(self):
        return [_lib.cnnc_dataset_class_name(self._h, i).decode()
                for i in range(self.num_classes)]

    def channel_stats(self):
        """(mean, std) per channel over every pixel (population std)."""
        c = self.images.shape[1]
        mean, std = (c_double * c)(), (c_double * c)()
        _lib.cnnc_dataset_channel_stats(self._h, mean, std)
        return list(mean), list(std)


def from_tensors(images, labels, num_classes, classes=None):
    """A data set over arrays or cnnc tensors: images float32 [N, C, H, W], labels int64 [N]."""
    images = images if isinstance(images, Tensor) else tensor(images, dtype="float32")
    labels = labels if isinstance(labels, Tensor) else tensor(labels, dtype="int64")
    return Dataset(_lib.cnnc_dataset_new(images._h, labels._h, int(num_classes), _names(classes)))


def load_idx(images_path, labels_path, num_classes=10, classes=None):
    opts = IdxOptions(int(num_classes), _names(classes))
    return Dataset(_lib.cnnc_dataset_load_idx(_path(images_path), _path(labels_path), opts))


def MNIST(root, train=True, num_classes=10, classes=None):
    """torchvision.datasets.MNIST(root, train) over the IDX files in root (raw or .gz)."""
    opts = IdxOptions(int(num_classes), _names(classes))
    return Dataset(_lib.cnnc_dataset_load_mnist(_path(root), bool(train), opts))


def load_cifar10_files(paths):
    paths = [_path(p) for p in paths]
    arr = (c_char_p * max(len(paths), 1))(*paths)
    return Dataset(_lib.cnnc_dataset_load_cifar10_files(len(paths), arr))


def CIFAR10(root, train=True):
    """torchvision.datasets.CIFAR10(root, train) over the binary batches in root."""
    return Dataset(_lib.cnnc_dataset_load_cifar10(_path(root), bool(train)))


def synthetic(train=True, size=10000, seed=0, channels=1, image_size=28):
    """The built-in set of drawn shapes (ten classes; see include/cnnc/data.h)."""
    opts = SyntheticOptions(int(seed) & 0xFFFFFFFFFFFFFFFF, int(channels), int(image_size))
    return Dataset(_lib.cnnc_dataset_synthetic(bool(train), int(size), opts))


class DataLoader:
    """torch.utils.data.DataLoader over a cnnc Dataset, with torchvision's RandomCrop
    (crop_size, crop_padding), RandomHorizontalFlip(horizontal_flip_p) and
    Normalize(mean, std). Iterating runs one epoch; the next iteration is the next epoch.
    Batches are (images, labels) cnnc Tensors."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=0,
                 indices=None, crop_size=None, crop_padding=0, horizontal_flip_p=0.0,
                 mean=None, std=None):
        if not isinstance(dataset, Dataset):
            raise TypeError("DataLoader expects a cnnc.data.Dataset")
        idx, n = self._index_array(indices)
        opts = DataLoaderOptions(int(batch_size), bool(shuffle), bool(drop_last),
                                 int(seed) & 0xFFFFFFFFFFFFFFFF, idx, n, _ints(crop_size),
                                 _ints(crop_padding), float(horizontal_flip_p), _doubles(mean),
                                 _doubles(std))
        self._h = None
        self._h = _lib.cnnc_dataloader_new(dataset._h, opts)

    @staticmethod
    def _index_array(indices):
        if indices is None:
            return None, 0
        vals = [int(i) for i in indices]
        return (c_int64 * max(len(vals), 1))(*vals), len(vals)

    def __del__(self, _free=_lib.cnnc_dataloader_free):
        h = getattr(self, "_h", None)
        if h:
            self._h = None
            _free(h)

    def __len__(self):
        return int(_lib.cnnc_dataloader_len(self._h))

    @property
    def epoch(self):
        return int(_lib.cnnc_dataloader_epoch(self._h))

    def set_epoch(self, epoch):
        _lib.cnnc_dataloader_set_epoch(self._h, int(epoch))

    def set_indices(self, indices):
        idx, n = self._index_array(indices)
        _lib.cnnc_dataloader_set_indices(self._h, idx, n)

    def next_batch(self):
        """The next (images, labels), or None at the end of the epoch."""
        x, y = c_void_p(), c_void_p()
        _lib.cnnc_dataloader_next(self._h, ctypes.byref(x), ctypes.byref(y))
        if not x.value:
            return None
        return Tensor._wrap(x.value), Tensor._wrap(y.value)

    def __iter__(self):
        while True:
            batch = self.next_batch()
            if batch is None:
                return
            yield batch


class DistributedSampler:
    """torch.utils.data.DistributedSampler(dataset, num_replicas=None, rank=None,
    shuffle=True, seed=0, drop_last=False): this rank's indices, reshuffled per epoch
    (set_epoch) from the shared seed; num_replicas and rank default to the process
    group's. Feed it to a loader with loader.set_indices(list(sampler))."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from . import distributed
            if not distributed.is_initialized():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        self._len = len(dataset)
        self._opts = DistributedSamplerOptions(int(num_replicas), int(rank), bool(shuffle),
                                               int(seed) & 0xFFFFFFFFFFFFFFFF, bool(drop_last))
        self.num_replicas, self.rank, self.shuffle, self.seed = num_replicas, rank, shuffle, seed
        self.drop_last, self.epoch = drop_last, 0
        self.num_samples = self._check(_lib.cnnc_distributed_sampler_len(self._len, self._opts))
        self.total_size = self.num_samples * self.num_replicas

    @staticmethod
    def _check(n):
        if n < 0:
            _lib.raise_last()
        return int(n)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.num_samples

    def __iter__(self):
        out = (c_int64 * max(self.num_samples, 1))()
        n = self._check(_lib.cnnc_distributed_sampler_indices(self._len, int(self.epoch), self._opts,
                                                              out, self.num_samples))
        return iter(out[:n])
