// ops/elementwise.hpp: pointwise arithmetic with NumPy broadcasting (add, sub, mul, div, neg, pow,
// exp, log, sqrt, rsqrt, abs), selection (clamp, where, masked_fill), their in-place forms for
// optimizer updates (add_, mul_, ...), and the operators a + b, 2 * x, -x. Activations (relu, gelu,
// sigmoid, tanh, erf) live in activation.hpp, comparisons returning Tensor<bool> in compare.hpp.
#pragma once

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "foundry/autograd/engine.hpp"
#include "foundry/ops/kernels.hpp"

namespace foundry {
namespace ops {

namespace detail {

// A number on the other side of a tensor: x * 2, 0.5 * x, x / 3.0f. It is converted to the tensor's
// element type first, as PyTorch does with Python numbers.
template <class S>
concept Scalar = std::is_arithmetic_v<S>;

inline constexpr Index kPointwiseBlock = 256;  // elements per Eigen block: a dozen float or double temporaries stay in L1

template <class T>
Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> seg(const Tensor<T>& t, Index begin, Index count) {
  return Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(t.data() + begin, count);
}

// Calls fn(begin, count) over [0, n) in blocks of at most kPointwiseBlock; each thread takes one run of blocks.
template <class F>
void for_blocks(Index n, F&& fn) {
  parallel_for(n, kPointwiseGrain, [&](Index begin, Index end) {
    for (Index b = begin; b < end; b += kPointwiseBlock) fn(b, std::min(kPointwiseBlock, end - b));
  });
}

// The one loop behind every op here: for each position i of `shape`, out[i] = f(in[i]...) (or, with
// Update, out[i] = f(out[i], in[i]...)), each input read through its broadcast strides. When every
// input has exactly `shape` and is contiguous the loop is flat; otherwise rows of the last axis are
// spread over threads, with a unit-stride inner loop whenever all inputs allow it. Both vectorise.
template <bool Update = false, class Out, class F, class... In>
void broadcast_apply(Out* out, const Shape& shape, F&& f, const Tensor<In>&... in) {
  const Index n = shape.numel();
  if (n == 0) return;
  const auto put = [&f, out](Index i, const auto&... v) {
    if constexpr (Update) out[i] = static_cast<Out>(f(out[i], v...));
    else out[i] = static_cast<Out>(f(v...));
  };
  if (((in.shape() == shape && in.is_contiguous()) && ...)) {
    const std::tuple<const In*...> p{in.data()...};
    parallel_for(n, kPointwiseGrain, [&](Index begin, Index end) {
      std::apply([&](const In*... q) { for (Index i = begin; i < end; ++i) put(i, q[i]...); }, p);
    });
    return;
  }
  constexpr std::size_t K = sizeof...(In);
  const int rank = shape.size();  // >= 1 here: rank-0 inputs of a rank-0 shape take the flat loop
  const std::array<Strides, K> st{broadcast_strides(in, shape)...};
  const std::array<Index, K> start{in.offset()...};
  const std::tuple<const In*...> base{in.storage()->data()...};
  const Index inner = shape[rank - 1];
  bool unit = true;
  for (const Strides& s : st) unit = unit && s[rank - 1] == 1;
  parallel_for(n / inner, std::max<Index>(1, kPointwiseGrain / inner), [&](Index r0, Index r1) {
    Shape idx = Shape::filled(rank, 0);
    std::array<Index, K> off = start;
    Index rem = r0;
    for (int ax = rank - 2; ax >= 0; --ax) {  // unravel the first row of this chunk
      idx[ax] = rem % shape[ax];
      rem /= shape[ax];
      for (std::size_t k = 0; k < K; ++k) off[k] += idx[ax] * st[k][ax];
    }
    for (Index r = r0; r < r1; ++r) {
      [&]<std::size_t... k>(std::index_sequence<k...>) {
        const Index o = r * inner;
        if (unit) {
          const std::tuple<const In*...> row{std::get<k>(base) + off[k]...};
          for (Index j = 0; j < inner; ++j) put(o + j, std::get<k>(row)[j]...);
        } else {
          for (Index j = 0; j < inner; ++j) put(o + j, std::get<k>(base)[off[k] + j * st[k][rank - 1]]...);
        }
      }(std::make_index_sequence<K>{});
      for (int ax = rank - 2; ax >= 0; --ax) {  // odometer step to the next row
        for (std::size_t k = 0; k < K; ++k) off[k] += st[k][ax];
        if (++idx[ax] < shape[ax]) break;
        for (std::size_t k = 0; k < K; ++k) off[k] -= st[k][ax] * shape[ax];
        idx[ax] = 0;
      }
    }
  });
}

// y = f(in...) into a new contiguous tensor of `shape`.
template <class Out, class F, class... In>
Tensor<Out> map_broadcast(const Shape& shape, F&& f, const Tensor<In>&... in) {
  Tensor<Out> y = Tensor<Out>::empty(shape);
  broadcast_apply(y.data(), shape, f, in...);
  return y;
}

// grad_x (+)= f(in...) evaluated over `shape` and summed down to x's shape (x was broadcast into it).
// When x has the full shape this is one fused pass into x's gradient buffer, with no temporary.
template <class T, class F, class... In>
void accumulate_broadcast(const Tensor<T>& x, const Shape& shape, F&& f, const Tensor<In>&... in) {
  if (!x.requires_grad()) return;
  if (x.shape() == shape) {
    const GradSlot<T> slot = x.grad_slot();
    if (slot.accumulate) broadcast_apply<true>(slot.data(), shape, [&f](T acc, const auto&... v) { return acc + f(v...); }, in...);
    else broadcast_apply(slot.data(), shape, f, in...);
    return;
  }
  const Tensor<T> reduced = sum_to_shape(map_broadcast<T>(shape, f, in...), x.shape());
  write_grad(x.grad_slot(), reduced.data(), reduced.numel());
}

// Eigen's vectorised exp and log (within 1 ulp) go wrong at the subnormal edge: exp clamps its
// argument near the underflow threshold (exp(-100.f) comes out 3e-39) and log clamps subnormal
// inputs to the smallest normal number. The few inputs there are redone with std::exp / std::log.
template <class X, class Y>
void exp_into(const X& x, Y&& y) {
  using T = typename X::Scalar;
  constexpr T floor = std::is_same_v<T, float> ? T(-87) : T(-708);
  y = x.exp();
  if (x.minCoeff() < floor)  // minCoeff vectorises; any() over a comparison does not
    for (Index i = 0; i < x.size(); ++i)
      if (x[i] < floor) y[i] = std::exp(x[i]);
}
template <class X, class Y>
void log_into(const X& x, Y&& y) {
  using T = typename X::Scalar;
  y = x.log();
  if (x.minCoeff() < std::numeric_limits<T>::min())
    for (Index i = 0; i < x.size(); ++i)
      if (x[i] > 0 && x[i] < std::numeric_limits<T>::min()) y[i] = std::log(x[i]);
}

template <class T, class U>
Shape broadcast_shape(const char* op, const Tensor<T>& a, const Tensor<U>& b) {
  return a.shape() == b.shape() ? a.shape() : foundry::detail::broadcast_shapes(op, a.shape(), b.shape());
}

template <class T>
constexpr void expect_numeric() {
  static_assert(!std::is_same_v<T, bool>, "arithmetic on Tensor<bool>: use logical_and/or/not (compare.hpp)");
}
template <class T>
constexpr void expect_floating() {
  static_assert(std::is_floating_point_v<T>, "this op needs a float or double tensor");
}

}  // namespace detail

// ---- arithmetic ---------------------------------------------------------------------------------
// Binary ops broadcast as NumPy does: [3, 1, 4] with [2, 4] -> [3, 2, 4]. The gradient of an operand
// that was broadcast is summed over the axes it was repeated along.

template <class T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
  detail::expect_numeric<T>();
  const Shape shape = detail::broadcast_shape("add", a, b);
  Tensor<T> y = detail::map_broadcast<T>(shape, [](T u, T v) { return u + v; }, a, b);
  return autograd::record<T>("add", y, {a, b}, [a = a.grad_target(), b = b.grad_target()](const Tensor<T>& grad_y) {
    detail::accumulate_grad(a, grad_y);
    detail::accumulate_grad(b, grad_y);
  });
}

template <class T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) {
  detail::expect_numeric<T>();
  const Shape shape = detail::broadcast_shape("sub", a, b);
  Tensor<T> y = detail::map_broadcast<T>(shape, [](T u, T v) { return u - v; }, a, b);
  return autograd::record<T>("sub", y, {a, b}, [a = a.grad_target(), b = b.grad_target()](const Tensor<T>& grad_y) {
    detail::accumulate_grad(a, grad_y);
    detail::accumulate_broadcast(b, grad_y.shape(), [](T g) { return -g; }, grad_y);
  });
}

