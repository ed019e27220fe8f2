"""cnnc.safetensors: the safetensors file format in pure Python + numpy.

The `safetensors` package is not needed (nor the cnnc library): a file is

    8 bytes     N, the header's length, unsigned 64-bit little-endian
    N bytes     a UTF-8 JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]},
                and optionally "__metadata__": {str: str}; the writer pads it with spaces
                to a multiple of 8 bytes, as the reference writer does
    the rest    the tensors' bytes (little-endian, C order), offsets relative to its start,
                covering it exactly: no overlap, no gap, nothing past its end

    from cnnc.safetensors import save_file, load_file, load_metadata
    save_file({"w": np.ones((2, 3), np.float32)}, "t.safetensors", metadata={"k": "v"})
    load_file("t.safetensors")      # OrderedDict([('w', array(...))]), in file order
    load_metadata("t.safetensors")  # {'k': 'v'} (None without __metadata__)

load_file gives numpy arrays of the file's dtype (BF16, which numpy lacks, is widened to
float32 exactly). Every length, offset, shape and dtype is checked; a bad file raises
SafetensorsError (a ValueError) naming the file, the tensor and the values.
"""
import collections
import json
import struct

import numpy as np

__all__ = ["SafetensorsError", "save_file", "load_file", "load_metadata", "save", "load"]

METADATA_KEY = "__metadata__"
MAX_HEADER_SIZE = 100_000_000  # the reference reader's limit

# safetensors dtype -> numpy dtype (little-endian); BF16 is handled apart
_DTYPES = {
    "BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"), "U16": np.dtype("<u2"), "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"), "I64": np.dtype("<i8"), "U64": np.dtype("<u8"),
    "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8"),
}
_ITEMSIZE = {**{k: v.itemsize for k, v in _DTYPES.items()}, "BF16": 2}
_NAMES = {v.str.lstrip("<|="): k for k, v in _DTYPES.items()}  # 'f4' -> 'F32'


class SafetensorsError(ValueError):
    """A malformed safetensors file, or something save_file cannot write."""


# --- writing ---------------------------------------------------------------------------------

def _dtype_name(name, a):
    key = a.dtype.newbyteorder("<").str.lstrip("<|=") if a.dtype.byteorder == ">" else \
        a.dtype.str.lstrip("<|=")
    if key == "b1":
        return "BOOL"
    if key not in _NAMES:
        raise SafetensorsError("tensor '%s': dtype %s cannot be stored in safetensors (use one of %s)"
                               % (name, a.dtype, ", ".join(sorted(_DTYPES))))
    return _NAMES[key]


def serialize(tensors, metadata=None):
    """The bytes of a safetensors file holding tensors (a mapping name -> array-like, kept
    in its order) and metadata (a str -> str mapping, or None)."""
    if not hasattr(tensors, "items"):
        raise SafetensorsError("tensors must be a mapping name -> array, got %s" % type(tensors).__name__)
    header = collections.OrderedDict()
    if metadata is not None:
        if not hasattr(metadata, "items"):
            raise SafetensorsError("metadata must be a mapping str -> str, got %s" % type(metadata).__name__)
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError("metadata must map str to str, got %r: %r" % (k, v))
        header[METADATA_KEY] = dict(metadata)
    blobs, offset = [], 0
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise SafetensorsError("tensor names must be str, got %r" % (name,))
        if name == METADATA_KEY:
            raise SafetensorsError("'%s' is reserved for the metadata; it cannot name a tensor" % name)
        a = np.asarray(value)
        dtype = _dtype_name(name, a)
        data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": [int(s) for s in a.shape],
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return b"".join([struct.pack("<Q", len(text)), text] + blobs)


def save_file(tensors, path, metadata=None):
    """Writes tensors (name -> numpy array, in the mapping's order) and metadata (str -> str,
    or None) to path as a safetensors file."""
    data = serialize(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)


save = serialize  # safetensors.numpy.save's name for the in-memory form


# --- reading ---------------------------------------------------------------------------------

def _no_duplicates(pairs):
    d = collections.OrderedDict()
    for k, v in pairs:
        if k in d:
            raise SafetensorsError("duplicate key '%s' in the header" % k)
        d[k] = v
    return d


