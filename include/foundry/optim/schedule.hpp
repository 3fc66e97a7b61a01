// optim/schedule.hpp: learning-rate schedules as Hugging Face defines them. A schedule is a factor of
// the step (constant_with_warmup, linear_with_warmup, cosine_with_warmup); Schedule multiplies each
// group's base learning rate by it, standing alone (lr_at) or driving an optimizer (step), and saves
// its position for resume. As torch's LambdaLR, attaching sets the step-0 rate at once.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include "foundry/optim/optimizer.hpp"

namespace foundry::optim {

// The multiplier of the base learning rate at a step (0-based: the step about to be taken).
using LrLambda = std::function<double(std::int64_t step)>;

namespace detail {

inline void check_steps(const char* who, std::int64_t warmup_steps, std::int64_t total_steps) {
  if (warmup_steps < 0) foundry::detail::fail<ValueError>(who, ": warmup_steps must be >= 0, got ", warmup_steps);
  if (total_steps < warmup_steps)
    foundry::detail::fail<ValueError>(who, ": total_steps (", total_steps, ") must be >= warmup_steps (", warmup_steps, ")");
}
// step / warmup during warmup, as HF: the first step runs at rate 0.
inline double warmup_factor(std::int64_t step, std::int64_t warmup_steps) {
  return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup_steps));
}

}  // namespace detail

// HF get_constant_schedule_with_warmup (get_constant_schedule when warmup_steps is 0).
inline LrLambda constant_with_warmup(std::int64_t warmup_steps = 0) {
  detail::check_steps("constant_with_warmup", warmup_steps, warmup_steps);
  return [warmup_steps](std::int64_t step) { return step < warmup_steps ? detail::warmup_factor(step, warmup_steps) : 1.0; };
}

// HF get_linear_schedule_with_warmup: up to 1 over the warmup, then down to 0 at total_steps.
//   factor(step) = step / warmup                                     step < warmup
//                = max(0, (total - step) / max(1, total - warmup))   otherwise
inline LrLambda linear_with_warmup(std::int64_t warmup_steps, std::int64_t total_steps) {
  detail::check_steps("linear_with_warmup", warmup_steps, total_steps);
  return [warmup_steps, total_steps](std::int64_t step) {
    if (step < warmup_steps) return detail::warmup_factor(step, warmup_steps);
    return std::max(0.0, static_cast<double>(total_steps - step) /
                             static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps)));
  };
}

// HF get_cosine_schedule_with_warmup: after the warmup, half a cosine wave (num_cycles 0.5) from 1 to 0.
//   progress = (step - warmup) / max(1, total - warmup)
//   factor   = max(0, (1 + cos(π · 2 · num_cycles · progress)) / 2)
inline LrLambda cosine_with_warmup(std::int64_t warmup_steps, std::int64_t total_steps, double num_cycles = 0.5) {
  detail::check_steps("cosine_with_warmup", warmup_steps, total_steps);
  if (!(num_cycles >= 0) || !std::isfinite(num_cycles))
    foundry::detail::fail<ValueError>("cosine_with_warmup: num_cycles must be a finite number >= 0, got ", num_cycles);
  return [warmup_steps, total_steps, num_cycles](std::int64_t step) {
    if (step < warmup_steps) return detail::warmup_factor(step, warmup_steps);
    const double progress = static_cast<double>(step - warmup_steps) /
                            static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps));
    return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * num_cycles * 2.0 * progress)));
  };
}

// A schedule over one or more base learning rates. Standing alone:
//   Schedule s(linear_with_warmup(100, 1000), 5e-5);  s.lr_at(50) == 2.5e-5
// Driving an optimizer (base rates: the groups' rates when attached; step 0's rate is set at once):
//   Schedule s(linear_with_warmup(100, 1000), optimizer);
//   for (...) { loss.backward(); optimizer.step(); s.step(); optimizer.zero_grad(); }
// The optimizer must outlive the schedule.
class Schedule {
 public:
  Schedule(LrLambda factor, double base_lr) : Schedule(std::move(factor), std::vector<double>{base_lr}, {}) {}

  template <class T>
  Schedule(LrLambda factor, Optimizer<T>& optimizer)
      : Schedule(std::move(factor), group_lrs(optimizer),
                 [&optimizer](std::size_t group, double lr) { optimizer.set_lr(group, lr); }) {}

  double factor(std::int64_t step) const {
    if (step < 0) foundry::detail::fail<ValueError>("Schedule: step must be >= 0, got ", step);
    return factor_(step);
  }
  double lr_at(std::int64_t step, std::size_t group = 0) const { return base_lrs_.at(check_group(group)) * factor(step); }