template <class T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
  detail::expect_numeric<T>();
  const Shape shape = detail::broadcast_shape("mul", a, b);
  Tensor<T> y = detail::map_broadcast<T>(shape, [](T u, T v) { return u * v; }, a, b);
  return autograd::record<T>("mul", y, {a, b}, [a, b](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(a, grad_y.shape(), [](T g, T v) { return g * v; }, grad_y, b);
    detail::accumulate_broadcast(b, grad_y.shape(), [](T g, T u) { return g * u; }, grad_y, a);
  });
}

// True division (floating point only).
template <class T>
Tensor<T> div(const Tensor<T>& a, const Tensor<T>& b) {
  detail::expect_floating<T>();
  const Shape shape = detail::broadcast_shape("div", a, b);
  Tensor<T> y = detail::map_broadcast<T>(shape, [](T u, T v) { return u / v; }, a, b);
  return autograd::record<T>("div", y, {a, b}, [a, b](const Tensor<T>& grad_y) {
    // y = a / b: grad_a = g / b, grad_b = -g a / b² (as PyTorch, from a and b rather than y).
    detail::accumulate_broadcast(a, grad_y.shape(), [](T g, T v) { return g / v; }, grad_y, b);
    detail::accumulate_broadcast(b, grad_y.shape(), [](T g, T u, T v) { return -g * u / (v * v); }, grad_y, a, b);
  });
}

