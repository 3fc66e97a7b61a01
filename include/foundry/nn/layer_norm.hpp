// nn/layer_norm.hpp: normalises the last axis to zero mean and unit variance, then scales and
// shifts per channel (Ba et al. 2016). weight starts at 1, bias at 0; BERT uses eps = 1e-12.
#pragma once

#include "foundry/nn/module.hpp"
#include "foundry/ops/layer_norm.hpp"

namespace foundry::nn {

template <class T>
class LayerNorm : public Module<T> {
 public:
  explicit LayerNorm(Index dim, double eps = 1e-5, bool affine = true) : eps_(eps) {
    if (affine) {
      weight_ = this->register_parameter("weight", Tensor<T>::ones({dim}));
      bias_ = this->register_parameter("bias", Tensor<T>::zeros({dim}));
    }
  }

  std::string type_name() const override { return "LayerNorm"; }

  Tensor<T> forward(const Tensor<T>& x) const { return ops::layer_norm(x, weight_, bias_, eps_); }  // [..., C] -> [..., C]

  const Tensor<T>& weight() const { return weight_; }
  const Tensor<T>& bias() const { return bias_; }
  double eps() const { return eps_; }

 private:
  Tensor<T> weight_, bias_;
  double eps_;
};

}  // namespace foundry::nn