  std::int64_t last_step() const { return step_; }  // the step whose rate is in effect
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  std::vector<double> last_lrs() const {
    std::vector<double> out;
    for (std::size_t g = 0; g < base_lrs_.size(); ++g) out.push_back(lr_at(step_, g));
    return out;
  }

  // Advances one step and, when attached, sets every group's rate to base_lr · factor(step).
  void step() {
    ++step_;
    apply();
  }

  // "last_step" and "base_lr.<group>" as 0-d tensors, for a checkpoint beside the optimizer's state.
  template <class T>
  std::map<std::string, Tensor<T>> state_dict() const {
    std::map<std::string, Tensor<T>> out;
    out.emplace("last_step", Tensor<T>::scalar(static_cast<T>(step_)));
    for (std::size_t g = 0; g < base_lrs_.size(); ++g)
      out.emplace("base_lr." + std::to_string(g), Tensor<T>::scalar(static_cast<T>(base_lrs_[g])));
    return out;
  }
  // Restores the position (and base rates) and re-applies that step's rates to the optimizer, so a
  // resumed run continues bit-identically. Mismatched keys throw ValueError naming the key.
  template <class T>
  void load_state_dict(const std::map<std::string, Tensor<T>>& dict) {
    auto value = [&](const std::string& key) {
      auto it = dict.find(key);
      if (it == dict.end())
        foundry::detail::fail<ValueError>("Schedule.load_state_dict: missing key '", key, "' (the schedule has ",
                                          base_lrs_.size(), " base rates)");
      if (!it->second.defined() || it->second.numel() != 1)
        foundry::detail::fail<ValueError>("Schedule.load_state_dict: '", key, "' must hold one value");
      return it->second.contiguous_data().data()[0];
    };
    const T step = value("last_step");
    if (!(step >= 0) || step != std::floor(step))
      foundry::detail::fail<ValueError>("Schedule.load_state_dict: 'last_step' must be a whole number >= 0, got ", step);
    std::vector<double> base = base_lrs_;
    for (std::size_t g = 0; g < base.size(); ++g) {
      base[g] = detail::restore_scalar<T>(base[g], value("base_lr." + std::to_string(g)));
      if (!(base[g] >= 0)) foundry::detail::fail<ValueError>("Schedule.load_state_dict: 'base_lr.", g, "' must be >= 0, got ", base[g]);
    }
    for (const auto& [key, t] : dict)
      if (key != "last_step" && (!key.starts_with("base_lr.") || !is_group_key(key, base.size())))
        foundry::detail::fail<ValueError>("Schedule.load_state_dict: unexpected key '", key, "' (the schedule has ",
                                          base.size(), " base rates)");
    base_lrs_ = std::move(base);
    step_ = static_cast<std::int64_t>(step);
    apply();
  }

 private:
  Schedule(LrLambda factor, std::vector<double> base_lrs, std::function<void(std::size_t, double)> set_lr)
      : factor_(std::move(factor)), base_lrs_(std::move(base_lrs)), set_lr_(std::move(set_lr)) {
    if (!factor_) foundry::detail::fail<ValueError>("Schedule: the factor function is empty");
    for (double lr : base_lrs_)
      if (!(lr >= 0) || !std::isfinite(lr)) foundry::detail::fail<ValueError>("Schedule: base lr must be a finite number >= 0, got ", lr);
    apply();
  }

  template <class T>
  static std::vector<double> group_lrs(const Optimizer<T>& optimizer) {
    std::vector<double> out;
    for (std::size_t g = 0; g < optimizer.num_groups(); ++g) out.push_back(optimizer.lr(g));
    return out;
  }
  static bool is_group_key(const std::string& key, std::size_t groups) {
    const std::string rest = key.substr(std::string("base_lr.").size());
    for (std::size_t g = 0; g < groups; ++g)
      if (rest == std::to_string(g)) return true;
    return false;
  }
  std::size_t check_group(std::size_t group) const {
    if (group >= base_lrs_.size())
      foundry::detail::fail<IndexError>("Schedule: group ", group, " out of range for ", base_lrs_.size(), " base rates");
    return group;
  }
  void apply() {
    if (!set_lr_) return;
    const double f = factor(step_);
    for (std::size_t g = 0; g < base_lrs_.size(); ++g) set_lr_(g, base_lrs_[g] * f);
  }

  LrLambda factor_;
  std::vector<double> base_lrs_;
  std::function<void(std::size_t, double)> set_lr_;  // empty when standing alone
  std::int64_t step_ = 0;
};

}  // namespace foundry::optim
