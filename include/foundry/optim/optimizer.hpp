// optim/optimizer.hpp: Optimizer<T>, the base of every optimizer, and ParamGroup<T>, parameters sharing
// hyperparameters. The base owns groups, per-parameter state (step count, buffers such as exp_avg) and
// its state dict; OptimizerWith<T, Options> adds typed hyperparameters; sgd.hpp and adam.hpp add only
// their update. Learning-rate schedules live in schedule.hpp, gradient clipping in clip.hpp.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "foundry/core/error.hpp"
#include "foundry/core/tensor.hpp"
#include "foundry/core/threading.hpp"

namespace foundry::optim {

// Parameters plus the hyperparameters that override the optimizer's defaults for them; unset fields
// take the defaults. A field the optimizer does not use (momentum for AdamW) is an error.
//   AdamW<float> opt({{.params = decay, .weight_decay = 0.01}, {.params = no_decay, .weight_decay = 0.0}},
//                    {.lr = 1e-4});
template <class T>
struct ParamGroup {
  std::vector<Tensor<T>> params{};
  std::optional<double> lr{}, weight_decay{};     // every optimizer
  std::optional<double> momentum{}, dampening{};  // Sgd
  std::optional<bool> nesterov{};                 // Sgd
  std::optional<double> beta1{}, beta2{}, eps{};  // Adam, AdamW

  // Calls f(name, field) for every override, in declaration order.
  template <class Group, class F>
  static void visit(Group& g, F&& f) {
    f("lr", g.lr), f("weight_decay", g.weight_decay), f("momentum", g.momentum), f("dampening", g.dampening);
    f("nesterov", g.nesterov), f("beta1", g.beta1), f("beta2", g.beta2), f("eps", g.eps);
  }
};

// What an optimizer remembers about one parameter. step counts the updates it received (a parameter
// skipped for lack of a gradient does not count); buffers line up with the optimizer's buffer_names()
// and stay undefined until first needed. step == 0 means no state at all.
template <class T>
struct ParamState {
  std::int64_t step = 0;
  std::vector<Tensor<T>> buffers;
};

namespace detail {

inline constexpr Index kUpdateBlock = 1024;       // elements per block: one update's values stay in L1
inline constexpr Index kUpdateGrain = 32;          // blocks per thread before forking pays off (32K elements)

// Calls fn(begin, count) over [0, n) in blocks of kUpdateBlock, large arrays spread over threads.
// Block boundaries do not depend on the thread count, so every element is computed by the same
// instruction sequence however many threads run: results are bit-identical across thread counts.
template <class F>
void for_each_block(Index n, F&& fn) {
  const Index blocks = (n + kUpdateBlock - 1) / kUpdateBlock;
  foundry::detail::parallel_for(blocks, kUpdateGrain, [&](Index b0, Index b1) {
    for (Index b = b0; b < b1; ++b) fn(b * kUpdateBlock, std::min(kUpdateBlock, n - b * kUpdateBlock));
  });
}

template <class T>
using ArraySeg = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArraySeg = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// "state.<group>.<index>.<name>" split into its parts; nullopt when the key has another form.
struct StateKey {
  std::size_t group, index;
  std::string name;
};
inline std::optional<StateKey> parse_state_key(std::string_view key) {
  constexpr std::string_view prefix = "state.";
  if (!key.starts_with(prefix)) return std::nullopt;
  key.remove_prefix(prefix.size());
  std::size_t numbers[2];
  for (std::size_t& n : numbers) {
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), n);
    if (ec != std::errc() || end == key.data() || end == key.data() + key.size() || *end != '.') return std::nullopt;
    key.remove_prefix(static_cast<std::size_t>(end - key.data()) + 1);
  }
  if (key.empty()) return std::nullopt;
  return StateKey{numbers[0], numbers[1], std::string(key)};
}

// Scalars (hyperparameters, step counts) travel in the state dict as T. A double hyperparameter stored
// as float loses bits, so a stored value that equals the current one at T's precision keeps the current
// double: an optimizer rebuilt from the same config resumes bit-identically. Any other value replaces it.
template <class T>
double restore_scalar(double current, T stored) {
  return static_cast<T>(current) == stored ? current : static_cast<double>(stored);
}

}  // namespace detail

