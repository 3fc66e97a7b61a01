// nn/linear.hpp: y = x·Wᵀ + b. Weight is stored [out, in] so common checkpoints load as-is;
// PyTorch's default initialisation unless an initializer is given.
#pragma once

#include "foundry/nn/activation.hpp"
#include "foundry/nn/init.hpp"
#include "foundry/nn/module.hpp"
#include "foundry/ops/linear.hpp"

namespace foundry::nn {

template <class T>
class Linear : public Module<T> {
 public:
  Linear(Index in, Index out, bool bias = true, Generator& gen = default_generator())
      : weight_(this->register_parameter("weight", init::uniform_fan_in<T>({out, in}, in, gen))) {
    if (bias) bias_ = this->register_parameter("bias", init::uniform_fan_in<T>({out}, in, gen));
  }
  // Weight from `weight_init`, zero bias (BERT and GPT-2: normal(0, initializer_range)).
  Linear(Index in, Index out, const init::Initializer<T>& weight_init, bool bias = true, Generator& gen = default_generator())
      : weight_(this->register_parameter("weight", weight_init({out, in}, gen))) {
    if (bias) bias_ = this->register_parameter("bias", Tensor<T>::zeros({out}));
  }

  std::string type_name() const override { return "Linear"; }

  Tensor<T> forward(const Tensor<T>& x) const { return ops::linear(x, weight_, bias_); }  // [..., in] -> [..., out]
  // forward(activate(z, act)); the GELUs through ops::linear_of_gelu, which keeps z but not act(z)
  // for backward (a Transformer feed-forward's second half).
  Tensor<T> forward_activated(const Tensor<T>& z, Activation act) const {
    if (act == Activation::Gelu) return ops::linear_of_gelu(z, weight_, bias_, ops::GeluApproximation::kNone);
    if (act == Activation::GeluTanh) return ops::linear_of_gelu(z, weight_, bias_, ops::GeluApproximation::kTanh);
    return forward(activate(z, act));
  }

  const Tensor<T>& weight() const { return weight_; }  // [out, in]
  const Tensor<T>& bias() const { return bias_; }      // [out] or undefined
  Index in_features() const { return weight_.size(1); }
  Index out_features() const { return weight_.size(0); }

 private:
  Tensor<T> weight_, bias_;
};

}  // namespace foundry::nn