// Tensor-scalar forms: the scalar is a constant, so only the tensor gets a gradient.
template <class T, detail::Scalar S>
Tensor<T> add(const Tensor<T>& a, S s) {
  detail::expect_numeric<T>();
  const T c = static_cast<T>(s);
  Tensor<T> y = detail::map_broadcast<T>(a.shape(), [c](T u) { return u + c; }, a);
  return autograd::record<T>("add", y, {a}, [a = a.grad_target()](const Tensor<T>& grad_y) { detail::accumulate_grad(a, grad_y); });
}
template <class T, detail::Scalar S>
Tensor<T> add(S s, const Tensor<T>& b) {
  return add(b, s);
}

template <class T, detail::Scalar S>
Tensor<T> sub(const Tensor<T>& a, S s) {
  detail::expect_numeric<T>();
  const T c = static_cast<T>(s);
  Tensor<T> y = detail::map_broadcast<T>(a.shape(), [c](T u) { return u - c; }, a);
  return autograd::record<T>("sub", y, {a}, [a = a.grad_target()](const Tensor<T>& grad_y) { detail::accumulate_grad(a, grad_y); });
}
template <class T, detail::Scalar S>
Tensor<T> sub(S s, const Tensor<T>& b) {
  detail::expect_numeric<T>();
  const T c = static_cast<T>(s);
  Tensor<T> y = detail::map_broadcast<T>(b.shape(), [c](T v) { return c - v; }, b);
  return autograd::record<T>("sub", y, {b}, [b = b.grad_target()](const Tensor<T>& grad_y) {
    const GradSlot<T> gb = b.grad_slot();
    detail::assign_or_add(gb.buffer.array(), -grad_y.array(), gb.accumulate);
  });
}

