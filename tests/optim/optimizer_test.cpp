// tests/optim/optimizer_test.cpp mirrors include/foundry/optim/optimizer.hpp: what every optimizer shares
// (groups, skipping, zero_grad, state dicts and resume), shown on small models with Sgd and AdamW, plus
// the training patterns built on it: gradient accumulation and layer freezing.
#include "foundry/optim/optimizer.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "foundry/io/tensor_file.hpp"
#include "foundry/optim/adam.hpp"
#include "foundry/optim/clip.hpp"
#include "foundry/optim/schedule.hpp"
#include "foundry/optim/sgd.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using optim::AdamW;
using optim::ParamGroup;
using optim::Sgd;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::StrEq;
using testing::ThrowsMessage;

// Two linear layers with a tanh between: enough structure to freeze one of them.
template <class T>
class TwoLayer : public nn::Module<T> {
 public:
  explicit TwoLayer(Generator& gen)
      : first(this->register_module("first", std::make_shared<nn::Linear<T>>(4, 5, true, gen))),
        second(this->register_module("second", std::make_shared<nn::Linear<T>>(5, 3, true, gen))) {}
  Tensor<T> forward(const Tensor<T>& x) const { return second->forward(ops::tanh(first->forward(x))); }  // [N, 4] -> [N, 3]
  std::shared_ptr<nn::Linear<T>> first, second;
};

// One backward of the mean squared error on a batch drawn from a generator seeded by `seed`.
template <class T>
void backward_on_batch(const TwoLayer<T>& model, std::uint64_t seed) {
  Generator gen(seed);
  const auto x = support::random_tensor<T>({6, 4}, gen), y = support::random_tensor<T>({6, 3}, gen);
  ops::mse_loss(model.forward(x), y).backward();
}

template <class T>
std::map<std::string, Tensor<T>> snapshot(const std::map<std::string, Tensor<T>>& dict) {
  std::map<std::string, Tensor<T>> out;
  for (const auto& [k, v] : dict) out.emplace(k, v.clone_data());
  return out;
}

template <class T>
void expect_same_values(const std::map<std::string, Tensor<T>>& a, const std::map<std::string, Tensor<T>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, v] : a) {
    ASSERT_TRUE(b.count(k)) << k;
    EXPECT_EQ(v, b.at(k)) << k;  // bit-identical
  }
}

