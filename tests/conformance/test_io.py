"""Tensor files: safetensors between the Python writer (cnnc.safetensors, pure Python),
the C library (cnnc.io) and PyTorch state_dicts; .npy between numpy and cnnc.

Files the Python writer makes are read by C and files C writes are read by Python, byte
for byte the same layout; numpy's np.save files of each dtype and format version are read
by cnnc and cnnc's .npy files by np.load; torch modules' state_dicts go through
cnnc_module_save / cnnc_module_load and back into torch with strict loading (including
BatchNorm's int64 num_batches_tracked); malformed files raise cnnc.Error (and the
Python reader SafetensorsError) with a message naming what is wrong."""
import collections
import io
import json
import struct

import numpy as np
import pytest
import torch
import torch.nn as tnn

import cnnc
from cnnc import safetensors as st

def rng(seed):
    return np.random.default_rng(seed)

# the safetensors tests need a library built with cJSON; the .npy ones run everywhere
needs_io = pytest.mark.skipif(not cnnc.io.has_io(), reason="library built without cJSON")

DTYPES = [np.float32, np.float16, np.float64, np.int64, np.int32, np.uint8, np.bool_,
          np.int8, np.int16, np.uint16, np.uint32]


def sample(r, dtype, shape):
    if dtype == np.bool_:
        return r.integers(0, 2, shape).astype(bool)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return r.integers(max(info.min, -2 ** 40), min(info.max, 2 ** 40), shape, dtype=dtype,
                          endpoint=True)
    a = r.standard_normal(shape).astype(dtype)
    if a.size > 2:
        a.flat[0], a.flat[1] = np.inf, -0.0
    return a


def as_cnnc_values(a):
    """What cnnc's reader gives for a numpy array: float32 or int64."""
    return a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int64)


def same(x, y):
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, x.dtype, y.shape, y.dtype)
    np.testing.assert_array_equal(x, y)
    if x.dtype.kind == "f":  # the same bits (signed zeros, NaN payloads)
        assert x.tobytes() == y.tobytes()


# --- safetensors: Python writer <-> C reader -------------------------------------------------

@needs_io
@pytest.mark.parametrize("seed", range(4))
def test_python_writer_c_reader(tmp_path, seed):
    r = rng(seed)
    tensors = collections.OrderedDict()
    for i, dtype in enumerate(DTYPES):
        shape = tuple(int(s) for s in r.integers(0 if i % 5 == 0 else 1, 4, r.integers(0, 4)))
        tensors["layer%d.%s" % (i, np.dtype(dtype).name)] = sample(r, dtype, shape)
    meta = {"format": "pt", "note": "é \"quoted\"\n", "cnnc.model": json.dumps({"a": [1, 2]})}
    path = tmp_path / "w.safetensors"
    st.save_file(tensors, path, metadata=meta)
    got = cnnc.io.load_safetensors(path)
    assert list(got) == list(tensors)  # the writer's order is the offset order
    for k, v in tensors.items():
        same(got[k].numpy(), as_cnnc_values(v))
    assert cnnc.io.load_safetensors_metadata(path) == meta


@needs_io
def test_bf16_and_offset_order(tmp_path):
    """BF16 (which numpy lacks) is widened exactly; entries listed out of offset order come
    back in offset order from both readers."""
    vals = np.array([1.5, -2.0, 3.140625, np.inf], np.float32)
    bf = (vals.view(np.uint32) >> 16).astype("<u2").tobytes()
    header = {"z": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]},
              "a": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}
    h = json.dumps(header).encode()
    path = tmp_path / "bf.safetensors"
    path.write_bytes(struct.pack("<Q", len(h)) + h + bf + struct.pack("<q", -3))
    c = cnnc.io.load_safetensors(path)
    p = st.load_file(path)
    assert list(c) == list(p) == ["a", "z"]
    same(c["a"].numpy(), vals.reshape(2, 2))
    same(p["a"], vals.reshape(2, 2))
    assert c["z"].numpy().tolist() == p["z"].tolist() == [-3]


# --- safetensors: C writer <-> Python reader --------------------------------------------------