template <class T, detail::Scalar S>
Tensor<T> mul(const Tensor<T>& a, S s) {
  detail::expect_numeric<T>();
  const T c = static_cast<T>(s);
  Tensor<T> y = detail::map_broadcast<T>(a.shape(), [c](T u) { return u * c; }, a);
  return autograd::record<T>("mul", y, {a}, [a = a.grad_target(), c](const Tensor<T>& grad_y) {
    const GradSlot<T> ga = a.grad_slot();
    detail::assign_or_add(ga.buffer.array(), c * grad_y.array(), ga.accumulate);
  });
}
template <class T, detail::Scalar S>
Tensor<T> mul(S s, const Tensor<T>& b) {
  return mul(b, s);
}

template <class T, detail::Scalar S>
Tensor<T> div(const Tensor<T>& a, S s) {
  detail::expect_floating<T>();
  const T c = static_cast<T>(s);
  Tensor<T> y = detail::map_broadcast<T>(a.shape(), [c](T u) { return u / c; }, a);
  return autograd::record<T>("div", y, {a}, [a = a.grad_target(), c](const Tensor<T>& grad_y) {
    const GradSlot<T> ga = a.grad_slot();
    detail::assign_or_add(ga.buffer.array(), grad_y.array() / c, ga.accumulate);
  });
}
template <class T, detail::Scalar S>
Tensor<T> div(S s, const Tensor<T>& b) {
  detail::expect_floating<T>();
  const T c = static_cast<T>(s);
  Tensor<T> y = detail::map_broadcast<T>(b.shape(), [c](T v) { return c / v; }, b);
  return autograd::record<T>("div", y, {b}, [b, c](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(b, grad_y.shape(), [c](T g, T v) { return -g * c / (v * v); }, grad_y, b);
  });
}

template <class T>
Tensor<T> neg(const Tensor<T>& x) {
  detail::expect_numeric<T>();
  Tensor<T> y = detail::map_broadcast<T>(x.shape(), [](T u) { return -u; }, x);
  return autograd::record<T>("neg", y, {x}, [x = x.grad_target()](const Tensor<T>& grad_y) {
    const GradSlot<T> gx = x.grad_slot();
    detail::assign_or_add(gx.buffer.array(), -grad_y.array(), gx.accumulate);
  });
}

// ---- powers, exponentials, magnitudes ---------------------------------------------------------------

namespace detail {

// x^p with the cases PyTorch also special-cases computed exactly: 0^2 = 0, x^0 = 1 (even 0^0 and nan^0).
template <class T>
Tensor<T> pow_values(const Tensor<T>& x, double p) {
  const Shape& s = x.shape();
  if (p == 0) return Tensor<T>::ones(s);
  if (p == 1) return x.clone_data();
  if (p == 2) return map_broadcast<T>(s, [](T v) { return v * v; }, x);
  if (p == 3) return map_broadcast<T>(s, [](T v) { return v * v * v; }, x);
  if (p == 0.5) return map_broadcast<T>(s, [](T v) { return std::sqrt(v); }, x);
  if (p == -0.5) return map_broadcast<T>(s, [](T v) { return T(1) / std::sqrt(v); }, x);
  if (p == -1) return map_broadcast<T>(s, [](T v) { return T(1) / v; }, x);
  if (p == -2) return map_broadcast<T>(s, [](T v) { return T(1) / (v * v); }, x);
  const T e = static_cast<T>(p);
  return map_broadcast<T>(s, [e](T v) { return std::pow(v, e); }, x);
}

}  // namespace detail

// x^p for a constant exponent. grad = p·x^(p-1)·g, and exactly 0 for p = 0 (PyTorch's convention).
template <class T>
Tensor<T> pow(const Tensor<T>& x, double exponent) {
  detail::expect_floating<T>();
  Tensor<T> y = detail::pow_values(x, exponent);
  return autograd::record<T>("pow", y, {x}, [x, exponent](const Tensor<T>& grad_y) {
    const T p = static_cast<T>(exponent), q = static_cast<T>(exponent - 1);
    if (exponent == 0) {
      x.grad_ref();  // a defined zero gradient, as PyTorch gives
      return;
    }
    if (exponent == 1) detail::accumulate_grad(x, grad_y);
    else if (exponent == 2) detail::accumulate_broadcast(x, grad_y.shape(), [](T g, T v) { return 2 * v * g; }, grad_y, x);
    else detail::accumulate_broadcast(x, grad_y.shape(), [p, q](T g, T v) { return p * std::pow(v, q) * g; }, grad_y, x);
  });
}

