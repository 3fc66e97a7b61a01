// ops/matmul.hpp: matrix products through Eigen's GEMM. A strided 2-D view whose rows or columns
// are unit-stride is mapped as a row- or column-major Eigen matrix, so transposed operands (x.t(),
// k.transpose(-2, -1)) reach the GEMM kernel without a copy. matmul follows torch.matmul: 1-D, 2-D
// and batched N-D operands with broadcast batch axes. linear (x·Wᵀ + b) is in linear.hpp.
#pragma once

#include "foundry/ops/sgemm.hpp"
#include "foundry/ops/view.hpp"

namespace foundry {
namespace ops {
namespace detail {

// A matrix inside some storage: element (i, j) is at data[i * rs + j * cs].
template <class T>
struct MatView {
  T* data;
  Index rows, cols, rs, cs;
  MatView transposed() const { return {data, cols, rows, cs, rs}; }
  // A single row or column may carry any stride on its unit axis: give it the natural one.
  MatView normalized() const {
    MatView v = *this;
    if (v.rows <= 1) v.rs = v.cs == 1 ? std::max<Index>(v.cols, 1) : 1;  // row-major, or col-major with ld cs
    if (v.cols <= 1) v.cs = v.rs == 1 ? std::max<Index>(v.rows, 1) : 1;
    return v;
  }
  bool row_major() const {
    const MatView v = normalized();
    return v.cs == 1 && v.rs >= v.cols;
  }
  bool col_major() const {
    const MatView v = normalized();
    return v.rs == 1 && v.cs >= v.rows;
  }
  bool gemm_ready() const { return row_major() || col_major(); }  // Eigen maps it without copying
};

template <class T>
MatView<T> mat_view(const Tensor<T>& m) {  // m: 2-D
  return {m.data(), m.shape()[0], m.shape()[1], m.strides()[0], m.strides()[1]};
}

template <class T, int Order>
using StridedMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>, Eigen::Unaligned, Eigen::OuterStride<>>;

// Calls fn with an Eigen map of v: row-major when its columns are unit-stride, else column-major.
template <class T, class F>
void with_map(const MatView<T>& view, F&& fn) {
  const MatView<T> v = view.normalized();
  if (v.row_major())
    fn(StridedMap<T, Eigen::RowMajor>(v.data, v.rows, v.cols, Eigen::OuterStride<>(std::max<Index>(v.rs, 1))));
  else
    fn(StridedMap<T, Eigen::ColMajor>(v.data, v.rows, v.cols, Eigen::OuterStride<>(std::max<Index>(v.cs, 1))));
}

// One thread's product: c (+)= a·b through foundry's AVX2 kernel (float, where the CPU has it) or
// Eigen's GEMM (single-threaded inside a parallel region).
// bias (optional): b.cols values added to every row of the product, after it, as in linear.
template <class T>
void gemm_block(const MatView<T>& a, const MatView<T>& b, T* c, bool accumulate, Index ldc, const T* bias) {
#ifdef FOUNDRY_SGEMM_X86
  if constexpr (std::is_same_v<T, float>) {
    if (own_sgemm_enabled()) {
      sgemm::gemm(a.rows, b.cols, a.cols, a.data, a.rs, a.cs, b.data, b.rs, b.cs, c, ldc, accumulate, bias);
      return;
    }
  }
#endif
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, Eigen::Unaligned, Eigen::OuterStride<>> out(
      c, a.rows, b.cols, Eigen::OuterStride<>(ldc));
  if (a.cols == 0) {
    if (!accumulate) out.setZero();
  } else {
    with_map(a, [&](const auto& ma) {
      with_map(b, [&](const auto& mb) {
        if (accumulate) out.noalias() += ma * mb;
        else out.noalias() = ma * mb;
      });
    });
  }
  if (bias) out.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, b.cols);
}

inline constexpr double kParallelGemmFlops = 1 << 22;  // below, one thread: a fork costs tens of µs

// c (+)= a·b with c a row-major [a.rows, b.cols] block whose rows are ldc apart (ldc = 0: b.cols).
// Operands must be gemm_ready(). A large product is split into one block of c's rows (or columns,
// when c is wide and short) per thread, each an independent single-threaded GEMM: Eigen's own
// threading makes its threads wait on each other's packed panels, busy-waiting, which on two cores
// that other work shares costs more than the duplicated packing of the shared operand.
template <class T>
void gemm(const MatView<T>& a, const MatView<T>& b, T* c, bool accumulate, Index ldc = 0, const T* bias = nullptr) {
  if (ldc <= 0) ldc = std::max<Index>(b.cols, 1);
  const int threads = get_num_threads();
  const double flops = 2.0 * static_cast<double>(a.rows) * static_cast<double>(b.cols) * static_cast<double>(a.cols);
  if (threads > 1 && flops >= kParallelGemmFlops && !foundry::detail::in_parallel_region()) {
    constexpr Index kMinBlock = 32;
    if (a.rows >= b.cols && a.rows >= 2 * kMinBlock) {
      foundry::detail::parallel_for(a.rows, kMinBlock, [&](Index r0, Index r1) {
        gemm_block(MatView<T>{a.data + r0 * a.rs, r1 - r0, a.cols, a.rs, a.cs}, b, c + r0 * ldc, accumulate, ldc, bias);
      });
      return;
    }
    if (b.cols >= 2 * kMinBlock) {
      foundry::detail::parallel_for(b.cols, kMinBlock, [&](Index c0, Index c1) {
        gemm_block(a, MatView<T>{b.data + c0 * b.cs, b.rows, c1 - c0, b.rs, b.cs}, c + c0, accumulate, ldc, bias ? bias + c0 : nullptr);
      });
      return;
    }
  }
  gemm_block(a, b, c, accumulate, ldc, bias);
}

// A tensor of rank >= 2 read as a batch of matrices over a (broadcast) batch shape.
template <class T>
struct MatrixBatch {
  Tensor<T> t;  // keeps the storage alive; gemm_ready in its last two axes
  Shape batch;
  Strides batch_strides;
  MatView<T> at(Index b) const {
    Index off = t.offset();
    for (int i = batch.size() - 1; i >= 0; --i) {
      off += (b % batch[i]) * batch_strides[i];
      b /= batch[i];
    }
    const int r = t.dim();
    return {t.storage()->data() + off, t.shape()[r - 2], t.shape()[r - 1], t.strides()[r - 2], t.strides()[r - 1]};
  }
};

template <class T>
MatrixBatch<T> matrix_batch(Tensor<T> t, const Shape& batch) {
  const int r = t.dim();
  const MatView<T> m{t.data(), t.shape()[r - 2], t.shape()[r - 1], t.strides()[r - 2], t.strides()[r - 1]};
  if (!m.gemm_ready()) t = t.clone_data();
  Strides s = Shape::filled(batch.size(), 0);
  const int shift = batch.size() - (r - 2);
  for (int i = 0; i < r - 2; ++i) s[i + shift] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return {t, batch, s};
}

// out[b] (+)= a[b]·b[b] for every batch index; out is contiguous [batch..., M, N].
template <class T>
void batched_gemm(const MatrixBatch<T>& a, const MatrixBatch<T>& b, T* out, Index batch, Index m, Index n, bool accumulate) {
  const int threads = get_num_threads();
  const bool split_batch = batch >= 2 && batch >= threads && !foundry::detail::in_parallel_region();
  // Many small products (attention heads) parallelise over the batch; big ones inside GEMM.
  foundry::detail::parallel_for(batch, split_batch ? 1 : batch, [&](Index b0, Index b1) {
    for (Index i = b0; i < b1; ++i) gemm(a.at(i), b.at(i), out + i * m * n, accumulate);
  });
}

// Rows of a [..., M, K] tensor with unit column stride that merge into one [rows, K] matrix view.
template <class T>
bool foldable_rows(const Tensor<T>& x) {
  if (x.stride(-1) != 1 && x.size(-1) > 1) return false;
  for (int i = x.dim() - 2; i > 0; --i)
    if (x.shape()[i - 1] > 1 && x.strides()[i - 1] != x.strides()[i] * x.shape()[i]) return false;
  return true;
}

template <class T>
MatView<T> folded_rows(const Tensor<T>& x) {
  const Index k = x.size(-1);
  const Index rows = k == 0 ? 0 : x.numel() / k;
  return {x.data(), rows, k, x.dim() >= 2 ? x.stride(-2) : k, 1};
}

}  // namespace detail

// torch.matmul: [K]·[K] -> [], [M, K]·[K] -> [M], [K]·[K, N] -> [N], [..., M, K]·[..., K, N] -> [..., M, N]
// with the batch axes broadcast.
template <class T>
Tensor<T> matmul(const Tensor<T>& a_in, const Tensor<T>& b_in) {
  if (a_in.dim() == 0 || b_in.dim() == 0)
    foundry::detail::fail<ShapeError>("matmul: both operands need at least 1 dimension, got ", a_in.shape(), " and ", b_in.shape());
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  const Tensor<T> a = a_vec ? a_in.as_strided({1, a_in.size(0)}, {0, a_in.stride(0)}, a_in.offset()) : a_in;
  const Tensor<T> b = b_vec ? b_in.as_strided({b_in.size(0), 1}, {b_in.stride(0), 0}, b_in.offset()) : b_in;
  const Index m = a.size(-2), k = a.size(-1), n = b.size(-1);
  if (b.size(-2) != k)
    foundry::detail::fail<ShapeError>("matmul: cannot multiply ", a_in.shape(), " by ", b_in.shape(), " (inner extents ", k,
                                      " and ", b.size(-2), " differ)");
  Shape a_batch(std::span<const Index>(a.shape().begin(), a.shape().end() - 2));
  Shape b_batch(std::span<const Index>(b.shape().begin(), b.shape().end() - 2));
  const Shape batch = foundry::detail::broadcast_shapes("matmul", a_batch, b_batch);
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(m);
  if (!b_vec) out_shape.push_back(n);
  Tensor<T> y = Tensor<T>::empty(out_shape);
  const Index nb = batch.numel();
  const bool fold = b.dim() == 2 && a.dim() > 2 && detail::foldable_rows(a);  // [B, T, K]·[K, N]: one GEMM
  if (fold) {
    detail::MatView<T> bm = detail::mat_view(b);
    const Tensor<T> bc = bm.gemm_ready() ? b : b.clone_data();
    detail::gemm(detail::folded_rows(a), detail::mat_view(bc), y.data(), false);
  } else {
    detail::batched_gemm(detail::matrix_batch(a, batch), detail::matrix_batch(b, batch), y.data(), nb, m, n, false);
  }
  return autograd::record<T>("matmul", y, {a_in, b_in}, [a, b, a_in, b_in, batch, m, n, k, fold](const Tensor<T>& grad_y) {
    Shape g_shape = batch;  // grad_y seen as [batch..., M, N] even when an operand was a vector
    g_shape.push_back(m);
    g_shape.push_back(n);
    const Tensor<T> g = grad_y.as_strided(g_shape, contiguous_strides(g_shape), grad_y.offset());
    const Index nb = batch.numel();
    if (fold) {  // a: [rows, K] folded, b: [K, N]
      const detail::MatView<T> gm{g.data(), nb * m, n, n, 1};
      if (a_in.requires_grad()) {
        const Tensor<T> bc = detail::mat_view(b).gemm_ready() ? b : b.clone_data();
        const GradSlot<T> ga = a_in.grad_slot();
        detail::gemm(gm, detail::mat_view(bc).transposed(), ga.data(), ga.accumulate);  // grad_a = g·bᵀ
      }
      if (b_in.requires_grad()) {
        const GradSlot<T> gb = b_in.grad_slot();
        detail::gemm(detail::folded_rows(a).transposed(), gm, gb.data(), gb.accumulate);  // grad_b = aᵀ·g
      }
      return;
    }
    const auto gb = detail::matrix_batch(g, batch);
    auto grad_into = [&](const Tensor<T>& x_in, const Tensor<T>& x, auto&& compute) {
      // Full-batch gradient of x as [batch..., rows, cols], then summed down to x's own shape.
      Shape full = batch;
      full.push_back(x.size(-2));
      full.push_back(x.size(-1));
      Shape x_shape(std::span<const Index>(x.shape().begin(), x.shape().end()));
      if (full == x_shape) {
        const GradSlot<T> gx = x_in.grad_slot();
        compute(gx.data(), gx.accumulate);
      } else {
        Tensor<T> tmp = Tensor<T>::empty(full);
        compute(tmp.data(), false);
        const Tensor<T> reduced = detail::sum_to_shape(tmp, x_shape);
        detail::write_grad(x_in.grad_slot(), reduced.data(), reduced.numel());
      }
    };
    if (a_in.requires_grad()) {
      const auto bt = detail::matrix_batch(b.transpose(-2, -1).detach(), batch);
      grad_into(a_in, a, [&](T* dst, bool acc) { detail::batched_gemm(gb, bt, dst, nb, m, k, acc); });
    }
    if (b_in.requires_grad()) {
      const auto at = detail::matrix_batch(a.transpose(-2, -1).detach(), batch);
      grad_into(b_in, b, [&](T* dst, bool acc) { detail::batched_gemm(at, gb, dst, nb, k, n, acc); });
    }
  });
}

}  // namespace ops

using ops::matmul;

}  // namespace foundry
