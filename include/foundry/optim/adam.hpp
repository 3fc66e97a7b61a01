// optim/adam.hpp: Adam (Kingma & Ba 2015) with L2 weight decay folded into the gradient, as
// torch.optim.Adam, and AdamW (Loshchilov & Hutter 2019) with decoupled weight decay, as
// torch.optim.AdamW; both follow torch 1.13's single-tensor code operation by operation. One fused
// pass per parameter updates p, exp_avg and exp_avg_sq. AMSGrad is not implemented.
#pragma once

#include <cmath>

#include "foundry/optim/optimizer.hpp"

namespace foundry::optim {

namespace detail {

template <class Options>
void check_adam_options(const Options& o, const std::string& who, std::optional<std::size_t> group) {
  check_at_least_zero(who, "lr", o.lr, group);
  check_at_least_zero(who, "weight_decay", o.weight_decay, group);
  for (const auto& [name, beta] : {std::pair{"beta1", o.beta1}, std::pair{"beta2", o.beta2}})
    if (!(beta >= 0 && beta < 1))
      foundry::detail::fail<ValueError>(who, ": ", name, " must be in [0, 1), got ", beta, group_suffix(group));
  if (!(o.eps > 0) || !std::isfinite(o.eps))
    foundry::detail::fail<ValueError>(who, ": eps must be a finite number > 0, got ", o.eps, group_suffix(group));
}

// One Adam step of parameter p (n values) with gradient g and moments m, v, at the given step count
// (already incremented). Decoupled: AdamW, p ← p·(1 - lr·wd) first; otherwise Adam, g ← g + wd·p.
// Then, in torch's order and rounding (scalars rounded to T once, each array operation in T):
//   m ← β1·m + (1 - β1)·g            v ← β2·v + (1 - β2)·g·g
//   p ← p - (lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + eps)
// eps is added after the bias correction of sqrt(v), exactly where PyTorch adds it.
template <class T, class Options>
void adam_update(T* p, const T* g, T* m, T* v, Index n, std::int64_t step, const Options& o, bool decoupled) {
  const double bias_correction1 = 1 - std::pow(o.beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(o.beta2, static_cast<double>(step));
  const T beta1 = static_cast<T>(o.beta1), beta2 = static_cast<T>(o.beta2);
  const T one_minus_beta1 = static_cast<T>(1 - o.beta1), one_minus_beta2 = static_cast<T>(1 - o.beta2);
  const T neg_step_size = static_cast<T>(-(o.lr / bias_correction1));
  const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T eps = static_cast<T>(o.eps);
  const T decay = static_cast<T>(1 - o.lr * o.weight_decay), wd = static_cast<T>(o.weight_decay);
  const bool l2 = !decoupled && o.weight_decay != 0;
  for_each_block(n, [&](Index b, Index len) {
    ArraySeg<T> P(p + b, len), M(m + b, len), V(v + b, len);
    ConstArraySeg<T> G(g + b, len);
    auto update = [&](const auto& grad) {  // grad: an expression that may still read the old P
      M = M * beta1 + one_minus_beta1 * grad;
      V = V * beta2 + one_minus_beta2 * grad * grad;
      if (decoupled) P = P * decay + neg_step_size * M / (V.sqrt() / bias_correction2_sqrt + eps);
      else P = P + neg_step_size * M / (V.sqrt() / bias_correction2_sqrt + eps);
    };
    if (l2) update(G + wd * P);
    else update(G);
  });
}

}  // namespace detail

// Defaults of torch.optim.Adam.
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // L2: added to the gradient, so it passes through the moments

  template <class O, class F>
  static void visit(O& o, F&& f) {
    f("lr", o.lr), f("beta1", o.beta1), f("beta2", o.beta2), f("eps", o.eps), f("weight_decay", o.weight_decay);
  }
  void check(const std::string& who, std::optional<std::size_t> group) const { detail::check_adam_options(*this, who, group); }
};

// Defaults of torch.optim.AdamW (weight decay 0.01).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p ← p·(1 - lr·weight_decay) before the Adam step

  template <class O, class F>
  static void visit(O& o, F&& f) {
    f("lr", o.lr), f("beta1", o.beta1), f("beta2", o.beta2), f("eps", o.eps), f("weight_decay", o.weight_decay);
  }
  void check(const std::string& who, std::optional<std::size_t> group) const { detail::check_adam_options(*this, who, group); }
};

// Usage: optim::Adam<float> opt(model.parameters(), {.lr = 1e-3});
template <class T>
class Adam : public OptimizerWith<T, AdamOptions> {
 public:
  Adam(const std::vector<Tensor<T>>& params, const AdamOptions& defaults = {})
      : Adam(std::vector<ParamGroup<T>>{ParamGroup<T>{.params = params}}, defaults) {}
  Adam(const std::vector<ParamGroup<T>>& groups, const AdamOptions& defaults = {})
      : OptimizerWith<T, AdamOptions>("Adam", groups, defaults, {"exp_avg", "exp_avg_sq"}, /*buffers_required=*/true) {}

  void step() override {
    this->for_each_update([this](std::size_t g, const Tensor<T>& p, const T* grad, ParamState<T>& state) {
      for (Tensor<T>& moment : state.buffers)  // exp_avg, exp_avg_sq: zeros before the first step
        if (!moment.defined()) moment = Tensor<T>::zeros(p.shape());
      detail::adam_update(p.data(), grad, state.buffers[0].data(), state.buffers[1].data(), p.numel(), state.step,
                          this->options_[g], /*decoupled=*/false);
    });
  }
};

// Usage, with BERT's groups (param_groups.hpp):
//   optim::AdamW<float> opt(optim::weight_decay_groups(model, 0.01), {.lr = 5e-5});
template <class T>
class AdamW : public OptimizerWith<T, AdamWOptions> {
 public:
  AdamW(const std::vector<Tensor<T>>& params, const AdamWOptions& defaults = {})
      : AdamW(std::vector<ParamGroup<T>>{ParamGroup<T>{.params = params}}, defaults) {}
  AdamW(const std::vector<ParamGroup<T>>& groups, const AdamWOptions& defaults = {})
      : OptimizerWith<T, AdamWOptions>("AdamW", groups, defaults, {"exp_avg", "exp_avg_sq"}, /*buffers_required=*/true) {}

  void step() override {
    this->for_each_update([this](std::size_t g, const Tensor<T>& p, const T* grad, ParamState<T>& state) {
      for (Tensor<T>& moment : state.buffers)  // exp_avg, exp_avg_sq: zeros before the first step
        if (!moment.defined()) moment = Tensor<T>::zeros(p.shape());
      detail::adam_update(p.data(), grad, state.buffers[0].data(), state.buffers[1].data(), p.numel(), state.step,
                          this->options_[g], /*decoupled=*/true);
    });
  }
};

}  // namespace foundry::optim