// The interface every optimizer shares: what training loops, schedules and checkpoints see.
//   optimizer.zero_grad(); loss.backward(); optimizer.step();
template <class T>
class Optimizer {
  static_assert(std::is_floating_point_v<T>, "Optimizer<T>: T must be float or double");

 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;  // two optimizers over one state would update twice
  Optimizer& operator=(const Optimizer&) = delete;

  const std::string& type_name() const { return name_; }

  // One update of every parameter that requires grad and has a gradient; the others are skipped
  // (no state is created for them). Runs with autograd's bookkeeping untouched: it writes parameter
  // storage directly and bumps its version.
  virtual void step() = 0;

  // Drops every gradient (PyTorch's zero_grad(set_to_none=True)); the next backward starts afresh.
  void zero_grad() {
    for (const auto& group : params_)
      for (const auto& p : group) p.zero_grad();
  }

  std::size_t num_groups() const { return params_.size(); }
  const std::vector<Tensor<T>>& params(std::size_t group) const { return params_.at(check_group("params", group)); }
  std::vector<Tensor<T>> parameters() const {  // every group's parameters, in group order
    std::vector<Tensor<T>> out;
    for (const auto& group : params_) out.insert(out.end(), group.begin(), group.end());
    return out;
  }
  const ParamState<T>& state(std::size_t group, std::size_t index) const {
    check_group("state", group);
    if (index >= params_[group].size())
      foundry::detail::fail<IndexError>(name_, ".state: parameter ", index, " out of range for group ", group, " of ",
                                        params_[group].size());
    return state_[group][index];
  }
  const std::vector<std::string>& buffer_names() const { return buffer_names_; }
  std::int64_t steps() const { return steps_; }  // step() calls so far

  // The learning rate of a group; schedules set it before each step.
  virtual double lr(std::size_t group) const = 0;
  virtual void set_lr(std::size_t group, double lr) = 0;

  // Everything needed to continue training exactly, as tensors for a safetensors checkpoint:
  //   "step"                           step() calls
  //   "group.<g>.<hyperparameter>"     lr, weight_decay, betas... (booleans as 0 / 1)
  //   "state.<g>.<i>.step"             updates parameter i of group g received (absent: no state)
  //   "state.<g>.<i>.<buffer>"         its buffers: momentum_buffer, exp_avg, exp_avg_sq
  // Scalars are 0-d tensors (step counts stay exact in float up to 2^24). Buffers are handles sharing the
  // optimizer's storage (as Module::state_dict): clone_data() them to keep a snapshot while training goes on.
  std::map<std::string, Tensor<T>> state_dict() const {
    std::map<std::string, Tensor<T>> out;
    out.emplace("step", scalar(steps_));
    for (std::size_t g = 0; g < params_.size(); ++g) {
      for (const auto& [name, value] : hyperparameters(g)) out.emplace(group_key(g, name), scalar(value));
      for (std::size_t i = 0; i < params_[g].size(); ++i) {
        const ParamState<T>& s = state_[g][i];
        if (s.step == 0) continue;
        out.emplace(state_key(g, i, "step"), scalar(static_cast<double>(s.step)));
        for (std::size_t b = 0; b < buffer_names_.size(); ++b)
          if (s.buffers[b].defined()) out.emplace(state_key(g, i, buffer_names_[b]), s.buffers[b].detach());
      }
    }
    return out;
  }

