// ops/linear.hpp: y = x·Wᵀ + b, the fused layer op. Weight is stored [out, in] as in PyTorch and
// Hugging Face checkpoints, so Wᵀ is a free column-major view; the leading axes of x fold into the
// GEMM's rows ([B, T, C] is one [B*T, C] product), and the bias is added in the same pass over y.
#pragma once

#include "foundry/ops/matmul.hpp"

namespace foundry {
namespace ops {

// x: [..., in], w: [out, in], b: [out] or undefined -> [..., out]
template <class T>
Tensor<T> linear(const Tensor<T>& x_in, const Tensor<T>& w_in, const Tensor<T>& b = Tensor<T>()) {
  if (x_in.dim() < 1 || w_in.dim() != 2)
    foundry::detail::fail<ShapeError>("linear: x must have at least 1 axis and weight 2, got x ", x_in.shape(), ", weight ",
                                      w_in.shape());
  if (x_in.size(-1) != w_in.size(1))
    foundry::detail::fail<ShapeError>("linear: x axis ", x_in.dim() - 1, " (", x_in.size(-1), ") must equal weight axis 1 (",
                                      w_in.size(1), "); x is ", x_in.shape(), ", weight is ", w_in.shape());
  if (b.defined() && (b.dim() != 1 || b.size(0) != w_in.size(0)))
    foundry::detail::fail<ShapeError>("linear: bias must be [", w_in.size(0), "] for weight ", w_in.shape(), ", got ", b.shape());
  const Tensor<T> x = detail::foldable_rows(x_in) ? x_in : x_in.contiguous_data();
  const Tensor<T> w = detail::mat_view(w_in).gemm_ready() ? w_in : w_in.clone_data();
  const Index out = w.size(0);
  Shape y_shape = x.shape();
  y_shape[y_shape.size() - 1] = out;
  Tensor<T> y = Tensor<T>::empty(y_shape);
  const detail::MatView<T> xm = detail::folded_rows(x), wt = detail::mat_view(w).transposed();
  detail::gemm(xm, wt, y.data(), false);
  if (b.defined()) {
    const Tensor<T> bc = b.contiguous_data();
    auto ym = y.matrix();
    const auto bias = bc.vector().transpose();
    foundry::detail::parallel_for(ym.rows(), 256, [&](Index r0, Index r1) { ym.middleRows(r0, r1 - r0).rowwise() += bias; });
  }
  return autograd::record<T>("linear", y, {x_in, w_in, b}, [x, w, x_in, w_in, b, xm](const Tensor<T>& grad_y) {
    // y = x·wᵀ + b, so grad_x = grad_y·w, grad_w = grad_yᵀ·x, grad_b = column sums of grad_y.
    // The first contribution to a gradient is the GEMM's beta = 0 (no zero fill), later ones beta = 1.
    const detail::MatView<T> g{grad_y.data(), xm.rows, w.size(0), w.size(0), 1};
    if (x_in.requires_grad()) {
      const GradSlot<T> gx = x_in.grad_slot();
      detail::gemm(g, detail::mat_view(w), gx.data(), gx.accumulate);
    }
    if (w_in.requires_grad()) {
      const GradSlot<T> gw = w_in.grad_slot();
      detail::gemm(g.transposed(), xm, gw.data(), gw.accumulate);
    }
    if (b.defined() && b.requires_grad()) {
      const GradSlot<T> gb = b.grad_slot();
      detail::column_sums(grad_y.data(), xm.rows, w.size(0), gb.data(), gb.accumulate);
    }
  });
}

}  // namespace ops

using ops::linear;

}  // namespace foundry
