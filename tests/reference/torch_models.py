"""Plain-torch re-implementations of the models the C++ model tests compare against.

Importable by fixture scripts (the `transformers` package is not available here):

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_models import BertConfig, BertModel, GPTConfig, GPTModel, init_bert_, init_gpt_

BertModel mirrors Hugging Face's transformers.BertModel (eager attention, absolute positions, no
cross-attention, no KV cache): the module tree, and therefore every state_dict key, is Hugging Face's
(embeddings.word_embeddings.weight, encoder.layer.0.attention.self.query.weight, pooler.dense.bias, ...).
The position_ids / token_type_ids buffers are registered non-persistent, as in current Hugging Face
releases, so they never appear in state_dict().

GPTModel is foundry's own GPT-2 style pre-LN causal decoder naming (separate query/key/value/out
Linear layers in torch's [out, in] layout instead of GPT-2's fused Conv1D c_attn), used by the C++ GPT.

Both models' forward passes follow the Hugging Face eager code line by line (same order of float
operations) so float32 results are as close to Hugging Face's as a re-implementation can be.
"""

import dataclasses
import json
import math

import torch
from torch import nn
import torch.nn.functional as F


# --------------------------------------------------------------------------------------------- BERT


@dataclasses.dataclass
class BertConfig:
    vocab_size: int = 50
    hidden_size: int = 32
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 64
    hidden_act: str = "gelu"  # Hugging Face "gelu" is the exact erf GELU
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    max_position_embeddings: int = 16
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"

    def to_hf_dict(self):
        """The fields of a Hugging Face config.json for this model."""
        d = {"architectures": ["BertModel"], "model_type": "bert"}
        d.update(dataclasses.asdict(self))
        d["torch_dtype"] = "float32"
        return d

    def to_json(self):
        return json.dumps(self.to_hf_dict(), sort_keys=True)


_ACT = {
    "gelu": lambda x: F.gelu(x),  # erf form
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


class BertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.register_buffer("position_ids", torch.arange(config.max_position_embeddings).expand((1, -1)),
                             persistent=False)

    def forward(self, input_ids, token_type_ids=None):
        seq_length = input_ids.shape[1]
        position_ids = self.position_ids[:, :seq_length]
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        inputs_embeds = self.word_embeddings(input_ids)
        token_type_embeddings = self.token_type_embeddings(token_type_ids)
        embeddings = inputs_embeds + token_type_embeddings  # Hugging Face's order: (word + type) + pos
        embeddings = embeddings + self.position_embeddings(position_ids)
        embeddings = self.LayerNorm(embeddings)
        return self.dropout(embeddings)


class BertSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def transpose_for_scores(self, x):  # [B, S, C] -> [B, H, S, D]
        x = x.view(x.size()[:-1] + (self.num_attention_heads, self.attention_head_size))
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden_states, extended_attention_mask=None):
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        if extended_attention_mask is not None:
            attention_scores = attention_scores + extended_attention_mask
        attention_probs = F.softmax(attention_scores, dim=-1)
        context = torch.matmul(self.dropout(attention_probs), value_layer)
        context = context.permute(0, 2, 1, 3).contiguous()
        context = context.view(context.size()[:-2] + (self.all_head_size,))
        return context, attention_probs


class BertSelfOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states, extended_attention_mask=None):
        context, probs = self.self(hidden_states, extended_attention_mask)
        return self.output(context, hidden_states), probs


class BertIntermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = _ACT[config.hidden_act]

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class BertOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states, extended_attention_mask=None):
        attention_output, probs = self.attention(hidden_states, extended_attention_mask)
        layer_output = self.output(self.intermediate(attention_output), attention_output)
        return layer_output, probs


class BertEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])
        self.gradient_checkpointing = False  # as Hugging Face's: torch.utils.checkpoint per layer in training

    def forward(self, hidden_states, extended_attention_mask=None):
        attentions = []
        for layer in self.layer:
            if self.gradient_checkpointing and self.training:
                import torch.utils.checkpoint
                hidden_states = torch.utils.checkpoint.checkpoint(lambda h, m, f=layer: f(h, m)[0], hidden_states,
                                                                  extended_attention_mask)
                probs = None
            else:
                hidden_states, probs = layer(hidden_states, extended_attention_mask)
            attentions.append(probs)
        return hidden_states, attentions


class BertPooler(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


def bert_extended_attention_mask(attention_mask, dtype=torch.float32):
    """Hugging Face's get_extended_attention_mask for an encoder: [B, S] 1/0 -> additive [B, 1, 1, S],
    0 where attended and finfo(dtype).min where masked."""
    extended = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - extended) * torch.finfo(dtype).min