def _fail(where, msg):
    raise SafetensorsError("%s: %s" % (where, msg))


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _header(buf, where):
    """(header dict, metadata or None, start of the byte buffer)."""
    if len(buf) < 8:
        _fail(where, "file of %d bytes is too short for the 8-byte header length" % len(buf))
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER_SIZE:
        _fail(where, "header length %d exceeds the limit of %d bytes" % (n, MAX_HEADER_SIZE))
    if n > len(buf) - 8:
        _fail(where, "header length %d runs past the end of the file (%d bytes after the length)"
              % (n, len(buf) - 8))
    raw = bytes(buf[8:8 + n])
    if not raw.startswith(b"{"):
        _fail(where, "the header does not start with '{'")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except SafetensorsError as e:
        _fail(where, str(e))
    except (UnicodeDecodeError, ValueError) as e:
        _fail(where, "the header is not valid JSON (%s)" % e)
    if not isinstance(header, dict):
        _fail(where, "the header is not a JSON object")
    metadata = header.pop(METADATA_KEY, None)
    if metadata is not None:
        if not isinstance(metadata, dict):
            _fail(where, "__metadata__ must be an object of strings")
        for k, v in metadata.items():
            if not isinstance(v, str):
                _fail(where, "__metadata__ value of '%s' is not a string: %r" % (k, v))
    return header, metadata, 8 + n


def _entries(header, size, where):
    """[(name, dtype, shape, begin, end)] sorted by offset, checked against a byte buffer
    of size bytes: dtypes known, shapes and byte counts consistent, no overlap, no gap."""
    entries = []
    for name, info in header.items():
        at = "%s: tensor '%s'" % (where, name)
        if not isinstance(info, dict):
            _fail(at, "entry is not an object")
        extra = set(info) - {"dtype", "shape", "data_offsets"}
        if extra:
            _fail(at, "unexpected field(s) %s" % ", ".join(sorted(extra)))
        dtype, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in _ITEMSIZE:
            _fail(at, "unsupported dtype %r" % (dtype,))
        if not isinstance(shape, list) or not all(_is_int(s) and s >= 0 for s in shape):
            _fail(at, "shape must be a list of non-negative integers, got %r" % (shape,))
        if not isinstance(offs, list) or len(offs) != 2 or not all(_is_int(o) and o >= 0 for o in offs):
            _fail(at, "data_offsets must be [begin, end] with non-negative integers, got %r" % (offs,))
        begin, end = offs
        if begin > end:
            _fail(at, "data_offsets [%d, %d] end before they begin" % (begin, end))
        if end > size:
            _fail(at, "data_offsets [%d, %d] run past the end of the data (%d bytes)" % (begin, end, size))
        nbytes = _ITEMSIZE[dtype]
        for s in shape:
            nbytes *= s
        if nbytes != end - begin:
            _fail(at, "shape %s of %s needs %d bytes but data_offsets [%d, %d] hold %d"
                  % (shape, dtype, nbytes, begin, end, end - begin))
        entries.append((name, dtype, shape, begin, end))
    entries.sort(key=lambda e: (e[3], e[4]))
    pos = 0
    for name, _, _, begin, end in entries:
        if begin != pos:
            what = "overlaps the previous tensor" if begin < pos else "leaves a gap of %d bytes" % (begin - pos)
            _fail("%s: tensor '%s'" % (where, name), "data_offsets [%d, %d] %s (expected to begin at %d)"
                  % (begin, end, what, pos))
        pos = end
    if pos != size:
        _fail(where, "the tensors cover %d bytes of data but the file holds %d" % (pos, size))
    return entries


def _array(dtype, shape, data):
    if dtype == "BF16":
        bits = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    a = np.frombuffer(data, dtype=_DTYPES[dtype]).reshape(shape)
    if dtype == "BOOL" and a.size and not np.isin(np.frombuffer(data, np.uint8), (0, 1)).all():
        raise SafetensorsError("BOOL values must be 0 or 1")
    return a.astype(a.dtype.newbyteorder("="), copy=True)


def deserialize(buf, where="<buffer>"):
    """(OrderedDict name -> numpy array in offset order, metadata dict or None) from the
    bytes of a safetensors file."""
    buf = memoryview(buf).cast("B")
    header, metadata, start = _header(buf, where)
    out = collections.OrderedDict()
    for name, dtype, shape, begin, end in _entries(header, len(buf) - start, where):
        try:
            out[name] = _array(dtype, shape, buf[start + begin:start + end])
        except SafetensorsError as e:
            _fail("%s: tensor '%s'" % (where, name), str(e))
    return out, metadata


def load(data):
    """The tensors of safetensors bytes (safetensors.numpy.load's name)."""
    return deserialize(data)[0]


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def load_file(path):
    """The tensors of a safetensors file: OrderedDict name -> numpy array, in file
    (data offset) order."""
    return deserialize(_read(path), str(path))[0]


def load_metadata(path):
    """The __metadata__ map of a safetensors file (dict str -> str), or None if it has none.
    Reads and checks the header only."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            _fail(path, "file of %d bytes is too short for the 8-byte header length" % len(head))
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_SIZE:
            _fail(path, "header length %d exceeds the limit of %d bytes" % (n, MAX_HEADER_SIZE))
        rest = f.read(n)
        size = f.seek(0, 2)
    header, metadata, start = _header(head + rest, str(path))
    _entries(header, size - start, str(path))
    return metadata
