#!/usr/bin/env python3
"""Runs foundry's BERT-mini benchmark and the same configuration in PyTorch, in one run, on the same
machine with the same thread count, and prints a table with the ratio foundry / PyTorch (time) for
each row. PyTorch runs at its best settings on a small machine: OMP_WAIT_POLICY=PASSIVE,
torch.set_num_threads(n) and OpenBLAS at n threads (with the default wait policy its OpenMP and
OpenBLAS pools fight over the cores).

  /usr/bin/python3 benchmarks/compare_pytorch.py --build build --threads 2

Needs Debian's python3-torch AND libopenblas0-pthread: without OpenBLAS, Debian's torch falls back to
the reference BLAS and runs ~40x slower (3 vs 118 GFLOP/s at 1024^3 here), a straw man. The foundry
side needs `cmake --build build --target bench_bert_bench`.
"""

import argparse
import json
import os
import subprocess
import sys
import time


def run_foundry(build, threads, min_time):
    exe = os.path.join(build, "benchmarks", "bench_bert_bench")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
    out = subprocess.run([exe, "--benchmark_format=json", f"--benchmark_min_time={min_time}"],
                         env=env, check=True, capture_output=True, text=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        rows[b["name"].replace("/real_time", "")] = b["real_time"]  # milliseconds
    return rows


def run_torch(threads, min_time):
    # Imported here so that the environment variables below take effect first.
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
    from torch_models import BertConfig, BertModel, init_bert_

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    def timed(fn):
        fn()  # warm up
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time and n >= 3:
                return 1000.0 * elapsed / n

    config = BertConfig(vocab_size=8192, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=1024, max_position_embeddings=512,
                        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = BertModel(config)
    init_bert_(model)
    rows = {}
    for B, S in [(1, 128), (16, 128)]:
        ids = torch.randint(1, 8192, (B, S))
        mask = torch.ones(B, S, dtype=torch.long)
        mask[1::2, 3 * S // 4:] = 0
        model.eval()

        def forward():
            with torch.no_grad():
                model(ids, mask)
        rows[f"BM_BertMiniForward/{B}/{S}"] = timed(forward)
    B, S = 16, 128
    ids = torch.randint(1, 8192, (B, S))
    mask = torch.ones(B, S, dtype=torch.long)
    mask[1::2, 3 * S // 4:] = 0
    r = torch.randn(B, S, 256)
    model.train()

    def step():
        h, _, _ = model(ids, mask)
        (h * r).sum().backward()
        model.zero_grad(set_to_none=True)
    rows[f"BM_BertMiniForwardBackward/{B}/{S}"] = timed(step)

    for S in (128, 512):
        q, k, v = (torch.randn(16, 4, S, 64) for _ in range(3))

        def attention():
            p = torch.softmax(q @ k.transpose(-1, -2) / 8.0, dim=-1)
            return p @ v
        with torch.no_grad():
            rows[f"BM_AttentionForward/{S}"] = timed(attention)
        qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))
        grad = torch.randn(16, 4, S, 64)

        def attention_fb():
            p = torch.softmax(qg @ kg.transpose(-1, -2) / 8.0, dim=-1)
            (p @ vg).backward(grad)
        rows[f"BM_AttentionForwardBackward/{S}"] = timed(attention_fb)
    return rows, torch.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds per row")
    args = parser.parse_args()
    ours = run_foundry(args.build, args.threads, args.min_time)
    theirs, version = run_torch(args.threads, args.min_time)
    tokens = {"BM_BertMiniForward/1/128": 128, "BM_BertMiniForward/16/128": 2048, "BM_BertMiniForwardBackward/16/128": 2048}
    print(f"threads {args.threads}; PyTorch {version} (OMP_WAIT_POLICY=PASSIVE, OpenBLAS at {args.threads} threads)")
    print(f"{'benchmark':40s} {'foundry ms':>11s} {'PyTorch ms':>11s} {'foundry tok/s':>14s} {'speed-up':>9s}")
    for name, t_torch in theirs.items():
        t_ours = ours.get(name)
        if t_ours is None:
            continue
        tok = f"{1000.0 * tokens[name] / t_ours:14.0f}" if name in tokens else f"{'':14s}"
        print(f"{name:40s} {t_ours:11.2f} {t_torch:11.2f} {tok} {t_torch / t_ours:8.2f}x")


if __name__ == "__main__":
    main()
