"""Writes tests/fixtures/heads/*.safetensors for tests/heads/*_test.cpp: tiny random BERT task models
with Hugging Face's module trees (tests/reference/torch_heads.py), fixed inputs and labels, torch's float32
logits and losses, and the gradient of the loss for every parameter; and a pytorch-crf CRF case.

Run from anywhere with Debian's Python (torch 1.13, numpy):
    /usr/bin/python3 tests/reference/make_head_fixtures.py
Self-checks run first (state_dict keys and tied aliases, the loss recomputed from the logits, the MLM loss
over labelled rows only, finite differences in float64, the CRF against brute-force enumeration of every
tag path); nothing is written if one fails. Output is deterministic (fixed seeds, one thread).

Every BERT file uses the config of tests/fixtures/models/bert.safetensors (vocab 50, hidden 32, 2 layers,
4 heads, intermediate 64, max_position 16, erf GELU, initializer_range 0.2, dropout 0) with biases and
LayerNorm parameters perturbed by normal(0, 0.1), and the inputs [2, 7], row 2 padded after 4 tokens:

  name                  meaning
  <param>               every parameter under its Hugging Face state_dict name (F32)
  input.input_ids       [2, 7] I64; input.attention_mask [2, 7] I64 (row 2: 1 1 1 1 0 0 0); input.token_type_ids [2, 7] I64
  input.labels          the task's labels (I64), -100 = not scored
  output.*              torch's results (F32); output.loss is the scalar the gradients are of
  grad.<param>          d output.loss / d <param> (F32)

Metadata: config (the BERT config as JSON), generator (this script), and per file:
  masked_lm.safetensors        BertForMaskedLM. input.labels [2, 7] with 5 labelled positions (one on the pad
                               id 0); output.logits [2, 7, 50] (all positions), output.loss = HF's mean
                               cross-entropy. The decoder is tied: Hugging Face's state_dict also holds
                               cls.predictions.decoder.weight (= bert.embeddings.word_embeddings.weight) and
                               cls.predictions.decoder.bias (= cls.predictions.bias); these two aliases are NOT
                               saved (metadata "aliases" names them), and grad.bert.embeddings.word_embeddings.weight
                               sums the embedding and decoder contributions (row 0, the padding row, gets only
                               the decoder's).
  pretraining.safetensors      BertForPreTraining (with pooler; cls.seq_relationship [2, 32]). input.labels as
                               above, input.next_sentence_label [2] = [0, 1]; output.prediction_logits [2, 7, 50],
                               output.seq_relationship_logits [2, 2], output.mlm_loss, output.nsp_loss,
                               output.loss = their sum. Same aliases excluded.
  sequence_classification.safetensors
                               BertForSequenceClassification, num_labels 3 (metadata "num_labels").
                               input.labels [2]; output.logits [2, 3]; output.loss (cross-entropy).
  token_classification.safetensors
                               BertForTokenClassification (no pooler), num_labels 5. input.labels [2, 7], -100
                               at row 2's padding and at one real token (a "word piece"); output.logits
                               [2, 7, 5]; output.loss (cross-entropy over the 10 scored tokens).
  crf.safetensors              pytorch-crf's CRF, 4 tags, batch-first: start_transitions [4], end_transitions [4],
                               transitions [4, 4] (uniform(-0.1, 0.1) plus normal(0, 0.5) so they matter);
                               input.emissions [3, 5, 4] F32, input.tags [3, 5] I64 (padded tags are 0, which
                               pytorch-crf needs to index), input.mask [3, 5] I64 (lengths 5, 3, 1);
                               output.llh [3] = CRF(reduction='none') (log-likelihood), output.log_partition [3],
                               output.nll_sum, output.nll_mean, loss.r [3], output.loss = sum(r * -llh),
                               grad.emissions and grad.<param> of output.loss, output.viterbi [3, 5] I64
                               (decode(), padded with -1). Computed in float64 from the float32 inputs.
"""

