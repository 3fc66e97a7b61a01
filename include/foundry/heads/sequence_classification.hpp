// heads/sequence_classification.hpp: one label (or one score) per sequence from BERT's pooled [CLS]
// output, as Hugging Face's BertForSequenceClassification: "bert" (with pooler), "dropout",
// "classifier" = Linear(C, num_labels). The loss follows Hugging Face's problem_type: cross-entropy
// for single-label classes, MSE for regression, binary cross-entropy on logits for multi-label.
#pragma once

#include <cmath>
#include <string>

#include "foundry/models/bert.hpp"
#include "foundry/ops/loss.hpp"

namespace foundry::heads {

// Hugging Face's config.problem_type. Auto decides from the labels as Hugging Face does: integer class
// labels -> SingleLabel; floating targets -> Regression when num_labels == 1, else MultiLabel.
enum class ProblemType { Auto, Regression, SingleLabel, MultiLabel };

// "regression", "single_label_classification", "multi_label_classification" (config.json spelling); "" is Auto.
inline ProblemType problem_type_from_name(const std::string& name) {
  if (name.empty()) return ProblemType::Auto;
  if (name == "regression") return ProblemType::Regression;
  if (name == "single_label_classification") return ProblemType::SingleLabel;
  if (name == "multi_label_classification") return ProblemType::MultiLabel;
  foundry::detail::fail<ValueError>("problem_type: unknown name '", name,
                                    "' (known: regression, single_label_classification, multi_label_classification)");
}

inline const char* problem_type_name(ProblemType p) {
  switch (p) {
    case ProblemType::Auto: return "auto";
    case ProblemType::Regression: return "regression";
    case ProblemType::SingleLabel: return "single_label_classification";
    case ProblemType::MultiLabel: return "multi_label_classification";
  }
  return "auto";
}

template <class T>
struct SequenceClassifierOutput {
  Tensor<T> loss;    // [] when labels are given
  Tensor<T> logits;  // [B, num_labels]
};

namespace detail {

// Mean over all elements of max(x, 0) - x·y + log(1 + exp(-|x|)), torch's BCEWithLogitsLoss: the
// same value as -[y log σ(x) + (1 - y) log(1 - σ(x))] without overflow for large |x|. Fused so the
// derivative at x = 0 is exact: d/dx = (σ(x) - y) / n. x, y: the same shape.
template <class T>
Tensor<T> binary_cross_entropy_with_logits(const Tensor<T>& x, const Tensor<T>& y) {
  if (x.shape() != y.shape())
    foundry::detail::fail<ShapeError>("binary_cross_entropy_with_logits: targets shape ", y.shape(), " must equal logits shape ",
                                      x.shape());
  const std::vector<T> xv = x.to_vector(), yv = y.to_vector();
  const Index n = x.numel();
  double total = 0;
  for (Index i = 0; i < n; ++i) {
    const double a = xv[i], b = yv[i];
    total += std::max(a, 0.0) - a * b + std::log1p(std::exp(-std::abs(a)));
  }
  Tensor<T> loss = Tensor<T>::scalar(static_cast<T>(n > 0 ? total / static_cast<double>(n) : std::nan("")));
  return autograd::record<T>("binary_cross_entropy_with_logits", std::move(loss), {x, y}, [x, y, xv, yv, n](const Tensor<T>& g) {
    const double scale = static_cast<double>(g.data()[0]) / static_cast<double>(n);
    T* gx = x.requires_grad() ? x.grad_ref().data() : nullptr;
    T* gy = y.requires_grad() ? y.grad_ref().data() : nullptr;
    for (Index i = 0; i < n; ++i) {
      const double a = xv[i];
      if (gx) gx[i] += static_cast<T>(scale * (1.0 / (1.0 + std::exp(-a)) - yv[i]));
      if (gy) gy[i] += static_cast<T>(-scale * a);
    }
  });
}

}  // namespace detail

// Hugging Face's BertForSequenceClassification. Usage:
//   heads::BertForSequenceClassification<float> model(config, /*num_labels=*/3, heads::ProblemType::Auto, gen);
//   auto out = model.forward({ids, attention_mask}, labels);       // labels: [B] class ids
//   auto reg = regressor.forward({ids, attention_mask}, scores);   // scores: Tensor<float> [B] when num_labels == 1
template <class T>
class BertForSequenceClassification : public nn::Module<T> {
 public:
  BertForSequenceClassification(const models::BertConfig& config, Index num_labels, ProblemType problem_type = ProblemType::Auto,
                                Generator& gen = default_generator())
      : num_labels_(checked_num_labels(num_labels, problem_type)),
        problem_type_(problem_type),
        bert_(this->register_module("bert", std::make_shared<models::BertModel<T>>(config, gen))),
        dropout_(this->register_module("dropout", std::make_shared<nn::Dropout<T>>(
                                                      config.extra.get_or<double>("classifier_dropout", config.hidden_dropout_prob), gen))),
        classifier_(this->register_module("classifier", std::make_shared<nn::Linear<T>>(
                                                            config.hidden_size, num_labels, models::detail::bert_init<T>(config), true, gen))) {}

