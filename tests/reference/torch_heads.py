"""Plain-torch re-implementations of Hugging Face's BERT task heads and of pytorch-crf's CRF, for the
fixture script make_head_fixtures.py (neither `transformers` nor `pytorch-crf` is installable here).

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_heads import BertForMaskedLM, BertForPreTraining, BertForSequenceClassification, \
        BertForTokenClassification, CRF

The module trees, and so every state_dict key, are Hugging Face's (transformers/models/bert/modeling_bert.py):
BertForMaskedLM = bert (no pooler) + cls.predictions {transform {dense, LayerNorm}, decoder, bias}, with
decoder.weight TIED to bert.embeddings.word_embeddings.weight and decoder.bias the same Parameter as
cls.predictions.bias, so state_dict() lists both aliases (named_parameters() lists each tensor once).
Losses follow Hugging Face's forward(): cross-entropy with ignore_index -100 over the flattened logits.

CRF is pytorch-crf 0.7.2's torchcrf.CRF, formula for formula (sequence-first internally, masks multiply
the transition/emission terms of the gold score, torch.where freezes the forward variables at padding,
Viterbi via max over the previous tag). Its forward returns the log-likelihood, not its negative.
"""

import torch
from torch import nn
import torch.nn.functional as F

from torch_models import _ACT, BertModel


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = _ACT[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states):
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias  # Hugging Face: "link the two variables so the bias resizes with the vocabulary"

    def forward(self, hidden_states):
        return self.decoder(self.transform(hidden_states))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, sequence_output):
        return self.predictions(sequence_output)


class BertPreTrainingHeads(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, sequence_output, pooled_output):
        return self.predictions(sequence_output), self.seq_relationship(pooled_output)


def _tie(model):
    # Hugging Face's tie_weights(): the decoder shares the input embedding matrix.
    model.cls.predictions.decoder.weight = model.bert.embeddings.word_embeddings.weight


class BertForMaskedLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        _tie(self)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        """Returns (loss or None, prediction_scores [B, S, V])."""
        sequence_output, _, _ = self.bert(input_ids, attention_mask, token_type_ids)
        prediction_scores = self.cls(sequence_output)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(prediction_scores.view(-1, self.config.vocab_size), labels.view(-1))
        return loss, prediction_scores


class BertForPreTraining(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.bert = BertModel(config)
        self.cls = BertPreTrainingHeads(config)
        _tie(self)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, next_sentence_label=None):
        """Returns (total_loss, masked_lm_loss, next_sentence_loss, prediction_scores [B, S, V],
        seq_relationship_score [B, 2]); the losses are None without both kinds of labels."""
        sequence_output, pooled_output, _ = self.bert(input_ids, attention_mask, token_type_ids)
        prediction_scores, seq_relationship_score = self.cls(sequence_output, pooled_output)
        total = mlm = nsp = None
        if labels is not None and next_sentence_label is not None:
            mlm = F.cross_entropy(prediction_scores.view(-1, self.config.vocab_size), labels.view(-1))
            nsp = F.cross_entropy(seq_relationship_score.view(-1, 2), next_sentence_label.view(-1))
            total = mlm + nsp
        return total, mlm, nsp, prediction_scores, seq_relationship_score


class BertForSequenceClassification(nn.Module):
    def __init__(self, config, num_labels):
        super().__init__()
        self.config = config
        self.num_labels = num_labels
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        """Hugging Face's problem_type logic: regression (num_labels 1), single-label (integer labels),
        multi-label (float labels). Returns (loss or None, logits [B, num_labels])."""
        _, pooled_output, _ = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(pooled_output))
        loss = None
        if labels is not None:
            if self.num_labels == 1:
                loss = F.mse_loss(logits.squeeze(), labels.squeeze())
            elif labels.dtype in (torch.long, torch.int):
                loss = F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
            else:
                loss = F.binary_cross_entropy_with_logits(logits, labels)
        return loss, logits


