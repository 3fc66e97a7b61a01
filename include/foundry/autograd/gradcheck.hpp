// autograd/gradcheck.hpp: checks an op's backward against central finite differences, in double.
// For random projections r of the output it compares d(sum(r * f(x)))/dx from backward() with
// (f(x + eps) - f(x - eps)) / 2eps, element by element of every input. Inputs may be any layout
// (transposed, sliced, expanded-free views): they are perturbed in place through their strides.
// Usage: EXPECT_TRUE(gradcheck([](auto& a, auto& b) { return ops::mul(a, b); }, x, y));
#pragma once

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "foundry/autograd/engine.hpp"
#include "foundry/core/generator.hpp"

namespace foundry::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  int projections = 2;
  std::uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;
  explicit operator bool() const { return ok; }
  friend std::ostream& operator<<(std::ostream& os, const GradcheckResult& r) { return os << r.message; }
};

namespace detail {

inline double project(const Tensor<double>& y, const Tensor<double>& r) {
  const auto v = y.to_vector();
  double s = 0;
  for (std::size_t i = 0; i < v.size(); ++i) s += v[i] * r.data()[i];
  return s;
}

}  // namespace detail

// fn(std::vector<Tensor<double>>&) -> Tensor<double>. The inputs must be leaves; they are made to
// require grad for the check and restored afterwards.
template <class F>
GradcheckResult gradcheck_vector(F&& fn, std::vector<Tensor<double>> inputs, const GradcheckOptions& opt = {}) {
  GradcheckResult result;
  std::ostringstream msg;
  std::vector<bool> had_grad;
  for (auto& x : inputs) {
    if (!x.is_leaf())
      foundry::detail::fail<AutogradError>("gradcheck: inputs must be leaf tensors (pass views of tensors that do not require grad)");
    had_grad.push_back(x.requires_grad());
    x.requires_grad_(true);
  }
  Generator gen(opt.seed);
  for (int p = 0; p < opt.projections; ++p) {
    for (auto& x : inputs) x.zero_grad();
    Tensor<double> y = fn(inputs);
    Tensor<double> r = Tensor<double>::empty(y.shape());
    gen.fill_uniform(r.data(), r.numel(), -1.0, 1.0);
    if (!y.requires_grad()) {
      result.ok = false;
      msg << "gradcheck: output does not require grad (no node was recorded)\n";
      break;
    }
    y.backward(r);
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      Tensor<double>& x = inputs[k];
      const Tensor<double> analytic = x.grad();
      const Shape& shape = x.shape();
      std::vector<Index> idx(static_cast<std::size_t>(shape.size()), 0);
      for (Index flat = 0; flat < x.numel(); ++flat) {
        Index rem = flat, off = x.offset();  // strided address of element `flat`
        for (int a = shape.size() - 1; a >= 0; --a) {
          off += (rem % shape[a]) * x.strides()[a];
          rem /= shape[a];
        }
        double& v = x.storage()->data()[off];
        const double saved = v;
        double plus, minus;
        {
          NoGradGuard guard;
          v = saved + opt.eps;
          plus = detail::project(fn(inputs), r);
          v = saved - opt.eps;
          minus = detail::project(fn(inputs), r);
        }
        v = saved;
        const double numeric = (plus - minus) / (2 * opt.eps);
        const double got = analytic.defined() ? analytic.data()[flat] : 0.0;
        if (!(std::abs(got - numeric) <= opt.atol + opt.rtol * std::abs(numeric))) {
          if (result.ok) msg << "gradcheck: gradient mismatch\n";
          result.ok = false;
          msg << "  input " << k << " " << shape << " element " << flat << ": backward " << got << ", finite difference "
              << numeric << "\n";
        }
      }
    }
    if (!result.ok) break;
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    inputs[k].zero_grad();
    inputs[k].requires_grad_(had_grad[k]);
  }
  result.message = result.ok ? "gradcheck: ok" : msg.str();
  return result;
}

// Variadic form: gradcheck(fn, x, w, b) calls fn(x, w, b).
template <class F, class... Ts>
GradcheckResult gradcheck(F&& fn, const Tensor<double>& first, const Ts&... rest) {
  return gradcheck_vector(
      [&](std::vector<Tensor<double>>& in) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) { return fn(in[I]...); }(std::index_sequence_for<Tensor<double>, Ts...>{});
      },
      std::vector<Tensor<double>>{first, rest...});
}

}  // namespace foundry::autograd

namespace foundry {
using autograd::gradcheck;
}
