// nn/module.hpp: Module<T>, the base of every layer and model. A module registers its parameters,
// buffers and child modules by name where it creates them; everything else (dotted parameter paths,
// train/eval, freezing, state dicts) walks that registry. Ownership idiom, used everywhere: parameters
// and buffers are Tensor handles and children are std::shared_ptr, held both by the member that
// forward() uses and by the registry, so both always see the same object.
//
//   template <class T> class Block : public nn::Module<T> {
//    public:
//     explicit Block(Index c) : proj_(this->register_module("proj", std::make_shared<nn::Linear<T>>(c, c))) {}
//     Tensor<T> forward(const Tensor<T>& x) const { return proj_->forward(x); }
//    private:
//     std::shared_ptr<nn::Linear<T>> proj_;
//   };
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "foundry/core/tensor.hpp"

namespace foundry::nn {

// What load_state_dict found, as Hugging Face reports it.
struct LoadResult {
  std::vector<std::string> missing_keys;     // expected by the module, absent from the dict
  std::vector<std::string> unexpected_keys;  // in the dict, unknown to the module
};

template <class T>
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;  // a copy would silently share parameters: be explicit instead
  Module& operator=(const Module&) = delete;
  Module(Module&&) noexcept = default;
  Module& operator=(Module&&) noexcept = default;

  // A short type name for printing ("Linear", "BertModel").
  virtual std::string type_name() const { return "Module"; }

