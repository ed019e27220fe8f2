"""The data layer against numpy, torchvision and torch.utils.data.

Files written with numpy (IDX raw and gzip, CIFAR-10 binary batches) read as numpy and
torchvision read them; Normalize, RandomCrop (with every padding form) and
RandomHorizontalFlip give torchvision's results for the offsets and flips cnnc chose
(the geometry is compared, not the random stream); batches follow DataLoader's order,
sizes and drop_last; errors carry torchvision's messages."""
import gzip
import os

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from torchvision.datasets.mnist import read_image_file, read_label_file

import cnnc
from cnnc import data

from helpers import rng


# --- files ---------------------------------------------------------------------------

def idx_bytes(arr, type_code=0x08):
    """An IDX file of the uint8 array arr (the format torchvision's MNIST reads)."""
    header = bytes([0, 0, type_code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(arr).tobytes()


def write(path, payload, compress=False):
    with open(path, "wb") as f:
        f.write(gzip.compress(payload) if compress else payload)
    return str(path)


def mnist_like(r, n, h=28, w=28):
    return (r.randint(0, 256, (n, h, w)).astype(np.uint8),
            r.randint(0, 10, n).astype(np.uint8))


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("n,h,w", [(7, 28, 28), (3, 5, 9), (0, 28, 28)])
def test_idx_reads_like_numpy_and_torchvision(tmp_path, compress, n, h, w):
    if compress and not data.gzip_supported():
        pytest.skip("built without zlib")  # tests/deps.sh installs zlib1g-dev
    r = rng(n + h)
    images, labels = mnist_like(r, n, h, w)
    ip = write(tmp_path / "images", idx_bytes(images), compress)
    lp = write(tmp_path / "labels", idx_bytes(labels), compress)
    ds = data.load_idx(ip, lp)
    x, y = ds.images.numpy(), ds.labels.numpy()
    assert x.shape == (n, 1, h, w) and x.dtype == np.float32
    assert y.dtype == np.int64 and len(ds) == n
    # ToTensor on the uint8 images, exactly
    want = torch.from_numpy(images).unsqueeze(1).float().div(255).numpy()
    np.testing.assert_array_equal(x, want)
    np.testing.assert_array_equal(y, labels)
    if not compress and n:  # torchvision's own IDX reader on the same files (not empty ones)
        np.testing.assert_array_equal(x[:, 0], read_image_file(ip).numpy() / np.float32(255))
        np.testing.assert_array_equal(y, read_label_file(lp).numpy())
    if n:
        ex = np.stack([TF.to_tensor(images[i][:, :, None]).numpy() for i in range(n)])
        np.testing.assert_array_equal(x, ex)


def test_mnist_folder_and_class_names(tmp_path):
    r = rng(1)
    images, labels = mnist_like(r, 4)
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(images))
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(labels))
    ds = data.MNIST(tmp_path, train=False, classes=data.FASHION_MNIST_CLASSES)
    assert ds.classes == data.FASHION_MNIST_CLASSES
    np.testing.assert_array_equal(ds.labels.numpy(), labels)
    with pytest.raises(cnnc.Error, match="train-images-idx3-ubyte"):
        data.MNIST(tmp_path, train=True)
    assert data.load_idx(tmp_path / "t10k-images-idx3-ubyte",
                         tmp_path / "t10k-labels-idx1-ubyte").classes == [str(i) for i in range(10)]


@pytest.mark.parametrize("case,payload,match", [
    ("magic", lambda im: b"\x08\x03" + im[2:], "bad magic 08 03"),
    ("type", lambda im: im[:2] + b"\x0d" + im[3:], r"type code 0x0d \(float32\) is not supported"),
    ("ndim", lambda im: im[:3] + b"\x02" + im[4:], "expected an IDX file of 3 dims"),
    ("truncated", lambda im: im[:-1], "truncated"),
    ("trailing", lambda im: im + b"\x00", "1 bytes of trailing data"),
])
def test_idx_malformed(tmp_path, case, payload, match):
    images, labels = mnist_like(rng(2), 3)
    ip = write(tmp_path / "images", payload(idx_bytes(images)))
    lp = write(tmp_path / "labels", idx_bytes(labels))
    with pytest.raises(cnnc.Error, match=match):
        data.load_idx(ip, lp)


