// heads/classification_metrics.hpp: accuracy, per-class precision / recall / F1, macro averages and
// the confusion matrix of a single-label classifier, as scikit-learn's classification_report
// computes them (a class never predicted has precision 0, a class absent from the truth recall 0,
// and F1 is 0 where precision + recall is 0).
//   heads::ClassificationReport r(/*num_classes=*/2);
//   r.add(truth, predicted);                 // one example, or add_batch(labels, logits)
//   r.accuracy(); r.f1(1); r.macro_f1(); r.confusion(t, p);
#pragma once

#include <cstdint>
#include <vector>

#include "foundry/core/error.hpp"
#include "foundry/core/tensor.hpp"

namespace foundry::heads {

class ClassificationReport {
 public:
  explicit ClassificationReport(Index num_classes) : n_(num_classes) {
    if (num_classes < 1) foundry::detail::fail<ValueError>("ClassificationReport: num_classes must be at least 1, got ", num_classes);
    counts_.assign(static_cast<std::size_t>(n_ * n_), 0);
  }

  void add(Index truth, Index predicted) {
    if (truth < 0 || truth >= n_ || predicted < 0 || predicted >= n_)
      foundry::detail::fail<IndexError>("ClassificationReport.add: classes must be in [0, ", n_, "), got truth ", truth,
                                        " and prediction ", predicted);
    ++counts_[static_cast<std::size_t>(truth * n_ + predicted)];
    ++total_;
  }

  // labels [B] and logits [B, num_classes]: the prediction is the arg-max (the first on ties).
  template <class T>
  void add_batch(const Tensor<std::int64_t>& labels, const Tensor<T>& logits) {
    if (logits.dim() != 2 || logits.size(1) != n_ || labels.dim() != 1 || labels.size(0) != logits.size(0))
      foundry::detail::fail<ShapeError>("ClassificationReport.add_batch: want labels [B] and logits [B, ", n_, "], got labels ",
                                        labels.shape(), " and logits ", logits.shape());
    const Tensor<T> scores = logits.contiguous_data();
    const Tensor<std::int64_t> truth = labels.contiguous_data();
    for (Index b = 0; b < scores.size(0); ++b) {
      const T* row = scores.data() + b * n_;
      Index best = 0;
      for (Index c = 1; c < n_; ++c)
        if (row[c] > row[best]) best = c;
      add(truth.data()[b], best);
    }
  }

  Index num_classes() const { return n_; }
  std::int64_t total() const { return total_; }
  std::int64_t confusion(Index truth, Index predicted) const { return counts_[static_cast<std::size_t>(truth * n_ + predicted)]; }
  std::int64_t support(Index c) const {  // examples whose truth is c
    std::int64_t s = 0;
    for (Index p = 0; p < n_; ++p) s += confusion(c, p);
    return s;
  }
  std::int64_t predicted(Index c) const {
    std::int64_t s = 0;
    for (Index t = 0; t < n_; ++t) s += confusion(t, c);
    return s;
  }

  double accuracy() const {
    std::int64_t right = 0;
    for (Index c = 0; c < n_; ++c) right += confusion(c, c);
    return total_ > 0 ? static_cast<double>(right) / static_cast<double>(total_) : 0.0;
  }
  double precision(Index c) const { return ratio(confusion(c, c), predicted(c)); }
  double recall(Index c) const { return ratio(confusion(c, c), support(c)); }
  double f1(Index c) const {
    const double p = precision(c), r = recall(c);
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  }
  double macro_f1() const { return macro([&](Index c) { return f1(c); }); }
  double macro_precision() const { return macro([&](Index c) { return precision(c); }); }
  double macro_recall() const { return macro([&](Index c) { return recall(c); }); }

 private:
  static double ratio(std::int64_t a, std::int64_t b) { return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0; }
  template <class F>
  double macro(F&& per_class) const {
    double s = 0;
    for (Index c = 0; c < n_; ++c) s += per_class(c);
    return s / static_cast<double>(n_);
  }

  Index n_;
  std::vector<std::int64_t> counts_;  // [truth, predicted]
  std::int64_t total_ = 0;
};

}  // namespace foundry::heads
