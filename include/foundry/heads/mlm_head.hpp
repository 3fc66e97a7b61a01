// heads/mlm_head.hpp: masked language modelling on BERT, with Hugging Face's module tree and names:
// BertForMaskedLM = "bert" (no pooler) + "cls.predictions" = transform (dense, activation, LayerNorm)
// then a decoder TIED to bert.embeddings.word_embeddings.weight plus its own bias [V]. Given labels,
// only the labelled rows (~15% of the tokens) go through transform and decoder, as fast BERT
// pretraining code does; the loss is the same as over all rows. The NSP head is in pretraining.hpp.
#pragma once

#include <vector>

#include "foundry/models/bert.hpp"
#include "foundry/ops/index.hpp"
#include "foundry/ops/loss.hpp"

namespace foundry::heads {

// dense -> activation (config.hidden_act) -> LayerNorm: [..., C] -> [..., C]
template <class T>
class BertPredictionHeadTransform : public nn::Module<T> {
 public:
  BertPredictionHeadTransform(const models::BertConfig& c, Generator& gen)
      : dense_(this->register_module("dense", std::make_shared<nn::Linear<T>>(c.hidden_size, c.hidden_size,
                                                                               models::detail::bert_init<T>(c), true, gen))),
        norm_(this->register_module("LayerNorm", std::make_shared<nn::LayerNorm<T>>(c.hidden_size, c.layer_norm_eps))),
        act_(nn::activation_from_name(c.hidden_act)) {}

  std::string type_name() const override { return "BertPredictionHeadTransform"; }

  Tensor<T> forward(const Tensor<T>& h) const { return norm_->forward(nn::activate(dense_->forward(h), act_)); }

 private:
  std::shared_ptr<nn::Linear<T>> dense_;
  std::shared_ptr<nn::LayerNorm<T>> norm_;
  nn::Activation act_;
};

// transform, then logits = transform(h)·Wᵀ + bias with W the word-embedding matrix [V, C]. W is held
// but not registered here, so named_parameters() lists it once, under bert.embeddings; Hugging Face's
// state_dict also shows it as cls.predictions.decoder.weight and the bias as cls.predictions.decoder.bias
// (aliases of bert.embeddings.word_embeddings.weight and cls.predictions.bias): drop those keys on load.
template <class T>
class BertLMPredictionHead : public nn::Module<T> {
 public:
  BertLMPredictionHead(const models::BertConfig& c, Tensor<T> word_embeddings, Generator& gen)
      : transform_(this->register_module("transform", std::make_shared<BertPredictionHeadTransform<T>>(c, gen))),
        bias_(this->register_parameter("bias", Tensor<T>::zeros({c.vocab_size}))),
        decoder_weight_(std::move(word_embeddings)) {
    if (decoder_weight_.shape() != Shape{c.vocab_size, c.hidden_size})
      foundry::detail::fail<ShapeError>("BertLMPredictionHead: tied decoder weight must be [vocab_size, hidden_size] = [",
                                        c.vocab_size, ", ", c.hidden_size, "], got ", decoder_weight_.shape());
  }

  std::string type_name() const override { return "BertLMPredictionHead"; }

  // h: [..., C] -> [..., V]
  Tensor<T> forward(const Tensor<T>& h) const { return ops::linear(transform_->forward(h), decoder_weight_, bias_); }

  // The logits and their cross-entropy against targets (h's shape without C; -100 = not scored) with
  // the decoder and the loss fused (ops::linear_cross_entropy): backward never holds the [..., V]
  // gradient whole. The logits come back as values, without a gradient of their own.
  ops::LinearCrossEntropy<T> forward_with_loss(const Tensor<T>& h, const Tensor<std::int64_t>& targets,
                                               const ops::CrossEntropyOptions& options) const {
    return ops::linear_cross_entropy(transform_->forward(h), decoder_weight_, bias_, targets, options);
  }

  const Tensor<T>& decoder_weight() const { return decoder_weight_; }  // [V, C], shared with the embeddings
  const Tensor<T>& bias() const { return bias_; }                      // [V]

