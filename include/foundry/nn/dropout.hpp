// nn/dropout.hpp: zeroes each element with probability p in training mode and scales the rest by
// 1/(1-p); the identity in eval mode. Draws from the Generator given at construction.
#pragma once

#include "foundry/nn/module.hpp"
#include "foundry/ops/dropout.hpp"

namespace foundry::nn {

template <class T>
class Dropout : public Module<T> {
 public:
  explicit Dropout(double p = 0.1, Generator& gen = default_generator()) : p_(p), gen_(&gen) {
    if (!(p >= 0.0 && p <= 1.0)) detail::fail<ValueError>("Dropout: p must be in [0, 1], got ", p);
  }

  std::string type_name() const override { return "Dropout"; }

  Tensor<T> forward(const Tensor<T>& x) const { return ops::dropout(x, p_, this->is_training(), *gen_); }

  double p() const { return p_; }

 private:
  double p_;
  Generator* gen_;
};

}  // namespace foundry::nn