import copy
import itertools
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import PERTURB, WEIGHT_STD, check, finite_difference_check  # noqa: E402
from safetensors_io import load_file, load_metadata, save_file  # noqa: E402
from torch_heads import (CRF, BertForMaskedLM, BertForPreTraining, BertForSequenceClassification,  # noqa: E402
                         BertForTokenClassification)
from torch_models import BertConfig, init_bert_  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "heads")
ALIASES = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
           "cls.predictions.decoder.bias": "cls.predictions.bias"}


def bert_config():
    return BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.0,
                      attention_probs_dropout_prob=0.0, max_position_embeddings=16, type_vocab_size=2,
                      initializer_range=WEIGHT_STD, layer_norm_eps=1e-12, pad_token_id=0)


def init_(model, gen):
    """Hugging Face's init with perturbed biases. With a tied decoder, init_bert_ also re-draws the shared
    matrix as the decoder's Linear weight; Hugging Face ties after initialising, so the padding row ends
    up zero, as here."""
    init_bert_(model, gen, perturb=PERTURB)
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight[model.config.pad_token_id].zero_()
    model.eval()


def inputs(gen, config):
    S = 7
    ids = torch.randint(1, config.vocab_size, (2, S), generator=gen)
    ids[1, 4:] = config.pad_token_id
    mask = torch.tensor([[1] * 7, [1, 1, 1, 1, 0, 0, 0]], dtype=torch.int64)
    types = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 0, 0, 0]], dtype=torch.int64)
    return ids, mask, types


def mlm_labels(gen, config):
    labels = torch.full((2, 7), -100, dtype=torch.int64)
    for b, s in ((0, 1), (0, 4), (0, 6), (1, 0), (1, 2)):
        labels[b, s] = int(torch.randint(1, config.vocab_size, (1,), generator=gen))
    labels[0, 4] = config.pad_token_id  # a target on the padding row of the tied matrix
    return labels


def parameters_and_grads(model, loss, what):
    """The state dict without the tied aliases (checked to be the same tensors), and every gradient."""
    sd = model.state_dict()
    for alias, name in ALIASES.items():
        if alias in sd:
            check(sd[alias].data_ptr() == sd[name].data_ptr(), f"{what}: {alias} is not tied to {name}")
            del sd[alias]
    model.zero_grad()
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    check(set(grads) == set(sd), f"{what}: parameters {sorted(set(sd) ^ set(grads))} differ from the state dict")
    out = {name: t.detach().numpy().copy() for name, t in sd.items()}
    out.update({"grad." + name: g.numpy() for name, g in grads.items()})
    return out


def base_record(config, ids, mask, types):
    return {"input.input_ids": ids.numpy(), "input.attention_mask": mask.numpy(), "input.token_type_ids": types.numpy()}


def metadata(config, **extra):
    meta = {"config": config.to_json(), "generator": "tests/reference/make_head_fixtures.py"}
    meta.update({k: str(v) for k, v in extra.items()})
    return meta


