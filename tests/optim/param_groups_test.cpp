// tests/optim/param_groups_test.cpp mirrors include/foundry/optim/param_groups.hpp
#include "foundry/optim/param_groups.hpp"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "foundry/optim/adam.hpp"
#include "support/testing.hpp"

namespace foundry {
namespace {

using optim::ParamGroup;
using testing::StrEq;
using testing::ThrowsMessage;

models::BertModel<double> tiny_bert(Generator& gen) {
  models::BertConfig config;
  config.vocab_size = 20;
  config.hidden_size = 8;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 16;
  config.max_position_embeddings = 16;
  return models::BertModel<double>(config, gen);
}

// The name of every parameter, by its tensor.
std::map<const void*, std::string> names_of(const nn::Module<double>& model) {
  std::map<const void*, std::string> out;
  for (const auto& [name, p] : model.named_parameters()) out.emplace(p.impl_ptr().get(), name);
  return out;
}

TEST(ParamGroups, NoDecayNamesAreBiasesAndNormWeights) {
  for (const char* name : {"encoder.layer.0.output.dense.bias", "embeddings.LayerNorm.weight", "h.0.ln_1.weight", "ln_f.bias",
                           "decoder.layer_norm.weight", "layers.0.norm1.weight", "cls.predictions.bias"})
    EXPECT_TRUE(optim::is_no_decay_name(name)) << name;
  for (const char* name : {"encoder.layer.0.attention.self.query.weight", "embeddings.word_embeddings.weight",
                           "pooler.dense.weight", "bias_proj.weight"})
    EXPECT_FALSE(optim::is_no_decay_name(name)) << name;
}

TEST(ParamGroups, WeightDecayGroupsSplitABertModel) {
  Generator gen(1);
  const auto model = tiny_bert(gen);
  const auto groups = optim::weight_decay_groups(model, 0.01);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].weight_decay, 0.01);
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  EXPECT_FALSE(groups[0].lr.has_value());  // the optimizer's default
  const auto names = names_of(model);
  std::vector<std::string> decayed, not_decayed;
  for (const auto& p : groups[0].params) decayed.push_back(names.at(p.impl_ptr().get()));
  for (const auto& p : groups[1].params) not_decayed.push_back(names.at(p.impl_ptr().get()));
  EXPECT_EQ(decayed.size() + not_decayed.size(), model.named_parameters().size());
  EXPECT_THAT(decayed, testing::Contains("embeddings.word_embeddings.weight"));
  EXPECT_THAT(decayed, testing::Contains("pooler.dense.weight"));
  EXPECT_THAT(not_decayed, testing::Contains("embeddings.LayerNorm.weight"));
  EXPECT_THAT(not_decayed, testing::Contains("encoder.layer.1.output.LayerNorm.bias"));
  EXPECT_THAT(not_decayed, testing::Contains("pooler.dense.bias"));
  for (const auto& n : decayed) EXPECT_FALSE(optim::is_no_decay_name(n)) << n;
  for (const auto& n : not_decayed) EXPECT_TRUE(optim::is_no_decay_name(n)) << n;
}

TEST(ParamGroups, LayerDecayDepthOfBertNames) {
  EXPECT_EQ(optim::layer_decay_depth("encoder.layer.3.attention.self.query.weight", 12), 9);
  EXPECT_EQ(optim::layer_decay_depth("bert.encoder.layer.11.output.dense.bias", 12), 1);
  EXPECT_EQ(optim::layer_decay_depth("embeddings.word_embeddings.weight", 12), 13);
  EXPECT_EQ(optim::layer_decay_depth("bert.embeddings.LayerNorm.bias", 12), 13);
  EXPECT_EQ(optim::layer_decay_depth("pooler.dense.weight", 12), 0);
  EXPECT_EQ(optim::layer_decay_depth("cls.predictions.bias", 12), 0);
  EXPECT_EQ(optim::layer_decay_depth("myencoder.layer.1.dense.weight", 12), 0);  // not the path segment "encoder"
  EXPECT_THAT([] { optim::layer_decay_depth("encoder.layer.12.output.dense.weight", 12); },
              ThrowsMessage<ValueError>(StrEq(
                  "layer_decay_depth: 'encoder.layer.12.output.dense.weight' is in layer 12 but the model has 12 layers")));
}

TEST(ParamGroups, LayerDecayGroupsScaleTheRateByDepth) {
  Generator gen(2);
  const auto model = tiny_bert(gen);
  const auto groups = optim::layer_decay_groups(model, {.lr = 1.0, .layer_decay = 0.5, .weight_decay = 0.01});
  // Depths 3 (embeddings), 2 (layer 0), 1 (layer 1), 0 (pooler), each decayed then not.
  ASSERT_EQ(groups.size(), 8u);
  const double expected_lr[] = {0.125, 0.125, 0.25, 0.25, 0.5, 0.5, 1.0, 1.0};
  const auto names = names_of(model);
  std::size_t total = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    EXPECT_EQ(*groups[g].lr, expected_lr[g]) << "group " << g;
    EXPECT_EQ(*groups[g].weight_decay, g % 2 == 0 ? 0.01 : 0.0) << "group " << g;
    for (const auto& p : groups[g].params) {
      const std::string& name = names.at(p.impl_ptr().get());
      EXPECT_EQ(std::pow(0.5, static_cast<double>(optim::layer_decay_depth(name, 2))), expected_lr[g]) << name;
      EXPECT_EQ(optim::is_no_decay_name(name), g % 2 == 1) << name;
    }
    total += groups[g].params.size();
  }
  EXPECT_EQ(total, model.named_parameters().size());

  optim::AdamW<double> opt(groups, {.lr = 7.0});  // the groups' rates override the default
  EXPECT_EQ(opt.lr(0), 0.125);
  EXPECT_EQ(opt.lr(7), 1.0);
  EXPECT_EQ(opt.options(1).weight_decay, 0.0);
}

TEST(ParamGroups, LayerDecayGroupsWithAnExplicitDepth) {
  Generator gen(3);
  const auto model = tiny_bert(gen);
  const auto groups = optim::layer_decay_groups(model, {.lr = 2.0, .layer_decay = 0.5, .num_layers = 4});
  EXPECT_EQ(*groups.front().lr, 2.0 * std::pow(0.5, 5));  // embeddings: L + 1 = 5
  EXPECT_EQ(*groups.back().lr, 2.0);
}

TEST(ParamGroups, LayerDecayGroupsRejectBadArguments) {
  Generator gen(4);
  const auto model = tiny_bert(gen);
  EXPECT_THAT([&] { optim::layer_decay_groups(model, {.lr = 1.0, .layer_decay = 0.0}); },
              ThrowsMessage<ValueError>(StrEq("layer_decay_groups: layer_decay must be in (0, 1], got 0")));
  EXPECT_THAT([&] { optim::layer_decay_groups(model, {.lr = 1.0, .layer_decay = 1.5}); },
              ThrowsMessage<ValueError>(StrEq("layer_decay_groups: layer_decay must be in (0, 1], got 1.5")));
  EXPECT_THAT([&] { optim::layer_decay_groups(model, {.lr = -1.0, .layer_decay = 0.9}); },
              ThrowsMessage<ValueError>(StrEq("layer_decay_groups: lr must be a finite number >= 0, got -1")));
  EXPECT_THAT([&] { optim::layer_decay_groups(model, {.lr = 1.0, .layer_decay = 0.9, .num_layers = 1}); },
              ThrowsMessage<ValueError>(testing::HasSubstr("is in layer 1 but the model has 1 layers")));
}

}  // namespace
}  // namespace foundry