  // Restores a state_dict() of an optimizer of the same type over the same parameter layout. Every
  // mismatch (missing or unexpected key, wrong shape, invalid value) throws ValueError naming the key,
  // before anything changes. Buffers are copied, so the dict can be discarded afterwards.
  void load_state_dict(const std::map<std::string, Tensor<T>>& dict) {
    const std::string who = name_ + ".load_state_dict";
    std::set<std::string> used;
    auto take = [&](const std::string& key) -> const Tensor<T>& {
      auto it = dict.find(key);
      if (it == dict.end())
        foundry::detail::fail<ValueError>(who, ": missing key '", key, "' (", this->layout(), ")");
      used.insert(key);
      return it->second;
    };
    auto take_scalar = [&](const std::string& key) {
      const Tensor<T>& t = take(key);
      if (!t.defined() || t.numel() != 1)
        foundry::detail::fail<ValueError>(who, ": '", key, "' must hold one value, got shape ",
                                          t.defined() ? t.shape().str() : "undefined");
      return t.contiguous_data().data()[0];
    };
    auto take_count = [&](const std::string& key, std::int64_t lowest) {
      const T v = take_scalar(key);
      if (!(v >= static_cast<T>(lowest)) || v != std::floor(v))
        foundry::detail::fail<ValueError>(who, ": '", key, "' must be a whole number >= ", lowest, ", got ", v);
      return static_cast<std::int64_t>(v);
    };

    const std::int64_t steps = take_count("step", 0);
    std::vector<std::vector<std::pair<std::string, double>>> hyper(params_.size());
    for (std::size_t g = 0; g < params_.size(); ++g) {
      hyper[g] = hyperparameters(g);
      for (auto& [name, value] : hyper[g]) value = detail::restore_scalar<T>(value, take_scalar(group_key(g, name)));
      check_hyperparameters(g, hyper[g], who + ": " + group_key(g, "*"));
    }

    std::vector<std::vector<ParamState<T>>> state(params_.size());
    for (std::size_t g = 0; g < params_.size(); ++g) state[g].resize(params_[g].size(), empty_state());
    for (const auto& [key, value] : dict) {
      if (used.count(key)) continue;
      const auto parsed = detail::parse_state_key(key);
      if (!parsed || parsed->group >= params_.size() || parsed->index >= params_[parsed->group].size())
        foundry::detail::fail<ValueError>(who, ": unexpected key '", key, "' (", layout(), ")");
      const auto [g, i, name] = *parsed;
      if (name == "step") {
        state[g][i].step = take_count(key, 1);
        continue;
      }
      const auto b = std::find(buffer_names_.begin(), buffer_names_.end(), name);
      if (b == buffer_names_.end())
        foundry::detail::fail<ValueError>(who, ": unexpected key '", key, "' (", name_, " keeps ", join(buffer_names_), ")");
      const Tensor<T>& param = params_[g][i];
      if (!value.defined() || value.shape() != param.shape())
        foundry::detail::fail<ValueError>(who, ": '", key, "' has shape ", value.defined() ? value.shape().str() : "undefined",
                                          " but parameter ", i, " of group ", g, " has shape ", param.shape());
      state[g][i].buffers[static_cast<std::size_t>(b - buffer_names_.begin())] = value.clone_data();
      used.insert(key);
    }
    for (std::size_t g = 0; g < params_.size(); ++g)
      for (std::size_t i = 0; i < params_[g].size(); ++i) {
        const ParamState<T>& s = state[g][i];
        for (std::size_t b = 0; b < buffer_names_.size(); ++b) {
          if (s.step == 0 && s.buffers[b].defined())
            foundry::detail::fail<ValueError>(who, ": '", state_key(g, i, buffer_names_[b]), "' comes without '",
                                              state_key(g, i, "step"), "'");
          if (s.step > 0 && buffers_required_ && !s.buffers[b].defined())
            foundry::detail::fail<ValueError>(who, ": missing key '", state_key(g, i, buffer_names_[b]), "' (",
                                              state_key(g, i, "step"), " is present)");
        }
      }

    steps_ = steps;
    for (std::size_t g = 0; g < params_.size(); ++g) set_hyperparameters(g, hyper[g]);
    state_ = std::move(state);
  }

