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

// Sets grad mode for a scope and puts the previous one back when it ends (also by an exception).
// Usage: { GradModeGuard recording(true); y = f(x); }  // recorded even inside a backward closure
class GradModeGuard {
 public:
  explicit GradModeGuard(bool on) : previous_(is_grad_enabled()) { set_grad_enabled(on); }
  ~GradModeGuard() { set_grad_enabled(previous_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

// Usage: { NoGradGuard guard; auto logits = model.forward(x); }  // nothing recorded here
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

}  // namespace foundry::autograd

namespace foundry {
using autograd::GradModeGuard;
using autograd::NoGradGuard;
}
