"""Writes tests/fixtures/ops/elementwise.safetensors, read by tests/ops/elementwise_test.cpp and
tests/ops/activation_test.cpp.

Run from anywhere with Debian's Python (torch 1.13, numpy): /usr/bin/python3 tests/reference/make_elementwise_fixtures.py

Two kinds of entries:
- float32 values. "values.x" (signed, no zero) and "values.positive" feed exp, log, sqrt, rsqrt, pow,
  1/x, abs; "act.x" (from tiny to 1e4 in magnitude, with 0) feeds gelu, gelu_tanh, sigmoid, tanh,
  erf, relu. For each op "<op>.torch32" is torch's float32 result and "<op>.ref" the float64 result of
  the same float32 inputs rounded to float32, the exact answer; "<op>.grad.torch32" / "<op>.grad.ref"
  hold d<op>/dx likewise for gelu, gelu_tanh and erf. The gelu references use forms without
  cancellation (x·erfc(-x/√2)/2 and x·σ(2u)): torch's own float64 gelu, 0.5·x·(1 + erf(x/√2)),
  rounds to 0 below x ≈ -8 where the true value is still a normal float32.
- float64 gradients of two broadcast expressions, with inputs, grad_y, y and every input's gradient:
  "broadcast.*": y = a * b / c - b with a [3, 1, 4], b [2, 4], c [3, 2, 1];
  "select.*": y = where(cond, x**3, clamp(z, -0.5, 0.5)).masked_fill(mask, 0) with x [2, 1, 3],
  z [4, 3], cond [2, 4, 3] and mask [4, 1] (masks stored as BOOL).
"""

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_file, save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "ops")
F = torch.nn.functional


def both(out, name, fn, x32, ref=None):
    """name.torch32 = fn in float32; name.ref = ref (default fn) in float64 on the same inputs, rounded to float32."""
    out[name + ".torch32"] = fn(torch.tensor(x32)).numpy().astype(np.float32)
    out[name + ".ref"] = (ref or fn)(torch.tensor(x32, dtype=torch.float64)).numpy().astype(np.float32)


K, C = math.sqrt(2 / math.pi), 0.044715  # gelu's tanh form: u = K (x + C x^3), 1 + tanh(u) = 2 sigmoid(2u)


def gelu_ref(x):
    return x * 0.5 * torch.erfc(-x / math.sqrt(2))


def gelu_grad_ref(x):
    return 0.5 * torch.erfc(-x / math.sqrt(2)) + x * torch.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def gelu_tanh_ref(x):
    return x * torch.sigmoid(2 * K * (x + C * x ** 3))


def gelu_tanh_grad_ref(x):
    w = 2 * K * (x + C * x ** 3)
    return torch.sigmoid(w) + x * torch.sigmoid(w) * torch.sigmoid(-w) * 2 * K * (1 + 3 * C * x * x)


def grad_of(fn):
    def g(x):
        x = x.clone().requires_grad_(True)
        fn(x).backward(torch.ones_like(x))
        return x.grad
    return g


def make_values(out):
    x = np.concatenate([np.linspace(-80, 80, 32), [-12.5, -3.3, -1, -0.5, -1e-3, -1e-30, 1e-30, 1e-3, 0.5, 1, 3.3, 12.5]])
    p = np.concatenate([np.logspace(-6, 4, 21), [0.5, 1, 2]])
    x, p = x.astype(np.float32), p.astype(np.float32)
    out["values.x"], out["values.positive"] = x, p
    both(out, "exp", torch.exp, x)
    both(out, "log", torch.log, p)
    both(out, "sqrt", torch.sqrt, p)
    both(out, "rsqrt", torch.rsqrt, p)
    both(out, "pow2", lambda t: t.pow(2), x)
    both(out, "pow3", lambda t: t.pow(3), x)
    both(out, "pow2_5", lambda t: t.pow(2.5), p)
    both(out, "pow-0_5", lambda t: t.pow(-0.5), p)
    both(out, "pow-1_7", lambda t: t.pow(-1.7), p)
    both(out, "recip", lambda t: 1 / t, x)
    both(out, "abs", torch.abs, x)


def make_activations(out):
    big = [1e4, 1e3, 100, 50, 30, 20, 15]
    x = np.concatenate([np.linspace(-12, 12, 49), big, [-v for v in big], [1e-20, -1e-20, 1e-6, -1e-6, 3e-4, -3e-4]])
    x = x.astype(np.float32)
    out["act.x"] = x
    gelu_tanh = lambda t: F.gelu(t, approximate="tanh")  # noqa: E731
    for name, fn, ref in [("gelu", F.gelu, gelu_ref), ("gelu_tanh", gelu_tanh, gelu_tanh_ref), ("sigmoid", torch.sigmoid, None),
                          ("tanh", torch.tanh, None), ("erf", torch.erf, None), ("relu", torch.relu, None)]:
        both(out, name, fn, x, ref)
    for name, fn, ref in [("gelu", F.gelu, gelu_grad_ref), ("gelu_tanh", gelu_tanh, gelu_tanh_grad_ref),
                          ("erf", torch.erf, None)]:
        both(out, name + ".grad", grad_of(fn), x, ref)


def make_gradients(out, rng):
    f64 = torch.float64
    a = torch.tensor(rng.standard_normal((3, 1, 4)), requires_grad=True)
    b = torch.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    c = torch.tensor(rng.uniform(0.5, 2.0, (3, 2, 1)), requires_grad=True)
    y = a * b / c - b
    grad_y = torch.tensor(rng.standard_normal(tuple(y.shape)), dtype=f64)
    y.backward(grad_y)
    for name, t in [("a", a), ("b", b), ("c", c)]:
        out["broadcast." + name] = t.detach().numpy()
        out["broadcast.grad_" + name] = t.grad.numpy()
    out["broadcast.y"], out["broadcast.grad_y"] = y.detach().numpy(), grad_y.numpy()

    x = torch.tensor(rng.standard_normal((2, 1, 3)), requires_grad=True)
    z = torch.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    cond = torch.tensor(rng.uniform(size=(2, 4, 3)) < 0.5)
    mask = torch.tensor([[True], [False], [False], [True]])
    y = torch.where(cond, x ** 3, torch.clamp(z, -0.5, 0.5)).masked_fill(mask, 0)
    grad_y = torch.tensor(rng.standard_normal(tuple(y.shape)), dtype=f64)
    y.backward(grad_y)
    out["select.x"], out["select.z"] = x.detach().numpy(), z.detach().numpy()
    out["select.cond"], out["select.mask"] = cond.numpy(), mask.numpy()
    out["select.y"], out["select.grad_y"] = y.detach().numpy(), grad_y.numpy()
    out["select.grad_x"], out["select.grad_z"] = x.grad.numpy(), z.grad.numpy()


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(20240602)
    out = {}
    make_values(out)
    make_activations(out)
    make_gradients(out, rng)
    path = os.path.join(OUT_DIR, "elementwise.safetensors")
    os.makedirs(OUT_DIR, exist_ok=True)
    save_file(out, path, metadata={"source": "make_elementwise_fixtures.py", "torch": torch.__version__})
    back = load_file(path)
    for key, value in out.items():
        assert np.array_equal(back[key], value, equal_nan=value.dtype.kind == "f"), key


if __name__ == "__main__":
    main()