// Eigen's vectorised exp and log (within 1 ulp in float) over contiguous blocks.
template <class T>
Tensor<T> exp(const Tensor<T>& x) {
  detail::expect_floating<T>();
  const Tensor<T> xc = x.contiguous_data();
  Tensor<T> y = Tensor<T>::empty(x.shape());
  detail::for_blocks(y.numel(), [&](Index b, Index m) { detail::exp_into(detail::seg(xc, b, m), detail::seg(y, b, m)); });
  return autograd::record<T>("exp", y, {x}, [x, y = y.detach()](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, y.shape(), [](T g, T e) { return g * e; }, grad_y, y);  // d eˣ = eˣ dx
  }, true);
}

template <class T>
Tensor<T> log(const Tensor<T>& x) {
  detail::expect_floating<T>();
  const Tensor<T> xc = x.contiguous_data();
  Tensor<T> y = Tensor<T>::empty(x.shape());
  detail::for_blocks(y.numel(), [&](Index b, Index m) { detail::log_into(detail::seg(xc, b, m), detail::seg(y, b, m)); });
  return autograd::record<T>("log", y, {x}, [x, xc](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, xc.shape(), [](T g, T v) { return g / v; }, grad_y, xc);
  });
}

// std::sqrt rather than Eigen's: with EIGEN_FAST_MATH Eigen's float sqrt is an rsqrt estimate, a few ulp off.
template <class T>
Tensor<T> sqrt(const Tensor<T>& x) {
  detail::expect_floating<T>();
  Tensor<T> y = detail::map_broadcast<T>(x.shape(), [](T v) { return std::sqrt(v); }, x);
  return autograd::record<T>("sqrt", y, {x}, [x, y = y.detach()](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, y.shape(), [](T g, T r) { return g / (2 * r); }, grad_y, y);
  }, true);
}

// 1/sqrt(x); grad = -y³/2 · g.
template <class T>
Tensor<T> rsqrt(const Tensor<T>& x) {
  detail::expect_floating<T>();
  Tensor<T> y = detail::map_broadcast<T>(x.shape(), [](T v) { return T(1) / std::sqrt(v); }, x);
  return autograd::record<T>("rsqrt", y, {x}, [x, y = y.detach()](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, y.shape(), [](T g, T r) { return T(-0.5) * r * r * r * g; }, grad_y, y);
  }, true);
}

// |x|; grad = sign(x)·g with sign(0) = 0, as PyTorch.
template <class T>
Tensor<T> abs(const Tensor<T>& x) {
  detail::expect_numeric<T>();
  Tensor<T> y = detail::map_broadcast<T>(x.shape(), [](T v) { return v < T(0) ? T(-v) : v; }, x);
  return autograd::record<T>("abs", y, {x}, [x](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, grad_y.shape(), [](T g, T v) { return v > T(0) ? g : v < T(0) ? T(-g) : T(0); }, grad_y, x);
  });
}

// ---- selection ----------------------------------------------------------------------------------

namespace detail {

// Bounds of clamp as T; a missing bound is the infinity on its side.
template <class T>
std::pair<T, T> clamp_bounds(const char* op, std::optional<double> min, std::optional<double> max) {
  if (!min && !max) fail<ValueError>(op, ": at least one of min and max must be given");
  constexpr T lowest = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
  constexpr T highest = std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  return {min ? static_cast<T>(*min) : lowest, max ? static_cast<T>(*max) : highest};
}

// min(max(x, lo), hi) written so that NaN passes through and lo > hi gives hi everywhere (torch.clamp).
template <class T>
T clamp_value(T v, T lo, T hi) {
  const T m = v < lo ? lo : v;
  return hi < m ? hi : m;
}

}  // namespace detail