TEST(Optimizer, ZeroGradDropsEveryGradient) {
  auto a = Tensor<double>::zeros({2}).requires_grad_(true), b = Tensor<double>::zeros({3}).requires_grad_(true);
  Sgd<double> opt(std::vector<ParamGroup<double>>{{.params = {a}}, {.params = {b}}}, {.lr = 0.1});
  a.set_grad(Tensor<double>::ones({2}));
  b.set_grad(Tensor<double>::ones({3}));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(Optimizer, SkipsParametersWithoutGradientAndFrozenOnes) {
  auto trained = Tensor<double>::ones({2}).requires_grad_(true);
  auto no_grad = Tensor<double>::ones({2}).requires_grad_(true);
  auto frozen = Tensor<double>::ones({2}).requires_grad_(true);
  AdamW<double> opt({trained, no_grad, frozen}, {.lr = 0.1});
  trained.set_grad(Tensor<double>::ones({2}));
  frozen.set_grad(Tensor<double>::ones({2}));  // a stale gradient does not unfreeze it
  frozen.requires_grad_(false);
  opt.step();
  EXPECT_NE(trained, Tensor<double>::ones({2}));
  EXPECT_EQ(no_grad, Tensor<double>::ones({2}));
  EXPECT_EQ(frozen, Tensor<double>::ones({2}));
  EXPECT_EQ(opt.state(0, 0).step, 1);
  EXPECT_EQ(opt.state(0, 1).step, 0);
  EXPECT_EQ(opt.state(0, 2).step, 0);
  EXPECT_FALSE(opt.state(0, 1).buffers[0].defined());
  EXPECT_EQ(opt.steps(), 1);
}

TEST(Optimizer, StepBumpsTheParameterVersion) {
  auto p = Tensor<double>::ones({2}).requires_grad_(true);
  Sgd<double> opt({p}, {.lr = 0.1});
  p.set_grad(Tensor<double>::ones({2}));
  const auto before = p.storage()->version();
  opt.step();
  EXPECT_GT(p.storage()->version(), before);  // a graph that saved p notices the update
}

TEST(Optimizer, GroupLearningRatesAreMutable) {
  auto a = Tensor<double>::zeros({1}).requires_grad_(true), b = Tensor<double>::zeros({1}).requires_grad_(true);
  Sgd<double> opt(std::vector<ParamGroup<double>>{{.params = {a}}, {.params = {b}, .lr = 0.5}}, {.lr = 0.1});
  EXPECT_EQ(opt.num_groups(), 2u);
  EXPECT_DOUBLE_EQ(opt.lr(0), 0.1);
  EXPECT_DOUBLE_EQ(opt.lr(1), 0.5);
  opt.set_lr(0, 1.0);
  a.set_grad(Tensor<double>::ones({1}));
  b.set_grad(Tensor<double>::ones({1}));
  opt.step();
  EXPECT_DOUBLE_EQ(a.item(), -1.0);
  EXPECT_DOUBLE_EQ(b.item(), -0.5);
  EXPECT_EQ(opt.options(1).lr, 0.5);
}

TEST(Optimizer, RejectsEmptyDuplicatedOrNonLeafParameters) {
  auto p = Tensor<double>::zeros({2}).requires_grad_(true);
  EXPECT_THAT([] { Sgd<double>(std::vector<Tensor<double>>{}); },
              ThrowsMessage<ValueError>(StrEq("Sgd: got an empty parameter list")));
  EXPECT_THAT([&] { AdamW<double>(std::vector<ParamGroup<double>>{{.params = {p}}, {.params = {p}}}); },
              ThrowsMessage<ValueError>(StrEq("AdamW: parameter 0 of group 1 appears twice; each parameter may belong to one group only")));
  EXPECT_THAT([&] { AdamW<double>({p * 2.0}); }, ThrowsMessage<ValueError>(HasSubstr("AdamW: parameter 0 of group 0 is not a leaf")));
}

TEST(Optimizer, GradientOfTheWrongShapeIsAShapeError) {
  auto p = Tensor<double>::zeros({2, 3}).requires_grad_(true);
  Sgd<double> opt({p}, {.lr = 0.1});
  p.set_grad(Tensor<double>::zeros({3, 2}));
  EXPECT_THAT([&] { opt.step(); }, ThrowsMessage<ShapeError>(StrEq(
      "Sgd.step: gradient of parameter 0 of group 0 has shape [3, 2] but the parameter has shape [2, 3]")));
}

TEST(Optimizer, StateDictNamesStepsHyperparametersAndBuffers) {
  auto a = Tensor<double>::zeros({2, 3}).requires_grad_(true), b = Tensor<double>::zeros({3}).requires_grad_(true);
  auto c = Tensor<double>::zeros({4}).requires_grad_(true);
  AdamW<double> opt(std::vector<ParamGroup<double>>{{.params = {a, b}}, {.params = {c}, .lr = 0.5, .weight_decay = 0.0}}, {.lr = 0.1});
  a.set_grad(Tensor<double>::ones({2, 3}));
  c.set_grad(Tensor<double>::ones({4}));
  opt.step();
  opt.step();
  const auto state = opt.state_dict();
  std::vector<std::string> keys;
  for (const auto& [k, v] : state) keys.push_back(k);
  EXPECT_THAT(keys, ElementsAre("group.0.beta1", "group.0.beta2", "group.0.eps", "group.0.lr", "group.0.weight_decay",
                                "group.1.beta1", "group.1.beta2", "group.1.eps", "group.1.lr", "group.1.weight_decay",
                                "state.0.0.exp_avg", "state.0.0.exp_avg_sq", "state.0.0.step",
                                "state.1.0.exp_avg", "state.1.0.exp_avg_sq", "state.1.0.step", "step"));
  EXPECT_EQ(state.at("step").item(), 2.0);
  EXPECT_EQ(state.at("state.0.0.step").item(), 2.0);
  EXPECT_EQ(state.at("group.1.lr").item(), 0.5);
  EXPECT_EQ(state.at("group.0.weight_decay").item(), 0.01);
  EXPECT_EQ(state.at("state.0.0.exp_avg").shape(), Shape({2, 3}));
  EXPECT_EQ(state.at("step").dim(), 0);
}

// Trains `model` for steps [from, to) with AdamW, a linear schedule and clipping, on batches seeded by step.
struct TrainingRun {
  explicit TrainingRun(std::uint64_t init_seed)
      : gen(init_seed), model(gen),
        opt(std::vector<ParamGroup<float>>{{.params = model.first->parameters(), .lr = 3e-2},
                                           {.params = model.second->parameters(), .weight_decay = 0.0}},
            {.lr = 1e-2, .weight_decay = 0.05}),
        schedule(optim::linear_with_warmup(2, 10), opt) {}
  void train(int from, int to) {
    for (int s = from; s < to; ++s) {
      backward_on_batch(model, 1000 + s);
      optim::clip_grad_norm(model.parameters(), 0.5);
      opt.step();
      schedule.step();
      opt.zero_grad();
    }
  }
  Generator gen;
  TwoLayer<float> model;
  AdamW<float> opt;
  optim::Schedule schedule;
};

std::map<std::string, Tensor<float>> with_prefix(const std::string& prefix, const std::map<std::string, Tensor<float>>& dict) {
  std::map<std::string, Tensor<float>> out;
  for (const auto& [k, v] : dict) out.emplace(prefix + k, v);
  return out;
}
std::map<std::string, Tensor<float>> under(const std::string& prefix, const std::map<std::string, Tensor<float>>& dict) {
  std::map<std::string, Tensor<float>> out;
  for (const auto& [k, v] : dict)
    if (k.starts_with(prefix)) out.emplace(k.substr(prefix.size()), v);
  return out;
}

TEST(Optimizer, ResumeFromASafetensorsCheckpointIsBitIdentical) {
  TrainingRun straight(1);
  straight.train(0, 7);

  TrainingRun first_half(1);
  first_half.train(0, 3);
  auto checkpoint = with_prefix("model.", first_half.model.state_dict());
  checkpoint.merge(with_prefix("optimizer.", first_half.opt.state_dict()));
  checkpoint.merge(with_prefix("schedule.", first_half.schedule.state_dict<float>()));
  const auto path = std::filesystem::temp_directory_path() / ("foundry_optim_resume_" + std::to_string(::getpid()) + ".safetensors");
  io::save_tensors(path, checkpoint);
  const auto loaded = io::load_tensors<float>(path);
  std::filesystem::remove(path);

  TrainingRun resumed(2);  // different initial weights: everything must come from the checkpoint
  resumed.model.load_state_dict(under("model.", loaded));
  resumed.schedule.load_state_dict(under("schedule.", loaded));  // either order works
  resumed.opt.load_state_dict(under("optimizer.", loaded));
  EXPECT_EQ(resumed.opt.lr(0), first_half.opt.lr(0));  // the exact double, not its float image
  resumed.train(3, 7);

  expect_same_values(snapshot(straight.model.state_dict()), snapshot(resumed.model.state_dict()));
  expect_same_values(snapshot(straight.opt.state_dict()), snapshot(resumed.opt.state_dict()));
  EXPECT_EQ(resumed.schedule.last_step(), 7);
}

TEST(Optimizer, SgdMomentumResumesBitIdentically) {
  auto make = [] { return Tensor<double>::from({{1.0, -2.0}, {0.5, 3.0}}).requires_grad_(true); };
  auto grad = [](int s) { return Tensor<double>::from({{1.0 * s, -0.5}, {0.25, 2.0 - s}}); };
  const optim::SgdOptions options{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true};
  auto straight = make();
  Sgd<double> a({straight}, options);
  for (int s = 0; s < 6; ++s) {
    straight.set_grad(grad(s));
    a.step();
  }

  auto resumed = make();
  Sgd<double> b({resumed}, options);
  for (int s = 0; s < 3; ++s) {
    resumed.set_grad(grad(s));
    b.step();
  }
  const auto state = snapshot(b.state_dict());
  const auto weights = resumed.clone_data();
  auto fresh = make();
  Sgd<double> c({fresh}, options);
  fresh.detach().copy_(weights);
  c.load_state_dict(state);
  for (int s = 3; s < 6; ++s) {
    fresh.set_grad(grad(s));
    c.step();
  }
  EXPECT_EQ(fresh.detach(), straight.detach());
}

TEST(Optimizer, LoadStateDictNamesTheMismatchedKey) {
  auto a = Tensor<double>::zeros({2, 3}).requires_grad_(true), b = Tensor<double>::zeros({3}).requires_grad_(true);
  auto c = Tensor<double>::zeros({4}).requires_grad_(true);
  AdamW<double> opt(std::vector<ParamGroup<double>>{{.params = {a, b}}, {.params = {c}}});
  a.set_grad(Tensor<double>::ones({2, 3}));
  opt.step();
  const auto good = snapshot(opt.state_dict());
  auto expect_rejected = [&](const std::map<std::string, Tensor<double>>& dict, const std::string& message) {
    EXPECT_THAT([&] { opt.load_state_dict(dict); }, ThrowsMessage<ValueError>(StrEq(message)));
    expect_same_values(snapshot(opt.state_dict()), good);  // nothing changed
  };
  auto edited = [&](auto edit) {
    auto dict = good;
    edit(dict);
    return dict;
  };
  const std::string layout = " (AdamW has 2 groups of sizes [2, 1])";
  expect_rejected(edited([](auto& d) { d.erase("group.1.lr"); }), "AdamW.load_state_dict: missing key 'group.1.lr'" + layout);
  expect_rejected(edited([](auto& d) { d.erase("step"); }), "AdamW.load_state_dict: missing key 'step'" + layout);
  expect_rejected(edited([](auto& d) { d["state.2.0.exp_avg"] = Tensor<double>::zeros({4}); }),
                  "AdamW.load_state_dict: unexpected key 'state.2.0.exp_avg'" + layout);
  expect_rejected(edited([](auto& d) { d["state.1.1.step"] = Tensor<double>::scalar(1); }),
                  "AdamW.load_state_dict: unexpected key 'state.1.1.step'" + layout);
  expect_rejected(edited([](auto& d) { d["group.0.momentum"] = Tensor<double>::scalar(0.9); }),
                  "AdamW.load_state_dict: unexpected key 'group.0.momentum'" + layout);
  expect_rejected(edited([](auto& d) { d["state.0.0.momentum_buffer"] = Tensor<double>::zeros({2, 3}); }),
                  "AdamW.load_state_dict: unexpected key 'state.0.0.momentum_buffer' (AdamW keeps [exp_avg, exp_avg_sq])");
  expect_rejected(edited([](auto& d) { d["state.0.0.exp_avg"] = Tensor<double>::zeros({7}); }),
                  "AdamW.load_state_dict: 'state.0.0.exp_avg' has shape [7] but parameter 0 of group 0 has shape [2, 3]");
  expect_rejected(edited([](auto& d) { d.erase("state.0.0.exp_avg_sq"); }),
                  "AdamW.load_state_dict: missing key 'state.0.0.exp_avg_sq' (state.0.0.step is present)");
  expect_rejected(edited([](auto& d) { d.erase("state.0.0.step"); }),
                  "AdamW.load_state_dict: 'state.0.0.exp_avg' comes without 'state.0.0.step'");
  expect_rejected(edited([](auto& d) { d["state.0.0.step"] = Tensor<double>::scalar(0.5); }),
                  "AdamW.load_state_dict: 'state.0.0.step' must be a whole number >= 1, got 0.5");
  expect_rejected(edited([](auto& d) { d["group.0.lr"] = Tensor<double>::zeros({2}); }),
                  "AdamW.load_state_dict: 'group.0.lr' must hold one value, got shape [2]");
  expect_rejected(edited([](auto& d) { d["group.0.beta1"] = Tensor<double>::scalar(1.0); }),
                  "AdamW.load_state_dict: group.0.*: AdamW: beta1 must be in [0, 1), got 1 (group 0)");

  auto p = Tensor<double>::zeros({2, 3}).requires_grad_(true), q = Tensor<double>::zeros({3}).requires_grad_(true);
  auto r = Tensor<double>::zeros({4}).requires_grad_(true);
  Sgd<double> sgd(std::vector<ParamGroup<double>>{{.params = {p, q}}, {.params = {r}}});
  EXPECT_THAT([&] { sgd.load_state_dict(good); },
              ThrowsMessage<ValueError>(HasSubstr("Sgd.load_state_dict: missing key 'group.0.momentum'")));
}

// k micro-batches, each loss divided by k and backward'ed into the same gradients, then one step: the
// same update as one step on the whole batch (mean losses over equal-sized micro-batches).
template <class MakeOptimizer>
void expect_accumulation_matches_big_batch(MakeOptimizer make) {
  constexpr int kMicro = 4;
  Generator data(11);
  const auto x = support::random_tensor<double>({8, 4}, data), y = support::random_tensor<double>({8, 3}, data);
  Generator g1(5), g2(5);
  nn::Linear<double> big(4, 3, true, g1), small(4, 3, true, g2);
  const auto initial = big.weight().clone_data();
  auto big_opt = make(big.parameters());
  auto small_opt = make(small.parameters());
  for (int step = 0; step < 3; ++step) {
    ops::mse_loss(big.forward(x), y).backward();
    big_opt->step();
    big_opt->zero_grad();
    for (int k = 0; k < kMicro; ++k) {
      const auto xs = x.narrow(0, 2 * k, 2), ys = y.narrow(0, 2 * k, 2);
      (ops::mse_loss(small.forward(xs), ys) / static_cast<double>(kMicro)).backward();
    }
    small_opt->step();
    small_opt->zero_grad();
    EXPECT_TRUE(support::allclose(small.weight(), big.weight(), 1e-12, 0)) << "step " << step;
    EXPECT_TRUE(support::allclose(small.bias(), big.bias(), 1e-12, 0)) << "step " << step;
  }
  EXPECT_NE(big.weight(), initial);
}

TEST(Optimizer, GradientAccumulationMatchesOneBigBatch) {
  expect_accumulation_matches_big_batch([](const std::vector<Tensor<double>>& p) {
    return std::make_unique<Sgd<double>>(p, optim::SgdOptions{.lr = 0.1, .momentum = 0.9});
  });
  expect_accumulation_matches_big_batch([](const std::vector<Tensor<double>>& p) {
    return std::make_unique<AdamW<double>>(p, optim::AdamWOptions{.lr = 0.05});
  });
}

TEST(Optimizer, FrozenSubmoduleIsSkippedUntilUnfrozen) {
  Generator gen(3);
  TwoLayer<double> model(gen);
  AdamW<double> opt(model.parameters(), {.lr = 0.05});  // groups hold frozen parameters too
  const auto first_before = snapshot(model.first->state_dict());
  const auto second_before = snapshot(model.second->state_dict());

  model.first->requires_grad_(false);
  backward_on_batch(model, 1);
  opt.step();
  opt.zero_grad();
  expect_same_values(snapshot(model.first->state_dict()), first_before);
  EXPECT_NE(model.second->weight(), second_before.at("weight"));
  const auto state = opt.state_dict();
  for (const char* frozen : {"state.0.0.step", "state.0.0.exp_avg", "state.0.1.step", "state.0.1.exp_avg_sq"})
    EXPECT_EQ(state.count(frozen), 0u) << frozen;
  EXPECT_EQ(state.count("state.0.2.exp_avg"), 1u);

  model.first->requires_grad_(true);
  backward_on_batch(model, 2);
  opt.step();
  EXPECT_NE(model.first->weight(), first_before.at("weight"));
  EXPECT_NE(model.first->bias(), first_before.at("bias"));
  EXPECT_EQ(opt.state(0, 0).step, 1);  // its first update: bias correction starts afresh
  EXPECT_EQ(opt.state(0, 2).step, 2);
}

}  // namespace
}  // namespace foundry
