// autograd/node.hpp: the recorded graph. An op whose inputs require grad calls record(): the output
// gets a Node holding the op's backward closure. The Node owns the gradient buffer of its output;
// consumers write into it, and when the Node runs its closure writes into its inputs' buffers (a
// leaf's buffer is its .grad()). The first contribution to a buffer assigns (no zero fill), every
// later one adds, so a tensor used twice gets both contributions. The traversal lives in engine.hpp.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "foundry/autograd/grad_mode.hpp"
#include "foundry/core/tensor.hpp"

namespace foundry::autograd {

class Node {
 public:
  explicit Node(const char* name) : name_(name) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const char* name() const { return name_; }
  // Producers of this node's inputs: the nodes backward visits after this one.
  const std::vector<std::shared_ptr<Node>>& next() const { return next_; }
  bool released() const { return released_; }

  // Adds this node's contribution into its inputs' gradient buffers.
  virtual void apply() = 0;
  // The gradient buffer of the output, a Tensor<T> for the output's T, created on first use: zero-filled
  // when fresh is null, else uninitialised with *fresh set (the caller then writes every element).
  // *fresh is false whenever the buffer already existed.
  virtual void* grad_buffer_erased(bool* fresh) = 0;
  // Makes the output gradient visible as .grad() of the output tensor when it asked retain_grad().
  virtual void publish_retained_grad() = 0;
  // Drops the output gradient buffer (after apply()).
  virtual void clear_grad() = 0;
  // Frees the closure and everything it captured: the graph cannot be replayed afterwards.
  virtual void release() {
    released_ = true;
    next_.clear();
  }

 protected:
  std::vector<std::shared_ptr<Node>> next_;
  bool released_ = false;

 private:
  const char* name_;
};

// The saved-tensor check: an input modified in place after it was recorded would corrupt backward.
// It watches the storage without owning it: a closure that reads an input's values captures the
// input and so keeps it alive; one that does not (add, dropout) lets it go after forward, and a
// storage that is gone cannot have been modified.
template <class T>
struct SavedVersion {
  std::weak_ptr<Storage<T>> storage;
  std::uint64_t version;
};

template <class T, class Backward>
class FunctionNode final : public Node {
 public:
  FunctionNode(const char* name, const Tensor<T>& output, Backward backward)
      : Node(name), shape_(output.shape()), output_(output.impl_ptr()), backward_(std::move(backward)) {}

  void add_input(const Tensor<T>& x) {
    if (x.storage()) saved_.push_back({x.storage(), x.storage()->version()});
    if (x.grad_fn()) next_.push_back(x.grad_fn());
  }
  // Also saved: the output, when the closure reads its values (exp, tanh, softmax, ...).
  void save_output_version(const Tensor<T>& y) { saved_.push_back({y.storage(), y.storage()->version()}); }

  void* grad_buffer_erased(bool* fresh) override {
    if (fresh) *fresh = !grad_.defined();
    if (!grad_.defined()) grad_ = fresh ? Tensor<T>::empty(shape_) : Tensor<T>::zeros(shape_);
    return &grad_;
  }

  void apply() override {
    if (released_ || !backward_)
      foundry::detail::fail<AutogradError>(
          "backward: the graph through '", name(),
          "' was already freed by an earlier backward; pass retain_graph=true to backward through it twice");
    for (const auto& s : saved_) {
      const auto storage = s.storage.lock();
      if (storage && storage->version() != s.version)
        foundry::detail::fail<AutogradError>(
            "backward: a tensor saved by '", name(),
            "' was modified by an in-place operation after it was used; clone() it before changing it");
    }
    if (!grad_.defined()) return;  // no consumer contributed: nothing flows further
    (*backward_)(grad_);
  }

  // Runs before apply(), so the closure may treat grad_ as scratch.
  void publish_retained_grad() override {
    auto out = output_.lock();
    if (!out || !out->retains_grad || !grad_.defined()) return;
    if (out->grad) Tensor<T>(out->grad).array() += grad_.array();
    else out->grad = grad_.clone_data().impl_ptr();
  }

  void clear_grad() override { grad_ = Tensor<T>(); }

  void release() override {
    Node::release();
    backward_.reset();
    saved_.clear();
  }

 private:
  Shape shape_;
  std::weak_ptr<TensorImpl<T>> output_;
  std::optional<Backward> backward_;
  std::vector<SavedVersion<T>> saved_;
  Tensor<T> grad_;
};

// Records `output = name(inputs...)` when grad mode is on and any input requires grad; otherwise
// returns output untouched and drops the closure. backward(grad_output), where grad_output is
// contiguous with the output's shape, contributes to each input that requires grad (check
// x.requires_grad() first): through x.grad_slot() when it writes every element (assign when
// !slot.accumulate, else add), or by ADDING into x.grad_ref() (zero-filled on first use) when it
// writes only some (scatters). It captures only what it needs. Capture an output as output.detach()
// (a handle without the graph), and pass save_output = true so in-place edits are caught.
template <class T, class Backward>
Tensor<T> record(const char* name, Tensor<T> output, std::initializer_list<Tensor<T>> inputs, Backward&& backward,
                 bool save_output = false) {
  if (!is_grad_enabled()) return output;
  bool any = false;
  for (const auto& x : inputs) any = any || (x.defined() && x.requires_grad());
  if (!any) return output;
  using Fn = std::decay_t<Backward>;
  auto node = std::make_shared<FunctionNode<T, Fn>>(name, output, std::forward<Backward>(backward));
  for (const auto& x : inputs)
    if (x.defined()) node->add_input(x);
  if (save_output) node->save_output_version(output);
  output.impl().grad_fn = node;
  output.impl().requires_grad = true;
  return output;
}

}  // namespace foundry::autograd
