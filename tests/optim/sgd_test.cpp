// tests/optim/sgd_test.cpp mirrors include/foundry/optim/sgd.hpp
#include "foundry/optim/sgd.hpp"

#include <memory>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using optim::ParamGroup;
using optim::Sgd;
using optim::SgdOptions;
using testing::HasSubstr;
using testing::StrEq;
using testing::ThrowsMessage;

using Params = std::vector<Tensor<double>>;

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

TEST(Sgd, PlainMatchesTorch) {
  expect_matches_torch<double>("sgd.safetensors", "plain", 0, [](const Params& g0, const Params& g1) {
    return std::make_unique<Sgd<double>>(std::vector<ParamGroup<double>>{{.params = g0}, {.params = g1}}, SgdOptions{.lr = 0.1});
  }, 1e-15, 1e-12);
}

TEST(Sgd, MomentumDampeningWeightDecayMatchTorch) {
  expect_matches_torch<double>("sgd.safetensors", "momentum", 4, [](const Params& g0, const Params& g1) {
    return std::make_unique<Sgd<double>>(
        std::vector<ParamGroup<double>>{{.params = g0}, {.params = g1, .lr = 0.02, .momentum = 0.5, .dampening = 0.0}},
        SgdOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
  }, 1e-15, 1e-12);
}

TEST(Sgd, NesterovMatchesTorch) {
  expect_matches_torch<double>("sgd.safetensors", "nesterov", 4, [](const Params& g0, const Params& g1) {
    return std::make_unique<Sgd<double>>(std::vector<ParamGroup<double>>{{.params = g0}, {.params = g1, .weight_decay = 0.0}},
                                         SgdOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  }, 1e-15, 1e-12);
}

TEST(Sgd, MatchesHandWorkedMomentum) {
  // p = 1, g = 0.5, lr 0.1, momentum 0.9: buf = 0.5, p = 0.95; then buf = 0.9·0.5 + 0.5 = 0.95, p = 0.855.
  auto p = Tensor<double>::from({1.0}).requires_grad_(true);
  Sgd<double> opt({p}, {.lr = 0.1, .momentum = 0.9});
  p.set_grad(Tensor<double>::from({0.5}));
  opt.step();
  EXPECT_DOUBLE_EQ(p.item(), 0.95);
  opt.step();
  EXPECT_DOUBLE_EQ(p.item(), 0.855);
  EXPECT_DOUBLE_EQ(opt.state(0, 0).buffers[0].item(), 0.95);
  EXPECT_EQ(opt.state(0, 0).step, 2);
}

TEST(Sgd, WithoutMomentumKeepsNoBuffer) {
  auto p = Tensor<double>::from({1.0, 2.0}).requires_grad_(true);
  Sgd<double> opt({p}, {.lr = 0.5});
  p.set_grad(Tensor<double>::from({2.0, -2.0}));
  opt.step();
  EXPECT_EQ(p, Tensor<double>::from({0.0, 3.0}));
  const auto state = opt.state_dict();
  EXPECT_EQ(state.count("state.0.0.step"), 1u);
  EXPECT_EQ(state.count("state.0.0.momentum_buffer"), 0u);
}

TEST(Sgd, RejectsBadHyperparameters) {
  auto p = Tensor<double>::zeros({2}).requires_grad_(true);
  EXPECT_THAT([&] { Sgd<double>({p}, {.lr = -0.1}); },
              ThrowsMessage<ValueError>(StrEq("Sgd: lr must be a finite number >= 0, got -0.1")));
  EXPECT_THAT([&] { Sgd<double>({p}, {.lr = 0.1, .momentum = -0.5}); },
              ThrowsMessage<ValueError>(StrEq("Sgd: momentum must be a finite number >= 0, got -0.5")));
  EXPECT_THAT([&] { Sgd<double>({p}, {.lr = 0.1, .weight_decay = -1}); },
              ThrowsMessage<ValueError>(HasSubstr("weight_decay must be a finite number >= 0, got -1")));
  EXPECT_THAT([&] { Sgd<double>({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
              ThrowsMessage<ValueError>(StrEq("Sgd: nesterov momentum needs momentum > 0 and dampening 0, got momentum 0.9 "
                                              "and dampening 0.1")));
  EXPECT_THAT([&] { Sgd<double>(std::vector<ParamGroup<double>>{{.params = {p}, .lr = -2.0}}, {.lr = 0.1}); },
              ThrowsMessage<ValueError>(StrEq("Sgd: lr must be a finite number >= 0, got -2 (group 0)")));
  EXPECT_THAT([&] { Sgd<double>(std::vector<ParamGroup<double>>{{.params = {p}, .beta1 = 0.9}}); },
              ThrowsMessage<ValueError>(StrEq("Sgd: group 0 sets beta1, which Sgd does not use")));
}

}  // namespace
}  // namespace foundry
