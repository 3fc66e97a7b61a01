// ops/embedding.hpp: the table lookup that turns token ids into vectors, as
// torch.nn.functional.embedding without max_norm or sparse gradients. The forward is a threaded row
// copy, the backward a deterministic scatter-add of gradient rows into the table (ops/index.hpp).
// The module that owns the table (and its initialisation) is nn/embedding.hpp.
#pragma once

#include <cstdint>

#include "foundry/ops/index.hpp"

namespace foundry {
namespace ops {

// weight: [V, C], ids: [...] of values in [0, V) -> [..., C], row ids[p] of weight at position p.
// Gradients of repeated ids add up; the row padding_idx (when not -1) receives none, as in PyTorch,
// though its forward value is whatever the table holds there.
// Usage: embedding(word_embeddings, input_ids /* [B, T] */, 0) -> [B, T, C].
template <class T>
Tensor<T> embedding(const Tensor<T>& weight, const Tensor<std::int64_t>& ids, Index padding_idx = -1) {
  static_assert(std::is_floating_point_v<T>, "embedding: the table must hold floating-point values");
  if (weight.dim() != 2)
    foundry::detail::fail<ShapeError>("embedding: weight must be 2-D [V, C], got shape ", weight.shape());
  const Index V = weight.size(0), C = weight.size(1);
  if (padding_idx < -1 || padding_idx >= V)
    foundry::detail::fail<IndexError>("embedding: padding_idx ", padding_idx, " out of range for vocabulary of size ", V,
                                      " (weight is ", weight.shape(), "); use -1 for none");
  const Tensor<std::int64_t> idc = ids.contiguous_data();  // captured: later in-place edits of ids are the caller's risk
  const Index n = idc.numel();
  if (const Index bad = detail::first_out_of_range(idc.data(), n, V); bad >= 0)
    foundry::detail::fail<IndexError>("embedding: id ", idc.data()[bad], " at position ", detail::unravel(bad, idc.shape()),
                                      " out of range for vocabulary of size ", V, " (weight is ", weight.shape(),
                                      ", ids are ", ids.shape(), ")");
  Shape y_shape = ids.shape();
  y_shape.push_back(C);
  const Tensor<T> w = weight.contiguous_data();
  Tensor<T> y = Tensor<T>::empty(y_shape);
  detail::gather_rows(y.data(), w.data(), idc.data(), 1, V, n, C);
  return autograd::record<T>("embedding", y, {weight}, [weight, idc, V, C, padding_idx](const Tensor<T>& grad_y) {
    // y[p, :] = weight[ids[p], :], so grad_weight[ids[p], :] += grad_y[p, :] for every p not padding.
    detail::scatter_add_rows(weight.grad_ref().data(), grad_y.data(), idc.data(), 1, V, idc.numel(), C, padding_idx);
  });
}

}  // namespace ops

using ops::embedding;

}  // namespace foundry