// Limits x to [min, max]; either bound may be std::nullopt. The gradient passes where
// min <= x <= max (both ends included, as PyTorch) and is 0 elsewhere.
template <class T>
Tensor<T> clamp(const Tensor<T>& x, std::optional<double> min, std::optional<double> max) {
  detail::expect_numeric<T>();
  const auto [lo, hi] = detail::clamp_bounds<T>("clamp", min, max);
  Tensor<T> y = detail::map_broadcast<T>(x.shape(), [lo, hi](T v) { return detail::clamp_value(v, lo, hi); }, x);
  return autograd::record<T>("clamp", y, {x}, [x, lo, hi](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, grad_y.shape(), [lo, hi](T g, T v) { return lo <= v && v <= hi ? g : T(0); }, grad_y, x);
  });
}
template <class T>
Tensor<T> clamp_min(const Tensor<T>& x, double min) {
  return clamp(x, min, std::nullopt);
}
template <class T>
Tensor<T> clamp_max(const Tensor<T>& x, double max) {
  return clamp(x, std::nullopt, max);
}

// cond ? a : b elementwise, all three broadcast together: where(mask [B, 1, T], scores [B, T, T], fill []).
template <class T>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, const Tensor<T>& b) {
  const Shape shape = foundry::detail::broadcast_shapes("where", cond.shape(), detail::broadcast_shape("where", a, b));
  Tensor<T> y = detail::map_broadcast<T>(shape, [](bool c, T u, T v) { return c ? u : v; }, cond, a, b);
  return autograd::record<T>("where", y, {a, b}, [cond, a, b](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(a, grad_y.shape(), [](T g, bool c) { return c ? g : T(0); }, grad_y, cond);
    detail::accumulate_broadcast(b, grad_y.shape(), [](T g, bool c) { return c ? T(0) : g; }, grad_y, cond);
  });
}
template <class T, detail::Scalar S>
Tensor<T> where(const Tensor<bool>& cond, const Tensor<T>& a, S b) {
  return where(cond, a, Tensor<T>::scalar(static_cast<T>(b)));
}
template <class T, detail::Scalar S>
Tensor<T> where(const Tensor<bool>& cond, S a, const Tensor<T>& b) {
  return where(cond, Tensor<T>::scalar(static_cast<T>(a)), b);
}

// x with `value` where mask is true; mask broadcasts against x (an attention mask [B, 1, 1, T] over
// scores [B, H, T, T]). The gradient flows only where mask is false.
template <class T, detail::Scalar S>
Tensor<T> masked_fill(const Tensor<T>& x, const Tensor<bool>& mask, S value) {
  const Shape shape = detail::broadcast_shape("masked_fill", x, mask);
  const T fill = static_cast<T>(value);
  Tensor<T> y = detail::map_broadcast<T>(shape, [fill](T v, bool m) { return m ? fill : v; }, x, mask);
  return autograd::record<T>("masked_fill", y, {x}, [x, mask](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, grad_y.shape(), [](T g, bool m) { return m ? T(0) : g; }, grad_y, mask);
  });
}

// ---- in place -----------------------------------------------------------------------------------
// x.op_(other) writes into x's storage (other is broadcast to x's shape) and bumps the storage
// version, so a node that saved x refuses to run backward on the changed values. Autograd cannot
// record these writes: with grad mode on they refuse tensors that require grad. Optimizers run them
// under NoGradGuard.

