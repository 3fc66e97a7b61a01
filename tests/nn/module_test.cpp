// tests/nn/module_test.cpp mirrors include/foundry/nn/module.hpp and the simple layers.
#include "support/testing.hpp"

namespace foundry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// A two-level module tree: block.proj (Linear) + block.norm (LayerNorm) + a buffer.
template <class T>
class Block : public nn::Module<T> {
 public:
  explicit Block(Index c, Generator& gen)
      : proj_(this->register_module("proj", std::make_shared<nn::Linear<T>>(c, c, true, gen))),
        norm_(this->register_module("norm", std::make_shared<nn::LayerNorm<T>>(c))),
        drop_(this->register_module("drop", std::make_shared<nn::Dropout<T>>(0.5, gen))),
        steps_(this->register_buffer("steps", Tensor<T>::zeros({1}))) {}
  Tensor<T> forward(const Tensor<T>& x) const { return norm_->forward(drop_->forward(proj_->forward(x))); }
  std::shared_ptr<nn::Linear<T>> proj_;
  std::shared_ptr<nn::LayerNorm<T>> norm_;
  std::shared_ptr<nn::Dropout<T>> drop_;
  Tensor<T> steps_;
};

template <class T>
class Net : public nn::Module<T> {
 public:
  explicit Net(Generator& gen) : block_(this->register_module("block", std::make_shared<Block<T>>(3, gen))),
                                 head_(this->register_module("head", std::make_shared<nn::Linear<T>>(3, 2, false, gen))) {}
  std::shared_ptr<Block<T>> block_;
  std::shared_ptr<nn::Linear<T>> head_;
};