  // ---- registration ------------------------------------------------------------------------
  Tensor<T> register_parameter(const std::string& name, Tensor<T> value, bool requires_grad = true) {
    check_new_name(name);
    if (!value.is_leaf()) detail::fail<ValueError>("register_parameter: '", name, "' must be a leaf tensor");
    value.requires_grad_(requires_grad);
    parameters_.emplace_back(name, value);
    return value;
  }
  Tensor<T> register_buffer(const std::string& name, Tensor<T> value) {
    check_new_name(name);
    buffers_.emplace_back(name, value);
    return value;
  }
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    static_assert(std::is_base_of_v<Module<T>, M>, "register_module: child must derive from Module<T>");
    check_new_name(name);
    if (!child) detail::fail<ValueError>("register_module: child '", name, "' is null");
    children_.emplace_back(name, child);
    return child;
  }

  // ---- traversal ---------------------------------------------------------------------------
  // Parameters with their dotted paths ("encoder.layer.0.attention.self.query.weight"), depth first
  // in registration order, each shared tensor once.
  std::vector<std::pair<std::string, Tensor<T>>> named_parameters() const {
    std::vector<std::pair<std::string, Tensor<T>>> out;
    std::set<const void*> seen;
    visit_named("", [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, p] : m.parameters_)
        if (seen.insert(p.impl_ptr().get()).second) out.emplace_back(prefix + name, p);
    });
    return out;
  }
  std::vector<Tensor<T>> parameters() const {
    std::vector<Tensor<T>> out;
    for (auto& [name, p] : named_parameters()) out.push_back(p);
    return out;
  }
  std::vector<std::pair<std::string, Tensor<T>>> named_buffers() const {
    std::vector<std::pair<std::string, Tensor<T>>> out;
    visit_named("", [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, b] : m.buffers_) out.emplace_back(prefix + name, b);
    });
    return out;
  }
  // Every module of the tree with its path ("" for this one), depth first.
  std::vector<std::pair<std::string, const Module*>> named_modules() const {
    std::vector<std::pair<std::string, const Module*>> out;
    visit_named("", [&](const std::string& prefix, const Module& m) {
      out.emplace_back(prefix.empty() ? prefix : prefix.substr(0, prefix.size() - 1), &m);
    });
    return out;
  }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // Calls fn on this module and every descendant.
  void apply(const std::function<void(Module&)>& fn) {
    fn(*this);
    for (auto& [name, c] : children_) c->apply(fn);
  }

  // ---- modes -------------------------------------------------------------------------------
  // Training mode (dropout active) for the whole subtree; eval() turns it off.
  void train(bool on = true) {
    apply([on](Module& m) { m.training_ = on; });
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Freezes (false) or unfreezes (true) every parameter of the subtree.
  void requires_grad_(bool on) {
    for (auto& p : parameters()) p.requires_grad_(on);
  }
  void zero_grad() {
    for (auto& p : parameters()) p.zero_grad();
  }
  // Number of parameter elements (only those that require grad, when trainable_only).
  Index num_parameters(bool trainable_only = false) const {
    Index n = 0;
    for (const auto& p : parameters())
      if (!trainable_only || p.requires_grad()) n += p.numel();
    return n;
  }

  // ---- state -------------------------------------------------------------------------------
  // Parameters and buffers by dotted path; the tensors are detached handles sharing storage.
  std::map<std::string, Tensor<T>> state_dict() const {
    std::map<std::string, Tensor<T>> out;
    for (const auto& [name, p] : named_parameters()) out.emplace(name, p.detach());
    for (const auto& [name, b] : named_buffers()) out.emplace(name, b.detach());
    return out;
  }

  // Copies values into the existing tensors (so optimizers and members keep their handles).
  // A shape mismatch is always an error naming the key and both shapes; with strict, so are
  // missing and unexpected keys. Otherwise they are returned, as Hugging Face reports them.
  LoadResult load_state_dict(const std::map<std::string, Tensor<T>>& dict, bool strict = true) {
    LoadResult result;
    std::set<std::string> used;
    auto load = [&](const std::string& name, const Tensor<T>& target) {
      auto it = dict.find(name);
      if (it == dict.end()) {
        result.missing_keys.push_back(name);
        return;
      }
      used.insert(name);
      if (it->second.shape() != target.shape())
        detail::fail<ShapeError>("load_state_dict: '", name, "' has shape ", it->second.shape(), " in the state dict but ",
                                 target.shape(), " in the module");
      detail::copy_to_contiguous(it->second, target.data());
      target.storage()->bump_version();
    };
    for (const auto& [name, p] : named_parameters()) load(name, p);
    for (const auto& [name, b] : named_buffers()) load(name, b);
    for (const auto& [name, t] : dict)
      if (!used.count(name)) result.unexpected_keys.push_back(name);
    if (strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty())) {
      std::ostringstream msg;
      msg << "load_state_dict: ";
      if (!result.missing_keys.empty()) msg << "missing keys " << join(result.missing_keys);
      if (!result.unexpected_keys.empty())
        msg << (result.missing_keys.empty() ? "" : "; ") << "unexpected keys " << join(result.unexpected_keys);
      throw ValueError(msg.str());
    }
    return result;
  }

 protected:
  // Parameters this module registered itself (not its children's).
  const std::vector<std::pair<std::string, Tensor<T>>>& own_parameters() const { return parameters_; }

 private:
  template <class F>
  void visit_named(const std::string& prefix, F&& fn) const {
    fn(prefix, *this);
    for (const auto& [name, c] : children_) c->visit_named(prefix + name + ".", fn);
  }

  void check_new_name(const std::string& name) const {
    if (name.empty() || name.find('.') != std::string::npos)
      detail::fail<ValueError>("Module: invalid name '", name, "' (non-empty, without '.')");
    auto taken = [&](const auto& list) {
      for (const auto& [n, x] : list)
        if (n == name) return true;
      return false;
    };
    if (taken(parameters_) || taken(buffers_) || taken(children_))
      detail::fail<ValueError>("Module: name '", name, "' registered twice in ", type_name());
  }

  static std::string join(const std::vector<std::string>& keys) {
    std::string s = "[";
    for (std::size_t i = 0; i < keys.size(); ++i) s += (i ? ", " : "") + keys[i];
    return s + "]";
  }

  std::vector<std::pair<std::string, Tensor<T>>> parameters_;
  std::vector<std::pair<std::string, Tensor<T>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace foundry::nn
