#!/usr/bin/env python3
"""Runs foundry's BERT-mini benchmark and the same configuration in PyTorch, in one run, on the same
machine with the same thread count, and prints a table with the ratio foundry / PyTorch (time) for
each row. PyTorch runs at its best settings on a small machine: OMP_WAIT_POLICY=PASSIVE,
torch.set_num_threads(n) and OpenBLAS at n threads (with the default wait policy its OpenMP and
OpenBLAS pools fight over the cores).

  /usr/bin/python3 benchmarks/compare_pytorch.py --build build --threads 2 [--repeats 3] [--peak-gflops G] [--mlm-only]

The MLM training step rows (BertForMaskedLM, BERT-mini and BERT-small, batch 16 x seq 128, dropout 0.1,
cross-entropy over the labelled 15% of the real tokens, backward, AdamW) come in two variants, the same
on both sides: the decoder over all B x S positions (as Hugging Face's BertForMaskedLM) and over the
labelled positions only; BERT-small also with activation checkpointing per encoder layer (foundry's
set_gradient_checkpointing, torch.utils.checkpoint on the PyTorch side). Each runs in a process of its
own, so its peak RSS is its own; PyTorch's includes the ~230 MB that Python and torch hold before any
tensor exists (reported separately). Fraction of peak counts the multiply-adds of the GEMMs (3x the
forward's; checkpointing's recomputation is not counted) against the fp32 FMA peak at these threads,
measured by bench_bert_bench's BM_Fp32FmaPeak unless --peak-gflops is given.

Every row runs foundry and PyTorch alternately --repeats times, each run a fresh process; the table gives
the median times and the median (and range) of the paired speed-ups. On a shared virtual machine the
clock drifts over minutes: the two sides of a pair run within a minute of each other, so their ratio
moves less than times measured far apart.

Needs Debian's python3-torch AND libopenblas0-pthread: without OpenBLAS, Debian's torch falls back to
the reference BLAS and runs ~40x slower (3 vs 118 GFLOP/s at 1024^3 here), a straw man. The foundry
side needs `cmake --build build --target bench_bert_bench`.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

B, S, V, C = 16, 128, 8192, 256
MODELS = {  # layers, hidden, heads, intermediate, vocabulary
    "mini": dict(layers=4, hidden=256, heads=4, inter=1024, vocab=8192),
    "small": dict(layers=6, hidden=512, heads=8, inter=2048, vocab=16384),
}
MLM_VARIANTS = {  # foundry benchmark name -> (title, decoder only at the labelled positions, model, checkpointing)
    "BM_BertMiniMlmTrainStep/0/16/128/0": ("BERT-mini MLM step, decoder at all positions (HF)", False, "mini", False),
    "BM_BertMiniMlmTrainStep/1/16/128/0": ("BERT-mini MLM step, decoder at masked positions", True, "mini", False),
    "BM_BertSmallMlmTrainStep/0/16/128/0": ("BERT-small MLM step, decoder at all positions", False, "small", False),
    "BM_BertSmallMlmTrainStep/1/16/128/0": ("BERT-small MLM step, decoder at masked positions", True, "small", False),
    "BM_BertSmallMlmTrainStep/0/16/128/1": ("BERT-small, all positions, checkpointed layers", False, "small", True),
    "BM_BertSmallMlmTrainStep/1/16/128/1": ("BERT-small, masked positions, checkpointed layers", True, "small", True),
}


def run_foundry(build, threads, min_time, name_filter=None):
    exe = os.path.join(build, "benchmarks", "bench_bert_bench")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
    cmd = [exe, "--benchmark_format=json", f"--benchmark_min_time={min_time}"]
    if name_filter:
        cmd.append(f"--benchmark_filter={name_filter}")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        rows[b["name"].replace("/real_time", "")] = b  # real_time in milliseconds, plus the counters
    return rows


def setup_torch(threads):
    # Imported here so that the environment variables below take effect first.
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    return torch


def timed(fn, min_time, cpu=None):
    """Milliseconds per call (wall clock); with a dict `cpu`, also cpu["ms"]: process CPU time per call."""
    fn()  # warm up
    n, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and n >= 3:
            if cpu is not None:
                cpu["ms"] = 1000.0 * (time.process_time() - cpu_start) / n
            return 1000.0 * elapsed / n


def bert_config(config_class, model="mini"):
    m = MODELS[model]
    return config_class(vocab_size=m["vocab"], hidden_size=m["hidden"], num_hidden_layers=m["layers"],
                        num_attention_heads=m["heads"], intermediate_size=m["inter"], max_position_embeddings=512,
                        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


def make_batch(torch, batch, seq, vocab=V):
    ids = torch.randint(1, vocab, (batch, seq))
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1::2, 3 * seq // 4:] = 0  # every other sequence padded to 3/4 length, as bert_bench.cpp
    return ids, mask


def run_torch(threads, min_time):
    torch = setup_torch(threads)
    from torch_models import BertConfig, BertModel, init_bert_

    model = BertModel(bert_config(BertConfig))
    init_bert_(model)
    rows = {}
    for batch in (1, 16):
        ids, mask = make_batch(torch, batch, S)
        model.eval()

        def forward():
            with torch.no_grad():
                model(ids, mask)
        rows[f"BM_BertMiniForward/{batch}/{S}"] = timed(forward, min_time)
    ids, mask = make_batch(torch, B, S)
    r = torch.randn(B, S, C)
    model.train()

    def step():
        h, _, _ = model(ids, mask)
        (h * r).sum().backward()
        model.zero_grad(set_to_none=True)
    rows[f"BM_BertMiniForwardBackward/{B}/{S}"] = timed(step, min_time)

    for seq in (128, 512):
        q, k, v = (torch.randn(16, 4, seq, 64) for _ in range(3))

        def attention():
            p = torch.softmax(q @ k.transpose(-1, -2) / 8.0, dim=-1)
            return p @ v
        with torch.no_grad():
            rows[f"BM_AttentionForward/{seq}"] = timed(attention, min_time)
        qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))
        grad = torch.randn(16, 4, seq, 64)

        def attention_fb():
            p = torch.softmax(qg @ kg.transpose(-1, -2) / 8.0, dim=-1)
            (p @ vg).backward(grad)
        rows[f"BM_AttentionForwardBackward/{seq}"] = timed(attention_fb, min_time)
    return rows, torch.__version__


def peak_rss_mb():
    """VmHWM of this process image: ru_maxrss would include the parent's peak (Linux keeps it across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def torch_mlm_step(threads, min_time, masked_only, model_name, checkpointing):
    """One variant of the MLM training step, in this (fresh) process; prints JSON."""
    base_rss = peak_rss_mb()
    torch = setup_torch(threads)
    import torch.nn.functional as F
    from torch_models import BertConfig, init_bert_
    from torch_heads import BertForMaskedLM

    torch_rss = peak_rss_mb()
    m = MODELS[model_name]
    hidden, vocab = m["hidden"], m["vocab"]
    model = BertForMaskedLM(bert_config(BertConfig, model_name))
    init_bert_(model)
    model.train()
    model.bert.encoder.gradient_checkpointing = checkpointing  # torch.utils.checkpoint per layer
    ids, mask = make_batch(torch, B, S, vocab)
    flat = torch.arange(B * S).view(B, S)
    labels = torch.where((mask != 0) & (flat % 20 < 3), ids, torch.full_like(ids, -100))  # as bert_bench.cpp
    selected = (labels.view(-1) != -100).nonzero().squeeze(1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step():
        optimizer.zero_grad(set_to_none=True)
        h, _, _ = model.bert(ids, mask)
        if masked_only:  # the decoder only on the labelled rows: the same loss, a ~7x smaller GEMM
            scores = model.cls(h.reshape(B * S, hidden).index_select(0, selected))
            loss = F.cross_entropy(scores, labels.view(-1).index_select(0, selected))
        else:  # Hugging Face's BertForMaskedLM: scores at every position, loss where labelled
            scores = model.cls(h)
            loss = F.cross_entropy(scores.view(-1, vocab), labels.view(-1))
        loss.backward()
        optimizer.step()
    cpu = {}
    ms = timed(step, min_time, cpu)
    print(json.dumps({"ms": ms, "cpu_ms": cpu["ms"], "rss_mb": peak_rss_mb(), "torch_rss_mb": torch_rss, "python_rss_mb": base_rss,
                      "labelled": int(selected.numel())}))


def mlm_forward_flops(rows, model="mini"):
    """Multiply-add FLOPs of one forward of the model with the MLM head on `rows` positions (GEMMs only)."""
    m = MODELS[model]
    n, c = B * S, m["hidden"]
    layer = 2 * n * c * (4 * c + 2 * m["inter"]) + 2 * 2 * B * S * S * c
    return m["layers"] * layer + 2 * rows * c * (c + m["vocab"])


median = statistics.median


def run_torch_process(args, *flags):
    """One PyTorch measurement in a fresh process of this script (internal flags); its last line of JSON."""
    cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(args.threads), "--min-time", str(args.min_time), *flags]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ratio_spread(ratios):
    """The median of the paired speed-ups and their range: '1.93x (1.71-2.10)'."""
    return f"{median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else f"{ratios[0]:.2f}x"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds per row and run")
    parser.add_argument("--repeats", type=int, default=3,
                        help="foundry and PyTorch run alternately this many times per row; medians are reported")
    parser.add_argument("--peak-gflops", type=float,
                        help="fp32 FMA peak at --threads; default: measured (bench_bert_bench's BM_Fp32FmaPeak)")
    parser.add_argument("--mlm-only", action="store_true", help="only the MLM training step rows")
    parser.add_argument("--models", default="mini,small", help="MLM step models: mini, small or both (default)")
    parser.add_argument("--no-checkpointing", action="store_true", help="skip the checkpointed-layer MLM rows")
    parser.add_argument("--torch-mlm", choices=["all", "masked"], help=argparse.SUPPRESS)  # internal: one variant
    parser.add_argument("--torch-model", choices=list(MODELS), default="mini", help=argparse.SUPPRESS)
    parser.add_argument("--torch-checkpointing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--torch-rows", action="store_true", help=argparse.SUPPRESS)  # internal: the non-MLM rows
    args = parser.parse_args()
    if args.torch_rows:
        rows, version = run_torch(args.threads, args.min_time)
        print(json.dumps(dict(rows, version=version)))
        return
    if args.torch_mlm:
        torch_mlm_step(args.threads, args.min_time, args.torch_mlm == "masked", args.torch_model, args.torch_checkpointing)
        return
    repeats = max(1, args.repeats)
    print(f"Each row: foundry and PyTorch alternately, {repeats} time(s); times are medians, the speed-up is the median "
          "of the paired runs' (range in brackets): the machine's speed drifts less within a pair.")

    if not args.mlm_only:
        ours_runs, theirs_runs = [], []
        for _ in range(repeats):
            ours_runs.append(run_foundry(args.build, args.threads, args.min_time, "-MlmTrainStep"))
            theirs_runs.append(run_torch_process(args, "--torch-rows"))
        version = theirs_runs[0].pop("version")
        for t in theirs_runs[1:]:
            t.pop("version")
        tokens = {"BM_BertMiniForward/1/128": 128, "BM_BertMiniForward/16/128": 2048, "BM_BertMiniForwardBackward/16/128": 2048}
        print(f"threads {args.threads}; PyTorch {version} (OMP_WAIT_POLICY=PASSIVE, OpenBLAS at {args.threads} threads)")
        print(f"{'benchmark':40s} {'foundry ms':>11s} {'PyTorch ms':>11s} {'foundry tok/s':>14s} {'speed-up':>20s}")
        for name in theirs_runs[0]:
            if name not in ours_runs[0]:
                continue
            mine = [o[name]["real_time"] for o in ours_runs]
            theirs = [t[name] for t in theirs_runs]
            t_ours, t_torch = median(mine), median(theirs)
            tok = f"{1000.0 * tokens[name] / t_ours:14.0f}" if name in tokens else f"{'':14s}"
            speedup = ratio_spread([b / a for a, b in zip(mine, theirs)])
            print(f"{name:40s} {t_ours:11.2f} {t_torch:11.2f} {tok} {speedup:>20s}")
        print()

    peak_how = "given"
    if args.peak_gflops is None:  # measured: cloud CPUs run above their nominal clock
        args.peak_gflops = run_foundry(args.build, args.threads, 0.5, "^BM_Fp32FmaPeak")["BM_Fp32FmaPeak"]["GFLOP/s"]
        peak_how = "measured, FMA chains on every thread"
    print(f"MLM train step (AdamW, batch {B}, seq {S}); fp32 peak {args.peak_gflops:.0f} GFLOP/s ({peak_how}); RSS = peak RSS of the process;")
    print("CPU ms = process CPU time per step over all threads (the work done; robust when other jobs share the cores)")
    print(f"{'variant':50s} {'':8s} {'ms/step':>9s} {'CPU ms':>8s} {'tokens/s':>9s} {'% peak':>7s} {'RSS MB':>8s} {'speed-up':>20s} {'RSS share':>9s}")
    models = args.models.split(",")
    for name, (title, masked_only, model, checkpointing) in MLM_VARIANTS.items():
        if model not in models or (checkpointing and args.no_checkpointing):
            continue
        mine, theirs = [], []
        for _ in range(repeats):
            mine.append(run_foundry(args.build, args.threads, args.min_time, f"^{name}/")[name])
            flags = ["--torch-mlm", "masked" if masked_only else "all", "--torch-model", model]
            theirs.append(run_torch_process(args, *flags, *(["--torch-checkpointing"] if checkpointing else [])))
        flops = 3 * mlm_forward_flops(theirs[0]["labelled"] if masked_only else B * S, model)
        ms_f, ms_t = median([m["real_time"] for m in mine]), median([t["ms"] for t in theirs])
        rss_f, rss_t = median([m["peak_RSS_MB"] for m in mine]), median([t["rss_mb"] for t in theirs])
        rows = (("foundry", ms_f, median([m["process_cpu_ms"] for m in mine]), rss_f),
                ("PyTorch", ms_t, median([t["cpu_ms"] for t in theirs]), rss_t))
        for who, ms, cpu_ms, rss in rows:
            pct = 100.0 * flops / (ms * 1e-3) / (args.peak_gflops * 1e9)
            ratio = ratio_spread([t["ms"] / m["real_time"] for m, t in zip(mine, theirs)]) if who == "foundry" else ""
            share = f"{100.0 * rss_f / rss_t:8.0f}%" if who == "foundry" else ""
            print(f"{title if who == 'foundry' else '':50s} {who:8s} {ms:9.1f} {cpu_ms:8.0f} {1000.0 * B * S / ms:9.0f} {pct:6.1f}% "
                  f"{rss:8.0f} {ratio:>20s} {share:>9s}")
        print(f"{'':50s} (PyTorch's RSS after `import torch`: {theirs[0]['torch_rss_mb']:.0f} MB)", flush=True)

if __name__ == "__main__":
    main()