def test_idx_labels_checked(tmp_path):
    images, _ = mnist_like(rng(3), 3)
    ip = write(tmp_path / "images", idx_bytes(images))
    lp = write(tmp_path / "labels", idx_bytes(np.array([1, 12, 3], np.uint8)))
    with pytest.raises(cnnc.Error, match="label 12 of sample 1 is out of range for 10 classes"):
        data.load_idx(ip, lp)
    assert len(data.load_idx(ip, lp, num_classes=13)) == 3
    lp = write(tmp_path / "labels", idx_bytes(np.array([1, 2], np.uint8)))
    with pytest.raises(cnnc.Error, match="has 3 images but .* has 2 labels"):
        data.load_idx(ip, lp)


def cifar_records(r, n):
    labels = r.randint(0, 10, n).astype(np.uint8)
    images = r.randint(0, 256, (n, 3, 32, 32)).astype(np.uint8)
    raw = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)
    return raw.tobytes(), images, labels


def test_cifar_reads_like_numpy(tmp_path):
    r = rng(4)
    files, all_images, all_labels = [], [], []
    for k, n in enumerate([3, 1, 4]):
        raw, images, labels = cifar_records(r, n)
        files.append(write(tmp_path / ("data_batch_%d.bin" % (k + 1)), raw))
        all_images.append(images)
        all_labels.append(labels)
    ds = data.load_cifar10_files(files)
    want = np.concatenate(all_images).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(ds.images.numpy(), want)
    np.testing.assert_array_equal(ds.labels.numpy(), np.concatenate(all_labels))
    assert ds.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                          "horse", "ship", "truck"]
    # one record in HWC as an image library holds it, through ToTensor: the same CHW
    hwc = np.ascontiguousarray(all_images[0][1].transpose(1, 2, 0))
    np.testing.assert_array_equal(ds.images.numpy()[1], TF.to_tensor(hwc).numpy())
    raw, images, _ = cifar_records(r, 2)
    write(tmp_path / "test_batch.bin", raw)
    np.testing.assert_array_equal(data.CIFAR10(tmp_path, train=False).images.numpy(),
                                  images.astype(np.float32) / np.float32(255))
    write(tmp_path / "bad.bin", raw[:-5])
    with pytest.raises(cnnc.Error, match="whole records of 3073 bytes"):
        data.load_cifar10_files([tmp_path / "bad.bin"])


# --- normalisation and augmentation --------------------------------------------------------

def image_set(r, n, c, h, w):
    """Random distinct float images in [0, 1) (every window is unique) and labels."""
    x = r.uniform(0, 1, (n, c, h, w)).astype(np.float32)
    y = (np.arange(n) % 10).astype(np.int64)
    return data.from_tensors(x, y, 10), x, y


def one_epoch(loader):
    xs, ys = [], []
    for x, y in loader:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return xs, ys


@pytest.mark.parametrize("c,mean,std", [(3, [0.4914, 0.4822, 0.4465], [0.247, 0.2435, 0.2616]),
                                        (1, [0.1307], [0.3081]), (3, [0.5], [0.25])])
def test_normalize_matches_torchvision(c, mean, std):
    ds, x, _ = image_set(rng(5), 6, c, 7, 5)
    xs, _ = one_epoch(data.DataLoader(ds, batch_size=6, mean=mean, std=std))
    want = T.Normalize(mean, std)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(xs[0], want)