 private:
  std::shared_ptr<BertPredictionHeadTransform<T>> transform_;
  Tensor<T> bias_;
  Tensor<T> decoder_weight_;
};

// Hugging Face's BertOnlyMLMHead: the "cls" module of BertForMaskedLM, holding "predictions".
template <class T>
class BertOnlyMLMHead : public nn::Module<T> {
 public:
  BertOnlyMLMHead(const models::BertConfig& c, Tensor<T> word_embeddings, Generator& gen)
      : predictions(this->register_module("predictions", std::make_shared<BertLMPredictionHead<T>>(c, std::move(word_embeddings), gen))) {}
  std::string type_name() const override { return "BertOnlyMLMHead"; }
  std::shared_ptr<BertLMPredictionHead<T>> predictions;
};

template <class T>
struct MaskedLmOutput {
  Tensor<T> loss;                   // [] mean cross-entropy over labels != -100; undefined without labels
  Tensor<T> logits;                 // [N, V] at `positions` when only labelled rows are predicted, else [B, S, V];
                                    // given labels, values only (the loss's gradient flows past them, fused)
  Tensor<std::int64_t> positions;   // [N] flat indices b·S + s of the rows of logits; undefined for [B, S, V]
};

namespace detail {

inline constexpr std::int64_t kIgnoreIndex = -100;  // Hugging Face's label for "no loss here"

// labels must have input_ids' shape [B, S] and hold -100 or a class in [0, classes).
inline void check_token_labels(const char* op, const Tensor<std::int64_t>& labels, const Tensor<std::int64_t>& input_ids,
                               Index classes) {
  if (!input_ids.defined()) return;  // BertModel::forward names that mistake
  if (labels.shape() != input_ids.shape())
    foundry::detail::fail<ShapeError>(op, ": labels shape ", labels.shape(), " must equal input_ids shape ", input_ids.shape());
  Shape scores = labels.shape();
  scores.push_back(classes);
  ops::detail::check_class_targets(op, labels.contiguous_data(), classes, kIgnoreIndex, scores);
}

// The MLM part shared by BertForMaskedLM and BertForPreTraining: h [B, S, C], labels [B, S] or undefined.
// With labels and predict_masked_only, rows whose label is -100 are dropped before the head: they add
// nothing to the loss, and the [B·S, C]·[C, V] decoder product is the largest matmul of pretraining.
template <class T>
MaskedLmOutput<T> masked_lm(const BertLMPredictionHead<T>& head, const Tensor<T>& h, const Tensor<std::int64_t>& labels,
                            bool predict_masked_only) {
  MaskedLmOutput<T> out;
  if (!labels.defined()) {
    out.logits = head.forward(h);
    return out;
  }
  if (!predict_masked_only) {
    auto [loss, logits] = head.forward_with_loss(h, labels, {.ignore_index = kIgnoreIndex});
    out.loss = std::move(loss);
    out.logits = std::move(logits);
    return out;
  }
  const Index B = h.size(0), S = h.size(1), C = h.size(2);
  const Tensor<std::int64_t> flat = labels.contiguous_data();
  std::vector<std::int64_t> positions, targets;
  for (Index i = 0; i < B * S; ++i)
    if (flat.data()[i] != kIgnoreIndex) {
      positions.push_back(i);
      targets.push_back(flat.data()[i]);
    }
  const Index N = static_cast<Index>(positions.size());
  out.positions = Tensor<std::int64_t>::from(positions, {N});
  // [N, V] logits; the mean over N targets is the full form's mean over its N non-ignored ones (NaN when N = 0, as PyTorch).
  auto [loss, logits] = head.forward_with_loss(ops::index_select(h.reshape({B * S, C}), 0, out.positions),
                                               Tensor<std::int64_t>::from(targets, {N}), {.ignore_index = kIgnoreIndex});
  out.loss = std::move(loss);
  out.logits = std::move(logits);
  return out;
}

}  // namespace detail

// Hugging Face's BertForMaskedLM. Usage:
//   heads::BertForMaskedLM<float> mlm(config, gen);
//   auto out = mlm.forward({ids, attention_mask}, labels);  // labels: [B, S], -100 where no prediction is scored
//   out.loss.backward();                                   // out.logits: [N, V] at out.positions
template <class T>
class BertForMaskedLM : public nn::Module<T> {
 public:
  explicit BertForMaskedLM(const models::BertConfig& config, Generator& gen = default_generator())
      : bert_(this->register_module("bert", std::make_shared<models::BertModel<T>>(config, gen, /*add_pooler=*/false))),
        cls_(this->register_module("cls", std::make_shared<BertOnlyMLMHead<T>>(
                                              config, bert_->embeddings()->word_embeddings()->weight(), gen))) {}

  std::string type_name() const override { return "BertForMaskedLM"; }

  // labels: [B, S] with -100 = not scored, or undefined (then logits are [B, S, V] and loss is undefined).
  // predict_masked_only (used only with labels): logits only at the labelled positions, [N, V]; false
  // gives [B, S, V]. Loss and gradients are the same either way.
  MaskedLmOutput<T> forward(const models::BertInputs& inputs, const Tensor<std::int64_t>& labels = {},
                            bool predict_masked_only = true) const {
    if (labels.defined()) detail::check_token_labels("BertForMaskedLM", labels, inputs.input_ids, bert_->config().vocab_size);
    return detail::masked_lm(*cls_->predictions, bert_->forward(inputs).last_hidden_state, labels, predict_masked_only);
  }

  const std::shared_ptr<models::BertModel<T>>& bert() const { return bert_; }
  const std::shared_ptr<BertOnlyMLMHead<T>>& cls() const { return cls_; }

 private:
  std::shared_ptr<models::BertModel<T>> bert_;
  std::shared_ptr<BertOnlyMLMHead<T>> cls_;
};

}  // namespace foundry::heads