@needs_io
def test_c_writer_python_reader(tmp_path):
    r = rng(1)
    tensors = collections.OrderedDict([
        ("conv.weight", r.standard_normal((4, 3, 3, 3)).astype(np.float32)),
        ("bn.num_batches_tracked", np.array(7, np.int64)),
        ("empty", np.zeros((0, 2), np.float32)),
        ("idx", np.array([-1, 2 ** 40], np.int64)),
    ])
    path = tmp_path / "c.safetensors"
    cnnc.io.save_safetensors(tensors, path, metadata={"k": "v", "ü": "ß"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and raw[8:9] == b"{" and raw[8:8 + n].rstrip(b" ").endswith(b"}")
    header = json.loads(raw[8:8 + n])
    assert list(header) == ["__metadata__", "conv.weight", "bn.num_batches_tracked", "empty", "idx"]
    assert header["conv.weight"] == {"dtype": "F32", "shape": [4, 3, 3, 3], "data_offsets": [0, 432]}
    assert header["bn.num_batches_tracked"]["dtype"] == "I64"
    got = st.load_file(path)
    assert list(got) == list(tensors)
    for k, v in tensors.items():
        same(got[k], v)
    assert st.load_metadata(path) == {"k": "v", "ü": "ß"}
    # and the Python writer's bytes for the same tensors are the same bytes
    assert st.serialize(tensors, {"k": "v", "ü": "ß"}) == raw


@needs_io
def test_save_conversions_and_errors(tmp_path):
    path = tmp_path / "x.safetensors"
    cnnc.io.save_safetensors({"b": np.array([True, False]), "h": np.ones(2, np.float16),
                              "t": torch.arange(3), "c": cnnc.ones(2)}, path)
    got = st.load_file(path)
    assert got["b"].dtype == np.int64 and got["h"].dtype == np.float32
    assert got["t"].tolist() == [0, 1, 2] and got["c"].tolist() == [1.0, 1.0]
    with pytest.raises(cnnc.Error, match="entry 'n' is None"):
        cnnc.io.save_safetensors({"n": None}, path)
    with pytest.raises(cnnc.Error, match="reserved for the metadata"):
        cnnc.io.save_safetensors({"__metadata__": np.ones(1)}, path)
    with pytest.raises(cnnc.Error, match="cannot open .*for writing"):
        cnnc.io.save_safetensors({"a": np.ones(1)}, tmp_path / "no" / "x.safetensors")
    with pytest.raises(st.SafetensorsError, match="reserved"):
        st.save_file({"__metadata__": np.ones(1)}, path)
    with pytest.raises(st.SafetensorsError, match="metadata must map str to str"):
        st.save_file({"a": np.ones(1)}, path, metadata={"k": 1})
    with pytest.raises(st.SafetensorsError, match="dtype complex64 cannot be stored"):
        st.save_file({"a": np.ones(1, np.complex64)}, path)


# --- malformed files: both readers reject them, naming the problem --------------------------

def _file(header, data=b"", length=None):
    h = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def _entry(dtype="U8", shape=(1,), offsets=(0, 1)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


MALFORMED = [
    ("short", b"\x01\x02", "too short for the 8-byte header length"),
    ("past_end", _file("{}", length=100), "header length 100 runs past the end of the file"),
    ("limit", _file("{}", length=2 ** 63), "exceeds the limit"),
    ("not_object", _file("[1]"), "does not start with '{'"),
    ("invalid_json", _file('{"a":'), "not valid JSON"),
    ("duplicate", _file('{"a":%s,"a":%s}' % (json.dumps(_entry()), json.dumps(_entry(offsets=(1, 2)))), b"ab"),
     "duplicate"),
    ("meta_not_string", _file(json.dumps({"__metadata__": {"k": 1}})), "__metadata__ value of .k. is not a string"),
    ("meta_not_object", _file(json.dumps({"__metadata__": "x"})), "__metadata__ must be an object"),
    ("bad_dtype", _file(json.dumps({"a": _entry("Q8")}), b"a"), "tensor 'a'.*dtype"),
    ("shape_negative", _file(json.dumps({"a": _entry(shape=(-1,))}), b"a"), "tensor 'a'.*non-negative"),
    ("offsets_past_end", _file(json.dumps({"a": _entry(shape=(4,), offsets=(0, 4))}), b"ab"),
     r"tensor 'a'.*data_offsets \[0, 4\] run past the end of the data \(2 bytes\)"),
    ("size_mismatch", _file(json.dumps({"a": _entry("F32", (3,), (0, 8))}), b"x" * 8),
     r"shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8"),
    ("overflow", _file(json.dumps({"a": _entry("F32", (2 ** 40, 2 ** 40, 2 ** 40), (0, 4))}), b"x" * 4),
     "needs|overflows"),
    ("overlap", _file(json.dumps({"a": _entry(shape=(2,), offsets=(0, 2)), "b": _entry(shape=(2,), offsets=(1, 3))}),
                      b"abc"), "tensor 'b'.*overlap"),
    ("gap", _file(json.dumps({"a": _entry(offsets=(1, 2))}), b"ab"), "tensor 'a'.*gap"),
    ("leftover", _file(json.dumps({"a": _entry()}), b"abc"), "cover 1 bytes of data but the file holds 3"),
    ("bool_value", _file(json.dumps({"a": _entry("BOOL")}), b"\x07"), "0 or 1"),
]


@needs_io
@pytest.mark.parametrize("name,data,pattern", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_safetensors(tmp_path, name, data, pattern):
    path = tmp_path / (name + ".safetensors")
    path.write_bytes(data)
    with pytest.raises(cnnc.Error, match=pattern) as e:
        cnnc.io.load_safetensors(path)
    assert str(path) in str(e.value)
    with pytest.raises(cnnc.Error, match=pattern):
        cnnc.io.loads_safetensors(data)
    with pytest.raises(st.SafetensorsError):
        st.load_file(path)


@needs_io
def test_truncated_files(tmp_path):
    data = st.serialize({"w": np.arange(6, dtype=np.float32), "b": np.ones(2, np.int64)}, {"k": "v"})
    for cut in sorted({0, 7, 8, 20, len(data) // 2, len(data) - 17, len(data) - 1}):
        with pytest.raises(cnnc.Error):
            cnnc.io.loads_safetensors(data[:cut])
        with pytest.raises(st.SafetensorsError):
            st.deserialize(data[:cut])
    with pytest.raises(cnnc.Error, match="cannot open"):
        cnnc.io.load_safetensors(tmp_path / "missing.safetensors")


# --- torch state_dicts through cnnc_module_save / cnnc_module_load ---------------------------

def _modules():
    return [
        ("conv", lambda: tnn.Conv2d(3, 4, 3, padding=1), lambda: cnnc.nn.Conv2d(3, 4, 3, padding=1)),
        ("bn", lambda: tnn.BatchNorm2d(4), lambda: cnnc.nn.BatchNorm2d(4)),
        ("net", lambda: tnn.Sequential(tnn.Conv2d(1, 2, 3, bias=False), tnn.BatchNorm2d(2), tnn.ReLU(),
                                       tnn.Flatten(), tnn.Linear(2 * 4 * 4, 3), tnn.LayerNorm(3)),
         lambda: cnnc.nn.Sequential(cnnc.nn.Conv2d(1, 2, 3, bias=False), cnnc.nn.BatchNorm2d(2), cnnc.nn.ReLU(),
                                    cnnc.nn.Flatten(), cnnc.nn.Linear(2 * 4 * 4, 3), cnnc.nn.LayerNorm(3))),
        ("groupnorm_convT", lambda: tnn.Sequential(tnn.ConvTranspose2d(2, 4, 2, stride=2), tnn.GroupNorm(2, 4)),
         lambda: cnnc.nn.Sequential(cnnc.nn.ConvTranspose2d(2, 4, 2, stride=2), cnnc.nn.GroupNorm(2, 4))),
    ]


def _trained_torch(make):
    """A torch module whose running stats and num_batches_tracked moved."""
    m = make()
    m.train()
    first = next(m.parameters())
    for name, buf in m.named_buffers():
        if name.endswith("num_batches_tracked"):
            buf.fill_(5)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p))
        for name, buf in m.named_buffers():
            if buf.dtype.is_floating_point:
                buf.add_(torch.rand_like(buf))
    assert first is not None
    return m


@needs_io
@pytest.mark.parametrize("name,make_torch,make_cnnc", _modules(), ids=[m[0] for m in _modules()])
def test_state_dict_round_trip(tmp_path, name, make_torch, make_cnnc):
    tm = _trained_torch(make_torch)
    # torch -> file (the Python writer, as cnnc.export does) -> cnnc_module_load
    path = tmp_path / "torch.safetensors"
    st.save_file(collections.OrderedDict((k, v.numpy()) for k, v in tm.state_dict().items()), path)
    cm = make_cnnc()
    cm.load(path, strict=True)
    csd = cm.state_dict()
    assert list(csd) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        same(csd[k], v.numpy())
    # cnnc -> cnnc_module_save -> torch (strict)
    out = tmp_path / "cnnc.safetensors"
    cm.save(out)
    loaded = st.load_file(out)
    assert list(loaded) == list(tm.state_dict())
    fresh = make_torch()
    fresh.load_state_dict(collections.OrderedDict((k, torch.from_numpy(v)) for k, v in loaded.items()),
                          strict=True)
    for (k, a), (_, b) in zip(fresh.state_dict().items(), tm.state_dict().items()):
        assert a.dtype == b.dtype, k
        assert torch.equal(a, b), k
    # and the file holds num_batches_tracked as I64
    raw = out.read_bytes()
    header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
    for k, v in header.items():
        assert v["dtype"] == ("I64" if k.endswith("num_batches_tracked") else "F32")


@needs_io
def test_module_load_errors(tmp_path):
    path = tmp_path / "bn.safetensors"
    cnnc.nn.BatchNorm2d(3).save(path)
    with pytest.raises(cnnc.Error, match=r"size mismatch for weight: copying a param with shape "
                                         r"torch.Size\(\[3\]\) from checkpoint"):
        cnnc.nn.BatchNorm2d(4).load(path)
    lin = cnnc.nn.Linear(2, 2)
    with pytest.raises(cnnc.Error, match="Unexpected key\\(s\\) in state_dict: \"running_mean\""):
        lin.load(path)
    with pytest.raises(cnnc.Error, match="Missing key\\(s\\) in state_dict: \"0.weight\", \"0.bias\""):
        cnnc.nn.Sequential(cnnc.nn.Linear(2, 2)).load(path)
    cnnc.nn.BatchNorm1d(3).load(path, strict=True)  # same keys and shapes
    with pytest.raises(cnnc.Error, match="cannot open"):
        lin.load(tmp_path / "nope.safetensors")


# --- .npy --------------------------------------------------------------------------------------

NPY_CASES = [(np.float32, (2, 3)), (np.float64, (4,)), (np.int64, ()), (np.uint8, (3, 1, 2)),
             (np.bool_, (5,)), (np.float32, (0, 3)), (np.float16, (3,)), (np.int32, (2,)), (np.int8, (2,))]


@pytest.mark.parametrize("version", [None, (1, 0), (2, 0), (3, 0)])
@pytest.mark.parametrize("dtype,shape", NPY_CASES, ids=[f"{np.dtype(d).str}{s}" for d, s in NPY_CASES])
def test_numpy_files_read_by_cnnc(tmp_path, version, dtype, shape):
    a = sample(rng(3), dtype, shape)
    path = tmp_path / "a.npy"
    if version is None:
        np.save(path, a)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, a, version=version)
    t = cnnc.io.load_npy(path)
    same(t.numpy(), as_cnnc_values(a))
    same(cnnc.io.loads_npy(path.read_bytes()).numpy(), as_cnnc_values(a))


@pytest.mark.parametrize("dtype,shape", [(np.float32, ()), (np.float32, (7,)), (np.float32, (2, 3, 4)),
                                         (np.int64, (3, 2)), (np.float32, (0,))])
def test_cnnc_files_read_by_numpy(tmp_path, dtype, shape):
    a = sample(rng(4), dtype, shape)
    path = tmp_path / "c.npy"
    cnnc.io.save_npy(cnnc.tensor(a), path)
    b = np.load(path)
    same(b, a)
    # np.save writes exactly these bytes (format 1.0, 64-byte aligned header)
    f = io.BytesIO()
    np.save(f, a)
    assert path.read_bytes() == f.getvalue()


def test_malformed_npy(tmp_path):
    def npy(a, **kw):
        f = io.BytesIO()
        np.save(f, a, **kw)
        return f.getvalue()
    good = npy(np.ones((2, 3), np.float32))
    cases = [
        (npy(np.asfortranarray(np.ones((2, 3), np.float32))), "Fortran order"),
        (npy(np.ones(3, ">f4")), "big-endian .npy dtype '>f4'"),
        (npy(np.ones(3, np.complex64)), "dtype '<c8' is not supported"),
        (npy(np.zeros(2, [("a", "<f4"), ("b", "<i8")])), "structured dtypes are not supported"),
        (npy(np.array(["ab"])), "dtype '<U2' is not supported"),
        (good[:-1], "needs 24 bytes of data, the file holds 23"),
        (good + b"\0", "trailing bytes"),
        (good[:9], "truncated"),
        (b"\x93NUMPY\x05\x00" + good[8:], "version 5.0"),
        (b"NUMPY" + good, "not a .npy file"),
        (good[:8] + b"\xff\xff" + good[10:], "runs past the end"),
        (good.replace(b"'shape': (2, 3)", b"'shape': (2, 3.)"), "expected ',' or '\\)'"),
        (good.replace(b"'descr'", b"'dtype'"), "unexpected key 'dtype'"),
    ]
    for data, pattern in cases:
        with pytest.raises(cnnc.Error, match=pattern):
            cnnc.io.loads_npy(data)
        path = tmp_path / "bad.npy"
        path.write_bytes(data)
        with pytest.raises(cnnc.Error, match=pattern) as e:
            cnnc.io.load_npy(path)
        assert str(path) in str(e.value)
    with pytest.raises(cnnc.Error, match="cannot open"):
        cnnc.io.load_npy(tmp_path / "missing.npy")
