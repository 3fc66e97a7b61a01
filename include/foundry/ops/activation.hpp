// ops/activation.hpp: the pointwise nonlinearities: relu, gelu (exact erf form and tanh
// approximation), sigmoid, tanh, erf. Each is written to stay accurate where the textbook formula
// cancels or overflows (large |x|, the far negative tail of gelu); arithmetic is in elementwise.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "foundry/ops/elementwise.hpp"

namespace foundry {
namespace ops {

namespace detail {

// Eigen temporaries of one block stay in L1 while the block is computed. Each materialised
// temporary is a pass, so the formulas below keep few of them and fuse the rest into one expression.
template <class S>
using Block = Eigen::Array<S, Eigen::Dynamic, 1, Eigen::ColMajor, kPointwiseBlock, 1>;

// y = fn(x) blockwise, fn taking an Eigen array of x values in S and returning one of y values. S is
// the type the math runs in: T itself where that keeps a few ulp, double where float would lose
// digits (tanh). xc is contiguous.
template <class S, class T, class F>
Tensor<T> map_blocks(const Tensor<T>& xc, F&& fn) {
  Tensor<T> y = Tensor<T>::empty(xc.shape());
  for_blocks(y.numel(), [&](Index b, Index m) {
    if constexpr (std::is_same_v<S, T>) seg(y, b, m) = fn(seg(xc, b, m));
    else seg(y, b, m) = fn(Block<S>(seg(xc, b, m).template cast<S>())).template cast<T>();
  });
  return y;
}

// grad_x (+)= fn(g, v) blockwise, g the output gradient and v the values backward needs (x or y,
// contiguous), as Eigen arrays.
template <class T, class F>
void add_grad_blocks(const Tensor<T>& x, const Tensor<T>& grad_y, const Tensor<T>& saved, F&& fn) {
  const GradSlot<T> gx = x.grad_slot();
  for_blocks(gx.buffer.numel(), [&](Index b, Index m) {
    assign_or_add(seg(gx.buffer, b, m), fn(seg(grad_y, b, m), seg(saved, b, m)), gx.accumulate);
  });
}

template <class D>
Block<typename D::Scalar> exp_block(const Eigen::ArrayBase<D>& v) {
  Block<typename D::Scalar> e(v.size());
  exp_into(v.derived(), e);
  return e;
}

// σ(x) = 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0: one exp of -|x| serves both,
// neither overflows, and σ of a very negative x keeps its tiny value instead of rounding to 0.
template <class D>
Block<typename D::Scalar> sigmoid_block(const Eigen::ArrayBase<D>& x) {
  using S = typename D::Scalar;
  const Block<S> e = exp_block(-x.abs());
  return (x >= S(0)).select(S(1), e) / (S(1) + e);
}

// Float SIMD packets as Eigen vectorises them for the compiler's target (8 lanes with AVX, 4 with
// SSE2), for kernels written directly in Eigen's packet primitives: no temporaries between steps.
using FloatPacket = Eigen::internal::packet_traits<float>::type;
inline constexpr Index kFloatLanes = Eigen::internal::packet_traits<float>::size;
#ifdef EIGEN_VECTORIZE
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // the vector type's alignment attribute, as inside Eigen
using IntPacket = Eigen::internal::unpacket_traits<FloatPacket>::integer_packet;  // the same lanes as int32
#pragma GCC diagnostic pop
#endif

// The packets of a float kernel: a whole one at i, or the last m < kFloatLanes elements through a
// zero-padded one. load(p) reads p[i...]; store(p, r, accumulate) writes r (or adds it) to p[i...].
struct WholePacket {
  Index i;
  FloatPacket load(const float* p) const { return Eigen::internal::ploadu<FloatPacket>(p + i); }
  void store(float* p, FloatPacket r, bool accumulate) const {
    if (accumulate) r = Eigen::internal::padd(r, Eigen::internal::ploadu<FloatPacket>(p + i));
    Eigen::internal::pstoreu(p + i, r);
  }
};
struct TailPacket {
  Index i, m;
  FloatPacket load(const float* p) const {
    alignas(64) float t[kFloatLanes] = {};
    std::copy_n(p + i, m, t);
    return Eigen::internal::pload<FloatPacket>(t);
  }
  void store(float* p, FloatPacket r, bool accumulate) const {
    alignas(64) float t[kFloatLanes];
    Eigen::internal::pstore(t, r);
    for (Index k = 0; k < m; ++k) p[i + k] = accumulate ? p[i + k] + t[k] : t[k];
  }
};

// body(packet) for every packet of n floats (a WholePacket or, last, a TailPacket), split across threads.
template <class Body>
void for_float_packets(Index n, Body&& body) {
  parallel_for(n, kPointwiseGrain, [&](Index begin, Index end) {
    Index i = begin;
    for (; i + kFloatLanes <= end; i += kFloatLanes) body(WholePacket{i});
    if (i < end) body(TailPacket{i, end - i});
  });
}

// out[i] = f(in[i]...) (accumulate: out[i] += ...) over n floats.
template <class F, class... In>
void map_float_packets(Index n, float* out, bool accumulate, F&& f, const In*... in) {
  for_float_packets(n, [&](const auto& packet) { packet.store(out, f(packet.load(in)...), accumulate); });
}

// e^s for s in [-87, 1] (clamped below), within 2 ulp: s = n·ln 2 + r with |r| <= ln(2)/2 (Cody and
// Waite's two-part ln 2), Cephes' polynomial for e^r, and 2^n written straight into the exponent
// bits, which n >= -126 allows. Eigen's pexp covers the whole float range at twice the instructions.
inline FloatPacket exp_packet(const FloatPacket& s_in) {
  using namespace Eigen::internal;
  using P = FloatPacket;
  const P s = pmax(s_in, pset1<P>(-87.0f));
  const P n = print(pmul(s, pset1<P>(1.44269504088896341f)));
  P r = pmadd(n, pset1<P>(-0.693359375f), s);
  r = pmadd(n, pset1<P>(2.12194440e-4f), r);
  P y = pset1<P>(1.9875691500e-4f);
  // Unrolled (GCC keeps a loop over a braced list at -O2, reloading each coefficient): gelu 20% faster.
#pragma GCC unroll 8
  for (const float c : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f})
    y = pmadd(y, r, pset1<P>(c));
  y = pmadd(y, pmul(r, r), padd(r, pset1<P>(1.0f)));
#ifdef EIGEN_VECTORIZE
  const IntPacket biased = padd(pcast<P, IntPacket>(n), pset1<IntPacket>(127));
  return pmul(y, preinterpret<P>(plogical_shift_left<23>(biased)));
#else  // EIGEN_DONT_VECTORIZE: a packet is one float
  return std::ldexp(y, static_cast<int>(n));
#endif
}

// Φ(x) = erfc(-x/√2) / 2, the standard normal CDF, in float on a packet. Numerical Recipes' erfcc fit
// erfc(z) ≈ t·exp(-z² + P(t)), t = 1/(1 + z/2), has relative error below 1.2e-7 everywhere. Two
// things keep float near that: the erfc form (1 + erf(x/√2) cancels to nothing in the negative
// tail), and an exact exponent: the rounding of z² = x²/2 alone would cost x²·3e-8 relative error
// (30 ulp at x = -10), so x² is split exactly (by an FMA, or Dekker's product over Veltkamp's split
// without one) and the exponent travels as a float plus a correction applied after the exp. Where
// the exponent is below -80 the exp is taken 2^64 higher and scaled back at the end, so results in
// float's subnormal range (x below about -13.2) round once instead of flushing early. x·Φ(x) is then
// within 5e-7 relative (7 ulp) for x >= -13; |x| is clamped at 20, where Φ is already 0 or 1.
inline FloatPacket normal_cdf_packet(const FloatPacket& x_in) {
  using namespace Eigen::internal;
  using P = FloatPacket;
  const P one = pset1<P>(1.0f), half = pset1<P>(0.5f), minus_half = pset1<P>(-0.5f);
  const P x = pmax(pmin(x_in, pset1<P>(20.0f)), pset1<P>(-20.0f));
  const P t = pdiv(one, pmadd(pset1<P>(0.35355339f), pabs(x), one));  // z/2 = |x|/(2√2)
  P p = pset1<P>(0.17087277f);
#pragma GCC unroll 16
  for (const float c : {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f,
                        1.00002368f, -1.26551223f})
    p = pmadd(p, t, pset1<P>(c));
  const P x2 = pmul(x, x);
  const P hi = pmul(minus_half, x2);  // -x²/2 = hi + lo exactly
#ifdef EIGEN_VECTORIZE_FMA
  const P lo = pmul(minus_half, pmadd(x, x, pnegate(x2)));  // the FMA gives x·x - x2 exactly
#else
  const P c = pmul(pset1<P>(4097.0f), x);
  const P xh = psub(c, psub(c, x));  // x = xh + xl, each half a float mantissa
  const P xl = psub(x, xh);
  const P lo = pmul(minus_half, padd(padd(psub(pmul(xh, xh), x2), pmul(pmul(pset1<P>(2.0f), xh), xl)), pmul(xl, xl)));
#endif
  const P s = padd(p, hi);
  const P sp = psub(s, p);
  const P err = padd(psub(p, psub(s, sp)), psub(hi, sp));  // p + hi = s + err (Knuth's TwoSum)
  const P deep = pcmp_lt(s, pset1<P>(-80.0f));
  const P e = exp_packet(pselect(deep, padd(s, pset1<P>(44.361419555836500f)), s));  // 64·ln 2
  P q = pmul(pmul(pmul(half, t), e), padd(one, padd(err, lo)));  // erfc(|z|) / 2, times 2^64 where deep
  q = pselect(deep, pmul(q, pset1<P>(0x1p-64f)), q);
  return pselect(pcmp_le(x, pzero(x)), q, psub(one, q));
}

// d/dx x·Φ(x) = Φ(x) + x·φ(x), φ the normal density, given cdf = Φ(x); NaN in, NaN out.
inline FloatPacket gelu_grad_packet(const FloatPacket& x, const FloatPacket& cdf) {
  using namespace Eigen::internal;
  using P = FloatPacket;
  const P xc = pmax(pmin(x, pset1<P>(20.0f)), pset1<P>(-20.0f));  // keeps x·φ from inf·0
  const P arg = pmul(pset1<P>(-0.5f), pmul(xc, xc));
  const P phi = pselect(pcmp_lt(arg, pset1<P>(-87.0f)), pzero(arg), exp_packet(arg));  // below, x·φ < 1e-36: 0
  const P d = pmadd(pmul(xc, pset1<P>(0.3989422804014327f)), phi, cdf);  // 1/√(2π)
  return pselect(pcmp_eq(x, x), d, x);
}
inline FloatPacket gelu_grad_packet(const FloatPacket& x) { return gelu_grad_packet(x, normal_cdf_packet(x)); }

inline constexpr double kInvSqrt2Pi = 0.3989422804014327;     // 1/√(2π): the normal density at 0
inline constexpr double kGeluTanhScale = 0.7978845608028654;  // √(2/π)
inline constexpr double kGeluTanhCubic = 0.044715;

// The tanh form of gelu, 0.5·x·(1 + tanh(u)) with u = √(2/π)(x + 0.044715x³), is x·σ(w), w = 2u:
// 1 + tanh(u) = 2σ(2u), and the σ form keeps the negative tail where 1 + tanh(u) cancels. It and its
// gradient need w and e = exp(-|w|). In float, w's rounding would cost |w|·1e-7 relative
// error in the tail (w reaches -87 before σ underflows), so w is formed in double and split into a
// float plus a correction applied after the exp.
template <class D>
std::pair<Block<typename D::Scalar>, Block<typename D::Scalar>> gelu_tanh_parts(const Eigen::ArrayBase<D>& x) {
  using S = typename D::Scalar;
  const Block<double> xd = x.template cast<double>().max(-100.0).min(100.0);  // σ(w) is 0 or 1 long before
  const Block<double> wd = 2 * kGeluTanhScale * xd * (1.0 + kGeluTanhCubic * xd * xd);
  Block<S> w = wd.template cast<S>();
  Block<S> e = exp_block(-w.abs());
  if constexpr (!std::is_same_v<S, double>) {
    const Block<S> w_lo = (wd - w.template cast<double>()).template cast<S>();  // wd = w + w_lo
    e *= S(1) - (w >= S(0)).select(w_lo, -w_lo);  // exp(-|wd|) = e·exp(∓w_lo)
  }
  return {std::move(w), std::move(e)};
}

}  // namespace detail

// max(x, 0); NaN stays NaN. grad = g where y > 0.
template <class T>
Tensor<T> relu(const Tensor<T>& x) {
  detail::expect_floating<T>();
  Tensor<T> y = detail::map_blocks<T>(x.contiguous_data(), [](const auto& v) -> detail::Block<T> { return (v < T(0)).select(T(0), v); });
  return autograd::record<T>("relu", y, {x}, [x, y = y.detach()](const Tensor<T>& grad_y) {
    detail::add_grad_blocks(x, grad_y, y, [](const auto& g, const auto& r) -> detail::Block<T> { return (r > T(0)).select(g, T(0)); });
  }, true);
}

// 1 / (1 + e^-x), stable for any |x| (within 3 ulp in float); grad = y(1 - y)·g.
template <class T>
Tensor<T> sigmoid(const Tensor<T>& x) {
  detail::expect_floating<T>();
  Tensor<T> y = detail::map_blocks<T>(x.contiguous_data(), [](const auto& v) { return detail::sigmoid_block(v); });
  return autograd::record<T>("sigmoid", y, {x}, [x, y = y.detach()](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, y.shape(), [](T g, T s) { return g * s * (T(1) - s); }, grad_y, y);
  }, true);
}