  std::string type_name() const override { return "BertForSequenceClassification"; }

  // labels: [B] class ids in [0, num_labels) (-100 = not scored), or undefined -> logits [B, num_labels].
  SequenceClassifierOutput<T> forward(const models::BertInputs& inputs, const Tensor<std::int64_t>& labels = {}) const {
    if (labels.defined()) {
      if (problem_type_ == ProblemType::Regression || problem_type_ == ProblemType::MultiLabel || num_labels_ == 1)
        foundry::detail::fail<ValueError>("BertForSequenceClassification: integer class labels given, but the problem type is ",
                                          problem_type_name(resolved(true)), " (num_labels ", num_labels_,
                                          "); pass floating-point targets (Tensor<T>)");
      check_batch("labels", labels.shape(), inputs, Shape{batch_of(inputs)});
      ops::detail::check_class_targets("BertForSequenceClassification", labels.contiguous_data(), num_labels_, kIgnoreIndex,
                                       Shape{labels.size(0), num_labels_});
    }
    SequenceClassifierOutput<T> out;
    out.logits = logits(inputs);
    if (labels.defined()) out.loss = ops::cross_entropy(out.logits, labels, {.ignore_index = kIgnoreIndex});
    return out;
  }

  // Floating-point targets: regression ([B] or [B, 1] when num_labels == 1, else [B, num_labels]; MSE)
  // or multi-label ([B, num_labels] of 0/1 or probabilities; binary cross-entropy on the logits).
  SequenceClassifierOutput<T> forward(const models::BertInputs& inputs, const Tensor<T>& targets) const {
    const ProblemType p = resolved(false);
    if (p == ProblemType::SingleLabel)
      foundry::detail::fail<ValueError>("BertForSequenceClassification: floating-point targets given, but the problem type is ",
                                        "single_label_classification; pass integer class labels (Tensor<int64_t>)");
    const Index B = batch_of(inputs);
    const bool vector_ok = p == ProblemType::Regression && num_labels_ == 1 && targets.shape() == Shape{B};
    if (!vector_ok) check_batch("targets", targets.shape(), inputs, Shape{B, num_labels_});
    SequenceClassifierOutput<T> out;
    out.logits = logits(inputs);
    const Tensor<T> scores = vector_ok ? out.logits.reshape({B}) : out.logits;
    out.loss = p == ProblemType::Regression ? ops::mse_loss(scores, targets) : detail::binary_cross_entropy_with_logits(scores, targets);
    return out;
  }

  Index num_labels() const { return num_labels_; }
  ProblemType problem_type() const { return problem_type_; }
  const std::shared_ptr<models::BertModel<T>>& bert() const { return bert_; }
  const std::shared_ptr<nn::Linear<T>>& classifier() const { return classifier_; }

  static constexpr std::int64_t kIgnoreIndex = -100;

 private:
  static Index checked_num_labels(Index num_labels, ProblemType p) {
    if (num_labels < 1) foundry::detail::fail<ValueError>("BertForSequenceClassification: num_labels must be at least 1, got ", num_labels);
    if (p == ProblemType::SingleLabel && num_labels < 2)
      foundry::detail::fail<ValueError>("BertForSequenceClassification: single_label_classification needs num_labels >= 2, got ",
                                        num_labels, " (num_labels 1 is regression)");
    return num_labels;
  }

  // The problem type for labels of the given kind (integer classes or floating targets).
  ProblemType resolved(bool integer_labels) const {
    if (problem_type_ != ProblemType::Auto) return problem_type_;
    if (num_labels_ == 1) return ProblemType::Regression;
    return integer_labels ? ProblemType::SingleLabel : ProblemType::MultiLabel;
  }

  static Index batch_of(const models::BertInputs& inputs) {
    if (!inputs.input_ids.defined() || inputs.input_ids.dim() != 2)
      foundry::detail::fail<ShapeError>("BertForSequenceClassification: input_ids must be [B, S], got ",
                                        inputs.input_ids.defined() ? inputs.input_ids.shape().str() : "undefined");
    return inputs.input_ids.size(0);
  }

  static void check_batch(const char* what, const Shape& got, const models::BertInputs& inputs, const Shape& want) {
    if (got != want)
      foundry::detail::fail<ShapeError>("BertForSequenceClassification: ", what, " shape ", got, " must be ", want,
                                        " for input_ids ", inputs.input_ids.shape());
  }

  Tensor<T> logits(const models::BertInputs& inputs) const {
    return classifier_->forward(dropout_->forward(bert_->forward(inputs).pooler_output));  // [B, C] -> [B, num_labels]
  }

  Index num_labels_;
  ProblemType problem_type_;
  std::shared_ptr<models::BertModel<T>> bert_;
  std::shared_ptr<nn::Dropout<T>> dropout_;
  std::shared_ptr<nn::Linear<T>> classifier_;
};

}  // namespace foundry::heads