namespace detail {

template <class T>
void expect_writable(const char* op, const Tensor<T>& x, const Tensor<T>* other = nullptr) {
  if (autograd::is_grad_enabled()) {
    if (x.requires_grad())
      fail<AutogradError>(op, ": in-place operation on a tensor that requires grad; autograd cannot record it. ",
                          "Run it under NoGradGuard (as optimizer updates do) or use the out-of-place form");
    if (other && other->requires_grad())
      fail<AutogradError>(op, ": in-place operation with an operand that requires grad; autograd cannot record it. ",
                          "Use the out-of-place form");
  }
  for (int i = 0; i < x.dim(); ++i)
    if (x.strides()[i] == 0 && x.shape()[i] > 1)
      fail<ValueError>(op, ": cannot write in place into an expanded tensor (shape ", x.shape(), ", strides ",
                       x.strides(), "); clone() it first");
}

// `other` as read by an in-place update of x: broadcastable to x's shape, and copied first when it
// views x's storage through another layout (x.add_(x.t())), so no element is read after it was written.
template <class T, class U>
Tensor<U> in_place_operand(const char* op, const char* name, const Tensor<T>& x, const Tensor<U>& other) {
  if (other.shape() != x.shape() && foundry::detail::broadcast_shapes(op, x.shape(), other.shape()) != x.shape())
    fail<ShapeError>(op, ": ", name, " of shape ", other.shape(), " cannot be broadcast to the shape ", x.shape(),
                     " of the tensor written in place");
  if constexpr (std::is_same_v<T, U>) {
    const bool same_layout = other.shape() == x.shape() && other.strides() == x.strides() && other.offset() == x.offset();
    if (other.shares_storage_with(x) && !same_layout) return other.clone_data();
  }
  return other;
}

// x[i] = f(x[i], other[i]...) for every element of x, any non-overlapping layout.
template <class T, class F, class... In>
Tensor<T> update_in_place(const Tensor<T>& x, F&& f, const Tensor<In>&... other) {
  if (x.is_contiguous()) {
    broadcast_apply<true>(x.data(), x.shape(), f, other...);
  } else {  // compute contiguously, then scatter through x's strides
    const Tensor<T> y = map_broadcast<T>(x.shape(), f, x, other...);
    T* base = x.storage()->data();
    const T* src = y.data();
    foundry::detail::for_each_offset(x.shape(), x.strides(), x.offset(), [&](Index i, Index off) { base[off] = src[i]; });
  }
  x.storage()->bump_version();
  return x;
}

}  // namespace detail

// x += alpha * other (PyTorch's add_(other, alpha=...)); optimizers: p.add_(grad, -lr).
template <class T>
Tensor<T> add_(const Tensor<T>& x, const Tensor<T>& other, double alpha = 1) {
  detail::expect_numeric<T>();
  detail::expect_writable("add_", x, &other);
  const Tensor<T> o = detail::in_place_operand("add_", "other", x, other);
  if (alpha == 1) return detail::update_in_place(x, [](T v, T u) { return v + u; }, o);
  const T a = static_cast<T>(alpha);
  return detail::update_in_place(x, [a](T v, T u) { return v + a * u; }, o);
}
template <class T, detail::Scalar S>
Tensor<T> add_(const Tensor<T>& x, S s) {
  detail::expect_numeric<T>();
  detail::expect_writable("add_", x);
  const T c = static_cast<T>(s);
  return detail::update_in_place(x, [c](T v) { return v + c; });
}

template <class T>
Tensor<T> sub_(const Tensor<T>& x, const Tensor<T>& other, double alpha = 1) {
  detail::expect_numeric<T>();
  detail::expect_writable("sub_", x, &other);
  const Tensor<T> o = detail::in_place_operand("sub_", "other", x, other);
  const T a = static_cast<T>(alpha);
  return detail::update_in_place(x, [a](T v, T u) { return v - a * u; }, o);
}
template <class T, detail::Scalar S>
Tensor<T> sub_(const Tensor<T>& x, S s) {
  detail::expect_numeric<T>();
  detail::expect_writable("sub_", x);
  const T c = static_cast<T>(s);
  return detail::update_in_place(x, [c](T v) { return v - c; });
}

