"""Pure-Python safetensors reader and writer (standard library + numpy) for fixture scripts.

Mirrors include/foundry/io/safetensors.hpp and the reference implementation's layout: an 8-byte
little-endian header length, a compact JSON header padded with spaces to a multiple of 8, then the
data buffer. Like the reference writer, data is ordered by dtype size (largest first), then name.

    from safetensors_io import save_file, load_file, to_bf16
    save_file({"w": np.ones((2, 3), np.float32), "h": to_bf16([1.0, 2.5])}, "x.safetensors",
              metadata={"format": "np"})
    tensors = load_file("x.safetensors")  # {"w": ndarray, "h": BF16}

numpy has no bfloat16, so BF16 tensors travel as BF16 objects holding the uint16 bit patterns.
"""

import json
import os
import struct

import numpy as np

MAX_HEADER_BYTES = 100_000_000

_DTYPES = {  # safetensors name -> little-endian numpy dtype
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_SIZES = {"BF16": 2, **{name: dtype.itemsize for name, dtype in _DTYPES.items()}}


class BF16:
    """A bfloat16 tensor as its uint16 bit patterns (the top half of each float32)."""

    def __init__(self, bits):
        self.bits = np.ascontiguousarray(bits, dtype="<u2")

    @property
    def shape(self):
        return self.bits.shape

    def to_float32(self):
        return (self.bits.astype(np.uint32) << 16).view(np.float32)

    def __eq__(self, other):
        return isinstance(other, BF16) and np.array_equal(self.bits, other.bits)

    def __repr__(self):
        return f"BF16({self.to_float32()!r})"


def to_bf16(values):
    """Rounds float32 values to bfloat16, to nearest with ties to even (NaN stays a quiet NaN)."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(values, dtype=np.float32))
    rounded[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return BF16(rounded)


def _dtype_name(array):
    if isinstance(array, BF16):
        return "BF16"
    for name, dtype in _DTYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            return name
    raise ValueError(f"save_file: numpy dtype {array.dtype} has no safetensors equivalent")


def _raw_bytes(array, name):
    if isinstance(array, BF16):
        return array.bits.tobytes(order="C")
    return np.ascontiguousarray(array, dtype=_DTYPES[name]).tobytes(order="C")


def save_file(tensors, path, metadata=None):
    """Writes {name: ndarray or BF16} to `path` (atomically: temporary file, fsync, rename)."""
    if "__metadata__" in tensors:
        raise ValueError("save_file: '__metadata__' is reserved and cannot name a tensor")
    items = []
    for name, value in tensors.items():
        array = value if isinstance(value, BF16) else np.asarray(value)
        dtype = _dtype_name(array)
        items.append((name, dtype, list(array.shape), _raw_bytes(array, dtype)))
    items.sort(key=lambda item: (-_SIZES[item[1]], item[0]))

    header, offset = {}, 0
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("save_file: metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    for name, dtype, shape, data in items:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)

    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for _, _, _, data in items:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_file(path):
    """Reads `path` into {name: ndarray or BF16}, with the reader's checks; metadata via load_metadata."""
    return _load(path)[0]


def load_metadata(path):
    return _load(path)[1]


def _load(path):
    with open(path, "rb") as f:
        raw = f.read()

    def bad(problem):
        raise ValueError(f"safetensors file '{path}': {problem}")

    if len(raw) < 8:
        bad(f"file is {len(raw)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > MAX_HEADER_BYTES or n > len(raw) - 8:
        bad(f"header length {n} is too large for the file ({len(raw)} bytes)")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        bad("header is not a JSON object")
    buffer = raw[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    placed = []
    for name, info in header.items():
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _SIZES:
            bad(f"tensor '{name}': unknown dtype '{dtype}'")
        if not 0 <= begin <= end <= len(buffer):
            bad(f"tensor '{name}': data_offsets [{begin}, {end}] are out of range")
        if int(np.prod(shape, dtype=object)) * _SIZES[dtype] != end - begin:
            bad(f"tensor '{name}': shape {shape} of {dtype} does not match data_offsets [{begin}, {end}]")
        placed.append((begin, end, name, dtype, shape))
    covered = 0
    for begin, end, name, _, _ in sorted(placed):
        if begin != covered:
            bad(f"tensor '{name}' leaves a gap or overlaps at byte {begin}")
        covered = end
    if covered != len(buffer):
        bad(f"data buffer is {len(buffer)} bytes but the tensors cover only {covered}")

    tensors = {}
    for begin, end, name, dtype, shape in sorted(placed):
        data = buffer[begin:end]
        if dtype == "BF16":
            tensors[name] = BF16(np.frombuffer(data, dtype="<u2").reshape(shape).copy())
        else:
            tensors[name] = np.frombuffer(data, dtype=_DTYPES[dtype]).reshape(shape).copy()
    return tensors, metadata