class BertForTokenClassification(nn.Module):
    def __init__(self, config, num_labels):
        super().__init__()
        self.config = config
        self.num_labels = num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        """Returns (loss or None, logits [B, S, num_labels]). As current Hugging Face, the loss ignores
        only labels equal to -100 (padding must carry -100 to be ignored)."""
        sequence_output, _, _ = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(sequence_output))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return loss, logits


class CRF(nn.Module):
    """pytorch-crf's torchcrf.CRF (version 0.7.2)."""

    def __init__(self, num_tags, batch_first=False):
        super().__init__()
        self.num_tags = num_tags
        self.batch_first = batch_first
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.start_transitions, -0.1, 0.1)
        nn.init.uniform_(self.end_transitions, -0.1, 0.1)
        nn.init.uniform_(self.transitions, -0.1, 0.1)

    def forward(self, emissions, tags, mask=None, reduction="sum"):
        """Log-likelihood of tags: [B] ('none'), or its 'sum', 'mean' (over the batch) or 'token_mean'."""
        if mask is None:
            mask = torch.ones_like(tags, dtype=torch.uint8)
        if self.batch_first:
            emissions = emissions.transpose(0, 1)
            tags = tags.transpose(0, 1)
            mask = mask.transpose(0, 1)
        numerator = self._compute_score(emissions, tags, mask)
        denominator = self._compute_normalizer(emissions, mask)
        llh = numerator - denominator
        if reduction == "none":
            return llh
        if reduction == "sum":
            return llh.sum()
        if reduction == "mean":
            return llh.mean()
        assert reduction == "token_mean"
        return llh.sum() / mask.float().sum()

    def decode(self, emissions, mask=None):
        if mask is None:
            mask = emissions.new_ones(emissions.shape[:2], dtype=torch.uint8)
        if self.batch_first:
            emissions = emissions.transpose(0, 1)
            mask = mask.transpose(0, 1)
        return self._viterbi_decode(emissions, mask)

    def _compute_score(self, emissions, tags, mask):
        seq_length, batch_size = tags.shape
        mask = mask.type_as(emissions)
        score = self.start_transitions[tags[0]]
        score = score + emissions[0, torch.arange(batch_size), tags[0]]
        for i in range(1, seq_length):
            score = score + self.transitions[tags[i - 1], tags[i]] * mask[i]
            score = score + emissions[i, torch.arange(batch_size), tags[i]] * mask[i]
        seq_ends = mask.long().sum(dim=0) - 1
        last_tags = tags[seq_ends, torch.arange(batch_size)]
        return score + self.end_transitions[last_tags]

    def _compute_normalizer(self, emissions, mask):
        seq_length = emissions.size(0)
        score = self.start_transitions + emissions[0]
        for i in range(1, seq_length):
            next_score = score.unsqueeze(2) + self.transitions + emissions[i].unsqueeze(1)
            next_score = torch.logsumexp(next_score, dim=1)
            score = torch.where(mask[i].unsqueeze(1).bool(), next_score, score)
        score = score + self.end_transitions
        return torch.logsumexp(score, dim=1)

    def _viterbi_decode(self, emissions, mask):
        seq_length, batch_size = mask.shape
        score = self.start_transitions + emissions[0]
        history = []
        for i in range(1, seq_length):
            next_score = score.unsqueeze(2) + self.transitions + emissions[i].unsqueeze(1)
            next_score, indices = next_score.max(dim=1)
            score = torch.where(mask[i].unsqueeze(1).bool(), next_score, score)
            history.append(indices)
        score = score + self.end_transitions
        seq_ends = mask.long().sum(dim=0) - 1
        best_tags_list = []
        for idx in range(batch_size):
            _, best_last_tag = score[idx].max(dim=0)
            best_tags = [best_last_tag.item()]
            for hist in reversed(history[:seq_ends[idx]]):
                best_last_tag = hist[idx][best_tags[-1]]
                best_tags.append(best_last_tag.item())
            best_tags.reverse()
            best_tags_list.append(best_tags)
        return best_tags_list