class BertModel(nn.Module):
    def __init__(self, config, add_pooling_layer=True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        """Returns (last_hidden_state [B, S, C], pooler_output [B, C] or None, attentions: list of
        [B, H, S, S] softmax probabilities, one per layer)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        extended = bert_extended_attention_mask(attention_mask, self.embeddings.word_embeddings.weight.dtype)
        hidden = self.embeddings(input_ids, token_type_ids)
        last_hidden_state, attentions = self.encoder(hidden, extended)
        pooled = self.pooler(last_hidden_state) if self.pooler is not None else None
        return last_hidden_state, pooled, attentions


def init_bert_(model, generator=None, perturb=0.0):
    """Hugging Face BertPreTrainedModel._init_weights: Linear and Embedding weights normal(0,
    initializer_range), biases 0, the padding row 0, LayerNorm weight 1 and bias 0. With perturb > 0,
    every bias and LayerNorm bias then gets normal(0, perturb) noise and every LayerNorm weight
    1 + normal(0, perturb), so a test also sees mistakes in those (the padding row stays 0)."""
    std = model.config.initializer_range
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.weight.normal_(0.0, std, generator=generator)
                module.bias.zero_()
            elif isinstance(module, nn.Embedding):
                module.weight.normal_(0.0, std, generator=generator)
                if module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
        if perturb > 0:
            _perturb_(model, perturb, generator)


def _perturb_(model, scale, generator):
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.LayerNorm)):
            module.bias.add_(torch.randn(module.bias.shape, generator=generator) * scale)
        if isinstance(module, nn.LayerNorm):
            module.weight.add_(torch.randn(module.weight.shape, generator=generator) * scale)


# ---------------------------------------------------------------------------------------------- GPT


@dataclasses.dataclass
class GPTConfig:
    vocab_size: int = 40
    n_positions: int = 16
    n_embd: int = 32
    n_layer: int = 2
    n_head: int = 4
    n_inner: int = 128
    activation_function: str = "gelu_new"  # tanh-approximated GELU
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    resid_pdrop: float = 0.0
    embd_pdrop: float = 0.0
    attn_pdrop: float = 0.0
    tie_word_embeddings: bool = True

    def to_dict(self):
        d = {"model_type": "foundry-gpt"}
        d.update(dataclasses.asdict(self))
        d["torch_dtype"] = "float32"
        return d

    def to_json(self):
        return json.dumps(self.to_dict(), sort_keys=True)


class GPTAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.query = nn.Linear(config.n_embd, config.n_embd)
        self.key = nn.Linear(config.n_embd, config.n_embd)
        self.value = nn.Linear(config.n_embd, config.n_embd)
        self.out = nn.Linear(config.n_embd, config.n_embd)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def _split(self, x):  # [B, S, C] -> [B, H, S, D]
        B, S, _ = x.shape
        return x.view(B, S, self.n_head, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, attention_mask=None):
        """attention_mask: [B, S] 1 = real token, 0 = padding (key masked), or None."""
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        S = x.shape[1]
        masked = torch.ones(S, S, dtype=torch.bool, device=x.device).triu(1)[None, None]  # key j > query i
        if attention_mask is not None:
            masked = masked | (attention_mask == 0)[:, None, None, :]
        scores = scores.masked_fill(masked, torch.finfo(scores.dtype).min)
        probs = F.softmax(scores, dim=-1)
        context = torch.matmul(self.attn_dropout(probs), v)
        B = x.shape[0]
        context = context.permute(0, 2, 1, 3).contiguous().view(B, S, -1)
        return self.resid_dropout(self.out(context)), probs


class GPTMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.n_inner)
        self.c_proj = nn.Linear(config.n_inner, config.n_embd)
        self.act = _ACT[config.activation_function]
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPTBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPTAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPTMLP(config)

    def forward(self, x, attention_mask=None):
        a, probs = self.attn(self.ln_1(x), attention_mask)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, probs


class GPTModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPTBlock(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)

    def forward(self, input_ids, attention_mask=None):
        """Returns (last_hidden_state [B, S, C], logits [B, S, V] from the tied head wte, attentions)."""
        S = input_ids.shape[1]
        positions = torch.arange(S, device=input_ids.device)[None, :]
        x = self.drop(self.wte(input_ids) + self.wpe(positions))
        attentions = []
        for block in self.h:
            x, probs = block(x, attention_mask)
            attentions.append(probs)
        last_hidden_state = self.ln_f(x)
        logits = torch.matmul(last_hidden_state, self.wte.weight.t())
        return last_hidden_state, logits, attentions


def init_gpt_(model, generator=None, perturb=0.0):
    """Linear and Embedding weights normal(0, initializer_range), biases 0, LayerNorm 1/0; then, with
    perturb > 0, the same bias / LayerNorm noise as init_bert_."""
    std = model.config.initializer_range
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.normal_(0.0, std, generator=generator)
                if isinstance(module, nn.Linear):
                    module.bias.zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
        if perturb > 0:
            _perturb_(model, perturb, generator)


def gpt_lm_targets(input_ids, attention_mask, ignore_index=-100):
    """Next-token targets [B, S-1]: input_ids[:, 1:], with ignore_index where that target is padding."""
    targets = input_ids[:, 1:].clone()
    targets[attention_mask[:, 1:] == 0] = ignore_index
    return targets
