// autograd/checkpoint.hpp: activation checkpointing (Chen et al. 2016, "Training deep nets with
// sublinear memory cost"; torch.utils.checkpoint). checkpoint(fn, inputs, generators) runs fn and
// keeps only its output's values and its inputs: the graph fn built, and every activation it saved for
// backward, is freed at once. Backward runs fn again on the saved inputs with recording on, with the
// generators rewound to where they stood in forward (dropout draws the same masks), and back-propagates
// through that fresh graph. Parameters fn uses get their gradients there, as leaves; the inputs get
// theirs through the checkpoint's node. The recomputation runs the same kernels on the same values, so
// every gradient has the same bits as without the checkpoint (when each input has at most two
// consumers inside fn: a sum of two contributions does not depend on their order).
//
// Costs one more forward of fn per backward; saves everything fn keeps for backward except its inputs.
// Contract: fn is deterministic given its inputs and the generators' states, and does not change them
// in place; gradients reach parameters only by accumulation into .grad() (the recomputed graph is
// backpropagated as a whole).
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "foundry/autograd/engine.hpp"
#include "foundry/core/generator.hpp"

namespace foundry::autograd {

namespace detail {

struct GeneratorState {
  Generator* generator;
  std::uint64_t seed, offset;
};

inline std::vector<GeneratorState> generator_states(const std::vector<Generator*>& generators) {
  std::vector<GeneratorState> s;
  s.reserve(generators.size());
  for (Generator* g : generators) s.push_back({g, g->seed(), g->offset()});
  return s;
}

inline void restore(const std::vector<GeneratorState>& states) {
  for (const auto& s : states) s.generator->set_state(s.seed, s.offset);
}

}  // namespace detail

// Usage: h = autograd::checkpoint<float>([&layer, mask](const auto& x) { return layer->forward(x[0], mask); },
//                                        {h}, {&generator});
// fn: (const std::vector<Tensor<T>>&) -> Tensor<T>, called with `inputs` in forward and with detached
// copies of them (same storage, requires_grad as the originals) in backward; it must capture by value
// whatever it needs then. generators: every Generator fn draws from (its dropouts'), rewound for the
// recomputation and put back afterwards. Without grad mode, or when nothing fn computes needs a
// gradient, it simply returns fn(inputs).
template <class T, class Fn>
Tensor<T> checkpoint(Fn&& fn, std::vector<Tensor<T>> inputs, std::vector<Generator*> generators = {}) {
  for (const auto& x : inputs)
    if (!x.defined()) foundry::detail::fail<ValueError>("checkpoint: input ", &x - inputs.data(), " is undefined");
  if (!is_grad_enabled()) return fn(inputs);
  std::vector<detail::GeneratorState> states = detail::generator_states(generators);
  // Forward with recording on, as the recomputation will run: the same code paths, the same bits.
  // Only whether the output needs a gradient is kept of the graph.
  Tensor<T> output;
  {
    const Tensor<T> y = fn(inputs);
    if (!y.requires_grad()) return y;
    output = y.detach();
  }  // y's graph, with everything it saved for backward, is freed here
  std::function<Tensor<T>(const std::vector<Tensor<T>>&)> body(std::forward<Fn>(fn));
  auto backward = [body = std::move(body), inputs, generators = std::move(generators), states = std::move(states)](const Tensor<T>& grad_y) {
    std::vector<Tensor<T>> xs;
    xs.reserve(inputs.size());
    for (const auto& x : inputs) xs.push_back(x.requires_grad() ? x.detach().requires_grad_(true) : x.detach());
    const std::vector<detail::GeneratorState> now = detail::generator_states(generators);
    detail::restore(states);
    Tensor<T> y;
    try {
      GradModeGuard recording(true);
      y = body(xs);
    } catch (...) {
      detail::restore(now);
      throw;
    }
    detail::restore(now);
    if (!y.requires_grad() || y.shape() != grad_y.shape())
      foundry::detail::fail<AutogradError>("checkpoint: the recomputation gave shape ", y.shape(),
                                           y.requires_grad() ? "" : " without a graph", ", forward gave ", grad_y.shape(),
                                           ": the checkpointed function is not deterministic");
    y.backward(grad_y);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].requires_grad()) continue;
      const Tensor<T> g = xs[i].grad();
      if (!g.defined()) continue;  // the output does not depend on this input
      const GradSlot<T> slot = inputs[i].grad_slot();
      if (slot.accumulate) slot.buffer.array() += g.array();
      else slot.buffer.array() = g.array();
    }
  };
  // Edges lead to the inputs' producers (parameters get their gradients inside the recomputation); a
  // node without any still runs, as the producer of the output. Every input's version is watched.
  auto node = std::make_shared<FunctionNode<T, decltype(backward)>>("checkpoint", output, std::move(backward));
  for (const auto& x : inputs) node->add_input(x);
  output.impl().grad_fn = node;
  output.impl().requires_grad = true;
  return output;
}

// fn(inputs) through checkpoint() when `on`, else called straight: the switch behind the models'
// set_gradient_checkpointing (on = the switch and training mode), one layer at a time.
// Usage: h = checkpoint_if<T>(on, [layer, mask](const auto& x) { return layer->forward(x[0], mask); }, {h}, {gen});
template <class T, class Fn>
Tensor<T> checkpoint_if(bool on, Fn&& fn, std::vector<Tensor<T>> inputs, std::vector<Generator*> generators = {}) {
  if (!on) return fn(inputs);
  return checkpoint<T>(std::forward<Fn>(fn), std::move(inputs), std::move(generators));
}

}  // namespace foundry::autograd

namespace foundry {
using autograd::checkpoint;
using autograd::checkpoint_if;
}
