"""Writes tests/fixtures/models/bert.safetensors and tests/fixtures/models/gpt.safetensors: tiny
random models (every parameter under its state_dict name), fixed inputs, torch's float32 outputs, a
scalar loss and the gradient of that loss for every parameter. tests/fixtures/models/README.md
describes every tensor; the model code is tests/reference/torch_models.py.

Run from anywhere with Debian's Python (torch 1.13, numpy):
    /usr/bin/python3 tests/reference/make_model_fixtures.py
The script first runs self-checks (key names, padding invariance, an independent float64 numpy forward
pass, finite-difference gradients) and writes nothing if any fails. Output is deterministic.
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_file, load_metadata, save_file  # noqa: E402
from torch_models import (BertConfig, BertModel, GPTConfig, GPTModel, gpt_lm_targets,  # noqa: E402
                          init_bert_, init_gpt_)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "models")

WEIGHT_STD = 0.2  # initializer_range: large enough that activations are not tiny
PERTURB = 0.1     # noise on biases and LayerNorm parameters


def check(condition, message):
    if not condition:
        raise SystemExit(f"self-check failed: {message}")


# --------------------------------------------------------------------------------------------- BERT

BERT_KEYS_PER_LAYER = [
    "attention.self.query.weight", "attention.self.query.bias",
    "attention.self.key.weight", "attention.self.key.bias",
    "attention.self.value.weight", "attention.self.value.bias",
    "attention.output.dense.weight", "attention.output.dense.bias",
    "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
    "intermediate.dense.weight", "intermediate.dense.bias",
    "output.dense.weight", "output.dense.bias",
    "output.LayerNorm.weight", "output.LayerNorm.bias",
]


def bert_expected_keys(config):
    keys = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
    for i in range(config.num_hidden_layers):
        keys += [f"encoder.layer.{i}.{k}" for k in BERT_KEYS_PER_LAYER]
    return keys + ["pooler.dense.weight", "pooler.dense.bias"]


def bert_numpy_forward(sd, config, ids, mask, types):
    """An independent float64 forward pass straight from the state dict (loops over heads)."""
    p = {k: v.detach().double().numpy() for k, v in sd.items()}
    eps = config.layer_norm_eps
    H, C = config.num_attention_heads, config.hidden_size
    D = C // H
    from math import erf, sqrt
    gelu = np.vectorize(lambda v: 0.5 * v * (1.0 + erf(v / sqrt(2.0))))

    def ln(x, prefix):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * p[prefix + ".weight"] + p[prefix + ".bias"]

    def lin(x, prefix):
        return x @ p[prefix + ".weight"].T + p[prefix + ".bias"]

    B, S = ids.shape
    x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.token_type_embeddings.weight"][types] \
        + p["embeddings.position_embeddings.weight"][np.arange(S)][None]
    x = ln(x, "embeddings.LayerNorm")
    probs0 = None
    for i in range(config.num_hidden_layers):
        pre = f"encoder.layer.{i}."
        q, k, v = (lin(x, pre + f"attention.self.{n}") for n in ("query", "key", "value"))
        ctx = np.zeros_like(x)
        probs = np.zeros((B, H, S, S))
        for b in range(B):
            for h in range(H):
                sl = slice(h * D, (h + 1) * D)
                s = q[b, :, sl] @ k[b, :, sl].T / np.sqrt(D)
                s = np.where(mask[b][None, :] == 1, s, -np.inf)
                e = np.exp(s - s.max(-1, keepdims=True))
                probs[b, h] = e / e.sum(-1, keepdims=True)
                ctx[b, :, sl] = probs[b, h] @ v[b, :, sl]
        if i == 0:
            probs0 = probs
        a = ln(lin(ctx, pre + "attention.output.dense") + x, pre + "attention.output.LayerNorm")
        m = gelu(lin(a, pre + "intermediate.dense"))
        x = ln(lin(m, pre + "output.dense") + a, pre + "output.LayerNorm")
    pooled = np.tanh(lin(x[:, 0], "pooler.dense"))
    return x, pooled, probs0


def bert_loss(model, ids, mask, types, r_hidden, r_pooled):
    last, pooled, attentions = model(ids, mask, types)
    loss = (last * r_hidden).sum() + (pooled * r_pooled).sum()
    return loss, last, pooled, attentions


def make_bert():
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, max_position_embeddings=16, type_vocab_size=2,
                        initializer_range=WEIGHT_STD, layer_norm_eps=1e-12, pad_token_id=0)
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(1234)
    model = BertModel(config)
    init_bert_(model, gen, perturb=PERTURB)
    model.eval()

    sd = model.state_dict()
    check(list(sd.keys()) == bert_expected_keys(config), f"BERT state_dict keys {list(sd.keys())}")
    check(torch.all(sd["embeddings.word_embeddings.weight"][0] == 0), "BERT padding row is not zero")

    S = 7
    ids = torch.randint(1, config.vocab_size, (2, S), generator=gen)
    ids[1, 4:] = config.pad_token_id
    mask = torch.tensor([[1] * 7, [1, 1, 1, 1, 0, 0, 0]], dtype=torch.int64)
    types = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 0, 0, 0]], dtype=torch.int64)
    r_hidden = torch.randn(2, S, config.hidden_size, generator=gen)
    r_pooled = torch.randn(2, config.hidden_size, generator=gen)

    model.zero_grad()
    loss, last, pooled, attentions = bert_loss(model, ids, mask, types, r_hidden, r_pooled)
    loss.backward()
    grads = {name: prm.grad.detach().clone() for name, prm in model.named_parameters()}
    check(set(grads) == set(sd), "BERT: a parameter has no gradient")
    check(torch.all(grads["embeddings.word_embeddings.weight"][0] == 0), "BERT: padding row got a gradient")

    # Self-check 1: changing the padded ids (and their token types) of row 2 leaves row 2's unpadded
    # outputs, its pooled output and all of row 1 unchanged (masked keys get probability exactly 0).
    with torch.no_grad():
        ids2, types2 = ids.clone(), types.clone()
        ids2[1, 4:] = torch.tensor([17, 33, 5])
        types2[1, 4:] = 1
        last2, pooled2, att2 = model(ids2, mask, types2)
        check(torch.equal(last2[0], last[0]) and torch.equal(pooled2, pooled), "BERT padding invariance (pooled/row 1)")
        check(torch.allclose(last2[1, :4], last[1, :4], rtol=0, atol=1e-6), "BERT padding invariance (row 2)")
        check(not torch.allclose(last2[1, 4:], last[1, 4:]), "BERT: padded positions should change")
        check(torch.all(attentions[0][1, :, :, 4:] == 0), "BERT: masked keys must get probability 0")

    # Self-check 2: an independent float64 numpy implementation agrees.
    np_last, np_pooled, np_probs = bert_numpy_forward(sd, config, ids.numpy(), mask.numpy(), types.numpy())
    for name, got, want in (("last_hidden_state", last, np_last), ("pooler_output", pooled, np_pooled),
                            ("attentions.0", attentions[0], np_probs)):
        err = np.abs(got.detach().double().numpy() - want).max()
        check(err < 1e-4, f"BERT numpy reference disagrees on {name}: {err}")

    # Self-check 3: finite differences in float64 on a few parameter entries.
    finite_difference_check(model, lambda m: bert_loss(m, ids, mask, types, r_hidden.double(), r_pooled.double())[0],
                            ["embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
                             "encoder.layer.1.output.LayerNorm.bias", "pooler.dense.weight",
                             "embeddings.token_type_embeddings.weight"])

    out = {name: t.detach().numpy() for name, t in sd.items()}
    out["input.input_ids"] = ids.numpy()
    out["input.attention_mask"] = mask.numpy()
    out["input.token_type_ids"] = types.numpy()
    out["output.last_hidden_state"] = last.detach().numpy()
    out["output.pooler_output"] = pooled.detach().numpy()
    out["output.attentions.0"] = attentions[0].detach().numpy()
    out["output.loss"] = loss.detach().numpy().reshape(())
    out["loss.r_hidden"] = r_hidden.numpy()
    out["loss.r_pooled"] = r_pooled.numpy()
    out.update({"grad." + name: g.numpy() for name, g in grads.items()})
    return out, {"config": config.to_json(), "generator": "tests/reference/make_model_fixtures.py"}


# ---------------------------------------------------------------------------------------------- GPT


def gpt_expected_keys(config):
    keys = ["wte.weight", "wpe.weight"]
    for i in range(config.n_layer):
        for k in ("ln_1.weight", "ln_1.bias", "attn.query.weight", "attn.query.bias", "attn.key.weight",
                  "attn.key.bias", "attn.value.weight", "attn.value.bias", "attn.out.weight", "attn.out.bias",
                  "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
                  "mlp.c_proj.bias"):
            keys.append(f"h.{i}.{k}")
    return keys + ["ln_f.weight", "ln_f.bias"]


def gpt_numpy_forward(sd, config, ids, mask):
    p = {k: v.detach().double().numpy() for k, v in sd.items()}
    eps = config.layer_norm_epsilon
    H, C = config.n_head, config.n_embd
    D = C // H

    def ln(x, prefix):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * p[prefix + ".weight"] + p[prefix + ".bias"]

    def lin(x, prefix):
        return x @ p[prefix + ".weight"].T + p[prefix + ".bias"]

    def gelu_tanh(x):
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))

    B, S = ids.shape
    x = p["wte.weight"][ids] + p["wpe.weight"][np.arange(S)][None]
    for i in range(config.n_layer):
        pre = f"h.{i}."
        a_in = ln(x, pre + "ln_1")
        q, k, v = (lin(a_in, pre + f"attn.{n}") for n in ("query", "key", "value"))
        ctx = np.zeros_like(x)
        for b in range(B):
            for h in range(H):
                sl = slice(h * D, (h + 1) * D)
                for qi in range(S):
                    allowed = [j for j in range(qi + 1) if mask[b, j] == 1]
                    s = np.array([q[b, qi, sl] @ k[b, j, sl] for j in allowed]) / np.sqrt(D)
                    e = np.exp(s - s.max())
                    ctx[b, qi, sl] = (e / e.sum()) @ v[b, allowed, sl]
        x = x + lin(ctx, pre + "attn.out")
        x = x + lin(gelu_tanh(lin(ln(x, pre + "ln_2"), pre + "mlp.c_fc")), pre + "mlp.c_proj")
    last = ln(x, "ln_f")
    return last, last @ p["wte.weight"].T


def gpt_loss(model, ids, mask, targets, r_hidden):
    last, logits, attentions = model(ids, mask)
    V = model.config.vocab_size
    ce = F.cross_entropy(logits[:, :-1].reshape(-1, V), targets.reshape(-1), ignore_index=-100)
    return (last * r_hidden).sum() + ce, last, logits, attentions


def make_gpt():
    config = GPTConfig(vocab_size=40, n_positions=16, n_embd=32, n_layer=2, n_head=4, n_inner=128,
                       activation_function="gelu_new", layer_norm_epsilon=1e-5, initializer_range=WEIGHT_STD)
    torch.manual_seed(5678)
    gen = torch.Generator().manual_seed(5678)
    model = GPTModel(config)
    init_gpt_(model, gen, perturb=PERTURB)
    model.eval()
    sd = model.state_dict()
    check(list(sd.keys()) == gpt_expected_keys(config), f"GPT state_dict keys {list(sd.keys())}")

    S = 6
    ids = torch.randint(1, config.vocab_size, (2, S), generator=gen)
    ids[1, 4:] = 0  # padding id (GPT has no padding_idx; the value only matters through the mask)
    mask = torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0]], dtype=torch.int64)
    targets = gpt_lm_targets(ids, mask)
    r_hidden = torch.randn(2, S, config.n_embd, generator=gen)

    model.zero_grad()
    loss, last, logits, attentions = gpt_loss(model, ids, mask, targets, r_hidden)
    loss.backward()
    grads = {name: prm.grad.detach().clone() for name, prm in model.named_parameters()}
    check(set(grads) == set(sd), "GPT: a parameter has no gradient")

    with torch.no_grad():
        # Causality + key padding: changing the padded ids changes nothing at unpadded positions.
        ids2 = ids.clone()
        ids2[1, 4:] = torch.tensor([7, 9])
        last2, _, _ = model(ids2, mask)
        check(torch.equal(last2[0], last[0]), "GPT padding invariance (row 1)")
        check(torch.allclose(last2[1, :4], last[1, :4], rtol=0, atol=1e-6), "GPT padding invariance (row 2)")
        # Key padding matters for padded queries: position 5 of row 2 must not see key 4.
        for layer_probs in attentions:
            check(torch.all(layer_probs[1, :, :, 4:] == 0), "GPT: padded keys must get probability 0")
            check(torch.all(layer_probs.triu(1) == 0), "GPT: future keys must get probability 0")

    np_last, np_logits = gpt_numpy_forward(sd, config, ids.numpy(), mask.numpy())
    for name, got, want in (("last_hidden_state", last, np_last), ("logits", logits, np_logits)):
        err = np.abs(got.detach().double().numpy() - want).max()
        check(err < 1e-4, f"GPT numpy reference disagrees on {name}: {err}")

    finite_difference_check(model, lambda m: gpt_loss(m, ids, mask, targets, r_hidden.double())[0],
                            ["wte.weight", "wpe.weight", "h.0.attn.key.weight", "h.1.mlp.c_fc.bias", "ln_f.weight"])

    out = {name: t.detach().numpy() for name, t in sd.items()}
    out["input.input_ids"] = ids.numpy()
    out["input.attention_mask"] = mask.numpy()
    out["output.last_hidden_state"] = last.detach().numpy()
    out["output.logits"] = logits.detach().numpy()
    out["output.attentions.0"] = attentions[0].detach().numpy()
    out["output.loss"] = loss.detach().numpy().reshape(())
    out["loss.r_hidden"] = r_hidden.numpy()
    out["loss.targets"] = targets.numpy()
    out.update({"grad." + name: g.numpy() for name, g in grads.items()})
    return out, {"config": config.to_json(), "generator": "tests/reference/make_model_fixtures.py"}


# ------------------------------------------------------------------------------------------ helpers


def finite_difference_check(model, loss_fn, names, entries=4, h=1e-6):
    """Compares autograd with central differences for a few entries of each named parameter, in a
    float64 copy of the model (the float32 fixture gradients come from the same autograd graph)."""
    import copy
    m64 = copy.deepcopy(model).double()
    m64.zero_grad()
    loss_fn(m64).backward()
    params = dict(m64.named_parameters())
    rng = np.random.default_rng(0)
    for name in names:
        prm = params[name]
        flat = prm.data.view(-1)
        for idx in rng.choice(flat.numel(), size=entries, replace=False):
            old = flat[idx].item()
            with torch.no_grad():
                flat[idx] = old + h
                up = loss_fn(m64).item()
                flat[idx] = old - h
                down = loss_fn(m64).item()
                flat[idx] = old
            numeric = (up - down) / (2 * h)
            analytic = prm.grad.view(-1)[idx].item()
            check(abs(numeric - analytic) <= 1e-5 * max(1.0, abs(analytic)),
                  f"finite difference for {name}[{idx}]: numeric {numeric} vs autograd {analytic}")


def write(name, tensors, metadata):
    for key, value in tensors.items():
        check(value.dtype in (np.float32, np.int64), f"{name}: {key} has dtype {value.dtype}")
    path = os.path.join(OUT_DIR, name)
    save_file(tensors, path, metadata=metadata)
    back, meta = load_file(path), load_metadata(path)
    check(meta == metadata and set(back) == set(tensors), f"{name}: round trip")
    for key, value in tensors.items():
        check(np.array_equal(back[key], value) and back[key].shape == value.shape, f"{name}: round trip of {key}")
    print(f"wrote {os.path.relpath(path, ROOT)}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


def main():
    torch.set_num_threads(1)  # deterministic float32 reductions
    os.makedirs(OUT_DIR, exist_ok=True)
    bert, bert_meta = make_bert()
    gpt, gpt_meta = make_gpt()
    write("bert.safetensors", bert, bert_meta)
    write("gpt.safetensors", gpt, gpt_meta)


if __name__ == "__main__":
    main()