std::vector<std::string> names(const std::vector<std::pair<std::string, Tensor<float>>>& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

TEST(Module, NamedParametersUseDottedPathsInRegistrationOrder) {
  Generator gen(0);
  Net<float> net(gen);
  EXPECT_THAT(names(net.named_parameters()), ElementsAre("block.proj.weight", "block.proj.bias", "block.norm.weight",
                                                         "block.norm.bias", "head.weight"));
  EXPECT_THAT(names(net.named_buffers()), ElementsAre("block.steps"));
  EXPECT_EQ(net.num_parameters(), 9 + 3 + 3 + 3 + 6);
  EXPECT_EQ(net.parameters().size(), 5u);
  EXPECT_TRUE(net.parameters()[0].same(net.block_->proj_->weight()));  // one handle, two owners
  std::vector<std::string> modules;
  for (const auto& [n, m] : net.named_modules()) modules.push_back(n);
  EXPECT_THAT(modules, ElementsAre("", "block", "block.proj", "block.norm", "block.drop", "head"));
}

TEST(Module, TrainEvalPropagatesAndControlsDropout) {
  Generator gen(0);
  Net<float> net(gen);
  auto x = randn<float>({4, 3}, gen);
  net.eval();
  EXPECT_FALSE(net.block_->drop_->is_training());
  EXPECT_EQ(net.block_->forward(x), net.block_->forward(x));  // deterministic in eval
  net.train();
  EXPECT_TRUE(net.block_->drop_->is_training());
  EXPECT_FALSE(net.block_->forward(x) == net.block_->forward(x));
}

TEST(Module, RequiresGradFalseFreezesASubtree) {
  Generator gen(0);
  Net<float> net(gen);
  net.block_->requires_grad_(false);
  EXPECT_EQ(net.num_parameters(/*trainable_only=*/true), 6);
  net.eval();
  auto y = net.head_->forward(net.block_->forward(randn<float>({2, 3}, gen))).sum();
  y.backward();
  EXPECT_FALSE(net.block_->proj_->weight().grad().defined());
  EXPECT_TRUE(net.head_->weight().grad().defined());
  net.zero_grad();
  EXPECT_FALSE(net.head_->weight().grad().defined());
}

TEST(Module, StateDictRoundTripCopiesIntoExistingTensors) {
  Generator g1(1), g2(2);
  Net<float> a(g1), b(g2);
  const auto handle = b.block_->proj_->weight();
  b.load_state_dict(a.state_dict());
  EXPECT_TRUE(b.block_->proj_->weight().same(handle));  // values copied, handle kept
  for (const auto& [name, t] : a.state_dict()) EXPECT_EQ(b.state_dict().at(name), t) << name;
}

TEST(Module, LoadStateDictReportsMissingUnexpectedAndShapeMismatches) {
  Generator gen(0);
  Net<float> net(gen);
  auto sd = net.state_dict();
  sd.erase("head.weight");
  sd.emplace("extra.weight", zeros<float>({1}));
  const auto r = net.load_state_dict(sd, /*strict=*/false);
  EXPECT_THAT(r.missing_keys, ElementsAre("head.weight"));
  EXPECT_THAT(r.unexpected_keys, ElementsAre("extra.weight"));
  EXPECT_THAT([&] { net.load_state_dict(sd); },
              ThrowsMessage<ValueError>(HasSubstr("missing keys [head.weight]; unexpected keys [extra.weight]")));
  auto bad = net.state_dict();
  bad["block.proj.weight"] = zeros<float>({3, 4});
  EXPECT_THAT([&] { net.load_state_dict(bad); },
              ThrowsMessage<ShapeError>(HasSubstr("'block.proj.weight' has shape [3, 4] in the state dict but [3, 3] in the module")));
}

TEST(Module, DuplicateAndDottedNamesAreRejected) {
  struct Bad : nn::Module<float> {
    Bad() {
      register_parameter("w", zeros<float>({1}));
      register_parameter("w", zeros<float>({1}));
    }
  };
  EXPECT_THAT([] { Bad b; }, ThrowsMessage<ValueError>(HasSubstr("name 'w' registered twice")));
  struct Dotted : nn::Module<float> {
    Dotted() { register_buffer("a.b", zeros<float>({1})); }
  };
  EXPECT_THAT([] { Dotted d; }, ThrowsMessage<ValueError>(HasSubstr("invalid name 'a.b'")));
}

TEST(Layers, LinearMatchesOpAndPyTorchDefaultInitBounds) {
  Generator gen(3);
  nn::Linear<double> lin(16, 4, true, gen);
  const double bound = 0.25;  // 1/sqrt(16)
  for (const auto& p : {lin.weight(), lin.bias()})
    for (double v : p.to_vector()) EXPECT_LE(std::abs(v), bound);
  auto x = randn<double>({5, 16}, gen);
  EXPECT_EQ(lin.forward(x), linear(x, lin.weight(), lin.bias()));
  EXPECT_TRUE(gradcheck([&](const Tensor<double>& in) { return lin.forward(in); }, randn<double>({2, 3, 16}, gen)));
}

TEST(Layers, EmbeddingPaddingRowStartsAtZeroAndGetsNoGradient) {
  Generator gen(4);
  nn::Embedding<double> emb(5, 3, /*padding_idx=*/1, gen);
  EXPECT_EQ(emb.weight().select(0, 1), zeros<double>({3}));
  auto y = emb.forward(Tensor<std::int64_t>::from({{1, 2, 2}}));
  EXPECT_EQ(y.shape(), (Shape{1, 3, 3}));
  y.sum().backward();
  EXPECT_EQ(emb.weight().grad().select(0, 1), zeros<double>({3}));
  EXPECT_EQ(emb.weight().grad().select(0, 2), full<double>({3}, 2.0));
  EXPECT_THAT([&] { nn::Embedding<float>(3, 2, 3); }, ThrowsMessage<ValueError>(HasSubstr("padding_idx 3 outside [0, 3)")));
}

TEST(Layers, LayerNormDropoutActivationsAndFeedForward) {
  Generator gen(5);
  nn::LayerNorm<double> ln(4, 1e-12);
  auto x = randn<double>({2, 4}, gen);
  EXPECT_TRUE(support::allclose(ln.forward(x).mean({1}), zeros<double>({2}), 1e-12));
  EXPECT_EQ(nn::activation_from_name("gelu_new"), nn::Activation::GeluTanh);
  EXPECT_THAT([] { nn::activation_from_name("swish"); }, ThrowsMessage<ValueError>(HasSubstr("unknown name 'swish'")));
  nn::FeedForward<double> ff(4, 8, nn::Activation::Gelu, 0.0, gen);
  EXPECT_EQ(ff.forward(x).shape(), (Shape{2, 4}));
  EXPECT_TRUE(gradcheck([&](const Tensor<double>& in) { return ff.forward(in); }, x));
  EXPECT_THAT([] { nn::Dropout<float>(1.5); }, ThrowsMessage<ValueError>(HasSubstr("p must be in [0, 1], got 1.5")));
}

}  // namespace
}  // namespace foundry
