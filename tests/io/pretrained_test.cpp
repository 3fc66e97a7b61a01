// tests/io/pretrained_test.cpp mirrors include/foundry/io/{module_io,pretrained}.hpp: a Hugging Face
// style directory (config.json + model.safetensors with HF key names, written from the PyTorch
// fixture of tests/reference/make_head_fixtures.py) loads into BertForMaskedLM, BertModel and a new
// classifier, with HF's missing/unexpected reporting; foundry's own save_pretrained round-trips.
#include <filesystem>
#include <fstream>

#include "foundry/heads/mlm_head.hpp"
#include "foundry/heads/sequence_classification.hpp"
#include "foundry/io/pretrained.hpp"
#include "support/fixtures.hpp"

namespace foundry {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

class PretrainedDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("foundry_hf_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    fixture_ = support::load_fixture<float>("heads/masked_lm.safetensors");
    ints_ = support::load_fixture<std::int64_t>("heads/masked_lm.safetensors");
    std::map<std::string, Tensor<float>> weights;
    for (const auto& [name, t] : fixture_)
      if (name.rfind("bert.", 0) == 0 || name.rfind("cls.", 0) == 0) weights.emplace(name, t);
    weights.emplace("cls.predictions.decoder.weight", fixture_.at("bert.embeddings.word_embeddings.weight"));  // HF's tied alias
    io::save_tensors(dir_ / "model.safetensors", weights);
    std::ofstream(dir_ / "config.json")
        << io::SafetensorsFile::open(support::fixture_path("heads/masked_lm.safetensors")).metadata().at("config");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  models::BertInputs inputs() const {
    models::BertInputs in;
    in.input_ids = ints_.at("input.input_ids");
    in.attention_mask = ints_.at("input.attention_mask");
    in.token_type_ids = ints_.at("input.token_type_ids");
    return in;
  }

  std::filesystem::path dir_;
  std::map<std::string, Tensor<float>> fixture_;
  std::map<std::string, Tensor<std::int64_t>> ints_;
};

TEST_F(PretrainedDir, MaskedLmLoadsEveryWeightAndMatchesPyTorchLogits) {
  const auto config = io::read_bert_config(dir_);
  heads::BertForMaskedLM<float> mlm(config);
  const auto report = io::load_pretrained_weights(mlm, dir_);
  EXPECT_TRUE(report.missing_keys.empty());
  EXPECT_TRUE(report.unexpected_keys.empty());
  mlm.eval();
  const auto out = mlm.forward(inputs(), ints_.at("input.labels"), /*predict_masked_only=*/false);
  EXPECT_TRUE(support::allclose(out.logits, fixture_.at("output.logits"), 1e-5, 1e-4));
  EXPECT_NEAR(out.loss.item(), fixture_.at("output.loss").item(), 1e-5);
}

TEST_F(PretrainedDir, BareEncoderDropsThePrefixAndReportsTheHeadAsUnexpected) {
  models::BertModel<float> bert(io::read_bert_config(dir_));
  const auto report = io::load_pretrained_weights(bert, dir_);
  EXPECT_THAT(report.missing_keys, Contains("pooler.dense.weight"));  // an MLM checkpoint has no pooler
  EXPECT_THAT(report.unexpected_keys, Contains("cls.predictions.transform.dense.weight"));
  EXPECT_EQ(bert.state_dict().at("embeddings.word_embeddings.weight"), fixture_.at("bert.embeddings.word_embeddings.weight"));
}

TEST_F(PretrainedDir, NewClassifierHeadIsReportedAndInitialised) {
  heads::BertForSequenceClassification<float> clf(io::read_bert_config(dir_), 3);
  const auto report = io::load_pretrained_weights(clf, dir_);
  EXPECT_THAT(report.missing_keys, Contains("classifier.weight"));
  EXPECT_THAT(report.missing_keys, Contains("bert.pooler.dense.weight"));
  EXPECT_EQ(clf.state_dict().at("bert.encoder.layer.1.output.dense.weight"), fixture_.at("bert.encoder.layer.1.output.dense.weight"));
}

TEST_F(PretrainedDir, SavePretrainedRoundTripsAndShapeMismatchNamesTheKey) {
  heads::BertForMaskedLM<float> mlm(io::read_bert_config(dir_));
  io::load_pretrained_weights(mlm, dir_);
  const auto out_dir = dir_ / "saved";
  io::save_pretrained(mlm, io::read_bert_config(dir_), out_dir, "BertForMaskedLM");
  EXPECT_EQ(io::read_bert_config(out_dir).to_json().at("architectures").at(std::size_t{0}).as_string(), "BertForMaskedLM");
  heads::BertForMaskedLM<float> again(io::read_bert_config(out_dir));
  const auto report = io::load_pretrained_weights(again, out_dir);
  EXPECT_TRUE(report.missing_keys.empty() && report.unexpected_keys.empty());
  for (const auto& [name, t] : mlm.state_dict()) EXPECT_EQ(again.state_dict().at(name), t) << name;
  auto config = io::read_bert_config(dir_);
  config.intermediate_size += 1;
  heads::BertForMaskedLM<float> wrong(config);
  EXPECT_THAT([&] { io::load_pretrained_weights(wrong, dir_); },
              ThrowsMessage<ShapeError>(HasSubstr("'bert.encoder.layer.0.intermediate.dense.weight' has shape")));
  EXPECT_THAT([&] { io::load_pretrained_weights(wrong, dir_ / "nowhere"); }, ThrowsMessage<IoError>(HasSubstr("model.safetensors' not found")));
}

}  // namespace
}  // namespace foundry
