// tests/optim/adam_test.cpp mirrors include/foundry/optim/adam.hpp
#include "foundry/optim/adam.hpp"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using optim::Adam;
using optim::AdamOptions;
using optim::AdamW;
using optim::AdamWOptions;
using optim::ParamGroup;
using testing::HasSubstr;
using testing::StrEq;
using testing::ThrowsMessage;

// Runs the optimizer `make` builds over the case's two groups for 10 steps, feeding torch's gradients
// (tests/reference/make_optim_fixtures.py), and compares the parameters after every step and the final
// state with torch.optim's (state_keys: how many state tensors torch kept). Fixture names are
// "<case>.<kind>[.<step>].<group>.<index>".
template <class T, class Make>
void expect_matches_torch(const std::string& file, const std::string& name, int state_keys, Make make, double atol, double rtol) {
  const auto fixture = support::load_fixture<T>("optim/" + file);
  auto at = [](int g, int i) { return "." + std::to_string(g) + "." + std::to_string(i); };
  std::vector<std::vector<Tensor<T>>> params(2);
  for (int g = 0; g < 2; ++g)
    for (int i = 0; i < 2; ++i)
      params[g].push_back(support::fixture_tensor(fixture, name + ".init" + at(g, i)).clone_data().requires_grad_(true));
  std::unique_ptr<optim::Optimizer<T>> opt = make(params[0], params[1]);
  for (int s = 0; s < 10; ++s) {
    const std::string step = "." + std::to_string(s);
    for (int g = 0; g < 2; ++g)
      for (int i = 0; i < 2; ++i) {
        auto grad = fixture.find(name + ".grad" + step + at(g, i));
        if (grad == fixture.end()) params[g][i].zero_grad();  // torch ran this step with grad None
        else params[g][i].set_grad(grad->second.clone_data());
      }
    opt->step();
    for (int g = 0; g < 2; ++g)
      for (int i = 0; i < 2; ++i)
        ASSERT_TRUE(support::allclose(params[g][i], support::fixture_tensor(fixture, name + ".param" + step + at(g, i)), atol, rtol))
            << name << ": parameter" << at(g, i) << " after step " << s;
  }
  const auto state = opt->state_dict();
  const std::string prefix = name + ".state.";
  int compared = 0;
  for (const auto& [k, expected] : fixture) {
    if (!k.starts_with(prefix)) continue;
    const std::string ours = "state." + k.substr(prefix.size());
    ASSERT_TRUE(state.count(ours)) << "state_dict lacks " << ours;
    EXPECT_TRUE(support::allclose(state.at(ours), expected, atol, rtol)) << ours;
    ++compared;
  }
  EXPECT_EQ(compared, state_keys) << name;
}

// The second group of every case (tests/reference/make_optim_fixtures.py): other lr, betas and eps, no decay.
template <class T>
std::vector<ParamGroup<T>> torch_groups(const std::vector<Tensor<T>>& g0, const std::vector<Tensor<T>>& g1) {
  return {{.params = g0}, {.params = g1, .lr = 5e-3, .weight_decay = 0.0, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6}};
}

TEST(Adam, MatchesTorchWithL2WeightDecay) {
  expect_matches_torch<double>("adam.safetensors", "adam", 12, [](const auto& g0, const auto& g1) {
    return std::make_unique<Adam<double>>(torch_groups<double>(g0, g1),
                                          AdamOptions{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01});
  }, 1e-15, 1e-12);
}

TEST(AdamW, MatchesTorchWithDecoupledWeightDecay) {
  expect_matches_torch<double>("adam.safetensors", "adamw", 12, [](const auto& g0, const auto& g1) {
    return std::make_unique<AdamW<double>>(torch_groups<double>(g0, g1), AdamWOptions{.lr = 1e-2, .weight_decay = 0.1});
  }, 1e-15, 1e-12);
}

TEST(AdamW, MatchesTorchInFloat32) {
  expect_matches_torch<float>("adamw_float32.safetensors", "adamw", 12, [](const auto& g0, const auto& g1) {
    return std::make_unique<AdamW<float>>(torch_groups<float>(g0, g1), AdamWOptions{.lr = 1e-2, .weight_decay = 0.1});
  }, 1e-7, 1e-6);
}

TEST(AdamW, MatchesHandWorkedFirstStep) {
  // p = 1, g = 2, lr 0.1, wd 0.1: p·(1 - 0.01) = 0.99; m = 0.2, v = 0.004; bias corrections 0.1 and 0.001,
  // so the step is (0.1 / 0.1) · 0.2 / (sqrt(0.004) / sqrt(0.001) + 1e-8) = 0.2 / (2 + 1e-8).
  auto p = Tensor<double>::from({1.0}).requires_grad_(true);
  AdamW<double> opt({p}, {.lr = 0.1, .weight_decay = 0.1});
  p.set_grad(Tensor<double>::from({2.0}));
  opt.step();
  EXPECT_NEAR(p.item(), 0.99 - 0.2 / (2 + 1e-8), 1e-15);
  EXPECT_NEAR(opt.state(0, 0).buffers[0].item(), 0.2, 1e-15);
  EXPECT_NEAR(opt.state(0, 0).buffers[1].item(), 0.004, 1e-15);
}