template <class T>
Tensor<T> mul_(const Tensor<T>& x, const Tensor<T>& other) {
  detail::expect_numeric<T>();
  detail::expect_writable("mul_", x, &other);
  const Tensor<T> o = detail::in_place_operand("mul_", "other", x, other);
  return detail::update_in_place(x, [](T v, T u) { return v * u; }, o);
}
template <class T, detail::Scalar S>
Tensor<T> mul_(const Tensor<T>& x, S s) {
  detail::expect_numeric<T>();
  detail::expect_writable("mul_", x);
  const T c = static_cast<T>(s);
  return detail::update_in_place(x, [c](T v) { return v * c; });
}

template <class T>
Tensor<T> div_(const Tensor<T>& x, const Tensor<T>& other) {
  detail::expect_floating<T>();
  detail::expect_writable("div_", x, &other);
  const Tensor<T> o = detail::in_place_operand("div_", "other", x, other);
  return detail::update_in_place(x, [](T v, T u) { return v / u; }, o);
}
template <class T, detail::Scalar S>
Tensor<T> div_(const Tensor<T>& x, S s) {
  detail::expect_floating<T>();
  detail::expect_writable("div_", x);
  const T c = static_cast<T>(s);
  return detail::update_in_place(x, [c](T v) { return v / c; });
}

template <class T, detail::Scalar S>
Tensor<T> masked_fill_(const Tensor<T>& x, const Tensor<bool>& mask, S value) {
  detail::expect_writable("masked_fill_", x);
  const Tensor<bool> m = detail::in_place_operand("masked_fill_", "mask", x, mask);
  const T fill = static_cast<T>(value);
  return detail::update_in_place(x, [fill](T v, bool b) { return b ? fill : v; }, m);
}

template <class T>
Tensor<T> clamp_(const Tensor<T>& x, std::optional<double> min, std::optional<double> max) {
  detail::expect_numeric<T>();
  detail::expect_writable("clamp_", x);
  const auto [lo, hi] = detail::clamp_bounds<T>("clamp_", min, max);
  return detail::update_in_place(x, [lo, hi](T v) { return detail::clamp_value(v, lo, hi); });
}

}  // namespace ops

using ops::abs;
using ops::add;
using ops::add_;
using ops::clamp;
using ops::clamp_;
using ops::clamp_max;
using ops::clamp_min;
using ops::div;
using ops::div_;
using ops::exp;
using ops::log;
using ops::masked_fill;
using ops::masked_fill_;
using ops::mul;
using ops::mul_;
using ops::neg;
using ops::pow;
using ops::rsqrt;
using ops::sqrt;
using ops::sub;
using ops::sub_;
using ops::where;

// Operators: a + b broadcasts like add(a, b); a number on either side is converted to T, so
// `x * 2.0`, `2 * x` and `1 - x` work for Tensor<float> and Tensor<double> alike.
template <class T>
Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) { return ops::add(a, b); }
template <class T, ops::detail::Scalar S>
Tensor<T> operator+(const Tensor<T>& a, S b) { return ops::add(a, b); }
template <class T, ops::detail::Scalar S>
Tensor<T> operator+(S a, const Tensor<T>& b) { return ops::add(b, a); }

template <class T>
Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) { return ops::sub(a, b); }
template <class T, ops::detail::Scalar S>
Tensor<T> operator-(const Tensor<T>& a, S b) { return ops::sub(a, b); }
template <class T, ops::detail::Scalar S>
Tensor<T> operator-(S a, const Tensor<T>& b) { return ops::sub(a, b); }
template <class T>
Tensor<T> operator-(const Tensor<T>& a) { return ops::neg(a); }

template <class T>
Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) { return ops::mul(a, b); }
template <class T, ops::detail::Scalar S>
Tensor<T> operator*(const Tensor<T>& a, S b) { return ops::mul(a, b); }
template <class T, ops::detail::Scalar S>
Tensor<T> operator*(S a, const Tensor<T>& b) { return ops::mul(b, a); }

template <class T>
Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) { return ops::div(a, b); }
template <class T, ops::detail::Scalar S>
Tensor<T> operator/(const Tensor<T>& a, S b) { return ops::div(a, b); }
template <class T, ops::detail::Scalar S>
Tensor<T> operator/(S a, const Tensor<T>& b) { return ops::div(a, b); }

}  // namespace foundry