// tanh(x); grad = (1 - y²)·g. Float: (1 - e)/(1 + e) with e = e^-2|x| in double, and x itself below
// 2^-12 where 1 - e would lose the digits (tanh x = x to float precision there). Double: std::tanh.
template <class T>
Tensor<T> tanh(const Tensor<T>& x) {
  detail::expect_floating<T>();
  Tensor<T> y;
  if constexpr (std::is_same_v<T, float>) {
    y = detail::map_blocks<double>(x.contiguous_data(), [](const auto& v) -> detail::Block<double> {
      const detail::Block<double> e = detail::exp_block(-2.0 * v.abs());
      const detail::Block<double> t = (1.0 - e) / (1.0 + e);
      return (v.abs() < 0x1p-12).select(v, (v < 0.0).select(-t, t));
    });
  } else {
    y = detail::map_broadcast<T>(x.shape(), [](T v) { return std::tanh(v); }, x);
  }
  return autograd::record<T>("tanh", y, {x}, [x, y = y.detach()](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, y.shape(), [](T g, T t) { return g * (T(1) - t * t); }, grad_y, y);
  }, true);
}

// The error function, via std::erf in double (correctly rounded for float); grad = 2/√π·e^(-x²)·g.
template <class T>
Tensor<T> erf(const Tensor<T>& x) {
  detail::expect_floating<T>();
  Tensor<T> y = detail::map_broadcast<T>(x.shape(), [](T v) { return static_cast<T>(std::erf(static_cast<double>(v))); }, x);
  return autograd::record<T>("erf", y, {x}, [x](const Tensor<T>& grad_y) {
    detail::accumulate_broadcast(x, grad_y.shape(), [](T g, T v) {
      const double d = v;
      return static_cast<T>(g * std::numbers::inv_sqrtpi * 2 * std::exp(-d * d));
    }, grad_y, x);
  });
}

