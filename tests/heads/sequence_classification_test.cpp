// tests/heads/sequence_classification_test.cpp mirrors include/foundry/heads/sequence_classification.hpp:
// Hugging Face's names, PyTorch's logits, loss and every gradient (tests/fixtures/heads/
// sequence_classification.safetensors from tests/reference/make_head_fixtures.py), the regression and
// multi-label losses against their formulas, and the problem-type rules.
#include <cmath>

#include "foundry/heads/sequence_classification.hpp"
#include "support/bert_fixtures.hpp"

namespace foundry {
namespace {

using heads::ProblemType;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using Fixture = support::FloatFixture;
using support::config_of;
using support::inputs_of;
using support::parameters_of;

models::BertConfig tiny_config() { return support::tiny_bert_config(13, 0.5); }

TEST(BertForSequenceClassification, ParameterNamesAndModulesAreHuggingFaces) {
  Generator g(1);
  heads::BertForSequenceClassification<float> model(tiny_config(), 4, ProblemType::Auto, g);
  const auto named = model.named_parameters();
  EXPECT_EQ(named[named.size() - 4].first, "bert.pooler.dense.weight");
  EXPECT_EQ(named[named.size() - 2].first, "classifier.weight");
  EXPECT_EQ(named[named.size() - 1].first, "classifier.bias");
  EXPECT_EQ(named[named.size() - 2].second.shape(), Shape({4, 8}));
  std::vector<std::string> modules;
  for (const auto& [name, m] : model.named_modules())
    if (name.find('.') == std::string::npos && !name.empty()) modules.push_back(name);
  EXPECT_EQ(modules, (std::vector<std::string>{"bert", "dropout", "classifier"}));
  EXPECT_EQ(model.num_labels(), 4);
}

TEST(BertForSequenceClassification, MatchesPyTorchLogitsLossAndEveryGradient) {
  const std::string file = "heads/sequence_classification.safetensors";
  const auto f = support::load_fixture<float>(file);
  const auto ints = support::load_fixture<std::int64_t>(file);
  const auto meta = io::SafetensorsFile::open(support::fixture_path(file)).metadata();
  const auto config = models::BertConfig::from_json(io::Json::parse(meta.at("config")));
  heads::BertForSequenceClassification<float> model(config, std::stoll(meta.at("num_labels")));
  model.load_state_dict(parameters_of(f), /*strict=*/true);
  model.eval();
  const auto out = model.forward({ints.at("input.input_ids"), ints.at("input.attention_mask"), ints.at("input.token_type_ids")},
                                 ints.at("input.labels"));
  EXPECT_TRUE(support::allclose(out.logits, f.at("output.logits"), 1e-5, 1e-4));
  EXPECT_NEAR(out.loss.item(), f.at("output.loss").item(), 1e-5 + 1e-4 * std::abs(f.at("output.loss").item()));
  out.loss.backward();
  for (const auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(support::allclose(p.grad(), f.at("grad." + name), 1e-5, 1e-4)) << "gradient of " << name;
  }
}

TEST(BertForSequenceClassification, RegressionIsMseOnTheSingleScore) {
  Generator g(2);
  heads::BertForSequenceClassification<double> model(tiny_config(), 1, ProblemType::Auto, g);
  model.eval();
  const auto ids = randint(1, 13, {3, 5}, g);
  const auto targets = Tensor<double>::from({0.5, -1.0, 2.0});
  const auto out = model.forward(inputs_of(ids), targets);
  ASSERT_EQ(out.logits.shape(), Shape({3, 1}));
  double want = 0;
  for (Index b = 0; b < 3; ++b) want += std::pow(out.logits(b, 0) - targets.data()[b], 2) / 3;
  EXPECT_NEAR(out.loss.item(), want, 1e-12);
  EXPECT_NEAR(model.forward(inputs_of(ids), targets.reshape({3, 1})).loss.item(), want, 1e-12);  // [B, 1] targets too
  out.loss.backward();
  EXPECT_TRUE(model.classifier()->weight().grad().defined());
}

TEST(BertForSequenceClassification, MultiLabelIsBinaryCrossEntropyOnLogits) {
  Generator g(3);
  heads::BertForSequenceClassification<double> model(tiny_config(), 3, ProblemType::Auto, g);
  model.eval();
  const auto ids = randint(1, 13, {2, 5}, g);
  const auto targets = Tensor<double>::from({{1, 0, 1}, {0, 0, 1}});
  const auto out = model.forward(inputs_of(ids), targets);
  double want = 0;
  for (Index b = 0; b < 2; ++b)
    for (Index k = 0; k < 3; ++k) {
      const double p = 1 / (1 + std::exp(-out.logits(b, k))), y = targets(b, k);
      want -= (y * std::log(p) + (1 - y) * std::log(1 - p)) / 6;
    }
  EXPECT_NEAR(out.loss.item(), want, 1e-12);
}

TEST(BertForSequenceClassification, BinaryCrossEntropyGradientsMatchFiniteDifferences) {
  Generator g(4);
  auto x = support::random_tensor<double>({3, 4}, g, 3.0);
  x(0, 0) = 0;  // exactly at the kink of max(x, 0) and |x|
  const auto y = support::random_uniform<double>({3, 4}, g, 0, 1);
  EXPECT_TRUE(gradcheck(heads::detail::binary_cross_entropy_with_logits<double>, x, y));
  const auto big = Tensor<double>::from({{800.0, -800.0}});
  const auto loss = heads::detail::binary_cross_entropy_with_logits(big, Tensor<double>::from({{0.0, 1.0}}));
  EXPECT_NEAR(loss.item(), 800.0, 1e-9);  // no overflow: log(1 + e^800) = 800 to double precision
}

TEST(BertForSequenceClassification, IgnoredLabelAddsNothing) {
  Generator g(5);
  heads::BertForSequenceClassification<double> model(tiny_config(), 3, ProblemType::SingleLabel, g);
  model.eval();
  const auto ids = randint(1, 13, {2, 5}, g);
  const auto both = model.forward(inputs_of(ids), Tensor<std::int64_t>::from({2, -100}));
  const auto first = model.forward(inputs_of(ids.slice(0, 0, 1)), Tensor<std::int64_t>::from({2}));
  EXPECT_NEAR(both.loss.item(), first.loss.item(), 1e-12);
}

TEST(BertForSequenceClassification, ProblemTypeNamesRoundTrip) {
  for (ProblemType p : {ProblemType::Regression, ProblemType::SingleLabel, ProblemType::MultiLabel})
    EXPECT_EQ(heads::problem_type_from_name(heads::problem_type_name(p)), p);
  EXPECT_EQ(heads::problem_type_from_name(""), ProblemType::Auto);
  EXPECT_THAT([] { heads::problem_type_from_name("ranking"); },
              ThrowsMessage<ValueError>(HasSubstr("unknown name 'ranking'")));
}

TEST(BertForSequenceClassification, BadLabelsAndSizesNameTheValues) {
  Generator g(6);
  using Model = heads::BertForSequenceClassification<float>;
  EXPECT_THAT([&] { Model(tiny_config(), 0, ProblemType::Auto, g); },
              ThrowsMessage<ValueError>(HasSubstr("num_labels must be at least 1, got 0")));
  EXPECT_THAT([&] { Model(tiny_config(), 1, ProblemType::SingleLabel, g); },
              ThrowsMessage<ValueError>(HasSubstr("single_label_classification needs num_labels >= 2, got 1")));
  Model model(tiny_config(), 3, ProblemType::Auto, g);
  const auto ids = randint(1, 13, {2, 5}, g);
  EXPECT_THAT([&] { model.forward(inputs_of(ids), Tensor<std::int64_t>::from({0, 1, 2})); },
              ThrowsMessage<ShapeError>(HasSubstr("labels shape [3] must be [2] for input_ids [2, 5]")));
  EXPECT_THAT([&] { model.forward(inputs_of(ids), Tensor<std::int64_t>::from({0, 3})); },
              ThrowsMessage<IndexError>(HasSubstr("target 3 at position [1] is out of range for 3 classes")));
  EXPECT_THAT([&] { model.forward(inputs_of(ids), Tensor<float>::zeros({2, 2})); },
              ThrowsMessage<ShapeError>(HasSubstr("targets shape [2, 2] must be [2, 3]")));
  Model single(tiny_config(), 3, ProblemType::SingleLabel, g);
  EXPECT_THAT([&] { single.forward(inputs_of(ids), Tensor<float>::zeros({2, 3})); },
              ThrowsMessage<ValueError>(HasSubstr("floating-point targets given, but the problem type is single_label_classification")));
  Model regression(tiny_config(), 1, ProblemType::Auto, g);
  EXPECT_THAT([&] { regression.forward(inputs_of(ids), Tensor<std::int64_t>::from({0, 1})); },
              ThrowsMessage<ValueError>(HasSubstr("integer class labels given, but the problem type is regression (num_labels 1)")));
}

}  // namespace
}  // namespace foundry
