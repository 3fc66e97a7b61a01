// heads/pretraining.hpp: BERT's two pretraining objectives together, as Hugging Face's
// BertForPreTraining: "bert" (with pooler) and "cls" = {"predictions" (the tied MLM head of
// mlm_head.hpp), "seq_relationship" (next-sentence prediction, Linear(C, 2) on the pooled output)}.
// The total loss is the MLM loss plus the NSP loss; masking data is built in text/, not here.
#pragma once

#include "foundry/heads/mlm_head.hpp"

namespace foundry::heads {

// Hugging Face's BertPreTrainingHeads: predictions [..., C] -> [..., V]; seq_relationship [B, C] -> [B, 2].
template <class T>
class BertPreTrainingHeads : public nn::Module<T> {
 public:
  BertPreTrainingHeads(const models::BertConfig& c, Tensor<T> word_embeddings, Generator& gen)
      : predictions(this->register_module("predictions", std::make_shared<BertLMPredictionHead<T>>(c, std::move(word_embeddings), gen))),
        seq_relationship(this->register_module("seq_relationship", std::make_shared<nn::Linear<T>>(
                                                                        c.hidden_size, 2, models::detail::bert_init<T>(c), true, gen))) {}
  std::string type_name() const override { return "BertPreTrainingHeads"; }
  std::shared_ptr<BertLMPredictionHead<T>> predictions;
  std::shared_ptr<nn::Linear<T>> seq_relationship;
};

template <class T>
struct PreTrainingOutput {
  Tensor<T> loss;                      // [] mlm_loss + nsp_loss, when both kinds of labels are given (as Hugging Face)
  Tensor<T> mlm_loss;                  // [] when MLM labels are given
  Tensor<T> nsp_loss;                  // [] when next-sentence labels are given
  Tensor<T> prediction_logits;         // [N, V] at `positions`, or [B, S, V]
  Tensor<std::int64_t> positions;      // [N] flat indices b·S + s, or undefined (see MaskedLmOutput)
  Tensor<T> seq_relationship_logits;   // [B, 2]; class 0 = "B follows A", 1 = "B is random"
};

// Hugging Face's BertForPreTraining. Usage:
//   heads::BertForPreTraining<float> model(config, gen);
//   auto out = model.forward({ids, attention_mask, token_type_ids}, mlm_labels, is_random_next);
//   out.loss.backward();
template <class T>
class BertForPreTraining : public nn::Module<T> {
 public:
  explicit BertForPreTraining(const models::BertConfig& config, Generator& gen = default_generator())
      : bert_(this->register_module("bert", std::make_shared<models::BertModel<T>>(config, gen))),
        cls_(this->register_module("cls", std::make_shared<BertPreTrainingHeads<T>>(
                                              config, bert_->embeddings()->word_embeddings()->weight(), gen))) {}

  std::string type_name() const override { return "BertForPreTraining"; }

  // labels: [B, S] MLM labels (-100 = not scored) or undefined; next_sentence_label: [B] in {0, 1}
  // (or -100) or undefined. predict_masked_only as in BertForMaskedLM::forward.
  PreTrainingOutput<T> forward(const models::BertInputs& inputs, const Tensor<std::int64_t>& labels = {},
                               const Tensor<std::int64_t>& next_sentence_label = {}, bool predict_masked_only = true) const {
    if (labels.defined()) detail::check_token_labels("BertForPreTraining", labels, inputs.input_ids, bert_->config().vocab_size);
    if (next_sentence_label.defined() && inputs.input_ids.defined()) {
      const Index B = inputs.input_ids.size(0);
      if (next_sentence_label.shape() != Shape{B})
        foundry::detail::fail<ShapeError>("BertForPreTraining: next_sentence_label shape ", next_sentence_label.shape(),
                                          " must be [B] = [", B, "] for input_ids ", inputs.input_ids.shape());
      ops::detail::check_class_targets("BertForPreTraining: next_sentence_label", next_sentence_label.contiguous_data(), 2,
                                       detail::kIgnoreIndex, Shape{B, 2});
    }
    const models::BertOutputs<T> h = bert_->forward(inputs);
    MaskedLmOutput<T> mlm = detail::masked_lm(*cls_->predictions, h.last_hidden_state, labels, predict_masked_only);
    PreTrainingOutput<T> out;
    out.prediction_logits = mlm.logits;
    out.positions = mlm.positions;
    out.mlm_loss = mlm.loss;
    out.seq_relationship_logits = cls_->seq_relationship->forward(h.pooler_output);
    if (next_sentence_label.defined())
      out.nsp_loss = ops::cross_entropy(out.seq_relationship_logits, next_sentence_label, {.ignore_index = detail::kIgnoreIndex});
    if (out.mlm_loss.defined() && out.nsp_loss.defined()) out.loss = out.mlm_loss + out.nsp_loss;
    return out;
  }

  const std::shared_ptr<models::BertModel<T>>& bert() const { return bert_; }
  const std::shared_ptr<BertPreTrainingHeads<T>>& cls() const { return cls_; }

 private:
  std::shared_ptr<models::BertModel<T>> bert_;
  std::shared_ptr<BertPreTrainingHeads<T>> cls_;
};

}  // namespace foundry::heads
