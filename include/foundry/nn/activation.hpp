// nn/activation.hpp: the activation functions as a value type, so configs can name them
// ("gelu", "gelu_new", "relu", "tanh" as Hugging Face's hidden_act does) and layers can store one.
#pragma once

#include <string>

#include "foundry/ops/activation.hpp"

namespace foundry::nn {

enum class Activation { Gelu, GeluTanh, Relu, Tanh };

// Hugging Face's hidden_act names: "gelu" (erf), "gelu_new" / "gelu_pytorch_tanh" (tanh form), "relu", "tanh".
inline Activation activation_from_name(const std::string& name) {
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_tanh") return Activation::GeluTanh;
  if (name == "relu") return Activation::Relu;
  if (name == "tanh") return Activation::Tanh;
  detail::fail<ValueError>("activation: unknown name '", name, "' (known: gelu, gelu_new, gelu_pytorch_tanh, relu, tanh)");
}

inline std::string activation_name(Activation a) {
  switch (a) {
    case Activation::Gelu: return "gelu";
    case Activation::GeluTanh: return "gelu_new";
    case Activation::Relu: return "relu";
    case Activation::Tanh: return "tanh";
  }
  return "gelu";
}

template <class T>
Tensor<T> activate(const Tensor<T>& x, Activation a) {
  switch (a) {
    case Activation::Gelu: return ops::gelu(x, ops::GeluApproximation::kNone);
    case Activation::GeluTanh: return ops::gelu(x, ops::GeluApproximation::kTanh);
    case Activation::Relu: return ops::relu(x);
    case Activation::Tanh: return ops::tanh(x);
  }
  return x;
}

}  // namespace foundry::nn
