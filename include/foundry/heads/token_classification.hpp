// heads/token_classification.hpp: one label per token (named entities, part of speech), as Hugging
// Face's BertForTokenClassification: "bert" (no pooler), "dropout", "classifier" = Linear(C, num_labels),
// optionally with a linear-chain CRF ("crf", heads/crf.hpp) on top of the per-token scores. Without the
// CRF the loss is token-level cross-entropy; with it, the CRF's negative log-likelihood per sequence.
#pragma once

#include <vector>

#include "foundry/heads/crf.hpp"
#include "foundry/models/bert.hpp"

namespace foundry::heads {

template <class T>
struct TokenClassifierOutput {
  Tensor<T> loss;    // [] when labels are given
  Tensor<T> logits;  // [B, S, num_labels]: per-token scores (the CRF's emissions when it is on)
};

// Hugging Face's BertForTokenClassification, plus an optional CRF. Usage:
//   heads::BertForTokenClassification<float> ner(config, /*num_labels=*/9, /*use_crf=*/true, gen);
//   auto out = ner.forward({ids, attention_mask}, labels);  // labels: [B, S]
//   std::vector<std::vector<std::int64_t>> tags = ner.decode({ids, attention_mask});
template <class T>
class BertForTokenClassification : public nn::Module<T> {
 public:
  BertForTokenClassification(const models::BertConfig& config, Index num_labels, bool use_crf = false,
                             Generator& gen = default_generator())
      : num_labels_(checked_num_labels(num_labels)),
        bert_(this->register_module("bert", std::make_shared<models::BertModel<T>>(config, gen, /*add_pooler=*/false))),
        dropout_(this->register_module("dropout", std::make_shared<nn::Dropout<T>>(
                                                      config.extra.get_or<double>("classifier_dropout", config.hidden_dropout_prob), gen))),
        classifier_(this->register_module("classifier", std::make_shared<nn::Linear<T>>(
                                                            config.hidden_size, num_labels, models::detail::bert_init<T>(config), true, gen))) {
    if (use_crf) crf_ = this->register_module("crf", std::make_shared<Crf<T>>(num_labels, gen));
  }

  std::string type_name() const override { return "BertForTokenClassification"; }

  // labels: [B, S], each -100 or a class in [0, num_labels), or undefined.
  // Without the CRF: mean cross-entropy over tokens whose label is not -100 and whose attention_mask
  // is on (padding never counts, whatever its label). With the CRF: mean over the batch of the
  // sequence NLL; the attention_mask is the CRF's mask, so every real token needs a class (not -100).
  TokenClassifierOutput<T> forward(const models::BertInputs& inputs, const Tensor<std::int64_t>& labels = {}) const {
    if (labels.defined()) check_labels(inputs, labels);
    TokenClassifierOutput<T> out;
    out.logits = classifier_->forward(dropout_->forward(bert_->forward(inputs).last_hidden_state));
    if (!labels.defined()) return out;
    if (crf_) {
      out.loss = crf_->forward(out.logits, labels, mask_of(inputs), Reduction::Mean);
      return out;
    }
    Tensor<std::int64_t> scored = labels.clone_data();
    if (inputs.attention_mask.defined()) {
      const Tensor<std::int64_t> m = inputs.attention_mask.contiguous_data();
      for (Index i = 0; i < scored.numel(); ++i)
        if (m.data()[i] == 0) scored.data()[i] = kIgnoreIndex;
    }
    out.loss = ops::cross_entropy(out.logits, scored, {.ignore_index = kIgnoreIndex});
    return out;
  }

  // The predicted tags of each row's real tokens (attention_mask on; padding must be at the end):
  // Viterbi paths with the CRF, per-token argmax without.
  std::vector<std::vector<std::int64_t>> decode(const models::BertInputs& inputs) const {
    NoGradGuard no_grad;
    const Tensor<T> logits = forward(inputs).logits;
    if (crf_) return crf_->decode(logits, mask_of(inputs));
    const Index B = logits.size(0), S = logits.size(1), K = logits.size(2);
    const std::vector<Index> lengths = CrfMask(mask_of(inputs)).lengths("BertForTokenClassification::decode", Shape{B, S});
    const Tensor<T> x = logits.contiguous_data();
    std::vector<std::vector<std::int64_t>> tags(static_cast<std::size_t>(B));
    for (Index b = 0; b < B; ++b)
      for (Index t = 0; t < lengths[b]; ++t) {
        const T* row = x.data() + (b * S + t) * K;
        tags[b].push_back(std::max_element(row, row + K) - row);  // first maximum on ties
      }
    return tags;
  }

  Index num_labels() const { return num_labels_; }
  bool has_crf() const { return crf_ != nullptr; }
  const std::shared_ptr<models::BertModel<T>>& bert() const { return bert_; }
  const std::shared_ptr<nn::Linear<T>>& classifier() const { return classifier_; }
  const std::shared_ptr<Crf<T>>& crf() const { return crf_; }  // null without the CRF

  static constexpr std::int64_t kIgnoreIndex = -100;

 private:
  static Index checked_num_labels(Index num_labels) {
    if (num_labels < 1) foundry::detail::fail<ValueError>("BertForTokenClassification: num_labels must be at least 1, got ", num_labels);
    return num_labels;
  }

  static Tensor<std::int64_t> mask_of(const models::BertInputs& inputs) {
    return inputs.attention_mask.defined() ? inputs.attention_mask : Tensor<std::int64_t>::ones(inputs.input_ids.shape());
  }

  void check_labels(const models::BertInputs& inputs, const Tensor<std::int64_t>& labels) const {
    const char* op = "BertForTokenClassification";
    if (!inputs.input_ids.defined()) return;  // BertModel::forward names that mistake
    if (labels.shape() != inputs.input_ids.shape())
      foundry::detail::fail<ShapeError>(op, ": labels shape ", labels.shape(), " must equal input_ids shape ", inputs.input_ids.shape());
    if (inputs.attention_mask.defined() && inputs.attention_mask.shape() != labels.shape())
      foundry::detail::fail<ShapeError>(op, ": attention_mask shape ", inputs.attention_mask.shape(), " must equal input_ids shape ",
                                        inputs.input_ids.shape());
    Shape scores = labels.shape();
    scores.push_back(num_labels_);
    const Tensor<std::int64_t> y = labels.contiguous_data();
    ops::detail::check_class_targets(op, y, num_labels_, kIgnoreIndex, scores);
    if (!crf_) return;
    const Tensor<std::int64_t> m = mask_of(inputs).contiguous_data();
    const Index S = labels.dim() == 2 ? labels.size(1) : 1;
    for (Index i = 0; i < y.numel(); ++i)
      if (m.data()[i] != 0 && y.data()[i] == kIgnoreIndex)
        foundry::detail::fail<ValueError>(op, ": label -100 at [", i / S, ", ", i % S,
                                          "] is on a real token (attention_mask 1); with a CRF every real token needs a class in [0, ",
                                          num_labels_, ")");
  }

  Index num_labels_;
  std::shared_ptr<models::BertModel<T>> bert_;
  std::shared_ptr<nn::Dropout<T>> dropout_;
  std::shared_ptr<nn::Linear<T>> classifier_;
  std::shared_ptr<Crf<T>> crf_;
};

}  // namespace foundry::heads
