"""Writes tests/fixtures/ops/layer_norm.safetensors and tests/fixtures/ops/embedding.safetensors,
read by tests/ops/layer_norm_test.cpp and tests/ops/embedding_test.cpp.

Run from anywhere with Debian's Python (torch 1.13, numpy): /usr/bin/python3 tests/reference/make_norm_fixtures.py

Tensors are float32 except the ids (int64) and the float64 references below; the C++ loader converts
to the element type it asks for. Each layer_norm case "<case>." holds the inputs x, weight, bias (when
the case has them), grad_y and eps, and torch's float32 results y, grad_x, grad_weight, grad_bias.
The case "large_mean" also holds y64 and grad_x64 (float64): the same float32 inputs run through torch
in float64, the exact answer float32 implementations approximate (torch's own float32 result is off by
about ulp(mean)·rstd there, up to ~1e-3).
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_file, save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "ops")


def layer_norm_case(prefix, x, weight, bias, eps, grad_y, out, with_float64=False):
    def run(dtype):
        xs = torch.tensor(x, dtype=dtype, requires_grad=True)
        ws = torch.tensor(weight, dtype=dtype, requires_grad=True) if weight is not None else None
        bs = torch.tensor(bias, dtype=dtype, requires_grad=True) if bias is not None else None
        y = torch.nn.functional.layer_norm(xs, (x.shape[-1],), ws, bs, eps)
        y.backward(torch.tensor(grad_y, dtype=dtype))
        return y, xs, ws, bs

    y, xs, ws, bs = run(torch.float32)
    out[prefix + "x"] = x
    out[prefix + "grad_y"] = grad_y
    out[prefix + "eps"] = np.array([eps], dtype=np.float64)
    out[prefix + "y"] = y.detach().numpy()
    out[prefix + "grad_x"] = xs.grad.numpy()
    if weight is not None:
        out[prefix + "weight"] = weight
        out[prefix + "grad_weight"] = ws.grad.numpy()
    if bias is not None:
        out[prefix + "bias"] = bias
        out[prefix + "grad_bias"] = bs.grad.numpy()
    if with_float64:
        y64, xs64, _, _ = run(torch.float64)
        out[prefix + "y64"] = y64.detach().numpy()
        out[prefix + "grad_x64"] = xs64.grad.numpy()


def make_layer_norm(rng):
    out = {}
    f32 = np.float32
    # BERT: eps 1e-12, weight and bias. [2, 3, 16]
    x = rng.standard_normal((2, 3, 16)).astype(f32)
    layer_norm_case("bert.", x, (1 + 0.1 * rng.standard_normal(16)).astype(f32), (0.1 * rng.standard_normal(16)).astype(f32),
                    1e-12, rng.standard_normal((2, 3, 16)).astype(f32), out)
    # torch's default eps 1e-5, no affine parameters, rows of small variance where eps matters. [4, 8]
    x = (rng.standard_normal((4, 8)) * np.array([[1.0], [0.01], [3e-3], [2.0]])).astype(f32)
    layer_norm_case("plain.", x, None, None, 1e-5, rng.standard_normal((4, 8)).astype(f32), out)
    # Rows of large mean and unit spread: the case where a naive float E[x^2] - E[x]^2 collapses. [4, 32]
    means = np.array([[1e3], [-5e3], [2e4], [0.5]])
    x = (means + rng.standard_normal((4, 32))).astype(f32)
    layer_norm_case("large_mean.", x, (1 + 0.1 * rng.standard_normal(32)).astype(f32), (0.1 * rng.standard_normal(32)).astype(f32),
                    1e-5, rng.standard_normal((4, 32)).astype(f32), out, with_float64=True)
    return out


def make_embedding(rng):
    # weight [6, 4], ids [2, 5] with repeats and the padding row 2, grad_y [2, 5, 4].
    weight = rng.standard_normal((6, 4)).astype(np.float32)
    ids = np.array([[1, 2, 5, 1, 0], [2, 3, 1, 5, 2]], dtype=np.int64)
    grad_y = rng.standard_normal((2, 5, 4)).astype(np.float32)
    w = torch.tensor(weight, requires_grad=True)
    y = torch.nn.functional.embedding(torch.tensor(ids), w, padding_idx=2)
    y.backward(torch.tensor(grad_y))
    return {"weight": weight, "ids": ids, "padding_idx": np.array([2], dtype=np.int64), "grad_y": grad_y,
            "y": y.detach().numpy(), "grad_weight": w.grad.numpy()}


def write(tensors, name):
    path = os.path.join(OUT_DIR, name)
    os.makedirs(OUT_DIR, exist_ok=True)
    save_file(tensors, path, metadata={"source": "make_norm_fixtures.py", "torch": torch.__version__})
    back = load_file(path)
    for key, value in tensors.items():
        assert np.array_equal(back[key], value), key


def main():
    rng = np.random.default_rng(20240601)
    write(make_layer_norm(rng), "layer_norm.safetensors")
    write(make_embedding(rng), "embedding.safetensors")


if __name__ == "__main__":
    main()
