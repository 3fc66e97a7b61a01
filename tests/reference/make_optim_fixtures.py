"""Writes tests/fixtures/optim/{sgd,adam,adamw_float32,schedule}.safetensors, read by
tests/optim/sgd_test.cpp, adam_test.cpp and schedule_test.cpp.

Run with Debian's Python (torch 1.13, numpy): /usr/bin/python3 tests/reference/make_optim_fixtures.py

Optimizer cases run torch.optim (single-tensor code, foreach=False) for 10 steps on fixed gradients,
so the C++ side feeds the same gradients and compares parameters; no loss is involved. Every case has
two parameter groups, group 0 = [p0 [3, 4], p1 [4]] and group 1 = [p2 [2, 3], p3 [5]], and p3 has no
gradient at steps 3 and 7 (torch skips it: no update, its step count lags). Names, <s> the step 0..9:
  <case>.init.<g>.<i>        parameter values before the first step
  <case>.grad.<s>.<g>.<i>    the gradient fed before step s (absent: grad is None)
  <case>.param.<s>.<g>.<i>   the parameter after step s
  <case>.state.<g>.<i>.<b>   torch's final state buffer b (momentum_buffer, exp_avg, exp_avg_sq)
  <case>.state.<g>.<i>.step  torch's final step count (Adam and AdamW)
The hyperparameters below are repeated in the C++ tests.

schedule.safetensors holds the learning rates torch.optim.lr_scheduler.LambdaLR sets with Hugging
Face's schedule lambdas (copied from transformers.optimization) for base lr 2e-3, at steps 0..120:
  constant.lr (warmup 5), linear.lr (warmup 10, total 100), cosine.lr (warmup 10, total 100).
"""

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "optim")

SHAPES = [[(3, 4), (4,)], [(2, 3), (5,)]]
STEPS = 10
MISSING = {(3, 1, 1), (7, 1, 1)}  # (step, group, index) without a gradient

CASES = {
    "sgd": {
        "plain": (torch.optim.SGD, {"lr": 0.1}, {}),
        "momentum": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
                     {"lr": 0.02, "momentum": 0.5, "dampening": 0.0}),
        "nesterov": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
                     {"weight_decay": 0.0}),
    },
    "adam": {
        "adam": (torch.optim.Adam, {"lr": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01},
                 {"lr": 5e-3, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.0}),
        "adamw": (torch.optim.AdamW, {"lr": 1e-2, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1},
                  {"lr": 5e-3, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.0}),
    },
}


def run_case(out, case, optimizer, defaults, group1, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    params = [[torch.randn(s, dtype=dtype, generator=g) for s in shapes] for shapes in SHAPES]
    for gi, group in enumerate(params):
        for i, p in enumerate(group):
            out[f"{case}.init.{gi}.{i}"] = p.numpy().copy()
            p.requires_grad_(True)
    opt = optimizer([{"params": params[0]}, {"params": params[1], **group1}], foreach=False, **defaults)
    for step in range(STEPS):
        for gi, group in enumerate(params):
            for i, p in enumerate(group):
                if (step, gi, i) in MISSING:
                    p.grad = None
                    continue
                # Gradients of mixed scale, some elements tiny, so eps and the moments both matter.
                grad = torch.randn(p.shape, dtype=dtype, generator=g) * (0.5 + step % 3)
                grad[..., 0] *= 1e-3
                p.grad = grad
                out[f"{case}.grad.{step}.{gi}.{i}"] = grad.numpy().copy()
        opt.step()
        for gi, group in enumerate(params):
            for i, p in enumerate(group):
                out[f"{case}.param.{step}.{gi}.{i}"] = p.detach().numpy().copy()
    for gi, group in enumerate(params):
        for i, p in enumerate(group):
            for name, value in opt.state[p].items():
                if value is not None:  # SGD without momentum keeps momentum_buffer = None
                    out[f"{case}.state.{gi}.{i}.{name}"] = value.detach().to(dtype).numpy().copy()


# Hugging Face's lambdas (transformers/optimization.py), verbatim but for the names.
def constant_lambda(warmup):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1.0, warmup))
        return 1.0
    return f


def linear_lambda(warmup, total):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return f


def cosine_lambda(warmup, total, num_cycles=0.5):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))
    return f


def schedule_lrs(fn, base_lr=2e-3, steps=121):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, fn)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(lrs, dtype=np.float64)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    seed = 0
    for file, cases in CASES.items():
        out = {}
        for case, (optimizer, defaults, group1) in cases.items():
            seed += 1
            run_case(out, case, optimizer, defaults, group1, torch.float64, seed)
        save_file(out, os.path.join(OUT_DIR, f"{file}.safetensors"))

    out = {}
    optimizer, defaults, group1 = CASES["adam"]["adamw"]
    run_case(out, "adamw", optimizer, defaults, group1, torch.float32, 100)
    save_file(out, os.path.join(OUT_DIR, "adamw_float32.safetensors"))

    save_file({
        "constant.lr": schedule_lrs(constant_lambda(5)),
        "linear.lr": schedule_lrs(linear_lambda(10, 100)),
        "cosine.lr": schedule_lrs(cosine_lambda(10, 100)),
    }, os.path.join(OUT_DIR, "schedule.safetensors"))


if __name__ == "__main__":
    main()