def make_masked_lm():
    config = bert_config()
    torch.manual_seed(11)
    gen = torch.Generator().manual_seed(11)
    model = BertForMaskedLM(config)
    init_(model, gen)
    keys = list(model.state_dict().keys())
    check(keys[:5] == ["bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
                       "bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm.weight",
                       "bert.embeddings.LayerNorm.bias"], f"MLM keys {keys[:5]}")
    check(keys[-7:] == ["cls.predictions.bias", "cls.predictions.transform.dense.weight",
                        "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
                        "cls.predictions.transform.LayerNorm.bias", "cls.predictions.decoder.weight",
                        "cls.predictions.decoder.bias"], f"MLM keys {keys[-7:]}")
    check(not any(k.startswith("bert.pooler") for k in keys), "BertForMaskedLM must have no pooler")
    ids, mask, types = inputs(gen, config)
    labels = mlm_labels(gen, config)
    loss, logits = model(ids, mask, types, labels)

    # The loss over the labelled rows only (what the C++ predict_masked_only path computes) is the same.
    with torch.no_grad():
        h, _, _ = model.bert(ids, mask, types)
        rows = (labels.view(-1) != -100).nonzero().squeeze(1)
        only = F.cross_entropy(model.cls(h.reshape(-1, config.hidden_size)[rows]), labels.view(-1)[rows])
        check(abs(only.item() - loss.item()) < 1e-6, f"MLM masked-only loss {only.item()} vs {loss.item()}")
        by_hand = -F.log_softmax(logits.reshape(-1, config.vocab_size)[rows], -1)[
            torch.arange(len(rows)), labels.view(-1)[rows]].mean()
        check(abs(by_hand.item() - loss.item()) < 1e-6, "MLM loss by hand")

    finite_difference_check(model, lambda m: m(ids, mask, types, labels)[0],
                            ["bert.embeddings.word_embeddings.weight", "cls.predictions.bias",
                             "cls.predictions.transform.dense.weight", "cls.predictions.transform.LayerNorm.weight",
                             "bert.encoder.layer.1.output.dense.weight"])
    out = parameters_and_grads(model, loss, "MLM")
    check(np.abs(out["grad.bert.embeddings.word_embeddings.weight"][0]).max() > 0,
          "MLM: the decoder must give the padding row a gradient")
    out.update(base_record(config, ids, mask, types))
    out["input.labels"] = labels.numpy()
    out["output.logits"] = logits.detach().numpy()
    out["output.loss"] = loss.detach().numpy().reshape(())
    return out, metadata(config, aliases=json.dumps(ALIASES, sort_keys=True))


def make_pretraining():
    config = bert_config()
    torch.manual_seed(12)
    gen = torch.Generator().manual_seed(12)
    model = BertForPreTraining(config)
    init_(model, gen)
    keys = list(model.state_dict().keys())
    check("bert.pooler.dense.weight" in keys and keys[-2:] == ["cls.seq_relationship.weight", "cls.seq_relationship.bias"],
          f"pretraining keys {keys[-4:]}")
    ids, mask, types = inputs(gen, config)
    labels = mlm_labels(gen, config)
    nsp = torch.tensor([0, 1], dtype=torch.int64)
    total, mlm, nsp_loss, scores, seq = model(ids, mask, types, labels, nsp)
    check(abs(total.item() - mlm.item() - nsp_loss.item()) < 1e-6, "pretraining total loss")
    finite_difference_check(model, lambda m: m(ids, mask, types, labels, nsp)[0],
                            ["bert.embeddings.word_embeddings.weight", "cls.seq_relationship.weight",
                             "bert.pooler.dense.bias", "cls.predictions.bias"])
    out = parameters_and_grads(model, total, "pretraining")
    out.update(base_record(config, ids, mask, types))
    out["input.labels"] = labels.numpy()
    out["input.next_sentence_label"] = nsp.numpy()
    out["output.prediction_logits"] = scores.detach().numpy()
    out["output.seq_relationship_logits"] = seq.detach().numpy()
    out["output.mlm_loss"] = mlm.detach().numpy().reshape(())
    out["output.nsp_loss"] = nsp_loss.detach().numpy().reshape(())
    out["output.loss"] = total.detach().numpy().reshape(())
    return out, metadata(config, aliases=json.dumps(ALIASES, sort_keys=True))


