// tests/optim/schedule_test.cpp mirrors include/foundry/optim/schedule.hpp
#include "foundry/optim/schedule.hpp"

#include <map>
#include <string>
#include <vector>

#include "foundry/optim/sgd.hpp"
#include "support/fixtures.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using optim::ParamGroup;
using optim::Schedule;
using optim::Sgd;
using testing::StrEq;
using testing::ThrowsMessage;

TEST(Schedule, LinearWithWarmupFollowsHuggingFacesFormula) {
  // warmup 10, total 100: step / 10 during warmup, then (100 - step) / 90, never below 0.
  const auto f = optim::linear_with_warmup(10, 100);
  EXPECT_DOUBLE_EQ(f(0), 0.0);  // the first step runs at rate 0, as in HF
  EXPECT_DOUBLE_EQ(f(1), 0.1);
  EXPECT_DOUBLE_EQ(f(5), 0.5);
  EXPECT_DOUBLE_EQ(f(10), 1.0);
  EXPECT_DOUBLE_EQ(f(55), 0.5);
  EXPECT_DOUBLE_EQ(f(99), 1.0 / 90);
  EXPECT_DOUBLE_EQ(f(100), 0.0);
  EXPECT_DOUBLE_EQ(f(150), 0.0);
  EXPECT_DOUBLE_EQ(optim::linear_with_warmup(0, 4)(1), 0.75);
}

TEST(Schedule, CosineWithWarmupFollowsHuggingFacesFormula) {
  // warmup 10, total 100: after warmup (1 + cos(π · progress)) / 2 with progress = (step - 10) / 90.
  const auto f = optim::cosine_with_warmup(10, 100);
  EXPECT_DOUBLE_EQ(f(0), 0.0);
  EXPECT_DOUBLE_EQ(f(5), 0.5);
  EXPECT_DOUBLE_EQ(f(10), 1.0);
  EXPECT_NEAR(f(55), 0.5, 1e-15);                 // progress 1/2: cos(π/2) = 0
  EXPECT_DOUBLE_EQ(f(37), 0.7938926261462366);    // Python: 0.5 * (1 + math.cos(math.pi * 0.3))
  EXPECT_NEAR(f(100), 0.0, 1e-15);
  EXPECT_DOUBLE_EQ(f(110), 0.030153689607045786); // past the end HF's curve climbs again (progress 10/9)
  EXPECT_DOUBLE_EQ(optim::cosine_with_warmup(0, 10, 1.0)(5), 0.0);  // a full cycle: back to 1 at the end
}

TEST(Schedule, ConstantWithWarmup) {
  const auto f = optim::constant_with_warmup(5);
  EXPECT_DOUBLE_EQ(f(0), 0.0);
  EXPECT_DOUBLE_EQ(f(2), 0.4);
  EXPECT_DOUBLE_EQ(f(5), 1.0);
  EXPECT_DOUBLE_EQ(f(1000), 1.0);
  EXPECT_DOUBLE_EQ(optim::constant_with_warmup()(0), 1.0);
}

TEST(Schedule, StandsAloneOverABaseRate) {
  Schedule s(optim::linear_with_warmup(100, 1000), 5e-5);
  EXPECT_DOUBLE_EQ(s.lr_at(50), 2.5e-5);
  EXPECT_DOUBLE_EQ(s.lr_at(100), 5e-5);
  EXPECT_EQ(s.last_step(), 0);
  s.step();
  EXPECT_EQ(s.last_step(), 1);
  EXPECT_THAT(s.last_lrs(), testing::ElementsAre(s.lr_at(1)));
}

// The rates torch.optim.lr_scheduler.LambdaLR sets with HF's lambdas, base lr 2e-3, steps 0..120.
TEST(Schedule, DrivesAnOptimizerAsTorchLambdaLr) {
  const auto fixture = support::load_fixture<double>("optim/schedule.safetensors");
  const std::map<std::string, optim::LrLambda> cases = {{"constant", optim::constant_with_warmup(5)},
                                                        {"linear", optim::linear_with_warmup(10, 100)},
                                                        {"cosine", optim::cosine_with_warmup(10, 100)}};
  for (const auto& [name, factor] : cases) {
    auto p = Tensor<double>::zeros({1}).requires_grad_(true);
    Sgd<double> opt({p}, {.lr = 2e-3});
    Schedule schedule(factor, opt);
    const auto expected = support::fixture_tensor(fixture, name + ".lr").to_vector();
    ASSERT_EQ(expected.size(), 121u);
    for (std::size_t s = 0; s < expected.size(); ++s) {
      EXPECT_DOUBLE_EQ(opt.lr(0), expected[s]) << name << " step " << s;
      schedule.step();
    }
  }
}