TEST(Adam, WeightDecayEntersTheMomentsAndAdamWDoesNot) {
  // With a zero gradient Adam still moves (the L2 term is the gradient); AdamW only shrinks p by lr·wd.
  auto a = Tensor<double>::from({2.0}).requires_grad_(true), w = Tensor<double>::from({2.0}).requires_grad_(true);
  Adam<double> adam({a}, {.lr = 0.1, .weight_decay = 0.5});
  AdamW<double> adamw({w}, {.lr = 0.1, .weight_decay = 0.5});
  a.set_grad(Tensor<double>::zeros({1}));
  w.set_grad(Tensor<double>::zeros({1}));
  adam.step();
  adamw.step();
  EXPECT_NEAR(a.item(), 2.0 - 0.1 / (1 + 1e-8), 1e-15);  // g = 0.5·2 = 1: m̂ = 1, sqrt(v̂) = 1
  EXPECT_DOUBLE_EQ(w.item(), 2.0 * (1 - 0.1 * 0.5));
}

// The textbook AdamW update, one element at a time, for comparison with the fused blocked kernel.
void naive_adamw(std::vector<double>& p, const std::vector<double>& g, std::vector<double>& m, std::vector<double>& v, int step,
                 const AdamWOptions& o) {
  const double c1 = 1 - std::pow(o.beta1, step), c2 = 1 - std::pow(o.beta2, step);
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] *= 1 - o.lr * o.weight_decay;
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
    p[i] -= o.lr / c1 * m[i] / (std::sqrt(v[i]) / std::sqrt(c2) + o.eps);
  }
}

TEST(AdamW, LargeParameterMatchesNaiveLoopForAnyThreadCount) {
  // 100003 elements: many blocks, split over threads, plus a ragged last block.
  Generator gen(5);
  const auto init = support::random_tensor<double>({100003}, gen);
  std::vector<Tensor<double>> grads;
  for (int s = 0; s < 3; ++s) grads.push_back(support::random_tensor<double>({100003}, gen));
  const AdamWOptions options{.lr = 1e-2, .weight_decay = 0.1};
  auto run = [&](int threads) {
    const int before = get_num_threads();
    set_num_threads(threads);
    auto p = init.clone_data().requires_grad_(true);
    AdamW<double> opt({p}, options);
    for (const auto& g : grads) {
      p.set_grad(g);
      opt.step();
    }
    set_num_threads(before);
    return p.detach();
  };
  const auto one = run(1), four = run(4);
  EXPECT_EQ(one, four);  // block boundaries never depend on the thread count

  std::vector<double> p = init.to_vector(), m(p.size(), 0.0), v(p.size(), 0.0);
  for (int s = 0; s < 3; ++s) naive_adamw(p, grads[s].to_vector(), m, v, s + 1, options);
  EXPECT_TRUE(support::allclose(one, Tensor<double>::from(p, {100003}), 1e-14, 1e-12));
}

TEST(AdamW, SteadyStateReusesItsBuffers) {
  auto p = Tensor<float>::zeros({4096}).requires_grad_(true);
  AdamW<float> opt({p});
  p.set_grad(Tensor<float>::ones({4096}));
  opt.step();
  const float* m = opt.state(0, 0).buffers[0].data();
  const float* v = opt.state(0, 0).buffers[1].data();
  const float* data = p.data();
  for (int s = 0; s < 5; ++s) opt.step();
  EXPECT_EQ(opt.state(0, 0).buffers[0].data(), m);
  EXPECT_EQ(opt.state(0, 0).buffers[1].data(), v);
  EXPECT_EQ(p.data(), data);
  EXPECT_EQ(opt.state(0, 0).step, 6);
}

TEST(Adam, RejectsBadHyperparameters) {
  auto p = Tensor<double>::zeros({2}).requires_grad_(true);
  EXPECT_THAT([&] { AdamW<double>({p}, {.lr = -1e-3}); },
              ThrowsMessage<ValueError>(StrEq("AdamW: lr must be a finite number >= 0, got -0.001")));
  EXPECT_THAT([&] { AdamW<double>({p}, {.beta1 = 1.0}); },
              ThrowsMessage<ValueError>(StrEq("AdamW: beta1 must be in [0, 1), got 1")));
  EXPECT_THAT([&] { Adam<double>({p}, {.beta2 = -0.1}); },
              ThrowsMessage<ValueError>(StrEq("Adam: beta2 must be in [0, 1), got -0.1")));
  EXPECT_THAT([&] { Adam<double>({p}, {.eps = 0}); },
              ThrowsMessage<ValueError>(StrEq("Adam: eps must be a finite number > 0, got 0")));
  EXPECT_THAT([&] { AdamW<double>({p}, {.eps = -1e-8}); },
              ThrowsMessage<ValueError>(StrEq("AdamW: eps must be a finite number > 0, got -1e-08")));
  EXPECT_THAT([&] { AdamW<double>({p}, {.weight_decay = -0.01}); },
              ThrowsMessage<ValueError>(HasSubstr("weight_decay must be a finite number >= 0, got -0.01")));
  EXPECT_THAT([&] { AdamW<double>(std::vector<ParamGroup<double>>{{.params = {p}, .beta2 = 1.5}}); },
              ThrowsMessage<ValueError>(StrEq("AdamW: beta2 must be in [0, 1), got 1.5 (group 0)")));
  EXPECT_THAT([&] { AdamW<double>(std::vector<ParamGroup<double>>{{.params = {p}, .momentum = 0.9}}); },
              ThrowsMessage<ValueError>(StrEq("AdamW: group 0 sets momentum, which AdamW does not use")));
  AdamW<double> opt({p});
  EXPECT_THAT([&] { opt.set_lr(0, -1); }, ThrowsMessage<ValueError>(StrEq("AdamW: lr must be a finite number >= 0, got -1 (group 0)")));
  EXPECT_THAT([&] { opt.set_lr(1, 0.1); }, ThrowsMessage<IndexError>(HasSubstr("group 1 out of range for 1 groups")));
}

}  // namespace
}  // namespace foundry