def make_sequence_classification():
    config = bert_config()
    torch.manual_seed(13)
    gen = torch.Generator().manual_seed(13)
    model = BertForSequenceClassification(config, num_labels=3)
    init_(model, gen)
    keys = list(model.state_dict().keys())
    check(keys[-2:] == ["classifier.weight", "classifier.bias"], f"classification keys {keys[-2:]}")
    ids, mask, types = inputs(gen, config)
    labels = torch.tensor([2, 0], dtype=torch.int64)
    loss, logits = model(ids, mask, types, labels)
    finite_difference_check(model, lambda m: m(ids, mask, types, labels)[0],
                            ["classifier.weight", "bert.pooler.dense.weight", "bert.embeddings.word_embeddings.weight"])
    out = parameters_and_grads(model, loss, "sequence classification")
    out.update(base_record(config, ids, mask, types))
    out["input.labels"] = labels.numpy()
    out["output.logits"] = logits.detach().numpy()
    out["output.loss"] = loss.detach().numpy().reshape(())
    return out, metadata(config, num_labels=3)


def make_token_classification():
    config = bert_config()
    torch.manual_seed(14)
    gen = torch.Generator().manual_seed(14)
    model = BertForTokenClassification(config, num_labels=5)
    init_(model, gen)
    keys = list(model.state_dict().keys())
    check(keys[-2:] == ["classifier.weight", "classifier.bias"] and not any("pooler" in k for k in keys),
          f"token classification keys {keys[-2:]}")
    ids, mask, types = inputs(gen, config)
    labels = torch.randint(0, 5, (2, 7), generator=gen)
    labels[1, 4:] = -100  # padding
    labels[0, 3] = -100   # a continuation word piece
    loss, logits = model(ids, mask, types, labels)
    finite_difference_check(model, lambda m: m(ids, mask, types, labels)[0],
                            ["classifier.weight", "classifier.bias", "bert.encoder.layer.0.attention.self.key.weight"])
    out = parameters_and_grads(model, loss, "token classification")
    out.update(base_record(config, ids, mask, types))
    out["input.labels"] = labels.numpy()
    out["output.logits"] = logits.detach().numpy()
    out["output.loss"] = loss.detach().numpy().reshape(())
    return out, metadata(config, num_labels=5)


def brute_force_crf(crf, emissions, tags, lengths):
    """log Z and the gold score per row by enumerating all K^L paths (float64)."""
    K = crf.num_tags
    s, e, t = crf.start_transitions.double(), crf.end_transitions.double(), crf.transitions.double()

    def score(row, path):
        v = s[path[0]] + emissions[row, 0, path[0]]
        for i in range(1, len(path)):
            v = v + t[path[i - 1], path[i]] + emissions[row, i, path[i]]
        return v + e[path[-1]]

    log_z, gold, best = [], [], []
    for row, L in enumerate(lengths):
        scores = {p: score(row, p).item() for p in itertools.product(range(K), repeat=L)}
        log_z.append(np.logaddexp.reduce(np.array(list(scores.values()))))
        gold.append(score(row, tags[row, :L].tolist()).item())
        best.append(list(max(scores, key=scores.get)))
    return np.array(log_z), np.array(gold), best


