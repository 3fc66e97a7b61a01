// autograd/grad_mode.hpp: whether ops record graph nodes. Recording is on by default; a
// NoGradGuard turns it off in its scope (inference, optimizer updates, evaluation).
// The flag is per thread, as in PyTorch.
#pragma once

namespace foundry::autograd {

namespace detail {
inline bool& grad_enabled_flag() {
  thread_local bool enabled = true;
  return enabled;
}
}  // namespace detail

inline bool is_grad_enabled() { return detail::grad_enabled_flag(); }
inline void set_grad_enabled(bool on) { detail::grad_enabled_flag() = on; }

// Usage: { NoGradGuard guard; auto logits = model.forward(x); }  // nothing recorded here
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace foundry::autograd

namespace foundry {
using autograd::NoGradGuard;
}
