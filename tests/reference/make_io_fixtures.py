"""Writes tests/fixtures/io/python_written.safetensors, read back by tests/io/safetensors_test.cpp.

Run from anywhere with Debian's Python (numpy only): /usr/bin/python3 tests/reference/make_io_fixtures.py
The values are chosen so the C++ test can state them exactly: each is representable in its dtype, and
the BF16/F16 bit patterns are worked out in the test by hand.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import BF16, load_file, load_metadata, save_file, to_bf16  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "io", "python_written.safetensors")


def main():
    tensors = {
        "encoder.weight": (np.arange(6, dtype=np.float32) * 0.5 - 1.0).reshape(2, 3),  # [2, 3]
        "encoder.bias": np.array([1.0 / 3.0, -2.5, 1e-300], dtype=np.float64),  # [3]
        "token_ids": np.array([[-1, 2**40], [0, 7]], dtype=np.int64),  # [2, 2]
        "scale.bf16": to_bf16([1.0, -2.5, 3.14159, 1e-3]),  # [4]
        "scale.f16": np.array([0.5, -65504.0, 6e-8], dtype=np.float16),  # [3]
        "mask": np.array([True, False, True]),  # [3]
    }
    metadata = {"format": "np", "source": "make_io_fixtures.py"}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(tensors, OUT, metadata=metadata)

    back = load_file(OUT)  # the reader agrees with the writer before C++ ever sees the file
    assert load_metadata(OUT) == metadata
    for name, value in tensors.items():
        got = back[name]
        if isinstance(value, BF16):
            assert value == got, name
        else:
            assert got.dtype == value.dtype and np.array_equal(got, value), name
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