 protected:
  // groups: the parameters of each group. buffer_names: the per-parameter buffers this optimizer keeps;
  // buffers_required: whether every parameter with state has all of them (Adam) or only some (Sgd).
  Optimizer(std::string name, const std::vector<std::vector<Tensor<T>>>& groups, std::vector<std::string> buffer_names,
            bool buffers_required)
      : name_(std::move(name)), params_(groups), buffer_names_(std::move(buffer_names)), buffers_required_(buffers_required) {
    std::set<const void*> seen;
    for (std::size_t g = 0; g < params_.size(); ++g)
      for (std::size_t i = 0; i < params_[g].size(); ++i) {
        const Tensor<T>& p = params_[g][i];
        if (!p.defined()) foundry::detail::fail<ValueError>(name_, ": parameter ", i, " of group ", g, " is undefined");
        if (!p.is_leaf())
          foundry::detail::fail<ValueError>(name_, ": parameter ", i, " of group ", g, " is not a leaf tensor; optimize the "
                                            "tensor you created, not a result computed from it");
        if (!p.is_contiguous())
          foundry::detail::fail<ValueError>(name_, ": parameter ", i, " of group ", g, " (shape ", p.shape(), ", strides ",
                                            p.strides(), ") is not contiguous");
        if (!seen.insert(p.impl_ptr().get()).second)
          foundry::detail::fail<ValueError>(name_, ": parameter ", i, " of group ", g,
                                            " appears twice; each parameter may belong to one group only");
      }
    if (seen.empty()) foundry::detail::fail<ValueError>(name_, ": got an empty parameter list");
    state_.resize(params_.size());
    for (std::size_t g = 0; g < params_.size(); ++g) state_[g].resize(params_[g].size(), empty_state());
  }

  // The hyperparameters of a group by name (state dict order), and their replacement after a load.
  virtual std::vector<std::pair<std::string, double>> hyperparameters(std::size_t group) const = 0;
  virtual void set_hyperparameters(std::size_t group, const std::vector<std::pair<std::string, double>>& values) = 0;
  // Throws ValueError (message starting with `context`) when the values are not valid for this optimizer.
  virtual void check_hyperparameters(std::size_t group, const std::vector<std::pair<std::string, double>>& values,
                                     const std::string& context) const = 0;

  // Calls update(group, p, grad, state) for every parameter that requires grad and has a gradient, after
  // counting the step in its state; grad is contiguous with p's shape. Counts one step() call.
  template <class F>
  void for_each_update(F&& update) {
    for (std::size_t g = 0; g < params_.size(); ++g)
      for (std::size_t i = 0; i < params_[g].size(); ++i) {
        const Tensor<T>& p = params_[g][i];
        if (!p.requires_grad()) continue;
        Tensor<T> grad = p.grad();
        if (!grad.defined()) continue;
        if (grad.shape() != p.shape())
          foundry::detail::fail<ShapeError>(name_, ".step: gradient of parameter ", i, " of group ", g, " has shape ",
                                            grad.shape(), " but the parameter has shape ", p.shape());
        if (!grad.is_contiguous()) grad = grad.clone_data();  // only a hand-set grad is ever strided
        ParamState<T>& s = state_[g][i];
        ++s.step;
        update(g, p, static_cast<const T*>(grad.data()), s);
        p.storage()->bump_version();
      }
    ++steps_;
  }

  std::size_t check_group(const char* what, std::size_t group) const {
    if (group >= params_.size())
      foundry::detail::fail<IndexError>(name_, ".", what, ": group ", group, " out of range for ", params_.size(), " groups");
    return group;
  }

 private:
  ParamState<T> empty_state() const { return ParamState<T>{0, std::vector<Tensor<T>>(buffer_names_.size())}; }
  static Tensor<T> scalar(double v) { return Tensor<T>::scalar(static_cast<T>(v)); }
  static std::string group_key(std::size_t g, const std::string& name) { return "group." + std::to_string(g) + "." + name; }
  static std::string state_key(std::size_t g, std::size_t i, const std::string& name) {
    return "state." + std::to_string(g) + "." + std::to_string(i) + "." + name;
  }
  static std::string join(const std::vector<std::string>& names) {
    std::string s = "[";
    for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
    return s + "]";
  }
  std::string layout() const {
    std::string s = name_ + " has " + std::to_string(params_.size()) + " groups of sizes [";
    for (std::size_t g = 0; g < params_.size(); ++g) s += (g ? ", " : "") + std::to_string(params_[g].size());
    return s + "]";
  }