TEST(Schedule, ScalesEveryGroupFromItsOwnBaseRate) {
  auto a = Tensor<double>::zeros({1}).requires_grad_(true), b = Tensor<double>::zeros({1}).requires_grad_(true);
  Sgd<double> opt(std::vector<ParamGroup<double>>{{.params = {a}}, {.params = {b}, .lr = 1.0}}, {.lr = 0.1});
  Schedule schedule(optim::cosine_with_warmup(2, 10), opt);
  EXPECT_EQ(opt.lr(0), 0.0);
  for (int s = 0; s < 4; ++s) schedule.step();
  const double f = optim::cosine_with_warmup(2, 10)(4);
  EXPECT_EQ(opt.lr(0), 0.1 * f);
  EXPECT_EQ(opt.lr(1), 1.0 * f);
  EXPECT_EQ(schedule.lr_at(4, 1), opt.lr(1));
  EXPECT_THAT(schedule.base_lrs(), testing::ElementsAre(0.1, 1.0));
}

TEST(Schedule, StateDictResumesThePosition) {
  auto make_optimizer = [](const Tensor<float>& a, const Tensor<float>& b) {
    return Sgd<float>(std::vector<ParamGroup<float>>{{.params = {a}}, {.params = {b}, .lr = 3e-3}}, {.lr = 1e-3});
  };
  auto a = Tensor<float>::zeros({1}).requires_grad_(true), b = Tensor<float>::zeros({1}).requires_grad_(true);
  Sgd<float> opt = make_optimizer(a, b);
  Schedule schedule(optim::linear_with_warmup(3, 20), opt);
  for (int s = 0; s < 7; ++s) schedule.step();
  const auto state = schedule.state_dict<float>();
  EXPECT_EQ(state.size(), 3u);
  EXPECT_EQ(state.at("last_step").item(), 7.0f);

  Sgd<float> fresh_opt = make_optimizer(a, b);
  Schedule fresh(optim::linear_with_warmup(3, 20), fresh_opt);
  fresh.load_state_dict(state);
  EXPECT_EQ(fresh.last_step(), 7);
  EXPECT_EQ(fresh_opt.lr(0), opt.lr(0));  // exact: the float image of base lr 1e-3 keeps the double
  EXPECT_EQ(fresh_opt.lr(1), opt.lr(1));

  auto edited = [&](auto edit) {
    auto d = state;
    edit(d);
    return d;
  };
  EXPECT_THAT([&] { fresh.load_state_dict(edited([](auto& d) { d.erase("base_lr.1"); })); },
              ThrowsMessage<ValueError>(StrEq("Schedule.load_state_dict: missing key 'base_lr.1' (the schedule has 2 base rates)")));
  EXPECT_THAT([&] { fresh.load_state_dict(edited([](auto& d) { d["base_lr.2"] = Tensor<float>::scalar(1); })); },
              ThrowsMessage<ValueError>(StrEq("Schedule.load_state_dict: unexpected key 'base_lr.2' (the schedule has 2 base rates)")));
  EXPECT_THAT([&] { fresh.load_state_dict(edited([](auto& d) { d["last_step"] = Tensor<float>::scalar(-1); })); },
              ThrowsMessage<ValueError>(StrEq("Schedule.load_state_dict: 'last_step' must be a whole number >= 0, got -1")));
  EXPECT_EQ(fresh.last_step(), 7);
}

TEST(Schedule, RejectsBadArguments) {
  EXPECT_THAT([] { optim::linear_with_warmup(-1, 10); },
              ThrowsMessage<ValueError>(StrEq("linear_with_warmup: warmup_steps must be >= 0, got -1")));
  EXPECT_THAT([] { optim::cosine_with_warmup(20, 10); },
              ThrowsMessage<ValueError>(StrEq("cosine_with_warmup: total_steps (10) must be >= warmup_steps (20)")));
  EXPECT_THAT([] { Schedule(optim::constant_with_warmup(), -1.0); },
              ThrowsMessage<ValueError>(StrEq("Schedule: base lr must be a finite number >= 0, got -1")));
  Schedule s(optim::constant_with_warmup(), 1.0);
  EXPECT_THAT([&] { s.lr_at(-1); }, ThrowsMessage<ValueError>(StrEq("Schedule: step must be >= 0, got -1")));
}

}  // namespace
}  // namespace foundry
