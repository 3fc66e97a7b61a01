// nn/embedding.hpp: a lookup table of V vectors of width C. ids of any shape [...] -> [..., C].
// The padding_idx row starts at zero and receives no gradient, as in torch.nn.Embedding.
#pragma once

#include "foundry/nn/init.hpp"
#include "foundry/nn/module.hpp"
#include "foundry/ops/embedding.hpp"

namespace foundry::nn {

template <class T>
class Embedding : public Module<T> {
 public:
  // PyTorch's default N(0, 1) unless an initializer is given.
  Embedding(Index num_embeddings, Index dim, Index padding_idx = -1, Generator& gen = default_generator())
      : Embedding(num_embeddings, dim, init::normal<T>(0, 1), padding_idx, gen) {}
  Embedding(Index num_embeddings, Index dim, const init::Initializer<T>& weight_init, Index padding_idx = -1,
            Generator& gen = default_generator())
      : weight_(this->register_parameter("weight", weight_init({num_embeddings, dim}, gen))), padding_idx_(padding_idx) {
    if (padding_idx >= num_embeddings || padding_idx < -1)
      detail::fail<ValueError>("Embedding: padding_idx ", padding_idx, " outside [0, ", num_embeddings, ")");
    if (padding_idx >= 0) std::fill_n(weight_.data() + padding_idx * dim, dim, T(0));
  }

  std::string type_name() const override { return "Embedding"; }

  Tensor<T> forward(const Tensor<std::int64_t>& ids) const { return ops::embedding(weight_, ids, padding_idx_); }

  const Tensor<T>& weight() const { return weight_; }  // [V, C]
  Index num_embeddings() const { return weight_.size(0); }
  Index embedding_dim() const { return weight_.size(1); }
  Index padding_idx() const { return padding_idx_; }

 private:
  Tensor<T> weight_;
  Index padding_idx_;
};

}  // namespace foundry::nn
