// tests/support/bert_fixtures.hpp: what the BERT head tests share: the parameters and config stored
// in a head fixture (tests/reference/make_head_fixtures.py), BertInputs from ids, and a tiny config.
#pragma once

#include <map>
#include <string>

#include "foundry/io/json.hpp"
#include "foundry/io/safetensors.hpp"
#include "foundry/models/bert.hpp"
#include "support/fixtures.hpp"

namespace foundry::support {

using FloatFixture = std::map<std::string, Tensor<float>>;

// The model parameters of a head fixture: every tensor but its inputs, outputs, losses and gradients.
inline FloatFixture parameters_of(const FloatFixture& f) {
  FloatFixture out;
  for (const auto& [name, t] : f)
    if (name.rfind("input.", 0) && name.rfind("output.", 0) && name.rfind("loss.", 0) && name.rfind("grad.", 0)) out.emplace(name, t);
  return out;
}

// The BertConfig a fixture was made with (its "config" metadata, Hugging Face's config.json).
inline models::BertConfig config_of(const std::string& fixture) {
  const auto meta = io::SafetensorsFile::open(fixture_path(fixture)).metadata();
  return models::BertConfig::from_json(io::Json::parse(meta.at("config")));
}

// BertInputs with only ids (and a mask): spelled out, as -Wextra flags a partial brace list.
inline models::BertInputs inputs_of(const Tensor<std::int64_t>& ids, const Tensor<std::int64_t>& mask = {}) {
  models::BertInputs in;
  in.input_ids = ids;
  in.attention_mask = mask;
  return in;
}

// One layer, hidden 8, 2 heads, intermediate 16, 8 positions.
inline models::BertConfig tiny_bert_config(Index vocab, double initializer_range = models::BertConfig{}.initializer_range) {
  models::BertConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 8;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.intermediate_size = 16;
  c.max_position_embeddings = 8;
  c.initializer_range = initializer_range;
  return c;
}

}  // namespace foundry::support
