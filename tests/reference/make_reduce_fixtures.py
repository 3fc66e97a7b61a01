"""Writes tests/fixtures/ops/reduce.safetensors, softmax.safetensors and loss.safetensors, read by
tests/ops/reduce_test.cpp, softmax_test.cpp and loss_test.cpp.

Run from anywhere with Debian's Python (torch 1.13, numpy): /usr/bin/python3 tests/reference/make_reduce_fixtures.py

Every tensor is float32 and every result is torch's float32 result (class ids and argmax indices
are small integers, exact in float32, so one element type serves each file). Names are
"<case>.<field>": inputs x / logits / target / grad_y, outputs y, grad_x, indices; the var cases
also hold y64 and grad_x64, torch's float64 results rounded to float32. Gradients are
d(sum(grad_y * y))/dx for the given grad_y (grad_y = 1 for scalar losses).
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "ops")


def f32(t):
    return t.detach().numpy().astype(np.float32)


def run(fn, x, grad_y=None):
    """y = fn(x) and d(sum(grad_y * y))/dx in float32; grad_y defaults to a seeded random tensor."""
    xs = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    y = fn(xs)
    if grad_y is None:
        grad_y = torch.randn(y.shape, dtype=torch.float32)
    y.backward(grad_y)
    return y, grad_y, xs.grad


def reduce_cases(out):
    torch.manual_seed(1)
    x = torch.randn(2, 3, 4)
    out["sum.x"] = f32(x)
    for name, fn in [
        ("sum.all", lambda a: a.sum()),
        ("sum.axis0", lambda a: a.sum(0)),
        ("sum.axis12", lambda a: a.sum((1, 2))),
        ("sum.axis02_keep", lambda a: a.sum((0, 2), keepdim=True)),
        ("mean.axis1", lambda a: a.mean(1)),
        ("mean.axis_neg1_keep", lambda a: a.mean(-1, keepdim=True)),
        ("mean.all", lambda a: a.mean()),
    ]:
        y, g, gx = run(fn, x.numpy())
        out[name + ".y"], out[name + ".grad_y"], out[name + ".grad_x"] = f32(y), f32(g), f32(gx)
    # A long row of mixed magnitudes: float32 sums of 400 terms, torch's cascade vs our blocks.
    long_x = torch.randn(2, 400) * torch.logspace(-3, 3, 400)
    out["sum.long.x"] = f32(long_x)
    out["sum.long.y"] = f32(long_x.sum(1))
    out["sum.long.y64"] = f32(long_x.double().sum(1))

    # var: values far from zero (a naive E[x²] - E[x]² in float32 would fail), unbiased and biased.
    v = 1000 + torch.randn(3, 8)
    out["var.x"] = f32(v)
    for name, fn in [
        ("var.axis1", lambda a: a.var(1)),
        ("var.axis1_biased", lambda a: a.var(1, unbiased=False)),
        ("var.axis0_keep", lambda a: a.var(0, keepdim=True)),
        ("var.axis01_biased", lambda a: a.var((0, 1), unbiased=False)),
        ("var.all", lambda a: a.var()),
    ]:
        y, g, gx = run(fn, v.numpy())
        out[name + ".y"], out[name + ".grad_y"], out[name + ".grad_x"] = f32(y), f32(g), f32(gx)
        # The same inputs in float64, rounded: torch's float32 gradient 2(x - mean)/(R - 1) carries
        # the rounding of its float32 mean (|x| ~ 1000), so it is only ~1e-5 close to this answer.
        x64 = torch.tensor(v.numpy(), dtype=torch.float64, requires_grad=True)
        fn(x64).backward(g.double())
        out[name + ".y64"], out[name + ".grad_x64"] = f32(fn(x64.detach())), f32(x64.grad)

    # max/min with ties: indices are the first occurrence; torch.max(x) splits its gradient over ties.
    m = torch.tensor([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, -1.0, 0.0], [2.0, 7.0, 7.0, 7.0]])
    out["max.x"] = f32(m)
    for name, fn in [("max.axis1", lambda a: a.max(1)), ("min.axis0", lambda a: a.min(0))]:
        xs = m.clone().requires_grad_()
        values, indices = fn(xs)
        g = torch.randn(values.shape)
        values.backward(g)
        out[name + ".y"], out[name + ".indices"] = f32(values), f32(indices.float())
        out[name + ".grad_y"], out[name + ".grad_x"] = f32(g), f32(xs.grad)
    y, g, gx = run(lambda a: a.max(), m.numpy(), torch.tensor(1.0))
    out["max.all.y"], out["max.all.grad_x"] = f32(y), f32(gx)


def softmax_cases(out):
    torch.manual_seed(2)
    # Rows at growing magnitudes: up to |x| ~ 3000, where exp overflows without the max shift.
    x = torch.randn(5, 7) * torch.tensor([[1.0], [10.0], [100.0], [1000.0], [3000.0]])
    x[2] += 5000
    out["x"] = f32(x)
    for name, fn in [
        ("softmax.last", lambda a: torch.softmax(a, -1)),
        ("log_softmax.last", lambda a: torch.log_softmax(a, -1)),
        ("softmax.axis0", lambda a: torch.softmax(a, 0)),
        ("log_softmax.axis0", lambda a: torch.log_softmax(a, 0)),
    ]:
        y, g, gx = run(fn, x.numpy())
        out[name + ".y"], out[name + ".grad_y"], out[name + ".grad_x"] = f32(y), f32(g), f32(gx)
    # A 3-D case along the middle axis.
    x3 = torch.randn(2, 6, 3) * 4
    out["x3"] = f32(x3)
    y, g, gx = run(lambda a: torch.softmax(a, 1), x3.numpy())
    out["softmax.mid.y"], out["softmax.mid.grad_y"], out["softmax.mid.grad_x"] = f32(y), f32(g), f32(gx)


def loss_cases(out):
    torch.manual_seed(3)
    F = torch.nn.functional
    logits = torch.randn(6, 5) * 4
    target = torch.tensor([0, 4, -100, 2, 2, 1])
    out["ce.logits"], out["ce.target"] = f32(logits), f32(target.float())
    for name, kwargs in [
        ("ce.mean", dict()),
        ("ce.mean_smooth", dict(label_smoothing=0.1)),
        ("ce.sum_smooth", dict(label_smoothing=0.2, reduction="sum")),
        ("ce.none_smooth", dict(label_smoothing=0.1, reduction="none")),
        ("ce.mean_ignore2", dict(ignore_index=2, label_smoothing=0.05)),
    ]:
        t = target.clone()
        if kwargs.get("ignore_index") == 2:
            t[2] = 3  # -100 is then a real out-of-range id: keep every id valid
        grad_y = None if kwargs.get("reduction") == "none" else torch.tensor(1.0)
        y, g, gx = run(lambda a: F.cross_entropy(a, t, **kwargs), logits.numpy(), grad_y)
        out[name + ".target"] = f32(t.float())
        out[name + ".y"], out[name + ".grad_y"], out[name + ".grad_x"] = f32(y), f32(g), f32(gx)
    # [B, T, C] with classes last: torch wants them on axis 1, so the script flattens to [B*T, C].
    bt = torch.randn(2, 3, 4) * 3
    bt_target = torch.tensor([[3, 0, -100], [1, 1, 2]])
    out["ce3.logits"], out["ce3.target"] = f32(bt), f32(bt_target.float())
    y, g, gx = run(lambda a: F.cross_entropy(a.reshape(-1, 4), bt_target.reshape(-1), label_smoothing=0.1), bt.numpy(),
                   torch.tensor(1.0))
    out["ce3.y"], out["ce3.grad_x"] = f32(y), f32(gx)
    # Large logits: lse - x_t must not cancel.
    big = torch.randn(3, 4) * 1000
    big_target = torch.tensor([1, 3, 0])
    out["ce_big.logits"], out["ce_big.target"] = f32(big), f32(big_target.float())
    y, g, gx = run(lambda a: F.cross_entropy(a, big_target, label_smoothing=0.1), big.numpy(), torch.tensor(1.0))
    out["ce_big.y"], out["ce_big.grad_x"] = f32(y), f32(gx)
    # nll_loss on log-probabilities.
    lp = torch.log_softmax(torch.randn(4, 3), -1)
    nll_target = torch.tensor([2, -100, 0, 0])
    out["nll.log_probs"], out["nll.target"] = f32(lp), f32(nll_target.float())
    y, g, gx = run(lambda a: F.nll_loss(a, nll_target), lp.numpy(), torch.tensor(1.0))
    out["nll.y"], out["nll.grad_x"] = f32(y), f32(gx)
    # mse_loss, gradients for both arguments.
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    out["mse.a"], out["mse.b"] = f32(a), f32(b)
    for name, reduction in [("mse.mean", "mean"), ("mse.sum", "sum"), ("mse.none", "none")]:
        xa, xb = a.clone().requires_grad_(), b.clone().requires_grad_()
        y = F.mse_loss(xa, xb, reduction=reduction)
        g = torch.randn(y.shape) if reduction == "none" else torch.tensor(1.0)
        y.backward(g)
        out[name + ".y"], out[name + ".grad_y"] = f32(y), f32(g)
        out[name + ".grad_a"], out[name + ".grad_b"] = f32(xa.grad), f32(xb.grad)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for file, make in [("reduce", reduce_cases), ("softmax", softmax_cases), ("loss", loss_cases)]:
        out = {}
        make(out)
        path = os.path.join(OUT_DIR, file + ".safetensors")
        save_file(out, path, metadata={"generator": "tests/reference/make_reduce_fixtures.py", "torch": torch.__version__})
        print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