def make_crf():
    torch.manual_seed(15)
    gen = torch.Generator().manual_seed(15)
    K, B, S = 4, 3, 5
    crf = CRF(K, batch_first=True)
    with torch.no_grad():
        for p in (crf.start_transitions, crf.end_transitions, crf.transitions):
            p.add_(torch.randn(p.shape, generator=gen) * 0.5)
    emissions = torch.randn(B, S, K, generator=gen)
    lengths = [5, 3, 1]
    mask = torch.tensor([[1 if t < L else 0 for t in range(S)] for L in lengths], dtype=torch.int64)
    tags = torch.randint(0, K, (B, S), generator=gen) * mask  # padded tags 0: pytorch-crf indexes them
    r = torch.randn(B, generator=gen)

    crf64 = copy.deepcopy(crf).double()
    e64 = emissions.double().requires_grad_(True)
    llh = crf64(e64, tags, mask.to(torch.uint8), reduction="none")
    loss = (r.double() * -llh).sum()
    loss.backward()
    with torch.no_grad():
        nll_sum = -crf64(e64, tags, mask.to(torch.uint8), reduction="sum")
        nll_mean = -crf64(e64, tags, mask.to(torch.uint8), reduction="mean")
        log_z = crf64._compute_normalizer(e64.transpose(0, 1), mask.transpose(0, 1).to(torch.uint8))
        viterbi = crf64.decode(e64, mask.to(torch.uint8))

    bf_log_z, bf_gold, bf_best = brute_force_crf(crf64, e64.detach(), tags, lengths)
    check(np.abs(bf_log_z - log_z.numpy()).max() < 1e-10, "CRF log Z vs brute force")
    check(np.abs((bf_gold - bf_log_z) - llh.detach().numpy()).max() < 1e-10, "CRF log-likelihood vs brute force")
    check(viterbi == bf_best, f"CRF Viterbi {viterbi} vs brute force {bf_best}")
    # Gradients: finite differences on emissions of the float64 loss.
    h = 1e-6
    for (b, t, k) in ((0, 0, 1), (0, 4, 3), (1, 2, 0), (2, 0, 2), (1, 4, 1)):
        with torch.no_grad():
            def f(delta):
                x = e64.detach().clone()
                x[b, t, k] += delta
                return (r.double() * -crf64(x, tags, mask.to(torch.uint8), reduction="none")).sum().item()
            numeric = (f(h) - f(-h)) / (2 * h)
        check(abs(numeric - e64.grad[b, t, k].item()) < 1e-7, f"CRF finite difference at {(b, t, k)}")
    check(e64.grad[1, 3:].abs().max().item() == 0, "CRF: padded emissions must get no gradient")

    f32 = lambda x: x.detach().numpy().astype(np.float32)  # noqa: E731
    padded = np.full((B, S), -1, dtype=np.int64)
    for b, path in enumerate(viterbi):
        padded[b, :len(path)] = path
    out = {"start_transitions": f32(crf.start_transitions), "end_transitions": f32(crf.end_transitions),
           "transitions": f32(crf.transitions), "input.emissions": f32(emissions), "input.tags": tags.numpy(),
           "input.mask": mask.numpy(), "output.llh": f32(llh), "output.log_partition": f32(log_z),
           "output.nll_sum": f32(nll_sum).reshape(()), "output.nll_mean": f32(nll_mean).reshape(()),
           "loss.r": f32(r), "output.loss": f32(loss).reshape(()), "grad.emissions": f32(e64.grad),
           "grad.start_transitions": f32(crf64.start_transitions.grad),
           "grad.end_transitions": f32(crf64.end_transitions.grad), "grad.transitions": f32(crf64.transitions.grad),
           "output.viterbi": padded}
    return out, {"generator": "tests/reference/make_head_fixtures.py", "num_tags": str(K)}


def write(name, tensors, meta):
    for key, value in tensors.items():
        check(value.dtype in (np.float32, np.int64), f"{name}: {key} has dtype {value.dtype}")
    path = os.path.join(OUT_DIR, name)
    save_file(tensors, path, metadata=meta)
    back, meta_back = load_file(path), load_metadata(path)
    check(meta_back == meta and set(back) == set(tensors), f"{name}: round trip")
    for key, value in tensors.items():
        check(np.array_equal(back[key], value) and back[key].shape == value.shape, f"{name}: round trip of {key}")
    size = os.path.getsize(path)
    check(size < 300_000, f"{name}: {size} bytes, over the 300 KB budget")
    print(f"wrote {os.path.relpath(path, ROOT)}: {len(tensors)} tensors, {size} bytes")


def main():
    torch.set_num_threads(1)  # deterministic float32 reductions
    os.makedirs(OUT_DIR, exist_ok=True)
    files = [("masked_lm.safetensors", make_masked_lm()), ("pretraining.safetensors", make_pretraining()),
             ("sequence_classification.safetensors", make_sequence_classification()),
             ("token_classification.safetensors", make_token_classification()), ("crf.safetensors", make_crf())]
    for name, (tensors, meta) in files:
        write(name, tensors, meta)


if __name__ == "__main__":
    main()
