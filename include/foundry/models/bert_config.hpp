// models/bert_config.hpp: BertConfig, with Hugging Face's field names and defaults (bert-base),
// read from and written to config.json. Unknown fields in a file are kept and written back, so a
// Hugging Face config survives a round trip through foundry.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "foundry/core/error.hpp"
#include "foundry/io/json.hpp"

namespace foundry::models {

struct BertConfig {
  std::int64_t vocab_size = 30522;
  std::int64_t hidden_size = 768;
  std::int64_t num_hidden_layers = 12;
  std::int64_t num_attention_heads = 12;
  std::int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  std::int64_t max_position_embeddings = 512;
  std::int64_t type_vocab_size = 2;
  double initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  std::int64_t pad_token_id = 0;
  io::Json extra = io::Json::object();  // every other field of the file, written back unchanged

  // Throws ValueError naming the field when sizes are inconsistent.
  void validate() const {
    auto positive = [](const char* name, std::int64_t v) {
      if (v <= 0) detail::fail<ValueError>("BertConfig: ", name, " must be positive, got ", v);
    };
    positive("vocab_size", vocab_size);
    positive("hidden_size", hidden_size);
    positive("num_hidden_layers", num_hidden_layers);
    positive("num_attention_heads", num_attention_heads);
    positive("intermediate_size", intermediate_size);
    positive("max_position_embeddings", max_position_embeddings);
    positive("type_vocab_size", type_vocab_size);
    if (hidden_size % num_attention_heads != 0)
      detail::fail<ValueError>("BertConfig: hidden_size ", hidden_size, " is not a multiple of num_attention_heads ",
                               num_attention_heads);
    if (pad_token_id < 0 || pad_token_id >= vocab_size)
      detail::fail<ValueError>("BertConfig: pad_token_id ", pad_token_id, " outside the vocabulary [0, ", vocab_size, ")");
    for (double p : {hidden_dropout_prob, attention_probs_dropout_prob})
      if (!(p >= 0 && p < 1)) detail::fail<ValueError>("BertConfig: dropout probabilities must be in [0, 1), got ", p);
  }

  static BertConfig from_json(const io::Json& j) {
    BertConfig c;
    c.vocab_size = j.get_or<std::int64_t>("vocab_size", c.vocab_size);
    c.hidden_size = j.get_or<std::int64_t>("hidden_size", c.hidden_size);
    c.num_hidden_layers = j.get_or<std::int64_t>("num_hidden_layers", c.num_hidden_layers);
    c.num_attention_heads = j.get_or<std::int64_t>("num_attention_heads", c.num_attention_heads);
    c.intermediate_size = j.get_or<std::int64_t>("intermediate_size", c.intermediate_size);
    c.hidden_act = j.get_or("hidden_act", c.hidden_act.c_str());
    c.hidden_dropout_prob = j.get_or<double>("hidden_dropout_prob", c.hidden_dropout_prob);
    c.attention_probs_dropout_prob = j.get_or<double>("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
    c.max_position_embeddings = j.get_or<std::int64_t>("max_position_embeddings", c.max_position_embeddings);
    c.type_vocab_size = j.get_or<std::int64_t>("type_vocab_size", c.type_vocab_size);
    c.initializer_range = j.get_or<double>("initializer_range", c.initializer_range);
    c.layer_norm_eps = j.get_or<double>("layer_norm_eps", c.layer_norm_eps);
    c.pad_token_id = j.get_or<std::int64_t>("pad_token_id", c.pad_token_id);
    for (const auto& [key, value] : j.as_object())
      if (!is_known(key)) c.extra[key] = value;
    c.validate();
    return c;
  }

  io::Json to_json() const {
    io::Json j = io::Json::object();
    j["model_type"] = "bert";
    j["vocab_size"] = vocab_size;
    j["hidden_size"] = hidden_size;
    j["num_hidden_layers"] = num_hidden_layers;
    j["num_attention_heads"] = num_attention_heads;
    j["intermediate_size"] = intermediate_size;
    j["hidden_act"] = hidden_act;
    j["hidden_dropout_prob"] = hidden_dropout_prob;
    j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
    j["max_position_embeddings"] = max_position_embeddings;
    j["type_vocab_size"] = type_vocab_size;
    j["initializer_range"] = initializer_range;
    j["layer_norm_eps"] = layer_norm_eps;
    j["pad_token_id"] = pad_token_id;
    for (const auto& [key, value] : extra.as_object())
      if (key != "model_type") j[key] = value;
    return j;
  }

  static BertConfig load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) detail::fail<IoError>("BertConfig::load: cannot open '", path, "'");
    std::ostringstream text;
    text << in.rdbuf();
    return from_json(io::Json::parse(text.str(), path));
  }

  void save(const std::string& path) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) detail::fail<IoError>("BertConfig::save: cannot write '", path, "'");
    out << to_json().dump(2) << "\n";
    if (!out) detail::fail<IoError>("BertConfig::save: write to '", path, "' failed");
  }

 private:
  static bool is_known(const std::string& key) {
    for (const char* k : {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                          "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
                          "type_vocab_size", "initializer_range", "layer_norm_eps", "pad_token_id"})
      if (key == k) return true;
    return false;
  }
};

}  // namespace foundry::models