// torch.nn.functional.gelu's approximate='none' (x·Φ(x), Φ the normal CDF) and approximate='tanh'.
enum class GeluApproximation { kNone, kTanh };

namespace detail {

// y = gelu(x) over n contiguous values: the kernel behind gelu(), also run by ops that fuse it
// (linear_of_gelu recomputes it in backward instead of keeping it).
template <class T>
void gelu_values(const T* x, T* y, Index n, GeluApproximation approximate) {
  using Map = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  using CMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
  if (approximate == GeluApproximation::kTanh) {
    for_blocks(n, [&](Index b, Index m) {
      const CMap v(x + b, m);
      const auto [w, e] = gelu_tanh_parts(v);
      Map(y + b, m) = v * (w >= T(0)).select(T(1), e) / (T(1) + e);  // x·σ(w)
    });
  } else if constexpr (std::is_same_v<T, float>) {
    map_float_packets(n, y, false, [](const FloatPacket& v) { return Eigen::internal::pmul(v, normal_cdf_packet(v)); }, x);
  } else {
    parallel_for(n, kPointwiseGrain, [&](Index i0, Index i1) {
      for (Index i = i0; i < i1; ++i) y[i] = x[i] * T(0.5) * std::erfc(-x[i] * std::numbers::sqrt2 / 2);
    });
  }
}

// gx = g·gelu'(x) (accumulate: gx += ...) over n contiguous values.
template <class T>
void gelu_grads(const T* x, const T* g, T* gx, bool accumulate, Index n, GeluApproximation approximate) {
  using Map = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  using CMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
  if (approximate == GeluApproximation::kTanh) {
    // d/dx x·σ(w) = σ(w) + x·σ(w)σ(-w)·w', w' = 2√(2/π)(1 + 3·0.044715x²). Where σ(w)σ(-w) is 0
    // (|x| huge) the second term is 0, even if x·w' overflowed.
    for_blocks(n, [&](Index b, Index m) {
      const CMap v(x + b, m), gy(g + b, m);
      const auto [w, e] = gelu_tanh_parts(v);
      const Block<T> r = T(1) / (T(1) + e);
      const Block<T> s = (w >= T(0)).select(T(1), e) * r;
      const Block<T> q = e * r * r;  // σ(w)σ(-w) = σ(w)(1 - σ(w)) without its cancellation near 1
      const Block<T> dw = T(2 * kGeluTanhScale) * (T(1) + T(3 * kGeluTanhCubic) * v * v);
      assign_or_add(Map(gx + b, m), (v == v).select(gy * (s + (q > T(0)).select(v * q * dw, T(0))), v), accumulate);  // NaN in, NaN out
    });
  } else if constexpr (std::is_same_v<T, float>) {
    map_float_packets(n, gx, accumulate, [](const FloatPacket& gy, const FloatPacket& v) {
      return Eigen::internal::pmul(gy, gelu_grad_packet(v));
    }, g, x);
  } else {
    parallel_for(n, kPointwiseGrain, [&](Index i0, Index i1) {
      for (Index i = i0; i < i1; ++i) {
        const T v = x[i];
        const T d = g[i] * (T(0.5) * std::erfc(-v * std::numbers::sqrt2 / 2) + v * kInvSqrt2Pi * std::exp(-v * v / 2));
        gx[i] = accumulate ? gx[i] + d : d;
      }
    });
  }
}

// h = gelu(z) and gz = g·gelu'(z) (accumulate: gz += ...) over n contiguous values in one pass, the
// two things linear_of_gelu's backward needs: for float's exact form Φ(z) is computed once for both
// instead of once each. The same values as gelu_values and gelu_grads.
template <class T>
void gelu_values_and_grads(const T* z, const T* g, T* h, T* gz, bool accumulate, Index n, GeluApproximation approximate) {
  if constexpr (std::is_same_v<T, float>) {
    if (approximate == GeluApproximation::kNone) {
      for_float_packets(n, [&](const auto& packet) {
        const FloatPacket v = packet.load(z), cdf = normal_cdf_packet(v);
        packet.store(h, Eigen::internal::pmul(v, cdf), false);
        packet.store(gz, Eigen::internal::pmul(packet.load(g), gelu_grad_packet(v, cdf)), accumulate);
      });
      return;
    }
  }
  gelu_values(z, h, n, approximate);
  gelu_grads(z, g, gz, accumulate, n, approximate);
}

}  // namespace detail

// gelu(x) = x·Φ(x); grad = Φ(x) + x·φ(x), φ the normal density. Float results stay within 5e-7
// relative (exact form) and 3 ulp (tanh form, x >= -9.5) also in the negative tail, where PyTorch's
// 0.5·x·(1 + erf(x/√2)) cancels to 0. Double uses std::erfc for the exact form.
template <class T>
Tensor<T> gelu(const Tensor<T>& x, GeluApproximation approximate = GeluApproximation::kNone) {
  detail::expect_floating<T>();
  const Tensor<T> xc = x.contiguous_data();
  Tensor<T> y = Tensor<T>::empty(xc.shape());
  detail::gelu_values(xc.data(), y.data(), xc.numel(), approximate);
  return autograd::record<T>("gelu", y, {x}, [x = x.grad_target(), xc, approximate](const Tensor<T>& grad_y) {
    const GradSlot<T> gx = x.grad_slot();
    detail::gelu_grads(xc.data(), grad_y.data(), gx.data(), gx.accumulate, xc.numel(), approximate);
  });
}

}  // namespace ops

using ops::erf;
using ops::gelu;
using ops::GeluApproximation;
using ops::relu;
using ops::sigmoid;
using ops::tanh;

}  // namespace foundry