def test_normalize_errors():
    ds, _, _ = image_set(rng(6), 2, 3, 4, 4)
    with pytest.raises(cnnc.Error) as e:
        data.DataLoader(ds, mean=[0.5], std=[0.0])
    with pytest.raises(ValueError) as t:
        T.Normalize([0.5], [0.0])(torch.zeros(3, 4, 4))
    assert str(e.value) == str(t.value)
    with pytest.raises(cnnc.Error, match="mean has 2 and std 2 values, but the images have 3"):
        data.DataLoader(ds, mean=[0.5, 0.5], std=[1, 1])


def padding_ltrb(padding):
    """torchvision's padding forms as (left, top, right, bottom)."""
    p = [padding] if isinstance(padding, int) else list(padding)
    if len(p) == 1:
        return p * 4
    if len(p) == 2:
        return [p[0], p[1], p[0], p[1]]
    return p


def torchvision_views(img, size, padding, flips):
    """Every (top, left, flip) choice of RandomCrop(size, padding) + RandomHorizontalFlip,
    computed with torchvision's own functional ops (F.pad, F.crop, F.hflip)."""
    padded = TF.pad(img, padding) if padding is not None else img
    th, tw = size
    _, ph, pw = padded.shape
    out = {}
    for i in range(ph - th + 1):
        for j in range(pw - tw + 1):
            crop = TF.crop(padded, i, j, th, tw)
            for f in flips:
                out[(i, j, f)] = (TF.hflip(crop) if f else crop).numpy()
    return out


@pytest.mark.parametrize("hw,size,padding,p", [
    ((5, 5), (5, 5), 2, 0.0), ((6, 5), (6, 5), (2, 1), 0.5), ((3, 4), (5, 5), (1, 0, 2, 3), 1.0),
    ((6, 6), (3, 4), None, 0.5), ((6, 6), (4, 4), -1, 0.0), ((6, 6), (6, 6), 1, 0.5)])
def test_random_crop_flip_geometry(hw, size, padding, p):
    ds, x, _ = image_set(rng(7), 3, 2, *hw)
    flips = [False, True] if 0 < p < 1 else [p == 1.0]
    loader = data.DataLoader(ds, batch_size=3, seed=11, crop_size=list(size),
                             crop_padding=0 if padding is None else padding,
                             horizontal_flip_p=p)
    views = [torchvision_views(torch.from_numpy(x[k]), size, padding, flips) for k in range(3)]
    seen = [set() for _ in range(3)]
    for _ in range(300):  # epochs
        (batch,), _ = one_epoch(loader)
        assert batch.shape == (3, 2) + tuple(size)
        for k in range(3):
            hits = [key for key, v in views[k].items() if np.array_equal(v, batch[k])]
            assert len(hits) == 1, "not one of RandomCrop/hflip's outputs"
            seen[k].add(hits[0])
    # every offset and flip comes up (at most 30 choices, 300 draws each)
    assert all(len(s) == len(views[0]) for s in seen)


def test_crop_errors_match_torchvision():
    ds, _, _ = image_set(rng(8), 2, 1, 28, 28)
    for size, padding in [((30, 30), 0), ((33, 32), 2)]:
        with pytest.raises(cnnc.Error) as e:
            data.DataLoader(ds, crop_size=list(size), crop_padding=padding)
        with pytest.raises(ValueError) as t:
            T.RandomCrop(size, padding=padding)(torch.zeros(1, 28, 28))
        assert str(e.value) == str(t.value)
    with pytest.raises(cnnc.Error) as e:
        data.DataLoader(ds, crop_size=24, crop_padding=(1, 2, 3))
    with pytest.raises(ValueError) as t:
        T.RandomCrop(24, padding=(1, 2, 3))(torch.zeros(1, 28, 28))
    assert str(e.value) == str(t.value)
    with pytest.raises(cnnc.Error) as e:
        data.DataLoader(ds, crop_size=(1, 2, 3))
    with pytest.raises(ValueError) as t:
        T.RandomCrop((1, 2, 3))
    assert str(e.value) == str(t.value)


# --- the loader's order ---------------------------------------------------------------------

@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 4, False), (10, 4, True), (10, 5, True),
                                                    (3, 8, False), (3, 8, True), (0, 2, False)])
