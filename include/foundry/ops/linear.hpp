// ops/linear.hpp: y = x·Wᵀ + b, the layer op, and linear_of_gelu (gelu(z)·Wᵀ + b keeping z alone for
// backward). Weight is stored [out, in] as in PyTorch and Hugging Face checkpoints, so Wᵀ is a free
// column-major view; the leading axes of x fold into the GEMM's rows ([B, T, C] is one [B*T, C] product).
#pragma once

#include "foundry/ops/activation.hpp"
#include "foundry/ops/matmul.hpp"

namespace foundry {
namespace ops {

namespace detail {

template <class T>
void check_linear(const char* op, const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
  if (x.dim() < 1 || w.dim() != 2)
    foundry::detail::fail<ShapeError>(op, ": x must have at least 1 axis and weight 2, got x ", x.shape(), ", weight ", w.shape());
  if (x.size(-1) != w.size(1))
    foundry::detail::fail<ShapeError>(op, ": x axis ", x.dim() - 1, " (", x.size(-1), ") must equal weight axis 1 (", w.size(1),
                                      "); x is ", x.shape(), ", weight is ", w.shape());
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
    foundry::detail::fail<ShapeError>(op, ": bias must be [", w.size(0), "] for weight ", w.shape(), ", got ", b.shape());
}

// y = x·wᵀ + b into a new tensor, x with foldable rows and w gemm_ready.
template <class T>
Tensor<T> linear_values(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
  Shape y_shape = x.shape();
  y_shape[y_shape.size() - 1] = w.size(0);
  Tensor<T> y = Tensor<T>::empty(y_shape);
  const Tensor<T> bc = b.defined() ? b.contiguous_data() : Tensor<T>();
  gemm(folded_rows(x), mat_view(w).transposed(), y.data(), false, 0, bc.defined() ? bc.data() : nullptr);  // bias in the GEMM's store
  return y;
}

// The weight and bias gradients of y = x·wᵀ + b from grad_y (g: [rows, out]) and x (xm: [rows, in]).
template <class T>
void linear_param_grads(const MatView<T>& g, const MatView<T>& xm, const Tensor<T>& w_in, const Tensor<T>& b) {
  if (w_in.requires_grad()) {
    const GradSlot<T> gw = w_in.grad_slot();
    gemm(g.transposed(), xm, gw.data(), gw.accumulate);
  }
  if (b.defined() && b.requires_grad()) {
    const GradSlot<T> gb = b.grad_slot();
    column_sums(g.data, g.rows, g.cols, gb.data(), gb.accumulate);
  }
}

}  // namespace detail

// x: [..., in], w: [out, in], b: [out] or undefined -> [..., out]
template <class T>
Tensor<T> linear(const Tensor<T>& x_in, const Tensor<T>& w_in, const Tensor<T>& b = Tensor<T>()) {
  detail::check_linear("linear", x_in, w_in, b);
  const Tensor<T> x = detail::foldable_rows(x_in) ? x_in : x_in.contiguous_data();
  const Tensor<T> w = detail::mat_view(w_in).gemm_ready() ? w_in : w_in.clone_data();
  Tensor<T> y = detail::linear_values(x, w, b);
  const detail::MatView<T> xm = detail::folded_rows(x);
  return autograd::record<T>("linear", y, {x_in, w_in, b}, [x, w, x_in = x_in.grad_target(), w_in, b, xm](const Tensor<T>& grad_y) {
    // y = x·wᵀ + b, so grad_x = grad_y·w, grad_w = grad_yᵀ·x, grad_b = column sums of grad_y.
    // The first contribution to a gradient is the GEMM's beta = 0 (no zero fill), later ones beta = 1.
    const detail::MatView<T> g{grad_y.data(), xm.rows, w.size(0), w.size(0), 1};
    if (x_in.requires_grad()) {
      const GradSlot<T> gx = x_in.grad_slot();
      detail::gemm(g, detail::mat_view(w), gx.data(), gx.accumulate);
    }
    detail::linear_param_grads(g, xm, w_in, b);
  });
}

// y = gelu(z)·wᵀ + b, the second half of a Transformer feed-forward, without keeping gelu(z): forward
// computes it into a buffer freed after the GEMM, backward computes it again from z (one pointwise
// pass) for the weight gradient. linear(gelu(z), w, b) keeps both z (for gelu's backward) and gelu(z)
// (for linear's); this keeps z alone: one [tokens, F] tensor less per layer, 8 MiB for BERT-mini at
// 16 x 128 tokens, 16 MiB for BERT-small. Same values and gradients as the composition.
// z: [..., in], w: [out, in], b: [out] or undefined -> [..., out]
template <class T>
Tensor<T> linear_of_gelu(const Tensor<T>& z_in, const Tensor<T>& w_in, const Tensor<T>& b = Tensor<T>(),
                         GeluApproximation approximate = GeluApproximation::kNone) {
  detail::expect_floating<T>();
  detail::check_linear("linear_of_gelu", z_in, w_in, b);
  const Tensor<T> z = z_in.contiguous_data();
  const Tensor<T> w = detail::mat_view(w_in).gemm_ready() ? w_in : w_in.clone_data();
  Tensor<T> y;
  {
    Tensor<T> h = Tensor<T>::empty(z.shape());
    detail::gelu_values(z.data(), h.data(), z.numel(), approximate);
    y = detail::linear_values(h, w, b);
  }
  return autograd::record<T>("linear_of_gelu", y, {z_in, w_in, b},
                             [z, w, z_in = z_in.grad_target(), w_in, b, approximate](const Tensor<T>& grad_y) {
    const Index in = w.size(1), out = w.size(0), rows = z.numel() / std::max<Index>(in, 1);
    const detail::MatView<T> g{grad_y.data(), rows, out, out, 1};
    // gelu(z) again, only when the weight needs it (the bias gradient reads g alone); grad_z =
    // (grad_y·w)·gelu'(z). With both, one pass over z makes gelu(z) and grad_z (Φ(z) once).
    Tensor<T> h = w_in.requires_grad() ? Tensor<T>::empty(z.shape()) : Tensor<T>();
    if (z_in.requires_grad()) {
      Tensor<T> grad_h = Tensor<T>::empty(z.shape());
      detail::gemm(g, detail::mat_view(w), grad_h.data(), false);
      const GradSlot<T> gz = z_in.grad_slot();
      if (h.defined())
        detail::gelu_values_and_grads(z.data(), grad_h.data(), h.data(), gz.data(), gz.accumulate, z.numel(), approximate);
      else
        detail::gelu_grads(z.data(), grad_h.data(), gz.data(), gz.accumulate, z.numel(), approximate);
    } else if (h.defined()) {
      detail::gelu_values(z.data(), h.data(), z.numel(), approximate);
    }
    detail::linear_param_grads(g, detail::MatView<T>{h.defined() ? h.data() : nullptr, rows, in, in, 1}, w_in, b);
  });
}

}  // namespace ops

using ops::linear;
using ops::linear_of_gelu;

}  // namespace foundry
