// optim/sgd.hpp: stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight
// decay, in exactly torch.optim.SGD's order of operations (so float results match PyTorch's closely and
// double results to rounding). The update is one fused pass per parameter; see optimizer.hpp for groups,
// skipping and state dicts.
#pragma once

#include "foundry/optim/optimizer.hpp"

namespace foundry::optim {

struct SgdOptions {
  double lr = 1e-3;
  double momentum = 0;   // 0: plain SGD, no buffer
  double dampening = 0;  // the new gradient enters the buffer with weight 1 - dampening
  double weight_decay = 0;
  bool nesterov = false;

  template <class O, class F>
  static void visit(O& o, F&& f) {
    f("lr", o.lr), f("momentum", o.momentum), f("dampening", o.dampening), f("weight_decay", o.weight_decay);
    f("nesterov", o.nesterov);
  }
  void check(const std::string& who, std::optional<std::size_t> group) const {
    detail::check_at_least_zero(who, "lr", lr, group);
    detail::check_at_least_zero(who, "momentum", momentum, group);
    detail::check_at_least_zero(who, "weight_decay", weight_decay, group);
    if (!std::isfinite(dampening))
      foundry::detail::fail<ValueError>(who, ": dampening must be finite, got ", dampening, detail::group_suffix(group));
    if (nesterov && (momentum <= 0 || dampening != 0))
      foundry::detail::fail<ValueError>(who, ": nesterov momentum needs momentum > 0 and dampening 0, got momentum ",
                                        momentum, " and dampening ", dampening, detail::group_suffix(group));
  }
};

// Per parameter p with gradient g (torch.optim.SGD):
//   d = g + weight_decay·p
//   buf = d on the first step, else momentum·buf + (1 - dampening)·d
//   d = d + momentum·buf (nesterov) or buf
//   p = p - lr·d
// Usage:
//   optim::Sgd<float> opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
template <class T>
class Sgd : public OptimizerWith<T, SgdOptions> {
 public:
  Sgd(const std::vector<Tensor<T>>& params, const SgdOptions& defaults = {})
      : Sgd(std::vector<ParamGroup<T>>{ParamGroup<T>{.params = params}}, defaults) {}
  Sgd(const std::vector<ParamGroup<T>>& groups, const SgdOptions& defaults = {})
      : OptimizerWith<T, SgdOptions>("Sgd", groups, defaults, {"momentum_buffer"}, /*buffers_required=*/false) {}

  void step() override {
    this->for_each_update([this](std::size_t g, const Tensor<T>& p, const T* grad, ParamState<T>& state) {
      const SgdOptions& o = this->options_[g];
      // Coefficients are rounded to T once, as PyTorch does with Python numbers.
      const T wd = static_cast<T>(o.weight_decay), momentum = static_cast<T>(o.momentum),
              keep = static_cast<T>(1 - o.dampening), neg_lr = static_cast<T>(-o.lr);
      Tensor<T>& buffer = state.buffers[0];
      const bool first = !buffer.defined();
      if (o.momentum != 0 && first) buffer = Tensor<T>::empty(p.shape());
      T* data = p.data();
      T* buf = o.momentum != 0 ? buffer.data() : nullptr;
      detail::for_each_block(p.numel(), [&](Index b, Index n) {
        detail::ArraySeg<T> P(data + b, n);
        detail::ConstArraySeg<T> G(grad + b, n);
        auto update = [&](const auto& d) {  // d: the decayed gradient, an expression still reading the old P
          if (!buf) {
            P = P + neg_lr * d;
            return;
          }
          detail::ArraySeg<T> B(buf + b, n);
          if (first) B = d;
          else B = B * momentum + keep * d;
          if (o.nesterov) P = P + neg_lr * (d + momentum * B);
          else P = P + neg_lr * B;
        };
        if (o.weight_decay != 0) update(G + wd * P);
        else update(G);
      });
    });
  }
};

}  // namespace foundry::optim