  std::string name_;
  std::vector<std::vector<Tensor<T>>> params_;
  std::vector<std::vector<ParamState<T>>> state_;
  std::vector<std::string> buffer_names_;
  bool buffers_required_;
  std::int64_t steps_ = 0;
};

// An optimizer whose groups carry typed hyperparameters. Options is a plain struct with defaults, a
// static visit(options, f) that calls f(name, field) for every field, and check(who, group) that throws
// ValueError for invalid values. The constructor fills each group's unset fields from the defaults.
template <class T, class Options>
class OptimizerWith : public Optimizer<T> {
 public:
  const Options& options(std::size_t group) const { return options_.at(this->check_group("options", group)); }
  void set_options(std::size_t group, const Options& options) {
    options.check(this->type_name(), this->check_group("set_options", group));
    options_[group] = options;
  }
  double lr(std::size_t group) const override { return options(group).lr; }
  void set_lr(std::size_t group, double lr) override {
    Options o = options(group);
    o.lr = lr;
    set_options(group, o);
  }

 protected:
  OptimizerWith(std::string name, const std::vector<ParamGroup<T>>& groups, const Options& defaults,
                std::vector<std::string> buffer_names, bool buffers_required)
      : Optimizer<T>(name, params_of(groups), std::move(buffer_names), buffers_required) {
    defaults.check(name, std::nullopt);
    for (std::size_t g = 0; g < groups.size(); ++g) options_.push_back(resolve(name, groups[g], g, defaults));
  }

  std::vector<std::pair<std::string, double>> hyperparameters(std::size_t group) const override {
    std::vector<std::pair<std::string, double>> out;
    Options::visit(options_[group], [&](const char* name, const auto& v) { out.emplace_back(name, static_cast<double>(v)); });
    return out;
  }
  void set_hyperparameters(std::size_t group, const std::vector<std::pair<std::string, double>>& values) override {
    options_[group] = from_values(values);
  }
  void check_hyperparameters(std::size_t group, const std::vector<std::pair<std::string, double>>& values,
                             const std::string& context) const override {
    try {
      from_values(values).check(this->type_name(), group);
    } catch (const ValueError& e) {
      throw ValueError(context + ": " + e.what());
    }
  }

  std::vector<Options> options_;

 private:
  static std::vector<std::vector<Tensor<T>>> params_of(const std::vector<ParamGroup<T>>& groups) {
    std::vector<std::vector<Tensor<T>>> out;
    for (const auto& g : groups) out.push_back(g.params);
    return out;
  }
  static Options resolve(const std::string& name, const ParamGroup<T>& group, std::size_t g, const Options& defaults) {
    Options o = defaults;
    ParamGroup<T>::visit(group, [&](const char* field, const auto& value) {
      if (!value) return;
      bool known = false;
      Options::visit(o, [&](const char* own, auto& slot) {
        if (std::string_view(own) != field) return;
        slot = static_cast<std::remove_reference_t<decltype(slot)>>(*value);
        known = true;
      });
      if (!known) foundry::detail::fail<ValueError>(name, ": group ", g, " sets ", field, ", which ", name, " does not use");
    });
    o.check(name, g);
    return o;
  }
  Options from_values(const std::vector<std::pair<std::string, double>>& values) const {
    Options o;
    std::size_t k = 0;
    Options::visit(o, [&](const char*, auto& slot) {
      using Slot = std::remove_reference_t<decltype(slot)>;
      if constexpr (std::is_same_v<Slot, bool>) slot = values[k++].second != 0;
      else slot = static_cast<Slot>(values[k++].second);
    });
    return o;
  }
};

namespace detail {

// Shared checks of the Options structs; `group` is nullopt for the defaults.
inline std::string group_suffix(std::optional<std::size_t> group) {
  return group ? " (group " + std::to_string(*group) + ")" : std::string();
}
inline void check_at_least_zero(const std::string& who, const char* name, double v, std::optional<std::size_t> group) {
  if (!(v >= 0) || !std::isfinite(v))
    foundry::detail::fail<ValueError>(who, ": ", name, " must be a finite number >= 0, got ", v, group_suffix(group));
}

}  // namespace detail
}  // namespace foundry::optim
