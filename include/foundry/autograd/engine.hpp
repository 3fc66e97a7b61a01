// autograd/engine.hpp: reverse-mode traversal. backward() orders the nodes reachable from the root
// so that each runs after every node that consumes its output (Kahn's algorithm on consumer counts),
// runs each closure once, and frees the graph as it goes unless retain_graph is set.
#pragma once

#include <unordered_map>
#include <vector>

#include "foundry/autograd/node.hpp"

namespace foundry {

namespace autograd::detail {

inline void run_backward(const std::shared_ptr<Node>& root, bool retain_graph) {
  // Count, for every reachable node, how many edges lead into it from other reachable nodes.
  std::unordered_map<Node*, int> consumers;
  std::vector<Node*> stack{root.get()};
  consumers[root.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const auto& p : n->next()) {
      auto [it, inserted] = consumers.try_emplace(p.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(p.get());
    }
  }
  // Hold the root alive: releasing nodes may drop the last reference to their producers.
  std::shared_ptr<Node> keep_root = root;
  std::vector<std::shared_ptr<Node>> ready{root};
  NoGradGuard no_grad;  // closures compute with plain kernels; nothing they do is recorded
  while (!ready.empty()) {
    std::shared_ptr<Node> n = std::move(ready.back());
    ready.pop_back();
    n->publish_retained_grad();
    n->apply();
    n->clear_grad();  // the output gradient is dead once its node has run: free it now
    for (const auto& p : n->next())
      if (--consumers[p.get()] == 0) ready.push_back(p);
    if (!retain_graph) n->release();
  }
}

}  // namespace autograd::detail

template <class T>
Tensor<T> Tensor<T>::grad_ref() const {
  auto& im = impl();
  if (im.grad_fn) return *static_cast<Tensor<T>*>(im.grad_fn->grad_buffer_erased(nullptr));
  if (!im.grad) im.grad = Tensor<T>::zeros(shape()).impl_ptr();
  Tensor<T> g(im.grad);
  if (!g.is_contiguous() || g.shape() != shape()) {  // a user-set gradient of another layout
    g = g.broadcast_to(shape()).clone_data();
    im.grad = g.impl_ptr();
  }
  return g;
}

template <class T>
GradSlot<T> Tensor<T>::grad_slot() const {
  auto& im = impl();
  if (im.grad_fn) {
    bool fresh = false;
    Tensor<T> g = *static_cast<Tensor<T>*>(im.grad_fn->grad_buffer_erased(&fresh));
    return {std::move(g), !fresh};
  }
  if (im.grad) return {grad_ref(), true};
  Tensor<T> g = Tensor<T>::empty(shape());  // a leaf's first gradient
  im.grad = g.impl_ptr();
  return {std::move(g), false};
}

// Computes d(this)/d(leaf) for every leaf that requires grad and adds it into leaf.grad().
// grad_output may be omitted for a one-element tensor (it is then 1).
template <class T>
void Tensor<T>::backward(const Tensor& grad_output, bool retain_graph) const {
  if (!requires_grad())
    foundry::detail::fail<AutogradError>("backward: tensor of shape ", shape(),
                                         " does not require grad (no input of the computation required grad)");
  Tensor g = grad_output;
  if (!g.defined()) {
    if (numel() != 1)
      foundry::detail::fail<AutogradError>("backward: grad_output may be omitted only for a one-element tensor, got shape ",
                                           shape());
    g = Tensor::ones(shape());
  } else if (g.shape() != shape()) {
    foundry::detail::fail<ShapeError>("backward: grad_output shape ", g.shape(), " does not match tensor shape ", shape());
  }
  const GradSlot<T> slot = grad_slot();
  if (slot.accumulate) slot.buffer.array() += g.contiguous_data().array();
  else detail::copy_to_contiguous(g, slot.data());
  if (!is_leaf()) autograd::detail::run_backward(grad_fn(), retain_graph);
}

}  // namespace foundry