def test_batches_follow_torch_dataloader(n, batch_size, drop_last):
    ds, x, y = image_set(rng(9), n, 1, 3, 3)
    loader = data.DataLoader(ds, batch_size=batch_size, drop_last=drop_last)
    ref = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x),
                                                                     torch.from_numpy(y)),
                                      batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(ref)
    xs, ys = one_epoch(loader)
    got = list(ref)
    assert len(xs) == len(got)
    for a, b, (rx, ry) in zip(xs, ys, got):
        np.testing.assert_array_equal(a, rx.numpy())
        np.testing.assert_array_equal(b, ry.numpy())


def test_shuffle_is_seeded_per_epoch():
    ds, x, y = image_set(rng(10), 50, 1, 2, 2)
    a = data.DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    b = data.DataLoader(ds, batch_size=16, shuffle=True, seed=3)
    ea0, ea1 = np.concatenate(one_epoch(a)[1]), np.concatenate(one_epoch(a)[1])
    eb0 = np.concatenate(one_epoch(b)[1])
    np.testing.assert_array_equal(ea0, eb0)  # the order does not depend on the batch size
    assert not np.array_equal(ea0, ea1)      # a new permutation each epoch
    assert sorted(ea0 % 10) == sorted(y % 10)
    b.set_epoch(1)
    np.testing.assert_array_equal(np.concatenate(one_epoch(b)[1]), ea1)
    c = data.DataLoader(ds, batch_size=7, shuffle=True, seed=4)
    assert not np.array_equal(np.concatenate(one_epoch(c)[1]), ea0)


def test_images_follow_their_labels_and_shards():
    ds, x, y = image_set(rng(11), 20, 1, 2, 2)
    shard = [3, 17, 5, 5, 0]
    xs, ys = one_epoch(data.DataLoader(ds, batch_size=2, indices=shard))
    np.testing.assert_array_equal(np.concatenate(xs), x[shard])
    np.testing.assert_array_equal(np.concatenate(ys), y[shard])
    loader = data.DataLoader(ds, batch_size=3, shuffle=True, seed=1, indices=range(0, 20, 2))
    xs, ys = one_epoch(loader)
    got = np.concatenate(xs)
    order = [int(np.flatnonzero((x == img).all(axis=(1, 2, 3)))[0]) for img in got]
    assert sorted(order) == list(range(0, 20, 2))
    np.testing.assert_array_equal(np.concatenate(ys), y[order])
    with pytest.raises(cnnc.Error, match="index 20"):
        loader.set_indices([20])


# --- the synthetic set ------------------------------------------------------------------------

def test_synthetic_set():
    a = data.synthetic(train=True, size=40, seed=2)
    cnnc.set_num_threads(1)
    try:
        b = data.synthetic(train=True, size=40, seed=2)
    finally:
        cnnc.set_num_threads(os.cpu_count() or 1)
    np.testing.assert_array_equal(a.images.numpy(), b.images.numpy())
    assert a.classes == ["circle", "ring", "square", "frame", "triangle", "plus", "cross",
                         "hbars", "vbars", "diamond"]
    np.testing.assert_array_equal(a.labels.numpy(), np.arange(40) % 10)
    x = a.images.numpy()
    np.testing.assert_array_equal(np.round(x * 255) / np.float32(255), x)  # bytes / 255
    test = data.synthetic(train=False, size=40, seed=2)
    assert not np.array_equal(test.images.numpy(), x)
    c3 = data.synthetic(train=False, size=5, seed=2, channels=3, image_size=32)
    assert c3.images.shape == (5, 3, 32, 32)
    mean, std = a.channel_stats()
    np.testing.assert_allclose(mean, [x.astype(np.float64).mean()], rtol=1e-12)
    np.testing.assert_allclose(std, [x.astype(np.float64).std()], rtol=1e-9)
    with pytest.raises(cnnc.Error, match="channels must be 1 or 3"):
        data.synthetic(channels=2)
