// nn/feed_forward.hpp: the Transformer's position-wise MLP: Linear(C -> F), activation, dropout,
// Linear(F -> C). Parameter names follow torch's TransformerEncoderLayer ("linear1", "linear2");
// BERT names its two halves differently and composes them itself (models/bert.hpp).
#pragma once

#include "foundry/nn/activation.hpp"
#include "foundry/nn/dropout.hpp"
#include "foundry/nn/linear.hpp"

namespace foundry::nn {

template <class T>
class FeedForward : public Module<T> {
 public:
  FeedForward(Index dim, Index hidden, Activation act = Activation::Gelu, double dropout = 0.1,
              Generator& gen = default_generator())
      : linear1_(this->register_module("linear1", std::make_shared<Linear<T>>(dim, hidden, true, gen))),
        linear2_(this->register_module("linear2", std::make_shared<Linear<T>>(hidden, dim, true, gen))),
        dropout_(this->register_module("dropout", std::make_shared<Dropout<T>>(dropout, gen))),
        act_(act) {}

  std::string type_name() const override { return "FeedForward"; }

  // x: [..., C] -> [..., C]
  Tensor<T> forward(const Tensor<T>& x) const {
    return linear2_->forward(dropout_->forward(activate(linear1_->forward(x), act_)));
  }

  const std::shared_ptr<Linear<T>>& linear1() const { return linear1_; }
  const std::shared_ptr<Linear<T>>& linear2() const { return linear2_; }

 private:
  std::shared_ptr<Linear<T>> linear1_, linear2_;
  std::shared_ptr<Dropout<T>> dropout_;
  Activation act_;
};

}  // namespace foundry::nn
